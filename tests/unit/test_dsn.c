/*
 * test_dsn.c - dsn_build() output parsed back: top-level headers, the
 * multipart/report structure, the RFC 3464 fields, the returned headers, and
 * that text from the network can never become a header line (F7, X14).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/delivery.h"

static const char ORIG[] =
	"Received: from x by y\r\n"
	"From: Alice <alice@example.org>\r\n"
	"Subject: quarterly numbers\r\n"
	"Message-ID: <m1@example.org>\r\n"
	"\r\n"
	"SECRET BODY TEXT\r\n";

struct part {
	const char *hdr;           /* header block (not NUL-terminated) */
	size_t hlen;
	const char *body;
	size_t blen;
};

struct parsed {
	char *msg;
	size_t len;
	const char *body;          /* after the top-level header block */
	char boundary[100];
	struct part parts[8];
	int nparts;
	int closed;                /* saw --boundary-- */
};

/* The value of header name in block (first occurrence, unfolded), or NULL. */
static char *header(const char *block, size_t len, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < len;) {
		const char *l = block + i;
		const char *e = memmem(l, len - i, "\r\n", 2);
		size_t ll = e ? (size_t)(e - l) : len - i;

		if (ll > nl && strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
			size_t o = 0;
			const char *v = l + nl + 1;
			const char *end = block + len;
			/* Unfold continuation lines. */
			while (v < end) {
				if (v[0] == '\r' && v + 2 < end && v[1] == '\n' && (v[2] == ' ' || v[2] == '\t')) {
					v += 2;
					continue;
				}
				if (v[0] == '\r')
					break;
				if (o + 1 < n)
					out[o++] = *v;
				v++;
			}
			out[o] = '\0';
			char *s = out;
			while (*s == ' ' || *s == '\t')
				s++;
			return s;
		}
		i += ll + 2;
	}
	return NULL;
}

static void parse_dsn(struct parsed *p)
{
	const char *sep = strstr(p->msg, "\r\n\r\n");
	char v[300], *ct, *b;
	const char *pos, *end = p->msg + p->len;
	char delim[120];

	assert_non_null(sep);
	p->body = sep + 4;
	ct = header(p->msg, (size_t)(sep - p->msg) + 2, "Content-Type", v, sizeof(v));
	assert_non_null(ct);
	assert_non_null(strstr(ct, "multipart/report"));
	assert_non_null(strstr(ct, "report-type=delivery-status"));
	b = strstr(ct, "boundary=\"");
	assert_non_null(b);
	b += 10;
	assert_non_null(strchr(b, '"'));
	*strchr(b, '"') = '\0';
	snprintf(p->boundary, sizeof(p->boundary), "%s", b);
	snprintf(delim, sizeof(delim), "\r\n--%s", p->boundary);

	/* Parts: between delimiter lines. */
	pos = memmem(p->body - 2, (size_t)(end - p->body + 2), delim, strlen(delim));
	assert_non_null(pos);
	p->nparts = 0;
	while (pos != NULL) {
		const char *after = pos + strlen(delim);
		if (after + 2 <= end && after[0] == '-' && after[1] == '-') {
			p->closed = 1;
			assert_memory_equal(after + 2, "\r\n", 2);
			break;
		}
		assert_memory_equal(after, "\r\n", 2);
		after += 2;
		const char *next = memmem(after, (size_t)(end - after), delim, strlen(delim));
		assert_non_null(next);
		const char *hend = memmem(after, (size_t)(next - after) + 2, "\r\n\r\n", 4);
		assert_non_null(hend);
		assert_true(p->nparts < 8);
		struct part *pt = &p->parts[p->nparts++];
		pt->hdr = after;
		pt->hlen = (size_t)(hend - after) + 2;
		pt->body = hend + 4 <= next ? hend + 4 : next;
		pt->blen = (size_t)(next - pt->body);
		pos = next;
	}
}

static void assert_crlf_only(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r')
			assert_true(i + 1 < n && p[i + 1] == '\n');
		if (p[i] == '\n')
			assert_true(i > 0 && p[i - 1] == '\r');
	}
}

/* No line starts with name: (as a header or a DSN field). */
static int has_line(const char *msg, size_t len, const char *prefix)
{
	size_t pl = strlen(prefix);

	if (len >= pl && strncasecmp(msg, prefix, pl) == 0)
		return 1;
	for (size_t i = 0; i + 1 + pl <= len; i++)
		if (msg[i] == '\n' && strncasecmp(msg + i + 1, prefix, pl) == 0)
			return 1;
	return 0;
}

static void build(struct dsn_info *info, struct parsed *p)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(dsn_build(info, &p->msg, &p->len), 0);
	assert_int_equal(strlen(p->msg), p->len);
	assert_crlf_only(p->msg, p->len);
	/* RFC 5322 2.1.1: lines of at most 998 octets. */
	for (size_t i = 0, ls = 0; i < p->len; i++)
		if (p->msg[i] == '\n') {
			assert_true(i - ls <= 999);
			ls = i + 1;
		}
	parse_dsn(p);
}

static void test_dsn_structure(void **st)
{
	struct dsn_rcpt r[] = {
		{ "bob@example.net", "bob@example.net", "5.1.1", "host mx.example.net[192.0.2.1] said: 550 5.1.1 no such user",
		  "mx.example.net" },
		{ "carol@example.net", "c@alias.example.net", "5.2.2", "host mx said: 552 5.2.2 mailbox full", NULL },
	};
	struct dsn_info info = {
		.reporting_mta = "gw.example.com", .ref = "ABCD-1234", .qid = "Q0001", .sender = "alice@example.org",
		.arrival = 1796000000, .now = 1796003600, .expired = 0, .rcpts = r, .n_rcpts = 2,
		.orig = ORIG, .orig_len = sizeof(ORIG) - 1,
	};
	struct parsed p;
	char v[300], *s;
	size_t hl;

	(void)st;
	build(&info, &p);
	hl = (size_t)(p.body - p.msg);
	s = header(p.msg, hl, "From", v, sizeof(v));
	assert_string_equal(s, "\"Mail Delivery System\" <MAILER-DAEMON@gw.example.com>");
	assert_string_equal(header(p.msg, hl, "To", v, sizeof(v)), "<alice@example.org>");
	assert_string_equal(header(p.msg, hl, "Subject", v, sizeof(v)), "Undelivered Mail Returned to Sender");
	assert_string_equal(header(p.msg, hl, "Auto-Submitted", v, sizeof(v)), "auto-replied");
	assert_string_equal(header(p.msg, hl, "MIME-Version", v, sizeof(v)), "1.0");
	assert_non_null(header(p.msg, hl, "Date", v, sizeof(v)));
	s = header(p.msg, hl, "Message-ID", v, sizeof(v));
	assert_non_null(s);
	assert_true(s[0] == '<' && strstr(s, "@gw.example.com>") != NULL);

	assert_true(p.closed);
	assert_int_equal(p.nparts, 3);
	assert_non_null(strstr(header(p.parts[0].hdr, p.parts[0].hlen, "Content-Type", v, sizeof(v)), "text/plain"));
	assert_string_equal(header(p.parts[1].hdr, p.parts[1].hlen, "Content-Type", v, sizeof(v)), "message/delivery-status");
	assert_string_equal(header(p.parts[2].hdr, p.parts[2].hlen, "Content-Type", v, sizeof(v)), "text/rfc822-headers");

	/* Human part names the ref, queue id and each recipient's reason. */
	char *human = strndup(p.parts[0].body, p.parts[0].blen);
	assert_non_null(strstr(human, "ABCD-1234"));
	assert_non_null(strstr(human, "Q0001"));
	assert_non_null(strstr(human, "<bob@example.net>: host mx.example.net[192.0.2.1] said: 550 5.1.1 no such user"));
	assert_non_null(strstr(human, "<carol@example.net>: "));
	free(human);

	/* message/delivery-status: per-message block, then one per recipient,
	 * separated by empty lines (RFC 3464 2.1). */
	const char *ds = p.parts[1].body;
	size_t dl = p.parts[1].blen;
	const char *b1 = memmem(ds, dl, "\r\n\r\n", 4);
	assert_non_null(b1);
	size_t ml = (size_t)(b1 - ds) + 2;
	assert_string_equal(header(ds, ml, "Reporting-MTA", v, sizeof(v)), "dns; gw.example.com");
	assert_string_equal(header(ds, ml, "X-Mailward-Ref", v, sizeof(v)), "ABCD-1234");
	assert_non_null(header(ds, ml, "Arrival-Date", v, sizeof(v)));
	const char *r1 = b1 + 4;
	const char *b2 = memmem(r1, (size_t)(ds + dl - r1), "\r\n\r\n", 4);
	assert_non_null(b2);
	size_t r1l = (size_t)(b2 - r1) + 2;
	assert_string_equal(header(r1, r1l, "Final-Recipient", v, sizeof(v)), "rfc822; bob@example.net");
	assert_null(header(r1, r1l, "Original-Recipient", v, sizeof(v))); /* same as final */
	assert_string_equal(header(r1, r1l, "Action", v, sizeof(v)), "failed");
	assert_string_equal(header(r1, r1l, "Status", v, sizeof(v)), "5.1.1");
	assert_string_equal(header(r1, r1l, "Remote-MTA", v, sizeof(v)), "dns; mx.example.net");
	assert_string_equal(header(r1, r1l, "Diagnostic-Code", v, sizeof(v)),
			    "smtp; host mx.example.net[192.0.2.1] said: 550 5.1.1 no such user");
	const char *r2 = b2 + 4;
	size_t r2l = (size_t)(ds + dl - r2);
	assert_string_equal(header(r2, r2l, "Final-Recipient", v, sizeof(v)), "rfc822; carol@example.net");
	assert_string_equal(header(r2, r2l, "Original-Recipient", v, sizeof(v)), "rfc822; c@alias.example.net");
	assert_string_equal(header(r2, r2l, "Status", v, sizeof(v)), "5.2.2");
	assert_null(header(r2, r2l, "Remote-MTA", v, sizeof(v)));

	/* Original headers returned, body not. */
	size_t ohl = (size_t)(strstr(ORIG, "\r\n\r\n") - ORIG) + 2;
	assert_int_equal(p.parts[2].blen, ohl);
	assert_memory_equal(p.parts[2].body, ORIG, ohl);
	assert_null(memmem(p.msg, p.len, "SECRET BODY", 11));
	free(p.msg);
}

static void test_dsn_expired(void **st)
{
	struct dsn_rcpt r[] = { { "bob@example.net", NULL, "4.4.1", "connect to mx:25: Connection refused", NULL } };
	struct dsn_info info = {
		.reporting_mta = "gw", .ref = "R", .qid = "Q", .sender = "alice@example.org",
		.arrival = 1796000000, .now = 1796432000, .expired = 1, .rcpts = r, .n_rcpts = 1,
		.orig = ORIG, .orig_len = sizeof(ORIG) - 1,
	};
	struct parsed p;
	char v[300];

	(void)st;
	build(&info, &p);
	assert_string_equal(header(p.msg, (size_t)(p.body - p.msg), "Subject", v, sizeof(v)),
			    "Undelivered Mail Returned to Sender (Delivery time expired)");
	assert_true(has_line(p.msg, p.len, "Status: 4.4.7\r\n"));
	assert_true(has_line(p.msg, p.len, "Action: failed\r\n"));
	assert_true(has_line(p.msg, p.len, "Diagnostic-Code: smtp; connect to mx:25: Connection refused\r\n"));
	free(p.msg);
}

/* F7: nothing from the network or the envelope can start a header line. */
static void test_dsn_no_injection(void **st)
{
	struct dsn_rcpt r[] = {
		{ "bob@example.net\r\nBcc: x@evil", "o\nBcc: y@evil", "5.1.1\r\nBcc: z", "550 no\r\nBcc: x\r\n\r\n--evil",
		  "mx\rBcc: w" },
	};
	struct dsn_info info = {
		.reporting_mta = "gw\r\nBcc: h", .ref = "R\nBcc: r", .qid = "Q\rBcc: q", .sender = "a@b\r\nBcc: s",
		.arrival = 1, .now = 2, .rcpts = r, .n_rcpts = 1,
		.orig = "Subject: x\nBcc: kept-in-part-3\r\n\r\n", .orig_len = 34,
	};
	struct parsed p;

	(void)st;
	build(&info, &p);
	/* Only the returned header block (part 3) may hold a Bcc line. */
	const char *p3 = p.parts[2].body;
	assert_false(has_line(p.msg, (size_t)(p3 - p.msg), "Bcc"));
	assert_true(has_line(p3, p.parts[2].blen, "Bcc: kept-in-part-3\r\n"));
	assert_null(memmem(p.msg, p.len, "\r\n--evil", 8));
	/* A bad status falls back to 5.0.0. */
	assert_true(has_line(p.msg, p.len, "Status: 5.0.0\r\n"));
	free(p.msg);
}

static void test_dsn_limits(void **st)
{
	size_t n = 200000;
	char *orig = malloc(n);
	struct dsn_rcpt r[] = { { "bob@example.net", NULL, "5.1.1", NULL, NULL } };
	struct dsn_info info = { .reporting_mta = "gw", .ref = "R", .qid = "Q", .sender = "a@b", .rcpts = r,
				 .n_rcpts = 1, .orig = orig, .orig_len = n };
	struct parsed p;
	char *diag = malloc(5000);

	(void)st;
	/* 200 KB of header lines (bare LF ends), no empty line. */
	for (size_t i = 0; i < n; i += 50) {
		memset(orig + i, 'h', 50);
		memcpy(orig + i, "X-H: ", 5);
		orig[i + 49] = '\n';
	}
	memset(diag, 'd', 4999);
	diag[4999] = '\0';
	r[0].diagnostic = diag;
	build(&info, &p);
	assert_true(p.parts[2].blen <= 65536);
	assert_true(p.parts[2].blen > 60000);
	/* Cut at a whole line, line ends made CRLF (build() checked). */
	assert_memory_equal(p.parts[2].body + p.parts[2].blen - 3, "h\r\n", 3);
	assert_int_equal(p.parts[2].blen % 51, 0); /* 49 + CRLF per line */
	free(p.msg);

	/* Never a DSN to the null sender (X14), nor one with no recipients. */
	char *out = (char *)1;
	size_t len = 1;
	info.sender = "";
	assert_int_equal(dsn_build(&info, &out, &len), -1);
	assert_null(out);
	info.sender = NULL;
	assert_int_equal(dsn_build(&info, &out, &len), -1);
	info.sender = "a@b";
	info.n_rcpts = 0;
	assert_int_equal(dsn_build(&info, &out, &len), -1);

	/* No original at all, and an original without a header block. */
	info.n_rcpts = 1;
	info.orig = NULL;
	info.orig_len = 0;
	build(&info, &p);
	assert_int_equal(p.nparts, 3);
	free(p.msg);
	info.orig = "\r\nbody only";
	info.orig_len = 11;
	build(&info, &p);
	assert_int_equal(p.nparts, 3);
	assert_null(memmem(p.msg, p.len, "body only", 9));
	free(p.msg);
	free(orig);
	free(diag);
}

static void test_dsn_unique_boundary(void **st)
{
	struct dsn_rcpt r[] = { { "bob@example.net", NULL, "5.1.1", "x", NULL } };
	struct dsn_info info = { .reporting_mta = "gw", .ref = "R", .qid = "Q", .sender = "a@b", .rcpts = r,
				 .n_rcpts = 1, .orig = ORIG, .orig_len = sizeof(ORIG) - 1 };
	struct parsed a, b;

	(void)st;
	build(&info, &a);
	build(&info, &b);
	assert_string_not_equal(a.boundary, b.boundary);
	free(a.msg);
	free(b.msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dsn_structure),
		cmocka_unit_test(test_dsn_expired),
		cmocka_unit_test(test_dsn_no_injection),
		cmocka_unit_test(test_dsn_limits),
		cmocka_unit_test(test_dsn_unique_boundary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
