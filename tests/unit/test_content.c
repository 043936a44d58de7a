/*
 * Unit tests: content analysis (src/content/).  Small hand-written messages
 * live in tests/unit/data/content/; the large malformed ones (nesting and
 * part bombs, header flood, base64 garbage, charset bombs) are generated
 * here.  Run from the repository root (CONTENT_TEST_DATA overrides the data
 * folder).  TEST_VERBOSE=1 dumps each parsed view.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/util.h"
#include "content/content.h"
#include "content/content_archive.h"
#include "content/content_htmlfile.h"
#include "content/content_office.h"
#include "content/content_onenote.h"
#include "content/content_ooxml.h"
#include "content/content_rtf.h"
#include "content/content_pdf.h"
#include "archive_build.h"

static const char *data_dir(void)
{
	const char *d = getenv("CONTENT_TEST_DATA");
	return d ? d : "tests/unit/data/content";
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

static int valid_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		unsigned c = p[i];
		size_t k;
		unsigned min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			k = 1, min = 0x80, c &= 0x1F;
		} else if ((c & 0xF0) == 0xE0) {
			k = 2, min = 0x800, c &= 0x0F;
		} else if ((c & 0xF8) == 0xF0) {
			k = 3, min = 0x10000, c &= 0x07;
		} else {
			return 0;
		}
		for (size_t j = 1; j <= k; j++) {
			if (i + j >= n || (p[i + j] & 0xC0) != 0x80)
				return 0;
			c = (c << 6) | (p[i + j] & 0x3F);
		}
		if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
			return 0;
		i += k + 1;
	}
	return 1;
}

static void dump(const char *what, const struct content_msg *m)
{
	if (getenv("TEST_VERBOSE") == NULL)
		return;
	printf("=== %s: flags", what);
	for (unsigned b = 1; b; b <<= 1)
		if (content_flags(m) & b)
			printf(" %s", content_flag_name(b));
	printf("\n parts=%zu depth=%zu subject=[%s] from=[%s] addr=[%s] mid=[%s]\n",
		content_part_count(m), content_max_depth(m), content_subject(m), content_from(m),
		content_from_addr(m), content_message_id(m));
	for (size_t i = 0; i < content_header_count(m) && i < 20; i++)
		printf(" H %s: %.80s\n", content_header_at(m, i)->name, content_header_at(m, i)->value);
	for (size_t i = 0; i < content_text_count(m) && i < 10; i++) {
		const struct content_text *t = content_text_at(m, i);
		printf(" T%zu %s cs=%s len=%zu trunc=%d [%.300s]\n", i,
			t->type == CONTENT_TEXT_HTML ? "html" : "plain", t->charset, t->len, t->truncated, t->text);
	}
	for (size_t i = 0; i < content_url_count(m) && i < 20; i++) {
		const struct content_url *u = content_url_at(m, i);
		printf(" U %s host=%s rd=%s ip=%d href=%d n=%u\n", u->url, u->host, u->reg_domain,
			u->is_ip, u->in_href, u->count);
	}
	for (size_t i = 0; i < content_attachment_count(m); i++) {
		const struct content_attachment *a = content_attachment_at(m, i);
		printf(" A [%s] %s det=%s size=%zu trunc=%d %s\n", a->filename, a->declared_type,
			content_ftype_name(a->detected), a->size, a->truncated, a->sha256);
	}
	const struct content_html_features *h = content_html(m);
	printf(" html parts=%u hidden=%u tiny=%u links=%u mismatch=%u img=%u forms=%u chars=%zu imgonly=%d\n",
		h->parts, h->hidden_text, h->tiny_text, h->links, h->link_mismatch, h->images, h->forms,
		h->text_chars, h->image_only);
	enum content_sig_method sm;
	const char *sig = content_signature(m, &sm);
	printf(" sig(%d)=[%s] last=[%s]\n", sm, sig ? sig : "(none)", content_last_block(m) ? content_last_block(m) : "(none)");
}

static struct content_msg *parse_file(const char *name)
{
	size_t len;
	char *d = read_file(name, &len);
	struct content_msg *m = content_parse(d, len, NULL);
	free(d);
	assert_non_null(m);
	dump(name, m);
	return m;
}

static struct content_msg *parse_buf(const char *what, const struct buf *b, const struct content_limits *lim)
{
	struct content_msg *m = content_parse(b->data, b->len, lim);
	assert_non_null(m);
	dump(what, m);
	/* Invariant for every message: all texts valid UTF-8 and bounded. */
	struct content_limits l = lim ? *lim : content_limits_default();
	for (size_t i = 0; i < content_text_count(m); i++) {
		const struct content_text *t = content_text_at(m, i);
		assert_true(valid_utf8(t->text, t->len));
		assert_true(t->len <= l.max_text_bytes);
		assert_int_equal(strlen(t->text), t->len);
	}
	return m;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const struct content_url *find_url(const struct content_msg *m, const char *prefix)
{
	for (size_t i = 0; i < content_url_count(m); i++)
		if (strncmp(content_url_at(m, i)->url, prefix, strlen(prefix)) == 0)
			return content_url_at(m, i);
	return NULL;
}

static const struct content_attachment *find_att(const struct content_msg *m, const char *name)
{
	for (size_t i = 0; i < content_attachment_count(m); i++)
		if (strcmp(content_attachment_at(m, i)->filename, name) == 0)
			return content_attachment_at(m, i);
	return NULL;
}

/* ---- well-formed messages -------------------------------------------------- */

static void test_simple_headers_texts_urls(void **state)
{
	(void)state;
	struct content_msg *m = parse_file("simple.eml");
	assert_int_equal(content_flags(m) & ~0u, 0);
	assert_string_equal(content_subject(m), "Quarterly report \xe2\x80\x93 \xc3\xa9" "t\xc3\xa9");
	assert_string_equal(content_from_addr(m), "Alice@example.org");
	assert_non_null(strstr(content_from(m), "Al\xc3\xaf" "ce"));
	assert_string_equal(content_message_id(m), "abc123@example.org");
	int64_t d;
	assert_int_equal(content_date(m, &d), 0);
	assert_int_equal(d, 1793613600); /* 2026-11-02 10:00:00 UTC */
	assert_non_null(content_header(m, "received", 0));
	assert_null(content_header(m, "received", 1));
	assert_string_equal(content_header(m, "To", 0), "bob@example.net");

	assert_int_equal(content_text_count(m), 2);
	const struct content_text *p = content_text_at(m, 0), *h = content_text_at(m, 1);
	assert_int_equal(p->type, CONTENT_TEXT_PLAIN);
	assert_int_equal(h->type, CONTENT_TEXT_HTML);
	assert_non_null(strstr(p->text, "Hi Bob,"));
	/* HTML: script/style/title dropped, entities decoded, blocks on lines. */
	assert_non_null(strstr(h->text, "Hi Bob,\n\nthe report is here & more."));
	assert_null(strstr(h->text, "not text"));
	assert_null(strstr(h->text, "color"));

	/* URLs de-duplicated with counts; registered domain through the PSL. */
	const struct content_url *u = find_url(m, "https://docs.a.b.example.co.uk/q3?x=1");
	assert_non_null(u);
	assert_string_equal(u->host, "docs.a.b.example.co.uk");
	assert_string_equal(u->reg_domain, "example.co.uk");
	assert_string_equal(u->scheme, "https");
	assert_false(u->is_ip);
	const struct content_url *plain = NULL;
	for (size_t i = 0; i < content_url_count(m); i++)
		if (strcmp(content_url_at(m, i)->url, "https://docs.a.b.example.co.uk/q3?x=1") == 0)
			plain = content_url_at(m, i);
	assert_non_null(plain);
	assert_int_equal(plain->count, 2); /* trailing '.' not part of the URL */
	const struct content_url *href = find_url(m, "https://docs.a.b.example.co.uk/q3?x=1&y=2");
	assert_non_null(href);
	assert_true(href->in_href);
	const struct content_url *www = find_url(m, "www.example.com/page");
	assert_non_null(www);
	assert_string_equal(www->scheme, "http");
	assert_string_equal(www->reg_domain, "example.com");

	enum content_sig_method how;
	const char *sig = content_signature(m, &how);
	assert_int_equal(how, CONTENT_SIG_DELIMITER);
	assert_string_equal(sig, "Alice Example\nExample Ltd, +44 20 7946 0958");
	content_free(m);
}

static void test_attachments_types_names_hashes(void **state)
{
	(void)state;
	struct content_msg *m = parse_file("attachments.eml");
	assert_int_equal(content_attachment_count(m), 5);
	const struct content_attachment *exe = find_att(m, "invoice.pdf.exe");
	const struct content_attachment *pdf = find_att(m, "invoice.pdf");
	assert_non_null(exe);
	assert_non_null(pdf);
	/* Declared application/pdf, content is a PE executable: both named. */
	assert_string_equal(exe->declared_type, "application/pdf");
	assert_int_equal(exe->detected, CONTENT_FT_EXE);
	assert_int_equal(pdf->detected, CONTENT_FT_EXE);
	assert_int_equal(exe->size, 16 + 256);
	assert_string_equal(exe->sha256, pdf->sha256);
	assert_int_equal(strlen(exe->sha256), 64);
	/* M14: encoded word in a filename decodes to the real extension. */
	const struct content_attachment *scr = content_attachment_at(m, 2);
	assert_string_equal(scr->filename,
		"\xd0\x94\xd0\xbe\xd0\xba\xd1\x83\xd0\xbc\xd0\xb5\xd0\xbd\xd1\x82.scr.uue");
	/* RFC 2231 with a percent-encoded dot. */
	const struct content_attachment *evil = find_att(m, "evil.exe");
	assert_non_null(evil);
	assert_int_equal(evil->detected, CONTENT_FT_SCRIPT);
	const struct content_attachment *real = find_att(m, "real.pdf");
	assert_non_null(real);
	assert_int_equal(real->detected, CONTENT_FT_PDF);
	assert_string_equal(content_ftype_name(real->detected), "pdf");
	assert_int_equal(content_text_count(m), 1);
	content_free(m);
}

static void test_charsets_converted(void **state)
{
	(void)state;
	struct content_msg *m = parse_file("charsets.eml");
	assert_int_equal(content_text_count(m), 4);
	assert_string_equal(content_text_at(m, 0)->text,
		"Caf\xc3\xa9 cr\xc3\xa8" "me \xc3\xa0 la fa\xc3\xa7" "on de Gen\xc3\xa8" "ve");
	assert_string_equal(content_text_at(m, 1)->text,
		"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\xbc\xd0\xb8\xd1\x80");
	assert_string_equal(content_text_at(m, 2)->text,
		"Hello UTF-16 \xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\xbc\xd0\xb8\xd1\x80");
	/* Unknown charset: kept as UTF-8 with the bad byte replaced, flagged. */
	const struct content_text *u = content_text_at(m, 3);
	assert_non_null(strstr(u->text, "plain ascii in an unknown charset \xef\xbf\xbd"));
	assert_true(content_flags(m) & CONTENT_F_UNKNOWN_CHARSET);
	assert_string_equal(u->charset, "x-no-such-charset");
	content_free(m);
}

static void test_html_features(void **state)
{
	(void)state;
	struct content_msg *m = parse_file("html_features.eml");
	const struct content_html_features *h = content_html(m);
	assert_int_equal(h->parts, 1);
	assert_int_equal(h->hidden_text, 3); /* display:none, font-size:0, white on white */
	assert_int_equal(h->tiny_text, 1);
	assert_int_equal(h->links, 2);
	assert_int_equal(h->link_mismatch, 1); /* paypal.com text, IP href */
	assert_int_equal(h->forms, 1);
	assert_int_equal(h->images, 1);
	assert_false(h->image_only);
	assert_true(content_flags(m) & CONTENT_F_HTML_ONLY);
	const struct content_text *t = content_text_at(m, 0);
	assert_null(strstr(t->text, "hidden words"));
	assert_null(strstr(t->text, "tiny words"));
	assert_null(strstr(t->text, "white on white"));
	assert_non_null(strstr(t->text, "<b> \xc2\xa9 \xe2\x82\xac"));
	const struct content_url *ip = find_url(m, "http://198.51.100.7/");
	assert_non_null(ip);
	assert_true(ip->is_ip);
	assert_true(ip->in_href);
	assert_non_null(find_url(m, "https://collect.evil.example/post"));
	assert_non_null(find_url(m, "https://cdn.evil.example/pixel.gif"));
	/* The visible text URL is extracted too. */
	const struct content_url *pp = find_url(m, "https://www.paypal.com/signin");
	assert_non_null(pp);
	assert_string_equal(pp->reg_domain, "paypal.com");
	content_free(m);

	m = parse_file("image_only.eml");
	h = content_html(m);
	assert_int_equal(h->images, 2);
	assert_true(h->image_only);
	assert_int_equal(h->link_mismatch, 0);
	content_free(m);
}

static void test_signature_heuristic(void **state)
{
	(void)state;
	struct content_msg *m = parse_file("sig_heuristic.eml");
	enum content_sig_method how;
	const char *sig = content_signature(m, &how);
	assert_int_equal(how, CONTENT_SIG_HEURISTIC);
	assert_non_null(sig);
	assert_true(strncmp(sig, "Best regards", 12) == 0);
	assert_non_null(strstr(sig, "Tel. +49 30 1234 5678"));
	content_free(m);

	m = parse_file("no_sig.eml");
	assert_null(content_signature(m, &how));
	assert_int_equal(how, CONTENT_SIG_NONE);
	content_free(m);

	/* "--" without the trailing space is accepted as a delimiter too; a
	 * quoted reply after it is not part of the signature. */
	struct buf b = BUF_INIT;
	buf_append_str(&b, "From: a@b.example\r\nSubject: x\r\n\r\nok\r\n--\r\nEve\r\n> quoted\r\n> more\r\n");
	m = parse_buf("sig--", &b, NULL);
	assert_string_equal(content_signature(m, &how), "Eve");
	assert_int_equal(how, CONTENT_SIG_DELIMITER);
	content_free(m);
	buf_free(&b);
}

/* R7's second form: with no delimiter and no signature-like last
 * paragraph, the last paragraph is kept as a candidate, and becomes the
 * signature block only when the caller adopts it. */
static void test_last_block_candidate(void **state)
{
	(void)state;
	enum content_sig_method how;
	struct buf b = BUF_INIT;
	/* A disclaimer: long lines, no phone, address, link or company word. */
	const char *disclaimer =
		"This message and anything attached to it are confidential and meant only for\r\n"
		"the people it is addressed to. If it reached you by mistake, please delete it\r\n"
		"and let the sender know; copying or passing it on is not allowed.";
	buf_append_str(&b, "From: a@b.example\r\nSubject: x\r\n\r\n"
			   "The crane inspection moves to Thursday morning.\r\n\r\n");
	buf_append_str(&b, disclaimer);
	buf_append_str(&b, "\r\n\r\n");
	struct content_msg *m = parse_buf("last-block", &b, NULL);
	assert_null(content_signature(m, &how));
	assert_int_equal(how, CONTENT_SIG_NONE);
	const char *lb = content_last_block(m);
	assert_non_null(lb);
	assert_true(strncmp(lb, "This message and anything", 25) == 0);
	assert_non_null(strstr(lb, "is not allowed."));
	assert_null(strstr(lb, "crane"));
	assert_int_equal(lb[strlen(lb) - 1], '.'); /* trailing blank lines left out */
	assert_int_equal(content_signature_adopt(m), 0);
	assert_string_equal(content_signature(m, &how), lb);
	assert_int_equal(how, CONTENT_SIG_REPEATED);
	assert_null(content_last_block(m));         /* it is the signature now */
	assert_int_equal(content_signature_adopt(m), -1);
	content_free(m);

	/* A found signature leaves no candidate, and nothing to adopt. */
	buf_reset(&b);
	buf_append_str(&b, "From: a@b.example\r\n\r\nok\r\n\r\nBest regards\r\nEve\r\n");
	m = parse_buf("last-block-sig", &b, NULL);
	assert_non_null(content_signature(m, &how));
	assert_int_equal(how, CONTENT_SIG_HEURISTIC);
	assert_null(content_last_block(m));
	assert_int_equal(content_signature_adopt(m), -1);
	assert_int_equal(how, CONTENT_SIG_HEURISTIC);
	content_free(m);

	/* No candidate: one paragraph only, a quoted last paragraph, one of
	 * 16 lines, one over 1 KiB. */
	const char *none[] = {
		"From: a@b.example\r\n\r\nJust one paragraph,\r\non two lines.\r\n",
		"From: a@b.example\r\n\r\nYes, agreed.\r\n\r\n> you wrote this\r\n> and this\r\n",
		NULL, NULL,
	};
	struct buf lines = BUF_INIT, big = BUF_INIT;
	buf_append_str(&lines, "From: a@b.example\r\n\r\nHello.\r\n\r\n");
	for (int i = 0; i < 16; i++)
		buf_append_str(&lines, "a line of the footer\r\n");
	buf_append(&lines, "", 1);
	none[2] = lines.data;
	buf_append_str(&big, "From: a@b.example\r\n\r\nHello.\r\n\r\n");
	for (int i = 0; i < 11; i++)
		buf_append_str(&big, "one hundred bytes of a long footer line, one hundred bytes of a long footer line, and more words\r\n");
	buf_append(&big, "", 1);
	none[3] = big.data;
	for (size_t i = 0; i < MW_ARRAY_LEN(none); i++) {
		buf_reset(&b);
		buf_append_str(&b, none[i]);
		m = parse_buf("no-last-block", &b, NULL);
		assert_null(content_signature(m, &how));
		if (content_last_block(m) != NULL)
			fail_msg("case %zu: a last block: [%s]", i, content_last_block(m));
		assert_int_equal(content_signature_adopt(m), -1);
		content_free(m);
	}
	/* 15 lines and just under 1 KiB are a candidate. */
	buf_reset(&lines);
	buf_append_str(&lines, "From: a@b.example\r\n\r\nHello.\r\n\r\n");
	for (int i = 0; i < 15; i++)
		buf_append_str(&lines, "a line of the footer\r\n");
	m = parse_buf("15-lines", &lines, NULL);
	assert_non_null(content_last_block(m));
	content_free(m);
	buf_free(&lines);
	buf_free(&big);
	buf_free(&b);
}

/* ---- malformed messages (files) --------------------------------------------- */

static void test_broken_boundaries(void **state)
{
	(void)state;
	struct content_msg *m = parse_file("broken_boundary.eml");
	assert_true(content_flags(m) & CONTENT_F_BAD_BOUNDARY);
	assert_true(content_flags(m) & CONTENT_F_MISSING_DATE);
	assert_true(content_flags(m) & CONTENT_F_MISSING_MESSAGE_ID);
	/* Both parts are still seen, the attachment scanned. */
	assert_int_equal(content_text_count(m), 1);
	assert_int_equal(content_attachment_count(m), 1);
	assert_int_equal(content_attachment_at(m, 0)->detected, CONTENT_FT_EXE);
	content_free(m);

	/* Undeclared boundary: no child parts; the text is kept from the
	 * prologue so it is still scored (M6). */
	m = parse_file("wrong_boundary.eml");
	assert_true(content_flags(m) & CONTENT_F_BAD_BOUNDARY);
	assert_int_equal(content_text_count(m), 1);
	assert_non_null(strstr(content_text_at(m, 0)->text, "never declared"));
	content_free(m);
}

/* M6: boundary shapes that parsers disagree on.  Each must parse the same
 * way every time and still reach the attachment (a Windows binary) and the
 * text: what the scanner does not reach, it cannot score. */
static void mk_boundary_msg(struct buf *b, const char *outer, const char *open, const char *close,
	const char *preamble)
{
	buf_reset(b);
	buf_printf(b, "From: a@example.org\r\nSubject: m6\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n%s"
		"%s\r\nContent-Type: text/plain\r\n\r\nthe visible text\r\n"
		"%s\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n%s\r\n",
		outer, preamble, open, open, close);
}

static void check_reached(const char *what, struct buf *b, unsigned want_flags, unsigned not_flags)
{
	struct content_msg *m = parse_buf(what, b, NULL), *again = parse_buf(what, b, NULL);
	if (content_attachment_count(m) != 1 || content_attachment_at(m, 0)->detected != CONTENT_FT_EXE)
		fail_msg("%s: the attachment was not reached (%zu attachments)", what,
			content_attachment_count(m));
	int text = 0;
	for (size_t i = 0; i < content_text_count(m); i++)
		text |= strstr(content_text_at(m, i)->text, "the visible text") != NULL;
	if (!text)
		fail_msg("%s: the text was not reached", what);
	if ((content_flags(m) & want_flags) != want_flags || (content_flags(m) & not_flags) != 0)
		fail_msg("%s: flags %#x", what, content_flags(m));
	/* Deterministic: the same view twice. */
	assert_int_equal(content_flags(m), content_flags(again));
	assert_int_equal(content_text_count(m), content_text_count(again));
	assert_int_equal(content_part_count(m), content_part_count(again));
	content_free(m);
	content_free(again);
}

static void test_boundary_edge_cases(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	char long_b[2050];

	/* Transport padding after the delimiters (RFC 2046 allows it). */
	mk_boundary_msg(&b, "zz", "--zz \t", "--zz-- \t", "");
	check_reached("trailing space", &b, 0, CONTENT_F_BAD_BOUNDARY);
	/* The boundary in the preamble, not at a line start. */
	mk_boundary_msg(&b, "zz", "--zz", "--zz--", "The parts follow --zz as usual.\r\n");
	check_reached("boundary in preamble", &b, 0, CONTENT_F_BAD_BOUNDARY);
	/* 71 characters (one over RFC 2046's 70) and 2,049. */
	memset(long_b, 'k', 71);
	long_b[71] = '\0';
	char open[2100], close[2100];
	snprintf(open, sizeof(open), "--%s", long_b);
	snprintf(close, sizeof(close), "--%s--", long_b);
	mk_boundary_msg(&b, long_b, open, close, "");
	check_reached("71-char boundary", &b, 0, CONTENT_F_BAD_BOUNDARY);
	memset(long_b, 'k', 2049);
	long_b[2049] = '\0';
	snprintf(open, sizeof(open), "--%s", long_b);
	snprintf(close, sizeof(close), "--%s--", long_b);
	mk_boundary_msg(&b, long_b, open, close, "");
	check_reached("2049-char boundary", &b, 0, CONTENT_F_BAD_BOUNDARY);
	/* Never closed: both parts still read, and said so. */
	mk_boundary_msg(&b, "zz", "--zz", "", "");
	check_reached("never closed", &b, CONTENT_F_BAD_BOUNDARY | CONTENT_F_TRUNCATED, 0);

	/* A boundary that is a prefix of the inner one ("a" and "ab"). */
	buf_reset(&b);
	buf_append_str(&b, "From: a@example.org\r\nSubject: m6\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"a\"\r\n\r\n"
		"--a\r\nContent-Type: multipart/alternative; boundary=\"ab\"\r\n\r\n"
		"--ab\r\nContent-Type: text/plain\r\n\r\nthe visible text\r\n--ab--\r\n"
		"--a\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n--a--\r\n");
	check_reached("prefix boundary", &b, 0, CONTENT_F_BAD_BOUNDARY);
	struct content_msg *m = parse_buf("prefix boundary", &b, NULL);
	assert_int_equal(content_max_depth(m), 2);   /* the inner multipart is its own level */
	assert_int_equal(content_text_count(m), 1);
	content_free(m);

	/* Only a closing delimiter: no part; the body is kept as text. */
	buf_reset(&b);
	buf_append_str(&b, "From: a@example.org\r\nSubject: m6\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n"
		"the visible text before a lone close\r\n--zz--\r\n");
	m = parse_buf("close only", &b, NULL);
	assert_true(content_flags(m) & CONTENT_F_BAD_BOUNDARY);
	assert_int_equal(content_text_count(m), 1);
	assert_non_null(strstr(content_text_at(m, 0)->text, "the visible text"));
	content_free(m);
	buf_free(&b);
}

static void test_bad_base64(void **state)
{
	(void)state;
	struct content_msg *m = parse_file("bad_base64.eml");
	assert_true(content_flags(m) & CONTENT_F_BAD_BASE64);
	assert_int_equal(content_attachment_count(m), 1);
	/* Lenient: the alphabet characters still decode to the MZ header. */
	assert_int_equal(content_attachment_at(m, 0)->detected, CONTENT_FT_EXE);
	content_free(m);
}

static void test_malformed_headers(void **state)
{
	(void)state;
	struct content_msg *m = parse_file("malformed_headers.eml");
	assert_true(content_flags(m) & CONTENT_F_MALFORMED_HEADER);
	assert_true(content_flags(m) & CONTENT_F_NUL_BYTES);
	content_free(m);

	/* M7: two Content-Type headers; raw 8-bit in a header. */
	struct buf b = BUF_INIT;
	buf_append_str(&b, "From: a@example.com\r\nSubject: caf\xc3\xa9\r\nContent-Type: text/plain\r\n"
		"Content-Type: text/html\r\n\r\n<b>x</b>\r\n");
	m = parse_buf("two-ctypes", &b, NULL);
	assert_true(content_flags(m) & CONTENT_F_CONFLICTING_HEADER);
	assert_true(content_flags(m) & CONTENT_F_AMBIGUOUS_STRUCTURE);
	assert_true(content_flags(m) & CONTENT_F_8BIT_HEADER);
	assert_string_equal(content_subject(m), "caf\xc3\xa9");
	assert_int_equal(content_header_count(m), 4);
	content_free(m);
	buf_free(&b);

	/* Nothing at all, or binary junk: a view, never NULL. */
	m = content_parse("", 0, NULL);
	assert_non_null(m);
	content_free(m);
	m = content_parse(NULL, 0, NULL);
	assert_non_null(m);
	content_free(m);
	static const char junk[] = "\x00\xff\xfe:\r\n\r\n\x80\x81--\r\n";
	m = content_parse(junk, sizeof(junk) - 1, NULL);
	assert_non_null(m);
	for (size_t i = 0; i < content_text_count(m); i++)
		assert_true(valid_utf8(content_text_at(m, i)->text, content_text_at(m, i)->len));
	content_free(m);
}

/* ---- generated bombs (M1-M5, M9, M15, M16) ----------------------------------- */

static void hdr(struct buf *b)
{
	buf_append_str(b, "From: a@example.com\r\nTo: b@example.net\r\nSubject: bomb\r\n"
		"Date: Mon, 2 Nov 2026 10:00:00 +0000\r\nMessage-ID: <bomb@example.com>\r\n"
		"MIME-Version: 1.0\r\n");
}

/* k nested multiparts; same_boundary reuses "foobar" at every level (M2). */
static void nested_multipart(struct buf *b, int k, int same_boundary)
{
	hdr(b);
	for (int i = 0; i < k; i++) {
		if (same_boundary)
			buf_printf(b, "Content-Type: multipart/mixed; boundary=\"foobar\"\r\n\r\n--foobar\r\n");
		else
			buf_printf(b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i);
	}
	buf_append_str(b, "Content-Type: text/plain\r\n\r\ninnermost text http://deep.example.org/\r\n");
	for (int i = k - 1; i >= 0; i--) {
		if (same_boundary)
			buf_printf(b, "--foobar--\r\n");
		else
			buf_printf(b, "--b%d--\r\n", i);
	}
}

static void test_nesting_multipart_depth_limit(void **state)
{
	(void)state;
	struct content_limits lim = content_limits_default();
	struct buf b = BUF_INIT;
	/* M1: exactly max_depth levels parse cleanly, the text is reached. */
	nested_multipart(&b, (int)lim.max_depth, 0);
	struct content_msg *m = parse_buf("nest64", &b, NULL);
	assert_false(content_flags(m) & CONTENT_F_LIMIT_DEPTH);
	assert_int_equal(content_max_depth(m), lim.max_depth);
	assert_int_equal(content_text_count(m), 1);
	assert_non_null(find_url(m, "http://deep.example.org/"));
	content_free(m);
	/* One more level: flagged, nothing below the limit processed. */
	buf_reset(&b);
	nested_multipart(&b, (int)lim.max_depth + 1, 0);
	m = parse_buf("nest65", &b, NULL);
	assert_true(content_flags(m) & CONTENT_F_LIMIT_DEPTH);
	assert_int_equal(content_text_count(m), 0);
	content_free(m);
	/* M2: the same boundary at every level: deterministic, no crash, and
	 * parsing twice gives the same structure. */
	buf_reset(&b);
	nested_multipart(&b, 200, 1);
	m = parse_buf("nest-foobar", &b, NULL);
	struct content_msg *m2 = parse_buf("nest-foobar2", &b, NULL);
	assert_int_equal(content_flags(m), content_flags(m2));
	assert_int_equal(content_part_count(m), content_part_count(m2));
	content_free(m);
	content_free(m2);
	buf_free(&b);
}

/* M3/M4: message/rfc822 chains, optionally alternating with multiparts. */
static void rfc822_chain(struct buf *b, int k, int alternate)
{
	for (int i = 0; i < k; i++) {
		hdr(b);
		if (alternate && i % 2) {
			buf_printf(b, "Content-Type: multipart/mixed; boundary=\"m%d\"\r\n\r\n--m%d\r\n", i, i);
			buf_append_str(b, "Content-Type: message/rfc822\r\n\r\n");
		} else {
			buf_append_str(b, "Content-Type: message/rfc822\r\n\r\n");
		}
	}
	hdr(b);
	buf_append_str(b, "Content-Type: text/plain\r\n\r\nbottom\r\n");
	for (int i = k - 1; i >= 0; i--)
		if (alternate && i % 2)
			buf_printf(b, "--m%d--\r\n", i);
}

static void test_rfc822_chains_bounded(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	int depths[] = { 1000, 10000 };
	for (size_t i = 0; i < 2; i++) {
		for (int alt = 0; alt < 2; alt++) {
			buf_reset(&b);
			rfc822_chain(&b, depths[i], alt);
			double t0 = now_s();
			struct content_msg *m = parse_buf("rfc822-chain", &b, NULL);
			double dt = now_s() - t0;
			printf("    rfc822 chain depth %d%s (%zu bytes): %.1f ms\n", depths[i],
				alt ? " alternating" : "", b.len, dt * 1e3);
			assert_true(content_flags(m) & CONTENT_F_LIMIT_DEPTH);
			assert_true(content_max_depth(m) <= content_limits_default().max_depth);
			assert_int_equal(content_text_count(m), 0);
			content_free(m);
		}
	}
	buf_free(&b);
}

static void siblings(struct buf *b, int n)
{
	hdr(b);
	buf_append_str(b, "Content-Type: multipart/mixed; boundary=\"s\"\r\n\r\n");
	for (int i = 0; i < n; i++)
		buf_printf(b, "--s\r\nContent-Type: text/plain\r\n\r\npart %d\r\n", i);
	buf_append_str(b, "--s--\r\n");
}

static void test_sibling_parts_bounded(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	/* Default limit: the multipart + 10 000 leaves is one entity too many. */
	siblings(&b, 10000);
	double t0 = now_s();
	struct content_msg *m = parse_buf("10k-siblings", &b, NULL);
	double dt = now_s() - t0;
	printf("    10 000 sibling parts (%zu bytes): %.1f ms\n", b.len, dt * 1e3);
	assert_true(content_flags(m) & CONTENT_F_LIMIT_PARTS);
	assert_int_equal(content_part_count(m), 10000);
	assert_int_equal(content_text_count(m), 9999);
	content_free(m);
	/* M5 with a small limit: max_parts+1 flagged, max_parts not. */
	struct content_limits lim = content_limits_default();
	lim.max_parts = 101;
	buf_reset(&b);
	siblings(&b, 100);
	m = parse_buf("100-siblings", &b, &lim);
	assert_false(content_flags(m) & CONTENT_F_LIMIT_PARTS);
	assert_int_equal(content_text_count(m), 100);
	content_free(m);
	buf_reset(&b);
	siblings(&b, 101);
	m = parse_buf("101-siblings", &b, &lim);
	assert_true(content_flags(m) & CONTENT_F_LIMIT_PARTS);
	content_free(m);
	buf_free(&b);
}

static void test_header_flood(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	hdr(&b);
	for (int i = 0; i < 500000; i++)
		buf_printf(&b, "To: user%d@example.net\r\n", i);
	buf_append_str(&b, "\r\nbody http://after.example.net/\r\n");
	double t0 = now_s();
	struct content_msg *m = parse_buf("header-flood", &b, NULL);
	printf("    500 000 To: headers (%zu bytes): %.1f ms\n", b.len, (now_s() - t0) * 1e3);
	assert_true(content_flags(m) & CONTENT_F_LIMIT_HEADERS);
	assert_true(content_header_count(m) <= 10000);
	/* The header block is cut before parsing; the body is still analysed. */
	assert_int_equal(content_text_count(m), 1);
	assert_non_null(find_url(m, "http://after.example.net/"));
	assert_string_equal(content_subject(m), "bomb");
	content_free(m);

	/* One unfolded 2 MiB header line. */
	buf_reset(&b);
	hdr(&b);
	buf_append_str(&b, "X-Long: ");
	for (int i = 0; i < (2 << 20) / 8; i++)
		buf_append_str(&b, "abcdefg ");
	buf_append_str(&b, "\r\n\r\nbody\r\n");
	m = parse_buf("long-header", &b, NULL);
	assert_true(content_flags(m) & CONTENT_F_LIMIT_HEADERS);
	content_free(m);
	buf_free(&b);
}

static void test_base64_garbage_and_decoded_limit(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	hdr(&b);
	buf_append_str(&b, "Content-Type: application/octet-stream; name=a.bin\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n");
	/* 4 MB on one line: alphabet runs, junk, '=' in the middle. */
	for (int i = 0; i < 4 << 18; i++)
		buf_append_str(&b, i % 7 ? "QUJD" : "!=*x");
	buf_append_str(&b, "\r\n");
	struct content_msg *m = parse_buf("b64-garbage", &b, NULL);
	assert_true(content_flags(m) & CONTENT_F_BAD_BASE64);
	assert_int_equal(content_attachment_count(m), 1);
	printf("    base64 garbage: %zu encoded -> %zu decoded\n", b.len, content_attachment_at(m, 0)->size);
	assert_true(content_attachment_at(m, 0)->size > 2 << 20);
	content_free(m);

	/* The decoded budget is enforced while decoding. */
	struct content_limits lim = content_limits_default();
	lim.max_decoded_bytes = 1000;
	m = parse_buf("b64-limit", &b, &lim);
	assert_true(content_flags(m) & CONTENT_F_LIMIT_DECODED);
	assert_int_equal(content_attachment_at(m, 0)->size, 1000);
	assert_true(content_attachment_at(m, 0)->truncated);
	content_free(m);
	buf_free(&b);
}

static void test_charset_bombs(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	/* M15: utf-16 declared on ASCII. */
	hdr(&b);
	buf_append_str(&b, "Content-Type: text/plain; charset=utf-16\r\n\r\n"
		"plain ascii pretending http://x.example.com/ to be utf-16\r\n");
	struct content_msg *m = parse_buf("utf16-ascii", &b, NULL);
	assert_int_equal(content_text_count(m), 1);
	content_free(m);
	/* UTF-7 hiding markup: converted, so the scanner sees "<script>". */
	buf_reset(&b);
	hdr(&b);
	buf_append_str(&b, "Content-Type: text/plain; charset=utf-7\r\n\r\n+ADw-script+AD4-alert(1)+ADw-/script+AD4-\r\n");
	m = parse_buf("utf7", &b, NULL);
	assert_non_null(strstr(content_text_at(m, 0)->text, "<script>alert(1)</script>"));
	content_free(m);
	/* 3 MB of invalid UTF-8: bounded to max_text_bytes, valid output. */
	buf_reset(&b);
	hdr(&b);
	buf_append_str(&b, "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	for (int i = 0; i < 3 << 20; i++)
		buf_append_char(&b, (char)(0x80 + i % 64));
	m = parse_buf("invalid-utf8", &b, NULL);
	assert_true(content_flags(m) & CONTENT_F_LIMIT_TEXT);
	assert_true(content_flags(m) & CONTENT_F_BAD_CHARSET_DATA);
	assert_true(content_text_at(m, 0)->truncated);
	content_free(m);
	/* Invalid windows-1251/ISO-2022-JP escapes convert with replacements. */
	buf_reset(&b);
	hdr(&b);
	buf_append_str(&b, "Content-Type: text/plain; charset=iso-2022-jp\r\n\r\nabc\x1b$Bunterminated\x1b(\xff\r\n");
	m = parse_buf("iso2022", &b, NULL);
	assert_int_equal(content_text_count(m), 1);
	content_free(m);
	buf_free(&b);
}

/* ISO-8859-1 is converted without iconv (content_text.c); every byte must
 * come out as glibc's iconv makes it, which an alias the fast path does not
 * know (ISO_8859-1:1987) still goes through. Also: the output bound cuts
 * both the same way. */
static void test_latin1_as_iconv(void **state)
{
	(void)state;
	static const char *const names[] = { "iso-8859-1", "ISO8859-1", "iso_8859-1", "Latin1" };
	struct content_limits lim = content_limits_default();
	struct buf body = BUF_INIT, b = BUF_INIT;

	for (int rep = 0; rep < 8; rep++)
		for (int c = 1; c < 256; c++)
			if (c != '\r' && c != '\n')
				buf_append_char(&body, (char)c);
	buf_append_str(&body, "\r\n");
	for (int cap = 0; cap < 2; cap++) {
		/* cap 1: a bound that falls inside a two-byte character */
		lim.max_text_bytes = cap ? 1001 : content_limits_default().max_text_bytes;
		buf_reset(&b);
		hdr(&b);
		buf_append_str(&b, "Content-Type: text/plain; charset=ISO_8859-1:1987\r\n\r\n");
		buf_append(&b, body.data, body.len);
		struct content_msg *want = parse_buf("latin1-iconv", &b, &lim);
		const struct content_text *w = content_text_at(want, 0);
		assert_false(content_flags(want) & CONTENT_F_UNKNOWN_CHARSET);
		for (size_t i = 0; i < MW_ARRAY_LEN(names); i++) {
			buf_reset(&b);
			hdr(&b);
			buf_append_str(&b, "Content-Type: text/plain; charset=");
			buf_append_str(&b, names[i]);
			buf_append_str(&b, "\r\n\r\n");
			buf_append(&b, body.data, body.len);
			struct content_msg *m = parse_buf("latin1-fast", &b, &lim);
			const struct content_text *t = content_text_at(m, 0);
			assert_int_equal(t->len, w->len);
			assert_memory_equal(t->text, w->text, w->len);
			assert_int_equal(t->truncated, w->truncated);
			assert_int_equal(content_flags(m), content_flags(want));
			content_free(m);
		}
		content_free(want);
	}
	buf_free(&body);
	buf_free(&b);
}

static void test_encoded_words_subject(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_append_str(&b, "From: a@example.com\r\nSubject: =?windows-1251?B?xO7q8+zl7fIuc2NyLnV1ZQ==?= "
		"=?x-unknown?Q?abc?= =?UTF-8?Q?ergangen?.pdf?=\r\n\r\nx\r\n");
	struct content_msg *m = parse_buf("ew-subject", &b, NULL);
	assert_non_null(strstr(content_subject(m),
		"\xd0\x94\xd0\xbe\xd0\xba\xd1\x83\xd0\xbc\xd0\xb5\xd0\xbd\xd1\x82.scr.uue"));
	assert_true(valid_utf8(content_subject(m), strlen(content_subject(m))));
	content_free(m);
	/* 20 000 encoded words (M13): linear, bounded. */
	/* Adjacent base64 words each with a pad: every word counts (GMime alone
	 * would stop at the first '='); a character split across two words of
	 * one charset survives; white space between words is dropped. */
	buf_reset(&b);
	buf_append_str(&b, "From: a@example.com\r\nSubject: =?UTF-8?B?w6k=?= =?UTF-8?B?w6k=?=\r\n"
		" =?UTF-8?B?w6k=?= x =?UTF-8?Q?=C3?= =?UTF-8?Q?=A9?= =?UTF-8?B?!!!?=\r\n\r\nx\r\n");
	m = parse_buf("ew-pads", &b, NULL);
	assert_string_equal(content_subject(m), "\xc3\xa9\xc3\xa9\xc3\xa9 x \xc3\xa9");
	assert_true(content_flags(m) & CONTENT_F_BAD_ENCODED_WORD);
	content_free(m);
	buf_reset(&b);
	buf_append_str(&b, "From: a@example.com\r\nSubject:");
	for (int i = 0; i < 20000; i++)
		buf_append_str(&b, " =?UTF-8?B?w6k=?=");
	buf_append_str(&b, "\r\n\r\nx\r\n");
	double t0 = now_s();
	m = parse_buf("ew-flood", &b, NULL);
	printf("    20 000 encoded words: %.1f ms\n", (now_s() - t0) * 1e3);
	printf("    subject %zu bytes: %.60s\n", strlen(content_subject(m)), content_subject(m));
	assert_int_equal(strlen(content_subject(m)), 40000);
	content_free(m);
	/* 512 KiB of unterminated "=?" openers on one line: linear, kept as text. */
	buf_reset(&b);
	buf_append_str(&b, "From: a@example.com\r\nSubject: ");
	for (int i = 0; i < (512 << 10) / 8; i++)
		buf_append_str(&b, "=?a?B?xx");
	buf_append_str(&b, "\r\n\r\nx\r\n");
	t0 = now_s();
	m = parse_buf("ew-openers", &b, NULL);
	printf("    512 KiB of unterminated encoded words: %.1f ms\n", (now_s() - t0) * 1e3);
	assert_true(strncmp(content_subject(m), "=?a?B?xx=?a?B?xx", 16) == 0);
	content_free(m);
	buf_free(&b);
}

/* A typical 5-20 KB message: headers, plain + HTML alternative, a small
 * attachment.  Time is printed, never asserted. */
static void test_parse_time_typical(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	for (int i = 0; i < 6; i++)
		buf_printf(&b, "Received: from relay%d.example.net (relay%d.example.net [192.0.2.%d]) by mx.example.org with ESMTPS id ABC%d; Mon, 2 Nov 2026 10:00:0%d +0000\r\n", i, i, i, i, i);
	buf_append_str(&b, "From: \"News Team\" <news@mail.shop.example.com>\r\nTo: bob@example.net\r\n"
		"Subject: =?UTF-8?Q?Your_weekly_deals_=E2=80=93_up_to_50=25_off?=\r\n"
		"Date: Mon, 2 Nov 2026 10:00:00 +0000\r\nMessage-ID: <typ@shop.example.com>\r\n"
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
		"--outer\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
		"--alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
	for (int i = 0; i < 40; i++)
		buf_printf(&b, "Item %d: great product at https://shop.example.com/p/%d =E2=80=93 now cheaper=\r\n than ever before.\r\n", i, i % 10);
	buf_append_str(&b, "\r\n-- \r\nShop Example Inc.\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>");
	for (int i = 0; i < 40; i++)
		buf_printf(&b, "<tr><td style=\"font-family:Arial\"><a href=\"https://click.shop.example.com/t/%d?u=abc&amp;v=1\">Item %d</a></td><td>great product &ndash; now cheaper than ever</td></tr>\r\n", i, i);
	buf_append_str(&b, "</body></html>\r\n--alt--\r\n--outer\r\nContent-Type: image/png; name=logo.png\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n");
	for (int i = 0; i < 20; i++)
		buf_append_str(&b, "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==\r\n");
	buf_append_str(&b, "--outer--\r\n");
	struct content_msg *m = parse_buf("typical", &b, NULL);
	assert_int_equal(content_text_count(m), 2);
	assert_int_equal(content_attachment_count(m), 1);
	assert_int_equal(content_flags(m) & CONTENT_F_LIMIT_DEPTH, 0);
	content_free(m);
	const char *save = getenv("CONTENT_SAVE_TYPICAL"); /* for profiling */
	if (save != NULL) {
		FILE *f = fopen(save, "wb");
		if (f != NULL) {
			fwrite(b.data, 1, b.len, f);
			fclose(f);
		}
	}
	int n = 2000;
	double t0 = now_s();
	clock_t c0 = clock();
	for (int i = 0; i < n; i++)
		content_free(content_parse(b.data, b.len, NULL));
	double wall = now_s() - t0, cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
	printf("    typical %zu-byte message: %.1f us wall, %.1f us CPU per parse (%d parses, %.0f msg/CPU-s)\n",
		b.len, wall / n * 1e6, cpu / n * 1e6, n, n / cpu);
	buf_free(&b);
}

/* ---- ZIP archives: the directory, never the data (M18, M21) --------------------- */

static void zip_expect(const struct buf *b, int rc, unsigned members, size_t n_names, int damaged)
{
	struct content_archive z;
	assert_int_equal(content_zip_read((const unsigned char *)b->data, b->len, &z), rc);
	assert_int_equal(z.members, members);
	assert_int_equal(z.n_names, n_names);
	assert_int_equal(z.damaged, damaged);
	content_archive_free(&z);
}

static void test_zip_directory(void **state)
{
	(void)state;
	static const char *const names[] = { "readme.txt", "docs/report.pdf", "invoice.pdf.exe" };
	struct buf b = BUF_INIT;
	struct content_archive z;

	zip_build(&b, names, 3, 0);
	assert_int_equal(content_zip_read((const unsigned char *)b.data, b.len, &z), 0);
	assert_int_equal(z.members, 3);
	assert_int_equal(z.encrypted, 0);
	assert_int_equal(z.damaged, 0);
	assert_int_equal(z.names_cut, 0);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(z.names[i], names[i]);
	content_archive_free(&z);
	content_archive_free(&z);                  /* a second free is harmless */

	/* A self-extractor's stub before the archive shifts every offset. */
	struct buf sfx = BUF_INIT;
	buf_append(&sfx, "MZ\x90\x00stub-stub-stub", 18);
	buf_append(&sfx, b.data, b.len);
	zip_expect(&sfx, 0, 3, 3, 0);
	buf_free(&sfx);

	/* An archive comment after the end record. */
	struct buf com = BUF_INIT;
	buf_append(&com, b.data, b.len - 2);
	buf_append(&com, "\x05\x00hello", 7);
	zip_expect(&com, 0, 3, 3, 0);
	buf_free(&com);

	/* Cut before its directory: the local headers are walked instead. */
	struct buf cut = BUF_INIT;
	buf_append(&cut, b.data, b.len - 30);
	zip_expect(&cut, 0, 3, 3, 1);
	buf_free(&cut);

	/* The end record counting more entries than the directory holds. */
	struct buf lie = BUF_INIT;
	buf_append(&lie, b.data, b.len);
	lie.data[lie.len - 12] = 9;             /* total entries */
	zip_expect(&lie, 0, 3, 3, 1);
	buf_free(&lie);

	/* A directory entry whose name runs past the end record. */
	struct buf longname = BUF_INIT;
	buf_append(&longname, b.data, b.len);
	size_t cd = (size_t)(unsigned char)longname.data[longname.len - 6] |
	    (size_t)(unsigned char)longname.data[longname.len - 5] << 8;
	longname.data[cd + 28] = (char)0xff;
	longname.data[cd + 29] = (char)0xff;
	zip_expect(&longname, 0, 0, 0, 1);
	buf_free(&longname);
	buf_free(&b);

	/* Encrypted members, and control bytes in a name. */
	static const char *const odd[] = { "a\tb\x01.txt" };
	zip_build(&b, odd, 1, ZB_ENCRYPTED);
	assert_int_equal(content_zip_read((const unsigned char *)b.data, b.len, &z), 0);
	assert_int_equal(z.encrypted, 1);
	assert_string_equal(z.names[0], "a?b?.txt");
	content_archive_free(&z);
	buf_free(&b);

	/* Not a ZIP; an empty one (the end record alone). */
	buf_append(&b, "hello world", 11);
	zip_expect(&b, -1, 0, 0, 0);
	buf_free(&b);
	zip_build(&b, NULL, 0, 0);
	zip_expect(&b, 0, 0, 0, 0);
	buf_free(&b);
}

/* ---- RAR, 7z, tar, gzip: the same listing for the other archive kinds ------------------- */

static void archive_expect(const void *p, size_t n, int rc, unsigned members, unsigned encrypted,
    int hidden, int damaged, size_t n_names)
{
	struct content_archive z;
	size_t budget = 4 * ARCHIVE_MAX_DIRECTORY;
	assert_int_equal(content_archive_read(ARCHIVE_NONE, p, n, &budget, &z), rc);
	assert_int_equal(z.members, members);
	assert_int_equal(z.encrypted, encrypted);
	assert_int_equal(z.hidden, hidden);
	assert_int_equal(z.damaged, damaged);
	assert_int_equal(z.n_names, n_names);
	content_archive_free(&z);
	content_archive_free(&z);
}

static void test_rar_listing(void **state)
{
	(void)state;
	static const char *const names[] = { "readme.txt", "invoice.pdf.exe", "dir/\xc3\xa9t\xc3\xa9.js" };
	void (*const build[])(struct buf *, const char *const *, size_t, unsigned) = { rar4_build, rar5_build };

	for (size_t v = 0; v < 2; v++) {
		struct buf b = BUF_INIT;
		struct content_archive z;
		size_t budget = 0;             /* RAR needs none */
		build[v](&b, names, 3, 0);
		assert_int_equal(content_archive_kind((const unsigned char *)b.data, b.len), ARCHIVE_RAR);
		assert_int_equal(content_archive_read(ARCHIVE_NONE, (const unsigned char *)b.data, b.len, &budget, &z), 0);
		assert_int_equal(z.members, 3);
		assert_int_equal(z.encrypted, 0);
		assert_int_equal(z.damaged, 0);
		for (size_t i = 0; i < 3; i++)
			assert_string_equal(z.names[i], names[i]);
		content_archive_free(&z);

		/* Cut inside the second member's data: the first two are named. */
		archive_expect(b.data, b.len - (v == 0 ? 30 : 40), 0, 2, 0, 0, 1, 2);
		/* Only the signature. */
		archive_expect(b.data, v == 0 ? 7 : 8, 0, 0, 0, 0, 1, 0);
		buf_free(&b);

		build[v](&b, names, 3, AB_ENCRYPTED);
		archive_expect(b.data, b.len, 0, 3, 3, 0, 0, 3);
		buf_free(&b);

		/* Encrypted headers: nothing can be named. */
		build[v](&b, names, 3, AB_HIDDEN);
		archive_expect(b.data, b.len, 0, 0, 1, 1, 0, 0);
		buf_free(&b);
	}

	/* RAR 4: a header that claims to be shorter than its fixed fields,
	 * and one whose name runs past the header. */
	struct buf b = BUF_INIT;
	rar4_build(&b, names, 1, 0);
	b.data[7 + 13 + 5] = 8;                 /* the file header's size */
	archive_expect(b.data, b.len, 0, 0, 0, 0, 1, 0);
	buf_free(&b);
	rar4_build(&b, names, 1, 0);
	b.data[7 + 13 + 26] = (char)0xf0;      /* name size */
	archive_expect(b.data, b.len, 0, 0, 0, 0, 1, 0);
	buf_free(&b);

	/* RAR 4's Unicode names: the name up to the NUL (the rest is RAR's
	 * own encoding of the same name). */
	static const char *const uni[] = { "setup.exe\0\x01\x02" };
	rar4_build(&b, uni, 1, 0);
	b.data[7 + 13 + 4] |= 0x02;            /* LHD_UNICODE in the flags' high byte */
	struct content_archive z;
	assert_int_equal(content_rar_read((const unsigned char *)b.data, b.len, &z), 0);
	assert_int_equal(z.n_names, 1);
	assert_string_equal(z.names[0], "setup.exe");
	content_archive_free(&z);
	buf_free(&b);

	/* RAR 5: a variable-length integer that never ends. */
	buf_append(&b, "Rar!\x1a\x07\x01\x00" "\0\0\0\0" "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 23);
	archive_expect(b.data, b.len, 0, 0, 0, 0, 1, 0);
	buf_free(&b);

	/* A RAR version not known here; not a RAR. */
	archive_expect("Rar!\x1a\x07\x02\x00....", 12, 0, 0, 0, 0, 1, 0);
	assert_int_equal(content_rar_read((const unsigned char *)"Rat!\x1a\x07\x00", 7, &z), -1);
	content_archive_free(&z);
}

static void test_7z_listing(void **state)
{
	(void)state;
	struct content_archive z;
	size_t budget = 4 * ARCHIVE_MAX_DIRECTORY;

	/* 7-Zip's default: the header LZMA-packed, decoded within the budget. */
	assert_int_equal(content_archive_kind(sz_plain, sizeof(sz_plain)), ARCHIVE_7Z);
	assert_int_equal(content_archive_read(ARCHIVE_NONE, sz_plain, sizeof(sz_plain), &budget, &z), 0);
	assert_int_equal(z.members, 2);
	assert_int_equal(z.encrypted, 0);
	assert_int_equal(z.damaged + z.hidden + z.names_cut, 0);
	assert_string_equal(z.names[0], "invoice.pdf.exe");
	assert_string_equal(z.names[1], "notes.txt");
	assert_true(budget < 4 * ARCHIVE_MAX_DIRECTORY);   /* the decoded bytes were counted */
	content_archive_free(&z);

	/* -p: the data is AES; the names are not. */
	archive_expect(sz_enc, sizeof(sz_enc), 0, 2, 2, 0, 0, 2);
	/* -p -mhe=on: the header is AES too. */
	archive_expect(sz_hdr, sizeof(sz_hdr), 0, 0, 1, 1, 0, 0);

	/* No budget left: not listed, and said so. */
	budget = 10;
	assert_int_equal(content_7z_read(sz_plain, sizeof(sz_plain), &budget, &z), 0);
	assert_int_equal(z.n_names, 0);
	assert_true(z.names_cut);
	assert_int_equal(budget, 10);
	content_archive_free(&z);

	/* A header packed by a coder not decoded here (LZMA's id changed to
	 * another method's): not listed, and said so. */
	unsigned char other[sizeof(sz_plain)];
	memcpy(other, sz_plain, sizeof(other));
	const unsigned char *lz = memmem(other, sizeof(other), "\x23\x03\x01\x01\x05", 5);
	assert_non_null(lz);
	other[lz - other + 1] = 0x04;
	budget = 4 * ARCHIVE_MAX_DIRECTORY;
	assert_int_equal(content_7z_read(other, sizeof(other), &budget, &z), 0);
	assert_int_equal(z.n_names, 0);
	assert_true(z.names_cut);
	content_archive_free(&z);

	/* Damage: cut before its header (at the end), a corrupt packed
	 * header, an empty archive, not a 7z. */
	archive_expect(sz_plain, sizeof(sz_plain) - 10, 0, 0, 0, 0, 1, 0);
	memcpy(other, sz_plain, sizeof(other));
	for (size_t i = 40; i < 80; i++)
		other[i] ^= 0x5a;
	archive_expect(other, sizeof(other), 0, 0, 0, 0, 1, 0);
	unsigned char empty[32] = { '7', 'z', 0xbc, 0xaf, 0x27, 0x1c, 0, 4 };
	archive_expect(empty, sizeof(empty), 0, 0, 0, 0, 0, 0);
	archive_expect(sz_plain, 20, 0, 0, 0, 0, 1, 0);
	assert_int_equal(content_7z_read((const unsigned char *)"7z\xbc\xaf\x27\x1d", 6, &budget, &z), -1);
	content_archive_free(&z);
}

static void test_tar_gzip_listing(void **state)
{
	(void)state;
	char longname[200];
	snprintf(longname, sizeof(longname), "%s/%s", "a-directory-with-a-rather-long-name/and-another-one-below-it/and-a-third",
	    "with-a-file-name-that-is-long-enough-to-need-the-prefix-field.pdf.exe");
	const char *const names[] = { "readme.txt", "bin/run.sh", longname };
	struct buf b = BUF_INIT;
	struct content_archive z;
	size_t budget = 0;

	tar_build(&b, names, 3);
	assert_int_equal(content_archive_kind((const unsigned char *)b.data, b.len), ARCHIVE_TAR);
	assert_int_equal(content_archive_read(ARCHIVE_NONE, (const unsigned char *)b.data, b.len, &budget, &z), 0);
	assert_int_equal(z.members, 3);
	assert_int_equal(z.damaged, 0);
	assert_string_equal(z.names[1], "bin/run.sh");
	assert_string_equal(z.names[2], longname);
	content_archive_free(&z);

	/* Cut inside the second header: one named, damaged; the same with a
	 * bad checksum on the second header. */
	archive_expect(b.data, 1024 + 300, 0, 1, 0, 0, 1, 1);
	b.data[1024 + 3] ^= 1;
	archive_expect(b.data, b.len, 0, 1, 0, 0, 1, 1);
	buf_free(&b);

	/* gzip: the stored name (without a path), none, one that never ends. */
	gzip_build(&b, "tmp/invoice.pdf.exe");
	assert_int_equal(content_archive_read(ARCHIVE_NONE, (const unsigned char *)b.data, b.len, &budget, &z), 0);
	assert_int_equal(z.members, 1);
	assert_string_equal(z.names[0], "invoice.pdf.exe");
	content_archive_free(&z);
	buf_free(&b);
	gzip_build(&b, NULL);
	archive_expect(b.data, b.len, 0, 1, 0, 0, 0, 0);
	buf_free(&b);
	gzip_build(&b, "never-ends");
	archive_expect(b.data, 15, 0, 0, 0, 0, 1, 0);
	archive_expect("\x1f\x8b\x07\x08", 4, 0, 0, 0, 0, 1, 0);
	buf_free(&b);
	archive_expect("plain text", 10, -1, 0, 0, 0, 0, 0);
}

/* Through the parser: each kind is typed and listed, small ones too (an
 * attachment shorter than the 512-byte head). */
static void test_archive_attachments(void **state)
{
	(void)state;
	static const char *const names[] = { "report.pdf", "setup.exe" };
	struct buf b = BUF_INIT;

	rar5_build(&b, names, 2, 0);
	char *msg = zip_message("files.rar", b.data, b.len);
	struct content_msg *m = content_parse(msg, strlen(msg), NULL);
	const struct content_attachment *a = content_attachment_at(m, 0);
	assert_int_equal(a->detected, CONTENT_FT_RAR);
	assert_int_equal(a->archive_members, 2);
	assert_string_equal(a->archive_names[1], "setup.exe");
	assert_int_equal(content_flags(m) & CONTENT_F_ARCHIVE_UNSCANNABLE, 0);
	content_free(m);
	free(msg);
	buf_free(&b);

	msg = zip_message("secret.7z", (const char *)sz_hdr, sizeof(sz_hdr));
	m = content_parse(msg, strlen(msg), NULL);
	a = content_attachment_at(m, 0);
	assert_int_equal(a->detected, CONTENT_FT_7Z);
	assert_true(a->archive_hidden);
	assert_int_equal(a->n_archive_names, 0);
	assert_true(content_flags(m) & CONTENT_F_ARCHIVE_UNSCANNABLE);
	content_free(m);
	free(msg);

	tar_build(&b, names, 2);
	msg = zip_message("files.tar", b.data, b.len);
	m = content_parse(msg, strlen(msg), NULL);
	a = content_attachment_at(m, 0);
	assert_int_equal(a->detected, CONTENT_FT_TAR);
	assert_string_equal(content_ftype_name(a->detected), "tar");
	assert_int_equal(a->n_archive_names, 2);
	content_free(m);
	free(msg);
	buf_free(&b);

	/* A gzip without a stored name unpacks to the attachment's name
	 * without .gz (or .tgz to .tar). */
	gzip_build(&b, NULL);
	msg = zip_message("invoice.pdf.exe.gz", b.data, b.len);
	m = content_parse(msg, strlen(msg), NULL);
	a = content_attachment_at(m, 0);
	assert_int_equal(a->detected, CONTENT_FT_GZIP);
	assert_int_equal(a->n_archive_names, 1);
	assert_string_equal(a->archive_names[0], "invoice.pdf.exe");
	content_free(m);
	free(msg);
	msg = zip_message("backup.TGZ", b.data, b.len);
	m = content_parse(msg, strlen(msg), NULL);
	assert_string_equal(content_attachment_at(m, 0)->archive_names[0], "backup.tar");
	content_free(m);
	free(msg);
	msg = zip_message("data", b.data, b.len);
	m = content_parse(msg, strlen(msg), NULL);
	assert_int_equal(content_attachment_at(m, 0)->n_archive_names, 0);
	content_free(m);
	free(msg);
	buf_free(&b);
}

/* Office macros: a VBA project in an OLE file (Word's "Macros", Excel's
 * "_VBA_PROJECT_CUR", a bare "VBA" storage), a macro part in a package. */
static void test_office_macros(void **state)
{
	(void)state;
	static const struct ole_entry word[] = { { "WordDocument", 2, -1 }, { "Macros", 1, -1 }, { "VBA", 1, 1 } };
	static const struct ole_entry excel[] = { { "Workbook", 2, -1 }, { "_vba_project_cur", 1, -1 } };
	static const struct ole_entry plain[] = { { "WordDocument", 2, -1 }, { "1Table", 2, -1 },
		{ "VBAX", 1, -1 } };
	static const struct ole_entry stream[] = { { "VBA", 2, -1 } };   /* a stream, not the storage */
	struct buf b = BUF_INIT;

	ole_build(&b, word, 3);
	assert_int_equal(content_ole_scan((const unsigned char *)b.data, b.len), CONTENT_OFFICE_VBA);
	/* Cut before its directory sector: nothing to see. */
	assert_int_equal(0, content_ole_scan((const unsigned char *)b.data, 1024));
	b.data[0] = 'X';                       /* not an OLE file */
	assert_int_equal(0, content_ole_scan((const unsigned char *)b.data, b.len));
	buf_free(&b);
	ole_build(&b, excel, 2);
	assert_int_equal(content_ole_scan((const unsigned char *)b.data, b.len), CONTENT_OFFICE_VBA);
	buf_free(&b);
	ole_build(&b, plain, 3);
	assert_int_equal(0, content_ole_scan((const unsigned char *)b.data, b.len));
	buf_free(&b);
	ole_build(&b, stream, 1);
	assert_int_equal(0, content_ole_scan((const unsigned char *)b.data, b.len));
	buf_free(&b);

	assert_int_equal(content_package_macro_part("word/vbaProject.bin"), CONTENT_OFFICE_VBA);
	assert_int_equal(content_package_macro_part("XL/VBAPROJECT.BIN"), CONTENT_OFFICE_VBA);
	assert_int_equal(content_package_macro_part("xl/macrosheets/sheet1.xml"), CONTENT_OFFICE_XLM);
	assert_int_equal(content_package_macro_part("Basic/Standard/Module1.xml"), CONTENT_OFFICE_VBA);
	assert_false(content_package_macro_part("word/document.xml"));
	assert_false(content_package_macro_part("docs/Basic/readme.txt"));

	/* Through the parser: a .doc with macros, one without, a .docm. */
	ole_build(&b, word, 3);
	char *msg = zip_message("order.doc", b.data, b.len);
	struct content_msg *m = content_parse(msg, strlen(msg), NULL);
	const struct content_attachment *a = content_attachment_at(m, 0);
	assert_int_equal(a->detected, CONTENT_FT_OLE);
	assert_int_equal(a->office, CONTENT_OFFICE_VBA);
	content_free(m);
	free(msg);
	buf_free(&b);
	ole_build(&b, plain, 2);
	msg = zip_message("minutes.doc", b.data, b.len);
	m = content_parse(msg, strlen(msg), NULL);
	assert_false(content_attachment_at(m, 0)->office);
	content_free(m);
	free(msg);
	buf_free(&b);
	static const char *const docm[] = { "[Content_Types].xml", "word/document.xml", "word/vbaProject.bin" };
	zip_build(&b, docm, 3, 0);
	msg = zip_message("order.docm", b.data, b.len);
	m = content_parse(msg, strlen(msg), NULL);
	assert_true(content_attachment_at(m, 0)->office);
	content_free(m);
	free(msg);
	buf_free(&b);
	zip_build(&b, docm, 2, 0);
	msg = zip_message("order.docx", b.data, b.len);
	m = content_parse(msg, strlen(msg), NULL);
	assert_false(content_attachment_at(m, 0)->office);
	content_free(m);
	free(msg);
	buf_free(&b);
}

static const unsigned char clsid_eqnedt[16] = { 0x02, 0xce, 0x02, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46 };
static const unsigned char clsid_mathtype[16] = { 0x03, 0xce, 0x02, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46 };
static const unsigned char clsid_oleLink[16] = { 0x00, 0x03, 0x00, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46 };

/* A BIFF8 workbook stream: globals with the given sheets (name, hs, dt)
 * and names, then a substream per sheet, padded with cell records to pad
 * bytes (4,096 or more puts it in sectors of its own, as Excel's are). */
struct xls_sheet {
	const char *name;
	unsigned hs, dt;
};

static void xls_workbook(struct buf *w, const struct xls_sheet *sh, size_t n, const char *name,
    unsigned builtin, int encrypted, size_t pad)
{
	biff_bof(w, 0x0005);
	if (encrypted) {
		static const unsigned char rc4[6] = { 0x01, 0x00, 0x01, 0x00, 0x01, 0x00 };
		biff_rec(w, 0x002f, rc4, sizeof(rc4));
	}
	for (size_t i = 0; i < n; i++)
		biff_sheet(w, sh[i].name, sh[i].hs, sh[i].dt);
	if (name != NULL || builtin)
		biff_name(w, name, builtin);
	biff_rec(w, 0x000a, NULL, 0);
	for (size_t i = 0; i < n; i++) {
		biff_bof(w, sh[i].dt == 1 ? 0x0040 : 0x0010);
		biff_rec(w, 0x000a, NULL, 0);
	}
	static const unsigned char cell[20] = { 0 };
	while (w->len < pad)
		biff_rec(w, 0x0203, cell, sizeof(cell));   /* a Number cell */
}

static unsigned ole_scan_buf(const struct buf *b)
{
	return content_ole_scan((const unsigned char *)b->data, b->len);
}

/* Excel 4.0 macro sheets in a legacy workbook, found by reading its
 * Workbook stream through the FAT (or its Book stream through the mini
 * FAT), and encrypted documents; the compound file read whole, cut, with a
 * looping FAT and with a FAT continued in DIFAT sectors. */
static void test_office_xlm_and_encryption(void **state)
{
	(void)state;
	static const struct xls_sheet dropper[] = { { "Sheet1", 0, 0 }, { "Macro1", 2, 1 } };
	static const struct xls_sheet plain[] = { { "Sheet1", 0, 0 }, { "Sheet2", 1, 0 } };
	static const struct xls_sheet visible[] = { { "Macro1", 0, 1 } };
	struct buf w = BUF_INIT, b = BUF_INIT;
	const unsigned all = CONTENT_OFFICE_XLM | CONTENT_OFFICE_XLM_HIDDEN | CONTENT_OFFICE_AUTO_OPEN;

	/* A very hidden macro sheet run by the built-in Auto_Open. */
	xls_workbook(&w, dropper, 2, NULL, 1, 0, 6000);
	struct ole_stream st[3] = { { "Workbook", w.data, w.len } };
	ole_build_streams(&b, st, 1);
	assert_int_equal(ole_scan_buf(&b), all);
	/* Cut inside the stream's second sector: the globals are in the first. */
	assert_int_equal(content_ole_scan((const unsigned char *)b.data, b.len - 4096), all);
	/* A loop in the FAT (the stream's first sector pointing at itself)
	 * ends the stream; the globals are still read. */
	{
		const size_t first = 3;   /* FAT, directory, then the stream (no mini) */
		unsigned char *fat = (unsigned char *)b.data + 512;
		ole_put32(fat + 4 * first, (uint32_t)first);
		assert_int_equal(ole_scan_buf(&b), all);
	}
	buf_free(&b);
	/* With a long stream first, the workbook sits past what the header's
	 * 109 FAT sectors map: the FAT goes on in DIFAT sectors. */
	{
		const size_t big = 112u * 128u * 512u;
		char *filler = xcalloc(1, big);
		struct ole_stream two[2] = { { "Filler", filler, big }, { "Workbook", w.data, w.len } };
		ole_build_streams(&b, two, 2);
		assert_int_equal((unsigned)b.data[0x48], 1);    /* one DIFAT sector */
		assert_int_equal(ole_scan_buf(&b), all);
		free(filler);
		buf_free(&b);
	}
	buf_free(&w);

	/* Its own name beginning with Auto_Open (any case), a visible sheet, in
	 * a short BIFF5-style Book stream held in the mini stream. */
	xls_workbook(&w, visible, 1, "aUTo_oPEN77", 0, 0, 0);
	assert_true(w.len < 4096);
	st[0] = (struct ole_stream){ "Book", w.data, w.len };
	ole_build_streams(&b, st, 1);
	assert_int_equal(ole_scan_buf(&b), CONTENT_OFFICE_XLM | CONTENT_OFFICE_AUTO_OPEN);
	buf_free(&b);
	buf_free(&w);

	/* Hidden worksheets and an Auto_Open name without a macro sheet: none. */
	xls_workbook(&w, plain, 2, "Auto_Open", 0, 0, 5000);
	st[0] = (struct ole_stream){ "Workbook", w.data, w.len };
	ole_build_streams(&b, st, 1);
	assert_int_equal(ole_scan_buf(&b), 0);
	buf_free(&b);
	buf_free(&w);

	/* Encrypted: a workbook (FILEPASS: its sheet kinds are unreadable), a
	 * Word document (fEncrypted), an Office Open XML package. */
	xls_workbook(&w, dropper, 2, NULL, 1, 1, 5000);
	st[0] = (struct ole_stream){ "Workbook", w.data, w.len };
	ole_build_streams(&b, st, 1);
	assert_int_equal(ole_scan_buf(&b), CONTENT_OFFICE_ENCRYPTED);
	buf_free(&b);
	buf_free(&w);
	unsigned char fib[32] = { 0xec, 0xa5, 0xc1, 0x00 };
	st[0] = (struct ole_stream){ "WordDocument", fib, sizeof(fib) };
	ole_build_streams(&b, st, 1);
	assert_int_equal(ole_scan_buf(&b), 0);
	buf_free(&b);
	fib[11] = 0x01;                           /* fEncrypted */
	ole_build_streams(&b, st, 1);
	assert_int_equal(ole_scan_buf(&b), CONTENT_OFFICE_ENCRYPTED);
	buf_free(&b);
	static const char info[] = "\x04\x00\x04\x00\x40\x00\x00\x00";
	char pkg[5000] = { 0 };
	struct ole_stream enc[2] = { { "EncryptionInfo", info, 8 }, { "EncryptedPackage", pkg, sizeof(pkg) } };
	ole_build_streams(&b, enc, 2);
	assert_int_equal(ole_scan_buf(&b), CONTENT_OFFICE_ENCRYPTED);

	/* Through the parser: the bits reach the attachment. */
	char *msg = zip_message("report.xls", b.data, b.len);
	struct content_msg *m = content_parse(msg, strlen(msg), NULL);
	assert_int_equal(content_attachment_at(m, 0)->detected, CONTENT_FT_OLE);
	assert_int_equal(content_attachment_at(m, 0)->office, CONTENT_OFFICE_ENCRYPTED);
	content_free(m);
	free(msg);
	buf_free(&b);

	/* An embedded Equation Editor object: a storage of Word's ObjectPool
	 * with its class id; MathType's class id is another. */
	{
		static const struct ole_entry pool[] = { { "WordDocument", 2, -1 }, { "ObjectPool", 1, -1 },
			{ "_1234567890", 1, 1 } };
		struct buf d = BUF_INIT;
		ole_build(&d, pool, 3);
		memcpy(d.data + 1024 + 3 * 128 + 0x50, clsid_eqnedt, 16);
		assert_int_equal(ole_scan_buf(&d), CONTENT_OFFICE_EQUATION);
		memcpy(d.data + 1024 + 3 * 128 + 0x50, clsid_mathtype, 16);
		assert_int_equal(ole_scan_buf(&d), 0);
		buf_free(&d);
	}

	/* Not a compound file, or one too short to hold a sector. */
	assert_int_equal(content_ole_scan((const unsigned char *)"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8), 0);
	ole_build_streams(&b, st, 1);
	assert_int_equal(content_ole_scan((const unsigned char *)b.data, 600), 0);
	b.data[0x1e] = 10;                        /* a sector size MS-CFB does not have */
	assert_int_equal(ole_scan_buf(&b), 0);
	buf_free(&b);
}


/* An RTF document with one object: \object<kw>, {\*\objclass cls}, and as
 * \objdata an OLE1 object of class ole1cls around a compound file with an
 * "Equation Native" stream and the root class id given (or native bytes). */
static void rtf_object(struct buf *out, const char *kw, const char *cls, const char *ole1cls,
    const unsigned char *clsid, const void *native, size_t nn, int noise)
{
	struct buf cf = BUF_INIT, o1 = BUF_INIT;
	if (native == NULL) {
		static const unsigned char eq[28] = { 0x1c, 0x00, 0x00, 0x00, 0x02, 0x00 };
		const struct ole_stream st = { "Equation Native", eq, sizeof(eq) };
		ole_build_streams(&cf, &st, 1);
		if (clsid != NULL)
			ole_set_root_clsid(&cf, clsid);
		native = cf.data;
		nn = cf.len;
	}
	ole1_embedded(&o1, ole1cls, native, nn);
	buf_append_str(out, "{\\rtf1\\ansi{\\fonttbl{\\f0 Times;}}\\pard Invoice attached.\\par\r\n{\\object");
	buf_append_str(out, kw);
	if (cls != NULL) {
		buf_append_str(out, "{\\*\\objclass ");
		buf_append_str(out, cls);
		buf_append_str(out, "}");
	}
	buf_append_str(out, "{\\*\\objdata\r\n");
	rtf_hex(out, o1.data, o1.len, noise);
	buf_append_str(out, "}{\\result {\\pict\\wmetafile8 0100}}}\\par}\r\n");
	buf_free(&cf);
	buf_free(&o1);
}

static unsigned rtf_flags(const struct buf *b, struct content_rtf *r)
{
	content_rtf_scan((const unsigned char *)b->data, b->len, r);
	return r->flags;
}

/* RTF objects: the Equation Editor by class name or by the class id of
 * its compound file (the name mangled, the hex broken up), a link object
 * loaded on opening, a Packager object's file, \binN data; charts and
 * MathType quiet; limits. */
static void test_rtf_objects(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	struct content_rtf r;
	const unsigned obj = RTF_F_OBJECT;

	rtf_object(&b, "\\objemb", "Equation.3", "Equation.3", NULL, NULL, 0, 0);
	assert_true(content_rtf_is((const unsigned char *)b.data, b.len));
	assert_int_equal(rtf_flags(&b, &r), obj | RTF_F_EQUATION);
	buf_free(&b);
	/* Names that say nothing; the compound file's class id does, and the
	 * hex is broken up by blanks, control words and ignorable groups. */
	rtf_object(&b, "\\objemb\\objupdate", "Word.Document.8", "abcd", clsid_eqnedt, NULL, 0, 1);
	assert_int_equal(rtf_flags(&b, &r), obj | RTF_F_EQUATION | RTF_F_AUTO_UPDATE);
	buf_free(&b);
	/* The same data without the noise, read as raw \binN bytes. */
	{
		struct buf cf = BUF_INIT, o1 = BUF_INIT;
		static const unsigned char eq[8] = { 0x1c };
		const struct ole_stream st = { "Equation Native", eq, sizeof(eq) };
		ole_build_streams(&cf, &st, 1);
		ole_set_root_clsid(&cf, clsid_eqnedt);
		ole1_embedded(&o1, "x", cf.data, cf.len);
		char *head = xasprintf("{\\rtf1{\\object\\objemb{\\*\\objdata \\bin%zu ", o1.len);
		buf_append_str(&b, head);
		buf_append(&b, o1.data, o1.len);
		buf_append_str(&b, "}}}");
		assert_int_equal(rtf_flags(&b, &r), obj | RTF_F_EQUATION);
		free(head);
		buf_free(&b);
		buf_free(&cf);
		buf_free(&o1);
	}
	/* A link object refreshed on opening (CVE-2017-0199's form). */
	rtf_object(&b, "\\objautlink\\objupdate", "Word.Document.8", "Word.Document.8", clsid_oleLink, NULL, 0, 0);
	assert_int_equal(rtf_flags(&b, &r), obj | RTF_F_LINK | RTF_F_AUTO_UPDATE);
	buf_free(&b);
	/* A Packager object: the file it carries, by label or by path. */
	static const char pkg[] = "\x02\x00invoice.pdf.exe\0C:\\Users\\x\\invoice.pdf.exe\0\0\0";
	rtf_object(&b, "\\objemb", "Package", "Package", NULL, pkg, sizeof(pkg), 0);
	assert_int_equal(rtf_flags(&b, &r), obj | RTF_F_PACKAGE);
	assert_string_equal(r.package, "invoice.pdf.exe");
	buf_free(&b);
	static const char nolabel[] = "\x02\x00\0C:\\tmp\\run.js\0";
	rtf_object(&b, "\\objemb", NULL, "Package", NULL, nolabel, sizeof(nolabel), 1);
	assert_int_equal(rtf_flags(&b, &r), obj | RTF_F_PACKAGE);
	assert_string_equal(r.package, "run.js");
	buf_free(&b);
	/* A chart, and a MathType equation (its own class id): objects only. */
	rtf_object(&b, "\\objemb", "Excel.Sheet.8", "Excel.Sheet.8", NULL, NULL, 0, 0);
	assert_int_equal(rtf_flags(&b, &r), obj);
	buf_free(&b);
	rtf_object(&b, "\\objemb", "Equation.DSMT4", "Equation.DSMT4", clsid_mathtype, NULL, 0, 0);
	assert_int_equal(rtf_flags(&b, &r), obj);
	buf_free(&b);

	/* Cut inside the object data: what was read is judged. */
	rtf_object(&b, "\\objemb", "Equation.3", "x", NULL, NULL, 0, 0);
	content_rtf_scan((const unsigned char *)b.data, b.len / 2, &r);
	assert_int_equal(r.flags, obj | RTF_F_EQUATION);
	buf_free(&b);
	/* More objects than are looked at. */
	buf_append_str(&b, "{\\rtf1");
	for (int i = 0; i <= RTF_MAX_OBJECTS; i++)
		buf_append_str(&b, "{\\object{\\*\\objclass Paint.Picture}{\\*\\objdata 0105}}");
	buf_append_str(&b, "{\\object{\\*\\objclass Equation.3}}}");
	assert_int_equal(rtf_flags(&b, &r), obj | RTF_F_CUT);
	buf_free(&b);
	/* Text, and an RTF without objects. */
	assert_false(content_rtf_is((const unsigned char *)"{\\urtf", 6));
	buf_append_str(&b, "{\\rtf1\\ansi Hello {\\b world}\\par}");
	assert_int_equal(rtf_flags(&b, &r), 0);
	buf_free(&b);

	/* Through the parser: an RTF named .doc is read as RTF. */
	rtf_object(&b, "\\objemb", "Package", "Package", NULL, pkg, sizeof(pkg), 0);
	char *msg = zip_message("Order_7731.doc", b.data, b.len);
	struct content_msg *m = content_parse(msg, strlen(msg), NULL);
	const struct content_attachment *a = content_attachment_at(m, 0);
	assert_int_equal(a->detected, CONTENT_FT_RTF);
	assert_string_equal(content_ftype_name(a->detected), "rtf");
	assert_int_equal(a->rtf, obj | RTF_F_PACKAGE);
	assert_string_equal(a->embedded_name, "invoice.pdf.exe");
	content_free(m);
	free(msg);
	buf_free(&b);
}

/* A .docx whose settings or document relationships hold rels (deflated). */
static void docx_with_rels(struct buf *out, const char *settings_rels, const char *doc_rels)
{
	static const char *const names[] = { "[Content_Types].xml", "word/document.xml",
		"word/_rels/settings.xml.rels", "word/_rels/document.xml.rels" };
	struct buf d[4] = { BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT };
	buf_append_str(&d[0], "<Types/>");
	buf_append_str(&d[1], "<w:document/>");
	buf_append_str(&d[2], settings_rels);
	buf_append_str(&d[3], doc_rels);
	zip_build_data(out, names, d, 4, 1);
	for (int i = 0; i < 4; i++)
		buf_free(&d[i]);
}

#define RELS_HEAD "<?xml version=\"1.0\"?>\r\n<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
#define REL_TYPE "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"

/* What an Office Open XML package loads from the web: a template, an OLE
 * object (Follina's form), a frame; not hyperlinks, not a template on
 * disk or a share; attributes in any order and quoting; limits. */
static void test_ooxml_external(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	struct content_ooxml o;
	size_t budget = 1u << 20;
	const char *plain = RELS_HEAD "<Relationship Id=\"rId1\" Type=\"" REL_TYPE "styles\" Target=\"styles.xml\"/>"
	    "<Relationship Id=\"rId9\" Type=\"" REL_TYPE "hyperlink\" Target=\"https://example.org/\" TargetMode=\"External\"/></Relationships>";

	docx_with_rels(&b, RELS_HEAD "<Relationship Id=\"rId1\" Type=\"" REL_TYPE "attachedTemplate\"\r\n"
	    "  Target=\"https://cdn.example.net/t.dotm\" TargetMode=\"External\"/></Relationships>", plain);
	content_ooxml_scan((const unsigned char *)b.data, b.len, &budget, &o);
	assert_int_equal(o.flags, OOXML_F_TEMPLATE);
	assert_string_equal(o.target, "https://cdn.example.net/t.dotm");
	assert_true(budget < (1u << 20));
	buf_free(&b);
	/* Follina: an external oleObject, attributes reordered, single quotes. */
	docx_with_rels(&b, plain, RELS_HEAD "<Relationship TargetMode='External' Target='http://198.51.100.7/x.html!' "
	    "Id='rId996' Type='" REL_TYPE "oleObject'/></Relationships>");
	content_ooxml_scan((const unsigned char *)b.data, b.len, &budget, &o);
	assert_int_equal(o.flags, OOXML_F_OBJECT);
	assert_string_equal(o.target, "http://198.51.100.7/x.html!");
	buf_free(&b);
	docx_with_rels(&b, plain, RELS_HEAD "<Relationship Id=\"r\" Type=\"" REL_TYPE "frame\" Target=\"MHTML:http://x.example/a\" TargetMode=\"External\"/></Relationships>");
	content_ooxml_scan((const unsigned char *)b.data, b.len, &budget, &o);
	assert_int_equal(o.flags, OOXML_F_FRAME);
	buf_free(&b);
	/* A corporate template on disk and on a share, an internal oleObject,
	 * a web target without TargetMode: nothing. */
	docx_with_rels(&b, RELS_HEAD "<Relationship Id=\"rId1\" Type=\"" REL_TYPE "attachedTemplate\" "
	    "Target=\"file:///C:\\Users\\a\\Templates\\Normal.dotm\" TargetMode=\"External\"/>"
	    "<Relationship Id=\"rId2\" Type=\"" REL_TYPE "attachedTemplate\" Target=\"\\\\fs01\\templates\\memo.dotx\" TargetMode=\"External\"/>"
	    "</Relationships>", RELS_HEAD "<Relationship Id=\"rId5\" Type=\"" REL_TYPE "oleObject\" Target=\"embeddings/oleObject1.bin\"/>"
	    "<Relationship Id=\"rId6\" Type=\"" REL_TYPE "oleObject\" Target=\"https://x.example/o\"/></Relationships>");
	content_ooxml_scan((const unsigned char *)b.data, b.len, &budget, &o);
	assert_int_equal(o.flags, 0);
	/* No budget left: cut, nothing read. */
	size_t none = 0;
	content_ooxml_scan((const unsigned char *)b.data, b.len, &none, &o);
	assert_int_equal(o.flags, OOXML_F_CUT);
	buf_free(&b);

	/* An embedded Equation Editor object in a package; MathType's is quiet. */
	for (int mt = 0; mt <= 1; mt++) {
		static const char *const names[] = { "[Content_Types].xml", "word/embeddings/oleObject1.bin" };
		static const unsigned char eqn[28] = { 0x1c };
		const struct ole_stream st = { "Equation Native", eqn, sizeof(eqn) };
		struct buf d[2] = { BUF_INIT, BUF_INIT };
		buf_append_str(&d[0], "<Types/>");
		ole_build_streams(&d[1], &st, 1);
		ole_set_root_clsid(&d[1], mt ? clsid_mathtype : clsid_eqnedt);
		zip_build_data(&b, names, d, 2, 1);
		content_ooxml_scan((const unsigned char *)b.data, b.len, &budget, &o);
		assert_int_equal(o.flags, mt ? 0 : OOXML_F_EQUATION);
		assert_string_equal(o.target, "");
		buf_free(&b);
		buf_free(&d[0]);
		buf_free(&d[1]);
	}

	/* Through the parser: a .docx (a ZIP with [Content_Types].xml). */
	docx_with_rels(&b, RELS_HEAD "<Relationship Id=\"rId1\" Type=\"" REL_TYPE "attachedTemplate\" "
	    "Target=\"https://cdn.example.net/t.dotm\" TargetMode=\"External\"/></Relationships>", plain);
	char *msg = zip_message("Contract.docx", b.data, b.len);
	struct content_msg *m = content_parse(msg, strlen(msg), NULL);
	const struct content_attachment *a = content_attachment_at(m, 0);
	assert_int_equal(a->ooxml, OOXML_F_TEMPLATE);
	assert_string_equal(a->ooxml_target, "https://cdn.example.net/t.dotm");
	content_free(m);
	free(msg);
	buf_free(&b);
	/* The same relationships in a ZIP without [Content_Types].xml: no package. */
	{
		static const char *const names[] = { "word/_rels/settings.xml.rels" };
		struct buf d = BUF_INIT;
		buf_append_str(&d, RELS_HEAD "<Relationship Id=\"rId1\" Type=\"" REL_TYPE "attachedTemplate\" "
		    "Target=\"https://cdn.example.net/t.dotm\" TargetMode=\"External\"/></Relationships>");
		zip_build_data(&b, names, &d, 1, 1);
		msg = zip_message("rels.zip", b.data, b.len);
		m = content_parse(msg, strlen(msg), NULL);
		assert_int_equal(content_attachment_at(m, 0)->ooxml, 0);
		assert_null(content_attachment_at(m, 0)->ooxml_target);
		content_free(m);
		free(msg);
		buf_free(&d);
		buf_free(&b);
	}
}

static const char lnk_head[] = "L\0\0\0\x01\x14\x02\0\0\0\0\0\xc0\0\0\0\0\0\0\x46";

/* OneNote sections: each embedded file typed, the worst one kept; a
 * shell link by its header whatever its name. */
static void test_onenote_and_lnk(void **state)
{
	(void)state;
	struct buf f[3] = { BUF_INIT, BUF_INIT, BUF_INIT }, b = BUF_INIT;
	struct content_onenote o;
	buf_append_str(&f[0], "%PDF-1.4\n1 0 obj << >> endobj\n");
	buf_append_str(&f[1], "<html><head><HTA:APPLICATION/><script language=\"VBScript\">"
	    "Set s = CreateObject(\"WScript.Shell\"): s.Run \"cmd /c curl\"</script></head></html>");
	buf_append(&f[2], "MZ\x90\0\x03\0\0\0", 8);

	onenote_build(&b, f, 1);
	assert_true(content_onenote_is((const unsigned char *)b.data, b.len));
	content_onenote_scan((const unsigned char *)b.data, b.len, &o);
	assert_int_equal(o.files, 1);
	assert_int_equal(o.worst, CONTENT_FT_UNKNOWN);
	buf_free(&b);
	onenote_build(&b, f, 2);
	content_onenote_scan((const unsigned char *)b.data, b.len, &o);
	assert_int_equal(o.files, 2);
	assert_int_equal(o.worst, CONTENT_FT_SCRIPT);
	assert_false(o.cut);
	buf_free(&b);
	onenote_build(&b, f, 3);
	content_onenote_scan((const unsigned char *)b.data, b.len, &o);
	assert_int_equal(o.worst, CONTENT_FT_EXE);
	/* Cut inside the last file: typed by what is there, noted. */
	content_onenote_scan((const unsigned char *)b.data, b.len - 20, &o);
	assert_int_equal(o.worst, CONTENT_FT_EXE);
	assert_true(o.cut);
	buf_free(&b);
	/* A shortcut embedded, and more files than are looked at. */
	struct buf many[ONENOTE_MAX_FILES + 1];
	for (size_t i = 0; i <= ONENOTE_MAX_FILES; i++) {
		many[i] = (struct buf)BUF_INIT;
		if (i == 3)
			buf_append(&many[i], lnk_head, sizeof(lnk_head) - 1);
		else
			buf_append_str(&many[i], "note");
	}
	onenote_build(&b, many, ONENOTE_MAX_FILES + 1);
	content_onenote_scan((const unsigned char *)b.data, b.len, &o);
	assert_int_equal(o.worst, CONTENT_FT_LNK);
	assert_int_equal(o.files, ONENOTE_MAX_FILES);
	assert_true(o.cut);
	for (size_t i = 0; i <= ONENOTE_MAX_FILES; i++)
		buf_free(&many[i]);
	buf_free(&b);

	/* Through the parser. */
	onenote_build(&b, f, 2);
	char *msg = zip_message("Invoice_0042.one", b.data, b.len);
	struct content_msg *m = content_parse(msg, strlen(msg), NULL);
	assert_int_equal(content_attachment_at(m, 0)->detected, CONTENT_FT_ONENOTE);
	assert_string_equal(content_ftype_name(CONTENT_FT_ONENOTE), "onenote");
	assert_int_equal(content_attachment_at(m, 0)->embedded_type, CONTENT_FT_SCRIPT);
	content_free(m);
	free(msg);
	buf_free(&b);
	msg = zip_message("Invoice.pdf", lnk_head, sizeof(lnk_head) - 1);
	m = content_parse(msg, strlen(msg), NULL);
	assert_int_equal(content_attachment_at(m, 0)->detected, CONTENT_FT_LNK);
	content_free(m);
	free(msg);
	for (int i = 0; i < 3; i++)
		buf_free(&f[i]);
}

static int has_name(const struct content_archive *z, const char *name)
{
	for (size_t i = 0; i < z->n_names; i++)
		if (strcmp(z->names[i], name) == 0)
			return 1;
	return 0;
}

/* ZIPs that tools read differently: one glued in front of another (7-Zip
 * shows the first, most libraries the last), a local header naming
 * another file than the directory; both readings are listed.  A
 * self-extractor's program in front, and a plain ZIP, are not disguised. */
static void test_zip_disguised(void **state)
{
	(void)state;
	static const char *const front[] = { "invoice.pdf.exe" }, *const back[] = { "invoice.pdf" };
	struct buf a = BUF_INIT, b = BUF_INIT, g = BUF_INIT;
	struct content_archive z;
	zip_build(&a, front, 1, 0);
	zip_build(&b, back, 1, 0);

	assert_int_equal(content_zip_read((const unsigned char *)b.data, b.len, &z), 0);
	assert_false(z.disguised);
	content_archive_free(&z);
	buf_append(&g, a.data, a.len);
	buf_append(&g, b.data, b.len);
	assert_int_equal(content_zip_read((const unsigned char *)g.data, g.len, &z), 0);
	assert_true(z.disguised);
	assert_int_equal(z.members, 2);
	assert_true(has_name(&z, "invoice.pdf") && has_name(&z, "invoice.pdf.exe"));
	content_archive_free(&z);
	/* The same, the second directory written with the whole file's
	 * offsets: its first member starts after the first archive. */
	{
		struct buf w = BUF_INIT;
		zip_build(&w, front, 1, 0);
		zip_build(&w, back, 1, 0);
		assert_int_equal(content_zip_read((const unsigned char *)w.data, w.len, &z), 0);
		assert_true(z.disguised);
		assert_true(has_name(&z, "invoice.pdf") && has_name(&z, "invoice.pdf.exe"));
		content_archive_free(&z);
		buf_free(&w);
	}
	/* Six glued: the last and four in front of it are read. */
	buf_free(&g);
	for (int i = 0; i < 6; i++)
		buf_append(&g, i == 0 ? a.data : b.data, i == 0 ? a.len : b.len);
	assert_int_equal(content_zip_read((const unsigned char *)g.data, g.len, &z), 0);
	assert_true(z.disguised);
	assert_int_equal(z.members, 5);
	assert_false(has_name(&z, "invoice.pdf.exe"));
	content_archive_free(&z);
	buf_free(&g);
	/* A self-extractor: a program in front. */
	buf_append(&g, "MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0\xb8\0\0\0\0\0\0\0\x40\0\0\0\0\0\0\0\0\0", 34);
	buf_append(&g, b.data, b.len);
	assert_int_equal(content_zip_read((const unsigned char *)g.data, g.len, &z), 0);
	assert_false(z.disguised);
	assert_int_equal(z.members, 1);
	content_archive_free(&z);
	buf_free(&g);
	/* The local header says .exe where the directory says .pdf. */
	buf_append(&g, b.data, b.len);
	memcpy(g.data + 30 + strlen("invoice."), "exe", 3);
	assert_int_equal(content_zip_read((const unsigned char *)g.data, g.len, &z), 0);
	assert_true(z.disguised);
	assert_true(has_name(&z, "invoice.pdf") && has_name(&z, "invoice.exe"));
	content_archive_free(&z);

	/* A directory whose member offset points past the directory: the
	 * member's own local header in front is listed (the directory does
	 * not lead to it), the directory itself is not read a second time
	 * as if it were an archive in front (fuzz_zip found that). */
	{
		struct buf w = BUF_INIT;
		zip_build(&w, back, 1, 0);
		const size_t cd = w.len - 22 - 46 - strlen(back[0]);
		assert_int_equal(w.data[cd], 'P');
		const uint32_t past = (uint32_t)w.len;          /* the end of the bytes */
		memcpy(w.data + cd + 42, &past, 4);            /* little-endian host */
		assert_int_equal(content_zip_read((const unsigned char *)w.data, w.len, &z), 0);
		size_t seen = 0;
		for (size_t i = 0; i < z.n_names; i++)
			seen += strcmp(z.names[i], "invoice.pdf") == 0;
		assert_int_equal(seen, 2);
		assert_true(z.disguised);
		content_archive_free(&z);
		buf_free(&w);
	}

	/* Through the parser: never clean (the unscannable flag). */
	buf_free(&g);
	buf_append(&g, a.data, a.len);
	buf_append(&g, b.data, b.len);
	char *msg = zip_message("invoice.zip", g.data, g.len);
	struct content_msg *m = content_parse(msg, strlen(msg), NULL);
	assert_true(content_attachment_at(m, 0)->archive_disguised);
	assert_true(content_flags(m) & CONTENT_F_ARCHIVE_UNSCANNABLE);
	content_free(m);
	free(msg);
	buf_free(&a);
	buf_free(&b);
	buf_free(&g);
}

/* Archives inside archives: opened within the limits, flagged past them. */
static void test_nested_archives(void **state)
{
	(void)state;
	static const char *const inner_names[] = { "invoice.pdf.exe", "readme.txt" };
	struct buf inner_data[2] = { BUF_INIT, BUF_INIT };
	buf_append(&inner_data[0], "MZ\x90\x00 a program", 14);
	buf_append(&inner_data[1], "hello\n", 6);
	struct buf inner = BUF_INIT, outer = BUF_INIT;
	zip_build_data(&inner, inner_names, inner_data, 2, 1);

	for (int deflate = 0; deflate <= 1; deflate++) {
		/* Named like an archive, or like a photo: opened either way. */
		static const char *const names[] = { "docs.zip", "notes.txt", "photo.jpg" };
		struct buf data[3] = { BUF_INIT, BUF_INIT, BUF_INIT };
		buf_append(&data[0], inner.data, inner.len);
		buf_append(&data[1], "notes\n", 6);
		buf_append(&data[2], inner.data, inner.len);
		outer.len = 0;
		zip_build_data(&outer, names, data, 3, deflate);
		struct content_archive z;
		struct content_archive_budget b = ARCHIVE_BUDGET_DEFAULT;
		assert_int_equal(content_archive_read_nested(ARCHIVE_NONE, (const unsigned char *)outer.data,
		    outer.len, &b, &z), 0);
		assert_int_equal(z.members, 7);
		assert_int_equal(z.n_names, 7);
		assert_int_equal(z.nested_cut, 0);
		assert_string_equal(z.names[3], "docs.zip/invoice.pdf.exe");
		assert_string_equal(z.names[6], "photo.jpg/readme.txt");
		assert_int_equal(b.archives, 64 - 2);
		content_archive_free(&z);

		/* No archives left to open: flagged, not listed. */
		b.archives = 0;
		assert_int_equal(content_archive_read_nested(ARCHIVE_ZIP, (const unsigned char *)outer.data,
		    outer.len, &b, &z), 0);
		assert_int_equal(z.n_names, 3);
		assert_true(z.nested_cut);
		content_archive_free(&z);
		for (int i = 0; i < 3; i++)
			buf_free(&data[i]);
	}

	/* An inner archive packed by a method not read here (bzip2: 12):
	 * flagged by its name; the same bytes under another name are not an
	 * archive anyone is told about. */
	for (int named = 0; named <= 1; named++) {
		const char *const one[] = { named ? "docs.zip" : "docs.dat" };
		outer.len = 0;
		zip_build_data(&outer, one, &inner, 1, 0);
		outer.data[8] = 12;                     /* the local header's method */
		const size_t cd = outer.len - 22 - 46 - strlen(one[0]);
		outer.data[cd + 10] = 12;               /* the directory's */
		struct content_archive y;
		struct content_archive_budget yb = ARCHIVE_BUDGET_DEFAULT;
		assert_int_equal(content_archive_read_nested(ARCHIVE_ZIP, (const unsigned char *)outer.data,
		    outer.len, &yb, &y), 0);
		assert_int_equal(y.n_names, 1);
		assert_int_equal(y.nested_cut, named);
		content_archive_free(&y);
	}

	/* Four levels: the third archive inside is not opened, and says so. */
	struct buf level = BUF_INIT;
	buf_append(&level, inner.data, inner.len);
	for (int i = 0; i < 4; i++) {
		static const char *const one[] = { "level.zip" };
		outer.len = 0;
		zip_build_data(&outer, one, &level, 1, 1);
		level.len = 0;
		buf_append(&level, outer.data, outer.len);
	}
	struct content_archive z;
	struct content_archive_budget b = ARCHIVE_BUDGET_DEFAULT;
	assert_int_equal(content_archive_read_nested(ARCHIVE_NONE, (const unsigned char *)level.data,
	    level.len, &b, &z), 0);
	assert_int_equal(z.n_names, 3);
	assert_string_equal(z.names[2], "level.zip/level.zip/level.zip");
	assert_true(z.nested_cut);
	content_archive_free(&z);
	buf_free(&level);

	/* A .tar.gz is listed as it inflates; past the streaming budget the
	 * rest is unseen and flagged. */
	char big[200];
	snprintf(big, sizeof(big), "logs/%s", "server.log");
	const char *const tnames[] = { "src/main.c", "bin/setup.exe", big };
	struct buf tar = BUF_INIT, tgz = BUF_INIT;
	tar_build(&tar, tnames, 3);
	gzip_data(&tgz, tar.data, tar.len);
	b = (struct content_archive_budget)ARCHIVE_BUDGET_DEFAULT;
	assert_int_equal(content_archive_read_nested(ARCHIVE_NONE, (const unsigned char *)tgz.data,
	    tgz.len, &b, &z), 0);
	assert_int_equal(z.n_names, 3);
	assert_string_equal(z.names[1], "bin/setup.exe");
	assert_int_equal(z.nested_cut, 0);
	content_archive_free(&z);
	b.streamed = 1024;                      /* less than the tar's 5 KiB */
	assert_int_equal(content_archive_read_nested(ARCHIVE_GZIP, (const unsigned char *)tgz.data,
	    tgz.len, &b, &z), 0);
	assert_true(z.nested_cut);
	assert_true(z.n_names < 3);
	content_archive_free(&z);

	/* A gzip of 64 MiB of zeros: not an archive, nothing unpacked past
	 * its first bytes. */
	unsigned char *zeros = xcalloc(64u << 20, 1);
	tgz.len = 0;
	gzip_data(&tgz, zeros, 64u << 20);
	free(zeros);
	b = (struct content_archive_budget)ARCHIVE_BUDGET_DEFAULT;
	assert_int_equal(content_archive_read_nested(ARCHIVE_NONE, (const unsigned char *)tgz.data,
	    tgz.len, &b, &z), 0);
	assert_int_equal(z.members, 1);
	assert_int_equal(z.nested_cut, 0);
	assert_int_equal(b.streamed, (uint64_t)256 << 20);
	content_archive_free(&z);

	/* Through the parser: the executable two levels down is named. */
	static const char *const top[] = { "docs.zip" };
	outer.len = 0;
	zip_build_data(&outer, top, &inner, 1, 1);
	char *msg = zip_message("invoice.zip", outer.data, outer.len);
	struct content_msg *m = content_parse(msg, strlen(msg), NULL);
	const struct content_attachment *a = content_attachment_at(m, 0);
	assert_int_equal(a->archive_members, 3);
	assert_string_equal(a->archive_names[1], "docs.zip/invoice.pdf.exe");
	content_free(m);
	free(msg);

	buf_free(&tar);
	buf_free(&tgz);
	buf_free(&inner);
	buf_free(&outer);
	buf_free(&inner_data[0]);
	buf_free(&inner_data[1]);
}

/* Web pages and SVG images as attachments: what they would do if opened. */
static void test_html_file_attachments(void **state)
{
	(void)state;
	static const struct {
		const char *page;
		unsigned want;
	} cases[] = {
		{ "<html><body><form action=\"https://x.example/p\"><input name=u>"
		  "<input type = 'Password' name=p></form></body></html>", HTMLFILE_LOGIN_FORM },
		{ "\xef\xbb\xbf  <!DOCTYPE html><script>document.write(atob('PGgxPmhp'))</script>",
		  HTMLFILE_DECODE_SCRIPT },
		{ "<html><script>var b=new Blob([d]);var a=document.createElement('a');"
		  "a.href=URL.createObjectURL(b);a.download='invoice.iso';a.click()</script>",
		  HTMLFILE_SMUGGLING },
		{ "<html><head><meta http-equiv=\"refresh\" content=\"0; url=https://x.example/\">",
		  HTMLFILE_REDIRECT },
		{ "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>window.location.href="
		  "unescape('%68ttps://x.example')</script></svg>", HTMLFILE_DECODE_SCRIPT | HTMLFILE_REDIRECT },
		/* A receipt, a report with a table and a chart script: quiet. */
		{ "<html><body><h1>Receipt</h1><p>Total: 12.00 EUR</p><input type=text></body></html>", 0 },
		{ "<!doctype html><html><script>function draw(){var c=document.getElementById('c');}"
		  "</script><table><tr><td>Q3</td></tr></table></html>", 0 },
		{ "<html><body>type your password into the portal</body></html>", 0 },
	};
	for (size_t i = 0; i < MW_ARRAY_LEN(cases); i++) {
		const unsigned char *p = (const unsigned char *)cases[i].page;
		const size_t n = strlen(cases[i].page);
		assert_true(content_htmlfile_is(p, n));
		if (content_htmlfile_scan(p, n) != cases[i].want)
			fail_msg("case %zu: %#x, want %#x", i, content_htmlfile_scan(p, n), cases[i].want);
	}
	/* Not markup at all, and markup that is not a page (an XML feed). */
	assert_false(content_htmlfile_is((const unsigned char *)"hello <html>", 12));
	assert_false(content_htmlfile_is((const unsigned char *)"<?xml version=\"1.0\"?><rss>", 26));

	/* Through the parser: the login page is looked into past its first
	 * 512 bytes; the same page as a .txt of plain text is not a page. */
	struct buf page = BUF_INIT;
	buf_append_str(&page, "<html><head><title>Sign in</title></head><body>");
	for (int i = 0; i < 400; i++)
		buf_append_str(&page, "<p>&nbsp;</p>");
	buf_append_str(&page, "<form><input type=password name=pw></form></body></html>");
	char *msg = zip_message("Remittance_Advice.html", page.data, page.len);
	struct content_msg *m = content_parse(msg, strlen(msg), NULL);
	assert_int_equal(content_attachment_at(m, 0)->html_file, HTMLFILE_LOGIN_FORM);
	content_free(m);
	free(msg);
	msg = zip_message("notes.txt", "password: type it in <input type=password>", 42);
	m = content_parse(msg, strlen(msg), NULL);
	assert_int_equal(content_attachment_at(m, 0)->html_file, 0);
	content_free(m);
	free(msg);
	buf_free(&page);
}

/* ISO 9660 disk images: Joliet names, subdirectories, a cut image, a
 * directory that points back at its parent. */
static void test_iso_listing(void **state)
{
	(void)state;
	static const char *const names[] = { "readme.txt", "Invoice 0042.lnk", "data/payload.exe" };
	struct buf b = BUF_INIT;
	struct content_archive z;
	size_t budget = 0;

	iso_build(&b, names, 3);
	assert_int_equal(content_archive_kind((const unsigned char *)b.data, b.len), ARCHIVE_ISO);
	assert_int_equal(content_archive_read(ARCHIVE_NONE, (const unsigned char *)b.data, b.len, &budget, &z), 0);
	assert_int_equal(z.members, 4);
	assert_int_equal(z.damaged, 0);
	assert_string_equal(z.names[0], "readme.txt");
	assert_string_equal(z.names[1], "Invoice 0042.lnk");       /* Joliet keeps case and spaces */
	assert_string_equal(z.names[2], "data");
	assert_string_equal(z.names[3], "data/payload.exe");
	content_archive_free(&z);

	/* Without the Joliet descriptor: the primary's 8.3 names, no ";1". */
	struct buf plain = BUF_INIT;
	buf_append(&plain, b.data, b.len);
	plain.data[17 * 2048] = (char)255;      /* the Joliet descriptor becomes the terminator */
	assert_int_equal(content_iso_read((const unsigned char *)plain.data, plain.len, &z), 0);
	assert_string_equal(z.names[3], "DATA/PAYLOAD.EXE");
	content_archive_free(&z);
	buf_free(&plain);

	/* Cut before the subdirectory's sector: the root is listed, damaged. */
	archive_expect(b.data, 23 * 2048, 0, 3, 0, 0, 1, 3);
	/* The subdirectory pointing at the root again: walked once. */
	struct buf loop = BUF_INIT;
	buf_append(&loop, b.data, b.len);
	unsigned char *root = (unsigned char *)loop.data + 22 * 2048;
	size_t at = root[0];
	at += root[at];                         /* past "." and ".." */
	for (int i = 0; i < 2; i++)
		at += root[at];                     /* past the two files */
	root[at + 2] = 22;                      /* "data" -> the root's own extent */
	root[at + 9] = 22;
	assert_int_equal(content_iso_read((const unsigned char *)loop.data, loop.len, &z), 0);
	assert_int_equal(z.members, 3);
	content_archive_free(&z);
	buf_free(&loop);

	/* Not an image. */
	assert_int_equal(content_iso_read((const unsigned char *)b.data, 16 * 2048, &z), -1);
	content_archive_free(&z);

	/* Through the parser: named .iso, or not, it is typed and listed. */
	for (int named = 0; named <= 1; named++) {
		char *msg = zip_message(named ? "Invoice.iso" : "scan0042.bin", b.data, b.len);
		struct content_msg *m = content_parse(msg, strlen(msg), NULL);
		const struct content_attachment *a = content_attachment_at(m, 0);
		assert_int_equal(a->detected, CONTENT_FT_ISO);
		assert_string_equal(content_ftype_name(a->detected), "iso");
		assert_int_equal(a->n_archive_names, 4);
		assert_string_equal(a->archive_names[1], "Invoice 0042.lnk");
		content_free(m);
		free(msg);
	}
	buf_free(&b);
}

/* PDFs: what acts when the document is opened, also behind "#xx" escapes
 * and inside compressed object streams; stream data is not names. */
static unsigned pdf_flags(const char *pdf, size_t n, size_t budget)
{
	return content_pdf_scan((const unsigned char *)pdf, n, &budget);
}

static void test_pdf_active_content(void **state)
{
	(void)state;
	static const struct {
		const char *pdf;
		unsigned want;
	} cases[] = {
		{ "%PDF-1.4\n1 0 obj << /Type /Catalog /OpenAction 2 0 R >> endobj\n"
		  "2 0 obj << /S /JavaScript /JS (app.alert\\(1\\)) >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
		  PDF_F_JAVASCRIPT | PDF_F_AUTO_ACTION },
		{ "%PDF-1.7\n1 0 obj<</Open#41ction<</S/J#61vaScript/J#53(x)>>>>endobj\n",
		  PDF_F_JAVASCRIPT | PDF_F_AUTO_ACTION },
		{ "%PDF-1.5\n4 0 obj << /S /Launch /F (cmd.exe) /P (/c calc) >> endobj\n", PDF_F_LAUNCH },
		{ "%PDF-1.6\n1 0 obj << /Names << /EmbeddedFiles 5 0 R >> >> endobj\n", PDF_F_EMBEDDED },
		{ "%PDF-1.4\ntrailer << /Root 1 0 R /Encrypt 9 0 R >>\n", PDF_F_ENCRYPTED },
		/* A page, fonts, a content stream whose bytes spell a name, and a
		 * longer name that merely starts like one: nothing. */
		{ "%PDF-1.4\n1 0 obj << /Type /Page /Resources << /Font << /F1 2 0 R >> >> /Contents 3 0 R >>\n"
		  "endobj\n3 0 obj << /Length 20 >>\nstream\n/JavaScript /Launch\nendstream\nendobj\n"
		  "4 0 obj << /JavaScriptX 1 /AAA 2 >> endobj\n", 0 },
		/* An object stream in clear holds whole objects: read. */
		{ "%PDF-1.5\n7 0 obj << /Type /ObjStm /N 1 /First 4 /Length 30 >>\nstream\n"
		  "8 0 << /S /Launch /F (a.exe) >>\nendstream\nendobj\n", PDF_F_LAUNCH },
	};
	for (size_t i = 0; i < MW_ARRAY_LEN(cases); i++) {
		const unsigned got = pdf_flags(cases[i].pdf, strlen(cases[i].pdf), 1u << 20);
		if (got != cases[i].want)
			fail_msg("case %zu: %#x, want %#x", i, got, cases[i].want);
	}

	/* JavaScript hidden in a compressed object stream; with no budget
	 * left it is not read, and the scan says so. */
	static const char objs[] = "2 0 << /S /JavaScript /JS (this.exportDataObject\\(\\)) >>";
	struct buf z = BUF_INIT, pdf = BUF_INIT;
	ab_deflate(&z, objs, sizeof(objs) - 1, MAX_WBITS, 6);
	char head[160];
	snprintf(head, sizeof(head), "%%PDF-1.5\n1 0 obj << /OpenAction 2 0 R >> endobj\n"
	    "3 0 obj << /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length %zu >>\nstream\n", z.len);
	buf_append_str(&pdf, head);
	buf_append(&pdf, z.data, z.len);
	buf_append_str(&pdf, "\nendstream\nendobj\n%%EOF\n");
	assert_int_equal(pdf_flags(pdf.data, pdf.len, 1u << 20), PDF_F_JAVASCRIPT | PDF_F_AUTO_ACTION);
	assert_int_equal(pdf_flags(pdf.data, pdf.len, 0), PDF_F_AUTO_ACTION | PDF_F_CUT);
	size_t budget = 1u << 20;
	content_pdf_scan((const unsigned char *)pdf.data, pdf.len, &budget);
	assert_int_equal(budget, (1u << 20) - (sizeof(objs) - 1));

	/* Through the parser. */
	char *msg = zip_message("statement.pdf", pdf.data, pdf.len);
	struct content_msg *m = content_parse(msg, strlen(msg), NULL);
	const struct content_attachment *a = content_attachment_at(m, 0);
	assert_int_equal(a->detected, CONTENT_FT_PDF);
	assert_int_equal(a->pdf, PDF_F_JAVASCRIPT | PDF_F_AUTO_ACTION);
	content_free(m);
	free(msg);
	buf_free(&z);
	buf_free(&pdf);
}

/* A listing padded with harmless names: every member is counted, and
 * past the name budget the listing says it was cut. */
static void test_zip_names_budget(void **state)
{
	(void)state;
	const size_t n = 4300;                  /* 4,300 x 250 bytes > ARCHIVE_NAME_BUDGET */
	char **names = xcalloc(n, sizeof(*names));
	for (size_t i = 0; i < n; i++) {
		names[i] = xmalloc(251);
		memset(names[i], 'a', 250);
		snprintf(names[i], 251, "%06zu", i);
		names[i][6] = 'a';
		names[i][250] = '\0';
	}
	struct buf b = BUF_INIT;
	zip_build(&b, (const char *const *)names, n, 0);
	struct content_archive z;
	assert_int_equal(content_zip_read((const unsigned char *)b.data, b.len, &z), 0);
	assert_int_equal(z.members, n);
	assert_true(z.names_cut);
	assert_true(z.n_names < n && z.names_bytes <= ARCHIVE_NAME_BUDGET);
	content_archive_free(&z);
	buf_free(&b);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Through the parser: a ZIP attachment lists its members; anything else
 * lists none. */
static void test_zip_attachment(void **state)
{
	(void)state;
	static const char *const names[] = { "report.pdf", "tools/setup.exe" };
	struct buf b = BUF_INIT;
	zip_build(&b, names, 2, 0);
	char *msg = zip_message("files.zip", b.data, b.len);
	struct content_msg *m = content_parse(msg, strlen(msg), NULL);
	assert_int_equal(content_attachment_count(m), 1);
	const struct content_attachment *a = content_attachment_at(m, 0);
	assert_int_equal(a->detected, CONTENT_FT_ZIP);
	assert_int_equal(a->archive_members, 2);
	assert_int_equal(a->n_archive_names, 2);
	assert_string_equal(a->archive_names[1], "tools/setup.exe");
	assert_int_equal(a->archive_encrypted, 0);
	assert_int_equal(content_flags(m) & CONTENT_F_ARCHIVE_UNSCANNABLE, 0);
	content_free(m);
	free(msg);
	buf_free(&b);

	zip_build(&b, names, 2, ZB_ENCRYPTED);
	msg = zip_message("secret.zip", b.data, b.len);
	m = content_parse(msg, strlen(msg), NULL);
	a = content_attachment_at(m, 0);
	assert_int_equal(a->archive_encrypted, 2);
	assert_true(content_flags(m) & CONTENT_F_ARCHIVE_UNSCANNABLE);
	assert_string_equal(content_flag_name(CONTENT_F_ARCHIVE_UNSCANNABLE), "ARCHIVE_UNSCANNABLE");
	content_free(m);
	free(msg);
	buf_free(&b);

	msg = zip_message("notes.zip", "not a zip at all", 16);
	m = content_parse(msg, strlen(msg), NULL);
	a = content_attachment_at(m, 0);
	assert_int_equal(a->archive_members, 0);
	assert_int_equal(a->n_archive_names, 0);
	assert_null(a->archive_names);
	content_free(m);
	free(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_headers_texts_urls),
		cmocka_unit_test(test_attachments_types_names_hashes),
		cmocka_unit_test(test_charsets_converted),
		cmocka_unit_test(test_html_features),
		cmocka_unit_test(test_signature_heuristic),
		cmocka_unit_test(test_last_block_candidate),
		cmocka_unit_test(test_broken_boundaries),
		cmocka_unit_test(test_boundary_edge_cases),
		cmocka_unit_test(test_bad_base64),
		cmocka_unit_test(test_malformed_headers),
		cmocka_unit_test(test_nesting_multipart_depth_limit),
		cmocka_unit_test(test_rfc822_chains_bounded),
		cmocka_unit_test(test_sibling_parts_bounded),
		cmocka_unit_test(test_header_flood),
		cmocka_unit_test(test_base64_garbage_and_decoded_limit),
		cmocka_unit_test(test_charset_bombs),
		cmocka_unit_test(test_latin1_as_iconv),
		cmocka_unit_test(test_encoded_words_subject),
		cmocka_unit_test(test_parse_time_typical),
		cmocka_unit_test(test_zip_directory),
		cmocka_unit_test(test_zip_names_budget),
		cmocka_unit_test(test_zip_attachment),
		cmocka_unit_test(test_rar_listing),
		cmocka_unit_test(test_7z_listing),
		cmocka_unit_test(test_tar_gzip_listing),
		cmocka_unit_test(test_archive_attachments),
		cmocka_unit_test(test_office_macros),
		cmocka_unit_test(test_office_xlm_and_encryption),
		cmocka_unit_test(test_rtf_objects),
		cmocka_unit_test(test_ooxml_external),
		cmocka_unit_test(test_onenote_and_lnk),
		cmocka_unit_test(test_zip_disguised),
		cmocka_unit_test(test_nested_archives),
		cmocka_unit_test(test_html_file_attachments),
		cmocka_unit_test(test_iso_listing),
		cmocka_unit_test(test_pdf_active_content),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
