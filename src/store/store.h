/*
 * store.h - what mailward keeps in a database, behind one interface.
 *
 * struct store is opaque; store_open() picks the back end named by the
 * configuration ("sqlite" now: WAL database <data_dir>/mailward.db).  One
 * struct store per thread: a handle is never shared between threads.  Every
 * function returns 0 on success, 1 for "not found" where stated, -1 on a
 * storage error (message in store_error()).  Storage errors are temporary
 * failures for callers on the mail path, never a reason to exit.
 *
 * Strings passed in are copied; strings returned in result structs are
 * owned by the result and released with the matching *_free().
 */
#ifndef MW_STORE_STORE_H
#define MW_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

struct conf;
struct store;

struct store *store_open(const struct conf *c, char *err, size_t errlen);
void store_close(struct store *s);
const char *store_error(struct store *s);

/* ---- tenants, domains, users ---------------------------------------- */

/* A tenant threshold that is not set: the [scan] default of the configuration applies. */
#define STORE_SCORE_DEFAULT INT64_MIN

struct store_tenant {
	int64_t id;
	char *name;
	char *action;        /* "reject" | "quarantine" */
	int64_t created;
	int64_t tag;           /* hundredths of a point, or STORE_SCORE_DEFAULT */
	int64_t probable_spam; /* hundredths of a point, or STORE_SCORE_DEFAULT */
	char bulk[16];         /* bulk mail: "deliver" | "tag" | "quarantine" */
	int64_t retention;     /* quarantine retention, seconds; 0 = [quarantine] retention */
	int64_t digest;        /* digest interval, seconds; 0 never; -1 = [quarantine] digest */
};

struct store_domain {
	int64_t id;
	char *domain;        /* lower-case */
	char *tenant;        /* tenant name */
	char *deliver;       /* smtp://h:p | lmtp://h:p | maildir:/path */
	/* Overrides of the tenant's settings for this domain; "" /
	 * STORE_SCORE_DEFAULT = the tenant's. */
	char action[16];
	char bulk[16];
	int64_t tag, probable_spam;
	int64_t retention;     /* seconds; 0 = the tenant's */
};

struct store_user {
	char *address;       /* lower-case; "@domain" = catch-all */
	char *alias_of;      /* NULL for a primary address, else the primary */
	char *tenant;
};

int store_tenant_add(struct store *s, const char *name, const char *action);
int store_tenant_remove(struct store *s, const char *name);           /* 1 = not found; refuses (-1) while domains exist */
int store_tenant_get(struct store *s, const char *name, struct store_tenant *out); /* 1 = not found */
int store_tenant_set(struct store *s, const char *name, const char *key, const char *value); /* 1 = not found */
int store_tenant_list(struct store *s, struct store_tenant **out, size_t *n);
void store_tenant_free(struct store_tenant *t, size_t n);             /* frees members of n items and the array */

int store_domain_add(struct store *s, const char *domain, const char *tenant, const char *deliver); /* 1 = tenant not found */
int store_domain_remove(struct store *s, const char *domain);         /* 1 = not found; refuses (-1) while users exist */
int store_domain_list(struct store *s, const char *tenant_or_null, struct store_domain **out, size_t *n);
/* Override a tenant setting for one domain (R13): action, bulk, tag,
 * probable_spam; value "default" follows the tenant again.  1 = not found. */
int store_domain_set(struct store *s, const char *domain, const char *key, const char *value);
void store_domain_free(struct store_domain *d, size_t n);

/* alias_of NULL: primary address (or "@domain" catch-all).  The domain must be hosted (1 if not). */
int store_user_add(struct store *s, const char *address, const char *alias_of);
int store_user_remove(struct store *s, const char *address);          /* removes its aliases too; 1 = not found */
int store_user_list(struct store *s, const char *domain_or_null, struct store_user **out, size_t *n);
void store_user_free(struct store_user *u, size_t n);

/* Recipient lookup for the SMTP path.  address is lower-case local@domain. */
enum rcpt_status { RCPT_NOT_HOSTED = 0, RCPT_UNKNOWN_USER = 1, RCPT_VALID = 2 };
struct store_rcpt {
	enum rcpt_status status;
	int64_t tenant_id;
	char tenant[128];
	char deliver[512];
	char canonical[320];   /* the address to deliver to (alias resolved) */
	char action[16];       /* the action for probable spam (domain override, else the tenant's) */
	char bulk[16];         /* the action for bulk mail, likewise */
	int64_t tag;           /* thresholds (domain, else tenant), hundredths, or STORE_SCORE_DEFAULT */
	int64_t probable_spam;
};
int store_rcpt_lookup(struct store *s, const char *address, struct store_rcpt *out);

/* ---- recipient statistics (directory-harvest evidence, R3/R9) -------- */

/* Count one recipient verdict for the client IP and for the envelope sender
 * domain ("" for the null sender), bucketed by hour. */
int store_rcpt_stat_add(struct store *s, const char *client_ip, const char *sender_domain,
    int valid, int64_t now);
/* Sums over [since, now] for key kind "ip" or "sender_domain". */
int store_rcpt_stat_get(struct store *s, const char *kind, const char *key, int64_t since,
    int64_t *valid, int64_t *invalid);

/* ---- message log (R17/R18) ------------------------------------------- */

/* One transaction; action is the summary ("accepted", "rejected", "failed",
 * "tempfail").  Fields may be NULL/empty when the session never got there. */
struct store_log_txn {
	char *ref;
	char *qid;            /* empty if not queued */
	int64_t ts;           /* start of transaction, unix seconds */
	char *client_ip;
	char *helo;
	char *sender;
	char *from_hdr;
	char *subject;
	char *message_id;
	int64_t size;
	char *action;
	char *reply;          /* the full SMTP reply given at the end */
	int tls;
	int scanned;          /* 0: no verdict (refused before the scan, or not scanned) */
	double score;
	char *cls;            /* "clean" "bulk" "possible-spam" "probable-spam" or "" */
	char *symbols;        /* one per line: NAME TAB score TAB reason */
};

/* One recipient decision or a later delivery event for a recipient. */
struct store_log_rcpt {
	char *ref;
	int64_t ts;
	char *rcpt;
	char *tenant;         /* may be empty (relay denied) */
	char *status;         /* "accepted" "rejected" "delivered" "deferred" "bounced" "expired" */
	char *reply;          /* the reply we gave, or the downstream's reply */
};

int store_log_txn_add(struct store *s, const struct store_log_txn *t);
int store_log_rcpt_add(struct store *s, const struct store_log_rcpt *r);
/* Batched writes for the tracking thread: between begin and commit. */
int store_begin(struct store *s);
int store_commit(struct store *s);
/* Undo since the outermost begin (an inner one leaves it to the outer). */
int store_rollback(struct store *s);

struct store_log_query {
	const char *sender;       /* substring match, case-insensitive */
	const char *recipient;    /* substring */
	const char *subject;      /* substring */
	const char *ref;          /* exact (canonical form) */
	const char *qid;          /* exact */
	const char *message_id;   /* exact, without <> */
	const char *client_ip;    /* exact */
	const char *action;       /* exact: txn action or any recipient status */
	int64_t since, until;     /* 0 = open */
	size_t limit;             /* 0 = 100 */
};

struct store_log_entry {
	struct store_log_txn txn;
	struct store_log_rcpt *rcpts;   /* every recipient event of the transaction, by time */
	size_t n_rcpts;
};

int store_log_search(struct store *s, const struct store_log_query *q,
    struct store_log_entry **out, size_t *n);
void store_log_entry_free(struct store_log_entry *e, size_t n);
/* Delete log records older than before. Returns number deleted via *n. */
int store_log_purge(struct store *s, int64_t before, int64_t *n);

/* ---- quarantine (src/quarantine/, docs/quarantine.md) ------------------ */

/* One quarantined recipient of a message.  The message file is shared by
 * the message's recipients; state moves only from "held", once:
 * held -> released | deleted | expired. */
struct store_quarantine {
	int64_t id;
	char *qid;            /* the original queue id: names the message file */
	char *ref;
	int64_t ts;           /* when it was quarantined */
	char *tenant;
	char *rcpt;
	char *deliver;        /* where a release sends it */
	char *sender;
	char *from_hdr;
	char *subject;
	double score;
	char *cls;
	char *symbols;        /* NAME TAB score TAB reason lines, as in the log */
	char *state;          /* "held" "released" "deleted" "expired" */
	char *actor;          /* who released or deleted it ("" for expiry) */
	int64_t acted;        /* when; 0 while held */
	char *release_qid;    /* the queue id of the released copy */
};

struct store_quarantine_query {
	const char *tenant;       /* exact */
	const char *rcpt;         /* substring, case-insensitive */
	const char *sender;       /* substring */
	const char *subject;      /* substring */
	const char *state;        /* exact; NULL = any */
	int64_t since, until;     /* 0 = open */
	size_t limit;             /* 0 = 100 */
};

/* Adds one row per recipient (q[i].state is ignored: "held"), atomically;
 * ids[i] gets each new id.  */
int store_quarantine_add(struct store *s, const struct store_quarantine *q, size_t n,
    int64_t *ids);
int store_quarantine_get(struct store *s, int64_t id, struct store_quarantine *out); /* 1 = not found */
int store_quarantine_search(struct store *s, const struct store_quarantine_query *q,
    struct store_quarantine **out, size_t *n);
/* held -> state ("released" "deleted" "expired"), only if still held:
 * 0 done, 1 not held (or no such id). */
int store_quarantine_finish(struct store *s, int64_t id, const char *state, const char *actor,
    int64_t now, const char *release_qid);
/* Rows of this message file still held (the file is removed at 0). */
int store_quarantine_held(struct store *s, const char *qid, int64_t *n);
/* Ids of held rows older than their tenant's retention (else
 * default_retention) at now; oldest first, at most max. */
int store_quarantine_due(struct store *s, int64_t now, int64_t default_retention, size_t max,
    int64_t **ids, size_t *n);
void store_quarantine_free(struct store_quarantine *q, size_t n);
/* The digest's memory: the newest quarantine time a user was told about
 * and when the last digest went out (0 when never). */
int store_digest_get(struct store *s, const char *rcpt, int64_t *last, int64_t *sent);
int store_digest_set(struct store *s, const char *rcpt, int64_t last, int64_t sent);
/* A tenant's digest interval in seconds: 0 never, -1 = [quarantine] digest. */
int store_tenant_digest(struct store *s, const char *tenant, int64_t *interval);   /* members of n items and the array */
void store_quarantine_clear(struct store_quarantine *q);             /* members of one (from _get) */

/* ---- sender allow and block lists (R14, docs/policy.md) ---------------- */

/* pattern: "user@example.org" (an address), "example.org" (that domain),
 * ".example.org" (the domain and its subdomains); stored lower-case. */
struct store_list_entry {
	int64_t id;
	char *tenant;
	char *user;           /* "" = domain level (all the tenant's users), else an address */
	char *kind;           /* "allow" | "block" */
	char *pattern;
	int no_auth;          /* applies even when the sender is not authenticated */
	int64_t created;
	char *actor;
};

/* 0 added, 1 already there; the user must be one of the tenant's (checked
 * by the caller, which resolves --user to its tenant). */
int store_list_add(struct store *s, const struct store_list_entry *e);
int store_list_remove(struct store *s, const char *tenant, const char *user, const char *kind,
    const char *pattern);                                   /* 1 = not found */
/* The tenant's domain-level entries plus those of user rcpt (lower-case). */
int store_list_for_rcpt(struct store *s, const char *tenant, const char *rcpt,
    struct store_list_entry **out, size_t *n);
/* Any of tenant, user, kind may be NULL (= all). */
int store_list_search(struct store *s, const char *tenant, const char *user, const char *kind,
    struct store_list_entry **out, size_t *n);
void store_list_free(struct store_list_entry *e, size_t n);
/* Normalises a pattern into out (lower-case); 0, or -1 if it is none of the
 * three forms. */
int store_list_pattern(const char *in, char *out, size_t n);

/* ---- audit trail: who changed policy or acted on mail ------------------- */

struct store_audit {
	int64_t id;
	int64_t ts;
	char *actor;
	char *action;         /* e.g. "allow add", "quarantine release" */
	char *object;         /* what it was done to */
	char *detail;
};
int store_audit_add(struct store *s, const char *actor, const char *action, const char *object,
    const char *detail);
int store_audit_search(struct store *s, int64_t since, size_t limit, struct store_audit **out,
    size_t *n);
void store_audit_free(struct store_audit *a, size_t n);

/* ---- Bayes token counts (src/bayes/, docs/bayes.md) ------------------- */

/* Message counts of one feature hash: in how many learned spam / ham
 * messages it occurs. */
struct store_bayes_count {
	int64_t spam;
	int64_t ham;
};

/* Counts for n feature hashes, which must be strictly ascending (a sorted,
 * de-duplicated token set); out[i] belongs to hashes[i], zero if unknown. */
int store_bayes_get(struct store *s, const uint64_t *hashes, size_t n,
    struct store_bayes_count *out);
/* Learn one message, identified by digest (1-128 printable ASCII bytes),
 * with its sorted, unique feature hashes, in one transaction.  Returns 0,
 * or 1 if it was already learned in that class (nothing changes).  A
 * message learned in the other class is moved ("relearn"). */
int store_bayes_learn(struct store *s, const char *digest, int is_spam, const uint64_t *hashes,
    size_t n);
/* Many messages in one transaction, all or nothing: a training run learns
 * hundreds of messages per commit instead of paying a commit (and WAL
 * checkpoints) for each.  results[i] is what store_bayes_learn would return
 * (0 or 1) for m[i], in order; a digest repeated in the batch counts once. */
struct store_bayes_msg {
	const char *digest;
	int is_spam;
	const uint64_t *hashes;
	size_t n;
};
int store_bayes_learn_many(struct store *s, const struct store_bayes_msg *m, size_t n,
    int *results);
/* Forget a learned message (the same hashes as when learned): 0, or 1 if
 * the digest was not learned. */
int store_bayes_unlearn(struct store *s, const char *digest, const uint64_t *hashes, size_t n);
/* How a digest was learned: 0 with *is_spam and *weight (how many times it
 * counts, >= 1) set, 1 if it was not learned. */
int store_bayes_msg_get(struct store *s, const char *digest, int *is_spam, int64_t *weight);
/* Reinforcement (docs/bayes.md): make each m[i], already learned in the
 * class m[i].is_spam, count weight times (2..STORE_BAYES_MAX_WEIGHT),
 * adding the difference to its tokens and the totals, all in one
 * transaction.  results[i] is 0 when it was raised, 1 when nothing changed
 * (not learned, learned in the other class, or already counting that many
 * times).  Unlearning or moving the message later takes back all of it. */
#define STORE_BAYES_MAX_WEIGHT 16
int store_bayes_reinforce_many(struct store *s, const struct store_bayes_msg *m, size_t n,
    int64_t weight, int *results);
/* How many spam and ham messages are learned. */
int store_bayes_totals(struct store *s, int64_t *nspam, int64_t *nham);
/* The totals and a version that changes with every learn, relearn and
 * unlearn that changed counts (compare for equality only): an in-memory
 * copy of the counts checks it to know whether it is stale. */
struct store_bayes_state {
	int64_t nspam;
	int64_t nham;
	int64_t version;
};
int store_bayes_state(struct store *s, struct store_bayes_state *out);
/* What the Bayes store holds, for `mailward train --status`: the totals,
 * the learned messages per class, and the token rows.  One read
 * transaction; it counts every token row, so it costs a pass over the
 * table (about 0.3 s for 2 million rows). */
struct store_bayes_stats {
	struct store_bayes_state state;   /* totals (weighted) and version */
	int64_t msgs[2];                  /* learned messages: [0] ham, [1] spam */
	int64_t reinforced[2];            /* ... of them counting more than once */
	int64_t last_learned;             /* newest learning of a message, 0: none */
	int64_t tokens;                   /* token rows */
	int64_t tokens_once;              /* ... with spam + ham == 1 */
	int64_t oldest_atime;             /* least recent learning of a token, 0: none */
};
int store_bayes_stats(struct store *s, struct store_bayes_stats *out);
/* Token expiry (docs/bayes.md, "Expiry"): when more than max tokens are
 * stored, delete the least recently learned ones - the oldest day of atime
 * first, within a day the rarest (spam + ham), then by hash - until keep are
 * left, in transactions of a few thousand tokens (so other writers do not
 * wait long).  The totals and the learned messages stay; the version
 * moves, so in-memory copies reload.  *removed is how many were deleted
 * (0 when there were max or fewer; after an error, those of the chunks
 * committed before it).  1 <= keep <= max. */
int store_bayes_expire(struct store *s, int64_t max, int64_t keep, int64_t *removed);
/* Every stored token count, for an in-memory snapshot (src/bayes/
 * bayes_snapshot.h): one sequential read instead of one probe per token.
 * The state and the tokens are read as one consistent state (one read
 * transaction), so a trainer committing meanwhile is either wholly in the
 * result or not at all.  begin is called once, first, with the state and
 * the number of tokens that follow (0 if a back end cannot tell cheaply);
 * then token once per stored token, in no promised order (SQLite gives
 * ascending unsigned hashes).  Each returns 0 to go on, non-zero to stop.
 * Returns 0 when every token was delivered, 1 when a callback stopped the
 * scan, -1 on a storage error. */
struct store_bayes_scan_cb {
	int (*begin)(void *arg, const struct store_bayes_state *st, size_t ntokens);
	int (*token)(void *arg, uint64_t hash, int64_t spam, int64_t ham);
	void *arg;
};
int store_bayes_scan(struct store *s, const struct store_bayes_scan_cb *cb);

/* ---- sender reputation (src/reputation/, docs/reputation.md) ------------ */

/* Decaying counters of one identity (R9-R12).  key is the identity as
 * reputation_identities() writes it: "ip:192.0.2.1", "net:192.0.2.0/24",
 * "net:2001:db8:1::/64", "org:example.org" (authenticated domains only),
 * "pair:example.org/192.0.2.0/24" (an unauthenticated envelope domain with
 * the network it was seen from).  The counters are as of `updated`: the
 * store keeps what it is given and never decays anything itself; the
 * reputation module decays them to its own clock before it reads or adds
 * (so tests inject the clock there). */
#define STORE_REP_KEY_MAX 160
struct store_rep {
	char key[STORE_REP_KEY_MAX];
	int64_t updated;      /* the time the counters below are valid at */
	int64_t first_seen;
	int64_t reset;        /* when an admin last reset it; 0 never */
	double msgs;          /* messages (transactions that reached DATA) */
	double valid;         /* recipients accepted */
	double invalid;       /* recipients refused as unknown users */
	double traps;         /* messages to spam traps */
	double complaints;    /* complaints matched to its mail */
	double spam;          /* messages with a probable-spam verdict */
	double ham;           /* messages with a clean verdict */
};
/* 0, or 1 when the key has no row (out is then zeroed with key set). */
int store_rep_get(struct store *s, const char *key, struct store_rep *out);
/* Insert or replace the row of r->key.  Callers read, decay, add and put
 * inside store_begin()/store_commit() so two writers never lose an add. */
int store_rep_put(struct store *s, const struct store_rep *r);
/* Rows whose key starts with prefix (e.g. "pair:example.org/"), at most
 * limit (0 = 1000), by key. */
int store_rep_list(struct store *s, const char *prefix, size_t limit, struct store_rep **out,
    size_t *n);
/* Remove the row (a reset starts from nothing) and forget the recipient
 * statistics of the same IP or domain (store_rcpt_stat_*): kind "ip" or
 * "sender_domain", key as there; either may be NULL.  1 = nothing was there. */
int store_rep_clear(struct store *s, const char *key, const char *stat_kind, const char *stat_key);
void store_rep_free(struct store_rep *r);          /* the array of store_rep_list */

/* What happened to an identity, for `mailward reputation show` (R18): kind
 * is "trap" "complaint" "invalid" "spam" "reset"; ref the transaction's.
 * Bounded: the newest 50 per key are kept (older ones go at insert). */
struct store_rep_event {
	int64_t id;
	int64_t ts;
	char *key;
	char *kind;
	char *ref;
	char *detail;
};
int store_rep_event_add(struct store *s, int64_t ts, const char *key, const char *kind,
    const char *ref, const char *detail);
/* Events of keys starting with prefix, newest first, at most limit (0 = 50). */
int store_rep_event_list(struct store *s, const char *prefix, size_t limit,
    struct store_rep_event **out, size_t *n);
void store_rep_event_free(struct store_rep_event *e, size_t n);

/* ---- content fingerprints with evidence (R12, docs/fingerprint.md) ------ */

/* A fingerprint worth remembering: one that was seen in mail to a trap, in
 * a complaint, or in probable spam.  sig is fp_sig_encode()'s bytes
 * (version and kind inside); the in-memory LSH index is rebuilt from these
 * rows at start.  Counters decay like store_rep's. */
#define STORE_FP_SIG_BYTES 260   /* FP_SIG_BYTES; checked in src/fingerprint */
struct store_fp {
	int64_t id;
	int kind;             /* enum fp_kind */
	unsigned char sig[STORE_FP_SIG_BYTES];
	int64_t created;
	int64_t updated;      /* counters below as of this time */
	double traps, complaints, spam, msgs;
	int64_t last_trap;    /* time of the latest trap hit, 0 never */
	char last_ref[32];    /* the latest evidence's ref id */
	char excerpt[256];    /* what the part said (the first words), for people */
	char benign[128];     /* "" or the tenant that marked it benign: never counted, never matched */
};
/* Insert (f->id is set from the new row) or, with f->id > 0, update. */
int store_fp_put(struct store *s, struct store_fp *f);
int store_fp_get(struct store *s, int64_t id, struct store_fp *out);   /* 1 = not found */
int store_fp_remove(struct store *s, int64_t id);                     /* 1 = not found */
/* The rows with id > after_id (0: every row) in id order, for the index
 * rebuild, the refresh of a running server's index with rows another
 * process added, and the CLI: cb returns non-zero to stop. */
int store_fp_scan(struct store *s, int64_t after_id,
    int (*cb)(void *arg, const struct store_fp *f), void *arg);

/* ---- spam traps (R10) ----------------------------------------------------- */

/* pattern: "user@example.org" or "@example.org" (the whole domain), lower
 * case; tenant "" = network-wide. */
struct store_trap {
	int64_t id;
	char *pattern;
	char *tenant;
	int64_t created;
	char *actor;
};
int store_trap_add(struct store *s, const char *pattern, const char *tenant, const char *actor); /* 1 = exists */
int store_trap_remove(struct store *s, const char *pattern, const char *tenant); /* 1 = not found */
int store_trap_list(struct store *s, const char *tenant_or_null, struct store_trap **out, size_t *n);
void store_trap_free(struct store_trap *t, size_t n);
/* Is address (lower-case local@domain) a trap?  0 yes (its pattern and
 * tenant copied out), 1 no.  The exact address beats "@domain". */
int store_trap_match(struct store *s, const char *address, char *pattern, size_t pn,
    char *tenant, size_t tn);

/* One message to a trap recipient: the evidence (R10).  file is the kept
 * copy under <data_dir>/traps/ ("" when not kept). */
struct store_trap_hit {
	int64_t id;
	int64_t ts;
	char *ref;
	char *client_ip;
	char *helo;
	char *sender;
	char *rcpt;
	char *tenant;
	char *subject;
	char *file;
};
/* Adds the hit and keeps at most max_keep hits (oldest go first); the
 * file names of the hits that went are returned in *gone (n_gone; the
 * caller unlinks them and frees with store_strings_free()). */
int store_trap_hit_add(struct store *s, const struct store_trap_hit *h, size_t max_keep,
    char ***gone, size_t *n_gone);
/* Newest first; client_ip / sender exact when non-NULL; limit 0 = 100. */
int store_trap_hit_list(struct store *s, const char *client_ip, const char *sender, size_t limit,
    struct store_trap_hit **out, size_t *n);
void store_trap_hit_free(struct store_trap_hit *h, size_t n);
void store_strings_free(char **v, size_t n);

/* ---- complaints (R11, docs/complaints.md) ---------------------------------- */

struct store_complaint {
	int64_t id;
	int64_t ts;
	char *source;         /* "smtp" "cli" */
	char *kind;           /* "arf" "not-arf" "none" (arf_parse's result) */
	char *flags;          /* arf_flag_name()s, space-separated; "" clean */
	char *digest;         /* the report's digest: the same report counts once */
	char *feedback_type;
	char *reporter;
	char *matched_ref;    /* the original transaction's ref, "" unmatched */
	char *match;          /* "ref" "message-id" "fingerprint" "none" */
	char *client_ip;      /* the original's, from the matched log record */
	char *sender;
	char *subject;
	char *raw;            /* the report as received, at most 64 KiB */
	size_t raw_len;
};
/* 0 added (*id set), 1 a report with this digest is already there. */
int store_complaint_add(struct store *s, const struct store_complaint *c, int64_t *id);
int store_complaint_get(struct store *s, int64_t id, struct store_complaint *out); /* 1 = not found */
/* Newest first; since 0 = all; limit 0 = 100. */
int store_complaint_list(struct store *s, int64_t since, size_t limit,
    struct store_complaint **out, size_t *n);
void store_complaint_free(struct store_complaint *c, size_t n);
/* Stored complaints that were matched to the transaction ref by ref or
 * Message-ID with a feedback type that counts (not "not-spam" or
 * "auth-failure"): what one original has drawn so far, for the cap of
 * complaints per original (docs/reputation.md); by_message_id (may be
 * NULL) gets those matched only by Message-ID, which anyone who saw the
 * headers can quote. */
int store_complaint_count_ref(struct store *s, const char *ref, int64_t *n,
    int64_t *by_message_id);

/* ---- the tenants' own outgoing mail (R16) --------------------------------- */

/* msgid without <>, as written (compared exactly). 0 added, 1 known. */
int store_outbound_add(struct store *s, const char *tenant, const char *msgid, int64_t now);
/* The first of msgids (n of them) that tenant sent: 0 and copied to
 * matched, or 1 none. */
int store_outbound_match(struct store *s, const char *tenant, const char *const *msgids, size_t n,
    char *matched, size_t mn);
/* One registered domain msgid (recorded with store_outbound_add) was sent
 * to, lower case: 0 added, 1 known. */
int store_outbound_rcpt_add(struct store *s, const char *tenant, const char *msgid,
    const char *domain);
/* Was msgid sent to one of domains (n of them, the reply's sender
 * domains)?  0 yes; 1 it went to other domains only (known gets a few of
 * them, ", "-separated); 2 no recipients were recorded for it. */
int store_outbound_rcpt_check(struct store *s, const char *tenant, const char *msgid,
    const char *const *domains, size_t n, char *known, size_t kn);
int store_outbound_purge(struct store *s, int64_t before, int64_t *n);

#endif
