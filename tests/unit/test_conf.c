/* Unit tests: configuration table, INI loading, errors with FILE:LINE, docs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/util.h"
#include "conf/conf.h"

struct fx {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/mw-conf-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/mailward.ini", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* Load text as a file; returns conf_load's result, message in err. */
static int load_text(struct fx *f, struct conf *c, const char *text, char *err, size_t n)
{
	write_file(f->path, text);
	return conf_load(c, f->path, err, n);
}

static void test_defaults(void **state)
{
	(void)state;
	struct conf c;

	conf_defaults(&c);
	assert_string_equal(c.smtp_listen, "127.0.0.1:2525");
	assert_string_equal(c.hostname, "mailward.test");
	assert_int_equal(c.max_connections, 1000);
	assert_int_equal(c.max_connections_per_ip, 20);
	assert_int_equal(c.bare_lf, BARE_LF_NORMALIZE);
	assert_int_equal(c.require_helo, 1);
	assert_int_equal(c.max_message_size, 26214400);
	assert_int_equal(c.max_recipients, 1000);
	assert_int_equal(c.max_command_line, 512);
	assert_int_equal(c.max_text_line, 1000);
	assert_int_equal(c.max_header_size, 1048576);
	assert_int_equal(c.max_errors, 20);
	assert_int_equal(c.max_junk_commands, 100);
	assert_int_equal(c.idle_timeout, 300);
	assert_int_equal(c.data_timeout, 600);
	assert_int_equal(c.session_timeout, 3600);
	assert_string_equal(c.tls_cert, "");
	assert_string_equal(c.tls_key, "");
	assert_string_equal(c.data_dir, "./var");
	assert_string_equal(c.backend, "sqlite");
	assert_int_equal(c.fsync, 1);
	assert_int_equal(c.delivery_workers, 4);
	assert_int_equal(c.max_queue_lifetime, 5 * 86400);
	assert_int_equal(c.retry_min, 60);
	assert_int_equal(c.retry_max, 3600);
	assert_int_equal(c.delivery_timeout, 300);
	assert_string_equal(c.relayhost, "");
	assert_int_equal(c.log_retention, 7 * 86400);
	assert_string_equal(c.log_level, "info");
	assert_string_equal(c.admin_listen, "127.0.0.1:8025");
	assert_string_equal(c.user, "mailward");
}

static void test_table_is_consistent(void **state)
{
	(void)state;
	/* Every key unique within its section, every field inside struct conf. */
	for (const struct conf_key *k = conf_keys; k->name != NULL; k++) {
		assert_true(k->offset + k->size <= sizeof(struct conf));
		assert_non_null(k->doc);
		assert_non_null(k->def);
		for (const struct conf_key *j = k + 1; j->name != NULL; j++)
			assert_false(strcmp(k->section, j->section) == 0 && strcmp(k->name, j->name) == 0);
	}
}

static void expect_set_ok(struct conf *c, const char *sec, const char *key, const char *v)
{
	char err[256] = "";
	if (conf_set(c, sec, key, v, err, sizeof(err)) != 0)
		fail_msg("[%s] %s = %s refused: %s", sec, key, v, err);
}

static void expect_set_err(struct conf *c, const char *sec, const char *key, const char *v,
    const char *want)
{
	char err[256] = "";
	if (conf_set(c, sec, key, v, err, sizeof(err)) != -1)
		fail_msg("[%s] %s = %s accepted", sec, key, v);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' lacks '%s'", err, want);
}

static void test_types(void **state)
{
	(void)state;
	struct conf c;

	conf_defaults(&c);
	/* strings */
	expect_set_ok(&c, "tls", "cert", "/etc/ssl/a.pem");
	assert_string_equal(c.tls_cert, "/etc/ssl/a.pem");
	char big[600];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	expect_set_err(&c, "tls", "cert", big, "too long");
	expect_set_err(&c, "tls", "cert", "a\tb", "control character");
	/* restricted strings */
	expect_set_ok(&c, "log", "level", "debug");
	assert_string_equal(c.log_level, "debug");
	expect_set_err(&c, "log", "level", "verbose", "'verbose' is not one of debug|info|warn|error");
	expect_set_err(&c, "storage", "backend", "redis", "is not one of sqlite");
	/* enum */
	expect_set_ok(&c, "smtp", "bare_lf", "reject");
	assert_int_equal(c.bare_lf, BARE_LF_REJECT);
	expect_set_ok(&c, "smtp", "bare_lf", "normalize");
	assert_int_equal(c.bare_lf, BARE_LF_NORMALIZE);
	expect_set_err(&c, "smtp", "bare_lf", "Reject", "is not one of reject|normalize");
	expect_set_err(&c, "smtp", "bare_lf", "", "is not one of");
	/* bool */
	static const char *const yes[] = { "yes", "true", "on", "1", "YES", "True" };
	static const char *const no[] = { "no", "false", "off", "0", "No", "OFF" };
	for (size_t i = 0; i < 6; i++) {
		expect_set_ok(&c, "smtp", "require_helo", no[i]);
		assert_int_equal(c.require_helo, 0);
		expect_set_ok(&c, "smtp", "require_helo", yes[i]);
		assert_int_equal(c.require_helo, 1);
	}
	expect_set_err(&c, "smtp", "require_helo", "maybe", "is not a boolean");
	expect_set_err(&c, "storage", "fsync", "2", "is not a boolean");
	/* integers */
	expect_set_ok(&c, "queue", "delivery_workers", "64");
	assert_int_equal(c.delivery_workers, 64);
	expect_set_err(&c, "queue", "delivery_workers", "65", "65 is above the maximum 64");
	expect_set_err(&c, "queue", "delivery_workers", "0", "0 is below the minimum 1");
	expect_set_err(&c, "queue", "delivery_workers", "-3", "-3 is below the minimum 1");
	expect_set_err(&c, "queue", "delivery_workers", "4x", "is not a whole number");
	expect_set_err(&c, "queue", "delivery_workers", "", "is not a whole number");
	expect_set_err(&c, "queue", "delivery_workers", "99999999999999999999", "is not a whole number");
	/* scores: hundredths, exact */
	static const struct { const char *in; int64_t v; } sc[] = {
		{ "8", 800 }, { "7.5", 750 }, { "7.25", 725 }, { "-2.5", -250 }, { "-0.05", -5 },
		{ "0", 0 }, { "1000", 100000 }, { "-1000", -100000 }, { "0.10", 10 },
	};
	for (size_t i = 0; i < MW_ARRAY_LEN(sc); i++) {
		expect_set_ok(&c, "scan", "tag", sc[i].in);
		assert_int_equal(c.scan_tag, sc[i].v);
	}
	static const char *const badsc[] = { "", "x", "7.", ".5", "7.255", "1e3", "7,5", "-", "--1",
		"7.5x", "8 " };
	for (size_t i = 0; i < MW_ARRAY_LEN(badsc); i++)
		expect_set_err(&c, "scan", "tag", badsc[i], "is not a score");
	expect_set_err(&c, "scan", "tag", "1000.01", "1000.01 is above the maximum 1000");
	expect_set_err(&c, "scan", "probable_spam", "-1000.5", "is below the minimum -1000");
	char fs[32];
	conf_format_score(-5, fs, sizeof(fs));
	assert_string_equal(fs, "-0.05");
	conf_format_score(750, fs, sizeof(fs));
	assert_string_equal(fs, "7.5");
	conf_format_score(-1200, fs, sizeof(fs));
	assert_string_equal(fs, "-12");
	expect_set_err(&c, "limits", "max_recipients", "5", "5 is below the minimum 100");
	expect_set_err(&c, "limits", "max_command_line", "511", "below the minimum 512");
	expect_set_err(&c, "limits", "max_text_line", "999", "below the minimum 1000");
	/* sizes */
	expect_set_ok(&c, "limits", "max_message_size", "10485760");
	assert_int_equal(c.max_message_size, 10485760);
	expect_set_ok(&c, "limits", "max_message_size", "512k");
	assert_int_equal(c.max_message_size, 512 * 1024);
	expect_set_ok(&c, "limits", "max_message_size", "512K");
	assert_int_equal(c.max_message_size, 512 * 1024);
	expect_set_ok(&c, "limits", "max_message_size", "50m");
	assert_int_equal(c.max_message_size, 50 * 1048576);
	expect_set_ok(&c, "limits", "max_message_size", "50M");
	assert_int_equal(c.max_message_size, 50 * 1048576);
	expect_set_ok(&c, "limits", "max_message_size", "2G");
	assert_int_equal(c.max_message_size, INT64_C(2) << 30);
	expect_set_ok(&c, "limits", "max_message_size", "1g");
	assert_int_equal(c.max_message_size, INT64_C(1) << 30);
	expect_set_err(&c, "limits", "max_message_size", "5G", "is above the maximum 4G");
	expect_set_err(&c, "limits", "max_message_size", "1k", "is below the minimum 64k");
	expect_set_err(&c, "limits", "max_message_size", "10MB", "is not a size");
	expect_set_err(&c, "limits", "max_message_size", "M", "is not a size");
	expect_set_err(&c, "limits", "max_message_size", "-1M", "is not a size");
	expect_set_err(&c, "limits", "max_message_size", "99999999999999G", "is not a size");
	expect_set_err(&c, "limits", "max_message_size", "1234567890123456789012345678901234k",
	    "is not a size");
	/* durations */
	expect_set_ok(&c, "limits", "idle_timeout", "30s");
	assert_int_equal(c.idle_timeout, 30);
	expect_set_ok(&c, "limits", "idle_timeout", "5m");
	assert_int_equal(c.idle_timeout, 300);
	expect_set_ok(&c, "limits", "idle_timeout", "2h");
	assert_int_equal(c.idle_timeout, 7200);
	expect_set_ok(&c, "limits", "idle_timeout", "45");
	assert_int_equal(c.idle_timeout, 45);
	expect_set_ok(&c, "queue", "max_lifetime", "5d");
	assert_int_equal(c.max_queue_lifetime, 5 * 86400);
	expect_set_err(&c, "limits", "idle_timeout", "0s", "0s is below the minimum 1s");
	expect_set_err(&c, "limits", "idle_timeout", "2d", "2d is above the maximum 1d");
	expect_set_err(&c, "limits", "idle_timeout", "soon", "is not a duration");
	/* unknown names */
	expect_set_err(&c, "smtpd", "listen", "x", "unknown section [smtpd]");
	expect_set_err(&c, "smtp", "lisen", "x", "[smtp] unknown key 'lisen'");
	/* keys with a syntax */
	expect_set_ok(&c, "smtp", "listen", "0.0.0.0:25");
	expect_set_ok(&c, "smtp", "listen", "[::1]:2525");
	expect_set_ok(&c, "admin", "listen", "localhost:8025");
	expect_set_err(&c, "smtp", "listen", "0.0.0.0", "is not host:port");
	expect_set_err(&c, "smtp", "listen", ":25", "is not host:port");
	expect_set_err(&c, "smtp", "listen", "h:0", "is not host:port");
	expect_set_err(&c, "smtp", "listen", "h:65536", "is not host:port");
	expect_set_err(&c, "smtp", "listen", "::1:25", "is not host:port");
	expect_set_err(&c, "smtp", "listen", "[::1]25", "is not host:port");
	expect_set_ok(&c, "queue", "relayhost", "smtp://relay.example:25");
	expect_set_ok(&c, "queue", "relayhost", "");
	expect_set_err(&c, "queue", "relayhost", "relay.example", "is not smtp://host:port");
	expect_set_err(&c, "smtp", "hostname", "mx example", "is not a host name");
	expect_set_err(&c, "smtp", "hostname", "", "is not a host name");
	/* Every default passes its own key. */
	for (const struct conf_key *k = conf_keys; k->name != NULL; k++)
		expect_set_ok(&c, k->section, k->name, k->def);
}

static void test_load_full_file(void **state)
{
	struct fx *f = *state;
	struct conf c;
	char err[512] = "";

	conf_defaults(&c);
	assert_int_equal(load_text(f, &c,
	    "; mailward test configuration\n"
	    "# both comment styles\n"
	    "\n"
	    "[smtp]\n"
	    "listen = 127.0.0.1:2626\n"
	    "  hostname = mx.example.net   ; indented, with a trailing comment\n"
	    "bare_lf=reject\n"
	    "require_helo = off\n"
	    "[limits]\n"
	    "max_message_size = 10M\n"
	    "max_recipients = 200\n"
	    "idle_timeout = 30s\n"
	    "[storage]\n"
	    "data_dir = /tmp/x y\n"
	    "fsync = no\n"
	    "[queue]\n"
	    "retry_min = 10s\n"
	    "retry_max = 10m\n"
	    "[log]\n"
	    "retention = 2d\n"
	    "level = warn\n"
	    "[run]\n"
	    "user = nobody\n", err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_string_equal(c.smtp_listen, "127.0.0.1:2626");
	assert_string_equal(c.hostname, "mx.example.net");
	assert_int_equal(c.bare_lf, BARE_LF_REJECT);
	assert_int_equal(c.require_helo, 0);
	assert_int_equal(c.max_message_size, 10 * 1048576);
	assert_int_equal(c.max_recipients, 200);
	assert_int_equal(c.idle_timeout, 30);
	assert_string_equal(c.data_dir, "/tmp/x y");
	assert_int_equal(c.fsync, 0);
	assert_int_equal(c.retry_min, 10);
	assert_int_equal(c.retry_max, 600);
	assert_int_equal(c.log_retention, 2 * 86400);
	assert_string_equal(c.log_level, "warn");
	assert_string_equal(c.user, "nobody");
	/* Untouched keys keep their defaults. */
	assert_int_equal(c.max_connections, 1000);
	assert_string_equal(c.admin_listen, "127.0.0.1:8025");
}

/* Load text and expect exactly "PATH:" + want. */
static void expect_load_err(struct fx *f, const char *text, const char *want)
{
	struct conf c, before;
	char err[512] = "", full[640];

	conf_defaults(&c);
	before = c;
	if (load_text(f, &c, text, err, sizeof(err)) != -1)
		fail_msg("accepted: %s", text);
	snprintf(full, sizeof(full), "%s:%s", f->path, want);
	if (strcmp(err, full) != 0)
		fail_msg("got '%s', want '%s'", err, full);
	/* A refused file changes nothing. */
	assert_memory_equal(&c, &before, sizeof(c));
}

static void test_load_errors(void **state)
{
	struct fx *f = *state;

	expect_load_err(f, "[smtp]\nlisten = 127.0.0.1:25\n\n[limits]\n\n; comment\nmax_recipients = 5\n",
	    "7: [limits] max_recipients: 5 is below the minimum 100");
	expect_load_err(f, "[smtp]\nmax_conections = 5\n", "2: [smtp] unknown key 'max_conections'");
	expect_load_err(f, "[smtp]\nlisten = a:1\n[mailer]\nx = 1\n", "4: unknown section [mailer]");
	expect_load_err(f, "listen = a:1\n", "1: unknown section []");
	expect_load_err(f, "[smtp]\nlisten\n", "2: syntax error (expected [section] or key = value)");
	expect_load_err(f, "[smtp\nlisten = a:1\n", "1: syntax error (expected [section] or key = value)");
	expect_load_err(f, "[smtp]\nbare_lf = sometimes\n",
	    "2: [smtp] bare_lf: 'sometimes' is not one of reject|normalize");
	expect_load_err(f, "[limits]\nidle_timeout = 5 minutes\n",
	    "2: [limits] idle_timeout: '5 minutes' is not a duration (seconds, or a number with "
	    "suffix s, m, h or d)");
	expect_load_err(f, "[smtp]\nlisten = a:1\n\n[smtp]\nlisten = b:2\n",
	    "5: [smtp] listen: set twice (first on line 2)");
	/* The first error wins, syntax or value. */
	expect_load_err(f, "[smtp]\nfoo = 1\nbar\n", "2: [smtp] unknown key 'foo'");
	expect_load_err(f, "[smtp]\nbar\nfoo = 1\n", "2: syntax error (expected [section] or key = value)");
	expect_load_err(f, "[smtp]\nfoo = 1\nbar = 2\n", "2: [smtp] unknown key 'foo'");
	/* Two keys that only conflict together: reported at the later one. */
	expect_load_err(f, "[queue]\nretry_max = 1m\nretry_min = 2m\n",
	    "3: [queue] retry_min (120s) is above retry_max (60s)");
	expect_load_err(f, "[tls]\ncert = /a.pem\n", "2: [tls] cert and key must be set together");
	expect_load_err(f, "[scan]\nprobable_spam = 6\ntag = 6.5\n",
	    "3: [scan] tag (6.5) is above probable_spam (6)");
	/* An over-long line would otherwise be split by inih into two. */
	char text[600];
	snprintf(text, sizeof(text), "[storage]\ndata_dir = /%0300d\n", 0);
	expect_load_err(f, text, "2: line is too long (at most 198 characters)");
	/* CRLF line ends are fine. */
	struct conf c;
	char err[256] = "";
	conf_defaults(&c);
	assert_int_equal(load_text(f, &c, "[limits]\r\nmax_errors = 7\r\n", err, sizeof(err)), 0);
	assert_int_equal(c.max_errors, 7);
}

static void test_load_buffer_and_missing_file(void **state)
{
	struct fx *f = *state;
	struct conf c;
	char err[512];

	conf_defaults(&c);
	static const char nul[] = "[limits]\nmax_errors = 3\0\n";
	assert_int_equal(conf_load_buffer(&c, "mem", nul, sizeof(nul) - 1, err, sizeof(err)), -1);
	assert_string_equal(err, "mem:2: NUL byte in line");
	assert_int_equal(c.max_errors, 20);
	/* Not NUL-terminated: only len bytes are read. */
	static const char part[] = "[limits]\nmax_errors = 3xyz";
	assert_int_equal(conf_load_buffer(&c, "mem", part, sizeof(part) - 4, err, sizeof(err)), 0);
	assert_int_equal(c.max_errors, 3);
	assert_int_equal(conf_load_buffer(&c, "mem", "", 0, err, sizeof(err)), 0);

	/* A file too big to be a configuration is refused before parsing. */
	FILE *fp = fopen(f->path, "w");
	assert_non_null(fp);
	for (int i = 0; i < 120000; i++)
		fputs("; padding\n", fp);
	fclose(fp);
	assert_int_equal(conf_load(&c, f->path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is larger than 1048576 bytes"));
	/* A directory opens but cannot be read. */
	assert_int_equal(conf_load(&c, f->dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "Is a directory"));

	char path[200];
	snprintf(path, sizeof(path), "%s/missing.ini", f->dir);
	assert_int_equal(conf_load(&c, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "missing.ini: No such file"));
}

static void test_markdown(void **state)
{
	(void)state;
	char *a = NULL, *b = NULL;
	size_t na = 0, nb = 0;
	FILE *m = open_memstream(&a, &na);
	conf_write_markdown(m);
	fclose(m);
	m = open_memstream(&b, &nb);
	conf_write_markdown(m);
	fclose(m);
	assert_string_equal(a, b); /* stable */
	assert_non_null(strstr(a, "# mailward configuration"));
	for (const struct conf_key *k = conf_keys; k->name != NULL; k++) {
		char sec[64], row[96];
		snprintf(sec, sizeof(sec), "\n## [%s]\n", k->section);
		snprintf(row, sizeof(row), "\n| `%s` | ", k->name);
		char *s = strstr(a, sec);
		assert_non_null(s);
		/* The row comes after its own section heading. */
		if (strstr(s, row) == NULL)
			fail_msg("no row for [%s] %s", k->section, k->name);
	}
	assert_non_null(strstr(a, "| `max_recipients` | integer | `1000` | 100 .. 100000 |"));
	assert_non_null(strstr(a, "| `idle_timeout` | duration | `5m` | 1s .. 1d |"));
	assert_non_null(strstr(a, "| `bare_lf` | one of `reject`, `normalize` | `normalize` |"));
	assert_non_null(strstr(a, "| `cert` | string | (empty) |"));
	free(a);
	free(b);
}

static void test_conf_path(void **state)
{
	(void)state;
	struct conf c;
	char out[600];

	conf_defaults(&c);
	conf_path(&c, "mailward.db", out, sizeof(out));
	assert_string_equal(out, "./var/mailward.db");
	strcpy(c.data_dir, "/srv/mw/");
	conf_path(&c, "spool", out, sizeof(out));
	assert_string_equal(out, "/srv/mw/spool");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_table_is_consistent),
		cmocka_unit_test(test_types),
		cmocka_unit_test_setup_teardown(test_load_full_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_buffer_and_missing_file, setup, teardown),
		cmocka_unit_test(test_markdown),
		cmocka_unit_test(test_conf_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
