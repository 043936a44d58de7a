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
 * This file has the schema and its migrations, the statement table, the
 * transactions, open and close and the operation table; each group of
 * operations has its own store_sqlite_<group>.c (tenant, user, log,
 * bayes, quarantine, list, rep, fp, trap, complaint, outbound), and
 * store_sqlite_int.h is what they share.
 */
#include "store/store_sqlite_int.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"

#define SCHEMA_VERSION 12

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

/* ---- open / close ----------------------------------------------------------- */

static void sq_close(struct store *s)
{
	struct sq *q = SQ(s);

	for (int i = 0; i < ST__N; i++)
		sqlite3_finalize(q->st[i]);
	sqlite3_close(q->db);
	free(q);
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
	.bayes_stats = sq_bayes_stats,
	.bayes_expire = sq_bayes_expire,
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
