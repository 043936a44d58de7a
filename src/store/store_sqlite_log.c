/*
 * store_sqlite_log.c - the message log (docs/storage.md): one row per
 * transaction and one per recipient event, written by the tracking
 * thread; the searches of `mailward log` and the console; purging by age.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite_int.h"

/* ---- message log ---------------------------------------------------------- */

int sq_log_txn_add(struct store *s, const struct store_log_txn *t)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_LOG_TXN_ADD);

	if (st == NULL)
		return -1;
	bind_text(st, 1, t->ref);
	bind_text(st, 2, t->qid);
	sqlite3_bind_int64(st, 3, t->ts);
	bind_text(st, 4, t->client_ip);
	bind_text(st, 5, t->helo);
	bind_text(st, 6, t->sender);
	bind_text(st, 7, t->from_hdr);
	bind_text(st, 8, t->subject);
	bind_text(st, 9, t->message_id);
	sqlite3_bind_int64(st, 10, t->size);
	bind_text(st, 11, t->action);
	bind_text(st, 12, t->reply);
	sqlite3_bind_int(st, 13, t->tls ? 1 : 0);
	if (t->scanned)
		sqlite3_bind_double(st, 14, t->score);
	else
		sqlite3_bind_null(st, 14);
	bind_text(st, 15, t->cls);
	bind_text(st, 16, t->symbols);
	return run(q, st, "log txn add");
}

int sq_log_rcpt_add(struct store *s, const struct store_log_rcpt *r)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_LOG_RCPT_ADD);

	if (st == NULL)
		return -1;
	bind_text(st, 1, r->ref);
	sqlite3_bind_int64(st, 2, r->ts);
	bind_text(st, 3, r->rcpt);
	bind_text(st, 4, r->tenant);
	bind_text(st, 5, r->status);
	bind_text(st, 6, r->reply);
	return run(q, st, "log rcpt add");
}

static void log_txn_row(sqlite3_stmt *st, struct store_log_txn *t)
{
	t->ref = coldup(st, 0);
	t->qid = coldup(st, 1);
	t->ts = sqlite3_column_int64(st, 2);
	t->client_ip = coldup(st, 3);
	t->helo = coldup(st, 4);
	t->sender = coldup(st, 5);
	t->from_hdr = coldup(st, 6);
	t->subject = coldup(st, 7);
	t->message_id = coldup(st, 8);
	t->size = sqlite3_column_int64(st, 9);
	t->action = coldup(st, 10);
	t->reply = coldup(st, 11);
	t->tls = sqlite3_column_int(st, 12);
	t->scanned = sqlite3_column_type(st, 13) != SQLITE_NULL;
	t->score = t->scanned ? sqlite3_column_double(st, 13) : 0;
	t->cls = coldup(st, 14);
	t->symbols = coldup(st, 15);
}

/* Fill e for ref: its transaction row (or an empty one when only recipient
 * events exist, dated ts) and all its recipient events. */
static int load_entry(struct sq *q, const char *ref, int64_t ts, struct store_log_entry *e)
{
	sqlite3_stmt *st = stmt(q, ST_LOG_TXN_BY_REF);
	size_t cap = 0;
	int rc;

	if (st == NULL)
		return -1;
	bind_text(st, 1, ref);
	rc = step(q, st);
	if (rc == SQLITE_ROW) {
		log_txn_row(st, &e->txn);
	} else {
		e->txn.ref = xstrdup(ref);
		e->txn.ts = ts;
		e->txn.qid = xstrdup("");
		e->txn.client_ip = xstrdup("");
		e->txn.helo = xstrdup("");
		e->txn.sender = xstrdup("");
		e->txn.from_hdr = xstrdup("");
		e->txn.subject = xstrdup("");
		e->txn.message_id = xstrdup("");
		e->txn.action = xstrdup("");
		e->txn.reply = xstrdup("");
	}
	done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		dberr(q, "log search");
		return -1;
	}
	if ((st = stmt(q, ST_LOG_RCPT_BY_REF)) == NULL)
		return -1;
	bind_text(st, 1, ref);
	while ((rc = step(q, st)) == SQLITE_ROW) {
		if (e->n_rcpts == cap) {
			cap = cap ? cap * 2 : 4;
			e->rcpts = xrealloc(e->rcpts, cap * sizeof(*e->rcpts));
		}
		struct store_log_rcpt *r = &e->rcpts[e->n_rcpts++];
		r->ref = coldup(st, 0);
		r->ts = sqlite3_column_int64(st, 1);
		r->rcpt = coldup(st, 2);
		r->tenant = coldup(st, 3);
		r->status = coldup(st, 4);
		r->reply = coldup(st, 5);
	}
	done(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "log search");
		return -1;
	}
	return 0;
}

/* Candidate refs of a search, newest first. */
struct hits {
	struct hit { char *ref; int64_t ts; } *v;
	size_t n, cap;
};

static void hits_free(struct hits *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->v[i].ref);
	free(h->v);
}

/* Bind p to st, run it, append (ref, ts) rows to h.  0 or -1. */
static int collect(struct sq *q, const char *sql, const struct params *p, struct hits *h)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (fp_hit(q) || sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK) {
		dberr(q, "log search");
		return -1;
	}
	for (int i = 0; i < p->n; i++) {
		if (p->is_num[i])
			sqlite3_bind_int64(st, i + 1, p->num[i]);
		else
			bind_text(st, i + 1, p->text[i]);
	}
	while ((rc = step(q, st)) == SQLITE_ROW) {
		if (h->n == h->cap) {
			h->cap = h->cap ? h->cap * 2 : 16;
			h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
		}
		h->v[h->n].ref = coldup(st, 0);
		h->v[h->n].ts = sqlite3_column_int64(st, 1);
		h->n++;
	}
	if (rc != SQLITE_DONE)
		dberr(q, "log search");
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The filters on recipients and action, as tests on ref_col. */
static void rcpt_filters(struct buf *sql, struct params *p, const struct store_log_query *qr,
    const char *ref_col, const char *action_col)
{
	char frag[256];

	/* Not correlated: SQLite runs the substring scan once and probes the
	 * result per candidate, instead of a LIKE per candidate's events. */
	if (set(qr->recipient)) {
		snprintf(frag, sizeof(frag), " AND %s IN (SELECT r3.ref FROM log_rcpt r3 WHERE "
		    "r3.rcpt LIKE ? ESCAPE '\\')", ref_col);
		p_text(sql, p, frag, like_pattern(p, qr->recipient));
	}
	if (set(qr->action)) {
		if (action_col != NULL) {
			snprintf(frag, sizeof(frag), " AND (%s = ?", action_col);
			p_text(sql, p, frag, qr->action);
			buf_append_str(sql, " OR");
		} else {
			buf_append_str(sql, " AND (");
		}
		snprintf(frag, sizeof(frag), " EXISTS (SELECT 1 FROM log_rcpt r4 WHERE "
		    "r4.ref = %s AND r4.status = ?))", ref_col);
		p_text(sql, p, frag, qr->action);
	}
}

/*
 * A "transaction" in the log is a ref: its log_txn row if there is one,
 * else whatever recipient events carry the ref (the txn row is written
 * when the session's transaction ends; delivery events may come days
 * later, and may outlive a purged txn row).  Two queries, merged here:
 *
 *  A. log_txn rows (the latest per ref) matching every filter, walked
 *     newest first on the ts index and stopped at the limit, so the common
 *     "latest N" and "since T" searches read only what they return.
 *  B. refs with recipient events but no txn row ("orphans"), dated by
 *     their earliest event.  Skipped when a filter needs a txn field.  If A
 *     filled the limit, only orphans newer than A's oldest can make the
 *     cut, so B scans just that stretch of the ts index.
 */
int sq_log_search(struct store *s, const struct store_log_query *qr,
    struct store_log_entry **out, size_t *n)
{
	struct sq *q = SQ(s);
	struct buf sql = BUF_INIT;
	struct params p = { 0 };
	struct hits a = { 0 }, b = { 0 };
	struct store_log_entry *v = NULL;
	size_t cnt = 0;
	int64_t limit = qr->limit > INT64_MAX ? INT64_MAX : (int64_t)qr->limit;
	int txn_only = set(qr->sender) || set(qr->subject) || set(qr->qid) ||
	    set(qr->message_id) || set(qr->client_ip);
	int ret = -1;

	/* A: transactions. */
	buf_append_str(&sql, "SELECT t.ref, t.ts FROM log_txn t WHERE NOT EXISTS "
	    "(SELECT 1 FROM log_txn t2 WHERE t2.ref = t.ref AND t2.id > t.id)");
	if (set(qr->ref))
		p_text(&sql, &p, " AND t.ref = ?", qr->ref);
	if (set(qr->sender))
		p_text(&sql, &p, " AND t.sender LIKE ? ESCAPE '\\'", like_pattern(&p, qr->sender));
	if (set(qr->subject))
		p_text(&sql, &p, " AND t.subject LIKE ? ESCAPE '\\'", like_pattern(&p, qr->subject));
	if (set(qr->qid))
		p_text(&sql, &p, " AND t.qid = ?", qr->qid);
	if (set(qr->message_id)) {
		p_text(&sql, &p, " AND (t.message_id = ?", qr->message_id);
		p_text(&sql, &p, " OR t.message_id = '<' || ? || '>')", qr->message_id);
	}
	if (set(qr->client_ip))
		p_text(&sql, &p, " AND t.client_ip = ?", qr->client_ip);
	if (qr->since != 0)
		p_num(&sql, &p, " AND t.ts >= ?", qr->since);
	if (qr->until != 0)
		p_num(&sql, &p, " AND t.ts <= ?", qr->until);
	rcpt_filters(&sql, &p, qr, "t.ref", "t.action");
	p_num(&sql, &p, " ORDER BY t.ts DESC, t.id DESC LIMIT ?", limit);
	if (collect(q, sql.data, &p, &a) < 0)
		goto out;

	/* B: recipient events without a transaction row. */
	if (!txn_only) {
		int64_t lower = qr->since;
		if ((int64_t)a.n == limit && a.n > 0 && a.v[a.n - 1].ts > lower)
			lower = a.v[a.n - 1].ts;
		for (int i = 0; i < p.n_owned; i++)
			free(p.owned[i]);
		memset(&p, 0, sizeof(p));
		buf_reset(&sql);
		/* Without statistics the planner would walk the ref index (it
		 * saves the GROUP BY sort) over the whole table; with a lower
		 * bound the ts range is the small side. */
		buf_append_str(&sql, "SELECT r.ref, (SELECT min(r2.ts) FROM log_rcpt r2 WHERE "
		    "r2.ref = r.ref) AS m FROM log_rcpt r");
		if (lower != 0)
			buf_append_str(&sql, " INDEXED BY log_rcpt_ts");
		buf_append_str(&sql, " WHERE NOT EXISTS (SELECT 1 FROM log_txn t WHERE t.ref = r.ref)");
		if (set(qr->ref))
			p_text(&sql, &p, " AND r.ref = ?", qr->ref);
		/* The event that dates an orphan lies in [lower, until] itself. */
		if (lower != 0)
			p_num(&sql, &p, " AND r.ts >= ?", lower);
		if (qr->until != 0)
			p_num(&sql, &p, " AND r.ts <= ?", qr->until);
		rcpt_filters(&sql, &p, qr, "r.ref", NULL);
		buf_append_str(&sql, " GROUP BY r.ref HAVING 1");
		if (qr->since != 0)
			p_num(&sql, &p, " AND m >= ?", qr->since);
		p_num(&sql, &p, " ORDER BY m DESC, r.ref LIMIT ?", limit);
		if (collect(q, sql.data, &p, &b) < 0)
			goto out;
	}

	/* Merge A and B, newest first, up to the limit. */
	size_t ia = 0, ib = 0, total = a.n + b.n;
	if ((int64_t)total > limit)
		total = (size_t)limit;
	v = total ? xcalloc(total, sizeof(*v)) : NULL;
	ret = 0;
	while (cnt < total) {
		struct hit *h;
		if (ib >= b.n || (ia < a.n && a.v[ia].ts >= b.v[ib].ts))
			h = &a.v[ia++];
		else
			h = &b.v[ib++];
		if (load_entry(q, h->ref, h->ts, &v[cnt++]) < 0) {
			ret = -1;
			break;
		}
	}
out:
	hits_free(&a);
	hits_free(&b);
	for (int i = 0; i < p.n_owned; i++)
		free(p.owned[i]);
	buf_free(&sql);
	if (ret < 0) {
		store_log_entry_free(v, cnt);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int sq_log_purge(struct store *s, int64_t before, int64_t *n)
{
	struct sq *q = SQ(s);
	static const enum stmt_id ids[] = { ST_PURGE_TXN, ST_PURGE_RCPT, ST_PURGE_STAT };
	int64_t total = 0;

	if (sq_begin(s) < 0)
		return -1;
	for (size_t i = 0; i < MW_ARRAY_LEN(ids); i++) {
		sqlite3_stmt *st = stmt(q, ids[i]);
		if (st == NULL)
			goto fail;
		sqlite3_bind_int64(st, 1, before);
		if (run(q, st, "log purge") < 0)
			goto fail;
		/* Statistics rows are not log records; they are swept along so
		 * the table does not grow forever, but not counted. */
		if (ids[i] != ST_PURGE_STAT)
			total += sqlite3_changes(q->db);
	}
	if (sq_commit(s) < 0)
		return -1;
	*n = total;
	return 0;
fail:
	abort_tx(q);
	return -1;
}
