/*
 * bayes.h - the statistical classifier: a tokenizer over the parsed parts
 * of a message and a Robinson/Fisher combiner over per-token counts kept
 * in the store (docs/bayes.md).
 *
 * Ownership: struct bayes_input only borrows its strings; the caller keeps
 * them alive for the duration of the call.  struct bayes borrows the store
 * handle given to bayes_new() and must be used by the thread that owns that
 * handle (one store handle per thread, store.h); there is no global state.
 * A struct bayes_result owns its clue array: bayes_result_free().
 *
 * Failures: -1 means a storage error (text in store_error() of the handle);
 * the mail path treats it as "no Bayes opinion", never as a verdict.
 */
#ifndef MW_BAYES_BAYES_H
#define MW_BAYES_BAYES_H

#include <stddef.h>
#include <stdint.h>

struct store;

/*
 * What the scoring engine hands over after MIME parsing.  Every field may be
 * NULL / zero.  subject and from are the decoded header values (UTF-8); if
 * NULL, a "Subject" / "From" entry of the header arrays is used instead.
 * header_names/header_values are parallel arrays of decoded, unfolded
 * headers in message order.  text is the body text in UTF-8 with HTML
 * already converted to text; urls are every URL found in the message (text
 * and HTML hrefs), as written.
 */
struct bayes_input {
	const char *subject;
	const char *from;
	const char *const *header_names;
	const char *const *header_values;
	size_t n_headers;
	const char *text;
	const char *const *urls;
	size_t n_urls;
};

/* ---- tokenizer ------------------------------------------------------------ */

/* Bounds that keep a hostile message cheap: body text beyond this many bytes
 * is not read, and word features stop after this many words per part. */
#define BAYES_MAX_TEXT_BYTES (256u * 1024u)
#define BAYES_MAX_WORDS 20000u
#define BAYES_MIN_WORD 2      /* bytes, after case folding */
#define BAYES_MAX_WORD 24     /* longer words become a "skip:" token */
#define BAYES_OSB_WINDOW 5    /* a word pairs with the 4 words before it */

/* The de-duplicated feature set of one message, sorted ascending. */
struct bayes_tokens {
	uint64_t *h;
	size_t n;
	size_t cap;
};

/* Called once per feature occurrence (before de-duplication) with its hash
 * and a printable name; used by tests and by "explain" to name hashes. */
typedef void (*bayes_trace_fn)(void *arg, uint64_t hash, const char *name, size_t len);

/* Fills out (which must be zeroed or previously used; it is reset first).
 * trace may be NULL.  Never fails: allocation failure aborts (util.h). */
void bayes_tokenize(const struct bayes_input *in, struct bayes_tokens *out,
    bayes_trace_fn trace, void *trace_arg);
/* The same, tracing only the features want() accepts (same arg): naming a
 * few clues then costs little more than tokenizing, because word-pair
 * names are only formatted for them. */
void bayes_tokenize_some(const struct bayes_input *in, struct bayes_tokens *out,
    int (*want)(void *arg, uint64_t hash), bayes_trace_fn trace, void *trace_arg);
void bayes_tokens_free(struct bayes_tokens *t);

/* The 64-bit feature hash of a byte string (FNV-1a with a final mix). */
uint64_t bayes_hash(const void *p, size_t n);

/* A digest of the token set, 16 lower-case hex digits + NUL: the identity of
 * "the same message" for learning when the caller has no better one. */
void bayes_tokens_digest(const struct bayes_tokens *t, char out[17]);

/* ---- combining ------------------------------------------------------------- */

/* Probability that a chi-square variable with v (even, >= 2) degrees of
 * freedom is >= x2; computed in log space so large x2 does not underflow
 * to a wrong answer.  Exposed for tests. */
double bayes_chi2q(double x2, unsigned v);

struct bayes_params {
	double robs;          /* Robinson's s: strength of the prior (1.0) */
	double robx;          /* Robinson's x: prior for a rare token (0.5) */
	double min_dev;       /* use a token only if |f - 0.5| > min_dev (0.1) */
	size_t max_clues;     /* at most this many tokens are combined (150) */
	size_t top_clues;     /* gmean_top combines this many of the strongest (35) */
	int64_t min_spam;     /* no verdict before this many spam ... (200) */
	int64_t min_ham;      /* ... and ham messages are learned (200) */
	int fisher;           /* compute prob, spamminess and hamminess (1); 0: only
	                       * the geometric means, and prob = 0.5, S = H = 0 */
};

void bayes_params_defaults(struct bayes_params *p);
/* Whether a store with these totals has enough learned for p to give a
 * verdict (else BAYES_UNTRAINED). */
int bayes_params_trained(const struct bayes_params *p, int64_t nspam, int64_t nham);

/* One token that took part in the verdict. */
struct bayes_clue {
	uint64_t hash;
	int64_t spam, ham;    /* message counts of the token */
	double f;             /* Robinson's f(w), 0..1, > 0.5 leans spam */
};

enum bayes_state {
	BAYES_OK = 0,         /* prob is the verdict */
	BAYES_UNTRAINED = 1,  /* fewer than min_spam / min_ham learned: prob 0.5 */
};

struct bayes_result {
	enum bayes_state state;
	double prob;          /* 0 = ham .. 1 = spam; 0.5 when nothing is known */
	double spamminess;    /* Fisher S: 1 - chi2q(-2 sum ln(1-f)) */
	double hamminess;     /* Fisher H: 1 - chi2q(-2 sum ln f) */
	/* Robinson's geometric-mean indicator (1 + (P - Q) / (P + Q)) / 2 with
	 * P = 1 - (prod (1 - f))^(1/n), Q = 1 - (prod f)^(1/n): 0 = ham .. 1 =
	 * spam, 0.5 without clues.  It never saturates, so strong evidence both
	 * ways reads as "leans a little" instead of Fisher's p = 0.5 or 1. */
	double gmean;         /* over the same clues as prob */
	double gmean_top;     /* over the top_clues most significant of them */
	int64_t nspam, nham;  /* training totals at classification time */
	size_t n_tokens;      /* distinct features of the message */
	struct bayes_clue *clues;   /* owned; most significant first */
	size_t n_clues;
};

/* Combine f values (each in (0,1)) as Fisher/Robinson does; fills prob,
 * spamminess, hamminess and gmean of r (only).  n == 0 gives 0.5. */
void bayes_combine(const double *f, size_t n, struct bayes_result *r);

/* ---- classifier -------------------------------------------------------------- */

struct bayes;

/* s is borrowed and must outlive the classifier. */
struct bayes *bayes_new(struct store *s);
void bayes_free(struct bayes *b);
void bayes_set_params(struct bayes *b, const struct bayes_params *p);
/* Classify from the in-memory token snapshot of c (bayes_snapshot.h), which
 * any number of classifiers in any threads may share; the verdict is the
 * one the store gives for the snapshot's state.  Without a snapshot (not
 * loaded yet, or not loadable) the store is asked.  c is borrowed and must
 * outlive b; NULL detaches.  Learning always writes to the store. */
struct bayes_cache;
void bayes_set_cache(struct bayes *b, struct bayes_cache *c);

/* 0 with *out filled (free with bayes_result_free), -1 on a storage error. */
int bayes_classify(struct bayes *b, const struct bayes_input *in, struct bayes_result *out);
/* The verdict of the store as if one learned message were not in it: its
 * weight is taken off the is_spam class's total and off that class's count
 * of each of its tokens (a count never goes below 0).  For reinforcement:
 * would the store judge this message right without having learned it? */
int bayes_classify_without(struct bayes *b, const struct bayes_input *in, int is_spam,
    int64_t weight, struct bayes_result *out);
void bayes_result_free(struct bayes_result *r);

/*
 * Learn a message as spam or ham.  digest identifies the message (e.g. hex
 * SHA-256 of the raw text); NULL uses bayes_tokens_digest().  Returns 0 when
 * learned, 1 when it was already learned in that class (nothing changes),
 * -1 on a storage error.  A message learned in the other class is moved.
 */
int bayes_learn(struct bayes *b, const struct bayes_input *in, const char *digest, int is_spam);
/* Learn n messages in one store transaction, all or nothing (0 or -1);
 * results[i] is 0 or 1 as for bayes_learn.  digests may be NULL, or hold
 * NULLs, for token-set digests.  A training run should use batches of a
 * few hundred: per-message commits cost several times more (docs/bayes.md). */
int bayes_learn_many(struct bayes *b, const struct bayes_input *in, const char *const *digests,
    const int *is_spam, size_t n, int *results);
/* Forget a message: 0 done, 1 it was not learned, -1 storage error.  The
 * same input must be given, since its tokens are recomputed. */
int bayes_unlearn(struct bayes *b, const struct bayes_input *in, const char *digest);
/* How digest was learned: 0 with *is_spam and *weight set, 1 if it was not
 * learned, -1 on a storage error (store_bayes_msg_get). */
int bayes_learned(struct bayes *b, const char *digest, int *is_spam, int64_t *weight);
/* Make n learned messages (their token sets tok[i], as bayes_tokenize gave
 * them) count weight times, in one transaction: store_bayes_reinforce_many.
 * results[i]: 0 raised, 1 nothing changed.  0 or -1. */
int bayes_reinforce_many(struct bayes *b, const struct bayes_tokens *tok, const char *const *digests,
    const int *is_spam, size_t n, int64_t weight, int *results);

/* Token expiry (docs/bayes.md, "Expiry"): when the store holds more than
 * max_tokens tokens, the least recently learned go until 90 % of
 * max_tokens is left, so the next expiry is a tenth of growth away.
 * max_tokens >= 1.  *removed: how many went.  0, or -1 on a storage
 * error. */
int bayes_expire(struct store *s, int64_t max_tokens, int64_t *removed);

#endif
