/*
 * store_sqlite_quarantine.c - the quarantine's index
 * (docs/quarantine.md): held messages with their verdict, the searches of
 * the CLI and the console, release and deletion, and what is due to
 * expire.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite_int.h"

/* ---- quarantine --------------------------------------------------------- */

#define QCOLS "id, qid, ref, ts, tenant, rcpt, deliver, sender, from_hdr, subject, score, " \
	"class, symbols, state, actor, acted, release_qid"

static void quarantine_row(sqlite3_stmt *st, struct store_quarantine *r)
{
	r->id = sqlite3_column_int64(st, 0);
	r->qid = coldup(st, 1);
	r->ref = coldup(st, 2);
	r->ts = sqlite3_column_int64(st, 3);
	r->tenant = coldup(st, 4);
	r->rcpt = coldup(st, 5);
	r->deliver = coldup(st, 6);
	r->sender = coldup(st, 7);
	r->from_hdr = coldup(st, 8);
	r->subject = coldup(st, 9);
	r->score = sqlite3_column_double(st, 10);
	r->cls = coldup(st, 11);
	r->symbols = coldup(st, 12);
	r->state = coldup(st, 13);
	r->actor = coldup(st, 14);
	r->acted = sqlite3_column_int64(st, 15);
	r->release_qid = coldup(st, 16);
}

int sq_quarantine_add(struct store *s, const struct store_quarantine *v, size_t n,
    int64_t *ids, int64_t now)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;

	if (sq_begin(s) < 0)
		return -1;
	st = qprep(q, "INSERT INTO quarantine(qid, ref, ts, tenant, rcpt, deliver, sender, from_hdr, "
	    "subject, score, class, symbols) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
	    "ON CONFLICT(qid, rcpt) DO NOTHING",   /* a repeated put after a crash */
	    "quarantine add");
	if (st == NULL) {
		abort_tx(q);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct store_quarantine *r = &v[i];
		sqlite3_reset(st);
		bind_text(st, 1, r->qid);
		bind_text(st, 2, r->ref);
		sqlite3_bind_int64(st, 3, r->ts ? r->ts : now);
		bind_text(st, 4, r->tenant);
		bind_text(st, 5, r->rcpt);
		bind_text(st, 6, r->deliver);
		bind_text(st, 7, r->sender);
		bind_text(st, 8, r->from_hdr);
		bind_text(st, 9, r->subject);
		sqlite3_bind_double(st, 10, r->score);
		bind_text(st, 11, r->cls);
		bind_text(st, 12, r->symbols);
		if (step(q, st) != SQLITE_DONE) {
			dberr(q, "quarantine add");
			sqlite3_finalize(st);
			abort_tx(q);
			return -1;
		}
		if (ids)
			ids[i] = sqlite3_last_insert_rowid(q->db);
	}
	sqlite3_finalize(st);
	return sq_commit(s);
}

int sq_quarantine_get(struct store *s, int64_t id, struct store_quarantine *out)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = qprep(q, "SELECT " QCOLS " FROM quarantine WHERE id = ?1",
	    "quarantine get");
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	rc = step(q, st);
	if (rc == SQLITE_ROW)
		quarantine_row(st, out);
	else if (rc != SQLITE_DONE)
		dberr(q, "quarantine get");
	else
		store_seterr(s, "no quarantined message %lld", (long long)id);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

int sq_quarantine_search(struct store *s, const struct store_quarantine_query *qr,
    struct store_quarantine **out, size_t *n)
{
	struct sq *q = SQ(s);
	struct buf sql = BUF_INIT;
	struct params p = { 0 };
	struct store_quarantine *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	int rc = -1;

	buf_append_str(&sql, "SELECT " QCOLS " FROM quarantine WHERE 1");
	if (set(qr->tenant))
		p_text(&sql, &p, " AND tenant = ?", qr->tenant);
	if (set(qr->state))
		p_text(&sql, &p, " AND state = ?", qr->state);
	if (set(qr->rcpt))
		p_text(&sql, &p, " AND rcpt LIKE ? ESCAPE '\\'", like_pattern(&p, qr->rcpt));
	if (set(qr->sender))
		p_text(&sql, &p, " AND sender LIKE ? ESCAPE '\\'", like_pattern(&p, qr->sender));
	if (set(qr->subject))
		p_text(&sql, &p, " AND subject LIKE ? ESCAPE '\\'", like_pattern(&p, qr->subject));
	if (qr->since != 0)
		p_num(&sql, &p, " AND ts >= ?", qr->since);
	if (qr->until != 0)
		p_num(&sql, &p, " AND ts <= ?", qr->until);
	p_num(&sql, &p, " ORDER BY ts DESC, id DESC LIMIT ?",
	    qr->limit > INT64_MAX ? INT64_MAX : (int64_t)qr->limit);
	if ((st = qprep(q, sql.data, "quarantine search")) == NULL)
		goto out;
	for (int i = 0; i < p.n; i++) {
		if (p.is_num[i])
			sqlite3_bind_int64(st, i + 1, p.num[i]);
		else
			bind_text(st, i + 1, p.text[i]);
	}
	int r;
	while ((r = step(q, st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		memset(&v[cnt], 0, sizeof(v[cnt]));
		quarantine_row(st, &v[cnt++]);
	}
	if (r != SQLITE_DONE) {
		dberr(q, "quarantine search");
		store_quarantine_free(v, cnt);
		goto out;
	}
	*out = v;
	*n = cnt;
	rc = 0;
out:
	sqlite3_finalize(st);
	for (int i = 0; i < p.n_owned; i++)
		free(p.owned[i]);
	buf_free(&sql);
	return rc;
}

int sq_quarantine_finish(struct store *s, int64_t id, const char *state, const char *actor,
    int64_t now, const char *release_qid)
{
	struct sq *q = SQ(s);
	/* The WHERE state = 'held' is what makes a release happen once: two
	 * concurrent releases race on this row, and one sees no change. */
	sqlite3_stmt *st = qprep(q, "UPDATE quarantine SET state = ?2, actor = ?3, acted = ?4, "
	    "release_qid = ?5 WHERE id = ?1 AND state = 'held'", "quarantine finish");

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, state);
	bind_text(st, 3, actor);
	sqlite3_bind_int64(st, 4, now);
	bind_text(st, 5, release_qid);
	int rc = step(q, st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "quarantine finish");
		return -1;
	}
	if (sqlite3_changes(q->db) == 0) {
		store_seterr(s, "quarantined message %lld is not held", (long long)id);
		return 1;
	}
	return 0;
}

int sq_quarantine_held(struct store *s, const char *qid, int64_t *n)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = qprep(q, "SELECT count(*) FROM quarantine WHERE qid = ?1 AND "
	    "state = 'held'", "quarantine held");

	if (st == NULL)
		return -1;
	bind_text(st, 1, qid);
	int rc = step(q, st);
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	else
		dberr(q, "quarantine held");
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

int sq_quarantine_due(struct store *s, int64_t now, int64_t default_retention, size_t max,
    int64_t **ids, size_t *n)
{
	struct sq *q = SQ(s);
	/* The tenant's own retention, else the default (a tenant removed since
	 * keeps the default too). */
	sqlite3_stmt *st = qprep(q, "SELECT q.id FROM quarantine q LEFT JOIN tenant t ON "
	    "t.name = q.tenant LEFT JOIN domain d ON d.domain = "
	    "substr(q.rcpt, length(rtrim(q.rcpt, replace(q.rcpt, '@', ''))) + 1) "
	    "WHERE q.state = 'held' AND q.ts < ?1 - coalesce(d.retention, t.retention, ?3) "
	    "ORDER BY q.ts LIMIT ?2", "quarantine due");
	int64_t *v = NULL;
	size_t cnt = 0;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	sqlite3_bind_int64(st, 3, default_retention);
	v = xcalloc(max, sizeof(*v));
	int rc;
	while ((rc = step(q, st)) == SQLITE_ROW && cnt < max)
		v[cnt++] = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		dberr(q, "quarantine due");
		free(v);
		return -1;
	}
	*ids = v;
	*n = cnt;
	return 0;
}
