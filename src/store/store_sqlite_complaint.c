/*
 * store_sqlite_complaint.c - complaints (docs/complaints.md): feedback
 * reports as they arrived, what they matched, and the counts per
 * reference id.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite_int.h"

/* ---- complaints -------------------------------------------------------------------- */

#define CCOLS "id, ts, source, kind, flags, digest, feedback_type, reporter, matched_ref, " \
	"\"match\", client_ip, sender, subject, raw"

static void complaint_row(sqlite3_stmt *st, struct store_complaint *c)
{
	const void *raw;
	int len;

	c->id = sqlite3_column_int64(st, 0);
	c->ts = sqlite3_column_int64(st, 1);
	c->source = coldup(st, 2);
	c->kind = coldup(st, 3);
	c->flags = coldup(st, 4);
	c->digest = coldup(st, 5);
	c->feedback_type = coldup(st, 6);
	c->reporter = coldup(st, 7);
	c->matched_ref = coldup(st, 8);
	c->match = coldup(st, 9);
	c->client_ip = coldup(st, 10);
	c->sender = coldup(st, 11);
	c->subject = coldup(st, 12);
	/* Bytes as received (NULs possible), plus a NUL for callers that
	 * print it. */
	raw = sqlite3_column_blob(st, 13);
	len = sqlite3_column_bytes(st, 13);
	c->raw_len = len > 0 ? (size_t)len : 0;
	c->raw = xmalloc(c->raw_len + 1);
	if (c->raw_len > 0)
		memcpy(c->raw, raw, c->raw_len);
	c->raw[c->raw_len] = '\0';
}

int sq_complaint_add(struct store *s, const struct store_complaint *c, int64_t *id)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	int rc;

	/* UNIQUE(digest) decides "the same report": a duplicate is one insert
	 * that does nothing, however many intakes race. */
	st = qprep(q, "INSERT INTO complaint(ts, source, kind, flags, digest, feedback_type, "
	    "reporter, matched_ref, \"match\", client_ip, sender, subject, raw) VALUES (?1, ?2, ?3, "
	    "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) ON CONFLICT(digest) DO NOTHING",
	    "complaint add");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, c->ts);
	bind_text(st, 2, c->source);
	bind_text(st, 3, c->kind);
	bind_text(st, 4, c->flags);
	bind_text(st, 5, c->digest);
	bind_text(st, 6, c->feedback_type);
	bind_text(st, 7, c->reporter);
	bind_text(st, 8, c->matched_ref);
	bind_text(st, 9, c->match);
	bind_text(st, 10, c->client_ip);
	bind_text(st, 11, c->sender);
	bind_text(st, 12, c->subject);
	sqlite3_bind_blob(st, 13, c->raw, (int)c->raw_len, SQLITE_STATIC);
	rc = step(q, st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "complaint add");
		return -1;
	}
	if (sqlite3_changes(q->db) > 0) {
		if (id != NULL)
			*id = sqlite3_last_insert_rowid(q->db);
		return 0;
	}
	/* Already there: tell which row it is (the CLI says "already #12"). */
	store_seterr(s, "a report with digest %s is already stored", c->digest);
	if (id != NULL) {
		st = qprep(q, "SELECT id FROM complaint WHERE digest = ?1", "complaint add");
		if (st == NULL)
			return -1;
		bind_text(st, 1, c->digest);
		rc = step(q, st);
		if (rc == SQLITE_ROW)
			*id = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			dberr(q, "complaint add");
			return -1;
		}
	}
	return 1;
}

int sq_complaint_get(struct store *s, int64_t id, struct store_complaint *out)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = qprep(q, "SELECT " CCOLS " FROM complaint WHERE id = ?1",
	    "complaint get");
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	rc = step(q, st);
	if (rc == SQLITE_ROW)
		complaint_row(st, out);
	else if (rc != SQLITE_DONE)
		dberr(q, "complaint get");
	else
		store_seterr(s, "no complaint %lld", (long long)id);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

int sq_complaint_count_ref(struct store *s, const char *ref, int64_t *n,
    int64_t *by_message_id)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = qprep(q, "SELECT count(*), "
	    "coalesce(sum(\"match\" = 'message-id'), 0) FROM complaint WHERE matched_ref = ?1 "
	    "AND \"match\" IN ('ref', 'message-id') "
	    "AND feedback_type NOT IN ('not-spam', 'auth-failure')", "complaint count");
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
	rc = step(q, st);
	if (rc == SQLITE_ROW) {
		*n = sqlite3_column_int64(st, 0);
		*by_message_id = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW) {
		dberr(q, "complaint count");
		return -1;
	}
	return 0;
}

int sq_complaint_list(struct store *s, int64_t since, size_t limit,
    struct store_complaint **out, size_t *n)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = qprep(q, "SELECT " CCOLS " FROM complaint WHERE ts >= ?1 "
	    "ORDER BY ts DESC, id DESC LIMIT ?2", "complaint list");
	struct store_complaint *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	while ((rc = step(q, st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		complaint_row(st, &v[cnt++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "complaint list");
		store_complaint_free(v, cnt);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}
