/*
 * store_sqlite_trap.c - spam-trap addresses and the hits on them
 * (docs/reputation.md): which recipients are traps, and every message
 * that reached one.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite_int.h"

/* ---- spam traps ------------------------------------------------------------------ */

int sq_trap_add(struct store *s, const char *pattern, const char *tenant, const char *actor,
    int64_t now)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = qprep(q, "INSERT INTO trap(pattern, tenant, created, actor) VALUES "
	    "(?1, ?2, ?3, ?4)", "trap add");

	if (st == NULL)
		return -1;
	bind_text(st, 1, pattern);
	bind_text(st, 2, tenant);
	sqlite3_bind_int64(st, 3, now);
	bind_text(st, 4, actor);
	int rc = step(q, st);
	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT_UNIQUE) {
		store_seterr(s, "trap '%s'%s%s already exists", pattern, tenant[0] ? " of tenant " : "",
		    tenant);
		return 1;
	}
	if (rc != SQLITE_DONE) {
		dberr(q, "trap add");
		return -1;
	}
	return 0;
}

int sq_trap_remove(struct store *s, const char *pattern, const char *tenant)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = qprep(q, "DELETE FROM trap WHERE pattern = ?1 AND tenant = ?2",
	    "trap remove");

	if (st == NULL)
		return -1;
	bind_text(st, 1, pattern);
	bind_text(st, 2, tenant);
	int rc = step(q, st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "trap remove");
		return -1;
	}
	if (sqlite3_changes(q->db) == 0) {
		store_seterr(s, "no trap '%s'%s%s", pattern, tenant[0] ? " of tenant " : "", tenant);
		return 1;
	}
	return 0;
}

int sq_trap_list(struct store *s, const char *tenant, struct store_trap **out, size_t *n)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = qprep(q, "SELECT id, pattern, tenant, created, actor FROM trap "
	    "WHERE ?1 IS NULL OR tenant = ?1 ORDER BY tenant, pattern", "trap list");
	struct store_trap *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc;

	if (st == NULL)
		return -1;
	if (tenant != NULL)
		bind_text(st, 1, tenant);
	while ((rc = step(q, st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		struct store_trap *t = &v[cnt++];
		t->id = sqlite3_column_int64(st, 0);
		t->pattern = coldup(st, 1);
		t->tenant = coldup(st, 2);
		t->created = sqlite3_column_int64(st, 3);
		t->actor = coldup(st, 4);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "trap list");
		store_trap_free(v, cnt);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int sq_trap_match(struct store *s, const char *address, const char *domain, char *pattern,
    size_t pn, char *tenant, size_t tn)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_TRAP_MATCH);
	int rc;

	if (st == NULL)
		return -1;
	bind_text(st, 1, address);
	bind_text(st, 2, domain);
	rc = step(q, st);
	if (rc == SQLITE_ROW) {
		if (pn > 0)
			colcpy(st, 0, pattern, pn);
		if (tn > 0)
			colcpy(st, 1, tenant, tn);
	} else if (rc != SQLITE_DONE) {
		dberr(q, "trap match");
	}
	done(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

#define THCOLS "id, ts, ref, client_ip, helo, sender, rcpt, tenant, subject, file"

/* The hit and the bound in one transaction; the names of the files whose
 * rows went are handed out only after the commit, so a caller never
 * unlinks the evidence of a row that is still there. */
int sq_trap_hit_add(struct store *s, const struct store_trap_hit *h, size_t max_keep,
    char ***gone, size_t *n_gone)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	char **v = NULL;
	size_t cnt = 0, cap = 0;
	int rc;

	if (sq_begin(s) < 0)
		return -1;
	st = qprep(q, "INSERT INTO trap_hit(ts, ref, client_ip, helo, sender, rcpt, tenant, "
	    "subject, file) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", "trap hit add");
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, h->ts);
	bind_text(st, 2, h->ref);
	bind_text(st, 3, h->client_ip);
	bind_text(st, 4, h->helo);
	bind_text(st, 5, h->sender);
	bind_text(st, 6, h->rcpt);
	bind_text(st, 7, h->tenant);
	bind_text(st, 8, h->subject);
	bind_text(st, 9, h->file);
	rc = step(q, st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "trap hit add");
		goto fail;
	}
	if (max_keep > 0) {
		st = qprep(q, "DELETE FROM trap_hit WHERE id IN (SELECT id FROM trap_hit "
		    "ORDER BY ts DESC, id DESC LIMIT -1 OFFSET ?1) RETURNING file", "trap hit bound");
		if (st == NULL)
			goto fail;
		sqlite3_bind_int64(st, 1, max_keep > INT64_MAX ? INT64_MAX : (int64_t)max_keep);
		while ((rc = step(q, st)) == SQLITE_ROW) {
			const unsigned char *f = sqlite3_column_text(st, 0);
			if (f == NULL || f[0] == '\0')
				continue;   /* a hit kept without its message */
			if (cnt == cap) {
				cap = cap ? cap * 2 : 8;
				v = xrealloc(v, cap * sizeof(*v));
			}
			v[cnt++] = xstrdup((const char *)f);
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			dberr(q, "trap hit bound");
			goto fail;
		}
	}
	if (sq_commit(s) < 0) {
		store_strings_free(v, cnt);
		return -1;
	}
	*gone = v;
	*n_gone = cnt;
	return 0;
fail:
	store_strings_free(v, cnt);
	abort_tx(q);
	return -1;
}

int sq_trap_hit_list(struct store *s, const char *client_ip, const char *sender,
    size_t limit, struct store_trap_hit **out, size_t *n)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = qprep(q, "SELECT " THCOLS " FROM trap_hit WHERE (?1 IS NULL OR "
	    "client_ip = ?1) AND (?2 IS NULL OR sender = ?2) ORDER BY ts DESC, id DESC LIMIT ?3",
	    "trap hit list");
	struct store_trap_hit *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc;

	if (st == NULL)
		return -1;
	if (client_ip != NULL)
		bind_text(st, 1, client_ip);
	if (sender != NULL)
		bind_text(st, 2, sender);
	sqlite3_bind_int64(st, 3, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	while ((rc = step(q, st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		struct store_trap_hit *h = &v[cnt++];
		h->id = sqlite3_column_int64(st, 0);
		h->ts = sqlite3_column_int64(st, 1);
		h->ref = coldup(st, 2);
		h->client_ip = coldup(st, 3);
		h->helo = coldup(st, 4);
		h->sender = coldup(st, 5);
		h->rcpt = coldup(st, 6);
		h->tenant = coldup(st, 7);
		h->subject = coldup(st, 8);
		h->file = coldup(st, 9);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "trap hit list");
		store_trap_hit_free(v, cnt);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}
