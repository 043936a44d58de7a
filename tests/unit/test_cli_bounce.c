/*
 * test_cli_bounce.c - search keys from pasted bounces, dates, and the
 * pure checks of the CLI (addresses, delivery URLs, queue ids).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli.h"

/* A full Postfix DSN as a user would paste it from the raw message view. */
static const char postfix_dsn[] =
    "Return-Path: <>\r\n"
    "Date: Fri, 27 Nov 2026 10:02:00 +0000 (UTC)\r\n"
    "From: MAILER-DAEMON@mail.sender.example (Mail Delivery System)\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\n"
    "To: alice@sender.example\r\n"
    "Message-Id: <20261127100200.AAA1@mail.sender.example>\r\n"
    "\r\n"
    "This is the mail system at host mail.sender.example.\r\n"
    "\r\n"
    "<bob@tenant.example>: host mx.mailward.example[192.0.2.1] said: 554 5.7.1\r\n"
    "    Message rejected as probable spam (ref 8kq2-7z4m) (in reply to end of\r\n"
    "    DATA command)\r\n"
    "\r\n"
    "Reporting-MTA: dns; mail.sender.example\r\n"
    "Final-Recipient: rfc822; bob@tenant.example\r\n"
    "Original-Recipient: rfc822;Bob@Tenant.example\r\n"
    "Action: failed\r\n"
    "\r\n"
    "Return-Path: <alice@sender.example>\r\n"
    "From: Alice <alice@sender.example>\r\n"
    "To: Bob <bob@tenant.example>\r\n"
    "Subject: Quarterly\r\n"
    " report\r\n"
    "Date: Fri, 27 Nov 2026 11:00:00 +0100\r\n"
    "Message-ID: <original-1234567@sender.example>\r\n";

static void
test_postfix_dsn(void **state)
{
	struct cli_bounce_keys k;

	(void)state;
	cli_bounce_extract(postfix_dsn, sizeof(postfix_dsn) - 1, &k);
	assert_string_equal(k.ref, "8KQ2-7Z4M");
	assert_string_equal(k.qid, "");
	assert_string_equal(k.message_id, "original-1234567@sender.example");
	assert_string_equal(k.recipient, "bob@tenant.example");
	assert_string_equal(k.sender, "alice@sender.example");
	assert_string_equal(k.subject, "Quarterly report");
	assert_int_equal(k.date, 1795773600 + 0); /* 2026-11-27T10:00:00Z */
}

static void
test_headers_and_queued_as(void **state)
{
	static const char t[] =
	    "Your message could not be delivered.\n"
	    "X-Mailward-Ref: 23AB-CDEF\n"
	    "X-Mailward-Queue-Id: 0A1B2C3D4E5F6G7H8J9K\n"
	    "250 2.0.0 Ok: queued as 4XyZ123456\n";
	struct cli_bounce_keys k;

	(void)state;
	cli_bounce_extract(t, sizeof(t) - 1, &k);
	assert_string_equal(k.ref, "23AB-CDEF");
	assert_string_equal(k.qid, "0A1B2C3D4E5F6G7H8J9K");
	assert_string_equal(k.message_id, "");
	assert_int_equal(k.date, 0);
}

static void
test_plain_text(void **state)
{
	/* Just the rejection as a mail client shows it; ref has look-alikes
	 * (0, O, 1, I) that are not in the alphabet, so it is no ref id. */
	static const char t[] =
	    "Delivery to the following recipient failed permanently:\n"
	    "     carol@tenant.example\n"
	    "The error was: 554 5.7.1 rejected (ref 0OI1-ABCD)\n"
	    "Original message id <CAF=abc123456789xyz@mail.gmail.com>\n"
	    "queued as ABC\n";
	struct cli_bounce_keys k;

	(void)state;
	cli_bounce_extract(t, sizeof(t) - 1, &k);
	assert_string_equal(k.ref, "");
	assert_string_equal(k.qid, "");  /* too short to be a queue id */
	assert_string_equal(k.message_id, "CAF=abc123456789xyz@mail.gmail.com");
	assert_string_equal(k.recipient, "");
}

static void
test_exchange_subject(void **state)
{
	static const char t[] =
	    "From: postmaster@outlook.example\n"
	    "To: dave@sender.example\n"
	    "Subject: Undeliverable: Invoice 42\n"
	    "Date: Thu, 26 Nov 2026 23:30:00 -0800\n";
	struct cli_bounce_keys k;

	(void)state;
	cli_bounce_extract(t, sizeof(t) - 1, &k);
	assert_string_equal(k.subject, "Invoice 42");
	assert_string_equal(k.sender, "dave@sender.example");
	assert_string_equal(k.recipient, "");
	assert_int_equal(k.date, 1795764600); /* 2026-11-27T07:30:00Z */
}

static void
test_empty(void **state)
{
	struct cli_bounce_keys k;

	(void)state;
	cli_bounce_extract("", 0, &k);
	assert_string_equal(k.ref, "");
	assert_string_equal(k.sender, "");
	cli_bounce_extract("ref", 3, &k);
	assert_string_equal(k.ref, "");
}

static void
test_dates(void **state)
{
	int64_t t;

	(void)state;
	assert_int_equal(cli_parse_rfc5322_date("27 Nov 2026 10:00 GMT", &t), 0);
	assert_int_equal(t, 1795773600);
	assert_int_equal(cli_parse_rfc5322_date("Fri, 27 Nov 2026 05:00:00 EST", &t), 0);
	assert_int_equal(t, 1795773600);
	assert_int_equal(cli_parse_rfc5322_date("Fri, 27 Nov 26 10:00:00 +0000", &t), 0);
	assert_int_equal(t, 1795773600);
	assert_int_equal(cli_parse_rfc5322_date("yesterday", &t), -1);
	assert_int_equal(cli_parse_rfc5322_date("27 Foo 2026 10:00", &t), -1);
	assert_int_equal(cli_parse_rfc5322_date("27 Nov 2026 25:00", &t), -1);
}

static void
test_addresses(void **state)
{
	char out[320];
	const char *why;

	(void)state;
	assert_int_equal(cli_normalize_address("Bob@Example.COM", out, sizeof(out), &why), 0);
	assert_string_equal(out, "bob@example.com");
	assert_int_equal(cli_normalize_address("@example.com", out, sizeof(out), &why), 0);
	assert_string_equal(out, "@example.com");
	assert_int_equal(cli_normalize_address("bob", out, sizeof(out), &why), -1);
	assert_int_equal(cli_normalize_address("bob@", out, sizeof(out), &why), -1);
	assert_int_equal(cli_normalize_address("bo b@example.com", out, sizeof(out), &why), -1);
	assert_int_equal(cli_normalize_address("a..b@example.com", out, sizeof(out), &why), -1);
	assert_int_equal(cli_normalize_address("a@exa_mple.com", out, sizeof(out), &why), -1);
	assert_true(cli_valid_domain("example.com"));
	assert_false(cli_valid_domain("localhost"));
	assert_false(cli_valid_domain("-a.com"));
	assert_false(cli_valid_domain("a..com"));
	assert_true(cli_valid_tenant_name("acme-1"));
	assert_false(cli_valid_tenant_name("acme corp"));
	assert_false(cli_valid_tenant_name(""));
}

static void
test_deliver_urls(void **state)
{
	char out[600];
	const char *why;

	(void)state;
	assert_int_equal(cli_deliver_normalize("smtp://127.0.0.1:2526", "/x", out, sizeof(out), &why), 0);
	assert_string_equal(out, "smtp://127.0.0.1:2526");
	assert_int_equal(cli_deliver_normalize("LMTP://Mail.Example:24", "/x", out, sizeof(out), &why), 0);
	assert_string_equal(out, "lmtp://mail.example:24");
	assert_int_equal(cli_deliver_normalize("smtp://[::1]:25", "/x", out, sizeof(out), &why), 0);
	assert_int_equal(cli_deliver_normalize("maildir:/srv/mail", "/x", out, sizeof(out), &why), 0);
	assert_string_equal(out, "maildir:/srv/mail");
	assert_int_equal(cli_deliver_normalize("maildir:var/maildir/", "/home/u", out, sizeof(out), &why), 0);
	assert_string_equal(out, "maildir:/home/u/var/maildir");
	assert_int_equal(cli_deliver_normalize("maildir:./m", "/home/u", out, sizeof(out), &why), 0);
	assert_string_equal(out, "maildir:/home/u/m");
	assert_int_equal(cli_deliver_normalize("smtp://host", "/x", out, sizeof(out), &why), -1);
	assert_int_equal(cli_deliver_normalize("smtp://host:0", "/x", out, sizeof(out), &why), -1);
	assert_int_equal(cli_deliver_normalize("smtp://host:70000", "/x", out, sizeof(out), &why), -1);
	assert_int_equal(cli_deliver_normalize("http://host:80", "/x", out, sizeof(out), &why), -1);
	assert_int_equal(cli_deliver_normalize("maildir:", "/x", out, sizeof(out), &why), -1);
	assert_true(cli_valid_qid("0A1B2C3D4E5F6G7H8J9K"));
	assert_false(cli_valid_qid("../etc"));
	assert_false(cli_valid_qid(""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_postfix_dsn),
		cmocka_unit_test(test_headers_and_queued_as),
		cmocka_unit_test(test_plain_text),
		cmocka_unit_test(test_exchange_subject),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_deliver_urls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
