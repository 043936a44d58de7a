/*
 * score.c - the scan engine: parse, rules, Bayes, sum, class (R8).
 *
 * The engine holds no per-message state: score_message() parses into its
 * own content_msg, collects symbols into a growable array that becomes the
 * verdict's, and frees everything else before returning.  Weights are in
 * score_symbols.c, the rules in score_rules.c and score_ratware.c;
 * docs/scoring.md explains them.
 */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "content/content.h"
#include "score/score_int.h"

struct score_engine {
	struct bayes *bayes;   /* NULL without a store: rules only */
	struct score_thresholds th;
	int clue_names;        /* BAYES_TOP_CLUES names its leading clues */
};

struct score_thresholds score_thresholds_default(void)
{
	/* tag 8, probable_spam 10: first chosen by two-fold cross-validation
	 * on the training split of the SpamAssassin corpus, kept through the
	 * later tuning rounds (docs/scoring.md, docs/bayes.md).  With the
	 * Bayes mapping below, Bayes alone reaches probable_spam when the 35
	 * strongest clues give g >= 0.58 (+8) and every clue g >= 0.567 (+2);
	 * out of fold, at most 1 of 3,083 training ham reached it. */
	struct score_thresholds t = { .tag = 8.0, .probable_spam = 10.0 };
	return t;
}

/* How many of the strongest clues BAYES_TOP_CLUES combines, and the
 * slopes of the Bayes mapping in points per unit of g - 0.5 (below,
 * before bayes_top_symbol). */
#define TOP_CLUES 35
#define ALL_CLUES_SLOPE 30.0
#define TOP_CLUES_SLOPE 100.0

/* The combiner's settings, chosen by 5-fold cross-validation on the
 * training split (docs/bayes.md, "Tuning"): every token whose f is more
 * than 0.2 from 0.5 is combined (no clue cap), with a prior of strength
 * 0.3 - between bogofilter's 0.0178 (one sighting is near-certain) and
 * SpamBayes' 0.45; the 35 strongest also make BAYES_TOP_CLUES ("Tuning,
 * third round"). */
static void score_bayes_params(struct bayes_params *p)
{
	bayes_params_defaults(p);
	p->robs = 0.3;
	p->robx = 0.5;
	p->min_dev = 0.2;
	p->max_clues = SIZE_MAX;
	p->top_clues = TOP_CLUES;
	/* The symbols read the geometric means only; Fisher's chi-square (two
	 * series of up to a few thousand exp each) was a tenth of a scan. */
	p->fisher = 0;
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

void score_engine_set_clue_names(struct score_engine *e, int on)
{
	e->clue_names = on != 0;
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

/* The Bayes mapping (docs/scoring.md, "Bayes mapping"), chosen by 5-fold
 * cross-validation on the training split over three fold assignments
 * (docs/bayes.md, "Tuning, third round").  Both opinions are Robinson's
 * geometric-mean indicator g of the same classification, which is linear
 * in evidence and never saturates.  Fisher's chi-square p over every clue
 * (the mapping before) went to 0.9999 and beyond for newsletters whose
 * hundreds of weak spam-leaning clues outvoted a balanced top, and to
 * exactly 0.5 for spam with strong evidence both ways.
 *
 * BAYES_SPAM / BAYES_HAM: g over every clue, 3 points per 0.1 from 0.5,
 * the full +12 from g = 0.9, the full -4 from g = 0.367.
 * BAYES_TOP_CLUES: g over the TOP_CLUES strongest clues, 10 points per 0.1
 * from 0.5, +-8 from 0.58 / 0.42 (TOP_CLUES, the slopes: above). */
static double clamp1(double x)
{
	return x > 1.0 ? 1.0 : x < -1.0 ? -1.0 : x;
}

/* BAYES_TOP_CLUES names this many of the clues it rests on, each cut to
 * TOP_NAME_BYTES (a mailer's name can be 128 bytes): the reason line is
 * 256 bytes. */
#define TOP_NAMED 3
#define TOP_NAME_BYTES 40

static size_t clues_named(const struct bayes_input *in, const struct bayes_result *r, int side,
    size_t max_each, struct score_clue *c);

/* The second opinion: the TOP_CLUES most significant clues alone
 * (bayes.c's gmean_top).  A message with strong evidence both ways has a
 * lean that the many weak clues can hide. */
static void bayes_top_symbol(const struct bayes_input *in, const struct bayes_result *r,
    int name_clues, struct score_hits *h)
{
	const double w = score_sym_table[SYM_BAYES_TOP_CLUES].weight;
	size_t n = r->n_clues < TOP_CLUES ? r->n_clues : TOP_CLUES;
	struct score_clue c[2 * TOP_NAMED];
	char names[3 * TOP_NAMED * (TOP_NAME_BYTES + 4)] = "";
	size_t k = 0, used = 0;

	if (n == 0)
		return;
	/* When the top leans spam, name the clues it rests on most: the words
	 * a support engineer is asked about ("why was this rejected?").  Only
	 * when asked (score_engine_set_clue_names) and only then: naming runs
	 * the tokenizer a second time, about 0.1 ms a message here - 5 % of a
	 * message's cost on the mail path, a quarter of `mailward scan`'s. */
	memset(c, 0, sizeof(c));
	if (name_clues && r->gmean_top > 0.5)
		k = clues_named(in, r, 1, TOP_NAMED, c);
	for (size_t i = 0; i < k; i++) {
		/* cut at a character boundary: the reason stays UTF-8 */
		size_t len = strnlen(c[i].name, TOP_NAME_BYTES + 1);
		if (len > TOP_NAME_BYTES)
			for (len = TOP_NAME_BYTES; len > 0 && ((unsigned char)c[i].name[len] & 0xC0) == 0x80;)
				len--;
		int wrote = snprintf(names + used, sizeof(names) - used, " '%.*s'", (int)len,
		    c[i].name);
		if (wrote > 0 && (size_t)wrote < sizeof(names) - used)
			used += (size_t)wrote;
		free(c[i].name);
	}
	score_hit(h, SYM_BAYES_TOP_CLUES, clamp1(TOP_CLUES_SLOPE * (r->gmean_top - 0.5) / w),
	    "the %zu strongest of %zu Bayes clues give g = %.4f%s%s", n, r->n_clues, r->gmean_top,
	    k ? ", led by" : "", names);
}

/* Map the all-clue indicator g to a Bayes symbol: above 0.5 BAYES_SPAM,
 * below BAYES_HAM, both linear in g - 0.5 up to their weights; exactly
 * 0.5 (no clue) BAYES_UNSURE. */
static void bayes_symbol(double g, int64_t nspam, int64_t nham, struct score_hits *h)
{
	const double d = ALL_CLUES_SLOPE * (g - 0.5);

	if (g > 0.5)
		score_hit(h, SYM_BAYES_SPAM, clamp1(d / score_sym_table[SYM_BAYES_SPAM].weight),
		    "Bayes spam probability %.4f (geometric mean of every clue; trained on %lld spam, %lld ham)",
		    g, (long long)nspam, (long long)nham);
	else if (g < 0.5)
		score_hit(h, SYM_BAYES_HAM, clamp1(d / score_sym_table[SYM_BAYES_HAM].weight),
		    "Bayes spam probability %.4f (geometric mean of every clue; trained on %lld spam, %lld ham)",
		    g, (long long)nspam, (long long)nham);
	else
		score_hit(h, SYM_BAYES_UNSURE, 1.0, "Bayes spam probability %.4f: no opinion", g);
}

/* ---- naming the clues ------------------------------------------------------ */

struct clue_names {
	struct score_clue *c;
	size_t n;
};

/* The clue of hash still without a name, or NULL. */
static struct score_clue *clue_unnamed(const struct clue_names *cn, uint64_t hash)
{
	for (size_t i = 0; i < cn->n; i++)
		if (cn->c[i].hash == hash && cn->c[i].name == NULL)
			return &cn->c[i];
	return NULL;
}

static int clue_wanted(void *arg, uint64_t hash)
{
	return clue_unnamed(arg, hash) != NULL;
}

/* The tokenizer reports the wanted features with their printable names;
 * the first name of each is kept. */
static void clue_name_trace(void *arg, uint64_t hash, const char *name, size_t len)
{
	struct score_clue *c = clue_unnamed(arg, hash);

	if (c != NULL)
		c->name = xstrndup(name, len);
}

/* Up to max_each of r's clues leaning to one side (spam: f > 0.5), in r's
 * order (most significant first), appended to c from *k. */
static void clues_pick(const struct bayes_result *r, int spam, size_t max_each,
    struct score_clue *c, size_t *k)
{
	size_t taken = 0;

	for (size_t i = 0; i < r->n_clues && taken < max_each; i++) {
		const struct bayes_clue *bc = &r->clues[i];
		if (spam ? bc->f <= 0.5 : bc->f >= 0.5)
			continue;
		c[(*k)++] = (struct score_clue){ .f = bc->f, .spam = bc->spam, .ham = bc->ham,
		    .hash = bc->hash };
		taken++;
	}
}

/* Up to max_each clues of r each way (spam first, or one side only: side
 * 1 spam, 0 ham, -1 both) with their names: the tokenizer runs once more
 * over in with a trace.  Returns how many were put in c (capacity
 * 2 * max_each); the names are owned by the caller. */
static size_t clues_named(const struct bayes_input *in, const struct bayes_result *r, int side,
    size_t max_each, struct score_clue *c)
{
	struct bayes_tokens tok = { 0 };
	size_t k = 0;

	if (side != 0)
		clues_pick(r, 1, max_each, c, &k);
	if (side != 1)
		clues_pick(r, 0, max_each, c, &k);
	if (k == 0)
		return 0;
	struct clue_names cn = { c, k };
	bayes_tokenize_some(in, &tok, clue_wanted, clue_name_trace, &cn);
	bayes_tokens_free(&tok);
	for (size_t i = 0; i < k; i++)
		if (c[i].name == NULL)   /* not traced: cannot happen, say what is known */
			c[i].name = xasprintf("#%016llx", (unsigned long long)c[i].hash);
	return k;
}

/* without > 0: classify as if the message, learned in class without_spam,
 * were not in the store (bayes_classify_without).  Returns -1 on a storage
 * error, after adding BAYES_UNAVAILABLE: the mail path goes on without
 * Bayes, a training run stops. */
static int run_bayes(struct score_engine *e, const struct content_msg *m, struct score_hits *h,
    double *prob, int without_spam, int64_t without)
{
	struct score_binput bi;
	struct bayes_result r;

	*prob = -1;
	if (e->bayes == NULL) {
		score_hit(h, SYM_BAYES_UNAVAILABLE, 1.0, "no Bayes store");
		return 0;
	}
	score_binput_fill(&bi, m);
	int rc = without > 0 ? bayes_classify_without(e->bayes, &bi.in, without_spam, without, &r) :
	    bayes_classify(e->bayes, &bi.in, &r);
	if (rc != 0) {
		/* A storage error must not refuse mail: scan on without Bayes. */
		score_binput_free(&bi);
		score_hit(h, SYM_BAYES_UNAVAILABLE, 1.0, "Bayes storage error");
		return -1;
	}
	if (r.state == BAYES_UNTRAINED)
		score_hit(h, SYM_BAYES_UNAVAILABLE, 1.0, "not enough training: %lld spam and %lld ham learned",
		    (long long)r.nspam, (long long)r.nham);
	else {
		*prob = r.gmean;
		bayes_symbol(r.gmean, r.nspam, r.nham, h);
		bayes_top_symbol(&bi.in, &r, e->clue_names, h);
	}
	bayes_result_free(&r);
	score_binput_free(&bi);
	return 0;
}

int score_message_clues(struct score_engine *e, const char *data, size_t len, size_t max_each,
    struct score_clue **out, size_t *n)
{
	struct content_limits lim = content_limits_default();
	struct score_binput bi;
	struct bayes_result r;

	*out = NULL;
	*n = 0;
	if (e->bayes == NULL || max_each == 0)
		return 0;
	struct content_msg *m = content_parse(data ? data : "", len, &lim);
	if (m == NULL)
		return -1;
	score_binput_fill(&bi, m);
	if (bayes_classify(e->bayes, &bi.in, &r) != 0) {
		score_binput_free(&bi);
		content_free(m);
		return -1;
	}
	if (r.state == BAYES_OK && r.n_clues > 0) {
		*out = xcalloc(2 * max_each, sizeof(**out));
		*n = clues_named(&bi.in, &r, -1, max_each, *out);
	}
	bayes_result_free(&r);
	score_binput_free(&bi);
	content_free(m);
	return 0;
}

void score_clues_free(struct score_clue *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(c[i].name);
	free(c);
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
	(void)run_bayes(e, m, &h, &out->bayes_prob, 0, 0);   /* an error is a symbol: mail flows */
	for (size_t i = 0; i < h.n; i++)
		out->score += h.v[i].score;
	out->symbols = h.v;   /* the verdict takes the array */
	out->n_symbols = h.n;
	return 0;
}

int score_message_without(struct score_engine *e, const struct content_msg *m, const char *data,
    size_t len, int is_spam, int64_t weight, struct score_verdict *out)
{
	struct score_hits h = { 0 };

	memset(out, 0, sizeof(*out));
	score_rules_run(m, data ? data : "", len, &h);
	if (run_bayes(e, m, &h, &out->bayes_prob, is_spam != 0, weight) < 0) {
		score_hits_free(&h);
		return -1;
	}
	for (size_t i = 0; i < h.n; i++)
		out->score += h.v[i].score;
	out->symbols = h.v;
	out->n_symbols = h.n;
	return 0;
}

void score_verdict_finish(struct score_verdict *v, const struct content_msg *m,
    const struct score_thresholds *th)
{
	/* LIMIT_URLS alone is not a cut: all text was read (score_rules.c).
	 * An ambiguous structure is as unsure a scan as a cut one (M7). */
	const int cut = (content_flags(m) & (CONTENT_F_LIMIT_DEPTH | CONTENT_F_LIMIT_PARTS |
	    CONTENT_F_LIMIT_HEADERS | CONTENT_F_LIMIT_DECODED | CONTENT_F_LIMIT_TEXT |
	    CONTENT_F_AMBIGUOUS_STRUCTURE)) != 0;
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
	/* content.h's contract: a message whose parse was cut, or whose
	 * structure clients may read otherwise, is never passed as clean,
	 * whatever Bayes says about the part that was read. */
	if (cut && v->cls < SCORE_PROBABLE_SPAM)
		v->cls = SCORE_PROBABLE_SPAM;
	/* An archive we cannot see into is tagged, not refused: senders of
	 * confidential documents use them too (plan M21: never clean). */
	if ((content_flags(m) & CONTENT_F_ARCHIVE_UNSCANNABLE) && v->cls < SCORE_POSSIBLE_SPAM)
		v->cls = SCORE_POSSIBLE_SPAM;
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
