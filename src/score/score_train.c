/*
 * score_train.c - learning messages into the Bayes store, in batches.
 *
 * The trainer keeps up to SCORE_TRAIN_BATCH parsed messages (the classifier
 * input borrows their strings) and learns them in one store transaction:
 * per-message commits cost several times more (docs/bayes.md).  Each message
 * is identified by the SHA-256 of its bytes with line ends normalised, so
 * the same message learned twice, from an mbox with LF or a spool with
 * CRLF, counts once.
 *
 * Reinforcement (docs/bayes.md, "Reinforcement"): after a training run,
 * score_trainer_check() asks of each learned message what the store would
 * score it without having learned it, and queues the ones it would get
 * wrong or nearly wrong - spam below REINFORCE_SPAM_BELOW points, ham
 * above REINFORCE_HAM_ABOVE; score_trainer_reinforce() then makes those
 * count REINFORCE_WEIGHT times, in one transaction.  Every check sees the
 * same state (nothing is applied before the end), so the result does not
 * depend on the order of the messages.
 */
#include <openssl/evp.h>
#include <string.h>

#include "bayes/bayes_snapshot.h"
#include "content/content.h"
#include "score/score_int.h"

#define SCORE_TRAIN_BATCH 500

/* Chosen by 5-fold cross-validation on the training split of the
 * SpamAssassin corpus, three fold assignments (docs/bayes.md,
 * "Reinforcement"): the thick margin around the default thresholds (tag 8,
 * probable_spam 10) and how many times a reinforced message counts. */
#define REINFORCE_SPAM_BELOW 12.0
#define REINFORCE_HAM_ABOVE 4.0
#define REINFORCE_WEIGHT 3

struct reinforce_item {
	char digest[65];
	int is_spam;
	struct bayes_tokens tok;
};

struct train_item {
	struct content_msg *m;
	struct score_binput bi;
	char digest[65];
	int is_spam;
};

struct score_trainer {
	struct bayes *bayes;
	struct score_engine *engine;   /* reinforcement checks: the scan's own scoring */
	struct bayes_cache *cache;     /* ... from a token snapshot: no store probe per token */
	struct reinforce_item *rq;     /* queued for score_trainer_reinforce() */
	size_t nrq, caprq;
	struct train_item items[SCORE_TRAIN_BATCH];
	size_t n;
	/* bayes_learn_many()'s parallel arrays live here, not on the stack
	 * (about 40 KiB: too much for a worker thread's stack). */
	struct bayes_input in[SCORE_TRAIN_BATCH];
	const char *digests[SCORE_TRAIN_BATCH];
	struct bayes_tokens rtok[SCORE_TRAIN_BATCH];   /* borrowed from rq by reinforce */
	int is_spam[SCORE_TRAIN_BATCH], results[SCORE_TRAIN_BATCH];
};

struct score_trainer *score_trainer_new(struct store *st)
{
	struct score_trainer *t = xcalloc(1, sizeof(*t));

	t->bayes = bayes_new(st);
	t->engine = score_engine_new(st, NULL);
	/* Checked at every use (one row read): what the trainer learns in
	 * between is always seen.  A reinforcement run changes nothing until
	 * its end, so the snapshot is loaded once. */
	t->cache = bayes_cache_new(0);
	score_engine_set_bayes_cache(t->engine, t->cache);
	return t;
}

/* Hex SHA-256 of data with every CRLF read as LF. */
static void digest_normalised(const char *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	size_t start = 0;

	if (c == NULL)
		mw_panic("EVP_MD_CTX_new: out of memory");
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	for (size_t i = 0; i + 1 < len; i++) {
		if (data[i] == '\r' && data[i + 1] == '\n') {
			EVP_DigestUpdate(c, data + start, i - start);
			start = i + 1;   /* the LF starts the next run */
		}
	}
	EVP_DigestUpdate(c, data + start, len - start);
	EVP_DigestFinal_ex(c, md, &mdlen);
	EVP_MD_CTX_free(c);
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

static void items_clear(struct score_trainer *t)
{
	for (size_t i = 0; i < t->n; i++) {
		score_binput_free(&t->items[i].bi);
		content_free(t->items[i].m);
	}
	t->n = 0;
}

int score_trainer_flush(struct score_trainer *t)
{
	int learned = 0;

	if (t->n == 0)
		return 0;
	for (size_t i = 0; i < t->n; i++) {
		t->in[i] = t->items[i].bi.in;
		t->digests[i] = t->items[i].digest;
		t->is_spam[i] = t->items[i].is_spam;
	}
	int rc = bayes_learn_many(t->bayes, t->in, t->digests, t->is_spam, t->n, t->results);
	if (rc == 0)
		for (size_t i = 0; i < t->n; i++)
			learned += t->results[i] == 0;
	/* All or nothing: after an error the batch is dropped, not retried
	 * behind the caller's back; the caller reports it and may run again
	 * (learning is idempotent). */
	items_clear(t);
	return rc == 0 ? learned : -1;
}

int score_trainer_add(struct score_trainer *t, const char *data, size_t len, int is_spam)
{
	struct content_limits lim = content_limits_default();
	struct train_item *it;
	int learned = 0;

	if (data == NULL)
		data = "";
	it = &t->items[t->n];
	it->m = content_parse(data, len, &lim);
	if (it->m == NULL)
		return -1;
	score_binput_fill(&it->bi, it->m);
	digest_normalised(data, len, it->digest);
	it->is_spam = is_spam != 0;
	t->n++;
	/* Learn as soon as the batch is full so memory stays bounded by one
	 * batch of parsed messages. */
	if (t->n == SCORE_TRAIN_BATCH) {
		int r = score_trainer_flush(t);
		if (r < 0)
			return -1;
		learned += r;
	}
	return learned;
}

int score_trainer_forget(struct score_trainer *t, const char *data, size_t len)
{
	struct content_limits lim = content_limits_default();
	struct score_binput bi;
	char digest[65];

	/* A message added to this batch and forgotten right after must be
	 * learned first, or the forget finds nothing and the learn wins. */
	if (t->n > 0 && score_trainer_flush(t) < 0)
		return -1;
	if (data == NULL)
		data = "";
	struct content_msg *m = content_parse(data, len, &lim);
	if (m == NULL)
		return -1;
	/* The same tokens and digest as learning: bayes_unlearn() takes the
	 * counts back down token by token. */
	score_binput_fill(&bi, m);
	digest_normalised(data, len, digest);
	int r = bayes_unlearn(t->bayes, &bi.in, digest);
	score_binput_free(&bi);
	content_free(m);
	return r;
}

static void rq_clear(struct score_trainer *t)
{
	for (size_t i = 0; i < t->nrq; i++)
		bayes_tokens_free(&t->rq[i].tok);
	t->nrq = 0;
}

int score_trainer_check(struct score_trainer *t, const char *data, size_t len,
    struct score_check *out)
{
	struct content_limits lim = content_limits_default();
	struct score_verdict v;
	char digest[65];
	int is_spam = 0;
	int64_t weight = 0;

	memset(out, 0, sizeof(*out));
	/* what this trainer learned must be in the store before it is asked */
	if (t->n > 0 && score_trainer_flush(t) < 0)
		return -1;
	if (data == NULL)
		data = "";
	digest_normalised(data, len, digest);
	int r = bayes_learned(t->bayes, digest, &is_spam, &weight);
	if (r < 0)
		return -1;
	if (r == 1)
		return 0;
	out->learned = 1;
	out->is_spam = is_spam;
	out->weight = weight;
	if (weight >= REINFORCE_WEIGHT)
		return 0;   /* reinforced before: never more than once */
	struct content_msg *m = content_parse(data, len, &lim);
	if (m == NULL)
		return -1;
	if (score_message_without(t->engine, m, data, len, is_spam, weight, &v) < 0) {
		content_free(m);
		return -1;
	}
	out->score = v.score;
	/* Without Bayes (untrained once the message is taken out) the score is
	 * the rules' alone: no measure of what the store learned, so nothing
	 * is queued. */
	out->untrained = v.bayes_prob < 0;
	if (!out->untrained && (is_spam ? v.score < REINFORCE_SPAM_BELOW : v.score > REINFORCE_HAM_ABOVE)) {
		struct score_binput bi;
		if (t->nrq == t->caprq) {
			t->caprq = t->caprq ? 2 * t->caprq : 64;
			t->rq = xrealloc(t->rq, t->caprq * sizeof(*t->rq));
		}
		struct reinforce_item *it = &t->rq[t->nrq++];
		memset(it, 0, sizeof(*it));
		memcpy(it->digest, digest, sizeof(it->digest));
		it->is_spam = is_spam;
		score_binput_fill(&bi, m);
		bayes_tokenize(&bi.in, &it->tok, NULL, NULL);
		score_binput_free(&bi);
		out->queued = 1;
	}
	score_verdict_free(&v);
	content_free(m);
	return 0;
}

int score_trainer_reinforce(struct score_trainer *t)
{
	int raised = 0, rc = 0;

	for (size_t o = 0; o < t->nrq && rc == 0; o += SCORE_TRAIN_BATCH) {
		size_t n = t->nrq - o < SCORE_TRAIN_BATCH ? t->nrq - o : SCORE_TRAIN_BATCH;
		for (size_t i = 0; i < n; i++) {
			t->rtok[i] = t->rq[o + i].tok;
			t->digests[i] = t->rq[o + i].digest;
			t->is_spam[i] = t->rq[o + i].is_spam;
		}
		rc = bayes_reinforce_many(t->bayes, t->rtok, t->digests, t->is_spam, n, REINFORCE_WEIGHT,
		    t->results);
		if (rc == 0)
			for (size_t i = 0; i < n; i++)
				raised += t->results[i] == 0;
	}
	rq_clear(t);
	return rc == 0 ? raised : -1;
}

void score_trainer_free(struct score_trainer *t)
{
	if (t == NULL)
		return;
	/* score.h: free flushes first; an error here has no one to report to,
	 * callers that care call score_trainer_flush() themselves.  Queued
	 * reinforcements are dropped: they are applied only on request. */
	(void)score_trainer_flush(t);
	rq_clear(t);
	free(t->rq);
	score_engine_free(t->engine);
	bayes_cache_free(t->cache);
	bayes_free(t->bayes);
	free(t);
}
