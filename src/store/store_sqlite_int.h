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

#include "base/buf.h"
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

/* A number in SQL text */
#define MW_STR_(x) #x
#define MW_STR(x) MW_STR_(x)

/* Column lists shared by the statement table and the queries built per
 * call. */
#define LOG_TXN_COLS "ref, qid, ts, client_ip, helo, sender, from_hdr, subject, message_id, " \
	"size, action, reply, tls, score, class, symbols"
#define LOG_RCPT_COLS "ref, ts, rcpt, tenant, status, reply"

#define REP_COLS "key, updated, first_seen, reset, msgs, valid, invalid, traps, complaints, " \
	"spam, ham"
#define FP_COLS "id, kind, sig, created, updated, traps, complaints, spam, msgs, last_trap, " \
	"last_ref, excerpt, benign"

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

/* A text column into a fixed buffer, cut to fit. */
static inline void colcpy(sqlite3_stmt *st, int i, char *dst, size_t n)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	mw_strlcpy(dst, t ? (const char *)t : "", n);
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

/* A statement prepared per call: for what the CLI, a delivery worker or
 * the admin thread do now and then, never per message in a hot loop. */
static inline sqlite3_stmt *qprep(struct sq *q, const char *sql, const char *what)
{
	sqlite3_stmt *st = NULL;

	if (fp_hit(q) || sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK) {
		dberr(q, what);
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

/* Parameters of a search statement built per call (message log,
 * quarantine), bound in order of appearance. */
struct params {
	int n;
	const char *text[16];
	int64_t num[16];
	int is_num[16];
	char *owned[8];
	int n_owned;
};

static inline void p_text(struct buf *sql, struct params *p, const char *fragment, const char *v)
{
	buf_append_str(sql, fragment);
	p->text[p->n] = v;
	p->is_num[p->n] = 0;
	p->n++;
}

static inline void p_num(struct buf *sql, struct params *p, const char *fragment, int64_t v)
{
	buf_append_str(sql, fragment);
	p->num[p->n] = v;
	p->is_num[p->n] = 1;
	p->n++;
}

/* "%text%" with LIKE's metacharacters escaped by '\'. */
static inline const char *like_pattern(struct params *p, const char *s)
{
	struct buf b = BUF_INIT;

	buf_append_char(&b, '%');
	for (; *s; s++) {
		if (*s == '%' || *s == '_' || *s == '\\')
			buf_append_char(&b, '\\');
		buf_append_char(&b, *s);
	}
	buf_append_char(&b, '%');
	p->owned[p->n_owned] = buf_steal(&b);
	return p->owned[p->n_owned++];
}

/* A search field the caller filled in. */
static inline int set(const char *s)
{
	return s != NULL && s[0] != '\0';
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
int sq_bayes_stats(struct store *s, struct store_bayes_stats *out);
int sq_bayes_expire(struct store *s, int64_t max, int64_t keep, int64_t *removed);
int sq_bayes_scan(struct store *s, const struct store_bayes_scan_cb *cb);

/* The tenants' own outgoing mail (store_sqlite_outbound.c). */
int sq_outbound_add(struct store *s, const char *tenant, const char *msgid, int64_t now);
int sq_outbound_match(struct store *s, const char *tenant, const char *const *msgids,
    size_t n, char *matched, size_t mn);
int sq_outbound_rcpt_add(struct store *s, const char *tenant, const char *msgid,
    const char *domain);
int sq_outbound_rcpt_check(struct store *s, const char *tenant, const char *msgid,
    const char *const *domains, size_t n, char *known, size_t kn);
int sq_outbound_purge(struct store *s, int64_t before, int64_t *n);

/* Complaints (store_sqlite_complaint.c). */
int sq_complaint_add(struct store *s, const struct store_complaint *c, int64_t *id);
int sq_complaint_get(struct store *s, int64_t id, struct store_complaint *out);
int sq_complaint_count_ref(struct store *s, const char *ref, int64_t *n,
    int64_t *by_message_id);
int sq_complaint_list(struct store *s, int64_t since, size_t limit,
    struct store_complaint **out, size_t *n);

/* Spam traps (store_sqlite_trap.c). */
int sq_trap_add(struct store *s, const char *pattern, const char *tenant, const char *actor,
    int64_t now);
int sq_trap_remove(struct store *s, const char *pattern, const char *tenant);
int sq_trap_list(struct store *s, const char *tenant, struct store_trap **out, size_t *n);
int sq_trap_match(struct store *s, const char *address, const char *domain, char *pattern,
    size_t pn, char *tenant, size_t tn);
int sq_trap_hit_add(struct store *s, const struct store_trap_hit *h, size_t max_keep,
    char ***gone, size_t *n_gone);
int sq_trap_hit_list(struct store *s, const char *client_ip, const char *sender,
    size_t limit, struct store_trap_hit **out, size_t *n);

/* Content fingerprints (store_sqlite_fp.c). */
int sq_fp_scan(struct store *s, int64_t after_id,
    int (*cb)(void *arg, const struct store_fp *f), void *arg);
int sq_fp_put(struct store *s, struct store_fp *f);
int sq_fp_get(struct store *s, int64_t id, struct store_fp *out);
int sq_fp_remove(struct store *s, int64_t id);

/* Sender reputation (store_sqlite_rep.c). */
int sq_rep_get(struct store *s, const char *key, struct store_rep *out);
int sq_rep_put(struct store *s, const struct store_rep *r);
int sq_rep_list(struct store *s, const char *prefix, size_t limit, struct store_rep **out,
    size_t *n);
int sq_rep_clear(struct store *s, const char *key, const char *stat_kind,
    const char *stat_key);
int sq_rep_event_add(struct store *s, int64_t ts, const char *key, const char *kind,
    const char *ref, const char *detail, size_t keep);
int sq_rep_event_list(struct store *s, const char *prefix, size_t limit,
    struct store_rep_event **out, size_t *n);

/* Sender lists and audit (store_sqlite_list.c). */
int sq_list_add(struct store *s, const struct store_list_entry *e, int64_t now);
int sq_list_remove(struct store *s, const char *tenant, const char *user, const char *kind,
    const char *pattern);
int sq_list_for_rcpt(struct store *s, const char *tenant, const char *rcpt,
    struct store_list_entry **out, size_t *n);
int sq_list_search(struct store *s, const char *tenant, const char *user, const char *kind,
    struct store_list_entry **out, size_t *n);
int sq_audit_add(struct store *s, const char *actor, const char *action, const char *object,
    const char *detail, int64_t now);
int sq_audit_search(struct store *s, int64_t since, size_t limit, struct store_audit **out,
    size_t *n);
int sq_digest_get(struct store *s, const char *rcpt, int64_t *last, int64_t *sent);
int sq_digest_set(struct store *s, const char *rcpt, int64_t last, int64_t sent);
int sq_tenant_digest(struct store *s, const char *tenant, int64_t *interval);

/* Quarantine (store_sqlite_quarantine.c). */
int sq_quarantine_add(struct store *s, const struct store_quarantine *v, size_t n,
    int64_t *ids, int64_t now);
int sq_quarantine_get(struct store *s, int64_t id, struct store_quarantine *out);
int sq_quarantine_search(struct store *s, const struct store_quarantine_query *qr,
    struct store_quarantine **out, size_t *n);
int sq_quarantine_finish(struct store *s, int64_t id, const char *state, const char *actor,
    int64_t now, const char *release_qid);
int sq_quarantine_held(struct store *s, const char *qid, int64_t *n);
int sq_quarantine_due(struct store *s, int64_t now, int64_t default_retention, size_t max,
    int64_t **ids, size_t *n);

/* Message log (store_sqlite_log.c). */
int sq_log_txn_add(struct store *s, const struct store_log_txn *t);
int sq_log_rcpt_add(struct store *s, const struct store_log_rcpt *r);
int sq_log_search(struct store *s, const struct store_log_query *qr,
    struct store_log_entry **out, size_t *n);
int sq_log_purge(struct store *s, int64_t before, int64_t *n);

/* Users and recipient statistics (store_sqlite_user.c). */
int sq_user_add(struct store *s, const char *address, const char *domain,
    const char *alias_of);
int sq_user_remove(struct store *s, const char *address);
int sq_user_list(struct store *s, const char *domain, struct store_user **out, size_t *n);
int sq_rcpt_lookup(struct store *s, const char *address, const char *domain,
    const char *catchall, struct store_rcpt *out);
int sq_rcpt_stat_add(struct store *s, const char *client_ip, const char *sender_domain,
    int valid, int64_t hour);
int sq_rcpt_stat_get(struct store *s, const char *kind, const char *key,
    int64_t since_hour, int64_t *valid, int64_t *invalid);

/* Tenants and domains (store_sqlite_tenant.c). */
/* A hosted domain's id and its tenant's: 0, 1 not hosted, -1 error. */
int sq_domain_find(struct sq *q, const char *domain, int64_t *id, int64_t *tenant_id);
int sq_tenant_add(struct store *s, const char *name, const char *action, int64_t now);
int sq_tenant_get(struct store *s, const char *name, struct store_tenant *out);
int sq_tenant_remove(struct store *s, const char *name);
int sq_tenant_set(struct store *s, const char *name, const char *key, const char *value);
int sq_domain_set(struct store *s, const char *domain, const char *key, const char *value);
int sq_tenant_list(struct store *s, struct store_tenant **out, size_t *n);
int sq_domain_add(struct store *s, const char *domain, const char *tenant,
    const char *deliver);
int sq_domain_remove(struct store *s, const char *domain);
int sq_domain_list(struct store *s, const char *tenant, struct store_domain **out,
    size_t *n);

#endif
