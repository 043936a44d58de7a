/*
 * fp_similarity.c - how similar the text fingerprints of pairs of files are:
 * the measurement behind docs/fingerprint.md "Scripts without spaces".
 *
 *   fp_similarity [--pairs] A B [C D ...]
 *
 * For each pair of files: tokens and 4-token shingles of each (after
 * fp_normalize() with the text defaults), the exact Jaccard similarity of
 * the two shingle sets, and the MinHash estimate fp_text_sig() gives ("-"
 * when a text is too short for a text fingerprint).  --pairs rewrites each
 * run of single-character Han/kana/Thai tokens as overlapping character
 * pairs before shingling (the Bayes tokenizer's reading), to compare that
 * alternative; such runs are joined across the punctuation the normaliser
 * dropped, which favours pairs slightly.
 *
 * Built against libmailward.a of the commit to measure (Makefile variables
 * as for the unit tests), e.g.
 *   cc -std=c17 -D_GNU_SOURCE -Isrc -o /tmp/fp_similarity scripts/fp_similarity.c \
 *      src/base/unicode.c build/release/libmailward.a $(pkg-config --libs ...) -lm
 * (src/base/unicode.c is named on its own so that a library from before it
 * existed links too).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/unicode.h"
#include "fingerprint/fingerprint.h"

#define WIDTH 4

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		exit(2);
	}
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	*len = b.len;
	return buf_steal(&b);
}

/* The code point of a token that is exactly one unspaced character, else 0. */
static uint32_t lone_unspaced(const char *t, size_t n)
{
	const unsigned char *p = (const unsigned char *)t;
	uint32_t c;
	if (n == 3 && (p[0] & 0xF0) == 0xE0)
		c = ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
	else if (n == 4 && (p[0] & 0xF8) == 0xF0)
		c = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
		    ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
	else
		return 0;
	return unicode_is_unspaced(c) ? c : 0;
}

struct toks {
	const char **p;
	size_t *n;
	size_t count;
};

static void split(const char *s, size_t len, struct toks *t)
{
	t->p = malloc((len + 1) * sizeof(*t->p));
	t->n = malloc((len + 1) * sizeof(*t->n));
	t->count = 0;
	const char *e = s + len;
	while (s < e) {
		const char *sp = memchr(s, ' ', (size_t)(e - s));
		const char *te = sp ? sp : e;
		t->p[t->count] = s;
		t->n[t->count++] = (size_t)(te - s);
		s = te + 1;
	}
}

/* Runs of lone unspaced characters become overlapping pairs. */
static void to_pairs(const struct buf *in, struct buf *out)
{
	struct toks t;
	split(in->data, in->len, &t);
	for (size_t i = 0; i < t.count; i++) {
		int here = lone_unspaced(t.p[i], t.n[i]) != 0;
		int next = i + 1 < t.count && lone_unspaced(t.p[i + 1], t.n[i + 1]) != 0;
		int prev = i > 0 && lone_unspaced(t.p[i - 1], t.n[i - 1]) != 0;
		if (here && !next && prev)
			continue;       /* the last character of a run is in the pair before */
		if (out->len > 0)
			buf_append_char(out, ' ');
		buf_append(out, t.p[i], t.n[i]);
		if (here && next)
			buf_append(out, t.p[i + 1], t.n[i + 1]);
	}
	free(t.p), free(t.n);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Sorted distinct hashes of the WIDTH-token shingles; returns how many. */
static size_t shingles(const struct buf *tokens, uint64_t **out, size_t *ntok)
{
	struct toks t;
	split(tokens->data, tokens->len, &t);
	*ntok = t.count;
	size_t n = t.count >= WIDTH ? t.count - WIDTH + 1 : 0;
	uint64_t *h = malloc((n + 1) * sizeof(*h));
	for (size_t i = 0; i < n; i++) {
		const char *s = t.p[i];
		const char *e = t.p[i + WIDTH - 1] + t.n[i + WIDTH - 1];
		h[i] = fp_hash64(s, (size_t)(e - s), 0x5eed);
	}
	qsort(h, n, sizeof(*h), cmp_u64);
	size_t u = 0;
	for (size_t i = 0; i < n; i++)
		if (u == 0 || h[u - 1] != h[i])
			h[u++] = h[i];
	free(t.p), free(t.n);
	*out = h;
	return u;
}

static void measure(const char *fa, const char *fb, int pairs)
{
	const char *files[2] = { fa, fb };
	struct fp_params p = fp_params_default();
	struct fp_sig sig[2];
	int have[2];
	uint64_t *sh[2];
	size_t nsh[2], ntok[2];
	for (int k = 0; k < 2; k++) {
		size_t len;
		char *text = slurp(files[k], &len);
		struct buf b = BUF_INIT, pb = BUF_INIT;
		fp_normalize(text, len, 0, &p.lim, &b, NULL);
		if (pairs) {
			to_pairs(&b, &pb);
			buf_free(&b);
			b = pb;
		}
		nsh[k] = shingles(&b, &sh[k], &ntok[k]);
		have[k] = fp_sig_from_tokens(b.data, b.len, WIDTH, p.text_min_shingles, &sig[k]) >=
		    p.text_min_shingles;
		buf_free(&b);
		free(text);
	}
	size_t both = 0;
	for (size_t i = 0, j = 0; i < nsh[0] && j < nsh[1];) {
		if (sh[0][i] == sh[1][j])
			both++, i++, j++;
		else if (sh[0][i] < sh[1][j])
			i++;
		else
			j++;
	}
	size_t any = nsh[0] + nsh[1] - both;
	printf("%-40s %-40s tokens %4zu %4zu shingles %4zu %4zu  jaccard %.3f  minhash ", fa, fb,
	    ntok[0], ntok[1], nsh[0], nsh[1], any ? (double)both / (double)any : 0.0);
	if (have[0] && have[1])
		printf("%.3f\n", fp_sig_similarity(&sig[0], &sig[1]));
	else
		printf("-\n");
	free(sh[0]), free(sh[1]);
}

int main(int argc, char **argv)
{
	int pairs = 0, i = 1;
	if (argc > 1 && strcmp(argv[1], "--pairs") == 0)
		pairs = 1, i++;
	if (argc - i < 2 || (argc - i) % 2 != 0) {
		fprintf(stderr, "usage: fp_similarity [--pairs] A B [C D ...]\n");
		return 2;
	}
	for (; i + 1 < argc; i += 2)
		measure(argv[i], argv[i + 1], pairs);
	return 0;
}
