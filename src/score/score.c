/*
 * score.c - the scan engine: parse, rules, Bayes, sum, class (R8).
 *
 * The engine holds no per-message state: score_message() parses into its
 * own content_msg, collects symbols into a growable array that becomes the
 * verdict's, and frees everything else before returning.  Weights and the
 * rules are in score_rules.c; docs/scoring.md explains both.
 */
#include <math.h>
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
	/* tag 5: a strong Bayes opinion (>= 0.99, +6) alone tags a message,
	 * rules alone need several independent signs.  probable_spam 10: Bayes
	 * and rules together, or GTUBE / a cut parse / an executable plus more. */
	struct score_thresholds t = { .tag = 5.0, .probable_spam = 10.0 };
	return t;
}

struct score_engine *score_engine_new(struct store *st, const struct score_thresholds *th)
{
	struct score_engine *e = xcalloc(1, sizeof(*e));

	e->th = th != NULL ? *th : score_thresholds_default();
	if (st != NULL)
		e->bayes = bayes_new(st);
	return e;
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

/* Map a probability to a Bayes symbol.  Scaling (rather than a step) keeps
 * the sum monotonic in the classifier's confidence, so the threshold sweep
 * of the evaluation sees a smooth score. */
static void bayes_symbol(double p, int64_t nspam, int64_t nham, struct score_hits *h)
{
	if (p >= 0.9) {
		double x = p >= 0.99 ? 1.0 : 0.5 + 0.5 * (p - 0.9) / 0.09;
		score_hit(h, SYM_BAYES_SPAM, x, "Bayes spam probability %.4f (trained on %lld spam, %lld ham)", p,
		    (long long)nspam, (long long)nham);
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
	struct content_limits lim = content_limits_default();
	struct score_hits h = { 0 };

	memset(out, 0, sizeof(*out));
	if (data == NULL)
		data = "";
	struct content_msg *m = content_parse(data, len, &lim);
	if (m == NULL)
		return -1;
	score_rules_run(m, data, len, &h);
	run_bayes(e, m, &h, &out->bayes_prob);
	const int cut = (content_flags(m) & (CONTENT_F_LIMIT_DEPTH | CONTENT_F_LIMIT_PARTS |
	    CONTENT_F_LIMIT_HEADERS | CONTENT_F_LIMIT_DECODED | CONTENT_F_LIMIT_TEXT | CONTENT_F_LIMIT_URLS)) != 0;
	content_free(m);

	int bulk = 0;
	double sum = 0;
	for (size_t i = 0; i < h.n; i++) {
		sum += h.v[i].score;
		bulk |= strcmp(h.v[i].group, "bulk") == 0;
	}
	qsort(h.v, h.n, sizeof(*h.v), cmp_symbol);
	out->score = sum;
	out->symbols = h.v;   /* the verdict takes the array */
	out->n_symbols = h.n;
	if (sum >= e->th.probable_spam)
		out->cls = SCORE_PROBABLE_SPAM;
	else if (sum >= e->th.tag)
		out->cls = SCORE_POSSIBLE_SPAM;
	else
		out->cls = bulk ? SCORE_BULK : SCORE_CLEAN;
	/* content.h's contract: a message whose parse was cut is never passed
	 * as clean, whatever Bayes says about the part that was read. */
	if (cut && out->cls < SCORE_PROBABLE_SPAM)
		out->cls = SCORE_PROBABLE_SPAM;
	return 0;
}

void score_verdict_free(struct score_verdict *v)
{
	if (v == NULL)
		return;
	free(v->symbols);
	memset(v, 0, sizeof(*v));
}
