/*
 * store_backend.h - what a storage back end implements (private to
 * src/store/).
 *
 * store.c owns everything that must not differ between back ends: syntax
 * checks of names, domains, addresses and delivery URLs, lower-casing, the
 * error text for bad input.  A back end receives validated, normalised
 * arguments and only stores and fetches.  Each back end embeds struct store
 * as the first member of its own handle and sets ops.
 *
 * Return conventions are those of store.h (0, 1 = not found, -1 + error via
 * store_seterr()).
 */
#ifndef MW_STORE_STORE_BACKEND_H
#define MW_STORE_STORE_BACKEND_H

#include "store/store.h"
#include "base/util.h"

struct store_ops {
	const char *name;
	void (*close)(struct store *s);

	int (*tenant_add)(struct store *s, const char *name, const char *action, int64_t now);
	int (*tenant_remove)(struct store *s, const char *name);
	int (*tenant_get)(struct store *s, const char *name, struct store_tenant *out);
	/* key is one the front end knows ("action"); value already checked. */
	int (*tenant_set)(struct store *s, const char *name, const char *key, const char *value);
	int (*tenant_list)(struct store *s, struct store_tenant **out, size_t *n);

	int (*domain_add)(struct store *s, const char *domain, const char *tenant, const char *deliver);
	int (*domain_remove)(struct store *s, const char *domain);
	int (*domain_list)(struct store *s, const char *tenant, struct store_domain **out, size_t *n);
	/* key is action|bulk|tag|probable_spam; value checked; NULL = back to the tenant's. */
	int (*domain_set)(struct store *s, const char *domain, const char *key, const char *value);

	/* domain is the part after the last '@' of address. */
	int (*user_add)(struct store *s, const char *address, const char *domain, const char *alias_of);
	int (*user_remove)(struct store *s, const char *address);
	int (*user_list)(struct store *s, const char *domain, struct store_user **out, size_t *n);

	/* address = local@domain, lower-case; catchall = "@domain". */
	int (*rcpt_lookup)(struct store *s, const char *address, const char *domain,
	    const char *catchall, struct store_rcpt *out);

	/* Counts under "ip" (unless client_ip is NULL) and "sender_domain",
	 * atomically.  hour is the start of the hour bucket. */
	int (*rcpt_stat_add)(struct store *s, const char *client_ip, const char *sender_domain,
	    int valid, int64_t hour);
	int (*rcpt_stat_get)(struct store *s, const char *kind, const char *key, int64_t since_hour,
	    int64_t *valid, int64_t *invalid);

	int (*log_txn_add)(struct store *s, const struct store_log_txn *t);
	int (*log_rcpt_add)(struct store *s, const struct store_log_rcpt *r);
	/* Nest: only the outermost begin/commit pair is a transaction. */
	int (*begin)(struct store *s);
	int (*commit)(struct store *s);
	int (*rollback)(struct store *s);
	/* q->ref is canonical, q->message_id has no <>, q->limit is set. */
	int (*log_search)(struct store *s, const struct store_log_query *q,
	    struct store_log_entry **out, size_t *n);
	int (*log_purge)(struct store *s, int64_t before, int64_t *n);

	int (*list_add)(struct store *s, const struct store_list_entry *e, int64_t now);
	int (*list_remove)(struct store *s, const char *tenant, const char *user, const char *kind,
	    const char *pattern);
	int (*list_for_rcpt)(struct store *s, const char *tenant, const char *rcpt,
	    struct store_list_entry **out, size_t *n);
	int (*list_search)(struct store *s, const char *tenant, const char *user, const char *kind,
	    struct store_list_entry **out, size_t *n);
	int (*audit_add)(struct store *s, const char *actor, const char *action, const char *object,
	    const char *detail, int64_t now);
	int (*audit_search)(struct store *s, int64_t since, size_t limit, struct store_audit **out,
	    size_t *n);

	int (*digest_get)(struct store *s, const char *rcpt, int64_t *last, int64_t *sent);
	int (*digest_set)(struct store *s, const char *rcpt, int64_t last, int64_t sent);
	int (*tenant_digest)(struct store *s, const char *tenant, int64_t *interval);
	int (*quarantine_add)(struct store *s, const struct store_quarantine *q, size_t n,
	    int64_t *ids, int64_t now);
	int (*quarantine_get)(struct store *s, int64_t id, struct store_quarantine *out);
	/* q->limit is set. */
	int (*quarantine_search)(struct store *s, const struct store_quarantine_query *q,
	    struct store_quarantine **out, size_t *n);
	int (*quarantine_finish)(struct store *s, int64_t id, const char *state, const char *actor,
	    int64_t now, const char *release_qid);
	int (*quarantine_held)(struct store *s, const char *qid, int64_t *n);
	int (*quarantine_due)(struct store *s, int64_t now, int64_t default_retention, size_t max,
	    int64_t **ids, size_t *n);

	/* Hashes are strictly ascending and n is bounded (store.c checks);
	 * digest is checked printable ASCII; now is unix seconds. */
	int (*bayes_get)(struct store *s, const uint64_t *hashes, size_t n,
	    struct store_bayes_count *out);
	int (*bayes_learn)(struct store *s, const char *digest, int is_spam,
	    const uint64_t *hashes, size_t n, int64_t now);
	int (*bayes_learn_many)(struct store *s, const struct store_bayes_msg *m, size_t n,
	    int *results, int64_t now);
	int (*bayes_unlearn)(struct store *s, const char *digest, const uint64_t *hashes, size_t n);
	int (*bayes_msg_get)(struct store *s, const char *digest, int *is_spam, int64_t *weight);
	int (*bayes_reinforce_many)(struct store *s, const struct store_bayes_msg *m, size_t n,
	    int64_t weight, int *results, int64_t now);
	int (*bayes_totals)(struct store *s, int64_t *nspam, int64_t *nham);
	int (*bayes_state)(struct store *s, struct store_bayes_state *out);
	int (*bayes_stats)(struct store *s, struct store_bayes_stats *out);
	int (*bayes_expire)(struct store *s, int64_t max, int64_t keep, int64_t *removed);
	/* Both callbacks are set; see store_bayes_scan() for the contract. */
	int (*bayes_scan)(struct store *s, const struct store_bayes_scan_cb *cb);

	/* Reputation (schema 10).  Keys are checked (1..STORE_REP_KEY_MAX-1
	 * bytes, no control characters); prefix is "" for all, limit set;
	 * stat_kind/stat_key are both NULL or both set (kind checked, key
	 * normalised as store_rcpt_stat_add() writes it). */
	int (*rep_get)(struct store *s, const char *key, struct store_rep *out);
	int (*rep_put)(struct store *s, const struct store_rep *r);
	int (*rep_list)(struct store *s, const char *prefix, size_t limit, struct store_rep **out,
	    size_t *n);
	int (*rep_clear)(struct store *s, const char *key, const char *stat_kind,
	    const char *stat_key);
	/* kind is one of the documented ones; keeps the newest keep per key. */
	int (*rep_event_add)(struct store *s, int64_t ts, const char *key, const char *kind,
	    const char *ref, const char *detail, size_t keep);
	int (*rep_event_list)(struct store *s, const char *prefix, size_t limit,
	    struct store_rep_event **out, size_t *n);

	/* The char arrays of f are NUL-terminated (checked). */
	int (*fp_put)(struct store *s, struct store_fp *f);
	int (*fp_get)(struct store *s, int64_t id, struct store_fp *out);
	int (*fp_remove)(struct store *s, int64_t id);
	int (*fp_scan)(struct store *s, int64_t after_id,
	    int (*cb)(void *arg, const struct store_fp *f), void *arg);

	/* pattern normalised ("local@domain" or "@domain"); tenant "" or an
	 * existing tenant's name; address normalised, domain = "@" + its domain. */
	int (*trap_add)(struct store *s, const char *pattern, const char *tenant, const char *actor,
	    int64_t now);
	int (*trap_remove)(struct store *s, const char *pattern, const char *tenant);
	int (*trap_list)(struct store *s, const char *tenant, struct store_trap **out, size_t *n);
	int (*trap_match)(struct store *s, const char *address, const char *domain, char *pattern,
	    size_t pn, char *tenant, size_t tn);
	/* Strings of h are non-NULL; h->ts is set; max_keep 0 = no bound. */
	int (*trap_hit_add)(struct store *s, const struct store_trap_hit *h, size_t max_keep,
	    char ***gone, size_t *n_gone);
	int (*trap_hit_list)(struct store *s, const char *client_ip, const char *sender,
	    size_t limit, struct store_trap_hit **out, size_t *n);

	/* Strings of c are non-NULL, digest checked, raw_len capped; c->ts set. */
	int (*complaint_add)(struct store *s, const struct store_complaint *c, int64_t *id);
	int (*complaint_get)(struct store *s, int64_t id, struct store_complaint *out);
	int (*complaint_list)(struct store *s, int64_t since, size_t limit,
	    struct store_complaint **out, size_t *n);
	int (*complaint_count_ref)(struct store *s, const char *ref, int64_t *n,
	    int64_t *by_message_id);

	/* tenant checked; msgids non-empty, at most 998 bytes, without <>. */
	int (*outbound_add)(struct store *s, const char *tenant, const char *msgid, int64_t now);
	int (*outbound_rcpt_add)(struct store *s, const char *tenant, const char *msgid,
	    const char *domain);
	int (*outbound_rcpt_check)(struct store *s, const char *tenant, const char *msgid,
	    const char *const *domains, size_t n, char *known, size_t kn);
	int (*outbound_match)(struct store *s, const char *tenant, const char *const *msgids,
	    size_t n, char *matched, size_t mn);
	int (*outbound_purge)(struct store *s, int64_t before, int64_t *n);
};

struct store {
	const struct store_ops *ops;
	char err[512];
};

void store_seterr(struct store *s, const char *fmt, ...) MW_PRINTF(2, 3);

/* Back-end constructors, selected by store_open(). */
struct store *store_sqlite_open(const struct conf *c, char *err, size_t errlen);

#endif
