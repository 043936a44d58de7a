/*
 * bench/reinforce_cv.c - k-fold cross-validation of reinforcement (docs/
 * bayes.md, "Reinforcement"): train everything, check each training message
 * against the store without itself, and count the ones on the wrong side of
 * a thick margin W more times - then score the held-out fold.
 *
 *   reinforce_cv LIST PASSES SPAM_BELOW HAM_ABOVE      (env: W=1 BATCH=0 ONLYK=-1)
 *
 * LIST has one message per line, "s|h FOLD PATH" with FOLD 0..K-1 (K = 5,
 * or -DRCV_K=6 to hold out a sixth fold, e.g. the test split, with
 * ONLYK=5).  Messages are parsed, scored by the rules and tokenized as
 * `mailward scan` does (content_parse, score_rules_run, score_binput_fill,
 * bayes_tokenize).  For each fold k, the model is the other folds' counts;
 * PASSES times over the other folds' messages (in a fixed order: FNV-1a of
 * the path), each is scored without itself (its weight out of its class's
 * counts and total), and queued when spam scores below SPAM_BELOW or ham
 * above HAM_ABOVE; a queued message gets W more counts - at once, or with
 * BATCH=1 after the whole pass (as `mailward train --reinforce` does).
 * The score is the engine's: RULES + 30 (g_all - 0.5) within -4..12 + 100
 * (g_35 - 0.5) within -8..8, g Robinson's geometric-mean indicator with
 * robs 0.3, robx 0.5, min_dev 0.2 (docs/scoring.md).  The 35 strongest
 * clues are picked by |f - 0.5| with ties in token order, which is not
 * bayes.c's tie order: figures can differ from bench/bayes_cv.c's in the
 * second decimal.
 *
 * Output, one line per message: PATH LABEL FOLD RULES G_ALL G_35 SCORE,
 * scored by the model of its own fold's complement after reinforcement;
 * stderr: how many were queued per fold and pass.
 * Build against a built tree (BUILD=build/release after `make`):
 *   cc -std=c17 -D_GNU_SOURCE -Isrc -O2 $(pkg-config --cflags gmime-3.0) \
 *      -o build/reinforce_cv bench/reinforce_cv.c build/release/libmailward.a \
 *      $(pkg-config --libs libevent libevent_openssl libevent_pthreads openssl \
 *      sqlite3 inih jansson gmime-3.0 libpsl) -lresolv -lm -pthread
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "bayes/bayes.h"
#include "content/content.h"
#include "score/score_int.h"

#ifndef RCV_K
#define RCV_K 5
#endif
#define TOP 35
#define ROBS 0.3
#define ROBX 0.5
#define MIN_DEV 0.2

struct ent {
	uint64_t h;                     /* 0 = empty slot (a zero hash is remapped to 1) */
	uint16_t s[RCV_K], hm[RCV_K];   /* counts per fold */
	uint32_t es[RCV_K], eh[RCV_K];  /* reinforcement counts of the model without fold k */
};

struct msg {
	char *path;
	int spam, fold;
	uint64_t *tok;
	size_t ntok;
	double rules;
	uint32_t order;                 /* FNV-1a of the path */
	uint32_t extra;                 /* times reinforced (in the current fold's model) */
	int queued;
};

struct model {
	struct ent *tab;
	size_t cap;
	int64_t ns[RCV_K], nh[RCV_K], ens[RCV_K], enh[RCV_K];
	int w;
	double *f, *dev;
	size_t fcap;
};

static struct ent *slot(struct model *md, uint64_t h)
{
	if (h == 0)
		h = 1;
	size_t i = (size_t)(h * 0x9e3779b97f4a7c15ULL) & (md->cap - 1);
	while (md->tab[i].h != 0 && md->tab[i].h != h)
		i = (i + 1) & (md->cap - 1);
	md->tab[i].h = h;
	return &md->tab[i];
}

static double gmean(const double *f, size_t n)
{
	double lh = 0, ls = 0;

	if (n == 0)
		return 0.5;
	for (size_t i = 0; i < n; i++) {
		lh += log(f[i]);
		ls += log(1.0 - f[i]);
	}
	double P = 1.0 - exp(ls / (double)n), Q = 1.0 - exp(lh / (double)n);
	return (1.0 + (P - Q) / (P + Q)) / 2.0;
}

static double clampd(double x, double lo, double hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

/* The score of m by the model without fold k; self: m is in that model and
 * is taken out (1 + W * its reinforcements). */
static double score(struct model *md, const struct msg *m, int k, int self, double *g_all,
    double *g_top)
{
	int64_t tns = md->ens[k], tnh = md->enh[k], out = self ? 1 + (int64_t)md->w * m->extra : 0;
	size_t nc = 0;

	for (int j = 0; j < RCV_K; j++)
		if (j != k) {
			tns += md->ns[j];
			tnh += md->nh[j];
		}
	if (m->spam)
		tns -= out;
	else
		tnh -= out;
	if (m->ntok > md->fcap) {
		md->fcap = m->ntok;
		md->f = xrealloc(md->f, md->fcap * sizeof(*md->f));
		md->dev = xrealloc(md->dev, md->fcap * sizeof(*md->dev));
	}
	for (size_t i = 0; i < m->ntok; i++) {
		struct ent *e = slot(md, m->tok[i]);
		int64_t s = e->es[k], h = e->eh[k];
		for (int j = 0; j < RCV_K; j++)
			if (j != k) {
				s += e->s[j];
				h += e->hm[j];
			}
		if (m->spam)
			s -= out;
		else
			h -= out;
		double n = (double)(s + h);
		if (n <= 0 || tns <= 0 || tnh <= 0)
			continue;
		double a = (double)s / (double)tns, b = (double)h / (double)tnh;
		double ff = (ROBS * ROBX + n * (a / (a + b))) / (ROBS + n);
		if (fabs(ff - 0.5) <= MIN_DEV)
			continue;
		md->f[nc++] = clampd(ff, 1e-6, 1.0 - 1e-6);
	}
	*g_all = gmean(md->f, nc);
	if (nc > TOP) {
		/* partial selection of the TOP farthest from 0.5, first found first */
		for (size_t i = 0; i < nc; i++)
			md->dev[i] = fabs(md->f[i] - 0.5);
		for (size_t a = 0; a < TOP; a++) {
			size_t best = a;
			for (size_t b = a + 1; b < nc; b++)
				if (md->dev[b] > md->dev[best])
					best = b;
			double t = md->f[a];
			md->f[a] = md->f[best];
			md->f[best] = t;
			t = md->dev[a];
			md->dev[a] = md->dev[best];
			md->dev[best] = t;
		}
		*g_top = gmean(md->f, TOP);
	} else {
		*g_top = *g_all;
	}
	return m->rules + clampd(30.0 * (*g_all - 0.5), -4, 12) + clampd(100.0 * (*g_top - 0.5), -8, 8);
}

static void add_extra(struct model *md, struct msg *m, int k)
{
	m->extra++;
	if (m->spam)
		md->ens[k] += md->w;
	else
		md->enh[k] += md->w;
	for (size_t i = 0; i < m->ntok; i++) {
		struct ent *e = slot(md, m->tok[i]);
		if (m->spam)
			e->es[k] += (uint32_t)md->w;
		else
			e->eh[k] += (uint32_t)md->w;
	}
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = xmalloc((size_t)n + 1);
	*len = fread(b, 1, (size_t)n, f);
	b[*len] = '\0';
	fclose(f);
	return b;
}

static int by_order(const void *a, const void *b)
{
	const struct msg *const *x = a, *const *y = b;
	return (*x)->order < (*y)->order ? -1 : (*x)->order > (*y)->order;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: reinforce_cv LIST PASSES SPAM_BELOW HAM_ABOVE\n");
		return 2;
	}
	int passes = atoi(argv[2]);
	double spam_below = atof(argv[3]), ham_above = atof(argv[4]);
	int batch = getenv("BATCH") != NULL && atoi(getenv("BATCH")) != 0;
	int onlyk = getenv("ONLYK") != NULL ? atoi(getenv("ONLYK")) : -1;
	struct model md = { 0 };
	md.w = getenv("W") != NULL ? atoi(getenv("W")) : 1;
	md.cap = 1u << 23;
	md.tab = xcalloc(md.cap, sizeof(*md.tab));

	FILE *lf = fopen(argv[1], "r");
	if (lf == NULL)
		return 2;
	struct msg *ms = NULL;
	size_t nm = 0, cm = 0;
	char line[4096];
	while (fgets(line, sizeof(line), lf) != NULL) {
		char lab, fold[8], path[4000];
		if (sscanf(line, "%c %7s %3999[^\n]", &lab, fold, path) != 3)
			continue;
		if (nm == cm) {
			cm = cm ? 2 * cm : 1024;
			ms = xrealloc(ms, cm * sizeof(*ms));
		}
		struct msg *m = &ms[nm++];
		memset(m, 0, sizeof(*m));
		m->path = xstrdup(path);
		m->spam = lab == 's';
		m->fold = atoi(fold);
		if (m->fold < 0 || m->fold >= RCV_K) {
			fprintf(stderr, "%s: fold %d out of 0..%d\n", path, m->fold, RCV_K - 1);
			return 2;
		}
		size_t len = 0;
		char *raw = read_all(path, &len);
		if (raw == NULL) {
			fprintf(stderr, "cannot read %s\n", path);
			return 1;
		}
		struct content_limits lim = content_limits_default();
		struct content_msg *c = content_parse(raw, len, &lim);
		struct score_hits hits = { 0 };
		score_rules_run(c, raw, len, &hits);
		for (size_t i = 0; i < hits.n; i++)
			m->rules += hits.v[i].score;
		score_hits_free(&hits);
		struct score_binput bi;
		score_binput_fill(&bi, c);
		struct bayes_tokens t = { 0 };
		bayes_tokenize(&bi.in, &t, NULL, NULL);
		score_binput_free(&bi);
		content_free(c);
		free(raw);
		m->tok = t.h;
		m->ntok = t.n;
		m->order = 2166136261u;
		for (const char *q = path; *q; q++)
			m->order = (m->order ^ (unsigned char)*q) * 16777619u;
		if (m->spam)
			md.ns[m->fold]++;
		else
			md.nh[m->fold]++;
		for (size_t i = 0; i < m->ntok; i++) {
			struct ent *e = slot(&md, m->tok[i]);
			if (m->spam)
				e->s[m->fold]++;
			else
				e->hm[m->fold]++;
		}
	}
	fclose(lf);

	struct msg **ord = xmalloc((nm ? nm : 1) * sizeof(*ord));
	for (size_t i = 0; i < nm; i++)
		ord[i] = &ms[i];
	qsort(ord, nm, sizeof(*ord), by_order);
	for (int k = 0; k < RCV_K; k++) {
		if (onlyk >= 0 && k != onlyk)
			continue;
		for (size_t i = 0; i < nm; i++)
			ms[i].extra = 0;
		for (int p = 0; p < passes; p++) {
			size_t queued = 0;
			for (size_t i = 0; i < nm; i++) {
				struct msg *m = ord[i];
				double ga, gt;
				if (m->fold == k)
					continue;
				double sc = score(&md, m, k, 1, &ga, &gt);
				if (m->spam ? sc < spam_below : sc > ham_above) {
					queued++;
					if (batch)
						m->queued = 1;
					else
						add_extra(&md, m, k);
				}
			}
			for (size_t i = 0; batch && i < nm; i++)
				if (ms[i].queued) {
					ms[i].queued = 0;
					add_extra(&md, &ms[i], k);
				}
			fprintf(stderr, "fold %d pass %d queued %zu\n", k, p, queued);
		}
	}
	for (size_t i = 0; i < nm; i++) {
		const struct msg *m = &ms[i];
		double ga, gt, sc = score(&md, m, m->fold, 0, &ga, &gt);
		printf("%s\t%c\t%d\t%.4f\t%.6f\t%.6f\t%.4f\n", m->path, m->spam ? 's' : 'h', m->fold,
		    m->rules, ga, gt, sc);
	}
	return 0;
}
