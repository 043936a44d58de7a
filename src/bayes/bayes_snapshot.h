/*
 * bayes_snapshot.h - the Bayes token counts in memory (docs/bayes.md,
 * "Token snapshot").
 *
 * A snapshot is an immutable copy of every token count and the training
 * totals, read from the store with one sequential scan.  Classifying from it
 * costs a memory probe per feature instead of a database lookup, and gives
 * exactly the verdict the store would give for the same state.
 *
 * A bayes_cache holds the current snapshot for any number of threads (the
 * scan workers of the SMTP path, each with its own store handle and its own
 * struct bayes) and replaces it when training changed the store: at most
 * every refresh_ms, the thread that finds the check due compares the store's
 * Bayes version (store_bayes_state) with the snapshot's and, if they differ,
 * loads a new snapshot through its own store handle while the others go on
 * with the old one.  Newly trained data is therefore used within refresh_ms
 * plus the load time.
 *
 * Ownership: a snapshot is reference-counted and read-only, so lookups take
 * no lock.  bayes_snapshot_load() returns one reference; bayes_snapshot_ref()
 * adds one and bayes_snapshot_unref() drops one (the last frees it); both
 * may be called from any thread.  A cache owns a reference to its current
 * snapshot; bayes_cache_acquire() hands out a reference of the caller's.
 * Store handles passed in are borrowed for the call and belong to the
 * calling thread (store.h).  bayes_cache_free() is called once, after every
 * thread using the cache is done with it (snapshots acquired before stay
 * valid until unreferenced).
 *
 * Failures: -1 with a one-line reason in err: the store could not be read
 * (the store's error text) or holds what a snapshot cannot (a count outside
 * 0..2^32-1, a token delivered twice).  The classifier then uses the store
 * directly, with the same result.
 */
#ifndef MW_BAYES_BAYES_SNAPSHOT_H
#define MW_BAYES_BAYES_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct store_bayes_count;

struct bayes_snapshot;

/* 0 with *out (one reference), or -1 with err. */
int bayes_snapshot_load(struct store *s, struct bayes_snapshot **out, char *err, size_t errlen);
struct bayes_snapshot *bayes_snapshot_ref(struct bayes_snapshot *snap);
void bayes_snapshot_unref(struct bayes_snapshot *snap);   /* NULL is a no-op */

/* The training totals and the store's Bayes version the snapshot was read at. */
void bayes_snapshot_totals(const struct bayes_snapshot *snap, int64_t *nspam, int64_t *nham);
int64_t bayes_snapshot_version(const struct bayes_snapshot *snap);
size_t bayes_snapshot_tokens(const struct bayes_snapshot *snap);
size_t bayes_snapshot_bytes(const struct bayes_snapshot *snap);   /* memory held */

/* Counts for n hashes in any order (zero when unknown), as store_bayes_get
 * fills them; never fails. */
void bayes_snapshot_get(const struct bayes_snapshot *snap, const uint64_t *hashes, size_t n,
    struct store_bayes_count *out);

/* ---- the snapshot as a file ------------------------------------------------------- */

/*
 * A trainer writes the snapshot it ends with to a file next to the store
 * (<data_dir>/bayes.snapshot); loading it later is mapping it, without the
 * row scan and without copying (a tenth of the time, docs/bayes.md).  The
 * file stands for the store's state it was made at: it is used only while
 * the store's Bayes version and totals are the same, and 64 of its counts,
 * spread over the hash range, agree with the store's own (so a file left
 * beside another database is not taken for it).  It is a cache: anything
 * that does not fit makes the loader scan the store instead.
 */
/* tmp file, fsync, rename: 0, or -1 with err. */
int bayes_snapshot_save(const struct bayes_snapshot *snap, const char *path, char *err,
    size_t errlen);
/* 0 with *out; 1 the file is missing or does not stand for the store's
 * present state (err says why: use bayes_snapshot_load); -1 storage error. */
int bayes_snapshot_load_file(struct store *s, const char *path, struct bayes_snapshot **out,
    char *err, size_t errlen);

/* ---- the shared, refreshing holder -------------------------------------------- */

struct bayes_cache;

/* refresh_ms: how often a thread checks whether training changed the store
 * (0: at every acquire; negative: never, the first snapshot is kept: one
 * consistent state for a batch run such as `mailward scan`). */
#define BAYES_CACHE_REFRESH_MS 30000
struct bayes_cache *bayes_cache_new(int64_t refresh_ms);
void bayes_cache_free(struct bayes_cache *c);

/*
 * The current snapshot (a reference for the caller to drop), loading the
 * first one or a newer one through s when a check is due.  Returns 0 with
 * *out set, or with *out NULL when no snapshot exists yet because another
 * thread is loading it, or because loading failed (the caller uses the
 * store meanwhile: same verdict, slower); -1 when this call's load failed
 * and no snapshot exists.  A failed check or load is counted
 * (bayes_cache_failures, for monitoring), keeps the old snapshot in use and
 * is retried at the next check, never at every call.
 */
int bayes_cache_acquire(struct bayes_cache *c, struct store *s, struct bayes_snapshot **out);
/* Check now (not waiting for refresh_ms) and load a new snapshot if the
 * store's version differs or none is loaded: 0, or -1 with err (the old
 * snapshot, if any, stays).  For start-up (the first message should not
 * wait for the load) and for a trainer in the same process. */
int bayes_cache_reload(struct bayes_cache *c, struct store *s, char *err, size_t errlen);
uint64_t bayes_cache_failures(struct bayes_cache *c);
/* Loads try this snapshot file first (path copied; NULL: never).  Set it
 * before the cache is shared: it is read without the lock. */
void bayes_cache_set_file(struct bayes_cache *c, const char *path);

#endif
