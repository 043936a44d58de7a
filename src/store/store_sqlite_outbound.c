/*
 * store_sqlite_outbound.c - the tenants' own outgoing mail
 * (docs/reputation.md): which Message-IDs a tenant sent and to which
 * domains, so that a bounce or a complaint about them is recognised.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite_int.h"

/* ---- the tenants' own outgoing mail ---------------------------------------------- */

int sq_outbound_add(struct store *s, const char *tenant, const char *msgid, int64_t now)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_OUTBOUND_ADD);

	if (st == NULL)
		return -1;
	bind_text(st, 1, tenant);
	bind_text(st, 2, msgid);
	sqlite3_bind_int64(st, 3, now);
	if (run(q, st, "outbound add") < 0)
		return -1;
	return sqlite3_changes(q->db) > 0 ? 0 : 1;
}

int sq_outbound_match(struct store *s, const char *tenant, const char *const *msgids,
    size_t n, char *matched, size_t mn)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_OUTBOUND_GET);

	if (st == NULL)
		return -1;
	/* One probe per id, in the caller's order (In-Reply-To first, then
	 * References newest first): the first known one is the answer. */
	for (size_t i = 0; i < n; i++) {
		bind_text(st, 1, tenant);
		bind_text(st, 2, msgids[i]);
		int rc = step(q, st);
		done(st);
		if (rc == SQLITE_ROW) {
			if (mn > 0)
				mw_strlcpy(matched, msgids[i], mn);
			return 0;
		}
		if (rc != SQLITE_DONE) {
			dberr(q, "outbound match");
			return -1;
		}
	}
	return 1;
}

int sq_outbound_rcpt_add(struct store *s, const char *tenant, const char *msgid,
    const char *domain)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_OUTBOUND_RCPT_ADD);

	if (st == NULL)
		return -1;
	bind_text(st, 1, tenant);
	bind_text(st, 2, msgid);
	bind_text(st, 3, domain);
	if (run(q, st, "outbound recipient add") < 0)
		return -1;
	if (sqlite3_changes(q->db) > 0)
		return 0;
	/* Nothing inserted: known already, or no such message. */
	sqlite3_stmt *g = stmt(q, ST_OUTBOUND_GET);
	if (g == NULL)
		return -1;
	bind_text(g, 1, tenant);
	bind_text(g, 2, msgid);
	int rc = step(q, g);
	done(g);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE) {
		dberr(q, "outbound recipient add");
		return -1;
	}
	store_seterr(s, "no outbound message <%s> for tenant %s", msgid, tenant);
	return -1;
}

int sq_outbound_rcpt_check(struct store *s, const char *tenant, const char *msgid,
    const char *const *domains, size_t n, char *known, size_t kn)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_OUTBOUND_RCPT_LIST);
	int rc, found = 0, any = 0;
	size_t used = 0;

	if (st == NULL)
		return -1;
	bind_text(st, 1, tenant);
	bind_text(st, 2, msgid);
	while ((rc = step(q, st)) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(st, 0);
		any++;
		for (size_t i = 0; i < n && !found; i++)
			found = strcmp(d, domains[i]) == 0;
		/* The first few, for the explanation. */
		if (any <= 3 && kn > used + 1) {
			int w = snprintf(known + used, kn - used, "%s%s", any > 1 ? ", " : "", d);
			if (w > 0)
				used = (size_t)w + used < kn ? used + (size_t)w : kn - 1;
		}
	}
	done(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "outbound recipient check");
		return -1;
	}
	if (any > 3 && kn > used + 1)
		snprintf(known + used, kn - used, " and %d more", any - 3);
	return found ? 0 : any ? 1 : 2;
}

int sq_outbound_purge(struct store *s, int64_t before, int64_t *n)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = qprep(q, "DELETE FROM outbound WHERE ts < ?1", "outbound purge");

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, before);
	int rc = step(q, st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "outbound purge");
		return -1;
	}
	*n = sqlite3_changes(q->db);
	if (sqlite3_exec(q->db, "DELETE FROM outbound_rcpt WHERE NOT EXISTS (SELECT 1 FROM outbound o "
	    "WHERE o.tenant = outbound_rcpt.tenant AND o.msgid = outbound_rcpt.msgid)",
	    NULL, NULL, NULL) != SQLITE_OK) {
		dberr(q, "outbound purge");
		return -1;
	}
	return 0;
}
