/*
 * test_delivery.c - the delivery client against a scripted sink on real
 * sockets (127.0.0.1 and a unix socket), maildir delivery, URL and reply
 * parsing.  The sink runs in a thread, answers per its script and records
 * every byte it receives (decrypted, after STARTTLS), so the tests can check
 * the exact DATA stream (P4, P19, P20) and each failure mode (X12, X13).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base/buf.h"
#include "delivery/delivery.h"

/* ---- the sink ----------------------------------------------------------- */

struct sink_cfg {
	int lmtp;
	const char *greeting;        /* default "220 sink ESMTP\r\n" */
	int pipelining;
	int starttls;                /* advertise STARTTLS */
	const char *starttls_reply;  /* default "220 go ahead\r\n" */
	int tls_garbage;             /* after the 220, send junk instead of a handshake */
	int ehlo_5xx;
	const char *mail_reply;
	const char *rcpt_replies[8];
	const char *data_reply;
	const char *dot_replies[8];  /* SMTP: [0]; LMTP: one per accepted rcpt */
	size_t flood;                /* send this many bytes of "220-..." instead of a greeting */
	int drop_after_mail;
	int drop_in_data;            /* close right after the 354 */
	int ipv6;                    /* listen on [::1] */
	int no_dot_reply;
};

struct sink {
	struct sink_cfg cfg;
	int lfd;
	int port;
	char upath[108];
	pthread_t th;
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
	char in[200000];
	size_t inlen;
	struct buf rec;              /* everything received */
	struct buf data;             /* the DATA stream, through ".\r\n" */
	struct buf cmds;             /* command lines, "\n"-separated, CRLF dropped */
	int tls_used;
	int pipelined;               /* RCPT bytes were already there when MAIL was read */
	int rcpt_i;
	int accepted;
};

static int sink_write(struct sink *s, const char *p)
{
	size_t n = strlen(p);

	if (s->ssl != NULL)
		return SSL_write(s->ssl, p, (int)n) == (int)n ? 0 : -1;
	while (n > 0) {
		ssize_t w = send(s->fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One line (through '\n') into line; 0, or -1 at EOF. */
static int sink_line(struct sink *s, char *line, size_t max)
{
	for (;;) {
		char *nl = memchr(s->in, '\n', s->inlen);
		if (nl != NULL) {
			size_t n = (size_t)(nl - s->in) + 1;
			if (n >= max)
				return -1;
			memcpy(line, s->in, n);
			line[n] = '\0';
			memmove(s->in, s->in + n, s->inlen - n);
			s->inlen -= n;
			return 0;
		}
		struct pollfd p = { .fd = s->fd, .events = POLLIN, .revents = 0 };
		if (s->ssl == NULL || SSL_pending(s->ssl) == 0)
			if (poll(&p, 1, 10000) <= 0)
				return -1;
		int r = s->ssl ? SSL_read(s->ssl, s->in + s->inlen, (int)(sizeof(s->in) - s->inlen))
			       : (int)recv(s->fd, s->in + s->inlen, sizeof(s->in) - s->inlen, 0);
		if (r <= 0)
			return -1;
		buf_append(&s->rec, s->in + s->inlen, (size_t)r);
		s->inlen += (size_t)r;
	}
}

static const char *dflt(const char *s, const char *d)
{
	return s != NULL ? s : d;
}

static void sink_session(struct sink *s)
{
	char *line = malloc(200001);

	s->rcpt_i = 0;
	s->accepted = 0;
	if (s->cfg.flood > 0) {
		char chunk[1100];
		memset(chunk, 'A', sizeof(chunk));
		memcpy(chunk, "220-", 4);
		memcpy(chunk + sizeof(chunk) - 3, "\r\n", 3);
		for (size_t sent = 0; sent < s->cfg.flood; sent += strlen(chunk))
			if (sink_write(s, chunk) < 0)
				break;
		while (sink_line(s, line, 200001) == 0)
			;
		free(line);
		return;
	}
	if (sink_write(s, dflt(s->cfg.greeting, "220 sink ESMTP\r\n")) < 0)
		goto out;
	while (sink_line(s, line, 200001) == 0) {
		size_t ll = strlen(line);
		buf_append(&s->cmds, line, ll >= 2 && line[ll - 2] == '\r' ? ll - 2 : ll);
		buf_append_char(&s->cmds, '\n');
		if (strncasecmp(line, "EHLO", 4) == 0 || strncasecmp(line, "LHLO", 4) == 0) {
			if (s->cfg.ehlo_5xx) {
				sink_write(s, "502 5.5.1 no EHLO here\r\n");
				continue;
			}
			struct buf r = BUF_INIT;
			buf_append_str(&r, "250-sink greets you\r\n");
			if (s->cfg.pipelining)
				buf_append_str(&r, "250-PIPELINING\r\n");
			if (s->cfg.starttls && s->ssl == NULL)
				buf_append_str(&r, "250-STARTTLS\r\n");
			buf_append_str(&r, "250 8BITMIME\r\n");
			sink_write(s, r.data);
			buf_free(&r);
		} else if (strncasecmp(line, "HELO", 4) == 0) {
			sink_write(s, "250 sink\r\n");
		} else if (strncasecmp(line, "STARTTLS", 8) == 0) {
			const char *rep = dflt(s->cfg.starttls_reply, "220 go ahead\r\n");
			sink_write(s, rep);
			if (rep[0] != '2')
				continue;
			if (s->cfg.tls_garbage) {
				/* Later, so the client is in its handshake. */
				usleep(200000);
				sink_write(s, "this is not a TLS record at all\r\n");
				break;
			}
			s->ssl = SSL_new(s->ctx);
			SSL_set_fd(s->ssl, s->fd);
			if (SSL_accept(s->ssl) != 1)
				break;
			s->tls_used = 1;
			s->inlen = 0;
		} else if (strncasecmp(line, "MAIL", 4) == 0) {
			s->pipelined = s->inlen > 0;
			if (s->cfg.drop_after_mail)
				break;
			sink_write(s, dflt(s->cfg.mail_reply, "250 2.1.0 ok\r\n"));
		} else if (strncasecmp(line, "RCPT", 4) == 0) {
			const char *rep = s->rcpt_i < 8 ? s->cfg.rcpt_replies[s->rcpt_i] : NULL;
			rep = dflt(rep, "250 2.1.5 ok\r\n");
			if (strcmp(rep, "DROP") == 0)
				break;
			if (rep[0] == '2')
				s->accepted++;
			s->rcpt_i++;
			sink_write(s, rep);
		} else if (strncasecmp(line, "DATA", 4) == 0) {
			const char *rep = dflt(s->cfg.data_reply, "354 go on\r\n");
			sink_write(s, rep);
			if (rep[0] != '3')
				continue;
			if (s->cfg.drop_in_data)
				goto out;
			for (;;) {
				if (sink_line(s, line, 200001) < 0)
					goto out;
				buf_append_str(&s->data, line);
				if (strcmp(line, ".\r\n") == 0)
					break;
			}
			if (s->cfg.no_dot_reply) {
				while (sink_line(s, line, 200001) == 0)
					;
				goto out;
			}
			int n = s->cfg.lmtp ? s->accepted : 1;
			for (int i = 0; i < n; i++) {
				const char *dr = dflt(i < 8 ? s->cfg.dot_replies[i] : NULL, "250 2.0.0 queued\r\n");
				if (strcmp(dr, "DROP") == 0)
					goto out;
				sink_write(s, dr);
			}
		} else if (strncasecmp(line, "RSET", 4) == 0) {
			sink_write(s, "250 ok\r\n");
		} else if (strncasecmp(line, "QUIT", 4) == 0) {
			sink_write(s, "221 bye\r\n");
			break;
		} else {
			sink_write(s, "500 what\r\n");
		}
	}
out:
	free(line);
}

static void *sink_main(void *arg)
{
	struct sink *s = arg;
	struct pollfd p = { .fd = s->lfd, .events = POLLIN, .revents = 0 };

	if (poll(&p, 1, 10000) <= 0)
		return NULL;
	s->fd = accept(s->lfd, NULL, NULL);
	if (s->fd < 0)
		return NULL;
	sink_session(s);
	if (s->ssl != NULL) {
		SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	close(s->fd);
	return NULL;
}

/* A self-signed certificate made here, so the test needs no files. */
static SSL_CTX *server_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;

	assert_non_null(ctx);
	assert_non_null(key);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"sink.test", -1, -1, 0);
	X509_set_issuer_name(x, name);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

static struct sink *sink_start(const struct sink_cfg *cfg, int use_unix)
{
	struct sink *s = calloc(1, sizeof(*s));

	s->cfg = *cfg;
	s->fd = -1;
	if (use_unix) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		snprintf(s->upath, sizeof(s->upath), "/tmp/mw-test-lmtp-%d.sock", (int)getpid());
		unlink(s->upath);
		memcpy(sun.sun_path, s->upath, strlen(s->upath) + 1);
		s->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
		assert_int_equal(bind(s->lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	} else if (cfg->ipv6) {
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
		socklen_t sl = sizeof(sin6);
		sin6.sin6_addr = in6addr_loopback;
		s->lfd = socket(AF_INET6, SOCK_STREAM, 0);
		if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&sin6, sizeof(sin6)) != 0) {
			if (s->lfd >= 0)
				close(s->lfd);
			free(s);
			return NULL; /* no IPv6 here */
		}
		getsockname(s->lfd, (struct sockaddr *)&sin6, &sl);
		s->port = ntohs(sin6.sin6_port);
	} else {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		socklen_t sl = sizeof(sin);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s->lfd = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(bind(s->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
		getsockname(s->lfd, (struct sockaddr *)&sin, &sl);
		s->port = ntohs(sin.sin_port);
	}
	assert_int_equal(listen(s->lfd, 4), 0);
	if (cfg->starttls)
		s->ctx = server_ctx();
	assert_int_equal(pthread_create(&s->th, NULL, sink_main, s), 0);
	return s;
}

/* Join the sink thread and keep the recordings for inspection. */
static void sink_join(struct sink *s)
{
	pthread_join(s->th, NULL);
	buf_append_char(&s->cmds, '\0');
	s->cmds.len--;
	buf_append_char(&s->rec, '\0');
	s->rec.len--;
}

static void sink_free(struct sink *s)
{
	close(s->lfd);
	if (s->upath[0])
		unlink(s->upath);
	if (s->ctx)
		SSL_CTX_free(s->ctx);
	buf_free(&s->rec);
	buf_free(&s->data);
	buf_free(&s->cmds);
	free(s);
}

/* ---- helpers ------------------------------------------------------------- */

static const char MSG[] = "From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n";

static int run(struct sink *s, const char *scheme, const char *const *rcpts, size_t n, const char *data, size_t len,
	       int timeout, struct delivery_result *res)
{
	char url[200];
	struct delivery_job job = {
		.url = url, .helo_name = "gw.test", .sender = "a@example.org", .rcpts = rcpts,
		.n_rcpts = n, .data = data, .len = len, .timeout = timeout,
	};

	if (s != NULL && s->upath[0])
		snprintf(url, sizeof(url), "lmtp:%s", s->upath);
	else
		snprintf(url, sizeof(url), "%s://127.0.0.1:%d", scheme, s ? s->port : 1);
	memset(res, 0, sizeof(*res) * n);
	return delivery_send(&job, res);
}

static int count(const char *hay, size_t hl, const char *needle)
{
	int c = 0;
	size_t nl = strlen(needle);

	for (size_t i = 0; i + nl <= hl; i++)
		if (memcmp(hay + i, needle, nl) == 0)
			c++;
	return c;
}

/* No CR without LF after it and no LF without CR before it. */
static void assert_crlf_only(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r')
			assert_true(i + 1 < n && p[i + 1] == '\n');
		if (p[i] == '\n')
			assert_true(i > 0 && p[i - 1] == '\r');
	}
}

/* Independent reference for the DATA transform (delivery.h contract). */
static void reference_stuff(struct buf *o, const char *d, size_t n)
{
	int bol = 1;

	for (size_t i = 0; i < n; i++) {
		if (d[i] == '\r' || d[i] == '\n') {
			if (d[i] == '\r' && i + 1 < n && d[i + 1] == '\n')
				i++;
			buf_append_str(o, "\r\n");
			bol = 1;
			continue;
		}
		if (bol && d[i] == '.')
			buf_append_char(o, '.');
		buf_append_char(o, d[i]);
		bol = 0;
	}
	if (!bol)
		buf_append_str(o, "\r\n");
	buf_append_str(o, ".\r\n");
}

/* ---- URL and reply parser ------------------------------------------------ */

static void test_url_parse(void **st)
{
	char k[16], h[256], p[256];
	int port;

	(void)st;
	assert_int_equal(delivery_url_parse("smtp://mx.example.org:2525", k, sizeof(k), h, sizeof(h), &port, p, sizeof(p)), 0);
	assert_string_equal(k, "smtp");
	assert_string_equal(h, "mx.example.org");
	assert_int_equal(port, 2525);
	assert_int_equal(delivery_url_parse("smtp://mx.example.org", k, sizeof(k), h, sizeof(h), &port, p, sizeof(p)), 0);
	assert_int_equal(port, 25);
	assert_int_equal(delivery_url_parse("lmtp://[::1]:24", k, sizeof(k), h, sizeof(h), &port, p, sizeof(p)), 0);
	assert_string_equal(k, "lmtp");
	assert_string_equal(h, "::1");
	assert_int_equal(port, 24);
	assert_int_equal(delivery_url_parse("lmtp:/run/dovecot/lmtp", k, sizeof(k), h, sizeof(h), &port, p, sizeof(p)), 0);
	assert_string_equal(p, "/run/dovecot/lmtp");
	assert_string_equal(h, "");
	assert_int_equal(delivery_url_parse("maildir:/var/mail", k, sizeof(k), h, sizeof(h), &port, p, sizeof(p)), 0);
	assert_string_equal(k, "maildir");
	assert_string_equal(p, "/var/mail");
	assert_int_equal(delivery_url_parse("mx:example.org", k, sizeof(k), h, sizeof(h), &port, p, sizeof(p)), 0);
	assert_string_equal(k, "mx");
	assert_string_equal(h, "example.org");
	assert_int_equal(port, 25);

	static const char *const bad[] = {
		"", "smtp", "smtp:", "smtp://", "smtp://h:0", "smtp://h:65536", "smtp://h:12x", "smtp://h:",
		"http://h:25", "smtp:/path", "maildir:rel/path", "maildir:", "mx:", "mx:a b", "smtp://a b:25",
		"smtp://[::1:25", "smtp://h:25/x", "lmtp:/p\nx", "mx:h:25", "smtp://1:2:3:25",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(delivery_url_parse(bad[i], k, sizeof(k), h, sizeof(h), &port, p, sizeof(p)), -1);
	/* Output too small for the host. */
	assert_int_equal(delivery_url_parse("smtp://mx.example.org:25", k, sizeof(k), h, 4, &port, p, sizeof(p)), -1);
}

static int parse(const char *s, struct smtp_reply *r, size_t *used)
{
	return smtp_reply_parse(s, strlen(s), r, used);
}

static void test_reply_parser(void **st)
{
	struct smtp_reply r;
	size_t used;

	(void)st;
	assert_int_equal(parse("250 ok\r\nrest", &r, &used), 1);
	assert_int_equal(r.code, 250);
	assert_string_equal(r.text, "ok");
	assert_int_equal(used, 8);
	assert_int_equal(parse("250-mx\r\n250-PIPELINING\r\n250-starttls\r\n250 8BITMIME\r\n", &r, &used), 1);
	assert_int_equal(r.ext, SMTP_EXT_PIPELINING | SMTP_EXT_STARTTLS | SMTP_EXT_8BITMIME);
	assert_string_equal(r.text, "mx PIPELINING starttls 8BITMIME");
	/* A keyword on the first line is the greeting name, not an extension;
	 * a longer word is not the keyword. */
	assert_int_equal(parse("250-PIPELINING\r\n250 PIPELININGX\r\n", &r, &used), 1);
	assert_int_equal(r.ext, 0);
	assert_int_equal(parse("354\r\n", &r, &used), 1);
	assert_int_equal(r.code, 354);
	assert_string_equal(r.text, "");
	assert_int_equal(parse("221 bye\n", &r, &used), 1); /* bare LF accepted */
	assert_int_equal(parse("550 a\x01\x7f\xff" "b\r\n", &r, &used), 1);
	assert_string_equal(r.text, "a???b");
	/* Incomplete: ask for more. */
	assert_int_equal(parse("", &r, &used), 0);
	assert_int_equal(parse("25", &r, &used), 0);
	assert_int_equal(parse("250-a\r\n250", &r, &used), 0);
	assert_int_equal(parse("250 ok\r", &r, &used), 0);
	/* Malformed. */
	assert_int_equal(parse("2x0 ok\r\n", &r, &used), -1);
	assert_int_equal(parse("x", &r, &used), -1);
	assert_int_equal(parse("250x", &r, &used), -1);
	assert_int_equal(parse("250-a\r\n251 b\r\n", &r, &used), -1);
	assert_int_equal(parse("150 x\r\n", &r, &used), -1);
	assert_int_equal(parse("650 x\r\n", &r, &used), -1);
	assert_int_equal(parse("25\r\n", &r, &used), -1);
	assert_int_equal(parse("250_x\r\n", &r, &used), -1);
	/* Text is truncated, not overflowed. */
	char *big = malloc(5000);
	memset(big, 'z', 5000);
	memcpy(big, "250 ", 4);
	memcpy(big + 4998, "\r\n", 2);
	assert_int_equal(smtp_reply_parse(big, 5000, &r, &used), 1);
	assert_int_equal(strlen(r.text), sizeof(r.text) - 1);
	free(big);
	/* No end within SMTP_REPLY_MAX: error, even if more bytes follow. */
	big = malloc(SMTP_REPLY_MAX + 100);
	for (size_t i = 0; i + 7 <= SMTP_REPLY_MAX + 100; i += 7)
		memcpy(big + i, "250-x\r\n", 7);
	assert_int_equal(smtp_reply_parse(big, SMTP_REPLY_MAX - 2, &r, &used), 0);
	assert_int_equal(smtp_reply_parse(big, SMTP_REPLY_MAX + 90, &r, &used), -1);
	free(big);
}

/* A DNS answer for example.org MX with the given (preference, label)
 * records; a label "" is the root (null MX). */
static size_t mx_answer(unsigned char *p, const int *pref, const char *const *label, int n)
{
	static const unsigned char hdr[] = { 0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0 };
	static const unsigned char q[] = { 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'o', 'r', 'g', 0, 0, 15, 0, 1 };
	size_t o = 0;

	memcpy(p, hdr, sizeof(hdr));
	p[7] = (unsigned char)n;
	o = sizeof(hdr);
	memcpy(p + o, q, sizeof(q));
	o += sizeof(q);
	for (int i = 0; i < n; i++) {
		size_t ll = strlen(label[i]);
		/* name: pointer to the question; type MX, class IN, TTL 256 */
		static const unsigned char rr[] = { 0xc0, 12, 0, 15, 0, 1, 0, 0, 1, 0 };
		memcpy(p + o, rr, sizeof(rr));
		o += sizeof(rr);
		if (ll == 0) {
			p[o++] = 0;
			p[o++] = 3;
			p[o++] = 0;
			p[o++] = (unsigned char)pref[i];
			p[o++] = 0;
			continue;
		}
		p[o++] = 0;
		p[o++] = (unsigned char)(2 + 1 + ll + 2);
		p[o++] = 0;
		p[o++] = (unsigned char)pref[i];
		p[o++] = (unsigned char)ll;
		memcpy(p + o, label[i], ll);
		o += ll;
		p[o++] = 0xc0; /* then the domain, by pointer */
		p[o++] = 12;
	}
	return o;
}

static void test_mx_parse(void **st)
{
	unsigned char p[1024];
	struct delivery_mx mx[4];
	size_t n, len;
	const int pref[] = { 20, 10, 30, 5 };
	const char *const lbl[] = { "mx2", "mx1", "mx3", "mx0" };
	const char *const nul[] = { "" };

	(void)st;
	len = mx_answer(p, pref, lbl, 3);
	assert_int_equal(delivery_mx_parse(p, (int)len, mx, 4, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(mx[0].host, "mx1.example.org");
	assert_int_equal(mx[0].pref, 10);
	assert_string_equal(mx[1].host, "mx2.example.org");
	assert_string_equal(mx[2].host, "mx3.example.org");
	/* Capped at 2: the two most preferred survive, whatever the order. */
	len = mx_answer(p, pref, lbl, 4);
	assert_int_equal(delivery_mx_parse(p, (int)len, mx, 2, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(mx[0].host, "mx0.example.org");
	assert_string_equal(mx[1].host, "mx1.example.org");
	/* Truncated answer: malformed. */
	assert_int_equal(delivery_mx_parse(p, (int)len - 5, mx, 4, &n), -1);
	assert_int_equal(delivery_mx_parse(p, 5, mx, 4, &n), -1);
	/* Null MX (RFC 7505). */
	len = mx_answer(p, pref, nul, 1);
	assert_int_equal(delivery_mx_parse(p, (int)len, mx, 4, &n), -2);
}

/* ---- SMTP ------------------------------------------------------------------ */

static void test_smtp_transcript(void **st)
{
	(void)st;
	for (int pl = 0; pl <= 1; pl++) {
		struct sink_cfg cfg = { .pipelining = pl };
		struct sink *s = sink_start(&cfg, 0);
		const char *rc[] = { "b@example.net", "c@example.net" };
		struct delivery_result res[2];
		char want[100];

		assert_int_equal(run(s, "smtp", rc, 2, MSG, strlen(MSG), 10, res), 0);
		sink_join(s);
		assert_string_equal(s->cmds.data, "EHLO gw.test\nMAIL FROM:<a@example.org>\nRCPT TO:<b@example.net>\n"
						  "RCPT TO:<c@example.net>\nDATA\nQUIT\n");
		/* With PIPELINING the RCPTs came in the same write as MAIL. */
		assert_int_equal(s->pipelined, pl);
		buf_append_char(&s->data, '\0');
		assert_string_equal(s->data.data, "From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n.\r\n");
		for (int i = 0; i < 2; i++) {
			assert_int_equal(res[i].code, 250);
			snprintf(want, sizeof(want), "host 127.0.0.1:%d said: 250 2.0.0 queued", s->port);
			assert_string_equal(res[i].text, want);
		}
		sink_free(s);
	}
}

static void check_stream(const char *in, size_t n)
{
	struct sink_cfg cfg = { .pipelining = 1 };
	struct sink *s = sink_start(&cfg, 0);
	const char *rc[] = { "b@example.net" };
	struct delivery_result res[1];
	struct buf want = BUF_INIT;

	assert_int_equal(run(s, "smtp", rc, 1, in, n, 10, res), 0);
	sink_join(s);
	assert_int_equal(res[0].code, 250);
	reference_stuff(&want, in, n);
	assert_int_equal(s->data.len, want.len);
	assert_memory_equal(s->data.data, want.data, want.len);
	/* The whole session, not only DATA, has CRLF line ends only. */
	assert_crlf_only(s->rec.data, s->rec.len);
	/* Exactly one end-of-data, and it is the very end of the data. */
	assert_int_equal(count(s->data.data, s->data.len, "\r\n.\r\n") + (s->data.len == 3), 1);
	assert_memory_equal(s->data.data + s->data.len - 3, ".\r\n", 3);
	buf_free(&want);
	sink_free(s);
}

static void test_smtp_dot_stuffing(void **st)
{
	static const char smuggle[] =
		"Subject: t\r\n\r\nline1\nline2\rline3\r\r\n.\r\nMAIL FROM:<x@evil>\r\n"
		"..\r\n...\r\n. \r\n.\t\r\n.x\r\n.\n.\r.\r\n\n.\n\r\n.\r\nend";
	const char *want =
		"Subject: t\r\n\r\nline1\r\nline2\r\nline3\r\n\r\n..\r\nMAIL FROM:<x@evil>\r\n"
		"...\r\n....\r\n.. \r\n..\t\r\n..x\r\n..\r\n..\r\n..\r\n\r\n..\r\n\r\n..\r\nend\r\n.\r\n";
	struct sink_cfg cfg = { 0 };
	struct sink *s = sink_start(&cfg, 0);
	const char *rc[] = { "b@example.net" };
	struct delivery_result res[1];

	(void)st;
	assert_int_equal(run(s, "smtp", rc, 1, smuggle, sizeof(smuggle) - 1, 10, res), 0);
	sink_join(s);
	buf_append_char(&s->data, '\0');
	assert_string_equal(s->data.data, want);
	/* The smuggled MAIL never became a command. */
	assert_int_equal(count(s->cmds.data, s->cmds.len, "MAIL FROM"), 1);
	sink_free(s);

	/* Through the reference, including empty data and data ending in CR. */
	check_stream(smuggle, sizeof(smuggle) - 1);
	check_stream("", 0);
	check_stream(".", 1);
	check_stream("a\r", 2);
	check_stream("a\r\n", 3);
	check_stream("\r\n.\r\n", 5);
}

/* P19: a '.' at the start of a line that falls on an internal buffer
 * boundary must still be stuffed. */
static void test_smtp_stuffing_boundaries(void **st)
{
	static const size_t ks[] = { 1024, 2048, 4096, 8192, 16384, 65536, 100000 };

	(void)st;
	for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		for (int d = -2; d <= 2; d++) {
			size_t k = ks[i] + (size_t)(ks[i] > 2 ? d : 0);
			size_t n = k + 3 + 4000;
			char *m = malloc(n);
			memset(m, 'A', n);
			/* "A"*(k-1) + "." + CRLF, then lines of dots. */
			m[k - 1] = '.';
			m[k] = '\r';
			m[k + 1] = '\n';
			m[k + 2] = '.';
			for (size_t j = k + 3; j + 3 < n; j += 61) {
				m[j] = '\r';
				m[j + 1] = '\n';
				m[j + 2] = '.';
			}
			/* A line starting with '.' exactly at k - 2 + 2 = k (a
			 * chunk edge for some k). */
			check_stream(m, n);
			free(m);
		}
	}
}

static void test_smtp_rcpt_rejected(void **st)
{
	struct sink_cfg cfg = { .pipelining = 1, .rcpt_replies = { NULL, "550-5.1.1 no such user\r\n550 5.1.1 really\r\n" } };
	struct sink *s = sink_start(&cfg, 0);
	const char *rc[] = { "b@example.net", "nobody@example.net", "c@example.net" };
	struct delivery_result res[3];
	char want[200];

	(void)st;
	assert_int_equal(run(s, "smtp", rc, 3, MSG, strlen(MSG), 10, res), 0);
	sink_join(s);
	assert_int_equal(res[0].code, 250);
	assert_int_equal(res[1].code, 550);
	assert_int_equal(res[2].code, 250);
	snprintf(want, sizeof(want), "host 127.0.0.1:%d said: 550 5.1.1 no such user 5.1.1 really", s->port);
	assert_string_equal(res[1].text, want);
	sink_free(s);
}

static void test_smtp_all_rcpts_rejected(void **st)
{
	for (int pl = 0; pl <= 1; pl++) {
		struct sink_cfg cfg = { .pipelining = pl, .rcpt_replies = { "550 5.1.1 no\r\n", "450 4.2.1 later\r\n" } };
		struct sink *s = sink_start(&cfg, 0);
		const char *rc[] = { "x@example.net", "y@example.net" };
		struct delivery_result res[2];

		(void)st;
		assert_int_equal(run(s, "smtp", rc, 2, MSG, strlen(MSG), 10, res), 0);
		sink_join(s);
		assert_int_equal(res[0].code, 550);
		assert_int_equal(res[1].code, 450);
		assert_null(strstr(s->cmds.data, "DATA"));
		assert_non_null(strstr(s->cmds.data, "RSET\nQUIT\n"));
		sink_free(s);
	}
}

static void test_smtp_failures_by_step(void **st)
{
	const char *rc[] = { "b@example.net", "c@example.net" };
	struct delivery_result res[2];
	struct {
		struct sink_cfg cfg;
		int ret, code0, code1;
		const char *text;
	} cases[] = {
		{ .cfg = { .dot_replies = { "452 4.3.1 disk full\r\n" } }, 0, 452, 452, "said: 452 4.3.1 disk full" },
		{ .cfg = { .pipelining = 1, .dot_replies = { "552 5.3.4 too big\r\n" } }, 0, 552, 552, "552 5.3.4 too big" },
		{ .cfg = { .greeting = "421 4.3.2 busy\r\n" }, 0, 421, 421, "said: 421 4.3.2 busy" },
		{ .cfg = { .greeting = "554 go away\r\n" }, 0, 554, 554, "said: 554 go away" },
		{ .cfg = { .mail_reply = "553 5.7.1 sender refused\r\n" }, 0, 553, 553, "sender refused" },
		{ .cfg = { .pipelining = 1, .mail_reply = "451 4.3.0 later\r\n" }, 0, 451, 451, "said: 451 4.3.0 later" },
		{ .cfg = { .data_reply = "554 5.6.0 no data\r\n" }, 0, 554, 554, "no data" },
		{ .cfg = { .rcpt_replies = { "550 no\r\n" }, .data_reply = "451 later\r\n" }, 0, 550, 451, "later" },
		{ .cfg = { .greeting = "22x hello\r\n" }, -1, 451, 451, "protocol error" },
		{ .cfg = { .greeting = "220-a\r\n221 b\r\n" }, -1, 451, 451, "malformed reply" },
		{ .cfg = { .flood = 200000 }, -1, 451, 451, "reply too long" },
		{ .cfg = { .drop_after_mail = 1 }, -1, 451, 451, "lost connection" },
		{ .cfg = { .ehlo_5xx = 1 }, 0, 250, 250, "queued" },
	};

	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sink *s = sink_start(&cases[i].cfg, 0);
		int ret = run(s, "smtp", rc, 2, MSG, strlen(MSG), 10, res);
		sink_join(s);
		if (ret != cases[i].ret || res[0].code != cases[i].code0 || res[1].code != cases[i].code1 ||
		    strstr(res[1].text, cases[i].text) == NULL)
			fail_msg("case %zu: ret %d codes %d %d text '%s'", i, ret, res[0].code, res[1].code, res[1].text);
		if (cases[i].cfg.ehlo_5xx)
			assert_non_null(strstr(s->cmds.data, "EHLO gw.test\nHELO gw.test\n"));
		sink_free(s);
	}
}

static void test_smtp_no_reply_after_dot(void **st)
{
	struct sink_cfg cfg = { .no_dot_reply = 1 };
	struct sink *s = sink_start(&cfg, 0);
	const char *rc[] = { "b@example.net" };
	struct delivery_result res[1];

	(void)st;
	assert_int_equal(run(s, "smtp", rc, 1, MSG, strlen(MSG), 1, res), -1);
	assert_int_equal(res[0].code, 451);
	assert_non_null(strstr(res[0].text, "timeout"));
	sink_join(s);
	sink_free(s);
}

static void test_smtp_connection_refused(void **st)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;
	const char *rc[] = { "b@example.net", "c@example.net" };
	struct delivery_result res[2];
	struct delivery_job job = { .helo_name = "gw", .sender = "", .rcpts = rc, .n_rcpts = 2,
				    .data = MSG, .len = strlen(MSG), .timeout = 5 };
	char url[64], want[100];

	(void)st;
	/* A port that was just free: bind, read it, close. */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(fd, (struct sockaddr *)&sin, &sl);
	port = ntohs(sin.sin_port);
	close(fd);
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", port);
	job.url = url;
	assert_int_equal(delivery_send(&job, res), -1);
	snprintf(want, sizeof(want), "connect to 127.0.0.1:%d: Connection refused", port);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(res[i].code, 451);
		assert_string_equal(res[i].text, want);
	}
	/* Bad URL and unknown host name also fail as a whole. */
	job.url = "smtp://";
	assert_int_equal(delivery_send(&job, res), -1);
	assert_int_equal(res[1].code, 451);
	job.url = "smtp://no-such-host.invalid:25";
	assert_int_equal(delivery_send(&job, res), -1);
	assert_int_equal(res[0].code, 451);
	assert_non_null(strstr(res[0].text, "connect to no-such-host.invalid:25: "));
}

static void test_smtp_bad_addresses(void **st)
{
	struct sink_cfg cfg = { .pipelining = 1 };
	struct sink *s = sink_start(&cfg, 0);
	const char *rc[] = { "b@example.net", "x@y>\r\nRCPT TO:<evil@example.com" };
	struct delivery_result res[2];

	(void)st;
	assert_int_equal(run(s, "smtp", rc, 2, MSG, strlen(MSG), 10, res), 0);
	sink_join(s);
	assert_int_equal(res[0].code, 250);
	assert_int_equal(res[1].code, 550);
	assert_null(strstr(s->rec.data, "evil"));
	sink_free(s);
}

static void test_smtp_8bitmime(void **st)
{
	static const char m8[] = "Subject: caf\xc3\xa9\r\n\r\nx\r\n";
	struct sink_cfg cfg = { 0 };
	struct sink *s = sink_start(&cfg, 0);
	const char *rc[] = { "b@example.net" };
	struct delivery_result res[1];

	(void)st;
	assert_int_equal(run(s, "smtp", rc, 1, m8, sizeof(m8) - 1, 10, res), 0);
	sink_join(s);
	assert_non_null(strstr(s->cmds.data, "MAIL FROM:<a@example.org> BODY=8BITMIME\n"));
	sink_free(s);
}

/* ---- STARTTLS -------------------------------------------------------------- */

static void test_starttls(void **st)
{
	struct sink_cfg cfg = { .starttls = 1, .pipelining = 1 };
	struct sink *s = sink_start(&cfg, 0);
	const char *rc[] = { "b@example.net" };
	struct delivery_result res[1];

	(void)st;
	assert_int_equal(run(s, "smtp", rc, 1, MSG, strlen(MSG), 10, res), 0);
	sink_join(s);
	assert_int_equal(res[0].code, 250);
	assert_true(s->tls_used);
	assert_string_equal(s->cmds.data, "EHLO gw.test\nSTARTTLS\nEHLO gw.test\nMAIL FROM:<a@example.org>\n"
					  "RCPT TO:<b@example.net>\nDATA\nQUIT\n");
	buf_append_char(&s->data, '\0');
	assert_string_equal(s->data.data, "From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n.\r\n");
	sink_free(s);
}

static void test_starttls_failures(void **st)
{
	const char *rc[] = { "b@example.net" };
	struct delivery_result res[1];
	struct sink_cfg bad = { .starttls = 1, .tls_garbage = 1 };
	struct sink_cfg inject = { .starttls = 1, .starttls_reply = "220 go ahead\r\n250 injected\r\n" };
	struct sink_cfg refused = { .starttls = 1, .starttls_reply = "454 4.7.0 TLS not available\r\n" };
	struct sink *s;

	(void)st;
	/* Handshake fails: the whole attempt fails 4xx, nothing sent in clear. */
	s = sink_start(&bad, 0);
	assert_int_equal(run(s, "smtp", rc, 1, MSG, strlen(MSG), 5, res), -1);
	sink_join(s);
	assert_int_equal(res[0].code, 451);
	assert_non_null(strstr(res[0].text, "TLS with 127.0.0.1:"));
	assert_null(strstr(s->cmds.data, "MAIL"));
	sink_free(s);

	/* Plaintext sent along with the 220 (command injection before TLS,
	 * CVE-2011-0411 class): refused, not read as if it came over TLS. */
	s = sink_start(&inject, 0);
	assert_int_equal(run(s, "smtp", rc, 1, MSG, strlen(MSG), 5, res), -1);
	sink_join(s);
	assert_int_equal(res[0].code, 451);
	assert_non_null(strstr(res[0].text, "data after STARTTLS reply"));
	sink_free(s);

	/* STARTTLS refused: opportunistic, carry on in clear. */
	s = sink_start(&refused, 0);
	assert_int_equal(run(s, "smtp", rc, 1, MSG, strlen(MSG), 5, res), 0);
	sink_join(s);
	assert_int_equal(res[0].code, 250);
	assert_false(s->tls_used);
	sink_free(s);
}

/* ---- LMTP ------------------------------------------------------------------ */

static void test_lmtp(void **st)
{
	for (int ux = 0; ux <= 1; ux++) {
		struct sink_cfg cfg = {
			.lmtp = 1, .pipelining = 1,
			.rcpt_replies = { NULL, "550 5.1.1 unknown\r\n" },
			.dot_replies = { "250 2.0.0 saved\r\n", "452 4.2.2 over quota\r\n", "250 2.0.0 saved\r\n" },
		};
		struct sink *s = sink_start(&cfg, ux);
		const char *rc[] = { "a@t", "b@t", "c@t", "d@t" };
		struct delivery_result res[4];

		(void)st;
		assert_int_equal(run(s, "lmtp", rc, 4, MSG, strlen(MSG), 10, res), 0);
		sink_join(s);
		assert_int_equal(res[0].code, 250);
		assert_int_equal(res[1].code, 550);
		assert_int_equal(res[2].code, 452);
		assert_non_null(strstr(res[2].text, "over quota"));
		assert_int_equal(res[3].code, 250);
		assert_true(strncmp(s->cmds.data, "LHLO gw.test\n", 13) == 0);
		sink_free(s);
	}
}

/* The connection breaks after the destination answered for some
 * recipients: those keep their answers, the others get a local 451, and the
 * attempt is not a failure as a whole (no duplicate for the delivered one). */
static void test_partial_answers(void **st)
{
	struct sink_cfg lm = { .lmtp = 1, .dot_replies = { "250 2.0.0 saved\r\n", "DROP" } };
	struct sink_cfg sm = { .rcpt_replies = { NULL, "550 5.1.1 unknown\r\n" }, .no_dot_reply = 1 };
	const char *rc[] = { "a@t", "b@t", "c@t" };
	struct delivery_result res[3];
	struct sink *s;

	(void)st;
	s = sink_start(&lm, 0);
	assert_int_equal(run(s, "lmtp", rc, 3, MSG, strlen(MSG), 5, res), 0);
	sink_join(s);
	assert_int_equal(res[0].code, 250);
	assert_int_equal(res[1].code, 451);
	assert_non_null(strstr(res[1].text, "lost connection"));
	assert_int_equal(res[2].code, 451);
	sink_free(s);

	s = sink_start(&sm, 0);
	assert_int_equal(run(s, "smtp", rc, 2, MSG, strlen(MSG), 1, res), 0);
	sink_join(s);
	assert_int_equal(res[0].code, 451);
	assert_non_null(strstr(res[0].text, "timeout"));
	assert_int_equal(res[1].code, 550);
	sink_free(s);
}

/* A pipelined MAIL refused and the connection closed: MAIL's reply for all. */
static void test_mail_refused_then_close(void **st)
{
	struct sink_cfg cfg = { .pipelining = 1, .mail_reply = "554 5.7.1 go away\r\n", .drop_after_mail = 0 };
	const char *rc[] = { "a@t", "b@t" };
	struct delivery_result res[2];
	struct sink *s;

	(void)st;
	cfg.rcpt_replies[0] = "DROP";
	s = sink_start(&cfg, 0);
	assert_int_equal(run(s, "smtp", rc, 2, MSG, strlen(MSG), 5, res), 0);
	sink_join(s);
	assert_int_equal(res[0].code, 554);
	assert_int_equal(res[1].code, 554);
	sink_free(s);
}

static void test_smtp_drop_in_data(void **st)
{
	struct sink_cfg cfg = { .drop_in_data = 1 };
	struct sink *s = sink_start(&cfg, 0);
	const char *rc[] = { "a@t", "b@t" };
	struct delivery_result res[2];
	size_t n = 4 << 20;
	char *big = malloc(n);

	(void)st;
	for (size_t i = 0; i < n; i++)
		big[i] = (i % 70 == 69) ? '\n' : 'x';
	assert_int_equal(run(s, "smtp", rc, 2, big, n, 5, res), -1);
	sink_join(s);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(res[i].code, 451);
		assert_non_null(strstr(res[i].text, "lost connection with 127.0.0.1:"));
	}
	sink_free(s);
	free(big);
}

static void test_ipv6_and_unix_failures(void **st)
{
	struct sink_cfg cfg = { .ipv6 = 1, .pipelining = 1 };
	struct sink *s = sink_start(&cfg, 0);
	const char *rc[] = { "a@t" };
	struct delivery_result res[1];
	char url[100], want[100];
	struct delivery_job job = { .url = url, .helo_name = "gw", .sender = "a@b", .rcpts = rc, .n_rcpts = 1,
				    .data = MSG, .len = strlen(MSG), .timeout = 5 };

	(void)st;
	if (s != NULL) {
		snprintf(url, sizeof(url), "smtp://[::1]:%d", s->port);
		assert_int_equal(delivery_send(&job, res), 0);
		sink_join(s);
		assert_int_equal(res[0].code, 250);
		snprintf(want, sizeof(want), "host [::1]:%d said: 250 2.0.0 queued", s->port);
		assert_string_equal(res[0].text, want);
		sink_free(s);
	}
	/* LMTP socket that does not exist. */
	snprintf(url, sizeof(url), "lmtp:/nonexistent/mw-test.sock");
	assert_int_equal(delivery_send(&job, res), -1);
	assert_int_equal(res[0].code, 451);
	assert_string_equal(res[0].text, "connect to /nonexistent/mw-test.sock: No such file or directory");
	/* maildir URL with a relative path is refused as a bad URL. */
	snprintf(url, sizeof(url), "maildir:relative");
	assert_int_equal(delivery_send(&job, res), -1);
	assert_int_equal(res[0].code, 451);
}

/* ---- maildir --------------------------------------------------------------- */

static int files_in(const char *dir, char *first, size_t n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int c = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (c++ == 0 && first)
			snprintf(first, n, "%s/%s", dir, e->d_name);
	}
	closedir(d);
	return c;
}

static void test_maildir(void **st)
{
	char base[] = "/tmp/mw-maildir-XXXXXX", dir[300], f[300], url[400];
	const char *rc[] = { "Bob@Example.NET", "../escape", "carol@example.net", "bob@example.net" };
	struct delivery_result res[4];
	static const char m[] = "Subject: x\r\n\r\nline1\r\nline2\nline3\r";
	struct delivery_job job = { .url = url, .helo_name = "gw", .sender = "a@b", .rcpts = rc, .n_rcpts = 4,
				    .data = m, .len = sizeof(m) - 1, .timeout = 5 };
	struct stat sb;
	char got[200];
	FILE *fp;
	size_t n;

	(void)st;
	assert_non_null(mkdtemp(base));
	snprintf(url, sizeof(url), "maildir:%s", base);
	assert_int_equal(delivery_send(&job, res), 0);
	assert_int_equal(res[0].code, 250);
	assert_string_equal(res[0].text, "delivered to maildir");
	assert_int_equal(res[1].code, 550);
	assert_int_equal(res[2].code, 250);
	assert_int_equal(res[3].code, 250);

	snprintf(dir, sizeof(dir), "%s/bob@example.net/new", base);
	assert_int_equal(files_in(dir, f, sizeof(f)), 2);
	snprintf(dir, sizeof(dir), "%s/bob@example.net/tmp", base);
	assert_int_equal(files_in(dir, NULL, 0), 0);
	snprintf(dir, sizeof(dir), "%s/bob@example.net/cur", base);
	assert_int_equal(files_in(dir, NULL, 0), 0);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	assert_int_equal(stat(f, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	fp = fopen(f, "rb");
	assert_non_null(fp);
	n = fread(got, 1, sizeof(got) - 1, fp);
	fclose(fp);
	got[n] = '\0';
	assert_true(strncmp(got, "Delivered-To: ", 14) == 0);
	assert_non_null(strstr(got, "Subject: x\n\nline1\nline2\nline3\n"));
	assert_null(strchr(got, '\r'));
	snprintf(dir, sizeof(dir), "%s/carol@example.net/new", base);
	assert_int_equal(files_in(dir, f, sizeof(f)), 1);
	/* Nothing escaped the base directory. */
	snprintf(dir, sizeof(dir), "%s/../escape", base);
	assert_int_equal(stat(dir, &sb), -1);

	/* A base that cannot hold directories: every recipient 451, -1. */
	snprintf(f, sizeof(f), "%s/plainfile", base);
	fp = fopen(f, "w");
	fclose(fp);
	snprintf(url, sizeof(url), "maildir:%s", f);
	job.n_rcpts = 1;
	assert_int_equal(delivery_send(&job, res), -1);
	assert_int_equal(res[0].code, 451);
	assert_non_null(strstr(res[0].text, "maildir mkdir"));

	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	assert_int_equal(system(cmd), 0);
}

/* Unique names under concurrency: several threads into one maildir. */
struct mdthread {
	const char *url;
	int ok;
};

static void *md_worker(void *arg)
{
	struct mdthread *t = arg;
	const char *rc[] = { "u@x" };
	struct delivery_result res[1];
	struct delivery_job job = { .url = t->url, .helo_name = "gw", .sender = "a@b", .rcpts = rc,
				    .n_rcpts = 1, .data = "x\r\n", .len = 3, .timeout = 5 };

	for (int i = 0; i < 50; i++)
		if (delivery_send(&job, res) == 0 && res[0].code == 250)
			t->ok++;
	return NULL;
}

static void test_maildir_threads(void **st)
{
	char base[] = "/tmp/mw-maildir-XXXXXX", url[300], dir[400], cmd[400];
	pthread_t th[4];
	struct mdthread t[4];

	(void)st;
	assert_non_null(mkdtemp(base));
	snprintf(url, sizeof(url), "maildir:%s", base);
	for (int i = 0; i < 4; i++) {
		t[i].url = url;
		t[i].ok = 0;
		pthread_create(&th[i], NULL, md_worker, &t[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].ok, 50);
	}
	snprintf(dir, sizeof(dir), "%s/u@x/new", base);
	assert_int_equal(files_in(dir, NULL, 0), 200);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_parse),
		cmocka_unit_test(test_reply_parser),
		cmocka_unit_test(test_mx_parse),
		cmocka_unit_test(test_smtp_transcript),
		cmocka_unit_test(test_smtp_dot_stuffing),
		cmocka_unit_test(test_smtp_stuffing_boundaries),
		cmocka_unit_test(test_smtp_rcpt_rejected),
		cmocka_unit_test(test_smtp_all_rcpts_rejected),
		cmocka_unit_test(test_smtp_failures_by_step),
		cmocka_unit_test(test_smtp_no_reply_after_dot),
		cmocka_unit_test(test_smtp_connection_refused),
		cmocka_unit_test(test_smtp_bad_addresses),
		cmocka_unit_test(test_smtp_8bitmime),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_starttls_failures),
		cmocka_unit_test(test_lmtp),
		cmocka_unit_test(test_partial_answers),
		cmocka_unit_test(test_smtp_drop_in_data),
		cmocka_unit_test(test_ipv6_and_unix_failures),
		cmocka_unit_test(test_mail_refused_then_close),
		cmocka_unit_test(test_maildir),
		cmocka_unit_test(test_maildir_threads),
	};

	/* SSL_write() in the client can meet a closed peer (delivery.c). */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
