/*
 * fingerprint_index.h - an in-memory LSH index of MinHash signatures
 * (fingerprint.h): which known fingerprints are near-duplicates of this one?
 *
 * The K = 64 minimums are cut into FP_INDEX_BANDS bands of FP_INDEX_ROWS
 * rows; two signatures become candidates when any band is equal, and a
 * candidate is returned when its estimated Jaccard similarity (the share of
 * equal minimums) reaches the caller's threshold.  With 16 x 4, a pair of
 * true similarity 0.7 is a candidate with probability 0.99, 0.5 with 0.64,
 * 0.3 with 0.12 (docs/fingerprint.md).
 *
 * Cost: insert, remove and lookup touch FP_INDEX_BANDS buckets of at most
 * FP_INDEX_BUCKET_MAX entries each, whatever the size of the index.  A
 * bucket that is full takes no more entries for that band (the entry stays
 * findable through its other bands, and a bulk campaign that fills a bucket
 * is already represented in it).  Memory is fixed at creation for
 * max_entries (fp_index_bytes(); about 400 bytes an entry) and inserts
 * beyond it fail: the owner (the fingerprint store) decides what to evict
 * and removes it first.
 *
 * Ids are the caller's (a store row id, say), unique within an index; one
 * index per fingerprint kind, since a text and a URL set are not comparable.
 *
 * Ownership and threads: one owner creates and frees the index.  There is
 * no internal locking.  fp_index_lookup(), fp_index_get() and
 * fp_index_count() only read, touch no hidden scratch state, and may run
 * concurrently with each other; insert, remove and free need exclusive
 * access.  The intended sharing is a pthread_rwlock held by the owner:
 * scan threads look up under the read lock, the one writer (the store's
 * updater) inserts and removes under the write lock, each operation being
 * a few microseconds.
 *
 * Persistence is the store's job: it keeps each entry's id and the
 * fp_sig_encode() bytes, and rebuilds an index at start by inserting them
 * again (fp_index_insert_encoded(); fp_index_each() lists what is in it).
 *
 * Failures: -1 for a full index, an id already present (insert), an absent
 * id (remove, get) or undecodable bytes; never an abort on input.
 */
#ifndef MW_FINGERPRINT_FINGERPRINT_INDEX_H
#define MW_FINGERPRINT_FINGERPRINT_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "fingerprint/fingerprint.h"

#define FP_INDEX_BANDS 16
#define FP_INDEX_ROWS 4
#define FP_INDEX_BUCKET_MAX 32
#define FP_INDEX_MAX_ENTRIES (((size_t)1 << 24) - 1) /* slot + 1 is 24 bits in the band tables */
#define FP_INDEX_THRESHOLD 0.7 /* the documented near-duplicate threshold */

struct fp_index;

struct fp_match {
	uint64_t id;
	double similarity; /* estimated Jaccard, 0.0 .. 1.0 */
};

/* An empty index for up to max_entries (1 .. FP_INDEX_MAX_ENTRIES, else
 * NULL).  Allocates everything now. */
struct fp_index *fp_index_new(size_t max_entries);
void fp_index_free(struct fp_index *ix);

int fp_index_insert(struct fp_index *ix, uint64_t id, const struct fp_sig *sig);
/* The rebuild path: bytes as written by fp_sig_encode(). */
int fp_index_insert_encoded(struct fp_index *ix, uint64_t id, const uint8_t *bytes, size_t len);
int fp_index_remove(struct fp_index *ix, uint64_t id);

/*
 * The entries whose estimated similarity to sig is at least min_similarity
 * and that share a band with it: the best max_out of them go to out, best
 * first (ties by id).  Returns how many there were (possibly more than
 * max_out; out may be NULL when max_out is 0).
 */
size_t fp_index_lookup(const struct fp_index *ix, const struct fp_sig *sig, double min_similarity,
		       struct fp_match *out, size_t max_out);

/* A copy of the signature stored under id: 0, or -1 when absent. */
int fp_index_get(const struct fp_index *ix, uint64_t id, struct fp_sig *out);
size_t fp_index_count(const struct fp_index *ix);
/* Bytes allocated (fixed at creation). */
size_t fp_index_bytes(const struct fp_index *ix);
/* Calls fn for every entry (order unspecified); stops early and returns
 * fn's value when it is non-zero, else 0.  No insert/remove meanwhile. */
int fp_index_each(const struct fp_index *ix, int (*fn)(void *ctx, uint64_t id, const struct fp_sig *sig),
		  void *ctx);

#endif
