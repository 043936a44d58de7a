/*
 * content_url.c - URL extraction from text and HTML attributes, host and
 * registered-domain (Public Suffix List via libpsl) derivation, and
 * de-duplication with a small open-addressing index per message.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <libpsl.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "content/content_int.h"

#define URL_MAX 2048
#define HOST_MAX 256

/* The PSL context is immutable once loaded; loading it once is the module's
 * only process-wide state. */
static pthread_once_t psl_once = PTHREAD_ONCE_INIT;
static const psl_ctx_t *psl_ctx;

static void psl_init(void)
{
	psl_ctx = psl_builtin();
	if (psl_ctx == NULL)
		psl_ctx = psl_latest(NULL); /* kept for the process lifetime */
}

static const psl_ctx_t *psl_get(void)
{
	pthread_once(&psl_once, psl_init);
	return psl_ctx;
}

static int is_host_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c >= 0x80;
}

/* Numeric hosts browsers accept: dotted quads, but also 3232235777, 0x7f.1,
 * 0177.0.0.1 - all of them are IP literals for scoring. */
static int is_numeric_host(const char *h)
{
	if (*h == '\0')
		return 0;
	for (const char *p = h; *p; p++) {
		if (*p == '.')
			continue;
		if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
			p++;
			continue;
		}
		if (!isxdigit((unsigned char)*p))
			return 0;
	}
	/* All-hex labels like "cafe.be" are names, not numbers: require a digit
	 * start in every label. */
	for (const char *p = h; *p;) {
		if (!isdigit((unsigned char)*p))
			return 0;
		const char *dot = strchr(p, '.');
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	return 1;
}

struct url_parts {
	char scheme[16];
	char host[HOST_MAX];
	int is_ip;
	int userinfo_host;     /* a user name before '@' that reads like a host */
};

/* "www.bank.example" or "bank.example:443" as a user name: a dot between
 * letters or digits, no spaces - what a reader takes for the host. */
static int looks_like_host(const char *s, const char *e)
{
	int dot = 0, alnum_after_dot = 0;
	for (const char *c = s; c < e; c++) {
		if (*c == '.' && c > s && isalnum((unsigned char)c[-1]))
			dot = 1;
		else if (dot && isalpha((unsigned char)*c))
			alnum_after_dot = 1;
		else if (*c == ' ' || *c == '%')
			return 0;
	}
	return dot && alnum_after_dot;
}

/* Parse u[0..len): scheme (optional when allow_bare) and host.  0 or -1. */
static int url_parse(const char *u, size_t len, int allow_bare, struct url_parts *out)
{
	const char *end = u + len, *p = u;
	const char *sep = NULL;
	for (const char *q = u; q + 2 < end && q - u < 16; q++) {
		if (q[0] == ':' && q[1] == '/' && q[2] == '/') {
			sep = q;
			break;
		}
		if (!isalnum((unsigned char)*q) && *q != '+' && *q != '-' && *q != '.')
			break;
	}
	if (sep != NULL && sep > u) {
		size_t n = (size_t)(sep - u);
		for (size_t i = 0; i < n; i++)
			out->scheme[i] = (char)tolower((unsigned char)u[i]);
		out->scheme[n] = '\0';
		p = sep + 3;
	} else if (len >= 2 && u[0] == '/' && u[1] == '/') {
		strcpy(out->scheme, "http");
		p = u + 2;
	} else if (allow_bare || (len >= 4 && strncasecmp(u, "www.", 4) == 0)) {
		strcpy(out->scheme, "http");
	} else {
		return -1;
	}
	const char *a = p;
	while (p < end && *p != '/' && *p != '?' && *p != '#' && *p != '\\')
		p++;
	const char *ae = p;
	/* userinfo: the host follows the last '@' (the classic phishing trick). */
	out->userinfo_host = 0;
	for (const char *q = ae; q > a; q--)
		if (q[-1] == '@') {
			out->userinfo_host = looks_like_host(a, q - 1);
			a = q;
			break;
		}
	const char *hs = a, *he;
	out->is_ip = 0;
	if (hs < ae && *hs == '[') {
		he = memchr(hs, ']', (size_t)(ae - hs));
		if (he == NULL)
			return -1;
		hs++;
		out->is_ip = 1;
	} else {
		he = hs;
		while (he < ae && *he != ':')
			he++;
	}
	while (he > hs && he[-1] == '.')
		he--;
	size_t hn = (size_t)(he - hs);
	if (hn == 0 || hn >= HOST_MAX)
		return -1;
	for (size_t i = 0; i < hn; i++) {
		unsigned char c = (unsigned char)hs[i];
		if (!out->is_ip && !is_host_char(c))
			return -1;
		out->host[i] = (char)tolower(c);
	}
	out->host[hn] = '\0';
	if (!out->is_ip) {
		struct in_addr ia;
		out->is_ip = inet_pton(AF_INET, out->host, &ia) == 1 || is_numeric_host(out->host);
	}
	return 0;
}

static void regdomain_of(struct content_msg *m, const struct url_parts *up, char *out, size_t outsz)
{
	size_t hl = strlen(up->host);
	int cacheable = !up->is_ip && hl < sizeof(m->rd_cache[0].host);
	if (cacheable)
		for (size_t i = 0; i < MW_ARRAY_LEN(m->rd_cache); i++)
			if (strcmp(m->rd_cache[i].host, up->host) == 0) {
				mw_strlcpy(out, m->rd_cache[i].rd, outsz);
				return;
			}
	const char *rd = NULL;
	const psl_ctx_t *psl = up->is_ip ? NULL : psl_get();
	if (psl != NULL)
		rd = psl_registrable_domain(psl, up->host);
	mw_strlcpy(out, rd ? rd : up->host, outsz);
	if (cacheable && strlen(out) < sizeof(m->rd_cache[0].rd)) {
		unsigned k = m->rd_next++ % MW_ARRAY_LEN(m->rd_cache);
		memcpy(m->rd_cache[k].host, up->host, hl + 1);
		mw_strlcpy(m->rd_cache[k].rd, out, sizeof(m->rd_cache[k].rd));
	}
}

void content_reg_domain(const char *host, char *out, size_t outsz)
{
	char h[HOST_MAX];
	size_t n = 0;
	/* Lower-case, no trailing dot: the PSL and our keys want one spelling. */
	for (const char *p = host; *p && n + 1 < sizeof(h); p++)
		h[n++] = (char)tolower((unsigned char)*p);
	while (n > 0 && h[n - 1] == '.')
		n--;
	h[n] = '\0';
	struct in_addr ia;
	const char *rd = NULL;
	const psl_ctx_t *psl = psl_get();
	if (psl != NULL && n > 0 && inet_pton(AF_INET, h, &ia) != 1 && strchr(h, ':') == NULL)
		rd = psl_registrable_domain(psl, h);
	mw_strlcpy(out, rd ? rd : h, outsz);
}

int url_regdomain(struct content_msg *m, const char *url, size_t len, char *out, size_t outsz)
{
	struct url_parts up;
	if (url_parse(url, len, 0, &up) != 0)
		return 0;
	regdomain_of(m, &up, out, outsz);
	return 1;
}

int url_text_regdomain(struct content_msg *m, const char *text, size_t len, char *out, size_t outsz)
{
	while (len > 0 && isspace((unsigned char)*text)) {
		text++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)text[len - 1]))
		len--;
	if (len < 4 || len > URL_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (isspace((unsigned char)text[i]) || text[i] == '@')
			return 0;
	struct url_parts up;
	int has_scheme = memmem(text, len, "://", 3) != NULL;
	if (url_parse(text, len, !has_scheme, &up) != 0)
		return 0;
	if (!has_scheme) {
		/* A bare "name.tld" only counts when its last label is alphabetic. */
		const char *dot = strrchr(up.host, '.');
		if (dot == NULL || up.is_ip || strlen(dot + 1) < 2)
			return 0;
		for (const char *p = dot + 1; *p; p++)
			if (!isalpha((unsigned char)*p))
				return 0;
	}
	regdomain_of(m, &up, out, outsz);
	return 1;
}

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static void index_grow(struct content_msg *m)
{
	size_t cap = m->url_index_cap ? m->url_index_cap * 2 : 64;
	size_t *idx = xcalloc(cap, sizeof(*idx));
	for (size_t i = 0; i < m->urls.n; i++) {
		const char *u = m->urls.v[i].url;
		size_t h = (size_t)fnv1a(u, strlen(u)) & (cap - 1);
		while (idx[h] != 0)
			h = (h + 1) & (cap - 1);
		idx[h] = i + 1;
	}
	free(m->url_index);
	m->url_index = idx;
	m->url_index_cap = cap;
}

void url_index_free(struct content_msg *m)
{
	free(m->url_index);
	m->url_index = NULL;
	m->url_index_cap = 0;
}

void url_add(struct content_msg *m, const char *url, size_t len, int in_href)
{
	while (len > 0 && isspace((unsigned char)*url)) {
		url++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)url[len - 1]))
		len--;
	if (len == 0)
		return;
	if (len > URL_MAX)
		len = URL_MAX;
	struct url_parts up;
	if (url_parse(url, len, 0, &up) != 0)
		return;
	if ((m->urls.n + 1) * 2 > m->url_index_cap)
		index_grow(m);
	size_t mask = m->url_index_cap - 1;
	size_t h = (size_t)fnv1a(url, len) & mask;
	while (m->url_index[h] != 0) {
		struct content_url *cu = &m->urls.v[m->url_index[h] - 1];
		if (strncmp(cu->url, url, len) == 0 && cu->url[len] == '\0') {
			cu->count++;
			cu->in_href |= in_href;
			return;
		}
		h = (h + 1) & mask;
	}
	if (m->urls.n >= m->lim.max_urls) {
		m->flags |= CONTENT_F_LIMIT_URLS;
		return;
	}
	char rd[HOST_MAX];
	regdomain_of(m, &up, rd, sizeof(rd));
	struct content_url *cu = VEC_PUSH(m->urls);
	struct buf tmp = BUF_INIT;
	utf8_sanitize_append(&tmp, url, len, URL_MAX + 3, NULL);
	cu->url = arena_strndup(&m->arena, tmp.data ? tmp.data : "", tmp.len);
	buf_free(&tmp);
	cu->scheme = arena_strdup(&m->arena, up.scheme);
	cu->host = arena_strdup(&m->arena, up.host);
	cu->reg_domain = arena_strdup(&m->arena, rd);
	cu->is_ip = up.is_ip;
	cu->userinfo_host = up.userinfo_host;
	cu->in_href = in_href;
	cu->count = 1;
	/* Indexed under the raw bytes so a repeat matches even when the stored
	 * copy had invalid UTF-8 replaced (then a repeat counts as new: rare). */
	m->url_index[h] = m->urls.n;
}

static int url_end_char(unsigned char c)
{
	return c <= ' ' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '`' || c == '{' ||
		c == '}' || c == '|' || c == '\\' || c == '^' || c == 0x7f;
}

static size_t url_extent(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && i < URL_MAX && !url_end_char((unsigned char)s[i]))
		i++;
	/* Trailing sentence punctuation is not part of the URL. */
	while (i > 0 && strchr(".,;:!?)]*", s[i - 1]) != NULL)
		i--;
	return i;
}

void url_scan_text(struct content_msg *m, const char *text, size_t len)
{
	size_t i = 0;
	while (i + 4 < len) {
		const char *p = text + i;
		if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
			size_t s = i;
			while (s > 0 && i - s < 10 && isalpha((unsigned char)text[s - 1]))
				s--;
			size_t sl = i - s;
			if ((sl == 4 && strncasecmp(text + s, "http", 4) == 0) ||
				(sl == 5 && strncasecmp(text + s, "https", 5) == 0) ||
				(sl == 3 && strncasecmp(text + s, "ftp", 3) == 0) ||
				(sl == 4 && strncasecmp(text + s, "hxxp", 4) == 0)) {
				size_t n = url_extent(text + s, len - s);
				if (n > sl + 3)
					url_add(m, text + s, n, 0);
				i = s + (n > sl + 3 ? n : sl + 3);
				continue;
			}
			i += 3;
			continue;
		}
		if ((p[0] == 'w' || p[0] == 'W') && strncasecmp(p, "www.", 4) == 0 &&
			(i == 0 || (!isalnum((unsigned char)p[-1]) && p[-1] != '/' && p[-1] != '.' &&
				p[-1] != '-' && p[-1] != '@'))) {
			size_t n = url_extent(p, len - i);
			if (n > 4)
				url_add(m, p, n, 0);
			i += n > 4 ? n : 4;
			continue;
		}
		i++;
	}
}
