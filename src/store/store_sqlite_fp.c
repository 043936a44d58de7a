/*
 * store_sqlite_fp.c - content fingerprints (docs/fingerprint.md): the
 * stored signatures with their counts, and the paged scan that loads them
 * into the in-memory index.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite_int.h"

/* ---- content fingerprints ------------------------------------------------------ */

static void fp_row(sqlite3_stmt *st, struct store_fp *f)
{
	const void *sig;
	int len;

	memset(f, 0, sizeof(*f));
	f->id = sqlite3_column_int64(st, 0);
	f->kind = sqlite3_column_int(st, 1);
	sig = sqlite3_column_blob(st, 2);
	len = sqlite3_column_bytes(st, 2);
	if (sig != NULL && len > 0)
		memcpy(f->sig, sig, (size_t)len < sizeof(f->sig) ? (size_t)len : sizeof(f->sig));
	f->created = sqlite3_column_int64(st, 3);
	f->updated = sqlite3_column_int64(st, 4);
	f->traps = sqlite3_column_double(st, 5);
	f->complaints = sqlite3_column_double(st, 6);
	f->spam = sqlite3_column_double(st, 7);
	f->msgs = sqlite3_column_double(st, 8);
	f->last_trap = sqlite3_column_int64(st, 9);
	colcpy(st, 10, f->last_ref, sizeof(f->last_ref));
	colcpy(st, 11, f->excerpt, sizeof(f->excerpt));
	colcpy(st, 12, f->benign, sizeof(f->benign));
}

int sq_fp_put(struct store *s, struct store_fp *f)
{
	struct sq *q = SQ(s);
	int insert = f->id <= 0;
	sqlite3_stmt *st = stmt(q, insert ? ST_FP_INSERT : ST_FP_UPDATE);

	if (st == NULL)
		return -1;
	if (!insert)
		sqlite3_bind_int64(st, 1, f->id);
	sqlite3_bind_int(st, 2, f->kind);
	sqlite3_bind_blob(st, 3, f->sig, sizeof(f->sig), SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, f->created);
	sqlite3_bind_int64(st, 5, f->updated);
	sqlite3_bind_double(st, 6, f->traps);
	sqlite3_bind_double(st, 7, f->complaints);
	sqlite3_bind_double(st, 8, f->spam);
	sqlite3_bind_double(st, 9, f->msgs);
	sqlite3_bind_int64(st, 10, f->last_trap);
	bind_text(st, 11, f->last_ref);
	bind_text(st, 12, f->excerpt);
	bind_text(st, 13, f->benign);
	if (run(q, st, insert ? "fingerprint add" : "fingerprint update") < 0)
		return -1;
	if (insert) {
		f->id = sqlite3_last_insert_rowid(q->db);
		return 0;
	}
	if (sqlite3_changes(q->db) == 0) {
		store_seterr(s, "no fingerprint %lld", (long long)f->id);
		return 1;
	}
	return 0;
}

int sq_fp_get(struct store *s, int64_t id, struct store_fp *out)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = qprep(q, "SELECT " FP_COLS " FROM fp WHERE id = ?1", "fingerprint get");
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	rc = step(q, st);
	if (rc == SQLITE_ROW)
		fp_row(st, out);
	else if (rc != SQLITE_DONE)
		dberr(q, "fingerprint get");
	else
		store_seterr(s, "no fingerprint %lld", (long long)id);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

int sq_fp_remove(struct store *s, int64_t id)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st = qprep(q, "DELETE FROM fp WHERE id = ?1", "fingerprint remove");

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	int rc = step(q, st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		dberr(q, "fingerprint remove");
		return -1;
	}
	if (sqlite3_changes(q->db) == 0) {
		store_seterr(s, "no fingerprint %lld", (long long)id);
		return 1;
	}
	return 0;
}

/*
 * Pages of FP_SCAN_PAGE rows by id, each read into memory and its
 * statement finalized before the callbacks run: a callback may then use
 * the handle (put a decayed row back, remove one), and no read transaction
 * stays open across the whole rebuild.  The price: rows changed by another
 * process meanwhile may be seen in either state, which an index rebuilt at
 * start tolerates.
 */
#define FP_SCAN_PAGE 256

int sq_fp_scan(struct store *s, int64_t after_id,
    int (*cb)(void *arg, const struct store_fp *f), void *arg)
{
	struct sq *q = SQ(s);
	struct store_fp *page = xcalloc(FP_SCAN_PAGE, sizeof(*page));
	int64_t last = after_id;
	size_t cnt;
	int rc = 0;

	do {
		sqlite3_stmt *st = qprep(q, "SELECT " FP_COLS " FROM fp WHERE id > ?1 ORDER BY id "
		    "LIMIT " MW_STR(FP_SCAN_PAGE), "fingerprint scan");
		int r;
		if (st == NULL) {
			rc = -1;
			break;
		}
		sqlite3_bind_int64(st, 1, last);
		cnt = 0;
		while (cnt < FP_SCAN_PAGE && (r = step(q, st)) == SQLITE_ROW)
			fp_row(st, &page[cnt++]);
		if (cnt < FP_SCAN_PAGE && r != SQLITE_DONE) {
			dberr(q, "fingerprint scan");
			sqlite3_finalize(st);
			rc = -1;
			break;
		}
		sqlite3_finalize(st);
		for (size_t i = 0; i < cnt && rc == 0; i++) {
			if (cb(arg, &page[i]) != 0)
				rc = 1;
		}
		if (cnt > 0)
			last = page[cnt - 1].id;
	} while (rc == 0 && cnt == FP_SCAN_PAGE);
	free(page);
	/* A callback that stopped the scan is not a failure. */
	return rc < 0 ? -1 : 0;
}
