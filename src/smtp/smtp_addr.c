/*
 * smtp_addr.c - RFC 5321 Path / Mailbox and ESMTP parameter parsing.
 *
 * Strict on syntax, silent on policy: the parser refuses what RFC 5321
 * does not allow and reports the routing tricks it did allow (source route,
 * quoted local part, '%' and '!', address literals) as flags, so the relay
 * decision is made by the policy on the whole picture.  Every output field
 * is bounded and free of CR, LF and NUL, because envelope values end up in
 * spool and log records (Exim CVE-2020-28021 class).
 */
#include "smtp/smtp_addr.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

int smtp_utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned c = u[i];
		size_t need;
		unsigned lo = 0x80, hi = 0xbf; /* allowed range of the 2nd byte */

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c < 0xc2) /* stray continuation byte or overlong 2-byte form */
			return 0;
		if (c < 0xe0) {
			need = 1;
		} else if (c < 0xf0) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0; /* overlong 3-byte form */
			else if (c == 0xed)
				hi = 0x9f; /* UTF-16 surrogates U+D800..U+DFFF */
		} else if (c < 0xf5) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90; /* overlong 4-byte form */
			else if (c == 0xf4)
				hi = 0x8f; /* above U+10FFFF */
		} else {
			return 0;
		}
		if (n - i - 1 < need)
			return 0;
		if (u[i + 1] < lo || u[i + 1] > hi)
			return 0;
		for (size_t k = 2; k <= need; k++)
			if ((u[i + k] & 0xc0) != 0x80)
				return 0;
		i += need + 1;
	}
	return 1;
}

const char *smtp_path_strerror(enum smtp_path_err e)
{
	switch (e) {
	case SMTP_PATH_OK: return "ok";
	case SMTP_PATH_ESYNTAX: return "bad address syntax";
	case SMTP_PATH_ETOOLONG: return "path too long";
	case SMTP_PATH_ELOCAL: return "local part too long";
	case SMTP_PATH_EDOMAIN: return "bad domain";
	case SMTP_PATH_EPARAM: return "bad parameter syntax";
	case SMTP_PATH_E8BIT: return "invalid UTF-8 in address";
	}
	return "unknown error";
}

const struct smtp_param *smtp_path_param(const struct smtp_path *p, const char *name)
{
	for (size_t i = 0; i < p->n_params; i++)
		if (strcasecmp(p->params[i].name, name) == 0)
			return &p->params[i];
	return NULL;
}

static int addr_is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static unsigned char addr_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* RFC 5322 atext; bytes >= 0x80 are UTF-8 (RFC 6531 extends atext). */
static int addr_is_atext(unsigned char c)
{
	return addr_is_alnum(c) || c >= 0x80 || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/*
 * Domain or address literal d[0..n) into out (lower-cased, NUL-terminated,
 * out has SMTP_DOMAIN_MAX + 1 bytes).
 */
static enum smtp_path_err addr_parse_domain(const char *d, size_t n, char *out, unsigned *flags)
{
	if (n == 0)
		return SMTP_PATH_ESYNTAX;
	if (n > SMTP_DOMAIN_MAX)
		return SMTP_PATH_EDOMAIN;
	if (d[0] == '[') {
		char ip[SMTP_DOMAIN_MAX + 1];
		unsigned char tmp[16];
		size_t in;

		if (n < 3 || d[n - 1] != ']')
			return SMTP_PATH_EDOMAIN;
		in = n - 2;
		memcpy(ip, d + 1, in);
		ip[in] = '\0';
		if (strlen(ip) != in)
			return SMTP_PATH_EDOMAIN;
		if (in > 5 && strncasecmp(ip, "IPv6:", 5) == 0) {
			if (inet_pton(AF_INET6, ip + 5, tmp) != 1)
				return SMTP_PATH_EDOMAIN;
		} else if (inet_pton(AF_INET, ip, tmp) != 1) {
			/* General-address-literal tags are not used on the Internet. */
			return SMTP_PATH_EDOMAIN;
		}
		for (size_t i = 0; i < n; i++)
			out[i] = (char)addr_lower((unsigned char)d[i]);
		out[n] = '\0';
		*flags |= SMTP_PATH_LITERAL;
		return SMTP_PATH_OK;
	}
	/* sub-domain *("." sub-domain), LDH labels (U-labels as UTF-8 bytes) */
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c == '.') {
			if (label == 0 || d[i - 1] == '-')
				return SMTP_PATH_EDOMAIN;
			label = 0;
		} else if (addr_is_alnum(c) || c >= 0x80) {
			label++;
		} else if (c == '-') {
			if (label == 0)
				return SMTP_PATH_EDOMAIN;
			label++;
		} else {
			return SMTP_PATH_EDOMAIN;
		}
		if (label > 63)
			return SMTP_PATH_EDOMAIN;
		out[i] = (char)addr_lower(c);
	}
	if (label == 0 || d[n - 1] == '-')
		return SMTP_PATH_EDOMAIN;
	out[n] = '\0';
	return SMTP_PATH_OK;
}

/* Length of a domain token: up to one of the stop characters or NUL. */
static size_t addr_span_domain(const char *s, const char *stops)
{
	size_t n = 0;

	if (s[0] == '[') {
		while (s[n] && s[n] != ']' && s[n] != '>')
			n++;
		return s[n] == ']' ? n + 1 : n;
	}
	while (s[n] && !strchr(stops, s[n]))
		n++;
	return n;
}

static enum smtp_path_err addr_parse_params(const char *q, struct smtp_path *out)
{
	for (;;) {
		struct smtp_param *pr;
		size_t nl = 0, vl = 0;
		const char *name, *val = NULL;

		while (*q == ' ')
			q++;
		if (*q == '\0')
			return SMTP_PATH_OK;
		if (out->n_params >= SMTP_MAX_PARAMS)
			return SMTP_PATH_EPARAM;
		name = q;
		while (addr_is_alnum((unsigned char)q[nl]) || (nl > 0 && q[nl] == '-'))
			nl++;
		if (nl == 0 || nl >= sizeof(pr->name))
			return SMTP_PATH_EPARAM;
		q += nl;
		if (*q == '=') {
			val = ++q;
			/* printable ASCII only: no SP, CR, LF, NUL, DEL or 8-bit */
			while (*q > ' ' && *q < 0x7f)
				q++;
			vl = (size_t)(q - val);
			if (vl == 0 || vl >= sizeof(pr->value))
				return SMTP_PATH_EPARAM;
		}
		if (*q != ' ' && *q != '\0')
			return SMTP_PATH_EPARAM;
		pr = &out->params[out->n_params];
		for (size_t i = 0; i < nl; i++)
			pr->name[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
		pr->name[nl] = '\0';
		/* A repeated keyword is ambiguous: which SIZE counts? Refuse it. */
		if (smtp_path_param(out, pr->name) != NULL)
			return SMTP_PATH_EPARAM;
		if (val) {
			memcpy(pr->value, val, vl);
			pr->has_value = 1;
		}
		pr->value[vl] = '\0';
		out->n_params++;
	}
}

/* After the closing '>': nothing, or SP-separated parameters. */
static enum smtp_path_err addr_parse_params_after(const char *q, struct smtp_path *out)
{
	if (*q == '\0')
		return SMTP_PATH_OK;
	if (*q != ' ')
		return SMTP_PATH_ESYNTAX;
	return addr_parse_params(q, out);
}

static enum smtp_path_err addr_parse(const char *arg, int is_mail, struct smtp_path *out)
{
	const char *s = arg, *q, *lt;
	size_t ll = 0, raw = 0;
	int quoted = 0;
	enum smtp_path_err e;

	if (!smtp_utf8_valid(arg, strlen(arg)))
		return SMTP_PATH_E8BIT;
	while (*s == ' ')
		s++;
	if (*s != '<')
		return SMTP_PATH_ESYNTAX;
	lt = s;
	q = s + 1;
	if (*q == '>') {
		if (!is_mail)
			return SMTP_PATH_ESYNTAX;
		out->flags |= SMTP_PATH_NULL;
		return addr_parse_params_after(q + 1, out);
	}
	if (*q == '@') {
		/* A-d-l: "@" Domain *( "," "@" Domain ) ":" - checked, then dropped. */
		char tmp[SMTP_DOMAIN_MAX + 1];
		unsigned f = 0;

		for (;;) {
			size_t dn;

			if (*q != '@')
				return SMTP_PATH_ESYNTAX;
			q++;
			dn = addr_span_domain(q, ",:>");
			if ((e = addr_parse_domain(q, dn, tmp, &f)) != SMTP_PATH_OK)
				return e == SMTP_PATH_EDOMAIN ? SMTP_PATH_ESYNTAX : e;
			q += dn;
			if (*q == ',') {
				q++;
				continue;
			}
			if (*q != ':')
				return SMTP_PATH_ESYNTAX;
			q++;
			break;
		}
		out->flags |= SMTP_PATH_SOURCE_ROUTE;
	}
	if (*q == '"') {
		/* Quoted-string: qtextSMTP or quoted-pairSMTP (backslash + printable) */
		quoted = 1;
		q++;
		raw = 2;
		for (;;) {
			unsigned char c = (unsigned char)*q;

			if (c == '"')
				break;
			if (c == '\\') {
				c = (unsigned char)q[1];
				if (c < 32 || c > 126)
					return SMTP_PATH_ESYNTAX;
				q++;
				raw++;
			} else if (c < 32 || c == 127) {
				return SMTP_PATH_ESYNTAX;
			}
			if (++raw > SMTP_LOCAL_MAX)
				return SMTP_PATH_ELOCAL;
			out->local[ll++] = (char)c;
			q++;
		}
		q++;
		if (ll == 0)
			return SMTP_PATH_ESYNTAX;
		out->flags |= SMTP_PATH_QUOTED;
		if (memchr(out->local, '@', ll))
			out->flags |= SMTP_PATH_AT_IN_LOCAL;
	} else {
		/* Dot-string: atoms separated by single dots */
		while (addr_is_atext((unsigned char)*q) || *q == '.') {
			if (*q == '.' && (ll == 0 || out->local[ll - 1] == '.'))
				return SMTP_PATH_ESYNTAX;
			if (ll >= SMTP_LOCAL_MAX)
				return SMTP_PATH_ELOCAL;
			out->local[ll++] = *q++;
		}
		if (ll == 0 || out->local[ll - 1] == '.')
			return SMTP_PATH_ESYNTAX;
		raw = ll;
	}
	out->local[ll] = '\0';
	if (strchr(out->local, '%'))
		out->flags |= SMTP_PATH_PERCENT;
	if (strchr(out->local, '!'))
		out->flags |= SMTP_PATH_BANG;

	if (*q == '>' && !is_mail && !quoted && !(out->flags & SMTP_PATH_SOURCE_ROUTE) &&
	    strcasecmp(out->local, "postmaster") == 0) {
		/* RFC 5321 4.5.1: <Postmaster> must be accepted without a domain. */
		out->flags |= SMTP_PATH_POSTMASTER;
		memcpy(out->addr, out->local, ll + 1);
		q++;
	} else {
		size_t dn;

		if (*q != '@')
			return SMTP_PATH_ESYNTAX;
		q++;
		dn = addr_span_domain(q, ">");
		if ((e = addr_parse_domain(q, dn, out->domain, &out->flags)) != SMTP_PATH_OK)
			return e;
		q += dn;
		if (*q != '>')
			return SMTP_PATH_ESYNTAX;
		q++;
		if ((size_t)(q - lt) > SMTP_PATH_MAX)
			return SMTP_PATH_ETOOLONG;
		/* unescaped local <= raw local, so the path limit bounds addr */
		size_t dl = strlen(out->domain);
		if (ll + 1 + dl >= sizeof(out->addr))
			return SMTP_PATH_ETOOLONG;
		memcpy(out->addr, out->local, ll);
		out->addr[ll] = '@';
		memcpy(out->addr + ll + 1, out->domain, dl + 1);
	}
	if ((size_t)(q - lt) > SMTP_PATH_MAX)
		return SMTP_PATH_ETOOLONG;
	for (const char *c = lt; c < q; c++)
		if ((unsigned char)*c >= 0x80) {
			out->flags |= SMTP_PATH_UTF8;
			break;
		}
	return addr_parse_params_after(q, out);
}

enum smtp_path_err smtp_path_parse(const char *arg, int is_mail, struct smtp_path *out)
{
	enum smtp_path_err e;

	memset(out, 0, sizeof(*out));
	e = addr_parse(arg, is_mail, out);
	if (e != SMTP_PATH_OK)
		memset(out, 0, sizeof(*out)); /* never hand out half-parsed fields */
	return e;
}
