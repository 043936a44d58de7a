/* test_digest.c - release links (sign, verify, expiry) and the digest text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/util.h"
#include "conf/conf.h"
#include "digest/digest.h"
#include "quarantine/quarantine.h"

static void test_link_sign_verify(void **state)
{
	(void)state;
	unsigned char key[DIGEST_KEY_LEN], other[DIGEST_KEY_LEN];
	char sig[DIGEST_SIG_HEX], url[512];

	memset(key, 7, sizeof(key));
	memset(other, 8, sizeof(other));
	digest_link_sign(key, 42, "bob@example.test", 1000, sig);
	assert_int_equal(strlen(sig), 64);
	assert_int_equal(digest_link_verify(key, 42, "bob@example.test", 1000, sig, 999), DIGEST_LINK_OK);
	assert_int_equal(digest_link_verify(key, 42, "bob@example.test", 1000, sig, 1000), DIGEST_LINK_OK);
	assert_int_equal(digest_link_verify(key, 42, "bob@example.test", 1000, sig, 1001),
	    DIGEST_LINK_EXPIRED);
	/* Any other id, recipient, expiry or key: not valid. */
	assert_int_equal(digest_link_verify(key, 43, "bob@example.test", 1000, sig, 1), DIGEST_LINK_BAD);
	assert_int_equal(digest_link_verify(key, 42, "eve@example.test", 1000, sig, 1), DIGEST_LINK_BAD);
	assert_int_equal(digest_link_verify(key, 42, "bob@example.test", 5000, sig, 1), DIGEST_LINK_BAD);
	assert_int_equal(digest_link_verify(other, 42, "bob@example.test", 1000, sig, 1), DIGEST_LINK_BAD);
	/* A bad signature is bad even when expired (no oracle for old links). */
	assert_int_equal(digest_link_verify(other, 42, "bob@example.test", 1000, sig, 5000),
	    DIGEST_LINK_BAD);
	assert_int_equal(digest_link_verify(key, 42, "bob@example.test", 1000, "abc", 1), DIGEST_LINK_BAD);
	assert_int_equal(digest_link_verify(key, 42, "bob@example.test", 1000, NULL, 1), DIGEST_LINK_BAD);
	digest_link_url("http://h:8025/", 42, 1000, sig, url, sizeof(url));
	assert_non_null(strstr(url, "http://h:8025/release?id=42&exp=1000&sig="));
	assert_null(strstr(url, "8025//"));
}

static void test_key_file(void **state)
{
	(void)state;
	struct conf c;
	char dir[] = "/tmp/mw-digest-XXXXXX", path[600], err[256];
	unsigned char k1[DIGEST_KEY_LEN], k2[DIGEST_KEY_LEN];
	struct stat sb;

	assert_non_null(mkdtemp(dir));
	conf_defaults(&c);
	mw_strlcpy(c.data_dir, dir, sizeof(c.data_dir));
	assert_int_equal(digest_key_load(&c, k1, err, sizeof(err)), 0);
	assert_int_equal(digest_key_load(&c, k2, err, sizeof(err)), 0);
	assert_memory_equal(k1, k2, DIGEST_KEY_LEN);     /* made once, then read */
	snprintf(path, sizeof(path), "%s/link.key", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* A short key file is refused, not padded. */
	FILE *f = fopen(path, "w");
	fputs("short", f);
	fclose(f);
	assert_int_equal(digest_key_load(&c, k2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is not a 32-byte key"));
	unlink(path);
	rmdir(dir);
}

static void test_build(void **state)
{
	(void)state;
	struct conf c;
	unsigned char key[DIGEST_KEY_LEN];
	struct store_quarantine rows[2] = {
		{ .id = 7, .rcpt = "bob@example.test", .sender = "a@spam.example",
		  .from_hdr = "\"Win <b>\" <a@spam.example>", .subject = "Cheap & <fast>\x01", .score = 12.5,
		  .ts = 1700000000 },
		{ .id = 8, .rcpt = "bob@example.test", .sender = "", .from_hdr = "", .subject = "",
		  .score = 10, .ts = 1700000100 },
	};
	size_t len;

	conf_defaults(&c);
	mw_strlcpy(c.admin_url, "https://mx.example.org:8025", sizeof(c.admin_url));
	memset(key, 1, sizeof(key));
	char *m = digest_build(&c, key, "bob@example.test", rows, 2, 5, 1700001000, &len);
	assert_int_equal(strlen(m), len);
	assert_non_null(strstr(m, "Content-Type: multipart/alternative; boundary=\"=_mw_digest_"));
	assert_non_null(strstr(m, "Subject: Quarantine digest: 5 messages held for you\r\n"));
	assert_non_null(strstr(m, "Content-Type: text/plain; charset=utf-8"));
	assert_non_null(strstr(m, "Content-Type: text/html; charset=utf-8"));
	/* HTML-escaped in the HTML part, control bytes gone everywhere. */
	assert_non_null(strstr(m, "Cheap &amp; &lt;fast&gt;"));
	assert_null(strchr(m, '\x01'));
	assert_non_null(strstr(m, "(none)"));
	assert_non_null(strstr(m, "... and 3 more"));
	assert_non_null(strstr(m, "https://mx.example.org:8025/release?id=7&exp="));
	/* Every line is CRLF-terminated and short enough for SMTP. */
	for (char *p = m; *p;) {
		char *nl = strstr(p, "\r\n");
		assert_non_null(nl);
		assert_true(nl - p < 998);
		p = nl + 2;
	}
	free(m);
}

/* What not-spam learns: the sender's message, without our lines on top. */
static void test_own_headers(void **state)
{
	(void)state;
	const char *m = "Received: from x ([1.2.3.4])\r\n\tby mx (mailward) with ESMTP id Q;"
	    " Fri, 27 Nov 2026\r\nX-Mailward-Ref: AAAA-BBBB\r\nX-Mailward-Symbols: A(1.00)\r\n"
	    "\tB(2.00)\r\nReceived: from y\r\nSubject: s\r\n\r\nbody\r\n";
	size_t n = quarantine_own_headers_len(m, strlen(m));
	assert_true(strncmp(m + n, "Received: from y", 16) == 0);
	const char *other = "Received: from a (postfix)\r\nX-Mailward-Score: 1\r\nS: x\r\n\r\n";
	n = quarantine_own_headers_len(other, strlen(other));
	assert_int_equal(n, 0);   /* not our Received first: nothing is ours */
	assert_int_equal(quarantine_own_headers_len("", 0), 0);
	const char *only = "X-Mailward-Ref: R";
	assert_int_equal(quarantine_own_headers_len(only, strlen(only)), strlen(only));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link_sign_verify),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_own_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
