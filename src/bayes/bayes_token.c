/*
 * bayes_token.c - features of a message for the classifier: body words and
 * their orthogonal sparse bigrams, selected headers with a prefix per header,
 * URL parts, all hashed to 64 bits and de-duplicated (docs/bayes.md).
 *
 * Pure: no store, no clock, no global state.  Input is bounded here
 * (BAYES_MAX_TEXT_BYTES, BAYES_MAX_WORDS) so a hostile message costs the
 * same as a large ordinary one.
 */
#include "bayes/bayes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/unicode.h"
#include "base/util.h"

#define MAX_URLS 1000

#define MAX_HEADER_BYTES (16u * 1024u)
#define NAME_MAX_LEN 300     /* longest printable feature name we build */

/* ---- hashing ----------------------------------------------------------------- */

/* FNV-1a is short and has no key to manage; its low bits mix poorly, so the
 * result goes through MurmurHash3's finalizer.  Collisions between features
 * only blur statistics; nothing here needs resistance to a chosen collision. */
static uint64_t fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#define FNV_OFFSET 0xcbf29ce484222325ULL

uint64_t bayes_hash(const void *p, size_t n)
{
	return fmix64(fnv1a(FNV_OFFSET, p, n));
}

void bayes_tokens_free(struct bayes_tokens *t)
{
	free(t->h);
	t->h = NULL;
	t->n = t->cap = 0;
}

void bayes_tokens_digest(const struct bayes_tokens *t, char out[17])
{
	uint64_t h = FNV_OFFSET;

	for (size_t i = 0; i < t->n; i++) {
		unsigned char b[8];
		for (int k = 0; k < 8; k++)
			b[k] = (unsigned char)(t->h[i] >> (8 * k));
		h = fnv1a(h, b, sizeof(b));
	}
	snprintf(out, 17, "%016llx", (unsigned long long)fmix64(h));
}

/* ---- emitting features ------------------------------------------------------- */

struct tk {
	struct bayes_tokens *out;
	bayes_trace_fn trace;
	int (*want)(void *arg, uint64_t hash);   /* NULL: every feature is traced */
	void *arg;
	int bad_utf8;
	int last_rcvd;       /* the header being read is the bottom Received */
	char name[NAME_MAX_LEN + 1];
};

static void push(struct tk *t, uint64_t h, const char *name, size_t len)
{
	struct bayes_tokens *o = t->out;

	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 1024;
		o->h = xrealloc(o->h, o->cap * sizeof(*o->h));
	}
	o->h[o->n++] = h;
	if (t->trace != NULL && name != NULL && (t->want == NULL || t->want(t->arg, h)))
		t->trace(t->arg, h, name, len);
}

/* prefix + s (s truncated so the name stays bounded) as one feature. */
static void emit(struct tk *t, const char *prefix, const char *s, size_t n)
{
	size_t pl = strlen(prefix);

	if (pl + n > NAME_MAX_LEN)
		n = NAME_MAX_LEN - pl;
	memcpy(t->name, prefix, pl);
	memcpy(t->name + pl, s, n);
	t->name[pl + n] = '\0';
	push(t, bayes_hash(t->name, pl + n), t->name, pl + n);
}

static void emit_str(struct tk *t, const char *prefix, const char *s)
{
	emit(t, prefix, s, strlen(s));
}

/* ---- UTF-8 and case folding ---------------------------------------------------- */

/* Decode one code point at s[0..n); returns its length, or 0 if the bytes
 * are not well-formed UTF-8 (overlong forms and surrogates included). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf && n >= 2 && (s[1] & 0xc0) == 0x80) {
		*cp = ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
		return 2;
	}
	if (s[0] >= 0xe0 && s[0] <= 0xef && n >= 3 && (s[1] & 0xc0) == 0x80 &&
	    (s[2] & 0xc0) == 0x80) {
		uint32_t c = ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) |
		    (s[2] & 0x3f);
		if (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))
			return 0;
		*cp = c;
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4 && n >= 4 && (s[1] & 0xc0) == 0x80 &&
	    (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80) {
		uint32_t c = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) |
		    ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
		if (c < 0x10000 || c > 0x10ffff)
			return 0;
		*cp = c;
		return 4;
	}
	return 0;
}

/* Simple lower-casing for the scripts most mail in our corpus uses: ASCII,
 * Latin-1, Latin Extended-A, Greek and Cyrillic capitals.  Every mapping
 * keeps the UTF-8 length, so word lengths do not depend on case. */
static uint32_t fold(uint32_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c + 32;
	if (c < 0xc0)
		return c;
	if (c <= 0xde)
		return c == 0xd7 ? c : c + 32;
	if (c >= 0x100 && c <= 0x137)
		return c | 1;
	if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
		return (c & 1) ? c + 1 : c;
	if (c >= 0x14a && c <= 0x177)
		return c | 1;
	if (c == 0x178)
		return 0xff;
	if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2)
		return c + 32;
	if (c >= 0x410 && c <= 0x42f)
		return c + 32;
	if (c >= 0x400 && c <= 0x40f)
		return c + 80;
	return c;
}

/* Letters and digits of any script count as word characters; the Latin-1
 * symbol block, general and CJK punctuation and the BOM do not. */
static int is_word_cp(uint32_t c)
{
	if (c < 0x80)
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
	if (c < 0xc0 || c == 0xd7 || c == 0xf7)
		return 0;
	if ((c >= 0x2000 && c <= 0x206f) || (c >= 0x3000 && c <= 0x303f) || c == 0xfeff)
		return 0;
	return 1;
}

/* Inside a word these join two word characters: "o'neil", "e-mail",
 * "foo.com", "a_b", "joe@example.com". */
static int is_joiner(unsigned char c)
{
	return c == '.' || c == '-' || c == '\'' || c == '_' || c == '@';
}

/* ---- words and OSB ---------------------------------------------------------------- */

#define WBUF 64   /* enough for BAYES_MAX_WORD after number shaping */

struct words {
	const char *prefix;      /* "" for body text */
	uint64_t seed;           /* separates OSB features of different streams */
	int osb;
	/* The last OSB_WINDOW-1 words, newest at (pos-1) % 4. */
	uint64_t ring_h[BAYES_OSB_WINDOW - 1];
	char ring_w[BAYES_OSB_WINDOW - 1][WBUF];
	size_t pos;
	size_t nwords;
};

/*
 * Numbers: a pure number of up to 4 digits is kept (years, small prices,
 * "24/7"); a longer one becomes "num:N" with N its digit count (phone
 * numbers, order ids and tracking codes vary per message, their length
 * does not).  In a word that mixes letters with 4 or more digits, every
 * digit run becomes '#' ("invoice#", "ref#x"): generated ids lose their
 * noise, the letters around them stay.
 * Returns the new length of w (in place, never longer).
 */
static size_t shape_number(char *w, size_t n)
{
	size_t digits = 0, letters = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)w[i];
		if (c >= '0' && c <= '9')
			digits++;
		else if (c >= 0x80 || (c >= 'a' && c <= 'z'))
			letters++;
	}
	if (letters == 0 && digits > 4)
		return (size_t)snprintf(w, WBUF, "num:%zu", digits);
	if (letters > 0 && digits >= 4) {
		size_t o = 0;
		for (size_t i = 0; i < n; i++) {
			if (w[i] >= '0' && w[i] <= '9') {
				if (o == 0 || w[o - 1] != '#')
					w[o++] = '#';
			} else {
				w[o++] = w[i];
			}
		}
		return o;
	}
	return n;
}

static void word_feature(struct tk *t, struct words *ws, char *w, size_t n)
{
	uint64_t h;

	n = shape_number(w, n);
	w[n] = '\0';
	emit(t, ws->prefix, w, n);
	if (!ws->osb)
		return;
	/* The plain word's own hash, independent of the prefix, so a pair
	 * feature is a function of the two words and their distance. */
	h = bayes_hash(w, n);
	for (size_t k = 1; k < BAYES_OSB_WINDOW && k <= ws->pos; k++) {
		size_t slot = (ws->pos - k) % (BAYES_OSB_WINDOW - 1);
		uint64_t ph = fmix64(ws->seed ^ (ws->ring_h[slot] * 0x9e3779b97f4a7c15ULL) ^
		    (h + k * 0x632be59bd9b4e019ULL));
		if (t->trace != NULL && (t->want == NULL || t->want(t->arg, ph))) {
			char nm[2 * WBUF + 16];
			int l = snprintf(nm, sizeof(nm), "%sosb:%s %zu %s", ws->prefix,
			    ws->ring_w[slot], k, w);
			push(t, ph, nm, (size_t)l < sizeof(nm) ? (size_t)l : sizeof(nm) - 1);
		} else {
			push(t, ph, NULL, 0);
		}
	}
	size_t slot = ws->pos % (BAYES_OSB_WINDOW - 1);
	ws->ring_h[slot] = h;
	memcpy(ws->ring_w[slot], w, n + 1);
	ws->pos++;
}

/* A word too long to be one: only its first byte and length class count
 * (SpamBayes' "skip" token), so base64 debris and hashes do not each make a
 * new feature. */
static void skip_feature(struct tk *t, const struct words *ws, unsigned char first, size_t len)
{
	char s[32];
	int l = snprintf(s, sizeof(s), "skip:%c %zu", first, len / 10 * 10);
	emit(t, ws->prefix, s, (size_t)l);
}

static void words_init(struct words *ws, const char *prefix, int osb)
{
	memset(ws, 0, sizeof(*ws));
	ws->prefix = prefix;
	ws->osb = osb;
	ws->seed = bayes_hash(prefix, strlen(prefix));
}

/* Split s[0..len) into words, fold case, and emit them (and their OSB pairs
 * when ws->osb).  Invalid UTF-8 bytes separate words and set t->bad_utf8. */
static void scan_words(struct tk *t, struct words *ws, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	char w[WBUF];
	size_t wl = 0, wlen = 0;   /* bytes kept in w, true length of the word */
	unsigned char first = 0;
	size_t i = 0;
	char pair[12];             /* the last unspaced character, then a pair (+NUL) */
	size_t prev_len = 0, run = 0;

	while (i <= len && ws->nwords < BAYES_MAX_WORDS) {
		uint32_t cp = 0;
		size_t cl = 0;
		int in_word = 0, unspaced = 0;

		if (i < len) {
			cl = utf8_decode(p + i, len - i, &cp);
			if (cl == 0) {
				t->bad_utf8 = 1;
				cl = 1;
			} else if (unicode_is_unspaced(cp)) {
				/* Han, kana, Thai: without segmentation a run would
				 * be one over-long word (one "skip:" feature for a
				 * paragraph); it is read as character pairs below. */
				unspaced = 1;
			} else if (is_word_cp(cp)) {
				in_word = 1;
			} else if (wlen > 0 && cl == 1 && is_joiner((unsigned char)cp) && i + 1 < len) {
				/* A joiner counts only between word characters. */
				uint32_t nx;
				size_t nl = utf8_decode(p + i + 1, len - i - 1, &nx);
				in_word = nl > 0 && is_word_cp(nx) && !unicode_is_unspaced(nx);
			} else if (wlen == 0 && cp == '$' && i + 1 < len && p[i + 1] >= '0' &&
			    p[i + 1] <= '9') {
				in_word = 1;   /* "$100" keeps its currency sign */
			}
		}
		/* Runs of "!!", "??", "$$" in body and Subject are a feature of
		 * their own ("punct:!!+" for three or more): the words around
		 * them cannot carry the emphasis. */
		if (ws->osb && !in_word && cl == 1 && (cp == '!' || cp == '$' || cp == '?') &&
		    i + 1 < len && p[i + 1] == cp) {
			size_t r = 1;
			while (i + r < len && p[i + r] == cp)
				r++;
			char pb[8];
			int pl = snprintf(pb, sizeof(pb), "%c%c%s", (char)cp, (char)cp, r > 2 ? "+" : "");
			emit(t, ws->prefix[0] ? "s:punct:" : "punct:", pb, (size_t)pl);
			i += r - 1;
		}
		if (in_word) {
			char enc[4];
			size_t el = unicode_utf8_put(fold(cp), enc);
			if (wlen == 0)
				first = (unsigned char)enc[0];
			if (wl + el < WBUF - 1) {
				memcpy(w + wl, enc, el);
				wl += el;
			}
			wlen += el;
		} else if (wlen > 0) {
			if (wlen > BAYES_MAX_WORD)
				skip_feature(t, ws, first, wlen);
			else if (wlen >= BAYES_MIN_WORD)
				word_feature(t, ws, w, wl);
			ws->nwords++;
			wl = wlen = 0;
		}
		/* An unspaced run: every two neighbouring characters are a word
		 * (with OSB pairs like any other); a lone character is one. */
		if (unspaced) {
			size_t el = (size_t)cl;
			if (run > 0 && ws->nwords < BAYES_MAX_WORDS) {
				memcpy(pair + prev_len, p + i, el);
				word_feature(t, ws, pair, prev_len + el);
				ws->nwords++;
			}
			memcpy(pair, p + i, el);
			prev_len = el;
			run++;
		} else if (run > 0) {
			if (run == 1 && ws->nwords < BAYES_MAX_WORDS) {
				word_feature(t, ws, pair, prev_len);
				ws->nwords++;
			}
			run = 0;
		}
		i += cl ? cl : 1;
	}
}

/* ---- addresses, domains, URLs ---------------------------------------------------- */

static void lower_copy(char *dst, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = src[i];
		dst[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	dst[n] = '\0';
}

static int all_digits_dots(const char *h)
{
	for (; *h; h++) {
		if (!((*h >= '0' && *h <= '9') || *h == '.'))
			return 0;
	}
	return 1;
}

/*
 * The registered ("organizational") part of a host, without the public
 * suffix list (that lives in src/content/ with libpsl): the last two
 * labels, or three under a two-letter country code whose second level is a
 * generic one (example.co.uk, example.com.au).  Good enough to group a
 * sender's hosts; content analysis does it exactly.
 */
static const char *reg_domain(const char *host)
{
	static const char *const sld[] = { "co", "com", "net", "org", "ac", "gov", "edu", "ne",
		"or", "go", "ltd", "plc", "sch", "mil", "nic" };
	const char *last = NULL, *second = NULL, *third = NULL;   /* dots, from the right */

	for (size_t i = strlen(host); i-- > 0;) {
		if (host[i] != '.')
			continue;
		if (last == NULL) {
			last = host + i;
		} else if (second == NULL) {
			second = host + i;
		} else {
			third = host + i;
			break;
		}
	}
	if (second == NULL)
		return host;   /* one or two labels: the host is its own registered part */
	if (strlen(last + 1) == 2) {
		size_t sl = (size_t)(last - second - 1);
		for (size_t k = 0; k < MW_ARRAY_LEN(sld); k++) {
			if (strlen(sld[k]) == sl && memcmp(second + 1, sld[k], sl) == 0)
				return third ? third + 1 : host;
		}
	}
	return second + 1;
}

/* Host features: the full host, every parent down to the registered part,
 * and the registered part itself (prefix "url:" or "from:" and so on). */
static void host_features(struct tk *t, const char *prefix, const char *host)
{
	char p[32];
	const char *reg;

	if (host[0] == '\0')
		return;
	snprintf(p, sizeof(p), "%sh:", prefix);
	if (all_digits_dots(host)) {
		emit_str(t, p, host);
		snprintf(p, sizeof(p), "%sip", prefix);
		emit_str(t, p, "");
		return;
	}
	reg = reg_domain(host);
	for (const char *h = host; h != NULL; ) {
		emit_str(t, p, h);
		const char *dot = strchr(h, '.');
		h = (h < reg && dot != NULL) ? dot + 1 : NULL;
	}
	snprintf(p, sizeof(p), "%sreg:", prefix);
	emit_str(t, p, reg);
}

static void url_features(struct tk *t, const char *url)
{
	size_t n = strnlen(url, 2048);
	const char *e = url + n, *p = url, *q;
	char host[256];
	struct words ws;

	/* Scheme. */
	for (q = p; q < e && *q != ':' && *q != '/'; q++)
		;
	if (q + 2 < e && q[0] == ':' && q[1] == '/' && q[2] == '/') {
		char sch[16];
		size_t sl = (size_t)(q - p) < sizeof(sch) - 1 ? (size_t)(q - p) : sizeof(sch) - 1;
		lower_copy(sch, p, sl);
		emit_str(t, "url:scheme:", sch);
		p = q + 3;
	} else if (n >= 7 && mw_str_casecmp_prefix(url, "mailto:")) {
		emit_str(t, "url:scheme:", "mailto");
		return;
	}
	/* Authority: [userinfo@]host[:port]. */
	for (q = p; q < e && *q != '/' && *q != '?' && *q != '#'; q++)
		;
	const char *at = memchr(p, '@', (size_t)(q - p));
	if (at != NULL) {
		emit_str(t, "url:", "userinfo");   /* http://bank.com@evil.example/ */
		p = at + 1;
	}
	const char *colon = memchr(p, ':', (size_t)(q - p));
	const char *hend = colon ? colon : q;
	if (colon != NULL)
		emit_str(t, "url:", "port");
	size_t hl = (size_t)(hend - p);
	if (hl >= sizeof(host))
		hl = sizeof(host) - 1;
	lower_copy(host, p, hl);
	while (hl > 0 && host[hl - 1] == '.')   /* "example.com." is example.com */
		host[--hl] = '\0';
	host_features(t, "url:", host);
	/* Path and query words: "/unsubscribe", "?id=", "login.php". */
	words_init(&ws, "url:p:", 0);
	scan_words(t, &ws, q, (size_t)(e - q));
}

/* From-like headers: display-name words, then the address, its domain and
 * registered domain; "noaddr" when there is no address at all. */
static void addr_features(struct tk *t, const char *prefix, const char *v, size_t n)
{
	const char *lt = NULL, *gt = NULL, *a, *ae;
	char buf[256], p[32];
	struct words ws;

	for (size_t i = n; i-- > 0;) {
		if (v[i] == '>' && gt == NULL)
			gt = v + i;
		if (v[i] == '<' && gt != NULL) {
			lt = v + i;
			break;
		}
	}
	if (lt != NULL) {
		a = lt + 1;
		ae = gt;
		words_init(&ws, prefix, 0);
		scan_words(t, &ws, v, (size_t)(lt - v));
	} else {
		/* A bare address: the word around the last '@'. */
		const char *at = NULL;
		for (size_t i = n; i-- > 0;) {
			if (v[i] == '@') {
				at = v + i;
				break;
			}
		}
		if (at == NULL) {
			words_init(&ws, prefix, 0);
			scan_words(t, &ws, v, n);
			emit(t, prefix, "noaddr", 6);
			return;
		}
		for (a = at; a > v && a[-1] != ' ' && a[-1] != '\t' && a[-1] != '"'; a--)
			;
		for (ae = at; ae < v + n && *ae != ' ' && *ae != '\t' && *ae != '"' && *ae != ','; ae++)
			;
		words_init(&ws, prefix, 0);
		scan_words(t, &ws, v, (size_t)(a - v));
	}
	size_t al = (size_t)(ae - a);
	if (al >= sizeof(buf))
		al = sizeof(buf) - 1;
	lower_copy(buf, a, al);
	const char *at = strrchr(buf, '@');
	if (at == NULL) {
		emit(t, prefix, "noaddr", 6);
		return;
	}
	snprintf(p, sizeof(p), "%saddr:", prefix);
	emit_str(t, p, buf);
	host_features(t, prefix, at + 1);
}

/* ---- headers ------------------------------------------------------------------------ */

enum hmode { H_WORDS, H_WHOLE, H_ADDR, H_MSGID, H_SKIP };

/* Which headers say something about the sender's software and intent.
 * Everything not listed contributes only its presence ("hdr:name"). */
static const struct {
	const char *name;
	const char *prefix;
	enum hmode mode;
} header_rules[] = {
	{ "from", "from:", H_ADDR },
	{ "reply-to", "rt:", H_ADDR },
	{ "return-path", "rp:", H_ADDR },
	{ "sender", "snd:", H_ADDR },
	{ "content-type", "ct:", H_WORDS },
	{ "content-transfer-encoding", "cte:", H_WORDS },
	{ "x-mailer", "xm:", H_WHOLE },
	{ "user-agent", "xm:", H_WHOLE },
	{ "list-id", "list:", H_WORDS },
	{ "precedence", "prec:", H_WORDS },
	{ "x-priority", "prio:", H_WORDS },
	{ "x-msmail-priority", "prio:", H_WORDS },
	{ "importance", "prio:", H_WORDS },
	{ "organization", "org:", H_WORDS },
	{ "message-id", "mid:", H_MSGID },
	/* Trace headers describe the path, not the sender: in a training
	 * corpus they teach where the corpus was collected.  (Received, To,
	 * Cc and Date give only the narrow features of header_features().) */
	{ "delivered-to", "", H_SKIP },
	{ "x-original-to", "", H_SKIP },
};

/*
 * Headers that say nothing at all, not even by their presence:
 *  - other filters' and our own verdicts (the classifier would learn to
 *    echo an earlier verdict);
 *  - what receiving systems and mailbox software add (trace variants,
 *    authentication results, mbox state): in a training corpus these
 *    describe how the corpus was collected, and in production the gateway
 *    sees mail before any of them exist.
 * lname is lower-case.
 */
static int silent_header(const char *lname)
{
	static const char *const prefixes[] = { "x-spam", "x-mailward", "x-virus", "x-bogosity",
		"x-rspamd", "x-mailscanner", "x-amavis", "arc-", "x-original-", "x-envelope-",
		"x-forwarded-", "x-ms-exchange-", "x-gm-", "x-google-" };
	/* Delivery-Date, X-Delivered-To, X-Sieve, X-Mail-From, X-Loop,
	 * X-Apparently-To, X-Delivery-Agent and X-MIME-Autoconverted are
	 * written by the receiving side too (the delivery agent, a Sieve
	 * filter, a fetchmail or a converting relay): in the SpamAssassin
	 * corpus Delivery-Date alone is in 28% of spam and 4% of ham because
	 * of how each mailbox was collected. */
	static const char *const names[] = { "authentication-results", "received-spf",
		"envelope-to", "status", "x-status", "x-keywords", "x-uid", "x-uidl", "lines",
		"content-length", "x-mozilla-status", "x-mozilla-status2", "x-evolution",
		"delivery-date", "x-delivered-to", "x-sieve", "x-mail-from", "x-loop",
		"x-apparently-to", "x-delivery-agent", "x-mime-autoconverted" };

	if (strstr(lname, "received") != NULL)   /* X-Received, Received-SPF, ... */
		return 1;
	for (size_t i = 0; i < MW_ARRAY_LEN(prefixes); i++) {
		if (strncmp(lname, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	}
	for (size_t i = 0; i < MW_ARRAY_LEN(names); i++) {
		if (strcmp(lname, names[i]) == 0)
			return 1;
	}
	return 0;
}

static void msgid_features(struct tk *t, const char *v, size_t n)
{
	const char *at = memchr(v, '@', n);
	char dom[256];
	size_t dl = 0;

	if (at == NULL) {
		emit_str(t, "mid:", "noat");
		return;
	}
	for (const char *p = at + 1; p < v + n && *p != '>' && dl < sizeof(dom) - 1; p++)
		dom[dl++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p + 32) : *p;
	dom[dl] = '\0';
	host_features(t, "mid:", dom);
}

/* Shape of a value: a run of digits becomes 'd', a run of letters 'w',
 * the rest is kept, so "Tue, 1 Oct 2002 10:00:00 +0100 (IST)" is
 * "w, d w d d:d:d +d (w)" and a spamware's "01 Oct 02 10:00 AM" differs -
 * while no date, month or time of day is learned (the corpus's spam and
 * ham were collected in different months; the issue forbids judging a
 * message by when it was written). */
static void shape_features(struct tk *t, const char *prefix, const char *v, size_t n)
{
	char b[80];
	size_t bl = 0;

	for (size_t i = 0; i < n && bl < sizeof(b) - 1; i++) {
		char c = v[i], k = c;
		if (c >= '0' && c <= '9')
			k = 'd';
		else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			k = 'w';
		if ((k == 'd' || k == 'w') && bl > 0 && b[bl - 1] == k)
			continue;
		b[bl++] = k;
	}
	emit(t, prefix, b, bl);
}

static size_t count_addrs(const char *v, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += v[i] == '@';
	return c;
}

static void header_features(struct tk *t, const char *name, const char *value, int skip_subject,
    int skip_from)
{
	char lname[65];
	size_t nl = strnlen(name, 64), vl;
	struct words ws;

	lower_copy(lname, name, nl);
	vl = strnlen(value, MAX_HEADER_BYTES);
	if (strcmp(lname, "date") == 0) {
		shape_features(t, "date:fmt:", value, vl);
		const char *z = strpbrk(value, "+-");
		while (z != NULL && !(z[1] >= '0' && z[1] <= '9' && strlen(z) >= 5))
			z = strpbrk(z + 1, "+-");
		if (z != NULL)
			emit(t, "date:tz:", z, 5);
		return;
	}
	if (strcmp(lname, "to") == 0 || strcmp(lname, "cc") == 0) {
		size_t c = count_addrs(value, vl);
		char b[32];
		snprintf(b, sizeof(b), "%s:n:%s", lname, c == 0 ? "0" : c == 1 ? "1" : c <= 3 ? "2-3" :
		    c <= 10 ? "4-10" : "11+");
		emit_str(t, "", b);
		if (strchr(value, '<') != NULL)
			emit_str(t, lname, ":named");
		if (strstr(value, "ndisclosed") != NULL)
			emit_str(t, lname, ":undisclosed");
		return;
	}
	if (strcmp(lname, "received") == 0) {
		if (t->last_rcvd) {
			words_init(&ws, "rcvd:", 0);
			const char *by = strstr(value, " by ");
			scan_words(t, &ws, value, by == NULL ? vl : (size_t)(by - value));
		}
		return;
	}
	if (silent_header(lname))
		return;
	if (strcmp(lname, "subject") == 0) {
		if (!skip_subject) {
			words_init(&ws, "s:", 1);
			scan_words(t, &ws, value, strnlen(value, MAX_HEADER_BYTES));
		}
		return;
	}
	if (strcmp(lname, "from") == 0 && skip_from)
		return;
	for (size_t i = 0; i < MW_ARRAY_LEN(header_rules); i++) {
		if (strcmp(lname, header_rules[i].name) != 0)
			continue;
		if (header_rules[i].mode == H_SKIP)
			return;
		switch (header_rules[i].mode) {
		case H_WHOLE: {
			/* The whole value identifies a mailer version exactly. */
			char whole[129], p[32];
			size_t wl = vl < 128 ? vl : 128;
			lower_copy(whole, value, wl);
			snprintf(p, sizeof(p), "%s=", header_rules[i].prefix);
			emit(t, p, whole, wl);
			words_init(&ws, header_rules[i].prefix, 0);
			scan_words(t, &ws, value, vl);
			break;
		}
		case H_WORDS:
			words_init(&ws, header_rules[i].prefix, 0);
			scan_words(t, &ws, value, vl);
			break;
		case H_ADDR:
			addr_features(t, header_rules[i].prefix, value, vl);
			break;
		case H_MSGID:
			msgid_features(t, value, vl);
			break;
		case H_SKIP:
			break;
		}
		emit(t, "hdr:", lname, nl);
		return;
	}
	emit(t, "hdr:", lname, nl);
}


/* ---- the whole message ---------------------------------------------------------------- */

/* LSD radix sort, 8 bits a pass.  qsort with a comparison callback was a
 * quarter of the time of a classification (profiled); a message has a few
 * thousand features, where 8 linear passes win. */
static void sort_u64(uint64_t *v, size_t n)
{
	uint64_t *tmp, *src = v, *dst;
	size_t count[256];

	if (n < 2)
		return;
	tmp = xmalloc(n * sizeof(*tmp));
	dst = tmp;
	for (unsigned shift = 0; shift < 64; shift += 8) {
		size_t sum = 0;
		memset(count, 0, sizeof(count));
		for (size_t i = 0; i < n; i++)
			count[(src[i] >> shift) & 0xff]++;
		if (count[(src[0] >> shift) & 0xff] == n)
			continue;   /* every value has this byte: the pass changes nothing */
		for (size_t d = 0; d < 256; d++) {
			size_t c = count[d];
			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[count[(src[i] >> shift) & 0xff]++] = src[i];
		uint64_t *x = src;
		src = dst;
		dst = x;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
	free(tmp);
}

void bayes_tokenize(const struct bayes_input *in, struct bayes_tokens *out,
    bayes_trace_fn trace, void *trace_arg)
{
	bayes_tokenize_some(in, out, NULL, trace, trace_arg);
}

void bayes_tokenize_some(const struct bayes_input *in, struct bayes_tokens *out,
    int (*want)(void *arg, uint64_t hash), bayes_trace_fn trace, void *trace_arg)
{
	struct tk t = { .out = out, .trace = trace, .want = want, .arg = trace_arg };
	struct words ws;
	out->n = 0;
	if (in->subject != NULL) {
		words_init(&ws, "s:", 1);
		scan_words(&t, &ws, in->subject, strnlen(in->subject, MAX_HEADER_BYTES));
	}
	if (in->from != NULL)
		addr_features(&t, "from:", in->from, strnlen(in->from, MAX_HEADER_BYTES));
	size_t last_rcvd = (size_t)-1;
	for (size_t i = 0; i < in->n_headers; i++) {
		if (in->header_names[i] != NULL && strcasecmp(in->header_names[i], "received") == 0)
			last_rcvd = i;
	}
	for (size_t i = 0; i < in->n_headers; i++) {
		if (in->header_names[i] == NULL || in->header_values[i] == NULL)
			continue;
		t.last_rcvd = i == last_rcvd;
		header_features(&t, in->header_names[i], in->header_values[i], in->subject != NULL,
		    in->from != NULL);
	}
	if (in->text != NULL) {
		words_init(&ws, "", 1);
		scan_words(&t, &ws, in->text, strnlen(in->text, BAYES_MAX_TEXT_BYTES));
	}
	{
		/* How many links, in classes: a one-link mail differs from a
		 * catalogue. */
		size_t nu = in->n_urls;
		const char *cls = nu == 0 ? "0" : nu == 1 ? "1" : nu <= 3 ? "2-3" : nu <= 10 ? "4-10" :
		    "11+";
		emit_str(&t, "url:count:", cls);
	}
	for (size_t i = 0; i < in->n_urls && i < MAX_URLS; i++) {
		if (in->urls[i] != NULL)
			url_features(&t, in->urls[i]);
	}
	if (t.bad_utf8)
		emit_str(&t, "meta:", "bad-utf8");

	/* A feature counts once per message (the counts are message counts). */
	if (out->n > 1) {
		size_t o = 1;
		sort_u64(out->h, out->n);
		for (size_t i = 1; i < out->n; i++) {
			if (out->h[i] != out->h[o - 1])
				out->h[o++] = out->h[i];
		}
		out->n = o;
	}
}
