/*
 * test_spool.c - spool files on real disk: round trip, verification of
 * damaged files (torn writes, NUL tails, bit flips), commit failpoints,
 * recovery, done marks, group commit under concurrent submitters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/refid.h"
#include "log/log.h"
#include "spool/spool.h"

struct fx {
	char dir[64];
	char spool_dir[128];
	struct spool *sp;
};

static void rm_rf(const char *path)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", path);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char err[256];

	unsetenv("MAILWARD_FAILPOINT");
	strcpy(fx->dir, "/tmp/mw-spool-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->spool_dir, sizeof(fx->spool_dir), "%s/spool", fx->dir);
	fx->sp = spool_open(fx->spool_dir, 1, err, sizeof(err));
	if (fx->sp == NULL) {
		fprintf(stderr, "spool_open: %s\n", err);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	spool_close(fx->sp);
	rm_rf(fx->dir);
	free(fx);
	unsetenv("MAILWARD_FAILPOINT");
	return 0;
}

static const struct spool_envelope_rcpt test_rcpts[] = {
	{ "alice@example.com", "Alice@Example.com", "acme", "maildir:/srv/a", SPOOL_RCPT_PENDING },
	{ "bob@example.com", "bob@example.com", "acme", "smtp://10.0.0.1:25", SPOOL_RCPT_PENDING },
	{ "carol@example.org", "carol+x@example.org", "other", "lmtp:/run/lmtp.sock", SPOOL_RCPT_PENDING },
};

static const char *test_attrs[] = { "dsn=1", "score=3.5" };

static struct spool_envelope test_env(void)
{
	struct spool_envelope env = {
		.ref = "ABCD-EFGH", .arrival = 1700000000, .client_ip = "192.0.2.7",
		.helo = "mx.sender.example", .sender = "sender@sender.example",
		.rcpts = test_rcpts, .n_rcpts = sizeof(test_rcpts) / sizeof(test_rcpts[0]),
		.attrs = test_attrs, .n_attrs = 2,
	};
	return env;
}

/* Message body of n bytes with a recognisable pattern. */
static char *make_body(size_t n)
{
	char *b = malloc(n + 1);

	for (size_t i = 0; i < n; i++)
		b[i] = (i % 80 == 78) ? '\r' : (i % 80 == 79) ? '\n' : (char)('a' + i % 26);
	b[n] = '\0';
	return b;
}

/* Write and synchronously commit a message; returns its qid in qid. */
static void commit_one(struct spool *sp, const char *body, size_t n, char *qid)
{
	struct spool_envelope env = test_env();
	struct spool_msg *m = spool_msg_new(sp, &env, qid);

	assert_non_null(m);
	/* Odd slices: framing must not depend on how the caller cuts. */
	for (size_t off = 0; off < n;) {
		size_t k = n - off < 777 ? n - off : 777;
		assert_int_equal(spool_msg_write(m, body + off, k), 0);
		off += k;
	}
	assert_int_equal(spool_commit_now(sp, m), 0);
}

static unsigned char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b;
	long sz;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t)sz + 1);
	assert_int_equal(fread(b, 1, (size_t)sz, f), (size_t)sz);
	fclose(f);
	*n = (size_t)sz;
	return b;
}

static void spit(const char *path, const void *b, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, n), (ssize_t)n);
	close(fd);
}

static size_t count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

struct drained {
	size_t n, ok;
	struct spool_completion last;
};

static void on_done(const struct spool_completion *c, void *arg)
{
	struct drained *d = arg;

	d->n++;
	d->ok += c->ok ? 1 : 0;
	d->last = *c;
}

/* Wait on the completion fd as the event loop would. */
static void wait_completions(struct spool *sp, struct drained *d, size_t want)
{
	while (d->n < want) {
		struct pollfd p = { .fd = spool_completion_fd(sp), .events = POLLIN };
		assert_true(poll(&p, 1, 10000) == 1);
		spool_completions_drain(sp, on_done, d);
	}
}

/* ---- tests ---------------------------------------------------------------- */

static void test_round_trip(void **state)
{
	struct fx *fx = *state;
	struct spool_envelope env = test_env();
	char qid[QID_LEN + 1], err[128];
	size_t n = 600 * 1024 + 13; /* several DATA records */
	char *body = make_body(n);
	struct spool_msg *m = spool_msg_new(fx->sp, &env, qid);
	struct drained d = { 0 };

	assert_non_null(m);
	assert_int_equal(spool_msg_write(m, body, 10), 0);
	assert_int_equal(spool_msg_write(m, body + 10, n - 10), 0);
	spool_commit_submit(fx->sp, m, 42);
	wait_completions(fx->sp, &d, 1);
	assert_int_equal(d.ok, 1);
	assert_int_equal(d.last.token, 42);
	assert_string_equal(d.last.qid, qid);

	struct spool_file *f;
	assert_int_equal(spool_file_open(fx->sp, qid, &f, err, sizeof(err)), 0);
	assert_string_equal(f->qid, qid);
	assert_string_equal(f->ref, "ABCD-EFGH");
	assert_int_equal(f->arrival, 1700000000);
	assert_string_equal(f->client_ip, "192.0.2.7");
	assert_string_equal(f->helo, "mx.sender.example");
	assert_string_equal(f->sender, "sender@sender.example");
	assert_int_equal(f->n_rcpts, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(f->rcpts[i].rcpt, test_rcpts[i].rcpt);
		assert_string_equal(f->rcpts[i].original, test_rcpts[i].original);
		assert_string_equal(f->rcpts[i].tenant, test_rcpts[i].tenant);
		assert_string_equal(f->rcpts[i].deliver, test_rcpts[i].deliver);
		assert_int_equal(f->rcpts[i].status, SPOOL_RCPT_PENDING);
	}
	assert_string_equal(spool_file_attr(f, "dsn"), "1");
	assert_string_equal(spool_file_attr(f, "score"), "3.5");
	assert_null(spool_file_attr(f, "ds"));
	assert_int_equal(f->data_len, (int64_t)n);

	char *data;
	size_t dn;
	assert_int_equal(spool_file_read_data(f, &data, &dn), 0);
	assert_int_equal(dn, n);
	assert_memory_equal(data, body, n);
	free(data);
	spool_file_close(f);

	/* The file is private. */
	char path[256];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", spool_dir_queue(fx->sp), qid);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/queue", fx->spool_dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	free(body);
}

static void test_empty_body(void **state)
{
	struct fx *fx = *state;
	char qid[QID_LEN + 1], err[128];
	struct spool_file *f;
	char *data;
	size_t dn;

	commit_one(fx->sp, "", 0, qid);
	assert_int_equal(spool_file_open(fx->sp, qid, &f, err, sizeof(err)), 0);
	assert_int_equal(f->data_len, 0);
	assert_int_equal(spool_file_read_data(f, &data, &dn), 0);
	assert_int_equal(dn, 0);
	free(data);
	spool_file_close(f);
}

/* Header lines decided after the body (the scan verdict) come first at
 * delivery; the record is the last before END and only once. */
static void test_prepend(void **state)
{
	struct fx *fx = *state;
	char qid[QID_LEN + 1], err[128], path[256];
	struct spool_envelope env = test_env();
	struct spool_file *f;
	char *data;
	size_t dn;
	const char *pre = "X-Mailward-Score: 1.50\r\n";
	char *body = make_body(300000);   /* more than one DATA record */

	for (int empty = 0; empty < 2; empty++) {
		struct spool_msg *m = spool_msg_new(fx->sp, &env, qid);
		assert_non_null(m);
		if (!empty)
			assert_int_equal(spool_msg_write(m, body, 300000), 0);
		assert_int_equal(spool_msg_prepend(m, pre, strlen(pre)), 0);
		assert_int_equal(spool_msg_write(m, "late", 4), -1);        /* data after it: misuse */
		spool_msg_abort(m);

		m = spool_msg_new(fx->sp, &env, qid);
		if (!empty)
			assert_int_equal(spool_msg_write(m, body, 300000), 0);
		assert_int_equal(spool_msg_prepend(m, pre, strlen(pre)), 0);
		assert_int_equal(spool_commit_now(fx->sp, m), 0);
		assert_int_equal(spool_file_open(fx->sp, qid, &f, err, sizeof(err)), 0);
		assert_int_equal(f->data_len, empty ? 0 : 300000);
		assert_int_equal(f->prepend_len, (int64_t)strlen(pre));
		assert_int_equal(spool_file_read_data(f, &data, &dn), 0);
		assert_int_equal(dn, strlen(pre) + (empty ? 0 : 300000));
		assert_memory_equal(data, pre, strlen(pre));
		if (!empty)
			assert_memory_equal(data + strlen(pre), body, 300000);
		free(data);
		spool_file_close(f);
	}
	/* Twice, or too long: refused. */
	struct spool_msg *m = spool_msg_new(fx->sp, &env, qid);
	assert_int_equal(spool_msg_prepend(m, pre, strlen(pre)), 0);
	assert_int_equal(spool_msg_prepend(m, pre, strlen(pre)), -1);
	spool_msg_abort(m);
	m = spool_msg_new(fx->sp, &env, qid);
	assert_int_equal(spool_msg_prepend(m, body, 65 * 1024), -1);
	spool_msg_abort(m);
	free(body);

	/* Attributes decided after the data: found like envelope ones; no DATA
	 * may follow them, nor anything but END after the PREPEND. */
	m = spool_msg_new(fx->sp, &env, qid);
	assert_int_equal(spool_msg_write(m, "Subject: q\r\n\r\nbody\r\n", 21), 0);
	assert_int_equal(spool_msg_attr(m, "disposition=quarantine"), 0);
	assert_int_equal(spool_msg_attr(m, "symbols=GTUBE\t1000.00\tx\n"), 0);
	assert_int_equal(spool_msg_attr(m, "no-equals-sign"), -1);
	spool_msg_abort(m);
	m = spool_msg_new(fx->sp, &env, qid);
	assert_int_equal(spool_msg_write(m, "Subject: q\r\n\r\nbody\r\n", 21), 0);
	assert_int_equal(spool_msg_attr(m, "disposition=quarantine"), 0);
	assert_int_equal(spool_msg_prepend(m, pre, strlen(pre)), 0);
	assert_int_equal(spool_msg_attr(m, "late=1"), -1);
	spool_msg_abort(m);
	m = spool_msg_new(fx->sp, &env, qid);
	assert_int_equal(spool_msg_write(m, "Subject: q\r\n\r\nbody\r\n", 21), 0);
	assert_int_equal(spool_msg_attr(m, "disposition=quarantine"), 0);
	assert_int_equal(spool_msg_prepend(m, pre, strlen(pre)), 0);
	assert_int_equal(spool_commit_now(fx->sp, m), 0);
	assert_int_equal(spool_file_open(fx->sp, qid, &f, err, sizeof(err)), 0);
	assert_string_equal(spool_file_attr(f, "disposition"), "quarantine");
	assert_int_equal(spool_file_read_data(f, &data, &dn), 0);
	assert_int_equal(dn, strlen(pre) + 21);
	assert_memory_equal(data + strlen(pre), "Subject: q\r\n\r\nbody\r\n", 21);
	free(data);
	assert_int_equal(spool_file_mark(f, 0, SPOOL_RCPT_QUARANTINED, 1), 0);
	spool_file_close(f);
	assert_int_equal(spool_file_open(fx->sp, qid, &f, err, sizeof(err)), 0);
	assert_int_equal(f->rcpts[0].status, SPOOL_RCPT_QUARANTINED);
	spool_file_close(f);

	/* Every truncation of a file with a PREPEND record is caught. */
	m = spool_msg_new(fx->sp, &env, qid);
	assert_int_equal(spool_msg_write(m, "Subject: x\r\n\r\nhi\r\n", 19), 0);
	assert_int_equal(spool_msg_prepend(m, pre, strlen(pre)), 0);
	assert_int_equal(spool_commit_now(fx->sp, m), 0);
	snprintf(path, sizeof(path), "%s/%s", spool_dir_queue(fx->sp), qid);
	size_t n;
	unsigned char *b = slurp(path, &n);
	assert_int_equal(spool_verify_bytes(b, n), 0);
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(spool_verify_bytes(b, cut), -1);
	free(b);
}

static unsigned char *committed_bytes(struct fx *fx, size_t body_len, size_t *n, char *path, size_t pn)
{
	char qid[QID_LEN + 1];
	char *body = make_body(body_len);

	commit_one(fx->sp, body, body_len, qid);
	free(body);
	snprintf(path, pn, "%s/%s", spool_dir_queue(fx->sp), qid);
	return slurp(path, n);
}

static void test_verify_crc_end(void **state)
{
	struct fx *fx = *state;
	char path[256];
	size_t n;
	unsigned char *b = committed_bytes(fx, 300, &n, path, sizeof(path));

	assert_int_equal(spool_verify_bytes(b, n), 0);
	assert_int_equal(spool_verify_bytes(NULL, 0), -1);
	/* A changed message byte breaks the CRC. */
	b[n - 40] ^= 0x01;
	assert_int_equal(spool_verify_bytes(b, n), -1);
	b[n - 40] ^= 0x01;
	/* A wrong byte count in END. */
	b[n - 1] ^= 0x01;
	assert_int_equal(spool_verify_bytes(b, n), -1);
	b[n - 1] ^= 0x01;
	/* Bytes after END. */
	unsigned char *longer = malloc(n + 1);
	memcpy(longer, b, n);
	longer[n] = 'X';
	assert_int_equal(spool_verify_bytes(longer, n + 1), -1);
	free(longer);
	/* The recipient status byte is outside the CRC: a done mark keeps the file valid. */
	char err[128];
	struct spool_file *f;
	assert_int_equal(spool_file_open_path(path, &f, err, sizeof(err)), 0);
	int64_t off = f->rcpts[0].status_offset;
	spool_file_close(f);
	b[off] = SPOOL_RCPT_DELIVERED;
	assert_int_equal(spool_verify_bytes(b, n), 0);
	b[off] = 'Z'; /* not a status */
	assert_int_equal(spool_verify_bytes(b, n), -1);
	free(b);
}

/* D5: a torn write at any offset is incomplete, never a crash. */
static void test_truncation_every_offset(void **state)
{
	struct fx *fx = *state;
	char path[256], tpath[300], err[128];
	size_t n;
	unsigned char *b = committed_bytes(fx, 200, &n, path, sizeof(path));

	snprintf(tpath, sizeof(tpath), "%s/trunc", fx->dir);
	for (size_t k = 0; k < n; k++) {
		/* Exact-size heap copy so ASan sees any over-read. */
		unsigned char *t = malloc(k ? k : 1);
		memcpy(t, b, k);
		assert_int_equal(spool_verify_bytes(t, k), -1);
		free(t);
		spit(tpath, b, k);
		struct spool_file *f = NULL;
		assert_int_equal(spool_file_open_path(tpath, &f, err, sizeof(err)), -1);
		assert_null(f);
	}
	free(b);
}

/* D6: a zero-filled tail (Exim's note on crashed ext filesystems). */
static void test_nul_tail(void **state)
{
	struct fx *fx = *state;
	char path[256], err[128];
	size_t n;
	unsigned char *b = committed_bytes(fx, 500, &n, path, sizeof(path));
	unsigned char *t = calloc(1, n + 4096);
	struct spool_file *f = NULL;

	memcpy(t, b, n);
	assert_int_equal(spool_verify_bytes(t, n + 4096), -1);
	spit(path, t, n + 4096);
	assert_int_equal(spool_file_open_path(path, &f, err, sizeof(err)), -1);
	assert_string_equal(err, "bytes after END record");
	/* Truncated then zero-filled to the original length. */
	memset(t + n / 2, 0, n - n / 2);
	assert_int_equal(spool_verify_bytes(t, n), -1);
	free(t);
	free(b);
}

static void test_bit_flips(void **state)
{
	struct fx *fx = *state;
	char path[256];
	size_t n;
	unsigned char *b = committed_bytes(fx, 100, &n, path, sizeof(path));

	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			b[i] ^= (unsigned char)(1u << bit);
			/* No single flip yields another valid file: the CRC covers
			 * everything but status bytes, and no status is one flip
			 * away from ' '. */
			assert_int_equal(spool_verify_bytes(b, n), -1);
			b[i] ^= (unsigned char)(1u << bit);
		}
	}
	assert_int_equal(spool_verify_bytes(b, n), 0);
	free(b);
}

/* Huge length fields must be refused before any allocation or read. */
static void test_hostile_lengths(void **state)
{
	(void)state;
	unsigned char v[] = { 'V', 0, 0, 0, 1, '1', 'R', 0xff, 0xff, 0xff, 0xf0, ' ' };
	unsigned char w[] = { 'V', 0, 0, 0, 1, '1', 'M', 0x7f, 0xff, 0xff, 0xff };
	unsigned char x[] = { 'V', 0, 0, 0, 1, '1', 'X', 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6 };
	unsigned char q[] = { 'Q', 0, 0, 0, 0 };

	assert_int_equal(spool_verify_bytes(v, sizeof(v)), -1);
	assert_int_equal(spool_verify_bytes(w, sizeof(w)), -1);
	assert_int_equal(spool_verify_bytes(x, sizeof(x)), -1); /* no envelope */
	assert_int_equal(spool_verify_bytes(q, sizeof(q)), -1);
}

static void failpoint_case(const char *fp)
{
	char dir[] = "/tmp/mw-spoolfp-XXXXXX", sdir[128], sub[160], err[128], qid[QID_LEN + 1];
	struct drained d = { 0 };

	assert_non_null(mkdtemp(dir));
	snprintf(sdir, sizeof(sdir), "%s/spool", dir);
	setenv("MAILWARD_FAILPOINT", fp, 1);
	struct spool *sp = spool_open(sdir, 1, err, sizeof(err));
	unsetenv("MAILWARD_FAILPOINT");
	assert_non_null(sp);

	struct spool_envelope env = test_env();
	struct spool_msg *m = spool_msg_new(sp, &env, qid);
	assert_non_null(m);
	assert_int_equal(spool_msg_write(m, "Subject: x\r\n\r\nbody\r\n", 20), 0);
	spool_commit_submit(sp, m, 7);
	wait_completions(sp, &d, 1);
	assert_int_equal(d.last.ok, 0);
	assert_int_equal(d.last.err, EIO);
	assert_int_equal(d.last.token, 7);

	/* The synchronous path fails the same way. */
	m = spool_msg_new(sp, &env, qid);
	assert_non_null(m);
	assert_int_equal(spool_commit_now(sp, m), -1);
	assert_int_equal(errno, EIO);

	/* Nothing left behind (D2, D3). */
	snprintf(sub, sizeof(sub), "%s/tmp", sdir);
	assert_int_equal(count_dir(sub), 0);
	snprintf(sub, sizeof(sub), "%s/queue", sdir);
	assert_int_equal(count_dir(sub), 0);
	spool_close(sp);
	rm_rf(dir);
}

static void test_failpoint_fsync(void **state)
{
	(void)state;
	failpoint_case("spool_fsync");
}

static void test_failpoint_rename(void **state)
{
	(void)state;
	failpoint_case("other,spool_rename");
}

static void test_failpoint_dirsync(void **state)
{
	(void)state;
	failpoint_case("spool_dirsync,other");
}

static void test_failpoint_unrelated(void **state)
{
	struct fx *fx = *state;
	char err[128], qid[QID_LEN + 1], sdir[200];

	/* "spool_fsyncx" is not "spool_fsync": names match exactly. */
	snprintf(sdir, sizeof(sdir), "%s/spool2", fx->dir);
	setenv("MAILWARD_FAILPOINT", "spool_fsyncx,xspool_rename", 1);
	struct spool *sp = spool_open(sdir, 1, err, sizeof(err));
	unsetenv("MAILWARD_FAILPOINT");
	assert_non_null(sp);
	struct spool_envelope env = test_env();
	struct spool_msg *m = spool_msg_new(sp, &env, qid);
	assert_non_null(m);
	assert_int_equal(spool_commit_now(sp, m), 0);
	spool_close(sp);
}

struct found_list {
	char qids[16][24];
	size_t n;
};

static void on_found(const char *qid, void *arg)
{
	struct found_list *fl = arg;

	if (fl->n < 16)
		snprintf(fl->qids[fl->n], sizeof(fl->qids[0]), "%s", qid);
	fl->n++;
}

/* X4: valid, truncated, bad checksum, empty, directory, symlink, bad name; tmp leftover. */
static void test_recover(void **state)
{
	struct fx *fx = *state;
	char qgood[QID_LEN + 1], path[256], p2[300], qdir[200];
	char *body = make_body(1000);
	size_t n;
	struct found_list fl = { 0 };

	commit_one(fx->sp, body, 1000, qgood);
	snprintf(qdir, sizeof(qdir), "%s", spool_dir_queue(fx->sp));
	snprintf(path, sizeof(path), "%s/%s", qdir, qgood);
	unsigned char *b = slurp(path, &n);

	snprintf(p2, sizeof(p2), "%s/AAAATRUNCATED", qdir);
	spit(p2, b, n - 3);
	b[n / 2] ^= 0x40;
	snprintf(p2, sizeof(p2), "%s/AAAABADCRC", qdir);
	spit(p2, b, n);
	snprintf(p2, sizeof(p2), "%s/AAAAEMPTY", qdir);
	spit(p2, "", 0);
	snprintf(p2, sizeof(p2), "%s/AAAADIR", qdir);
	assert_int_equal(mkdir(p2, 0700), 0);
	snprintf(p2, sizeof(p2), "%s/AAAALINK", qdir);
	assert_int_equal(symlink(path, p2), 0);
	snprintf(p2, sizeof(p2), "%s/bad.name", qdir);
	spit(p2, "x", 1);
	snprintf(p2, sizeof(p2), "%s/tmp/LEFTOVER", fx->spool_dir);
	spit(p2, "partial", 7);

	assert_int_equal(spool_recover(fx->sp, on_found, &fl), 6);
	assert_int_equal(fl.n, 1);
	assert_string_equal(fl.qids[0], qgood);
	assert_int_equal(count_dir(qdir), 1);
	snprintf(p2, sizeof(p2), "%s/corrupt", fx->spool_dir);
	assert_int_equal(count_dir(p2), 6);
	snprintf(p2, sizeof(p2), "%s/tmp", fx->spool_dir);
	assert_int_equal(count_dir(p2), 0);
	/* The symlink was moved, not followed: its target is intact. */
	struct spool_file *f;
	char err[128];
	assert_int_equal(spool_file_open(fx->sp, qgood, &f, err, sizeof(err)), 0);
	spool_file_close(f);
	snprintf(p2, sizeof(p2), "%s/corrupt/AAAALINK", fx->spool_dir);
	struct stat st;
	assert_int_equal(lstat(p2, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(spool_file_open_path(p2, &f, err, sizeof(err)), -1);

	/* A second scan finds nothing more to move. */
	memset(&fl, 0, sizeof(fl));
	assert_int_equal(spool_recover(fx->sp, on_found, &fl), 0);
	assert_int_equal(fl.n, 1);
	free(b);
	free(body);
}

static void test_done_marks(void **state)
{
	struct fx *fx = *state;
	char qid[QID_LEN + 1], err[128];
	struct spool_file *f;

	commit_one(fx->sp, "hello\r\n", 7, qid);
	assert_int_equal(spool_file_open(fx->sp, qid, &f, err, sizeof(err)), 0);
	assert_int_equal(spool_file_mark(f, 1, SPOOL_RCPT_DELIVERED, 1), 0);
	assert_int_equal(spool_file_mark(f, 2, SPOOL_RCPT_BOUNCED, 0), 0);
	assert_int_equal(f->rcpts[1].status, SPOOL_RCPT_DELIVERED);
	/* Error paths: index out of range, not a status. */
	assert_int_equal(spool_file_mark(f, 3, SPOOL_RCPT_DELIVERED, 1), -1);
	assert_int_equal(spool_file_mark(f, 0, 'Z', 1), -1);
	spool_file_close(f);

	assert_int_equal(spool_file_open(fx->sp, qid, &f, err, sizeof(err)), 0);
	assert_int_equal(f->rcpts[0].status, SPOOL_RCPT_PENDING);
	assert_int_equal(f->rcpts[1].status, SPOOL_RCPT_DELIVERED);
	assert_int_equal(f->rcpts[2].status, SPOOL_RCPT_BOUNCED);
	char *data;
	size_t dn;
	assert_int_equal(spool_file_read_data(f, &data, &dn), 0);
	assert_int_equal(dn, 7);
	assert_memory_equal(data, "hello\r\n", 7);
	free(data);
	spool_file_close(f);
}

static void test_open_errors_list_remove(void **state)
{
	struct fx *fx = *state;
	char qid[QID_LEN + 1], q2[QID_LEN + 1], err[128];
	struct spool_file *f = (struct spool_file *)&f; /* must be reset */

	assert_int_equal(spool_file_open(fx->sp, "../../etc/passwd", &f, err, sizeof(err)), -1);
	assert_null(f);
	assert_int_equal(spool_file_open(fx->sp, "", &f, err, sizeof(err)), -1);
	assert_int_equal(spool_file_open(fx->sp, "NOSUCHQID", &f, err, sizeof(err)), 1);
	assert_null(f);
	assert_int_equal(spool_remove(fx->sp, "../x"), -1);
	assert_int_equal(spool_remove(fx->sp, "NOSUCHQID"), -1);

	commit_one(fx->sp, "a\r\n", 3, qid);
	commit_one(fx->sp, "b\r\n", 3, q2);
	char **list;
	size_t n;
	assert_int_equal(spool_list(fx->sp, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_true(strcmp(list[0], list[1]) < 0);
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
	assert_int_equal(spool_remove(fx->sp, qid), 0);
	assert_int_equal(spool_file_open(fx->sp, qid, &f, err, sizeof(err)), 1);
	assert_int_equal(spool_list(fx->sp, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0], q2);
	free(list[0]);
	free(list);
}

static void test_bad_envelope_and_abort(void **state)
{
	struct fx *fx = *state;
	struct spool_envelope env = test_env();
	char qid[QID_LEN + 1], tmp[200];
	const char *bad_attr[] = { "noequals" };
	struct spool_envelope_rcpt empty_rcpt = { "", NULL, NULL, NULL, SPOOL_RCPT_PENDING };

	env.n_rcpts = 0;
	assert_null(spool_msg_new(fx->sp, &env, qid));
	env = test_env();
	env.attrs = bad_attr;
	env.n_attrs = 1;
	assert_null(spool_msg_new(fx->sp, &env, qid));
	env = test_env();
	env.rcpts = &empty_rcpt;
	env.n_rcpts = 1;
	assert_null(spool_msg_new(fx->sp, &env, qid));

	/* NULL optional fields are written as empty strings. */
	struct spool_envelope_rcpt r = { "x@y.example", NULL, NULL, NULL, 0 };
	struct spool_envelope min = { .arrival = 5, .rcpts = &r, .n_rcpts = 1 };
	struct spool_msg *m = spool_msg_new(fx->sp, &min, qid);
	assert_non_null(m);
	assert_int_equal(spool_commit_now(fx->sp, m), 0);
	struct spool_file *f;
	char err[128];
	assert_int_equal(spool_file_open(fx->sp, qid, &f, err, sizeof(err)), 0);
	assert_string_equal(f->sender, "");
	assert_string_equal(f->rcpts[0].original, "x@y.example");
	assert_int_equal(f->n_attrs, 0);
	spool_file_close(f);

	env = test_env();
	m = spool_msg_new(fx->sp, &env, qid);
	assert_non_null(m);
	assert_int_equal(spool_msg_write(m, "x", 1), 0);
	spool_msg_abort(m);
	snprintf(tmp, sizeof(tmp), "%s/tmp", fx->spool_dir);
	assert_int_equal(count_dir(tmp), 0);

	char e2[128];
	assert_null(spool_open("/proc/no/such/dir", 1, e2, sizeof(e2)));
}

/* X6: a write error during DATA (here EFBIG from RLIMIT_FSIZE, standing in
 * for ENOSPC) fails the message and leaves nothing behind. */
static void test_write_error(void **state)
{
	struct fx *fx = *state;
	struct spool_envelope env = test_env();
	char qid[QID_LEN + 1], tmp[200];
	struct rlimit old, lim;
	struct drained d = { 0 };
	size_t n = 1024 * 1024;
	char *body = make_body(n);

	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 100 * 1024;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);

	struct spool_msg *m = spool_msg_new(fx->sp, &env, qid);
	assert_non_null(m);
	assert_int_equal(spool_msg_write(m, body, n), -1);
	assert_int_equal(spool_msg_write(m, "x", 1), -1); /* sticky */
	spool_commit_submit(fx->sp, m, 9);
	wait_completions(fx->sp, &d, 1);
	assert_int_equal(d.last.ok, 0);
	assert_int_equal(d.last.err, EFBIG);

	/* Synchronous path: the error surfaces at commit. */
	m = spool_msg_new(fx->sp, &env, qid);
	assert_non_null(m);
	assert_int_equal(spool_msg_write(m, body, 200 * 1024), 0); /* still buffered */
	assert_int_equal(spool_commit_now(fx->sp, m), -1);
	assert_int_equal(errno, EFBIG);

	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	snprintf(tmp, sizeof(tmp), "%s/tmp", fx->spool_dir);
	assert_int_equal(count_dir(tmp), 0);
	snprintf(tmp, sizeof(tmp), "%s/queue", fx->spool_dir);
	assert_int_equal(count_dir(tmp), 0);
	free(body);
}

#define SUBMITTERS 8
#define PER_THREAD 60

struct submitter {
	struct spool *sp;
	int id;
};

static void *submit_thread(void *arg)
{
	struct submitter *s = arg;
	struct spool_envelope env = test_env();
	char qid[QID_LEN + 1], body[64];

	for (int i = 0; i < PER_THREAD; i++) {
		struct spool_msg *m = spool_msg_new(s->sp, &env, qid);
		if (m == NULL)
			return (void *)1;
		int n = snprintf(body, sizeof(body), "thread %d msg %d\r\n", s->id, i);
		if (spool_msg_write(m, body, (size_t)n) < 0)
			return (void *)1;
		spool_commit_submit(s->sp, m, (uint64_t)(s->id * 1000 + i));
	}
	return NULL;
}

struct tokens {
	unsigned char seen[SUBMITTERS * 1000];
	size_t n, ok;
};

static void on_token(const struct spool_completion *c, void *arg)
{
	struct tokens *t = arg;

	if (c->token < sizeof(t->seen))
		t->seen[c->token]++;
	t->n++;
	t->ok += c->ok ? 1 : 0;
}

static void test_group_commit_concurrent(void **state)
{
	struct fx *fx = *state;
	pthread_t th[SUBMITTERS];
	struct submitter sub[SUBMITTERS];
	struct tokens *tk = calloc(1, sizeof(*tk));

	for (int i = 0; i < SUBMITTERS; i++) {
		sub[i].sp = fx->sp;
		sub[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, submit_thread, &sub[i]), 0);
	}
	while (tk->n < SUBMITTERS * PER_THREAD) {
		struct pollfd p = { .fd = spool_completion_fd(fx->sp), .events = POLLIN };
		assert_true(poll(&p, 1, 20000) == 1);
		spool_completions_drain(fx->sp, on_token, tk);
	}
	for (int i = 0; i < SUBMITTERS; i++) {
		void *rv;
		pthread_join(th[i], &rv);
		assert_null(rv);
	}
	assert_int_equal(tk->ok, SUBMITTERS * PER_THREAD);
	for (int i = 0; i < SUBMITTERS; i++)
		for (int j = 0; j < PER_THREAD; j++)
			assert_int_equal(tk->seen[i * 1000 + j], 1);

	char **list;
	size_t n;
	assert_int_equal(spool_list(fx->sp, &list, &n), 0);
	assert_int_equal(n, SUBMITTERS * PER_THREAD);
	for (size_t i = 0; i < n; i++) {
		struct spool_file *f;
		char err[128];
		assert_int_equal(spool_file_open(fx->sp, list[i], &f, err, sizeof(err)), 0);
		spool_file_close(f);
		free(list[i]);
	}
	free(list);
	free(tk);
}

/* spool_close drains what was submitted: no message is dropped on shutdown. */
static void test_close_drains(void **state)
{
	struct fx *fx = *state;
	char err[128], qid[QID_LEN + 1], sdir[200];

	snprintf(sdir, sizeof(sdir), "%s/spool3", fx->dir);
	struct spool *sp = spool_open(sdir, 0, err, sizeof(err));
	assert_non_null(sp);
	struct spool_envelope env = test_env();
	for (int i = 0; i < 20; i++) {
		struct spool_msg *m = spool_msg_new(sp, &env, qid);
		assert_non_null(m);
		spool_commit_submit(sp, m, (uint64_t)i);
	}
	spool_close(sp);
	snprintf(sdir, sizeof(sdir), "%s/spool3/queue", fx->dir);
	assert_int_equal(count_dir(sdir), 20);
}

int main(void)
{
	/* Many tests provoke errors on purpose; their log lines are noise. */
	log_init(getenv("TEST_VERBOSE") ? LOG_DEBUG : LOG_FATAL, 2);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prepend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_crc_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncation_every_offset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nul_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bit_flips, setup, teardown),
		cmocka_unit_test(test_hostile_lengths),
		cmocka_unit_test(test_failpoint_fsync),
		cmocka_unit_test(test_failpoint_rename),
		cmocka_unit_test(test_failpoint_dirsync),
		cmocka_unit_test_setup_teardown(test_failpoint_unrelated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_done_marks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors_list_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_envelope_and_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_drains, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
