/*
 * store_sqlite_list.c - allow and block lists per tenant and user
 * (docs/policy.md), the audit log of every change made to them, and when
 * each recipient's quarantine digest was last sent (docs/quarantine.md).
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite_int.h"

/* ---- sender lists and audit ------------------------------------------------ */

#define LCOLS "id, tenant, user, kind, pattern, no_auth, created, actor"

static int list_collect(struct sq *q, sqlite3_stmt *st, struct store_list_entry **out,
    size_t *n)
{
	struct store_list_entry *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc;

	while ((rc = step(q, st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 8;
			v = xrealloc(v, cap * sizeof(*v));
		}
		struct store_list_entry *e = &v[cnt++];
		e->id = sqlite3_column_int64(st, 0);
		e->tenant = coldup(st, 1);
		e->user = coldup(st, 2);
		e->kind = coldup(st, 3);
		e->pattern = coldup(st, 4);
		e->no_auth = sqlite3_column_int(st, 5);
		e->created = sqlite3_column_int64(st, 6);
		e->actor = coldup(st, 7);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "list read");
		store_list_free(v, cnt);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int sq_list_add(struct store *s, const struct store_list_entry *e, int64_t now)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = qprep(q, "INSERT INTO sender_list(tenant, user, kind, pattern, no_auth, "
	    "created, actor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", "list add");

	if (st == NULL)
		return -1;
	bind_text(st, 1, e->tenant);
	bind_text(st, 2, e->user);
	bind_text(st, 3, e->kind);
	bind_text(st, 4, e->pattern);
	sqlite3_bind_int(st, 5, e->no_auth ? 1 : 0);
	sqlite3_bind_int64(st, 6, now);
	bind_text(st, 7, e->actor);
	int rc = step(q, st);
	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT_UNIQUE) {
		store_seterr(s, "%s entry '%s' already exists", e->kind, e->pattern);
		return 1;
	}
	if (rc != SQLITE_DONE) {
		dberr(q, "list add");
		return -1;
	}
	return 0;
}

int sq_list_remove(struct store *s, const char *tenant, const char *user, const char *kind,
    const char *pattern)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = qprep(q, "DELETE FROM sender_list WHERE tenant = ?1 AND user = ?2 AND "
	    "kind = ?3 AND pattern = ?4", "list remove");

	if (st == NULL)
		return -1;
	bind_text(st, 1, tenant);
	bind_text(st, 2, user);
	bind_text(st, 3, kind);
	bind_text(st, 4, pattern);
	int rc = step(q, st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "list remove");
		return -1;
	}
	if (sqlite3_changes(q->db) == 0) {
		store_seterr(s, "no %s entry '%s'", kind, pattern);
		return 1;
	}
	return 0;
}

int sq_list_for_rcpt(struct store *s, const char *tenant, const char *rcpt,
    struct store_list_entry **out, size_t *n)
{
	struct sq *q = SQ(s);
	/* Every RCPT asks: the unique index (tenant, user, ...) serves both
	 * halves of the OR as range scans. */
	sqlite3_stmt *st = qprep(q, "SELECT " LCOLS " FROM sender_list WHERE tenant = ?1 AND "
	    "(user = '' OR user = ?2)", "list lookup");

	if (st == NULL)
		return -1;
	bind_text(st, 1, tenant);
	bind_text(st, 2, rcpt);
	return list_collect(q, st, out, n);
}

int sq_list_search(struct store *s, const char *tenant, const char *user, const char *kind,
    struct store_list_entry **out, size_t *n)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = qprep(q, "SELECT " LCOLS " FROM sender_list WHERE (?1 IS NULL OR "
	    "tenant = ?1) AND (?2 IS NULL OR user = ?2) AND (?3 IS NULL OR kind = ?3) "
	    "ORDER BY tenant, user, kind, pattern", "list search");

	if (st == NULL)
		return -1;
	if (tenant)
		bind_text(st, 1, tenant);
	if (user)
		bind_text(st, 2, user);
	if (kind)
		bind_text(st, 3, kind);
	return list_collect(q, st, out, n);
}

int sq_audit_add(struct store *s, const char *actor, const char *action, const char *object,
    const char *detail, int64_t now)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = qprep(q, "INSERT INTO audit(ts, actor, action, object, detail) VALUES "
	    "(?1, ?2, ?3, ?4, ?5)", "audit add");

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	bind_text(st, 2, actor);
	bind_text(st, 3, action);
	bind_text(st, 4, object);
	bind_text(st, 5, detail);
	int rc = step(q, st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "audit add");
		return -1;
	}
	return 0;
}

int sq_audit_search(struct store *s, int64_t since, size_t limit, struct store_audit **out,
    size_t *n)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = qprep(q, "SELECT id, ts, actor, action, object, detail FROM audit "
	    "WHERE ts >= ?1 ORDER BY ts DESC, id DESC LIMIT ?2", "audit search");
	struct store_audit *v = NULL;
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
		struct store_audit *a = &v[cnt++];
		a->id = sqlite3_column_int64(st, 0);
		a->ts = sqlite3_column_int64(st, 1);
		a->actor = coldup(st, 2);
		a->action = coldup(st, 3);
		a->object = coldup(st, 4);
		a->detail = coldup(st, 5);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "audit search");
		store_audit_free(v, cnt);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int sq_digest_get(struct store *s, const char *rcpt, int64_t *last, int64_t *sent)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = qprep(q, "SELECT last_ts, last_sent FROM digest_state WHERE rcpt = ?1",
	    "digest get");

	if (st == NULL)
		return -1;
	bind_text(st, 1, rcpt);
	int rc = step(q, st);
	if (rc == SQLITE_ROW) {
		*last = sqlite3_column_int64(st, 0);
		*sent = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		dberr(q, "digest get");
		return -1;
	}
	return 0;
}

int sq_digest_set(struct store *s, const char *rcpt, int64_t last, int64_t sent)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = qprep(q, "INSERT INTO digest_state(rcpt, last_ts, last_sent) VALUES "
	    "(?1, ?2, ?3) ON CONFLICT(rcpt) DO UPDATE SET last_ts = max(last_ts, excluded.last_ts), "
	    "last_sent = max(last_sent, excluded.last_sent)", "digest set");

	if (st == NULL)
		return -1;
	bind_text(st, 1, rcpt);
	sqlite3_bind_int64(st, 2, last);
	sqlite3_bind_int64(st, 3, sent);
	int rc = step(q, st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "digest set");
		return -1;
	}
	return 0;
}

int sq_tenant_digest(struct store *s, const char *tenant, int64_t *interval)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = qprep(q, "SELECT digest FROM tenant WHERE name = ?1", "tenant digest");

	if (st == NULL)
		return -1;
	bind_text(st, 1, tenant);
	int rc = step(q, st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		*interval = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		dberr(q, "tenant digest");
		return -1;
	}
	return 0;
}
