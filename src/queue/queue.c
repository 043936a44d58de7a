/*
 * queue.c - delivery scheduler and workers (R5).
 *
 * The schedule is an in-memory array of entries (qid, attempts, next
 * attempt, active) under one mutex.  Workers take the earliest due entry,
 * mark it active, and deliver without the lock.  What was done is recorded
 * only in the spool file (per-recipient done marks), so losing the schedule
 * in a crash costs at most an early retry.
 *
 * A worker owns its store handle and ref generator (neither is shared
 * between threads).  The store is only needed to route DSNs to hosted
 * sender domains; when it is unavailable DSNs go to the relayhost or MX.
 */
#include "queue/queue.h"
#include "quarantine/quarantine.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/refid.h"
#include "base/util.h"
#include "conf/conf.h"
#include "delivery/delivery.h"
#include "log/log.h"
#include "spool/spool.h"
#include "store/store.h"
#include "track/track.h"

/* Longest sleep of an idle worker: a wall-clock jump is noticed within it. */
#define QUEUE_MAX_SLEEP 30

struct qent {
	char qid[24];
	int attempts;
	int64_t next_attempt;   /* wall clock seconds */
	int active;
	int deleted;            /* queue_delete() while active: remove when done */
};

struct worker {
	struct queue *q;
	pthread_t thread;
	int started;
	struct store *store;    /* opened on first DSN; NULL if unavailable */
	int store_failed;
	struct refgen *refgen;
};

struct queue {
	const struct conf *conf;
	struct spool *sp;
	struct track *tr;

	pthread_mutex_t mu;
	pthread_cond_t cv;      /* work became due, or an attempt finished */
	struct qent *ents;
	size_t n, cap;
	int stopping;

	struct worker *workers;
	size_t n_workers;
};

/* ---- schedule ------------------------------------------------------------ */

int64_t queue_backoff(const struct conf *c, int attempts)
{
	int64_t d = c->retry_min > 0 ? c->retry_min : 1;
	int64_t cap = c->retry_max > d ? c->retry_max : d;

	/* Doubling by loop, not by shift: no overflow for any attempt count. */
	for (int i = 1; i < attempts && d < cap; i++)
		d *= 2;
	return d < cap ? d : cap;
}

static struct qent *find_locked(struct queue *q, const char *qid)
{
	for (size_t i = 0; i < q->n; i++) {
		if (strcmp(q->ents[i].qid, qid) == 0)
			return &q->ents[i];
	}
	return NULL;
}

static void remove_locked(struct queue *q, struct qent *e)
{
	size_t i = (size_t)(e - q->ents);

	q->ents[i] = q->ents[--q->n];
}

struct queue *queue_new(const struct conf *c, struct spool *sp, struct track *tr)
{
	struct queue *q = xcalloc(1, sizeof(*q));
	pthread_condattr_t ca;

	q->conf = c;
	q->sp = sp;
	q->tr = tr;
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_init(&ca);
	/* Timed waits on the monotonic clock: a wall-clock jump cannot make a
	 * worker sleep for an hour (X18). */
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv, &ca);
	pthread_condattr_destroy(&ca);
	q->n_workers = c->delivery_workers > 0 ? (size_t)c->delivery_workers : 1;
	q->workers = xcalloc(q->n_workers, sizeof(*q->workers));
	return q;
}

void queue_add(struct queue *q, const char *qid)
{
	pthread_mutex_lock(&q->mu);
	struct qent *e = find_locked(q, qid);
	if (e == NULL) {
		if (q->n == q->cap) {
			q->cap = q->cap ? q->cap * 2 : 64;
			q->ents = xrealloc(q->ents, q->cap * sizeof(*q->ents));
		}
		e = &q->ents[q->n++];
		memset(e, 0, sizeof(*e));
		mw_strlcpy(e->qid, qid, sizeof(e->qid));
	}
	e->next_attempt = mw_now();
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

int queue_flush(struct queue *q, const char *qid)
{
	int rc = 0;
	int64_t now = mw_now();

	pthread_mutex_lock(&q->mu);
	if (qid == NULL) {
		for (size_t i = 0; i < q->n; i++)
			q->ents[i].next_attempt = now;
	} else {
		struct qent *e = find_locked(q, qid);
		if (e != NULL)
			e->next_attempt = now;
		else
			rc = 1;
	}
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int queue_delete(struct queue *q, const char *qid)
{
	pthread_mutex_lock(&q->mu);
	struct qent *e = find_locked(q, qid);
	if (e == NULL) {
		pthread_mutex_unlock(&q->mu);
		/* Not scheduled (e.g. the workers are not running): the file
		 * may still be there. */
		if (spool_remove(q->sp, qid) == 0) {
			log_info(NULL, "queue delete qid=%s", qid);
			return 0;
		}
		return 1;
	}
	if (e->active) {
		/* The worker removes the file when its attempt ends. */
		e->deleted = 1;
		while ((e = find_locked(q, qid)) != NULL)
			pthread_cond_wait(&q->cv, &q->mu);
		pthread_mutex_unlock(&q->mu);
		return 0;
	}
	remove_locked(q, e);
	pthread_mutex_unlock(&q->mu);
	if (spool_remove(q->sp, qid) < 0 && errno != ENOENT)
		log_error(NULL, "queue delete qid=%s error=\"%s\"", qid, strerror(errno));
	log_info(NULL, "queue delete qid=%s", qid);
	return 0;
}

int queue_snapshot(struct queue *q, struct queue_entry_info **out, size_t *n)
{
	pthread_mutex_lock(&q->mu);
	*n = q->n;
	*out = xcalloc(q->n ? q->n : 1, sizeof(**out));
	for (size_t i = 0; i < q->n; i++) {
		mw_strlcpy((*out)[i].qid, q->ents[i].qid, sizeof((*out)[i].qid));
		(*out)[i].attempts = q->ents[i].attempts;
		(*out)[i].next_attempt = q->ents[i].next_attempt;
		(*out)[i].active = q->ents[i].active;
	}
	pthread_mutex_unlock(&q->mu);
	return 0;
}

/* ---- one delivery attempt ------------------------------------------------ */

enum attempt_result { ATTEMPT_DONE, ATTEMPT_RETRY };

/* A recipient that failed for good (5xx) or ran out of time (expired). */
struct failed {
	size_t idx;
	char status[16];        /* enhanced status code for the DSN */
	char text[512];         /* downstream reply or our reason */
};

static void track_event(struct queue *q, struct spool_file *f, size_t i, const char *status,
    const char *reply)
{
	char st[16], rp[512];
	char empty[1] = "";

	if (q->tr == NULL)
		return;
	mw_strlcpy(st, status, sizeof(st));
	mw_strlcpy(rp, reply, sizeof(rp));
	struct store_log_rcpt r = {
		.ref = f->ref, .ts = mw_now(), .rcpt = f->rcpts[i].rcpt,
		.tenant = f->rcpts[i].tenant ? f->rcpts[i].tenant : empty,
		.status = st, .reply = rp,
	};
	track_rcpt(q->tr, &r);
}

/* "550 5.1.1 no such user" -> "5.1.1"; otherwise class.0.0. */
static void enhanced_status(const char *text, int code, char *out, size_t n)
{
	const char *p = text;

	while ((p = strpbrk(p, "245")) != NULL) {
		if (p[1] == '.' && (p == text || p[-1] == ' ')) {
			size_t k = 1;
			int dots = 0;
			while (p[k] != '\0' && ((p[k] >= '0' && p[k] <= '9') || p[k] == '.')) {
				dots += p[k] == '.';
				k++;
			}
			if (dots == 2 && p[k - 1] != '.' && k < n && p[0] == (char)('0' + code / 100)) {
				memcpy(out, p, k);
				out[k] = '\0';
				return;
			}
		}
		p++;
	}
	snprintf(out, n, "%d.0.0", code / 100 == 5 ? 5 : 4);
}

/* The worker's own store handle, opened on first need (DSN routing, the
 * quarantine); NULL when the database cannot be opened. */
static struct store *worker_store(struct worker *w)
{
	char err[256];

	if (w->store == NULL && !w->store_failed) {
		w->store = store_open(w->q->conf, err, sizeof(err));
		if (w->store == NULL) {
			w->store_failed = 1;
			log_warn(NULL, "queue store_unavailable error=\"%s\"", err);
		}
	}
	return w->store;
}

/* Where a DSN to sender goes: the tenant hosting the sender's domain, else
 * the relayhost, else the sender domain's MX. */
static void dsn_route(struct worker *w, const char *sender, char *rcpt, size_t rn,
    char *tenant, size_t tn, char *deliver, size_t dn)
{
	const struct conf *c = w->q->conf;
	const char *at = strrchr(sender, '@');

	mw_strlcpy(rcpt, sender, rn);
	tenant[0] = '\0';
	if (worker_store(w) != NULL) {
		struct store_rcpt r;
		char *lower = xstrdup(sender);
		mw_str_lower(lower);
		int rc = store_rcpt_lookup(w->store, lower, &r);
		free(lower);
		if (rc == 0 && r.status != RCPT_NOT_HOSTED) {
			mw_strlcpy(tenant, r.tenant, tn);
			mw_strlcpy(deliver, r.deliver, dn);
			if (r.status == RCPT_VALID && r.canonical[0] != '\0')
				mw_strlcpy(rcpt, r.canonical, rn);
			return;
		}
		if (rc < 0)
			log_warn(NULL, "queue dsn lookup error=\"%s\"", store_error(w->store));
	}
	if (c->relayhost[0] != '\0') {
		if (strstr(c->relayhost, "://") != NULL)
			mw_strlcpy(deliver, c->relayhost, dn);
		else
			snprintf(deliver, dn, "smtp://%s", c->relayhost);
	} else {
		snprintf(deliver, dn, "mx:%s", at ? at + 1 : "");
	}
}

/* Queue one DSN for the failed recipients.  0 when the DSN is durable (or
 * none is due: null sender, or the message is itself a DSN), -1 when it
 * could not be spooled - the caller then leaves the recipients pending so
 * the report is not lost. */
static int send_dsn(struct worker *w, struct spool_file *f, const struct failed *fl, size_t n,
    int expired, const char *orig, size_t orig_len)
{
	struct queue *q = w->q;
	const char *isdsn = spool_file_attr(f, "dsn");

	if (n == 0)
		return 0;
	if (f->sender[0] == '\0' || (isdsn != NULL && strcmp(isdsn, "1") == 0)) {
		log_info(f->ref, "queue no_dsn qid=%s reason=%s rcpts=%zu", f->qid,
		    f->sender[0] == '\0' ? "null-sender" : "is-dsn", n);
		return 0;
	}
	const char *at = strrchr(f->sender, '@');
	if (at == NULL || at[1] == '\0') {
		/* Nowhere to route it; keeping the recipients pending would
		 * only retry forever. */
		log_warn(f->ref, "queue no_dsn qid=%s reason=sender-without-domain rcpts=%zu", f->qid, n);
		return 0;
	}

	struct dsn_rcpt *dr = xcalloc(n, sizeof(*dr));
	for (size_t i = 0; i < n; i++) {
		dr[i].rcpt = f->rcpts[fl[i].idx].rcpt;
		dr[i].original = f->rcpts[fl[i].idx].original;
		dr[i].status = fl[i].status;
		dr[i].diagnostic = fl[i].text;
		dr[i].remote_mta = NULL;
	}
	struct dsn_info info = {
		.reporting_mta = q->conf->hostname, .ref = f->ref, .qid = f->qid,
		.sender = f->sender, .arrival = f->arrival, .now = mw_now(), .expired = expired,
		.rcpts = dr, .n_rcpts = n, .orig = orig, .orig_len = orig_len,
	};
	char *msg = NULL;
	size_t msg_len = 0;
	int rc = -1;
	if (dsn_build(&info, &msg, &msg_len) < 0) {
		log_error(f->ref, "queue dsn_build qid=%s failed", f->qid);
		goto out;
	}

	char rcpt[320], tenant[128], deliver[512], ref[REFID_LEN + 1], qid[QID_LEN + 1];
	dsn_route(w, f->sender, rcpt, sizeof(rcpt), tenant, sizeof(tenant), deliver, sizeof(deliver));
	refgen_next_ref(w->refgen, ref);
	struct spool_envelope_rcpt er = { rcpt, f->sender, tenant, deliver, SPOOL_RCPT_PENDING };
	const char *attrs[] = { "dsn=1" };
	struct spool_envelope env = {
		.ref = ref, .arrival = mw_now(), .client_ip = "", .helo = q->conf->hostname,
		.sender = "", .rcpts = &er, .n_rcpts = 1, .attrs = attrs, .n_attrs = 1,
	};
	struct spool_msg *m = spool_msg_new(q->sp, &env, qid);
	if (m == NULL)
		goto out;
	if (spool_msg_write(m, msg, msg_len) < 0) {
		spool_msg_abort(m);
		goto out;
	}
	if (spool_commit_now(q->sp, m) < 0)
		goto out;
	log_info(f->ref, "queue dsn qid=%s dsn_ref=%s dsn_qid=%s rcpts=%zu expired=%d deliver=%s",
	    f->qid, ref, qid, n, expired, deliver);
	queue_add(q, qid);
	rc = 0;
out:
	free(msg);
	free(dr);
	return rc;
}

static void mark(struct queue *q, struct spool_file *f, size_t i, char status)
{
	/* A lost mark means one duplicate attempt later, never a lost message. */
	if (spool_file_mark(f, i, status, q->conf->fsync != 0) < 0)
		log_error(f->ref, "queue mark qid=%s rcpt=%zu error=\"%s\"", f->qid, i, strerror(errno));
}

/* A message the scan marked for the quarantine: its pending recipients
 * are held there instead of delivered.  The marks come after the rows, so a
 * crash repeats the put (rows are unique per queue id and recipient). */
static void quarantine_pending(struct worker *w, struct spool_file *f, const char *data,
    size_t len, size_t *n_pending)
{
	struct queue *q = w->q;
	size_t *idx = xcalloc(f->n_rcpts, sizeof(*idx));
	size_t k = 0;
	char err[256] = "";

	for (size_t i = 0; i < f->n_rcpts; i++)
		if (f->rcpts[i].status == SPOOL_RCPT_PENDING)
			idx[k++] = i;
	struct store *s = worker_store(w);
	if (k > 0 && (s == NULL || quarantine_put(s, q->conf, f, idx, k, data, len, err,
	    sizeof(err)) < 0)) {
		log_error(f->ref, "queue quarantine qid=%s error=\"%s\"", f->qid,
		    s ? err : "no database");
		*n_pending += k;
		free(idx);
		return;
	}
	for (size_t j = 0; j < k; j++) {
		mark(q, f, idx[j], SPOOL_RCPT_QUARANTINED);
		track_event(q, f, idx[j], "quarantined", "held in quarantine");
		log_info(f->ref, "queue quarantined qid=%s rcpt=%s", f->qid, f->rcpts[idx[j]].rcpt);
	}
	free(idx);
}

static enum attempt_result attempt(struct worker *w, const char *qid)
{
	struct queue *q = w->q;
	struct spool_file *f = NULL;
	char err[256];
	int rc = spool_file_open(q->sp, qid, &f, err, sizeof(err));

	if (rc == 1)
		return ATTEMPT_DONE; /* deleted behind our back */
	if (rc < 0) {
		log_error(NULL, "queue open qid=%s error=\"%s\"", qid, err);
		return ATTEMPT_RETRY;
	}
	int64_t now = mw_now();
	int expired = now - f->arrival > q->conf->max_queue_lifetime;
	char *data = NULL;
	size_t data_len = 0;
	size_t n = f->n_rcpts;
	char *handled = xcalloc(n, 1);     /* pending recipient already grouped */
	const char **rc_list = xcalloc(n, sizeof(*rc_list));
	size_t *rc_idx = xcalloc(n, sizeof(*rc_idx));
	struct delivery_result *res = xcalloc(n, sizeof(*res));
	struct failed *bounced = xcalloc(n, sizeof(*bounced));
	struct failed *expd = xcalloc(n, sizeof(*expd));
	size_t n_bounced = 0, n_expd = 0, n_pending = 0;
	int data_err = 0;
	const char *disp = spool_file_attr(f, "disposition");

	if (disp != NULL && strcmp(disp, "quarantine") == 0) {
		if (spool_file_read_data(f, &data, &data_len) < 0) {
			log_error(f->ref, "queue read qid=%s error=\"%s\"", f->qid, strerror(errno));
			n_pending++;
		} else {
			quarantine_pending(w, f, data, data_len, &n_pending);
		}
		memset(handled, 1, n);
	}
	for (size_t i = 0; i < n; i++) {
		if (f->rcpts[i].status != SPOOL_RCPT_PENDING || handled[i])
			continue;
		if (data == NULL && !data_err && spool_file_read_data(f, &data, &data_len) < 0) {
			data_err = errno ? errno : EIO;
			log_error(f->ref, "queue read qid=%s error=\"%s\"", f->qid, strerror(data_err));
		}
		/* One delivery per destination. */
		size_t k = 0;
		for (size_t j = i; j < n; j++) {
			if (f->rcpts[j].status == SPOOL_RCPT_PENDING && !handled[j] &&
			    strcmp(f->rcpts[j].deliver, f->rcpts[i].deliver) == 0) {
				handled[j] = 1;
				rc_idx[k] = j;
				rc_list[k++] = f->rcpts[j].rcpt;
			}
		}
		if (data_err) {
			for (size_t j = 0; j < k; j++) {
				res[j].code = 451;
				snprintf(res[j].text, sizeof(res[j].text), "451 4.3.0 spool read error: %s",
				    strerror(data_err));
			}
		} else {
			struct delivery_job job = {
				.url = f->rcpts[i].deliver, .helo_name = q->conf->hostname,
				.sender = f->sender, .rcpts = rc_list, .n_rcpts = k,
				.data = data, .len = data_len, .timeout = (int)q->conf->delivery_timeout,
			};
			memset(res, 0, k * sizeof(*res));
			delivery_send(&job, res);
		}
		for (size_t j = 0; j < k; j++) {
			size_t ri = rc_idx[j];
			int code = res[j].code;
			char esc[600];
			log_escape(res[j].text, esc, sizeof(esc));
			if (code >= 200 && code < 300) {
				mark(q, f, ri, SPOOL_RCPT_DELIVERED);
				track_event(q, f, ri, "delivered", res[j].text);
				log_info(f->ref, "queue delivered qid=%s rcpt=%s reply=%s", f->qid,
				    f->rcpts[ri].rcpt, esc);
			} else if (code >= 500 && code < 600) {
				struct failed *b = &bounced[n_bounced++];
				b->idx = ri;
				enhanced_status(res[j].text, code, b->status, sizeof(b->status));
				mw_strlcpy(b->text, res[j].text, sizeof(b->text));
				log_info(f->ref, "queue failed qid=%s rcpt=%s reply=%s", f->qid,
				    f->rcpts[ri].rcpt, esc);
			} else if (expired) {
				/* The last reply goes into the DSN's Diagnostic-Code (X11). */
				struct failed *e = &expd[n_expd++];
				e->idx = ri;
				mw_strlcpy(e->status, "4.4.7", sizeof(e->status));
				mw_strlcpy(e->text, res[j].text[0] ? res[j].text : "message expired in queue",
				    sizeof(e->text));
				log_info(f->ref, "queue expired qid=%s rcpt=%s reply=%s", f->qid,
				    f->rcpts[ri].rcpt, esc);
			} else {
				n_pending++;
				track_event(q, f, ri, "deferred", res[j].text);
				log_info(f->ref, "queue deferred qid=%s rcpt=%s reply=%s", f->qid,
				    f->rcpts[ri].rcpt, esc);
			}
		}
	}

	/* Marks only after the DSN is durable: a crash in between repeats the
	 * attempt (and maybe the DSN), it never loses the report. */
	if (send_dsn(w, f, bounced, n_bounced, 0, data, data_len) == 0) {
		for (size_t i = 0; i < n_bounced; i++) {
			mark(q, f, bounced[i].idx, SPOOL_RCPT_BOUNCED);
			track_event(q, f, bounced[i].idx, "bounced", bounced[i].text);
		}
	} else {
		n_pending += n_bounced;
	}
	if (send_dsn(w, f, expd, n_expd, 1, data, data_len) == 0) {
		for (size_t i = 0; i < n_expd; i++) {
			mark(q, f, expd[i].idx, SPOOL_RCPT_EXPIRED);
			track_event(q, f, expd[i].idx, "expired", expd[i].text);
		}
	} else {
		n_pending += n_expd;
	}

	enum attempt_result result = ATTEMPT_RETRY;
	if (n_pending == 0) {
		/* Recount from the file state: a failed mark keeps it queued. */
		size_t still = 0;
		for (size_t i = 0; i < n; i++)
			still += f->rcpts[i].status == SPOOL_RCPT_PENDING;
		if (still == 0) {
			if (spool_remove(q->sp, f->qid) < 0 && errno != ENOENT)
				log_error(f->ref, "queue remove qid=%s error=\"%s\"", f->qid, strerror(errno));
			else
				log_info(f->ref, "queue done qid=%s", f->qid);
			result = ATTEMPT_DONE;
		}
	}
	free(handled);
	free(rc_list);
	free(rc_idx);
	free(res);
	free(bounced);
	free(expd);
	free(data);
	spool_file_close(f);
	return result;
}

/* ---- workers --------------------------------------------------------------- */

static struct qent *earliest_locked(struct queue *q)
{
	struct qent *best = NULL;

	for (size_t i = 0; i < q->n; i++) {
		struct qent *e = &q->ents[i];
		if (!e->active && (best == NULL || e->next_attempt < best->next_attempt))
			best = e;
	}
	return best;
}

static void wait_seconds_locked(struct queue *q, int64_t secs)
{
	struct timespec ts;

	if (secs > QUEUE_MAX_SLEEP)
		secs = QUEUE_MAX_SLEEP;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)secs;
	pthread_cond_timedwait(&q->cv, &q->mu, &ts);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct queue *q = w->q;
	char qid[24];

	pthread_mutex_lock(&q->mu);
	while (!q->stopping) {
		struct qent *e = earliest_locked(q);
		if (e == NULL) {
			pthread_cond_wait(&q->cv, &q->mu);
			continue;
		}
		int64_t now = mw_now();
		if (e->next_attempt > now) {
			wait_seconds_locked(q, e->next_attempt - now);
			continue;
		}
		e->active = 1;
		e->attempts++;
		int attempts = e->attempts;
		mw_strlcpy(qid, e->qid, sizeof(qid));
		pthread_mutex_unlock(&q->mu);

		enum attempt_result r = attempt(w, qid);

		pthread_mutex_lock(&q->mu);
		/* The array may have moved while unlocked: look it up again. */
		e = find_locked(q, qid);
		if (e != NULL && e->deleted) {
			if (spool_remove(q->sp, qid) < 0 && errno != ENOENT)
				log_error(NULL, "queue delete qid=%s error=\"%s\"", qid, strerror(errno));
			log_info(NULL, "queue delete qid=%s", qid);
			remove_locked(q, e);
		} else if (e != NULL && r == ATTEMPT_DONE) {
			remove_locked(q, e);
		} else if (e != NULL) {
			int64_t delay = queue_backoff(q->conf, attempts);
			e->active = 0;
			e->next_attempt = mw_now() + delay;
			log_info(NULL, "queue retry qid=%s attempts=%d delay=%lld", qid, attempts,
			    (long long)delay);
		}
		pthread_cond_broadcast(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

int queue_start(struct queue *q)
{
	for (size_t i = 0; i < q->n_workers; i++) {
		struct worker *w = &q->workers[i];
		w->q = q;
		w->refgen = refgen_new();
		int rc = pthread_create(&w->thread, NULL, worker_main, w);
		if (rc != 0) {
			log_error(NULL, "queue start worker=%zu error=\"%s\"", i, strerror(rc));
			return -1; /* queue_free stops the ones started */
		}
		w->started = 1;
	}
	log_info(NULL, "queue start workers=%zu queued=%zu", q->n_workers, q->n);
	return 0;
}

void queue_free(struct queue *q)
{
	if (q == NULL)
		return;
	pthread_mutex_lock(&q->mu);
	q->stopping = 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	for (size_t i = 0; i < q->n_workers; i++) {
		struct worker *w = &q->workers[i];
		if (w->started)
			pthread_join(w->thread, NULL);
		if (w->store != NULL)
			store_close(w->store);
		if (w->refgen != NULL)
			refgen_free(w->refgen);
	}
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q->workers);
	free(q->ents);
	free(q);
}
