/*
 * store_sqlite_rep.c - sender reputation (docs/reputation.md): one row of
 * counters per sender key, and the events that changed them, for the
 * audit trail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite_int.h"

/* ---- sender reputation ------------------------------------------------------ */

/*
 * The keys that start with prefix are the range [prefix, end): end is the
 * prefix with its last byte that is not 0xff raised by one (and what
 * follows dropped).  Keys compare as bytes, so the range is exact, whatever
 * the prefix holds ('%' and '_' included, which is why this is not LIKE),
 * and it is one index range scan.  0 when there is no end (an empty prefix,
 * or all 0xff): everything from prefix on.
 */
static int prefix_end(const char *prefix, char *end, size_t n)
{
	size_t len = strlen(prefix);

	if (len >= n)
		return 0;
	memcpy(end, prefix, len + 1);
	while (len > 0 && (unsigned char)end[len - 1] == 0xff)
		end[--len] = '\0';
	if (len == 0)
		return 0;
	end[len - 1] = (char)((unsigned char)end[len - 1] + 1);
	return 1;
}

/* SQL text for a prefix range on column key, binding ?1 (and ?2 if there
 * is an end) into st after preparation via bind_prefix(). */
static const char *prefix_sql(int has_end)
{
	return has_end ? " WHERE key >= ?1 AND key < ?2" : " WHERE key >= ?1";
}

static void bind_prefix(sqlite3_stmt *st, const char *prefix, const char *end, int has_end)
{
	bind_text(st, 1, prefix);
	if (has_end)
		bind_text(st, 2, end);
}

static void rep_row(sqlite3_stmt *st, struct store_rep *r)
{
	const unsigned char *k = sqlite3_column_text(st, 0);

	mw_strlcpy(r->key, k ? (const char *)k : "", sizeof(r->key));
	r->updated = sqlite3_column_int64(st, 1);
	r->first_seen = sqlite3_column_int64(st, 2);
	r->reset = sqlite3_column_int64(st, 3);
	r->msgs = sqlite3_column_double(st, 4);
	r->valid = sqlite3_column_double(st, 5);
	r->invalid = sqlite3_column_double(st, 6);
	r->traps = sqlite3_column_double(st, 7);
	r->complaints = sqlite3_column_double(st, 8);
	r->spam = sqlite3_column_double(st, 9);
	r->ham = sqlite3_column_double(st, 10);
}

int sq_rep_get(struct store *s, const char *key, struct store_rep *out)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_REP_GET);
	int rc;

	if (st == NULL)
		return -1;
	bind_text(st, 1, key);
	rc = step(q, st);
	if (rc == SQLITE_ROW)
		rep_row(st, out);
	else if (rc != SQLITE_DONE)
		dberr(q, "reputation get");
	done(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

int sq_rep_put(struct store *s, const struct store_rep *r)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_REP_PUT);

	if (st == NULL)
		return -1;
	bind_text(st, 1, r->key);
	sqlite3_bind_int64(st, 2, r->updated);
	sqlite3_bind_int64(st, 3, r->first_seen);
	sqlite3_bind_int64(st, 4, r->reset);
	sqlite3_bind_double(st, 5, r->msgs);
	sqlite3_bind_double(st, 6, r->valid);
	sqlite3_bind_double(st, 7, r->invalid);
	sqlite3_bind_double(st, 8, r->traps);
	sqlite3_bind_double(st, 9, r->complaints);
	sqlite3_bind_double(st, 10, r->spam);
	sqlite3_bind_double(st, 11, r->ham);
	return run(q, st, "reputation put");
}

int sq_rep_list(struct store *s, const char *prefix, size_t limit, struct store_rep **out,
    size_t *n)
{
	struct sq *q = SQ(s);
	char end[STORE_REP_KEY_MAX], sql[256];
	int has_end = prefix_end(prefix, end, sizeof(end));
	struct store_rep *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT " REP_COLS " FROM rep%s ORDER BY key LIMIT ?3",
	    prefix_sql(has_end));
	sqlite3_stmt *st = qprep(q, sql, "reputation list");
	if (st == NULL)
		return -1;
	bind_prefix(st, prefix, end, has_end);
	sqlite3_bind_int64(st, 3, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	while ((rc = step(q, st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		memset(&v[cnt], 0, sizeof(v[cnt]));
		rep_row(st, &v[cnt++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "reputation list");
		free(v);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* The statistics rows go in the same transaction as the counters: a reset
 * that forgot one but not the other would let the old harvest evidence
 * list the sender again at its next message. */
int sq_rep_clear(struct store *s, const char *key, const char *stat_kind,
    const char *stat_key)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	int64_t changed = 0;

	if (sq_begin(s) < 0)
		return -1;
	if ((st = qprep(q, "DELETE FROM rep WHERE key = ?1", "reputation clear")) == NULL)
		goto fail;
	bind_text(st, 1, key);
	int rc = step(q, st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "reputation clear");
		goto fail;
	}
	changed += sqlite3_changes(q->db);
	if (stat_kind != NULL && stat_key != NULL) {
		st = qprep(q, "DELETE FROM rcpt_stat WHERE kind = ?1 AND key = ?2",
		    "reputation clear");
		if (st == NULL)
			goto fail;
		bind_text(st, 1, stat_kind);
		bind_text(st, 2, stat_key);
		rc = step(q, st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			dberr(q, "reputation clear");
			goto fail;
		}
		changed += sqlite3_changes(q->db);
	}
	if (sq_commit(s) < 0)
		return -1;
	if (changed == 0) {
		store_seterr(s, "no reputation for '%s'", key);
		return 1;
	}
	return 0;
fail:
	abort_tx(q);
	return -1;
}

int sq_rep_event_add(struct store *s, int64_t ts, const char *key, const char *kind,
    const char *ref, const char *detail, size_t keep)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;

	if (sq_begin(s) < 0)
		return -1;
	if ((st = stmt(q, ST_REP_EVENT_ADD)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, ts);
	bind_text(st, 2, key);
	bind_text(st, 3, kind);
	bind_text(st, 4, ref);
	bind_text(st, 5, detail);
	if (run(q, st, "reputation event add") < 0)
		goto fail;
	/* Trimmed at insert, so the table is bounded by the number of keys
	 * without a purge to schedule. */
	if ((st = stmt(q, ST_REP_EVENT_TRIM)) == NULL)
		goto fail;
	bind_text(st, 1, key);
	sqlite3_bind_int64(st, 2, (int64_t)keep);
	if (run(q, st, "reputation event trim") < 0)
		goto fail;
	return sq_commit(s);
fail:
	abort_tx(q);
	return -1;
}

int sq_rep_event_list(struct store *s, const char *prefix, size_t limit,
    struct store_rep_event **out, size_t *n)
{
	struct sq *q = SQ(s);
	char end[STORE_REP_KEY_MAX], sql[256];
	int has_end = prefix_end(prefix, end, sizeof(end));
	struct store_rep_event *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT id, ts, key, kind, ref, detail FROM rep_event%s "
	    "ORDER BY ts DESC, id DESC LIMIT ?3", prefix_sql(has_end));
	sqlite3_stmt *st = qprep(q, sql, "reputation events");
	if (st == NULL)
		return -1;
	bind_prefix(st, prefix, end, has_end);
	sqlite3_bind_int64(st, 3, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	while ((rc = step(q, st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		struct store_rep_event *e = &v[cnt++];
		e->id = sqlite3_column_int64(st, 0);
		e->ts = sqlite3_column_int64(st, 1);
		e->key = coldup(st, 2);
		e->kind = coldup(st, 3);
		e->ref = coldup(st, 4);
		e->detail = coldup(st, 5);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "reputation events");
		store_rep_event_free(v, cnt);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}
