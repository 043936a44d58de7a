/*
 * test_queue.c - the delivery queue against real spool files and real
 * destinations: maildir directories, and a closed TCP port (127.0.0.1:1,
 * connection refused at once) for temporary failures.  No outside network.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/refid.h"
#include "base/util.h"
#include "conf/conf.h"
#include "log/log.h"
#include "queue/queue.h"
#include "spool/spool.h"
#include "store/store.h"

#define REFUSED "smtp://127.0.0.1:1"

struct fx {
	char dir[64];
	char path[200];
	struct conf conf;
	struct spool *sp;
	struct queue *q;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char err[256];

	unsetenv("MAILWARD_FAILPOINT");
	strcpy(fx->dir, "/tmp/mw-queue-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	conf_defaults(&fx->conf);
	mw_strlcpy(fx->conf.data_dir, fx->dir, sizeof(fx->conf.data_dir));
	mw_strlcpy(fx->conf.hostname, "gw.test.example", sizeof(fx->conf.hostname));
	fx->conf.delivery_workers = 2;
	fx->conf.retry_min = 300;
	fx->conf.retry_max = 3600;
	fx->conf.max_queue_lifetime = 5 * 86400;
	fx->conf.delivery_timeout = 5;
	fx->conf.relayhost[0] = '\0';
	fx->conf.fsync = 1;
	snprintf(fx->path, sizeof(fx->path), "%s/spool", fx->dir);
	fx->sp = spool_open(fx->path, 1, err, sizeof(err));
	if (fx->sp == NULL)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[256];

	queue_free(fx->q);
	spool_close(fx->sp);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	free(fx);
	return 0;
}

static void start_queue(struct fx *fx)
{
	fx->q = queue_new(&fx->conf, fx->sp, NULL);
	assert_non_null(fx->q);
	assert_int_equal(queue_start(fx->q), 0);
}

static const char body[] = "From: a@sender.example\r\nSubject: hi\r\n\r\nhello\r\n";

static void spool_msg(struct fx *fx, const char *sender, int64_t arrival,
    const struct spool_envelope_rcpt *r, size_t n, const char *attr, char *qid)
{
	const char *attrs[1] = { attr };
	struct spool_envelope env = {
		.ref = "TEST-REF1", .arrival = arrival, .client_ip = "192.0.2.1",
		.helo = "client.example", .sender = sender, .rcpts = r, .n_rcpts = n,
		.attrs = attr ? attrs : NULL, .n_attrs = attr ? 1 : 0,
	};
	struct spool_msg *m = spool_msg_new(fx->sp, &env, qid);

	assert_non_null(m);
	assert_int_equal(spool_msg_write(m, body, sizeof(body) - 1), 0);
	assert_int_equal(spool_commit_now(fx->sp, m), 0);
}

static size_t count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

static size_t spool_count(struct fx *fx)
{
	char **l;
	size_t n;

	assert_int_equal(spool_list(fx->sp, &l, &n), 0);
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
	return n;
}

static int file_exists(struct fx *fx, const char *qid)
{
	struct spool_file *f;
	char err[128];
	int rc = spool_file_open(fx->sp, qid, &f, err, sizeof(err));

	if (rc == 0)
		spool_file_close(f);
	return rc == 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Attempt count of qid once it is idle again, -1 if it left the queue. */
static int wait_idle_attempts(struct fx *fx, const char *qid, int min_attempts)
{
	for (int t = 0; t < 1000; t++) {
		struct queue_entry_info *e;
		size_t n;
		int found = -1;
		assert_int_equal(queue_snapshot(fx->q, &e, &n), 0);
		for (size_t i = 0; i < n; i++) {
			if (strcmp(e[i].qid, qid) == 0 && !e[i].active)
				found = e[i].attempts;
			else if (strcmp(e[i].qid, qid) == 0)
				found = -2;
		}
		free(e);
		if (found == -1 || found >= min_attempts)
			return found;
		sleep_ms(10);
	}
	fail_msg("qid %s never became idle", qid);
	return -3;
}

static void wait_gone(struct fx *fx, const char *qid)
{
	for (int t = 0; t < 1000 && file_exists(fx, qid); t++)
		sleep_ms(10);
	assert_false(file_exists(fx, qid));
}

/* ---- tests ----------------------------------------------------------------- */

static void test_backoff(void **state)
{
	struct conf c;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.retry_min = 300;
	c.retry_max = 3600;
	assert_int_equal(queue_backoff(&c, 0), 300);
	assert_int_equal(queue_backoff(&c, 1), 300);
	assert_int_equal(queue_backoff(&c, 2), 600);
	assert_int_equal(queue_backoff(&c, 3), 1200);
	assert_int_equal(queue_backoff(&c, 4), 2400);
	assert_int_equal(queue_backoff(&c, 5), 3600);
	assert_int_equal(queue_backoff(&c, 1000000), 3600);
	c.retry_max = 100; /* cap below min: min wins */
	assert_int_equal(queue_backoff(&c, 3), 300);
}

static void test_deliver_maildir(void **state)
{
	struct fx *fx = *state;
	char md1[256], md2[256], d1[300], d2[300], d3[300], qid[QID_LEN + 1];

	snprintf(md1, sizeof(md1), "maildir:%s/md1", fx->dir);
	snprintf(md2, sizeof(md2), "maildir:%s/md2", fx->dir);
	snprintf(d1, sizeof(d1), "%s/md1", fx->dir);
	snprintf(d2, sizeof(d2), "%s/md2", fx->dir);
	assert_int_equal(mkdir(d1, 0700), 0);
	assert_int_equal(mkdir(d2, 0700), 0);
	struct spool_envelope_rcpt r[] = {
		{ "alice@hosted.example", NULL, "t1", md1, SPOOL_RCPT_PENDING },
		{ "bob@hosted.example", NULL, "t1", md1, SPOOL_RCPT_PENDING },
		{ "carol@other.example", NULL, "t2", md2, SPOOL_RCPT_PENDING },
		{ "done@hosted.example", NULL, "t1", md1, SPOOL_RCPT_DELIVERED },
	};
	spool_msg(fx, "a@sender.example", mw_now(), r, 4, NULL, qid);
	start_queue(fx);
	queue_add(fx->q, qid);
	wait_gone(fx, qid);

	snprintf(d3, sizeof(d3), "%s/alice@hosted.example/new", d1);
	assert_int_equal(count_dir(d3), 1);
	snprintf(d3, sizeof(d3), "%s/bob@hosted.example/new", d1);
	assert_int_equal(count_dir(d3), 1);
	snprintf(d3, sizeof(d3), "%s/carol@other.example/new", d2);
	assert_int_equal(count_dir(d3), 1);
	/* Already done: not delivered again. */
	snprintf(d3, sizeof(d3), "%s/done@hosted.example/new", d1);
	assert_int_equal(count_dir(d3), 0);
	assert_int_equal(wait_idle_attempts(fx, qid, 1), -1);
	assert_int_equal(spool_count(fx), 0);
}

/* X11: connection refused -> deferred, retried at the backoff schedule. */
static void test_defer_retry_flush_delete(void **state)
{
	struct fx *fx = *state;
	char qid[QID_LEN + 1], err[128];
	struct spool_envelope_rcpt r[] = { { "x@far.example", NULL, "t", REFUSED, SPOOL_RCPT_PENDING } };

	spool_msg(fx, "a@sender.example", mw_now(), r, 1, NULL, qid);
	start_queue(fx);
	int64_t before = mw_now();
	queue_add(fx->q, qid);
	assert_int_equal(wait_idle_attempts(fx, qid, 1), 1);

	struct queue_entry_info *e;
	size_t n;
	assert_int_equal(queue_snapshot(fx->q, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].qid, qid);
	assert_true(e[0].next_attempt >= before + 300 && e[0].next_attempt <= mw_now() + 300);
	free(e);

	struct spool_file *f;
	assert_int_equal(spool_file_open(fx->sp, qid, &f, err, sizeof(err)), 0);
	assert_int_equal(f->rcpts[0].status, SPOOL_RCPT_PENDING);
	spool_file_close(f);

	/* flush: due now, second attempt, next delay doubles. */
	assert_int_equal(queue_flush(fx->q, qid), 0);
	assert_int_equal(wait_idle_attempts(fx, qid, 2), 2);
	assert_int_equal(queue_snapshot(fx->q, &e, &n), 0);
	assert_true(e[0].next_attempt >= before + 600);
	free(e);
	assert_int_equal(queue_flush(fx->q, NULL), 0);
	assert_int_equal(wait_idle_attempts(fx, qid, 3), 3);

	assert_int_equal(queue_flush(fx->q, "NOSUCHQID"), 1);
	assert_int_equal(queue_delete(fx->q, qid), 0);
	assert_false(file_exists(fx, qid));
	assert_int_equal(queue_delete(fx->q, qid), 1);
	assert_int_equal(queue_snapshot(fx->q, &e, &n), 0);
	assert_int_equal(n, 0);
	free(e);
}

/* Find the one queued message other than skip; returns 1 and its qid. */
static int other_qid(struct fx *fx, const char *skip, char *out)
{
	char **l;
	size_t n;
	int found = 0;

	assert_int_equal(spool_list(fx->sp, &l, &n), 0);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(l[i], skip) != 0 && !found) {
			strcpy(out, l[i]);
			found = 1;
		}
		free(l[i]);
	}
	free(l);
	return found;
}

/* X11: past max_queue_lifetime -> a 4.4.7 DSN to the sender, carrying the
 * last reply; the original is marked and removed. */
static void test_expiry_dsn(void **state)
{
	struct fx *fx = *state;
	char qid[QID_LEN + 1], dsn[QID_LEN + 1], err[128];
	struct spool_envelope_rcpt r[] = {
		{ "x@far.example", NULL, "t", REFUSED, SPOOL_RCPT_PENDING },
		{ "y@far.example", NULL, "t", REFUSED, SPOOL_RCPT_PENDING },
	};

	mw_strlcpy(fx->conf.relayhost, REFUSED, sizeof(fx->conf.relayhost));
	spool_msg(fx, "Sender@Sender.example", mw_now() - 5 * 86400 - 60, r, 2, NULL, qid);
	start_queue(fx);
	queue_add(fx->q, qid);
	wait_gone(fx, qid);

	assert_int_equal(other_qid(fx, qid, dsn), 1);
	assert_int_equal(spool_count(fx), 1);
	struct spool_file *f;
	assert_int_equal(spool_file_open(fx->sp, dsn, &f, err, sizeof(err)), 0);
	assert_string_equal(f->sender, "");
	assert_int_equal(f->n_rcpts, 1);
	assert_string_equal(f->rcpts[0].rcpt, "Sender@Sender.example");
	assert_string_equal(spool_file_attr(f, "dsn"), "1");
	/* No hosted domain (store empty or unavailable): the relayhost. */
	assert_string_equal(f->rcpts[0].deliver, REFUSED);
	char *data;
	size_t dn;
	assert_int_equal(spool_file_read_data(f, &data, &dn), 0);
	assert_non_null(strstr(data, "4.4.7"));
	assert_non_null(strstr(data, "x@far.example"));
	assert_non_null(strstr(data, "y@far.example"));
	assert_non_null(strstr(data, "Subject: hi"));
	free(data);
	spool_file_close(f);
}

/* X14: no DSN for the null sender, none for a DSN. */
static void test_no_dsn_for_null_sender_or_dsn(void **state)
{
	struct fx *fx = *state;
	char q1[QID_LEN + 1], q2[QID_LEN + 1];
	struct spool_envelope_rcpt r[] = { { "x@far.example", NULL, "t", REFUSED, SPOOL_RCPT_PENDING } };
	int64_t old = mw_now() - 5 * 86400 - 60;

	mw_strlcpy(fx->conf.relayhost, REFUSED, sizeof(fx->conf.relayhost));
	spool_msg(fx, "", old, r, 1, NULL, q1);
	spool_msg(fx, "someone@sender.example", old, r, 1, "dsn=1", q2);
	start_queue(fx);
	queue_add(fx->q, q1);
	queue_add(fx->q, q2);
	wait_gone(fx, q1);
	wait_gone(fx, q2);
	assert_int_equal(spool_count(fx), 0);
}

/* 5xx for one recipient: DSN with its status; the other is delivered. */
static void test_bounce_dsn(void **state)
{
	struct fx *fx = *state;
	char qid[QID_LEN + 1], dsn[QID_LEN + 1], md[256], d[300], err[128];

	snprintf(md, sizeof(md), "maildir:%s/md", fx->dir);
	snprintf(d, sizeof(d), "%s/md", fx->dir);
	assert_int_equal(mkdir(d, 0700), 0);
	mw_strlcpy(fx->conf.relayhost, REFUSED, sizeof(fx->conf.relayhost));
	struct spool_envelope_rcpt r[] = {
		{ "good@hosted.example", NULL, "t", md, SPOOL_RCPT_PENDING },
		{ ".bad@hosted.example", NULL, "t", md, SPOOL_RCPT_PENDING }, /* maildir says 550 */
	};
	spool_msg(fx, "s@sender.example", mw_now(), r, 2, NULL, qid);
	start_queue(fx);
	queue_add(fx->q, qid);
	wait_gone(fx, qid);

	snprintf(d, sizeof(d), "%s/md/good@hosted.example/new", fx->dir);
	assert_int_equal(count_dir(d), 1);
	assert_int_equal(other_qid(fx, qid, dsn), 1);
	struct spool_file *f;
	assert_int_equal(spool_file_open(fx->sp, dsn, &f, err, sizeof(err)), 0);
	assert_string_equal(f->rcpts[0].rcpt, "s@sender.example");
	char *data;
	size_t dn;
	assert_int_equal(spool_file_read_data(f, &data, &dn), 0);
	assert_non_null(strstr(data, "5.1.3"));
	assert_non_null(strstr(data, ".bad@hosted.example"));
	assert_null(strstr(data, "good@hosted.example"));
	free(data);
	spool_file_close(f);
}

/* A DSN to a sender in a hosted domain goes to that tenant's destination. */
static void test_dsn_to_hosted_sender(void **state)
{
	struct fx *fx = *state;
	char qid[QID_LEN + 1], md[256], d[300], err[256];
	struct store *s = store_open(&fx->conf, err, sizeof(err));

	if (s == NULL) {
		fprintf(stderr, "store unavailable (%s): skipped\n", err);
		skip();
	}
	snprintf(md, sizeof(md), "maildir:%s/dsnbox", fx->dir);
	snprintf(d, sizeof(d), "%s/dsnbox", fx->dir);
	assert_int_equal(mkdir(d, 0700), 0);
	assert_int_equal(store_tenant_add(s, "acme", "reject"), 0);
	assert_int_equal(store_domain_add(s, "acme.example", "acme", md), 0);
	assert_int_equal(store_user_add(s, "boss@acme.example", NULL), 0);
	store_close(s);

	struct spool_envelope_rcpt r[] = { { "x@far.example", NULL, "t", REFUSED, SPOOL_RCPT_PENDING } };
	spool_msg(fx, "Boss@acme.example", mw_now() - 5 * 86400 - 60, r, 1, NULL, qid);
	start_queue(fx);
	queue_add(fx->q, qid);
	wait_gone(fx, qid);
	/* The DSN is queued and delivered to the tenant's maildir. */
	snprintf(d, sizeof(d), "%s/dsnbox/boss@acme.example/new", fx->dir);
	for (int t = 0; t < 1000 && count_dir(d) == 0; t++)
		sleep_ms(10);
	assert_int_equal(count_dir(d), 1);
	for (int t = 0; t < 1000 && spool_count(fx) != 0; t++)
		sleep_ms(10);
	assert_int_equal(spool_count(fx), 0);
}

/* Crash after the last mark, before the removal: nothing is sent again. */
static void test_all_done_is_removed(void **state)
{
	struct fx *fx = *state;
	char qid[QID_LEN + 1];
	struct spool_envelope_rcpt r[] = {
		{ "x@far.example", NULL, "t", REFUSED, SPOOL_RCPT_DELIVERED },
		{ "y@far.example", NULL, "t", REFUSED, SPOOL_RCPT_BOUNCED },
	};

	spool_msg(fx, "a@sender.example", mw_now(), r, 2, NULL, qid);
	start_queue(fx);
	queue_add(fx->q, qid);
	wait_gone(fx, qid);
	assert_int_equal(spool_count(fx), 0);
}

/* A destination that accepts the connection and never says a word: the
 * attempt lasts until delivery_timeout. */
static int silent_listener(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s, 16), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return s;
}

/* queue_delete during an attempt waits for it, then removes the file. */
static void test_delete_while_active(void **state)
{
	struct fx *fx = *state;
	char qid[QID_LEN + 1], url[64];
	int port, s = silent_listener(&port);

	fx->conf.delivery_timeout = 1;
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", port);
	struct spool_envelope_rcpt r[] = { { "x@far.example", NULL, "t", url, SPOOL_RCPT_PENDING } };
	spool_msg(fx, "a@sender.example", mw_now(), r, 1, NULL, qid);
	start_queue(fx);
	queue_add(fx->q, qid);
	int active = 0;
	for (int t = 0; t < 500 && !active; t++) {
		struct queue_entry_info *e;
		size_t n;
		assert_int_equal(queue_snapshot(fx->q, &e, &n), 0);
		active = n == 1 && e[0].active;
		free(e);
		if (!active)
			sleep_ms(2);
	}
	assert_true(active);
	assert_int_equal(queue_delete(fx->q, qid), 0);
	assert_false(file_exists(fx, qid));
	struct queue_entry_info *e;
	size_t n;
	assert_int_equal(queue_snapshot(fx->q, &e, &n), 0);
	assert_int_equal(n, 0);
	free(e);
	close(s);
}

/* queue_delete works without running workers (CLI) and dedupes queue_add. */
static void test_delete_unscheduled(void **state)
{
	struct fx *fx = *state;
	char qid[QID_LEN + 1];
	struct spool_envelope_rcpt r[] = { { "x@far.example", NULL, "t", REFUSED, SPOOL_RCPT_PENDING } };

	spool_msg(fx, "a@sender.example", mw_now(), r, 1, NULL, qid);
	/* Workers not started: the file is still deletable by qid. */
	fx->q = queue_new(&fx->conf, fx->sp, NULL);
	assert_int_equal(queue_delete(fx->q, qid), 0);
	assert_false(file_exists(fx, qid));
	assert_int_equal(queue_delete(fx->q, qid), 1);
	/* Added but not started: removed from the schedule and the disk. */
	spool_msg(fx, "a@sender.example", mw_now(), r, 1, NULL, qid);
	queue_add(fx->q, qid);
	queue_add(fx->q, qid); /* twice: one entry */
	struct queue_entry_info *e;
	size_t n;
	assert_int_equal(queue_snapshot(fx->q, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].attempts, 0);
	assert_int_equal(e[0].active, 0);
	free(e);
	assert_int_equal(queue_delete(fx->q, qid), 0);
	assert_false(file_exists(fx, qid));
}

int main(void)
{
	/* Warnings and errors only: every attempt logs at info. */
	log_init(getenv("TEST_VERBOSE") ? LOG_DEBUG : LOG_WARN, 2);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
		cmocka_unit_test_setup_teardown(test_deliver_maildir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defer_retry_flush_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_dsn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_dsn_for_null_sender_or_dsn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounce_dsn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dsn_to_hosted_sender, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_done_is_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_while_active, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_unscheduled, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
