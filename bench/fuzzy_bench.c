/*
 * fuzzy_bench.c - the C side of bench/fuzzy (docs/fingerprint.md).
 *
 *   fuzzy_bench synth N QUERIES SEED   1M-entry index speed, synthetic sigs
 *   fuzzy_bench corpus DIR THRESHOLD   near-duplicate shares, SpamAssassin split
 *
 * Prints one JSON object on stdout.  Built against libmailward.a by
 * `make bench-fuzzy` (bench/fuzzy calls it).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/util.h"
#include "content/content.h"
#include "fingerprint/fingerprint.h"
#include "fingerprint/fingerprint_index.h"

static uint64_t rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* A MinHash-like near-duplicate of base: each minimum kept with probability
 * j (which is what MinHash does for two sets of Jaccard similarity j). */
static void variant(struct fp_sig *out, const struct fp_sig *base, double j, uint64_t *s)
{
	for (size_t k = 0; k < FP_K; k++)
		out->v[k] = (double)(rng(s) >> 11) / 9007199254740992.0 < j ? base->v[k] : (uint32_t)rng(s);
}

static int synth(size_t n, size_t queries, uint64_t seed)
{
	size_t nfam = n / 5 > 0 ? n / 5 : 1;
	struct fp_sig *fam = xmalloc(nfam * sizeof(*fam));
	struct fp_sig *sigs = xmalloc(n * sizeof(*sigs));
	for (size_t f = 0; f < nfam; f++)
		for (size_t k = 0; k < FP_K; k++)
			fam[f].v[k] = (uint32_t)rng(&seed);
	for (size_t i = 0; i < n; i++) {
		double j = 0.75 + 0.2 * (double)(rng(&seed) % 1000) / 1000.0;
		variant(&sigs[i], &fam[rng(&seed) % nfam], j, &seed);
	}
	struct fp_index *ix = fp_index_new(n);
	double t0 = now_s(), c0 = cpu_s();
	for (size_t i = 0; i < n; i++)
		if (fp_index_insert(ix, i + 1, &sigs[i]) != 0)
			return fprintf(stderr, "insert %zu failed\n", i), 1;
	double t_ins = now_s() - t0, c_ins = cpu_s() - c0;

	struct fp_sig *q = xmalloc(queries * sizeof(*q));
	for (size_t i = 0; i < queries; i++) {
		if (i % 2 == 0)
			variant(&q[i], &fam[rng(&seed) % nfam], 0.8, &seed);
		else
			for (size_t k = 0; k < FP_K; k++)
				q[i].v[k] = (uint32_t)rng(&seed);
	}
	double *lat = xmalloc(queries * sizeof(double));
	size_t hits_dup = 0, hits_rand = 0, results = 0;
	struct fp_match m[16];
	t0 = now_s(), c0 = cpu_s();
	for (size_t i = 0; i < queries; i++) {
		double a = now_s();
		size_t r = fp_index_lookup(ix, &q[i], FP_INDEX_THRESHOLD, m, 16);
		lat[i] = now_s() - a;
		results += r;
		if (r > 0)
			*(i % 2 == 0 ? &hits_dup : &hits_rand) += 1;
	}
	double t_look = now_s() - t0, c_look = cpu_s() - c0;
	qsort(lat, queries, sizeof(double), cmp_double);

	size_t nrem = n / 10;
	t0 = now_s();
	for (size_t i = 0; i < nrem; i++)
		fp_index_remove(ix, (i * 7919) % n + 1);
	double t_rem = now_s() - t0;

	printf("{\"mode\":\"synth\",\"entries\":%zu,\"families\":%zu,\"queries\":%zu,"
	       "\"insert_s\":%.3f,\"insert_cpu_s\":%.3f,\"inserts_per_s\":%.0f,"
	       "\"lookup_s\":%.3f,\"lookup_cpu_s\":%.3f,\"lookups_per_s\":%.0f,"
	       "\"lookup_p50_us\":%.2f,\"lookup_p99_us\":%.2f,\"lookup_max_us\":%.2f,"
	       "\"dup_queries_found\":%.4f,\"random_queries_found\":%.4f,\"results_per_lookup\":%.2f,"
	       "\"removes\":%zu,\"removes_per_s\":%.0f,\"index_bytes\":%zu}\n",
	       n, nfam, queries, t_ins, c_ins, (double)n / t_ins, t_look, c_look, (double)queries / t_look,
	       lat[queries / 2] * 1e6, lat[(size_t)((double)queries * 0.99)] * 1e6, lat[queries - 1] * 1e6,
	       (double)hits_dup / (double)((queries + 1) / 2), (double)hits_rand / (double)(queries / 2),
	       (double)results / (double)queries, nrem, (double)nrem / t_rem, fp_index_bytes(ix));
	fp_index_free(ix);
	free(fam), free(sigs), free(q), free(lat);
	return 0;
}

/* ---- corpus ---------------------------------------------------------------- */

struct msgfp {
	int spam;
	struct fp_message fp;
};

static size_t load_dir(const char *dir, int spam, struct msgfp **arr, size_t *n, size_t *cap,
		       double *fp_cpu, size_t *bytes)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	struct fp_params p = fp_params_default();
	size_t added = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".eml") != 0)
			continue;
		char *path = xasprintf("%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		free(path);
		if (f == NULL)
			continue;
		struct buf b = BUF_INIT;
		char chunk[65536];
		size_t r;
		while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
			buf_append(&b, chunk, r);
		fclose(f);
		struct content_msg *m = content_parse(b.data ? b.data : "", b.len, NULL);
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 1024;
			*arr = xrealloc(*arr, *cap * sizeof(**arr));
		}
		struct msgfp *mf = &(*arr)[(*n)++];
		mf->spam = spam;
		double c = cpu_s();
		fp_message_compute(m, &p, &mf->fp);
		*fp_cpu += cpu_s() - c;
		*bytes += b.len;
		content_free(m);
		buf_free(&b);
		added++;
	}
	closedir(d);
	return added;
}

static int corpus(const char *root, double thr)
{
	struct msgfp *train = NULL, *test = NULL;
	size_t ntrain = 0, ctrain = 0, ntest = 0, ctest = 0, bytes = 0;
	double fp_cpu = 0;
	char *d;
	d = xasprintf("%s/train/spam", root), load_dir(d, 1, &train, &ntrain, &ctrain, &fp_cpu, &bytes), free(d);
	d = xasprintf("%s/train/ham", root), load_dir(d, 0, &train, &ntrain, &ctrain, &fp_cpu, &bytes), free(d);
	d = xasprintf("%s/test/spam", root), load_dir(d, 1, &test, &ntest, &ctest, &fp_cpu, &bytes), free(d);
	d = xasprintf("%s/test/ham", root), load_dir(d, 0, &test, &ntest, &ctest, &fp_cpu, &bytes), free(d);
	if (ntrain == 0 || ntest == 0)
		return fprintf(stderr, "no messages under %s\n", root), 1;

	printf("{\"mode\":\"corpus\",\"threshold\":%.2f,\"train\":%zu,\"test\":%zu,"
	       "\"fingerprint_us_per_msg\":%.1f,\"kinds\":{",
	       thr, ntrain, ntest, fp_cpu / (double)(ntrain + ntest) * 1e6);
	for (int k = 0; k < FP_KIND_COUNT; k++) {
		struct fp_index *ix = fp_index_new(ntrain);
		size_t present_train = 0;
		for (size_t i = 0; i < ntrain; i++)
			if (train[i].fp.present & (1u << k)) {
				fp_index_insert(ix, i, &train[i].fp.sig[k]);
				present_train++;
			}
		/* [test class][0 any, 1 a spam neighbour, 2 a ham neighbour, 3 present] */
		size_t cnt[2][4] = { { 0 } }, tot[2] = { 0, 0 };
		struct fp_match m[64];
		for (size_t i = 0; i < ntest; i++) {
			int c = test[i].spam;
			tot[c]++;
			if (!(test[i].fp.present & (1u << k)))
				continue;
			cnt[c][3]++;
			size_t r = fp_index_lookup(ix, &test[i].fp.sig[k], thr, m, 64);
			if (r == 0)
				continue;
			cnt[c][0]++;
			int ns = 0, nh = 0;
			for (size_t j = 0; j < (r < 64 ? r : 64); j++)
				*(train[m[j].id].spam ? &ns : &nh) += 1;
			cnt[c][1] += ns > 0;
			cnt[c][2] += nh > 0;
		}
		printf("%s\"%s\":{\"train_present\":%zu", k ? "," : "", fp_kind_name((enum fp_kind)k), present_train);
		const char *cls[2] = { "ham", "spam" };
		for (int c = 1; c >= 0; c--)
			printf(",\"%s\":{\"n\":%zu,\"present\":%zu,\"near_dup\":%zu,\"near_dup_spam\":%zu,"
			       "\"near_dup_ham\":%zu}",
			       cls[c], tot[c], cnt[c][3], cnt[c][0], cnt[c][1], cnt[c][2]);
		printf("}");
		fp_index_free(ix);
	}
	printf("}}\n");
	free(train), free(test);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "synth") == 0)
		return synth(strtoull(argv[2], NULL, 10), strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10));
	if (argc == 4 && strcmp(argv[1], "corpus") == 0)
		return corpus(argv[2], atof(argv[3]));
	fprintf(stderr, "usage: fuzzy_bench synth N QUERIES SEED | corpus DIR THRESHOLD\n");
	return 2;
}
