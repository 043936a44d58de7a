/*
 * store.c - the back-end-independent half of the store: picks a back end,
 * validates and normalises every argument, then dispatches through the
 * back end's store_ops.
 *
 * Validation lives here, not in a back end, so the CLI refuses the same
 * input with the same words whichever database is configured, and a back
 * end never sees a name that could not be written in another one.
 */
#include "store/store_backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/refid.h"
#include "base/timeparse.h"
#include "conf/conf.h"

#define ADDR_MAX 320   /* sizeof(struct store_rcpt.canonical) */

void store_seterr(struct store *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
}

struct store *store_open(const struct conf *c, char *err, size_t errlen)
{
	if (strcmp(c->backend, "sqlite") == 0)
		return store_sqlite_open(c, err, errlen);
	/* Redis and PostgreSQL back ends plug in here (docs/storage.md). */
	snprintf(err, errlen, "unknown storage back end '%s'", c->backend);
	return NULL;
}

void store_close(struct store *s)
{
	if (s != NULL)
		s->ops->close(s);
}

const char *store_error(struct store *s)
{
	return s->err;
}

/* ---- syntax ------------------------------------------------------------ */

static int valid_tenant_name(const char *name)
{
	size_t n = strlen(name);

	if (n < 1 || n > 64)
		return 0;
	for (const char *p = name; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		    *p == '_' || *p == '-'))
			return 0;
	}
	return 1;
}

static int valid_action(const char *a)
{
	return strcmp(a, "reject") == 0 || strcmp(a, "quarantine") == 0;
}

/* Lower-cased copy of a domain into out if it is LDH labels; 0 if not. */
static int norm_domain(const char *in, char *out, size_t n)
{
	size_t len = strlen(in), label = 0;

	if (len < 1 || len > 253 || len >= n)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		char ch = in[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (ch == '.' || ch == '\0') {
			/* Empty label, or a label that starts or ends with '-'. */
			if (label == 0 || label > 63 || out[i - 1] == '-' || out[i - label] == '-')
				return 0;
			label = 0;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-') {
			label++;
		} else {
			return 0;
		}
		out[i] = ch;
	}
	return 1;
}

/*
 * Lower-cased copy of local@domain (or "@domain" when allow_catchall) into
 * out; *domain points into out.  The local part is kept liberal (any
 * printable byte except '@', '<', '>', and UTF-8 for SMTPUTF8): the SMTP
 * parser decides what can arrive, this only refuses what cannot be an
 * address at all.
 */
static int norm_address(const char *in, char *out, size_t n, int allow_catchall,
    const char **domain)
{
	const char *at = strrchr(in, '@');
	size_t llen;

	if (at == NULL)
		return 0;
	llen = (size_t)(at - in);
	if (llen > 64 || (llen == 0 && !allow_catchall) || llen + 2 > n)
		return 0;
	for (size_t i = 0; i < llen; i++) {
		unsigned char ch = (unsigned char)in[i];
		if (ch <= 0x20 || ch == 0x7f || ch == '@' || ch == '<' || ch == '>')
			return 0;
		out[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : (char)ch;
	}
	out[llen] = '@';
	if (!norm_domain(at + 1, out + llen + 1, n - llen - 1))
		return 0;
	*domain = out + llen + 1;
	return 1;
}

static int valid_deliver(const char *url)
{
	const char *rest;

	if (strlen(url) >= sizeof(((struct store_rcpt *)0)->deliver))
		return 0;
	for (const unsigned char *p = (const unsigned char *)url; *p; p++) {
		if (*p <= 0x20 || *p == 0x7f)
			return 0;
	}
	/* host:port forms need a host; the path forms need an absolute path. */
	if (strncmp(url, "smtp://", 7) == 0 || strncmp(url, "lmtp://", 7) == 0)
		return url[7] != '\0' && url[7] != '/';
	if (strncmp(url, "lmtp:/", 6) == 0)
		rest = url + 5;
	else if (strncmp(url, "maildir:/", 9) == 0)
		rest = url + 8;
	else
		return 0;
	return rest[0] == '/' && rest[1] != '\0';
}

/* ---- tenants ------------------------------------------------------------ */

static int check_tenant_name(struct store *s, const char *name)
{
	if (name == NULL || !valid_tenant_name(name)) {
		store_seterr(s, "bad tenant name '%s' (1-64 of a-z 0-9 . _ -)", name ? name : "");
		return -1;
	}
	return 0;
}

int store_tenant_add(struct store *s, const char *name, const char *action)
{
	if (check_tenant_name(s, name) < 0)
		return -1;
	if (action == NULL)
		action = "reject";
	if (!valid_action(action)) {
		store_seterr(s, "bad action '%s' (reject or quarantine)", action);
		return -1;
	}
	return s->ops->tenant_add(s, name, action, mw_now());
}

int store_tenant_remove(struct store *s, const char *name)
{
	if (check_tenant_name(s, name) < 0)
		return -1;
	return s->ops->tenant_remove(s, name);
}

int store_tenant_get(struct store *s, const char *name, struct store_tenant *out)
{
	memset(out, 0, sizeof(*out));
	if (check_tenant_name(s, name) < 0)
		return -1;
	return s->ops->tenant_get(s, name, out);
}

static int valid_bulk(const char *b)
{
	return b != NULL && (strcmp(b, "deliver") == 0 || strcmp(b, "tag") == 0 ||
	    strcmp(b, "quarantine") == 0);
}

/* A duration setting: "default", or e.g. 14d/12h/30m (at least min seconds). */
static int check_duration(struct store *s, const char *key, const char *value, int64_t min)
{
	int64_t v;
	if (strcmp(value, "default") != 0 &&
	    (timeparse_duration(value, &v) < 0 || v < min || v > 3650 * 86400)) {
		store_seterr(s, "bad %s '%s' (a duration such as 14d, 12h, 30m%s, or 'default')", key,
		    value, min == 0 ? ", 0 for never" : "");
		return -1;
	}
	return 0;
}

static int check_score_value(struct store *s, const char *key, const char *value)
{
	int64_t v;
	if (strcmp(value, "default") != 0 &&
	    (conf_parse_score(value, &v) < 0 || v < -100000 || v > 100000)) {
		store_seterr(s, "bad %s '%s' (a score from -1000 to 1000 with at most two "
		    "decimals, or 'default')", key, value);
		return -1;
	}
	return 0;
}

int store_tenant_set(struct store *s, const char *name, const char *key, const char *value)
{
	if (check_tenant_name(s, name) < 0)
		return -1;
	if (key == NULL || value == NULL) {
		store_seterr(s, "tenant setting needs KEY=VALUE");
		return -1;
	}
	/* One branch per settable key; new keys (thresholds, bulk action,
	 * quarantine retention) get their check here and a column in the back
	 * end. */
	if (strcmp(key, "action") == 0) {
		if (!valid_action(value)) {
			store_seterr(s, "bad action '%s' (reject or quarantine)", value);
			return -1;
		}
	} else if (strcmp(key, "tag") == 0 || strcmp(key, "probable_spam") == 0) {
		if (check_score_value(s, key, value) < 0)
			return -1;
	} else if (strcmp(key, "bulk") == 0) {
		if (!valid_bulk(value)) {
			store_seterr(s, "bad bulk '%s' (deliver, tag or quarantine)", value);
			return -1;
		}
	} else if (strcmp(key, "retention") == 0) {
		if (check_duration(s, key, value, 1) < 0)
			return -1;
	} else if (strcmp(key, "digest") == 0) {
		if (check_duration(s, key, value, 0) < 0)
			return -1;
	} else {
		store_seterr(s, "unknown tenant setting '%s' (known: action, bulk, tag, probable_spam, "
		    "retention, digest)", key);
		return -1;
	}
	return s->ops->tenant_set(s, name, key, value);
}

int store_tenant_list(struct store *s, struct store_tenant **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	return s->ops->tenant_list(s, out, n);
}

void store_tenant_free(struct store_tenant *t, size_t n)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(t[i].name);
		free(t[i].action);
	}
	free(t);
}

/* ---- domains ------------------------------------------------------------ */

int store_domain_add(struct store *s, const char *domain, const char *tenant, const char *deliver)
{
	char d[256];

	if (domain == NULL || !norm_domain(domain, d, sizeof(d))) {
		store_seterr(s, "bad domain '%s'", domain ? domain : "");
		return -1;
	}
	if (check_tenant_name(s, tenant) < 0)
		return -1;
	if (deliver == NULL || !valid_deliver(deliver)) {
		store_seterr(s, "bad delivery URL '%s' (smtp://HOST:PORT, lmtp://HOST:PORT, "
		    "lmtp:/SOCKET or maildir:/PATH)", deliver ? deliver : "");
		return -1;
	}
	return s->ops->domain_add(s, d, tenant, deliver);
}

int store_domain_remove(struct store *s, const char *domain)
{
	char d[256];

	if (domain == NULL || !norm_domain(domain, d, sizeof(d))) {
		store_seterr(s, "bad domain '%s'", domain ? domain : "");
		return -1;
	}
	return s->ops->domain_remove(s, d);
}

int store_domain_list(struct store *s, const char *tenant_or_null, struct store_domain **out,
    size_t *n)
{
	*out = NULL;
	*n = 0;
	if (tenant_or_null != NULL && check_tenant_name(s, tenant_or_null) < 0)
		return -1;
	return s->ops->domain_list(s, tenant_or_null, out, n);
}

void store_domain_free(struct store_domain *d, size_t n)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(d[i].domain);
		free(d[i].tenant);
		free(d[i].deliver);
	}
	free(d);
}

int store_domain_set(struct store *s, const char *domain, const char *key, const char *value)
{
	char d[256];

	if (domain == NULL || !norm_domain(domain, d, sizeof(d))) {
		store_seterr(s, "bad domain '%s'", domain ? domain : "");
		return -1;
	}
	if (key == NULL || value == NULL) {
		store_seterr(s, "domain setting needs KEY=VALUE");
		return -1;
	}
	int dflt = strcmp(value, "default") == 0;
	if (strcmp(key, "action") == 0) {
		if (!dflt && !valid_action(value)) {
			store_seterr(s, "bad action '%s' (reject, quarantine or default)", value);
			return -1;
		}
	} else if (strcmp(key, "bulk") == 0) {
		if (!dflt && !valid_bulk(value)) {
			store_seterr(s, "bad bulk '%s' (deliver, tag, quarantine or default)", value);
			return -1;
		}
	} else if (strcmp(key, "tag") == 0 || strcmp(key, "probable_spam") == 0) {
		if (check_score_value(s, key, value) < 0)
			return -1;
	} else if (strcmp(key, "retention") == 0) {
		if (check_duration(s, key, value, 1) < 0)
			return -1;
	} else {
		store_seterr(s, "unknown domain setting '%s' (known: action, bulk, tag, probable_spam, "
		    "retention)", key);
		return -1;
	}
	return s->ops->domain_set(s, d, key, dflt ? NULL : value);
}

/* ---- users -------------------------------------------------------------- */

int store_user_add(struct store *s, const char *address, const char *alias_of)
{
	char a[ADDR_MAX], t[ADDR_MAX];
	const char *dom, *tdom;

	if (address == NULL || !norm_address(address, a, sizeof(a), 1, &dom)) {
		store_seterr(s, "bad address '%s' (local@domain, or @domain for a catch-all)",
		    address ? address : "");
		return -1;
	}
	if (alias_of != NULL) {
		/* allow_catchall = 0: an alias must point at a mailbox. */
		if (!norm_address(alias_of, t, sizeof(t), 0, &tdom)) {
			store_seterr(s, "bad alias target '%s'", alias_of);
			return -1;
		}
		if (strcmp(a, t) == 0) {
			store_seterr(s, "'%s' cannot be an alias of itself", a);
			return -1;
		}
	}
	return s->ops->user_add(s, a, dom, alias_of ? t : NULL);
}

int store_user_remove(struct store *s, const char *address)
{
	char a[ADDR_MAX];
	const char *dom;

	if (address == NULL || !norm_address(address, a, sizeof(a), 1, &dom)) {
		store_seterr(s, "bad address '%s'", address ? address : "");
		return -1;
	}
	return s->ops->user_remove(s, a);
}

int store_user_list(struct store *s, const char *domain_or_null, struct store_user **out,
    size_t *n)
{
	char d[256];

	*out = NULL;
	*n = 0;
	if (domain_or_null != NULL && !norm_domain(domain_or_null, d, sizeof(d))) {
		store_seterr(s, "bad domain '%s'", domain_or_null);
		return -1;
	}
	return s->ops->user_list(s, domain_or_null ? d : NULL, out, n);
}

void store_user_free(struct store_user *u, size_t n)
{
	if (u == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(u[i].address);
		free(u[i].alias_of);
		free(u[i].tenant);
	}
	free(u);
}

int store_rcpt_lookup(struct store *s, const char *address, struct store_rcpt *out)
{
	char a[ADDR_MAX], catchall[ADDR_MAX];
	const char *dom;

	memset(out, 0, sizeof(*out));
	out->status = RCPT_NOT_HOSTED;
	/* Something that is not an address cannot be one of ours. */
	if (address == NULL || !norm_address(address, a, sizeof(a), 0, &dom))
		return 0;
	snprintf(catchall, sizeof(catchall), "@%s", dom);
	return s->ops->rcpt_lookup(s, a, dom, catchall, out);
}

/* ---- recipient statistics ---------------------------------------------- */

int store_rcpt_stat_add(struct store *s, const char *client_ip, const char *sender_domain,
    int valid, int64_t now)
{
	char d[256];
	int64_t hour = now - now % 3600;

	/* The sender domain comes from the peer: lower-case it so counts of
	 * Example.COM and example.com meet; keep odd text as it came. */
	mw_strlcpy(d, sender_domain ? sender_domain : "", sizeof(d));
	mw_str_lower(d);
	return s->ops->rcpt_stat_add(s, client_ip && client_ip[0] ? client_ip : NULL, d,
	    valid != 0, hour);
}

int store_rcpt_stat_get(struct store *s, const char *kind, const char *key, int64_t since,
    int64_t *valid, int64_t *invalid)
{
	*valid = *invalid = 0;
	if (kind == NULL || (strcmp(kind, "ip") != 0 && strcmp(kind, "sender_domain") != 0)) {
		store_seterr(s, "bad statistics kind '%s' (ip or sender_domain)", kind ? kind : "");
		return -1;
	}
	/* Whole hours: the bucket holding `since` counts in full. */
	return s->ops->rcpt_stat_get(s, kind, key ? key : "", since - since % 3600, valid, invalid);
}

/* ---- message log --------------------------------------------------------- */

int store_log_txn_add(struct store *s, const struct store_log_txn *t)
{
	if (t->ref == NULL || t->ref[0] == '\0') {
		store_seterr(s, "log record without a ref id");
		return -1;
	}
	return s->ops->log_txn_add(s, t);
}

int store_log_rcpt_add(struct store *s, const struct store_log_rcpt *r)
{
	if (r->ref == NULL || r->ref[0] == '\0') {
		store_seterr(s, "log record without a ref id");
		return -1;
	}
	return s->ops->log_rcpt_add(s, r);
}

int store_begin(struct store *s)
{
	return s->ops->begin(s);
}

int store_rollback(struct store *s)
{
	return s->ops->rollback(s);
}

int store_commit(struct store *s)
{
	return s->ops->commit(s);
}

int store_log_search(struct store *s, const struct store_log_query *q,
    struct store_log_entry **out, size_t *n)
{
	struct store_log_query nq = *q;
	char ref[REFID_LEN + 1], mid[1024];

	*out = NULL;
	*n = 0;
	if (nq.limit == 0)
		nq.limit = 100;
	if (nq.ref != NULL && nq.ref[0] != '\0') {
		/* People type ref ids in lower case and without the dash. */
		if (refid_parse(nq.ref, ref))
			nq.ref = ref;
	}
	if (nq.message_id != NULL) {
		size_t len = strlen(nq.message_id);
		const char *m = nq.message_id;
		if (len >= 2 && m[0] == '<' && m[len - 1] == '>') {
			m++;
			len -= 2;
		}
		if (len >= sizeof(mid))
			len = sizeof(mid) - 1;
		memcpy(mid, m, len);
		mid[len] = '\0';
		nq.message_id = mid;
	}
	return s->ops->log_search(s, &nq, out, n);
}

static void log_txn_free_members(struct store_log_txn *t)
{
	free(t->ref);
	free(t->qid);
	free(t->client_ip);
	free(t->helo);
	free(t->sender);
	free(t->from_hdr);
	free(t->subject);
	free(t->message_id);
	free(t->action);
	free(t->reply);
	free(t->cls);
	free(t->symbols);
}

void store_log_entry_free(struct store_log_entry *e, size_t n)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		log_txn_free_members(&e[i].txn);
		for (size_t j = 0; j < e[i].n_rcpts; j++) {
			free(e[i].rcpts[j].ref);
			free(e[i].rcpts[j].rcpt);
			free(e[i].rcpts[j].tenant);
			free(e[i].rcpts[j].status);
			free(e[i].rcpts[j].reply);
		}
		free(e[i].rcpts);
	}
	free(e);
}

int store_log_purge(struct store *s, int64_t before, int64_t *n)
{
	*n = 0;
	return s->ops->log_purge(s, before, n);
}

/* ---- sender lists ------------------------------------------------------------ */

int store_list_pattern(const char *in, char *out, size_t n)
{
	const char *dom;

	if (in == NULL || in[0] == '\0')
		return -1;
	if (strchr(in, '@') != NULL)
		return in[0] != '@' && norm_address(in, out, n, 0, &dom) ? 0 : -1;
	if (in[0] == '.') {
		if (n < 2 || !norm_domain(in + 1, out + 1, n - 1))
			return -1;
		out[0] = '.';
		return 0;
	}
	return norm_domain(in, out, n) ? 0 : -1;
}

static int check_list_kind(struct store *s, const char *kind)
{
	if (kind == NULL || (strcmp(kind, "allow") != 0 && strcmp(kind, "block") != 0)) {
		store_seterr(s, "bad list kind '%s' (allow or block)", kind ? kind : "");
		return -1;
	}
	return 0;
}

int store_list_add(struct store *s, const struct store_list_entry *e)
{
	char pat[512], user[512];
	const char *dom;
	struct store_list_entry n = *e;

	if (check_tenant_name(s, e->tenant) < 0 || check_list_kind(s, e->kind) < 0)
		return -1;
	if (store_list_pattern(e->pattern, pat, sizeof(pat)) < 0) {
		store_seterr(s, "bad sender pattern '%s' (an address, a domain, or .domain for it "
		    "and its subdomains)", e->pattern ? e->pattern : "");
		return -1;
	}
	if (e->user != NULL && e->user[0] != '\0') {
		if (!norm_address(e->user, user, sizeof(user), 0, &dom)) {
			store_seterr(s, "bad user address '%s'", e->user);
			return -1;
		}
		n.user = user;
	} else {
		n.user = "";
	}
	n.pattern = pat;
	return s->ops->list_add(s, &n, mw_now());
}

int store_list_remove(struct store *s, const char *tenant, const char *user, const char *kind,
    const char *pattern)
{
	char pat[512], u[512] = "";
	const char *dom;

	if (check_tenant_name(s, tenant) < 0 || check_list_kind(s, kind) < 0)
		return -1;
	if (store_list_pattern(pattern, pat, sizeof(pat)) < 0) {
		store_seterr(s, "bad sender pattern '%s'", pattern ? pattern : "");
		return -1;
	}
	if (user != NULL && user[0] != '\0' && !norm_address(user, u, sizeof(u), 0, &dom)) {
		store_seterr(s, "bad user address '%s'", user);
		return -1;
	}
	return s->ops->list_remove(s, tenant, u, kind, pat);
}

int store_list_for_rcpt(struct store *s, const char *tenant, const char *rcpt,
    struct store_list_entry **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	return s->ops->list_for_rcpt(s, tenant ? tenant : "", rcpt ? rcpt : "", out, n);
}

int store_list_search(struct store *s, const char *tenant, const char *user, const char *kind,
    struct store_list_entry **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	return s->ops->list_search(s, tenant, user, kind, out, n);
}

void store_list_free(struct store_list_entry *e, size_t n)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(e[i].tenant);
		free(e[i].user);
		free(e[i].kind);
		free(e[i].pattern);
		free(e[i].actor);
	}
	free(e);
}

int store_audit_add(struct store *s, const char *actor, const char *action, const char *object,
    const char *detail)
{
	if (action == NULL || action[0] == '\0') {
		store_seterr(s, "audit record without an action");
		return -1;
	}
	return s->ops->audit_add(s, actor ? actor : "", action, object ? object : "",
	    detail ? detail : "", mw_now());
}

int store_audit_search(struct store *s, int64_t since, size_t limit, struct store_audit **out,
    size_t *n)
{
	*out = NULL;
	*n = 0;
	return s->ops->audit_search(s, since, limit ? limit : 100, out, n);
}

void store_audit_free(struct store_audit *a, size_t n)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(a[i].actor);
		free(a[i].action);
		free(a[i].object);
		free(a[i].detail);
	}
	free(a);
}

/* ---- quarantine ------------------------------------------------------------ */

static int valid_qstate(const char *st)
{
	return st != NULL && (strcmp(st, "released") == 0 || strcmp(st, "deleted") == 0 ||
	    strcmp(st, "expired") == 0);
}

int store_quarantine_add(struct store *s, const struct store_quarantine *q, size_t n,
    int64_t *ids)
{
	for (size_t i = 0; i < n; i++) {
		if (q[i].qid == NULL || q[i].qid[0] == '\0' || q[i].rcpt == NULL ||
		    q[i].rcpt[0] == '\0' || q[i].deliver == NULL || q[i].deliver[0] == '\0') {
			store_seterr(s, "quarantine entry without queue id, recipient or destination");
			return -1;
		}
	}
	if (n == 0)
		return 0;
	return s->ops->quarantine_add(s, q, n, ids, mw_now());
}

int store_quarantine_get(struct store *s, int64_t id, struct store_quarantine *out)
{
	memset(out, 0, sizeof(*out));
	return s->ops->quarantine_get(s, id, out);
}

int store_quarantine_search(struct store *s, const struct store_quarantine_query *q,
    struct store_quarantine **out, size_t *n)
{
	struct store_quarantine_query nq = *q;

	*out = NULL;
	*n = 0;
	if (nq.limit == 0)
		nq.limit = 100;
	return s->ops->quarantine_search(s, &nq, out, n);
}

int store_quarantine_finish(struct store *s, int64_t id, const char *state, const char *actor,
    int64_t now, const char *release_qid)
{
	if (!valid_qstate(state)) {
		store_seterr(s, "bad quarantine state '%s'", state ? state : "");
		return -1;
	}
	return s->ops->quarantine_finish(s, id, state, actor ? actor : "", now,
	    release_qid ? release_qid : "");
}

int store_quarantine_held(struct store *s, const char *qid, int64_t *n)
{
	*n = 0;
	return s->ops->quarantine_held(s, qid ? qid : "", n);
}

int store_quarantine_due(struct store *s, int64_t now, int64_t default_retention, size_t max,
    int64_t **ids, size_t *n)
{
	*ids = NULL;
	*n = 0;
	return s->ops->quarantine_due(s, now, default_retention, max ? max : 1000, ids, n);
}

void store_quarantine_free(struct store_quarantine *q, size_t n)
{
	if (q == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(q[i].qid);
		free(q[i].ref);
		free(q[i].tenant);
		free(q[i].rcpt);
		free(q[i].deliver);
		free(q[i].sender);
		free(q[i].from_hdr);
		free(q[i].subject);
		free(q[i].cls);
		free(q[i].symbols);
		free(q[i].state);
		free(q[i].actor);
		free(q[i].release_qid);
	}
	free(q);
}

int store_digest_get(struct store *s, const char *rcpt, int64_t *last, int64_t *sent)
{
	*last = *sent = 0;
	return s->ops->digest_get(s, rcpt ? rcpt : "", last, sent);
}

int store_digest_set(struct store *s, const char *rcpt, int64_t last, int64_t sent)
{
	if (rcpt == NULL || rcpt[0] == '\0') {
		store_seterr(s, "digest state without a recipient");
		return -1;
	}
	return s->ops->digest_set(s, rcpt, last, sent);
}

int store_tenant_digest(struct store *s, const char *tenant, int64_t *interval)
{
	*interval = -1;
	return s->ops->tenant_digest(s, tenant ? tenant : "", interval);
}

void store_quarantine_clear(struct store_quarantine *q)
{
	struct store_quarantine *copy = xmalloc(sizeof(*copy));
	*copy = *q;
	store_quarantine_free(copy, 1);
	memset(q, 0, sizeof(*q));
}

/* ---- Bayes token counts ------------------------------------------------- */

/* A message has at most this many features (the tokenizer's bounds give
 * far fewer); a larger set is a caller bug, refused rather than stored. */
#define BAYES_MAX_HASHES 1000000

static int bayes_hashes_ok(struct store *s, const uint64_t *hashes, size_t n)
{
	if (n > BAYES_MAX_HASHES) {
		store_seterr(s, "too many token hashes (%zu, at most %d)", n, BAYES_MAX_HASHES);
		return 0;
	}
	if (n > 0 && hashes == NULL) {
		store_seterr(s, "token hashes missing");
		return 0;
	}
	/* Ascending and unique: a back end may walk them in one pass, and a
	 * duplicate would count a token twice for one message. */
	for (size_t i = 1; i < n; i++) {
		if (hashes[i] <= hashes[i - 1]) {
			store_seterr(s, "token hashes not strictly ascending at %zu", i);
			return 0;
		}
	}
	return 1;
}

static int bayes_digest_ok(struct store *s, const char *digest)
{
	size_t n = digest ? strlen(digest) : 0;

	if (n < 1 || n > 128) {
		store_seterr(s, "message digest must be 1-128 characters");
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (digest[i] <= 0x20 || digest[i] >= 0x7f) {
			store_seterr(s, "message digest must be printable ASCII");
			return 0;
		}
	}
	return 1;
}

int store_bayes_get(struct store *s, const uint64_t *hashes, size_t n,
    struct store_bayes_count *out)
{
	if (!bayes_hashes_ok(s, hashes, n))
		return -1;
	if (n == 0)
		return 0;
	memset(out, 0, n * sizeof(*out));
	return s->ops->bayes_get(s, hashes, n, out);
}

int store_bayes_learn(struct store *s, const char *digest, int is_spam, const uint64_t *hashes,
    size_t n)
{
	if (!bayes_digest_ok(s, digest) || !bayes_hashes_ok(s, hashes, n))
		return -1;
	return s->ops->bayes_learn(s, digest, is_spam != 0, hashes, n, mw_now());
}

/* Every message of a batch checked before anything is written; the error
 * names the message. */
static int bayes_batch_ok(struct store *s, const struct store_bayes_msg *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!bayes_digest_ok(s, m[i].digest) || !bayes_hashes_ok(s, m[i].hashes, m[i].n)) {
			char why[sizeof(s->err)];
			mw_strlcpy(why, s->err, sizeof(why));
			store_seterr(s, "message %zu of the batch: %s", i, why);
			return 0;
		}
	}
	return 1;
}

int store_bayes_learn_many(struct store *s, const struct store_bayes_msg *m, size_t n,
    int *results)
{
	if (!bayes_batch_ok(s, m, n))
		return -1;
	if (n == 0)
		return 0;
	return s->ops->bayes_learn_many(s, m, n, results, mw_now());
}

int store_bayes_unlearn(struct store *s, const char *digest, const uint64_t *hashes, size_t n)
{
	if (!bayes_digest_ok(s, digest) || !bayes_hashes_ok(s, hashes, n))
		return -1;
	return s->ops->bayes_unlearn(s, digest, hashes, n);
}

int store_bayes_msg_get(struct store *s, const char *digest, int *is_spam, int64_t *weight)
{
	*is_spam = 0;
	*weight = 0;
	if (!bayes_digest_ok(s, digest))
		return -1;
	return s->ops->bayes_msg_get(s, digest, is_spam, weight);
}

int store_bayes_reinforce_many(struct store *s, const struct store_bayes_msg *m, size_t n,
    int64_t weight, int *results)
{
	if (weight < 2 || weight > STORE_BAYES_MAX_WEIGHT) {
		store_seterr(s, "bayes reinforce: weight %lld is not in 2..%d", (long long)weight,
		    STORE_BAYES_MAX_WEIGHT);
		return -1;
	}
	if (!bayes_batch_ok(s, m, n))
		return -1;
	if (n == 0)
		return 0;
	return s->ops->bayes_reinforce_many(s, m, n, weight, results, mw_now());
}

int store_bayes_totals(struct store *s, int64_t *nspam, int64_t *nham)
{
	*nspam = *nham = 0;
	return s->ops->bayes_totals(s, nspam, nham);
}

int store_bayes_state(struct store *s, struct store_bayes_state *out)
{
	memset(out, 0, sizeof(*out));
	return s->ops->bayes_state(s, out);
}

int store_bayes_stats(struct store *s, struct store_bayes_stats *out)
{
	memset(out, 0, sizeof(*out));
	return s->ops->bayes_stats(s, out);
}

int store_bayes_expire(struct store *s, int64_t max, int64_t keep, int64_t *removed)
{
	*removed = 0;
	if (keep < 1 || keep > max) {
		store_seterr(s, "bayes expire: keep %lld is not in 1..%lld", (long long)keep,
		    (long long)max);
		return -1;
	}
	return s->ops->bayes_expire(s, max, keep, removed);
}

int store_bayes_scan(struct store *s, const struct store_bayes_scan_cb *cb)
{
	if (cb == NULL || cb->begin == NULL || cb->token == NULL) {
		store_seterr(s, "bayes scan without its callbacks");
		return -1;
	}
	return s->ops->bayes_scan(s, cb);
}

/* ---- sender reputation ---------------------------------------------------- */

#define REP_EVENTS_KEPT 50   /* per key: enough for `reputation show`, bounded */

/* A reputation key is written by reputation_identities(), but a CLI user
 * types it too: refuse what could not have come from there (empty, too
 * long for struct store_rep, control characters). */
static int check_rep_key(struct store *s, const char *key)
{
	size_t n = key ? strlen(key) : 0;

	if (n < 1 || n > STORE_REP_KEY_MAX - 1) {
		store_seterr(s, "reputation key must be 1-%d characters", STORE_REP_KEY_MAX - 1);
		return -1;
	}
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			store_seterr(s, "reputation key with a control character");
			return -1;
		}
	}
	return 0;
}

/* A prefix may be empty (everything) but otherwise obeys the key rules. */
static int check_rep_prefix(struct store *s, const char *prefix)
{
	return prefix == NULL || prefix[0] == '\0' ? 0 : check_rep_key(s, prefix);
}

/* NaN would be stored as NULL by SQLite and read back as 0; a negative
 * count is a decay bug upstream.  Either is refused, not stored. */
static int count_ok(double v)
{
	return v == v && v >= 0 && v < 1e300;
}

int store_rep_get(struct store *s, const char *key, struct store_rep *out)
{
	memset(out, 0, sizeof(*out));
	if (check_rep_key(s, key) < 0)
		return -1;
	mw_strlcpy(out->key, key, sizeof(out->key));
	return s->ops->rep_get(s, key, out);
}

int store_rep_put(struct store *s, const struct store_rep *r)
{
	if (r == NULL || memchr(r->key, '\0', sizeof(r->key)) == NULL) {
		store_seterr(s, "reputation row without a terminated key");
		return -1;
	}
	if (check_rep_key(s, r->key) < 0)
		return -1;
	if (!count_ok(r->msgs) || !count_ok(r->valid) || !count_ok(r->invalid) ||
	    !count_ok(r->traps) || !count_ok(r->complaints) || !count_ok(r->spam) ||
	    !count_ok(r->ham)) {
		store_seterr(s, "reputation '%s': a counter is negative or not a number", r->key);
		return -1;
	}
	return s->ops->rep_put(s, r);
}

int store_rep_list(struct store *s, const char *prefix, size_t limit, struct store_rep **out,
    size_t *n)
{
	*out = NULL;
	*n = 0;
	if (check_rep_prefix(s, prefix) < 0)
		return -1;
	return s->ops->rep_list(s, prefix ? prefix : "", limit ? limit : 1000, out, n);
}

int store_rep_clear(struct store *s, const char *key, const char *stat_kind, const char *stat_key)
{
	char k[256];

	if (check_rep_key(s, key) < 0)
		return -1;
	/* Only both together name statistics rows; one alone is nothing to
	 * forget (the header: "either may be NULL"). */
	if (stat_kind == NULL || stat_key == NULL)
		return s->ops->rep_clear(s, key, NULL, NULL);
	if (strcmp(stat_kind, "ip") != 0 && strcmp(stat_kind, "sender_domain") != 0) {
		store_seterr(s, "bad statistics kind '%s' (ip or sender_domain)", stat_kind);
		return -1;
	}
	/* As store_rcpt_stat_add() wrote it: domains lower-cased. */
	mw_strlcpy(k, stat_key, sizeof(k));
	if (strcmp(stat_kind, "sender_domain") == 0)
		mw_str_lower(k);
	return s->ops->rep_clear(s, key, stat_kind, k);
}

void store_rep_free(struct store_rep *r)
{
	free(r);
}

static int valid_rep_event_kind(const char *k)
{
	static const char *const kinds[] = { "trap", "complaint", "invalid", "spam", "reset", NULL };

	for (size_t i = 0; k != NULL && kinds[i] != NULL; i++) {
		if (strcmp(k, kinds[i]) == 0)
			return 1;
	}
	return 0;
}

int store_rep_event_add(struct store *s, int64_t ts, const char *key, const char *kind,
    const char *ref, const char *detail)
{
	if (check_rep_key(s, key) < 0)
		return -1;
	if (!valid_rep_event_kind(kind)) {
		store_seterr(s, "bad reputation event kind '%s' (trap, complaint, invalid, spam or "
		    "reset)", kind ? kind : "");
		return -1;
	}
	return s->ops->rep_event_add(s, ts ? ts : mw_now(), key, kind, ref ? ref : "",
	    detail ? detail : "", REP_EVENTS_KEPT);
}

int store_rep_event_list(struct store *s, const char *prefix, size_t limit,
    struct store_rep_event **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (check_rep_prefix(s, prefix) < 0)
		return -1;
	return s->ops->rep_event_list(s, prefix ? prefix : "", limit ? limit : 50, out, n);
}

void store_rep_event_free(struct store_rep_event *e, size_t n)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(e[i].key);
		free(e[i].kind);
		free(e[i].ref);
		free(e[i].detail);
	}
	free(e);
}

/* ---- content fingerprints --------------------------------------------------- */

#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

int store_fp_put(struct store *s, struct store_fp *f)
{
	if (f == NULL) {
		store_seterr(s, "fingerprint missing");
		return -1;
	}
	if (!TERMINATED(f->last_ref) || !TERMINATED(f->excerpt) || !TERMINATED(f->benign)) {
		store_seterr(s, "fingerprint with an unterminated ref, excerpt or benign field");
		return -1;
	}
	if (!count_ok(f->traps) || !count_ok(f->complaints) || !count_ok(f->spam) ||
	    !count_ok(f->msgs)) {
		store_seterr(s, "fingerprint: a counter is negative or not a number");
		return -1;
	}
	if (f->benign[0] != '\0' && check_tenant_name(s, f->benign) < 0)
		return -1;
	return s->ops->fp_put(s, f);
}

int store_fp_get(struct store *s, int64_t id, struct store_fp *out)
{
	memset(out, 0, sizeof(*out));
	return s->ops->fp_get(s, id, out);
}

int store_fp_remove(struct store *s, int64_t id)
{
	return s->ops->fp_remove(s, id);
}

int store_fp_scan(struct store *s, int64_t after_id,
    int (*cb)(void *arg, const struct store_fp *f), void *arg)
{
	if (cb == NULL) {
		store_seterr(s, "fingerprint scan without a callback");
		return -1;
	}
	return s->ops->fp_scan(s, after_id < 0 ? 0 : after_id, cb, arg);
}

/* ---- spam traps ------------------------------------------------------------ */

/* "local@domain" or "@domain", lower-cased into out; 0 if neither. */
static int norm_trap_pattern(const char *in, char *out, size_t n)
{
	const char *dom;

	return in != NULL && norm_address(in, out, n, 1, &dom);
}

/* "" (network-wide), or the name of a tenant that exists. */
static int check_trap_tenant(struct store *s, const char *tenant)
{
	struct store_tenant t = { 0 };
	int rc;

	if (tenant[0] == '\0')
		return 0;
	if (check_tenant_name(s, tenant) < 0)
		return -1;
	rc = s->ops->tenant_get(s, tenant, &t);
	free(t.name);
	free(t.action);
	if (rc == 1)
		store_seterr(s, "no such tenant '%s'", tenant);
	return rc == 0 ? 0 : -1;
}

int store_trap_add(struct store *s, const char *pattern, const char *tenant, const char *actor)
{
	char p[ADDR_MAX];

	if (!norm_trap_pattern(pattern, p, sizeof(p))) {
		store_seterr(s, "bad trap '%s' (local@domain, or @domain for the whole domain)",
		    pattern ? pattern : "");
		return -1;
	}
	if (tenant == NULL)
		tenant = "";
	if (check_trap_tenant(s, tenant) < 0)
		return -1;
	return s->ops->trap_add(s, p, tenant, actor ? actor : "", mw_now());
}

int store_trap_remove(struct store *s, const char *pattern, const char *tenant)
{
	char p[ADDR_MAX];

	if (!norm_trap_pattern(pattern, p, sizeof(p))) {
		store_seterr(s, "bad trap '%s'", pattern ? pattern : "");
		return -1;
	}
	if (tenant == NULL)
		tenant = "";
	/* No existence check: a trap of a tenant removed since can still go. */
	if (tenant[0] != '\0' && check_tenant_name(s, tenant) < 0)
		return -1;
	return s->ops->trap_remove(s, p, tenant);
}

int store_trap_list(struct store *s, const char *tenant_or_null, struct store_trap **out,
    size_t *n)
{
	*out = NULL;
	*n = 0;
	if (tenant_or_null != NULL && tenant_or_null[0] != '\0' &&
	    check_tenant_name(s, tenant_or_null) < 0)
		return -1;
	return s->ops->trap_list(s, tenant_or_null, out, n);
}

void store_trap_free(struct store_trap *t, size_t n)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(t[i].pattern);
		free(t[i].tenant);
		free(t[i].actor);
	}
	free(t);
}

int store_trap_match(struct store *s, const char *address, char *pattern, size_t pn,
    char *tenant, size_t tn)
{
	char a[ADDR_MAX], dom[ADDR_MAX];
	const char *d;

	if (pn > 0)
		pattern[0] = '\0';
	if (tn > 0)
		tenant[0] = '\0';
	/* As store_rcpt_lookup(): what is not an address is no trap. */
	if (address == NULL || !norm_address(address, a, sizeof(a), 0, &d))
		return 1;
	snprintf(dom, sizeof(dom), "@%s", d);
	return s->ops->trap_match(s, a, dom, pattern, pn, tenant, tn);
}

int store_trap_hit_add(struct store *s, const struct store_trap_hit *h, size_t max_keep,
    char ***gone, size_t *n_gone)
{
	struct store_trap_hit c;

	*gone = NULL;
	*n_gone = 0;
	if (h == NULL) {
		store_seterr(s, "trap hit missing");
		return -1;
	}
	/* The file name is joined to data_dir/traps/ and unlinked later: a
	 * path separator or ".." in it would reach outside. */
	if (h->file != NULL && (strchr(h->file, '/') != NULL || strcmp(h->file, ".") == 0 ||
	    strcmp(h->file, "..") == 0)) {
		store_seterr(s, "bad trap file name '%s'", h->file);
		return -1;
	}
	c = *h;
	c.ts = h->ts ? h->ts : mw_now();
	c.ref = h->ref ? h->ref : "";
	c.client_ip = h->client_ip ? h->client_ip : "";
	c.helo = h->helo ? h->helo : "";
	c.sender = h->sender ? h->sender : "";
	c.rcpt = h->rcpt ? h->rcpt : "";
	c.tenant = h->tenant ? h->tenant : "";
	c.subject = h->subject ? h->subject : "";
	c.file = h->file ? h->file : "";
	return s->ops->trap_hit_add(s, &c, max_keep, gone, n_gone);
}

int store_trap_hit_list(struct store *s, const char *client_ip, const char *sender, size_t limit,
    struct store_trap_hit **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	return s->ops->trap_hit_list(s, client_ip, sender, limit ? limit : 100, out, n);
}

void store_trap_hit_free(struct store_trap_hit *h, size_t n)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(h[i].ref);
		free(h[i].client_ip);
		free(h[i].helo);
		free(h[i].sender);
		free(h[i].rcpt);
		free(h[i].tenant);
		free(h[i].subject);
		free(h[i].file);
	}
	free(h);
}

void store_strings_free(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- complaints ------------------------------------------------------------ */

#define COMPLAINT_RAW_MAX (64 * 1024)

int store_complaint_add(struct store *s, const struct store_complaint *c, int64_t *id)
{
	struct store_complaint n;

	if (id != NULL)
		*id = 0;
	if (c == NULL) {
		store_seterr(s, "complaint missing");
		return -1;
	}
	if (!bayes_digest_ok(s, c->digest)) {
		char why[sizeof(s->err)];
		mw_strlcpy(why, s->err, sizeof(why));
		store_seterr(s, "complaint: %s", why);
		return -1;
	}
	n = *c;
	n.ts = c->ts ? c->ts : mw_now();
#define OR_EMPTY(f) n.f = c->f ? c->f : ""
	OR_EMPTY(source);
	OR_EMPTY(kind);
	OR_EMPTY(flags);
	OR_EMPTY(feedback_type);
	OR_EMPTY(reporter);
	OR_EMPTY(matched_ref);
	OR_EMPTY(match);
	OR_EMPTY(client_ip);
	OR_EMPTY(sender);
	OR_EMPTY(subject);
#undef OR_EMPTY
	/* The report is evidence for people, not something to re-parse in
	 * full: a large one is cut rather than refused (it still counts). */
	if (c->raw == NULL)
		n.raw_len = 0;
	if (n.raw_len > COMPLAINT_RAW_MAX)
		n.raw_len = COMPLAINT_RAW_MAX;
	n.raw = c->raw ? c->raw : (char *)"";
	return s->ops->complaint_add(s, &n, id);
}

int store_complaint_get(struct store *s, int64_t id, struct store_complaint *out)
{
	memset(out, 0, sizeof(*out));
	return s->ops->complaint_get(s, id, out);
}

int store_complaint_list(struct store *s, int64_t since, size_t limit,
    struct store_complaint **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	return s->ops->complaint_list(s, since, limit ? limit : 100, out, n);
}

int store_complaint_count_ref(struct store *s, const char *ref, int64_t *n,
    int64_t *by_message_id)
{
	int64_t mid = 0;
	*n = 0;
	if (by_message_id != NULL)
		*by_message_id = 0;
	if (ref == NULL || *ref == '\0')
		return 0;
	int rc = s->ops->complaint_count_ref(s, ref, n, &mid);
	if (rc == 0 && by_message_id != NULL)
		*by_message_id = mid;
	return rc;
}

void store_complaint_free(struct store_complaint *c, size_t n)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(c[i].source);
		free(c[i].kind);
		free(c[i].flags);
		free(c[i].digest);
		free(c[i].feedback_type);
		free(c[i].reporter);
		free(c[i].matched_ref);
		free(c[i].match);
		free(c[i].client_ip);
		free(c[i].sender);
		free(c[i].subject);
		free(c[i].raw);
	}
	free(c);
}

/* ---- the tenants' own outgoing mail ------------------------------------------ */

#define MSGID_MAX 998   /* RFC 5322's line limit bounds a Message-ID */

/* The Message-ID without one pair of surrounding <> into out, so a caller
 * that kept the brackets still meets the rows; 0 if empty or too long. */
static int norm_msgid(const char *in, char *out, size_t n)
{
	size_t len = in ? strlen(in) : 0;

	if (len >= 2 && in[0] == '<' && in[len - 1] == '>') {
		in++;
		len -= 2;
	}
	if (len < 1 || len > MSGID_MAX || len >= n)
		return 0;
	memcpy(out, in, len);
	out[len] = '\0';
	return 1;
}

int store_outbound_add(struct store *s, const char *tenant, const char *msgid, int64_t now)
{
	char m[MSGID_MAX + 1];

	if (check_tenant_name(s, tenant) < 0)
		return -1;
	if (!norm_msgid(msgid, m, sizeof(m))) {
		store_seterr(s, "bad Message-ID (1-%d characters)", MSGID_MAX);
		return -1;
	}
	return s->ops->outbound_add(s, tenant, m, now ? now : mw_now());
}

int store_outbound_match(struct store *s, const char *tenant, const char *const *msgids, size_t n,
    char *matched, size_t mn)
{
	char **v;
	size_t k = 0;
	int rc;

	if (mn > 0)
		matched[0] = '\0';
	if (check_tenant_name(s, tenant) < 0)
		return -1;
	/* A reply's References may hold junk: what cannot be a stored
	 * Message-ID is skipped, not an error. */
	v = xcalloc(n ? n : 1, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		char m[MSGID_MAX + 1];
		if (msgids[i] != NULL && norm_msgid(msgids[i], m, sizeof(m)))
			v[k++] = xstrdup(m);
	}
	rc = k == 0 ? 1 : s->ops->outbound_match(s, tenant, (const char *const *)v, k, matched, mn);
	store_strings_free(v, k);
	return rc;
}

int store_outbound_rcpt_add(struct store *s, const char *tenant, const char *msgid,
    const char *domain)
{
	char m[MSGID_MAX + 1], d[256];

	if (check_tenant_name(s, tenant) < 0)
		return -1;
	if (!norm_msgid(msgid, m, sizeof(m))) {
		store_seterr(s, "bad Message-ID (1-%d characters)", MSGID_MAX);
		return -1;
	}
	if (domain == NULL || !norm_domain(domain, d, sizeof(d))) {
		store_seterr(s, "bad recipient domain");
		return -1;
	}
	return s->ops->outbound_rcpt_add(s, tenant, m, d);
}

int store_outbound_rcpt_check(struct store *s, const char *tenant, const char *msgid,
    const char *const *domains, size_t n, char *known, size_t kn)
{
	char m[MSGID_MAX + 1];
	char **v;
	size_t k = 0;
	int rc;

	if (kn > 0)
		known[0] = '\0';
	if (check_tenant_name(s, tenant) < 0)
		return -1;
	if (!norm_msgid(msgid, m, sizeof(m))) {
		store_seterr(s, "bad Message-ID (1-%d characters)", MSGID_MAX);
		return -1;
	}
	/* A sender domain that cannot be a stored one matches nothing. */
	v = xcalloc(n ? n : 1, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		char d[256];
		if (domains[i] != NULL && norm_domain(domains[i], d, sizeof(d)))
			v[k++] = xstrdup(d);
	}
	rc = s->ops->outbound_rcpt_check(s, tenant, m, (const char *const *)v, k, known, kn);
	store_strings_free(v, k);
	return rc;
}

int store_outbound_purge(struct store *s, int64_t before, int64_t *n)
{
	*n = 0;
	return s->ops->outbound_purge(s, before, n);
}
