/*
 * smtp_proto.h - the SMTP server protocol as a pure state machine.
 *
 * Bytes in, replies out, decisions asked through hooks.  No sockets, no
 * clock, no files: the session glue (smtp_session.c) owns those, tests and
 * fuzzers drive this module directly.
 *
 * Feeding: smtp_proto_feed() consumes input up to a pause point and returns
 * how many bytes it took.  It pauses when a hook answers SMTP_PENDING (the
 * end-of-data commit) until smtp_proto_resume(), and after STARTTLS until
 * smtp_proto_tls_started().  Unconsumed bytes belong to the caller, who feeds
 * them again after the pause - except after STARTTLS, where every buffered
 * plaintext byte must be discarded (CVE-2011-0411).
 *
 * Output: replies accumulate in an internal buffer; the glue writes them
 * when input runs dry (Postfix-style pipelining) or when the proto pauses,
 * then calls smtp_proto_output_consumed().
 *
 * Line discipline: command lines must end in CRLF (bare LF or CR in a
 * command = 500 5.5.2); lines over max_command_line are answered 500 and
 * their tail is never executed.  DATA ends only at <CRLF>.<CRLF>; a bare CR
 * or LF inside DATA is a content byte that the bare_lf policy turns into a
 * rejection at the end (reject) or into CRLF (normalize) - so no variant
 * can end the message early.  NUL in DATA is treated like bare LF.
 */
#ifndef MW_SMTP_PROTO_H
#define MW_SMTP_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include "smtp/smtp_addr.h"

enum smtp_state {
	SMTP_S_GREETING = 0,  /* before smtp_proto_greet() */
	SMTP_S_CONNECTED,     /* greeted, waiting for HELO/EHLO */
	SMTP_S_READY,         /* HELO done, no transaction */
	SMTP_S_MAIL,          /* MAIL accepted */
	SMTP_S_RCPT,          /* at least one RCPT accepted */
	SMTP_S_DATA,          /* reading message content */
	SMTP_S_DATA_END,      /* waiting for the data_end hook's result (paused) */
	SMTP_S_TLS,           /* STARTTLS answered, waiting for the handshake (paused) */
	SMTP_S_CLOSED,        /* QUIT or fatal error: write output, then close */
};

struct smtp_limits {
	size_t max_command_line;  /* incl. CRLF, >= 512 */
	size_t max_text_line;     /* incl. CRLF, >= 1000 */
	size_t max_recipients;    /* >= 100 */
	uint64_t max_message_size;
	unsigned max_errors;      /* error replies before 421 and close */
	unsigned max_junk;        /* NOOP/RSET/VRFY/HELP allowed before they count as errors */
	int bare_lf_normalize;    /* 0 = reject, 1 = normalize */
	int require_helo;         /* MAIL before HELO/EHLO = 503 */
	int tls_available;        /* announce STARTTLS */
	int tls_active;           /* session is already under TLS */
};

/* A reply decided by a hook: code and text (text starts with the enhanced
 * status code, e.g. "5.7.1 Relay access denied"; no CRLF). */
struct smtp_reply {
	int code;
	char text[400];
};

struct smtp_data_info {
	uint64_t size;            /* unstuffed content bytes (after normalisation) */
	int size_exceeded;        /* content over max_message_size (not all written) */
	int bare_lf;              /* bare CR or LF or NUL seen */
	int long_line;            /* a line over max_text_line */
};

enum { SMTP_HOOK_DONE = 0, SMTP_HOOK_PENDING = 1 };

struct smtp_hooks {
	void *ctx;
	/* HELO/EHLO name given (already syntax-checked, NUL-free). May be NULL. */
	void (*helo)(void *ctx, const char *name, int esmtp);
	/* MAIL FROM: fill r (250 accepted, else rejected). */
	void (*mail)(void *ctx, const struct smtp_path *from, struct smtp_reply *r);
	/* RCPT TO: fill r. A 2xx adds the recipient. */
	void (*rcpt)(void *ctx, const struct smtp_path *to, struct smtp_reply *r);
	/* DATA accepted by the proto: fill r (354 to go on, else refused). */
	void (*data_start)(void *ctx, struct smtp_reply *r);
	/* Message content, unstuffed, normalised per policy. Return -1 to fail the
	 * message (the proto keeps reading to the end, then asks data_end). */
	int (*data_write)(void *ctx, const char *p, size_t n);
	/* End of data.  Either fill r and return SMTP_HOOK_DONE, or return
	 * SMTP_HOOK_PENDING and later call smtp_proto_resume(). */
	int (*data_end)(void *ctx, const struct smtp_data_info *info, struct smtp_reply *r);
	/* The transaction was dropped (RSET, HELO, STARTTLS, error, close). */
	void (*txn_reset)(void *ctx);
	/* 220 for STARTTLS is queued: flush it, discard input, start TLS. */
	void (*starttls)(void *ctx);
	/* Every single-line reply as queued (code, text without CRLF). May be NULL. */
	void (*replied)(void *ctx, int code, const char *text);
};

struct smtp_proto;

struct smtp_proto *smtp_proto_new(const struct smtp_limits *lim, const struct smtp_hooks *hooks,
    const char *hostname);
void smtp_proto_free(struct smtp_proto *p);

/* Queue the 220 greeting (or a 554 / 421 refusal if code != 220). */
void smtp_proto_greet(struct smtp_proto *p, int code, const char *text);
size_t smtp_proto_feed(struct smtp_proto *p, const char *data, size_t len);
/* Answer the pending end-of-data with r; the proto continues. */
void smtp_proto_resume(struct smtp_proto *p, const struct smtp_reply *r);
/* TLS handshake done: reset to CONNECTED (EHLO again), STARTTLS no longer offered. */
void smtp_proto_tls_started(struct smtp_proto *p);
/* The reference id appended as " (ref REF)" to every 4xx/5xx reply whose
 * text does not already carry one (R17). NULL or "" = none. */
void smtp_proto_set_ref(struct smtp_proto *p, const char *ref);
/* Queue "421 4.x.x ..." and go to CLOSED (shutdown, timeout). */
void smtp_proto_shutdown(struct smtp_proto *p, const char *text);

const char *smtp_proto_output(const struct smtp_proto *p, size_t *len);
void smtp_proto_output_consumed(struct smtp_proto *p, size_t n);
enum smtp_state smtp_proto_state(const struct smtp_proto *p);
int smtp_proto_paused(const struct smtp_proto *p);
unsigned smtp_proto_errors(const struct smtp_proto *p);
/* Number of recipients accepted in the current transaction. */
size_t smtp_proto_rcpt_count(const struct smtp_proto *p);

#endif
