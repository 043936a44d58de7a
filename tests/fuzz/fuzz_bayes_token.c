/*
 * fuzz_bayes_token.c - F-TOKEN: bayes_tokenize() on arbitrary bytes, used
 * as body text, Subject, one header value and one URL at once (each a heap
 * block of exactly its size plus the NUL, so ASan flags any read past it).
 * Invariants: it never crashes; the feature set is sorted, without
 * duplicates, and bounded; tokenizing twice gives the same set; every
 * name the trace reports hashes to a feature of the set; tracing only some
 * features (bayes_tokenize_some) gives the same set and traces exactly
 * those.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bayes/bayes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct trace {
	const struct bayes_tokens *set;   /* NULL while the set is built */
	size_t calls;
	int some;                         /* only odd hashes are wanted */
};

static int want_odd(void *arg, uint64_t hash)
{
	(void)arg;
	return (hash & 1) != 0;
}

static int has(const struct bayes_tokens *t, uint64_t h)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->h[mid] == h)
			return 1;
		if (t->h[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static void on_feature(void *arg, uint64_t hash, const char *name, size_t len)
{
	struct trace *tr = arg;
	tr->calls++;
	if (name == NULL || memchr(name, '\0', len) != NULL)
		abort();
	if (tr->set != NULL && !has(tr->set, hash))
		abort();
	if (tr->some && (hash & 1) == 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	const char *names[] = { "Subject", "X-Mailer" };
	const char *values[] = { s, s };
	const char *urls[] = { s };
	struct bayes_input in = {
		.subject = s, .from = s, .header_names = names, .header_values = values,
		.n_headers = 2, .text = s, .urls = urls, .n_urls = 1,
	};
	struct bayes_tokens a = { 0 }, b = { 0 };
	struct trace tr = { 0 };

	bayes_tokenize(&in, &a, NULL, NULL);
	for (size_t i = 1; i < a.n; i++) {
		if (a.h[i - 1] >= a.h[i])
			abort();
	}
	/* Five text streams of at most BAYES_MAX_WORDS words, each with its
	 * OSB pairs, plus a bounded number of shape features. */
	if (a.n > 6 * BAYES_MAX_WORDS * BAYES_OSB_WINDOW + 1000)
		abort();
	tr.set = &a;
	bayes_tokenize(&in, &b, on_feature, &tr);
	if (b.n != a.n || (a.n > 0 && memcmp(a.h, b.h, a.n * sizeof(*a.h)) != 0))
		abort();
	if (tr.calls < a.n)
		abort();
	size_t odd = 0;
	for (size_t i = 0; i < a.n; i++)
		odd += (a.h[i] & 1) != 0;
	struct trace some = { .set = &a, .some = 1 };
	bayes_tokenize_some(&in, &b, want_odd, on_feature, &some);
	if (b.n != a.n || (a.n > 0 && memcmp(a.h, b.h, a.n * sizeof(*a.h)) != 0))
		abort();
	if (some.calls < odd || some.calls > tr.calls)
		abort();
	bayes_tokens_free(&a);
	bayes_tokens_free(&b);
	free(s);
	return 0;
}
