/*
 * score.h - the scan engine: a message's bytes in, a verdict out (R7, R8).
 *
 * score_message() parses the message (src/content/), runs the heuristic
 * rules and the Bayesian classifier (src/bayes/), and sums the weighted
 * symbols that fired into a score and a class.  The verdict always carries
 * its full explanation: every symbol with its weight and a one-line reason.
 *
 * Ownership: a struct score_engine borrows the store handle given to
 * score_engine_new() and is used by the thread that owns that handle.  A
 * struct score_verdict owns its symbol array: score_verdict_free().
 * Failures: score_message() returns -1 only on allocation-class failures;
 * a Bayes storage error yields a verdict without Bayes plus a symbol saying
 * so, never a refusal of the message.
 */
#ifndef MW_SCORE_SCORE_H
#define MW_SCORE_SCORE_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct score_engine;

enum score_class {
	SCORE_CLEAN = 0,
	SCORE_BULK,            /* graymail: newsletters, marketing (not spam) */
	SCORE_POSSIBLE_SPAM,   /* >= tag: delivered with X-Mailward-Spam: yes */
	SCORE_PROBABLE_SPAM,   /* >= probable_spam: the tenant's action applies */
};

struct score_thresholds {
	double tag;            /* documented default in docs/scoring.md */
	double probable_spam;
};

struct score_symbol {
	char name[48];         /* e.g. "BAYES_SPAM", "HTML_ONLY", "GTUBE" */
	char group[24];        /* "bayes", "header", "html", "url", "attachment", "bulk", "list", "test", "mime";
	                          * the reputation layer adds "reputation", "fingerprint", "reply", "forward" */
	double score;          /* weight actually added (may be scaled, e.g. by Bayes probability) */
	char reason[256];      /* one human line: what was seen */
};

struct score_verdict {
	double score;
	enum score_class cls;
	double bayes_prob;     /* 0..1, or -1 when the classifier gave no opinion */
	struct score_symbol *symbols;  /* sorted by |score| descending */
	size_t n_symbols;
};

struct score_thresholds score_thresholds_default(void);
/* st may be NULL: no Bayes (rules only). */
struct score_engine *score_engine_new(struct store *st, const struct score_thresholds *th);
void score_engine_free(struct score_engine *e);
/* Bayes counts from the in-memory token snapshot of c, shared by the engines
 * of every thread (src/bayes/bayes_snapshot.h): same verdicts, no database
 * lookup per message.  c is borrowed and must outlive e; without a store
 * (rules only) this does nothing. */
struct bayes_cache;
void score_engine_set_bayes_cache(struct score_engine *e, struct bayes_cache *c);
/* on: when the 35 strongest Bayes clues lean spam, BAYES_TOP_CLUES's reason
 * names the three it rests on most ("..., led by 'viagra' 's:free' ...").
 * The mail path turns it on, so that the log of a rejected message says
 * which words; it costs a second pass of the tokenizer over such messages,
 * so the offline scan leaves it off unless asked to explain. */
void score_engine_set_clue_names(struct score_engine *e, int on);

int score_message(struct score_engine *e, const char *data, size_t len, struct score_verdict *out);
/* The same with other thresholds than the engine's: the mail path scans for
 * many tenants, each with its own. */
int score_message_th(struct score_engine *e, const char *data, size_t len,
    const struct score_thresholds *th, struct score_verdict *out);
/* The same in steps, for a caller that adds symbols of its own between
 * them (the mail path: reputation, fingerprints, replies): rules and Bayes
 * over a parsed message (m borrowed), then the sum, the order and the
 * class.  Symbols may be appended to v (realloc) before finishing. */
struct content_msg;
int score_message_parsed(struct score_engine *e, const struct content_msg *m, const char *data,
    size_t len, struct score_verdict *out);
void score_verdict_finish(struct score_verdict *v, const struct content_msg *m,
    const struct score_thresholds *th);
void score_verdict_free(struct score_verdict *v);

/* The Bayes clues behind a verdict, by name, for `scan --explain`: up to
 * max_each of the strongest leaning spam and as many leaning ham, each
 * group most significant first (spam first).  The message is parsed and
 * classified again, from the same counts as score_message().  0 with *out
 * owned by the caller (score_clues_free; none when Bayes has no opinion or
 * no store), -1 on a storage error. */
struct score_clue {
	char *name;           /* the feature as docs/bayes.md "Features" writes it */
	double f;             /* Robinson's f: above 0.5 leans spam */
	int64_t spam, ham;    /* learned messages that have it */
	uint64_t hash;        /* the feature (bayes_tokenize) */
};
int score_message_clues(struct score_engine *e, const char *data, size_t len, size_t max_each,
    struct score_clue **out, size_t *n);
void score_clues_free(struct score_clue *c, size_t n);
const char *score_class_name(enum score_class c);  /* "clean" "bulk" "possible-spam" "probable-spam" */

/* Training: parse + tokenize + learn, batched.  Returns the number newly
 * learned, or -1 on a storage error. */
struct score_trainer;
struct score_trainer *score_trainer_new(struct store *st);
int score_trainer_add(struct score_trainer *t, const char *data, size_t len, int is_spam);
int score_trainer_flush(struct score_trainer *t);    /* commits the batch; returns learned count */
void score_trainer_free(struct score_trainer *t);    /* flushes first */
/* Untrain: forget a message learned before (the same bytes; line ends may
 * differ), in its own transaction after the pending batch is flushed.
 * 0 forgotten, 1 it was not learned (nothing changes), -1 storage error. */
int score_trainer_forget(struct score_trainer *t, const char *data, size_t len);
/* Reinforcement (docs/bayes.md): check a learned message against the store
 * without it, and queue it if the store would misjudge it or nearly
 * (spam under 12 points, ham over 4).  0 with *out filled (learned = 0:
 * the message was never learned, nothing checked), -1 on a storage or
 * parse error.  Learning still pending in the trainer is flushed first. */
struct score_check {
	int learned;      /* the store knows the message (else nothing below is set) */
	int is_spam;      /* the class it was learned in */
	int64_t weight;   /* how many times it counts now */
	int untrained;    /* Bayes has no opinion without it: not queued */
	int queued;       /* it will be reinforced by score_trainer_reinforce() */
	double score;     /* its score without itself (0 if reinforced before) */
};
int score_trainer_check(struct score_trainer *t, const char *data, size_t len,
    struct score_check *out);
/* Apply the queue: each queued message counts 3 times from now on (it is
 * checked again in the transaction: a message moved or forgotten since is
 * left alone).  Returns how many were raised, or -1 on a storage error
 * (what was committed before stays; running again finishes the rest). */
int score_trainer_reinforce(struct score_trainer *t);

#endif
