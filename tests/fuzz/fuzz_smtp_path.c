/*
 * fuzz_smtp_path.c - MAIL/RCPT path and ESMTP parameter parser (plan F3).
 *
 * Byte 0 bit 0 chooses MAIL (null path allowed) or RCPT; the rest is the
 * argument after the colon.  Invariants for every accepted path:
 *   - no CR, LF or NUL (nor any control byte) in local, domain, addr, params;
 *   - local <= 64 (unescaped), domain <= 255, addr <= 256, <= 16 params,
 *     names upper-case [A-Z0-9-], values printable ASCII;
 *   - parse(serialize(x)) == x: re-quoting the local part and re-emitting
 *     the parameters gives the same local, domain, addr, flags and params.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_addr.h"

static void pz_check_text(const char *s, size_t cap, int allow_8bit)
{
	size_t n = strnlen(s, cap);
	if (n == cap)
		abort(); /* not terminated */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || (!allow_8bit && c >= 0x80))
			abort();
	}
}

/* Serialise a parsed path back to "<...> PARAMS". Returns 0 if it did not fit. */
static int pz_serialize(const struct smtp_path *p, char *out, size_t cap)
{
	size_t o = 0;

#define PUT(ch) do { if (o + 1 >= cap) return 0; out[o++] = (ch); } while (0)
	PUT('<');
	if (!(p->flags & SMTP_PATH_NULL)) {
		if (p->flags & SMTP_PATH_QUOTED)
			PUT('"');
		for (const char *c = p->local; *c; c++) {
			if ((p->flags & SMTP_PATH_QUOTED) && (*c == '"' || *c == '\\'))
				PUT('\\');
			PUT(*c);
		}
		if (p->flags & SMTP_PATH_QUOTED)
			PUT('"');
		if (!(p->flags & SMTP_PATH_POSTMASTER)) {
			PUT('@');
			for (const char *c = p->domain; *c; c++)
				PUT(*c);
		}
	}
	PUT('>');
	for (size_t i = 0; i < p->n_params; i++) {
		PUT(' ');
		for (const char *c = p->params[i].name; *c; c++)
			PUT(*c);
		if (p->params[i].has_value) {
			PUT('=');
			for (const char *c = p->params[i].value; *c; c++)
				PUT(*c);
		}
	}
#undef PUT
	out[o] = '\0';
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct smtp_path a, b; /* large: keep them off the stack */
	char in[1024], ser[2048];
	int is_mail;

	if (size < 1 || size > sizeof(in))
		return 0;
	is_mail = data[0] & 1;
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0'; /* the proto never passes NUL: it stops at the first */

	if (smtp_path_parse(in, is_mail, &a) != SMTP_PATH_OK) {
		if (a.addr[0] || a.n_params || a.flags)
			abort(); /* no half-parsed output on error */
		return 0;
	}
	pz_check_text(a.local, sizeof(a.local), 1);
	pz_check_text(a.domain, sizeof(a.domain), 1);
	pz_check_text(a.addr, sizeof(a.addr), 1);
	if (strlen(a.local) > SMTP_LOCAL_MAX || strlen(a.domain) > SMTP_DOMAIN_MAX ||
	    strlen(a.addr) > SMTP_PATH_MAX || a.n_params > SMTP_MAX_PARAMS)
		abort();
	if ((a.flags & SMTP_PATH_NULL) && (!is_mail || a.addr[0]))
		abort();
	if ((a.flags & SMTP_PATH_POSTMASTER) && is_mail)
		abort();
	for (size_t i = 0; i < a.n_params; i++) {
		const struct smtp_param *pr = &a.params[i];
		pz_check_text(pr->name, sizeof(pr->name), 0);
		pz_check_text(pr->value, sizeof(pr->value), 0);
		if (!pr->name[0] || (!pr->has_value && pr->value[0]))
			abort();
		for (const char *c = pr->name; *c; c++)
			if (!((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-'))
				abort();
		for (const char *c = pr->value; *c; c++)
			if (*c == ' ')
				abort();
	}

	if (!pz_serialize(&a, ser, sizeof(ser)))
		abort();
	if (smtp_path_parse(ser, is_mail, &b) != SMTP_PATH_OK)
		abort();
	/* The route is dropped, and with it any UTF-8 that was only in the route. */
	unsigned mask = ~(unsigned)SMTP_PATH_SOURCE_ROUTE;
	if (a.flags & SMTP_PATH_SOURCE_ROUTE)
		mask &= ~(unsigned)SMTP_PATH_UTF8;
	if ((b.flags & SMTP_PATH_UTF8) && !(a.flags & SMTP_PATH_UTF8))
		abort();
	if (strcmp(a.local, b.local) || strcmp(a.domain, b.domain) || strcmp(a.addr, b.addr) ||
	    (a.flags & mask) != (b.flags & mask) || a.n_params != b.n_params)
		abort();
	for (size_t i = 0; i < a.n_params; i++)
		if (strcmp(a.params[i].name, b.params[i].name) ||
		    strcmp(a.params[i].value, b.params[i].value) ||
		    a.params[i].has_value != b.params[i].has_value)
			abort();
	return 0;
}
