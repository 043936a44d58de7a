/*
 * track.c - the message-tracking writer thread (see track.h).
 *
 * Callers copy a record into a linked queue under a mutex and return; the
 * thread takes the whole queue at once and writes it in one transaction,
 * so a burst of sessions costs one commit, not one per record.  Progress
 * is counted (submitted / written) so track_sync() can wait for exactly
 * what was queued before it was called.
 *
 * The queue is bounded: if the database is stuck, records beyond
 * TRACK_MAX_QUEUED are logged and dropped rather than growing memory
 * without end - tracking must never stop mail.
 */
#include "track/track.h"
#include "quarantine/quarantine.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "bayes/bayes.h"
#include "conf/conf.h"
#include "reputation/reputation.h"
#include "log/log.h"

#define TRACK_MAX_QUEUED 100000
#define TRACK_MAX_BATCH 1000
#define TRACK_PURGE_EVERY 3600

struct item {
	struct item *next;
	int is_txn;
	int is_stat;                 /* a recipient verdict for rcpt_stat (uses rcpt.ref/rcpt/status) */
	struct store_log_txn txn;
	struct store_log_rcpt rcpt;
	char *stat_ip, *stat_domain, *stat_ref, *stat_rcpt;
	int stat_valid;
};

struct track {
	struct store *st;            /* used only by the thread after open */
	int64_t retention;
	const struct conf *conf;     /* for the quarantine's expiry */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t wake;         /* work arrived or stop */
	pthread_cond_t progress;     /* written advanced */
	struct item *head, *tail;
	size_t queued;
	uint64_t submitted, written; /* items, including dropped ones */
	int stop;
};

static char *dup_or_empty(const char *s)
{
	return xstrdup(s ? s : "");
}

static void item_free(struct item *it)
{
	if (it->is_txn) {
		free(it->txn.ref);
		free(it->txn.qid);
		free(it->txn.client_ip);
		free(it->txn.helo);
		free(it->txn.sender);
		free(it->txn.from_hdr);
		free(it->txn.subject);
		free(it->txn.message_id);
		free(it->txn.action);
		free(it->txn.reply);
		free(it->txn.cls);
		free(it->txn.symbols);
	} else if (it->is_stat) {
		free(it->stat_ip);
		free(it->stat_domain);
		free(it->stat_ref);
		free(it->stat_rcpt);
	} else {
		free(it->rcpt.ref);
		free(it->rcpt.rcpt);
		free(it->rcpt.tenant);
		free(it->rcpt.status);
		free(it->rcpt.reply);
	}
	free(it);
}

static const char *item_ref(const struct item *it)
{
	return it->is_stat ? it->stat_ref : it->is_txn ? it->txn.ref : it->rcpt.ref;
}

static void drop(const struct item *it, const char *why)
{
	char v[256], w[320];

	/* Store errors carry spaces and quotes: escaped like peer text. */
	log_escape(why, w, sizeof(w));
	if (it->is_stat)
		log_error(NULL, "track drop rcpt-stat ip=%s reason=%s",
		    log_escape(it->stat_ip, v, sizeof(v)), w);
	else if (it->is_txn)
		log_error(item_ref(it), "track drop txn action=%s reason=%s",
		    log_escape(it->txn.action, v, sizeof(v)), w);
	else
		log_error(item_ref(it), "track drop rcpt rcpt=%s status=%s reason=%s",
		    log_escape(it->rcpt.rcpt, v, sizeof(v)), it->rcpt.status, w);
}

static void enqueue(struct track *t, struct item *it)
{
	pthread_mutex_lock(&t->mu);
	t->submitted++;
	if (t->queued >= TRACK_MAX_QUEUED || t->stop) {
		/* Counted as written so track_sync() never waits for it. */
		t->written++;
		pthread_cond_broadcast(&t->progress);
		pthread_mutex_unlock(&t->mu);
		drop(it, "queue-full");
		item_free(it);
		return;
	}
	if (t->tail)
		t->tail->next = it;
	else
		t->head = it;
	t->tail = it;
	t->queued++;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->mu);
}

void track_txn(struct track *t, const struct store_log_txn *x)
{
	struct item *it;

	if (t == NULL || x == NULL)
		return;
	it = xcalloc(1, sizeof(*it));
	it->is_txn = 1;
	it->txn.ref = dup_or_empty(x->ref);
	it->txn.qid = dup_or_empty(x->qid);
	it->txn.ts = x->ts;
	it->txn.client_ip = dup_or_empty(x->client_ip);
	it->txn.helo = dup_or_empty(x->helo);
	it->txn.sender = dup_or_empty(x->sender);
	it->txn.from_hdr = dup_or_empty(x->from_hdr);
	it->txn.subject = dup_or_empty(x->subject);
	it->txn.message_id = dup_or_empty(x->message_id);
	it->txn.size = x->size;
	it->txn.action = dup_or_empty(x->action);
	it->txn.reply = dup_or_empty(x->reply);
	it->txn.tls = x->tls;
	it->txn.scanned = x->scanned;
	it->txn.score = x->score;
	it->txn.cls = dup_or_empty(x->cls);
	it->txn.symbols = dup_or_empty(x->symbols);
	enqueue(t, it);
}

void track_rcpt(struct track *t, const struct store_log_rcpt *r)
{
	struct item *it;

	if (t == NULL || r == NULL)
		return;
	it = xcalloc(1, sizeof(*it));
	it->rcpt.ref = dup_or_empty(r->ref);
	it->rcpt.ts = r->ts;
	it->rcpt.rcpt = dup_or_empty(r->rcpt);
	it->rcpt.tenant = dup_or_empty(r->tenant);
	it->rcpt.status = dup_or_empty(r->status);
	it->rcpt.reply = dup_or_empty(r->reply);
	enqueue(t, it);
}

void track_rcpt_stat(struct track *t, const char *client_ip, const char *sender_domain, int valid,
    int64_t now, const char *ref, const char *rcpt)
{
	struct item *it;

	if (t == NULL || client_ip == NULL)
		return;
	it = xcalloc(1, sizeof(*it));
	it->is_stat = 1;
	it->stat_ip = dup_or_empty(client_ip);
	it->stat_domain = dup_or_empty(sender_domain);
	it->stat_valid = valid;
	it->stat_ref = dup_or_empty(ref);
	it->stat_rcpt = dup_or_empty(rcpt);
	it->rcpt.ts = now;
	enqueue(t, it);
}

/* A recipient verdict: the harvest window's hourly counts, and the
 * identities' decaying counters (with the evidence of an unknown one). */
static int write_stat(struct track *t, const struct item *it)
{
	if (store_rcpt_stat_add(t->st, it->stat_ip, it->stat_domain, it->stat_valid,
	    it->rcpt.ts) < 0)
		return -1;
	char sender[320], detail[400];
	struct rep_ids ids;
	struct rep_delta d = { .valid = it->stat_valid ? 1 : 0, .invalid = it->stat_valid ? 0 : 1 };
	snprintf(sender, sizeof(sender), "@%s", it->stat_domain);
	reputation_identities(it->stat_ip, it->stat_domain[0] ? sender : "", NULL, &ids);
	snprintf(detail, sizeof(detail), "unknown recipient <%s>", it->stat_rcpt);
	return reputation_add(t->st, &ids, &d, t->conf->rep_half_life, it->rcpt.ts,
	    it->stat_valid ? NULL : "invalid", it->stat_ref, detail);
}

/* Write one batch; every item is freed, written or dropped. */
static void write_batch(struct track *t, struct item *batch)
{
	struct item *it, *next;
	char esc[320];
	int in_txn = store_begin(t->st) == 0;
	int failed = 0;

	if (!in_txn)
		log_error(NULL, "track begin-failed error=%s",
		    log_escape(store_error(t->st), esc, sizeof(esc)));
	for (it = batch; it; it = it->next) {
		int rc = it->is_stat ? write_stat(t, it) :
		    it->is_txn ? store_log_txn_add(t->st, &it->txn) :
		    store_log_rcpt_add(t->st, &it->rcpt);
		if (rc < 0) {
			drop(it, store_error(t->st));
			failed = 1;
		}
	}
	if (in_txn && store_commit(t->st) < 0) {
		/* The whole batch is gone; say which refs. */
		const char *why = store_error(t->st);
		for (it = batch; it; it = it->next)
			drop(it, why);
	} else if (failed) {
		log_warn(NULL, "track batch-partial");
	}
	for (it = batch; it; it = next) {
		next = it->next;
		item_free(it);
	}
}

static void purge(struct track *t)
{
	char esc[320];
	int64_t n = 0;

	if (store_log_purge(t->st, mw_now() - t->retention, &n) < 0)
		log_error(NULL, "track purge-failed error=%s",
		    log_escape(store_error(t->st), esc, sizeof(esc)));
	else if (n > 0)
		log_info(NULL, "track purge deleted=%lld", (long long)n);
	/* The quarantine's retention is housekeeping of the same kind. */
	char err[256];
	if (quarantine_expire(t->st, t->conf, mw_now(), &n, err, sizeof(err)) < 0)
		log_error(NULL, "track quarantine-expire error=%s", log_escape(err, esc, sizeof(esc)));
	else if (n > 0)
		log_info(NULL, "track quarantine-expire expired=%lld", (long long)n);
	/* So is keeping the Bayes store within [bayes] max_tokens. */
	if (bayes_expire(t->st, t->conf->bayes_max_tokens, &n) < 0)
		log_error(NULL, "track bayes-expire error=%s",
		    log_escape(store_error(t->st), esc, sizeof(esc)));
	else if (n > 0)
		log_info(NULL, "track bayes-expire removed=%lld max_tokens=%lld", (long long)n,
		    (long long)t->conf->bayes_max_tokens);
}

static void *track_main(void *arg)
{
	struct track *t = arg;
	int64_t next_purge = 0;

	pthread_mutex_lock(&t->mu);
	for (;;) {
		/* Checked before every batch, so a steady stream of records
		 * cannot postpone the purge; next_purge = 0 makes the first one
		 * run before anything is written. */
		int64_t now = mw_now();
		if (now >= next_purge) {
			pthread_mutex_unlock(&t->mu);
			purge(t);
			next_purge = now + TRACK_PURGE_EVERY;
			pthread_mutex_lock(&t->mu);
		}
		if (t->head == NULL) {
			if (t->stop)
				break;
			struct timespec until = { .tv_sec = (time_t)next_purge };
			pthread_cond_timedwait(&t->wake, &t->mu, &until);
			continue;
		}
		/* Take up to TRACK_MAX_BATCH items so one commit stays short. */
		struct item *batch = t->head, *last = batch;
		size_t n = 1;
		while (last->next != NULL && n < TRACK_MAX_BATCH) {
			last = last->next;
			n++;
		}
		t->head = last->next;
		if (t->head == NULL)
			t->tail = NULL;
		last->next = NULL;
		t->queued -= n;
		pthread_mutex_unlock(&t->mu);

		write_batch(t, batch);

		pthread_mutex_lock(&t->mu);
		t->written += n;
		pthread_cond_broadcast(&t->progress);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

struct track *track_open(const struct conf *c, char *err, size_t errlen)
{
	struct track *t = xcalloc(1, sizeof(*t));
	int rc;

	t->retention = c->log_retention;
	t->conf = c;
	t->st = store_open(c, err, errlen);
	if (t->st == NULL) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->mu, NULL);
	/* The purge timer uses the default wall clock (CLOCK_REALTIME), the
	 * same clock as the record timestamps it compares with. */
	pthread_cond_init(&t->wake, NULL);
	pthread_cond_init(&t->progress, NULL);
	rc = pthread_create(&t->thread, NULL, track_main, t);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start tracking thread: %s", strerror(rc));
		store_close(t->st);
		pthread_cond_destroy(&t->wake);
		pthread_cond_destroy(&t->progress);
		pthread_mutex_destroy(&t->mu);
		free(t);
		return NULL;
	}
	return t;
}

void track_sync(struct track *t)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	uint64_t target = t->submitted;
	while (t->written < target)
		pthread_cond_wait(&t->progress, &t->mu);
	pthread_mutex_unlock(&t->mu);
}

void track_close(struct track *t)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = 1;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thread, NULL);
	store_close(t->st);
	pthread_cond_destroy(&t->wake);
	pthread_cond_destroy(&t->progress);
	pthread_mutex_destroy(&t->mu);
	free(t);
}
