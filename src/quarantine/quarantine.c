/* quarantine.c - see quarantine.h. */
#include "quarantine/quarantine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/refid.h"
#include "base/timeparse.h"
#include "base/util.h"
#include "conf/conf.h"
#include "log/log.h"
#include "spool/spool.h"
#include "store/store.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static void file_path(const struct conf *c, const char *qid, const char *suffix, char *out,
    size_t n)
{
	char dir[1024];

	conf_path(c, "quarantine", dir, sizeof(dir));
	snprintf(out, n, "%s/%s.eml%s", dir, qid, suffix);
}

/* Queue ids are made by refgen (letters and digits); anything else in a
 * spool file or a store row must not become a path. */
static int qid_ok(const char *qid)
{
	size_t n = strlen(qid);
	return n > 0 && n < 40 && strspn(qid, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == n;
}

static int write_durable(const struct conf *c, const char *qid, const char *data, size_t len,
    char *err, size_t errlen)
{
	char dir[1024], tmp[1200], path[1200];

	conf_path(c, "quarantine", dir, sizeof(dir));
	if (mw_mkdir_p(dir, 0700) < 0)
		return fail(err, errlen, "cannot create %s: %s", dir, strerror(errno));
	file_path(c, qid, ".tmp", tmp, sizeof(tmp));
	file_path(c, qid, "", path, sizeof(path));
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
	size_t done = 0;
	while (done < len) {
		ssize_t w = write(fd, data + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	if (done != len || (c->fsync && fsync(fd) < 0)) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return fail(err, errlen, "cannot write %s: %s", tmp, strerror(e));
	}
	close(fd);
	if (rename(tmp, path) < 0 || (c->fsync && mw_fsync_dir(dir) < 0)) {
		int e = errno;
		unlink(tmp);
		return fail(err, errlen, "cannot store %s: %s", path, strerror(e));
	}
	return 0;
}

/* The first header called name, unfolded, control bytes as spaces. */
static void header_value(const char *data, size_t len, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name), j = 0;
	const char *p = data, *end = data + len;

	out[0] = '\0';
	while (p < end && !(p[0] == '\r' || p[0] == '\n')) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;
		if ((size_t)(end - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			for (;;) {
				for (; v < next && j + 1 < n; v++) {
					unsigned char ch = (unsigned char)*v;
					if (ch == '\r' || ch == '\n' || (j == 0 && (ch == ' ' || ch == '\t')))
						continue;
					out[j++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
				}
				if (next >= end || (*next != ' ' && *next != '\t'))
					break;
				v = next;
				eol = memchr(next, '\n', (size_t)(end - next));
				next = eol ? eol + 1 : end;
			}
			out[j] = '\0';
			return;
		}
		p = next;
	}
}

int quarantine_put(struct store *s, const struct conf *c, const struct spool_file *f,
    const size_t *idx, size_t n, const char *data, size_t len, char *err, size_t errlen)
{
	if (!qid_ok(f->qid))
		return fail(err, errlen, "bad queue id '%s'", f->qid);
	if (write_durable(c, f->qid, data, len, err, errlen) < 0)
		return -1;
	char from[512], subject[512];
	header_value(data, len, "From", from, sizeof(from));
	header_value(data, len, "Subject", subject, sizeof(subject));
	const char *score = spool_file_attr(f, "score");
	const char *cls = spool_file_attr(f, "class");
	const char *symbols = spool_file_attr(f, "symbols");
	struct store_quarantine *rows = xcalloc(n, sizeof(*rows));
	for (size_t i = 0; i < n; i++) {
		const struct spool_rcpt *r = &f->rcpts[idx[i]];
		rows[i] = (struct store_quarantine){
			.qid = (char *)(uintptr_t)f->qid, .ref = f->ref, .tenant = r->tenant,
			.rcpt = r->rcpt, .deliver = r->deliver, .sender = f->sender, .from_hdr = from,
			.subject = subject, .score = score ? strtod(score, NULL) : 0,
			.cls = (char *)(uintptr_t)(cls ? cls : ""),
			.symbols = (char *)(uintptr_t)(symbols ? symbols : ""),
		};
	}
	int rc = store_quarantine_add(s, rows, n, NULL);
	free(rows);
	if (rc < 0)
		return fail(err, errlen, "%s", store_error(s));
	return 0;
}

/* The end of the header field starting at p (its folded lines included). */
static const char *field_end(const char *p, const char *end)
{
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			return end;
		p = nl + 1;
		if (p >= end || (*p != ' ' && *p != '\t'))
			return p;
	}
}

size_t quarantine_own_headers_len(const char *data, size_t len)
{
	const char *p = data, *end = data + len;

	if ((size_t)(end - p) > 9 && strncasecmp(p, "Received:", 9) == 0) {
		const char *e = field_end(p, end);
		if (memmem(p, (size_t)(e - p), "(mailward)", 10) != NULL)
			p = e;
	}
	while ((size_t)(end - p) > 11 && strncasecmp(p, "X-Mailward-", 11) == 0)
		p = field_end(p, end);
	return (size_t)(p - data);
}

int quarantine_read(const struct conf *c, const char *qid, char **data, size_t *len,
    char *err, size_t errlen)
{
	char path[1200];
	struct stat sb;

	*data = NULL;
	*len = 0;
	if (!qid_ok(qid))
		return fail(err, errlen, "bad queue id '%s'", qid);
	file_path(c, qid, "", path, sizeof(path));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fail(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return errno == ENOENT ? 1 : -1;
	}
	if (fstat(fd, &sb) < 0) {
		close(fd);
		return fail(err, errlen, "cannot stat %s: %s", path, strerror(errno));
	}
	char *buf = xmalloc((size_t)sb.st_size + 1);
	size_t got = 0;
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != (size_t)sb.st_size) {
		free(buf);
		return fail(err, errlen, "short read of %s", path);
	}
	buf[got] = '\0';
	*data = buf;
	*len = got;
	return 0;
}

/* The file goes when no recipient holds it any more. */
static void drop_file_if_unused(struct store *s, const struct conf *c, const char *qid)
{
	int64_t held = 1;
	char path[1200];

	if (!qid_ok(qid) || store_quarantine_held(s, qid, &held) < 0 || held > 0)
		return;
	file_path(c, qid, "", path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT)
		log_error(NULL, "quarantine unlink path=%s error=\"%s\"", path, strerror(errno));
}

static void audit(struct store *s, const struct store_quarantine *q, const char *status,
    const char *text)
{
	struct store_log_rcpt ev = {
		.ref = q->ref, .ts = mw_now(), .rcpt = q->rcpt, .tenant = q->tenant,
		.status = (char *)(uintptr_t)status, .reply = (char *)(uintptr_t)text,
	};
	if (q->ref[0] != '\0' && store_log_rcpt_add(s, &ev) < 0)
		log_error(q->ref, "quarantine audit error=\"%s\"", store_error(s));
}

int quarantine_release(struct store *s, const struct conf *c, struct spool *sp, int64_t id,
    const char *actor, char *qid_out, char *err, size_t errlen)
{
	struct store_quarantine q;
	char *data = NULL;
	size_t len = 0;
	int rc = store_quarantine_get(s, id, &q);

	if (rc != 0) {
		fail(err, errlen, "%s", store_error(s));
		return rc;
	}
	if (strcmp(q.state, "held") != 0) {
		fail(err, errlen, "quarantined message %lld was %s%s%s", (long long)id, q.state,
		    q.actor[0] ? " by " : "", q.actor);
		store_quarantine_clear(&q);
		return 1;
	}
	if ((rc = quarantine_read(c, q.qid, &data, &len, err, errlen)) != 0) {
		store_quarantine_clear(&q);
		return -1;
	}
	struct spool_envelope_rcpt er = {
		.rcpt = q.rcpt, .original = q.rcpt, .tenant = q.tenant, .deliver = q.deliver,
		.status = SPOOL_RCPT_PENDING,
	};
	char attr[64];
	snprintf(attr, sizeof(attr), "released=%lld", (long long)id);
	const char *attrs[] = { attr };
	struct spool_envelope env = {
		.ref = q.ref, .arrival = mw_now(), .client_ip = "", .helo = "", .sender = q.sender,
		.rcpts = &er, .n_rcpts = 1, .attrs = attrs, .n_attrs = 1,
	};
	char qid[QID_LEN + 1], date[64];
	struct spool_msg *m = spool_msg_new(sp, &env, qid);
	rc = -1;
	if (m == NULL) {
		fail(err, errlen, "cannot create a queue file: %s", strerror(errno));
		goto out;
	}
	timefmt_rfc5322(mw_now(), date, sizeof(date));
	struct buf h = BUF_INIT;
	buf_printf(&h, "X-Mailward-Released: by %s on %s (quarantine id %lld, ref %s)\r\n",
	    actor, date, (long long)id, q.ref);
	int wr = spool_msg_write(m, data, len) < 0 || spool_msg_prepend(m, h.data, h.len) < 0;
	buf_free(&h);
	if (wr) {
		spool_msg_abort(m);
		fail(err, errlen, "cannot write a queue file: %s", strerror(errno));
		goto out;
	}
	if (store_begin(s) < 0) {
		spool_msg_abort(m);
		fail(err, errlen, "%s", store_error(s));
		goto out;
	}
	int fr = store_quarantine_finish(s, id, "released", actor, mw_now(), qid);
	if (fr != 0) {
		/* Someone else released or deleted it meanwhile. */
		fail(err, errlen, "%s", store_error(s));
		spool_msg_abort(m);
		store_commit(s);
		rc = fr;
		goto out;
	}
	if (spool_commit_now(sp, m) < 0) {
		/* Not durable: undo the state change, keep it held. */
		fail(err, errlen, "cannot commit the queue file: %s", strerror(errno));
		store_rollback(s);
		goto out;
	}
	if (store_commit(s) < 0) {
		/* The copy is queued; the row says held.  A second release would
		 * deliver twice: say so loudly rather than lose the release. */
		log_error(q.ref, "quarantine release id=%lld qid=%s error=\"%s\" (queued, state not "
		    "recorded)", (long long)id, qid, store_error(s));
		fail(err, errlen, "released as %s but the state was not recorded: %s", qid,
		    store_error(s));
		goto out;
	}
	char text[256], obj[64];
	snprintf(text, sizeof(text), "released from quarantine by %s as %s", actor, qid);
	audit(s, &q, "released", text);
	snprintf(obj, sizeof(obj), "quarantine id %lld", (long long)id);
	if (store_audit_add(s, actor, "quarantine release", obj, text) < 0)
		log_error(q.ref, "quarantine audit error=\"%s\"", store_error(s));
	log_info(q.ref, "quarantine release id=%lld rcpt=%s by=%s qid=%s", (long long)id, q.rcpt,
	    actor, qid);
	drop_file_if_unused(s, c, q.qid);
	mw_strlcpy(qid_out, qid, 24);
	rc = 0;
out:
	free(data);
	store_quarantine_clear(&q);
	return rc;
}

static int finish_one(struct store *s, const struct conf *c, int64_t id, const char *state,
    const char *actor, char *err, size_t errlen)
{
	struct store_quarantine q;
	int rc = store_quarantine_get(s, id, &q);

	if (rc != 0) {
		fail(err, errlen, "%s", store_error(s));
		return rc;
	}
	rc = store_quarantine_finish(s, id, state, actor, mw_now(), NULL);
	if (rc != 0) {
		fail(err, errlen, "%s", store_error(s));
		store_quarantine_clear(&q);
		return rc;
	}
	char text[256], obj[64], act[48];
	snprintf(text, sizeof(text), "%s from quarantine%s%s", state, actor[0] ? " by " : "", actor);
	audit(s, &q, state, text);
	snprintf(obj, sizeof(obj), "quarantine id %lld", (long long)id);
	snprintf(act, sizeof(act), "quarantine %s", strcmp(state, "deleted") == 0 ? "delete" :
	    "expire");
	if (store_audit_add(s, actor[0] ? actor : "retention", act, obj, q.rcpt) < 0)
		log_error(q.ref, "quarantine audit error=\"%s\"", store_error(s));
	log_info(q.ref, "quarantine %s id=%lld rcpt=%s by=%s", state, (long long)id, q.rcpt,
	    actor[0] ? actor : "-");
	drop_file_if_unused(s, c, q.qid);
	store_quarantine_clear(&q);
	return 0;
}

int quarantine_delete(struct store *s, const struct conf *c, int64_t id, const char *actor,
    char *err, size_t errlen)
{
	return finish_one(s, c, id, "deleted", actor, err, errlen);
}

int quarantine_expire(struct store *s, const struct conf *c, int64_t now, int64_t *n,
    char *err, size_t errlen)
{
	int64_t *ids = NULL;
	size_t cnt = 0;

	*n = 0;
	if (store_quarantine_due(s, now, c->quarantine_retention, 1000, &ids, &cnt) < 0)
		return fail(err, errlen, "%s", store_error(s));
	for (size_t i = 0; i < cnt; i++)
		if (finish_one(s, c, ids[i], "expired", "", err, errlen) == 0)
			(*n)++;
	free(ids);
	return 0;
}
