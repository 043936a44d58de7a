/*
 * store_sqlite_user.c - users and aliases of the hosted domains, the
 * recipient lookup every RCPT TO makes (docs/storage.md), and the
 * per-client recipient statistics that sender reputation reads.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite_int.h"

/* ---- users -------------------------------------------------------------- */

/* alias_of (malloc'd, NULL for a primary) and tenant id of a user; 1 if none. */
static int user_get(struct sq *q, const char *address, char **alias_of, int64_t *tenant_id)
{
	sqlite3_stmt *st = stmt(q, ST_USER_GET);
	int rc;

	if (st == NULL)
		return -1;
	bind_text(st, 1, address);
	rc = step(q, st);
	if (rc == SQLITE_ROW) {
		*alias_of = sqlite3_column_type(st, 1) == SQLITE_NULL ? NULL : coldup(st, 1);
		*tenant_id = sqlite3_column_int64(st, 2);
		done(st);
		return 0;
	}
	if (rc != SQLITE_DONE) {
		dberr(q, "user get");
		done(st);
		return -1;
	}
	done(st);
	return 1;
}

int sq_user_add(struct store *s, const char *address, const char *domain,
    const char *alias_of)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	int64_t did, tid, ttid;
	char *target_alias = NULL;
	int rc;

	if (sq_begin(s) < 0)
		return -1;
	rc = sq_domain_find(q, domain, &did, &tid);
	if (rc == 1)
		store_seterr(s, "domain '%s' is not hosted", domain);
	if (rc != 0)
		goto fail;
	if (alias_of != NULL) {
		rc = user_get(q, alias_of, &target_alias, &ttid);
		if (rc == 1) {
			store_seterr(s, "alias target '%s' does not exist", alias_of);
			rc = -1;
		}
		if (rc != 0)
			goto fail;
		rc = -1;
		/* One level only: lookups resolve an alias in one step, and a
		 * chain could loop. */
		if (target_alias != NULL) {
			store_seterr(s, "alias target '%s' is itself an alias of '%s'", alias_of,
			    target_alias);
			goto fail;
		}
		if (ttid != tid) {
			store_seterr(s, "alias target '%s' belongs to another tenant", alias_of);
			goto fail;
		}
	}
	rc = -1;
	if ((st = stmt(q, ST_USER_ADD)) == NULL)
		goto fail;
	bind_text(st, 1, address);
	if (alias_of != NULL)
		bind_text(st, 2, alias_of);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_int64(st, 3, did);
	int src = step(q, st);
	if (src == SQLITE_CONSTRAINT_UNIQUE) {
		store_seterr(s, "user '%s' already exists", address);
		done(st);
		goto fail;
	}
	if (src != SQLITE_DONE) {
		dberr(q, "user add");
		done(st);
		goto fail;
	}
	done(st);
	return sq_commit(s);
fail:
	free(target_alias);
	abort_tx(q);
	return rc;
}

int sq_user_remove(struct store *s, const char *address)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_USER_DEL);

	if (st == NULL)
		return -1;
	bind_text(st, 1, address);
	/* Aliases of the address go with it (ON DELETE CASCADE). */
	if (run(q, st, "user remove") < 0)
		return -1;
	if (sqlite3_changes(q->db) == 0) {
		store_seterr(s, "user '%s' not found", address);
		return 1;
	}
	return 0;
}

int sq_user_list(struct store *s, const char *domain, struct store_user **out, size_t *n)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_USER_LIST);
	struct store_user *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc;

	if (st == NULL)
		return -1;
	if (domain != NULL)
		bind_text(st, 1, domain);
	while ((rc = step(q, st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 8;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[cnt].address = coldup(st, 0);
		v[cnt].alias_of = sqlite3_column_type(st, 1) == SQLITE_NULL ? NULL : coldup(st, 1);
		v[cnt].tenant = coldup(st, 2);
		cnt++;
	}
	done(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "user list");
		store_user_free(v, cnt);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int sq_rcpt_lookup(struct store *s, const char *address, const char *domain,
    const char *catchall, struct store_rcpt *out)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_RCPT_LOOKUP);
	int rc;

	if (st == NULL)
		return -1;
	bind_text(st, 1, address);
	bind_text(st, 2, catchall);
	bind_text(st, 3, domain);
	rc = step(q, st);
	if (rc != SQLITE_ROW) {
		done(st);
		if (rc != SQLITE_DONE) {
			dberr(q, "rcpt lookup");
			return -1;
		}
		out->status = RCPT_NOT_HOSTED;
		return 0;
	}
	mw_strlcpy(out->deliver, (const char *)sqlite3_column_text(st, 0), sizeof(out->deliver));
	out->tenant_id = sqlite3_column_int64(st, 1);
	mw_strlcpy(out->tenant, (const char *)sqlite3_column_text(st, 2), sizeof(out->tenant));
	if (sqlite3_column_type(st, 3) == SQLITE_NULL) {
		out->status = RCPT_UNKNOWN_USER;
	} else {
		/* An alias (or a catch-all pointing at a mailbox) resolves to its
		 * target; otherwise the address itself is delivered to. */
		const unsigned char *alias = sqlite3_column_text(st, 4);
		out->status = RCPT_VALID;
		mw_strlcpy(out->canonical, alias ? (const char *)alias : address,
		    sizeof(out->canonical));
	}
	const unsigned char *action = sqlite3_column_text(st, 5);
	mw_strlcpy(out->action, action ? (const char *)action : "reject", sizeof(out->action));
	out->tag = sqlite3_column_type(st, 6) == SQLITE_NULL ? STORE_SCORE_DEFAULT :
	    sqlite3_column_int64(st, 6);
	out->probable_spam = sqlite3_column_type(st, 7) == SQLITE_NULL ? STORE_SCORE_DEFAULT :
	    sqlite3_column_int64(st, 7);
	const unsigned char *bulk = sqlite3_column_text(st, 8);
	mw_strlcpy(out->bulk, bulk ? (const char *)bulk : "deliver", sizeof(out->bulk));
	done(st);
	return 0;
}

/* ---- recipient statistics ---------------------------------------------- */

static int stat_add1(struct sq *q, const char *kind, const char *key, int valid, int64_t hour)
{
	sqlite3_stmt *st = stmt(q, ST_STAT_ADD);

	if (st == NULL)
		return -1;
	bind_text(st, 1, kind);
	bind_text(st, 2, key);
	sqlite3_bind_int64(st, 3, hour);
	sqlite3_bind_int(st, 4, valid ? 1 : 0);
	sqlite3_bind_int(st, 5, valid ? 0 : 1);
	return run(q, st, "rcpt stat add");
}

int sq_rcpt_stat_add(struct store *s, const char *client_ip, const char *sender_domain,
    int valid, int64_t hour)
{
	struct sq *q = SQ(s);

	if (sq_begin(s) < 0)
		return -1;
	if ((client_ip != NULL && stat_add1(q, "ip", client_ip, valid, hour) < 0) ||
	    stat_add1(q, "sender_domain", sender_domain, valid, hour) < 0) {
		abort_tx(q);
		return -1;
	}
	return sq_commit(s);
}

int sq_rcpt_stat_get(struct store *s, const char *kind, const char *key,
    int64_t since_hour, int64_t *valid, int64_t *invalid)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_STAT_GET);

	if (st == NULL)
		return -1;
	bind_text(st, 1, kind);
	bind_text(st, 2, key);
	sqlite3_bind_int64(st, 3, since_hour);
	if (step(q, st) != SQLITE_ROW) {
		dberr(q, "rcpt stat get");
		done(st);
		return -1;
	}
	*valid = sqlite3_column_int64(st, 0);
	*invalid = sqlite3_column_int64(st, 1);
	done(st);
	return 0;
}
