/*
 * spool.c - durable message files: writer, group-commit thread, reader,
 * recovery scan.  The format and the commit sequence are described in
 * spool.h and docs/spool.md.
 *
 * Threads: any thread writes its own spool_msg; the commit thread owns the
 * messages handed to it; completions cross back to the event loop through a
 * mutex-protected list plus an eventfd.  Everything mutable lives in
 * struct spool (no globals), including the failpoint flags.
 */
#include "spool/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/refid.h"
#include "base/util.h"
#include "log/log.h"

/* Caps on what the reader accepts.  They bound allocation for a hostile or
 * damaged file; the writer never comes near them. */
#define SPOOL_MAX_FIELD 4096           /* ref, time, client, helo, sender, attr */
#define SPOOL_MAX_RCPT_REC 8192        /* status + 4 fields */
#define SPOOL_MAX_RCPTS 100000
#define SPOOL_MAX_ATTRS 1000
#define SPOOL_MAX_DATA_REC (16u << 20) /* the writer emits <= SPOOL_DATA_CHUNK */
#define SPOOL_MAX_PREPEND (64 * 1024)
#define SPOOL_HDR 5                    /* type(1) + length(4) */
#define SPOOL_END_LEN 12               /* crc(4) + byte count(8) */
#define SPOOL_OUTBUF (64 * 1024)       /* userspace write buffer */
#define SPOOL_DATA_CHUNK (256 * 1024)  /* message bytes per DATA record */

/* Commit threads: each takes whatever is pending as its batch.  Several
 * let batches overlap, so one batch's fsyncs wait on the journal while the
 * next one is already being written (the file system merges concurrent
 * fsyncs into one journal commit). */
#define SPOOL_COMMIT_THREADS 4

struct spool_msg {
	struct spool *sp;
	char qid[QID_LEN + 1];
	char *tmp_path;
	int fd;
	int err;                /* first write error (sticky), 0 = fine */
	uint32_t crc;           /* over the logical stream, status bytes excluded */
	uint64_t count;         /* logical bytes so far */
	unsigned char *out;     /* bytes not yet written to fd */
	size_t out_len;
	unsigned char *data;    /* message bytes not yet framed as a DATA record */
	size_t data_len;
	uint64_t token;
	int finished;           /* 1 = END written out, -1 = finishing failed, 0 = not yet */
	int prepended;          /* the PREPEND record is written: no more data */
	struct spool_msg *next; /* commit queue link */
};

struct completion_node {
	struct spool_completion c;
	struct completion_node *next;
};

struct spool {
	char *dir;
	char *tmp_dir;
	char *queue_dir;
	char *corrupt_dir;
	int do_fsync;
	/* failpoints, read once from MAILWARD_FAILPOINT in spool_open */
	int fail_fsync, fail_rename, fail_dirsync;

	pthread_t threads[SPOOL_COMMIT_THREADS];
	int n_threads;
	pthread_mutex_t mu;          /* guards pending, stopping */
	pthread_cond_t cv;
	struct spool_msg *pending_head, *pending_tail;
	int stopping;

	pthread_mutex_t cmu;         /* guards the completion list */
	struct completion_node *done_head, *done_tail;
	int efd;
};

/* ---- helpers ------------------------------------------------------------ */

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put_be64(unsigned char *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint64_t get_be64(const unsigned char *p)
{
	return ((uint64_t)get_be32(p) << 32) | get_be32(p + 4);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) MW_PRINTF(3, 4);
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* A queue id names a file: [0-9A-Z], bounded, so it can never be a path. */
static int qid_valid(const char *qid)
{
	size_t n = 0;

	for (const char *p = qid; *p; p++, n++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z')))
			return 0;
	}
	return n > 0 && n < sizeof(((struct spool_completion *)0)->qid);
}

static int status_valid(int c)
{
	return c == SPOOL_RCPT_PENDING || c == SPOOL_RCPT_DELIVERED || c == SPOOL_RCPT_BOUNCED ||
	    c == SPOOL_RCPT_EXPIRED || c == SPOOL_RCPT_DROPPED || c == SPOOL_RCPT_QUARANTINED;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int failpoint_listed(const char *list, const char *name)
{
	size_t nl = strlen(name);

	for (const char *p = list; p != NULL && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == nl && memcmp(p, name, nl) == 0)
			return 1;
		p = comma ? comma + 1 : NULL;
	}
	return 0;
}

/* ---- open / close ------------------------------------------------------- */

static void *commit_thread(void *arg);

struct spool *spool_open(const char *spool_dir, int do_fsync, char *err, size_t errlen)
{
	struct spool *sp = xcalloc(1, sizeof(*sp));
	const char *fp = getenv("MAILWARD_FAILPOINT");

	sp->dir = xstrdup(spool_dir);
	sp->tmp_dir = xasprintf("%s/tmp", spool_dir);
	sp->queue_dir = xasprintf("%s/queue", spool_dir);
	sp->corrupt_dir = xasprintf("%s/corrupt", spool_dir);
	sp->do_fsync = do_fsync;
	sp->fail_fsync = failpoint_listed(fp, "spool_fsync");
	sp->fail_rename = failpoint_listed(fp, "spool_rename");
	sp->fail_dirsync = failpoint_listed(fp, "spool_dirsync");
	sp->efd = -1;

	const char *dirs[] = { sp->dir, sp->tmp_dir, sp->queue_dir, sp->corrupt_dir };
	for (size_t i = 0; i < MW_ARRAY_LEN(dirs); i++) {
		if (mw_mkdir_p(dirs[i], 0700) < 0) {
			set_err(err, errlen, "%s: %s", dirs[i], strerror(errno));
			goto fail;
		}
	}
	sp->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sp->efd < 0) {
		set_err(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	pthread_mutex_init(&sp->mu, NULL);
	pthread_cond_init(&sp->cv, NULL);
	pthread_mutex_init(&sp->cmu, NULL);
	for (int i = 0; i < SPOOL_COMMIT_THREADS; i++) {
		int rc = pthread_create(&sp->threads[i], NULL, commit_thread, sp);
		if (rc != 0) {
			set_err(err, errlen, "pthread_create: %s", strerror(rc));
			pthread_mutex_lock(&sp->mu);
			sp->stopping = 1;
			pthread_cond_broadcast(&sp->cv);
			pthread_mutex_unlock(&sp->mu);
			for (int j = 0; j < sp->n_threads; j++)
				pthread_join(sp->threads[j], NULL);
			pthread_mutex_destroy(&sp->mu);
			pthread_cond_destroy(&sp->cv);
			pthread_mutex_destroy(&sp->cmu);
			goto fail;
		}
		sp->n_threads++;
	}
	return sp;
fail:
	if (sp->efd >= 0)
		close(sp->efd);
	free(sp->dir);
	free(sp->tmp_dir);
	free(sp->queue_dir);
	free(sp->corrupt_dir);
	free(sp);
	return NULL;
}

void spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	pthread_mutex_lock(&sp->mu);
	sp->stopping = 1;
	pthread_cond_broadcast(&sp->cv);
	pthread_mutex_unlock(&sp->mu);
	for (int i = 0; i < sp->n_threads; i++)
		pthread_join(sp->threads[i], NULL);

	for (struct completion_node *n = sp->done_head, *next; n != NULL; n = next) {
		next = n->next;
		free(n);
	}
	pthread_mutex_destroy(&sp->mu);
	pthread_cond_destroy(&sp->cv);
	pthread_mutex_destroy(&sp->cmu);
	close(sp->efd);
	free(sp->dir);
	free(sp->tmp_dir);
	free(sp->queue_dir);
	free(sp->corrupt_dir);
	free(sp);
}

const char *spool_dir_queue(const struct spool *sp)
{
	return sp->queue_dir;
}

/* ---- writer ------------------------------------------------------------- */

static int out_flush(struct spool_msg *m)
{
	if (m->err != 0)
		return -1;
	if (m->out_len > 0 && write_all(m->fd, m->out, m->out_len) < 0) {
		m->err = errno;
		return -1;
	}
	m->out_len = 0;
	return 0;
}

/* Append bytes to the file stream; in_crc = 0 for the status byte only. */
static int out_append(struct spool_msg *m, const void *p, size_t n, int in_crc)
{
	if (m->err != 0)
		return -1;
	if (in_crc)
		m->crc = mw_crc32(m->crc, p, n);
	m->count += n;
	if (m->out_len + n > SPOOL_OUTBUF) {
		if (out_flush(m) < 0)
			return -1;
		if (n >= SPOOL_OUTBUF) {
			/* Large payload: straight to the file, no extra copy. */
			if (write_all(m->fd, p, n) < 0) {
				m->err = errno;
				return -1;
			}
			return 0;
		}
	}
	memcpy(m->out + m->out_len, p, n);
	m->out_len += n;
	return 0;
}

static int rec_header(struct spool_msg *m, int type, size_t len)
{
	unsigned char h[SPOOL_HDR];

	h[0] = (unsigned char)type;
	put_be32(h + 1, (uint32_t)len);
	return out_append(m, h, sizeof(h), 1);
}

static int rec_str(struct spool_msg *m, int type, const char *s)
{
	size_t n = strlen(s);

	if (n > SPOOL_MAX_FIELD) {
		m->err = EINVAL;
		return -1;
	}
	if (rec_header(m, type, n) < 0)
		return -1;
	return out_append(m, s, n, 1);
}

static int rec_rcpt(struct spool_msg *m, const struct spool_envelope_rcpt *r)
{
	const char *f[4] = { r->rcpt, r->original ? r->original : r->rcpt,
		r->tenant ? r->tenant : "", r->deliver ? r->deliver : "" };
	size_t len = 1 + 3;
	char st = r->status ? r->status : SPOOL_RCPT_PENDING;

	if (r->rcpt == NULL || r->rcpt[0] == '\0' || !status_valid((unsigned char)st)) {
		m->err = EINVAL;
		return -1;
	}
	for (int i = 0; i < 4; i++)
		len += strlen(f[i]);
	if (len > SPOOL_MAX_RCPT_REC) {
		m->err = EINVAL;
		return -1;
	}
	if (rec_header(m, SPOOL_REC_RCPT, len) < 0 || out_append(m, &st, 1, 0) < 0)
		return -1;
	for (int i = 0; i < 4; i++) {
		if (out_append(m, f[i], strlen(f[i]) + (i < 3 ? 1 : 0), 1) < 0)
			return -1;
	}
	return 0;
}

static void msg_free(struct spool_msg *m)
{
	if (m->fd >= 0)
		close(m->fd);
	free(m->tmp_path);
	free(m->out);
	free(m->data);
	free(m);
}

struct spool_msg *spool_msg_new(struct spool *sp, const struct spool_envelope *env, char *qid_out)
{
	struct spool_msg *m = xcalloc(1, sizeof(*m));
	char tbuf[32];

	m->sp = sp;
	m->fd = -1;
	refgen_next_qid(m->qid);
	m->tmp_path = xasprintf("%s/%s", sp->tmp_dir, m->qid);
	m->fd = open(m->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (m->fd < 0) {
		log_error(env->ref, "spool create qid=%s error=\"%s\"", m->qid, strerror(errno));
		msg_free(m);
		return NULL;
	}
	m->out = xmalloc(SPOOL_OUTBUF);
	m->data = xmalloc(SPOOL_DATA_CHUNK);

	if (env->n_rcpts == 0 || env->n_rcpts > SPOOL_MAX_RCPTS || env->n_attrs > SPOOL_MAX_ATTRS)
		m->err = EINVAL;
	snprintf(tbuf, sizeof(tbuf), "%lld", (long long)(env->arrival < 0 ? 0 : env->arrival));
	rec_str(m, SPOOL_REC_VERSION, "1");
	rec_str(m, SPOOL_REC_REF, env->ref ? env->ref : "");
	rec_str(m, SPOOL_REC_TIME, tbuf);
	rec_str(m, SPOOL_REC_CLIENT, env->client_ip ? env->client_ip : "");
	rec_str(m, SPOOL_REC_HELO, env->helo ? env->helo : "");
	rec_str(m, SPOOL_REC_SENDER, env->sender ? env->sender : "");
	for (size_t i = 0; i < env->n_rcpts && m->err == 0; i++)
		rec_rcpt(m, &env->rcpts[i]);
	for (size_t i = 0; i < env->n_attrs && m->err == 0; i++) {
		if (env->attrs[i] == NULL || strchr(env->attrs[i], '=') == NULL)
			m->err = EINVAL;
		else
			rec_str(m, SPOOL_REC_ATTR, env->attrs[i]);
	}
	if (m->err != 0) {
		log_error(env->ref, "spool envelope qid=%s error=\"%s\"", m->qid, strerror(m->err));
		spool_msg_abort(m);
		return NULL;
	}
	if (qid_out != NULL)
		memcpy(qid_out, m->qid, QID_LEN + 1);
	return m;
}

static int data_flush(struct spool_msg *m)
{
	if (m->data_len == 0)
		return m->err ? -1 : 0;
	if (rec_header(m, SPOOL_REC_DATA, m->data_len) < 0 ||
	    out_append(m, m->data, m->data_len, 1) < 0)
		return -1;
	m->data_len = 0;
	return 0;
}

int spool_msg_write(struct spool_msg *m, const void *data, size_t len)
{
	const char *p = data;

	if (m->prepended) {
		m->err = EINVAL;
		return -1;
	}
	/* Message bytes are framed in SPOOL_DATA_CHUNK records however the
	 * caller slices them, so per-line writes cost no per-record overhead. */
	while (len > 0) {
		if (m->err != 0)
			return -1;
		size_t n = SPOOL_DATA_CHUNK - m->data_len;
		if (n > len)
			n = len;
		memcpy(m->data + m->data_len, p, n);
		m->data_len += n;
		p += n;
		len -= n;
		if (m->data_len == SPOOL_DATA_CHUNK && data_flush(m) < 0)
			return -1;
	}
	return m->err ? -1 : 0;
}

int spool_msg_attr(struct spool_msg *m, const char *attr)
{
	if (m->prepended || strchr(attr, '=') == NULL) {
		m->err = EINVAL;
		return -1;
	}
	if (data_flush(m) < 0)
		return -1;
	return rec_str(m, SPOOL_REC_ATTR, attr);
}

int spool_msg_prepend(struct spool_msg *m, const void *hdrs, size_t len)
{
	if (m->prepended || len > SPOOL_MAX_PREPEND) {
		m->err = EINVAL;
		return -1;
	}
	if (data_flush(m) < 0 || rec_header(m, SPOOL_REC_PREPEND, len) < 0 ||
	    out_append(m, hdrs, len, 1) < 0)
		return -1;
	m->prepended = 1;
	return 0;
}

void spool_msg_abort(struct spool_msg *m)
{
	if (m == NULL)
		return;
	if (m->fd >= 0) {
		close(m->fd);
		m->fd = -1;
	}
	unlink(m->tmp_path);
	msg_free(m);
}

/* Frame the rest, append END, write everything out. */
static int msg_finish(struct spool_msg *m)
{
	unsigned char end[SPOOL_HDR + SPOOL_END_LEN];

	if (data_flush(m) < 0)
		return -1;
	uint32_t crc_before = m->crc;
	uint64_t count_before = m->count;
	end[0] = SPOOL_REC_END;
	put_be32(end + 1, SPOOL_END_LEN);
	put_be32(end + 5, crc_before);
	put_be64(end + 9, count_before);
	if (out_append(m, end, sizeof(end), 1) < 0 || out_flush(m) < 0)
		return -1;
	return 0;
}

/* Steps before the directory sync: finish, fsync, close, rename.  On
 * failure nothing is left behind and m->err says why. */
static int msg_commit_file(struct spool *sp, struct spool_msg *m)
{
	char *dst = NULL;

	if (m->finished == 0)
		m->finished = msg_finish(m) < 0 ? -1 : 1;
	if (m->finished < 0)
		goto fail;
	if (sp->fail_fsync) {
		m->err = EIO;
		goto fail;
	}
	if (sp->do_fsync && fsync(m->fd) < 0) {
		m->err = errno;
		goto fail;
	}
	if (close(m->fd) < 0) {
		m->fd = -1;
		m->err = errno;
		goto fail;
	}
	m->fd = -1;
	if (sp->fail_rename) {
		m->err = EIO;
		goto fail;
	}
	dst = xasprintf("%s/%s", sp->queue_dir, m->qid);
	if (rename(m->tmp_path, dst) < 0) {
		m->err = errno;
		goto fail;
	}
	free(dst);
	return 0;
fail:
	free(dst);
	if (m->err == 0)
		m->err = EIO;
	if (m->fd >= 0) {
		close(m->fd);
		m->fd = -1;
	}
	unlink(m->tmp_path);
	return -1;
}

static int queue_dir_sync(struct spool *sp)
{
	if (sp->fail_dirsync) {
		errno = EIO;
		return -1;
	}
	if (sp->do_fsync && mw_fsync_dir(sp->queue_dir) < 0)
		return -1;
	return 0;
}

/* The directory sync failed after the rename: the entry may or may not be
 * durable, and the client is told 4xx, so take the file back out. */
static void unlink_committed(struct spool *sp, const char *qid)
{
	char *dst = xasprintf("%s/%s", sp->queue_dir, qid);

	unlink(dst);
	free(dst);
}

int spool_commit_now(struct spool *sp, struct spool_msg *m)
{
	int rc = 0, err = 0;

	if (msg_commit_file(sp, m) < 0) {
		err = m->err;
		rc = -1;
	} else if (queue_dir_sync(sp) < 0) {
		err = errno ? errno : EIO;
		unlink_committed(sp, m->qid);
		rc = -1;
	}
	if (rc < 0)
		log_error(NULL, "spool commit qid=%s error=\"%s\"", m->qid, strerror(err));
	msg_free(m);
	if (rc < 0)
		errno = err;
	return rc;
}

/* ---- commit thread ------------------------------------------------------ */

void spool_commit_submit(struct spool *sp, struct spool_msg *m, uint64_t token)
{
	m->token = token;
	m->next = NULL;
	pthread_mutex_lock(&sp->mu);
	if (sp->pending_tail != NULL)
		sp->pending_tail->next = m;
	else
		sp->pending_head = m;
	sp->pending_tail = m;
	pthread_cond_signal(&sp->cv);
	pthread_mutex_unlock(&sp->mu);
}

static void post_completions(struct spool *sp, struct completion_node *head, struct completion_node *tail)
{
	uint64_t one = 1;

	if (head == NULL)
		return;
	pthread_mutex_lock(&sp->cmu);
	if (sp->done_tail != NULL)
		sp->done_tail->next = head;
	else
		sp->done_head = head;
	sp->done_tail = tail;
	pthread_mutex_unlock(&sp->cmu);
	/* EAGAIN only when the counter is saturated, and then it is readable anyway. */
	if (write(sp->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_error(NULL, "spool eventfd write error=\"%s\"", strerror(errno));
}

static void commit_batch(struct spool *sp, struct spool_msg *batch)
{
	struct completion_node *head = NULL, *tail = NULL;
	size_t n_ok = 0;
	int dir_err = 0;

	/* Start writeback of every file of the batch before the first fsync: the
	 * block allocations then land in one journal commit, and the fsyncs
	 * after the first find little left to do. */
	for (struct spool_msg *m = batch; m != NULL; m = m->next) {
		m->finished = msg_finish(m) < 0 ? -1 : 1;
		if (m->finished > 0 && sp->do_fsync)
			(void)sync_file_range(m->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	}
	for (struct spool_msg *m = batch; m != NULL; m = m->next) {
		if (msg_commit_file(sp, m) == 0)
			n_ok++;
		else
			log_error(NULL, "spool commit qid=%s error=\"%s\"", m->qid, strerror(m->err));
	}
	/* Group commit: one directory sync makes every rename of the batch durable. */
	if (n_ok > 0 && queue_dir_sync(sp) < 0) {
		dir_err = errno ? errno : EIO;
		log_error(NULL, "spool dirsync batch=%zu error=\"%s\"", n_ok, strerror(dir_err));
	}
	for (struct spool_msg *m = batch, *next; m != NULL; m = next) {
		next = m->next;
		struct completion_node *c = xcalloc(1, sizeof(*c));
		c->c.token = m->token;
		memcpy(c->c.qid, m->qid, sizeof(m->qid));
		if (m->err == 0 && dir_err != 0) {
			unlink_committed(sp, m->qid);
			m->err = dir_err;
		}
		c->c.ok = m->err == 0;
		c->c.err = m->err;
		if (tail != NULL)
			tail->next = c;
		else
			head = c;
		tail = c;
		msg_free(m);
	}
	post_completions(sp, head, tail);
}

static void *commit_thread(void *arg)
{
	struct spool *sp = arg;

	pthread_mutex_lock(&sp->mu);
	for (;;) {
		while (sp->pending_head == NULL && !sp->stopping)
			pthread_cond_wait(&sp->cv, &sp->mu);
		if (sp->pending_head == NULL)
			break; /* stopping and drained */
		/* Take everything that queued up while the last batch was syncing. */
		struct spool_msg *batch = sp->pending_head;
		sp->pending_head = sp->pending_tail = NULL;
		pthread_mutex_unlock(&sp->mu);
		commit_batch(sp, batch);
		pthread_mutex_lock(&sp->mu);
	}
	pthread_mutex_unlock(&sp->mu);
	return NULL;
}

int spool_completion_fd(const struct spool *sp)
{
	return sp->efd;
}

size_t spool_completions_drain(struct spool *sp, void (*cb)(const struct spool_completion *c, void *arg), void *arg)
{
	uint64_t v;
	size_t n = 0;

	/* Reset the counter first: a completion posted after this read makes
	 * the fd readable again, so none is missed. */
	if (read(sp->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_error(NULL, "spool eventfd read error=\"%s\"", strerror(errno));
	pthread_mutex_lock(&sp->cmu);
	struct completion_node *list = sp->done_head;
	sp->done_head = sp->done_tail = NULL;
	pthread_mutex_unlock(&sp->cmu);
	for (struct completion_node *c = list, *next; c != NULL; c = next) {
		next = c->next;
		if (cb != NULL)
			cb(&c->c, arg);
		free(c);
		n++;
	}
	return n;
}

/* ---- reader ------------------------------------------------------------- */

/* A byte source: a memory buffer (fuzzing) or a file read with pread in
 * chunks (delivery: messages can be large, workers keep small stacks). */
struct rd {
	const unsigned char *mem;
	int fd;
	uint64_t size;
	uint64_t pos;
	uint32_t crc;
	unsigned char *chunk;   /* heap scratch for skipping DATA from a file */
};

static int rd_pread(struct rd *r, void *dst, size_t n, uint64_t off)
{
	if (r->mem != NULL) {
		memcpy(dst, r->mem + off, n);
		return 0;
	}
	char *p = dst;
	while (n > 0) {
		ssize_t got = pread(r->fd, p, n, (off_t)off);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (got == 0) {
			errno = EIO; /* shrank under us */
			return -1;
		}
		p += got;
		n -= (size_t)got;
		off += (uint64_t)got;
	}
	return 0;
}

/* Read n bytes (caller checked they exist), fold into the CRC if in_crc. */
static int rd_read(struct rd *r, void *dst, size_t n, int in_crc)
{
	if (rd_pread(r, dst, n, r->pos) < 0)
		return -1;
	if (in_crc)
		r->crc = mw_crc32(r->crc, dst, n);
	r->pos += n;
	return 0;
}

/* CRC over n bytes without keeping them. */
static int rd_skip(struct rd *r, uint64_t n)
{
	if (r->mem != NULL) {
		r->crc = mw_crc32(r->crc, r->mem + r->pos, (size_t)n);
		r->pos += n;
		return 0;
	}
	if (r->chunk == NULL)
		r->chunk = xmalloc(SPOOL_OUTBUF);
	while (n > 0) {
		size_t k = n > SPOOL_OUTBUF ? SPOOL_OUTBUF : (size_t)n;
		if (rd_read(r, r->chunk, k, 1) < 0)
			return -1;
		n -= k;
	}
	return 0;
}

static char *field_dup(const char *p, size_t n)
{
	return xstrndup(p, n);
}

void spool_file_close(struct spool_file *f)
{
	if (f == NULL)
		return;
	if (f->fd >= 0)
		close(f->fd);
	free(f->ref);
	free(f->client_ip);
	free(f->helo);
	free(f->sender);
	for (size_t i = 0; i < f->n_rcpts; i++) {
		free(f->rcpts[i].rcpt);
		free(f->rcpts[i].original);
		free(f->rcpts[i].tenant);
		free(f->rcpts[i].deliver);
	}
	free(f->rcpts);
	for (size_t i = 0; i < f->n_attrs; i++)
		free(f->attrs[i]);
	free(f->attrs);
	free(f);
}

static int parse_rcpt(struct spool_file *f, const unsigned char *p, size_t len, int64_t status_off)
{
	const char *s[4];
	size_t l[4];
	const char *cur = (const char *)p + 1;
	const char *end = (const char *)p + len;

	if (len < 4 || !status_valid(p[0]))
		return -1;
	for (int i = 0; i < 4; i++) {
		const char *z = i < 3 ? memchr(cur, '\0', (size_t)(end - cur)) : end;
		if (z == NULL)
			return -1;
		s[i] = cur;
		l[i] = (size_t)(z - cur);
		cur = z + (i < 3 ? 1 : 0);
	}
	/* The last field has no terminator: a NUL inside it is damage. */
	if (l[0] == 0 || memchr(s[3], '\0', l[3]) != NULL)
		return -1;
	if (f->n_rcpts >= SPOOL_MAX_RCPTS)
		return -1;
	if ((f->n_rcpts & (f->n_rcpts - 1)) == 0) {
		size_t cap = f->n_rcpts ? f->n_rcpts * 2 : 1;
		f->rcpts = xrealloc(f->rcpts, cap * sizeof(*f->rcpts));
	}
	struct spool_rcpt *r = &f->rcpts[f->n_rcpts++];
	r->rcpt = field_dup(s[0], l[0]);
	r->original = field_dup(s[1], l[1]);
	r->tenant = field_dup(s[2], l[2]);
	r->deliver = field_dup(s[3], l[3]);
	r->status = (char)p[0];
	r->status_offset = status_off;
	return 0;
}

static int parse_time(const unsigned char *p, size_t len, int64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 19)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (v > INT64_MAX)
		return -1;
	*out = (int64_t)v;
	return 0;
}

/* Parse and verify a whole file.  Every length is checked against the
 * bytes that remain before anything is read or allocated. */
static int parse_file(struct rd *r, struct spool_file *f, const char **why)
{
	unsigned char hdr[SPOOL_HDR];
	unsigned char *pl = xmalloc(SPOOL_MAX_RCPT_REC + 1);
	char **single[] = { &f->ref, &f->client_ip, &f->helo, &f->sender };
	const int single_type[] = { SPOOL_REC_REF, SPOOL_REC_CLIENT, SPOOL_REC_HELO, SPOOL_REC_SENDER };
	int seen_time = 0, in_data = 0, prepended = 0, post_attr = 0, rc = -1;

	*why = "truncated";
	for (uint64_t nrec = 0;; nrec++) {
		if (r->size - r->pos < SPOOL_HDR) {
			*why = r->pos == r->size ? "no END record" : "truncated record header";
			goto out;
		}
		uint64_t rec_start = r->pos;
		uint32_t crc_before = r->crc;
		if (rd_read(r, hdr, SPOOL_HDR, 1) < 0) {
			*why = "read error";
			goto out;
		}
		int type = hdr[0];
		uint32_t len = get_be32(hdr + 1);
		if (len > r->size - r->pos) {
			*why = "record longer than file";
			goto out;
		}
		if (nrec == 0 && type != SPOOL_REC_VERSION) {
			*why = "no VERSION record";
			goto out;
		}
		if (type == SPOOL_REC_END) {
			if (len != SPOOL_END_LEN || rd_read(r, pl, SPOOL_END_LEN, 0) < 0) {
				*why = "bad END record";
				goto out;
			}
			if (get_be32(pl) != crc_before || get_be64(pl + 4) != rec_start) {
				*why = "checksum mismatch";
				goto out;
			}
			if (r->pos != r->size) {
				*why = "bytes after END record";
				goto out;
			}
			break;
		}
		if (prepended) {
			*why = "record after PREPEND";
			goto out;
		}
		if (type == SPOOL_REC_PREPEND) {
			if (len > SPOOL_MAX_PREPEND) {
				*why = "PREPEND record too long";
				goto out;
			}
			if (!in_data)
				f->data_offset = (int64_t)rec_start;
			in_data = 1;
			prepended = 1;
			f->prepend_offset = (int64_t)r->pos;
			f->prepend_len = len;
			if (rd_skip(r, len) < 0) {
				*why = "read error";
				goto out;
			}
			continue;
		}
		if (type == SPOOL_REC_DATA) {
			if (post_attr) {
				*why = "DATA after a post-data ATTR";
				goto out;
			}
			if (len > SPOOL_MAX_DATA_REC) {
				*why = "DATA record too long";
				goto out;
			}
			if (!in_data)
				f->data_offset = (int64_t)rec_start;
			in_data = 1;
			f->data_len += len;
			if (rd_skip(r, len) < 0) {
				*why = "read error";
				goto out;
			}
			continue;
		}
		if (in_data && type != SPOOL_REC_ATTR) {
			*why = "envelope record after DATA";
			goto out;
		}
		post_attr |= in_data;
		size_t cap = type == SPOOL_REC_RCPT ? SPOOL_MAX_RCPT_REC : SPOOL_MAX_FIELD;
		if (len > cap) {
			*why = "record too long";
			goto out;
		}
		int64_t status_off = (int64_t)r->pos;
		if (type == SPOOL_REC_RCPT) {
			/* The status byte is the one mutable byte: outside the CRC. */
			if (len == 0 || rd_read(r, pl, 1, 0) < 0 || rd_read(r, pl + 1, len - 1, 1) < 0) {
				*why = len == 0 ? "bad RCPT record" : "read error";
				goto out;
			}
		} else if (rd_read(r, pl, len, 1) < 0) {
			*why = "read error";
			goto out;
		}
		pl[len] = '\0';
		switch (type) {
		case SPOOL_REC_VERSION:
			if (nrec != 0 || len != 1 || pl[0] != '1') {
				*why = "bad VERSION record";
				goto out;
			}
			break;
		case SPOOL_REC_TIME:
			if (seen_time || parse_time(pl, len, &f->arrival) < 0) {
				*why = "bad TIME record";
				goto out;
			}
			seen_time = 1;
			break;
		case SPOOL_REC_REF:
		case SPOOL_REC_CLIENT:
		case SPOOL_REC_HELO:
		case SPOOL_REC_SENDER:
			for (size_t i = 0; i < MW_ARRAY_LEN(single_type); i++) {
				if (single_type[i] != type)
					continue;
				if (*single[i] != NULL || memchr(pl, '\0', len) != NULL) {
					*why = "bad or repeated envelope record";
					goto out;
				}
				*single[i] = field_dup((const char *)pl, len);
			}
			break;
		case SPOOL_REC_RCPT:
			if (parse_rcpt(f, pl, len, status_off) < 0) {
				*why = "bad RCPT record";
				goto out;
			}
			break;
		case SPOOL_REC_ATTR:
			if (f->n_attrs >= SPOOL_MAX_ATTRS || memchr(pl, '\0', len) != NULL ||
			    memchr(pl, '=', len) == NULL) {
				*why = "bad ATTR record";
				goto out;
			}
			if ((f->n_attrs & (f->n_attrs - 1)) == 0)
				f->attrs = xrealloc(f->attrs, (f->n_attrs ? f->n_attrs * 2 : 1) * sizeof(*f->attrs));
			f->attrs[f->n_attrs++] = field_dup((const char *)pl, len);
			break;
		default:
			*why = "unknown record type";
			goto out;
		}
	}
	if (!seen_time || f->ref == NULL || f->client_ip == NULL || f->helo == NULL ||
	    f->sender == NULL || f->n_rcpts == 0) {
		*why = "missing envelope record";
		goto out;
	}
	if (!in_data)
		f->data_offset = (int64_t)(r->size - SPOOL_HDR - SPOOL_END_LEN);
	rc = 0;
out:
	free(pl);
	free(r->chunk);
	r->chunk = NULL;
	return rc;
}

static struct spool_file *file_new(void)
{
	struct spool_file *f = xcalloc(1, sizeof(*f));

	f->fd = -1;
	return f;
}

int spool_verify_bytes(const unsigned char *buf, size_t len)
{
	struct rd r = { .mem = buf, .fd = -1, .size = len };
	const char *why;

	/* mem == NULL would mean "read from fd" to the reader. */
	if (buf == NULL)
		return -1;
	struct spool_file *f = file_new();
	int rc = parse_file(&r, f, &why);

	spool_file_close(f);
	return rc;
}

int spool_file_open_path(const char *path, struct spool_file **out, char *err, size_t errlen)
{
	struct stat st;
	const char *why = NULL;
	/* O_NOFOLLOW: a symlink planted in queue/ is never followed. */
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

	*out = NULL;
	if (fd < 0) {
		int e = errno;
		set_err(err, errlen, "open: %s", strerror(e));
		errno = e;
		return e == ENOENT ? 1 : -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		set_err(err, errlen, "%s", "not a regular file");
		close(fd);
		return -1;
	}
	struct spool_file *f = file_new();
	struct rd r = { .mem = NULL, .fd = fd, .size = (uint64_t)st.st_size };
	const char *base = strrchr(path, '/');
	mw_strlcpy(f->qid, base ? base + 1 : path, sizeof(f->qid));
	if (parse_file(&r, f, &why) < 0) {
		set_err(err, errlen, "%s", why);
		close(fd);
		spool_file_close(f);
		return -1;
	}
	f->fd = fd;
	*out = f;
	return 0;
}

int spool_file_open(struct spool *sp, const char *qid, struct spool_file **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!qid_valid(qid)) {
		set_err(err, errlen, "%s", "bad queue id");
		return -1;
	}
	char *path = xasprintf("%s/%s", sp->queue_dir, qid);
	int rc = spool_file_open_path(path, out, err, errlen);
	free(path);
	return rc;
}

int spool_file_read_data(struct spool_file *f, char **data, size_t *n)
{
	unsigned char hdr[SPOOL_HDR];
	struct rd r = { .mem = NULL, .fd = f->fd, .pos = (uint64_t)f->data_offset };
	char *buf = xmalloc((size_t)f->prepend_len + (size_t)f->data_len + 1);
	uint64_t got = 0;
	const size_t pre = (size_t)f->prepend_len;

	*data = NULL;
	*n = 0;
	/* The file was verified at open; still check every length so that a
	 * file changed behind our back cannot make us write past buf. */
	for (;;) {
		if (rd_pread(&r, hdr, SPOOL_HDR, r.pos) < 0)
			goto fail;
		r.pos += SPOOL_HDR;
		uint32_t len = get_be32(hdr + 1);
		if (hdr[0] == SPOOL_REC_END || hdr[0] == SPOOL_REC_PREPEND)
			break;
		if (hdr[0] == SPOOL_REC_ATTR) {
			r.pos += len;        /* a decision recorded after the data */
			continue;
		}
		if (hdr[0] != SPOOL_REC_DATA || len > (uint64_t)f->data_len - got) {
			errno = EIO;
			goto fail;
		}
		if (rd_pread(&r, buf + pre + got, len, r.pos) < 0)
			goto fail;
		r.pos += len;
		got += len;
	}
	if (got != (uint64_t)f->data_len) {
		errno = EIO;
		goto fail;
	}
	if (pre > 0 && rd_pread(&r, buf, pre, (uint64_t)f->prepend_offset) < 0)
		goto fail;
	buf[pre + got] = '\0';
	*data = buf;
	*n = pre + (size_t)got;
	return 0;
fail:
	free(buf);
	return -1;
}

int spool_file_mark(struct spool_file *f, size_t i, char status, int do_fsync)
{
	if (i >= f->n_rcpts || !status_valid((unsigned char)status) || f->fd < 0) {
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		ssize_t w = pwrite(f->fd, &status, 1, (off_t)f->rcpts[i].status_offset);
		if (w == 1)
			break;
		if (w < 0 && errno == EINTR)
			continue;
		if (w >= 0)
			errno = EIO;
		return -1;
	}
	/* fdatasync: only the byte changed, not the size - no metadata needed. */
	if (do_fsync && fdatasync(f->fd) < 0)
		return -1;
	f->rcpts[i].status = status;
	return 0;
}

const char *spool_file_attr(const struct spool_file *f, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < f->n_attrs; i++) {
		if (strncmp(f->attrs[i], name, nl) == 0 && f->attrs[i][nl] == '=')
			return f->attrs[i] + nl + 1;
	}
	return NULL;
}

/* No directory sync: if the unlink is lost in a crash the file comes back
 * with every recipient marked done, and the queue removes it again. */
int spool_remove(struct spool *sp, const char *qid)
{
	if (!qid_valid(qid)) {
		errno = EINVAL;
		return -1;
	}
	char *path = xasprintf("%s/%s", sp->queue_dir, qid);
	int rc = unlink(path);
	free(path);
	return rc < 0 ? -1 : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in dir (no dot entries); sorted so scans are deterministic. */
static int list_dir(const char *dir, char ***names, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t cap = 0;

	*names = NULL;
	*n = 0;
	if (d == NULL)
		return -1;
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*names = xrealloc(*names, cap * sizeof(**names));
		}
		(*names)[(*n)++] = xstrdup(de->d_name);
	}
	int e = errno;
	closedir(d);
	if (e != 0) {
		for (size_t i = 0; i < *n; i++)
			free((*names)[i]);
		free(*names);
		*names = NULL;
		*n = 0;
		errno = e;
		return -1;
	}
	if (*n > 1)
		qsort(*names, *n, sizeof(**names), cmp_str);
	return 0;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int spool_list(struct spool *sp, char ***qids, size_t *n)
{
	char **names;
	size_t k, j = 0;

	*qids = NULL;
	*n = 0;
	if (list_dir(sp->queue_dir, &names, &k) < 0)
		return -1;
	for (size_t i = 0; i < k; i++) {
		if (qid_valid(names[i]))
			names[j++] = names[i];
		else
			free(names[i]);
	}
	*qids = names;
	*n = j;
	return 0;
}

int spool_recover(struct spool *sp, void (*found)(const char *qid, void *arg), void *arg)
{
	char **names;
	size_t n;
	int moved = 0;
	char err[128];

	/* tmp/ holds only files whose commit never finished: no client was
	 * told 250 for them, so they go. */
	if (list_dir(sp->tmp_dir, &names, &n) < 0) {
		log_error(NULL, "spool recover dir=%s error=\"%s\"", sp->tmp_dir, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char *p = xasprintf("%s/%s", sp->tmp_dir, names[i]);
		if (unlink(p) < 0)
			log_warn(NULL, "spool recover unlink=%s error=\"%s\"", p, strerror(errno));
		else
			log_info(NULL, "spool recover removed_tmp=%s", names[i]);
		free(p);
	}
	free_names(names, n);

	if (list_dir(sp->queue_dir, &names, &n) < 0) {
		log_error(NULL, "spool recover dir=%s error=\"%s\"", sp->queue_dir, strerror(errno));
		return -1;
	}
	char **good = xcalloc(n ? n : 1, sizeof(*good));
	size_t n_good = 0;
	for (size_t i = 0; i < n; i++) {
		struct spool_file *f = NULL;
		char *p = xasprintf("%s/%s", sp->queue_dir, names[i]);
		char esc[96];
		int rc = qid_valid(names[i]) ? spool_file_open_path(p, &f, err, sizeof(err)) : -1;
		if (!qid_valid(names[i]))
			mw_strlcpy(err, "bad file name", sizeof(err));
		if (rc == 0) {
			spool_file_close(f);
			good[n_good++] = names[i];
			names[i] = NULL;
		} else if (rc < 0) {
			/* rename moves the entry itself: a symlink or directory
			 * is set aside without being followed. */
			char *dst = xasprintf("%s/%s", sp->corrupt_dir, names[i]);
			log_escape(names[i], esc, sizeof(esc));
			if (rename(p, dst) < 0) {
				log_error(NULL, "spool recover qid=%s reason=\"%s\" move_error=\"%s\"",
				    esc, err, strerror(errno));
			} else {
				log_warn(NULL, "spool corrupt qid=%s reason=\"%s\" moved_to=corrupt/", esc, err);
				moved++;
			}
			free(dst);
		}
		free(p);
	}
	free_names(names, n);
	if (moved > 0 && (mw_fsync_dir(sp->queue_dir) < 0 || mw_fsync_dir(sp->corrupt_dir) < 0))
		log_warn(NULL, "spool recover dirsync error=\"%s\"", strerror(errno));
	for (size_t i = 0; i < n_good; i++) {
		if (found != NULL)
			found(good[i], arg);
	}
	free_names(good, n_good);
	return moved;
}
