/*
 * score_pool.c - fixed scan threads with a bounded queue (score_pool.h).
 *
 * One mutex guards both lists (jobs in, results out); it is held only to
 * link and unlink, never while scanning.  Capacity is workers + queue
 * messages in flight (queued or being scanned), so [scan] queue = 0 means
 * "only as many as there are threads".
 */
#include "score/score_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "base/buf.h"
#include "bayes/bayes_snapshot.h"
#include "conf/conf.h"
#include "content/content.h"
#include "log/log.h"
#include "reputation/fp_memory.h"
#include "reputation/fp_recent.h"
#include "reputation/sig_history.h"
#include "reputation/rep_mail.h"
#include "store/store.h"

struct job {
	struct job *next;
	uint64_t token;
	char *data;
	size_t len, full_len;
	struct score_thresholds th;
	struct rep_mail_ctx *ctx;   /* the mail path's context; NULL: content only */
	struct score_pool_result res;
};

struct worker {
	struct score_pool *pool;
	pthread_t tid;
	struct store *store;
	struct score_engine *engine;
	struct rep_mail *rep;       /* NULL without a store */
};

struct score_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *in_head, *in_tail;
	size_t in_len, in_max;
	size_t busy;                /* workers scanning right now */
	struct job *out_head, *out_tail;
	int stopping;
	int efd;
	long sleep_ms;              /* failpoint scan_sleep */
	struct worker *w;
	size_t n_workers, n_started;
	struct bayes_cache *bayes;  /* the Bayes counts in memory, for every worker */
	struct fp_memory *fpm;      /* fingerprints with evidence, for every worker */
	struct fp_recent *recent;   /* how far each text went today (bulk), for every worker */
	struct sig_history *sigh;   /* closing paragraphs each sender repeats (R7) */
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void job_free(struct job *j)
{
	free(j->data);
	score_verdict_free(&j->res.v);
	rep_mail_ctx_free(j->ctx);
	free(j);
}

/* A message cut at max_size says so: a 0-point symbol, so the log shows
 * why a large message's verdict saw only its beginning. */
static void add_truncated(struct score_verdict *v, size_t len, size_t full_len)
{
	v->symbols = xrealloc(v->symbols, (v->n_symbols + 1) * sizeof(*v->symbols));
	struct score_symbol *s = &v->symbols[v->n_symbols++];
	memset(s, 0, sizeof(*s));
	mw_strlcpy(s->name, "SCAN_TRUNCATED", sizeof(s->name));
	mw_strlcpy(s->group, "scan", sizeof(s->group));
	snprintf(s->reason, sizeof(s->reason), "scanned the first %zu of %zu bytes ([scan] max_size)",
	    len, full_len);
}

/* The mail path: content (with the signature block its sender's history
 * shows), then what the sender and the fingerprints add (rep_mail.h), then
 * the class; then the evidence this message leaves. */
static void scan_mail(struct worker *w, struct job *j)
{
	struct content_limits lim = content_limits_default();
	struct rep_mail_facts f;
	const char *data = j->data ? j->data : "";

	struct content_msg *m = content_parse(data, j->len, &lim);
	if (m == NULL) {
		j->res.ok = 0;
		return;
	}
	rep_mail_signature(w->rep, j->ctx, m);
	score_message_parsed(w->engine, m, data, j->len, &j->res.v);
	rep_mail_check(w->rep, j->ctx, m, data, j->len, &j->res.v, &f);
	if (j->full_len > j->len)
		add_truncated(&j->res.v, j->len, j->full_len);
	score_verdict_finish(&j->res.v, m, &j->th);
	rep_mail_record(w->rep, j->ctx, m, data, j->len, &j->res.v, &j->th, &f);
	rep_mail_facts_clear(&f);
	content_free(m);
	j->res.ok = 1;
}

static void scan_one(struct worker *w, struct job *j)
{
	double t0 = now_ms();

	if (w->pool->sleep_ms > 0) {
		struct timespec ts = { w->pool->sleep_ms / 1000, (w->pool->sleep_ms % 1000) * 1000000 };
		nanosleep(&ts, NULL);
	}
	j->res.token = j->token;
	if (j->ctx != NULL && w->rep != NULL && w->engine != NULL) {
		scan_mail(w, j);
	} else {
		j->res.ok = w->engine != NULL &&
		    score_message_th(w->engine, j->data, j->len, &j->th, &j->res.v) == 0;
		if (j->res.ok && j->full_len > j->len)
			add_truncated(&j->res.v, j->len, j->full_len);
	}
	j->res.ms = now_ms() - t0;
	free(j->data);
	j->data = NULL;
}

static void post(struct score_pool *p, struct job *j)
{
	uint64_t one = 1;

	pthread_mutex_lock(&p->mu);
	if (p->out_tail)
		p->out_tail->next = j;
	else
		p->out_head = j;
	p->out_tail = j;
	pthread_mutex_unlock(&p->mu);
	if (write(p->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_error(NULL, "scan eventfd write error=\"%s\"", strerror(errno));
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct score_pool *p = w->pool;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->in_head == NULL && !p->stopping)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stopping) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		struct job *j = p->in_head;
		p->in_head = j->next;
		if (p->in_head == NULL)
			p->in_tail = NULL;
		p->in_len--;
		p->busy++;
		pthread_mutex_unlock(&p->mu);
		j->next = NULL;
		scan_one(w, j);
		pthread_mutex_lock(&p->mu);
		p->busy--;
		pthread_mutex_unlock(&p->mu);
		post(p, j);
	}
}

static long failpoint_sleep(void)
{
	const char *fp = getenv("MAILWARD_FAILPOINT");
	const char *at = fp ? strstr(fp, "scan_sleep:") : NULL;
	return at ? strtol(at + strlen("scan_sleep:"), NULL, 10) : 0;
}

struct score_pool *score_pool_new(const struct conf *c, char *err, size_t errlen)
{
	struct score_pool *p = xcalloc(1, sizeof(*p));
	struct score_thresholds th = {
		.tag = (double)c->scan_tag / 100.0,
		.probable_spam = (double)c->scan_probable_spam / 100.0,
	};

	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->in_max = (size_t)c->scan_queue;
	p->sleep_ms = failpoint_sleep();
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->efd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		score_pool_free(p);
		return NULL;
	}
	p->n_workers = (size_t)c->scan_workers;
	p->w = xcalloc(p->n_workers, sizeof(*p->w));
	for (size_t i = 0; i < p->n_workers; i++) {
		struct worker *w = &p->w[i];
		w->pool = p;
		/* A scan thread without its store still scans (rules only, with a
		 * BAYES_UNAVAILABLE symbol): the database must not stop mail. */
		w->store = store_open(c, err, errlen);
		if (w->store == NULL)
			log_error(NULL, "scan store-open worker=%zu error=\"%s\"", i, err);
		w->engine = score_engine_new(w->store, &th);
		/* the log of a refused message names the words it was refused on */
		score_engine_set_clue_names(w->engine, 1);
	}
	/* One in-memory copy of the Bayes counts for all workers, reloaded
	 * when training changes the store (docs/bayes.md, "Token snapshot");
	 * loaded now, through a worker's handle before its thread runs, so the
	 * first message does not wait for it. */
	p->bayes = bayes_cache_new(BAYES_CACHE_REFRESH_MS);
	char file[1024];
	conf_path(c, "bayes.snapshot", file, sizeof(file));
	bayes_cache_set_file(p->bayes, file);
	for (size_t i = 0; i < p->n_workers; i++)
		score_engine_set_bayes_cache(p->w[i].engine, p->bayes);
	/* The fingerprints with evidence, loaded once through the first
	 * handle that opened; without them scanning goes on (no symbols). */
	for (size_t i = 0; i < p->n_workers && p->fpm == NULL; i++) {
		char why[256];
		if (p->w[i].store == NULL)
			continue;
		double t0 = now_ms();
		p->fpm = fp_memory_open(p->w[i].store, (size_t)c->rep_fingerprints, why, sizeof(why));
		if (p->fpm == NULL)
			log_error(NULL, "scan fingerprints error=\"%s\"", why);
		else
			log_info(NULL, "scan fingerprints loaded=%zu ms=%.0f", fp_memory_count(p->fpm),
			    now_ms() - t0);
		break;
	}
	p->recent = fp_recent_new((size_t)c->rep_fingerprints * 2);
	p->sigh = sig_history_new((size_t)c->sig_history);
	for (size_t i = 0; i < p->n_workers; i++)
		if (p->w[i].store != NULL)
			p->w[i].rep = rep_mail_new(c, p->w[i].store, p->fpm, p->recent, p->sigh);
	for (size_t i = 0; i < p->n_workers; i++) {
		char why[256];
		double t0 = now_ms();
		if (p->w[i].store == NULL)
			continue;
		if (bayes_cache_reload(p->bayes, p->w[i].store, why, sizeof(why)) != 0)
			log_warn(NULL, "scan bayes-snapshot error=\"%s\" (asking the database per message)",
			    why);
		else {
			struct bayes_snapshot *sn = NULL;
			if (bayes_cache_acquire(p->bayes, p->w[i].store, &sn) == 0 && sn != NULL)
				log_info(NULL, "scan bayes-snapshot tokens=%zu bytes=%zu ms=%.0f",
				    bayes_snapshot_tokens(sn), bayes_snapshot_bytes(sn), now_ms() - t0);
			bayes_snapshot_unref(sn);
		}
		break;
	}
	for (size_t i = 0; i < p->n_workers; i++) {
		int rc = pthread_create(&p->w[i].tid, NULL, worker_main, &p->w[i]);
		if (rc != 0) {
			snprintf(err, errlen, "scan thread: %s", strerror(rc));
			score_pool_free(p);
			return NULL;
		}
		p->n_started++;
	}
	return p;
}

void score_pool_free(struct score_pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; i < p->n_started; i++)
		pthread_join(p->w[i].tid, NULL);
	for (size_t i = 0; i < p->n_workers; i++) {
		score_engine_free(p->w[i].engine);
		rep_mail_free(p->w[i].rep);
		if (p->w[i].store)
			store_close(p->w[i].store);
	}
	bayes_cache_free(p->bayes);
	fp_memory_free(p->fpm);
	fp_recent_free(p->recent);
	sig_history_free(p->sigh);
	free(p->w);
	for (struct job *j = p->in_head, *n; j; j = n) {
		n = j->next;
		job_free(j);
	}
	for (struct job *j = p->out_head, *n; j; j = n) {
		n = j->next;
		job_free(j);
	}
	if (p->efd >= 0)
		close(p->efd);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

int score_pool_full(struct score_pool *p)
{
	pthread_mutex_lock(&p->mu);
	int full = p->in_len + p->busy >= p->in_max + p->n_workers;
	pthread_mutex_unlock(&p->mu);
	return full;
}

int score_pool_submit(struct score_pool *p, uint64_t token, char *data, size_t len,
    size_t full_len, const struct score_thresholds *th, const struct rep_mail_ctx *ctx)
{
	pthread_mutex_lock(&p->mu);
	if (p->in_len + p->busy >= p->in_max + p->n_workers) {
		pthread_mutex_unlock(&p->mu);
		return -1;
	}
	struct job *j = xcalloc(1, sizeof(*j));
	j->token = token;
	j->data = data;
	j->len = len;
	j->full_len = full_len;
	j->th = *th;
	j->ctx = ctx ? rep_mail_ctx_copy(ctx) : NULL;
	if (p->in_tail)
		p->in_tail->next = j;
	else
		p->in_head = j;
	p->in_tail = j;
	p->in_len++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

int score_pool_fd(const struct score_pool *p)
{
	return p->efd;
}

size_t score_pool_drain(struct score_pool *p,
    void (*cb)(const struct score_pool_result *r, void *arg), void *arg)
{
	uint64_t v;
	size_t n = 0;

	if (read(p->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_error(NULL, "scan eventfd read error=\"%s\"", strerror(errno));
	pthread_mutex_lock(&p->mu);
	struct job *list = p->out_head;
	p->out_head = p->out_tail = NULL;
	pthread_mutex_unlock(&p->mu);
	while (list) {
		struct job *j = list;
		list = j->next;
		cb(&j->res, arg);
		job_free(j);
		n++;
	}
	return n;
}

/* ---- verdict text ----------------------------------------------------------- */

void score_symbols_line(const struct score_verdict *v, char *out, size_t cap)
{
	size_t used = 0;

	if (cap == 0)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < v->n_symbols; i++) {
		char item[96];
		int n = snprintf(item, sizeof(item), "%s%s(%.2f)", used ? " " : "", v->symbols[i].name,
		    v->symbols[i].score);
		if (n < 0 || (size_t)n >= cap - used)
			break;
		memcpy(out + used, item, (size_t)n + 1);
		used += (size_t)n;
	}
}

char *score_symbols_text(const struct score_verdict *v)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < v->n_symbols; i++) {
		/* Reasons quote message text: keep the line format intact. */
		char reason[sizeof(v->symbols[i].reason)];
		mw_strlcpy(reason, v->symbols[i].reason, sizeof(reason));
		for (char *c = reason; *c; c++)
			if (*c == '\t' || *c == '\n' || *c == '\r')
				*c = ' ';
		buf_printf(&b, "%s\t%.2f\t%s\n", v->symbols[i].name, v->symbols[i].score, reason);
	}
	if (b.data == NULL)
		return xstrdup("");
	return buf_steal(&b);
}
