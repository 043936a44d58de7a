/*
 * fuzz_smtp_session.c - the whole SMTP state machine under arbitrary input
 * (reliability plan F1).
 *
 * Byte 0 picks the chunking pattern (low 3 bits) and the session options
 * (bare-LF mode, async end-of-data, STARTTLS, failing writes, a small error
 * budget); the rest is the client's byte stream.  The harness plays the
 * session glue: it feeds what it has, keeps what the proto did not consume,
 * resumes PENDING end-of-data, "completes" STARTTLS after discarding the
 * buffered plaintext.  Invariants abort():
 *   - committed messages <= occurrences of "\r\n.\r\n" in the input;
 *   - commits, content and data_end only between a 354 and the end;
 *   - in normalize mode committed content has no bare CR, bare LF or NUL;
 *   - every reply line matches ^[2-5][0-9][0-9][ -], ends in CRLF, <= 512;
 *   - unless paused or closed, feed consumes everything it is given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "smtp/smtp_proto.h"

struct fz {
	int normalize, pend, fail_writes;
	int in_data;        /* between a 354 and end-of-data */
	int ending;         /* data_end answered PENDING */
	size_t commits;
	size_t mails;
	struct buf content;
	size_t data_starts;
};

static void fz_mail(void *ctx, const struct smtp_path *from, struct smtp_reply *r)
{
	struct fz *z = ctx;
	z->mails++;
	r->code = from->addr[0] == 'x' ? 550 : 250;
	memcpy(r->text, "2.1.0 Ok", 9);
}

static void fz_rcpt(void *ctx, const struct smtp_path *to, struct smtp_reply *r)
{
	(void)ctx;
	if (to->addr[0] == 'x') {
		r->code = 550;
		memcpy(r->text, "5.1.1 User unknown\r\n999 x", 26); /* hook text with CRLF */
	} else if (to->addr[0] == 'y') {
		r->code = 1000; /* a broken hook code must not reach the wire */
		r->text[0] = '\0';
	} else {
		r->code = 250;
		memcpy(r->text, "2.1.5 Ok", 9);
	}
}

static void fz_data_start(void *ctx, struct smtp_reply *r)
{
	struct fz *z = ctx;
	if (z->in_data)
		abort();
	z->data_starts++;
	/* every third DATA is refused by the "glue" */
	if (z->data_starts % 3 == 0) {
		r->code = 451;
		memcpy(r->text, "4.3.0 Try later", 16);
		return;
	}
	r->code = 354;
	memcpy(r->text, "Go ahead", 9);
	z->in_data = 1;
	buf_reset(&z->content);
}

static int fz_data_write(void *ctx, const char *p, size_t n)
{
	struct fz *z = ctx;
	if (!z->in_data || z->ending || n == 0)
		abort();
	if (z->content.len < 1 << 20)
		buf_append(&z->content, p, n);
	return z->fail_writes && z->content.len > 100 ? -1 : 0;
}

static void fz_check_content(const struct fz *z)
{
	const char *c = z->content.data;
	size_t n = z->content.len;

	for (size_t i = 0; i < n; i++) {
		if (c[i] == '\0')
			abort();
		if (c[i] == '\r' && (i + 1 >= n || c[i + 1] != '\n'))
			abort();
		if (c[i] == '\n' && (i == 0 || c[i - 1] != '\r'))
			abort();
	}
}

static int fz_data_end(void *ctx, const struct smtp_data_info *info, struct smtp_reply *r)
{
	struct fz *z = ctx;
	if (!z->in_data || z->ending)
		abort();
	if (info->size_exceeded || info->long_line || (info->bare_lf && !z->normalize))
		abort(); /* the proto answers those itself */
	if (z->normalize && !z->fail_writes)
		fz_check_content(z);
	if (z->pend) {
		z->ending = 1;
		return SMTP_HOOK_PENDING;
	}
	z->in_data = 0;
	z->commits++;
	r->code = 250;
	memcpy(r->text, "2.0.0 Ok", 9);
	return SMTP_HOOK_DONE;
}

static void fz_txn_reset(void *ctx)
{
	struct fz *z = ctx;
	if (z->ending)
		abort(); /* never drop a transaction whose commit is in flight */
	z->in_data = 0;
}

static void fz_check_output(struct smtp_proto *p)
{
	size_t n, i = 0;
	const char *o = smtp_proto_output(p, &n);

	while (i < n) {
		const char *e = memchr(o + i, '\n', n - i);
		size_t l;
		if (!e)
			abort(); /* partial line */
		l = (size_t)(e - (o + i)) + 1;
		if (l > 512 || l < 6 || o[i + l - 2] != '\r')
			abort();
		if (o[i] < '2' || o[i] > '5' || o[i + 1] < '0' || o[i + 1] > '9' || o[i + 2] < '0' ||
		    o[i + 2] > '9' || (o[i + 3] != ' ' && o[i + 3] != '-'))
			abort();
		for (size_t k = i; k < i + l - 2; k++)
			if (o[k] == '\r' || o[k] == '\n' || o[k] == '\0')
				abort();
		i += l;
	}
	smtp_proto_output_consumed(p, n);
}

static size_t fz_count_dots(const uint8_t *d, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i + 5 <= n; i++)
		if (memcmp(d + i, "\r\n.\r\n", 5) == 0)
			c++;
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t chunks[8] = { 1, 2, 3, 7, 16, 64, 513, (size_t)-1 };
	struct fz z;
	struct smtp_limits lim = {
		.max_command_line = 512,
		.max_text_line = 1000,
		.max_recipients = 100,
		.max_message_size = 8192,
		.max_errors = 20,
		.max_junk = 10,
		.require_helo = 1,
	};
	struct smtp_hooks h = {
		.ctx = &z,
		.mail = fz_mail,
		.rcpt = fz_rcpt,
		.data_start = fz_data_start,
		.data_write = fz_data_write,
		.data_end = fz_data_end,
		.txn_reset = fz_txn_reset,
	};
	const char *d;
	size_t n, chunk, start = 0, end = 0, dots;
	struct smtp_proto *p;

	if (size < 1)
		return 0;
	memset(&z, 0, sizeof(z));
	buf_init(&z.content);
	chunk = chunks[data[0] & 7];
	z.normalize = lim.bare_lf_normalize = (data[0] >> 3) & 1;
	z.pend = (data[0] >> 4) & 1;
	lim.tls_available = (data[0] >> 5) & 1;
	z.fail_writes = (data[0] >> 6) & 1;
	if (data[0] & 0x80)
		lim.max_errors = 2;
	d = (const char *)data + 1;
	n = size - 1;
	dots = fz_count_dots(data + 1, n);

	p = smtp_proto_new(&lim, &h, "fuzz.test");
	smtp_proto_greet(p, 220, NULL);
	fz_check_output(p);
	for (int guard = 0; guard < 1000000; guard++) {
		size_t used;

		if (end < n)
			end = (n - end > chunk) ? end + chunk : n;
		used = smtp_proto_feed(p, d + start, end - start);
		if (used > end - start)
			abort();
		start += used;
		fz_check_output(p);
		switch (smtp_proto_state(p)) {
		case SMTP_S_DATA_END: {
			struct smtp_reply r = { 250, "2.0.0 Ok: queued" };
			if (!z.ending)
				abort();
			z.ending = 0;
			z.in_data = 0;
			z.commits++;
			smtp_proto_resume(p, &r);
			fz_check_output(p);
			break;
		}
		case SMTP_S_TLS:
			start = end; /* CVE-2011-0411: drop buffered plaintext */
			smtp_proto_tls_started(p);
			break;
		case SMTP_S_CLOSED:
			goto out;
		default:
			if (start != end)
				abort(); /* not paused: everything must be consumed */
			break;
		}
		if (start == n && end == n)
			break;
	}
out:
	if (z.commits > dots)
		abort();
	if (smtp_proto_state(p) != SMTP_S_CLOSED) {
		smtp_proto_shutdown(p, "bye");
		fz_check_output(p);
	}
	smtp_proto_free(p);
	buf_free(&z.content);
	return 0;
}
