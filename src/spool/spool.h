/*
 * spool.h - durable message files (R4).
 *
 * Layout under <data_dir>/spool:  tmp/ (being written), queue/ (committed,
 * one file per message named by its queue id), corrupt/ (files that failed
 * the recovery check; kept for inspection, never delivered).
 *
 * File format: a sequence of records, each  type(1) length(4, big endian)
 * payload(length).  The file starts with SPOOL_REC_VERSION and must end with
 * SPOOL_REC_END whose payload is the CRC-32 (4, BE) of every byte before the
 * END record and the byte count before it (8, BE).  A file without a valid
 * END record is incomplete: recovery moves it to corrupt/.
 *
 * ATTR records may also follow the DATA (decisions taken after the message
 * was received); no DATA may follow them.
 *
 * A PREPEND record, at most one and only as the last record before END,
 * holds header lines decided after the message was received (our Received
 * line, the scan verdict): delivery reads them first, then the DATA bytes.
 *
 * A recipient record's payload starts with one status byte that delivery
 * rewrites in place (pwrite + fdatasync) - the per-recipient done mark:
 *   ' ' pending, 'D' delivered, 'B' bounced (DSN queued), 'E' expired (DSN queued),
 *   'T' trap/dropped by policy (never delivered), 'Q' put in the quarantine.
 * The status byte is excluded from the CRC (it is the only mutable byte).
 *
 * Commit: the writer fills a temp file in tmp/; spool_commit_submit() hands
 * it to the commit thread, which for a batch of messages does: write out,
 * fsync(file) each, rename into queue/, one fsync(queue dir) for the batch.
 * Only then is the completion posted.  Completions are read by the owner of
 * the event loop from spool_completion_fd() (readable when any are pending)
 * with spool_completions_drain(); each carries the token given at submit, so
 * a session that is gone by then is simply not found (STYLE 3).
 *
 * Failpoints (for tests): the environment variable MAILWARD_FAILPOINT set to
 * "spool_fsync", "spool_rename" or "spool_dirsync" makes that step fail with
 * EIO; the commit then fails and leaves nothing behind.
 */
#ifndef MW_SPOOL_SPOOL_H
#define MW_SPOOL_SPOOL_H

#include <stddef.h>
#include <stdint.h>

enum spool_rec {
	SPOOL_REC_VERSION = 'V',  /* "1" */
	SPOOL_REC_REF = 'F',      /* ref id */
	SPOOL_REC_TIME = 'T',     /* arrival, decimal unix seconds */
	SPOOL_REC_CLIENT = 'C',   /* client ip */
	SPOOL_REC_HELO = 'H',
	SPOOL_REC_SENDER = 'S',   /* envelope sender, "" for <> */
	SPOOL_REC_RCPT = 'R',     /* status(1) then "rcpt\0original\0tenant\0deliver-url" */
	SPOOL_REC_ATTR = 'A',     /* "name=value" (e.g. dsn=1 marks our own DSN) */
	SPOOL_REC_DATA = 'M',     /* message bytes, CRLF lines, not dot-stuffed */
	SPOOL_REC_PREPEND = 'P',  /* header lines put before the message bytes at delivery */
	SPOOL_REC_END = 'X',
};

enum spool_rcpt_status {
	SPOOL_RCPT_PENDING = ' ',
	SPOOL_RCPT_DELIVERED = 'D',
	SPOOL_RCPT_BOUNCED = 'B',
	SPOOL_RCPT_EXPIRED = 'E',
	SPOOL_RCPT_DROPPED = 'T',
	SPOOL_RCPT_QUARANTINED = 'Q',
};

struct spool;       /* one per process; thread-safe where noted */
struct spool_msg;   /* a message being written; one owner */

struct spool_envelope_rcpt {
	const char *rcpt;      /* delivery address */
	const char *original;  /* as given in RCPT TO */
	const char *tenant;
	const char *deliver;   /* destination URL */
	char status;           /* usually SPOOL_RCPT_PENDING */
};

struct spool_envelope {
	const char *ref;
	int64_t arrival;
	const char *client_ip;
	const char *helo;
	const char *sender;
	const struct spool_envelope_rcpt *rcpts;
	size_t n_rcpts;
	const char **attrs;    /* "name=value", may be NULL */
	size_t n_attrs;
};

/* Opens (creating) the spool and starts the commit thread.  do_fsync = 0 is
 * for benchmarks only.  Recovery (spool_recover) is separate. */
struct spool *spool_open(const char *spool_dir, int do_fsync, char *err, size_t errlen);
void spool_close(struct spool *sp);   /* stops the commit thread after draining */
const char *spool_dir_queue(const struct spool *sp);

/* Start-up scan: removes tmp/ leftovers, checks every queue/ file, moves the
 * bad ones to corrupt/.  Calls found(qid, arg) for each good one. Returns
 * the number of files moved aside, or -1. */
int spool_recover(struct spool *sp, void (*found)(const char *qid, void *arg), void *arg);

/* Writing (any thread, one owner per msg). qid_out gets QID_LEN+1 bytes. */
struct spool_msg *spool_msg_new(struct spool *sp, const struct spool_envelope *env, char *qid_out);
int spool_msg_write(struct spool_msg *m, const void *data, size_t len);   /* -1 on write error */
/* Header lines (CRLF-terminated) that delivery puts before the message;
 * once, after the last spool_msg_write.  -1 on write error or misuse. */
int spool_msg_prepend(struct spool_msg *m, const void *hdrs, size_t len);
/* A "name=value" attribute decided after the data (e.g. the scan's
 * disposition=quarantine): after the last write, before the prepend.
 * spool_file_attr() finds it like an envelope attribute.  -1 on error. */
int spool_msg_attr(struct spool_msg *m, const char *attr);
void spool_msg_abort(struct spool_msg *m);                                  /* unlinks, frees */
/* Hand over to the commit thread; m is owned by the spool from now on. */
void spool_commit_submit(struct spool *sp, struct spool_msg *m, uint64_t token);

/* Synchronous commit in the calling thread (CLI, DSN creation). 0 or -1; frees m. */
int spool_commit_now(struct spool *sp, struct spool_msg *m);

struct spool_completion {
	uint64_t token;
	int ok;                 /* 1 durable, 0 failed (nothing left behind) */
	char qid[24];
	int err;                /* errno of the failing step */
};
int spool_completion_fd(const struct spool *sp);
/* Calls cb for each posted completion; returns the count. Event loop thread. */
size_t spool_completions_drain(struct spool *sp, void (*cb)(const struct spool_completion *c, void *arg), void *arg);

/* ---- reading committed messages (delivery, CLI) ---------------------- */

struct spool_rcpt {
	char *rcpt;
	char *original;
	char *tenant;
	char *deliver;
	char status;
	int64_t status_offset;  /* file offset of the status byte */
};

struct spool_file {
	char qid[24];
	char *ref;
	int64_t arrival;
	char *client_ip;
	char *helo;
	char *sender;
	struct spool_rcpt *rcpts;
	size_t n_rcpts;
	char **attrs;
	size_t n_attrs;
	int64_t data_offset;    /* first DATA record */
	int64_t data_len;       /* total message bytes as received */
	int64_t prepend_offset; /* payload of the PREPEND record */
	int64_t prepend_len;    /* 0: none */
	int fd;                 /* open read-write while the struct lives */
};

/* Reads and verifies a committed file (CRC, END). 0, 1 = not found, -1 = corrupt/IO (reason in err). */
int spool_file_open(struct spool *sp, const char *qid, struct spool_file **out, char *err, size_t errlen);
/* Same for an arbitrary path (fuzzing, recovery). */
int spool_file_open_path(const char *path, struct spool_file **out, char *err, size_t errlen);
/* Verify a buffer holding a whole file (fuzz target): 0 valid, -1 invalid. */
int spool_verify_bytes(const unsigned char *buf, size_t len);
/* Read the message as delivered, PREPEND lines first, into a heap buffer
 * (len in *n). -1 on error. */
int spool_file_read_data(struct spool_file *f, char **data, size_t *n);
/* Durable in-place status update of recipient i. 0 or -1. */
int spool_file_mark(struct spool_file *f, size_t i, char status, int do_fsync);
const char *spool_file_attr(const struct spool_file *f, const char *name);
void spool_file_close(struct spool_file *f);
/* Remove a finished message (all recipients non-pending). 0 or -1. */
int spool_remove(struct spool *sp, const char *qid);
/* List queued qids (sorted). Caller frees each and the array. */
int spool_list(struct spool *sp, char ***qids, size_t *n);

#endif
