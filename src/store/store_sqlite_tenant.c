/*
 * store_sqlite_tenant.c - tenants and their hosted domains
 * (docs/storage.md, docs/policy.md): adding, removing, listing, and their
 * settings.
 */
#include <stdlib.h>
#include <string.h>

#include "base/timeparse.h"
#include "conf/conf.h"
#include "store/store_sqlite_int.h"

/* ---- tenants ------------------------------------------------------------ */

int sq_tenant_add(struct store *s, const char *name, const char *action, int64_t now)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_TENANT_ADD);
	int rc;

	if (st == NULL)
		return -1;
	bind_text(st, 1, name);
	bind_text(st, 2, action);
	sqlite3_bind_int64(st, 3, now);
	rc = step(q, st);
	if (rc == SQLITE_CONSTRAINT_UNIQUE) {
		store_seterr(s, "tenant '%s' already exists", name);
		done(st);
		return -1;
	}
	if (rc != SQLITE_DONE) {
		dberr(q, "tenant add");
		done(st);
		return -1;
	}
	done(st);
	return 0;
}

static void tenant_row(sqlite3_stmt *st, struct store_tenant *t)
{
	t->id = sqlite3_column_int64(st, 0);
	t->name = coldup(st, 1);
	t->action = coldup(st, 2);
	t->created = sqlite3_column_int64(st, 3);
	t->tag = sqlite3_column_type(st, 4) == SQLITE_NULL ? STORE_SCORE_DEFAULT :
	    sqlite3_column_int64(st, 4);
	t->probable_spam = sqlite3_column_type(st, 5) == SQLITE_NULL ? STORE_SCORE_DEFAULT :
	    sqlite3_column_int64(st, 5);
	const unsigned char *bulk = sqlite3_column_text(st, 6);
	mw_strlcpy(t->bulk, bulk ? (const char *)bulk : "deliver", sizeof(t->bulk));
	t->retention = sqlite3_column_int64(st, 7);    /* NULL reads as 0: the default */
	t->digest = sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 8);
}

int sq_tenant_get(struct store *s, const char *name, struct store_tenant *out)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_TENANT_GET);
	int rc;

	if (st == NULL)
		return -1;
	bind_text(st, 1, name);
	rc = step(q, st);
	if (rc == SQLITE_ROW) {
		tenant_row(st, out);
		done(st);
		return 0;
	}
	if (rc != SQLITE_DONE) {
		dberr(q, "tenant get");
		done(st);
		return -1;
	}
	done(st);
	store_seterr(s, "tenant '%s' not found", name);
	return 1;
}

/* One integer from a one-row query with one integer parameter. */
static int query_int(struct sq *q, enum stmt_id id, int64_t num, int64_t *out)
{
	sqlite3_stmt *st = stmt(q, id);
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, num);
	rc = step(q, st);
	if (rc != SQLITE_ROW) {
		dberr(q, "count");
		done(st);
		return -1;
	}
	*out = sqlite3_column_int64(st, 0);
	done(st);
	return 0;
}

int sq_tenant_remove(struct store *s, const char *name)
{
	struct sq *q = SQ(s);
	struct store_tenant t = { 0 };
	sqlite3_stmt *st;
	int64_t n;
	int rc;

	if (sq_begin(s) < 0)
		return -1;
	rc = sq_tenant_get(s, name, &t);
	if (rc != 0)
		goto fail;
	rc = -1;
	if (query_int(q, ST_TENANT_DOMCOUNT, t.id, &n) < 0)
		goto fail;
	if (n > 0) {
		store_seterr(s, "tenant '%s' still has %lld domain%s", name, (long long)n,
		    n == 1 ? "" : "s");
		goto fail;
	}
	if ((st = stmt(q, ST_TENANT_DEL)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, t.id);
	if (run(q, st, "tenant remove") < 0)
		goto fail;
	free(t.name);
	free(t.action);
	return sq_commit(s);
fail:
	free(t.name);
	free(t.action);
	abort_tx(q);
	return rc;
}

/* One column of a settings row: key -> column (a fixed list, so the name can
 * go into the SQL text), value -> text, score (hundredths), duration
 * (seconds) or NULL ("default", or value == NULL). */
static int bind_setting(sqlite3_stmt *st, int i, const char *key, const char *value)
{
	int64_t v;

	if (value == NULL || strcmp(value, "default") == 0)
		return sqlite3_bind_null(st, i) == SQLITE_OK ? 0 : -1;
	if (strcmp(key, "tag") == 0 || strcmp(key, "probable_spam") == 0)
		return conf_parse_score(value, &v) == 0 && sqlite3_bind_int64(st, i, v) == SQLITE_OK ?
		    0 : -1;
	if (strcmp(key, "retention") == 0 || strcmp(key, "digest") == 0)
		return timeparse_duration(value, &v) == 0 && sqlite3_bind_int64(st, i, v) == SQLITE_OK ?
		    0 : -1;
	bind_text(st, i, value);
	return 0;
}

static int set_column(struct store *s, const char *table, const char *keycol, const char *who,
    const char *key, const char *value, const char *const *allowed)
{
	struct sq *q = SQ(s);
	char sql[160];
	size_t k;

	/* store.c let only known keys through; this is for a front end and a
	 * back end that disagree. */
	for (k = 0; allowed[k] != NULL && strcmp(allowed[k], key) != 0; k++)
		;
	if (allowed[k] == NULL) {
		store_seterr(s, "unknown %s setting '%s'", table, key);
		return -1;
	}
	snprintf(sql, sizeof(sql), "UPDATE \"%s\" SET %s = ?2 WHERE %s = ?1", table, allowed[k],
	    keycol);
	sqlite3_stmt *st = qprep(q, sql, "settings");
	if (st == NULL)
		return -1;
	bind_text(st, 1, who);
	if (bind_setting(st, 2, key, value) < 0) {
		sqlite3_finalize(st);
		store_seterr(s, "bad %s '%s'", key, value);
		return -1;
	}
	int rc = step(q, st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "settings");
		return -1;
	}
	if (sqlite3_changes(q->db) == 0) {
		store_seterr(s, "%s '%s' not found", table, who);
		return 1;
	}
	return 0;
}

int sq_tenant_set(struct store *s, const char *name, const char *key, const char *value)
{
	static const char *const cols[] = { "action", "tag", "probable_spam", "bulk", "retention",
		"digest", NULL };
	if (strcmp(key, "action") == 0 || strcmp(key, "bulk") == 0) {
		if (value == NULL || strcmp(value, "default") == 0) {
			store_seterr(s, "tenant setting %s has no default to return to", key);
			return -1;
		}
	}
	return set_column(s, "tenant", "name", name, key, value, cols);
}

int sq_domain_set(struct store *s, const char *domain, const char *key, const char *value)
{
	static const char *const cols[] = { "action", "bulk", "tag", "probable_spam", "retention",
		NULL };
	return set_column(s, "domain", "domain", domain, key, value, cols);
}

int sq_tenant_list(struct store *s, struct store_tenant **out, size_t *n)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_TENANT_LIST);
	struct store_tenant *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc;

	if (st == NULL)
		return -1;
	while ((rc = step(q, st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 8;
			v = xrealloc(v, cap * sizeof(*v));
		}
		tenant_row(st, &v[cnt++]);
	}
	done(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "tenant list");
		store_tenant_free(v, cnt);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* ---- domains ------------------------------------------------------------ */

/* Domain id and tenant id; 1 if not hosted. */
int sq_domain_find(struct sq *q, const char *domain, int64_t *id, int64_t *tenant_id)
{
	sqlite3_stmt *st = stmt(q, ST_DOMAIN_GET);
	int rc;

	if (st == NULL)
		return -1;
	bind_text(st, 1, domain);
	rc = step(q, st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		*tenant_id = sqlite3_column_int64(st, 1);
		done(st);
		return 0;
	}
	if (rc != SQLITE_DONE) {
		dberr(q, "domain get");
		done(st);
		return -1;
	}
	done(st);
	return 1;
}

int sq_domain_add(struct store *s, const char *domain, const char *tenant,
    const char *deliver)
{
	struct sq *q = SQ(s);
	struct store_tenant t = { 0 };
	sqlite3_stmt *st;
	int rc;

	if (sq_begin(s) < 0)
		return -1;
	rc = sq_tenant_get(s, tenant, &t);
	if (rc != 0)
		goto fail;
	rc = -1;
	if ((st = stmt(q, ST_DOMAIN_ADD)) == NULL)
		goto fail;
	bind_text(st, 1, domain);
	sqlite3_bind_int64(st, 2, t.id);
	bind_text(st, 3, deliver);
	int src = step(q, st);
	if (src == SQLITE_CONSTRAINT_UNIQUE) {
		store_seterr(s, "domain '%s' already exists", domain);
		done(st);
		goto fail;
	}
	if (src != SQLITE_DONE) {
		dberr(q, "domain add");
		done(st);
		goto fail;
	}
	done(st);
	free(t.name);
	free(t.action);
	return sq_commit(s);
fail:
	free(t.name);
	free(t.action);
	abort_tx(q);
	return rc;
}

int sq_domain_remove(struct store *s, const char *domain)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	int64_t id, tid, n;
	int rc;

	if (sq_begin(s) < 0)
		return -1;
	rc = sq_domain_find(q, domain, &id, &tid);
	if (rc == 1)
		store_seterr(s, "domain '%s' not found", domain);
	if (rc != 0)
		goto fail;
	rc = -1;
	if (query_int(q, ST_DOMAIN_USERCOUNT, id, &n) < 0)
		goto fail;
	if (n > 0) {
		store_seterr(s, "domain '%s' still has %lld user%s", domain, (long long)n,
		    n == 1 ? "" : "s");
		goto fail;
	}
	if ((st = stmt(q, ST_DOMAIN_DEL)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	if (run(q, st, "domain remove") < 0)
		goto fail;
	return sq_commit(s);
fail:
	abort_tx(q);
	return rc;
}

int sq_domain_list(struct store *s, const char *tenant, struct store_domain **out,
    size_t *n)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_DOMAIN_LIST);
	struct store_domain *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc;

	if (st == NULL)
		return -1;
	if (tenant != NULL)
		bind_text(st, 1, tenant);
	while ((rc = step(q, st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 8;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[cnt].id = sqlite3_column_int64(st, 0);
		v[cnt].domain = coldup(st, 1);
		v[cnt].tenant = coldup(st, 2);
		v[cnt].deliver = coldup(st, 3);
		const unsigned char *da = sqlite3_column_text(st, 4), *db = sqlite3_column_text(st, 5);
		mw_strlcpy(v[cnt].action, da ? (const char *)da : "", sizeof(v[cnt].action));
		mw_strlcpy(v[cnt].bulk, db ? (const char *)db : "", sizeof(v[cnt].bulk));
		v[cnt].tag = sqlite3_column_type(st, 6) == SQLITE_NULL ? STORE_SCORE_DEFAULT :
		    sqlite3_column_int64(st, 6);
		v[cnt].probable_spam = sqlite3_column_type(st, 7) == SQLITE_NULL ?
		    STORE_SCORE_DEFAULT : sqlite3_column_int64(st, 7);
		v[cnt].retention = sqlite3_column_int64(st, 8);
		cnt++;
	}
	done(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "domain list");
		store_domain_free(v, cnt);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}
