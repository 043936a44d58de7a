/*
 * store_sqlite_bayes.c - the Bayes classifier's counts in SQLite
 * (docs/bayes.md "Storage", docs/storage.md): token counts, learned
 * messages with their class and weight, the training totals, batched
 * learning, reinforcement and the full scan that builds a token snapshot.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite_int.h"

/* ---- Bayes token counts ---------------------------------------------------- */

static int cmp_hash(const void *key, const void *elem)
{
	uint64_t a = *(const uint64_t *)key, b = *(const uint64_t *)elem;
	return (a > b) - (a < b);
}

/* Chunks of BAYES_CHUNK hashes per execution of one cached statement; each
 * returned row is placed by binary search (hashes are sorted unsigned, the
 * database orders them signed, so the row order is not used). */
int sq_bayes_get(struct store *s, const uint64_t *hashes, size_t n,
    struct store_bayes_count *out)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_BAYES_GET);
	int rc;

	if (st == NULL)
		return -1;
	for (size_t off = 0; off < n; off += BAYES_CHUNK) {
		size_t m = n - off < BAYES_CHUNK ? n - off : BAYES_CHUNK;
		for (size_t i = 0; i < BAYES_CHUNK; i++)
			sqlite3_bind_int64(st, (int)i + 1, (int64_t)hashes[off + (i < m ? i : m - 1)]);
		while ((rc = step(q, st)) == SQLITE_ROW) {
			uint64_t h = (uint64_t)sqlite3_column_int64(st, 0);
			const uint64_t *hit = bsearch(&h, hashes + off, m, sizeof(*hashes), cmp_hash);
			if (hit != NULL) {
				out[hit - hashes].spam = sqlite3_column_int64(st, 1);
				out[hit - hashes].ham = sqlite3_column_int64(st, 2);
			}
		}
		if (rc != SQLITE_DONE) {
			dberr(q, "bayes get");
			done(st);
			return -1;
		}
		done(st);
	}
	return 0;
}

/* The class a digest was learned as and how many times it counts: 0 with
 * *is_spam and *weight set, 1 if not learned. */
static int bayes_msg_class(struct sq *q, const char *digest, int *is_spam, int64_t *weight)
{
	sqlite3_stmt *st = stmt(q, ST_BAYES_MSG_GET);
	int rc;

	if (st == NULL)
		return -1;
	bind_text(st, 1, digest);
	rc = step(q, st);
	if (rc == SQLITE_ROW) {
		*is_spam = sqlite3_column_int(st, 0);
		*weight = sqlite3_column_int64(st, 1);
		if (*weight < 1)
			*weight = 1;
		done(st);
		return 0;
	}
	if (rc != SQLITE_DONE) {
		dberr(q, "bayes message lookup");
		done(st);
		return -1;
	}
	done(st);
	return 1;
}

static int bayes_tokens_inc(struct sq *q, int is_spam, const uint64_t *hashes, size_t n,
    int64_t by, int64_t now)
{
	sqlite3_stmt *st = stmt(q, is_spam ? ST_BAYES_INC_SPAM : ST_BAYES_INC_HAM);

	if (st == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int64(st, 1, (int64_t)hashes[i]);
		sqlite3_bind_int64(st, 2, now);
		sqlite3_bind_int64(st, 3, by);
		if (run(q, st, "bayes learn") < 0)
			return -1;
	}
	return 0;
}

/* Run st, bound by the caller, whose RETURNING gives a token's spam + ham
 * after the change; a row left at 0/0 is deleted with pr.  0 or -1. */
static int run_prune(struct sq *q, sqlite3_stmt *st, sqlite3_stmt *pr, uint64_t hash,
    const char *what)
{
	int rc = step(q, st);
	int zero = rc == SQLITE_ROW && sqlite3_column_int64(st, 0) == 0;

	if (rc == SQLITE_ROW)
		rc = step(q, st);   /* RETURNING: finish the statement */
	if (rc != SQLITE_DONE) {
		dberr(q, what);
		done(st);
		return -1;
	}
	done(st);
	if (zero) {
		sqlite3_bind_int64(pr, 1, (int64_t)hash);
		if (run(q, pr, "bayes prune") < 0)
			return -1;
	}
	return 0;
}

/* Rows that reach 0/0 are deleted so unlearning leaves no dead rows. */
static int bayes_tokens_dec(struct sq *q, int is_spam, const uint64_t *hashes, size_t n,
    int64_t by)
{
	sqlite3_stmt *st = stmt(q, is_spam ? ST_BAYES_DEC_SPAM : ST_BAYES_DEC_HAM);
	sqlite3_stmt *pr = stmt(q, ST_BAYES_PRUNE);

	if (st == NULL || pr == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int64(st, 1, (int64_t)hashes[i]);
		sqlite3_bind_int64(st, 2, by);
		if (run_prune(q, st, pr, hashes[i], "bayes unlearn") < 0)
			return -1;
	}
	return 0;
}

static int bayes_meta_add(struct sq *q, int64_t dspam, int64_t dham)
{
	sqlite3_stmt *st = stmt(q, ST_BAYES_META_ADD);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, dspam);
	sqlite3_bind_int64(st, 2, dham);
	return run(q, st, "bayes totals");
}

/*
 * A training batch changes the same tokens many times (every message has
 * the common words): learn_many adds each message's changes up here and
 * writes each token once, in rowid order, so the B-tree is walked once per
 * batch instead of once per message.
 */
struct tok_delta {
	uint64_t h;
	int64_t ds, dh;
	int used;
};

struct delta_map {
	struct tok_delta *v;
	size_t cap, n;
};

/* Distinct tokens held before they are written (32 MiB of map at most:
 * 2^20 entries at half load).  A batch of 500 ordinary messages has a few
 * hundred thousand; 500 messages at the tokenizer's caps could have tens
 * of millions, so the map is written out and emptied when it is this full
 * (the same transaction: the result is the same). */
#define DELTA_FLUSH (1u << 20)

static void delta_add(struct delta_map *d, const uint64_t *hashes, size_t n, int is_spam,
    int64_t by)
{
	if (2 * (d->n + n) > d->cap) {
		size_t cap = d->cap ? d->cap : 4096;
		while (2 * (d->n + n) > cap)
			cap *= 2;
		struct tok_delta *old = d->v;
		size_t ocap = d->cap;
		d->v = xcalloc(cap, sizeof(*d->v));
		d->cap = cap;
		for (size_t i = 0; i < ocap; i++)
			if (old[i].used) {
				size_t j = (size_t)(old[i].h * 0x9e3779b97f4a7c15ULL) & (cap - 1);
				while (d->v[j].used)
					j = (j + 1) & (cap - 1);
				d->v[j] = old[i];
			}
		free(old);
	}
	for (size_t i = 0; i < n; i++) {
		size_t j = (size_t)(hashes[i] * 0x9e3779b97f4a7c15ULL) & (d->cap - 1);
		while (d->v[j].used && d->v[j].h != hashes[i])
			j = (j + 1) & (d->cap - 1);
		if (!d->v[j].used) {
			d->v[j] = (struct tok_delta){ .h = hashes[i], .used = 1 };
			d->n++;
		}
		if (is_spam)
			d->v[j].ds += by;
		else
			d->v[j].dh += by;
	}
}

static int cmp_rowid(const void *a, const void *b)
{
	int64_t x = (int64_t)((const struct tok_delta *)a)->h, y = (int64_t)((const struct tok_delta *)b)->h;
	return x < y ? -1 : x > y;
}

/* Write the net changes, in rowid (signed hash) order; 0 or -1. */
static int delta_apply(struct sq *q, struct delta_map *d, int64_t now)
{
	sqlite3_stmt *st = stmt(q, ST_BAYES_ADD), *pr = stmt(q, ST_BAYES_PRUNE);
	sqlite3_stmt *inc = stmt(q, ST_BAYES_INC);
	size_t n = 0;

	if (st == NULL || pr == NULL || inc == NULL)
		return -1;
	if (d->v == NULL)
		return 0;   /* nothing learned: every message already known */
	for (size_t i = 0; i < d->cap; i++)
		if (d->v[i].used && (d->v[i].ds != 0 || d->v[i].dh != 0))
			d->v[n++] = d->v[i];
	qsort(d->v, n, sizeof(*d->v), cmp_rowid);
	/* the map is now a list: emptied below whatever happens */
	d->n = 0;
	for (size_t i = 0; i < n; i++) {
		/* Only a decrease can reach 0/0: an increase needs no count back */
		int up = d->v[i].ds >= 0 && d->v[i].dh >= 0;
		sqlite3_stmt *s = up ? inc : st;
		sqlite3_bind_int64(s, 1, (int64_t)d->v[i].h);
		sqlite3_bind_int64(s, 2, d->v[i].ds);
		sqlite3_bind_int64(s, 3, d->v[i].dh);
		sqlite3_bind_int64(s, 4, now);
		if (up ? run(q, s, "bayes learn") < 0 : run_prune(q, st, pr, d->v[i].h, "bayes learn") < 0)
			return -1;
	}
	memset(d->v, 0, d->cap * sizeof(*d->v));
	return 0;
}

/* One message inside the caller's transaction, its token changes added to d
 * (written by delta_apply): 0 learned, 1 already in that class, -1 error
 * (the caller aborts the transaction).  A relearn takes the message out of
 * the class it was in, with every time it counted there. */
static int bayes_learn_deferred(struct sq *q, const char *digest, int is_spam,
    const uint64_t *hashes, size_t n, int64_t now, struct delta_map *d)
{
	sqlite3_stmt *st;
	int was_spam = 0, rc;
	int64_t w = 1;

	rc = bayes_msg_class(q, digest, &was_spam, &w);
	if (rc < 0)
		return -1;
	if (rc == 0 && was_spam == is_spam)
		return 1;
	if (rc == 0) {
		delta_add(d, hashes, n, was_spam, -w);
		if (bayes_meta_add(q, was_spam ? -w : 0, was_spam ? 0 : -w) < 0)
			return -1;
	}
	delta_add(d, hashes, n, is_spam, 1);
	if (bayes_meta_add(q, is_spam ? 1 : 0, is_spam ? 0 : 1) < 0 ||
	    (st = stmt(q, ST_BAYES_MSG_PUT)) == NULL)
		return -1;
	bind_text(st, 1, digest);
	bind_text(st, 2, is_spam ? "spam" : "ham");
	sqlite3_bind_int64(st, 3, now);
	return run(q, st, "bayes learn");
}

int sq_bayes_learn_many(struct store *s, const struct store_bayes_msg *m, size_t n,
    int *results, int64_t now)
{
	struct sq *q = SQ(s);
	struct delta_map d = { 0 };

	if (sq_begin(s) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int rc = bayes_learn_deferred(q, m[i].digest, m[i].is_spam != 0, m[i].hashes, m[i].n,
		    now, &d);
		if (rc < 0)
			goto fail;
		results[i] = rc;
		if (d.n >= DELTA_FLUSH && delta_apply(q, &d, now) < 0)
			goto fail;
	}
	if (delta_apply(q, &d, now) < 0)
		goto fail;
	free(d.v);
	return sq_commit(s);
fail:
	free(d.v);
	abort_tx(q);
	return -1;
}

/* One message is a batch of one: the same counts, one code path. */
int sq_bayes_learn(struct store *s, const char *digest, int is_spam,
    const uint64_t *hashes, size_t n, int64_t now)
{
	struct store_bayes_msg m = { .digest = digest, .is_spam = is_spam, .hashes = hashes, .n = n };
	int res = -1;

	return sq_bayes_learn_many(s, &m, 1, &res, now) < 0 ? -1 : res;
}

int sq_bayes_unlearn(struct store *s, const char *digest, const uint64_t *hashes,
    size_t n)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	int was_spam = 0, rc;
	int64_t w = 1;

	if (sq_begin(s) < 0)
		return -1;
	rc = bayes_msg_class(q, digest, &was_spam, &w);
	if (rc < 0)
		goto fail;
	if (rc == 1)
		return sq_commit(s) < 0 ? -1 : 1;
	if (bayes_tokens_dec(q, was_spam, hashes, n, w) < 0 ||
	    bayes_meta_add(q, was_spam ? -w : 0, was_spam ? 0 : -w) < 0)
		goto fail;
	if ((st = stmt(q, ST_BAYES_MSG_DEL)) == NULL)
		goto fail;
	bind_text(st, 1, digest);
	if (run(q, st, "bayes unlearn") < 0)
		goto fail;
	return sq_commit(s);
fail:
	abort_tx(q);
	return -1;
}

int sq_bayes_msg_get(struct store *s, const char *digest, int *is_spam, int64_t *weight)
{
	return bayes_msg_class(SQ(s), digest, is_spam, weight);
}

/* Raise each message learned in m[i].is_spam's class to weight, adding the
 * difference to its tokens and the totals; results[i] 0 when raised, 1 when
 * nothing changes (not learned, learned in the other class, or already
 * counting that many times). */
int sq_bayes_reinforce_many(struct store *s, const struct store_bayes_msg *m, size_t n,
    int64_t weight, int *results, int64_t now)
{
	struct sq *q = SQ(s);

	if (sq_begin(s) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int was_spam = 0, is_spam = m[i].is_spam != 0;
		int64_t w = 1, by;
		int rc = bayes_msg_class(q, m[i].digest, &was_spam, &w);
		sqlite3_stmt *st;
		if (rc < 0)
			goto fail;
		results[i] = 1;
		if (rc == 1 || was_spam != is_spam || w >= weight)
			continue;
		by = weight - w;
		if (bayes_tokens_inc(q, is_spam, m[i].hashes, m[i].n, by, now) < 0 ||
		    bayes_meta_add(q, is_spam ? by : 0, is_spam ? 0 : by) < 0 ||
		    (st = stmt(q, ST_BAYES_MSG_WEIGHT)) == NULL)
			goto fail;
		bind_text(st, 1, m[i].digest);
		sqlite3_bind_int64(st, 2, weight);
		if (run(q, st, "bayes reinforce") < 0)
			goto fail;
		results[i] = 0;
	}
	return sq_commit(s);
fail:
	abort_tx(q);
	return -1;
}

int sq_bayes_totals(struct store *s, int64_t *nspam, int64_t *nham)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_BAYES_META_GET);

	if (st == NULL)
		return -1;
	if (step(q, st) != SQLITE_ROW) {
		dberr(q, "bayes totals");
		done(st);
		return -1;
	}
	*nspam = sqlite3_column_int64(st, 0);
	*nham = sqlite3_column_int64(st, 1);
	done(st);
	return 0;
}

int sq_bayes_state(struct store *s, struct store_bayes_state *out)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_BAYES_STATE);

	if (st == NULL)
		return -1;
	if (step(q, st) != SQLITE_ROW) {
		dberr(q, "bayes state");
		done(st);
		return -1;
	}
	out->nspam = sqlite3_column_int64(st, 0);
	out->nham = sqlite3_column_int64(st, 1);
	out->version = sqlite3_column_int64(st, 2);
	done(st);
	return 0;
}

/* A statement of one row (qprep'd: status and expiry are rare), stepped;
 * NULL, with the error set, when it gave no row. */
static sqlite3_stmt *one_row(struct sq *q, const char *sql, const char *what)
{
	sqlite3_stmt *st = qprep(q, sql, what);

	if (st != NULL && step(q, st) != SQLITE_ROW) {
		dberr(q, what);
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

int sq_bayes_stats(struct store *s, struct store_bayes_stats *out)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	int own = q->depth == 0, rc;

	if (own && run_id(q, ST_BEGIN_READ, "begin") < 0)
		return -1;
	if (sq_bayes_state(s, &out->state) < 0)
		goto fail;
	st = qprep(q, "SELECT class = 'spam', count(*), sum(weight > 1), max(ts) "
	    "FROM bayes_msg GROUP BY class", "bayes stats");
	if (st == NULL)
		goto fail;
	while ((rc = step(q, st)) == SQLITE_ROW) {
		int c = sqlite3_column_int(st, 0) != 0;
		out->msgs[c] = sqlite3_column_int64(st, 1);
		out->reinforced[c] = sqlite3_column_int64(st, 2);
		int64_t ts = sqlite3_column_int64(st, 3);
		if (ts > out->last_learned)
			out->last_learned = ts;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "bayes stats");
		goto fail;
	}
	/* sum() and min() of no rows are NULL, which reads as 0 */
	st = one_row(q, "SELECT count(*), sum(spam + ham = 1), min(atime) FROM bayes_token",
	    "bayes token stats");
	if (st == NULL)
		goto fail;
	out->tokens = sqlite3_column_int64(st, 0);
	out->tokens_once = sqlite3_column_int64(st, 1);
	out->oldest_atime = sqlite3_column_int64(st, 2);
	sqlite3_finalize(st);
	if (own && run_id(q, ST_COMMIT, "commit") < 0)
		goto fail;
	return 0;
fail:
	if (own)
		rollback_keep_error(q);
	return -1;
}

/* Tokens deleted per write transaction: a chunk holds the write lock for
 * a few milliseconds, where one transaction over millions of rows would
 * keep the gateway's other writers waiting for seconds. */
#define EXPIRE_CHUNK 10000

/* The last row to delete is found by one sort of the table, in a read (no
 * index on atime is kept up to date by every learning for a rare
 * operation).  The rows up to it then go in rowid order, a chunk per
 * transaction that moves the version, each chunk going on where the last
 * one stopped: one pass over the table in all.  Age counts in whole days:
 * the batches of one training run are seconds apart, and a run that
 * learns its spam before its ham must not lose its spam first.  A failure
 * leaves the chunks before it done: expiry goes on from there next time. */
#define EXPIRE_WHERE "(atime / 86400, spam + ham, hash) <= (?1, ?2, ?3)"

/* The last row to delete: its day, count and hash. */
struct expire_cut {
	int64_t day, cnt, hash;
};

/* sql qprep'd with the cut bound to ?1..?3, a and b to ?4 and ?5. */
static sqlite3_stmt *expire_prep(struct sq *q, const char *sql, const struct expire_cut *cut,
    int64_t a, int64_t b)
{
	sqlite3_stmt *st = qprep(q, sql, "bayes expire");

	if (st != NULL) {
		sqlite3_bind_int64(st, 1, cut->day);
		sqlite3_bind_int64(st, 2, cut->cnt);
		sqlite3_bind_int64(st, 3, cut->hash);
		sqlite3_bind_int64(st, 4, a);
		sqlite3_bind_int64(st, 5, b);
	}
	return st;
}

int sq_bayes_expire(struct store *s, int64_t max, int64_t keep, int64_t *removed)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	struct expire_cut cut;
	int64_t n, lo = INT64_MIN, hi;
	int rc;

	if ((st = one_row(q, "SELECT count(*) FROM bayes_token", "bayes expire")) == NULL)
		return -1;
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (n <= max)
		return 0;
	st = qprep(q, "SELECT atime / 86400, spam + ham, hash FROM bayes_token "
	    "ORDER BY 1, 2, 3 LIMIT 1 OFFSET ?1", "bayes expire");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, n - keep - 1);
	rc = step(q, st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		if (rc == SQLITE_DONE)
			return 0;   /* fewer rows by now: another expiry got there first */
		dberr(q, "bayes expire");
		return -1;
	}
	cut.day = sqlite3_column_int64(st, 0);
	cut.cnt = sqlite3_column_int64(st, 1);
	cut.hash = sqlite3_column_int64(st, 2);
	sqlite3_finalize(st);
	for (;;) {
		if (sq_begin(s) < 0)
			return -1;
		/* the highest rowid of the next chunk; NULL (0 rows): done */
		st = expire_prep(q, "SELECT max(hash), count(*) FROM (SELECT hash FROM bayes_token "
		    "WHERE hash >= ?4 AND " EXPIRE_WHERE " ORDER BY hash LIMIT ?5)", &cut, lo,
		    EXPIRE_CHUNK);
		if (st == NULL)
			goto fail;
		if (step(q, st) != SQLITE_ROW) {
			dberr(q, "bayes expire");
			sqlite3_finalize(st);
			goto fail;
		}
		int64_t found = sqlite3_column_int64(st, 1);
		hi = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		if (found == 0)
			return sq_commit(s);
		st = expire_prep(q, "DELETE FROM bayes_token WHERE hash >= ?4 AND hash <= ?5 AND "
		    EXPIRE_WHERE, &cut, lo, hi);
		if (st == NULL)
			goto fail;
		rc = step(q, st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			dberr(q, "bayes expire");
			goto fail;
		}
		int64_t gone = sqlite3_changes64(q->db);
		st = qprep(q, "UPDATE bayes_meta SET version = version + 1 WHERE id = 1",
		    "bayes expire");
		if (st == NULL)
			goto fail;
		rc = run(q, st, "bayes expire");
		sqlite3_finalize(st);
		if (rc < 0)
			goto fail;
		if (sq_commit(s) < 0)
			return -1;
		*removed += gone;
		if (found < EXPIRE_CHUNK || hi == INT64_MAX)
			return 0;
		lo = hi + 1;
	}
fail:
	abort_tx(q);
	return -1;
}

/* The aggregate mw_bayes_scan(hash, spam, ham): SQLite calls it for every
 * row inside its own loop, which reads 2 million rows in about two thirds
 * of the time of stepping out to the caller for each row and fetching its
 * columns.  A callback asking to stop ends the statement with an error that
 * scan_stopped tells apart from a database error. */
static void scan_step(sqlite3_context *ctx, int argc, sqlite3_value **v)
{
	struct sq *q = sqlite3_user_data(ctx);

	MW_UNUSED(argc);
	if (q->scan_stopped)
		return;
	if (q->scan->token(q->scan->arg, (uint64_t)sqlite3_value_int64(v[0]),
	    sqlite3_value_int64(v[1]), sqlite3_value_int64(v[2])) != 0) {
		q->scan_stopped = 1;
		sqlite3_result_error(ctx, "stopped by the caller", -1);
	}
}

static void scan_final(sqlite3_context *ctx)
{
	MW_UNUSED(ctx);
}

static int scan_register(struct sq *q)
{
	if (q->scan_fn)
		return 0;
	if (fp_hit(q) || sqlite3_create_function_v2(q->db, "mw_bayes_scan", 3,
	    SQLITE_UTF8 | SQLITE_DIRECTONLY, q, NULL, scan_step, scan_final, NULL) != SQLITE_OK) {
		dberr(q, "bayes scan function");
		return -1;
	}
	q->scan_fn = 1;
	return 0;
}

/* State, count and every token row in one read transaction (unless the
 * caller's own transaction is open), so a trainer committing meanwhile is
 * wholly in or out. */
int sq_bayes_scan(struct store *s, const struct store_bayes_scan_cb *cb)
{
	static const enum stmt_id part[2] = { ST_BAYES_SCAN_LO, ST_BAYES_SCAN_HI };
	struct sq *q = SQ(s);
	struct store_bayes_state state;
	sqlite3_stmt *st;
	int own = q->depth == 0, stopped = 0;
	int64_t ntok;

	if (scan_register(q) < 0)
		return -1;
	if (own && run_id(q, ST_BEGIN_READ, "begin") < 0)
		return -1;
	if (sq_bayes_state(s, &state) < 0 || (st = stmt(q, ST_BAYES_COUNT)) == NULL)
		goto fail;
	if (step(q, st) != SQLITE_ROW) {
		dberr(q, "bayes count");
		done(st);
		goto fail;
	}
	ntok = sqlite3_column_int64(st, 0);
	done(st);
	stopped = cb->begin(cb->arg, &state, ntok > 0 ? (size_t)ntok : 0) != 0;
	q->scan = cb;
	q->scan_stopped = 0;
	for (int k = 0; k < 2 && !stopped; k++) {
		if ((st = stmt(q, part[k])) == NULL)
			goto fail;
		/* An aggregate gives exactly one row. */
		if (step(q, st) != SQLITE_ROW) {
			stopped = q->scan_stopped;
			if (!stopped) {
				dberr(q, "bayes scan");
				done(st);
				goto fail;
			}
		}
		done(st);
	}
	q->scan = NULL;
	if (own && run_id(q, ST_COMMIT, "commit") < 0)
		goto fail;
	return stopped;
fail:
	q->scan = NULL;
	if (own)
		rollback_keep_error(q);
	return -1;
}
