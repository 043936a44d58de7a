/*
 * digest.h - the per-user quarantine digest (R19).
 *
 * For every recipient with mail held since their last digest, one message
 * (multipart/alternative: plain text and HTML) listing sender, subject, date
 * and score of each, with a signed, expiring one-click release link for
 * each (digest_link.h) served by the admin listener (src/admin/).  The
 * digest is an ordinary queue file from the null sender to the user's own
 * destination, written durably before the user's "last told" time moves.
 */
#ifndef MW_DIGEST_DIGEST_H
#define MW_DIGEST_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "digest/digest_link.h"
#include "store/store.h"

struct conf;
struct spool;

/* At most this many messages are listed in one digest (the rest: a count). */
#define DIGEST_MAX_LISTED 100

/* The message text of one user's digest (heap, *len bytes). */
char *digest_build(const struct conf *c, const unsigned char key[DIGEST_KEY_LEN],
    const char *rcpt, const struct store_quarantine *rows, size_t n, size_t total, int64_t now,
    size_t *len);

/* Queue the digests due now (tenant NULL = every tenant): a user is due
 * when something was held since their last digest and their tenant's
 * interval (tenant setting digest, else [quarantine] digest; 0 = never) has
 * passed since it went out; force skips the interval (the CLI's "now").
 * queued(qid, arg) is called for each new queue file.  *sent gets the
 * count.  0, or -1 with err (digests queued before the error stay). */
int digest_run(struct store *s, const struct conf *c, struct spool *sp, const char *tenant,
    int64_t now, int force, void (*queued)(const char *qid, void *arg), void *arg, int *sent,
    char *err, size_t errlen);

/* The base URL of links: [admin] url, else http:// + [admin] listen. */
void digest_base_url(const struct conf *c, char *out, size_t n);

#endif
