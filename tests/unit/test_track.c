/* Unit tests: the tracking writer thread against a real SQLite store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/util.h"
#include "conf/conf.h"
#include "log/log.h"
#include "store/store.h"
#include "track/track.h"

struct fx {
	char dir[64];
	struct conf c;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/mw-track-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	conf_defaults(&f->c);
	snprintf(f->c.data_dir, sizeof(f->c.data_dir), "%s/data", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static size_t count_entries(const struct conf *c, const struct store_log_query *q,
    size_t *rcpts)
{
	char err[256];
	struct store *s = store_open(c, err, sizeof(err));
	struct store_log_entry *e;
	size_t n;

	assert_non_null(s);
	assert_int_equal(store_log_search(s, q, &e, &n), 0);
	if (rcpts != NULL) {
		*rcpts = 0;
		for (size_t i = 0; i < n; i++)
			*rcpts += e[i].n_rcpts;
	}
	store_log_entry_free(e, n);
	store_close(s);
	return n;
}

static void test_write_and_sync(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct track *t = track_open(&f->c, err, sizeof(err));
	char ref[16], subject[32];
	int64_t now = mw_now();

	assert_non_null(t);
	for (int i = 0; i < 50; i++) {
		snprintf(ref, sizeof(ref), "T%03d-AAAA", i);
		snprintf(subject, sizeof(subject), "message %d", i);
		/* The caller's buffers are reused at once: records must be copies. */
		struct store_log_txn x = { .ref = ref, .ts = now, .sender = "a@b.example",
			.subject = subject, .action = "accepted" };
		track_txn(t, &x);
		struct store_log_rcpt r = { .ref = ref, .ts = now, .rcpt = "c@d.example",
			.status = "accepted" };
		track_rcpt(t, &r);
		memset(ref, 'X', sizeof(ref) - 1);
		memset(subject, 'Y', sizeof(subject) - 1);
	}
	track_sync(t);
	struct store_log_query q = { .limit = 1000 };
	size_t rc;
	assert_int_equal(count_entries(&f->c, &q, &rc), 50);
	assert_int_equal(rc, 50);
	q.subject = "message 7";
	assert_int_equal(count_entries(&f->c, &q, NULL), 1);

	/* NULL-tolerant: callers may run without tracking. */
	track_txn(NULL, NULL);
	track_rcpt(t, NULL);
	track_sync(NULL);
	track_sync(t);
	track_close(t);
	track_close(NULL);
}

static void test_rcpt_stat_written_by_thread(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct track *t = track_open(&f->c, err, sizeof(err));
	int64_t now = mw_now(), valid = -1, invalid = -1;

	assert_non_null(t);
	for (int i = 0; i < 12; i++)
		track_rcpt_stat(t, "192.0.2.7", "sender.example", i < 2, now, "ABCD-EFGH",
		    "u@acme.test");
	track_rcpt_stat(t, "198.51.100.1", "", 1, now, "ABCD-EFGJ", "v@acme.test");
	track_rcpt_stat(t, NULL, "x", 1, now, NULL, NULL);  /* ignored */
	track_sync(t);
	struct store *s = store_open(&f->c, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(store_rcpt_stat_get(s, "ip", "192.0.2.7", now - 3600, &valid, &invalid), 0);
	assert_int_equal(valid, 2);
	assert_int_equal(invalid, 10);
	assert_int_equal(store_rcpt_stat_get(s, "sender_domain", "sender.example", now - 3600,
	    &valid, &invalid), 0);
	assert_int_equal(valid, 2);
	assert_int_equal(invalid, 10);
	assert_int_equal(store_rcpt_stat_get(s, "ip", "198.51.100.1", now - 3600, &valid, &invalid), 0);
	assert_int_equal(valid, 1);
	assert_int_equal(invalid, 0);
	/* The same verdicts in the identities' decaying counters, with every
	 * unknown recipient as evidence carrying its ref. */
	struct store_rep r;
	assert_int_equal(store_rep_get(s, "ip:192.0.2.7", &r), 0);
	assert_true(r.valid > 1.99 && r.valid < 2.01 && r.invalid > 9.99 && r.invalid < 10.01);
	assert_int_equal(store_rep_get(s, "pair:sender.example/192.0.2.0/24", &r), 0);
	assert_true(r.invalid > 9.99);
	struct store_rep_event *ev = NULL;
	size_t n = 0;
	assert_int_equal(store_rep_event_list(s, "ip:192.0.2.7", 0, &ev, &n), 0);
	assert_int_equal(n, 10);
	assert_string_equal(ev[0].kind, "invalid");
	assert_string_equal(ev[0].ref, "ABCD-EFGH");
	assert_non_null(strstr(ev[0].detail, "u@acme.test"));
	store_rep_event_free(ev, n);
	store_close(s);
	track_close(t);
}

struct producer {
	struct track *t;
	int id;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	char ref[16];

	for (int i = 0; i < 200; i++) {
		snprintf(ref, sizeof(ref), "P%d%02d-%04d", p->id, i % 100, i);
		struct store_log_rcpt r = { .ref = ref, .ts = mw_now(), .rcpt = "x@y.example",
			.status = "accepted" };
		track_rcpt(p->t, &r);
	}
	return NULL;
}

static void test_concurrent_producers_and_close_drains(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct track *t = track_open(&f->c, err, sizeof(err));
	pthread_t th[4];
	struct producer p[4];

	assert_non_null(t);
	for (int i = 0; i < 4; i++) {
		p[i] = (struct producer){ t, i };
		assert_int_equal(pthread_create(&th[i], NULL, produce, &p[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	/* No sync: close must write what is still queued. */
	track_close(t);
	struct store_log_query q = { .limit = 10000 };
	size_t rc;
	assert_int_equal(count_entries(&f->c, &q, &rc), 800);
	assert_int_equal(rc, 800);
}

static void test_purge_at_start(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct store *s = store_open(&f->c, err, sizeof(err));
	int64_t now = mw_now();

	assert_non_null(s);
	struct store_log_txn old = { .ref = "OLD1-AAAA", .ts = now - 8 * 86400, .action = "accepted" };
	struct store_log_txn recent = { .ref = "NEW1-AAAA", .ts = now - 86400, .action = "accepted" };
	assert_int_equal(store_log_txn_add(s, &old), 0);
	assert_int_equal(store_log_txn_add(s, &recent), 0);
	store_close(s);

	struct track *t = track_open(&f->c, err, sizeof(err)); /* retention 7d */
	assert_non_null(t);
	struct store_log_txn x = { .ref = "NEW2-AAAA", .ts = now, .action = "accepted" };
	track_txn(t, &x);
	/* The first purge runs before the first batch is taken. */
	track_sync(t);
	struct store_log_query q = { 0 };
	assert_int_equal(count_entries(&f->c, &q, NULL), 2);
	q.ref = "OLD1-AAAA";
	assert_int_equal(count_entries(&f->c, &q, NULL), 0);
	track_close(t);
}

static void test_open_failure_and_store_errors(void **state)
{
	struct fx *f = *state;
	struct conf c = f->c;
	char err[256];

	strcpy(c.backend, "nosuch");
	assert_null(track_open(&c, err, sizeof(err)));
	assert_string_equal(err, "unknown storage back end 'nosuch'");

	/* A record the store refuses is logged and dropped; the rest is written. */
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	log_init(LOG_INFO, fds[1]);
	struct track *t = track_open(&f->c, err, sizeof(err));
	assert_non_null(t);
	struct store_log_txn bad = { .ref = NULL, .action = "accepted" };
	struct store_log_txn good = { .ref = "GOOD-AAAA", .ts = mw_now(), .action = "accepted" };
	track_txn(t, &bad);
	track_txn(t, &good);
	track_sync(t);
	track_close(t);
	log_init(LOG_INFO, 2);
	close(fds[1]);
	char out[4096];
	ssize_t n = read(fds[0], out, sizeof(out) - 1);
	close(fds[0]);
	assert_true(n > 0);
	out[n] = '\0';
	assert_non_null(strstr(out, "track drop txn"));
	struct store_log_query q = { .ref = "GOOD-AAAA" };
	assert_int_equal(count_entries(&f->c, &q, NULL), 1);
}

/* Count occurrences of needle in the file at path. */
static int count_in_file(const char *path, const char *needle)
{
	char buf[65536];
	FILE *fp = fopen(path, "r");
	size_t n;
	int cnt = 0;

	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	for (const char *p = buf; (p = strstr(p, needle)) != NULL; p++)
		cnt++;
	return cnt;
}

/*
 * A database failure at each point of the thread's work (purge, quarantine
 * expiry, begin, each insert, commit): every record is either in the database or named
 * in the text log as dropped - never silently lost - and the thread goes on.
 */
static void test_store_failure_points(void **state)
{
	struct fx *f = *state;
	char err[256], fp[40], logpath[128];
	int saw_purge_fail = 0, saw_commit_drop = 0;

	snprintf(logpath, sizeof(logpath), "%s/log.txt", f->dir);
	for (int n = 1; n <= 24; n++) {
		char ref[16];
		FILE *lf = fopen(logpath, "w");
		assert_non_null(lf);
		log_init(LOG_INFO, fileno(lf));
		snprintf(fp, sizeof(fp), "store_step:%d", n);
		setenv("MAILWARD_FAILPOINT", fp, 1);
		struct track *t = track_open(&f->c, err, sizeof(err));
		unsetenv("MAILWARD_FAILPOINT");
		assert_non_null(t);
		snprintf(ref, sizeof(ref), "F%03d-AAAA", n);
		struct store_log_txn x = { .ref = ref, .ts = mw_now(), .action = "accepted" };
		struct store_log_rcpt r = { .ref = ref, .ts = mw_now(), .rcpt = "a@b.example",
			.status = "accepted" };
		track_txn(t, &x);
		track_rcpt(t, &r);
		track_sync(t);
		track_close(t);
		log_init(LOG_INFO, 2);
		fclose(lf);

		struct store_log_query q = { .ref = ref };
		size_t rcpts;
		size_t found = count_entries(&f->c, &q, &rcpts);
		int dropped_txn = count_in_file(logpath, "track drop txn");
		int dropped_rcpt = count_in_file(logpath, "track drop rcpt");
		/* The txn row: written, or reported (a failed commit reports both). */
		int txn_written = found == 1 && dropped_txn == 0;
		if (!txn_written && dropped_txn == 0)
			fail_msg("step %d: txn neither written nor reported", n);
		if (rcpts == 0 && dropped_rcpt == 0)
			fail_msg("step %d: rcpt neither written nor reported", n);
		saw_purge_fail |= count_in_file(logpath, "track purge-failed");
		saw_commit_drop |= dropped_txn && dropped_rcpt;
	}
	assert_true(saw_purge_fail);
	assert_true(saw_commit_drop);
}

/* While the database is stuck, memory stays bounded: records beyond the
 * queue limit (100000) are reported and dropped, the rest written later. */
static void test_queue_bound(void **state)
{
	struct fx *f = *state;
	char err[256], logpath[128], ref[16];
	struct store *b;

	/* Hold the write lock: the thread's first purge waits on it. */
	b = store_open(&f->c, err, sizeof(err));
	assert_non_null(b);
	assert_int_equal(store_begin(b), 0);
	assert_int_equal(store_tenant_add(b, "lock", NULL), 0);

	snprintf(logpath, sizeof(logpath), "%s/log.txt", f->dir);
	FILE *lf = fopen(logpath, "w");
	assert_non_null(lf);
	log_init(LOG_INFO, fileno(lf));
	struct track *t = track_open(&f->c, err, sizeof(err));
	assert_non_null(t);
	for (int i = 0; i < 100005; i++) {
		snprintf(ref, sizeof(ref), "Q%06d", i);
		struct store_log_rcpt r = { .ref = ref, .ts = 1, .status = "accepted" };
		track_rcpt(t, &r);
	}
	assert_int_equal(store_commit(b), 0);
	store_close(b);
	track_sync(t);
	track_close(t);
	log_init(LOG_INFO, 2);
	fclose(lf);
	assert_int_equal(count_in_file(logpath, "reason=queue-full"), 5);
	struct store_log_query q = { .ref = "Q099999", .limit = 1 };
	assert_int_equal(count_entries(&f->c, &q, NULL), 1);
	q.ref = "Q100000";
	assert_int_equal(count_entries(&f->c, &q, NULL), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_write_and_sync),
		T(test_rcpt_stat_written_by_thread),
		T(test_concurrent_producers_and_close_drains),
		T(test_purge_at_start),
		T(test_open_failure_and_store_errors),
		T(test_store_failure_points),
		T(test_queue_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
