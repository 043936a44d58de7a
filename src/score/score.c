/*
 * score.c - the scan engine: parse, rules, Bayes, sum, class (R8).
 *
 * The engine holds no per-message state: score_message() parses into its
 * own content_msg, collects symbols into a growable array that becomes the
 * verdict's, and frees everything else before returning.  Weights and the
 * rules are in score_rules.c; docs/scoring.md explains both.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "content/content.h"
#include "score/score_int.h"

struct score_engine {
	struct bayes *bayes;   /* NULL without a store: rules only */
	struct score_thresholds th;
};

struct score_thresholds score_thresholds_default(void)
{
	/* tag 8: tuned by two-fold cross-validation on the training split of
	 * the SpamAssassin corpus for the best recall at ham FP <= 0.1%
	 * (docs/scoring.md): Bayes at 1 - p <= 1e-6 (+8) alone, or a weaker
	 * Bayes opinion plus rules.  probable_spam 10: Bayes at its full weight
	 * (1 - p <= 1e-10), or Bayes and rules together; no ham reached it in
	 * cross-validation. */
	struct score_thresholds t = { .tag = 8.0, .probable_spam = 10.0 };
	return t;
}

/* The combiner's settings, chosen by 5-fold cross-validation on the
 * training split (docs/bayes.md, "Tuning"): every token whose f is more
 * than 0.2 from 0.5 is combined (no clue cap), with a prior of strength
 * 0.3 - between bogofilter's 0.0178 (one sighting is near-certain) and
 * SpamBayes' 0.45. */
static void score_bayes_params(struct bayes_params *p)
{
	bayes_params_defaults(p);
	p->robs = 0.3;
	p->robx = 0.5;
	p->min_dev = 0.2;
	p->max_clues = SIZE_MAX;
}

struct score_engine *score_engine_new(struct store *st, const struct score_thresholds *th)
{
	struct score_engine *e = xcalloc(1, sizeof(*e));

	e->th = th != NULL ? *th : score_thresholds_default();
	if (st != NULL) {
		struct bayes_params bp;
		e->bayes = bayes_new(st);
		score_bayes_params(&bp);
		bayes_set_params(e->bayes, &bp);
	}
	return e;
}

void score_engine_set_bayes_cache(struct score_engine *e, struct bayes_cache *c)
{
	if (e->bayes != NULL)
		bayes_set_cache(e->bayes, c);
}

void score_engine_free(struct score_engine *e)
{
	if (e == NULL)
		return;
	if (e->bayes != NULL)
		bayes_free(e->bayes);
	free(e);
}

const char *score_class_name(enum score_class c)
{
	switch (c) {
	case SCORE_CLEAN: return "clean";
	case SCORE_BULK: return "bulk";
	case SCORE_POSSIBLE_SPAM: return "possible-spam";
	case SCORE_PROBABLE_SPAM: return "probable-spam";
	}
	return "unknown";
}

/* -log10(q) for q in (0, 1], without libm (the build does not link -lm;
 * bayes.c has its own log for the same reason).  Decades and octaves are
 * taken off by multiplication, the rest by the atanh series, |z| <= 1/3:
 * far more precise than a weight needs. */
static double neg_log10(double q)
{
	double n = 0, r = q;

	if (!(q > 1e-300))
		return 300.0;
	while (r < 1.0) {
		r *= 10.0;
		n += 1.0;
	}
	int oct = 0;
	while (r >= 2.0) {
		r /= 2.0;
		oct++;
	}
	const double z = (r - 1.0) / (r + 1.0), z2 = z * z;
	double term = z, ln = 0;
	for (int k = 1; k < 40; k += 2) {
		ln += term / k;
		term *= z2;
	}
	ln = 2.0 * ln + oct * 0.69314718055994530942;
	return n - ln / 2.30258509299404568402;
}

/* How many of the strongest clues BAYES_TOP_CLUES combines, and its slope
 * per decade of odds (at most +-2 decades, i.e. +-8 points). */
#define TOP_CLUES 40
#define TOP_CLUES_DECADES 2.0

/* The second opinion from the same clues: Fisher's combination of the
 * TOP_CLUES strongest alone (bayes.c hands every clue over, strongest
 * first).  With every clue combined, S and H both reach 1 for a message
 * with strong evidence both ways and p sits at 0.5 - the all-clue p of
 * most spam that it misses; the strongest 40 still lean.  5-fold CV on
 * the training split (docs/bayes.md, "Tuning"): recall at 0.1% ham FP of
 * the score 92.2% -> 93.0%, at probable_spam 89.8% -> 91.2%, no more ham
 * there.  Ranked alone the 40-clue p is better still (94%), but the
 * all-clue p keeps the large margin the thresholds need. */
static void bayes_top_symbol(const struct bayes_result *r, struct score_hits *h)
{
	double f[TOP_CLUES];
	size_t n = r->n_clues < TOP_CLUES ? r->n_clues : TOP_CLUES;
	struct bayes_result t;

	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++)
		f[i] = r->clues[i].f;
	memset(&t, 0, sizeof(t));
	bayes_combine(f, n, &t);
	/* log10 of the odds, without libm: log10 p - log10 (1 - p). */
	double lo = neg_log10(1.0 - t.prob) - neg_log10(t.prob);
	if (lo > TOP_CLUES_DECADES)
		lo = TOP_CLUES_DECADES;
	if (lo < -TOP_CLUES_DECADES)
		lo = -TOP_CLUES_DECADES;
	score_hit(h, SYM_BAYES_TOP_CLUES, lo / TOP_CLUES_DECADES,
	    "the %zu strongest of %zu Bayes clues give p = %.4f", n, r->n_clues, t.prob);
}

/* Map a probability to a Bayes symbol.  The spam side is linear in the
 * log-odds L = -log10(1 - p): 2.5 (L + 1) points, i.e. 5 at p = 0.9, the
 * tag threshold 8 at 1 - p = 6e-3, probable_spam 10 at 1 - p = 1e-3 and the
 * full 12 from 1 - p = 1.6e-4 on.  A step (full weight from 0.99) made the
 * spam and the few spam-looking ham tie and let small rules decide; the
 * slope and offset were chosen by 5-fold cross-validation on the training
 * split for the best recall at tag with ham FP <= 0.1% (docs/scoring.md):
 * no ham of the training split reached 1 - p < 3e-3 out of fold. */
static void bayes_symbol(double p, int64_t nspam, int64_t nham, struct score_hits *h)
{
	if (p >= 0.9) {
		double x = 2.5 * (neg_log10(1.0 - p) + 1.0) / score_sym_table[SYM_BAYES_SPAM].weight;
		x = x < 1.0 ? x : 1.0;
		score_hit(h, SYM_BAYES_SPAM, x, "Bayes spam probability %.4f, 1-p = %.1e (trained on %lld spam, %lld ham)",
		    p, 1.0 - p, (long long)nspam, (long long)nham);
	} else if (p <= 0.1) {
		double x = p <= 0.01 ? 1.0 : 0.5 + 0.5 * (0.1 - p) / 0.09;
		score_hit(h, SYM_BAYES_HAM, x, "Bayes spam probability %.4f (trained on %lld spam, %lld ham)", p,
		    (long long)nspam, (long long)nham);
	} else {
		score_hit(h, SYM_BAYES_UNSURE, 1.0, "Bayes spam probability %.4f: no opinion", p);
	}
}

static void run_bayes(struct score_engine *e, const struct content_msg *m, struct score_hits *h,
    double *prob)
{
	struct score_binput bi;
	struct bayes_result r;

	*prob = -1;
	if (e->bayes == NULL) {
		score_hit(h, SYM_BAYES_UNAVAILABLE, 1.0, "no Bayes store");
		return;
	}
	score_binput_fill(&bi, m);
	int rc = bayes_classify(e->bayes, &bi.in, &r);
	score_binput_free(&bi);
	if (rc != 0) {
		/* A storage error must not refuse mail: scan on without Bayes. */
		score_hit(h, SYM_BAYES_UNAVAILABLE, 1.0, "Bayes storage error");
		return;
	}
	if (r.state == BAYES_UNTRAINED)
		score_hit(h, SYM_BAYES_UNAVAILABLE, 1.0, "not enough training: %lld spam and %lld ham learned",
		    (long long)r.nspam, (long long)r.nham);
	else {
		*prob = r.prob;
		bayes_symbol(r.prob, r.nspam, r.nham, h);
		bayes_top_symbol(&r, h);
	}
	bayes_result_free(&r);
}

static int cmp_symbol(const void *a, const void *b)
{
	const struct score_symbol *x = a, *y = b;
	double ax = fabs(x->score), ay = fabs(y->score);

	if (ax != ay)
		return ax > ay ? -1 : 1;
	return strcmp(x->name, y->name);   /* stable output for equal weights */
}

int score_message(struct score_engine *e, const char *data, size_t len, struct score_verdict *out)
{
	return score_message_th(e, data, len, &e->th, out);
}

int score_message_parsed(struct score_engine *e, const struct content_msg *m, const char *data,
    size_t len, struct score_verdict *out)
{
	struct score_hits h = { 0 };

	memset(out, 0, sizeof(*out));
	score_rules_run(m, data ? data : "", len, &h);
	run_bayes(e, m, &h, &out->bayes_prob);
	for (size_t i = 0; i < h.n; i++)
		out->score += h.v[i].score;
	out->symbols = h.v;   /* the verdict takes the array */
	out->n_symbols = h.n;
	return 0;
}

void score_verdict_finish(struct score_verdict *v, const struct content_msg *m,
    const struct score_thresholds *th)
{
	/* LIMIT_URLS alone is not a cut: all text was read (score_rules.c). */
	const int cut = (content_flags(m) & (CONTENT_F_LIMIT_DEPTH | CONTENT_F_LIMIT_PARTS |
	    CONTENT_F_LIMIT_HEADERS | CONTENT_F_LIMIT_DECODED | CONTENT_F_LIMIT_TEXT)) != 0;
	int bulk = 0;
	double sum = 0;
	for (size_t i = 0; i < v->n_symbols; i++) {
		sum += v->symbols[i].score;
		bulk |= strcmp(v->symbols[i].group, "bulk") == 0;
	}
	if (v->n_symbols > 1)
		qsort(v->symbols, v->n_symbols, sizeof(*v->symbols), cmp_symbol);
	v->score = sum;
	if (sum >= th->probable_spam)
		v->cls = SCORE_PROBABLE_SPAM;
	else if (sum >= th->tag)
		v->cls = SCORE_POSSIBLE_SPAM;
	else
		v->cls = bulk ? SCORE_BULK : SCORE_CLEAN;
	/* content.h's contract: a message whose parse was cut is never passed
	 * as clean, whatever Bayes says about the part that was read. */
	if (cut && v->cls < SCORE_PROBABLE_SPAM)
		v->cls = SCORE_PROBABLE_SPAM;
}

int score_message_th(struct score_engine *e, const char *data, size_t len,
    const struct score_thresholds *th, struct score_verdict *out)
{
	struct content_limits lim = content_limits_default();

	memset(out, 0, sizeof(*out));
	if (data == NULL)
		data = "";
	struct content_msg *m = content_parse(data, len, &lim);
	if (m == NULL)
		return -1;
	score_message_parsed(e, m, data, len, out);
	score_verdict_finish(out, m, th);
	content_free(m);
	return 0;
}

void score_verdict_free(struct score_verdict *v)
{
	if (v == NULL)
		return;
	free(v->symbols);
	memset(v, 0, sizeof(*v));
}
