/*
 * score_train.c - learning messages into the Bayes store, in batches.
 *
 * The trainer keeps up to SCORE_TRAIN_BATCH parsed messages (the classifier
 * input borrows their strings) and learns them in one store transaction:
 * per-message commits cost several times more (docs/bayes.md).  Each message
 * is identified by the SHA-256 of its bytes with line ends normalised, so
 * the same message learned twice, from an mbox with LF or a spool with
 * CRLF, counts once.
 */
#include <openssl/evp.h>
#include <string.h>

#include "content/content.h"
#include "score/score_int.h"

#define SCORE_TRAIN_BATCH 500

struct train_item {
	struct content_msg *m;
	struct score_binput bi;
	char digest[65];
	int is_spam;
};

struct score_trainer {
	struct bayes *bayes;
	struct train_item items[SCORE_TRAIN_BATCH];
	size_t n;
	/* bayes_learn_many()'s parallel arrays live here, not on the stack
	 * (about 40 KiB: too much for a worker thread's stack). */
	struct bayes_input in[SCORE_TRAIN_BATCH];
	const char *digests[SCORE_TRAIN_BATCH];
	int is_spam[SCORE_TRAIN_BATCH], results[SCORE_TRAIN_BATCH];
};

struct score_trainer *score_trainer_new(struct store *st)
{
	struct score_trainer *t = xcalloc(1, sizeof(*t));

	t->bayes = bayes_new(st);
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

void score_trainer_free(struct score_trainer *t)
{
	if (t == NULL)
		return;
	/* score.h: free flushes first; an error here has no one to report to,
	 * callers that care call score_trainer_flush() themselves. */
	(void)score_trainer_flush(t);
	bayes_free(t->bayes);
	free(t);
}
