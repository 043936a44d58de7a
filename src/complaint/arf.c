/* arf.c - see arf.h and docs/complaints.md.
 *
 * Shape: the report is parsed once into a small tree of MIME nodes (header
 * fields as slices of the input or of a decoded buffer, children of
 * multiparts, the embedded message of message/rfc822), all bounded by the
 * ARF_MAX_* caps; then three read-only passes look at the tree: is it an
 * ARF report (or one attached to a forward), else which embedded message is
 * the original, else does a text part quote our X-Mailward-Ref.
 */
#include "complaint/arf.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/util.h"

struct slice {
	const char *p;
	size_t n;
};

struct field {
	struct slice name;
	struct slice value; /* raw: may span continuation lines */
};

enum cte { CTE_IDENTITY, CTE_BASE64, CTE_QP };

enum node_kind {
	NODE_LEAF,
	NODE_MULTIPART,
	NODE_MESSAGE, /* message/rfc822 or an rfc822-headers part: `msg` is the embedded message */
};

struct node {
	enum node_kind kind;
	struct field *f;
	size_t nf;
	struct slice whole;   /* headers and body as given */
	struct slice body;    /* raw body (still transfer-encoded) */
	char type[80];        /* "type/subtype", lower case */
	char boundary[160];
	char report_type[48]; /* lower case */
	enum cte cte;
	bool headers_only;    /* text/rfc822-headers and kin */
	bool decoded_done;
	struct slice content; /* transfer-decoded body (lazily for leaves) */
	struct node *kids;
	size_t nkids;
	struct node *msg;
};

struct ctx {
	struct arf_report *r;
	size_t parts;
	size_t decoded;
	struct slice fb;  /* the feedback fields' block, once found */
	bool have_fb;
	char **owned; /* decoded buffers, freed when the parse ends */
	size_t nowned, capowned;
};

static const char *const ft_names[] = {
	[ARF_FT_UNKNOWN] = "unknown",   [ARF_FT_ABUSE] = "abuse",
	[ARF_FT_FRAUD] = "fraud",       [ARF_FT_VIRUS] = "virus",
	[ARF_FT_OTHER] = "other",       [ARF_FT_NOT_SPAM] = "not-spam",
	[ARF_FT_AUTH_FAILURE] = "auth-failure",
};

const char *arf_feedback_type_name(enum arf_feedback_type t)
{
	if ((unsigned)t >= MW_ARRAY_LEN(ft_names))
		return "unknown";
	return ft_names[t];
}

static const char *const flag_names[] = {
	"LIMIT_INPUT", "LIMIT_DEPTH", "LIMIT_PARTS", "LIMIT_FIELDS", "LIMIT_VALUE",
	"LIMIT_LIST", "LIMIT_DECODED", "BODY_TRUNCATED", "WRONG_TYPE", "BAD_PART_TYPE",
	"MISSING_VERSION", "BAD_VERSION", "MISSING_FEEDBACK_TYPE", "UNKNOWN_FEEDBACK_TYPE",
	"MISSING_USER_AGENT", "BAD_FIELD", "NO_ORIGINAL", "HEADERS_ONLY", "BAD_REF",
	"REF_FROM_TEXT", "MALFORMED_MIME", "BAD_ENCODING", "FORWARDED",
};

const char *arf_flag_name(unsigned bit)
{
	for (unsigned i = 0; i < MW_ARRAY_LEN(flag_names); i++)
		if (bit == (1u << i))
			return flag_names[i];
	return NULL;
}

/* ---- strings ------------------------------------------------------------ */

static bool is_ws(unsigned char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t k;
	uint32_t v, min;
	if (c < 0x80)
		return 1;
	if ((c & 0xE0) == 0xC0)
		k = 1, v = c & 0x1F, min = 0x80;
	else if ((c & 0xF0) == 0xE0)
		k = 2, v = c & 0x0F, min = 0x800;
	else if ((c & 0xF8) == 0xF0)
		k = 3, v = c & 0x07, min = 0x10000;
	else
		return 0;
	if (k >= n)
		return 0;
	for (size_t j = 1; j <= k; j++) {
		if ((p[j] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (p[j] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	return k + 1;
}

/* A field value made safe: unfolded, control characters and whitespace runs
 * collapsed to one space, trimmed, invalid UTF-8 as '?', cut at cap bytes on
 * a character boundary.  Never NULL; the caller frees it. */
static char *str_clean(struct ctx *c, const char *p, size_t n, size_t cap)
{
	char *out = xmalloc((n < cap ? n : cap) + 1);
	size_t o = 0;
	bool space = false;
	for (size_t i = 0; i < n;) {
		const unsigned char ch = (unsigned char)p[i];
		if (ch < 0x20 || ch == 0x7f || ch == ' ') {
			space = o > 0;
			i++;
			continue;
		}
		size_t k = utf8_seq((const unsigned char *)p + i, n - i);
		size_t need = (k ? k : 1) + (space ? 1 : 0);
		if (o + need > cap) {
			if (c != NULL)
				c->r->flags |= ARF_F_LIMIT_VALUE;
			break;
		}
		if (space)
			out[o++] = ' ';
		space = false;
		if (k == 0) {
			out[o++] = '?';
			i++;
		} else {
			memcpy(out + o, p + i, k);
			o += k;
			i += k;
		}
	}
	out[o] = '\0';
	return out;
}

static void str_set(char **dst, char *val)
{
	free(*dst);
	*dst = val;
}

/* The text between the first '<' and the next '>' when there is one,
 * else the whole string; in place. */
static void str_unbracket(char *s)
{
	char *lt = strchr(s, '<');
	if (lt == NULL)
		return;
	char *gt = strchr(lt + 1, '>');
	size_t n = gt ? (size_t)(gt - lt - 1) : strlen(lt + 1);
	memmove(s, lt + 1, n);
	s[n] = '\0';
	/* Trim what the brackets enclosed. */
	size_t a = 0;
	while (s[a] == ' ')
		a++;
	n = strlen(s + a);
	memmove(s, s + a, n + 1);
	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
}

/* The first address of an address-list value ("Name <a@b>", "a@b (Name)"),
 * domain lower-cased; "" when there is none. */
static char *addr_first(const char *v)
{
	/* The first '<' outside a quoted display name ("a <b>" <c@d>). */
	const char *lt = NULL;
	bool quoted = false;
	for (const char *q = v; *q && lt == NULL; q++) {
		if (*q == '\\' && quoted && q[1])
			q++;
		else if (*q == '"')
			quoted = !quoted;
		else if (*q == '<' && !quoted)
			lt = q;
	}
	const char *start, *end;
	if (lt != NULL) {
		start = lt + 1;
		end = strchr(start, '>');
		if (end == NULL)
			end = start + strlen(start);
	} else {
		const char *at = strchr(v, '@');
		if (at == NULL)
			return xstrdup("");
		start = at;
		while (start > v && !strchr(" ,;:\"()", start[-1]))
			start--;
		end = at;
		while (*end && !strchr(" ,;:\"()", *end))
			end++;
	}
	while (start < end && *start == ' ')
		start++;
	while (end > start && end[-1] == ' ')
		end--;
	char *a = xstrndup(start, (size_t)(end - start));
	if (strchr(a, '@') == NULL || strchr(a, ' ') != NULL) {
		a[0] = '\0';
		return a;
	}
	mw_str_lower(strrchr(a, '@'));
	return a;
}

static bool slice_ieq(struct slice s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

/* Case-insensitive search of lit in [p, p+n). */
static const char *mem_icase(const char *p, size_t n, const char *lit)
{
	size_t m = strlen(lit);
	const char first = lit[0];
	for (size_t i = 0; i + m <= n; i++) {
		if ((p[i] | 0x20) != (first | 0x20))
			continue;
		if (strncasecmp(p + i, lit, m) == 0)
			return p + i;
	}
	return NULL;
}

/* ---- MIME --------------------------------------------------------------- */

static char *ctx_own(struct ctx *c, size_t n)
{
	if (c->nowned == c->capowned) {
		c->capowned = c->capowned ? c->capowned * 2 : 16;
		c->owned = xrealloc(c->owned, c->capowned * sizeof(*c->owned));
	}
	char *b = xmalloc(n + 1);
	c->owned[c->nowned++] = b;
	return b;
}

/* Header block of in: fields into n->f, body after the empty line (or from
 * the first line that is not a field; nothing when the block runs to the
 * end, as in text/rfc822-headers). */
static void hdrs_parse(struct ctx *c, struct slice in, struct node *n)
{
	const char *p = in.p, *end = in.p + in.n;
	size_t cap = 0;
	bool dropped = false;

	/* mbox "From " separator of a saved message (complaint import). */
	if (in.n >= 5 && memcmp(p, "From ", 5) == 0) {
		const char *eol = memchr(p, '\n', in.n);
		p = eol ? eol + 1 : end;
	}
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;
		const char *lend = eol ? eol : end;
		if (lend > p && lend[-1] == '\r')
			lend--;
		if (lend == p) {
			p = next;
			break;
		}
		if (*p == ' ' || *p == '\t') {
			if (n->nf > 0 && !dropped)
				n->f[n->nf - 1].value.n = (size_t)(lend - n->f[n->nf - 1].value.p);
			else if (n->nf == 0)
				c->r->flags |= ARF_F_MALFORMED_MIME;
			p = next;
			continue;
		}
		const char *colon = memchr(p, ':', (size_t)(lend - p));
		const char *ne = colon;
		while (ne != NULL && ne > p && (ne[-1] == ' ' || ne[-1] == '\t'))
			ne--;
		bool ok = ne != NULL && ne > p;
		for (const char *q = p; ok && q < ne; q++)
			if ((unsigned char)*q <= 32 || (unsigned char)*q >= 127)
				ok = false;
		if (!ok) {
			c->r->flags |= ARF_F_MALFORMED_MIME;
			break; /* the body starts at this line */
		}
		if (n->nf >= ARF_MAX_FIELDS) {
			c->r->flags |= ARF_F_LIMIT_FIELDS;
			dropped = true;
		} else {
			dropped = false;
			if (n->nf == cap) {
				cap = cap ? cap * 2 : 16;
				n->f = xrealloc(n->f, cap * sizeof(*n->f));
			}
			n->f[n->nf++] = (struct field){ { p, (size_t)(ne - p) },
							{ colon + 1, (size_t)(lend - colon - 1) } };
		}
		p = next;
	}
	n->body = (struct slice){ p, (size_t)(end - p) };
}

static const struct field *hdr_find(const struct node *n, const char *name)
{
	for (size_t i = 0; i < n->nf; i++)
		if (slice_ieq(n->f[i].name, name))
			return &n->f[i];
	return NULL;
}

/* Copy a raw value with line breaks removed (RFC 5322 unfolding). */
static char *unfold(const struct slice v, size_t cap)
{
	size_t n = v.n < cap ? v.n : cap;
	char *s = xmalloc(n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++)
		if (v.p[i] != '\r' && v.p[i] != '\n')
			s[o++] = v.p[i] == '\t' ? ' ' : v.p[i];
	s[o] = '\0';
	return s;
}

/* Content-Type: type/subtype into n->type, boundary and report-type. */
static void ctype_parse(struct node *n, const char *default_type)
{
	mw_strlcpy(n->type, default_type, sizeof(n->type));
	const struct field *f = hdr_find(n, "content-type");
	if (f == NULL)
		return;
	char *v = unfold(f->value, 4096);
	const char *p = v;
	while (*p == ' ')
		p++;
	size_t t = strcspn(p, ";");
	while (t > 0 && p[t - 1] == ' ')
		t--;
	if (t > 0 && t < sizeof(n->type) && memchr(p, '/', t) != NULL) {
		memcpy(n->type, p, t);
		n->type[t] = '\0';
		mw_str_lower(n->type);
		/* Drop anything after whitespace ("text/plain (comment)"). */
		n->type[strcspn(n->type, " ")] = '\0';
	}
	p += strcspn(p, ";");
	while (*p == ';') {
		p++;
		while (*p == ' ')
			p++;
		size_t nl = strcspn(p, "=;");
		const char *name = p;
		p += nl;
		if (*p != '=')
			continue;
		p++;
		while (*p == ' ')
			p++;
		char val[160];
		size_t o = 0;
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				if (o + 1 < sizeof(val))
					val[o++] = *p;
				p++;
			}
			if (*p == '"')
				p++;
		} else {
			while (*p && *p != ';' && *p != ' ') {
				if (o + 1 < sizeof(val))
					val[o++] = *p;
				p++;
			}
		}
		val[o] = '\0';
		while (nl > 0 && name[nl - 1] == ' ')
			nl--;
		if (nl == 8 && strncasecmp(name, "boundary", 8) == 0 && n->boundary[0] == '\0')
			mw_strlcpy(n->boundary, val, sizeof(n->boundary));
		else if (nl == 11 && strncasecmp(name, "report-type", 11) == 0 &&
			 n->report_type[0] == '\0')
			mw_str_lower((mw_strlcpy(n->report_type, val, sizeof(n->report_type)),
				      n->report_type));
		p += strcspn(p, ";");
	}
	free(v);
}

static void cte_parse(struct ctx *c, struct node *n)
{
	const struct field *f = hdr_find(n, "content-transfer-encoding");
	if (f == NULL)
		return;
	char *v = str_clean(NULL, f->value.p, f->value.n, 64);
	mw_str_lower(v);
	if (strcmp(v, "base64") == 0)
		n->cte = CTE_BASE64;
	else if (strcmp(v, "quoted-printable") == 0)
		n->cte = CTE_QP;
	else if (strcmp(v, "7bit") != 0 && strcmp(v, "8bit") != 0 && strcmp(v, "binary") != 0 &&
		 v[0] != '\0')
		c->r->flags |= ARF_F_BAD_ENCODING;
	free(v);
}

static int b64_val(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

static int hex_val(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

static size_t b64_decode(struct ctx *c, const char *in, size_t n, char *out)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)in[i];
		if (ch == '=')
			break;
		int v = b64_val(ch);
		if (v < 0) {
			if (!is_ws(ch))
				c->r->flags |= ARF_F_BAD_ENCODING;
			continue;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xFF);
		}
	}
	return o;
}

static size_t qp_decode(struct ctx *c, const char *in, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (in[i] != '=') {
			out[o++] = in[i];
			continue;
		}
		if (i + 1 < n && in[i + 1] == '\n') {
			i += 1;
		} else if (i + 2 < n && in[i + 1] == '\r' && in[i + 2] == '\n') {
			i += 2;
		} else if (i + 2 < n && hex_val((unsigned char)in[i + 1]) >= 0 &&
			   hex_val((unsigned char)in[i + 2]) >= 0) {
			out[o++] = (char)(hex_val((unsigned char)in[i + 1]) * 16 +
					  hex_val((unsigned char)in[i + 2]));
			i += 2;
		} else {
			c->r->flags |= ARF_F_BAD_ENCODING;
			out[o++] = '=';
		}
	}
	return o;
}

/* The transfer-decoded body, within the decoding budget. */
static struct slice node_content(struct ctx *c, struct node *n)
{
	if (n->decoded_done)
		return n->content;
	n->decoded_done = true;
	n->content = n->body;
	if (n->cte == CTE_IDENTITY)
		return n->content;
	size_t in = n->body.n;
	if (c->decoded + in > ARF_MAX_DECODED) {
		c->r->flags |= ARF_F_LIMIT_DECODED;
		in = ARF_MAX_DECODED - c->decoded;
	}
	c->decoded += in;
	char *out = ctx_own(c, in);
	size_t o = n->cte == CTE_BASE64 ? b64_decode(c, n->body.p, in, out)
					: qp_decode(c, n->body.p, in, out);
	out[o] = '\0';
	n->content = (struct slice){ out, o };
	return n->content;
}

/* Is the line at p (up to end) a delimiter of boundary b?  Sets *close for
 * the closing one.  Trailing whitespace is allowed, nothing else. */
static bool delim_at(const char *p, const char *end, const char *b, size_t bl, bool *close)
{
	if ((size_t)(end - p) < 2 + bl || p[0] != '-' || p[1] != '-' || memcmp(p + 2, b, bl) != 0)
		return false;
	p += 2 + bl;
	*close = false;
	if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
		*close = true;
		p += 2;
	}
	for (; p < end && *p != '\n'; p++)
		if (!is_ws((unsigned char)*p))
			return false;
	return true;
}

static void node_build(struct ctx *c, struct node *n, struct slice in, const char *default_type,
		       int depth);

static void multipart_build(struct ctx *c, struct node *n, int depth)
{
	const size_t bl = strlen(n->boundary);
	const struct slice body = node_content(c, n);
	const char *p = body.p, *end = body.p + body.n;
	const char *part = NULL;
	bool closed = false;
	struct slice kids[ARF_MAX_PARTS];
	size_t nk = 0;

	if (bl == 0) {
		c->r->flags |= ARF_F_MALFORMED_MIME;
		return;
	}
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;
		bool close;
		if (delim_at(p, end, n->boundary, bl, &close)) {
			if (part != NULL) {
				/* The line break before the delimiter belongs to it. */
				const char *pe = p;
				if (pe > part && pe[-1] == '\n')
					pe--;
				if (pe > part && pe[-1] == '\r')
					pe--;
				if (nk == ARF_MAX_PARTS) {
					c->r->flags |= ARF_F_LIMIT_PARTS;
					part = NULL;
					break;
				}
				kids[nk++] = (struct slice){ part, (size_t)(pe - part) };
			}
			part = next;
			if (close) {
				closed = true;
				part = NULL;
				break;
			}
		}
		p = next;
	}
	if (part != NULL && nk < ARF_MAX_PARTS)
		kids[nk++] = (struct slice){ part, (size_t)(end - part) };
	if (!closed)
		c->r->flags |= ARF_F_MALFORMED_MIME;
	if (nk == 0)
		return;
	const char *dt = strcmp(n->type, "multipart/digest") == 0 ? "message/rfc822" : "text/plain";
	n->kids = xcalloc(nk, sizeof(*n->kids));
	for (size_t i = 0; i < nk; i++) {
		if (c->parts >= ARF_MAX_PARTS) {
			c->r->flags |= ARF_F_LIMIT_PARTS;
			break;
		}
		node_build(c, &n->kids[i], kids[i], dt, depth + 1);
		n->nkids++;
	}
}

static bool type_is_headers(const char *t)
{
	return strcmp(t, "text/rfc822-headers") == 0 || strcmp(t, "message/rfc822-headers") == 0;
}

static bool type_is_message(const char *t)
{
	return strcmp(t, "message/rfc822") == 0 || strcmp(t, "message/global") == 0 ||
	       type_is_headers(t);
}

static void node_build(struct ctx *c, struct node *n, struct slice in, const char *default_type,
		       int depth)
{
	c->parts++;
	n->whole = in;
	hdrs_parse(c, in, n);
	ctype_parse(n, default_type);
	cte_parse(c, n);
	if (depth >= ARF_MAX_DEPTH) {
		if (strncmp(n->type, "multipart/", 10) == 0 || type_is_message(n->type))
			c->r->flags |= ARF_F_LIMIT_DEPTH;
		return;
	}
	if (strncmp(n->type, "multipart/", 10) == 0) {
		n->kind = NODE_MULTIPART;
		multipart_build(c, n, depth);
	} else if (type_is_message(n->type)) {
		if (c->parts >= ARF_MAX_PARTS) {
			c->r->flags |= ARF_F_LIMIT_PARTS;
			return;
		}
		n->kind = NODE_MESSAGE;
		n->msg = xcalloc(1, sizeof(*n->msg));
		n->msg->headers_only = type_is_headers(n->type);
		node_build(c, n->msg, node_content(c, n), "text/plain", depth + 1);
	}
}

static void node_free(struct node *n)
{
	for (size_t i = 0; i < n->nkids; i++)
		node_free(&n->kids[i]);
	free(n->kids);
	if (n->msg != NULL) {
		node_free(n->msg);
		free(n->msg);
	}
	free(n->f);
}

/* ---- the report --------------------------------------------------------- */

static void list_add(struct ctx *c, char ***list, size_t *n, char *s)
{
	if (s[0] == '\0') {
		free(s);
		return;
	}
	if (*n >= ARF_MAX_LIST) {
		c->r->flags |= ARF_F_LIMIT_LIST;
		free(s);
		return;
	}
	*list = xrealloc(*list, (*n + 1) * sizeof(**list));
	(*list)[(*n)++] = s;
}

/* A once-only field: the first wins, a second is flagged. */
static void single_set(struct ctx *c, char **dst, bool *seen, char *val)
{
	if (*seen) {
		c->r->flags |= ARF_F_BAD_FIELD;
		free(val);
		return;
	}
	*seen = true;
	str_set(dst, val);
}

/* Normalise an IP literal ("IPv6:" prefix allowed); "" when not one. */
static char *ip_norm(const char *s, size_t n)
{
	char tmp[64], out[INET6_ADDRSTRLEN];
	if (n >= 5 && strncasecmp(s, "ipv6:", 5) == 0)
		s += 5, n -= 5;
	if (n == 0 || n >= sizeof(tmp))
		return xstrdup("");
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	unsigned char bin[16];
	if (inet_pton(AF_INET, tmp, bin) == 1 && inet_ntop(AF_INET, bin, out, sizeof(out)))
		return xstrdup(out);
	if (inet_pton(AF_INET6, tmp, bin) == 1 && inet_ntop(AF_INET6, bin, out, sizeof(out)))
		return xstrdup(out);
	return xstrdup("");
}

static enum arf_feedback_type ft_parse(const char *v)
{
	size_t n = strcspn(v, " ;(");
	for (unsigned i = 1; i < MW_ARRAY_LEN(ft_names); i++)
		if (strlen(ft_names[i]) == n && strncasecmp(v, ft_names[i], n) == 0)
			return (enum arf_feedback_type)i;
	return ARF_FT_UNKNOWN;
}

static void feedback_fill(struct ctx *c, const struct node *fb)
{
	struct arf_report *r = c->r;
	bool s_ft = false, s_ua = false, s_ver = false, s_mf = false, s_ad = false, s_ip = false,
	     s_ar = false, s_inc = false;
	for (size_t i = 0; i < fb->nf; i++) {
		const struct field *f = &fb->f[i];
		char *v = str_clean(c, f->value.p, f->value.n, ARF_MAX_VALUE);
		if (slice_ieq(f->name, "feedback-type")) {
			single_set(c, &r->feedback_type_raw, &s_ft, v);
		} else if (slice_ieq(f->name, "user-agent")) {
			single_set(c, &r->user_agent, &s_ua, v);
		} else if (slice_ieq(f->name, "version")) {
			single_set(c, &r->version, &s_ver, v);
		} else if (slice_ieq(f->name, "original-mail-from")) {
			str_unbracket(v);
			single_set(c, &r->original_mail_from, &s_mf, v);
		} else if (slice_ieq(f->name, "original-rcpt-to")) {
			str_unbracket(v);
			list_add(c, &r->original_rcpt_to, &r->n_original_rcpt_to, v);
		} else if (slice_ieq(f->name, "arrival-date") || slice_ieq(f->name, "received-date")) {
			single_set(c, &r->arrival_date, &s_ad, v);
		} else if (slice_ieq(f->name, "source-ip")) {
			char *ip = ip_norm(v, strcspn(v, " "));
			if (ip[0] == '\0')
				r->flags |= ARF_F_BAD_FIELD;
			free(v);
			single_set(c, &r->source_ip, &s_ip, ip);
		} else if (slice_ieq(f->name, "reported-domain")) {
			mw_str_lower(v);
			list_add(c, &r->reported_domain, &r->n_reported_domain, v);
		} else if (slice_ieq(f->name, "reported-uri")) {
			str_unbracket(v);
			list_add(c, &r->reported_uri, &r->n_reported_uri, v);
		} else if (slice_ieq(f->name, "authentication-results")) {
			if (!s_ar)
				str_set(&r->authentication_results, v);
			else
				free(v);
			s_ar = true;
		} else if (slice_ieq(f->name, "incidents")) {
			uint64_t k;
			if (s_inc || mw_parse_u64(v, &k) != 0 || k == 0) {
				r->flags |= ARF_F_BAD_FIELD;
			} else {
				r->incidents = k > ARF_MAX_INCIDENTS ? ARF_MAX_INCIDENTS : (unsigned)k;
			}
			s_inc = true;
			free(v);
		} else {
			free(v);
		}
	}
	if (!s_ft || r->feedback_type_raw[0] == '\0') {
		r->flags |= ARF_F_MISSING_FEEDBACK_TYPE;
	} else {
		r->feedback_type = ft_parse(r->feedback_type_raw);
		if (r->feedback_type == ARF_FT_UNKNOWN)
			r->flags |= ARF_F_UNKNOWN_FEEDBACK_TYPE;
	}
	if (!s_ua || r->user_agent[0] == '\0')
		r->flags |= ARF_F_MISSING_USER_AGENT;
	if (!s_ver || r->version[0] == '\0')
		r->flags |= ARF_F_MISSING_VERSION;
	else if (strcmp(r->version, "1") != 0)
		r->flags |= ARF_F_BAD_VERSION;
}

/* The first Received field's client address: the first bracketed IP
 * literal before " by " ("from h (h [192.0.2.1]) by ..."), else a bare IP
 * token there. */
static char *received_ip(const char *v)
{
	size_t lim = strlen(v);
	const char *by = mem_icase(v, lim, " by ");
	if (by != NULL)
		lim = (size_t)(by - v);
	for (size_t i = 0; i < lim; i++) {
		if (v[i] != '[')
			continue;
		const char *rb = memchr(v + i + 1, ']', lim - i - 1);
		if (rb == NULL)
			break;
		char *ip = ip_norm(v + i + 1, (size_t)(rb - v - i - 1));
		if (ip[0] != '\0')
			return ip;
		free(ip);
	}
	for (size_t i = 0; i < lim;) {
		size_t t = strcspn(v + i, " ()[];");
		if (i + t > lim)
			t = lim - i;
		if (t > 0) {
			char *ip = ip_norm(v + i, t);
			if (ip[0] != '\0')
				return ip;
			free(ip);
		}
		i += t + 1;
	}
	return xstrdup("");
}

/* The original's first text part: text/plain preferred, else any text/. */
static struct node *first_text(struct node *n, bool plain_only)
{
	if (n->kind == NODE_MULTIPART) {
		for (size_t i = 0; i < n->nkids; i++) {
			struct node *t = first_text(&n->kids[i], plain_only);
			if (t != NULL)
				return t;
		}
		return NULL;
	}
	if (n->kind != NODE_LEAF)
		return NULL;
	if (plain_only ? strcmp(n->type, "text/plain") == 0 : strncmp(n->type, "text/", 5) == 0)
		return n;
	return NULL;
}

/* Body text kept for fingerprints: line ends as '\n', tabs kept, other
 * control characters dropped, invalid UTF-8 as '?', at most cap bytes. */
static char *body_clean(struct ctx *c, struct slice s, size_t cap, size_t *len)
{
	char *out = xmalloc((s.n < cap ? s.n : cap) + 1);
	size_t o = 0;
	for (size_t i = 0; i < s.n;) {
		unsigned char ch = (unsigned char)s.p[i];
		if (ch == '\r') {
			ch = '\n';
			if (i + 1 < s.n && s.p[i + 1] == '\n')
				i++;
		}
		if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f) {
			i++;
			continue;
		}
		size_t k = ch == '\n' ? 1 : utf8_seq((const unsigned char *)s.p + i, s.n - i);
		if (o + (k ? k : 1) > cap) {
			c->r->flags |= ARF_F_BODY_TRUNCATED;
			break;
		}
		if (ch == '\n')
			out[o++] = '\n';
		else if (k == 0)
			out[o++] = '?';
		else
			memcpy(out + o, s.p + i, k);
		if (ch != '\n' && k > 0)
			o += k;
		i += k ? k : 1;
	}
	out[o] = '\0';
	*len = o;
	return out;
}

static void original_fill(struct ctx *c, struct node *m)
{
	struct arf_original *o = &c->r->orig;
	bool s_mid = false, s_from = false, s_rp = false, s_subj = false, s_date = false,
	     s_rcv = false, s_ref = false;
	if (m->nf == 0)
		return;
	for (size_t i = 0; i < m->nf; i++) {
		const struct field *f = &m->f[i];
		if (slice_ieq(f->name, "x-mailward-ref")) {
			if (s_ref)
				continue;
			s_ref = true;
			char *v = str_clean(NULL, f->value.p, f->value.n, 64);
			v[strcspn(v, " ;(")] = '\0';
			if (!refid_parse(v, o->ref))
				c->r->flags |= ARF_F_BAD_REF;
			free(v);
			continue;
		}
		char **dst = NULL;
		bool *seen = NULL;
		if (slice_ieq(f->name, "message-id"))
			dst = &o->message_id, seen = &s_mid;
		else if (slice_ieq(f->name, "from"))
			dst = &o->from, seen = &s_from;
		else if (slice_ieq(f->name, "return-path"))
			dst = &o->return_path, seen = &s_rp;
		else if (slice_ieq(f->name, "subject"))
			dst = &o->subject, seen = &s_subj;
		else if (slice_ieq(f->name, "date"))
			dst = &o->date, seen = &s_date;
		else if (slice_ieq(f->name, "received"))
			dst = &o->received_ip, seen = &s_rcv;
		if (dst == NULL || *seen)
			continue; /* the topmost one of each */
		*seen = true;
		char *v = str_clean(c, f->value.p, f->value.n, ARF_MAX_VALUE);
		if (dst == &o->received_ip) {
			char *ip = received_ip(v);
			free(v);
			v = ip;
		} else if (dst == &o->message_id || dst == &o->return_path) {
			str_unbracket(v);
		}
		str_set(dst, v);
	}
	str_set(&o->from_addr, addr_first(o->from));

	const bool has_body = !m->headers_only && m->body.n > 0;
	o->present = has_body ? 2 : 1;
	if (!has_body)
		c->r->flags |= ARF_F_HEADERS_ONLY;
	size_t rl = m->whole.n;
	if (rl > ARF_MAX_RAW) {
		rl = ARF_MAX_RAW;
		c->r->flags |= ARF_F_BODY_TRUNCATED;
	}
	free(o->raw);
	o->raw = xmalloc(rl + 1);
	memcpy(o->raw, m->whole.p, rl);
	o->raw[rl] = '\0';
	o->raw_len = rl;
	if (!has_body)
		return;
	struct node *t = first_text(m, true);
	if (t == NULL)
		t = first_text(m, false);
	if (t != NULL) {
		free(o->body);
		o->body = body_clean(c, node_content(c, t), ARF_MAX_BODY, &o->body_len);
	}
}

/* Is n an ARF report?  Fills the feedback fields and the original. */
static bool arf_try(struct ctx *c, struct node *n)
{
	if (n->kind != NODE_MULTIPART || n->nkids == 0)
		return false;
	const bool proper = strcmp(n->type, "multipart/report") == 0 &&
			    strcmp(n->report_type, "feedback-report") == 0;
	struct node *fb = NULL;
	struct node tmp = { 0 };
	size_t fi = 0;
	for (size_t i = 0; i < n->nkids && fb == NULL; i++)
		if (strcmp(n->kids[i].type, "message/feedback-report") == 0)
			fb = &n->kids[i], fi = i;
	if (fb != NULL) {
		/* Its body is a block of fields. */
		tmp.whole = node_content(c, fb);
		hdrs_parse(c, tmp.whole, &tmp);
	} else if (proper && n->nkids >= 2 && n->kids[1].kind == NODE_LEAF) {
		/* Feedback fields under another content type (text/plain). */
		tmp.whole = node_content(c, &n->kids[1]);
		hdrs_parse(c, tmp.whole, &tmp);
		if (hdr_find(&tmp, "feedback-type") == NULL) {
			free(tmp.f);
			return false;
		}
		c->r->flags |= ARF_F_BAD_PART_TYPE;
		fb = &n->kids[1], fi = 1;
	} else {
		return false;
	}
	if (!proper)
		c->r->flags |= ARF_F_WRONG_TYPE;
	feedback_fill(c, &tmp);
	free(tmp.f);
	c->fb = tmp.whole;
	c->have_fb = true;

	/* The original: an rfc822 part, else the part after the feedback one
	 * if it reads as a header block that names a message. */
	struct node *orig = NULL;
	for (size_t i = 0; i < n->nkids && orig == NULL; i++)
		if (n->kids[i].kind == NODE_MESSAGE && n->kids[i].msg->nf > 0)
			orig = n->kids[i].msg;
	if (orig == NULL && fi + 1 < n->nkids && n->kids[fi + 1].kind == NODE_LEAF) {
		struct node *cand = xcalloc(1, sizeof(*cand));
		struct slice s = node_content(c, &n->kids[fi + 1]);
		node_build(c, cand, s, "text/plain", ARF_MAX_DEPTH - 1);
		if (hdr_find(cand, "message-id") || hdr_find(cand, "received") ||
		    hdr_find(cand, "x-mailward-ref")) {
			c->r->flags |= ARF_F_BAD_PART_TYPE;
			original_fill(c, cand);
		}
		node_free(cand);
		free(cand);
	} else if (orig != NULL) {
		original_fill(c, orig);
	}
	if (c->r->orig.present == 0)
		c->r->flags |= ARF_F_NO_ORIGINAL;
	return true;
}

/* The first embedded message, depth first. */
static struct node *first_message(struct node *n)
{
	if (n->kind == NODE_MESSAGE)
		return n->msg->nf > 0 ? n->msg : NULL;
	for (size_t i = 0; i < n->nkids; i++) {
		struct node *m = first_message(&n->kids[i]);
		if (m != NULL)
			return m;
	}
	return NULL;
}

/* "X-Mailward-Ref: XXXX-XXXX" quoted in a forwarded text (an inline forward
 * that kept the headers). */
static bool text_ref(struct ctx *c, struct node *n)
{
	if (n->kind == NODE_MULTIPART) {
		for (size_t i = 0; i < n->nkids; i++)
			if (text_ref(c, &n->kids[i]))
				return true;
		return false;
	}
	if (n->kind != NODE_LEAF || strncmp(n->type, "text/", 5) != 0)
		return false;
	const struct slice s = node_content(c, n);
	const char *p = s.p, *end = s.p + s.n;
	static const char tag[] = "x-mailward-ref:";
	while (p < end) {
		const char *hit = mem_icase(p, (size_t)(end - p), tag);
		if (hit == NULL)
			return false;
		const char *q = hit + sizeof(tag) - 1;
		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		char tok[16];
		size_t k = 0;
		while (q < end && k + 1 < sizeof(tok) &&
		       (((*q | 0x20) >= 'a' && (*q | 0x20) <= 'z') || (*q >= '0' && *q <= '9') || *q == '-'))
			tok[k++] = *q++;
		tok[k] = '\0';
		if (refid_parse(tok, c->r->orig.ref)) {
			c->r->flags |= ARF_F_REF_FROM_TEXT;
			return true;
		}
		p = hit + 1;
	}
	return false;
}

/* ---- digest ------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "name:value" with the name lower-cased and the value cleaned. */
static char *field_norm(const struct field *f)
{
	char *name = str_clean(NULL, f->name.p, f->name.n, 256);
	char *val = str_clean(NULL, f->value.p, f->value.n, ARF_MAX_VALUE);
	char *s = xasprintf("%s:%s", mw_str_lower(name), val);
	free(name);
	free(val);
	return s;
}

static void digest_fill(struct ctx *c, const struct node *fb, const struct node *orig,
			const char *data, size_t len)
{
	struct buf b = BUF_INIT;
	buf_append_str(&b, "mailward-arf-digest-1\n");
	/* A forward names its complainant only in its own From: two users
	 * forwarding one message are two complaints, one user twice is one.
	 * An ARF report names them in Original-Rcpt-To (and may come
	 * forwarded by an administrator), so there the report's From is left out. */
	if (c->r->kind != ARF_OK)
		buf_printf(&b, "reporter:%s\n", c->r->reporter);
	if (fb != NULL && fb->nf > 0) {
		char **lines = xcalloc(fb->nf, sizeof(*lines));
		for (size_t i = 0; i < fb->nf; i++)
			lines[i] = field_norm(&fb->f[i]);
		qsort(lines, fb->nf, sizeof(*lines), cmp_str);
		buf_append_str(&b, "feedback\n");
		for (size_t i = 0; i < fb->nf; i++) {
			buf_append_str(&b, lines[i]);
			buf_append_char(&b, '\n');
			free(lines[i]);
		}
		free(lines);
	}
	if (orig != NULL) {
		buf_append_str(&b, "original\n");
		for (size_t i = 0; i < orig->nf; i++) {
			char *l = field_norm(&orig->f[i]);
			buf_append_str(&b, l);
			buf_append_char(&b, '\n');
			free(l);
		}
	}
	if (fb == NULL && orig == NULL) {
		if (c->r->orig.ref[0] != '\0') {
			buf_printf(&b, "ref:%s\n", c->r->orig.ref);
		} else {
			buf_append_str(&b, "raw\n");
			buf_append(&b, data, len);
		}
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (EVP_Digest(b.data, b.len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		mw_panic("EVP_Digest sha256");
	for (unsigned i = 0; i < 32; i++)
		snprintf(c->r->digest + 2 * i, 3, "%02x", md[i]);
	buf_free(&b);
}

/* ---- entry points ------------------------------------------------------- */

static void report_init(struct arf_report *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = ARF_NONE;
	r->incidents = 1;
	char **strs[] = { &r->reporter, &r->feedback_type_raw, &r->user_agent, &r->version,
			  &r->original_mail_from, &r->arrival_date, &r->source_ip,
			  &r->authentication_results, &r->orig.message_id, &r->orig.from,
			  &r->orig.from_addr, &r->orig.return_path, &r->orig.subject,
			  &r->orig.date, &r->orig.received_ip, &r->orig.body, &r->orig.raw };
	for (size_t i = 0; i < MW_ARRAY_LEN(strs); i++)
		*strs[i] = xstrdup("");
}

int arf_parse(const char *data, size_t len, struct arf_report *out)
{
	struct ctx c = { .r = out };
	struct node root = { 0 };
	report_init(out);
	if (data == NULL)
		len = 0, data = "";
	if (len > ARF_MAX_INPUT) {
		len = ARF_MAX_INPUT;
		out->flags |= ARF_F_LIMIT_INPUT;
	}
	node_build(&c, &root, (struct slice){ data, len }, "text/plain", 0);
	const struct field *from = hdr_find(&root, "from");
	if (from != NULL) {
		char *v = str_clean(&c, from->value.p, from->value.n, ARF_MAX_VALUE);
		str_set(&out->reporter, addr_first(v));
		free(v);
	}

	struct node *report = NULL;
	if (arf_try(&c, &root)) {
		report = &root;
	} else {
		struct node *m = first_message(&root);
		if (m != NULL && arf_try(&c, m)) {
			report = m;
			out->flags |= ARF_F_FORWARDED;
		} else if (m != NULL) {
			original_fill(&c, m);
		}
	}
	if (report == NULL && out->orig.present == 0 && !text_ref(&c, &root))
		out->flags |= ARF_F_NO_ORIGINAL;
	if (report != NULL)
		out->kind = ARF_OK;
	else
		out->kind = (out->orig.present || out->orig.ref[0]) ? ARF_NOT_ARF : ARF_NONE;

	/* The digest re-reads the feedback fields and the original's header
	 * block (from the kept copy): cheap, and keeps the passes above free
	 * of digest concerns. */
	struct node fbn = { 0 }, orn = { 0 };
	if (c.have_fb)
		hdrs_parse(&c, c.fb, &fbn);
	if (out->orig.present)
		hdrs_parse(&c, (struct slice){ out->orig.raw, out->orig.raw_len }, &orn);
	digest_fill(&c, c.have_fb ? &fbn : NULL, out->orig.present ? &orn : NULL, data, len);
	free(fbn.f);
	free(orn.f);

	node_free(&root);
	for (size_t i = 0; i < c.nowned; i++)
		free(c.owned[i]);
	free(c.owned);
	return (int)out->kind;
}

void arf_report_free(struct arf_report *r)
{
	if (r == NULL)
		return;
	char *strs[] = { r->reporter, r->feedback_type_raw, r->user_agent, r->version,
			 r->original_mail_from, r->arrival_date, r->source_ip,
			 r->authentication_results, r->orig.message_id, r->orig.from,
			 r->orig.from_addr, r->orig.return_path, r->orig.subject,
			 r->orig.date, r->orig.received_ip, r->orig.body, r->orig.raw };
	for (size_t i = 0; i < MW_ARRAY_LEN(strs); i++)
		free(strs[i]);
	for (size_t i = 0; i < r->n_original_rcpt_to; i++)
		free(r->original_rcpt_to[i]);
	for (size_t i = 0; i < r->n_reported_domain; i++)
		free(r->reported_domain[i]);
	for (size_t i = 0; i < r->n_reported_uri; i++)
		free(r->reported_uri[i]);
	free(r->original_rcpt_to);
	free(r->reported_domain);
	free(r->reported_uri);
	memset(r, 0, sizeof(*r));
	r->kind = ARF_NONE;
}
