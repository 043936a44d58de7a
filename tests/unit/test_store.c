/* Unit tests: the store on real SQLite files in a temporary data_dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "conf/conf.h"
#include "base/util.h"
#include "store/store.h"

struct fx {
	char dir[64];
	struct conf c;
	struct store *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	strcpy(f->dir, "/tmp/mw-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	conf_defaults(&f->c);
	/* A data_dir that does not exist yet: store_open creates it. */
	snprintf(f->c.data_dir, sizeof(f->c.data_dir), "%s/data/sub", f->dir);
	f->s = store_open(&f->c, err, sizeof(err));
	if (f->s == NULL) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void expect_err(struct store *s, int rc, int want_rc, const char *want_text)
{
	if (rc != want_rc)
		fail_msg("rc %d, want %d (error '%s')", rc, want_rc, store_error(s));
	if (strstr(store_error(s), want_text) == NULL)
		fail_msg("error '%s' lacks '%s'", store_error(s), want_text);
}

/* A tenant "acme" with domain example.com and "beta" with beta.org. */
static void populate(struct store *s)
{
	assert_int_equal(store_tenant_add(s, "acme", NULL), 0);
	assert_int_equal(store_tenant_add(s, "beta", "quarantine"), 0);
	assert_int_equal(store_domain_add(s, "example.com", "acme", "smtp://10.0.0.1:25"), 0);
	assert_int_equal(store_domain_add(s, "beta.org", "beta", "maildir:/var/mail/beta"), 0);
}

static void test_open(void **state)
{
	struct fx *f = *state;
	char path[600], err[256];
	struct stat sb;

	assert_int_equal(stat(f->c.data_dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/mailward.db", f->c.data_dir);
	assert_int_equal(stat(path, &sb), 0);

	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 12);   /* 12: Bayes message weights (docs/storage.md) */
	sqlite3_finalize(st);

	/* Reopening an existing database keeps its content. */
	assert_int_equal(store_tenant_add(f->s, "acme", NULL), 0);
	struct store *b = store_open(&f->c, err, sizeof(err));
	assert_non_null(b);
	struct store_tenant t;
	assert_int_equal(store_tenant_get(b, "acme", &t), 0);
	free(t.name);
	free(t.action);
	store_close(b);

	/* A schema from the future is refused, not misread. */
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_null(store_open(&f->c, err, sizeof(err)));
	assert_non_null(strstr(err, "schema version 99 is newer"));
}

static void test_open_errors(void **state)
{
	struct fx *f = *state;
	struct conf c = f->c;
	char err[256];

	strcpy(c.backend, "redis");
	assert_null(store_open(&c, err, sizeof(err)));
	assert_string_equal(err, "unknown storage back end 'redis'");

	/* data_dir below a regular file cannot be created. */
	c = f->c;
	snprintf(c.data_dir, sizeof(c.data_dir), "%s/data/sub/mailward.db/x", f->dir);
	assert_null(store_open(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot create data_dir"));

	/* A file that is not a database. */
	c = f->c;
	snprintf(c.data_dir, sizeof(c.data_dir), "%s/junk", f->dir);
	mkdir(c.data_dir, 0700);
	char path[600];
	snprintf(path, sizeof(path), "%s/mailward.db", c.data_dir);
	FILE *fp = fopen(path, "w");
	fputs("this is not an SQLite database, not at all, not even close......\n", fp);
	fclose(fp);
	assert_null(store_open(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "mailward.db"));
}

static void test_tenants(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	struct store_tenant t, *list;
	size_t n;

	assert_int_equal(store_tenant_add(s, "zeta", NULL), 0);
	assert_int_equal(store_tenant_add(s, "acme.corp_1-x", "quarantine"), 0);
	expect_err(s, store_tenant_add(s, "zeta", "reject"), -1, "tenant 'zeta' already exists");
	expect_err(s, store_tenant_add(s, "Zeta", NULL), -1, "bad tenant name 'Zeta'");
	expect_err(s, store_tenant_add(s, "", NULL), -1, "bad tenant name ''");
	expect_err(s, store_tenant_add(s, "a b", NULL), -1, "bad tenant name");
	expect_err(s, store_tenant_add(s, NULL, NULL), -1, "bad tenant name");
	char longname[80];
	memset(longname, 'a', 65);
	longname[65] = '\0';
	expect_err(s, store_tenant_add(s, longname, NULL), -1, "bad tenant name");
	longname[64] = '\0';
	assert_int_equal(store_tenant_add(s, longname, NULL), 0);
	expect_err(s, store_tenant_add(s, "x", "delete"), -1, "bad action 'delete'");

	assert_int_equal(store_tenant_get(s, "zeta", &t), 0);
	assert_string_equal(t.name, "zeta");
	assert_string_equal(t.action, "reject");
	assert_true(t.id > 0);
	assert_true(t.created > 1700000000);
	free(t.name);
	free(t.action);
	expect_err(s, store_tenant_get(s, "nope", &t), 1, "tenant 'nope' not found");
	expect_err(s, store_tenant_get(s, "NOPE", &t), -1, "bad tenant name");

	assert_int_equal(store_tenant_list(s, &list, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].name, longname);
	assert_string_equal(list[1].name, "acme.corp_1-x");
	assert_string_equal(list[1].action, "quarantine");
	assert_string_equal(list[2].name, "zeta");
	store_tenant_free(list, n);

	assert_int_equal(store_tenant_set(s, "zeta", "action", "quarantine"), 0);
	assert_int_equal(store_tenant_get(s, "zeta", &t), 0);
	assert_string_equal(t.action, "quarantine");
	free(t.name);
	free(t.action);
	expect_err(s, store_tenant_set(s, "zeta", "color", "red"), -1,
	    "unknown tenant setting 'color'");
	expect_err(s, store_tenant_set(s, "zeta", "action", "drop"), -1, "bad action 'drop'");
	expect_err(s, store_tenant_set(s, "nope", "action", "reject"), 1, "tenant 'nope' not found");
	expect_err(s, store_tenant_set(s, "zeta", NULL, "x"), -1, "KEY=VALUE");

	/* Thresholds: hundredths; "default" clears back to the configuration's. */
	assert_int_equal(store_tenant_get(s, "zeta", &t), 0);
	assert_true(t.tag == STORE_SCORE_DEFAULT && t.probable_spam == STORE_SCORE_DEFAULT);
	free(t.name);
	free(t.action);
	assert_int_equal(store_tenant_set(s, "zeta", "tag", "6.5"), 0);
	assert_int_equal(store_tenant_set(s, "zeta", "probable_spam", "-0.25"), 0);
	assert_int_equal(store_tenant_get(s, "zeta", &t), 0);
	assert_int_equal(t.tag, 650);
	assert_int_equal(t.probable_spam, -25);
	free(t.name);
	free(t.action);
	assert_int_equal(store_tenant_set(s, "zeta", "tag", "default"), 0);
	assert_int_equal(store_tenant_get(s, "zeta", &t), 0);
	assert_true(t.tag == STORE_SCORE_DEFAULT);
	assert_int_equal(t.probable_spam, -25);
	free(t.name);
	free(t.action);
	expect_err(s, store_tenant_set(s, "zeta", "tag", "high"), -1, "bad tag 'high'");
	expect_err(s, store_tenant_set(s, "zeta", "probable_spam", "1000.5"), -1,
	    "bad probable_spam '1000.5'");
	expect_err(s, store_tenant_set(s, "nope", "tag", "5"), 1, "tenant 'nope' not found");
	assert_int_equal(store_tenant_set(s, "zeta", "probable_spam", "default"), 0);

	/* Remove refuses while domains exist. */
	assert_int_equal(store_domain_add(s, "zeta.example", "zeta", "lmtp://127.0.0.1:24"), 0);
	expect_err(s, store_tenant_remove(s, "zeta"), -1, "tenant 'zeta' still has 1 domain");
	assert_int_equal(store_domain_remove(s, "zeta.example"), 0);
	assert_int_equal(store_tenant_remove(s, "zeta"), 0);
	expect_err(s, store_tenant_remove(s, "zeta"), 1, "tenant 'zeta' not found");
	expect_err(s, store_tenant_remove(s, "Bad Name"), -1, "bad tenant name");
	store_tenant_list(s, &list, &n);
	assert_int_equal(n, 2);
	store_tenant_free(list, n);
	store_tenant_free(NULL, 0);
}

static void test_domains(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	struct store_domain *d;
	size_t n;

	populate(s);
	assert_int_equal(store_domain_add(s, "Mail.Example.COM", "acme", "lmtp:/run/dovecot/lmtp"), 0);
	expect_err(s, store_domain_add(s, "example.com", "beta", "smtp://h:25"), -1,
	    "domain 'example.com' already exists");
	expect_err(s, store_domain_add(s, "MAIL.example.com", "acme", "smtp://h:25"), -1,
	    "domain 'mail.example.com' already exists");
	expect_err(s, store_domain_add(s, "new.example", "nope", "smtp://h:25"), 1,
	    "tenant 'nope' not found");
	static const char *const bad_domains[] = {
		"", ".", "a..b", "-a.com", "a-.com", "a.com.", ".a.com", "a_b.com", "a b.com",
		"exa mple.com", "user@example.com", "[1.2.3.4]",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
	};
	for (size_t i = 0; i < sizeof(bad_domains) / sizeof(bad_domains[0]); i++)
		expect_err(s, store_domain_add(s, bad_domains[i], "acme", "smtp://h:25"), -1,
		    "bad domain");
	expect_err(s, store_domain_add(s, NULL, "acme", "smtp://h:25"), -1, "bad domain");
	static const char *const bad_urls[] = {
		"", "smtp://", "smtp:///x", "http://h", "maildir:", "maildir:/", "maildir:rel",
		"lmtp:", "lmtp:/", "smtp://h :25", "SMTP://h:25", "maildir:/a\nb",
	};
	for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++)
		expect_err(s, store_domain_add(s, "ok.example", "acme", bad_urls[i]), -1,
		    "bad delivery URL");
	expect_err(s, store_domain_add(s, "ok.example", "acme", NULL), -1, "bad delivery URL");
	expect_err(s, store_domain_add(s, "ok.example", "Acme", "smtp://h:25"), -1,
	    "bad tenant name");

	assert_int_equal(store_domain_list(s, NULL, &d, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(d[0].domain, "beta.org");
	assert_string_equal(d[0].tenant, "beta");
	assert_string_equal(d[0].deliver, "maildir:/var/mail/beta");
	assert_string_equal(d[1].domain, "example.com");
	assert_string_equal(d[2].domain, "mail.example.com");
	assert_string_equal(d[2].deliver, "lmtp:/run/dovecot/lmtp");
	store_domain_free(d, n);
	assert_int_equal(store_domain_list(s, "acme", &d, &n), 0);
	assert_int_equal(n, 2);
	store_domain_free(d, n);
	assert_int_equal(store_domain_list(s, "nobody", &d, &n), 0);
	assert_int_equal(n, 0);
	store_domain_free(d, n);
	expect_err(s, store_domain_list(s, "No Body", &d, &n), -1, "bad tenant name");

	assert_int_equal(store_user_add(s, "a@example.com", NULL), 0);
	assert_int_equal(store_user_add(s, "b@example.com", NULL), 0);
	expect_err(s, store_domain_remove(s, "example.com"), -1,
	    "domain 'example.com' still has 2 users");
	expect_err(s, store_domain_remove(s, "nope.example"), 1, "domain 'nope.example' not found");
	expect_err(s, store_domain_remove(s, "bad..domain"), -1, "bad domain");
	assert_int_equal(store_domain_remove(s, "MAIL.example.com"), 0);
	assert_int_equal(store_domain_list(s, "acme", &d, &n), 0);
	assert_int_equal(n, 1);
	store_domain_free(d, n);
}

static void test_users(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	struct store_user *u;
	size_t n;

	populate(s);
	assert_int_equal(store_user_add(s, "Alice@Example.com", NULL), 0);
	assert_int_equal(store_user_add(s, "bob@example.com", NULL), 0);
	assert_int_equal(store_user_add(s, "a.smith@example.com", "alice@example.com"), 0);
	assert_int_equal(store_user_add(s, "al@example.com", "ALICE@example.com"), 0);
	assert_int_equal(store_user_add(s, "@beta.org", NULL), 0);
	assert_int_equal(store_user_add(s, "carol@beta.org", NULL), 0);

	expect_err(s, store_user_add(s, "alice@example.com", NULL), -1,
	    "user 'alice@example.com' already exists");
	expect_err(s, store_user_add(s, "x@elsewhere.net", NULL), 1,
	    "domain 'elsewhere.net' is not hosted");
	expect_err(s, store_user_add(s, "x@example.com", "ghost@example.com"), -1,
	    "alias target 'ghost@example.com' does not exist");
	expect_err(s, store_user_add(s, "x@example.com", "al@example.com"), -1,
	    "is itself an alias of 'alice@example.com'");
	expect_err(s, store_user_add(s, "x@example.com", "carol@beta.org"), -1,
	    "belongs to another tenant");
	expect_err(s, store_user_add(s, "x@beta.org", "@beta.org"), -1, "bad alias target");
	expect_err(s, store_user_add(s, "x@example.com", "x@example.com"), -1,
	    "cannot be an alias of itself");
	static const char *const bad[] = {
		"", "alice", "alice@", "@", "a b@example.com", "<a>@example.com", "a@bad..com",
		"a@-x.com", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_err(s, store_user_add(s, bad[i], NULL), -1, "bad address");
	expect_err(s, store_user_add(s, NULL, NULL), -1, "bad address");

	assert_int_equal(store_user_list(s, "example.com", &u, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(u[0].address, "a.smith@example.com");
	assert_string_equal(u[0].alias_of, "alice@example.com");
	assert_string_equal(u[0].tenant, "acme");
	assert_string_equal(u[2].address, "alice@example.com");
	assert_null(u[2].alias_of);
	store_user_free(u, n);
	assert_int_equal(store_user_list(s, NULL, &u, &n), 0);
	assert_int_equal(n, 6);
	assert_string_equal(u[0].address, "@beta.org");
	assert_string_equal(u[0].tenant, "beta");
	store_user_free(u, n);
	expect_err(s, store_user_list(s, "bad domain", &u, &n), -1, "bad domain");

	/* Removing a primary removes its aliases. */
	assert_int_equal(store_user_remove(s, "ALICE@example.com"), 0);
	assert_int_equal(store_user_list(s, "example.com", &u, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(u[0].address, "bob@example.com");
	store_user_free(u, n);
	expect_err(s, store_user_remove(s, "alice@example.com"), 1,
	    "user 'alice@example.com' not found");
	expect_err(s, store_user_remove(s, "no-at-sign"), -1, "bad address");
	assert_int_equal(store_user_remove(s, "@beta.org"), 0);
	store_user_free(NULL, 0);
}

static void test_rcpt_lookup(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	struct store_rcpt r;

	populate(s);
	assert_int_equal(store_user_add(s, "alice@example.com", NULL), 0);
	assert_int_equal(store_user_add(s, "a.smith@example.com", "alice@example.com"), 0);
	assert_int_equal(store_user_add(s, "@beta.org", NULL), 0);
	assert_int_equal(store_user_add(s, "carol@beta.org", NULL), 0);

	assert_int_equal(store_rcpt_lookup(s, "alice@example.com", &r), 0);
	assert_int_equal(r.status, RCPT_VALID);
	assert_string_equal(r.canonical, "alice@example.com");
	assert_string_equal(r.tenant, "acme");
	assert_true(r.tenant_id > 0);
	assert_string_equal(r.deliver, "smtp://10.0.0.1:25");
	assert_string_equal(r.action, "reject");
	assert_true(r.tag == STORE_SCORE_DEFAULT && r.probable_spam == STORE_SCORE_DEFAULT);
	assert_int_equal(store_tenant_set(s, "acme", "probable_spam", "12.5"), 0);
	assert_int_equal(store_rcpt_lookup(s, "alice@example.com", &r), 0);
	assert_int_equal(r.probable_spam, 1250);
	assert_true(r.tag == STORE_SCORE_DEFAULT);

	assert_int_equal(store_rcpt_lookup(s, "A.Smith@EXAMPLE.com", &r), 0);
	assert_int_equal(r.status, RCPT_VALID);
	assert_string_equal(r.canonical, "alice@example.com");

	assert_int_equal(store_rcpt_lookup(s, "nobody@example.com", &r), 0);
	assert_int_equal(r.status, RCPT_UNKNOWN_USER);
	assert_string_equal(r.tenant, "acme"); /* known: the tenant's policy still applies */

	/* Catch-all: anything at beta.org, delivered to the address as given. */
	assert_int_equal(store_rcpt_lookup(s, "Whoever@beta.org", &r), 0);
	assert_int_equal(r.status, RCPT_VALID);
	assert_string_equal(r.canonical, "whoever@beta.org");
	assert_string_equal(r.tenant, "beta");
	assert_string_equal(r.deliver, "maildir:/var/mail/beta");
	assert_string_equal(r.action, "quarantine");
	assert_string_equal(r.bulk, "deliver");
	/* A domain's override wins over its tenant's setting; "default" undoes it. */
	assert_int_equal(store_domain_set(s, "beta.org", "action", "reject"), 0);
	assert_int_equal(store_domain_set(s, "beta.org", "tag", "3.5"), 0);
	assert_int_equal(store_domain_set(s, "BETA.org", "bulk", "quarantine"), 0);
	assert_int_equal(store_rcpt_lookup(s, "carol@beta.org", &r), 0);
	assert_string_equal(r.action, "reject");
	assert_string_equal(r.bulk, "quarantine");
	assert_int_equal(r.tag, 350);
	assert_int_equal(store_domain_set(s, "beta.org", "action", "default"), 0);
	assert_int_equal(store_rcpt_lookup(s, "carol@beta.org", &r), 0);
	assert_string_equal(r.action, "quarantine");
	expect_err(s, store_domain_set(s, "beta.org", "action", "drop"), -1, "bad action 'drop'");
	expect_err(s, store_domain_set(s, "beta.org", "colour", "red"), -1, "unknown domain setting");
	expect_err(s, store_domain_set(s, "nowhere.org", "tag", "1"), 1, "domain 'nowhere.org' not found");
	expect_err(s, store_domain_set(s, "bad domain", "tag", "1"), -1, "bad domain");
	struct store_domain *dl;
	size_t dn;
	assert_int_equal(store_domain_list(s, "beta", &dl, &dn), 0);
	assert_int_equal(dn, 1);
	assert_string_equal(dl[0].action, "");
	assert_string_equal(dl[0].bulk, "quarantine");
	assert_int_equal(dl[0].tag, 350);
	assert_true(dl[0].probable_spam == STORE_SCORE_DEFAULT);
	store_domain_free(dl, dn);
	assert_int_equal(store_rcpt_lookup(s, "carol@beta.org", &r), 0);
	assert_string_equal(r.canonical, "carol@beta.org");

	/* A catch-all can point at a mailbox. */
	assert_int_equal(store_user_add(s, "@example.com", "alice@example.com"), 0);
	assert_int_equal(store_rcpt_lookup(s, "random@example.com", &r), 0);
	assert_int_equal(r.status, RCPT_VALID);
	assert_string_equal(r.canonical, "alice@example.com");

	assert_int_equal(store_rcpt_lookup(s, "x@elsewhere.net", &r), 0);
	assert_int_equal(r.status, RCPT_NOT_HOSTED);
	assert_string_equal(r.tenant, "");
	/* Local part with '@' in it (quoted): split at the last '@'. */
	assert_int_equal(store_rcpt_lookup(s, "a@b@elsewhere.net", &r), 0);
	assert_int_equal(r.status, RCPT_NOT_HOSTED);
	/* Classic relay tricks do not make a hosted address. */
	assert_int_equal(store_rcpt_lookup(s, "user%other.net@elsewhere.net", &r), 0);
	assert_int_equal(r.status, RCPT_NOT_HOSTED);
	assert_int_equal(store_rcpt_lookup(s, "no-at-sign", &r), 0);
	assert_int_equal(r.status, RCPT_NOT_HOSTED);
	assert_int_equal(store_rcpt_lookup(s, "", &r), 0);
	assert_int_equal(r.status, RCPT_NOT_HOSTED);
	assert_int_equal(store_rcpt_lookup(s, NULL, &r), 0);
	assert_int_equal(r.status, RCPT_NOT_HOSTED);
}

/* A change through one handle is seen by another that was opened (and
 * used) before it: the CLI changes, the running server sees. */
static void test_cross_handle_visibility(void **state)
{
	struct fx *f = *state;
	struct store *a = f->s, *b;
	struct store_rcpt r;
	char err[256];

	b = store_open(&f->c, err, sizeof(err));
	assert_non_null(b);
	assert_int_equal(store_rcpt_lookup(b, "alice@example.com", &r), 0);
	assert_int_equal(r.status, RCPT_NOT_HOSTED);

	populate(a);
	assert_int_equal(store_rcpt_lookup(b, "alice@example.com", &r), 0);
	assert_int_equal(r.status, RCPT_UNKNOWN_USER);
	assert_int_equal(store_user_add(a, "alice@example.com", NULL), 0);
	assert_int_equal(store_rcpt_lookup(b, "alice@example.com", &r), 0);
	assert_int_equal(r.status, RCPT_VALID);
	assert_int_equal(store_tenant_set(a, "acme", "action", "quarantine"), 0);
	struct store_tenant t;
	assert_int_equal(store_tenant_get(b, "acme", &t), 0);
	assert_string_equal(t.action, "quarantine");
	free(t.name);
	free(t.action);
	assert_int_equal(store_user_remove(a, "alice@example.com"), 0);
	assert_int_equal(store_rcpt_lookup(b, "alice@example.com", &r), 0);
	assert_int_equal(r.status, RCPT_UNKNOWN_USER);

	/* And the other way, while b holds its own write transaction. */
	assert_int_equal(store_begin(b), 0);
	assert_int_equal(store_user_add(b, "bob@example.com", NULL), 0);
	assert_int_equal(store_rcpt_lookup(a, "bob@example.com", &r), 0);
	assert_int_equal(r.status, RCPT_UNKNOWN_USER); /* not committed yet */
	assert_int_equal(store_commit(b), 0);
	assert_int_equal(store_rcpt_lookup(a, "bob@example.com", &r), 0);
	assert_int_equal(r.status, RCPT_VALID);
	store_close(b);
}

static void test_rcpt_stats(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	int64_t v, iv;
	const int64_t h = INT64_C(1795773600); /* an hour boundary */

	assert_int_equal(store_rcpt_stat_add(s, "192.0.2.1", "Spam.example", 0, h + 10), 0);
	assert_int_equal(store_rcpt_stat_add(s, "192.0.2.1", "spam.example", 0, h + 20), 0);
	assert_int_equal(store_rcpt_stat_add(s, "192.0.2.1", "spam.example", 1, h + 30), 0);
	assert_int_equal(store_rcpt_stat_add(s, "192.0.2.1", "spam.example", 0, h + 3600 + 5), 0);
	assert_int_equal(store_rcpt_stat_add(s, "192.0.2.1", "", 0, h - 7200), 0);
	assert_int_equal(store_rcpt_stat_add(s, "198.51.100.7", "spam.example", 1, h + 40), 0);
	assert_int_equal(store_rcpt_stat_add(s, NULL, "other.example", 0, h + 40), 0);

	/* Since the start of the current hour: only the last bucket. */
	assert_int_equal(store_rcpt_stat_get(s, "ip", "192.0.2.1", h + 3600, &v, &iv), 0);
	assert_int_equal(v, 0);
	assert_int_equal(iv, 1);
	/* A since inside an hour counts that whole hour. */
	assert_int_equal(store_rcpt_stat_get(s, "ip", "192.0.2.1", h + 1800, &v, &iv), 0);
	assert_int_equal(v, 1);
	assert_int_equal(iv, 3);
	assert_int_equal(store_rcpt_stat_get(s, "ip", "192.0.2.1", h - 86400, &v, &iv), 0);
	assert_int_equal(v, 1);
	assert_int_equal(iv, 4);
	assert_int_equal(store_rcpt_stat_get(s, "sender_domain", "spam.example", h, &v, &iv), 0);
	assert_int_equal(v, 2);
	assert_int_equal(iv, 3);
	assert_int_equal(store_rcpt_stat_get(s, "sender_domain", "", 0, &v, &iv), 0);
	assert_int_equal(iv, 1);
	assert_int_equal(store_rcpt_stat_get(s, "ip", "203.0.113.9", 0, &v, &iv), 0);
	assert_int_equal(v + iv, 0);
	expect_err(s, store_rcpt_stat_get(s, "asn", "1", 0, &v, &iv), -1, "bad statistics kind");

	/* Purge sweeps old buckets too. */
	int64_t n;
	assert_int_equal(store_log_purge(s, h, &n), 0);
	assert_int_equal(store_rcpt_stat_get(s, "sender_domain", "", 0, &v, &iv), 0);
	assert_int_equal(iv, 0);
	assert_int_equal(store_rcpt_stat_get(s, "ip", "192.0.2.1", 0, &v, &iv), 0);
	assert_int_equal(iv, 3);
}

/* char * (not const) parameters: the record structs hold char *. */
static void add_txn(struct store *s, char *ref, char *qid, int64_t ts, char *ip, char *sender,
    char *subject, char *mid, char *action)
{
	struct store_log_txn t = {
		.ref = ref, .qid = qid, .ts = ts, .client_ip = ip, .helo = "mx.sender.example",
		.sender = sender, .from_hdr = sender, .subject = subject, .message_id = mid,
		.size = 1234, .action = action, .reply = "250 2.0.0 Ok", .tls = 1,
	};
	assert_int_equal(store_log_txn_add(s, &t), 0);
}

static void add_rcpt(struct store *s, char *ref, int64_t ts, char *rcpt, char *status)
{
	struct store_log_rcpt r = {
		.ref = ref, .ts = ts, .rcpt = rcpt, .tenant = "acme", .status = status, .reply = NULL,
	};
	assert_int_equal(store_log_rcpt_add(s, &r), 0);
}

static size_t search(struct store *s, const struct store_log_query *q, struct store_log_entry **e)
{
	size_t n = 99;
	if (store_log_search(s, q, e, &n) != 0)
		fail_msg("search failed: %s", store_error(s));
	return n;
}

static void test_log(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	struct store_log_entry *e;
	const int64_t T = 1795776000;

	assert_int_equal(store_begin(s), 0);
	add_txn(s, "AAAA-2222", "QID1", T - 3 * 86400, "192.0.2.1", "news@shop.example",
	    "Big 50% SALE", "<m1@shop.example>", "accepted");
	add_rcpt(s, "AAAA-2222", T - 3 * 86400, "alice@example.com", "accepted");
	add_rcpt(s, "AAAA-2222", T - 3 * 86400 + 60, "alice@example.com", "delivered");
	add_txn(s, "BBBB-3333", "", T - 3600, "198.51.100.7", "Spammer@Bad.example",
	    "you won", "m2@bad.example", "rejected");
	add_rcpt(s, "BBBB-3333", T - 3600, "bob@example.com", "rejected");
	add_rcpt(s, "BBBB-3333", T - 3600, "carol@example.com", "rejected");
	/* Only recipient events: a delivery report whose txn row is not (yet) there. */
	add_rcpt(s, "CCCC-4444", T - 60, "dave@example.com", "deferred");
	add_rcpt(s, "CCCC-4444", T - 30, "dave@example.com", "delivered");
	assert_int_equal(store_commit(s), 0);
	expect_err(s, store_commit(s), -1, "commit without begin");
	struct store_log_txn noref = { 0 };
	expect_err(s, store_log_txn_add(s, &noref), -1, "without a ref id");
	struct store_log_rcpt norref = { 0 };
	expect_err(s, store_log_rcpt_add(s, &norref), -1, "without a ref id");

	/* Everything, newest first. */
	struct store_log_query q = { 0 };
	size_t n = search(s, &q, &e);
	assert_int_equal(n, 3);
	assert_string_equal(e[0].txn.ref, "CCCC-4444");
	assert_int_equal(e[0].txn.ts, T - 60);
	assert_string_equal(e[0].txn.sender, "");
	assert_int_equal(e[0].n_rcpts, 2);
	assert_string_equal(e[0].rcpts[0].status, "deferred");
	assert_string_equal(e[0].rcpts[1].status, "delivered");
	assert_string_equal(e[1].txn.ref, "BBBB-3333");
	assert_string_equal(e[2].txn.ref, "AAAA-2222");
	assert_string_equal(e[2].txn.qid, "QID1");
	assert_string_equal(e[2].txn.helo, "mx.sender.example");
	assert_string_equal(e[2].txn.reply, "250 2.0.0 Ok");
	assert_int_equal(e[2].txn.size, 1234);
	assert_int_equal(e[2].txn.tls, 1);
	assert_int_equal(e[2].n_rcpts, 2);
	assert_string_equal(e[2].rcpts[0].rcpt, "alice@example.com");
	assert_string_equal(e[2].rcpts[0].tenant, "acme");
	assert_string_equal(e[2].rcpts[0].reply, "");
	store_log_entry_free(e, n);

	/* Each filter. */
	struct { struct store_log_query q; const char *first; size_t n; } cases[] = {
		{ { .sender = "SPAMMER@bad" }, "BBBB-3333", 1 },
		{ { .sender = "example" }, "BBBB-3333", 2 },
		{ { .recipient = "Dave@" }, "CCCC-4444", 1 },
		{ { .recipient = "example.com" }, "CCCC-4444", 3 },
		{ { .subject = "50%" }, "AAAA-2222", 1 },
		{ { .subject = "%" }, "AAAA-2222", 1 },       /* % is literal, not a wildcard */
		{ { .subject = "_" }, NULL, 0 },
		{ { .subject = "sale" }, "AAAA-2222", 1 },
		{ { .ref = "bbbb3333" }, "BBBB-3333", 1 },
		{ { .ref = "cccc-4444" }, "CCCC-4444", 1 },
		{ { .ref = "ZZZZ-9999" }, NULL, 0 },
		{ { .qid = "QID1" }, "AAAA-2222", 1 },
		{ { .message_id = "m1@shop.example" }, "AAAA-2222", 1 },
		{ { .message_id = "<m2@bad.example>" }, "BBBB-3333", 1 },
		{ { .client_ip = "198.51.100.7" }, "BBBB-3333", 1 },
		{ { .client_ip = "198.51.100" }, NULL, 0 },  /* exact */
		{ { .action = "rejected" }, "BBBB-3333", 1 },
		{ { .action = "delivered" }, "CCCC-4444", 2 },
		{ { .action = "accepted" }, "AAAA-2222", 1 },
		{ { .since = T - 7200 }, "CCCC-4444", 2 },
		{ { .until = T - 7200 }, "AAAA-2222", 1 },
		{ { .since = T - 7200, .until = T - 120 }, "BBBB-3333", 1 },
		{ { .limit = 1 }, "CCCC-4444", 1 },
		{ { .limit = 2 }, "CCCC-4444", 2 },
		{ { .since = T - 7200, .limit = 1 }, "CCCC-4444", 1 },
		{ { .recipient = "dave", .since = T - 60, .until = T - 60 }, "CCCC-4444", 1 },
		{ { .sender = "example", .recipient = "carol" }, "BBBB-3333", 1 },
		{ { .sender = "shop", .action = "rejected" }, NULL, 0 },
		{ { .recipient = "dave", .since = T - 45 }, NULL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = search(s, &cases[i].q, &e);
		if (n != cases[i].n)
			fail_msg("case %zu: %zu results, want %zu", i, n, cases[i].n);
		if (n > 0 && strcmp(e[0].txn.ref, cases[i].first) != 0)
			fail_msg("case %zu: first %s, want %s", i, e[0].txn.ref, cases[i].first);
		store_log_entry_free(e, n);
	}

	/* The txn row arrives later: the entry is now complete. */
	add_txn(s, "CCCC-4444", "QID3", T - 120, "203.0.113.5", "friend@ok.example", "hi", "",
	    "accepted");
	q = (struct store_log_query){ .ref = "CCCC-4444" };
	n = search(s, &q, &e);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].txn.sender, "friend@ok.example");
	assert_int_equal(e[0].n_rcpts, 2);
	store_log_entry_free(e, n);

	/* Purge: the 3-day-old transaction and its events go. */
	int64_t del = 0;
	assert_int_equal(store_log_purge(s, T - 86400, &del), 0);
	assert_int_equal(del, 3);
	q = (struct store_log_query){ 0 };
	n = search(s, &q, &e);
	assert_int_equal(n, 2);
	store_log_entry_free(e, n);
	store_log_entry_free(NULL, 0);
}

/* The scan verdict of a message travels with its log row. */
static void test_log_verdict(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	struct store_log_entry *e;
	const int64_t T = 1795776000;

	struct store_log_txn scanned = {
		.ref = "DDDD-5555", .ts = T - 10, .action = "rejected", .scanned = 1, .score = 1003.25,
		.cls = "probable-spam", .symbols = "GTUBE\t1000.00\tthe GTUBE test string\n",
	};
	assert_int_equal(store_log_txn_add(s, &scanned), 0);
	struct store_log_query qs = { .ref = "DDDD-5555" };
	assert_int_equal(search(s, &qs, &e), 1);
	assert_true(e[0].txn.scanned);
	assert_true(e[0].txn.score > 1003.24 && e[0].txn.score < 1003.26);
	assert_string_equal(e[0].txn.cls, "probable-spam");
	assert_string_equal(e[0].txn.symbols, scanned.symbols);
	store_log_entry_free(e, 1);
	add_txn(s, "AAAA-2222", "QID1", T - 3 * 86400, "192.0.2.1", "news@shop.example",
	    "Big 50% SALE", "<m1@shop.example>", "accepted");
	qs.ref = "AAAA-2222";
	assert_int_equal(search(s, &qs, &e), 1);
	assert_false(e[0].txn.scanned);   /* NULL score: never scanned */
	assert_string_equal(e[0].txn.cls, "");
	store_log_entry_free(e, 1);
}

/* Rows per recipient; a state leaves "held" once; filters; expiry list. */
static void test_quarantine(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	int64_t ids[2], held;
	struct store_quarantine rows[2] = {
		{ .qid = "Q1", .ref = "AAAA-1111", .tenant = "acme", .rcpt = "alice@example.com",
		  .deliver = "smtp://10.0.0.1:25", .sender = "spam@bad.example", .subject = "Win 100%",
		  .score = 1004.5, .cls = "probable-spam", .symbols = "GTUBE\t1000.00\tx\n", .ts = 1000 },
		{ .qid = "Q1", .ref = "AAAA-1111", .tenant = "acme", .rcpt = "bob@example.com",
		  .deliver = "smtp://10.0.0.1:25", .sender = "spam@bad.example", .subject = "Win 100%",
		  .ts = 1000 },
	};

	assert_int_equal(store_quarantine_add(s, rows, 2, ids), 0);
	assert_true(ids[0] > 0 && ids[1] == ids[0] + 1);
	/* The same recipient of the same message again (a repeated put): no new row. */
	assert_int_equal(store_quarantine_add(s, rows, 1, NULL), 0);
	struct store_quarantine_query q = { .state = NULL };
	struct store_quarantine *v;
	size_t n;
	assert_int_equal(store_quarantine_search(s, &q, &v, &n), 0);
	assert_int_equal(n, 2);
	store_quarantine_free(v, n);
	struct store_quarantine one;
	assert_int_equal(store_quarantine_get(s, ids[0], &one), 0);
	assert_string_equal(one.state, "held");
	assert_string_equal(one.symbols, rows[0].symbols);
	assert_true(one.score > 1004.4 && one.score < 1004.6);
	store_quarantine_clear(&one);
	expect_err(s, store_quarantine_get(s, 999, &one), 1, "no quarantined message 999");
	struct store_quarantine bad = { .qid = "Q2" };
	expect_err(s, store_quarantine_add(s, &bad, 1, NULL), -1, "without queue id, recipient");

	/* Filters: substring on recipient, subject with LIKE metacharacters, state. */
	q.rcpt = "ALICE";
	assert_int_equal(store_quarantine_search(s, &q, &v, &n), 0);
	assert_int_equal(n, 1);
	store_quarantine_free(v, n);
	q.rcpt = NULL;
	q.subject = "100%";
	assert_int_equal(store_quarantine_search(s, &q, &v, &n), 0);
	assert_int_equal(n, 2);
	store_quarantine_free(v, n);
	q.subject = "1000%";
	assert_int_equal(store_quarantine_search(s, &q, &v, &n), 0);
	assert_int_equal(n, 0);
	store_quarantine_free(v, n);

	/* Once: the second transition finds nothing held. */
	assert_int_equal(store_quarantine_held(s, "Q1", &held), 0);
	assert_int_equal(held, 2);
	assert_int_equal(store_quarantine_finish(s, ids[0], "released", "admin", 2000, "QNEW"), 0);
	expect_err(s, store_quarantine_finish(s, ids[0], "deleted", "x", 2001, NULL), 1, "is not held");
	expect_err(s, store_quarantine_finish(s, ids[1], "held", "x", 2001, NULL), -1,
	    "bad quarantine state");
	assert_int_equal(store_quarantine_held(s, "Q1", &held), 0);
	assert_int_equal(held, 1);
	assert_int_equal(store_quarantine_get(s, ids[0], &one), 0);
	assert_string_equal(one.state, "released");
	assert_string_equal(one.actor, "admin");
	assert_string_equal(one.release_qid, "QNEW");
	assert_int_equal(one.acted, 2000);
	store_quarantine_clear(&one);
	q.subject = NULL;
	q.state = "held";
	assert_int_equal(store_quarantine_search(s, &q, &v, &n), 0);
	assert_int_equal(n, 1);
	store_quarantine_free(v, n);

	/* Due for expiry: held and older than the retention (default 100 s). */
	int64_t *due;
	assert_int_equal(store_quarantine_due(s, 1100, 100, 10, &due, &n), 0);
	assert_int_equal(n, 0);
	free(due);
	assert_int_equal(store_quarantine_due(s, 1101, 100, 10, &due, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(due[0], ids[1]);
	free(due);
	/* The tenant's own retention wins over the default. */
	assert_int_equal(store_tenant_add(s, "acme", NULL), 0);
	assert_int_equal(store_tenant_set(s, "acme", "retention", "50s"), 0);
	assert_int_equal(store_quarantine_due(s, 1051, 100, 10, &due, &n), 0);
	assert_int_equal(n, 1);
	free(due);
	assert_int_equal(store_quarantine_due(s, 1050, 100, 10, &due, &n), 0);
	assert_int_equal(n, 0);
	free(due);
	expect_err(s, store_tenant_set(s, "acme", "retention", "forever"), -1, "bad retention");
	expect_err(s, store_tenant_set(s, "acme", "bulk", "sometimes"), -1, "bad bulk");
	assert_int_equal(store_tenant_set(s, "acme", "bulk", "tag"), 0);
	struct store_tenant tt;
	assert_int_equal(store_tenant_get(s, "acme", &tt), 0);
	assert_string_equal(tt.bulk, "tag");
	assert_int_equal(tt.retention, 50);
	free(tt.name);
	free(tt.action);
	/* Rollback undoes a transition inside a transaction. */
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_quarantine_finish(s, ids[1], "deleted", "x", 3000, NULL), 0);
	assert_int_equal(store_rollback(s), 0);
	assert_int_equal(store_quarantine_held(s, "Q1", &held), 0);
	assert_int_equal(held, 1);
	expect_err(s, store_rollback(s), -1, "rollback without begin");
}

static void test_lists_and_audit(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	struct store_list_entry *v;
	size_t n;

	populate(s);
	struct store_list_entry a = { .tenant = "acme", .user = "", .kind = "allow",
		.pattern = ".Partner.Example", .no_auth = 1, .actor = "ops" };
	assert_int_equal(store_list_add(s, &a), 0);
	expect_err(s, store_list_add(s, &a), 1, "allow entry '.partner.example' already exists");
	struct store_list_entry b = { .tenant = "acme", .user = "Alice@Example.com", .kind = "block",
		.pattern = "x@partner.example", .actor = "alice" };
	assert_int_equal(store_list_add(s, &b), 0);
	struct store_list_entry other = { .tenant = "beta", .user = "", .kind = "block",
		.pattern = "partner.example" };
	assert_int_equal(store_list_add(s, &other), 0);
	struct store_list_entry bad = a;
	bad.kind = "maybe";
	expect_err(s, store_list_add(s, &bad), -1, "bad list kind 'maybe'");
	bad = a;
	bad.pattern = "not a pattern";
	expect_err(s, store_list_add(s, &bad), -1, "bad sender pattern");
	bad = a;
	bad.user = "no-at-sign";
	expect_err(s, store_list_add(s, &bad), -1, "bad user address");

	/* For a recipient: the tenant's domain level and the recipient's own. */
	assert_int_equal(store_list_for_rcpt(s, "acme", "alice@example.com", &v, &n), 0);
	assert_int_equal(n, 2);
	store_list_free(v, n);
	assert_int_equal(store_list_for_rcpt(s, "acme", "bob@example.com", &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].pattern, ".partner.example");
	assert_true(v[0].no_auth);
	assert_string_equal(v[0].actor, "ops");
	store_list_free(v, n);
	assert_int_equal(store_list_search(s, NULL, NULL, "block", &v, &n), 0);
	assert_int_equal(n, 2);
	store_list_free(v, n);
	assert_int_equal(store_list_search(s, "acme", "alice@example.com", NULL, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].kind, "block");
	store_list_free(v, n);

	assert_int_equal(store_list_remove(s, "acme", "", "allow", ".PARTNER.example"), 0);
	expect_err(s, store_list_remove(s, "acme", "", "allow", ".partner.example"), 1,
	    "no allow entry");
	expect_err(s, store_list_remove(s, "acme", "", "allow", "@@"), -1, "bad sender pattern");

	assert_int_equal(store_audit_add(s, "ops", "allow add", "allow x (tenant acme)", ""), 0);
	assert_int_equal(store_audit_add(s, NULL, "quarantine expire", "quarantine id 1", NULL), 0);
	expect_err(s, store_audit_add(s, "ops", "", "x", ""), -1, "without an action");
	struct store_audit *au;
	assert_int_equal(store_audit_search(s, 0, 0, &au, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(au[0].action, "quarantine expire");   /* newest first */
	assert_string_equal(au[0].actor, "");
	store_audit_free(au, n);
	assert_int_equal(store_audit_search(s, mw_now() + 10, 5, &au, &n), 0);
	assert_int_equal(n, 0);
	store_audit_free(au, n);
}

static void test_log_limit_default(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	struct store_log_entry *e;
	char ref[16];

	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_begin(s), 0); /* nested: inner pair is a no-op */
	for (int i = 0; i < 130; i++) {
		snprintf(ref, sizeof(ref), "R%03d-XXXX", i);
		add_txn(s, ref, "", 1000 + i, "192.0.2.1", "a@b.example", "s", "", "accepted");
	}
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_commit(s), 0);
	struct store_log_query q = { 0 };
	size_t n = search(s, &q, &e);
	assert_int_equal(n, 100);
	assert_string_equal(e[0].txn.ref, "R129-XXXX");
	store_log_entry_free(e, n);
	q.limit = 500;
	n = search(s, &q, &e);
	assert_int_equal(n, 130);
	store_log_entry_free(e, n);
}

/* A writer that holds the lock longer than busy_timeout: the other
 * handle's writes fail with -1 and a reason (a tempfail for callers),
 * while its reads - the RCPT path - go on (WAL). */
static void test_locked_database(void **state)
{
	struct fx *f = *state;
	struct store *a = f->s, *b;
	struct store_rcpt r;
	char err[256];

	populate(a);
	assert_int_equal(store_user_add(a, "alice@example.com", NULL), 0);
	b = store_open(&f->c, err, sizeof(err));
	assert_non_null(b);
	assert_int_equal(store_begin(b), 0);
	assert_int_equal(store_tenant_add(b, "held", NULL), 0);

	assert_int_equal(store_rcpt_lookup(a, "alice@example.com", &r), 0);
	assert_int_equal(r.status, RCPT_VALID);
	/* Opening a handle on a current schema only reads: no wait either. */
	time_t t0 = time(NULL);
	struct store *c = store_open(&f->c, err, sizeof(err));
	assert_non_null(c);
	assert_true(time(NULL) - t0 < 2);
	store_close(c);
	/* One wait only (5 s): the statistics update is the SMTP path's
	 * write, and its BEGIN IMMEDIATE is where every write would wait. */
	expect_err(a, store_rcpt_stat_add(a, "192.0.2.1", "x.example", 0, 7200), -1,
	    "database is locked");

	assert_int_equal(store_commit(b), 0);
	store_close(b);
	/* After the failures the handle is clean: no transaction left open. */
	assert_int_equal(store_tenant_add(a, "other", NULL), 0);
	struct store_tenant tt;
	assert_int_equal(store_tenant_get(a, "held", &tt), 0);
	free(tt.name);
	free(tt.action);
}

/* Operations driven through every database failure point. */
enum fp_op {
	FP_TENANT_ADD, FP_TENANT_REMOVE, FP_TENANT_GET, FP_TENANT_SET, FP_TENANT_LIST,
	FP_DOMAIN_ADD, FP_DOMAIN_REMOVE, FP_DOMAIN_LIST, FP_USER_ADD, FP_USER_REMOVE,
	FP_USER_LIST, FP_RCPT_LOOKUP, FP_STAT_ADD, FP_STAT_GET, FP_LOG_TXN, FP_LOG_RCPT,
	FP_LOG_SEARCH, FP_LOG_PURGE, FP_BATCH, FP__N
};

static int fp_run(struct store *s, enum fp_op op)
{
	struct store_tenant t;
	struct store_tenant *tl;
	struct store_domain *dl;
	struct store_user *ul;
	struct store_log_entry *e;
	struct store_rcpt r;
	size_t n;
	int64_t a, b;
	int rc = -1;

	switch (op) {
	case FP_TENANT_ADD: return store_tenant_add(s, "newt", NULL);
	case FP_TENANT_REMOVE: return store_tenant_remove(s, "spare");
	case FP_TENANT_GET:
		rc = store_tenant_get(s, "acme", &t);
		if (rc == 0) {
			free(t.name);
			free(t.action);
		}
		return rc;
	case FP_TENANT_SET: return store_tenant_set(s, "acme", "action", "quarantine");
	case FP_TENANT_LIST:
		rc = store_tenant_list(s, &tl, &n);
		if (rc == 0)
			store_tenant_free(tl, n);
		return rc;
	case FP_DOMAIN_ADD: return store_domain_add(s, "new.example", "acme", "smtp://h:25");
	case FP_DOMAIN_REMOVE: return store_domain_remove(s, "spare.example");
	case FP_DOMAIN_LIST:
		rc = store_domain_list(s, NULL, &dl, &n);
		if (rc == 0)
			store_domain_free(dl, n);
		return rc;
	case FP_USER_ADD: return store_user_add(s, "al@example.com", "alice@example.com");
	case FP_USER_REMOVE: return store_user_remove(s, "bob@example.com");
	case FP_USER_LIST:
		rc = store_user_list(s, NULL, &ul, &n);
		if (rc == 0)
			store_user_free(ul, n);
		return rc;
	case FP_RCPT_LOOKUP:
		rc = store_rcpt_lookup(s, "anyone@beta.org", &r);
		return rc == 0 && r.status != RCPT_VALID ? -2 : rc;
	case FP_STAT_ADD: return store_rcpt_stat_add(s, "192.0.2.1", "x.example", 0, 3600);
	case FP_STAT_GET: return store_rcpt_stat_get(s, "ip", "192.0.2.1", 0, &a, &b);
	case FP_LOG_TXN: {
		struct store_log_txn x = { .ref = "FAIL-2222", .ts = 100 };
		return store_log_txn_add(s, &x);
	}
	case FP_LOG_RCPT: {
		struct store_log_rcpt x = { .ref = "FAIL-2222", .ts = 100 };
		return store_log_rcpt_add(s, &x);
	}
	case FP_LOG_SEARCH: {
		struct store_log_query q = { 0 };
		rc = store_log_search(s, &q, &e, &n);
		if (rc == 0) {
			if (n != 3) /* OLDX, ORPH, and FAIL from the ops before */
				rc = -2;
			store_log_entry_free(e, n);
		}
		return rc;
	}
	case FP_LOG_PURGE: return store_log_purge(s, 50, &a);
	case FP_BATCH: {
		struct store_log_txn x = { .ref = "BTCH-2222", .ts = 100 };
		if (store_begin(s) < 0)
			return -1;
		if (store_log_txn_add(s, &x) < 0 || store_log_txn_add(s, &x) < 0) {
			store_commit(s);
			return -1;
		}
		return store_commit(s);
	}
	case FP__N: break;
	}
	return rc;
}

static void test_failpoints(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	char err[256], fp[40];

	populate(s);
	assert_int_equal(store_tenant_add(s, "spare", NULL), 0);
	assert_int_equal(store_domain_add(s, "spare.example", "acme", "smtp://h:25"), 0);
	assert_int_equal(store_user_add(s, "alice@example.com", NULL), 0);
	assert_int_equal(store_user_add(s, "bob@example.com", NULL), 0);
	assert_int_equal(store_user_add(s, "@beta.org", NULL), 0);
	struct store_log_txn x = { .ref = "OLDX-2222", .ts = 10 };
	assert_int_equal(store_log_txn_add(s, &x), 0);
	struct store_log_rcpt y = { .ref = "ORPH-2222", .ts = 20 };
	assert_int_equal(store_log_rcpt_add(s, &y), 0);

	for (int op = 0; op < FP__N; op++) {
		int n, rc = -1;
		for (n = 1; n < 50; n++) {
			snprintf(fp, sizeof(fp), "store_step:%d", n);
			setenv("MAILWARD_FAILPOINT", fp, 1);
			struct store *h = store_open(&f->c, err, sizeof(err));
			unsetenv("MAILWARD_FAILPOINT");
			assert_non_null(h);
			rc = fp_run(h, (enum fp_op)op);
			if (rc == -1 && strstr(store_error(h), "injected failure") == NULL)
				fail_msg("op %d step %d: unexpected error '%s'", op, n, store_error(h));
			/* The failure left no transaction behind: the clean handle
			 * can write at once (a held lock would wait 5 s, then fail). */
			assert_int_equal(store_rcpt_stat_add(s, "198.51.100.1", "", 1, 0), 0);
			store_close(h);
			if (rc != -1)
				break;
		}
		if (rc != 0)
			fail_msg("op %d: rc %d after %d failure points", op, rc, n - 1);
		assert_true(n > 1); /* at least one failure point was hit */
	}
	/* The successful runs took effect exactly once. */
	struct store_tenant t;
	assert_int_equal(store_tenant_get(s, "spare", &t), 1);
	assert_int_equal(store_rcpt_stat_add(s, NULL, "", 1, 0), 0);
	int64_t v, iv;
	assert_int_equal(store_rcpt_stat_get(s, "ip", "192.0.2.1", 0, &v, &iv), 0);
	assert_int_equal(iv, 1);
	struct store_log_query q = { .ref = "BTCH-2222" };
	struct store_log_entry *e;
	size_t ne;
	assert_int_equal(store_log_search(s, &q, &e, &ne), 0);
	assert_int_equal(ne, 1);
	store_log_entry_free(e, ne);
}

/* ---- schema 10: reputation, fingerprints, traps, complaints, outbound ---- */

static int64_t count_rows(struct fx *f, const char *sql)
{
	char path[600];
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t n;

	snprintf(path, sizeof(path), "%s/mailward.db", f->c.data_dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void rep_put_key(struct store *s, const char *key, double msgs)
{
	struct store_rep r = { .updated = 100, .first_seen = 50, .msgs = msgs };

	mw_strlcpy(r.key, key, sizeof(r.key));
	assert_int_equal(store_rep_put(s, &r), 0);
}

static void test_rep(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	struct store_rep r;

	/* Not there: 1, zeroed, with the key. */
	memset(&r, 0x5a, sizeof(r));
	assert_int_equal(store_rep_get(s, "ip:192.0.2.1", &r), 1);
	assert_string_equal(r.key, "ip:192.0.2.1");
	assert_true(r.updated == 0 && r.msgs == 0 && r.ham == 0);

	struct store_rep w = { .updated = 1000, .first_seen = 900, .reset = 950, .msgs = 3.5,
		.valid = 2.25, .invalid = 7, .traps = 1, .complaints = 0.5, .spam = 2, .ham = 0.125 };
	mw_strlcpy(w.key, "ip:192.0.2.1", sizeof(w.key));
	assert_int_equal(store_rep_put(s, &w), 0);
	assert_int_equal(store_rep_get(s, "ip:192.0.2.1", &r), 0);
	assert_memory_equal(&r, &w, sizeof(r));
	/* Put replaces. */
	w.msgs = 4;
	w.updated = 2000;
	assert_int_equal(store_rep_put(s, &w), 0);
	assert_int_equal(store_rep_get(s, "ip:192.0.2.1", &r), 0);
	assert_true(r.msgs == 4 && r.updated == 2000 && r.first_seen == 900);

	/* Bad keys and counters are refused. */
	char longkey[STORE_REP_KEY_MAX + 1];
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[STORE_REP_KEY_MAX] = '\0';
	expect_err(s, store_rep_get(s, longkey, &r), -1, "reputation key");
	longkey[STORE_REP_KEY_MAX - 1] = '\0';   /* 159: the most that fits */
	rep_put_key(s, longkey, 1);
	assert_int_equal(store_rep_get(s, longkey, &r), 0);
	expect_err(s, store_rep_get(s, "", &r), -1, "reputation key");
	expect_err(s, store_rep_get(s, NULL, &r), -1, "reputation key");
	expect_err(s, store_rep_get(s, "ip:1\n2", &r), -1, "control character");
	w.spam = -1;
	expect_err(s, store_rep_put(s, &w), -1, "negative or not a number");
	w.spam = NAN;
	expect_err(s, store_rep_put(s, &w), -1, "negative or not a number");
	expect_err(s, store_rep_put(s, NULL), -1, "terminated key");
}

static void test_rep_list_prefix(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	struct store_rep *v;
	size_t n;

	/* '_' and '%' are LIKE wildcards: a prefix holding them must match
	 * them literally. */
	rep_put_key(s, "pair:a_b/192.0.2.0/24", 1);
	rep_put_key(s, "pair:aXb/192.0.2.0/24", 2);
	rep_put_key(s, "pair:a%b/192.0.2.0/24", 3);
	rep_put_key(s, "pair:a%bc/192.0.2.0/24", 4);
	rep_put_key(s, "pair:ab/192.0.2.0/24", 5);
	rep_put_key(s, "ip:192.0.2.1", 6);
	rep_put_key(s, "z\xff\xff", 7);
	rep_put_key(s, "z\xff", 8);

	assert_int_equal(store_rep_list(s, "pair:a_b", 0, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].key, "pair:a_b/192.0.2.0/24");
	store_rep_free(v);

	assert_int_equal(store_rep_list(s, "pair:a%", 0, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].key, "pair:a%b/192.0.2.0/24");   /* by key */
	assert_string_equal(v[1].key, "pair:a%bc/192.0.2.0/24");
	store_rep_free(v);

	assert_int_equal(store_rep_list(s, "pair:", 0, &v, &n), 0);
	assert_int_equal(n, 5);
	store_rep_free(v);
	assert_int_equal(store_rep_list(s, "pair:", 2, &v, &n), 0);
	assert_int_equal(n, 2);
	store_rep_free(v);

	/* A prefix ending in 0xff bytes still bounds the range. */
	assert_int_equal(store_rep_list(s, "z\xff", 0, &v, &n), 0);
	assert_int_equal(n, 2);
	store_rep_free(v);
	assert_int_equal(store_rep_list(s, "z\xff\xff", 0, &v, &n), 0);
	assert_int_equal(n, 1);
	store_rep_free(v);

	assert_int_equal(store_rep_list(s, "", 0, &v, &n), 0);
	assert_int_equal(n, 8);
	store_rep_free(v);
	assert_int_equal(store_rep_list(s, NULL, 0, &v, &n), 0);
	assert_int_equal(n, 8);
	store_rep_free(v);
	assert_int_equal(store_rep_list(s, "net:", 0, &v, &n), 0);
	assert_int_equal(n, 0);
	store_rep_free(v);
}

static void test_rep_clear(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	struct store_rep r;
	int64_t v, iv;

	assert_int_equal(store_rcpt_stat_add(s, "192.0.2.1", "Example.ORG", 0, 7200), 0);
	assert_int_equal(store_rcpt_stat_add(s, "192.0.2.1", "example.org", 1, 7300), 0);
	assert_int_equal(store_rcpt_stat_add(s, "192.0.2.9", "other.example", 0, 7300), 0);
	rep_put_key(s, "ip:192.0.2.1", 3);
	assert_int_equal(store_rep_event_add(s, 10, "ip:192.0.2.1", "invalid", "AAAA-2222", "x"), 0);

	assert_int_equal(store_rep_clear(s, "ip:192.0.2.1", "ip", "192.0.2.1"), 0);
	assert_int_equal(store_rep_get(s, "ip:192.0.2.1", &r), 1);
	assert_int_equal(store_rcpt_stat_get(s, "ip", "192.0.2.1", 0, &v, &iv), 0);
	assert_int_equal(v + iv, 0);
	/* Only that IP's rows, and not the sender domain's. */
	assert_int_equal(store_rcpt_stat_get(s, "ip", "192.0.2.9", 0, &v, &iv), 0);
	assert_int_equal(iv, 1);
	assert_int_equal(store_rcpt_stat_get(s, "sender_domain", "example.org", 0, &v, &iv), 0);
	assert_int_equal(v + iv, 2);
	/* Events are history: kept. */
	assert_int_equal(count_rows(f, "SELECT count(*) FROM rep_event"), 1);

	/* A domain key as typed, upper case included; no rep row needed. */
	assert_int_equal(store_rep_clear(s, "org:example.org", "sender_domain", "EXAMPLE.org"), 0);
	assert_int_equal(store_rcpt_stat_get(s, "sender_domain", "example.org", 0, &v, &iv), 0);
	assert_int_equal(v + iv, 0);

	/* Nothing there: 1; statistics left out when either part is NULL. */
	expect_err(s, store_rep_clear(s, "ip:192.0.2.1", "ip", "192.0.2.1"), 1, "no reputation");
	rep_put_key(s, "ip:192.0.2.9", 1);
	assert_int_equal(store_rep_clear(s, "ip:192.0.2.9", "ip", NULL), 0);
	assert_int_equal(store_rcpt_stat_get(s, "ip", "192.0.2.9", 0, &v, &iv), 0);
	assert_int_equal(iv, 1);
	expect_err(s, store_rep_clear(s, "ip:192.0.2.9", "asn", "1"), -1, "bad statistics kind");
	expect_err(s, store_rep_clear(s, "", NULL, NULL), -1, "reputation key");
}

static void test_rep_events(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	struct store_rep_event *e;
	size_t n;
	char detail[32];

	for (int i = 1; i <= 60; i++) {
		snprintf(detail, sizeof(detail), "event %d", i);
		assert_int_equal(store_rep_event_add(s, 1000 + i, "ip:192.0.2.1", "invalid",
		    "AAAA-2222", detail), 0);
	}
	for (int i = 1; i <= 3; i++)
		assert_int_equal(store_rep_event_add(s, 500 + i, "ip:192.0.2.2", "trap", NULL, NULL),
		    0);
	/* Bounded per key at insert: the newest 50 of the first key. */
	assert_int_equal(count_rows(f, "SELECT count(*) FROM rep_event WHERE key = 'ip:192.0.2.1'"),
	    50);
	assert_int_equal(count_rows(f, "SELECT min(ts) FROM rep_event WHERE key = 'ip:192.0.2.1'"),
	    1011);

	assert_int_equal(store_rep_event_list(s, "ip:192.0.2.1", 0, &e, &n), 0);
	assert_int_equal(n, 50);
	assert_int_equal(e[0].ts, 1060);                 /* newest first */
	assert_string_equal(e[0].detail, "event 60");
	assert_string_equal(e[0].kind, "invalid");
	assert_string_equal(e[0].ref, "AAAA-2222");
	assert_string_equal(e[0].key, "ip:192.0.2.1");
	assert_int_equal(e[49].ts, 1011);
	store_rep_event_free(e, n);

	assert_int_equal(store_rep_event_list(s, "ip:", 200, &e, &n), 0);
	assert_int_equal(n, 53);
	assert_int_equal(e[52].ts, 501);
	assert_string_equal(e[52].ref, "");
	store_rep_event_free(e, n);
	assert_int_equal(store_rep_event_list(s, "ip:192.0.2.2", 2, &e, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(e[0].ts, 503);
	store_rep_event_free(e, n);

	expect_err(s, store_rep_event_add(s, 1, "ip:192.0.2.1", "weird", "", ""), -1,
	    "bad reputation event kind");
	expect_err(s, store_rep_event_add(s, 1, "", "trap", "", ""), -1, "reputation key");
	for (const char *const *k = (const char *const[]){ "trap", "complaint", "invalid", "spam",
	    "reset", NULL }; *k; k++)
		assert_int_equal(store_rep_event_add(s, 2, "net:192.0.2.0/24", *k, "", ""), 0);
}

static void fp_fill(struct store_fp *fp, int kind, unsigned char seed)
{
	memset(fp, 0, sizeof(*fp));
	fp->kind = kind;
	for (size_t i = 0; i < sizeof(fp->sig); i++)
		fp->sig[i] = (unsigned char)(seed + i);
	fp->created = 100;
	fp->updated = 200;
	fp->traps = 1.5;
	fp->complaints = 2;
	fp->spam = 3;
	fp->msgs = 4;
	fp->last_trap = 150;
	mw_strlcpy(fp->last_ref, "AAAA-2222", sizeof(fp->last_ref));
	mw_strlcpy(fp->excerpt, "buy cheap watches", sizeof(fp->excerpt));
}

struct fp_seen {
	int64_t ids[16];
	size_t n;
	size_t stop_after;
};

static int fp_collect(void *arg, const struct store_fp *fp)
{
	struct fp_seen *seen = arg;

	seen->ids[seen->n++] = fp->id;
	return seen->stop_after != 0 && seen->n == seen->stop_after;
}

static void test_fp(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	struct store_fp a, b, got;

	fp_fill(&a, 1, 0);
	a.id = 0;
	assert_int_equal(store_fp_put(s, &a), 0);
	assert_true(a.id > 0);
	assert_int_equal(store_fp_get(s, a.id, &got), 0);
	assert_memory_equal(&got, &a, sizeof(got));

	fp_fill(&b, 2, 7);
	b.id = -5;    /* any id <= 0 inserts */
	assert_int_equal(store_fp_put(s, &b), 0);
	assert_true(b.id > a.id);

	/* Update: every column. */
	a.kind = 3;
	a.sig[0] ^= 0xff;
	a.traps = 9;
	a.updated = 300;
	mw_strlcpy(a.benign, "acme", sizeof(a.benign));
	memset(a.excerpt, 0, sizeof(a.excerpt));   /* the row holds the string, not the bytes after */
	mw_strlcpy(a.excerpt, "changed", sizeof(a.excerpt));
	assert_int_equal(store_fp_put(s, &a), 0);
	assert_int_equal(store_fp_get(s, a.id, &got), 0);
	assert_memory_equal(&got, &a, sizeof(got));

	struct store_fp ghost = a;
	ghost.id = 9999;
	expect_err(s, store_fp_put(s, &ghost), 1, "no fingerprint");
	expect_err(s, store_fp_get(s, 9999, &got), 1, "no fingerprint");

	/* Scan: id order, from after_id, stoppable. */
	struct store_fp c;
	fp_fill(&c, 1, 9);
	assert_int_equal(store_fp_put(s, &c), 0);
	struct fp_seen seen = { .n = 0 };
	assert_int_equal(store_fp_scan(s, 0, fp_collect, &seen), 0);
	assert_int_equal(seen.n, 3);
	assert_true(seen.ids[0] == a.id && seen.ids[1] == b.id && seen.ids[2] == c.id);
	seen = (struct fp_seen){ .n = 0 };
	assert_int_equal(store_fp_scan(s, a.id, fp_collect, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.ids[0], b.id);
	seen = (struct fp_seen){ .stop_after = 1 };
	assert_int_equal(store_fp_scan(s, 0, fp_collect, &seen), 0);
	assert_int_equal(seen.n, 1);

	assert_int_equal(store_fp_remove(s, b.id), 0);
	expect_err(s, store_fp_remove(s, b.id), 1, "no fingerprint");
	seen = (struct fp_seen){ .n = 0 };
	assert_int_equal(store_fp_scan(s, 0, fp_collect, &seen), 0);
	assert_int_equal(seen.n, 2);

	/* Bad input. */
	mw_strlcpy(c.benign, "Not A Tenant", sizeof(c.benign));
	expect_err(s, store_fp_put(s, &c), -1, "bad tenant name");
	c.benign[0] = '\0';
	memset(c.excerpt, 'x', sizeof(c.excerpt));
	expect_err(s, store_fp_put(s, &c), -1, "unterminated");
	expect_err(s, store_fp_put(s, NULL), -1, "fingerprint missing");
	expect_err(s, store_fp_scan(s, 0, NULL, NULL), -1, "without a callback");
}

/* A scan whose callback writes to the same handle: pages are read before
 * the callbacks run. */
static int fp_remove_each(void *arg, const struct store_fp *fp)
{
	struct store *s = arg;
	return store_fp_remove(s, fp->id) == 0 ? 0 : 1;
}

static void test_fp_scan_pages(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	struct store_fp fp;

	assert_int_equal(store_begin(s), 0);
	for (int i = 0; i < 600; i++) {
		fp_fill(&fp, 1, (unsigned char)i);
		assert_int_equal(store_fp_put(s, &fp), 0);
	}
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_fp_scan(s, 0, fp_remove_each, s), 0);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM fp"), 0);
}

static void test_traps(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	char pat[320], ten[128];
	struct store_trap *t;
	size_t n;

	populate(s);
	assert_int_equal(store_trap_add(s, "Trap@Example.COM", "", "admin"), 0);
	expect_err(s, store_trap_add(s, "trap@example.com", NULL, "admin"), 1, "already exists");
	assert_int_equal(store_trap_add(s, "@example.com", "acme", NULL), 0);
	expect_err(s, store_trap_add(s, "@example.com", "acme", NULL), 1, "already exists");
	expect_err(s, store_trap_add(s, "@example.com", "nope", NULL), -1, "no such tenant 'nope'");
	expect_err(s, store_trap_add(s, "@example.com", "Bad Name", NULL), -1, "bad tenant name");
	expect_err(s, store_trap_add(s, "example.com", "", NULL), -1, "bad trap");
	expect_err(s, store_trap_add(s, "a@-bad-.com", "", NULL), -1, "bad trap");
	expect_err(s, store_trap_add(s, "a b@example.com", "", NULL), -1, "bad trap");
	expect_err(s, store_trap_add(s, NULL, "", NULL), -1, "bad trap");

	/* The exact address beats the domain. */
	assert_int_equal(store_trap_match(s, "trap@example.com", pat, sizeof(pat), ten,
	    sizeof(ten)), 0);
	assert_string_equal(pat, "trap@example.com");
	assert_string_equal(ten, "");
	assert_int_equal(store_trap_match(s, "Other@EXAMPLE.com", pat, sizeof(pat), ten,
	    sizeof(ten)), 0);
	assert_string_equal(pat, "@example.com");
	assert_string_equal(ten, "acme");
	assert_int_equal(store_trap_match(s, "x@beta.org", pat, sizeof(pat), ten, sizeof(ten)), 1);
	assert_string_equal(pat, "");
	assert_int_equal(store_trap_match(s, "not an address", pat, sizeof(pat), ten, sizeof(ten)),
	    1);

	/* The same pattern network-wide and for a tenant: the tenant's. */
	assert_int_equal(store_trap_add(s, "@example.com", "", NULL), 0);
	assert_int_equal(store_trap_match(s, "other@example.com", pat, sizeof(pat), ten,
	    sizeof(ten)), 0);
	assert_string_equal(ten, "acme");
	/* A short buffer is cut, not overrun. */
	char small[4];
	assert_int_equal(store_trap_match(s, "trap@example.com", small, sizeof(small), NULL, 0), 0);
	assert_string_equal(small, "tra");

	assert_int_equal(store_trap_list(s, NULL, &t, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(t[0].tenant, "");    /* by tenant, then pattern */
	assert_string_equal(t[0].pattern, "@example.com");
	assert_string_equal(t[1].pattern, "trap@example.com");
	assert_string_equal(t[1].actor, "admin");
	assert_true(t[1].created > 0);
	assert_string_equal(t[2].tenant, "acme");
	store_trap_free(t, n);
	assert_int_equal(store_trap_list(s, "", &t, &n), 0);
	assert_int_equal(n, 2);
	store_trap_free(t, n);
	assert_int_equal(store_trap_list(s, "acme", &t, &n), 0);
	assert_int_equal(n, 1);
	store_trap_free(t, n);

	assert_int_equal(store_trap_remove(s, "@EXAMPLE.com", "acme"), 0);
	expect_err(s, store_trap_remove(s, "@example.com", "acme"), 1, "no trap");
	assert_int_equal(store_trap_match(s, "other@example.com", pat, sizeof(pat), ten,
	    sizeof(ten)), 0);
	assert_string_equal(ten, "");
	assert_int_equal(store_trap_remove(s, "@example.com", NULL), 0);
	assert_int_equal(store_trap_match(s, "other@example.com", pat, sizeof(pat), ten,
	    sizeof(ten)), 1);
}

static void test_trap_hits(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	struct store_trap_hit *h;
	char **gone;
	size_t n, ng;
	char file[32], ref[16];

	for (int i = 1; i <= 5; i++) {
		snprintf(file, sizeof(file), "hit%d.eml", i);
		snprintf(ref, sizeof(ref), "REF%d-2222", i);
		struct store_trap_hit x = { .ts = 100 + i, .ref = ref,
			.client_ip = i % 2 ? "192.0.2.1" : "192.0.2.2", .helo = "h",
			.sender = "s@spam.example", .rcpt = "trap@example.com", .tenant = "acme",
			.subject = "cheap", .file = i == 2 ? "" : file };
		assert_int_equal(store_trap_hit_add(s, &x, 0, &gone, &ng), 0);
		assert_int_equal(ng, 0);
		assert_null(gone);
	}
	/* Bound to 3: hits 1 and 2 go; 2 had no file, so only hit1.eml. */
	struct store_trap_hit x = { .ts = 106, .client_ip = "192.0.2.9", .file = "hit6.eml" };
	assert_int_equal(store_trap_hit_add(s, &x, 4, &gone, &ng), 0);
	assert_int_equal(ng, 1);
	assert_string_equal(gone[0], "hit1.eml");
	store_strings_free(gone, ng);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM trap_hit"), 4);

	assert_int_equal(store_trap_hit_list(s, NULL, NULL, 0, &h, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(h[0].ts, 106);                     /* newest first */
	assert_string_equal(h[0].sender, "");               /* NULL stored as "" */
	assert_string_equal(h[3].ref, "REF3-2222");
	assert_string_equal(h[3].rcpt, "trap@example.com");
	assert_string_equal(h[3].tenant, "acme");
	assert_string_equal(h[3].subject, "cheap");
	assert_string_equal(h[3].helo, "h");
	assert_string_equal(h[3].file, "hit3.eml");
	store_trap_hit_free(h, n);
	assert_int_equal(store_trap_hit_list(s, "192.0.2.1", NULL, 0, &h, &n), 0);
	assert_int_equal(n, 2);                             /* 3 and 5 */
	store_trap_hit_free(h, n);
	assert_int_equal(store_trap_hit_list(s, "192.0.2.1", "s@spam.example", 1, &h, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(h[0].ts, 105);
	store_trap_hit_free(h, n);
	assert_int_equal(store_trap_hit_list(s, NULL, "nobody@x", 0, &h, &n), 0);
	assert_int_equal(n, 0);
	store_trap_hit_free(h, n);

	/* max_keep 1 after more: every older file is named. */
	assert_int_equal(store_trap_hit_add(s, &x, 1, &gone, &ng), 0);
	assert_int_equal(ng, 4);   /* hit3, hit4, hit5, hit6 (the first copy) */
	store_strings_free(gone, ng);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM trap_hit"), 1);

	struct store_trap_hit bad = { .file = "../etc/passwd" };
	expect_err(s, store_trap_hit_add(s, &bad, 0, &gone, &ng), -1, "bad trap file name");
	bad.file = "..";
	expect_err(s, store_trap_hit_add(s, &bad, 0, &gone, &ng), -1, "bad trap file name");
}

static void test_complaints(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	struct store_complaint *v, got;
	int64_t id, id2;
	size_t n;
	char raw[] = "Feedback-Type: abuse\r\n\0binary";

	struct store_complaint c = { .ts = 1000, .source = "smtp", .kind = "arf", .flags = "",
		.digest = "0123abcd", .feedback_type = "abuse", .reporter = "fbl.example",
		.matched_ref = "AAAA-2222", .match = "ref", .client_ip = "192.0.2.1",
		.sender = "s@spam.example", .subject = "cheap", .raw = raw,
		.raw_len = sizeof(raw) - 1 };
	assert_int_equal(store_complaint_add(s, &c, &id), 0);
	assert_true(id > 0);
	/* The same report again counts once. */
	expect_err(s, store_complaint_add(s, &c, &id2), 1, "already stored");
	assert_int_equal(id2, id);
	c.ts = 2000;
	assert_int_equal(store_complaint_add(s, &c, NULL), 1);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM complaint"), 1);

	assert_int_equal(store_complaint_get(s, id, &got), 0);
	assert_int_equal(got.ts, 1000);
	assert_string_equal(got.source, "smtp");
	assert_string_equal(got.kind, "arf");
	assert_string_equal(got.flags, "");
	assert_string_equal(got.digest, "0123abcd");
	assert_string_equal(got.feedback_type, "abuse");
	assert_string_equal(got.reporter, "fbl.example");
	assert_string_equal(got.matched_ref, "AAAA-2222");
	assert_string_equal(got.match, "ref");
	assert_string_equal(got.client_ip, "192.0.2.1");
	assert_string_equal(got.sender, "s@spam.example");
	assert_string_equal(got.subject, "cheap");
	assert_int_equal(got.raw_len, sizeof(raw) - 1);
	assert_memory_equal(got.raw, raw, sizeof(raw) - 1);   /* the NUL inside kept */
	assert_int_equal(got.raw[got.raw_len], '\0');
	struct store_complaint *one = xmalloc(sizeof(*one));
	*one = got;
	store_complaint_free(one, 1);
	expect_err(s, store_complaint_get(s, 9999, &got), 1, "no complaint");

	/* A large report is cut at 64 KiB; NULL fields are stored as "". */
	size_t big = 70000;
	char *huge = xmalloc(big);
	memset(huge, 'a', big);
	struct store_complaint d = { .ts = 3000, .digest = "ffff", .raw = huge, .raw_len = big };
	assert_int_equal(store_complaint_add(s, &d, &id2), 0);
	free(huge);
	assert_int_equal(store_complaint_get(s, id2, &got), 0);
	assert_int_equal(got.raw_len, 65536);
	assert_string_equal(got.match, "");
	one = xmalloc(sizeof(*one));
	*one = got;
	store_complaint_free(one, 1);
	struct store_complaint e = { .ts = 500, .digest = "eeee" };   /* no raw at all */
	assert_int_equal(store_complaint_add(s, &e, NULL), 0);

	assert_int_equal(store_complaint_list(s, 0, 0, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].digest, "ffff");           /* newest first */
	assert_string_equal(v[2].digest, "eeee");
	assert_int_equal(v[2].raw_len, 0);
	store_complaint_free(v, n);
	assert_int_equal(store_complaint_list(s, 1000, 0, &v, &n), 0);
	assert_int_equal(n, 2);
	store_complaint_free(v, n);
	assert_int_equal(store_complaint_list(s, 0, 1, &v, &n), 0);
	assert_int_equal(n, 1);
	store_complaint_free(v, n);

	/* Counted per original: by ref and by Message-ID; not-spam is not a
	 * complaint, another original is not this one. */
	int64_t all, mid;
	assert_int_equal(store_complaint_count_ref(s, "AAAA-2222", &all, &mid), 0);
	assert_int_equal(all, 1);
	assert_int_equal(mid, 0);
	struct store_complaint m = c;
	m.digest = "m1", m.match = "message-id";
	assert_int_equal(store_complaint_add(s, &m, NULL), 0);
	m.digest = "m2";
	assert_int_equal(store_complaint_add(s, &m, NULL), 0);
	m.digest = "m3", m.feedback_type = "not-spam";
	assert_int_equal(store_complaint_add(s, &m, NULL), 0);
	m.digest = "m4", m.feedback_type = "abuse", m.matched_ref = "BBBB-3333";
	assert_int_equal(store_complaint_add(s, &m, NULL), 0);
	assert_int_equal(store_complaint_count_ref(s, "AAAA-2222", &all, &mid), 0);
	assert_int_equal(all, 3);
	assert_int_equal(mid, 2);
	assert_int_equal(store_complaint_count_ref(s, "AAAA-2222", &all, NULL), 0);
	assert_int_equal(all, 3);
	assert_int_equal(store_complaint_count_ref(s, "", &all, &mid), 0);
	assert_int_equal(all + mid, 0);

	c.digest = "";
	expect_err(s, store_complaint_add(s, &c, &id), -1, "digest");
	c.digest = "has space";
	expect_err(s, store_complaint_add(s, &c, &id), -1, "printable");
	c.digest = NULL;
	expect_err(s, store_complaint_add(s, &c, &id), -1, "digest");
	expect_err(s, store_complaint_add(s, NULL, &id), -1, "complaint missing");
}

static void test_outbound(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	char m[1000];
	int64_t n;

	assert_int_equal(store_outbound_add(s, "acme", "m1@x.example", 100), 0);
	assert_int_equal(store_outbound_add(s, "acme", "m1@x.example", 150), 1);   /* known */
	assert_int_equal(store_outbound_add(s, "acme", "<m1@x.example>", 150), 1); /* same id */
	assert_int_equal(store_outbound_add(s, "acme", "m2@x.example", 200), 0);
	assert_int_equal(store_outbound_add(s, "beta", "m3@x.example", 300), 0);

	/* The first known one in the given order, not in the table's. */
	const char *ids[] = { "nope@x", "", NULL, "<m2@x.example>", "m1@x.example" };
	assert_int_equal(store_outbound_match(s, "acme", ids, 5, m, sizeof(m)), 0);
	assert_string_equal(m, "m2@x.example");
	const char *ids2[] = { "m1@x.example", "m2@x.example" };
	assert_int_equal(store_outbound_match(s, "acme", ids2, 2, m, sizeof(m)), 0);
	assert_string_equal(m, "m1@x.example");
	/* Per tenant. */
	const char *ids3[] = { "m3@x.example" };
	assert_int_equal(store_outbound_match(s, "acme", ids3, 1, m, sizeof(m)), 1);
	assert_string_equal(m, "");
	assert_int_equal(store_outbound_match(s, "beta", ids3, 1, m, sizeof(m)), 0);
	assert_int_equal(store_outbound_match(s, "acme", NULL, 0, m, sizeof(m)), 1);
	/* Compared exactly: case matters in the local part of a Message-ID. */
	const char *ids4[] = { "M1@x.example" };
	assert_int_equal(store_outbound_match(s, "acme", ids4, 1, m, sizeof(m)), 1);

	/* Bounds: 998 bytes fit, 999 do not; the tenant name is checked. */
	char longid[1001];
	memset(longid, 'a', 998);
	longid[998] = '\0';
	assert_int_equal(store_outbound_add(s, "acme", longid, 400), 0);
	const char *ids5[] = { longid };
	assert_int_equal(store_outbound_match(s, "acme", ids5, 1, m, sizeof(m)), 0);
	assert_int_equal(strlen(m), 998);
	memset(longid, 'a', 999);
	longid[999] = '\0';
	expect_err(s, store_outbound_add(s, "acme", longid, 400), -1, "bad Message-ID");
	expect_err(s, store_outbound_add(s, "acme", "", 400), -1, "bad Message-ID");
	expect_err(s, store_outbound_add(s, "acme", "<>", 400), -1, "bad Message-ID");
	expect_err(s, store_outbound_add(s, "acme", NULL, 400), -1, "bad Message-ID");
	expect_err(s, store_outbound_add(s, "Bad Tenant", "x@y", 400), -1, "bad tenant name");
	expect_err(s, store_outbound_match(s, "", ids, 1, m, sizeof(m)), -1, "bad tenant name");

	/* Where each went: registered domains, lower case, per message. */
	char known[256];
	assert_int_equal(store_outbound_rcpt_add(s, "acme", "m1@x.example", "Partner.Example"), 0);
	assert_int_equal(store_outbound_rcpt_add(s, "acme", "<m1@x.example>", "partner.example"), 1);
	assert_int_equal(store_outbound_rcpt_add(s, "acme", "m1@x.example", "other.example"), 0);
	assert_int_equal(store_outbound_rcpt_add(s, "beta", "m3@x.example", "b.example"), 0);
	const char *from_partner[] = { "mailer.example", "partner.example" };
	assert_int_equal(store_outbound_rcpt_check(s, "acme", "m1@x.example", from_partner, 2,
	    known, sizeof(known)), 0);
	const char *stranger[] = { "stranger.example", NULL, "not a domain" };
	assert_int_equal(store_outbound_rcpt_check(s, "acme", "m1@x.example", stranger, 3,
	    known, sizeof(known)), 1);
	assert_string_equal(known, "other.example, partner.example");
	assert_int_equal(store_outbound_rcpt_check(s, "acme", "m1@x.example", NULL, 0,
	    known, sizeof(known)), 1);
	/* Nothing recorded for m2, nor for m3 in acme: no opinion. */
	assert_int_equal(store_outbound_rcpt_check(s, "acme", "m2@x.example", stranger, 1,
	    known, sizeof(known)), 2);
	assert_string_equal(known, "");
	assert_int_equal(store_outbound_rcpt_check(s, "acme", "m3@x.example", stranger, 1,
	    known, sizeof(known)), 2);
	/* A recipient of a message never recorded is refused. */
	expect_err(s, store_outbound_rcpt_add(s, "acme", "never@x.example", "a.example"), -1,
	    "no outbound message");
	expect_err(s, store_outbound_rcpt_add(s, "acme", "m1@x.example", "bad domain"), -1,
	    "bad recipient domain");
	expect_err(s, store_outbound_rcpt_add(s, "acme", "m1@x.example", NULL), -1,
	    "bad recipient domain");
	/* Many recipients: the explanation names three. */
	static const char *const many[] = { "a1.example", "a2.example", "a3.example", "a4.example", "a5.example" };
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(store_outbound_rcpt_add(s, "acme", "m2@x.example", many[i]), 0);
	assert_int_equal(store_outbound_rcpt_check(s, "acme", "m2@x.example", stranger, 1,
	    known, sizeof(known)), 1);
	assert_string_equal(known, "a1.example, a2.example, a3.example and 2 more");

	assert_int_equal(store_outbound_purge(s, 250, &n), 0);
	assert_int_equal(n, 2);   /* m1 and m2; m3 (300) and the long one (400) stay */
	assert_int_equal(store_outbound_match(s, "acme", ids2, 2, m, sizeof(m)), 1);
	assert_int_equal(store_outbound_add(s, "acme", "m1@x.example", 500), 0);
	/* Their recipients went with them. */
	assert_int_equal(store_outbound_add(s, "acme", "m2@x.example", 600), 0);
	assert_int_equal(store_outbound_rcpt_check(s, "acme", "m2@x.example", stranger, 1,
	    known, sizeof(known)), 2);
	assert_int_equal(store_outbound_rcpt_check(s, "beta", "m3@x.example", stranger, 1,
	    known, sizeof(known)), 1);
}

/* A database of version 9 (before this work) gains the v10 tables on
 * open, keeps its content, and the new tables work at once. */
static void test_migrate_v9(void **state)
{
	struct fx *f = *state;
	char path[600], err[256];
	sqlite3 *db;

	populate(f->s);
	store_close(f->s);
	f->s = NULL;
	snprintf(path, sizeof(path), "%s/mailward.db", f->c.data_dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE rep; DROP TABLE rep_event; DROP TABLE fp; "
	    "DROP TABLE trap; DROP TABLE trap_hit; DROP TABLE complaint; DROP TABLE outbound; "
	    "DROP TABLE outbound_rcpt; ALTER TABLE bayes_msg DROP COLUMN weight; "
	    "PRAGMA user_version = 9", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(count_rows(f, "PRAGMA user_version"), 9);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM sqlite_master WHERE name = 'rep'"), 0);

	f->s = store_open(&f->c, err, sizeof(err));
	if (f->s == NULL)
		fail_msg("store_open: %s", err);
	assert_int_equal(count_rows(f, "PRAGMA user_version"), 12);
	struct store_tenant t;
	assert_int_equal(store_tenant_get(f->s, "acme", &t), 0);
	free(t.name);
	free(t.action);

	struct store_rep r;
	rep_put_key(f->s, "ip:192.0.2.1", 2);
	assert_int_equal(store_rep_get(f->s, "ip:192.0.2.1", &r), 0);
	assert_true(r.msgs == 2);
	assert_int_equal(store_rep_event_add(f->s, 1, "ip:192.0.2.1", "reset", "", ""), 0);
	assert_int_equal(store_trap_add(f->s, "@example.com", "acme", "admin"), 0);
	struct store_fp fp;
	fp_fill(&fp, 1, 3);
	assert_int_equal(store_fp_put(f->s, &fp), 0);
	struct store_complaint c = { .digest = "abc" };
	assert_int_equal(store_complaint_add(f->s, &c, NULL), 0);
	assert_int_equal(store_outbound_add(f->s, "acme", "a@b", 1), 0);
	assert_int_equal(store_outbound_rcpt_add(f->s, "acme", "a@b", "b.example"), 0);   /* v11 */
	char **gone;
	size_t ng;
	struct store_trap_hit h = { .ts = 1 };
	assert_int_equal(store_trap_hit_add(f->s, &h, 10, &gone, &ng), 0);
}

/* The multi-statement operations of schema 10 under injected failures:
 * each either happens whole or not at all, and leaves no transaction. */
enum fp10_op { FP10_EVENT_ADD, FP10_REP_CLEAR, FP10_HIT_ADD, FP10__N };

static int fp10_run(struct store *s, enum fp10_op op)
{
	char **gone = NULL;
	size_t ng = 0;
	int rc = -1;

	switch (op) {
	case FP10_EVENT_ADD: return store_rep_event_add(s, 99, "ip:192.0.2.1", "spam", "", "");
	case FP10_REP_CLEAR: return store_rep_clear(s, "ip:192.0.2.1", "ip", "192.0.2.1");
	case FP10_HIT_ADD: {
		struct store_trap_hit h = { .ts = 99, .file = "new.eml" };
		rc = store_trap_hit_add(s, &h, 2, &gone, &ng);
		if (rc == 0 && (ng != 1 || strcmp(gone[0], "old.eml") != 0))
			rc = -2;
		store_strings_free(gone, ng);
		return rc;
	}
	case FP10__N: break;
	}
	return rc;
}

static void test_failpoints_v10(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	char err[256], fp[40];
	char **gone;
	size_t ng;

	/* Events at the bound, so the add also trims. */
	for (int i = 0; i < 50; i++)
		assert_int_equal(store_rep_event_add(s, i + 1, "ip:192.0.2.1", "invalid", "", ""), 0);
	rep_put_key(s, "ip:192.0.2.1", 1);
	assert_int_equal(store_rcpt_stat_add(s, "192.0.2.1", "", 0, 0), 0);
	struct store_trap_hit h1 = { .ts = 1, .file = "old.eml" }, h2 = { .ts = 2, .file = "" };
	assert_int_equal(store_trap_hit_add(s, &h1, 0, &gone, &ng), 0);
	assert_int_equal(store_trap_hit_add(s, &h2, 0, &gone, &ng), 0);

	for (int op = 0; op < FP10__N; op++) {
		int n, rc = -1;
		for (n = 1; n < 50; n++) {
			snprintf(fp, sizeof(fp), "store_step:%d", n);
			setenv("MAILWARD_FAILPOINT", fp, 1);
			struct store *h = store_open(&f->c, err, sizeof(err));
			unsetenv("MAILWARD_FAILPOINT");
			assert_non_null(h);
			rc = fp10_run(h, (enum fp10_op)op);
			if (rc == -1 && strstr(store_error(h), "injected failure") == NULL)
				fail_msg("op %d step %d: unexpected error '%s'", op, n, store_error(h));
			assert_int_equal(store_rcpt_stat_add(s, "198.51.100.1", "", 1, 0), 0);
			store_close(h);
			if (rc != -1)
				break;
			/* Nothing of a failed run is left. */
			assert_int_equal(count_rows(f, "SELECT count(*) FROM rep_event"), 50);
			assert_int_equal(count_rows(f, "SELECT max(ts) FROM rep_event"),
			    op > FP10_EVENT_ADD ? 99 : 50);
		}
		if (rc != 0)
			fail_msg("op %d: rc %d after %d failure points", op, rc, n - 1);
		assert_true(n > 1);
	}
	assert_int_equal(count_rows(f, "SELECT count(*) FROM rep_event"), 50);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM rep"), 0);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM rcpt_stat WHERE key = '192.0.2.1'"), 0);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM trap_hit"), 2);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_open),
		T(test_open_errors),
		T(test_tenants),
		T(test_domains),
		T(test_users),
		T(test_rcpt_lookup),
		T(test_cross_handle_visibility),
		T(test_rcpt_stats),
		T(test_log),
		T(test_log_verdict),
		T(test_quarantine),
		T(test_lists_and_audit),
		T(test_log_limit_default),
		T(test_locked_database),
		T(test_failpoints),
		T(test_rep),
		T(test_rep_list_prefix),
		T(test_rep_clear),
		T(test_rep_events),
		T(test_fp),
		T(test_fp_scan_pages),
		T(test_traps),
		T(test_trap_hits),
		T(test_complaints),
		T(test_outbound),
		T(test_migrate_v9),
		T(test_failpoints_v10),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
