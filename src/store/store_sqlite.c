/*
 * store_sqlite.c - the embedded back end: one SQLite database in WAL mode,
 * <data_dir>/mailward.db, shared by the server's threads (one handle each)
 * and by CLI processes.
 *
 * Why these settings:
 *  - WAL: readers (every RCPT lookup) never block on a writer (the CLI,
 *    the tracking thread) and vice versa.
 *  - synchronous=NORMAL: in WAL mode a commit is not fsynced, only
 *    checkpoints are; a power failure may lose the last few log records or
 *    an admin change, never corrupt the file.  Mail itself is made durable
 *    by the spool, not here.  fsync=no in the configuration goes further
 *    (synchronous=OFF) for benchmarks.
 *  - busy_timeout 5000 ms: a CLI change and the tracking thread's batch
 *    take turns instead of failing.
 *  - Every statement is reset right after use, so no read transaction
 *    stays open and a change committed by another process is seen by the
 *    next query on this handle: "takes effect without a restart" needs
 *    nothing more.
 *
 * Statements with fixed text are prepared once per handle (stmt()), which
 * matters for the per-RCPT and per-log-record paths.
 *
 * This file has the schema and its migrations, the statement table, open
 * and close and most operations; the Bayes counts are in
 * store_sqlite_bayes.c, and what the files share in store_sqlite_int.h.
 */
#include "store/store_sqlite_int.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/timeparse.h"
#include "conf/conf.h"

#define SCHEMA_VERSION 12
#define MW_STR_(x) #x
#define MW_STR(x) MW_STR_(x)

/* Version 1.  Strings are stored as '' rather than NULL, except
 * user.alias_of, whose NULL means "a primary address". */
static const char schema_v1[] =
	"CREATE TABLE tenant ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  action TEXT NOT NULL DEFAULT 'reject',"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE domain ("
	"  id INTEGER PRIMARY KEY,"
	"  domain TEXT NOT NULL UNIQUE,"
	"  tenant_id INTEGER NOT NULL REFERENCES tenant(id),"
	"  deliver TEXT NOT NULL);"
	"CREATE INDEX domain_tenant ON domain(tenant_id);"
	"CREATE TABLE \"user\" ("
	"  id INTEGER PRIMARY KEY,"
	"  address TEXT NOT NULL UNIQUE,"
	"  alias_of TEXT REFERENCES \"user\"(address) ON DELETE CASCADE,"
	"  domain_id INTEGER NOT NULL REFERENCES domain(id));"
	"CREATE INDEX user_domain ON \"user\"(domain_id);"
	"CREATE INDEX user_alias ON \"user\"(alias_of);"
	"CREATE TABLE rcpt_stat ("
	"  kind TEXT NOT NULL,"
	"  key TEXT NOT NULL,"
	"  hour INTEGER NOT NULL,"
	"  valid INTEGER NOT NULL DEFAULT 0,"
	"  invalid INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (kind, key, hour)) WITHOUT ROWID;"
	"CREATE INDEX rcpt_stat_hour ON rcpt_stat(hour);"
	"CREATE TABLE log_txn ("
	"  id INTEGER PRIMARY KEY,"
	"  ref TEXT NOT NULL,"
	"  qid TEXT NOT NULL DEFAULT '',"
	"  ts INTEGER NOT NULL,"
	"  client_ip TEXT NOT NULL DEFAULT '',"
	"  helo TEXT NOT NULL DEFAULT '',"
	"  sender TEXT NOT NULL DEFAULT '',"
	"  from_hdr TEXT NOT NULL DEFAULT '',"
	"  subject TEXT NOT NULL DEFAULT '',"
	"  message_id TEXT NOT NULL DEFAULT '',"
	"  size INTEGER NOT NULL DEFAULT 0,"
	"  action TEXT NOT NULL DEFAULT '',"
	"  reply TEXT NOT NULL DEFAULT '',"
	"  tls INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX log_txn_ref ON log_txn(ref);"
	"CREATE INDEX log_txn_qid ON log_txn(qid);"
	"CREATE INDEX log_txn_ts ON log_txn(ts);"
	"CREATE INDEX log_txn_sender ON log_txn(sender);"
	"CREATE INDEX log_txn_message_id ON log_txn(message_id);"
	"CREATE INDEX log_txn_client_ip ON log_txn(client_ip);"
	"CREATE TABLE log_rcpt ("
	"  id INTEGER PRIMARY KEY,"
	"  ref TEXT NOT NULL,"
	"  ts INTEGER NOT NULL,"
	"  rcpt TEXT NOT NULL DEFAULT '',"
	"  tenant TEXT NOT NULL DEFAULT '',"
	"  status TEXT NOT NULL DEFAULT '',"
	"  reply TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX log_rcpt_ref ON log_rcpt(ref);"
	"CREATE INDEX log_rcpt_rcpt ON log_rcpt(rcpt);"
	"CREATE INDEX log_rcpt_ts ON log_rcpt(ts);";

/* Version 2: the Bayes classifier's counts (docs/bayes.md).  Token hashes
 * are unsigned 64-bit values stored as SQLite's signed INTEGER (same bits);
 * an INTEGER PRIMARY KEY makes the hash the rowid, so a lookup is one
 * B-tree probe and a row is about 20 bytes.  bayes_meta has one row. */
static const char schema_v2[] =
	"CREATE TABLE bayes_token ("
	"  hash INTEGER PRIMARY KEY,"
	"  spam INTEGER NOT NULL DEFAULT 0,"
	"  ham INTEGER NOT NULL DEFAULT 0,"
	"  atime INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE bayes_msg ("
	"  digest TEXT PRIMARY KEY,"
	"  class TEXT NOT NULL CHECK (class IN ('spam', 'ham')),"
	"  ts INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE bayes_meta ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  nspam INTEGER NOT NULL DEFAULT 0,"
	"  nham INTEGER NOT NULL DEFAULT 0);"
	"INSERT INTO bayes_meta(id) VALUES (1);";

/* Version 3: the scan verdict.  Tenant thresholds are hundredths of a point,
 * NULL meaning "the [scan] default of the configuration"; the message log
 * keeps the score (NULL: not scanned), class and symbols of each message
 * (one symbol per line: NAME TAB score TAB reason). */
static const char schema_v3[] =
	"ALTER TABLE tenant ADD COLUMN tag INTEGER;"
	"ALTER TABLE tenant ADD COLUMN probable_spam INTEGER;"
	"ALTER TABLE log_txn ADD COLUMN score REAL;"
	"ALTER TABLE log_txn ADD COLUMN class TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE log_txn ADD COLUMN symbols TEXT NOT NULL DEFAULT '';";

/* Version 4: a version of the Bayes counts, raised by every learn, relearn
 * and unlearn that changes them (the same UPDATE as the totals), so a
 * process holding the counts in memory (src/bayes/bayes_snapshot.h) knows
 * with one row read whether it is stale.  The totals alone do not tell:
 * a ham and a spam report moving one message each way leave them equal. */
static const char schema_v4[] =
	"ALTER TABLE bayes_meta ADD COLUMN version INTEGER NOT NULL DEFAULT 0;";

/* Version 5: the quarantine's index (docs/quarantine.md): one row per held
 * recipient; the message itself is a file under <data_dir>/quarantine/. */
static const char schema_v5[] =
	"CREATE TABLE quarantine ("
	"  id INTEGER PRIMARY KEY,"
	"  qid TEXT NOT NULL,"
	"  ref TEXT NOT NULL DEFAULT '',"
	"  ts INTEGER NOT NULL,"
	"  tenant TEXT NOT NULL DEFAULT '',"
	"  rcpt TEXT NOT NULL,"
	"  deliver TEXT NOT NULL,"
	"  sender TEXT NOT NULL DEFAULT '',"
	"  from_hdr TEXT NOT NULL DEFAULT '',"
	"  subject TEXT NOT NULL DEFAULT '',"
	"  score REAL NOT NULL DEFAULT 0,"
	"  class TEXT NOT NULL DEFAULT '',"
	"  symbols TEXT NOT NULL DEFAULT '',"
	"  state TEXT NOT NULL DEFAULT 'held' "
	"    CHECK (state IN ('held', 'released', 'deleted', 'expired')),"
	"  actor TEXT NOT NULL DEFAULT '',"
	"  acted INTEGER NOT NULL DEFAULT 0,"
	"  release_qid TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX quarantine_tenant ON quarantine(tenant, ts);"
	"CREATE UNIQUE INDEX quarantine_qid ON quarantine(qid, rcpt);"
	"CREATE INDEX quarantine_state ON quarantine(state, ts);";

/* Version 6: sender allow and block lists (docs/policy.md) and the audit
 * trail of policy changes and actions on held mail. */
static const char schema_v6[] =
	"CREATE TABLE sender_list ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant TEXT NOT NULL,"
	"  user TEXT NOT NULL DEFAULT '',"
	"  kind TEXT NOT NULL CHECK (kind IN ('allow', 'block')),"
	"  pattern TEXT NOT NULL,"
	"  no_auth INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL,"
	"  actor TEXT NOT NULL DEFAULT '',"
	"  UNIQUE (tenant, user, kind, pattern));"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
	"  ts INTEGER NOT NULL,"
	"  actor TEXT NOT NULL DEFAULT '',"
	"  action TEXT NOT NULL,"
	"  object TEXT NOT NULL DEFAULT '',"
	"  detail TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX audit_ts ON audit(ts);";

/* Version 7: what each user's quarantine digest already listed. */
static const char schema_v7[] =
	"CREATE TABLE digest_state ("
	"  rcpt TEXT PRIMARY KEY,"
	"  last_ts INTEGER NOT NULL) WITHOUT ROWID;";

/* Version 8: per-domain overrides of the tenant's settings (NULL = the
 * tenant's), the bulk-mail action and the quarantine retention per tenant
 * (NULL = [quarantine] retention), docs/policy.md. */
static const char schema_v8[] =
	"ALTER TABLE tenant ADD COLUMN bulk TEXT NOT NULL DEFAULT 'deliver';"
	"ALTER TABLE tenant ADD COLUMN retention INTEGER;"
	"ALTER TABLE domain ADD COLUMN action TEXT;"
	"ALTER TABLE domain ADD COLUMN bulk TEXT;"
	"ALTER TABLE domain ADD COLUMN tag INTEGER;"
	"ALTER TABLE domain ADD COLUMN probable_spam INTEGER;";

/* Version 9: the digest schedule per tenant (NULL = [quarantine] digest)
 * and when each user's last digest went out; retention per domain. */
static const char schema_v9[] =
	"ALTER TABLE tenant ADD COLUMN digest INTEGER;"
	"ALTER TABLE domain ADD COLUMN retention INTEGER;"
	"ALTER TABLE digest_state ADD COLUMN last_sent INTEGER NOT NULL DEFAULT 0;";

/* Version 10: sender reputation (docs/reputation.md).  rep holds each
 * identity's decaying counters as of `updated` (the store never decays);
 * rep_event the newest 50 happenings per key for people.  fp holds the
 * fingerprints with evidence (the LSH index is rebuilt from them at
 * start); trap and trap_hit the spam traps and what reached them;
 * complaint the reports received, one per digest (the same report counts
 * once); outbound the Message-IDs the tenants sent, for recognising
 * replies.  Keys compare as bytes (BINARY), which is what makes the range
 * scan of a prefix listing exact. */
static const char schema_v10[] =
	"CREATE TABLE rep ("
	"  key TEXT PRIMARY KEY,"
	"  updated INTEGER NOT NULL DEFAULT 0,"
	"  first_seen INTEGER NOT NULL DEFAULT 0,"
	"  reset INTEGER NOT NULL DEFAULT 0,"
	"  msgs REAL NOT NULL DEFAULT 0,"
	"  valid REAL NOT NULL DEFAULT 0,"
	"  invalid REAL NOT NULL DEFAULT 0,"
	"  traps REAL NOT NULL DEFAULT 0,"
	"  complaints REAL NOT NULL DEFAULT 0,"
	"  spam REAL NOT NULL DEFAULT 0,"
	"  ham REAL NOT NULL DEFAULT 0) WITHOUT ROWID;"
	"CREATE TABLE rep_event ("
	"  id INTEGER PRIMARY KEY,"
	"  ts INTEGER NOT NULL,"
	"  key TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  ref TEXT NOT NULL DEFAULT '',"
	"  detail TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX rep_event_key ON rep_event(key, ts);"
	"CREATE TABLE fp ("
	"  id INTEGER PRIMARY KEY,"
	"  kind INTEGER NOT NULL,"
	"  sig BLOB NOT NULL,"
	"  created INTEGER NOT NULL DEFAULT 0,"
	"  updated INTEGER NOT NULL DEFAULT 0,"
	"  traps REAL NOT NULL DEFAULT 0,"
	"  complaints REAL NOT NULL DEFAULT 0,"
	"  spam REAL NOT NULL DEFAULT 0,"
	"  msgs REAL NOT NULL DEFAULT 0,"
	"  last_trap INTEGER NOT NULL DEFAULT 0,"
	"  last_ref TEXT NOT NULL DEFAULT '',"
	"  excerpt TEXT NOT NULL DEFAULT '',"
	"  benign TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE trap ("
	"  id INTEGER PRIMARY KEY,"
	"  pattern TEXT NOT NULL,"
	"  tenant TEXT NOT NULL DEFAULT '',"
	"  created INTEGER NOT NULL,"
	"  actor TEXT NOT NULL DEFAULT '',"
	"  UNIQUE (pattern, tenant));"
	"CREATE TABLE trap_hit ("
	"  id INTEGER PRIMARY KEY,"
	"  ts INTEGER NOT NULL,"
	"  ref TEXT NOT NULL DEFAULT '',"
	"  client_ip TEXT NOT NULL DEFAULT '',"
	"  helo TEXT NOT NULL DEFAULT '',"
	"  sender TEXT NOT NULL DEFAULT '',"
	"  rcpt TEXT NOT NULL DEFAULT '',"
	"  tenant TEXT NOT NULL DEFAULT '',"
	"  subject TEXT NOT NULL DEFAULT '',"
	"  file TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX trap_hit_ts ON trap_hit(ts);"
	"CREATE INDEX trap_hit_client_ip ON trap_hit(client_ip, ts);"
	"CREATE INDEX trap_hit_sender ON trap_hit(sender, ts);"
	"CREATE TABLE complaint ("
	"  id INTEGER PRIMARY KEY,"
	"  ts INTEGER NOT NULL,"
	"  source TEXT NOT NULL DEFAULT '',"
	"  kind TEXT NOT NULL DEFAULT '',"
	"  flags TEXT NOT NULL DEFAULT '',"
	"  digest TEXT NOT NULL UNIQUE,"
	"  feedback_type TEXT NOT NULL DEFAULT '',"
	"  reporter TEXT NOT NULL DEFAULT '',"
	"  matched_ref TEXT NOT NULL DEFAULT '',"
	"  \"match\" TEXT NOT NULL DEFAULT '',"
	"  client_ip TEXT NOT NULL DEFAULT '',"
	"  sender TEXT NOT NULL DEFAULT '',"
	"  subject TEXT NOT NULL DEFAULT '',"
	"  raw BLOB NOT NULL DEFAULT x'');"
	"CREATE INDEX complaint_ts ON complaint(ts);"
	"CREATE INDEX complaint_ref ON complaint(matched_ref);"
	"CREATE TABLE outbound ("
	"  tenant TEXT NOT NULL,"
	"  msgid TEXT NOT NULL,"
	"  ts INTEGER NOT NULL,"
	"  PRIMARY KEY (tenant, msgid)) WITHOUT ROWID;"
	"CREATE INDEX outbound_ts ON outbound(ts);";

/* Version 11: the registered domains each outbound message went to, so a
 * reply is trusted only from where the original went (docs/reputation.md). */
static const char schema_v11[] =
	"CREATE TABLE outbound_rcpt ("
	"  tenant TEXT NOT NULL,"
	"  msgid TEXT NOT NULL,"
	"  domain TEXT NOT NULL,"
	"  PRIMARY KEY (tenant, msgid, domain)) WITHOUT ROWID;";

/* Version 12: how many times a learned message counts (docs/bayes.md,
 * "Reinforcement"): 1 when learned, more once `train --reinforce` found
 * that the store without it would misjudge it.  Unlearning and moving take
 * back exactly that many. */
static const char schema_v12[] =
	"ALTER TABLE bayes_msg ADD COLUMN weight INTEGER NOT NULL DEFAULT 1;";

/* ST_BAYES_GET's list: BAYES_CHUNK (store_sqlite_int.h) placeholders. */
#define Q4 "?,?,?,?"
#define Q16 Q4 "," Q4 "," Q4 "," Q4
#define Q64 Q16 "," Q16 "," Q16 "," Q16
#define Q256 Q64 "," Q64 "," Q64 "," Q64
_Static_assert(BAYES_CHUNK == 256, "ST_BAYES_GET has Q256 placeholders");

#define LOG_TXN_COLS "ref, qid, ts, client_ip, helo, sender, from_hdr, subject, message_id, " \
	"size, action, reply, tls, score, class, symbols"
#define LOG_RCPT_COLS "ref, ts, rcpt, tenant, status, reply"

#define REP_COLS "key, updated, first_seen, reset, msgs, valid, invalid, traps, complaints, " \
	"spam, ham"
#define FP_COLS "id, kind, sig, created, updated, traps, complaints, spam, msgs, last_trap, " \
	"last_ref, excerpt, benign"


const char *const store_sqlite_sql[ST__N] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_TENANT_ADD] = "INSERT INTO tenant(name, action, created) VALUES (?1, ?2, ?3)",
	[ST_TENANT_GET] = "SELECT id, name, action, created, tag, probable_spam, bulk, retention, "
		"digest FROM tenant WHERE name = ?1",
	[ST_TENANT_LIST] = "SELECT id, name, action, created, tag, probable_spam, bulk, retention, "
		"digest FROM tenant ORDER BY name",
	[ST_TENANT_DOMCOUNT] = "SELECT count(*) FROM domain WHERE tenant_id = ?1",
	[ST_TENANT_DEL] = "DELETE FROM tenant WHERE id = ?1",
	[ST_DOMAIN_ADD] = "INSERT INTO domain(domain, tenant_id, deliver) VALUES (?1, ?2, ?3)",
	[ST_DOMAIN_GET] = "SELECT id, tenant_id FROM domain WHERE domain = ?1",
	[ST_DOMAIN_USERCOUNT] = "SELECT count(*) FROM \"user\" WHERE domain_id = ?1",
	[ST_DOMAIN_DEL] = "DELETE FROM domain WHERE id = ?1",
	[ST_DOMAIN_LIST] = "SELECT d.id, d.domain, t.name, d.deliver, d.action, d.bulk, d.tag, "
		"d.probable_spam, d.retention FROM domain d "
		"JOIN tenant t ON t.id = d.tenant_id WHERE ?1 IS NULL OR t.name = ?1 ORDER BY d.domain",
	[ST_USER_ADD] = "INSERT INTO \"user\"(address, alias_of, domain_id) VALUES (?1, ?2, ?3)",
	[ST_USER_GET] = "SELECT u.address, u.alias_of, d.tenant_id FROM \"user\" u "
		"JOIN domain d ON d.id = u.domain_id WHERE u.address = ?1",
	[ST_USER_DEL] = "DELETE FROM \"user\" WHERE address = ?1",
	[ST_USER_LIST] = "SELECT u.address, u.alias_of, t.name FROM \"user\" u "
		"JOIN domain d ON d.id = u.domain_id JOIN tenant t ON t.id = d.tenant_id "
		"WHERE ?1 IS NULL OR d.domain = ?1 ORDER BY d.domain, u.address",
	/* One statement, so one read transaction per RCPT: the domain row,
	 * plus the exact user row (preferred) or else the catch-all row. */
	/* A domain's own setting, else its tenant's (R13). */
	[ST_RCPT_LOOKUP] = "SELECT d.deliver, t.id, t.name, u.address, u.alias_of, "
		"coalesce(d.action, t.action), coalesce(d.tag, t.tag), "
		"coalesce(d.probable_spam, t.probable_spam), coalesce(d.bulk, t.bulk) FROM domain d "
		"JOIN tenant t ON t.id = d.tenant_id "
		"LEFT JOIN \"user\" u ON u.address = "
		"coalesce((SELECT address FROM \"user\" WHERE address = ?1), ?2) "
		"WHERE d.domain = ?3",
	[ST_STAT_ADD] = "INSERT INTO rcpt_stat(kind, key, hour, valid, invalid) "
		"VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(kind, key, hour) DO UPDATE SET "
		"valid = valid + excluded.valid, invalid = invalid + excluded.invalid",
	[ST_STAT_GET] = "SELECT coalesce(sum(valid), 0), coalesce(sum(invalid), 0) FROM rcpt_stat "
		"WHERE kind = ?1 AND key = ?2 AND hour >= ?3",
	[ST_LOG_TXN_ADD] = "INSERT INTO log_txn(" LOG_TXN_COLS ") "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
	[ST_LOG_RCPT_ADD] = "INSERT INTO log_rcpt(" LOG_RCPT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	/* A ref written twice (e.g. a retried batch): the last row wins. */
	[ST_LOG_TXN_BY_REF] = "SELECT " LOG_TXN_COLS " FROM log_txn WHERE ref = ?1 "
		"ORDER BY id DESC LIMIT 1",
	[ST_LOG_RCPT_BY_REF] = "SELECT " LOG_RCPT_COLS " FROM log_rcpt WHERE ref = ?1 "
		"ORDER BY ts, id",
	[ST_PURGE_TXN] = "DELETE FROM log_txn WHERE ts < ?1",
	[ST_PURGE_RCPT] = "DELETE FROM log_rcpt WHERE ts < ?1",
	[ST_PURGE_STAT] = "DELETE FROM rcpt_stat WHERE hour < ?1",
	[ST_BAYES_GET] = "SELECT hash, spam, ham FROM bayes_token WHERE hash IN (" Q256 ")",
	[ST_BAYES_MSG_GET] = "SELECT class = 'spam', weight FROM bayes_msg WHERE digest = ?1",
	/* A new or moved message counts once again. */
	[ST_BAYES_MSG_PUT] = "INSERT INTO bayes_msg(digest, class, ts, weight) VALUES (?1, ?2, ?3, 1) "
		"ON CONFLICT(digest) DO UPDATE SET class = excluded.class, ts = excluded.ts, weight = 1",
	[ST_BAYES_MSG_DEL] = "DELETE FROM bayes_msg WHERE digest = ?1",
	[ST_BAYES_MSG_WEIGHT] = "UPDATE bayes_msg SET weight = ?2 WHERE digest = ?1",
	/* ?3: how many times the message counts (its weight). */
	[ST_BAYES_INC_SPAM] = "INSERT INTO bayes_token(hash, spam, ham, atime) VALUES (?1, ?3, 0, ?2) "
		"ON CONFLICT(hash) DO UPDATE SET spam = spam + ?3, atime = excluded.atime",
	[ST_BAYES_INC_HAM] = "INSERT INTO bayes_token(hash, spam, ham, atime) VALUES (?1, 0, ?3, ?2) "
		"ON CONFLICT(hash) DO UPDATE SET ham = ham + ?3, atime = excluded.atime",
	/* max(): a count never goes negative, even for tokens of a message
	 * learned before a tokenizer change. */
	[ST_BAYES_DEC_SPAM] = "UPDATE bayes_token SET spam = max(spam - ?2, 0) WHERE hash = ?1 "
		"RETURNING spam + ham",
	[ST_BAYES_DEC_HAM] = "UPDATE bayes_token SET ham = max(ham - ?2, 0) WHERE hash = ?1 "
		"RETURNING spam + ham",
	[ST_BAYES_PRUNE] = "DELETE FROM bayes_token WHERE hash = ?1 AND spam = 0 AND ham = 0",
	/* A batch's net change of one token (sq_bayes_learn_many): either
	 * count may go down (a message moved), never below 0; atime moves only
	 * when something was learned. */
	[ST_BAYES_ADD] = "INSERT INTO bayes_token(hash, spam, ham, atime) "
		"VALUES (?1, max(?2, 0), max(?3, 0), ?4) "
		"ON CONFLICT(hash) DO UPDATE SET spam = max(spam + ?2, 0), ham = max(ham + ?3, 0), "
		"atime = CASE WHEN ?2 > 0 OR ?3 > 0 THEN excluded.atime ELSE atime END "
		"RETURNING spam + ham",
	[ST_BAYES_INC] = "INSERT INTO bayes_token(hash, spam, ham, atime) VALUES (?1, ?2, ?3, ?4) "
		"ON CONFLICT(hash) DO UPDATE SET spam = spam + ?2, ham = ham + ?3, atime = ?4",
	[ST_BAYES_META_GET] = "SELECT nspam, nham FROM bayes_meta WHERE id = 1",
	[ST_BAYES_META_ADD] = "UPDATE bayes_meta SET nspam = max(nspam + ?1, 0), "
		"nham = max(nham + ?2, 0), version = version + 1 WHERE id = 1",
	[ST_BAYES_STATE] = "SELECT nspam, nham, version FROM bayes_meta WHERE id = 1",
	/* A deferred transaction: a snapshot read sees one state of the file
	 * without taking the write lock. */
	[ST_BEGIN_READ] = "BEGIN",
	[ST_BAYES_COUNT] = "SELECT count(*) FROM bayes_token",
	/* Rowid range scans through the aggregate of sq_bayes_scan();
	 * non-negative hashes first, then negative ones, is ascending order of
	 * the unsigned values. */
	[ST_BAYES_SCAN_LO] = "SELECT mw_bayes_scan(hash, spam, ham) FROM bayes_token WHERE hash >= 0",
	[ST_BAYES_SCAN_HI] = "SELECT mw_bayes_scan(hash, spam, ham) FROM bayes_token WHERE hash < 0",
	/* Reputation: read, decay, add and put per message and identity. */
	[ST_REP_GET] = "SELECT " REP_COLS " FROM rep WHERE key = ?1",
	[ST_REP_PUT] = "INSERT OR REPLACE INTO rep(" REP_COLS ") "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[ST_REP_EVENT_ADD] = "INSERT INTO rep_event(ts, key, kind, ref, detail) "
		"VALUES (?1, ?2, ?3, ?4, ?5)",
	/* Everything of the key but its newest ?2, on the (key, ts) index. */
	[ST_REP_EVENT_TRIM] = "DELETE FROM rep_event WHERE key = ?1 AND id NOT IN "
		"(SELECT id FROM rep_event WHERE key = ?1 ORDER BY ts DESC, id DESC LIMIT ?2)",
	[ST_FP_INSERT] = "INSERT INTO fp(kind, sig, created, updated, traps, complaints, spam, "
		"msgs, last_trap, last_ref, excerpt, benign) "
		"VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	[ST_FP_UPDATE] = "UPDATE fp SET kind = ?2, sig = ?3, created = ?4, updated = ?5, "
		"traps = ?6, complaints = ?7, spam = ?8, msgs = ?9, last_trap = ?10, "
		"last_ref = ?11, excerpt = ?12, benign = ?13 WHERE id = ?1",
	/* Per RCPT: the exact address before the domain's "@domain", a
	 * tenant's own row before the network-wide one. */
	[ST_TRAP_MATCH] = "SELECT pattern, tenant FROM trap WHERE pattern IN (?1, ?2) "
		"ORDER BY pattern = ?1 DESC, tenant <> '' DESC LIMIT 1",
	[ST_OUTBOUND_ADD] = "INSERT INTO outbound(tenant, msgid, ts) VALUES (?1, ?2, ?3) "
		"ON CONFLICT(tenant, msgid) DO NOTHING",
	[ST_OUTBOUND_GET] = "SELECT 1 FROM outbound WHERE tenant = ?1 AND msgid = ?2",
	[ST_OUTBOUND_RCPT_ADD] = "INSERT INTO outbound_rcpt(tenant, msgid, domain) "
		"SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM outbound WHERE tenant = ?1 AND msgid = ?2) "
		"ON CONFLICT DO NOTHING",
	[ST_OUTBOUND_RCPT_LIST] = "SELECT domain FROM outbound_rcpt WHERE tenant = ?1 AND msgid = ?2 "
		"ORDER BY domain",
};


/* ---- transactions ------------------------------------------------------- */

/* A statement prepared per call: for what the CLI, a delivery worker or
 * the admin thread do now and then, never per message in a hot loop. */
static sqlite3_stmt *qprep(struct sq *q, const char *sql, const char *what)
{
	sqlite3_stmt *st = NULL;

	if (fp_hit(q) || sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK) {
		dberr(q, what);
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

int sq_begin(struct store *s)
{
	struct sq *q = SQ(s);

	if (q->depth++ > 0)
		return 0;
	if (run_id(q, ST_BEGIN, "begin") < 0) {
		q->depth--;
		return -1;
	}
	return 0;
}


int sq_commit(struct store *s)
{
	struct sq *q = SQ(s);

	if (q->depth == 0) {
		store_seterr(s, "commit without begin");
		return -1;
	}
	if (--q->depth > 0)
		return 0;
	if (run_id(q, ST_COMMIT, "commit") < 0) {
		rollback_keep_error(q);
		return -1;
	}
	return 0;
}


static int sq_rollback(struct store *s)
{
	struct sq *q = SQ(s);

	if (q->depth == 0) {
		store_seterr(s, "rollback without begin");
		return -1;
	}
	abort_tx(q);
	return 0;
}

/* ---- tenants ------------------------------------------------------------ */

static int sq_tenant_add(struct store *s, const char *name, const char *action, int64_t now)
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

static int sq_tenant_get(struct store *s, const char *name, struct store_tenant *out)
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

static int sq_tenant_remove(struct store *s, const char *name)
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

static int sq_tenant_set(struct store *s, const char *name, const char *key, const char *value)
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

static int sq_domain_set(struct store *s, const char *domain, const char *key, const char *value)
{
	static const char *const cols[] = { "action", "bulk", "tag", "probable_spam", "retention",
		NULL };
	return set_column(s, "domain", "domain", domain, key, value, cols);
}

static int sq_tenant_list(struct store *s, struct store_tenant **out, size_t *n)
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
static int domain_get(struct sq *q, const char *domain, int64_t *id, int64_t *tenant_id)
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

static int sq_domain_add(struct store *s, const char *domain, const char *tenant,
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

static int sq_domain_remove(struct store *s, const char *domain)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	int64_t id, tid, n;
	int rc;

	if (sq_begin(s) < 0)
		return -1;
	rc = domain_get(q, domain, &id, &tid);
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

static int sq_domain_list(struct store *s, const char *tenant, struct store_domain **out,
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

static int sq_user_add(struct store *s, const char *address, const char *domain,
    const char *alias_of)
{
	struct sq *q = SQ(s);
	sqlite3_stmt *st;
	int64_t did, tid, ttid;
	char *target_alias = NULL;
	int rc;

	if (sq_begin(s) < 0)
		return -1;
	rc = domain_get(q, domain, &did, &tid);
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

static int sq_user_remove(struct store *s, const char *address)
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

static int sq_user_list(struct store *s, const char *domain, struct store_user **out, size_t *n)
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

static int sq_rcpt_lookup(struct store *s, const char *address, const char *domain,
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

static int sq_rcpt_stat_add(struct store *s, const char *client_ip, const char *sender_domain,
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

static int sq_rcpt_stat_get(struct store *s, const char *kind, const char *key,
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

/* ---- message log ---------------------------------------------------------- */

static int sq_log_txn_add(struct store *s, const struct store_log_txn *t)
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

static int sq_log_rcpt_add(struct store *s, const struct store_log_rcpt *r)
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

/* Parameters of the search statement, bound in order of appearance. */
struct params {
	int n;
	const char *text[16];
	int64_t num[16];
	int is_num[16];
	char *owned[8];
	int n_owned;
};

static void p_text(struct buf *sql, struct params *p, const char *fragment, const char *v)
{
	buf_append_str(sql, fragment);
	p->text[p->n] = v;
	p->is_num[p->n] = 0;
	p->n++;
}

static void p_num(struct buf *sql, struct params *p, const char *fragment, int64_t v)
{
	buf_append_str(sql, fragment);
	p->num[p->n] = v;
	p->is_num[p->n] = 1;
	p->n++;
}

/* "%text%" with LIKE's metacharacters escaped by '\'. */
static const char *like_pattern(struct params *p, const char *s)
{
	struct buf b = BUF_INIT;

	buf_append_char(&b, '%');
	for (; *s; s++) {
		if (*s == '%' || *s == '_' || *s == '\\')
			buf_append_char(&b, '\\');
		buf_append_char(&b, *s);
	}
	buf_append_char(&b, '%');
	p->owned[p->n_owned] = buf_steal(&b);
	return p->owned[p->n_owned++];
}

static int set(const char *s)
{
	return s != NULL && s[0] != '\0';
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
static int sq_log_search(struct store *s, const struct store_log_query *qr,
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

static int sq_log_purge(struct store *s, int64_t before, int64_t *n)
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

/* ---- open / close ----------------------------------------------------------- */

static void sq_close(struct store *s)
{
	struct sq *q = SQ(s);

	for (int i = 0; i < ST__N; i++)
		sqlite3_finalize(q->st[i]);
	sqlite3_close(q->db);
	free(q);
}

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

static int sq_quarantine_add(struct store *s, const struct store_quarantine *v, size_t n,
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

static int sq_quarantine_get(struct store *s, int64_t id, struct store_quarantine *out)
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

static int sq_quarantine_search(struct store *s, const struct store_quarantine_query *qr,
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

static int sq_quarantine_finish(struct store *s, int64_t id, const char *state, const char *actor,
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

static int sq_quarantine_held(struct store *s, const char *qid, int64_t *n)
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

static int sq_quarantine_due(struct store *s, int64_t now, int64_t default_retention, size_t max,
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

static int sq_list_add(struct store *s, const struct store_list_entry *e, int64_t now)
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

static int sq_list_remove(struct store *s, const char *tenant, const char *user, const char *kind,
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

static int sq_list_for_rcpt(struct store *s, const char *tenant, const char *rcpt,
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

static int sq_list_search(struct store *s, const char *tenant, const char *user, const char *kind,
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

static int sq_audit_add(struct store *s, const char *actor, const char *action, const char *object,
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

static int sq_audit_search(struct store *s, int64_t since, size_t limit, struct store_audit **out,
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

static int sq_digest_get(struct store *s, const char *rcpt, int64_t *last, int64_t *sent)
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

static int sq_digest_set(struct store *s, const char *rcpt, int64_t last, int64_t sent)
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

static int sq_tenant_digest(struct store *s, const char *tenant, int64_t *interval)
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

static int sq_rep_get(struct store *s, const char *key, struct store_rep *out)
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

static int sq_rep_put(struct store *s, const struct store_rep *r)
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

static int sq_rep_list(struct store *s, const char *prefix, size_t limit, struct store_rep **out,
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
static int sq_rep_clear(struct store *s, const char *key, const char *stat_kind,
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

static int sq_rep_event_add(struct store *s, int64_t ts, const char *key, const char *kind,
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

static int sq_rep_event_list(struct store *s, const char *prefix, size_t limit,
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

/* ---- content fingerprints ------------------------------------------------------ */

static void colcpy(sqlite3_stmt *st, int i, char *dst, size_t n)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	mw_strlcpy(dst, t ? (const char *)t : "", n);
}

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

static int sq_fp_put(struct store *s, struct store_fp *f)
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

static int sq_fp_get(struct store *s, int64_t id, struct store_fp *out)
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

static int sq_fp_remove(struct store *s, int64_t id)
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

static int sq_fp_scan(struct store *s, int64_t after_id,
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

/* ---- spam traps ------------------------------------------------------------------ */

static int sq_trap_add(struct store *s, const char *pattern, const char *tenant, const char *actor,
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

static int sq_trap_remove(struct store *s, const char *pattern, const char *tenant)
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

static int sq_trap_list(struct store *s, const char *tenant, struct store_trap **out, size_t *n)
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

static int sq_trap_match(struct store *s, const char *address, const char *domain, char *pattern,
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
static int sq_trap_hit_add(struct store *s, const struct store_trap_hit *h, size_t max_keep,
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

static int sq_trap_hit_list(struct store *s, const char *client_ip, const char *sender,
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

static int sq_complaint_add(struct store *s, const struct store_complaint *c, int64_t *id)
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

static int sq_complaint_get(struct store *s, int64_t id, struct store_complaint *out)
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

static int sq_complaint_count_ref(struct store *s, const char *ref, int64_t *n,
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

static int sq_complaint_list(struct store *s, int64_t since, size_t limit,
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

/* ---- the tenants' own outgoing mail ---------------------------------------------- */

static int sq_outbound_add(struct store *s, const char *tenant, const char *msgid, int64_t now)
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

static int sq_outbound_match(struct store *s, const char *tenant, const char *const *msgids,
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

static int sq_outbound_rcpt_add(struct store *s, const char *tenant, const char *msgid,
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

static int sq_outbound_rcpt_check(struct store *s, const char *tenant, const char *msgid,
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

static int sq_outbound_purge(struct store *s, int64_t before, int64_t *n)
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

static const struct store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sq_close,
	.tenant_add = sq_tenant_add,
	.tenant_remove = sq_tenant_remove,
	.tenant_get = sq_tenant_get,
	.tenant_set = sq_tenant_set,
	.tenant_list = sq_tenant_list,
	.domain_add = sq_domain_add,
	.domain_remove = sq_domain_remove,
	.domain_list = sq_domain_list,
	.user_add = sq_user_add,
	.user_remove = sq_user_remove,
	.user_list = sq_user_list,
	.rcpt_lookup = sq_rcpt_lookup,
	.rcpt_stat_add = sq_rcpt_stat_add,
	.rcpt_stat_get = sq_rcpt_stat_get,
	.rollback = sq_rollback,
	.domain_set = sq_domain_set,
	.digest_get = sq_digest_get,
	.digest_set = sq_digest_set,
	.tenant_digest = sq_tenant_digest,
	.list_add = sq_list_add,
	.list_remove = sq_list_remove,
	.list_for_rcpt = sq_list_for_rcpt,
	.list_search = sq_list_search,
	.audit_add = sq_audit_add,
	.audit_search = sq_audit_search,
	.quarantine_add = sq_quarantine_add,
	.quarantine_get = sq_quarantine_get,
	.quarantine_search = sq_quarantine_search,
	.quarantine_finish = sq_quarantine_finish,
	.quarantine_held = sq_quarantine_held,
	.quarantine_due = sq_quarantine_due,
	.log_txn_add = sq_log_txn_add,
	.log_rcpt_add = sq_log_rcpt_add,
	.begin = sq_begin,
	.commit = sq_commit,
	.log_search = sq_log_search,
	.log_purge = sq_log_purge,
	.bayes_get = sq_bayes_get,
	.bayes_learn = sq_bayes_learn,
	.bayes_learn_many = sq_bayes_learn_many,
	.bayes_unlearn = sq_bayes_unlearn,
	.bayes_msg_get = sq_bayes_msg_get,
	.bayes_reinforce_many = sq_bayes_reinforce_many,
	.bayes_totals = sq_bayes_totals,
	.bayes_state = sq_bayes_state,
	.bayes_scan = sq_bayes_scan,
	.rep_get = sq_rep_get,
	.rep_put = sq_rep_put,
	.rep_list = sq_rep_list,
	.rep_clear = sq_rep_clear,
	.rep_event_add = sq_rep_event_add,
	.rep_event_list = sq_rep_event_list,
	.fp_put = sq_fp_put,
	.fp_get = sq_fp_get,
	.fp_remove = sq_fp_remove,
	.fp_scan = sq_fp_scan,
	.trap_add = sq_trap_add,
	.trap_remove = sq_trap_remove,
	.trap_list = sq_trap_list,
	.trap_match = sq_trap_match,
	.trap_hit_add = sq_trap_hit_add,
	.trap_hit_list = sq_trap_hit_list,
	.complaint_add = sq_complaint_add,
	.complaint_get = sq_complaint_get,
	.complaint_list = sq_complaint_list,
	.complaint_count_ref = sq_complaint_count_ref,
	.outbound_add = sq_outbound_add,
	.outbound_match = sq_outbound_match,
	.outbound_rcpt_add = sq_outbound_rcpt_add,
	.outbound_rcpt_check = sq_outbound_rcpt_check,
	.outbound_purge = sq_outbound_purge,
};

static int get_int_cb(void *arg, int ncol, char **vals, char **names)
{
	MW_UNUSED(names);
	if (ncol > 0 && vals[0] != NULL)
		*(int64_t *)arg = strtoll(vals[0], NULL, 10);
	return 0;
}

/* Create or upgrade the schema.  The common case (already current) only
 * reads, so opening a handle never waits for another process's write
 * lock; a change runs inside BEGIN IMMEDIATE, re-reading the version there,
 * so two processes opening a fresh data_dir at once cannot both create it. */
static int migrate(struct sq *q, char *err, size_t errlen)
{
	int64_t version = 0;
	char *msg = NULL;

	if (sqlite3_exec(q->db, "PRAGMA user_version", get_int_cb, &version, &msg) != SQLITE_OK)
		goto fail;
	if (version < SCHEMA_VERSION) {
		if (sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(q->db, "PRAGMA user_version", get_int_cb, &version, &msg) != SQLITE_OK)
			goto fail;
	}
	if (version > SCHEMA_VERSION) {
		snprintf(err, errlen, "database schema version %lld is newer than this mailward "
		    "understands (%d)", (long long)version, SCHEMA_VERSION);
		if (sqlite3_get_autocommit(q->db) == 0)
			sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	if (sqlite3_get_autocommit(q->db) != 0)
		return 0; /* current: nothing to do */
	if (version < 1 && sqlite3_exec(q->db, schema_v1, NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	if (version < 2 && sqlite3_exec(q->db, schema_v2, NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	if (version < 3 && sqlite3_exec(q->db, schema_v3, NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	if (version < 4 && sqlite3_exec(q->db, schema_v4, NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	if (version < 5 && sqlite3_exec(q->db, schema_v5, NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	if (version < 6 && sqlite3_exec(q->db, schema_v6, NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	if (version < 7 && sqlite3_exec(q->db, schema_v7, NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	if (version < 8 && sqlite3_exec(q->db, schema_v8, NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	if (version < 9 && sqlite3_exec(q->db, schema_v9, NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	if (version < 10 && sqlite3_exec(q->db, schema_v10, NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	if (version < 11 && sqlite3_exec(q->db, schema_v11, NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	if (version < 12 && sqlite3_exec(q->db, schema_v12, NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	/* Later versions: if (version < 13) { ... } and so on. */
	if (sqlite3_exec(q->db, "PRAGMA user_version = " MW_STR(SCHEMA_VERSION), NULL, NULL,
	    &msg) != SQLITE_OK ||
	    sqlite3_exec(q->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "database schema: %s", msg ? msg : sqlite3_errmsg(q->db));
	sqlite3_free(msg);
	if (sqlite3_get_autocommit(q->db) == 0)
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

struct store *store_sqlite_open(const struct conf *c, char *err, size_t errlen)
{
	char path[1024];
	char *msg = NULL;
	struct sq *q;
	char pragmas[256];

	if (mw_mkdir_p(c->data_dir, 0700) < 0) {
		snprintf(err, errlen, "cannot create data_dir '%s': %s", c->data_dir, strerror(errno));
		return NULL;
	}
	conf_path(c, "mailward.db", path, sizeof(path));
	q = xcalloc(1, sizeof(*q));
	q->base.ops = &sqlite_ops;
	const char *fp = getenv("MAILWARD_FAILPOINT");
	if (fp != NULL && strncmp(fp, "store_step:", 11) == 0)
		q->fp_countdown = strtol(fp + 11, NULL, 10);
	/* One handle per thread (store.h), so SQLite's own mutexes are waste. */
	if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		    q->db ? sqlite3_errmsg(q->db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(q->db, 1);
	sqlite3_busy_timeout(q->db, 5000);
	/* The Bayes token table is read a page at a time per message: map the
	 * file (pages shared with the OS cache, not copied) and let each handle
	 * keep up to 16 MiB of hot pages; with the defaults a scan spent most
	 * of its time in pread. */
	snprintf(pragmas, sizeof(pragmas), "PRAGMA journal_mode = WAL; PRAGMA synchronous = %s; "
	    "PRAGMA foreign_keys = ON; PRAGMA mmap_size = 268435456; PRAGMA cache_size = -16384;",
	    c->fsync ? "NORMAL" : "OFF");
	if (sqlite3_exec(q->db, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "cannot set up %s: %s", path, msg ? msg : "?");
		sqlite3_free(msg);
		goto fail;
	}
	if (migrate(q, err, errlen) < 0)
		goto fail;
	return &q->base;
fail:
	sqlite3_close(q->db);
	free(q);
	return NULL;
}
