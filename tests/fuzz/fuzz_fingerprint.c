/*
 * fuzz_fingerprint.c - F-FP: the fingerprint normaliser and MinHash on
 * arbitrary bytes (copied to a heap block of exactly their size, so ASan
 * flags any read past the end).  The first byte picks the normaliser flags
 * and small caps, so the cap paths are reached too.  Invariants: the output
 * is valid UTF-8 with single spaces between tokens and none at the ends, the
 * token count matches the spaces and stays within max_tokens, the output is
 * at most 3 bytes per examined input byte, no token holds '#' unless it is a
 * placeholder, a token holding a Han, kana or Thai character is that one
 * character, normalising is deterministic and idempotent on its own output
 * (with the same flags and no caps hit), and the text signature is the same
 * twice and equals the one computed from the tokens.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/unicode.h"
#include "fingerprint/fingerprint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int valid_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned c = p[i];
		size_t k;
		uint32_t v, min;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0)
			k = 1, v = c & 0x1F, min = 0x80;
		else if ((c & 0xF0) == 0xE0)
			k = 2, v = c & 0x0F, min = 0x800;
		else if ((c & 0xF8) == 0xF0)
			k = 3, v = c & 0x07, min = 0x10000;
		else
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if (i + j >= n || (p[i + j] & 0xC0) != 0x80)
				return 0;
			v = (v << 6) | (p[i + j] & 0x3F);
		}
		if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
			return 0;
		i += k + 1;
	}
	return 1;
}

/* A token with a character of a script written without spaces must be
 * just that character (the output is valid UTF-8: checked before). */
static void check_unspaced(const char *tok, size_t tl)
{
	const unsigned char *p = (const unsigned char *)tok;
	for (size_t i = 0; i < tl;) {
		size_t k = p[i] < 0x80 ? 0 : p[i] < 0xE0 ? 1 : p[i] < 0xF0 ? 2 : 3;
		uint32_t v = k == 0 ? p[i] : (uint32_t)(p[i] & (0x3F >> k));
		for (size_t j = 1; j <= k; j++)
			v = (v << 6) | (p[i + j] & 0x3F);
		if (unicode_is_unspaced(v) && tl != k + 1)
			abort();
		i += k + 1;
	}
}

static void check_tokens(const struct buf *b, size_t ntok, size_t max_tokens)
{
	if (!valid_utf8(b->data, b->len))
		abort();
	if (ntok > max_tokens)
		abort();
	if (b->len == 0) {
		if (ntok != 0)
			abort();
		return;
	}
	if (b->data[0] == ' ' || b->data[b->len - 1] == ' ')
		abort();
	size_t spaces = 0;
	const char *tok = b->data;
	for (size_t i = 0; i <= b->len; i++) {
		if (i < b->len && b->data[i] != ' ')
			continue;
		size_t tl = (size_t)(b->data + i - tok);
		if (tl == 0 || tl > 40)
			abort(); /* "  " or an over-long word */
		if (memchr(tok, '#', tl) != NULL && !(tl == 2 && (tok[1] == 'n' || tok[1] == 'u' || tok[1] == 'e')))
			abort();
		check_unspaced(tok, tl);
		if (i < b->len)
			spaces++;
		tok = b->data + i + 1;
	}
	if (spaces + 1 != ntok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	unsigned mode = data[0];
	data++, size--;
	char *text = malloc(size ? size : 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);

	unsigned flags = mode & 3;
	struct fp_params p = fp_params_default();
	if (mode & 4)
		p.lim.max_tokens = 1 + (mode >> 4); /* 1 .. 16 */
	if (mode & 8)
		p.lim.max_bytes = 1 + (mode >> 3) * 7;

	struct buf a = BUF_INIT, b = BUF_INIT, c = BUF_INIT;
	int cut_a = 0, cut_b = 0, cut_c = 0;
	size_t na = fp_normalize(text, size, flags, &p.lim, &a, &cut_a);
	size_t nb = fp_normalize(text, size, flags, &p.lim, &b, &cut_b);
	if (na != nb || cut_a != cut_b || a.len != b.len || memcmp(a.data ? a.data : "", b.data ? b.data : "", a.len))
		abort();
	check_tokens(&a, na, p.lim.max_tokens);
	size_t examined = size < p.lim.max_bytes ? size : p.lim.max_bytes;
	if (a.len > 3 * examined)
		abort();
	if (!cut_a && a.len > 0 && a.len <= p.lim.max_bytes) {
		/* Normalised text is a fixed point (placeholders: '#' splits
		 * them into the bare letters, so only without placeholders).
		 * Only while it fits the byte cap: a space after each Han,
		 * kana or Thai character makes the output longer than its
		 * input, and past max_bytes the second pass is cut. */
		if (memchr(a.data, '#', a.len) == NULL) {
			size_t nc = fp_normalize(a.data, a.len, flags, &p.lim, &c, &cut_c);
			if (nc != na || c.len != a.len || memcmp(c.data, a.data, a.len) != 0)
				abort();
		}
	}

	struct fp_sig s1, s2, s3;
	size_t n1 = 0, n2 = 0;
	int r1 = fp_text_sig(text, size, &p, &s1, &n1, NULL);
	int r2 = fp_text_sig(text, size, &p, &s2, &n2, NULL);
	if (r1 != r2 || n1 != n2 || (r1 == 0 && memcmp(&s1, &s2, sizeof(s1)) != 0))
		abort();
	if (flags == 0) {
		size_t n3 = fp_sig_from_tokens(a.data, a.len, p.text_width, p.text_min_shingles, &s3);
		if (n3 != n1 || (r1 == 0 && memcmp(&s1, &s3, sizeof(s1)) != 0))
			abort();
		if (r1 == 0 && fp_sig_similarity(&s1, &s3) != 1.0)
			abort();
	}
	buf_free(&a), buf_free(&b), buf_free(&c);
	free(text);
	return 0;
}
