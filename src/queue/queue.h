/*
 * queue.h - the delivery queue: schedules committed spool files for
 * delivery, retries with backoff, bounces and expires (R5).
 *
 * Worker threads (conf delivery_workers) take due messages, deliver the
 * pending recipients grouped by destination, write each recipient's done
 * mark durably (spool_file_mark) and remove the file when no recipient is
 * pending.  4xx or a failed attempt: retry at retry_min * 2^(attempts-1),
 * capped at retry_max.  5xx: one DSN to the envelope sender for that
 * message's failed recipients.  Older than max_queue_lifetime: DSN with
 * status 4.4.7.  Never a DSN to the null sender or for a DSN.
 *
 * Retry state is in memory; after a restart every queued message is due
 * at once (the done marks keep finished recipients from being repeated).
 * All functions are thread-safe.
 */
#ifndef MW_QUEUE_QUEUE_H
#define MW_QUEUE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

struct conf;
struct spool;
struct track;
struct queue;

struct queue *queue_new(const struct conf *c, struct spool *sp, struct track *tr);
/* Start the workers.  Call after spool_recover() has queue_add()ed what it found. */
int queue_start(struct queue *q);
/* Stop: finish attempts in progress, then join. */
void queue_free(struct queue *q);

/* A newly committed (or recovered) message, due now. */
void queue_add(struct queue *q, const char *qid);
/* Make every message (qid NULL) or one due now. 0, or 1 if not queued. */
int queue_flush(struct queue *q, const char *qid);
/* Delete a message from the queue (waits if it is being delivered). 0, 1 = not found. */
int queue_delete(struct queue *q, const char *qid);

struct queue_entry_info {
	char qid[24];
	int attempts;
	int64_t next_attempt;
	int active;
};
/* Snapshot of the schedule; caller frees *out. */
int queue_snapshot(struct queue *q, struct queue_entry_info **out, size_t *n);

/* Next retry delay for an attempt count (exposed for tests). */
int64_t queue_backoff(const struct conf *c, int attempts);

#endif
