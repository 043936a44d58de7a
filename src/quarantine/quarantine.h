/*
 * quarantine.h - messages a tenant chose to hold rather than reject (R13, R19).
 *
 * A quarantined message is a file, <data_dir>/quarantine/<qid>.eml, holding
 * the message exactly as it would have been delivered (our Received and
 * verdict lines included), shared by its recipients; each recipient is one
 * row of the store's quarantine table with the metadata support needs
 * (ref, tenant, sender, subject, score, class, symbols) and a state that
 * leaves "held" once: released, deleted or expired.
 *
 * How mail gets here: the SMTP path marks a spool file with the attribute
 * disposition=quarantine (the scan said probable spam, the tenant's action
 * is quarantine); a delivery worker then calls quarantine_put() for its
 * recipients instead of delivering, and marks them 'Q' in the spool file.
 * The file is durable (fsync, rename, directory fsync) before the rows
 * exist, and the rows before the spool marks: a crash repeats a step,
 * never loses the message.
 *
 * Release writes a new spool file (the message plus an X-Mailward-Released
 * line) and flips the row to released in the same store transaction, the
 * spool commit first: a crash in between can give one duplicate delivery,
 * never a lost release.  The row's "only if still held" update is what
 * makes a release happen once.
 *
 * Every function takes the caller's store handle (one per thread, store.h).
 * Returns: 0 done, 1 not found / not held, -1 error with the reason in err.
 */
#ifndef MW_QUARANTINE_QUARANTINE_H
#define MW_QUARANTINE_QUARANTINE_H

#include <stddef.h>
#include <stdint.h>

struct conf;
struct store;
struct spool;
struct spool_file;

/* Hold recipients idx[0..n) of f; data/len is the message as delivered
 * (spool_file_read_data). */
int quarantine_put(struct store *s, const struct conf *c, const struct spool_file *f,
    const size_t *idx, size_t n, const char *data, size_t len, char *err, size_t errlen);

/* Queue a held message for its recipient again.  actor names who did it
 * (logged, and written into the X-Mailward-Released line); qid_out gets
 * the new queue id (24 bytes).  The caller tells a running server about
 * the new queue file (control "queue QID"). */
int quarantine_release(struct store *s, const struct conf *c, struct spool *sp, int64_t id,
    const char *actor, char *qid_out, char *err, size_t errlen);

/* Drop a held message for its recipient; the file goes with its last held row. */
int quarantine_delete(struct store *s, const struct conf *c, int64_t id, const char *actor,
    char *err, size_t errlen);

/* Expire held rows older than [quarantine] retention; *n gets how many. */
int quarantine_expire(struct store *s, const struct conf *c, int64_t now, int64_t *n,
    char *err, size_t errlen);

/* Where the sender's message starts in a quarantine file: after our own
 * Received line and X-Mailward-* lines at the top (what was scanned). */
size_t quarantine_own_headers_len(const char *data, size_t len);

/* The message file of a quarantined qid, as a heap buffer. */
int quarantine_read(const struct conf *c, const char *qid, char **data, size_t *len,
    char *err, size_t errlen);

#endif
