/* Unit tests: the scan engine - every rule fires and stays quiet, GTUBE,
 * thresholds and classes, Bayes end to end on a real SQLite store in a
 * temporary data_dir, idempotent training, hostile input, and a speed
 * figure (printed, not asserted). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "base/buf.h"
#include "base/util.h"
#include "conf/conf.h"
#include "score/score.h"
#include "score/score_int.h"
#include "smtp/smtp_addr.h"
#include "store/store.h"
#include "archive_build.h"

/* ---- helpers ------------------------------------------------------------------ */

static const struct score_symbol *sym(const struct score_verdict *v, const char *name)
{
	for (size_t i = 0; i < v->n_symbols; i++)
		if (strcmp(v->symbols[i].name, name) == 0)
			return &v->symbols[i];
	return NULL;
}

/* The symbol fired and its reason says text. */
static int reason_has(const struct score_verdict *v, const char *name, const char *text)
{
	const struct score_symbol *x = sym(v, name);
	return x != NULL && strstr(x->reason, text) != NULL;
}

static void dump(const char *what, const struct score_verdict *v)
{
	if (getenv("SCORE_TEST_VERBOSE") == NULL)
		return;
	fprintf(stderr, "-- %s: %.2f %s\n", what, v->score, score_class_name(v->cls));
	for (size_t i = 0; i < v->n_symbols; i++)
		fprintf(stderr, "   %-24s %8.2f  %s\n", v->symbols[i].name, v->symbols[i].score, v->symbols[i].reason);
}

/* Scan with a rules-only engine (default thresholds). */
static void scan(const char *msg, struct score_verdict *v)
{
	struct score_engine *e = score_engine_new(NULL, NULL);
	assert_int_equal(score_message(e, msg, strlen(msg), v), 0);
	dump(msg, v);
	score_engine_free(e);
}

#define ASSERT_FIRES(msg, name) do { \
	struct score_verdict v_; \
	scan((msg), &v_); \
	if (sym(&v_, (name)) == NULL) fail_msg("%s did not fire", (name)); \
	score_verdict_free(&v_); \
} while (0)

#define ASSERT_QUIET(msg, name) do { \
	struct score_verdict v_; \
	scan((msg), &v_); \
	if (sym(&v_, (name)) != NULL) fail_msg("%s fired: %s", (name), sym(&v_, (name))->reason); \
	score_verdict_free(&v_); \
} while (0)

/* A well-formed message: extra headers and body as given. */
static char *mk(const char *subject, const char *extra, const char *body)
{
	return xasprintf("Received: from mx.example.org by mx.example.net; Tue, 1 Oct 2002 10:05:00 +0000\n"
	    "From: Alice <alice@example.org>\n"
	    "To: bob@example.net\n"
	    "Subject: %s\n"
	    "Date: Tue, 1 Oct 2002 10:00:00 +0000\n"
	    "Message-ID: <1@example.org>\n"
	    "%s"
	    "\n"
	    "%s", subject, extra, body);
}

static const char plain_body[] = "Hello Bob,\n\nthe minutes of the meeting are below.\n\nAlice\n";

/* ---- a clean message ------------------------------------------------------------- */

static void test_clean(void **state)
{
	(void)state;
	char *m = mk("Minutes of the meeting", "", plain_body);
	struct score_verdict v;
	scan(m, &v);
	/* Only the "no store" note: no rule fires on an ordinary message. */
	assert_int_equal(v.n_symbols, 1);
	assert_string_equal(v.symbols[0].name, "BAYES_UNAVAILABLE");
	assert_non_null(strstr(v.symbols[0].reason, "no Bayes store"));
	assert_true(v.score == 0.0);
	assert_int_equal(v.cls, SCORE_CLEAN);
	assert_true(v.bayes_prob < 0);
	score_verdict_free(&v);
	free(m);
}

/* ---- GTUBE ---------------------------------------------------------------------------- */

#define GTUBE "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

static void test_gtube(void **state)
{
	(void)state;
	char *m = mk("test", "", "This is the GTUBE\n" GTUBE "\n");
	struct score_verdict v;
	scan(m, &v);
	assert_non_null(sym(&v, "GTUBE"));
	assert_int_equal(v.cls, SCORE_PROBABLE_SPAM);
	assert_true(v.score >= 1000.0);
	assert_string_equal(v.symbols[0].name, "GTUBE");   /* largest first */
	score_verdict_free(&v);
	free(m);

	/* Inside a base64 body only the decoded text carries it. */
	char *b64 = mk("test", "MIME-Version: 1.0\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n",
	    "WEpTKkM0SkRCUUFETjEuTlNCTjMqMklETkVOKkdUVUJFLVNUQU5EQVJELUFOVEktVUJFLVRF\n"
	    "U1QtRU1BSUwqQy4zNFgK\n");
	scan(b64, &v);
	assert_non_null(sym(&v, "GTUBE"));
	assert_int_equal(v.cls, SCORE_PROBABLE_SPAM);
	score_verdict_free(&v);
	free(b64);

	/* Part of the string is not the string. */
	m = mk("test", "", "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD\n");
	ASSERT_QUIET(m, "GTUBE");
	free(m);
}

/* ---- header rules ----------------------------------------------------------------------- */

static void test_missing_headers(void **state)
{
	(void)state;
	const char *no_date = "From: a@example.org\nTo: b@example.net\nSubject: hi\nMessage-ID: <2@example.org>\n\nhello there\n";
	const char *no_mid = "From: a@example.org\nTo: b@example.net\nSubject: hi\nDate: Tue, 1 Oct 2002 10:00:00 +0000\n\nhello there\n";
	const char *no_from = "To: b@example.net\nSubject: hi\nDate: Tue, 1 Oct 2002 10:00:00 +0000\nMessage-ID: <3@x.org>\n\nhello there\n";
	char *full = mk("hi", "", plain_body);

	ASSERT_FIRES(no_date, "MISSING_DATE");
	ASSERT_QUIET(no_date, "MISSING_MESSAGE_ID");
	ASSERT_FIRES(no_mid, "MISSING_MESSAGE_ID");
	ASSERT_QUIET(no_mid, "MISSING_DATE");
	ASSERT_FIRES(no_from, "MISSING_FROM");
	ASSERT_QUIET(full, "MISSING_DATE");
	ASSERT_QUIET(full, "MISSING_MESSAGE_ID");
	ASSERT_QUIET(full, "MISSING_FROM");
	free(full);
}

static char *with_dates(const char *date, const char *received_date)
{
	return xasprintf("Received: from a by b with ESMTP id 1234\n\t(version=TLS);\n\t%s\n"
	    "Received: from c by a; Tue, 1 Jan 2030 00:00:00 +0000\n"
	    "From: a@example.org\nTo: b@example.net\nSubject: hi\nDate: %s\nMessage-ID: <4@example.org>\n\nhello\n",
	    received_date, date);
}

static void test_date_vs_received(void **state)
{
	(void)state;
	/* Date two days after the top Received: forged future date. */
	char *m = with_dates("Thu, 3 Oct 2002 12:00:00 +0000", "Tue, 1 Oct 2002 10:05:00 +0000");
	struct score_verdict v;
	scan(m, &v);
	assert_non_null(sym(&v, "DATE_AFTER_RECEIVED"));
	assert_non_null(strstr(sym(&v, "DATE_AFTER_RECEIVED")->reason, "49.9 hours"));
	assert_null(sym(&v, "DATE_BEFORE_RECEIVED"));
	score_verdict_free(&v);
	free(m);

	/* Date ten days before. */
	m = with_dates("Sat, 21 Sep 2002 10:05:00 +0000", "Tue, 1 Oct 2002 10:05:00 +0000");
	ASSERT_FIRES(m, "DATE_BEFORE_RECEIVED");
	ASSERT_QUIET(m, "DATE_AFTER_RECEIVED");
	free(m);

	/* Same instant in different zones, and an hour of clock skew: quiet.
	 * The second Received (2030) is not the top one and is ignored, and
	 * the wall clock (years after 2002) plays no part. */
	m = with_dates("Tue, 1 Oct 2002 12:05:00 +0200", "Tue, 01 Oct 2002 06:05:00 -0400 (EDT)");
	ASSERT_QUIET(m, "DATE_AFTER_RECEIVED");
	ASSERT_QUIET(m, "DATE_BEFORE_RECEIVED");
	free(m);
	m = with_dates("Tue, 1 Oct 2002 11:05:00 +0000", "Tue, 1 Oct 2002 10:05:00 GMT");
	ASSERT_QUIET(m, "DATE_AFTER_RECEIVED");
	free(m);

	/* No Received at all: nothing to compare with. */
	const char *nr = "From: a@example.org\nSubject: hi\nDate: Thu, 3 Oct 2030 12:00:00 +0000\nMessage-ID: <5@x.org>\n\nhi\n";
	ASSERT_QUIET(nr, "DATE_AFTER_RECEIVED");
	ASSERT_QUIET(nr, "DATE_BEFORE_RECEIVED");
}

static void test_rfc5322_date(void **state)
{
	(void)state;
	int64_t t;

	assert_int_equal(score_parse_rfc5322_date("Tue, 1 Oct 2002 10:05:00 +0000", &t), 0);
	assert_int_equal(t, 1033466700);
	assert_int_equal(score_parse_rfc5322_date(" 1 Oct 2002 12:05:00 +0200 (CEST)", &t), 0);
	assert_int_equal(t, 1033466700);
	assert_int_equal(score_parse_rfc5322_date("Tue, 01 Oct 02 06:05 EDT", &t), 0);
	assert_int_equal(t, 1033466700);
	assert_int_equal(score_parse_rfc5322_date("Sun, 29 Feb 2004 00:00:00 +0000", &t), 0);
	assert_int_equal(t, 1078012800);
	assert_int_equal(score_parse_rfc5322_date("", &t), -1);
	assert_int_equal(score_parse_rfc5322_date("Tue, 1 Foo 2002 10:05:00 +0000", &t), -1);
	assert_int_equal(score_parse_rfc5322_date("Tue, 1 Oct 2002", &t), -1);
	assert_int_equal(score_parse_rfc5322_date("Tue, 1 Oct 2002 25:00:00 +0000", &t), -1);
	assert_int_equal(score_parse_rfc5322_date("(((((", &t), -1);
}

static void test_subject(void **state)
{
	(void)state;
	char *caps = mk("MAKE MONEY FAST AT HOME", "", plain_body);
	struct score_verdict v;
	scan(caps, &v);
	assert_non_null(sym(&v, "SUBJECT_ALL_CAPS"));
	assert_non_null(strstr(sym(&v, "SUBJECT_ALL_CAPS")->reason, "Subject is 100% capitals"));
	score_verdict_free(&v);
	free(caps);

	char *short_caps = mk("RE: FYI OK", "", plain_body);   /* 7 letters */
	ASSERT_QUIET(short_caps, "SUBJECT_ALL_CAPS");
	free(short_caps);
	char *mixed = mk("Meeting NOTES for THE board", "", plain_body);
	ASSERT_QUIET(mixed, "SUBJECT_ALL_CAPS");
	free(mixed);

	/* Capitals outside ASCII count too (RFC 2047 encoded, UTF-8). */
	static const struct { const char *subject; int fires; } intl[] = {
		{ "=?utf-8?b?0KHQmtCY0JTQmtCYINCd0JAg0JLQodCBINCh0JXQk9Ce0JTQndCv?=", 1 },  /* СКИДКИ НА ВСЁ СЕГОДНЯ */
		{ "=?utf-8?b?w5xCRVJSQVNDSFVORyBGw5xSIFNJRQ==?=", 1 },  /* ÜBERRASCHUNG FÜR SIE */
		{ "=?utf-8?b?zpzOlc6TzpHOm86XIM6gzqHOn86jzqbOn86hzpE=?=", 1 },  /* ΜΕΓΑΛΗ ΠΡΟΣΦΟΡΑ */
		{ "=?utf-8?b?0KHQutC40LTQutC4INC90LAg0LLRgdGRINGB0LXQs9C+0LTQvdGP?=", 0 },  /* Скидки на всё сегодня */
		{ "=?utf-8?b?w5xiZXJyYXNjaHVuZyBmw7xyIFNpZSBoZXV0ZQ==?=", 0 },  /* Überraschung für Sie heute */
		{ "=?utf-8?b?5Lya6K2w44Gu6K2w5LqL6Yyy44KS44GK6YCB44KK44GX44G+44GZ?=", 0 },  /* 会議の議事録をお送りします */
	};
	for (size_t i = 0; i < MW_ARRAY_LEN(intl); i++) {
		char *m = mk(intl[i].subject, "", plain_body);
		scan(m, &v);
		if ((sym(&v, "SUBJECT_ALL_CAPS") != NULL) != intl[i].fires)
			fail_msg("case %zu: SUBJECT_ALL_CAPS %s", i, intl[i].fires ? "did not fire" : "fired");
		score_verdict_free(&v);
		free(m);
	}

	char *bang = mk("Act now!!! Limited offer", "", plain_body);
	scan(bang, &v);
	assert_non_null(sym(&v, "SUBJECT_PUNCT"));
	assert_non_null(strstr(sym(&v, "SUBJECT_PUNCT")->reason, "\"!!!\""));
	score_verdict_free(&v);
	free(bang);
	char *dollars = mk("Earn $$$ today", "", plain_body);
	ASSERT_FIRES(dollars, "SUBJECT_PUNCT");
	free(dollars);
	char *calm = mk("Really? Yes! It costs $5", "", plain_body);
	ASSERT_QUIET(calm, "SUBJECT_PUNCT");
	free(calm);
}

static void test_from_spoof(void **state)
{
	(void)state;
	const char *spoof = "From: \"service@paypal.com\" <x@evil.example>\nTo: b@example.net\nSubject: hi\n"
	    "Date: Tue, 1 Oct 2002 10:00:00 +0000\nMessage-ID: <6@x.org>\n\nhello\n";
	struct score_verdict v;
	scan(spoof, &v);
	assert_non_null(sym(&v, "FROM_DISPLAY_NAME_SPOOF"));
	assert_non_null(strstr(sym(&v, "FROM_DISPLAY_NAME_SPOOF")->reason, "paypal.com"));
	assert_non_null(strstr(sym(&v, "FROM_DISPLAY_NAME_SPOOF")->reason, "evil.example"));
	score_verdict_free(&v);

	/* The same domain (or a subdomain) in the display name is honest. */
	const char *same = "From: \"alice@example.org\" <alice@mail.example.org>\nTo: b@example.net\nSubject: hi\n"
	    "Date: Tue, 1 Oct 2002 10:00:00 +0000\nMessage-ID: <7@x.org>\n\nhello\n";
	ASSERT_QUIET(same, "FROM_DISPLAY_NAME_SPOOF");
	char *plain = mk("hi", "", plain_body);
	ASSERT_QUIET(plain, "FROM_DISPLAY_NAME_SPOOF");
	free(plain);
}

/* ---- ratware header shapes ------------------------------------------------------------------ */

/* A message with the given Date and extra headers (Received lines, X-Mailer...). */
static char *mk_hdr(const char *date, const char *subject, const char *extra)
{
	return xasprintf("%sFrom: Alice <alice@example.org>\nTo: bob@example.net\nSubject: %s\n"
	    "Date: %s\nMessage-ID: <8@example.org>\n\n%s", extra, subject, date, plain_body);
}

static void test_ratware_headers(void **state)
{
	(void)state;
	static const struct { const char *date, *subject, *extra, *why; } fires[] = {
		{ "Tue, 21 May 2002 09:53:34", "hello", "", "Date without zone" },
		{ "03 Aug 02 18:48:41 -0000", "hello", "", "two-digit year" },
		{ "Mon, 1 Oct 2002 10:00:00 +0000", "hello", "", "wrong weekday" },  /* a Tuesday */
		{ "Tue, 1 Oct 2002 10:00:00 +0000", "hello", "Content-Type: multipart/alternative; boundary=\"b\"\n",
		  "multipart without MIME-Version" },
		{ "Tue, 1 Oct 2002 10:00:00 +0000", "I thought it was important          YMF", "", "Subject padded" },
		{ "Tue, 1 Oct 2002 10:00:00 +0000", "hello",
		  "Received: from mfa.vip.mail.tpe.yahoo.com (n2-190.adsl.example.ru [192.0.2.190]) by mx.example.net; Tue, 1 Oct 2002 10:00:05 +0000\n",
		  "HELO mfa.vip.mail.tpe.yahoo.com from outside it" },
		{ "Tue, 1 Oct 2002 10:00:00 +0000", "hello",
		  "Received: from hotmail.com (unknown [192.0.2.7]) by mx.example.net; Tue, 1 Oct 2002 10:00:05 +0000\n",
		  "HELO hotmail.com from outside it" },
		/* A sister company's name is trusted only inside its own family. */
		{ "Tue, 1 Oct 2002 10:00:00 +0000", "hello",
		  "Received: from mail.yahoo.com (relay.netcenter.com [192.0.2.8]) by mx.example.net; Tue, 1 Oct 2002 10:00:05 +0000\n",
		  "HELO mail.yahoo.com from outside it" },
		{ "Tue, 1 Oct 2002 10:00:00 +0000", "hello", "X-Mailer: WA9c2D478J2W9yTmQNRm\n", "malformed X-Mailer" },
		{ "Tue, 1 Oct 2002 10:00:00 +0000", "hello", "X-Mailer: X-Mailer: Microsoft Outlook Express 5.00.2919.6700\n",
		  "malformed X-Mailer" },
		{ "Tue, 1 Oct 2002 10:00:00 +0000", "hello", "X-Mailer: Microsoft Outlook Express 6.00.2600.0000.31498\n",
		  "malformed X-Mailer" },
	};
	for (size_t i = 0; i < MW_ARRAY_LEN(fires); i++) {
		char *m = mk_hdr(fires[i].date, fires[i].subject, fires[i].extra);
		struct score_verdict v;
		scan(m, &v);
		const struct score_symbol *s = sym(&v, "RATWARE_HEADERS");
		if (s == NULL)
			fail_msg("case %zu (%s): RATWARE_HEADERS did not fire", i, fires[i].why);
		if (strstr(s->reason, fires[i].why) == NULL)
			fail_msg("case %zu: reason \"%s\" does not say \"%s\"", i, s->reason, fires[i].why);
		assert_true(s->score == 3.0);
		assert_string_equal(s->group, "header");
		score_verdict_free(&v);
		free(m);
	}
	char *m = xasprintf("From: a@example.org\nTo: b@example.net\nSubject: hi\nDate: Tue, 1 Oct 2002 10:00:00 +0000\n"
	    "Message-ID: 12345.67890\n\nhello\n");
	ASSERT_FIRES(m, "RATWARE_HEADERS");
	free(m);

	/* What mail clients and relays really write. */
	static const struct { const char *date, *subject, *extra; } quiet[] = {
		{ "Tue, 1 Oct 2002 10:00:00 +0000 (UTC)", "hello", "" },
		{ "Tue, 1 Oct 2002 10:00:00 EDT", "hello", "" },
		{ "1 Oct 2002 10:00 -0400", "hello", "" },
		{ "Tue, 1 Oct 2002 10:00:00 +0000", "hello", "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"b\"\n" },
		{ "Tue, 1 Oct 2002 10:00:00 +0000", "a long subject that was folded\n          by the sender's client", "" },
		{ "Tue, 1 Oct 2002 10:00:00 +0000", "hello",
		  "Received: from web10201.mail.yahoo.com (web10201.mail.yahoo.com [192.0.2.65]) by mx.example.net; Tue, 1 Oct 2002 10:00:05 +0000\n" },
		/* Exim without host lookups records no name: proves nothing. */
		{ "Tue, 1 Oct 2002 10:00:00 +0000", "hello",
		  "Received: from web10201.mail.yahoo.com ([192.0.2.65]) by mx.example.net; Tue, 1 Oct 2002 10:00:05 +0000\n" },
		{ "Tue, 1 Oct 2002 10:00:00 +0000", "hello",
		  "Received: from mail.example.org (mail.example.org [192.0.2.9]) by mx.example.net; Tue, 1 Oct 2002 10:00:05 +0000\n" },
		/* A provider's relay named in a sister company's domain. */
		{ "Tue, 1 Oct 2002 10:00:00 +0000", "hello",
		  "Received: from dms-www1.netscape.com (dms-mailcaster-s06.netcenter.com) by dms-mail01.netcenter.com; Tue, 1 Oct 2002 10:00:05 +0000\n" },
		{ "Tue, 1 Oct 2002 10:00:00 +0000", "hello",
		  "Received: from Hotmail.com (bay1-f12.bay1.hotmail.msn.com [192.0.2.12]) by mx.example.net; Tue, 1 Oct 2002 10:00:05 +0000\n" },
		/* A sister domain's HELO is not itself a freemail provider. */
		{ "Tue, 1 Oct 2002 10:00:00 +0000", "hello",
		  "Received: from smtp.netcenter.com (n2-190.adsl.example.ru [192.0.2.190]) by mx.example.net; Tue, 1 Oct 2002 10:00:05 +0000\n" },
		{ "Tue, 1 Oct 2002 10:00:00 +0000", "hello", "X-Mailer: Microsoft Outlook Express 6.00.2800.1106\n" },
		{ "Tue, 1 Oct 2002 10:00:00 +0000", "hello", "X-Mailer: Apple Mail (2.3445.104.11)\n" },
		{ "Tue, 1 Oct 2002 10:00:00 +0000", "hello", "X-Mailer: PHPMailer\n" },
	};
	for (size_t i = 0; i < MW_ARRAY_LEN(quiet); i++) {
		char *q = mk_hdr(quiet[i].date, quiet[i].subject, quiet[i].extra);
		ASSERT_QUIET(q, "RATWARE_HEADERS");
		free(q);
	}
	char *plain = mk("hi", "", plain_body);
	ASSERT_QUIET(plain, "RATWARE_HEADERS");
	free(plain);
}

/* ---- HTML and URL rules ------------------------------------------------------------------- */

static const char html_phish[] =
    "MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n";
static const char html_phish_body[] =
    "<html><body><p>Dear customer, please verify your account.</p>\n"
    "<div style=\"display: none\">hidden words for bayes poisoning</div>\n"
    "<p>Log in at <a href=\"http://192.0.2.1/login.php\">https://www.paypal.com/signin</a></p>\n"
    "</body></html>\n";

static const char alt_headers[] =
    "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"b1\"\n";
static const char alt_body[] =
    "--b1\nContent-Type: text/plain; charset=utf-8\n\nSee https://www.example.org/news for the news.\n"
    "--b1\nContent-Type: text/html; charset=utf-8\n\n"
    "<html><body><p>See <a href=\"https://www.example.org/news\">https://www.example.org/news</a>"
    " for the news.</p></body></html>\n--b1--\n";

static void test_html(void **state)
{
	(void)state;
	char *phish = mk("Your account", html_phish, html_phish_body);
	struct score_verdict v;
	scan(phish, &v);
	assert_non_null(sym(&v, "HTML_ONLY"));
	assert_non_null(sym(&v, "HTML_HIDDEN_TEXT"));
	assert_non_null(sym(&v, "URL_IP_LITERAL"));
	assert_non_null(strstr(sym(&v, "URL_IP_LITERAL")->reason, "192.0.2.1"));
	const struct score_symbol *lm = sym(&v, "HTML_LINK_MISMATCH");
	assert_non_null(lm);
	assert_non_null(strstr(lm->reason, "text shows paypal.com, href goes to 192.0.2.1"));
	assert_null(sym(&v, "HTML_IMAGE_ONLY"));
	score_verdict_free(&v);
	free(phish);

	/* Several links, the honest one first: the reason names the pair
	 * that is mismatched, not the first href of the message. */
	char *multi = mk("Your statement", html_phish,
	    "<html><body><p><a href=\"https://www.example.org/news\">www.example.org</a></p>\n"
	    "<p><a href=\"http://login.evil.example/x\">https://www.bank.example/login</a></p>\n"
	    "<p><a href=\"http://other.example/y\">www.third.example</a></p></body></html>\n");
	scan(multi, &v);
	lm = sym(&v, "HTML_LINK_MISMATCH");
	assert_non_null(lm);
	if (strstr(lm->reason, "2 links") == NULL ||
	    strstr(lm->reason, "text shows bank.example, href goes to evil.example") == NULL)
		fail_msg("reason: %s", lm->reason);
	score_verdict_free(&v);
	free(multi);

	/* A newsletter-style multipart/alternative with an honest link. */
	char *alt = mk("News", alt_headers, alt_body);
	ASSERT_QUIET(alt, "HTML_ONLY");
	ASSERT_QUIET(alt, "HTML_HIDDEN_TEXT");
	ASSERT_QUIET(alt, "HTML_LINK_MISMATCH");
	ASSERT_QUIET(alt, "URL_IP_LITERAL");
	ASSERT_QUIET(alt, "HTML_IMAGE_ONLY");
	free(alt);

	char *img = mk("look", html_phish,
	    "<html><body><a href=\"https://shop.example/buy\"><img src=\"https://img.shop.example/a.png\"></a>\n"
	    "<img src=\"https://img.shop.example/b.png\"></body></html>\n");
	scan(img, &v);
	assert_non_null(sym(&v, "HTML_IMAGE_ONLY"));
	assert_non_null(strstr(sym(&v, "HTML_IMAGE_ONLY")->reason, "2 images"));
	score_verdict_free(&v);
	free(img);
}

/* A user name that reads like a host before '@': the browser goes to the
 * host after it.  A plain user name, an e-mail address in text or a
 * mailto: link is not that. */
static void test_url_userinfo_host(void **state)
{
	(void)state;
	char *m = mk("your account", "", "Sign in at http://www.bank.example@203.0.113.9/login now\n");
	struct score_verdict v;
	scan(m, &v);
	assert_non_null(sym(&v, "URL_USERINFO_HOST"));
	assert_non_null(strstr(sym(&v, "URL_USERINFO_HOST")->reason, "http://www.bank.example@203.0.113.9/login"));
	score_verdict_free(&v);
	free(m);
	m = mk("link", "", "<a href=\"https://secure.bank.example:443@evil.example/x\">bank</a>\n");
	ASSERT_FIRES(m, "URL_USERINFO_HOST");
	free(m);
	static const char *const quiet[] = {
		"Mirror: ftp://anonymous@ftp.example.org/pub/ and http://user:secret@intranet/status\n",
		"Write to joe.smith@example.com or see http://www.example.com/contact\n",
		"<a href=\"mailto:sales@example.com\">mail us</a>\n",
	};
	for (size_t i = 0; i < MW_ARRAY_LEN(quiet); i++) {
		m = mk("link", "", quiet[i]);
		ASSERT_QUIET(m, "URL_USERINFO_HOST");
		free(m);
	}
}

static void test_url_shortener(void **state)
{
	(void)state;
	char *m = mk("link", "", "Look at this: https://bit.ly/3xYz12 now\n");
	struct score_verdict v;
	scan(m, &v);
	assert_non_null(sym(&v, "URL_SHORTENER"));
	assert_non_null(strstr(sym(&v, "URL_SHORTENER")->reason, "bit.ly/3xYz12"));
	assert_null(sym(&v, "URL_IP_LITERAL"));
	score_verdict_free(&v);
	free(m);
	m = mk("link", "", "Look at this: http://tinyurl.com/abc\n");
	ASSERT_FIRES(m, "URL_SHORTENER");
	free(m);
	/* Every entry of the table is found (it is searched by bsearch: an
	 * entry out of order would go missing). */
	static const char *const all[] = { "bit.ly", "bitly.com", "buff.ly", "cutt.ly", "goo.gl", "is.gd",
		"ow.ly", "rb.gy", "rebrand.ly", "shorturl.at", "t.co", "t.ly", "tiny.cc", "tinyurl.com", "v.gd", "x.co" };
	for (size_t i = 0; i < MW_ARRAY_LEN(all); i++) {
		char *body = xasprintf("see https://%s/Ab12 now\n", all[i]);
		char *sm = mk("link", "", body);
		ASSERT_FIRES(sm, "URL_SHORTENER");
		free(sm);
		free(body);
	}
	/* A host that merely ends like a shortener is not one. */
	m = mk("link", "", "Look at https://www.orbit.ly.example.org/x and https://habit.ly.com/\n");
	ASSERT_QUIET(m, "URL_SHORTENER");
	free(m);
}

/* ---- MIME flags ----------------------------------------------------------------------- */

static void test_mime_flags(void **state)
{
	(void)state;
	char *cs = mk("hi", "MIME-Version: 1.0\nContent-Type: text/plain; charset=x-no-such-charset\n",
	    "plain ascii in an unknown charset \xff\n");
	struct score_verdict v;
	scan(cs, &v);
	assert_non_null(sym(&v, "UNKNOWN_CHARSET"));
	assert_non_null(strstr(sym(&v, "UNKNOWN_CHARSET")->reason, "x-no-such-charset"));
	score_verdict_free(&v);
	free(cs);

	char *b64 = mk("hi", "MIME-Version: 1.0\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n",
	    "SGVsbG8g!!d29y*bGQ=\n");
	ASSERT_FIRES(b64, "BAD_BASE64");
	ASSERT_QUIET(b64, "UNKNOWN_CHARSET");
	free(b64);

	char *qp = mk("hi", "MIME-Version: 1.0\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n",
	    "caf=E9 and =ZZ broken\n");
	ASSERT_FIRES(qp, "BAD_QP");
	free(qp);

	char *bad8 = mk("hi", "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n",
	    "broken \xc3\x28 utf-8 \xff\xfe here\n");
	ASSERT_FIRES(bad8, "BAD_CHARSET_DATA");
	free(bad8);
	char *ew = mk("=?utf-8?B?!!!notbase64***?= and =?x-nope?Q?abc?=", "", plain_body);
	ASSERT_FIRES(ew, "BAD_ENCODED_WORD");
	free(ew);

	char *good = mk("=?utf-8?B?SGVsbG8=?=", "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n",
	    "SGVsbG8gd29ybGQK\n");
	ASSERT_QUIET(good, "BAD_BASE64");
	ASSERT_QUIET(good, "UNKNOWN_CHARSET");
	ASSERT_QUIET(good, "BAD_QP");
	ASSERT_QUIET(good, "MIME_LIMIT_EXCEEDED");
	ASSERT_QUIET(good, "BAD_CHARSET_DATA");
	ASSERT_QUIET(good, "BAD_ENCODED_WORD");
	free(good);
}

/* Nested multiparts, depth levels deep. */
static char *nested(int depth)
{
	struct buf b = BUF_INIT;
	buf_append_str(&b, "From: a@example.org\nSubject: nest\nDate: Tue, 1 Oct 2002 10:00:00 +0000\n"
	    "Message-ID: <n@x.org>\nMIME-Version: 1.0\n");
	for (int i = 0; i < depth; i++)
		buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n", i, i);
	buf_append_str(&b, "Content-Type: text/plain\n\ndeep text\n");
	for (int i = depth - 1; i >= 0; i--)
		buf_printf(&b, "--b%d--\n", i);
	return b.data;
}

static void test_mime_limit(void **state)
{
	(void)state;
	char *bomb = nested(200);
	struct score_verdict v;
	scan(bomb, &v);
	const struct score_symbol *s = sym(&v, "MIME_LIMIT_EXCEEDED");
	assert_non_null(s);
	assert_non_null(strstr(s->reason, "LIMIT_DEPTH"));
	assert_int_equal(v.cls, SCORE_PROBABLE_SPAM);
	score_verdict_free(&v);
	free(bomb);

	char *ok = nested(3);
	ASSERT_QUIET(ok, "MIME_LIMIT_EXCEEDED");
	free(ok);
}

/* ---- attachments ----------------------------------------------------------------------- */

static char *with_attachment(const char *name, const char *type, const char *b64)
{
	return xasprintf("From: a@example.org\nTo: b@example.net\nSubject: files\n"
	    "Date: Tue, 1 Oct 2002 10:00:00 +0000\nMessage-ID: <8@x.org>\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"zz\"\n\n"
	    "--zz\nContent-Type: text/plain\n\nsee attached\n"
	    "--zz\nContent-Type: %s; name=\"%s\"\nContent-Disposition: attachment; filename=\"%s\"\n"
	    "Content-Transfer-Encoding: base64\n\n%s\n--zz--\n", type, name, name, b64);
}

static void test_exe_attachment(void **state)
{
	(void)state;
	/* "MZ" + padding: a Windows executable by content, innocent name. */
	const char *mz = "TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAA=";
	const char *pdf = "JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+Pg==";
	struct score_verdict v;

	char *m = with_attachment("report.dat", "application/octet-stream", mz);
	scan(m, &v);
	assert_non_null(sym(&v, "EXE_ATTACHMENT"));
	assert_non_null(strstr(sym(&v, "EXE_ATTACHMENT")->reason, "report.dat"));
	score_verdict_free(&v);
	free(m);

	m = with_attachment("invoice.pdf.exe", "application/octet-stream", pdf);
	scan(m, &v);
	assert_non_null(sym(&v, "EXE_ATTACHMENT"));
	assert_non_null(strstr(sym(&v, "EXE_ATTACHMENT")->reason, "double extension"));
	score_verdict_free(&v);
	free(m);

	m = with_attachment("update.JS", "application/octet-stream", "dmFyIHggPSAxOwo=");
	ASSERT_FIRES(m, "EXE_ATTACHMENT");
	free(m);
	m = with_attachment("screensaver.scr", "application/octet-stream", pdf);
	ASSERT_FIRES(m, "EXE_ATTACHMENT");
	free(m);

	static const char *const exts[] = { "application", "appref-ms", "bat", "chm", "cmd", "com", "cpl",
		"diagcab", "exe", "gadget", "hlp", "hta", "inf", "ins", "isp", "jar", "jnlp", "js", "jse",
		"library-ms", "lnk", "msc", "msh", "msi", "msp", "mst", "msu", "pif", "ps1", "ps1xml", "psc1",
		"reg", "scf", "scr", "sct", "search-ms", "settingcontent-ms", "shb", "shs", "vbe", "vbs",
		"vhdx", "ws", "wsb", "wsc", "wsf", "wsh", "xbap", "xll", "xnk",
		"EXE", "Settingcontent-MS" };
	for (size_t i = 0; i < MW_ARRAY_LEN(exts); i++) {
		char *name = xasprintf("file.%s", exts[i]);
		m = with_attachment(name, "application/octet-stream", pdf);
		ASSERT_FIRES(m, "EXE_ATTACHMENT");
		free(m);
		free(name);
	}

	/* A PDF named .pdf, and a shell script on a technical list: quiet. */
	m = with_attachment("invoice.pdf", "application/pdf", pdf);
	ASSERT_QUIET(m, "EXE_ATTACHMENT");
	free(m);
	/* Internet shortcuts: to a web page a link (a ham of the corpus sends
	 * one), to a share or a protocol handler a launcher. */
	static const char web_url[] = "[InternetShortcut]\r\nURL=http://www.example.edu/~a/lib.html\r\n";
	static const char share_url[] = "[{000214A0-0000-0000-C000-000000000046}]\r\nProp3=19,9\r\n"
	    "[InternetShortcut]\r\nIDList=\r\nurl=file://198.51.100.7@80/share/Invoice.pdf.vbs\r\n";
	static const char search_url[] = "[InternetShortcut]\nURL=search-ms:query=invoice&crumb=location:\\\\198.51.100.7@80\\s\n";
	m = zip_message("Liberalism in America.url", web_url, sizeof(web_url) - 1);
	ASSERT_QUIET(m, "EXE_ATTACHMENT");
	free(m);
	m = zip_message("Invoice.url", share_url, sizeof(share_url) - 1);
	scan(m, &v);
	assert_true(reason_has(&v, "EXE_ATTACHMENT",
	    "\"Invoice.url\" is a Windows shortcut to file://198.51.100.7@80/share/Invoice.pdf.vbs"));
	score_verdict_free(&v);
	free(m);
	m = zip_message("Documents.URL", search_url, sizeof(search_url) - 1);
	ASSERT_FIRES(m, "EXE_ATTACHMENT");
	free(m);
	/* The same text under another name is text. */
	m = zip_message("notes.txt", share_url, sizeof(share_url) - 1);
	ASSERT_QUIET(m, "EXE_ATTACHMENT");
	free(m);

	/* A OneNote section carrying a script (the 2023 droppers' .hta); one
	 * carrying a PDF is quiet; a shell link under a PDF's name fires. */
	{
		struct buf f[2] = { BUF_INIT, BUF_INIT }, one = BUF_INIT;
		buf_append_str(&f[0], "%PDF-1.4\n");
		buf_append_str(&f[1], "<html><script language=VBScript>CreateObject(\"WScript.Shell\").Run \"x\"</script></html>");
		onenote_build(&one, f, 1);
		m = zip_message("Minutes.one", one.data, one.len);
		ASSERT_QUIET(m, "EXE_ATTACHMENT");
		free(m);
		buf_free(&one);
		onenote_build(&one, f, 2);
		m = zip_message("Invoice_0042.one", one.data, one.len);
		scan(m, &v);
		assert_true(reason_has(&v, "EXE_ATTACHMENT", "\"Invoice_0042.one\" is a OneNote section carrying a script"));
		score_verdict_free(&v);
		free(m);
		buf_free(&one);
		buf_free(&f[0]);
		buf_free(&f[1]);
		static const char lnk[] = "L\0\0\0\x01\x14\x02\0\0\0\0\0\xc0\0\0\0\0\0\0\x46";
		m = zip_message("Invoice.pdf", lnk, sizeof(lnk) - 1);
		scan(m, &v);
		assert_true(reason_has(&v, "EXE_ATTACHMENT", "\"Invoice.pdf\" is a Windows shortcut (a shell link)"));
		score_verdict_free(&v);
		free(m);
	}

	/* Source code and files engineers and offices mail: quiet. */
	static const char *const quiet[] = { "top.vhd", "Module1.bas", "Form1.vb", "tool.py", "server.crt",
		"book.xlsx", "scan.jpg", "notes.md", "a.settingcontent-msx", "b.xl" };
	for (size_t i = 0; i < MW_ARRAY_LEN(quiet); i++) {
		m = with_attachment(quiet[i], "application/octet-stream", pdf);
		ASSERT_QUIET(m, "EXE_ATTACHMENT");
		free(m);
	}
	m = with_attachment("build.sh", "application/x-sh", "IyEvYmluL3NoCmVjaG8gaGVsbG8K");   /* #!/bin/sh */
	ASSERT_QUIET(m, "EXE_ATTACHMENT");
	free(m);
	/* A Unix tool without an extension (two ham of the corpus), quiet; the
	 * same script under a document's name fires. */
	m = with_attachment("rotate", "application/octet-stream", "IyEvYmluL3NoCmVjaG8gaGVsbG8K");
	ASSERT_QUIET(m, "EXE_ATTACHMENT");
	free(m);
	m = with_attachment("invoice.doc", "application/msword", "IyEvYmluL3NoCmVjaG8gaGVsbG8K");
	ASSERT_FIRES(m, "EXE_ATTACHMENT");
	free(m);

	/* Code any report has is not a dropper: a notebook exported as a page
	 * (a script in its head), a CSV with "Dim" and "function(" in it.  A
	 * page is the web page checks' to judge (HTML_ATTACHMENT_PHISH). */
	static const char page[] = "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\" />\n"
	    "<title>Q3 churn</title><script src=\"require.min.js\"></script>\n"
	    "<script>window.onload = function() { draw(eval(\"[1,2,3]\")); };</script>\n"
	    "</head><body><h1>Q3 churn</h1><p>Dim regions first.</p></body></html>\n";
	static const char csv[] = "name,formula\nDim lights,\"=function(a)\"\nsum,eval(b)\n";
	m = zip_message("churn.html", page, sizeof(page) - 1);
	ASSERT_QUIET(m, "EXE_ATTACHMENT");
	ASSERT_QUIET(m, "HTML_ATTACHMENT_PHISH");
	free(m);
	m = zip_message("export.csv", csv, sizeof(csv) - 1);
	ASSERT_QUIET(m, "EXE_ATTACHMENT");
	free(m);
	/* A script host under a document's name, or ActiveX in a page, still fires. */
	static const char vbs[] = "Dim s\r\nSet s = CreateObject(\"WScript.Shell\")\r\ns.Run \"calc\"\r\n";
	static const char hta[] = "<html><head><script>var s = new ActiveXObject(\"WScript.Shell\");"
	    "s.Run(\"calc\");</script></head></html>\n";
	m = zip_message("invoice.pdf", vbs, sizeof(vbs) - 1);
	scan(m, &v);
	assert_true(reason_has(&v, "EXE_ATTACHMENT", "\"invoice.pdf\" (application/zip) holds a script"));
	score_verdict_free(&v);
	free(m);
	m = zip_message("invoice.html", hta, sizeof(hta) - 1);
	ASSERT_FIRES(m, "EXE_ATTACHMENT");
	free(m);
}

/* Executables inside a ZIP by their names; an archive whose inside cannot
 * be checked is never clean (M21). */
static void test_archive_attachment(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	struct score_verdict v;

	/* A driver's setup .inf and a website shortcut inside an archive are
	 * what software packages carry: quiet there (an .inf attachment counts). */
	static const char *const soft[] = { "driver/setup.inf", "Visit us.url" };
	zip_build(&b, soft, 2, 0);
	char *sw = zip_message("driver.zip", b.data, b.len);
	ASSERT_QUIET(sw, "EXE_ATTACHMENT");
	free(sw);
	buf_free(&b);
	/* Two ZIPs glued (7-Zip shows the first, most tools the last): the
	 * program in front is named, and the archive is never clean. */
	{
		static const char *const front[] = { "invoice.pdf.exe" }, *const back[] = { "invoice.pdf" };
		struct buf g = BUF_INIT;
		zip_build(&g, front, 1, 0);
		zip_build(&g, back, 1, 0);
		char *gm = zip_message("invoice.zip", g.data, g.len);
		scan(gm, &v);
		assert_true(reason_has(&v, "EXE_ATTACHMENT", "is an archive holding \"invoice.pdf.exe\""));
		assert_true(reason_has(&v, "ARCHIVE_UNSCANNABLE", "is a ZIP that tools unpack differently"));
		assert_true(v.cls >= SCORE_POSSIBLE_SPAM);
		score_verdict_free(&v);
		free(gm);
		buf_free(&g);
	}
	static const char *const exe[] = { "readme.txt", "invoice.pdf.exe" };
	zip_build(&b, exe, 2, 0);
	char *m = zip_message("invoice.zip", b.data, b.len);
	scan(m, &v);
	assert_true(reason_has(&v, "EXE_ATTACHMENT", "\"invoice.zip\" is an archive holding \"invoice.pdf.exe\""));
	assert_true(reason_has(&v, "EXE_ATTACHMENT", "double extension"));
	assert_null(sym(&v, "ARCHIVE_UNSCANNABLE"));
	score_verdict_free(&v);
	free(m);
	buf_free(&b);

	static const char *const js[] = { "photos/IMG_0001.JS" };
	zip_build(&b, js, 1, 0);
	m = zip_message("photos.zip", b.data, b.len);
	ASSERT_FIRES(m, "EXE_ATTACHMENT");
	free(m);
	buf_free(&b);

	/* Documents, and an Office file (a ZIP of XML parts): quiet. */
	static const char *const docs[] = { "report.pdf", "figures.xlsx", "notes.txt" };
	static const char *const docx[] = { "[Content_Types].xml", "_rels/.rels", "word/document.xml",
		"word/vbaProject.bin" };
	zip_build(&b, docs, 3, 0);
	m = zip_message("report.zip", b.data, b.len);
	ASSERT_QUIET(m, "EXE_ATTACHMENT");
	ASSERT_QUIET(m, "ARCHIVE_UNSCANNABLE");
	free(m);
	buf_free(&b);
	zip_build(&b, docx, 4, 0);
	m = zip_message("letter.docx", b.data, b.len);
	ASSERT_QUIET(m, "EXE_ATTACHMENT");
	free(m);
	buf_free(&b);

	/* Password-protected: named, and at least possible spam whatever the
	 * thresholds (here far above its 4 points). */
	zip_build(&b, docs, 3, ZB_ENCRYPTED);
	m = zip_message("secure.zip", b.data, b.len);
	struct score_thresholds th = { 80.0, 90.0 };
	struct score_engine *e = score_engine_new(NULL, &th);
	assert_int_equal(score_message(e, m, strlen(m), &v), 0);
	assert_true(reason_has(&v, "ARCHIVE_UNSCANNABLE", "password-protected archive (3 of 3 members encrypted)"));
	assert_int_equal(v.cls, SCORE_POSSIBLE_SPAM);
	score_verdict_free(&v);
	score_engine_free(e);
	free(m);
	buf_free(&b);

	/* The other kinds: an executable in a RAR, a tar, a gzip by the
	 * attachment's own name; a 7z whose member list is encrypted is
	 * never clean either. */
	rar4_build(&b, exe, 2, 0);
	m = zip_message("invoice.rar", b.data, b.len);
	scan(m, &v);
	assert_true(reason_has(&v, "EXE_ATTACHMENT", "\"invoice.rar\" is an archive holding \"invoice.pdf.exe\""));
	score_verdict_free(&v);
	free(m);
	buf_free(&b);
	tar_build(&b, exe, 2);
	m = zip_message("invoice.tar", b.data, b.len);
	ASSERT_FIRES(m, "EXE_ATTACHMENT");
	free(m);
	buf_free(&b);
	gzip_build(&b, NULL);
	m = zip_message("scan_0042.pdf.scr.gz", b.data, b.len);
	ASSERT_FIRES(m, "EXE_ATTACHMENT");
	free(m);
	m = zip_message("report.pdf.gz", b.data, b.len);
	ASSERT_QUIET(m, "EXE_ATTACHMENT");
	free(m);
	buf_free(&b);
	m = zip_message("secure.7z", (const char *)sz_hdr, sizeof(sz_hdr));
	e = score_engine_new(NULL, &th);
	assert_int_equal(score_message(e, m, strlen(m), &v), 0);
	assert_true(reason_has(&v, "ARCHIVE_UNSCANNABLE", "list of members is encrypted too"));
	assert_int_equal(v.cls, SCORE_POSSIBLE_SPAM);
	score_verdict_free(&v);
	score_engine_free(e);
	free(m);
	m = zip_message("secure2.7z", (const char *)sz_enc, sizeof(sz_enc));
	ASSERT_FIRES(m, "ARCHIVE_UNSCANNABLE");
	free(m);
	rar5_build(&b, docs, 3, AB_ENCRYPTED);
	m = zip_message("secure.rar", b.data, b.len);
	scan(m, &v);
	assert_true(reason_has(&v, "ARCHIVE_UNSCANNABLE", "(3 of 3 members encrypted)"));
	score_verdict_free(&v);
	free(m);
	buf_free(&b);
	m = zip_message("plain.7z", (const char *)sz_plain, sizeof(sz_plain));
	ASSERT_FIRES(m, "EXE_ATTACHMENT");
	ASSERT_QUIET(m, "ARCHIVE_UNSCANNABLE");
	free(m);

	/* Office macros: a .doc with a VBA project, a .docm; not a plain .doc. */
	static const struct ole_entry vba[] = { { "WordDocument", 2, -1 }, { "Macros", 1, -1 }, { "VBA", 1, 1 } };
	static const struct ole_entry nomacro[] = { { "WordDocument", 2, -1 } };
	ole_build(&b, vba, 3);
	m = zip_message("order.doc", b.data, b.len);
	scan(m, &v);
	assert_true(reason_has(&v, "OFFICE_MACRO", "\"order.doc\" is an Office document with macros (a VBA project)"));
	assert_null(sym(&v, "EXE_ATTACHMENT"));
	score_verdict_free(&v);
	free(m);
	buf_free(&b);
	ole_build(&b, nomacro, 1);
	m = zip_message("minutes.doc", b.data, b.len);
	ASSERT_QUIET(m, "OFFICE_MACRO");
	free(m);
	buf_free(&b);
	zip_build(&b, docx, 4, 0);             /* word/vbaProject.bin among them */
	m = zip_message("letter.docm", b.data, b.len);
	ASSERT_FIRES(m, "OFFICE_MACRO");
	free(m);
	buf_free(&b);
	zip_build(&b, docx, 3, 0);
	m = zip_message("letter.docx", b.data, b.len);
	ASSERT_QUIET(m, "OFFICE_MACRO");
	free(m);
	buf_free(&b);

	/* A legacy workbook with a very hidden Excel 4.0 macro sheet that the
	 * built-in Auto_Open runs; the same workbook encrypted is never clean. */
	for (int enc = 0; enc <= 1; enc++) {
		struct buf w = BUF_INIT;
		biff_bof(&w, 0x0005);
		if (enc)
			biff_rec(&w, 0x002f, "\x01\x00\x01\x00\x01\x00", 6);
		biff_sheet(&w, "Sheet1", 0, 0);
		biff_sheet(&w, "Macro1", 2, 1);
		biff_name(&w, NULL, 1);
		biff_rec(&w, 0x000a, NULL, 0);
		while (w.len < 5000)
			biff_rec(&w, 0x0203, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 14);
		const struct ole_stream st = { "Workbook", w.data, w.len };
		ole_build_streams(&b, &st, 1);
		m = zip_message("Invoice_0042.xls", b.data, b.len);
		scan(m, &v);
		if (enc) {
			assert_null(sym(&v, "OFFICE_MACRO"));
			assert_true(reason_has(&v, "ARCHIVE_UNSCANNABLE",
			    "\"Invoice_0042.xls\" is an Office document encrypted with a password"));
			assert_int_equal(v.cls, SCORE_POSSIBLE_SPAM);
		} else {
			assert_true(reason_has(&v, "OFFICE_MACRO",
			    "(a hidden Excel 4.0 macro sheet set to run on opening)"));
			assert_null(sym(&v, "ARCHIVE_UNSCANNABLE"));
		}
		score_verdict_free(&v);
		free(m);
		buf_free(&b);
		buf_free(&w);
	}

	/* RTF objects: the Equation Editor (loaded on opening), a link object,
	 * a Packager object carrying a program; a chart is quiet, and another
	 * object set to load on opening counts half. */
	{
		struct buf cf = BUF_INIT, o1 = BUF_INIT, r = BUF_INIT;
		static const unsigned char eqn[16] = { 0x02, 0xce, 0x02, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46 };
		static const unsigned char lnk[16] = { 0x00, 0x03, 0x00, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46 };
		static const unsigned char body[8] = { 1 };
		static const char pkg[] = "\x02\x00Scan_0042.pdf.scr\0C:\\t\\Scan_0042.pdf.scr\0";
		static const struct { const char *kw, *cls; const unsigned char *clsid; int pkg; const char *sym, *want; double pts; } rc[] = {
			{ "\\objupdate", "Equation.3", eqn, 0, "OLE_EXPLOIT_OBJECT",
			  "is an RTF document with an Equation Editor object (the component of CVE-2017-11882 and CVE-2018-0802), set to load when the document opens", 8.0 },
			{ "\\objautlink", "Word.Document.8", lnk, 0, "OLE_EXPLOIT_OBJECT", "with a link object that fetches its content when opened", 8.0 },
			{ "", "Package", NULL, 1, "EXE_ATTACHMENT", "is a document carrying \"Scan_0042.pdf.scr\" as an object", 8.0 },
			{ "\\objupdate", "Excel.Sheet.8", NULL, 0, "OLE_EXPLOIT_OBJECT", "with an object set to load when the document opens", 4.0 },
			{ "", "Excel.Sheet.8", NULL, 0, NULL, NULL, 0 },
		};
		for (size_t i = 0; i < MW_ARRAY_LEN(rc); i++) {
			const struct ole_stream st = { "Contents", body, sizeof(body) };
			ole_build_streams(&cf, &st, 1);
			if (rc[i].clsid != NULL)
				ole_set_root_clsid(&cf, rc[i].clsid);
			if (rc[i].pkg)
				ole1_embedded(&o1, rc[i].cls, pkg, sizeof(pkg));
			else
				ole1_embedded(&o1, rc[i].cls, cf.data, cf.len);
			buf_append_str(&r, "{\\rtf1 See the order.\\par{\\object\\objemb");
			buf_append_str(&r, rc[i].kw);
			buf_append_str(&r, "{\\*\\objdata ");
			rtf_hex(&r, o1.data, o1.len, 0);
			buf_append_str(&r, "}}}");
			m = zip_message("order.doc", r.data, r.len);
			scan(m, &v);
			if (rc[i].sym != NULL) {
				assert_true(reason_has(&v, rc[i].sym, rc[i].want));
				assert_true(fabs(sym(&v, rc[i].sym)->score - rc[i].pts) < 1e-9);
			} else {
				assert_null(sym(&v, "OLE_EXPLOIT_OBJECT"));
				assert_null(sym(&v, "EXE_ATTACHMENT"));
			}
			score_verdict_free(&v);
			free(m);
			buf_free(&cf);
			buf_free(&o1);
			buf_free(&r);
		}
	}

	/* An Equation Editor object in a legacy .doc (an ObjectPool storage
	 * with its class id). */
	{
		static const struct ole_entry pool[] = { { "WordDocument", 2, -1 }, { "ObjectPool", 1, -1 },
			{ "_1234567890", 1, 1 } };
		static const unsigned char eqn[16] = { 0x02, 0xce, 0x02, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46 };
		ole_build(&b, pool, 3);
		memcpy(b.data + 1024 + 3 * 128 + 0x50, eqn, 16);
		m = zip_message("Order.doc", b.data, b.len);
		scan(m, &v);
		assert_true(reason_has(&v, "OLE_EXPLOIT_OBJECT",
		    "\"Order.doc\" is an Office document with an Equation Editor object (the component of CVE-2017-11882"));
		assert_true(fabs(sym(&v, "OLE_EXPLOIT_OBJECT")->score - 8.0) < 1e-9);
		score_verdict_free(&v);
		free(m);
		buf_free(&b);
	}

	/* A .docx that loads its template from the web (6); the same template
	 * on a file share is quiet; an OLE object from the web weighs 8. */
	{
		static const char *const names[] = { "[Content_Types].xml", "word/_rels/settings.xml.rels" };
		static const char *const targets[] = { "https://cdn.example.net/t.dotm", "\\\\fs01\\t\\memo.dotx",
			"http://198.51.100.7/x.html!" };
		static const char *const types[] = { "attachedTemplate", "attachedTemplate", "oleObject" };
		for (int i = 0; i < 3; i++) {
			struct buf d[2] = { BUF_INIT, BUF_INIT };
			buf_append_str(&d[0], "<Types/>");
			buf_append_str(&d[1], "<Relationships><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/"
			    "officeDocument/2006/relationships/");
			buf_append_str(&d[1], types[i]);
			buf_append_str(&d[1], "\" Target=\"");
			buf_append_str(&d[1], targets[i]);
			buf_append_str(&d[1], "\" TargetMode=\"External\"/></Relationships>");
			zip_build_data(&b, names, d, 2, 1);
			m = zip_message("Contract.docx", b.data, b.len);
			scan(m, &v);
			if (i == 0) {
				assert_true(reason_has(&v, "OFFICE_REMOTE_CONTENT",
				    "\"Contract.docx\" is an Office document that loads its template (template injection) from https://cdn.example.net/t.dotm when opened"));
				assert_true(fabs(sym(&v, "OFFICE_REMOTE_CONTENT")->score - 6.0) < 1e-9);
			} else if (i == 1) {
				assert_null(sym(&v, "OFFICE_REMOTE_CONTENT"));
			} else {
				assert_true(reason_has(&v, "OFFICE_REMOTE_CONTENT", "loads an OLE object"));
				assert_true(fabs(sym(&v, "OFFICE_REMOTE_CONTENT")->score - 8.0) < 1e-9);
			}
			score_verdict_free(&v);
			free(m);
			buf_free(&b);
			buf_free(&d[0]);
			buf_free(&d[1]);
		}
	}

	/* An executable two archives down, and an archive nested past the
	 * limits (never clean). */
	struct buf inner = BUF_INIT, gz = BUF_INIT;
	zip_build(&inner, exe, 2, 0);
	static const char *const wrap[] = { "scans.zip" };
	zip_build_data(&b, wrap, &inner, 1, 1);
	m = zip_message("scans.zip", b.data, b.len);
	scan(m, &v);
	assert_true(reason_has(&v, "EXE_ATTACHMENT", "is an archive holding \"scans.zip/invoice.pdf.exe\""));
	score_verdict_free(&v);
	free(m);
	for (int i = 0; i < 3; i++) {          /* scans.zip in three more levels */
		buf_free(&inner);
		inner = b;
		b = (struct buf)BUF_INIT;
		zip_build_data(&b, wrap, &inner, 1, 0);
	}
	m = zip_message("deep.zip", b.data, b.len);
	e = score_engine_new(NULL, &th);
	assert_int_equal(score_message(e, m, strlen(m), &v), 0);
	assert_true(reason_has(&v, "ARCHIVE_UNSCANNABLE", "nested too deep"));
	assert_int_equal(v.cls, SCORE_POSSIBLE_SPAM);
	score_verdict_free(&v);
	score_engine_free(e);
	free(m);
	buf_free(&b);
	gzip_data(&gz, inner.data, inner.len);  /* the same nesting inside a gzip */
	m = zip_message("scans.gz", gz.data, gz.len);
	ASSERT_FIRES(m, "ARCHIVE_UNSCANNABLE");
	free(m);
	buf_free(&gz);
	buf_free(&inner);

	/* A shortcut inside a disk image. */
	static const char *const iso[] = { "readme.txt", "Invoice.pdf.lnk" };
	iso_build(&b, iso, 2);
	m = zip_message("Invoice.iso", b.data, b.len);
	scan(m, &v);
	assert_true(reason_has(&v, "EXE_ATTACHMENT", "\"Invoice.iso\" is an archive holding \"Invoice.pdf.lnk\" (a double extension)"));
	score_verdict_free(&v);
	free(m);
	buf_free(&b);

	/* PDFs: one that launches a program (full weight), one with
	 * JavaScript on a form field only (half), a plain one (quiet). */
	static const char launch[] = "%PDF-1.5\n4 0 obj << /S /Launch /F (cmd.exe) >> endobj\n";
	static const char formjs[] = "%PDF-1.5\n4 0 obj << /S /JavaScript /JS (AFNumber_Format\\(2\\)) >> endobj\n";
	static const char plainpdf[] = "%PDF-1.5\n1 0 obj << /Type /Page >> endobj\n";
	m = zip_message("order.pdf", launch, sizeof(launch) - 1);
	scan(m, &v);
	assert_true(reason_has(&v, "PDF_ACTIVE_CONTENT", "\"order.pdf\" is a PDF that launches a program"));
	assert_true(sym(&v, "PDF_ACTIVE_CONTENT")->score == 3.0);
	score_verdict_free(&v);
	free(m);
	m = zip_message("form.pdf", formjs, sizeof(formjs) - 1);
	scan(m, &v);
	assert_true(reason_has(&v, "PDF_ACTIVE_CONTENT", "holds JavaScript"));
	assert_true(sym(&v, "PDF_ACTIVE_CONTENT")->score == 1.5);
	score_verdict_free(&v);
	free(m);
	m = zip_message("paper.pdf", plainpdf, sizeof(plainpdf) - 1);
	ASSERT_QUIET(m, "PDF_ACTIVE_CONTENT");
	free(m);

	/* A login page as an attachment; a receipt as HTML stays quiet. */
	static const char login[] = "<html><body><form action=\"https://x.example/\">"
	    "<input type=password name=p></form></body></html>";
	static const char receipt[] = "<html><body><h1>Receipt</h1><p>Total 12.00</p></body></html>";
	m = zip_message("Invoice_0042.htm", login, sizeof(login) - 1);
	scan(m, &v);
	assert_true(reason_has(&v, "HTML_ATTACHMENT_PHISH", "\"Invoice_0042.htm\" is a web page that asks for a password"));
	score_verdict_free(&v);
	free(m);
	m = zip_message("receipt.html", receipt, sizeof(receipt) - 1);
	ASSERT_QUIET(m, "HTML_ATTACHMENT_PHISH");
	free(m);
	static const char both[] = "<html><meta http-equiv=refresh content=\"5;url=https://x.example/\">"
	    "<form><input type=password></form></html>";
	m = zip_message("Invoice_0043.htm", both, sizeof(both) - 1);
	scan(m, &v);
	assert_true(reason_has(&v, "HTML_ATTACHMENT_PHISH",
	    "is a web page that asks for a password and sends the browser to a website"));
	score_verdict_free(&v);
	free(m);

	/* The same documents unencrypted under those thresholds: clean. */
	zip_build(&b, docs, 3, 0);
	m = zip_message("report.zip", b.data, b.len);
	e = score_engine_new(NULL, &th);
	assert_int_equal(score_message(e, m, strlen(m), &v), 0);
	assert_int_equal(v.cls, SCORE_CLEAN);
	score_verdict_free(&v);
	score_engine_free(e);
	free(m);
	buf_free(&b);
}

/* ---- bulk and classes ---------------------------------------------------------------------- */


/* Structure that clients may read otherwise (M6, M7, M12): each symbol
 * fires on its case and stays quiet on a well-formed message. */
static void test_mime_structure(void **state)
{
	(void)state;
	struct score_engine *e = score_engine_new(NULL, NULL);
	struct score_verdict v;

	/* Two Content-Types at the top: never clean, whatever the thresholds. */
	char *two_ct = mk("hi", "MIME-Version: 1.0\nContent-Type: text/plain\n"
	    "Content-Type: multipart/mixed; boundary=\"q\"\n", plain_body);
	struct score_thresholds th = { .tag = 80, .probable_spam = 90 };
	assert_int_equal(score_message_th(e, two_ct, strlen(two_ct), &th, &v), 0);
	dump("two_ct", &v);
	assert_true(reason_has(&v, "MIME_AMBIGUOUS", "in the message headers"));
	assert_true(sym(&v, "MIME_AMBIGUOUS")->score >= 10.0);
	assert_int_equal(v.cls, SCORE_PROBABLE_SPAM);
	assert_null(sym(&v, "DUPLICATE_HEADER"));   /* not an identity header */
	score_verdict_free(&v);
	free(two_ct);

	/* Two Content-Transfer-Encodings on one attachment: base64 to GMime,
	 * quoted-printable to a client that takes the last. */
	const char *part_cte = "From: a@example.org\nTo: b@example.net\nSubject: files\n"
	    "Date: Tue, 1 Oct 2002 10:00:00 +0000\nMessage-ID: <9@x.org>\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"zz\"\n\n"
	    "--zz\nContent-Type: text/plain\n\nsee attached\n"
	    "--zz\nContent-Type: application/octet-stream; name=\"a.bin\"\n"
	    "Content-Transfer-Encoding: base64\nContent-Transfer-Encoding: quoted-printable\n\n"
	    "TVqQAAMAAAAEAAAA\n--zz--\n";
	assert_int_equal(score_message_th(e, part_cte, strlen(part_cte), &th, &v), 0);
	dump("part_cte", &v);
	assert_true(reason_has(&v, "MIME_AMBIGUOUS", "in a MIME part"));
	assert_int_equal(v.cls, SCORE_PROBABLE_SPAM);
	assert_null(sym(&v, "MIME_BAD_BOUNDARY"));
	score_verdict_free(&v);
	/* Parameters with two readings: two boundaries; a file name whose
	 * extension depends on which of its parameters a client reads. */
	static const char *const two_readings[] = {
		"Content-Type: multipart/mixed; boundary=\"aa\"; boundary=\"bb\"\n\n"
		"--aa\nContent-Type: text/plain\n\none\n--bb\nContent-Type: text/plain\n\ntwo\n--bb--\n--aa--\n",
		"Content-Type: multipart/mixed; boundary=\"zz\"\n\n--zz\nContent-Type: text/plain\n\nhi\n"
		"--zz\nContent-Type: application/pdf; name=\"invoice.pdf\"; name=\"invoice.exe\"\n\nxx\n--zz--\n",
		"Content-Type: multipart/mixed; boundary=\"zz\"\n\n--zz\nContent-Type: text/plain\n\nhi\n"
		"--zz\nContent-Type: application/pdf; name=\"invoice.exe\"\n"
		"Content-Disposition: attachment; filename=\"invoice.pdf\"\n\nxx\n--zz--\n",
	};
	for (size_t i = 0; i < MW_ARRAY_LEN(two_readings); i++) {
		char *msg = xasprintf("From: a@example.org\nTo: b@example.net\nSubject: x\n"
		    "Date: Tue, 1 Oct 2002 10:00:00 +0000\nMessage-ID: <p%zu@x.org>\nMIME-Version: 1.0\n%s",
		    i, two_readings[i]);
		scan(msg, &v);
		if (!reason_has(&v, "MIME_AMBIGUOUS", "in a MIME part"))
			fail_msg("case %zu: no MIME_AMBIGUOUS", i);
		score_verdict_free(&v);
		free(msg);
	}
	/* An RFC 2231 name next to its plain fallback, same extension: one reading. */
	const char *fallback = "From: a@example.org\nTo: b@example.net\nSubject: x\n"
	    "Date: Tue, 1 Oct 2002 10:00:00 +0000\nMessage-ID: <f@x.org>\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"zz\"\n\n--zz\nContent-Type: text/plain\n\nhi\n"
	    "--zz\nContent-Type: application/pdf; name=\"Dokument.pdf\"\nContent-Disposition: attachment; "
	    "filename=\"Dokument.pdf\"; filename*=UTF-8''%D0%94%D0%BE%D0%BA.pdf\n\nxx\n--zz--\n";
	ASSERT_QUIET(fallback, "MIME_AMBIGUOUS");
	char *att = with_attachment("a.pdf", "application/pdf", "JVBERi0xLjQK");
	ASSERT_QUIET(att, "MIME_AMBIGUOUS");
	ASSERT_QUIET(att, "MIME_BAD_BOUNDARY");
	free(att);

	/* A multipart never closed, and one whose boundary never appears. */
	const char *unclosed = "From: a@example.org\nSubject: x\nDate: Tue, 1 Oct 2002 10:00:00 +0000\n"
	    "Message-ID: <u@x.org>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n"
	    "--b\nContent-Type: text/plain\n\nthe text\n";
	scan(unclosed, &v);
	assert_true(reason_has(&v, "MIME_BAD_BOUNDARY", "closing boundary"));
	score_verdict_free(&v);
	const char *lost = "From: a@example.org\nSubject: x\nDate: Tue, 1 Oct 2002 10:00:00 +0000\n"
	    "Message-ID: <l@x.org>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"nothere\"\n\n"
	    "--elsewhere\nContent-Type: text/plain\n\nthe text\n--elsewhere--\n";
	scan(lost, &v);
	assert_true(reason_has(&v, "MIME_BAD_BOUNDARY", "never appears"));
	assert_null(sym(&v, "MIME_AMBIGUOUS"));
	score_verdict_free(&v);
	char *ok = nested(3);
	ASSERT_QUIET(ok, "MIME_BAD_BOUNDARY");
	ASSERT_QUIET(ok, "MIME_AMBIGUOUS");
	free(ok);

	/* Identity headers twice: named in the reason. */
	char *dup = mk("hi", "From: Mallory <m@example.com>\nDate: Wed, 2 Oct 2002 10:00:00 +0000\n",
	    plain_body);
	scan(dup, &v);
	assert_true(reason_has(&v, "DUPLICATE_HEADER", "From, Date"));
	assert_null(sym(&v, "MIME_AMBIGUOUS"));
	score_verdict_free(&v);
	free(dup);
	char *dup_subj = mk("hi", "Subject: another\n", plain_body);
	scan(dup_subj, &v);
	assert_true(reason_has(&v, "DUPLICATE_HEADER", "Subject"));
	score_verdict_free(&v);
	free(dup_subj);

	/* A header line without a colon; raw 8-bit in a header; NUL bytes. */
	char *nocolon = mk("hi", "X-Fine: yes\nthis line has no colon\n", plain_body);
	ASSERT_FIRES(nocolon, "MALFORMED_HEADER");
	free(nocolon);
	char *raw8 = mk("Gr\xc3\xbc\xc3\x9f" "e aus Berlin", "", plain_body);
	ASSERT_FIRES(raw8, "HEADER_8BIT");
	free(raw8);
	char *nul = mk("hi", "", "one\n");
	size_t nl = strlen(nul);
	char *withnul = xmalloc(nl + 8);
	memcpy(withnul, nul, nl);
	memcpy(withnul + nl, "tw\0o\n", 5);
	assert_int_equal(score_message(e, withnul, nl + 5, &v), 0);
	dump("nul", &v);
	assert_non_null(sym(&v, "NUL_BYTES"));
	score_verdict_free(&v);
	free(withnul);
	free(nul);

	char *good = mk("=?utf-8?Q?Gr=C3=BC=C3=9Fe?=", "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n",
	    plain_body);
	ASSERT_QUIET(good, "DUPLICATE_HEADER");
	ASSERT_QUIET(good, "MALFORMED_HEADER");
	ASSERT_QUIET(good, "HEADER_8BIT");
	ASSERT_QUIET(good, "NUL_BYTES");
	ASSERT_QUIET(good, "MIME_AMBIGUOUS");
	ASSERT_QUIET(good, "MIME_BAD_BOUNDARY");
	free(good);
	score_engine_free(e);
}

static void test_bulk(void **state)
{
	(void)state;
	char *lu = mk("Weekly news", "List-Unsubscribe: <mailto:leave@lists.example.org>\n", plain_body);
	struct score_verdict v;
	scan(lu, &v);
	assert_non_null(sym(&v, "BULK_LIST_UNSUBSCRIBE"));
	assert_int_equal(v.cls, SCORE_BULK);
	score_verdict_free(&v);
	free(lu);

	char *li = mk("Weekly news", "List-Id: Friends <friends.lists.example.org>\n", plain_body);
	scan(li, &v);
	assert_non_null(strstr(sym(&v, "BULK_LIST_UNSUBSCRIBE")->reason, "friends.lists.example.org"));
	score_verdict_free(&v);
	free(li);

	char *pr = mk("Weekly news", "Precedence: bulk\n", plain_body);
	ASSERT_FIRES(pr, "BULK_PRECEDENCE");
	free(pr);
	char *urgent = mk("Weekly news", "Precedence: urgent\n", plain_body);
	ASSERT_QUIET(urgent, "BULK_PRECEDENCE");
	ASSERT_QUIET(urgent, "BULK_LIST_UNSUBSCRIBE");
	free(urgent);

	/* A list whose members post is a discussion, not bulk mail. */
	char *disc = mk("Re: build fails on arm64",
	    "List-Id: Users <users.lists.example.org>\nList-Post: <mailto:users@lists.example.org>\n"
	    "List-Unsubscribe: <mailto:users-leave@lists.example.org>\nPrecedence: list\n", plain_body);
	scan(disc, &v);
	const struct score_symbol *ld = sym(&v, "LIST_DISCUSSION");
	assert_non_null(ld);
	if (strstr(ld->reason, "users.lists.example.org") == NULL || strstr(ld->reason, "post to users@lists.example.org") == NULL)
		fail_msg("reason: %s", ld->reason);
	assert_true(ld->score == 0.0);
	assert_null(sym(&v, "BULK_LIST_UNSUBSCRIBE"));
	assert_null(sym(&v, "BULK_PRECEDENCE"));
	assert_int_equal(v.cls, SCORE_CLEAN);
	score_verdict_free(&v);
	free(disc);
	/* "List-Post: NO" (RFC 2369): an announce-only list, i.e. a newsletter. */
	char *announce = mk("Weekly news", "List-Post: NO\nList-Unsubscribe: <mailto:leave@lists.example.org>\n", plain_body);
	scan(announce, &v);
	assert_null(sym(&v, "LIST_DISCUSSION"));
	assert_int_equal(v.cls, SCORE_BULK);
	score_verdict_free(&v);
	free(announce);
	char *empty = mk("Weekly news", "List-Post: <mailto:>\nPrecedence: bulk\n", plain_body);
	ASSERT_QUIET(empty, "LIST_DISCUSSION");
	ASSERT_FIRES(empty, "BULK_PRECEDENCE");
	free(empty);

	/* Bulk markers on spam do not make it "bulk": the score decides.  The
	 * rules alone (no Bayes here) give this one about 5 points, so a tag of
	 * 4 shows the order of the decision; at the default tag it is Bayes'
	 * weight that carries spam over (docs/scoring.md). */
	char *spammy = mk("FREE MONEY FOR YOU NOW!!!", "Precedence: bulk\n" "MIME-Version: 1.0\nContent-Type: text/html\n",
	    html_phish_body);
	struct score_thresholds low = { .tag = 4.0, .probable_spam = 10.0 };
	struct score_engine *le = score_engine_new(NULL, &low);
	assert_int_equal(score_message(le, spammy, strlen(spammy), &v), 0);
	assert_non_null(sym(&v, "BULK_PRECEDENCE"));
	assert_true(v.score >= 4.0);
	assert_true(v.cls >= SCORE_POSSIBLE_SPAM);
	score_verdict_free(&v);
	score_engine_free(le);
	free(spammy);
}

static void test_thresholds(void **state)
{
	(void)state;
	struct score_thresholds d = score_thresholds_default();
	assert_true(d.tag == 8.0 && d.probable_spam == 10.0);
	assert_string_equal(score_class_name(SCORE_CLEAN), "clean");
	assert_string_equal(score_class_name(SCORE_BULK), "bulk");
	assert_string_equal(score_class_name(SCORE_POSSIBLE_SPAM), "possible-spam");
	assert_string_equal(score_class_name(SCORE_PROBABLE_SPAM), "probable-spam");

	/* MISSING_DATE (1.0) + MISSING_MESSAGE_ID (0.5) = 1.5 against
	 * thresholds around it: the boundary is inclusive. */
	const char *m = "From: a@example.org\nSubject: hi\n\nhello\n";
	struct score_thresholds th[] = { { 1.5, 3.0 }, { 1.0, 1.5 }, { 1.6, 3.0 } };
	enum score_class want[] = { SCORE_POSSIBLE_SPAM, SCORE_PROBABLE_SPAM, SCORE_CLEAN };
	for (size_t i = 0; i < MW_ARRAY_LEN(th); i++) {
		struct score_engine *e = score_engine_new(NULL, &th[i]);
		struct score_verdict v;
		assert_int_equal(score_message(e, m, strlen(m), &v), 0);
		assert_true(fabs(v.score - 1.5) < 1e-9);
		assert_int_equal(v.cls, want[i]);
		/* Sorted by |score|: MISSING_DATE before MISSING_MESSAGE_ID
		 * before the zero-weight BAYES_UNAVAILABLE. */
		assert_string_equal(v.symbols[0].name, "MISSING_DATE");
		assert_string_equal(v.symbols[1].name, "MISSING_MESSAGE_ID");
		assert_string_equal(v.symbols[v.n_symbols - 1].name, "BAYES_UNAVAILABLE");
		score_verdict_free(&v);
		score_engine_free(e);
	}
}

/* Every symbol in the registry has a name, a group of score.h's list and a
 * doc line; the names fit the verdict's field. */
static void test_registry(void **state)
{
	(void)state;
	static const char *const groups[] = { "bayes", "header", "html", "url", "attachment", "bulk", "list", "test", "mime" };
	for (size_t i = 0; i < SYM_COUNT; i++) {
		const struct score_sym_def *d = &score_sym_table[i];
		assert_non_null(d->name);
		assert_true(strlen(d->name) < sizeof(((struct score_symbol *)0)->name));
		assert_non_null(d->doc);
		int ok = 0;
		for (size_t g = 0; g < MW_ARRAY_LEN(groups); g++)
			ok |= strcmp(d->group, groups[g]) == 0;
		if (!ok)
			fail_msg("%s: unknown group %s", d->name, d->group);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(d->name, score_sym_table[j].name);
	}
}

/* ---- hostile input ------------------------------------------------------------------------- */

static void test_malformed(void **state)
{
	(void)state;
	struct score_engine *e = score_engine_new(NULL, NULL);
	struct score_verdict v;

	assert_int_equal(score_message(e, "", 0, &v), 0);
	assert_non_null(sym(&v, "MISSING_FROM"));
	score_verdict_free(&v);
	assert_int_equal(score_message(e, NULL, 0, &v), 0);
	score_verdict_free(&v);

	/* Binary garbage with NULs, deterministic. */
	char *g = xmalloc(65536);
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < 65536; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		g[i] = (char)(x & 0xff);
	}
	assert_int_equal(score_message(e, g, 65536, &v), 0);
	assert_true(isfinite(v.score));
	score_verdict_free(&v);
	/* Every prefix length class: header only, cut mid-line. */
	const char *cut = "From: a@example.org\nSubject: =?utf-8?B?SGVsbG8=?=\nContent-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/html\n\n<a href=\"http://1.2.3.4/";
	for (size_t n = 0; n <= strlen(cut); n++) {
		assert_int_equal(score_message(e, cut, n, &v), 0);
		score_verdict_free(&v);
	}
	free(g);
	score_engine_free(e);
}

/* ---- Bayes end to end ------------------------------------------------------------------------ */

struct fx {
	char dir[64];
	struct conf c;
	struct store *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	strcpy(f->dir, "/tmp/mw-score-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	conf_defaults(&f->c);
	snprintf(f->c.data_dir, sizeof(f->c.data_dir), "%s/data", f->dir);
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

static const char *const spam_words[] = {
	"viagra", "casino", "winner", "lottery", "prize", "cheap", "pills", "mortgage", "refinance",
	"credit", "offer", "unsubscribe", "guaranteed", "discount", "bonus", "cash", "loan", "rolex",
};
static const char *const ham_words[] = {
	"meeting", "agenda", "minutes", "kernel", "patch", "review", "release", "build", "compiler",
	"thanks", "lunch", "project", "deadline", "report", "schedule", "budget", "design", "test",
};
static const char *const common_words[] = {
	"the", "and", "you", "for", "this", "that", "with", "have", "will", "your", "from", "are",
};

static int is_in(const char *w, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(w, list[i]) == 0)
			return 1;
	return 0;
}

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* A synthetic message of one class: class words mixed with common words,
 * numbered so that no two are the same message. */
static char *synth(int spam, unsigned n, uint32_t *seed)
{
	const char *const *w = spam ? spam_words : ham_words;
	size_t nw = spam ? MW_ARRAY_LEN(spam_words) : MW_ARRAY_LEN(ham_words);
	struct buf b = BUF_INIT;

	buf_printf(&b, "From: %s%u@%s\nTo: bob@example.net\nSubject: %s %s %u\n"
	    "Date: Tue, 1 Oct 2002 10:00:00 +0000\nMessage-ID: <%u.%d@x.example>\n\n",
	    spam ? "deals" : "colleague", n, spam ? "promo.example" : "work.example",
	    w[rnd(seed) % nw], w[rnd(seed) % nw], n, n, spam);
	for (int i = 0; i < 60; i++) {
		if (rnd(seed) % 3 == 0)
			buf_printf(&b, "%s ", w[rnd(seed) % nw]);
		else
			buf_printf(&b, "%s ", common_words[rnd(seed) % MW_ARRAY_LEN(common_words)]);
		if (i % 12 == 11)
			buf_append_char(&b, '\n');
	}
	buf_printf(&b, "\nref %u\n", n * 7919u);
	return b.data;
}

static void train(struct store *st, unsigned nper, uint32_t *seed)
{
	struct score_trainer *t = score_trainer_new(st);
	int learned = 0;

	for (unsigned i = 0; i < nper; i++) {
		for (int spam = 0; spam <= 1; spam++) {
			char *m = synth(spam, i, seed);
			int r = score_trainer_add(t, m, strlen(m), spam);
			assert_true(r >= 0);
			learned += r;
			free(m);
		}
	}
	int r = score_trainer_flush(t);
	assert_true(r >= 0);
	learned += r;
	assert_int_equal(learned, (int)(2 * nper));
	score_trainer_free(t);
}

static void test_bayes_untrained(void **state)
{
	struct fx *f = *state;
	struct score_engine *e = score_engine_new(f->s, NULL);
	struct score_verdict v;
	char *m = mk("hi", "", plain_body);

	assert_int_equal(score_message(e, m, strlen(m), &v), 0);
	const struct score_symbol *s = sym(&v, "BAYES_UNAVAILABLE");
	assert_non_null(s);
	assert_non_null(strstr(s->reason, "not enough training: 0 spam and 0 ham"));
	assert_null(sym(&v, "BAYES_SPAM"));
	assert_null(sym(&v, "BAYES_TOP_CLUES"));
	assert_true(v.bayes_prob < 0);
	score_verdict_free(&v);
	score_engine_free(e);
	free(m);
}

static void test_bayes_end_to_end(void **state)
{
	struct fx *f = *state;
	uint32_t seed = 12345;

	train(f->s, 250, &seed);
	int64_t ns, nh;
	assert_int_equal(store_bayes_totals(f->s, &ns, &nh), 0);
	assert_int_equal(ns, 250);
	assert_int_equal(nh, 250);

	struct score_engine *e = score_engine_new(f->s, NULL);
	score_engine_set_clue_names(e, 1);   /* as on the mail path */
	unsigned spam_hits = 0, ham_hits = 0;
	for (unsigned i = 0; i < 20; i++) {
		for (int spam = 0; spam <= 1; spam++) {
			char *m = synth(spam, 100000 + i, &seed);   /* held out: never trained */
			struct score_verdict v;
			assert_int_equal(score_message(e, m, strlen(m), &v), 0);
			dump(m, &v);
			const struct score_symbol *s = sym(&v, spam ? "BAYES_SPAM" : "BAYES_HAM");
			if (s != NULL) {
				/* The reason carries the probability the verdict has. */
				const char *pr = strstr(s->reason, "Bayes spam probability ");
				assert_non_null(pr);
				assert_true(fabs(strtod(pr + 23, NULL) - v.bayes_prob) < 0.0001);
				assert_non_null(strstr(s->reason, "trained on 250 spam, 250 ham"));
				/* 3 points per 0.1 of the all-clue geometric-mean
				 * indicator from 0.5: the full +12 from 0.9, the full
				 * -4 from 0.367. */
				double want = 30.0 * (v.bayes_prob - 0.5);
				want = want > 12.0 ? 12.0 : want < -4.0 ? -4.0 : want;
				assert_true(fabs(s->score - want) < 1e-9);
				if (spam) {
					spam_hits++;
					assert_true(v.bayes_prob > 0.5 && s->score > 0.0);
				} else {
					ham_hits++;
					assert_true(v.bayes_prob < 0.5 && s->score < 0.0);
				}
			}
			assert_null(sym(&v, spam ? "BAYES_HAM" : "BAYES_SPAM"));
			/* The 35 strongest clues' own opinion: same side, within
			 * +-8 points, and it names how many of how many clues. */
			const struct score_symbol *tc = sym(&v, "BAYES_TOP_CLUES");
			assert_non_null(tc);
			assert_true(tc->score >= -8.0 && tc->score <= 8.0);
			assert_true(spam ? tc->score > 0 : tc->score < 0);
			assert_non_null(strstr(tc->reason, "strongest of"));
			/* ... and, leaning spam, names the three clues it rests on
			 * most: features with spam words, none a ham word. */
			const char *led = strstr(tc->reason, ", led by '");
			if (!spam) {
				assert_null(led);
				score_verdict_free(&v);
				free(m);
				continue;
			}
			assert_non_null(led);
			const char *const *own = spam ? spam_words : ham_words;
			const char *const *other = spam ? ham_words : spam_words;
			size_t nown = spam ? MW_ARRAY_LEN(spam_words) : MW_ARRAY_LEN(ham_words);
			size_t nother = spam ? MW_ARRAY_LEN(ham_words) : MW_ARRAY_LEN(spam_words);
			int named = 0, of_own = 0;
			for (const char *q = strchr(led, '\''); q != NULL; q = strchr(q, '\'')) {
				const char *end = strchr(q + 1, '\'');
				assert_non_null(end);
				char name[64];
				snprintf(name, sizeof(name), "%.*s", (int)(end - q - 1), q + 1);
				named++;
				assert_false(is_in(name, other, nother));
				for (size_t w = 0; w < nown; w++)
					of_own |= strstr(name, own[w]) != NULL;
				q = end + 1;
			}
			assert_int_equal(named, 3);
			assert_true(of_own);
			score_verdict_free(&v);
			free(m);
		}
	}
	assert_int_equal(spam_hits, 20);
	assert_int_equal(ham_hits, 20);
	score_engine_free(e);
	/* By default the clues are not named (a second tokenizer pass). */
	e = score_engine_new(f->s, NULL);
	char *m = synth(1, 100000, &seed);
	struct score_verdict v;
	assert_int_equal(score_message(e, m, strlen(m), &v), 0);
	assert_true(sym(&v, "BAYES_TOP_CLUES")->score > 0);
	assert_null(strstr(sym(&v, "BAYES_TOP_CLUES")->reason, "led by"));
	score_verdict_free(&v);
	free(m);
	score_engine_free(e);
}

static void test_train_idempotent(void **state)
{
	struct fx *f = *state;
	char *m = mk("once", "", plain_body);
	struct score_trainer *t = score_trainer_new(f->s);

	/* Twice in one batch, then again in a later batch, and with CRLF line
	 * ends: the same message each time. */
	assert_int_equal(score_trainer_add(t, m, strlen(m), 1), 0);
	assert_int_equal(score_trainer_add(t, m, strlen(m), 1), 0);
	assert_int_equal(score_trainer_flush(t), 1);
	assert_int_equal(score_trainer_add(t, m, strlen(m), 1), 0);
	assert_int_equal(score_trainer_flush(t), 0);
	struct buf crlf = BUF_INIT;
	for (const char *p = m; *p; p++) {
		if (*p == '\n')
			buf_append_char(&crlf, '\r');
		buf_append_char(&crlf, *p);
	}
	assert_int_equal(score_trainer_add(t, crlf.data, crlf.len, 1), 0);
	assert_int_equal(score_trainer_flush(t), 0);
	assert_int_equal(score_trainer_flush(t), 0);   /* empty batch */
	score_trainer_free(t);

	int64_t ns, nh;
	assert_int_equal(store_bayes_totals(f->s, &ns, &nh), 0);
	assert_int_equal(ns, 1);
	assert_int_equal(nh, 0);

	/* Freeing flushes what is pending. */
	t = score_trainer_new(f->s);
	char *m2 = mk("second", "", plain_body);
	assert_int_equal(score_trainer_add(t, m2, strlen(m2), 0), 0);
	score_trainer_free(t);
	assert_int_equal(store_bayes_totals(f->s, &ns, &nh), 0);
	assert_int_equal(nh, 1);

	/* Untrain: forgotten once (CRLF copy of what was learned with LF),
	 * then "not learned"; a message still pending in the batch is
	 * learned first, so forgetting it right after works too. */
	t = score_trainer_new(f->s);
	assert_int_equal(score_trainer_forget(t, crlf.data, crlf.len), 0);
	assert_int_equal(score_trainer_forget(t, m, strlen(m)), 1);
	char *m3 = mk("third", "", plain_body);
	assert_int_equal(score_trainer_add(t, m3, strlen(m3), 0), 0);
	assert_int_equal(score_trainer_forget(t, m3, strlen(m3)), 0);
	score_trainer_free(t);
	assert_int_equal(store_bayes_totals(f->s, &ns, &nh), 0);
	assert_int_equal(ns, 0);
	assert_int_equal(nh, 1);
	free(m3);
	buf_free(&crlf);
	free(m);
	free(m2);
}

/* Reinforcement: of the learned messages, the one the store would misjudge
 * without it (a spam written in ham words) is queued and then counts three
 * times; typical spam and ham, unknown messages, and checks against an
 * untrained store queue nothing. */
static void test_train_reinforce(void **state)
{
	struct fx *f = *state;
	uint32_t seed = 999;
	struct score_check ck;
	struct score_verdict v;
	int64_t ns, nh;

	/* Untrained without it: no opinion, nothing queued. */
	struct score_trainer *t = score_trainer_new(f->s);
	char *lone = synth(1, 800000, &seed);
	assert_int_equal(score_trainer_add(t, lone, strlen(lone), 1), 0);
	assert_int_equal(score_trainer_check(t, lone, strlen(lone), &ck), 0);   /* flushes first */
	assert_true(ck.learned && ck.is_spam && ck.weight == 1 && ck.untrained && !ck.queued);
	assert_int_equal(score_trainer_reinforce(t), 0);
	score_trainer_free(t);
	free(lone);

	train(f->s, 250, &seed);
	t = score_trainer_new(f->s);
	char *disguised = synth(0, 900001, &seed);   /* ham words, reported as spam */
	char *spam = synth(1, 900002, &seed);
	char *ham = synth(0, 900003, &seed);
	char *unknown = synth(1, 900004, &seed);
	assert_int_equal(score_trainer_add(t, disguised, strlen(disguised), 1), 0);
	assert_int_equal(score_trainer_add(t, spam, strlen(spam), 1), 0);
	assert_int_equal(score_trainer_add(t, ham, strlen(ham), 0), 0);
	assert_int_equal(score_trainer_flush(t), 3);

	struct score_engine *e = score_engine_new(f->s, NULL);
	assert_int_equal(score_message(e, disguised, strlen(disguised), &v), 0);
	double before = v.score, before_g = v.bayes_prob;
	score_verdict_free(&v);

	assert_int_equal(score_trainer_check(t, disguised, strlen(disguised), &ck), 0);
	assert_true(ck.learned && ck.is_spam && ck.weight == 1 && !ck.untrained && ck.queued);
	assert_true(ck.score < 12.0 && ck.score <= before);
	assert_int_equal(score_trainer_check(t, spam, strlen(spam), &ck), 0);
	assert_true(ck.learned && ck.is_spam && !ck.queued && ck.score >= 12.0);
	assert_int_equal(score_trainer_check(t, ham, strlen(ham), &ck), 0);
	assert_true(ck.learned && !ck.is_spam && !ck.queued && ck.score <= 4.0);
	assert_int_equal(score_trainer_check(t, unknown, strlen(unknown), &ck), 0);
	assert_false(ck.learned);
	assert_false(ck.queued);

	assert_int_equal(store_bayes_totals(f->s, &ns, &nh), 0);
	assert_true(ns == 253 && nh == 251);   /* the lone one too; checking changes nothing */
	assert_int_equal(score_trainer_reinforce(t), 1);
	assert_int_equal(store_bayes_totals(f->s, &ns, &nh), 0);
	assert_true(ns == 255 && nh == 251);
	assert_int_equal(score_trainer_reinforce(t), 0);   /* the queue was applied */

	/* Never a second time, and Bayes now leans further to spam on it. */
	assert_int_equal(score_trainer_check(t, disguised, strlen(disguised), &ck), 0);
	assert_true(ck.learned && ck.weight == 3 && !ck.queued);
	assert_int_equal(score_message(e, disguised, strlen(disguised), &v), 0);
	assert_true(v.bayes_prob > before_g && v.score >= before);
	score_verdict_free(&v);

	/* Untrained: it goes back to counting nothing. */
	assert_int_equal(score_trainer_forget(t, disguised, strlen(disguised)), 0);
	assert_int_equal(store_bayes_totals(f->s, &ns, &nh), 0);
	assert_true(ns == 252 && nh == 251);
	score_engine_free(e);
	score_trainer_free(t);
	free(disguised);
	free(spam);
	free(ham);
	free(unknown);
}

/* The Bayes tables vanish behind the store's back: scanning goes on without
 * Bayes and says so; training reports the error. */
static void test_bayes_storage_error(void **state)
{
	struct fx *f = *state;
	char path[600];
	sqlite3 *db;
	char *m = mk("hi", "", plain_body);

	snprintf(path, sizeof(path), "%s/mailward.db", f->c.data_dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE bayes_token; DROP TABLE bayes_msg; DROP TABLE bayes_meta;",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	struct score_engine *e = score_engine_new(f->s, NULL);
	struct score_verdict v;
	assert_int_equal(score_message(e, m, strlen(m), &v), 0);
	const struct score_symbol *s = sym(&v, "BAYES_UNAVAILABLE");
	assert_non_null(s);
	assert_string_equal(s->reason, "Bayes storage error");
	assert_true(v.bayes_prob < 0);
	assert_int_equal(v.cls, SCORE_CLEAN);
	score_verdict_free(&v);
	score_engine_free(e);

	struct score_trainer *t = score_trainer_new(f->s);
	assert_int_equal(score_trainer_add(t, m, strlen(m), 1), 0);
	assert_int_equal(score_trainer_flush(t), -1);
	struct score_check ck;
	assert_int_equal(score_trainer_check(t, m, strlen(m), &ck), -1);
	assert_false(ck.queued);
	score_trainer_free(t);
	free(m);
}

/* scan --explain's named clues: spam-leaning first, each side most
 * significant first, at most max_each a side, names as the tokenizer
 * writes them, the counts the classifier used. */
static void test_message_clues(void **state)
{
	struct fx *f = *state;
	uint32_t seed = 99;
	struct score_clue *c;
	size_t n;
	const char *m = "From: someone@else.example\nTo: bob@example.net\nSubject: hello\n\n"
	    "viagra casino lottery winner prize kernel patch compiler agenda minutes\n";

	/* no store, and a store that has learned nothing: no clues, no error */
	struct score_engine *e = score_engine_new(NULL, NULL);
	assert_int_equal(score_message_clues(e, m, strlen(m), 4, &c, &n), 0);
	assert_int_equal(n, 0);
	assert_null(c);
	score_engine_free(e);
	e = score_engine_new(f->s, NULL);
	assert_int_equal(score_message_clues(e, m, strlen(m), 4, &c, &n), 0);
	assert_int_equal(n, 0);
	score_engine_free(e);

	train(f->s, 210, &seed);
	e = score_engine_new(f->s, NULL);
	assert_int_equal(score_message_clues(e, m, strlen(m), 0, &c, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(score_message_clues(e, m, strlen(m), 3, &c, &n), 0);
	assert_int_equal(n, 6);
	int plain_spam = 0, plain_ham = 0;
	for (size_t i = 0; i < n; i++) {
		assert_non_null(c[i].name);
		assert_true(c[i].spam + c[i].ham > 0);
		if (i < 3) {
			assert_true(c[i].f > 0.5);
			assert_true(c[i].spam > 0);
			plain_spam += is_in(c[i].name, spam_words, MW_ARRAY_LEN(spam_words));
			assert_false(is_in(c[i].name, ham_words, MW_ARRAY_LEN(ham_words)));
		} else {
			assert_true(c[i].f < 0.5);
			assert_true(c[i].ham > 0);
			plain_ham += is_in(c[i].name, ham_words, MW_ARRAY_LEN(ham_words));
			assert_false(is_in(c[i].name, spam_words, MW_ARRAY_LEN(spam_words)));
		}
		if (i != 0 && i != 3)   /* each side: the strongest first */
			assert_true(fabs(c[i].f - 0.5) <= fabs(c[i - 1].f - 0.5));
	}
	assert_true(plain_spam > 0);
	assert_true(plain_ham > 0);
	score_clues_free(c, n);
	/* many asked, few leaning spam: only what there is */
	const char *hammy = "From: a@b.example\nSubject: x\n\nkernel patch compiler\n";
	assert_int_equal(score_message_clues(e, hammy, strlen(hammy), 50, &c, &n), 0);
	assert_true(n > 0 && n <= 100);
	for (size_t i = 0; i < n; i++)
		if (c[i].f > 0.5)
			assert_false(is_in(c[i].name, ham_words, MW_ARRAY_LEN(ham_words)));
	score_clues_free(c, n);
	score_engine_free(e);

	/* the counts cannot be read: an error, not an empty list */
	char path[600];
	sqlite3 *db;
	snprintf(path, sizeof(path), "%s/mailward.db", f->c.data_dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE bayes_token;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	e = score_engine_new(f->s, NULL);
	c = (struct score_clue *)&n;   /* must be reset */
	assert_int_equal(score_message_clues(e, m, strlen(m), 3, &c, &n), -1);
	assert_null(c);
	assert_int_equal(n, 0);
	score_engine_free(e);
}

/* A leading clue longer than the reason keeps of it, with a two-byte
 * character across the cut: the name is cut before that character, so the
 * reason (logged, shown as JSON) stays UTF-8. */
static void test_clue_names_cut_at_a_character(void **state)
{
	struct fx *f = *state;
	uint32_t seed = 31;
	/* "xm:=" (4 bytes) + "a" + 40 two-byte characters: byte 40 of the
	 * feature's name is the second byte of a character */
	char mailer[128] = "X-Mailer: a";
	for (int i = 0; i < 40; i++)
		strcat(mailer, "\xc3\xa4");   /* a-umlaut */
	strcat(mailer, "\n");

	struct score_trainer *t = score_trainer_new(f->s);
	for (unsigned i = 0; i < 210; i++)
		for (int spam = 0; spam <= 1; spam++) {
			char *m = synth(spam, i, &seed);
			char *full = xasprintf("%s%s", spam ? mailer : "", m);
			assert_true(score_trainer_add(t, full, strlen(full), spam) >= 0);
			free(full);
			free(m);
		}
	assert_true(score_trainer_flush(t) >= 0);
	score_trainer_free(t);

	struct score_engine *e = score_engine_new(f->s, NULL);
	score_engine_set_clue_names(e, 1);
	char *m = xasprintf("%sFrom: a@b.example\nSubject: hello\n\nthe and you for this\n", mailer);
	struct score_verdict v;
	assert_int_equal(score_message(e, m, strlen(m), &v), 0);
	const struct score_symbol *tc = sym(&v, "BAYES_TOP_CLUES");
	assert_non_null(tc);
	const char *xm = strstr(tc->reason, "'xm:=a\xc3\xa4");
	assert_non_null(xm);
	const char *end = strchr(xm + 1, '\'');
	assert_non_null(end);
	assert_int_equal(end - xm - 1, 39);   /* 40 would split a character */
	assert_true(smtp_utf8_valid(tc->reason, strlen(tc->reason)));
	score_verdict_free(&v);
	free(m);
	score_engine_free(e);
}

/* The message is known (bayes_msg answers) but its tokens cannot be read:
 * the check must report the error, not count the message as one without a
 * Bayes opinion - the run would end "0 reinforced" as if all were well. */
static void test_check_classify_error(void **state)
{
	struct fx *f = *state;
	uint32_t seed = 4242;
	char path[600];
	sqlite3 *db;

	train(f->s, 210, &seed);
	char *m = synth(1, 0, &seed);
	struct score_trainer *t = score_trainer_new(f->s);
	assert_true(score_trainer_add(t, m, strlen(m), 1) >= 0);
	assert_true(score_trainer_flush(t) >= 0);
	score_trainer_free(t);

	snprintf(path, sizeof(path), "%s/mailward.db", f->c.data_dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE bayes_token;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	t = score_trainer_new(f->s);
	struct score_check ck;
	assert_int_equal(score_trainer_check(t, m, strlen(m), &ck), -1);
	assert_false(ck.queued);
	assert_int_equal(score_trainer_reinforce(t), 0);
	score_trainer_free(t);
	free(m);
}

/* Per-message time of a typical message (a few KiB, multipart/alternative,
 * a few URLs) with a trained store: printed for the record, not asserted
 * (machines and sanitizer builds differ). */
static void test_speed(void **state)
{
	struct fx *f = *state;
	uint32_t seed = 777;
	train(f->s, 250, &seed);

	struct buf body = BUF_INIT;
	buf_append_str(&body, alt_body);
	char *syn = synth(0, 4242, &seed);
	char *text = strstr(syn, "\n\n");
	for (int i = 0; i < 6; i++)
		buf_append_str(&body, text);
	char *m = mk("Re: the release schedule", alt_headers, body.data);

	struct score_engine *e = score_engine_new(f->s, NULL);
	const int n = getenv("MAILWARD_SANITIZED") && strcmp(getenv("MAILWARD_SANITIZED"), "1") == 0 ? 200 : 3000;
	struct timespec a, b;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
	for (int i = 0; i < n; i++) {
		struct score_verdict v;
		assert_int_equal(score_message(e, m, strlen(m), &v), 0);
		score_verdict_free(&v);
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
	double us = ((double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3) / n;
	printf("score_message: %.1f us CPU per message (%zu bytes, %d runs, parse + rules + Bayes)\n",
	    us, strlen(m), n);
	score_engine_free(e);
	free(m);
	free(syn);
	buf_free(&body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_gtube),
		cmocka_unit_test(test_missing_headers),
		cmocka_unit_test(test_date_vs_received),
		cmocka_unit_test(test_rfc5322_date),
		cmocka_unit_test(test_subject),
		cmocka_unit_test(test_from_spoof),
		cmocka_unit_test(test_ratware_headers),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_url_userinfo_host),
		cmocka_unit_test(test_url_shortener),
		cmocka_unit_test(test_mime_flags),
		cmocka_unit_test(test_mime_limit),
		cmocka_unit_test(test_mime_structure),
		cmocka_unit_test(test_exe_attachment),
		cmocka_unit_test(test_archive_attachment),
		cmocka_unit_test(test_bulk),
		cmocka_unit_test(test_thresholds),
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test_setup_teardown(test_bayes_untrained, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bayes_end_to_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_train_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_train_reinforce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_classify_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_clues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clue_names_cut_at_a_character, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bayes_storage_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_speed, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
