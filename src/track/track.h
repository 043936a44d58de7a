/*
 * track.h - the message-tracking writer (R18).
 *
 * The SMTP loop and the delivery workers must never wait on the database,
 * so records are copied into a queue and written by one thread in batched
 * transactions (its own store handle).  The thread also purges records
 * older than log_retention once an hour, and with them expires the
 * quarantine and keeps the Bayes store within [bayes] max_tokens (the
 * housekeeping of one store handle).  If the store fails, records are
 * logged to the text log with their ref id and dropped: tracking is
 * evidence, not mail, and must never stop mail.
 */
#ifndef MW_TRACK_TRACK_H
#define MW_TRACK_TRACK_H

#include "store/store.h"

struct conf;
struct track;

struct track *track_open(const struct conf *c, char *err, size_t errlen);
/* Writes everything still queued, then stops. */
void track_close(struct track *t);

/* Thread-safe; the records are copied. */
void track_txn(struct track *t, const struct store_log_txn *txn);
void track_rcpt(struct track *t, const struct store_log_rcpt *r);
/* A recipient verdict for the directory-harvest counters (store_rcpt_stat_add)
 * and the decaying reputation of the sender's identities (reputation.h; an
 * unknown recipient becomes an "invalid" event with ref and rcpt), written
 * by the thread so the SMTP loop never waits on the database lock. */
void track_rcpt_stat(struct track *t, const char *client_ip, const char *sender_domain, int valid,
    int64_t now, const char *ref, const char *rcpt);
/* Block until everything submitted so far is written (tests, shutdown). */
void track_sync(struct track *t);

#endif
