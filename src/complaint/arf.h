/*
 * arf.h - complaint reports (R11, docs/complaints.md): an ARF feedback
 * report (RFC 5965) or a user's "this is spam" forward in, the facts that
 * matching needs out: the feedback fields, and from the embedded original
 * our ref id (X-Mailward-Ref), Message-ID, From, Return-Path, Subject, Date,
 * the first Received line's client IP and a capped copy of its body.
 *
 * Contract:
 *  - arf_parse() never fails on bad input and never exits: reports in the
 *    wild are malformed, so it is liberal in what it recognises and records
 *    each deviation as an ARF_F_* flag.  Work and memory are bounded by the
 *    ARF_MAX_* caps below (hitting one sets an ARF_F_LIMIT_* flag and the
 *    part within the cap is used).
 *  - The MIME subset ARF needs (headers, multipart boundaries, base64 and
 *    quoted-printable) is parsed here in plain C: content.h offers no access
 *    to an embedded message's raw bytes or headers (docs/complaints.md).
 *  - The input is borrowed for the call only.  `out` is the caller's
 *    (stack or heap) and is always filled, whatever the result: the caller
 *    calls arf_report_free() once after every arf_parse().  Every string
 *    field is non-NULL, NUL-terminated, valid UTF-8 (bad bytes become '?')
 *    and free of control characters ("" when absent); only the original's
 *    body keeps '\n' and '\t', and `raw` is bytes (see below).
 *  - Pure: no clock, no global mutable state, thread-safe.  Allocation
 *    through x*alloc (aborts on OOM).
 *
 * "The same report": two reports with the same `digest` are one complaint
 * received twice (a feedback loop resending, a user forwarding twice).  The
 * digest covers the feedback fields (names lower-cased, values unfolded and
 * whitespace-collapsed, lines sorted) and the original's header block
 * (normalised the same way, in order) - not the report's own envelope,
 * Date or Message-ID, which differ between resends, nor the transfer
 * encoding of the original.
 */
#ifndef MW_COMPLAINT_ARF_H
#define MW_COMPLAINT_ARF_H

#include <stddef.h>
#include <stdint.h>

#include "base/refid.h"

/* Caps (docs/complaints.md).  Input beyond ARF_MAX_INPUT is not examined. */
#define ARF_MAX_INPUT (4u << 20)     /* bytes of the report examined */
#define ARF_MAX_DEPTH 8              /* multipart / message nesting */
#define ARF_MAX_PARTS 64             /* MIME entities visited */
#define ARF_MAX_FIELDS 256           /* header fields read per entity */
#define ARF_MAX_VALUE 2048           /* bytes kept per string field */
#define ARF_MAX_LIST 64              /* Original-Rcpt-To / Reported-* kept */
#define ARF_MAX_DECODED (8u << 20)   /* transfer-decoded bytes, all parts */
#define ARF_MAX_BODY (64u << 10)     /* original body text kept */
#define ARF_MAX_RAW (1u << 20)       /* original message bytes kept */
#define ARF_MAX_INCIDENTS 10000      /* Incidents is clamped to this */

/* arf_parse() results, also kept in arf_report.kind. */
enum arf_kind {
	ARF_NONE = -1,  /* nothing usable: no feedback part, no original, no ref */
	ARF_OK = 0,     /* an ARF report (a feedback-report part was found) */
	ARF_NOT_ARF = 1 /* not ARF, but an original or a ref id was found */
};

enum arf_feedback_type {
	ARF_FT_UNKNOWN, /* absent or not one of the RFC 5965 / 6650 types */
	ARF_FT_ABUSE,
	ARF_FT_FRAUD,
	ARF_FT_VIRUS,
	ARF_FT_OTHER,
	ARF_FT_NOT_SPAM,
	ARF_FT_AUTH_FAILURE,
};
/* "abuse", ...; "unknown" for ARF_FT_UNKNOWN. */
const char *arf_feedback_type_name(enum arf_feedback_type t);

/* Deviations and caps hit (arf_report.flags). */
enum {
	ARF_F_LIMIT_INPUT = 1u << 0,        /* input longer than ARF_MAX_INPUT */
	ARF_F_LIMIT_DEPTH = 1u << 1,        /* nesting beyond ARF_MAX_DEPTH */
	ARF_F_LIMIT_PARTS = 1u << 2,        /* more than ARF_MAX_PARTS entities */
	ARF_F_LIMIT_FIELDS = 1u << 3,       /* an entity with > ARF_MAX_FIELDS fields */
	ARF_F_LIMIT_VALUE = 1u << 4,        /* a string cut at ARF_MAX_VALUE */
	ARF_F_LIMIT_LIST = 1u << 5,         /* a list cut at ARF_MAX_LIST */
	ARF_F_LIMIT_DECODED = 1u << 6,      /* decoding budget ran out */
	ARF_F_BODY_TRUNCATED = 1u << 7,     /* original body or raw copy cut */
	ARF_F_WRONG_TYPE = 1u << 8,         /* not multipart/report; report-type=feedback-report */
	ARF_F_BAD_PART_TYPE = 1u << 9,      /* feedback/original part under another content type */
	ARF_F_MISSING_VERSION = 1u << 10,
	ARF_F_BAD_VERSION = 1u << 11,       /* Version other than 1 */
	ARF_F_MISSING_FEEDBACK_TYPE = 1u << 12,
	ARF_F_UNKNOWN_FEEDBACK_TYPE = 1u << 13,
	ARF_F_MISSING_USER_AGENT = 1u << 14,
	ARF_F_BAD_FIELD = 1u << 15,         /* bad Source-IP, Incidents; duplicate single field */
	ARF_F_NO_ORIGINAL = 1u << 16,       /* no original message or headers found */
	ARF_F_HEADERS_ONLY = 1u << 17,      /* original is headers only */
	ARF_F_BAD_REF = 1u << 18,           /* X-Mailward-Ref present but not a ref id */
	ARF_F_REF_FROM_TEXT = 1u << 19,     /* ref id found in forwarded text, not a header */
	ARF_F_MALFORMED_MIME = 1u << 20,    /* bad header line, missing boundary or close */
	ARF_F_BAD_ENCODING = 1u << 21,      /* bad base64/QP or unknown transfer encoding */
	ARF_F_FORWARDED = 1u << 22,         /* the ARF report came attached to another message */
};
/* Name of a single flag bit ("LIMIT_DEPTH"), or NULL for an unknown bit. */
const char *arf_flag_name(unsigned bit);

/* What the original message (the one complained about) tells us. */
struct arf_original {
	int present;        /* 0 none, 1 headers only, 2 headers and body */
	char ref[REFID_LEN + 1]; /* our X-Mailward-Ref (topmost), canonical; "" */
	char *message_id;   /* without <> */
	char *from;         /* the From header value as written (not 2047-decoded) */
	char *from_addr;    /* its first address, domain lower-cased */
	char *return_path;  /* Return-Path without <> ("" for <> or absent) */
	char *subject;      /* as written (not 2047-decoded) */
	char *date;         /* as written */
	char *received_ip;  /* client IP literal of the first (topmost) Received */
	char *body;         /* first text part, transfer-decoded, charset untouched;
	                       lines end in '\n'; at most ARF_MAX_BODY bytes */
	size_t body_len;
	char *raw;          /* the original message's bytes (for content_parse()
	                       and fingerprints later): any bytes, NUL-terminated
	                       past raw_len; at most ARF_MAX_RAW */
	size_t raw_len;
};

/* One parsed complaint.  Owned by the caller's variable; arf_report_free()
 * releases the members.  Lists are arrays of `n` non-NULL strings. */
struct arf_report {
	enum arf_kind kind;
	unsigned flags;
	char digest[65];    /* SHA-256 hex: equal digests = the same report */

	char *reporter;     /* the report's own From address ("" when none) */

	/* message/feedback-report fields (kind ARF_OK); "" when absent */
	enum arf_feedback_type feedback_type;
	char *feedback_type_raw;
	char *user_agent;
	char *version;
	char *original_mail_from; /* without <> */
	char **original_rcpt_to;  /* without <>; repeatable */
	size_t n_original_rcpt_to;
	char *arrival_date;       /* Arrival-Date (or legacy Received-Date) */
	char *source_ip;          /* validated and normalised IPv4/IPv6, or "" */
	char **reported_domain;
	size_t n_reported_domain;
	char **reported_uri;
	size_t n_reported_uri;
	char *authentication_results; /* the first one */
	unsigned incidents;       /* 1 when absent; clamped to ARF_MAX_INCIDENTS */

	struct arf_original orig;
};

/* Parse len bytes of a complaint message.  Returns ARF_OK (0), ARF_NOT_ARF
 * (1) or ARF_NONE (-1); out->kind says the same.  out is always filled and
 * must be released with arf_report_free(). */
int arf_parse(const char *data, size_t len, struct arf_report *out);

/* Release the members and zero the struct; safe on a zeroed struct and twice. */
void arf_report_free(struct arf_report *r);

#endif
