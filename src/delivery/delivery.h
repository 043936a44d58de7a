/*
 * delivery.h - hand a queued message to its destination (R5).
 *
 * Destinations are URLs: smtp://HOST:PORT, lmtp://HOST:PORT (TCP) or
 * lmtp:/PATH (unix socket), maildir:/PATH (PATH/<recipient>/{tmp,new,cur}).
 * delivery_send() is blocking, with a per-operation timeout; it is called
 * from queue worker threads, never from the SMTP event loop.
 *
 * The SMTP/LMTP client always writes CRLF line ends and dot-stuffs: a bare
 * CR or LF in the input is written as CRLF, so nothing smuggled can leave.
 * It uses STARTTLS when offered (opportunistic, no certificate check) and
 * PIPELINING when offered.
 */
#ifndef MW_DELIVERY_DELIVERY_H
#define MW_DELIVERY_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

struct delivery_job {
	const char *url;
	const char *helo_name;     /* our hostname */
	const char *sender;        /* "" for <> */
	const char *const *rcpts;
	size_t n_rcpts;
	const char *data;          /* message, CRLF lines, not dot-stuffed */
	size_t len;
	int timeout;               /* seconds per network operation */
};

/* Per-recipient outcome: code 2xx delivered, 4xx try later, 5xx permanent. */
struct delivery_result {
	int code;
	char text[512];            /* "host said: 550 5.1.1 ..." or local reason */
};

/* Fills res[0..n_rcpts).  Returns 0 when every recipient got a result from
 * the destination, -1 when the attempt failed as a whole (connection, TLS,
 * I/O); then every res[i] is a 4xx with the reason. */
int delivery_send(const struct delivery_job *job, struct delivery_result *res);

/* Parse a destination URL: 0 or -1. kind: "smtp" | "lmtp" | "maildir",
 * or "mx" for "mx:DOMAIN" (host = DOMAIN, port 25: MX lookup at send time).
 * Missing ports default to 25 (smtp) and 24 (lmtp); "lmtp:/PATH" is a unix
 * socket (host "", port 0, path set). */
int delivery_url_parse(const char *url, char *kind, size_t kn, char *host, size_t hn, int *port, char *path, size_t pn);

/* ---- SMTP reply parser (used by the client; exposed for tests and fuzzing) */

#define SMTP_REPLY_MAX 65536        /* a longer reply is a protocol error */
#define SMTP_EXT_PIPELINING 0x01u   /* EHLO keywords seen in a reply */
#define SMTP_EXT_STARTTLS 0x02u
#define SMTP_EXT_8BITMIME 0x04u

struct smtp_reply {
	int code;                  /* 200..599 */
	unsigned ext;              /* SMTP_EXT_* from lines 2.. of the reply */
	char text[512];            /* the lines' text joined by ' '; printable ASCII only */
};

/* Parse the one reply at the start of buf[0..len), never reading past len.
 * Returns 1 (complete: *r filled, *used = bytes consumed), 0 (incomplete and
 * len < SMTP_REPLY_MAX: read more), or -1 (malformed: non-digit or
 * out-of-range code, codes differing across lines, bad separator, or no
 * final line within SMTP_REPLY_MAX bytes). */
int smtp_reply_parse(const char *buf, size_t len, struct smtp_reply *r, size_t *used);

/* MX answer parser (used by "mx:" delivery; exposed for tests).  Fills
 * mx[0..*n) most preferred first, keeping at most max records.  Returns 0,
 * -1 (malformed answer) or -2 (null MX, RFC 7505: the domain takes no mail). */
struct delivery_mx {
	int pref;
	char host[256];
};
int delivery_mx_parse(const unsigned char *ans, int len, struct delivery_mx *mx, size_t max, size_t *n);

/* maildir:/PATH delivery (delivery_send() calls it; exposed for tests). */
int delivery_maildir(const struct delivery_job *job, const char *path, struct delivery_result *res);

/* ---- DSN (RFC 3464) --------------------------------------------------- */

struct dsn_rcpt {
	const char *rcpt;          /* final recipient */
	const char *original;      /* original recipient (may equal rcpt) */
	const char *status;        /* "5.1.1", "4.4.7" */
	const char *diagnostic;    /* downstream reply or our reason (CR/LF stripped) */
	const char *remote_mta;    /* may be NULL */
};

struct dsn_info {
	const char *reporting_mta; /* our hostname */
	const char *ref;           /* ref id of the original */
	const char *qid;           /* queue id of the original */
	const char *sender;        /* original envelope sender: the DSN's recipient */
	int64_t arrival;
	int64_t now;
	int expired;               /* 1: queue lifetime exceeded (action "failed", 4.4.7) */
	const struct dsn_rcpt *rcpts;
	size_t n_rcpts;
	const char *orig;          /* original message (headers returned) */
	size_t orig_len;
};

/* Build a multipart/report; report-type=delivery-status message (CRLF lines),
 * with a human part, the message/delivery-status part and the original
 * headers (text/rfc822-headers).  Caller frees *out. */
int dsn_build(const struct dsn_info *info, char **out, size_t *len);

#endif
