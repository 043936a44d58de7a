/*
 * score_pool.h - the scan threads of the mail path (R7, R8, R20).
 *
 * The SMTP event loop must never scan: a message is handed to this pool at
 * the end of DATA and the session waits (paused, not blocking) until the
 * verdict comes back.  The pool has a fixed number of threads, each with its
 * own store handle and scan engine, and a bounded queue; when every thread
 * is busy and the queue is full, submit refuses and the caller answers 451
 * - a sender retries later, where unbounded queueing would let a flood take
 * the process's memory and every session's latency with it.
 *
 * Completions work like the spool's: posted to a list plus an eventfd that
 * the event loop watches; each carries the token given at submit, so a
 * session that went away meanwhile is simply not found.
 *
 * Failpoint (tests): MAILWARD_FAILPOINT=scan_sleep:MS makes every scan
 * sleep MS milliseconds first, so saturation can be provoked on purpose.
 */
#ifndef MW_SCORE_SCORE_POOL_H
#define MW_SCORE_SCORE_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "score/score.h"

struct conf;
struct score_pool;

struct score_pool_result {
	uint64_t token;
	int ok;                     /* 0: the scan failed (allocation class); v is empty */
	struct score_verdict v;     /* owned by the pool: valid only inside the callback */
	double ms;                  /* scan time, wall clock */
};

/* Starts conf->scan_workers threads; each opens its own store handle. */
struct score_pool *score_pool_new(const struct conf *c, char *err, size_t errlen);
/* Stops the threads; scans still queued are dropped (their sessions are
 * being closed by the caller) and no completion is posted for them. */
void score_pool_free(struct score_pool *p);

/* 1 when a submit now would be refused: the DATA command itself can then be
 * answered 451 before the client sends the body. */
int score_pool_full(struct score_pool *p);
/* Queue a scan of len bytes of a message of full_len bytes (full_len > len:
 * it was cut at [scan] max_size, and the verdict says so with the symbol
 * SCAN_TRUNCATED).  ctx (copied; may be NULL: content only) is what
 * the session knows of the transaction, for the reputation step
 * (reputation/rep_mail.h).  0: the pool owns data (a heap buffer, freed by the
 * pool); -1: saturated, data still belongs to the caller. */
struct rep_mail_ctx;
int score_pool_submit(struct score_pool *p, uint64_t token, char *data, size_t len,
    size_t full_len, const struct score_thresholds *th, const struct rep_mail_ctx *ctx);

int score_pool_fd(const struct score_pool *p);
/* Event loop thread: calls cb for each finished scan; returns the count. */
size_t score_pool_drain(struct score_pool *p,
    void (*cb)(const struct score_pool_result *r, void *arg), void *arg);

/* "NAME(score) NAME(score) ..." for a header: at most cap bytes (NUL included),
 * cut at a symbol boundary. */
void score_symbols_line(const struct score_verdict *v, char *out, size_t cap);
/* One symbol per line, "NAME TAB score TAB reason": the message log's form.
 * The caller frees. */
char *score_symbols_text(const struct score_verdict *v);

#endif
