/*
 * test_smtp_proto.c - transcripts driven through the pure SMTP state machine.
 *
 * Stub hooks record what the glue would see (MAIL/RCPT calls, content,
 * committed messages, resets); each test asserts the exact reply lines.
 * Smuggling vectors (reliability plan P1/P2) run in both bare-LF modes and
 * are fed whole and one byte at a time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "smtp/smtp_proto.h"

struct rec {
	struct buf content;     /* content of the message being received */
	struct buf committed;   /* last committed message */
	int commits;            /* data_end calls that answered 250 */
	int data_ends;
	int data_starts;
	int mails, rcpts, resets, starttls, helos;
	char last_mail[300];
	char last_rcpt[300];
	unsigned last_rcpt_flags;
	int pend;               /* data_end answers PENDING */
	int write_fail;         /* data_write returns -1 */
	int writes;
	struct smtp_data_info info;
};

static void h_helo(void *ctx, const char *name, int esmtp)
{
	struct rec *r = ctx;
	(void)name;
	(void)esmtp;
	r->helos++;
}

static void h_mail(void *ctx, const struct smtp_path *from, struct smtp_reply *rp)
{
	struct rec *r = ctx;
	r->mails++;
	snprintf(r->last_mail, sizeof(r->last_mail), "%s", from->addr);
	rp->code = 250;
	snprintf(rp->text, sizeof(rp->text), "2.1.0 Ok");
}

static void h_rcpt(void *ctx, const struct smtp_path *to, struct smtp_reply *rp)
{
	struct rec *r = ctx;
	r->rcpts++;
	snprintf(r->last_rcpt, sizeof(r->last_rcpt), "%s", to->addr);
	r->last_rcpt_flags = to->flags;
	if (strncmp(to->addr, "unknown", 7) == 0) {
		rp->code = 550;
		snprintf(rp->text, sizeof(rp->text), "5.1.1 <%s>: User unknown", to->addr);
		return;
	}
	rp->code = 250;
	snprintf(rp->text, sizeof(rp->text), "2.1.5 Ok");
}

static void h_data_start(void *ctx, struct smtp_reply *rp)
{
	struct rec *r = ctx;
	r->data_starts++;
	buf_reset(&r->content);
	rp->code = 354;
	snprintf(rp->text, sizeof(rp->text), "End data with <CR><LF>.<CR><LF>");
}

static int h_data_write(void *ctx, const char *p, size_t n)
{
	struct rec *r = ctx;
	r->writes++;
	if (r->write_fail)
		return -1;
	buf_append(&r->content, p, n);
	return 0;
}

static int h_data_end(void *ctx, const struct smtp_data_info *info, struct smtp_reply *rp)
{
	struct rec *r = ctx;
	r->data_ends++;
	r->info = *info;
	if (r->pend)
		return SMTP_HOOK_PENDING;
	if (r->write_fail) {
		rp->code = 451;
		snprintf(rp->text, sizeof(rp->text), "4.3.0 Error: queue file write error");
		return SMTP_HOOK_DONE;
	}
	r->commits++;
	buf_reset(&r->committed);
	buf_append(&r->committed, r->content.data ? r->content.data : "", r->content.len);
	rp->code = 250;
	snprintf(rp->text, sizeof(rp->text), "2.0.0 Ok: queued as X");
	return SMTP_HOOK_DONE;
}

static void h_txn_reset(void *ctx)
{
	struct rec *r = ctx;
	r->resets++;
}

static void h_starttls(void *ctx)
{
	struct rec *r = ctx;
	r->starttls++;
}

struct fx {
	struct rec r;
	struct smtp_limits lim;
	struct smtp_proto *p;
	char out[65536];
};

static struct smtp_limits default_limits(void)
{
	struct smtp_limits l = {
		.max_command_line = 512,
		.max_text_line = 1000,
		.max_recipients = 100,
		.max_message_size = 10240000,
		.max_errors = 20,
		.max_junk = 100,
		.bare_lf_normalize = 0,
		.require_helo = 1,
		.tls_available = 1,
		.tls_active = 0,
	};
	return l;
}

static void fx_start(struct fx *f)
{
	struct smtp_hooks h = {
		.ctx = &f->r,
		.helo = h_helo,
		.mail = h_mail,
		.rcpt = h_rcpt,
		.data_start = h_data_start,
		.data_write = h_data_write,
		.data_end = h_data_end,
		.txn_reset = h_txn_reset,
		.starttls = h_starttls,
	};
	f->p = smtp_proto_new(&f->lim, &h, "mx.test");
	smtp_proto_greet(f->p, 220, NULL);
}

static struct fx *fx_new_lim(struct smtp_limits lim)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	buf_init(&f->r.content);
	buf_init(&f->r.committed);
	f->lim = lim;
	fx_start(f);
	return f;
}

static struct fx *fx_new(void)
{
	return fx_new_lim(default_limits());
}

static void fx_free(struct fx *f)
{
	smtp_proto_free(f->p);
	buf_free(&f->r.content);
	buf_free(&f->r.committed);
	free(f);
}

/* Take everything queued so far (NUL-terminated copy in f->out). */
static const char *fx_take(struct fx *f)
{
	size_t n;
	const char *o = smtp_proto_output(f->p, &n);
	assert_true(n < sizeof(f->out));
	memcpy(f->out, o, n);
	f->out[n] = '\0';
	smtp_proto_output_consumed(f->p, n);
	return f->out;
}

/* Feed n bytes whole (or bytewise); returns the replies. All must be consumed. */
static const char *fx_feedn(struct fx *f, const char *in, size_t n, int bytewise)
{
	size_t used = 0;
	if (bytewise) {
		for (size_t i = 0; i < n; i++)
			used += smtp_proto_feed(f->p, in + i, 1);
	} else {
		used = smtp_proto_feed(f->p, in, n);
	}
	assert_int_equal(used, n);
	return fx_take(f);
}

static const char *fx_feed(struct fx *f, const char *in)
{
	return fx_feedn(f, in, strlen(in), 0);
}

static int count_str(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *s = strstr(hay, needle); s; s = strstr(s + 1, needle))
		n++;
	return n;
}

/* Greet, EHLO, MAIL, RCPT, DATA - each answered before the next. */
static void fx_to_data(struct fx *f)
{
	fx_take(f);
	fx_feed(f, "EHLO client.example\r\n");
	assert_string_equal(fx_feed(f, "MAIL FROM:<a@b.example>\r\n"), "250 2.1.0 Ok\r\n");
	assert_string_equal(fx_feed(f, "RCPT TO:<u@t.example>\r\n"), "250 2.1.5 Ok\r\n");
	assert_string_equal(fx_feed(f, "DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
	assert_int_equal(smtp_proto_state(f->p), SMTP_S_DATA);
}

/* ---- greeting and EHLO -------------------------------------------------- */

static void test_greeting_ehlo_helo(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	assert_string_equal(fx_take(f), "220 mx.test ESMTP mailward\r\n");
	assert_string_equal(fx_feed(f, "EHLO client.example\r\n"),
	    "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250 STARTTLS\r\n");
	assert_int_equal(smtp_proto_state(f->p), SMTP_S_READY);
	assert_string_equal(fx_feed(f, "helo client.example\r\n"), "250 mx.test\r\n");
	assert_string_equal(fx_feed(f, "HELO\r\n"), "501 5.5.4 Syntax: HELO hostname\r\n");
	assert_string_equal(fx_feed(f, "EHLO   \r\n"), "501 5.5.4 Syntax: EHLO hostname\r\n");
	assert_int_equal(f->r.helos, 2);
	fx_free(f);

	struct smtp_limits l = default_limits();
	l.tls_available = 0;
	f = fx_new_lim(l);
	fx_take(f);
	const char *o = fx_feed(f, "EHLO x\r\n");
	assert_null(strstr(o, "STARTTLS"));
	assert_non_null(strstr(o, "250 SMTPUTF8\r\n"));
	assert_string_equal(fx_feed(f, "STARTTLS\r\n"), "502 5.5.1 Error: command not implemented\r\n");
	fx_free(f);
}

static void test_talk_before_greeting(void **state)
{
	(void)state;
	struct smtp_limits l = default_limits();
	struct smtp_hooks h = { 0 };
	struct smtp_proto *p = smtp_proto_new(&l, &h, "mx.test");
	size_t n;
	assert_int_equal(smtp_proto_feed(p, "EHLO x\r\n", 8), 8);
	const char *o = smtp_proto_output(p, &n);
	assert_true(n > 0 && strncmp(o, "554 5.5.0 Error: SMTP protocol synchronization\r\n", n) == 0);
	assert_int_equal(smtp_proto_state(p), SMTP_S_CLOSED);
	smtp_proto_free(p);
}

static void test_simple_commands(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	fx_take(f);
	assert_string_equal(fx_feed(f, "FOO bar\r\n"), "500 5.5.2 Error: command not recognized\r\n");
	assert_string_equal(fx_feed(f, "\r\n"), "500 5.5.2 Error: command not recognized\r\n");
	assert_string_equal(fx_feed(f, "NOOP\r\n"), "250 2.0.0 Ok\r\n");
	assert_string_equal(fx_feed(f, "VRFY root\r\n"),
	    "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery\r\n");
	assert_string_equal(fx_feed(f, "VRFY unknown-user\r\n"),
	    "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery\r\n");
	assert_string_equal(fx_feed(f, "EXPN staff\r\n"), "502 5.5.1 Error: command not implemented\r\n");
	assert_string_equal(fx_feed(f, "BDAT 10 LAST\r\n"), "502 5.5.1 Error: command not implemented\r\n");
	assert_string_equal(fx_feed(f, "HELP\r\n"), "214 2.0.0 See https://www.rfc-editor.org/rfc/rfc5321\r\n");
	assert_string_equal(fx_feed(f, "RSET\r\n"), "250 2.0.0 Ok\r\n");
	assert_int_equal(f->r.resets, 1);
	assert_string_equal(fx_feed(f, "QUIT\r\nNOOP\r\n"), "221 2.0.0 Bye\r\n");
	assert_int_equal(smtp_proto_state(f->p), SMTP_S_CLOSED);
	assert_string_equal(fx_feed(f, "NOOP\r\n"), "");
	fx_free(f);
}

/* ---- sequencing ----------------------------------------------------------- */

static void test_sequence_errors(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	fx_take(f);
	assert_string_equal(fx_feed(f, "MAIL FROM:<a@b>\r\n"), "503 5.5.1 Error: send HELO/EHLO first\r\n");
	assert_string_equal(fx_feed(f, "RCPT TO:<a@b>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
	fx_feed(f, "EHLO x\r\n");
	assert_string_equal(fx_feed(f, "DATA\r\n"), "503 5.5.1 Error: need RCPT command\r\n");
	assert_string_equal(fx_feed(f, "RCPT TO:<a@b>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
	assert_string_equal(fx_feed(f, "MAIL FROM:<a@b>\r\n"), "250 2.1.0 Ok\r\n");
	assert_string_equal(fx_feed(f, "MAIL FROM:<a@b>\r\n"), "503 5.5.1 Error: nested MAIL command\r\n");
	assert_string_equal(fx_feed(f, "DATA\r\n"), "503 5.5.1 Error: need RCPT command\r\n");
	assert_string_equal(fx_feed(f, "RCPT TO:<unknown@t>\r\n"), "550 5.1.1 <unknown@t>: User unknown\r\n");
	assert_int_equal(smtp_proto_rcpt_count(f->p), 0);
	assert_string_equal(fx_feed(f, "DATA\r\n"), "554 5.5.1 Error: no valid recipients\r\n");
	assert_int_equal(f->r.data_starts, 0);
	/* HELO resets the transaction */
	fx_feed(f, "HELO y\r\n");
	assert_int_equal(smtp_proto_state(f->p), SMTP_S_READY);
	assert_string_equal(fx_feed(f, "RCPT TO:<a@b>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
	fx_free(f);

	/* require_helo = 0: MAIL without HELO is fine */
	struct smtp_limits l = default_limits();
	l.require_helo = 0;
	f = fx_new_lim(l);
	fx_take(f);
	assert_string_equal(fx_feed(f, "MAIL FROM:<a@b>\r\n"), "250 2.1.0 Ok\r\n");
	fx_free(f);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	fx_take(f);
	fx_feed(f, "EHLO x\r\n");
	assert_string_equal(fx_feed(f, "MAIL TO:<a@b>\r\n"), "501 5.5.4 Syntax: MAIL FROM:<address>\r\n");
	assert_string_equal(fx_feed(f, "MAIL FROM:a@b\r\n"), "501 5.1.7 Bad sender address syntax\r\n");
	assert_string_equal(fx_feed(f, "MAIL FROM:<a@b> BOGUS\r\n"), "555 5.5.4 Unsupported parameter\r\n");
	assert_string_equal(fx_feed(f, "MAIL FROM:<a@b> BODY=9BIT\r\n"), "501 5.5.4 Error: bad BODY parameter\r\n");
	assert_string_equal(fx_feed(f, "MAIL FROM:<a@b> SMTPUTF8=1\r\n"),
	    "501 5.5.4 Error: SMTPUTF8 takes no value\r\n");
	assert_string_equal(fx_feed(f, "MAIL FROM:<a@b> =x\r\n"), "501 5.5.4 Error: bad parameter syntax\r\n");
	assert_string_equal(fx_feed(f, "MAIL FROM:<>\r\n"), "250 2.1.0 Ok\r\n");
	assert_string_equal(f->r.last_mail, "");
	assert_string_equal(fx_feed(f, "RCPT TO:<>\r\n"), "501 5.1.3 Bad recipient address syntax\r\n");
	assert_string_equal(fx_feed(f, "RCPT <a@b>\r\n"), "501 5.5.4 Syntax: RCPT TO:<address>\r\n");
	assert_string_equal(fx_feed(f, "RCPT TO:<a@b> NOTIFY=NEVER\r\n"), "555 5.5.4 Unsupported parameter\r\n");
	assert_string_equal(fx_feed(f, "RCPT TO:<Postmaster>\r\n"), "250 2.1.5 Ok\r\n");
	assert_true(f->r.last_rcpt_flags & SMTP_PATH_POSTMASTER);
	assert_string_equal(fx_feed(f, "rcpt to:<A@T.Example>\r\n"), "250 2.1.5 Ok\r\n");
	assert_string_equal(f->r.last_rcpt, "A@t.example");
	assert_string_equal(fx_feed(f, "DATA now\r\n"), "501 5.5.4 Syntax: DATA\r\n");
	fx_free(f);
}

/* ---- pipelining ----------------------------------------------------------- */

static void test_pipelined_group(void **state)
{
	(void)state;
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		struct fx *f = fx_new();
		fx_take(f);
		/* EHLO followed by more commands in one feed: answered in order */
		const char *in = "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<u1@t>\r\nRCPT TO:<u2@t>\r\nDATA\r\n";
		const char *o = fx_feedn(f, in, strlen(in), bytewise);
		const char *tail = strstr(o, "250 STARTTLS\r\n");
		assert_non_null(tail);
		assert_string_equal(tail + 14, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
		    "354 End data with <CR><LF>.<CR><LF>\r\n");
		assert_int_equal(smtp_proto_rcpt_count(f->p), 2);
		const char *msg = "Subject: t\r\n\r\n..dot\r\n.\r\n";
		assert_string_equal(fx_feedn(f, msg, strlen(msg), bytewise), "250 2.0.0 Ok: queued as X\r\n");
		assert_int_equal(f->r.commits, 1);
		assert_int_equal(f->r.committed.len, strlen("Subject: t\r\n\r\n.dot\r\n"));
		assert_memory_equal(f->r.committed.data, "Subject: t\r\n\r\n.dot\r\n", f->r.committed.len);
		assert_int_equal(smtp_proto_state(f->p), SMTP_S_READY);
		assert_int_equal(smtp_proto_rcpt_count(f->p), 0);
		fx_free(f);
	}
}

static void test_data_sync_error(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	fx_take(f);
	fx_feed(f, "EHLO x\r\n");
	const char *o = fx_feed(f, "MAIL FROM:<a@b>\r\nRCPT TO:<u@t>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n");
	assert_string_equal(o, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n554 5.5.0 Error: SMTP protocol synchronization\r\n");
	assert_int_equal(smtp_proto_state(f->p), SMTP_S_CLOSED);
	assert_int_equal(f->r.data_starts, 0);
	assert_int_equal(f->r.data_ends, 0);
	assert_true(f->r.resets >= 1);
	fx_free(f);
}

/* P3: message 1, then a second transaction pipelined behind the dot. */
static void test_pipelined_second_message(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	fx_to_data(f);
	const char *o = fx_feed(f, "m1\r\n.\r\nMAIL FROM:<s@x>\r\nRCPT TO:<v@t>\r\nDATA\r\nm2\r\n.\r\n");
	assert_int_equal(f->r.commits, 1);
	assert_int_equal(count_str(o, "554 5.5.0"), 1);
	assert_int_equal(f->r.data_starts, 1);
	assert_int_equal(smtp_proto_state(f->p), SMTP_S_CLOSED);
	fx_free(f);
}

/* ---- DATA ----------------------------------------------------------------- */

static void test_dot_unstuffing(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	fx_to_data(f);
	const char *msg = "..\r\n...\r\n. \r\n.\tx\r\n.x\r\nmid.dle\r\n\r\n.\r\n";
	assert_string_equal(fx_feed(f, msg), "250 2.0.0 Ok: queued as X\r\n");
	const char *want = ".\r\n..\r\n \r\n\tx\r\nx\r\nmid.dle\r\n\r\n";
	assert_int_equal(f->r.committed.len, strlen(want));
	assert_memory_equal(f->r.committed.data, want, strlen(want));
	assert_int_equal(f->r.info.size, strlen(want));
	assert_false(f->r.info.bare_lf);
	fx_free(f);

	/* empty message: the dot right after 354 ends it */
	f = fx_new();
	fx_to_data(f);
	assert_string_equal(fx_feed(f, ".\r\n"), "250 2.0.0 Ok: queued as X\r\n");
	assert_int_equal(f->r.committed.len, 0);
	fx_free(f);
}

static const char *const smuggle_vectors[] = {
	"\n.\n", "\n.\r", "\r.\n", "\r.\r", "\n.\r\n", "\r.\r\n", "\r\n.\n", "\r\n.\r",
	"\r\n.\r\r\n", "\r\r\n.\r\r\n", "\r\n\0.\r\n", "\r\n.\0\r\n",
};
static const size_t smuggle_len[] = { 3, 3, 3, 3, 4, 4, 4, 4, 6, 7, 5, 5 };

static void test_smuggling(void **state)
{
	(void)state;
	const char *pre = "From: a@b.example\r\nSubject: test\r\n\r\nsmuggling sequence!\r\n";
	const char *post = "\r\nmail FROM:<smuggled@x>\r\nrcpt TO:<victim@t.example>\r\ndata\r\n"
	    "From: smuggled@x\r\n\r\nSMUGGLING WORKS\r\n.\r\n";

	for (size_t v = 0; v < sizeof(smuggle_len) / sizeof(smuggle_len[0]); v++)
		for (int mode = 0; mode < 2; mode++)
			for (int bytewise = 0; bytewise < 2; bytewise++) {
				struct smtp_limits l = default_limits();
				l.bare_lf_normalize = mode;
				struct fx *f = fx_new_lim(l);
				struct buf in = BUF_INIT;
				buf_append_str(&in, pre);
				buf_append(&in, smuggle_vectors[v], smuggle_len[v]);
				buf_append_str(&in, post);
				fx_to_data(f);
				const char *o = fx_feedn(f, in.data, in.len, bytewise);
				/* exactly one reply for exactly one DATA, never a MAIL */
				assert_int_equal(f->r.mails, 1);
				assert_int_equal(f->r.rcpts, 1);
				assert_int_equal(f->r.data_starts, 1);
				assert_int_equal(smtp_proto_state(f->p), SMTP_S_READY);
				if (mode == 0) {
					assert_string_equal(o, "550 5.5.2 Error: bare <CR>, <LF> or NUL "
					    "received in message content\r\n");
					assert_int_equal(f->r.data_ends, 0);
					assert_int_equal(f->r.commits, 0);
				} else {
					assert_string_equal(o, "250 2.0.0 Ok: queued as X\r\n");
					assert_int_equal(f->r.commits, 1);
					assert_true(f->r.info.bare_lf);
					struct buf *c = &f->r.committed;
					buf_append_char(c, '\0');
					assert_non_null(strstr(c->data, "mail FROM:<smuggled@x>\r\n"));
					assert_non_null(strstr(c->data, "SMUGGLING WORKS\r\n"));
					/* no bare CR, LF or NUL in what we commit */
					for (size_t i = 0; i + 1 < c->len; i++) {
						assert_int_not_equal(c->data[i], '\0');
						if (c->data[i] == '\r')
							assert_int_equal(c->data[i + 1], '\n');
						if (c->data[i] == '\n')
							assert_true(i > 0 && c->data[i - 1] == '\r');
					}
				}
				buf_free(&in);
				fx_free(f);
			}
}

/* In normalize mode "\n.\n" is a content line "." (re-stuffed on delivery). */
static void test_normalize_lf_dot(void **state)
{
	(void)state;
	struct smtp_limits l = default_limits();
	l.bare_lf_normalize = 1;
	struct fx *f = fx_new_lim(l);
	fx_to_data(f);
	assert_string_equal(fx_feed(f, "a\n.\nb\r\n.\r\n"), "250 2.0.0 Ok: queued as X\r\n");
	assert_int_equal(f->r.committed.len, 9);
	assert_memory_equal(f->r.committed.data, "a\r\n.\r\nb\r\n", 9);
	fx_free(f);
}

static void test_data_limits(void **state)
{
	(void)state;
	/* 1000 octets incl. CRLF: fine; 1001: rejected */
	struct fx *f = fx_new();
	fx_to_data(f);
	char line[1100];
	memset(line, 'a', 998);
	memcpy(line + 998, "\r\n.\r\n", 6);
	assert_string_equal(fx_feed(f, line), "250 2.0.0 Ok: queued as X\r\n");
	assert_int_equal(f->r.committed.len, 1000);
	fx_free(f);

	f = fx_new();
	fx_to_data(f);
	memset(line, 'a', 999);
	memcpy(line + 999, "\r\n.\r\n", 6);
	assert_string_equal(fx_feed(f, line), "550 5.5.2 Error: message line longer than 1000 octets\r\n");
	assert_int_equal(f->r.data_ends, 0);
	assert_int_equal(smtp_proto_state(f->p), SMTP_S_READY);
	fx_free(f);

	/* P19: long line ending in "." must not look like a dot line */
	f = fx_new();
	fx_to_data(f);
	struct buf b = BUF_INIT;
	for (int i = 0; i < 2047; i++)
		buf_append_char(&b, 'A');
	buf_append_str(&b, ".\r\nnext\r\n.\r\n");
	assert_string_equal(fx_feed(f, b.data), "550 5.5.2 Error: message line longer than 1000 octets\r\n");
	buf_free(&b);
	fx_free(f);

	/* size */
	struct smtp_limits l = default_limits();
	l.max_message_size = 100;
	f = fx_new_lim(l);
	fx_to_data(f);
	b = (struct buf)BUF_INIT;
	for (int i = 0; i < 20; i++)
		buf_append_str(&b, "0123456789\r\n");
	buf_append_str(&b, ".\r\n");
	assert_string_equal(fx_feed(f, b.data),
	    "552 5.3.4 Error: message exceeds fixed maximum message size\r\n");
	assert_true(f->r.content.len <= 100);
	assert_int_equal(f->r.data_ends, 0);
	assert_int_equal(smtp_proto_state(f->p), SMTP_S_READY);
	buf_free(&b);
	fx_free(f);
}

static void test_data_write_fail(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	fx_to_data(f);
	f->r.write_fail = 1;
	assert_string_equal(fx_feed(f, "x\r\n"), "");
	int w = f->r.writes;
	assert_string_equal(fx_feed(f, "y\r\n"), "");
	assert_int_equal(f->r.writes, w); /* stopped writing */
	assert_string_equal(fx_feed(f, ".\r\n"), "451 4.3.0 Error: queue file write error\r\n");
	assert_int_equal(f->r.data_ends, 1);
	assert_int_equal(smtp_proto_state(f->p), SMTP_S_READY);
	fx_free(f);
}

static void test_data_end_pending(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	fx_to_data(f);
	f->r.pend = 1;
	const char *in = "body\r\n.\r\nMAIL FROM:<c@d>\r\n";
	size_t n = smtp_proto_feed(f->p, in, strlen(in));
	assert_int_equal(n, strlen("body\r\n.\r\n"));
	assert_int_equal(smtp_proto_state(f->p), SMTP_S_DATA_END);
	assert_true(smtp_proto_paused(f->p));
	assert_string_equal(fx_take(f), "");
	assert_int_equal(smtp_proto_feed(f->p, in + n, strlen(in + n)), 0);
	struct smtp_reply r = { 250, "2.0.0 Ok: queued as Y" };
	smtp_proto_resume(f->p, &r);
	assert_string_equal(fx_take(f), "250 2.0.0 Ok: queued as Y\r\n");
	assert_int_equal(smtp_proto_state(f->p), SMTP_S_READY);
	assert_int_equal(smtp_proto_rcpt_count(f->p), 0);
	assert_string_equal(fx_feed(f, in + n), "250 2.1.0 Ok\r\n");
	fx_free(f);
}

/* ---- command line discipline --------------------------------------------- */

static void test_long_command_line(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	fx_take(f);
	fx_feed(f, "EHLO x\r\n");
	fx_feed(f, "MAIL FROM:<a@b>\r\n");
	/* P16 */
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		struct buf b = BUF_INIT;
		buf_append_str(&b, "NOOP ");
		for (int i = 0; i < 600; i++)
			buf_append_char(&b, 'A');
		buf_append_str(&b, "RCPT TO:<victim@x>\r\n");
		assert_string_equal(fx_feedn(f, b.data, b.len, bytewise),
		    "500 5.5.2 Error: command line too long\r\n");
		assert_int_equal(f->r.rcpts, 0);
		buf_free(&b);
	}
	/* exactly 512 incl. CRLF is processed, 513 is not */
	char l512[600];
	memset(l512, 'A', sizeof(l512));
	memcpy(l512, "NOOP ", 5);
	memcpy(l512 + 510, "\r\n", 3);
	assert_string_equal(fx_feed(f, l512), "250 2.0.0 Ok\r\n");
	memset(l512, 'A', sizeof(l512));
	memcpy(l512, "NOOP ", 5);
	memcpy(l512 + 511, "\r\n", 3);
	assert_string_equal(fx_feed(f, l512), "500 5.5.2 Error: command line too long\r\n");
	assert_string_equal(fx_feed(f, "NOOP\r\n"), "250 2.0.0 Ok\r\n");
	/* a never-ending line is answered once, early, memory stays bounded */
	char big[4096];
	memset(big, 'B', sizeof(big));
	assert_string_equal(fx_feedn(f, big, sizeof(big), 0), "500 5.5.2 Error: command line too long\r\n");
	assert_string_equal(fx_feedn(f, big, sizeof(big), 0), "");
	assert_string_equal(fx_feed(f, "\r\nNOOP\r\n"), "250 2.0.0 Ok\r\n");
	fx_free(f);
}

static void test_bare_and_nul_in_command(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	fx_take(f);
	fx_feed(f, "EHLO x\r\n");
	fx_feed(f, "MAIL FROM:<a@b>\r\n");
	const char *bare = "500 5.5.2 Error: bare <LF>, <CR> or NUL in command\r\n";
	assert_string_equal(fx_feed(f, "RCPT TO:<a@t>\n"), bare);
	assert_string_equal(fx_feed(f, "NOOP\rRCPT TO:<v@t>\r\n"), bare);
	/* P21 */
	static const char nul[] = "RCPT TO:<a@tenant>\0<b@evil>\r\n";
	assert_string_equal(fx_feedn(f, nul, sizeof(nul) - 1, 0), bare);
	assert_string_equal(fx_feedn(f, nul, sizeof(nul) - 1, 1), bare);
	static const char nul2[] = "RCPT TO:<a@tenant>\0\r\n";
	assert_string_equal(fx_feedn(f, nul2, sizeof(nul2) - 1, 0), bare);
	assert_int_equal(f->r.rcpts, 0);
	/* CR split from LF across feeds is still a CRLF */
	assert_string_equal(fx_feed(f, "NOOP\r"), "");
	assert_string_equal(fx_feed(f, "\n"), "250 2.0.0 Ok\r\n");
	fx_free(f);
}

static void test_8bit(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	fx_take(f);
	fx_feed(f, "EHLO x\r\n");
	assert_string_equal(fx_feed(f, "MAIL FROM:<j\xc3\xbcrgen@b>\r\n"),
	    "553 5.6.7 Must declare SMTPUTF8 to send unicode address\r\n");
	assert_string_equal(fx_feed(f, "MAIL FROM:<j\xc3\x28rgen@b> SMTPUTF8\r\n"),
	    "500 5.5.2 Error: bad UTF-8 syntax\r\n");
	assert_string_equal(fx_feed(f, "MAIL FROM:<j\xc0\xafrgen@b> SMTPUTF8\r\n"),
	    "500 5.5.2 Error: bad UTF-8 syntax\r\n");
	assert_string_equal(fx_feed(f, "MAIL FROM:<j\xed\xa0\x80@b> SMTPUTF8\r\n"),
	    "500 5.5.2 Error: bad UTF-8 syntax\r\n");
	assert_string_equal(fx_feed(f, "NOOP \xff\r\n"), "500 5.5.2 Error: bad UTF-8 syntax\r\n");
	assert_int_equal(f->r.mails, 0);
	assert_string_equal(fx_feed(f, "MAIL FROM:<j\xc3\xbcrgen@b> SMTPUTF8\r\n"), "250 2.1.0 Ok\r\n");
	assert_string_equal(fx_feed(f, "RCPT TO:<\xc3\xbc@t>\r\n"), "250 2.1.5 Ok\r\n");
	assert_true(f->r.last_rcpt_flags & SMTP_PATH_UTF8);
	fx_feed(f, "RSET\r\n");
	fx_feed(f, "MAIL FROM:<a@b>\r\n");
	assert_string_equal(fx_feed(f, "RCPT TO:<\xc3\xbc@t>\r\n"),
	    "553 5.6.7 Must declare SMTPUTF8 to send unicode address\r\n");
	fx_free(f);
}

static void test_ref_in_refusals(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	fx_take(f);
	smtp_proto_set_ref(f->p, "8KQ2-7Z4M");
	fx_feed(f, "EHLO x\r\n");
	/* 4xx/5xx the proto decides get the ref; 2xx do not. */
	assert_string_equal(fx_feed(f, "MAIL FROM:<a@b> SIZE=99999999999\r\n"),
	    "552 5.3.4 Message size exceeds fixed maximum message size (ref 8KQ2-7Z4M)\r\n");
	assert_string_equal(fx_feed(f, "NOOP\r\n"), "250 2.0.0 Ok\r\n");
	assert_string_equal(fx_feed(f, "FOO\r\n"), "500 5.5.2 Error: command not recognized (ref 8KQ2-7Z4M)\r\n");
	smtp_proto_set_ref(f->p, "\r\nINJ");   /* sanitised: never a second reply line */
	const char *o = fx_feed(f, "FOO\r\n");
	assert_int_equal(strstr(o, "\r\n") - o, (long)strlen(o) - 2);
	smtp_proto_set_ref(f->p, NULL);
	assert_string_equal(fx_feed(f, "FOO\r\n"), "500 5.5.2 Error: command not recognized\r\n");
	fx_free(f);
}

static void test_size_param(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	fx_take(f);
	fx_feed(f, "EHLO x\r\n");
	const char *big = "552 5.3.4 Message size exceeds fixed maximum message size\r\n";
	const char *bad = "501 5.5.4 Error: bad SIZE parameter\r\n";
	assert_string_equal(fx_feed(f, "MAIL FROM:<a@b> SIZE=abc\r\n"), bad);
	assert_string_equal(fx_feed(f, "MAIL FROM:<a@b> SIZE=-1\r\n"), bad);
	assert_string_equal(fx_feed(f, "MAIL FROM:<a@b> SIZE\r\n"), bad);
	assert_string_equal(fx_feed(f, "MAIL FROM:<a@b> SIZE=\r\n"), "501 5.5.4 Error: bad parameter syntax\r\n");
	assert_string_equal(fx_feed(f, "MAIL FROM:<a@b> SIZE=99999999999999999999999\r\n"), big);
	assert_string_equal(fx_feed(f, "MAIL FROM:<a@b> SIZE=18446744073709551616\r\n"), big);
	assert_string_equal(fx_feed(f, "MAIL FROM:<a@b> SIZE=10240001\r\n"), big);
	assert_string_equal(fx_feed(f, "MAIL FROM:<a@b> SIZE=10240000 BODY=8BITMIME\r\n"), "250 2.1.0 Ok\r\n");
	fx_free(f);
}

static void test_max_recipients(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	fx_take(f);
	fx_feed(f, "EHLO x\r\nMAIL FROM:<a@b>\r\n");
	for (int i = 0; i < 100; i++) {
		char c[64];
		snprintf(c, sizeof(c), "RCPT TO:<u%d@t>\r\n", i);
		assert_string_equal(fx_feed(f, c), "250 2.1.5 Ok\r\n");
	}
	assert_string_equal(fx_feed(f, "RCPT TO:<u100@t>\r\n"), "452 4.5.3 Error: too many recipients\r\n");
	assert_int_equal(smtp_proto_rcpt_count(f->p), 100);
	assert_int_equal(f->r.rcpts, 100);
	assert_string_equal(fx_feed(f, "DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
	fx_free(f);
}

static void test_error_budget(void **state)
{
	(void)state;
	struct smtp_limits l = default_limits();
	l.max_errors = 3;
	l.max_junk = 2;
	struct fx *f = fx_new_lim(l);
	fx_take(f);
	fx_feed(f, "EHLO x\r\nMAIL FROM:<a@b>\r\n");
	const char *o = fx_feed(f, "BAD\r\nBAD\r\nBAD\r\nBAD\r\nNOOP\r\n");
	assert_string_equal(o, "500 5.5.2 Error: command not recognized\r\n"
	    "500 5.5.2 Error: command not recognized\r\n"
	    "500 5.5.2 Error: command not recognized\r\n"
	    "500 5.5.2 Error: command not recognized\r\n"
	    "421 4.7.0 mx.test Error: too many errors\r\n");
	assert_int_equal(smtp_proto_state(f->p), SMTP_S_CLOSED);
	assert_true(f->r.resets >= 1); /* transaction dropped on close */
	fx_free(f);

	/* junk: NOOP/RSET beyond max_junk count as errors */
	f = fx_new_lim(l);
	fx_take(f);
	o = fx_feed(f, "NOOP\r\nNOOP\r\nRSET\r\nNOOP\r\nVRFY a\r\nHELP\r\nNOOP\r\n");
	assert_int_equal(count_str(o, "421 4.7.0"), 1);
	assert_int_equal(smtp_proto_state(f->p), SMTP_S_CLOSED);
	assert_int_equal(count_str(o, "\r\n"), 7); /* the 7th reply is the 421 */
	fx_free(f);
}

static void test_starttls(void **state)
{
	(void)state;
	/* P23 */
	struct fx *f = fx_new();
	fx_take(f);
	fx_feed(f, "EHLO x\r\n");
	const char *in = "STARTTLS\r\nRSET\r\n";
	assert_int_equal(smtp_proto_feed(f->p, in, strlen(in)), 10);
	assert_string_equal(fx_take(f), "220 2.0.0 Ready to start TLS\r\n");
	assert_int_equal(f->r.starttls, 1);
	assert_int_equal(smtp_proto_state(f->p), SMTP_S_TLS);
	assert_true(smtp_proto_paused(f->p));
	/* the caller discards; anything fed now is swallowed */
	assert_int_equal(smtp_proto_feed(f->p, "RSET\r\n", 6), 6);
	assert_string_equal(fx_take(f), "");
	smtp_proto_tls_started(f->p);
	assert_int_equal(smtp_proto_state(f->p), SMTP_S_CONNECTED);
	assert_string_equal(fx_feed(f, "MAIL FROM:<a@b>\r\n"), "503 5.5.1 Error: send HELO/EHLO first\r\n");
	const char *o = fx_feed(f, "EHLO x\r\n");
	assert_null(strstr(o, "STARTTLS"));
	assert_string_equal(fx_feed(f, "STARTTLS\r\n"), "503 5.5.1 Error: TLS already active\r\n");
	fx_free(f);

	/* P25: mid-transaction STARTTLS drops the transaction */
	f = fx_new();
	fx_take(f);
	fx_feed(f, "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<u@t>\r\n");
	int resets = f->r.resets;
	fx_feed(f, "STARTTLS\r\n");
	assert_int_equal(f->r.resets, resets + 1);
	smtp_proto_tls_started(f->p);
	fx_feed(f, "EHLO x\r\n");
	assert_int_equal(smtp_proto_rcpt_count(f->p), 0);
	assert_string_equal(fx_feed(f, "DATA\r\n"), "503 5.5.1 Error: need RCPT command\r\n");
	fx_free(f);
}

static void test_shutdown_and_hook_sanitising(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	fx_take(f);
	smtp_proto_shutdown(f->p, "Service shutting down");
	assert_string_equal(fx_take(f), "421 4.3.2 mx.test Service shutting down\r\n");
	assert_int_equal(smtp_proto_state(f->p), SMTP_S_CLOSED);
	assert_string_equal(fx_feed(f, "NOOP\r\n"), "");
	fx_free(f);

	/* a hook reply can never inject a second line */
	f = fx_new();
	fx_to_data(f);
	f->r.pend = 1;
	fx_feed(f, ".\r\n");
	struct smtp_reply r = { 250, "2.0.0 Ok\r\n250 injected" };
	smtp_proto_resume(f->p, &r);
	assert_string_equal(fx_take(f), "250 2.0.0 Ok  250 injected\r\n");
	fx_free(f);
}

static void test_refusal_greeting_and_null_hooks(void **state)
{
	(void)state;
	struct smtp_limits l = default_limits();
	struct smtp_hooks h = { 0 };
	struct smtp_proto *p = smtp_proto_new(&l, &h, "mx.test");
	size_t n;
	smtp_proto_greet(p, 421, "4.7.0 mx.test Too many connections");
	const char *o = smtp_proto_output(p, &n);
	assert_int_equal(n, strlen("421 4.7.0 mx.test Too many connections\r\n"));
	assert_memory_equal(o, "421 4.7.0 mx.test Too many connections\r\n", n);
	assert_int_equal(smtp_proto_state(p), SMTP_S_CLOSED);
	smtp_proto_free(p);

	/* hooks left NULL: the proto accepts on its own (tests, tools) */
	p = smtp_proto_new(&l, &h, "mx.test");
	smtp_proto_greet(p, 220, NULL);
	smtp_proto_output_consumed(p, (size_t)-1);
	const char *in = "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n";
	assert_int_equal(smtp_proto_feed(p, in, strlen(in)), strlen(in));
	assert_int_equal(smtp_proto_feed(p, "hi\r\n.\r\n", 7), 7);
	o = smtp_proto_output(p, &n);
	const char *want = "250 mx.test\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok\r\n";
	assert_int_equal(n, strlen(want));
	assert_memory_equal(o, want, n);
	smtp_proto_free(p);
}

static void test_normalize_bare_cr_and_nul(void **state)
{
	(void)state;
	struct smtp_limits l = default_limits();
	l.bare_lf_normalize = 1;
	struct fx *f = fx_new_lim(l);
	fx_to_data(f);
	static const char msg[] = "a\rb\0c\r\r\n.\r\r\n.\r\n";
	assert_string_equal(fx_feedn(f, msg, sizeof(msg) - 1, 1), "250 2.0.0 Ok: queued as X\r\n");
	const char *want = "a\r\nbc\r\n\r\n\r\n\r\n";
	assert_int_equal(f->r.committed.len, strlen(want));
	assert_memory_equal(f->r.committed.data, want, strlen(want));
	assert_true(f->r.info.bare_lf);
	fx_free(f);
}

static void test_bad_hook_code(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	fx_to_data(f);
	f->r.pend = 1;
	fx_feed(f, ".\r\n");
	struct smtp_reply r = { 99, "2.0.0 Ok" };
	smtp_proto_resume(f->p, &r);
	assert_string_equal(fx_take(f), "451 4.3.0 Error: internal error\r\n");
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting_ehlo_helo),
		cmocka_unit_test(test_talk_before_greeting),
		cmocka_unit_test(test_simple_commands),
		cmocka_unit_test(test_sequence_errors),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_pipelined_group),
		cmocka_unit_test(test_data_sync_error),
		cmocka_unit_test(test_pipelined_second_message),
		cmocka_unit_test(test_dot_unstuffing),
		cmocka_unit_test(test_smuggling),
		cmocka_unit_test(test_normalize_lf_dot),
		cmocka_unit_test(test_data_limits),
		cmocka_unit_test(test_data_write_fail),
		cmocka_unit_test(test_data_end_pending),
		cmocka_unit_test(test_long_command_line),
		cmocka_unit_test(test_bare_and_nul_in_command),
		cmocka_unit_test(test_8bit),
		cmocka_unit_test(test_size_param),
		cmocka_unit_test(test_ref_in_refusals),
		cmocka_unit_test(test_max_recipients),
		cmocka_unit_test(test_error_budget),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_shutdown_and_hook_sanitising),
		cmocka_unit_test(test_refusal_greeting_and_null_hooks),
		cmocka_unit_test(test_normalize_bare_cr_and_nul),
		cmocka_unit_test(test_bad_hook_code),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
