/*
 * bayes.c - Robinson's per-token probability and Fisher's chi-square
 * combining over the token counts in the store (docs/bayes.md).
 *
 * The classifier holds reusable buffers (token set, counts, f values) so a
 * classification allocates only its result; it borrows the store handle
 * and, like it, belongs to one thread.
 */
#include "bayes/bayes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "bayes/bayes_snapshot.h"
#include "store/store.h"

/* Reused by the combining step: log i for i < n, and the log of each
 * chi-square term (bayes_chi2q). */
struct chi2_scratch {
	double *logi;
	double *t;
	size_t n;
};

static void chi2_scratch_free(struct chi2_scratch *sc)
{
	free(sc->logi);
	free(sc->t);
	memset(sc, 0, sizeof(*sc));
}

/* Most features of a message have small counts (most learned tokens were
 * seen once or twice): their f, log f and log (1 - f) are remembered per
 * training state, which spares four divisions a feature and two logarithms
 * a clue, a sixth of a scan's time.  The values are computed by the same
 * functions either way. */
#define FTAB 32

struct ftab_entry {
	double f;                     /* token_f(); NaN: not computed yet */
	double lf, l1f;               /* log f, log (1 - f) when f >= 0 */
};

struct bayes {
	struct store *store;          /* borrowed */
	struct bayes_cache *cache;    /* borrowed; NULL: counts from the store */
	struct bayes_params p;
	struct bayes_tokens tok;
	struct store_bayes_count *cnt;
	size_t cnt_cap;
	struct bayes_clue *cand;      /* candidates for clues */
	struct rank *rank, *rank_tmp; /* candidates by significance; merge buffer */
	struct chi2_scratch chi2;
	struct ftab_entry ftab[FTAB][FTAB];   /* by [spam][ham] count */
	int64_t ftab_nspam, ftab_nham;
	int ftab_valid;               /* 0 after bayes_set_params */
	size_t f_cap;
};

void bayes_params_defaults(struct bayes_params *p)
{
	p->robs = 1.0;
	p->robx = 0.5;
	p->min_dev = 0.1;
	p->max_clues = 150;
	p->top_clues = 35;
	p->min_spam = 200;
	p->min_ham = 200;
	p->fisher = 1;
}

int bayes_params_trained(const struct bayes_params *p, int64_t nspam, int64_t nham)
{
	return nspam >= p->min_spam && nham >= p->min_ham && nspam > 0 && nham > 0;
}

struct bayes *bayes_new(struct store *s)
{
	struct bayes *b = xcalloc(1, sizeof(*b));

	b->store = s;
	bayes_params_defaults(&b->p);
	return b;
}

void bayes_free(struct bayes *b)
{
	if (b == NULL)
		return;
	bayes_tokens_free(&b->tok);
	free(b->cnt);
	free(b->cand);
	free(b->rank);
	free(b->rank_tmp);
	chi2_scratch_free(&b->chi2);
	free(b);
}

void bayes_set_params(struct bayes *b, const struct bayes_params *p)
{
	b->p = *p;
	b->ftab_valid = 0;
}

void bayes_set_cache(struct bayes *b, struct bayes_cache *c)
{
	b->cache = c;
}

void bayes_result_free(struct bayes_result *r)
{
	free(r->clues);
	r->clues = NULL;
	r->n_clues = 0;
}

/* ---- math ----------------------------------------------------------------------- */

/*
 * XXX: the build links no libm (Makefile LIBS), and this is the only code
 * that needs a logarithm and an exponential, so it carries its own.  Both
 * are accurate to a few ulps over the ranges used here (log of (0, 1],
 * exp of [-1500, 0]); swap in <math.h>'s when -lm is linked.
 */
#define LN2 0.693147180559945309417232121458

static double mw_log(double x)
{
	uint64_t bits;
	double m, s, s2, sum, term;
	int e;

	if (!(x > 0.0))
		return x == 0.0 ? -INFINITY : NAN;
	if (x == INFINITY)
		return x;
	memcpy(&bits, &x, sizeof(bits));
	if ((bits >> 52) == 0) {          /* subnormal: scale into the normal range */
		x *= 18014398509481984.0;      /* 2^54 */
		memcpy(&bits, &x, sizeof(bits));
		e = (int)(bits >> 52) - 1023 - 54;
	} else {
		e = (int)(bits >> 52) - 1023;
	}
	bits = (bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;   /* m in [1, 2) */
	memcpy(&m, &bits, sizeof(m));
	if (m > 1.41421356237309504880) {  /* m in [sqrt(1/2), sqrt(2)): |s| <= 0.1716 */
		m /= 2.0;
		e++;
	}
	/* log m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 ...), s = (m - 1) / (m + 1);
	 * s^2 <= 0.0295, so 12 terms are below double precision. */
	s = (m - 1.0) / (m + 1.0);
	s2 = s * s;
	sum = 0.0;
	term = s;
	for (int k = 1; k <= 23; k += 2) {
		sum += term / k;
		term *= s2;
	}
	return e * LN2 + 2.0 * sum;
}

/* 2^k for integer k, as a double (0 below the subnormal range). */
static double pow2i(int k)
{
	double r = 1.0, f;
	uint64_t bits;

	while (k < -1000) {
		r *= 9.332636185032189e-302;   /* 2^-1000 */
		k += 1000;
	}
	bits = (uint64_t)(k + 1023) << 52;
	memcpy(&f, &bits, sizeof(f));
	return r * f;
}

static double mw_exp(double x)
{
	double k, r, sum = 1.0, term = 1.0;

	if (x != x)
		return x;
	if (x > 709.0)
		return INFINITY;
	if (x < -746.0)
		return 0.0;
	/* x = k ln2 + r with |r| <= ln2 / 2; Taylor to r^18 / 18! (< 1e-22). */
	k = x / LN2;
	k = k < 0 ? (double)(long)(k - 0.5) : (double)(long)(k + 0.5);
	r = x - k * LN2;
	for (int i = 1; i <= 18; i++) {
		term *= r / i;
		sum += term;
	}
	return sum * pow2i((int)k);
}

/*
 * Q(x2 | v) for even v: e^-m * sum_{i < v/2} m^i / i!, with m = x2 / 2.
 * Summed in log space (log-sum-exp): for the hundreds of degrees of freedom
 * a message gives, e^-m underflows to 0 long before the sum stops mattering
 * in the direct form's first term.
 *
 * The log of each term is kept for the second pass, and log i comes from a
 * table the classifier keeps: with every significant token a clue, a
 * message has hundreds of terms and these logs were a tenth of a scan.
 * The arithmetic and its order are unchanged, so are the results, bit for
 * bit.
 */
static double chi2q_with(double x2, unsigned v, struct chi2_scratch *sc)
{
	double m = x2 / 2.0, lm, best = -INFINITY, sum = 0.0;
	unsigned k = v / 2;

	if (x2 <= 0.0 || k == 0)
		return 1.0;
	if (k > sc->n) {
		sc->logi = xrealloc(sc->logi, k * sizeof(*sc->logi));
		sc->t = xrealloc(sc->t, k * sizeof(*sc->t));
		for (size_t i = sc->n > 0 ? sc->n : 1; i < k; i++)
			sc->logi[i] = mw_log((double)i);
		sc->n = k;
	}
	lm = mw_log(m);
	/* log of term i: -m + i log m - log i!, by recurrence.  The largest
	 * term is found first so the sum is of values <= 1 (log-sum-exp). */
	double t = -m;
	for (unsigned i = 0; i < k; i++) {
		if (i > 0)
			t += lm - sc->logi[i];
		sc->t[i] = t;
		if (t > best)
			best = t;
	}
	for (unsigned i = 0; i < k; i++)
		sum += mw_exp(sc->t[i] - best);
	double q = mw_exp(best + mw_log(sum));
	return q > 1.0 ? 1.0 : q;
}

double bayes_chi2q(double x2, unsigned v)
{
	struct chi2_scratch sc = { 0 };
	double q = chi2q_with(x2, v, &sc);

	chi2_scratch_free(&sc);
	return q;
}

/* Robinson's geometric-mean indicator from the same sums: P = 1 - the
 * geometric mean of (1 - f), Q = 1 - that of f, (1 + (P - Q) / (P + Q)) / 2.
 * A mean, not a significance test, so it does not run to 0 or 1 with the
 * number of clues: a message with strong evidence both ways stays near 0.5
 * but keeps its lean (docs/bayes.md, "Tuning, third round"). */
static double gmean_indicator(double lh, double ls, size_t n)
{
	if (n == 0)
		return 0.5;
	const double P = 1.0 - mw_exp(ls / (double)n), Q = 1.0 - mw_exp(lh / (double)n);
	if (!(P + Q > 0.0))
		return 0.5;
	return (1.0 + (P - Q) / (P + Q)) / 2.0;
}

/* Fisher's method from the sums of log f (lh) and log (1 - f) (ls) over n
 * clues. */
static void combine_sums(double lh, double ls, size_t n, struct bayes_result *r,
    struct chi2_scratch *sc)
{
	r->gmean = gmean_indicator(lh, ls, n);
	if (n == 0) {
		r->prob = 0.5;
		r->spamminess = r->hamminess = 0.0;
		return;
	}
	/* H near 1: the f values are too small to be chance, the message is
	 * ham-like; S likewise for spam.  Robinson's indicator (1 + S - H) / 2
	 * is 0.5 both when nothing is significant and when the evidence
	 * conflicts, which is what an "unsure" needs to be. */
	r->hamminess = 1.0 - chi2q_with(-2.0 * lh, 2 * (unsigned)n, sc);
	r->spamminess = 1.0 - chi2q_with(-2.0 * ls, 2 * (unsigned)n, sc);
	r->prob = (1.0 + r->spamminess - r->hamminess) / 2.0;
}

void bayes_combine(const double *f, size_t n, struct bayes_result *r)
{
	struct chi2_scratch sc = { 0 };
	double lh = 0.0, ls = 0.0;

	for (size_t i = 0; i < n; i++) {
		lh += mw_log(f[i]);          /* small when tokens lean ham */
		ls += mw_log(1.0 - f[i]);    /* small when tokens lean spam */
	}
	combine_sums(lh, ls, n, r, &sc);
	chi2_scratch_free(&sc);
}

/* ---- choosing the clues ------------------------------------------------------------ */

/*
 * Candidates by significance, most significant first; equal significance
 * goes by hash so the choice is stable.  A bottom-up merge sort over a
 * small key array (with the classifier's own buffer): with every
 * significant token a clue (the scoring engine's setting), all of them are
 * ordered, and qsort, which allocates its buffer and calls back for each
 * comparison, was a tenth of a scan's time.  The order decides which clues
 * survive max_clues and in which order bayes_combine adds their logs.
 *
 * The candidates come in ascending hash order (the token set is sorted) and
 * the sort is stable, so equal significance keeps hash order without
 * comparing hashes; most comparisons are ties (tokens with the same counts
 * have the same f), and the merge takes its branch-free path.
 */
struct rank {
	double dev;                   /* |f - 0.5| */
	size_t i;                     /* index into cand */
};

/* Sorts r[0 .. n) by dev, descending, stably; returns r or tmp, whichever
 * holds the result. */
static struct rank *rank_sort(struct rank *r, struct rank *tmp, size_t n)
{
	/* runs of 8 by insertion, then merges of doubling width */
	for (size_t lo = 0; lo < n; lo += 8) {
		size_t hi = lo + 8 < n ? lo + 8 : n;
		for (size_t i = lo + 1; i < hi; i++) {
			struct rank x = r[i];
			size_t j = i;
			for (; j > lo && x.dev > r[j - 1].dev; j--)
				r[j] = r[j - 1];
			r[j] = x;
		}
	}
	for (size_t w = 8; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t i = lo, j = mid, o = lo;
			while (i < mid && j < hi) {
				/* the right run only wins when strictly better */
				size_t right = r[j].dev > r[i].dev;
				tmp[o++] = r[right ? j : i];
				j += right;
				i += 1 - right;
			}
			while (i < mid)
				tmp[o++] = r[i++];
			while (j < hi)
				tmp[o++] = r[j++];
		}
		struct rank *x = r;
		r = tmp;
		tmp = x;
	}
	return r;
}

static void reserve(struct bayes *b, size_t n)
{
	if (n <= b->cnt_cap)
		return;
	b->cnt_cap = n;
	b->cnt = xrealloc(b->cnt, n * sizeof(*b->cnt));
	b->cand = xrealloc(b->cand, n * sizeof(*b->cand));
	b->rank = xrealloc(b->rank, n * sizeof(*b->rank));
	b->rank_tmp = xrealloc(b->rank_tmp, n * sizeof(*b->rank_tmp));
}

/* ---- classify / learn ---------------------------------------------------------------- */

/* Robinson's f(w) of a token with these counts, or -1 when it is not
 * evidence (unknown, or |f - 0.5| <= min_dev). */
static double token_f(const struct bayes_params *bp, int64_t spam, int64_t ham, int64_t nspam,
    int64_t nham)
{
	double n = (double)(spam + ham), ps, ph, p, f;

	if (n == 0)
		return -1.0;
	/* Frequencies relative to each class's size, so an unbalanced
	 * training set does not shift every token toward the bigger class;
	 * counts above the class size (a relearn race) clamp. */
	ps = spam < nspam ? (double)spam / (double)nspam : 1.0;
	ph = ham < nham ? (double)ham / (double)nham : 1.0;
	p = ps / (ps + ph);
	f = (bp->robs * bp->robx + n * p) / (bp->robs + n);
	if (fabs(f - 0.5) <= bp->min_dev)
		return -1.0;
	/* With robs = 0 a token seen in one class only is exactly 0 or 1,
	 * and one such token would decide alone; keep f inside. */
	if (f < 1e-6)
		f = 1e-6;
	if (f > 1.0 - 1e-6)
		f = 1.0 - 1e-6;
	return f;
}

/* Forget the remembered f values: the totals or the parameters changed.
 * NaN marks "not computed yet". */
static void ftab_reset(struct bayes *b, int64_t nspam, int64_t nham)
{
	for (size_t i = 0; i < FTAB; i++)
		for (size_t k = 0; k < FTAB; k++)
			b->ftab[i][k].f = NAN;
	b->ftab_nspam = nspam;
	b->ftab_nham = nham;
	b->ftab_valid = 1;
}

/* The training totals: from the snapshot when there is one (its counts go
 * with them), else from the store. */
static int totals_get(struct bayes *b, struct bayes_snapshot *snap, int64_t *nspam, int64_t *nham)
{
	if (snap != NULL) {
		bayes_snapshot_totals(snap, nspam, nham);
		return 0;
	}
	return store_bayes_totals(b->store, nspam, nham);
}

/* Classify with ex_spam / ex_ham taken off the totals and off the counts of
 * every token of in: the verdict of the store without one learned message
 * (bayes_classify_without); 0 and 0 for the plain verdict. */
static int classify_ex(struct bayes *b, const struct bayes_input *in, int64_t ex_spam,
    int64_t ex_ham, struct bayes_result *out)
{
	struct bayes_snapshot *snap = NULL;
	int64_t nspam, nham;
	size_t nc = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	out->prob = out->gmean = out->gmean_top = 0.5;
	/* No snapshot (being loaded by another thread, or not loadable): the
	 * store gives the same counts, only slower. */
	if (b->cache != NULL && bayes_cache_acquire(b->cache, b->store, &snap) != 0)
		snap = NULL;
	if (totals_get(b, snap, &nspam, &nham) < 0)
		goto out;
	nspam = nspam > ex_spam ? nspam - ex_spam : 0;
	nham = nham > ex_ham ? nham - ex_ham : 0;
	out->nspam = nspam;
	out->nham = nham;
	bayes_tokenize(in, &b->tok, NULL, NULL);
	out->n_tokens = b->tok.n;
	rc = 0;
	if (!bayes_params_trained(&b->p, nspam, nham)) {
		out->state = BAYES_UNTRAINED;
		goto out;
	}
	reserve(b, b->tok.n);
	if (snap != NULL)
		bayes_snapshot_get(snap, b->tok.h, b->tok.n, b->cnt);
	else if (store_bayes_get(b->store, b->tok.h, b->tok.n, b->cnt) < 0) {
		rc = -1;
		goto out;
	}
	if (nspam != b->ftab_nspam || nham != b->ftab_nham || !b->ftab_valid)
		ftab_reset(b, nspam, nham);
	for (size_t i = 0; i < b->tok.n; i++) {
		struct store_bayes_count *c = &b->cnt[i];
		double f;
		if (ex_spam > 0 || ex_ham > 0) {
			c->spam = c->spam > ex_spam ? c->spam - ex_spam : 0;
			c->ham = c->ham > ex_ham ? c->ham - ex_ham : 0;
		}
		if ((uint64_t)c->spam < FTAB && (uint64_t)c->ham < FTAB) {
			struct ftab_entry *e = &b->ftab[c->spam][c->ham];
			if (e->f != e->f) {
				e->f = token_f(&b->p, c->spam, c->ham, nspam, nham);
				if (e->f >= 0) {
					e->lf = mw_log(e->f);
					e->l1f = mw_log(1.0 - e->f);
				}
			}
			f = e->f;
		} else {
			f = token_f(&b->p, c->spam, c->ham, nspam, nham);
		}
		if (f < 0)
			continue;
		b->cand[nc++] = (struct bayes_clue){ b->tok.h[i], c->spam, c->ham, f };
	}
	for (size_t i = 0; i < nc; i++)
		b->rank[i] = (struct rank){ fabs(b->cand[i].f - 0.5), i };
	const struct rank *order = rank_sort(b->rank, b->rank_tmp, nc);
	if (nc > b->p.max_clues)
		nc = b->p.max_clues;
	/* Summed most significant first, as bayes_combine() does; the sums
	 * over the top_clues strongest are kept on the way for gmean_top. */
	double lh = 0.0, ls = 0.0, lh_top = 0.0, ls_top = 0.0;
	const size_t ntop = nc < b->p.top_clues ? nc : b->p.top_clues;
	for (size_t i = 0; i < nc; i++) {
		if (i == ntop) {
			lh_top = lh;
			ls_top = ls;
		}
		const struct bayes_clue *c = &b->cand[order[i].i];
		if ((uint64_t)c->spam < FTAB && (uint64_t)c->ham < FTAB) {
			lh += b->ftab[c->spam][c->ham].lf;
			ls += b->ftab[c->spam][c->ham].l1f;
		} else {
			lh += mw_log(c->f);
			ls += mw_log(1.0 - c->f);
		}
	}
	if (ntop == nc) {
		lh_top = lh;
		ls_top = ls;
	}
	if (b->p.fisher)
		combine_sums(lh, ls, nc, out, &b->chi2);
	else
		out->gmean = gmean_indicator(lh, ls, nc);
	out->gmean_top = gmean_indicator(lh_top, ls_top, ntop);
	out->state = BAYES_OK;
	if (nc > 0) {
		out->clues = xmalloc(nc * sizeof(*out->clues));
		for (size_t i = 0; i < nc; i++)
			out->clues[i] = b->cand[order[i].i];
		out->n_clues = nc;
	}
out:
	bayes_snapshot_unref(snap);
	return rc;
}

int bayes_classify(struct bayes *b, const struct bayes_input *in, struct bayes_result *out)
{
	return classify_ex(b, in, 0, 0, out);
}

int bayes_classify_without(struct bayes *b, const struct bayes_input *in, int is_spam,
    int64_t weight, struct bayes_result *out)
{
	if (weight < 0)
		weight = 0;
	return classify_ex(b, in, is_spam ? weight : 0, is_spam ? 0 : weight, out);
}

int bayes_learned(struct bayes *b, const char *digest, int *is_spam, int64_t *weight)
{
	return store_bayes_msg_get(b->store, digest, is_spam, weight);
}

int bayes_reinforce_many(struct bayes *b, const struct bayes_tokens *tok, const char *const *digests,
    const int *is_spam, size_t n, int64_t weight, int *results)
{
	struct store_bayes_msg *m = xcalloc(n ? n : 1, sizeof(*m));
	int rc;

	for (size_t i = 0; i < n; i++)
		m[i] = (struct store_bayes_msg){ digests[i], is_spam[i], tok[i].h, tok[i].n };
	rc = store_bayes_reinforce_many(b->store, m, n, weight, results);
	free(m);
	return rc;
}

int bayes_learn(struct bayes *b, const struct bayes_input *in, const char *digest, int is_spam)
{
	char own[17];

	bayes_tokenize(in, &b->tok, NULL, NULL);
	if (digest == NULL) {
		bayes_tokens_digest(&b->tok, own);
		digest = own;
	}
	return store_bayes_learn(b->store, digest, is_spam, b->tok.h, b->tok.n);
}

int bayes_learn_many(struct bayes *b, const struct bayes_input *in, const char *const *digests,
    const int *is_spam, size_t n, int *results)
{
	struct bayes_tokens *tok = xcalloc(n ? n : 1, sizeof(*tok));
	struct store_bayes_msg *m = xcalloc(n ? n : 1, sizeof(*m));
	char (*own)[17] = xcalloc(n ? n : 1, sizeof(*own));
	int rc;

	for (size_t i = 0; i < n; i++) {
		bayes_tokenize(&in[i], &tok[i], NULL, NULL);
		m[i].digest = digests != NULL ? digests[i] : NULL;
		if (m[i].digest == NULL) {
			bayes_tokens_digest(&tok[i], own[i]);
			m[i].digest = own[i];
		}
		m[i].is_spam = is_spam[i];
		m[i].hashes = tok[i].h;
		m[i].n = tok[i].n;
	}
	rc = store_bayes_learn_many(b->store, m, n, results);
	for (size_t i = 0; i < n; i++)
		bayes_tokens_free(&tok[i]);
	free(tok);
	free(m);
	free(own);
	return rc;
}

int bayes_unlearn(struct bayes *b, const struct bayes_input *in, const char *digest)
{
	char own[17];

	bayes_tokenize(in, &b->tok, NULL, NULL);
	if (digest == NULL) {
		bayes_tokens_digest(&b->tok, own);
		digest = own;
	}
	return store_bayes_unlearn(b->store, digest, b->tok.h, b->tok.n);
}

int bayes_expire(struct store *s, int64_t max_tokens, int64_t *removed)
{
	return store_bayes_expire(s, max_tokens, max_tokens - max_tokens / 10, removed);
}
