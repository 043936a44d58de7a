/*
 * delivery.c - destination URLs and the blocking SMTP/LMTP client (R5).
 *
 * Runs on queue worker threads: every piece of state lives in a struct on
 * the caller's stack or heap (no globals; the OpenSSL context is made per
 * attempt), and every network operation has its own poll() deadline of
 * job->timeout seconds so a slow or silent server costs one worker at most
 * that long per step (X17).
 *
 * Return contract (delivery.h): -1 when the attempt failed locally or on the
 * wire (connect, DNS, TLS, timeout, lost connection, malformed or oversized
 * reply) before the destination answered for any recipient; then each result
 * is 451 with the reason.  Otherwise 0: each recipient has the destination's
 * reply (greeting, EHLO, MAIL, RCPT, DATA or end of data), and a recipient
 * the destination had not answered for when the attempt broke (an LMTP
 * server dropping after the first per-recipient reply) gets the local 451.
 *
 * Outbound data is always written with CRLF line ends and dot-stuffed, and a
 * bare CR or LF in the input is written as CRLF, so no bare line end and no
 * early "<CRLF>.<CRLF>" can ever leave (SMTP smuggling, P4/P20).
 *
 * XXX: SSL_write() goes through write(2); the process must ignore SIGPIPE
 * (main does) or a peer closing mid-TLS-write kills it.  Plain sends use
 * MSG_NOSIGNAL.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <resolv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base/buf.h"
#include "base/util.h"
#include "delivery/delivery.h"
#include "log/log.h"

#define DEFAULT_TIMEOUT 300
#define QUIT_TIMEOUT_MS 2000
#define MAX_MX 10
#define OUTCHUNK 16384

/* ---- URL --------------------------------------------------------------- */

static int copy_str(char *dst, size_t n, const char *s, size_t len)
{
	if (dst == NULL || n == 0 || len >= n)
		return -1;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

/* Host names and literals: letters, digits, '.', '-', '_', ':' (IPv6). */
static int host_ok(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_' || c == ':'))
			return 0;
	}
	return 1;
}

static int path_ok(const char *s)
{
	if (s[0] != '/')
		return 0;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

int delivery_url_parse(const char *url, char *kind, size_t kn, char *host, size_t hn, int *port, char *path, size_t pn)
{
	const char *rest, *h, *he, *ps;
	size_t klen;
	long pv;

	if (url == NULL || kind == NULL || host == NULL || port == NULL || path == NULL || hn == 0 || pn == 0)
		return -1;
	host[0] = '\0';
	path[0] = '\0';
	*port = 0;
	rest = strchr(url, ':');
	if (rest == NULL)
		return -1;
	klen = (size_t)(rest - url);
	rest++;
	if (klen == 7 && strncmp(url, "maildir", 7) == 0) {
		if (!path_ok(rest) || copy_str(path, pn, rest, strlen(rest)) < 0)
			return -1;
		return copy_str(kind, kn, "maildir", 7);
	}
	if (klen == 2 && strncmp(url, "mx", 2) == 0) {
		if (!host_ok(rest, strlen(rest)) || strchr(rest, ':') != NULL)
			return -1;
		if (copy_str(host, hn, rest, strlen(rest)) < 0)
			return -1;
		*port = 25;
		return copy_str(kind, kn, "mx", 2);
	}
	if (!((klen == 4 && strncmp(url, "smtp", 4) == 0) || (klen == 4 && strncmp(url, "lmtp", 4) == 0)))
		return -1;
	if (copy_str(kind, kn, url, klen) < 0)
		return -1;
	if (strncmp(rest, "//", 2) != 0) {
		/* lmtp:/PATH is a unix socket; smtp has no such form. */
		if (url[0] != 'l' || !path_ok(rest))
			return -1;
		return copy_str(path, pn, rest, strlen(rest));
	}
	h = rest + 2;
	if (*h == '[') {
		he = strchr(h, ']');
		if (he == NULL)
			return -1;
		h++;
		ps = he + 1;
	} else {
		he = h + strcspn(h, ":/");
		ps = he;
		if (memchr(h, ':', (size_t)(he - h)) != NULL)
			return -1;
	}
	if (!host_ok(h, (size_t)(he - h)) || copy_str(host, hn, h, (size_t)(he - h)) < 0)
		return -1;
	if (*ps == '/' && ps[1] == '\0')
		ps++;
	if (*ps == '\0') {
		*port = url[0] == 'l' ? 24 : 25;
		return 0;
	}
	if (*ps != ':' || ps[1] < '0' || ps[1] > '9')
		return -1;
	errno = 0;
	char *end;
	pv = strtol(ps + 1, &end, 10);
	if (errno != 0 || pv < 1 || pv > 65535)
		return -1;
	if (*end == '/')
		end++;
	if (*end != '\0')
		return -1;
	*port = (int)pv;
	return 0;
}

/* ---- connection --------------------------------------------------------- */

struct conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	int timeout_ms;
	int is_unix;               /* local socket: TLS would add nothing */
	char *rbuf;                /* SMTP_REPLY_MAX bytes */
	size_t rlen;
	char peer[300];            /* "HOST:PORT" or the socket path, for messages */
	char sni[256];             /* host name for SNI, "" for literals */
	char err[400];             /* why the last operation failed */
};

static void conn_init(struct conn *c, int timeout)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->timeout_ms = (timeout > 0 ? timeout : DEFAULT_TIMEOUT) * 1000;
	c->rbuf = xmalloc(SMTP_REPLY_MAX);
}

static void conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->ctx != NULL) {
		SSL_CTX_free(c->ctx);
		c->ctx = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	c->rlen = 0;
}

static void conn_free(struct conn *c)
{
	conn_close(c);
	free(c->rbuf);
	c->rbuf = NULL;
}

static MW_PRINTF(2, 3) void conn_err(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for events or the deadline passes: 0 or -1 (errno). */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - mono_ms();
		struct pollfd p = { .fd = fd, .events = events, .revents = 0 };
		int n;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int connect_fd(struct conn *c, int fd, const struct sockaddr *sa, socklen_t len)
{
	int64_t deadline = mono_ms() + c->timeout_ms;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -1;
	if (wait_fd(fd, POLLOUT, deadline) < 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		return -1;
	if (soerr != 0) {
		errno = soerr;
		return -1;
	}
	return 0;
}

static int conn_tcp(struct conn *c, const char *host, int port)
{
	struct addrinfo hints, *ai = NULL;
	char ps[16];
	int rc, saved = ECONNREFUSED;

	if (strchr(host, ':') != NULL)
		snprintf(c->peer, sizeof(c->peer), "[%s]:%d", host, port);
	else
		snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(ps, sizeof(ps), "%d", port);
	rc = getaddrinfo(host, ps, &hints, &ai);
	if (rc != 0) {
		conn_err(c, "connect to %s: %s", c->peer, gai_strerror(rc));
		return -1;
	}
	/* SNI only for names: RFC 6066 forbids literals. */
	{
		struct in6_addr tmp;
		if (inet_pton(AF_INET, host, &tmp) != 1 && inet_pton(AF_INET6, host, &tmp) != 1)
			mw_strlcpy(c->sni, host, sizeof(c->sni));
	}
	for (struct addrinfo *a = ai; a != NULL; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (connect_fd(c, fd, a->ai_addr, a->ai_addrlen) == 0) {
			c->fd = fd;
			freeaddrinfo(ai);
			return 0;
		}
		saved = errno;
		close(fd);
	}
	freeaddrinfo(ai);
	conn_err(c, "connect to %s: %s", c->peer, strerror(saved));
	return -1;
}

static int conn_unix(struct conn *c, const char *path)
{
	struct sockaddr_un sun;
	int fd;

	mw_strlcpy(c->peer, path, sizeof(c->peer));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		conn_err(c, "connect to %s: %s", path, strerror(ENAMETOOLONG));
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect_fd(c, fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		conn_err(c, "connect to %s: %s", path, strerror(e));
		return -1;
	}
	c->fd = fd;
	c->is_unix = 1;
	return 0;
}

/* Wait as OpenSSL asks after a non-blocking call returned err. */
static int ssl_wait(struct conn *c, int ret, int64_t deadline)
{
	int e = SSL_get_error(c->ssl, ret);

	if (e == SSL_ERROR_WANT_READ)
		return wait_fd(c->fd, POLLIN, deadline);
	if (e == SSL_ERROR_WANT_WRITE)
		return wait_fd(c->fd, POLLOUT, deadline);
	errno = e == SSL_ERROR_ZERO_RETURN ? ECONNRESET : EPROTO;
	return -1;
}

static int conn_write(struct conn *c, const void *p, size_t n)
{
	const char *s = p;
	int64_t deadline = mono_ms() + c->timeout_ms;

	while (n > 0) {
		if (c->ssl != NULL) {
			int chunk = n > 65536 ? 65536 : (int)n;
			int w;
			ERR_clear_error();
			w = SSL_write(c->ssl, s, chunk);
			if (w <= 0) {
				if (ssl_wait(c, w, deadline) < 0)
					goto fail;
				continue;
			}
			s += w;
			n -= (size_t)w;
		} else {
			ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN && errno != EWOULDBLOCK)
					goto fail;
				if (wait_fd(c->fd, POLLOUT, deadline) < 0)
					goto fail;
				continue;
			}
			s += w;
			n -= (size_t)w;
		}
	}
	return 0;
fail:
	conn_err(c, "lost connection with %s while sending: %s", c->peer,
		 errno == ETIMEDOUT ? "timeout" : strerror(errno));
	return -1;
}

/* Read more bytes into rbuf; 0 or -1 (EOF, error, timeout). */
static int conn_fill(struct conn *c, int64_t deadline)
{
	size_t room = SMTP_REPLY_MAX - c->rlen;

	for (;;) {
		if (c->ssl != NULL) {
			int r;
			ERR_clear_error();
			r = SSL_read(c->ssl, c->rbuf + c->rlen, room > 65536 ? 65536 : (int)room);
			if (r > 0) {
				c->rlen += (size_t)r;
				return 0;
			}
			if (ssl_wait(c, r, deadline) < 0)
				return -1;
		} else {
			ssize_t r = recv(c->fd, c->rbuf + c->rlen, room, 0);
			if (r > 0) {
				c->rlen += (size_t)r;
				return 0;
			}
			if (r == 0) {
				errno = ECONNRESET;
				return -1;
			}
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
			if (wait_fd(c->fd, POLLIN, deadline) < 0)
				return -1;
		}
	}
}

/* Read one reply within timeout_ms: 0, or -1 with c->err set. */
static int conn_reply_ms(struct conn *c, struct smtp_reply *r, int timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;

	for (;;) {
		size_t used = 0;
		int rc = c->rlen > 0 ? smtp_reply_parse(c->rbuf, c->rlen, r, &used) : 0;

		if (rc == 1) {
			memmove(c->rbuf, c->rbuf + used, c->rlen - used);
			c->rlen -= used;
			return 0;
		}
		if (rc < 0) {
			conn_err(c, "protocol error from %s: %s", c->peer,
				 c->rlen >= SMTP_REPLY_MAX ? "reply too long" : "malformed reply");
			return -1;
		}
		if (conn_fill(c, deadline) < 0) {
			conn_err(c, "lost connection with %s while reading reply: %s", c->peer,
				 errno == ETIMEDOUT ? "timeout" : strerror(errno));
			return -1;
		}
	}
}

static int conn_reply(struct conn *c, struct smtp_reply *r)
{
	return conn_reply_ms(c, r, c->timeout_ms);
}

static int conn_starttls(struct conn *c)
{
	int64_t deadline = mono_ms() + c->timeout_ms;

	/* Bytes that arrived with the 220 were sent before TLS and must not be
	 * read as if they came over it (CVE-2011-0411 class). */
	if (c->rlen > 0) {
		conn_err(c, "protocol error from %s: data after STARTTLS reply", c->peer);
		return -1;
	}
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL)
		goto fail;
	/* Opportunistic TLS: encryption against passive listeners; the peer
	 * is not authenticated (delivery.h). */
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	c->ssl = SSL_new(c->ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		goto fail;
	if (c->sni[0] != '\0')
		SSL_set_tlsext_host_name(c->ssl, c->sni);
	for (;;) {
		int r;
		ERR_clear_error();
		r = SSL_connect(c->ssl);
		if (r == 1)
			return 0;
		if (ssl_wait(c, r, deadline) < 0)
			goto fail;
	}
fail:
	{
		char e[200];
		unsigned long ec = ERR_peek_last_error();
		if (ec != 0)
			ERR_error_string_n(ec, e, sizeof(e));
		else
			mw_strlcpy(e, errno == ETIMEDOUT ? "timeout" : "handshake failed", sizeof(e));
		ERR_clear_error();
		conn_err(c, "TLS with %s failed: %s", c->peer, e);
	}
	return -1;
}

/* ---- results ------------------------------------------------------------ */

static void res_reply(struct delivery_result *res, const struct conn *c, const struct smtp_reply *r)
{
	res->code = r->code;
	/* Long replies are cut to fit; the return value is checked only to
	 * say so to the compiler. */
	if (snprintf(res->text, sizeof(res->text), "host %s said: %d %s", c->peer, r->code, r->text) < 0)
		res->text[0] = '\0';
}

static void res_local(struct delivery_result *res, int code, const char *text)
{
	res->code = code;
	mw_strlcpy(res->text, text, sizeof(res->text));
}

static void res_all_local(const struct delivery_job *job, struct delivery_result *res, int code, const char *text)
{
	for (size_t i = 0; i < job->n_rcpts; i++)
		res_local(&res[i], code, text);
}

/* ---- SMTP / LMTP session ------------------------------------------------ */

/* An envelope address goes between <> in a command: a CR, LF, NUL or other
 * control byte, or an angle bracket, would let it inject commands. */
static int addr_ok(const char *a)
{
	if (a == NULL)
		return 0;
	for (const unsigned char *p = (const unsigned char *)a; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>')
			return 0;
	return 1;
}

static int has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return 1;
	return 0;
}

/* Write the message: CRLF for every line end (CRLF, bare LF, bare CR), an
 * extra '.' before a line starting with '.', a CRLF if the data did not end
 * with a line end, then ".\r\n". */
static int send_data(struct conn *c, const char *d, size_t n)
{
	char *out = xmalloc(OUTCHUNK);
	size_t o = 0;
	int bol = 1, rc = -1;

	for (size_t i = 0; i < n; i++) {
		char ch = d[i];

		/* Room for the worst case of one input byte: ".x" or "\r\n". */
		if (o + 2 > OUTCHUNK) {
			if (conn_write(c, out, o) < 0)
				goto out;
			o = 0;
		}
		if (ch == '\r' || ch == '\n') {
			if (ch == '\r' && i + 1 < n && d[i + 1] == '\n')
				i++;
			out[o++] = '\r';
			out[o++] = '\n';
			bol = 1;
			continue;
		}
		if (bol && ch == '.')
			out[o++] = '.';
		out[o++] = ch;
		bol = 0;
	}
	if (o + 5 > OUTCHUNK) {
		if (conn_write(c, out, o) < 0)
			goto out;
		o = 0;
	}
	if (!bol) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	o += 3;
	rc = conn_write(c, out, o);
out:
	free(out);
	return rc;
}

struct session {
	const struct delivery_job *job;
	struct delivery_result *res;
	struct conn c;
	int lmtp;
	int data_sent;             /* the final dot left: never retry elsewhere */
};

static void quit(struct conn *c)
{
	struct smtp_reply r;

	if (c->fd < 0)
		return;
	if (conn_write(c, "QUIT\r\n", 6) == 0)
		(void)conn_reply_ms(c, &r, QUIT_TIMEOUT_MS);
}

/* Send "VERB name" and read the reply: 0 or -1. */
static int hello(struct session *s, const char *verb, struct smtp_reply *r)
{
	const char *name = s->job->helo_name;
	char line[300];
	int n;

	if (name == NULL || name[0] == '\0' || !addr_ok(name) || strchr(name, ' ') != NULL)
		name = "localhost";
	n = snprintf(line, sizeof(line), "%s %s\r\n", verb, name);

	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	if (conn_write(&s->c, line, (size_t)n) < 0)
		return -1;
	return conn_reply(&s->c, r);
}

/* Everything after the connection is up: 0 (results from the server) or
 * -1 (c.err says why). */
static int converse(struct session *s)
{
	const struct delivery_job *job = s->job;
	struct delivery_result *res = s->res;
	struct conn *c = &s->c;
	struct smtp_reply r, mail;
	struct buf cmd = BUF_INIT;
	unsigned ext = 0;
	size_t accepted = 0;
	char *ok = NULL;
	int rc = -1, pipelining;

	if (conn_reply(c, &r) < 0)
		goto out;
	if (r.code / 100 != 2) {
		for (size_t i = 0; i < job->n_rcpts; i++)
			res_reply(&res[i], c, &r);
		quit(c);
		rc = 0;
		goto out;
	}

	if (hello(s, s->lmtp ? "LHLO" : "EHLO", &r) < 0)
		goto out;
	if (!s->lmtp && r.code / 100 == 5) {
		if (hello(s, "HELO", &r) < 0)
			goto out;
		r.ext = 0;
	}
	if (r.code / 100 != 2)
		goto all_reply;
	ext = r.ext;

	if ((ext & SMTP_EXT_STARTTLS) && !c->is_unix) {
		if (conn_write(c, "STARTTLS\r\n", 10) < 0 || conn_reply(c, &r) < 0)
			goto out;
		if (r.code / 100 == 2) {
			if (conn_starttls(c) < 0) {
				log_warn(NULL, "delivery tls_failed peer=%s", c->peer);
				goto out;
			}
			/* RFC 3207: forget everything learned before TLS. */
			if (hello(s, s->lmtp ? "LHLO" : "EHLO", &r) < 0)
				goto out;
			if (r.code / 100 != 2)
				goto all_reply;
			ext = r.ext;
		}
		/* A refused STARTTLS: carry on in clear (opportunistic). */
	}
	pipelining = (ext & SMTP_EXT_PIPELINING) != 0;

	if (!addr_ok(job->sender)) {
		res_all_local(job, res, 550, "5.1.7 bad sender address (control or angle bracket character)");
		quit(c);
		rc = 0;
		goto out;
	}
	ok = xcalloc(job->n_rcpts ? job->n_rcpts : 1, 1);
	buf_printf(&cmd, "MAIL FROM:<%s>%s\r\n", job->sender,
		   (ext & SMTP_EXT_8BITMIME) && has_8bit(job->data, job->len) ? " BODY=8BITMIME" : "");
	if (pipelining) {
		/* RFC 2920: MAIL and all RCPTs in one write, replies in order. */
		for (size_t i = 0; i < job->n_rcpts; i++)
			if (addr_ok(job->rcpts[i]))
				buf_printf(&cmd, "RCPT TO:<%s>\r\n", job->rcpts[i]);
	}
	if (conn_write(c, cmd.data, cmd.len) < 0 || conn_reply(c, &mail) < 0)
		goto out;
	if (!pipelining && mail.code / 100 != 2) {
		for (size_t i = 0; i < job->n_rcpts; i++)
			res_reply(&res[i], c, &mail);
		quit(c);
		rc = 0;
		goto out;
	}
	for (size_t i = 0; i < job->n_rcpts; i++) {
		if (!addr_ok(job->rcpts[i])) {
			res_local(&res[i], 550, "5.1.3 bad recipient address (control or angle bracket character)");
			continue;
		}
		if (!pipelining) {
			buf_reset(&cmd);
			buf_printf(&cmd, "RCPT TO:<%s>\r\n", job->rcpts[i]);
			if (conn_write(c, cmd.data, cmd.len) < 0)
				goto out;
		}
		if (conn_reply(c, &r) < 0) {
			/* A refused MAIL followed by a close: the MAIL reply
			 * is the answer for everyone. */
			if (mail.code / 100 != 2) {
				for (size_t j = 0; j < job->n_rcpts; j++)
					res_reply(&res[j], c, &mail);
				rc = 0;
			}
			goto out;
		}
		if (mail.code / 100 != 2) {
			res_reply(&res[i], c, &mail);
		} else if (r.code / 100 == 2) {
			ok[i] = 1;
			accepted++;
		} else {
			res_reply(&res[i], c, &r);
		}
	}
	if (accepted == 0) {
		if (conn_write(c, "RSET\r\n", 6) == 0)
			(void)conn_reply(c, &r);
		quit(c);
		rc = 0;
		goto out;
	}

	if (conn_write(c, "DATA\r\n", 6) < 0 || conn_reply(c, &r) < 0)
		goto out;
	if (r.code / 100 != 3) {
		for (size_t i = 0; i < job->n_rcpts; i++)
			if (ok[i])
				res_reply(&res[i], c, &r);
		quit(c);
		rc = 0;
		goto out;
	}
	if (send_data(c, job->data, job->len) < 0)
		goto out;
	s->data_sent = 1;
	/* SMTP: one reply for the transaction; LMTP: one per accepted
	 * recipient, in RCPT order (RFC 2033 4.2). */
	for (size_t i = 0, first = 1; i < job->n_rcpts; i++) {
		if (!ok[i])
			continue;
		if ((s->lmtp || first) && conn_reply(c, &r) < 0) {
			log_warn(NULL, "delivery possible_duplicate peer=%s reason=no_reply_after_dot", c->peer);
			goto out;
		}
		first = 0;
		res_reply(&res[i], c, &r);
	}
	quit(c);
	rc = 0;
	goto out;

all_reply:
	for (size_t i = 0; i < job->n_rcpts; i++)
		res_reply(&res[i], c, &r);
	quit(c);
	rc = 0;
out:
	buf_free(&cmd);
	free(ok);
	return rc;
}

/* One host: connect and converse.  0 / -1 as delivery_send(); on -1 the
 * results are all set to 451 with the reason. */
static int deliver_host(const struct delivery_job *job, struct delivery_result *res, const char *host, int port,
			const char *unix_path, int lmtp, int *data_sent)
{
	struct session s;
	int rc;

	memset(&s, 0, sizeof(s));
	s.job = job;
	s.res = res;
	s.lmtp = lmtp;
	conn_init(&s.c, job->timeout);
	if (unix_path != NULL)
		rc = conn_unix(&s.c, unix_path);
	else
		rc = conn_tcp(&s.c, host, port);
	if (rc == 0)
		rc = converse(&s);
	if (rc < 0) {
		const char *why = s.c.err[0] ? s.c.err : "delivery failed";
		size_t answered = 0;

		/* Keep what the destination already said (a 550 at RCPT, an
		 * LMTP 250 after the dot): only recipients without an answer
		 * get the local 451, and then the attempt did not fail as a
		 * whole. */
		for (size_t i = 0; i < job->n_rcpts; i++)
			if (res[i].code != 0)
				answered++;
		if (answered > 0) {
			for (size_t i = 0; i < job->n_rcpts; i++)
				if (res[i].code == 0)
					res_local(&res[i], 451, why);
			rc = 0;
		} else {
			res_all_local(job, res, 451, why);
		}
	}
	*data_sent = s.data_sent;
	conn_free(&s.c);
	return rc;
}

/* ---- MX ----------------------------------------------------------------- */

/* Parse an MX answer: 0 (n set), -1 malformed, -2 null MX (RFC 7505). */
int delivery_mx_parse(const unsigned char *ans, int len, struct delivery_mx *mx, size_t max, size_t *n)
{
	ns_msg msg;

	*n = 0;
	if (ns_initparse(ans, len, &msg) < 0)
		return -1;
	for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		ns_rr rr;
		struct delivery_mx m;
		char name[NS_MAXDNAME];
		size_t j;

		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			return -1;
		if (ns_rr_type(rr) != ns_t_mx || ns_rr_rdlen(rr) < 3)
			continue;
		m.pref = (ns_rr_rdata(rr)[0] << 8) | ns_rr_rdata(rr)[1];
		if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), ns_rr_rdata(rr) + 2, name, sizeof(name)) < 0)
			return -1;
		if (strlen(name) >= sizeof(m.host))
			continue; /* not a usable host name */
		memcpy(m.host, name, strlen(name) + 1);
		if (m.host[0] == '\0' || strcmp(m.host, ".") == 0)
			return -2; /* null MX: the domain takes no mail */
		/* Bounded work whatever the answer holds (X15): keep the max
		 * most preferred. */
		if (*n == max) {
			if (m.pref >= mx[max - 1].pref)
				continue;
			(*n)--;
		}
		/* Insertion sort by preference; equal ones keep answer order. */
		for (j = *n; j > 0 && mx[j - 1].pref > m.pref; j--)
			mx[j] = mx[j - 1];
		mx[j] = m;
		(*n)++;
	}
	return 0;
}

/* Look up MX records: 0 (n set; n == 0: none, use the domain itself),
 * -1 temporary failure, -2 permanent (no such domain, null MX). */
static int mx_lookup(const char *domain, struct delivery_mx *mx, size_t max, size_t *n)
{
	struct __res_state st;
	unsigned char *ans;
	int len, rc = -1;

	*n = 0;
	memset(&st, 0, sizeof(st));
	if (res_ninit(&st) != 0)
		return -1;
	ans = xmalloc(NS_MAXMSG);
	len = res_nquery(&st, domain, ns_c_in, ns_t_mx, ans, NS_MAXMSG);
	if (len < 0) {
		if (st.res_h_errno == HOST_NOT_FOUND)
			rc = -2;
		else if (st.res_h_errno == NO_DATA)
			rc = 0;
	} else {
		rc = delivery_mx_parse(ans, len, mx, max, n);
	}
	free(ans);
	res_nclose(&st);
	return rc;
}

static int deliver_mx(const struct delivery_job *job, struct delivery_result *res, const char *domain)
{
	struct delivery_mx *mx = xcalloc(MAX_MX, sizeof(*mx));
	size_t n = 0;
	int rc = mx_lookup(domain, mx, MAX_MX, &n);

	if (rc == -2) {
		char t[400];
		snprintf(t, sizeof(t), "5.1.2 domain %.300s does not accept mail (no such domain or null MX)", domain);
		res_all_local(job, res, 550, t);
		free(mx);
		return 0;
	}
	if (rc < 0) {
		char t[400];
		snprintf(t, sizeof(t), "4.4.3 MX lookup for %.300s failed", domain);
		res_all_local(job, res, 451, t);
		free(mx);
		return -1;
	}
	if (n == 0) {
		mw_strlcpy(mx[0].host, domain, sizeof(mx[0].host));
		n = 1;
	}
	rc = -1;
	for (size_t i = 0; i < n; i++) {
		int sent = 0;
		rc = deliver_host(job, res, mx[i].host, 25, NULL, 0, &sent);
		/* Next MX only while nothing could have been delivered. */
		if (rc == 0 || sent)
			break;
	}
	free(mx);
	return rc;
}

/* ---- entry -------------------------------------------------------------- */

int delivery_send(const struct delivery_job *job, struct delivery_result *res)
{
	char kind[16], host[256], path[4096];
	int port, sent = 0;

	if (job->n_rcpts == 0)
		return 0;
	/* code 0 marks "no answer yet" (deliver_host relies on it). */
	memset(res, 0, job->n_rcpts * sizeof(*res));
	if (job->url == NULL || delivery_url_parse(job->url, kind, sizeof(kind), host, sizeof(host), &port, path, sizeof(path)) < 0) {
		res_all_local(job, res, 451, "4.3.5 bad destination URL");
		return -1;
	}
	if (strcmp(kind, "maildir") == 0)
		return delivery_maildir(job, path, res);
	if (strcmp(kind, "mx") == 0)
		return deliver_mx(job, res, host);
	return deliver_host(job, res, host, port, path[0] ? path : NULL, strcmp(kind, "lmtp") == 0, &sent);
}
