/*
 * fp_recent.h - how widely a message's text went out lately: the bulk
 * counter of R12 ("distinct recipients and tenants in 24 h").
 *
 * Every scanned message's text fingerprint (fingerprint.h) is looked up
 * among the recent ones; a near-duplicate (estimated Jaccard >= 0.7) adds
 * the message's recipients and tenant to that entry, else the message
 * starts a new entry.  An entry counts for a day from its first message,
 * then starts again.  The memory is fixed (capacity entries; the oldest
 * entry makes room), in process memory only: a restart forgets at most a
 * day of counts, and the store is not written for every message.
 *
 * Thread-safe (one mutex; a lookup and an update are a few microseconds).
 */
#ifndef MW_REPUTATION_FP_RECENT_H
#define MW_REPUTATION_FP_RECENT_H

#include <stddef.h>
#include <stdint.h>

#include "fingerprint/fingerprint.h"

#define FP_RECENT_WINDOW 86400   /* seconds an entry counts */
#define FP_RECENT_TENANTS 16     /* distinct tenants told apart per entry */

struct fp_recent;

/* NULL when capacity is out of the index's range. */
struct fp_recent *fp_recent_new(size_t capacity);
void fp_recent_free(struct fp_recent *r);

struct fp_recent_seen {
	uint64_t rcpts;      /* recipients of this text in the window, this message included */
	unsigned tenants;    /* distinct tenants (at most FP_RECENT_TENANTS) */
	int64_t first;       /* when the window's first copy came */
};

/* Count one message of n_rcpts recipients of tenant (may be "") with text
 * signature sig; out says how far the text went, this message included. */
void fp_recent_add(struct fp_recent *r, const struct fp_sig *sig, const char *tenant,
    size_t n_rcpts, int64_t now, struct fp_recent_seen *out);

#endif
