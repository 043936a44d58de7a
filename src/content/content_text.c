/*
 * content_text.c - the arena, UTF-8 repair, charset conversion and the
 * signature-block finder.  Pure byte handling (iconv from libc only).
 */
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "content/content_int.h"

/* ---- arena ---------------------------------------------------------- */

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	max_align_t data[];
};

#define ARENA_BLOCK 8192

void *arena_alloc(struct arena *a, size_t n)
{
	size_t need = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	struct arena_block *b = a->head;
	if (b == NULL || b->cap - b->used < need) {
		/* Big items get a block of their own so small ones keep packing. */
		size_t cap = need > ARENA_BLOCK / 2 ? need : ARENA_BLOCK;
		struct arena_block *nb = xmalloc(sizeof(*nb) + cap);
		nb->used = 0;
		nb->cap = cap;
		if (b != NULL && need > ARENA_BLOCK / 2) {
			nb->next = b->next; /* keep the partly used block on top */
			b->next = nb;
		} else {
			nb->next = b;
			a->head = nb;
		}
		b = nb;
	}
	void *p = (char *)b->data + b->used;
	b->used += need;
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

void arena_free(struct arena *a)
{
	struct arena_block *b = a->head;
	while (b != NULL) {
		struct arena_block *n = b->next;
		free(b);
		b = n;
	}
	a->head = NULL;
}

/* ---- UTF-8 ------------------------------------------------------------ */

static const char REPL[] = "\xEF\xBF\xBD";

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when invalid
 * (overlongs, surrogates and > U+10FFFF are invalid). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if (c == 0xE0 && s[1] < 0xA0)
			return 0;
		if (c == 0xED && s[1] >= 0xA0)
			return 0;
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
			return 0;
		if (c == 0xF0 && s[1] < 0x90)
			return 0;
		if (c == 0xF4 && s[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

static int sanitize(struct buf *out, const char *s, size_t len, size_t max, int *bad);

int utf8_sanitize_append(struct buf *out, const char *s, size_t len, size_t max, int *bad)
{
	int cut = sanitize(out, s, len, max, bad);
	/* buf_reserve() does not terminate: a buffer reserved but never
	 * appended to (empty input, immediate cut) must still be a string. */
	if (out->data != NULL)
		out->data[out->len] = '\0';
	return cut;
}

static int sanitize(struct buf *out, const char *s, size_t len, size_t max, int *bad)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	buf_reserve(out, len < max ? len : max);
	while (i < len) {
		/* Fast path: a run of printable ASCII. */
		size_t j = i;
		while (j < len && p[j] < 0x80 && p[j] != 0)
			j++;
		if (j > i) {
			size_t n = j - i;
			if (out->len + n > max) {
				buf_append(out, s + i, max - out->len);
				return 1;
			}
			buf_append(out, s + i, n);
			i = j;
			continue;
		}
		if (p[i] == 0) {
			i++;
			continue;
		}
		size_t n = utf8_seq(p + i, len - i);
		if (n == 0) {
			if (bad)
				*bad = 1;
			if (out->len + 3 > max)
				return 1;
			buf_append(out, REPL, 3);
			i++;
			continue;
		}
		if (out->len + n > max)
			return 1;
		buf_append(out, s + i, n);
		i += n;
	}
	return 0;
}

static int is_utf8_name(const char *cs)
{
	return cs[0] == '\0' || strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0 ||
		strcasecmp(cs, "us-ascii") == 0 || strcasecmp(cs, "ascii") == 0 ||
		strcasecmp(cs, "ansi_x3.4-1968") == 0;
}

/* ISO-8859-1, the most common charset in mail after ASCII, maps every byte
 * to the code point of its value: converted here exactly as glibc's iconv
 * does, because iconv_open/iconv_close load and unload glibc's gconv module
 * for every part (dlopen, then munmap), which was a twentieth of a scan's
 * CPU on the SpamAssassin corpus.  Other names and aliases still go to
 * iconv. */
static int is_latin1_name(const char *cs)
{
	return strcasecmp(cs, "iso-8859-1") == 0 || strcasecmp(cs, "iso8859-1") == 0 ||
		strcasecmp(cs, "iso_8859-1") == 0 || strcasecmp(cs, "latin1") == 0;
}

/* iconv()'s contract for Latin-1 input: as much as fits, E2BIG when the
 * output is full.  No byte is invalid. */
static size_t latin1_conv(char **ip, size_t *left, char **op, size_t *oleft)
{
	while (*left > 0) {
		unsigned char c = (unsigned char)**ip;
		if (*oleft < (c < 0x80 ? 1u : 2u)) {
			errno = E2BIG;
			return (size_t)-1;
		}
		if (c < 0x80) {
			*(*op)++ = (char)c;
			(*oleft)--;
		} else {
			*(*op)++ = (char)(0xc0 | (c >> 6));
			*(*op)++ = (char)(0x80 | (c & 0x3f));
			*oleft -= 2;
		}
		(*ip)++;
		(*left)--;
	}
	return 0;
}

int charset_to_utf8(const char *charset, const char *in, size_t len, struct buf *out,
	size_t max, unsigned *flags)
{
	int bad = 0;
	if (charset == NULL || is_utf8_name(charset)) {
		int cut = utf8_sanitize_append(out, in, len, max, &bad);
		if (bad && charset != NULL && charset[0] != '\0')
			*flags |= CONTENT_F_BAD_CHARSET_DATA;
		return cut;
	}
	/* iconv names: the common aliases mail uses that glibc lacks. */
	const char *name = charset;
	if (strcasecmp(charset, "ks_c_5601-1987") == 0)
		name = "CP949";
	else if (strcasecmp(charset, "x-sjis") == 0)
		name = "SHIFT_JIS";
	else if (strcasecmp(charset, "iso-8859-8-i") == 0)
		name = "ISO-8859-8";
	const int latin1 = is_latin1_name(name);
	iconv_t cd = latin1 ? (iconv_t)0 : iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1) {
		*flags |= CONTENT_F_UNKNOWN_CHARSET;
		return utf8_sanitize_append(out, in, len, max, &bad);
	}
	/* Output is converted through a small buffer and then re-validated, so
	 * whatever iconv emits, the result stays valid UTF-8 and bounded. */
	char tmp[4096];
	char *ip = (char *)(uintptr_t)in;
	size_t left = len;
	int cut = 0;
	while (left > 0 && !cut) {
		char *op = tmp;
		size_t oleft = sizeof(tmp);
		size_t r = latin1 ? latin1_conv(&ip, &left, &op, &oleft) :
			iconv(cd, &ip, &left, &op, &oleft);
		int err = r == (size_t)-1 ? errno : 0;
		cut = utf8_sanitize_append(out, tmp, (size_t)(op - tmp), max, &bad);
		if (cut)
			break;
		if (err == E2BIG)
			continue;
		if (err == EILSEQ || err == EINVAL) {
			/* Invalid or truncated input: one replacement, skip a byte. */
			*flags |= CONTENT_F_BAD_CHARSET_DATA;
			if (out->len + 3 > max) {
				cut = 1;
				break;
			}
			buf_append(out, REPL, 3);
			ip++;
			left--;
			iconv(cd, NULL, NULL, NULL, NULL);
		} else if (err != 0) {
			break;
		}
	}
	if (latin1)
		return cut;   /* no shift state, nothing to close */
	if (!cut) {
		char *op = tmp;
		size_t oleft = sizeof(tmp);
		iconv(cd, NULL, NULL, &op, &oleft); /* flush shift state */
		cut = utf8_sanitize_append(out, tmp, (size_t)(op - tmp), max, &bad);
	}
	iconv_close(cd);
	return cut;
}

/* ---- signature block --------------------------------------------------- */

#define SIG_MAX_BYTES 1024
#define SIG_MAX_LINES 15
#define HEUR_MAX_LINES 6
#define HEUR_MAX_BYTES 400

/* Line [s, e) without its CR. */
static size_t line_len_nocr(const char *s, const char *e)
{
	size_t n = (size_t)(e - s);
	if (n > 0 && s[n - 1] == '\r')
		n--;
	return n;
}

static int is_sig_delim(const char *s, size_t n)
{
	if (n < 2 || s[0] != '-' || s[1] != '-')
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	return 1;
}

static int is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Where quoted or forwarded material starts after a signature. */
static int ends_signature(const char *s, size_t n)
{
	return (n > 0 && s[0] == '>') ||
		(n >= 8 && memcmp(s, "-----Ori", 8) == 0) ||
		(n >= 5 && memcmp(s, "From:", 5) == 0 && n < 200) ||
		(n >= 6 && memcmp(s, "wrote:", 6) == 0);
}

static int has_phone(const char *s, size_t n)
{
	size_t digits = 0, run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isdigit(c)) {
			digits++;
			run = 0;
		} else if ((c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '+' ||
				   c == '/') && run < 2 && digits > 0) {
			run++;
		} else {
			if (digits >= 7)
				return 1;
			digits = 0;
			run = 0;
		}
	}
	return digits >= 7;
}

static int has_word_ci(const char *s, size_t n, const char *w)
{
	size_t wl = strlen(w);
	for (size_t i = 0; i + wl <= n; i++)
		if (strncasecmp(s + i, w, wl) == 0 &&
			(i == 0 || !isalpha((unsigned char)s[i - 1])) &&
			(i + wl == n || !isalpha((unsigned char)s[i + wl])))
			return 1;
	return 0;
}

static int looks_like_signature(const char *s, size_t n)
{
	static const char *const company[] = { "inc", "ltd", "llc", "gmbh", "corp", "co", "plc",
		"ag", "sa", "bv", "tel", "phone", "mobile", "fax", "www", NULL };
	static const char *const closing[] = { "regards", "thanks", "cheers", "sincerely", "best",
		"thank you", NULL };
	int score = 0;
	if (has_phone(s, n))
		score += 2;
	const char *at = memchr(s, '@', n);
	if (at != NULL && at > s && at + 1 < s + n && isalnum((unsigned char)at[-1]) &&
		isalnum((unsigned char)at[1]))
		score += 2;
	if (has_word_ci(s, n, "http") || has_word_ci(s, n, "https") || has_word_ci(s, n, "www"))
		score += 1;
	for (int i = 0; company[i]; i++)
		if (has_word_ci(s, n, company[i])) {
			score += 1;
			break;
		}
	for (int i = 0; closing[i]; i++)
		if (has_word_ci(s, n, closing[i])) {
			score += 1;
			break;
		}
	/* Several short lines, like a name / title / company stack. */
	size_t lines = 0, longest = 0, cur = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '\n') {
			if (cur > longest)
				longest = cur;
			lines++;
			cur = 0;
		} else {
			cur++;
		}
	}
	if (lines >= 2 && longest <= 50)
		score += 1;
	return score >= 2;
}

static void set_sig(struct content_msg *m, const char *s, size_t n, enum content_sig_method how)
{
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	while (n > 0 && (*s == '\n' || *s == '\r')) {
		s++;
		n--;
	}
	if (n == 0)
		return;
	struct buf b = BUF_INIT;
	utf8_sanitize_append(&b, s, n, SIG_MAX_BYTES, NULL);
	/* A cut may have left half a sequence: sanitize stops on boundaries. */
	m->signature = arena_strndup(&m->arena, b.data ? b.data : "", b.len);
	m->sig_method = how;
	buf_free(&b);
}

/* The last paragraph of text (after a blank line, trailing space left
 * out) when it has at most max_lines lines and max_bytes bytes and is not
 * the whole text: 0, [*start, *end) and its line count, else -1. */
static int last_paragraph(const char *text, size_t len, size_t max_lines, size_t max_bytes,
	const char **start_out, const char **end_out, size_t *lines_out)
{
	const char *e = text + len;
	while (e > text && isspace((unsigned char)e[-1]))
		e--;
	if (e == text)
		return -1;
	const char *start = NULL;
	size_t lines = 0;
	for (const char *p = e; p > text;) {
		const char *q = p;
		while (q > text && q[-1] != '\n')
			q--;
		/* line is [q, p) */
		if (is_blank(q, (size_t)(p - q))) {
			start = p;
			break;
		}
		lines++;
		if (lines > max_lines || (size_t)(e - q) > max_bytes)
			return -1;
		if (q == text)
			return -1; /* the whole text is one paragraph */
		p = q - 1;  /* skip the '\n' */
	}
	if (start == NULL)
		return -1;
	while (start < e && (*start == '\n' || *start == '\r'))
		start++;
	if (start == e)
		return -1;
	*start_out = start;
	*end_out = e;
	*lines_out = lines;
	return 0;
}

void signature_find(struct content_msg *m, const char *text, size_t len)
{
	const char *end = text + len;
	/* 1. RFC 3676 delimiter: the first unquoted "-- " line. */
	for (const char *p = text; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if (is_sig_delim(p, line_len_nocr(p, le))) {
			const char *s = nl ? nl + 1 : end, *q = s;
			size_t lines = 0;
			while (q < end && lines < SIG_MAX_LINES) {
				const char *n2 = memchr(q, '\n', (size_t)(end - q));
				const char *e2 = n2 ? n2 : end;
				if (ends_signature(q, line_len_nocr(q, e2)))
					break;
				lines++;
				q = n2 ? n2 + 1 : end;
			}
			set_sig(m, s, (size_t)(q - s), CONTENT_SIG_DELIMITER);
			if (m->signature != NULL)
				return;
		}
		p = nl ? nl + 1 : end;
	}
	/* One walk for both remaining forms: the heuristic's bounds are within
	 * the candidate's. */
	const char *start, *e;
	size_t lines;
	if (last_paragraph(text, len, SIG_MAX_LINES, SIG_MAX_BYTES, &start, &e, &lines) != 0)
		return;
	/* 2. Heuristic: the last paragraph, if short and signature-like. */
	if (lines <= HEUR_MAX_LINES && (size_t)(e - start) <= HEUR_MAX_BYTES &&
		looks_like_signature(start, (size_t)(e - start))) {
		set_sig(m, start, (size_t)(e - start), CONTENT_SIG_HEURISTIC);
		if (m->signature != NULL)
			return;
	}
	/* 3. Neither: keep the last paragraph for R7's second form, which needs
	 * the sender's other messages (content_signature_adopt()).  Quoted text
	 * ends replies, and is someone else's. */
	if (*start != '>') {
		struct buf b = BUF_INIT;
		utf8_sanitize_append(&b, start, (size_t)(e - start), SIG_MAX_BYTES, NULL);
		if (b.len > 0)
			m->last_block = arena_strndup(&m->arena, b.data, b.len);
		buf_free(&b);
	}
}

/* ---- RFC 2047 encoded words ------------------------------------------------ */

const unsigned char *content_find_ci(const unsigned char *p, size_t n, const char *w)
{
	const size_t wl = strlen(w);
	const unsigned char first = (unsigned char)(w[0] | 0x20);
	for (size_t i = 0; i + wl <= n; i++)
		if ((p[i] | 0x20) == first && strncasecmp((const char *)p + i, w, wl) == 0)
			return p + i;
	return NULL;
}

#define EW_TEXT_MAX 1024

/* Decoded bytes of adjacent words in one charset are converted together, so
 * a multi-byte character split across two words survives; each word's own
 * base64 is decoded separately (a pad in one word hides nothing after it). */
struct ew_pending {
	struct buf bytes;
	char charset[64];
};

static void ew_flush(struct ew_pending *p, struct buf *out, size_t max, unsigned *flags)
{
	if (p->bytes.len == 0)
		return;
	unsigned f = 0;
	charset_to_utf8(p->charset, p->bytes.data, p->bytes.len, out, max, &f);
	if (f & CONTENT_F_UNKNOWN_CHARSET)
		*flags |= CONTENT_F_BAD_ENCODED_WORD;
	buf_reset(&p->bytes);
}

/* Parse one encoded word at s (which starts with "=?"); on success append its
 * decoded bytes to p (flushing first on a charset change) and return its
 * length, else 0. */
static size_t ew_word(const char *s, size_t n, struct ew_pending *p, struct buf *out, size_t max,
	unsigned *flags)
{
	size_t i = 2, cs = 2;
	while (i < n && s[i] != '?' && i - cs < 63 && !isspace((unsigned char)s[i]))
		i++;
	if (i + 3 >= n || s[i] != '?' || i == cs)
		return 0;
	size_t csl = i - cs;
	char enc = (char)toupper((unsigned char)s[i + 1]);
	if ((enc != 'B' && enc != 'Q') || s[i + 2] != '?')
		return 0;
	size_t ts = i + 3;
	const char *end = NULL;
	/* RFC 2047 words are at most 75 bytes; a generous cap on the search
	 * keeps a header full of unterminated "=?" openers linear (each attempt
	 * would otherwise scan to the end of the value). */
	size_t lim = n - ts > EW_TEXT_MAX ? ts + EW_TEXT_MAX : n;
	for (size_t k = ts; k + 1 < lim; k++) {
		if (s[k] == '?' && s[k + 1] == '=') {
			end = s + k;
			break;
		}
		if (s[k] == '\r' || s[k] == '\n')
			return 0;
	}
	if (end == NULL)
		return 0;
	char charset[64];
	memcpy(charset, s + cs, csl);
	charset[csl] = '\0';
	char *star = strchr(charset, '*'); /* RFC 2231 language suffix */
	if (star != NULL)
		*star = '\0';
	if (strcasecmp(charset, p->charset) != 0) {
		ew_flush(p, out, max, flags);
		mw_strlcpy(p->charset, charset, sizeof(p->charset));
	}
	const char *t = s + ts;
	size_t tl = (size_t)(end - t);
	if (enc == 'B') {
		uint32_t bits = 0;
		int nb = 0;
		for (size_t k = 0; k < tl; k++) {
			unsigned char c = (unsigned char)t[k];
			int v;
			if (c >= 'A' && c <= 'Z')
				v = c - 'A';
			else if (c >= 'a' && c <= 'z')
				v = c - 'a' + 26;
			else if (c >= '0' && c <= '9')
				v = c - '0' + 52;
			else if (c == '+')
				v = 62;
			else if (c == '/')
				v = 63;
			else {
				if (c != '=')
					*flags |= CONTENT_F_BAD_ENCODED_WORD;
				continue;
			}
			bits = (bits << 6) | (uint32_t)v;
			nb += 6;
			if (nb >= 8) {
				nb -= 8;
				buf_append_char(&p->bytes, (char)(bits >> nb));
			}
		}
	} else {
		for (size_t k = 0; k < tl; k++) {
			char c = t[k];
			if (c == '_') {
				buf_append_char(&p->bytes, ' ');
			} else if (c == '=' && k + 2 < tl && content_hex_digit((unsigned char)t[k + 1]) >= 0 &&
				content_hex_digit((unsigned char)t[k + 2]) >= 0) {
				buf_append_char(&p->bytes, (char)(content_hex_digit((unsigned char)t[k + 1]) * 16 +
					content_hex_digit((unsigned char)t[k + 2])));
				k += 2;
			} else {
				buf_append_char(&p->bytes, c);
			}
		}
	}
	return (size_t)(end - s) + 2;
}

void rfc2047_decode(const char *s, size_t n, struct buf *out, size_t max, unsigned *flags)
{
	struct ew_pending p = { BUF_INIT, "" };
	size_t i = 0;
	/* Trim, and skip the folding white space at the start. */
	while (i < n && isspace((unsigned char)s[i]))
		i++;
	while (n > i && isspace((unsigned char)s[n - 1]))
		n--;
	int last_was_word = 0;
	while (i < n && out->len < max) {
		if (s[i] == '=' && i + 1 < n && s[i + 1] == '?') {
			size_t w = ew_word(s + i, n - i, &p, out, max, flags);
			if (w > 0) {
				i += w;
				last_was_word = 1;
				continue;
			}
		}
		/* A run of plain text up to the next white space or "=?". */
		size_t j = i;
		int ws = isspace((unsigned char)s[i]) != 0;
		while (j < n && (isspace((unsigned char)s[j]) != 0) == ws &&
			!(j > i && s[j] == '=' && j + 1 < n && s[j + 1] == '?'))
			j++;
		if (ws) {
			/* White space between two encoded words is dropped (RFC 2047
			 * 6.2); elsewhere folding collapses to one space. */
			size_t k = j;
			if (last_was_word && k + 1 < n && s[k] == '=' && s[k + 1] == '?') {
				struct ew_pending probe = { BUF_INIT, "" };
				struct buf dummy = BUF_INIT;
				unsigned f = 0;
				size_t w = ew_word(s + k, n - k, &probe, &dummy, 0, &f);
				buf_free(&probe.bytes);
				buf_free(&dummy);
				if (w > 0) {
					i = j;
					continue;
				}
			}
			ew_flush(&p, out, max, flags);
			p.charset[0] = '\0';
			if (out->len < max)
				buf_append_char(out, ' ');
		} else {
			ew_flush(&p, out, max, flags);
			p.charset[0] = '\0';
			utf8_sanitize_append(out, s + i, j - i, max, NULL);
			last_was_word = 0;
		}
		i = j;
	}
	ew_flush(&p, out, max, flags);
	buf_free(&p.bytes);
	if (out->data != NULL)
		out->data[out->len] = '\0';
}
