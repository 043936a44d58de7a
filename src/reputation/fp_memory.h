/*
 * fp_memory.h - the fingerprints that carry evidence, and the question
 * "does this message look like one of them?" (R12, docs/fingerprint.md).
 *
 * The rows live in the store (store_fp: signature bytes, decaying counters
 * of trap hits, complaints and spam verdicts, an excerpt); this object
 * keeps one LSH index per fingerprint kind in memory over them, shared by
 * every scan thread of the process: lookups under a read lock, inserts
 * under the write lock.  Rows another process added (`mailward complaint
 * import`) are picked up by fp_memory_refresh(), which the scan path calls
 * at most once a second.
 *
 * Only fingerprints with evidence are kept: a trap hit, a complaint, or a
 * probable-spam verdict that content alone earned (never one that
 * fingerprint or reputation symbols made, which would feed on itself).
 * A fingerprint a tenant marked benign (its own footer or disclaimer) is
 * never counted and never matched, for anyone: a shared corporate block
 * cannot taint everyone who carries it.
 *
 * Sets of fewer than FP_MEMORY_MIN_SET elements (URL domains, attachment
 * hashes) are never recorded: one popular domain alone is no fingerprint.
 */
#ifndef MW_REPUTATION_FP_MEMORY_H
#define MW_REPUTATION_FP_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "fingerprint/fingerprint.h"

struct store;
struct content_msg;
struct score_verdict;
struct fp_memory;

#define FP_MEMORY_MIN_SET 2

/* Loads every row of the store into new indexes sized for max_entries. */
struct fp_memory *fp_memory_open(struct store *s, size_t max_entries, char *err, size_t errlen);
void fp_memory_free(struct fp_memory *m);
/* Index rows added since the last load (by any process).  0 or -1. */
int fp_memory_refresh(struct fp_memory *m, struct store *s, int64_t now);
size_t fp_memory_count(struct fp_memory *m);
/*
 * Rows seen but not indexed because fp_sig_decode() refused them: rows of
 * another FP_SIG_VERSION (after an upgrade, or written by an older binary
 * sharing the store).  They are never compared, matched, counted on or
 * updated; they stay in the store (logged once as "fingerprint
 * stale-rows", flagged by `fingerprint list`).
 */
size_t fp_memory_stale(struct fp_memory *m);

enum fp_evidence { FP_EV_TRAP, FP_EV_COMPLAINT, FP_EV_SPAM };

/*
 * Verdict symbols (group "fingerprint") for a message's fingerprints: per
 * kind, the best near-duplicate (similarity >= FP_INDEX_THRESHOLD) with
 * evidence, named FP_<KIND>_TRAP, FP_<KIND>_COMPLAINT or FP_<KIND>_SPAM
 * after its strongest evidence, its reason naming the part ("signature
 * block seen in mail to spam traps 3 times in the last 2 days").  Counters
 * are decayed to now.  Returns 0, or -1 on a storage error.
 */
int fp_memory_symbols(struct fp_memory *m, struct store *s, const struct fp_message *fm,
    int64_t half_life, int64_t now, struct score_verdict *v);

/*
 * Count one piece of evidence against each fingerprint of fm: a
 * near-duplicate row gets it added (decayed first), else a new row is
 * written and indexed.  cm (may be NULL) gives the excerpts people see.
 * Benign rows are left alone.  Returns the number of rows touched, or -1.
 */
int fp_memory_record(struct fp_memory *m, struct store *s, const struct fp_message *fm,
    const struct content_msg *cm, enum fp_evidence ev, const char *ref, int64_t half_life,
    int64_t now);

/*
 * Mark the fingerprints of fm (a sample of the tenant's footer or
 * disclaimer; usually just its signature kind) benign for tenant: the
 * matching rows, or new rows when none match.  Returns rows marked, or -1.
 */
int fp_memory_mark_benign(struct fp_memory *m, struct store *s, const struct fp_message *fm,
    const struct content_msg *cm, const char *tenant, int64_t now);

#endif
