/*
 * fingerprint_norm.c - the text normaliser of fingerprint.h.
 *
 * One pass over at most lim->max_bytes bytes: each byte is decoded once,
 * each chunk (a run of non-space characters) is examined once for URL and
 * address shape and once for words, so work is linear in the examined
 * prefix whatever the input.  Output is bounded by 3 bytes per input byte
 * (a one-digit number becomes "#n " ) and by lim->max_tokens tokens.
 *
 * Scripts written without spaces (Han, kana, Thai: unicode_is_unspaced())
 * give one token per character: a run of them is a clause or a sentence,
 * and as one word it would be cut at WORD_MAX_BYTES (13 characters) and
 * make one shingle element of a whole clause.  One character per token
 * makes the text's 4-token shingles character 4-grams there
 * (docs/fingerprint.md has the measurement and why not pairs).
 */
#include <string.h>

#include "base/unicode.h"
#include "fingerprint/fingerprint.h"

#define WORD_MAX_BYTES 40

enum cclass { C_SPACE, C_PUNCT, C_WORD, C_IGNORE };

/* Decodes one UTF-8 sequence at p[0..n); invalid bytes come out as U+FFFD
 * of length 1 so that garbage can never swallow the bytes after it. */
static uint32_t utf8_next(const unsigned char *p, size_t n, size_t *clen)
{
	unsigned c = p[0];
	if (c < 0x80) {
		*clen = 1;
		return c;
	}
	size_t k;
	uint32_t v, min;
	if ((c & 0xE0) == 0xC0)
		k = 1, v = c & 0x1F, min = 0x80;
	else if ((c & 0xF0) == 0xE0)
		k = 2, v = c & 0x0F, min = 0x800;
	else if ((c & 0xF8) == 0xF0)
		k = 3, v = c & 0x07, min = 0x10000;
	else
		goto bad;
	if (k >= n)
		goto bad;
	for (size_t j = 1; j <= k; j++) {
		if ((p[j] & 0xC0) != 0x80)
			goto bad;
		v = (v << 6) | (p[j] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		goto bad;
	*clen = k + 1;
	return v;
bad:
	*clen = 1;
	return 0xFFFD;
}

/* Fullwidth ASCII (U+FF01..U+FF5E) is a classic filter-evasion trick. */
static uint32_t fold_width(uint32_t c)
{
	return (c >= 0xFF01 && c <= 0xFF5E) ? c - 0xFEE0 : c;
}

static enum cclass classify(uint32_t c)
{
	if (c < 0x80) {
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			return C_WORD;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')
			return C_SPACE;
		return C_PUNCT; /* punctuation and other controls */
	}
	/* Invisible characters used to split words past filters. */
	if (c == 0x00AD || (c >= 0x200B && c <= 0x200D) || c == 0x2060 || c == 0xFEFF)
		return C_IGNORE;
	if (c == 0x0085 || c == 0x00A0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
	    c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000)
		return C_SPACE;
	if (c < 0xA0)
		return C_PUNCT; /* C1 controls */
	if (c <= 0xBF && c != 0xAA && c != 0xB5 && c != 0xBA)
		return C_PUNCT; /* Latin-1 signs: currency, quotes, (c), degree ... */
	if (c == 0xD7 || c == 0xF7)
		return C_PUNCT;
	if ((c >= 0x2010 && c <= 0x2027) || (c >= 0x2030 && c <= 0x205E) || (c >= 0x20A0 && c <= 0x20CF) ||
	    (c >= 0x2190 && c <= 0x2BFF) || (c >= 0x3001 && c <= 0x303F) || (c >= 0xFE30 && c <= 0xFE6F) ||
	    c == 0xFFFD || (c >= 0x1F000 && c <= 0x1FAFF))
		return C_PUNCT; /* general punctuation, currency, arrows/symbols, CJK punctuation, emoji */
	return C_WORD;
}

/* Simple case folding for Latin-1, Latin Extended-A, Greek and Cyrillic:
 * the scripts of most mail we see.  Full Unicode folding is not needed for
 * a fingerprint, only consistency. */
static uint32_t fold_case(uint32_t c)
{
	if (c < 0x80)
		return (c >= 'A' && c <= 'Z') ? c + 32 : c;
	if (c >= 0xC0 && c <= 0xDE && c != 0xD7)
		return c + 0x20;
	if (c >= 0x100 && c <= 0x17F) {
		if ((c <= 0x12F || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) && !(c & 1))
			return c + 1;
		if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) && (c & 1))
			return c + 1;
		return c;
	}
	if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2)
		return c + 0x20;
	if (c >= 0x410 && c <= 0x42F)
		return c + 0x20;
	if (c >= 0x400 && c <= 0x40F)
		return c + 0x50;
	return c;
}

struct norm {
	struct buf *out;
	size_t tokens, max_tokens;
	int last_number; /* last token emitted was "#n": the next one merges */
	int full;
};

static void emit(struct norm *nm, const char *tok, size_t n, int is_number)
{
	if (nm->full)
		return;
	if (is_number && nm->last_number)
		return;
	if (nm->tokens >= nm->max_tokens) {
		nm->full = 1;
		return;
	}
	if (nm->out->len > 0)
		buf_append_char(nm->out, ' ');
	buf_append(nm->out, tok, n);
	nm->tokens++;
	nm->last_number = is_number;
}

static int ascii_ieq(const unsigned char *p, size_t n, const char *lit)
{
	size_t m = strlen(lit);
	if (n < m)
		return 0;
	for (size_t i = 0; i < m; i++) {
		unsigned c = p[i];
		if (c >= 'A' && c <= 'Z')
			c += 32;
		if (c != (unsigned char)lit[i])
			return 0;
	}
	return 1;
}

static int is_ascii_wordc(unsigned c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* URL: "://" anywhere (scheme://...), or a leading "www."; chunk-level so
 * that the path, query and fragment (tracking ids) disappear with it. */
static int chunk_is_url(const unsigned char *p, size_t n)
{
	size_t s = 0;
	while (s < n && !is_ascii_wordc(p[s]) && p[s] < 0x80)
		s++; /* "(http://..." or "<www...." */
	if (ascii_ieq(p + s, n - s, "www."))
		return 1;
	for (size_t i = 0; i + 2 < n; i++)
		if (p[i] == ':' && p[i + 1] == '/' && p[i + 2] == '/')
			return 1;
	return 0;
}

static int chunk_is_email(const unsigned char *p, size_t n)
{
	for (size_t i = 1; i + 1 < n; i++) {
		if (p[i] != '@')
			continue;
		if (!(is_ascii_wordc(p[i - 1]) || p[i - 1] >= 0x80 || p[i - 1] == '.' || p[i - 1] == '_' ||
		      p[i - 1] == '-' || p[i - 1] == '+'))
			continue;
		if (!(is_ascii_wordc(p[i + 1]) || p[i + 1] >= 0x80))
			continue;
		for (size_t j = i + 2; j + 1 < n; j++)
			if (p[j] == '.' && (is_ascii_wordc(p[j + 1]) || p[j + 1] >= 0x80))
				return 1;
		return 0;
	}
	return 0;
}

/* The word collected so far (w[0..wl), holding a digit or not) as a token. */
static void end_word(struct norm *nm, const char *w, size_t wl, int digit, unsigned flags)
{
	if (digit && !(flags & FP_NORM_KEEP_NUMBERS))
		emit(nm, FP_TOKEN_NUMBER, 2, 1);
	else
		emit(nm, w, wl, 0);
}

static void words(struct norm *nm, const unsigned char *p, size_t n, unsigned flags)
{
	char w[WORD_MAX_BYTES + 4];
	size_t wl = 0;
	int in_word = 0, digit = 0;
	size_t i = 0;
	for (;;) {
		uint32_t c = 0;
		size_t cl = 0;
		enum cclass cc = C_PUNCT;
		if (i < n) {
			c = fold_width(utf8_next(p + i, n - i, &cl));
			cc = classify(c);
		}
		if (cc == C_IGNORE) {
			i += cl;
			continue;
		}
		if (cc == C_WORD && unicode_is_unspaced(c)) {
			/* Ends the word before it and is a token of its own. */
			if (in_word)
				end_word(nm, w, wl, digit, flags);
			in_word = 0, digit = 0, wl = 0;
			char enc[4];
			emit(nm, enc, unicode_utf8_put(c, enc), 0);
		} else if (cc == C_WORD) {
			c = fold_case(c);
			if (c >= '0' && c <= '9')
				digit = 1;
			char enc[4];
			size_t el = unicode_utf8_put(c, enc);
			if (wl + el <= WORD_MAX_BYTES) {
				memcpy(w + wl, enc, el);
				wl += el;
			}
			in_word = 1;
		} else if (in_word) {
			end_word(nm, w, wl, digit, flags);
			in_word = 0, digit = 0, wl = 0;
		}
		if (i >= n || nm->full)
			return;
		i += cl;
	}
}

size_t fp_normalize(const char *text, size_t len, unsigned flags, const struct fp_limits *lim,
		    struct buf *out, int *truncated)
{
	struct norm nm = { out, 0, lim->max_tokens, 0, 0 };
	const unsigned char *p = (const unsigned char *)text;
	size_t n = len < lim->max_bytes ? len : lim->max_bytes;
	int cut = n < len;
	if (cut) {
		/* Do not end inside a UTF-8 sequence: its lead byte would read
		 * as garbage. */
		for (int k = 0; k < 3 && n > 0 && (p[n] & 0xC0) == 0x80; k++)
			n--;
	}
	size_t i = 0;
	while (i < n && !nm.full) {
		size_t cl;
		uint32_t c = utf8_next(p + i, n - i, &cl);
		if (classify(fold_width(c)) == C_SPACE) {
			i += cl;
			continue;
		}
		size_t j = i + cl;
		while (j < n) {
			c = utf8_next(p + j, n - j, &cl);
			if (classify(fold_width(c)) == C_SPACE)
				break;
			j += cl;
		}
		if (!(flags & FP_NORM_KEEP_ADDRESSES) && chunk_is_url(p + i, j - i))
			emit(&nm, FP_TOKEN_URL, 2, 0);
		else if (!(flags & FP_NORM_KEEP_ADDRESSES) && chunk_is_email(p + i, j - i))
			emit(&nm, FP_TOKEN_EMAIL, 2, 0);
		else
			words(&nm, p + i, j - i, flags);
		i = j;
	}
	if (truncated != NULL)
		*truncated = cut || nm.full;
	return nm.tokens;
}
