/*
 * bench/bayes_cv.c - k-fold cross-validation of the classifier in memory,
 * for tuning the tokenizer, the combiner and the score mapping on the
 * *training* split only (docs/evaluation.md, "How the classifier was
 * tuned").
 *
 *   bayes_cv LIST K PARAMS...
 *
 * LIST has one message per line: "s|h FOLD PATH", FOLD 0..K-1 for a
 * training message, "T" for a test message (never learned).  Every message
 * is parsed and turned into features exactly as `mailward scan` does
 * (content_parse, score_rules_run, score_binput_fill, bayes_tokenize); the
 * counts are kept per fold in memory, so a message of fold k is classified
 * by what the other folds taught, and a test message by all training folds.
 * PARAMS are combiner settings "robs,robx,min_dev,max_clues[,MODE[,ESF]]":
 * MODE a = every feature (default), u = no OSB pairs, p = pairs only,
 * s = pairs combined apart and the two p averaged, g = Robinson's
 * geometric-mean indicator instead of Fisher; ESF scales the chi-square
 * statistic and degrees of freedom (bogofilter's effective size factor).
 * The scoring engine's two opinions are "0.3,0.5,0.2,100000000,g" and
 * "0.3,0.5,0.2,35,g": Robinson's geometric-mean indicator over every clue
 * (BAYES_SPAM / BAYES_HAM) and over the 35 strongest (BAYES_TOP_CLUES);
 * the score is RULES + 30 (g_all - 0.5) within -4..12 + 100 (g_35 - 0.5)
 * within -8..8 (docs/scoring.md).  The clues kept under max_clues are
 * chosen in bayes.c's order (|f - 0.5| descending, ties by hash).
 * CV_DUMP=SUBSTRING prints the feature names and counts of the messages
 * whose path contains it to stderr.  The
 * combination is the one of bayes.c (relative frequencies, Robinson's f,
 * min_dev, max_clues, bayes_combine()), written again here only because the
 * counts come from memory instead of the store.
 *
 * Output, one line per message: PATH LABEL FOLD RULES P1 P2 ... with RULES
 * "NAME=score,..." (or "-") and Pi the probability under the i-th PARAMS.
 * A bench tool, so it may include the score module's private header.
 * Build against a built tree (BUILD=build/release after `make`):
 *   cc -std=c17 -D_GNU_SOURCE -Isrc -O2 $(pkg-config --cflags gmime-3.0) \
 *      -o build/bayes_cv bench/bayes_cv.c build/release/libmailward.a \
 *      $(pkg-config --libs libevent libevent_openssl libevent_pthreads openssl \
 *      sqlite3 inih jansson gmime-3.0 libpsl) -lresolv -lm -pthread
 * Folds used for the documented tuning: K = 5, a training message's fold is
 * the second hex digit of its MD5 (in the file name) modulo 5; from the
 * second round on, the mean over three fold assignments (the second, third
 * and fourth hex digit): one LIST per assignment, lines "s|h FOLD PATH"
 * for every file of build/corpus/train/{spam,ham}.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "bayes/bayes.h"
#include "content/content.h"
#include "score/score_int.h"

#define MAXK 10

struct ent {
	uint64_t h;            /* 0 = empty slot (a zero hash is remapped to 1) */
	uint16_t s[MAXK], hm[MAXK];
	uint8_t cls;           /* enum fclass, from the feature's printable name */
};

/* Feature classes, for combining them apart: body/Subject words, OSB pairs,
 * everything else (headers, URLs, shapes). */
enum fclass { FC_WORD = 0, FC_PAIR = 1, FC_OTHER = 2 };

struct msg {
	char *path;
	int spam;
	int fold;              /* -1 = test */
	uint64_t *tok;
	size_t ntok;
	char *rules;
};

static struct ent *tab;
static size_t tab_cap;

static struct ent *slot(uint64_t h)
{
	if (h == 0)
		h = 1;
	size_t i = (size_t)(h * 0x9e3779b97f4a7c15ULL) & (tab_cap - 1);
	while (tab[i].h != 0 && tab[i].h != h)
		i = (i + 1) & (tab_cap - 1);
	return &tab[i];
}

/* log of chi2q (bayes.c's, without the final exp): no underflow. */
static double log_chi2q(double x2, unsigned v)
{
	double m = x2 / 2.0, lm, best = -INFINITY, sum = 0.0, t;
	unsigned k = v / 2;

	if (x2 <= 0.0 || k == 0)
		return 0.0;
	lm = log(m);
	t = -m;
	for (unsigned i = 0; i < k; i++) {
		if (i > 0)
			t += lm - log((double)i);
		if (t > best)
			best = t;
	}
	t = -m;
	for (unsigned i = 0; i < k; i++) {
		if (i > 0)
			t += lm - log((double)i);
		sum += exp(t - best);
	}
	double r = best + log(sum);
	return r > 0 ? 0 : r;
}

/* CV_DUMP=substring of a path: that message's feature names go to stderr
 * with their hash, for reading its clues (tuning aid). */
static int dumping;

static void trace_cls(void *arg, uint64_t h, const char *name, size_t len)
{
	(void)arg;
	if (dumping)
		fprintf(stderr, "N %016llx %.*s\n", (unsigned long long)h, (int)len, name);
	struct ent *e = slot(h);
	e->h = h ? h : 1;
	if (strstr(name, "osb:") != NULL)
		e->cls = FC_PAIR;
	else if (strncmp(name, "s:", 2) == 0 || memchr(name, ':', len) == NULL ||
	    strncmp(name, "num:", 4) == 0 || strncmp(name, "skip:", 5) == 0 ||
	    strncmp(name, "punct:", 6) == 0)
		e->cls = FC_WORD;
	else
		e->cls = FC_OTHER;
}

/* Fisher over clues f[0..n) with the chi-square statistic and degrees of
 * freedom scaled by esf (bogofilter's "effective size factor"; degrees
 * rounded to an even number so bayes_chi2q applies).  Returns p. */
static double fisher_esf(const double *f, size_t n, double esf)
{
	double lh = 0, ls = 0;

	if (n == 0)
		return 0.5;
	for (size_t i = 0; i < n; i++) {
		lh += log(f[i]);
		ls += log(1.0 - f[i]);
	}
	unsigned v = 2 * (unsigned)(esf * (double)n + 0.5);
	if (v < 2)
		v = 2;
	double H = 1.0 - bayes_chi2q(-2.0 * esf * lh, v), S = 1.0 - bayes_chi2q(-2.0 * esf * ls, v);
	return (1.0 + S - H) / 2.0;
}

/* A clue's distance from 0.5 and its index, for the stable selection. */
struct dvi {
	double dev;
	size_t i;
};

static int cmp_dvi(const void *a, const void *b)
{
	const struct dvi *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev > y->dev ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = xmalloc((size_t)n + 1);
	*len = fread(b, 1, (size_t)n, f);
	b[*len] = '\0';
	fclose(f);
	return b;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: bayes_cv LIST K robs,robx,min_dev,max_clues...\n");
		return 2;
	}
	int K = atoi(argv[2]);
	if (K < 2 || K > MAXK)
		return 2;
	FILE *lf = fopen(argv[1], "r");
	if (lf == NULL)
		return 2;
	size_t nm = 0, cm = 0;
	struct msg *ms = NULL;
	char line[4096];
	int64_t ns[MAXK] = { 0 }, nh[MAXK] = { 0 };

	tab_cap = 1u << 23;
	tab = xcalloc(tab_cap, sizeof(*tab));
	while (fgets(line, sizeof(line), lf) != NULL) {
		char lab, fold[8], path[4000];
		if (sscanf(line, "%c %7s %3999[^\n]", &lab, fold, path) != 3)
			continue;
		if (nm == cm) {
			cm = cm ? cm * 2 : 1024;
			ms = xrealloc(ms, cm * sizeof(*ms));
		}
		struct msg *m = &ms[nm++];
		memset(m, 0, sizeof(*m));
		m->path = xstrdup(path);
		m->spam = lab == 's';
		m->fold = fold[0] == 'T' ? -1 : atoi(fold);
		size_t len = 0;
		char *raw = read_file(path, &len);
		if (raw == NULL) {
			fprintf(stderr, "cannot read %s\n", path);
			return 1;
		}
		struct content_limits lim = content_limits_default();
		struct content_msg *cm_ = content_parse(raw, len, &lim);
		struct score_hits hits = { 0 };
		score_rules_run(cm_, raw, len, &hits);
		struct score_binput bi;
		score_binput_fill(&bi, cm_);
		struct bayes_tokens t = { 0 };
		dumping = getenv("CV_DUMP") != NULL && strstr(path, getenv("CV_DUMP")) != NULL;
		bayes_tokenize(&bi.in, &t, trace_cls, NULL);
		dumping = 0;
		score_binput_free(&bi);
		content_free(cm_);
		free(raw);
		m->tok = t.h;
		m->ntok = t.n;
		char rb[2048];
		size_t o = 0;
		rb[0] = '\0';
		for (size_t i = 0; i < hits.n && o < sizeof(rb) - 80; i++)
			o += (size_t)snprintf(rb + o, sizeof(rb) - o, "%s%s=%g", i ? "," : "",
			    hits.v[i].name, hits.v[i].score);
		m->rules = xstrdup(o ? rb : "-");
		score_hits_free(&hits);
		if (m->fold >= 0) {
			if (m->spam)
				ns[m->fold]++;
			else
				nh[m->fold]++;
			for (size_t i = 0; i < m->ntok; i++) {
				struct ent *e = slot(m->tok[i]);
				e->h = m->tok[i] ? m->tok[i] : 1;
				if (m->spam)
					e->s[m->fold]++;
				else
					e->hm[m->fold]++;
			}
		}
	}
	fclose(lf);

	int np = argc - 3;
	struct bayes_params *ps = xcalloc((size_t)np, sizeof(*ps));
	char *mode = xcalloc((size_t)np, 1);
	double *esf = xcalloc((size_t)np, sizeof(*esf));
	for (int i = 0; i < np; i++) {
		bayes_params_defaults(&ps[i]);
		mode[i] = 'a';
		esf[i] = 1.0;
		if (sscanf(argv[3 + i], "%lf,%lf,%lf,%zu,%c,%lf", &ps[i].robs, &ps[i].robx, &ps[i].min_dev,
		    &ps[i].max_clues, &mode[i], &esf[i]) < 4)
			return 2;
	}
	int64_t NS = 0, NH = 0;
	for (int k = 0; k < K; k++) {
		NS += ns[k];
		NH += nh[k];
	}
	size_t capf = 0;
	double *f = NULL;
	for (size_t mi = 0; mi < nm; mi++) {
		struct msg *m = &ms[mi];
		int64_t tns = NS - (m->fold >= 0 ? ns[m->fold] : 0);
		int64_t tnh = NH - (m->fold >= 0 ? nh[m->fold] : 0);
		if (m->ntok > capf) {
			capf = m->ntok;
			f = xrealloc(f, capf * sizeof(*f));
		}
		printf("%s\t%c\t%d\t%s", m->path, m->spam ? 's' : 'h', m->fold, m->rules);
		/* counts of this message's tokens without its own fold */
		int64_t *cs = xmalloc((m->ntok + 1) * sizeof(*cs)), *ch = xmalloc((m->ntok + 1) * sizeof(*ch));
		uint8_t *cl = xmalloc(m->ntok + 1);
		double *f2 = xmalloc((m->ntok + 1) * sizeof(*f2));
		for (size_t i = 0; i < m->ntok; i++) {
			struct ent *e = slot(m->tok[i]);
			int64_t s = 0, h = 0;
			if (e->h != 0)
				for (int k = 0; k < K; k++) {
					if (k == m->fold)
						continue;
					s += e->s[k];
					h += e->hm[k];
				}
			cs[i] = s;
			ch[i] = h;
			cl[i] = e->cls;
			if (getenv("CV_DUMP") != NULL && strstr(m->path, getenv("CV_DUMP")) != NULL)
				fprintf(stderr, "C %016llx %lld %lld %lld %lld\n", (unsigned long long)m->tok[i],
				    (long long)s, (long long)h, (long long)tns, (long long)tnh);
		}
		for (int pi = 0; pi < np; pi++) {
			const struct bayes_params *p = &ps[pi];
			size_t nc = 0, n2 = 0;
			for (size_t i = 0; i < m->ntok; i++) {
				double n = (double)(cs[i] + ch[i]);
				if (n == 0)
					continue;
				/* 'u': no pairs; 'p': pairs only; 's': pairs combined
				 * apart (f2), the two probabilities averaged */
				if (mode[pi] == 'u' && cl[i] == FC_PAIR)
					continue;
				if (mode[pi] == 'p' && cl[i] != FC_PAIR)
					continue;
				double a = (double)cs[i] / (double)tns, b = (double)ch[i] / (double)tnh;
				double pp = a / (a + b);
				double ff = (p->robs * p->robx + n * pp) / (p->robs + n);
				if (fabs(ff - 0.5) <= p->min_dev)
					continue;
				if (ff < 1e-6)
					ff = 1e-6;
				if (ff > 1.0 - 1e-6)
					ff = 1.0 - 1e-6;
				if (mode[pi] == 's' && cl[i] == FC_PAIR)
					f2[n2++] = ff;
				else
					f[nc++] = ff;
			}
			if (nc > p->max_clues) {
				/* keep the max_clues farthest from 0.5, in bayes.c's order:
				 * by |f - 0.5| descending, ties in token (hash) order */
				struct dvi *idx = xmalloc(nc * sizeof(*idx));
				for (size_t i = 0; i < nc; i++)
					idx[i] = (struct dvi){ fabs(f[i] - 0.5), i };
				qsort(idx, nc, sizeof(*idx), cmp_dvi);
				double *g = xmalloc(p->max_clues * sizeof(*g));
				for (size_t i = 0; i < p->max_clues; i++)
					g[i] = f[idx[i].i];
				memcpy(f, g, p->max_clues * sizeof(*g));
				free(g);
				free(idx);
				nc = p->max_clues;
			}
			struct bayes_result r;
			memset(&r, 0, sizeof(r));
			bayes_combine(f, nc, &r);
			if (esf[pi] != 1.0)
				r.prob = fisher_esf(f, nc, esf[pi]);
			if (mode[pi] == 's')
				r.prob = (r.prob + fisher_esf(f2, n2, esf[pi])) / 2.0;
			double ls = 0, lh = 0, llr = 0;
			for (size_t i = 0; i < nc; i++) {
				lh += log(f[i]);
				ls += log(1.0 - f[i]);
				llr += log(f[i] / (1.0 - f[i]));
			}
			if (mode[pi] == 'g' && nc > 0) {
				/* Robinson's geometric-mean indicator: never saturates */
				double P = 1.0 - exp(ls / (double)nc), Q = 1.0 - exp(lh / (double)nc);
				r.prob = (1.0 + (P - Q) / (P + Q)) / 2.0;
			}
			/* log10 Qh - log10 Qs: > 0 spam-like, unbounded */
			double L = nc ? (log_chi2q(-2.0 * lh, 2 * (unsigned)nc) -
			    log_chi2q(-2.0 * ls, 2 * (unsigned)nc)) / log(10.0) : 0.0;
			printf("\t%.17g\t%.6f\t%.6f", r.prob, L, llr);
		}
		free(cs);
		free(ch);
		free(cl);
		free(f2);
		printf("\n");
	}
	return 0;
}
