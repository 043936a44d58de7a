/*
 * Unit tests: the ARF complaint parser (src/complaint/arf.c).  Hand-written
 * reports live in tests/unit/data/arf/ (ARF_TEST_DATA overrides the folder;
 * run from the repository root); the bombs (nesting, part and field floods,
 * long values and lists, oversized input) are generated here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/util.h"
#include "complaint/arf.h"

static const char *data_dir(void)
{
	const char *d = getenv("ARF_TEST_DATA");
	return d ? d : "tests/unit/data/arf";
}

static char *read_file(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", data_dir(), name);
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s (run from the repository root)", path);
	struct buf b = BUF_INIT;
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	*len = b.len;
	return buf_steal(&b);
}

static int parse_file(const char *name, struct arf_report *r)
{
	size_t len;
	char *data = read_file(name, &len);
	int rc = arf_parse(data, len, r);
	free(data);
	return rc;
}

static int parse_buf(struct buf *b, struct arf_report *r)
{
	return arf_parse(b->data, b->len, r);
}

/* Every string of a report is present, capped and free of control chars. */
static void assert_clean(const struct arf_report *r)
{
	const char *strs[] = { r->reporter, r->feedback_type_raw, r->user_agent, r->version,
			       r->original_mail_from, r->arrival_date, r->source_ip,
			       r->authentication_results, r->orig.message_id, r->orig.from,
			       r->orig.from_addr, r->orig.return_path, r->orig.subject,
			       r->orig.date, r->orig.received_ip };
	for (size_t i = 0; i < MW_ARRAY_LEN(strs); i++) {
		assert_non_null(strs[i]);
		assert_true(strlen(strs[i]) <= ARF_MAX_VALUE);
		for (const char *p = strs[i]; *p; p++)
			assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
	}
	assert_true(r->n_original_rcpt_to <= ARF_MAX_LIST);
	assert_true(r->orig.body_len <= ARF_MAX_BODY);
	assert_int_equal(strlen(r->digest), 64);
}

static void test_wellformed(void **state)
{
	struct arf_report r;
	assert_int_equal(parse_file("wellformed.eml", &r), ARF_OK);
	assert_clean(&r);
	assert_int_equal(r.kind, ARF_OK);
	assert_int_equal(r.flags, 0);
	assert_string_equal(r.reporter, "fbl@feedback.example.net");
	assert_int_equal(r.feedback_type, ARF_FT_ABUSE);
	assert_string_equal(r.user_agent, "ExampleFBL/2.4");
	assert_string_equal(r.version, "1");
	assert_string_equal(r.original_mail_from, "news@shop.example.org");
	assert_int_equal(r.n_original_rcpt_to, 1);
	assert_string_equal(r.original_rcpt_to[0], "alice@feedback.example.net");
	assert_string_equal(r.arrival_date, "Thu, 26 Nov 2026 18:02:51 +0000");
	assert_string_equal(r.source_ip, "192.0.2.45");
	assert_int_equal(r.n_reported_domain, 1);
	assert_string_equal(r.reported_domain[0], "shop.example.org");
	/* Folded value, unfolded to one space. */
	assert_string_equal(r.authentication_results,
			    "mx.feedback.example.net; spf=pass smtp.mailfrom=shop.example.org");
	assert_int_equal(r.incidents, 1);

	assert_int_equal(r.orig.present, 2);
	assert_string_equal(r.orig.ref, "K7QX-M4PA");
	assert_string_equal(r.orig.message_id, "20261126180244.77@shop.example.org");
	assert_string_equal(r.orig.from, "\"Shop Deals\" <News@Shop.Example.ORG>");
	assert_string_equal(r.orig.from_addr, "News@shop.example.org");
	assert_string_equal(r.orig.return_path, "news@shop.example.org");
	assert_string_equal(r.orig.subject, "Last chance: 70% off everything");
	assert_string_equal(r.orig.date, "Thu, 26 Nov 2026 18:02:44 +0000");
	/* The topmost Received: the hop into the reporter's mailbox. */
	assert_string_equal(r.orig.received_ip, "198.51.100.7");
	assert_non_null(strstr(r.orig.body, "biggest sale of the year ends tonight.\nClick"));
	assert_non_null(strstr(r.orig.body, "Shop Deals, 1 Market Street"));
	assert_true(r.orig.raw_len > 0);
	assert_true(strncmp(r.orig.raw, "Return-Path:", 12) == 0);
	arf_report_free(&r);
	arf_report_free(&r); /* a freed report is zeroed: safe twice */
}

static void test_crlf_same_as_lf(void **state)
{
	struct arf_report a, b;
	assert_int_equal(parse_file("wellformed.eml", &a), ARF_OK);
	assert_int_equal(parse_file("wellformed_crlf.eml", &b), ARF_OK);
	assert_int_equal(b.flags, 0);
	assert_string_equal(a.orig.ref, b.orig.ref);
	assert_string_equal(a.authentication_results, b.authentication_results);
	assert_string_equal(a.orig.body, b.orig.body); /* CRLF -> '\n' */
	assert_string_equal(a.digest, b.digest);
	arf_report_free(&a);
	arf_report_free(&b);
}

static void test_headers_only(void **state)
{
	struct arf_report r;
	assert_int_equal(parse_file("headers_only.eml", &r), ARF_OK);
	assert_clean(&r);
	assert_int_equal(r.flags, ARF_F_HEADERS_ONLY);
	assert_int_equal(r.feedback_type, ARF_FT_FRAUD);
	assert_string_equal(r.source_ip, "2001:db8::1:7"); /* normalised */
	assert_int_equal(r.orig.present, 1);
	assert_string_equal(r.orig.ref, "2B3C-D4E5");     /* canonical form */
	assert_string_equal(r.orig.message_id, "abc.123@bulk.example.biz");
	assert_string_equal(r.orig.from_addr, "winner@bulk.example.biz");
	assert_string_equal(r.orig.received_ip, "2001:db8::1:7");
	assert_string_equal(r.orig.body, "");
	assert_int_equal(r.orig.body_len, 0);
	arf_report_free(&r);
}

static void test_base64_original_is_duplicate(void **state)
{
	struct arf_report a, b;
	assert_int_equal(parse_file("wellformed.eml", &a), ARF_OK);
	/* The same complaint resent: new Date and Message-ID of the report,
	 * feedback fields in another order, original base64 with CRLF. */
	assert_int_equal(parse_file("resent_base64.eml", &b), ARF_OK);
	assert_int_equal(b.flags, 0);
	assert_string_equal(b.orig.ref, "K7QX-M4PA");
	assert_string_equal(b.orig.subject, a.orig.subject);
	assert_non_null(strstr(b.orig.body, "Click http://shop.example.org/sale to save.\n"));
	assert_null(strchr(b.orig.body, '\r'));
	assert_string_equal(a.digest, b.digest);
	arf_report_free(&a);
	arf_report_free(&b);
}

static void test_multi_rcpt(void **state)
{
	struct arf_report r;
	assert_int_equal(parse_file("multi_rcpt.eml", &r), ARF_OK);
	assert_clean(&r);
	assert_int_equal(r.flags, 0);
	assert_int_equal(r.n_original_rcpt_to, 3);
	assert_string_equal(r.original_rcpt_to[0], "u1@bigmail.example");
	assert_string_equal(r.original_rcpt_to[1], "u2@bigmail.example");
	assert_string_equal(r.original_rcpt_to[2], "u3@bigmail.example");
	assert_int_equal(r.n_reported_domain, 2);
	assert_string_equal(r.reported_domain[1], "tracker.example.com");
	assert_int_equal(r.n_reported_uri, 2);
	assert_string_equal(r.reported_uri[0], "http://tracker.example.com/o/1");
	assert_string_equal(r.reported_uri[1], "mailto:unsub@list.example.com");
	assert_int_equal(r.incidents, 3);
	assert_string_equal(r.original_mail_from, "bounces+77@list.example.com");
	assert_string_equal(r.orig.ref, "MN7P-QR8S");
	assert_string_equal(r.orig.body, "Weekly digest body.");
	arf_report_free(&r);
}

static void test_missing_and_invalid_fields(void **state)
{
	struct arf_report r;
	assert_int_equal(parse_file("missing_fields.eml", &r), ARF_OK);
	assert_clean(&r);
	assert_true(r.flags & ARF_F_MISSING_VERSION);
	assert_true(r.flags & ARF_F_MISSING_USER_AGENT);
	assert_true(r.flags & ARF_F_UNKNOWN_FEEDBACK_TYPE);
	assert_true(r.flags & ARF_F_BAD_FIELD); /* second Feedback-Type, Source-IP, Incidents */
	assert_int_equal(r.feedback_type, ARF_FT_UNKNOWN);
	assert_string_equal(r.feedback_type_raw, "spam-complaint"); /* the first wins */
	assert_string_equal(r.source_ip, "");
	assert_int_equal(r.incidents, 1);
	assert_int_equal(r.n_original_rcpt_to, 0); /* the empty one is dropped */
	assert_string_equal(r.orig.from_addr, "a@b.example");
	assert_string_equal(r.orig.ref, "");
	arf_report_free(&r);

	/* No Feedback-Type at all, a bad ref id. */
	struct buf b = BUF_INIT;
	buf_append_str(&b, "Content-Type: multipart/report; report-type=feedback-report; boundary=x\n\n"
			   "--x\nContent-Type: message/feedback-report\n\nUser-Agent: u\nVersion: 1\n"
			   "--x\nContent-Type: message/rfc822\n\nX-Mailward-Ref: 0000-1111\n"
			   "Message-ID: <m@x>\n\nbody\n--x--\n");
	assert_int_equal(parse_buf(&b, &r), ARF_OK);
	assert_true(r.flags & ARF_F_MISSING_FEEDBACK_TYPE);
	assert_true(r.flags & ARF_F_BAD_REF);
	assert_string_equal(r.orig.ref, "");
	assert_string_equal(r.orig.message_id, "m@x");
	arf_report_free(&r);
	buf_free(&b);
}

static void test_wrong_report_type(void **state)
{
	struct arf_report r;
	/* multipart/mixed with a feedback part, Version 0.1: still ARF. */
	assert_int_equal(parse_file("wrong_report_type.eml", &r), ARF_OK);
	assert_int_equal(r.flags, ARF_F_WRONG_TYPE | ARF_F_BAD_VERSION);
	assert_int_equal(r.feedback_type, ARF_FT_ABUSE);
	assert_string_equal(r.orig.ref, "HJKM-NPQR");
	arf_report_free(&r);

	/* A DSN is a report but not a complaint: not ARF, the original is kept. */
	assert_int_equal(parse_file("dsn.eml", &r), ARF_NOT_ARF);
	assert_int_equal(r.feedback_type, ARF_FT_UNKNOWN);
	assert_string_equal(r.orig.ref, "ABCD-EFGH");
	assert_string_equal(r.orig.message_id, "bounced@ours.example");
	arf_report_free(&r);

	/* Feedback fields in a text/plain second part. */
	assert_int_equal(parse_file("feedback_as_text.eml", &r), ARF_OK);
	assert_true(r.flags & ARF_F_BAD_PART_TYPE);
	assert_int_equal(r.feedback_type, ARF_FT_VIRUS);
	assert_string_equal(r.orig.ref, "TVWX-YZ23");
	assert_string_equal(r.orig.received_ip, "192.0.2.200");
	arf_report_free(&r);
}

static void test_forward_with_ref(void **state)
{
	struct arf_report r;
	assert_int_equal(parse_file("forward_ref.eml", &r), ARF_NOT_ARF);
	assert_clean(&r);
	/* The attached message's ref, never the forward's own (which is the
	 * one mailward added when the complaint itself came in). */
	assert_string_equal(r.orig.ref, "5678-9ABC");
	assert_string_equal(r.reporter, "bob@tenant.example");
	assert_string_equal(r.orig.message_id, "rx-1@pharm.example");
	assert_string_equal(r.orig.received_ip, "198.51.100.66");
	/* text/plain preferred over the HTML part; QP decoded, soft break joined. */
	assert_string_equal(r.orig.body, "Buy now \xE2\x80\x94 cheap meds, no prescription needed.");
	arf_report_free(&r);

	assert_int_equal(parse_file("forward_inline_ref.eml", &r), ARF_NOT_ARF);
	assert_int_equal(r.flags, ARF_F_REF_FROM_TEXT);
	assert_string_equal(r.orig.ref, "DEFG-HJKM");
	assert_int_equal(r.orig.present, 0);
	arf_report_free(&r);
}

static void test_forward_without_anything(void **state)
{
	struct arf_report r;
	assert_int_equal(parse_file("forward_nothing.eml", &r), ARF_NONE);
	assert_clean(&r);
	assert_int_equal(r.kind, ARF_NONE);
	assert_true(r.flags & ARF_F_NO_ORIGINAL);
	assert_string_equal(r.reporter, "dave@tenant.example");
	assert_string_equal(r.orig.ref, "");
	arf_report_free(&r);

	assert_int_equal(arf_parse("", 0, &r), ARF_NONE);
	assert_clean(&r);
	arf_report_free(&r);
	assert_int_equal(arf_parse(NULL, 0, &r), ARF_NONE);
	arf_report_free(&r);
}

static void test_forwarded_arf(void **state)
{
	struct arf_report a, b;
	assert_int_equal(parse_file("forwarded_arf.eml", &a), ARF_OK);
	assert_int_equal(a.flags, ARF_F_FORWARDED);
	assert_string_equal(a.orig.ref, "K7QX-M4PA");
	assert_string_equal(a.user_agent, "ExampleFBL/2.4");
	assert_int_equal(parse_file("wellformed.eml", &b), ARF_OK);
	assert_string_equal(a.digest, b.digest); /* the same report */
	arf_report_free(&a);
	arf_report_free(&b);
}

static char *replace(const char *s, const char *from, const char *to)
{
	const char *hit = strstr(s, from);
	assert_non_null(hit);
	return xasprintf("%.*s%s%s", (int)(hit - s), s, to, hit + strlen(from));
}

static void test_digest_distinguishes(void **state)
{
	size_t len;
	char *base = read_file("wellformed.eml", &len);
	struct arf_report a, b;
	assert_int_equal(arf_parse(base, len, &a), ARF_OK);

	/* Another recipient complaining about the same message: another report. */
	char *other = replace(base, "Original-Rcpt-To: <alice@", "Original-Rcpt-To: <bob@");
	assert_int_equal(arf_parse(other, strlen(other), &b), ARF_OK);
	assert_string_not_equal(a.digest, b.digest);
	arf_report_free(&b);
	free(other);

	/* Another original message: another report. */
	other = replace(base, "<20261126180244.77@", "<20261126180244.78@");
	assert_int_equal(arf_parse(other, strlen(other), &b), ARF_OK);
	assert_string_not_equal(a.digest, b.digest);
	arf_report_free(&b);
	free(other);

	/* Only the report's transport differs (Subject, human text): the same. */
	other = replace(base, "Subject: Complaint about", "Subject: FBL: complaint about");
	char *other2 = replace(other, "marked the attached", "flagged the attached");
	assert_int_equal(arf_parse(other2, strlen(other2), &b), ARF_OK);
	assert_string_equal(a.digest, b.digest);
	arf_report_free(&b);
	free(other);
	free(other2);

	/* Whitespace and case of field names do not matter. */
	other = replace(base, "Source-IP: 192.0.2.45", "source-ip:    192.0.2.45  ");
	assert_int_equal(arf_parse(other, strlen(other), &b), ARF_OK);
	assert_string_equal(a.digest, b.digest);
	arf_report_free(&b);
	free(other);

	arf_report_free(&a);
	free(base);
}

static void test_forward_digest(void **state)
{
	size_t len;
	char *base = read_file("forward_ref.eml", &len);
	struct arf_report a, b;
	assert_int_equal(arf_parse(base, len, &a), ARF_NOT_ARF);

	/* The same user forwarding again (another Subject, note and ref of
	 * the forward itself): one complaint. */
	char *t = replace(base, "Subject: Fwd: cheap meds", "Subject: SPAM AGAIN");
	char *t2 = replace(t, "this is spam!!", "still spam");
	char *again = replace(t2, "X-Mailward-Ref: 9999-9999", "X-Mailward-Ref: 8888-8888");
	assert_int_equal(arf_parse(again, strlen(again), &b), ARF_NOT_ARF);
	assert_string_equal(a.digest, b.digest);
	arf_report_free(&b);

	/* Another user forwarding the same message: another complaint. */
	char *other = replace(base, "From: Bob User <bob@", "From: \"Eve <x@y>\" <eve@");
	assert_int_equal(arf_parse(other, strlen(other), &b), ARF_NOT_ARF);
	assert_string_equal(b.reporter, "eve@tenant.example"); /* '<' inside quotes skipped */
	assert_string_not_equal(a.digest, b.digest);
	arf_report_free(&b);

	arf_report_free(&a);
	free(base);
	free(t);
	free(t2);
	free(again);
	free(other);
}

/* ---- bombs -------------------------------------------------------------- */

static void arf_head(struct buf *b, const char *boundary)
{
	buf_printf(b, "From: x@y.example\nContent-Type: multipart/report; "
		      "report-type=feedback-report; boundary=\"%s\"\n\n", boundary);
}

static void test_nesting_bomb(void **state)
{
	struct buf b = BUF_INIT;
	struct arf_report r;
	for (int i = 0; i < 5000; i++)
		buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n", i, i);
	buf_append_str(&b, "Content-Type: text/plain\n\nX-Mailward-Ref: K7QX-M4PA\n");
	assert_int_equal(parse_buf(&b, &r), ARF_NONE); /* the text is out of reach */
	assert_true(r.flags & ARF_F_LIMIT_DEPTH);
	arf_report_free(&r);

	/* Forwards of forwards of a message. */
	buf_reset(&b);
	for (int i = 0; i < 5000; i++)
		buf_append_str(&b, "Subject: fwd\nContent-Type: message/rfc822\n\n");
	buf_append_str(&b, "X-Mailward-Ref: K7QX-M4PA\n\nbody\n");
	int rc = parse_buf(&b, &r);
	assert_true(rc == ARF_NOT_ARF || rc == ARF_NONE);
	assert_true(r.flags & ARF_F_LIMIT_DEPTH);
	assert_string_equal(r.orig.ref, ""); /* too deep to be ours */
	arf_report_free(&r);
	buf_free(&b);
}

static void test_part_bomb(void **state)
{
	struct buf b = BUF_INIT;
	struct arf_report r;
	arf_head(&b, "p");
	for (int i = 0; i < 100000; i++)
		buf_append_str(&b, "--p\n\nx\n");
	buf_append_str(&b, "--p\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n--p--\n");
	assert_int_equal(parse_buf(&b, &r), ARF_NONE); /* the feedback part is past the cap */
	assert_true(r.flags & ARF_F_LIMIT_PARTS);
	arf_report_free(&r);
	buf_free(&b);
}

static void test_field_and_list_floods(void **state)
{
	struct buf b = BUF_INIT;
	struct arf_report r;
	arf_head(&b, "f");
	buf_append_str(&b, "--f\nContent-Type: message/feedback-report\n\n"
			   "Feedback-Type: abuse\nUser-Agent: flood\nVersion: 1\n");
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "Original-Rcpt-To: <u%d@example.net>\n", i);
	buf_append_str(&b, "Reported-Uri: http://");
	for (int i = 0; i < 200000; i++)
		buf_append_str(&b, "aaaaa");
	buf_append_str(&b, "\n--f\nContent-Type: message/rfc822\n\n");
	for (int i = 0; i < 50000; i++)
		buf_append_str(&b, "X-Junk: 1\n");
	buf_append_str(&b, "X-Mailward-Ref: K7QX-M4PA\n\nbody\n--f--\n");
	assert_int_equal(parse_buf(&b, &r), ARF_OK);
	assert_clean(&r);
	assert_int_equal(r.feedback_type, ARF_FT_ABUSE);
	assert_true(r.flags & ARF_F_LIMIT_LIST);
	assert_true(r.flags & ARF_F_LIMIT_FIELDS);
	assert_int_equal(r.n_original_rcpt_to, ARF_MAX_LIST);
	assert_string_equal(r.original_rcpt_to[ARF_MAX_LIST - 1], "u63@example.net");
	/* Fields past the cap are not read: the ref after 50 000 fields is lost. */
	assert_string_equal(r.orig.ref, "");
	arf_report_free(&r);

	/* One very long value is cut at the cap. */
	buf_reset(&b);
	arf_head(&b, "g");
	buf_append_str(&b, "--g\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n"
			   "User-Agent: ");
	for (int i = 0; i < 100000; i++)
		buf_append_str(&b, "\xC3\xA9 ");
	buf_append_str(&b, "\n--g--\n");
	assert_int_equal(parse_buf(&b, &r), ARF_OK);
	assert_clean(&r);
	assert_true(r.flags & ARF_F_LIMIT_VALUE);
	assert_true(strlen(r.user_agent) <= ARF_MAX_VALUE);
	assert_true(strlen(r.user_agent) > ARF_MAX_VALUE - 4);
	arf_report_free(&r);
	buf_free(&b);
}

static void test_size_caps(void **state)
{
	struct buf b = BUF_INIT;
	struct arf_report r;
	/* A big original body: kept up to the caps. */
	arf_head(&b, "s");
	buf_append_str(&b, "--s\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n"
			   "User-Agent: x\nVersion: 1\n--s\nContent-Type: message/rfc822\n\n"
			   "X-Mailward-Ref: K7QX-M4PA\nContent-Type: text/plain\n\n");
	for (int i = 0; i < 40000; i++)
		buf_append_str(&b, "spam spam spam spam spam spam spam spam spam spam\n");
	buf_append_str(&b, "--s--\n");
	assert_int_equal(parse_buf(&b, &r), ARF_OK);
	assert_clean(&r);
	assert_true(r.flags & ARF_F_BODY_TRUNCATED);
	assert_int_equal(r.orig.body_len, ARF_MAX_BODY);
	assert_int_equal(r.orig.raw_len, ARF_MAX_RAW);
	assert_string_equal(r.orig.ref, "K7QX-M4PA");
	arf_report_free(&r);

	/* Input past ARF_MAX_INPUT is not examined. */
	buf_reset(&b);
	buf_append_str(&b, "Subject: big\n\n");
	while (b.len <= ARF_MAX_INPUT)
		buf_append_str(&b, "filler filler filler filler filler filler filler filler\n");
	buf_append_str(&b, "X-Mailward-Ref: K7QX-M4PA\n");
	assert_int_equal(parse_buf(&b, &r), ARF_NONE);
	assert_true(r.flags & ARF_F_LIMIT_INPUT);
	arf_report_free(&r);

	/* Garbage base64 and a boundary that never closes. */
	buf_reset(&b);
	arf_head(&b, "t");
	buf_append_str(&b, "--t\nContent-Type: message/feedback-report\n\nFeedback-Type: other\n"
			   "--t\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
			   "!!!!****WC1NYWlsd2FyZC1SZWY6IEs3UVgtTTRQQQo=\n");
	assert_int_equal(parse_buf(&b, &r), ARF_OK);
	assert_true(r.flags & ARF_F_BAD_ENCODING);
	assert_true(r.flags & ARF_F_MALFORMED_MIME);
	assert_int_equal(r.feedback_type, ARF_FT_OTHER);
	assert_string_equal(r.orig.ref, "K7QX-M4PA");
	arf_report_free(&r);
	buf_free(&b);
}

static void test_control_characters(void **state)
{
	struct buf b = BUF_INIT;
	struct arf_report r;
	arf_head(&b, "c");
	buf_append_str(&b, "--c\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n"
			   "User-Agent: evil\x1b[31m\x07 \xff\xfe agent\n"
			   "--c\nContent-Type: message/rfc822\n\nSubject: a\x01\x7f" "b\n\nline\x01one\r\n\ttwo\n--c--\n");
	assert_int_equal(parse_buf(&b, &r), ARF_OK);
	assert_clean(&r);
	assert_string_equal(r.user_agent, "evil [31m ?? agent");
	assert_string_equal(r.orig.subject, "a b");
	assert_string_equal(r.orig.body, "lineone\n\ttwo");
	arf_report_free(&r);
	buf_free(&b);
}

static void test_names(void **state)
{
	for (unsigned i = 0; i <= 22; i++)
		assert_non_null(arf_flag_name(1u << i));
	assert_null(arf_flag_name(1u << 30));
	assert_string_equal(arf_feedback_type_name(ARF_FT_AUTH_FAILURE), "auth-failure");
	assert_string_equal(arf_feedback_type_name((enum arf_feedback_type)99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wellformed),
		cmocka_unit_test(test_crlf_same_as_lf),
		cmocka_unit_test(test_headers_only),
		cmocka_unit_test(test_base64_original_is_duplicate),
		cmocka_unit_test(test_multi_rcpt),
		cmocka_unit_test(test_missing_and_invalid_fields),
		cmocka_unit_test(test_wrong_report_type),
		cmocka_unit_test(test_forward_with_ref),
		cmocka_unit_test(test_forward_without_anything),
		cmocka_unit_test(test_forwarded_arf),
		cmocka_unit_test(test_digest_distinguishes),
		cmocka_unit_test(test_forward_digest),
		cmocka_unit_test(test_nesting_bomb),
		cmocka_unit_test(test_part_bomb),
		cmocka_unit_test(test_field_and_list_floods),
		cmocka_unit_test(test_size_caps),
		cmocka_unit_test(test_control_characters),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
