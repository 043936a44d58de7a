/*
 * store_sqlite_int.h - what the files of the SQLite back end share (private
 * to src/store/store_sqlite*.c): the handle, the statement ids and their
 * SQL (store_sqlite.c), and the small helpers every query goes through.
 *
 * The helpers are static inline so that each file keeps short names
 * without exporting them from the library.  The back end's operations
 * (store_backend.h) that live outside store_sqlite.c are declared here for
 * its operation table.
 */
#ifndef MW_STORE_STORE_SQLITE_INT_H
#define MW_STORE_STORE_SQLITE_INT_H

#include <sqlite3.h>
#include <string.h>

#include "store/store_backend.h"

enum stmt_id {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
	ST_TENANT_ADD, ST_TENANT_GET, ST_TENANT_LIST, ST_TENANT_DOMCOUNT, ST_TENANT_DEL,
	ST_DOMAIN_ADD, ST_DOMAIN_GET, ST_DOMAIN_USERCOUNT, ST_DOMAIN_DEL, ST_DOMAIN_LIST,
	ST_USER_ADD, ST_USER_GET, ST_USER_DEL, ST_USER_LIST,
	ST_RCPT_LOOKUP,
	ST_STAT_ADD, ST_STAT_GET,
	ST_LOG_TXN_ADD, ST_LOG_RCPT_ADD, ST_LOG_TXN_BY_REF, ST_LOG_RCPT_BY_REF,
	ST_PURGE_TXN, ST_PURGE_RCPT, ST_PURGE_STAT,
	ST_BAYES_GET, ST_BAYES_MSG_GET, ST_BAYES_MSG_PUT, ST_BAYES_MSG_DEL, ST_BAYES_MSG_WEIGHT,
	ST_BAYES_INC_SPAM, ST_BAYES_INC_HAM, ST_BAYES_DEC_SPAM, ST_BAYES_DEC_HAM, ST_BAYES_PRUNE,
	ST_BAYES_ADD,
	ST_BAYES_INC,
	ST_BAYES_META_GET, ST_BAYES_META_ADD,
	ST_BAYES_STATE, ST_BEGIN_READ, ST_BAYES_COUNT, ST_BAYES_SCAN_LO, ST_BAYES_SCAN_HI,
	ST_REP_GET, ST_REP_PUT, ST_REP_EVENT_ADD, ST_REP_EVENT_TRIM,
	ST_FP_INSERT, ST_FP_UPDATE,
	ST_TRAP_MATCH, ST_OUTBOUND_ADD, ST_OUTBOUND_GET, ST_OUTBOUND_RCPT_ADD, ST_OUTBOUND_RCPT_LIST,
	ST__N
};

/* Token lookups bind this many hashes per statement execution (a short last
 * chunk repeats its last hash), so one cached statement serves any n; the
 * SQL of ST_BAYES_GET has as many placeholders (Q256). */
#define BAYES_CHUNK 256

/* The SQL of each statement id (store_sqlite.c). */
extern const char *const store_sqlite_sql[ST__N];

struct sq {
	struct store base;      /* first: struct store * <-> struct sq * */
	sqlite3 *db;
	sqlite3_stmt *st[ST__N];
	int depth;              /* begin/commit nesting */
	long fp_countdown;      /* failpoint: the Nth prepare/step fails; 0 = off */
	const struct store_bayes_scan_cb *scan;   /* during sq_bayes_scan() only */
	int scan_fn;            /* mw_bayes_scan() is registered */
	int scan_stopped;       /* the scan's callback asked to stop */
	int fp_fired;           /* the current error is the injected one */
};

static inline struct sq *SQ(struct store *s)
{
	return (struct sq *)(void *)s;
}

static inline void dberr(struct sq *q, const char *what)
{
	store_seterr(&q->base, "database error (%s): %s", what,
	    q->fp_fired ? "injected failure (MAILWARD_FAILPOINT)" : sqlite3_errmsg(q->db));
	q->fp_fired = 0;
}

/*
 * Failpoint for tests: with MAILWARD_FAILPOINT=store_step:N in the
 * environment when a handle is opened, its Nth prepare or step (counted
 * from the first call after open) fails as an I/O error would.  A test
 * walks N = 1, 2, ... until the operation succeeds, which drives every
 * database error path of that operation, including rollback.
 */
static inline int fp_hit(struct sq *q)
{
	if (q->fp_countdown > 0 && --q->fp_countdown == 0) {
		q->fp_fired = 1;
		return 1;
	}
	return 0;
}

static inline int step(struct sq *q, sqlite3_stmt *st)
{
	return fp_hit(q) ? SQLITE_IOERR : sqlite3_step(st);
}

/* The cached statement, prepared on first use; NULL + error on failure. */
static inline sqlite3_stmt *stmt(struct sq *q, enum stmt_id id)
{
	if (q->st[id] == NULL && fp_hit(q)) {
		dberr(q, "prepare");
		return NULL;
	}
	if (q->st[id] == NULL &&
	    sqlite3_prepare_v3(q->db, store_sqlite_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &q->st[id],
	    NULL) != SQLITE_OK) {
		dberr(q, "prepare");
		q->st[id] = NULL;
	}
	return q->st[id];
}

/* Every statement ends here: a statement left un-reset would keep a read
 * transaction open and hide other processes' changes from this handle. */
static inline void done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static inline void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_STATIC);
}

static inline char *coldup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return xstrdup(t ? (const char *)t : "");
}

/* Run a statement that returns no rows.  0 or -1. */
static inline int run(struct sq *q, sqlite3_stmt *st, const char *what)
{
	int rc = step(q, st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		dberr(q, what);
		done(st);
		return -1;
	}
	done(st);
	return 0;
}

static inline int run_id(struct sq *q, enum stmt_id id, const char *what)
{
	sqlite3_stmt *st = stmt(q, id);
	return st ? run(q, st, what) : -1;
}

static inline void rollback_keep_error(struct sq *q)
{
	char keep[sizeof(q->base.err)];

	memcpy(keep, q->base.err, sizeof(keep));
	if (sqlite3_get_autocommit(q->db) == 0)
		run_id(q, ST_ROLLBACK, "rollback");
	memcpy(q->base.err, keep, sizeof(keep));
}

/* End of a multi-statement operation that failed: undo it unless an outer
 * begin owns the transaction (then the outer commit decides). */
static inline void abort_tx(struct sq *q)
{
	if (q->depth > 0 && --q->depth == 0)
		rollback_keep_error(q);
}

/* Transactions (store_sqlite.c); nested begins count, the outer commit
 * commits. */
int sq_begin(struct store *s);
int sq_commit(struct store *s);

/* Bayes token counts (store_sqlite_bayes.c). */
int sq_bayes_get(struct store *s, const uint64_t *hashes, size_t n,
    struct store_bayes_count *out);
int sq_bayes_learn(struct store *s, const char *digest, int is_spam,
    const uint64_t *hashes, size_t n, int64_t now);
int sq_bayes_learn_many(struct store *s, const struct store_bayes_msg *m, size_t n,
    int *results, int64_t now);
int sq_bayes_unlearn(struct store *s, const char *digest, const uint64_t *hashes,
    size_t n);
int sq_bayes_msg_get(struct store *s, const char *digest, int *is_spam, int64_t *weight);
int sq_bayes_reinforce_many(struct store *s, const struct store_bayes_msg *m, size_t n,
    int64_t weight, int *results, int64_t now);
int sq_bayes_totals(struct store *s, int64_t *nspam, int64_t *nham);
int sq_bayes_state(struct store *s, struct store_bayes_state *out);
int sq_bayes_scan(struct store *s, const struct store_bayes_scan_cb *cb);

#endif
