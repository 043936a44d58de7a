/*
 * bayes_snapshot.c - token counts in memory: a sorted array with a bucket
 * directory, and the shared holder that refreshes it (docs/bayes.md).
 *
 * Layout: the tokens sorted by hash, 16 bytes each, and a directory of
 * 2^k + 1 offsets (k chosen for about four tokens per bucket) telling where
 * the tokens whose top k hash bits are b begin.  A lookup reads one
 * directory word and then one or two cache lines of tokens.  Against an
 * open-addressing table this is smaller (17 instead of 21-32 bytes a token),
 * loads without random writes (the store delivers sorted hashes, so loading
 * is appending), and costs the same in cache misses once the directory is
 * warm (it is a sixteenth of the tokens' size).
 */
#include "bayes/bayes_snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "store/store.h"

struct snap_tok {
	uint64_t h;
	uint32_t spam, ham;
};

struct bayes_snapshot {
	atomic_size_t refs;
	struct store_bayes_state state;
	struct snap_tok *tok;     /* n, ascending by hash */
	size_t n;
	uint32_t *dir;            /* (1 << bits) + 1 offsets into tok */
	unsigned bits;
	void *map;                /* a mapped snapshot file (tok points into it), or NULL */
	size_t map_len;
};

/* ---- loading ---------------------------------------------------------------------- */

struct loader {
	struct bayes_snapshot *snap;
	size_t cap;               /* of snap->tok */
	int in_order;             /* every hash so far above the one before */
	const char *why;          /* set when the store holds what we cannot */
};

static size_t bucket(const struct bayes_snapshot *snap, uint64_t h)
{
	return snap->bits == 0 ? 0 : (size_t)(h >> (64 - snap->bits));
}

static void advise_huge(void *p, size_t len);

/* About four tokens a bucket: one or two cache lines to search. */
static void dir_alloc(struct bayes_snapshot *snap, size_t ntokens)
{
	size_t len;

	while (snap->bits < 30 && ((size_t)1 << snap->bits) * 4 < ntokens)
		snap->bits++;
	len = (((size_t)1 << snap->bits) + 1) * sizeof(*snap->dir);
	snap->dir = xmalloc(len);
	advise_huge(snap->dir, len);
}

/* Fills the directory over snap->tok; NULL, or why the tokens are not a
 * snapshot's (out of order or twice, or one without counts). */
static const char *dir_build(struct bayes_snapshot *snap)
{
	size_t next_b = 0;

	for (size_t i = 0; i < snap->n; i++) {
		const struct snap_tok *t = &snap->tok[i];
		if (i > 0 && t->h <= snap->tok[i - 1].h)
			return "tokens out of order or twice";
		if (t->spam == 0 && t->ham == 0)
			return "a token without counts";
		size_t b = bucket(snap, t->h);
		while (next_b <= b)
			snap->dir[next_b++] = (uint32_t)i;
	}
	while (next_b <= ((size_t)1 << snap->bits))
		snap->dir[next_b++] = (uint32_t)snap->n;
	return NULL;
}

/* Arrays of tens of megabytes are filled once, front to back: ask for
 * transparent huge pages where the kernel offers them on request, which
 * turns ten thousand page faults into a few dozen (0.22-0.29 instead of
 * 0.31-0.33 CPU s for 2.2 million tokens on the development machine).
 * Advice only: failure is fine. */
static void advise_huge(void *p, size_t len)
{
	const uintptr_t huge = 2u << 20;
	uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1), e = ((uintptr_t)p + len) & ~(huge - 1);

	if (e > a)
		(void)madvise((void *)a, e - a, MADV_HUGEPAGE);
}

static void grow(struct loader *l, size_t want)
{
	struct bayes_snapshot *snap = l->snap;

	l->cap = want;
	snap->tok = xrealloc(snap->tok, want * sizeof(*snap->tok));
	advise_huge(snap->tok, want * sizeof(*snap->tok));
}

/* Sized from the count the store announces (a back end that announces
 * fewer than it delivers gets larger buckets, never a wrong lookup). */
static int load_begin(void *arg, const struct store_bayes_state *st, size_t ntokens)
{
	struct loader *l = arg;
	struct bayes_snapshot *snap = l->snap;

	snap->state = *st;
	if (ntokens > UINT32_MAX) {
		l->why = "more than 2^32 tokens";
		return 1;
	}
	dir_alloc(snap, ntokens);
	if (ntokens > 0)
		grow(l, ntokens);
	return 0;
}

/* Counts are message counts, far below 2^32 in any real store; a row
 * outside that range (a hand-edited database) refuses the snapshot rather
 * than being clamped, so the snapshot never differs from the store. */
static int load_token(void *arg, uint64_t hash, int64_t spam, int64_t ham)
{
	struct loader *l = arg;
	struct bayes_snapshot *snap = l->snap;

	if (spam < 0 || ham < 0 || spam > UINT32_MAX || ham > UINT32_MAX) {
		l->why = "a token count outside 0..2^32-1";
		return 1;
	}
	if (spam == 0 && ham == 0)
		return 0;   /* no evidence: classifying skips it anyway */
	if (snap->n == l->cap) {
		if (snap->n >= UINT32_MAX) {
			l->why = "more than 2^32 tokens";
			return 1;
		}
		/* More than announced (or nothing announced): grow. */
		grow(l, l->cap ? l->cap * 2 : 65536);
	}
	if (snap->n > 0 && hash <= snap->tok[snap->n - 1].h)
		l->in_order = 0;
	snap->tok[snap->n++] = (struct snap_tok){ hash, (uint32_t)spam, (uint32_t)ham };
	return 0;
}

static int cmp_tok(const void *a, const void *b)
{
	uint64_t x = ((const struct snap_tok *)a)->h, y = ((const struct snap_tok *)b)->h;
	return (x > y) - (x < y);
}

static void snapshot_free(struct bayes_snapshot *snap)
{
	if (snap->map != NULL)
		munmap(snap->map, snap->map_len);
	else
		free(snap->tok);
	free(snap->dir);
	free(snap);
}

int bayes_snapshot_load(struct store *s, struct bayes_snapshot **out, char *err, size_t errlen)
{
	struct bayes_snapshot *snap = xcalloc(1, sizeof(*snap));
	struct loader l = { .snap = snap, .in_order = 1 };
	struct store_bayes_scan_cb cb = { load_begin, load_token, &l };
	int rc;

	*out = NULL;
	rc = store_bayes_scan(s, &cb);
	if (rc != 0) {
		mw_snprintf(err, errlen, "%s", rc == 1 ? l.why : store_error(s));
		goto fail;
	}
	if (snap->dir == NULL) {
		/* A back end that never called begin: the scan's contract broken. */
		mw_snprintf(err, errlen, "the store's scan did not begin");
		goto fail;
	}
	/* A back end that does not deliver in order (SQLite does) costs a
	 * sort; one that delivers a token twice is refused. */
	if (!l.in_order)
		qsort(snap->tok, snap->n, sizeof(*snap->tok), cmp_tok);
	if ((l.why = dir_build(snap)) != NULL) {
		mw_snprintf(err, errlen, "%s", l.why);
		goto fail;
	}
	/* Give back what the announced count over-estimated (rows with no
	 * counts are skipped); an empty store still gets an array, so lookups
	 * never index a null pointer. */
	if (snap->tok == NULL || snap->n < l.cap)
		snap->tok = xrealloc(snap->tok, (snap->n ? snap->n : 1) * sizeof(*snap->tok));
	atomic_init(&snap->refs, 1);
	*out = snap;
	return 0;
fail:
	snapshot_free(snap);
	return -1;
}

struct bayes_snapshot *bayes_snapshot_ref(struct bayes_snapshot *snap)
{
	atomic_fetch_add_explicit(&snap->refs, 1, memory_order_relaxed);
	return snap;
}

void bayes_snapshot_unref(struct bayes_snapshot *snap)
{
	if (snap == NULL)
		return;
	/* acq_rel: the thread that frees sees every other thread's reads done. */
	if (atomic_fetch_sub_explicit(&snap->refs, 1, memory_order_acq_rel) == 1)
		snapshot_free(snap);
}

void bayes_snapshot_totals(const struct bayes_snapshot *snap, int64_t *nspam, int64_t *nham)
{
	*nspam = snap->state.nspam;
	*nham = snap->state.nham;
}

int64_t bayes_snapshot_version(const struct bayes_snapshot *snap)
{
	return snap->state.version;
}

size_t bayes_snapshot_tokens(const struct bayes_snapshot *snap)
{
	return snap->n;
}

size_t bayes_snapshot_bytes(const struct bayes_snapshot *snap)
{
	return sizeof(*snap) + snap->n * sizeof(*snap->tok) +
	    (((size_t)1 << snap->bits) + 1) * sizeof(*snap->dir);
}

/* ---- the snapshot as a file ------------------------------------------------------- */

/* The file: this header, then n tokens as they are in memory.  The byte
 * order mark and the token size refuse a file from another kind of machine
 * (it is a cache: the store is scanned instead). */
#define FILE_MAGIC "MWBAYES1"
#define FILE_SPOT 64              /* counts compared with the store's */

struct file_head {
	char magic[8];
	uint32_t order;               /* 0x01020304 as the writer stored it */
	uint32_t tok_size;
	int64_t version, nspam, nham;
	uint64_t n;
};

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int bayes_snapshot_save(const struct bayes_snapshot *snap, const char *path, char *err,
    size_t errlen)
{
	struct file_head h = { .order = 0x01020304, .tok_size = sizeof(struct snap_tok),
		.version = snap->state.version, .nspam = snap->state.nspam,
		.nham = snap->state.nham, .n = snap->n };
	char tmp[4096], dir[4096];
	int fd;

	memcpy(h.magic, FILE_MAGIC, sizeof(h.magic));
	if (mw_snprintf(tmp, sizeof(tmp), "%s.tmp", path) < 0 ||
	    mw_snprintf(dir, sizeof(dir), "%s", path) < 0) {
		mw_snprintf(err, errlen, "path too long");
		return -1;
	}
	char *slash = strrchr(dir, '/');
	if (slash != NULL)
		*slash = '\0';
	else
		mw_strlcpy(dir, ".", sizeof(dir));
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
		mw_snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	/* Durable before it is renamed in: a torn file is refused by the
	 * loader anyway, but a crash should leave the old file or the new. */
	if (write_all(fd, &h, sizeof(h)) < 0 || write_all(fd, snap->tok, snap->n * sizeof(*snap->tok)) < 0 ||
	    fsync(fd) < 0) {
		mw_snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		mw_snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (mw_fsync_dir(dir) < 0) {
		mw_snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* The file's counts at FILE_SPOT places against the store's: a file made
 * for another database with the same version and totals differs there. */
static int file_spot_check(struct store *s, const struct bayes_snapshot *snap, const char **why)
{
	uint64_t h[FILE_SPOT];
	struct store_bayes_count c[FILE_SPOT];
	size_t m = 0;

	for (size_t k = 0; k < FILE_SPOT && snap->n > 0; k++) {
		size_t i = snap->n * k / FILE_SPOT;
		if (m == 0 || snap->tok[i].h != h[m - 1])
			h[m++] = snap->tok[i].h;
	}
	if (store_bayes_get(s, h, m, c) < 0)
		return -1;
	for (size_t k = 0; k < m; k++) {
		struct store_bayes_count f;
		bayes_snapshot_get(snap, &h[k], 1, &f);
		if (f.spam != c[k].spam || f.ham != c[k].ham) {
			*why = "its counts differ from the store's";
			return 1;
		}
	}
	return 0;
}

int bayes_snapshot_load_file(struct store *s, const char *path, struct bayes_snapshot **out,
    char *err, size_t errlen)
{
	struct store_bayes_state st;
	struct file_head h;
	struct stat sb;
	struct bayes_snapshot *snap;
	const char *why = NULL;
	int fd, rc;

	*out = NULL;
	if (store_bayes_state(s, &st) < 0) {
		mw_snprintf(err, errlen, "%s", store_error(s));
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		mw_snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return 1;
	}
	snap = xcalloc(1, sizeof(*snap));
	if (fstat(fd, &sb) < 0 || (size_t)sb.st_size < sizeof(h)) {
		why = "too short";
		goto unusable;
	}
	snap->map_len = (size_t)sb.st_size;
	snap->map = mmap(NULL, snap->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (snap->map == MAP_FAILED) {
		snap->map = NULL;
		why = strerror(errno);
		goto unusable;
	}
	memcpy(&h, snap->map, sizeof(h));
	if (memcmp(h.magic, FILE_MAGIC, sizeof(h.magic)) != 0 || h.order != 0x01020304 ||
	    h.tok_size != sizeof(struct snap_tok) || h.n > UINT32_MAX ||
	    snap->map_len != sizeof(h) + h.n * sizeof(struct snap_tok)) {
		why = "not a snapshot file of this build";
		goto unusable;
	}
	if (h.version != st.version || h.nspam != st.nspam || h.nham != st.nham) {
		why = "made for another state of the store";
		goto unusable;
	}
	snap->state = st;
	snap->n = (size_t)h.n;
	snap->tok = (struct snap_tok *)(void *)((char *)snap->map + sizeof(h));
	dir_alloc(snap, snap->n);
	if ((why = dir_build(snap)) != NULL)
		goto unusable;
	if ((rc = file_spot_check(s, snap, &why)) != 0) {
		if (rc < 0) {
			mw_snprintf(err, errlen, "%s", store_error(s));
			close(fd);
			snapshot_free(snap);
			return -1;
		}
		goto unusable;
	}
	close(fd);
	atomic_init(&snap->refs, 1);
	*out = snap;
	return 0;
unusable:
	mw_snprintf(err, errlen, "%s: %s", path, why);
	close(fd);
	snapshot_free(snap);
	return 1;
}

/* ---- lookups ------------------------------------------------------------------------ */

/* How far ahead the lookup loop prefetches: the token array is far larger
 * than the caches, so every probe is a memory access; issuing them early
 * overlaps several instead of waiting for each in turn. */
#define PREFETCH_AHEAD 16

void bayes_snapshot_get(const struct bayes_snapshot *snap, const uint64_t *hashes, size_t n,
    struct store_bayes_count *out)
{
	for (size_t i = 0; i < n && i < PREFETCH_AHEAD; i++)
		__builtin_prefetch(&snap->dir[bucket(snap, hashes[i])]);
	for (size_t i = 0; i < n; i++) {
		uint64_t h = hashes[i];
		size_t b = bucket(snap, h);
		uint32_t lo = snap->dir[b], hi = snap->dir[b + 1];

		if (i + PREFETCH_AHEAD < n) {
			uint64_t ah = hashes[i + PREFETCH_AHEAD];
			const uint32_t *d = &snap->dir[bucket(snap, ah)];
			__builtin_prefetch(d);
			/* The directory entry of a later hash was asked for a
			 * round ago; by now it is usually in, so its tokens can
			 * be asked for too. */
			if (i + PREFETCH_AHEAD / 2 < n) {
				uint64_t mh = hashes[i + PREFETCH_AHEAD / 2];
				__builtin_prefetch(&snap->tok[snap->dir[bucket(snap, mh)]]);
			}
		}
		out[i].spam = out[i].ham = 0;
		while (lo < hi && snap->tok[lo].h < h)
			lo++;
		if (lo < hi && snap->tok[lo].h == h) {
			out[i].spam = snap->tok[lo].spam;
			out[i].ham = snap->tok[lo].ham;
		}
	}
}

/* ---- the shared holder ---------------------------------------------------------------- */

struct bayes_cache {
	pthread_mutex_t mu;
	pthread_cond_t idle;          /* signalled when busy goes back to 0 */
	struct bayes_snapshot *cur;   /* owned reference; NULL before the first load */
	int64_t refresh_ms;
	int checked;                  /* a check has run (successful or not) */
	int64_t checked_ms;           /* monotonic time of the last check */
	int busy;                     /* a thread is checking or loading */
	uint64_t failures;
	char *file;                   /* snapshot file tried first, or NULL */
};

struct bayes_cache *bayes_cache_new(int64_t refresh_ms)
{
	struct bayes_cache *c = xcalloc(1, sizeof(*c));

	if (pthread_mutex_init(&c->mu, NULL) != 0 || pthread_cond_init(&c->idle, NULL) != 0)
		mw_panic("pthread_mutex_init/pthread_cond_init failed");
	c->refresh_ms = refresh_ms;
	return c;
}

void bayes_cache_free(struct bayes_cache *c)
{
	if (c == NULL)
		return;
	bayes_snapshot_unref(c->cur);
	free(c->file);
	pthread_cond_destroy(&c->idle);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* Check the store's version against the current snapshot and install a new
 * snapshot if it differs.  Runs outside the lock (a database read, maybe a
 * load of a second or so): the other threads keep the old snapshot
 * meanwhile.  The caller has set busy; this clears it.  0 or -1 (err). */
static int refresh(struct bayes_cache *c, struct store *s, struct bayes_snapshot *old,
    char *err, size_t errlen)
{
	struct store_bayes_state st;
	struct bayes_snapshot *fresh = NULL, *gone = NULL;
	int rc = 0;

	if (old != NULL) {
		rc = store_bayes_state(s, &st);
		if (rc != 0)
			mw_snprintf(err, errlen, "%s", store_error(s));
		else if (st.version == old->state.version && st.nspam == old->state.nspam &&
		    st.nham == old->state.nham)
			goto out;
	}
	/* The file, when there is one for this state; the store otherwise.
	 * c->file is set before any thread runs (bayes_cache_set_file). */
	if (rc == 0 && c->file != NULL)
		rc = bayes_snapshot_load_file(s, c->file, &fresh, err, errlen);
	if (rc >= 0 && fresh == NULL)
		rc = bayes_snapshot_load(s, &fresh, err, errlen);
out:
	pthread_mutex_lock(&c->mu);
	c->busy = 0;
	c->checked = 1;
	c->checked_ms = mw_mono_ms();
	if (rc != 0)
		c->failures++;
	if (fresh != NULL) {
		gone = c->cur;
		c->cur = fresh;
	}
	pthread_cond_broadcast(&c->idle);
	pthread_mutex_unlock(&c->mu);
	bayes_snapshot_unref(gone);
	return rc;
}

int bayes_cache_acquire(struct bayes_cache *c, struct store *s, struct bayes_snapshot **out)
{
	struct bayes_snapshot *cur;
	char err[256];
	int due;

	*out = NULL;
	pthread_mutex_lock(&c->mu);
	cur = c->cur != NULL ? bayes_snapshot_ref(c->cur) : NULL;
	/* A failed load is retried only when the next check is due, so a store
	 * that cannot be snapshotted costs one scan per refresh_ms, not one
	 * per message. */
	due = !c->busy && (!c->checked ||
	    (c->refresh_ms >= 0 && mw_mono_ms() - c->checked_ms >= c->refresh_ms));
	if (due)
		c->busy = 1;
	pthread_mutex_unlock(&c->mu);
	if (!due) {
		*out = cur;
		return 0;
	}
	/* A failure is counted (bayes_cache_failures) and the old snapshot, if
	 * any, serves on; the text is for bayes_cache_reload's callers. */
	int rc = refresh(c, s, cur, err, sizeof(err));
	bayes_snapshot_unref(cur);
	pthread_mutex_lock(&c->mu);
	*out = c->cur != NULL ? bayes_snapshot_ref(c->cur) : NULL;
	pthread_mutex_unlock(&c->mu);
	return rc != 0 && *out == NULL ? -1 : 0;
}

int bayes_cache_reload(struct bayes_cache *c, struct store *s, char *err, size_t errlen)
{
	struct bayes_snapshot *cur;

	pthread_mutex_lock(&c->mu);
	/* A check already running may have read the store before the caller's
	 * change: wait for it, then check again. */
	while (c->busy)
		pthread_cond_wait(&c->idle, &c->mu);
	c->busy = 1;
	cur = c->cur != NULL ? bayes_snapshot_ref(c->cur) : NULL;
	pthread_mutex_unlock(&c->mu);
	int rc = refresh(c, s, cur, err, errlen);
	bayes_snapshot_unref(cur);
	return rc;
}

void bayes_cache_set_file(struct bayes_cache *c, const char *path)
{
	free(c->file);
	c->file = path != NULL ? xstrdup(path) : NULL;
}

uint64_t bayes_cache_failures(struct bayes_cache *c)
{
	uint64_t n;

	pthread_mutex_lock(&c->mu);
	n = c->failures;
	pthread_mutex_unlock(&c->mu);
	return n;
}
