/*
 * cli_reputation.c - `mailward reputation show|reset` (R9-R12, R18): what a
 * sender's recent mail did, what that makes it, and an administrator's
 * fresh start for it.
 *
 * One sender is several rows (reputation.h): an IP also shows its network
 * and every envelope domain seen unauthenticated from that network
 * ("pair:D/NET"); a network shows itself and its pairs; a domain shows its
 * authenticated identity ("org:D") and every network it was seen from.
 * The store keeps counters as of their last change: everything shown is
 * decayed to now with [reputation] half_life, exactly as the server reads
 * them, so what is printed is what the next message would be judged by.
 *
 * reset removes those rows, and the recipient statistics of the same IP or
 * domain that the directory-harvest refusal reads.  The server reads the
 * store per message, so a reset applies to the next one without a restart
 * or a signal.  Resets are audited and leave a "reset" event on each row,
 * so `show` explains why a bad sender suddenly looks clean.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/util.h"
#include "cli/cli.h"
#include "conf/conf.h"
#include "reputation/reputation.h"
#include "store/store.h"

enum { S_LIMIT, S_JSON, S_BY };
enum { R_BY, R_REASON };

/* Pairs of one network are found by listing every pair row: this bounds
 * the read on a gateway that has seen very many envelope domains. */
#define PAIR_SCAN_MAX 100000
/* Events are listed by key prefix and "ip:192.0.2.1" is a prefix of
 * "ip:192.0.2.10": read enough to keep the newest of the exact key. */
#define EVENT_SCAN_MAX 1000

struct ident {
	struct store_rep r;          /* decayed to now; zero when unknown */
	int64_t last;                /* when the stored counters last changed */
	int known;
	enum rep_id_kind kind;
	struct rep_assessment a;
};

struct view {
	struct ident *id;
	size_t n;
	char net[STORE_REP_KEY_MAX]; /* the network whose pairs belong here, or "" */
	char domain[STORE_REP_KEY_MAX]; /* likewise the domain, or "" */
};

static void
view_free(struct view *v)
{
	free(v->id);
	memset(v, 0, sizeof(*v));
}

static struct ident *
view_push(struct view *v)
{
	v->id = xrealloc(v->id, (v->n + 1) * sizeof(*v->id));
	memset(&v->id[v->n], 0, sizeof(*v->id));
	return &v->id[v->n++];
}

/* A row read from the store, brought to now and assessed. */
static void
ident_set(struct ident *d, const struct store_rep *row, int known, int64_t half_life,
    int64_t now)
{
	d->r = *row;
	d->known = known;
	if (!known) {
		d->a.state = REP_NEUTRAL;
		mw_strlcpy(d->a.evidence, "nothing recorded", sizeof(d->a.evidence));
		return;
	}
	d->last = row->updated;
	reputation_decay(&d->r, half_life, now);
	reputation_assess(&d->r, &d->a);
}

static int
add_key(struct store *s, struct view *v, const char *key, enum rep_id_kind kind,
    int64_t half_life, int64_t now)
{
	struct store_rep row;
	int r = store_rep_get(s, key, &row);

	if (r < 0)
		return -1;
	if (r == 1) {
		memset(&row, 0, sizeof(row));
		mw_strlcpy(row.key, key, sizeof(row.key));
	}
	struct ident *d = view_push(v);
	d->kind = kind;
	ident_set(d, &row, r == 0, half_life, now);
	return 0;
}

/* Does pair key "pair:D/NET" belong to the view's network or domain? */
static int
pair_belongs(const struct view *v, const char *key)
{
	const char *dom = key + 5, *slash = strchr(dom, '/');

	if (slash == NULL)
		return 0;
	if (v->net[0])
		return strcmp(slash + 1, v->net) == 0;
	return strlen(v->domain) == (size_t)(slash - dom) &&
	    strncmp(dom, v->domain, (size_t)(slash - dom)) == 0;
}

static int
add_pairs(struct store *s, struct view *v, int64_t half_life, int64_t now)
{
	struct store_rep *rows = NULL;
	size_t n = 0;
	char prefix[STORE_REP_KEY_MAX + 8];

	if (v->net[0] == '\0' && v->domain[0] == '\0')
		return 0;
	/* A domain's pairs share a prefix; a network's only a suffix. */
	if (v->domain[0])
		snprintf(prefix, sizeof(prefix), "pair:%s/", v->domain);
	else
		mw_strlcpy(prefix, "pair:", sizeof(prefix));
	if (store_rep_list(s, prefix, PAIR_SCAN_MAX, &rows, &n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!pair_belongs(v, rows[i].key))
			continue;
		struct ident *d = view_push(v);
		d->kind = REP_ID_PAIR;
		ident_set(d, &rows[i], 1, half_life, now);
	}
	store_rep_free(rows);
	return 0;
}

/*
 * Every row that makes up key (as reputation_key_of() wrote it): for an IP
 * the IP and its network, for a network itself, for a domain its org row;
 * then the pairs.  0, or -1 on a storage error.
 */
static int
view_load(struct store *s, const char *key, int64_t half_life, int64_t now, struct view *v)
{
	memset(v, 0, sizeof(*v));
	if (strncmp(key, "ip:", 3) == 0) {
		struct rep_ids ids;
		reputation_identities(key + 3, "", NULL, &ids);
		for (size_t i = 0; i < ids.n; i++) {
			if (add_key(s, v, ids.key[i], ids.kind[i], half_life, now) != 0)
				return -1;
			if (ids.kind[i] == REP_ID_NET && strncmp(ids.key[i], "net:", 4) == 0)
				mw_strlcpy(v->net, ids.key[i] + 4, sizeof(v->net));
		}
	} else if (strncmp(key, "net:", 4) == 0) {
		if (add_key(s, v, key, REP_ID_NET, half_life, now) != 0)
			return -1;
		mw_strlcpy(v->net, key + 4, sizeof(v->net));
	} else {
		if (add_key(s, v, key, REP_ID_ORG, half_life, now) != 0)
			return -1;
		mw_strlcpy(v->domain, key + 4, sizeof(v->domain));
	}
	return add_pairs(s, v, half_life, now);
}

/* ---- events ---------------------------------------------------------- */

struct events {
	struct store_rep_event **ev;   /* the newest first, into the batches */
	size_t n;
	struct store_rep_event **batch;
	size_t *batch_n;
	size_t nbatch;
};

static int
ev_cmp(const void *a, const void *b)
{
	const struct store_rep_event *x = *(struct store_rep_event *const *)a;
	const struct store_rep_event *y = *(struct store_rep_event *const *)b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? 1 : -1;
	return x->id < y->id ? 1 : x->id > y->id ? -1 : 0;
}

static int
events_load(struct store *s, const struct view *v, size_t limit, struct events *e)
{
	memset(e, 0, sizeof(*e));
	for (size_t i = 0; i < v->n; i++) {
		struct store_rep_event *ev = NULL;
		size_t n = 0;
		if (store_rep_event_list(s, v->id[i].r.key, EVENT_SCAN_MAX, &ev, &n) != 0)
			return -1;
		e->batch = xrealloc(e->batch, (e->nbatch + 1) * sizeof(*e->batch));
		e->batch_n = xrealloc(e->batch_n, (e->nbatch + 1) * sizeof(*e->batch_n));
		e->batch[e->nbatch] = ev;
		e->batch_n[e->nbatch++] = n;
		for (size_t k = 0; k < n; k++) {
			if (strcmp(ev[k].key, v->id[i].r.key) != 0)
				continue;
			e->ev = xrealloc(e->ev, (e->n + 1) * sizeof(*e->ev));
			e->ev[e->n++] = &ev[k];
		}
	}
	if (e->n > 1)
		qsort(e->ev, e->n, sizeof(*e->ev), ev_cmp);
	if (e->n > limit)
		e->n = limit;
	return 0;
}

static void
events_free(struct events *e)
{
	for (size_t i = 0; i < e->nbatch; i++)
		store_rep_event_free(e->batch[i], e->batch_n[i]);
	free(e->batch);
	free(e->batch_n);
	free(e->ev);
	memset(e, 0, sizeof(*e));
}

/* ---- show ------------------------------------------------------------ */

/* Shares as fractions, or -1 when there is nothing to divide by. */
static double
invalid_share(const struct store_rep *r)
{
	double all = r->valid + r->invalid;
	return all > 0 ? r->invalid / all : -1;
}

/* Of the messages with a verdict that counts (probable spam or clean),
 * as reputation_assess() reckons it. */
static double
spam_share(const struct store_rep *r)
{
	double all = r->spam + r->ham;
	return all > 0 ? r->spam / all : -1;
}

static enum rep_state
view_state(const struct view *v, int *known)
{
	enum rep_state worst = REP_NEUTRAL;
	int any = 0;

	/* The enum runs from good to fingerprinted: the worst is the largest,
	 * and one good row does not make a bad neighbour good. */
	for (size_t i = 0; i < v->n; i++) {
		if (!v->id[i].known)
			continue;
		if (!any || v->id[i].a.state > worst)
			worst = v->id[i].a.state;
		any = 1;
	}
	*known = any;
	return worst;
}

static json_t *
share_json(double x)
{
	return x < 0 ? json_null() : json_real(x);
}

static json_t *
time_json(int64_t t)
{
	char ts[32];
	return t > 0 ? json_string(cli_time(t, ts, sizeof(ts))) : json_null();
}

static json_t *
ident_json(const struct ident *d)
{
	const struct store_rep *r = &d->r;
	json_t *o = json_object();

	json_object_set_new(o, "key", cli_json_str(r->key));
	json_object_set_new(o, "kind", json_string(reputation_id_kind_name(d->kind)));
	json_object_set_new(o, "known", json_boolean(d->known));
	json_object_set_new(o, "state", json_string(reputation_state_name(d->a.state)));
	json_object_set_new(o, "evidence", cli_json_str(d->a.evidence));
	json_object_set_new(o, "counters", json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f}",
	    "msgs", r->msgs, "valid", r->valid, "invalid", r->invalid, "traps", r->traps,
	    "complaints", r->complaints, "spam", r->spam, "ham", r->ham));
	json_object_set_new(o, "rates", json_pack("{s:o, s:o}",
	    "invalid", share_json(d->known ? invalid_share(r) : -1),
	    "spam", share_json(d->known ? spam_share(r) : -1)));
	json_object_set_new(o, "points", json_pack("{s:f, s:f, s:f, s:f, s:f, s:f}",
	    "invalid", d->a.invalid, "traps", d->a.traps, "complaints", d->a.complaints,
	    "spam", d->a.spam, "good", d->a.good, "total", d->a.total));
	json_object_set_new(o, "first_seen", time_json(d->known ? r->first_seen : 0));
	json_object_set_new(o, "last_change", time_json(d->last));
	json_object_set_new(o, "reset", time_json(r->reset));
	return o;
}

static json_t *
events_json(const struct events *e)
{
	char ts[32];
	json_t *arr = json_array();

	for (size_t i = 0; i < e->n; i++) {
		const struct store_rep_event *x = e->ev[i];
		json_array_append_new(arr, json_pack("{s:s, s:I, s:o, s:o, s:o, s:o}",
		    "time", cli_time(x->ts, ts, sizeof(ts)), "ts", (json_int_t)x->ts,
		    "key", cli_json_str(x->key), "kind", cli_json_str(x->kind),
		    "ref", x->ref && x->ref[0] ? cli_json_str(x->ref) : json_null(),
		    "detail", cli_json_str(x->detail)));
	}
	return arr;
}

static void
print_share(const char *label, double x)
{
	if (x >= 0)
		printf(" (%.0f%% %s)", x * 100.0, label);
}

static void
ident_print(const struct ident *d)
{
	const struct store_rep *r = &d->r;
	char t1[32], t2[32], t3[32];

	fputs("  ", stdout);
	cli_print_safe(r->key);
	printf("  (%s)  ", reputation_id_kind_name(d->kind));
	if (!d->known) {
		puts("nothing recorded");
		return;
	}
	/* A network's evidence is shared by its neighbours: its points count
	 * half in a message's score (docs/reputation.md). */
	printf("%s, %.1f points%s\n", reputation_state_name(d->a.state), d->a.total,
	    d->kind == REP_ID_NET ? " (half of them in a message's score)" : "");
	printf("      messages %.1f, recipients %.1f valid + %.1f unknown", r->msgs, r->valid,
	    r->invalid);
	print_share("unknown", invalid_share(r));
	printf("\n      trap hits %.1f, complaints %.1f, verdicts %.1f spam + %.1f clean",
	    r->traps, r->complaints, r->spam, r->ham);
	print_share("spam", spam_share(r));
	printf("\n      points: unknown recipients %.1f, traps %.1f, complaints %.1f, "
	    "spam %.1f, history %.1f\n", d->a.invalid, d->a.traps, d->a.complaints, d->a.spam,
	    d->a.good);
	fputs("      evidence: ", stdout);
	cli_print_safe(d->a.evidence[0] ? d->a.evidence : "none");
	printf("\n      first seen %s, last change %s, last reset %s\n",
	    cli_time(r->first_seen, t1, sizeof(t1)), cli_time(d->last, t2, sizeof(t2)),
	    cli_time(r->reset, t3, sizeof(t3)));
}

static void
events_print(const struct events *e)
{
	char ts[32];

	if (e->n == 0) {
		puts("no events recorded");
		return;
	}
	puts("latest events:");
	for (size_t i = 0; i < e->n; i++) {
		const struct store_rep_event *x = e->ev[i];
		printf("  %-20s ", cli_time(x->ts, ts, sizeof(ts)));
		cli_print_safe(x->key);
		printf("  %-9s %-9s ", x->kind, x->ref && x->ref[0] ? x->ref : "-");
		cli_print_safe(x->detail);
		fputc('\n', stdout);
	}
}

/* "7d", "36h", "90s": the largest unit that divides it. */
static const char *
duration(int64_t sec, char *out, size_t n)
{
	if (sec > 0 && sec % 86400 == 0)
		snprintf(out, n, "%lldd", (long long)(sec / 86400));
	else if (sec > 0 && sec % 3600 == 0)
		snprintf(out, n, "%lldh", (long long)(sec / 3600));
	else
		snprintf(out, n, "%llds", (long long)sec);
	return out;
}

static int
parse_limit(const char *v, size_t *out)
{
	char *end;
	long l;

	if (v == NULL)
		return 0;
	l = strtol(v, &end, 10);
	if (*end || l < 1 || l > 1000) {
		cli_err("bad --limit '%s' (1-1000)", v);
		return -1;
	}
	*out = (size_t)l;
	return 0;
}

/* A top-level label is never all digits (RFC 3696 2): "192.0.2.300" is a
 * mistyped address, not a domain to look up. */
static int
numeric_tld(const char *s)
{
	const char *dot = strrchr(s, '.'), *p = dot ? dot + 1 : s;

	if (*p == '\0')
		return 0;
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

static int
key_of(const char *what, char *key, size_t n)
{
	if (reputation_key_of(what, key, n) == 0 &&
	    (strncmp(key, "org:", 4) != 0 || !numeric_tld(what)))
		return 0;
	cli_err("'%s' is not an IP address, a network (192.0.2.0/24, 2001:db8::/64) or a "
	    "domain", what);
	return -1;
}

static int
rep_show(const struct conf *c, const struct cli_args *a)
{
	char key[STORE_REP_KEY_MAX];
	size_t limit = 20;
	int64_t now = mw_now();
	struct store *s;
	struct view v;
	struct events e;
	struct store_trap_hit *hits = NULL;
	size_t nhits = 0;
	char hl[32];
	int rc = CLI_OK, known;

	if (a->npos != 1) {
		cli_err("usage: reputation show IP|NETWORK|DOMAIN [--limit N] [--json] [--by WHO]");
		return CLI_USAGE;
	}
	if (key_of(a->pos[0], key, sizeof(key)) != 0 || parse_limit(a->val[S_LIMIT], &limit) != 0)
		return CLI_USAGE;
	if ((s = cli_store_open(c)) == NULL)
		return CLI_FAIL;
	memset(&e, 0, sizeof(e));
	if (view_load(s, key, c->rep_half_life, now, &v) != 0 ||
	    events_load(s, &v, limit, &e) != 0 ||
	    (strncmp(key, "ip:", 3) == 0 &&
	    store_trap_hit_list(s, key + 3, NULL, limit, &hits, &nhits) != 0)) {
		rc = cli_store_fail(s, "reputation show");
		goto out;
	}
	enum rep_state st = view_state(&v, &known);
	/* Looking is logged too: support reads a sender's evidence when a
	 * listing is challenged, and the audit says who did. */
	if (store_audit_add(s, a->val[S_BY] ? a->val[S_BY] : "cli", "reputation show", key,
	    reputation_state_name(st)) < 0) {
		rc = cli_store_fail(s, "reputation show");
		goto out;
	}
	if (a->val[S_JSON]) {
		json_t *ids = json_array();
		for (size_t i = 0; i < v.n; i++)
			json_array_append_new(ids, ident_json(&v.id[i]));
		json_t *doc = json_pack("{s:o, s:o, s:s, s:b, s:I, s:o, s:o, s:o}",
		    "query", cli_json_str(a->pos[0]), "key", cli_json_str(key),
		    "state", reputation_state_name(st), "known", known,
		    "half_life", (json_int_t)c->rep_half_life, "identities", ids,
		    "events", events_json(&e), "trap_hits", cli_trap_hits_json(hits, nhits));
		if (cli_json_print(doc) != 0)
			rc = CLI_FAIL;
		json_decref(doc);
		goto out;
	}
	cli_print_safe(key);
	if (!known)
		printf(": nothing is known about it (%s)\n", reputation_state_name(st));
	else
		printf(": %s (the worst of %zu row%s, decayed to now, half-life %s)\n",
		    reputation_state_name(st), v.n, v.n == 1 ? "" : "s",
		    duration(c->rep_half_life, hl, sizeof(hl)));
	for (size_t i = 0; i < v.n; i++)
		ident_print(&v.id[i]);
	events_print(&e);
	if (strncmp(key, "ip:", 3) == 0) {
		if (nhits == 0) {
			puts("no trap hits");
		} else {
			puts("latest trap hits:");
			cli_trap_hits_print(hits, nhits);
		}
	}
out:
	store_trap_hit_free(hits, nhits);
	events_free(&e);
	view_free(&v);
	store_close(s);
	return rc;
}

/* ---- reset ----------------------------------------------------------- */

/* One row to clear, and the recipient statistics that go with it. */
struct clearing {
	char key[STORE_REP_KEY_MAX];
	const char *stat_kind;
	const char *stat_key;
	int cleared;
};

/* The rows of key: the view's, without decaying anything.  The first one
 * is the key named on the command line (for an IP: the IP). */
static size_t
clearings(const char *key, const struct view *v, struct clearing **out)
{
	struct clearing *cl = xcalloc(v->n ? v->n : 1, sizeof(*cl));

	for (size_t i = 0; i < v->n; i++) {
		mw_strlcpy(cl[i].key, v->id[i].r.key, sizeof(cl[i].key));
		/* Only the IP itself and an (authenticated) domain have recipient
		 * statistics of their own; a pair's domain is the forgeable
		 * envelope one, whose statistics are not this reset's to forget. */
		if (v->id[i].kind == REP_ID_IP && strcmp(cl[i].key, key) == 0) {
			cl[i].stat_kind = "ip";
			cl[i].stat_key = cl[i].key + 3;
		} else if (v->id[i].kind == REP_ID_ORG) {
			cl[i].stat_kind = "sender_domain";
			cl[i].stat_key = cl[i].key + 4;
		}
	}
	*out = cl;
	return v->n;
}

static int
rep_reset(const struct conf *c, const struct cli_args *a)
{
	const char *by = a->val[R_BY] ? a->val[R_BY] : "cli";
	const char *reason = a->val[R_REASON];
	char key[STORE_REP_KEY_MAX], detail[512], audit[512];
	int64_t now = mw_now();
	struct store *s;
	struct view v;
	struct clearing *cl = NULL;
	size_t n = 0, cleared = 0;
	int rc = CLI_OK;

	if (a->npos != 1) {
		cli_err("usage: reputation reset IP|NETWORK|DOMAIN [--by WHO] [--reason TEXT]");
		return CLI_USAGE;
	}
	if (key_of(a->pos[0], key, sizeof(key)) != 0)
		return CLI_USAGE;
	if (reason != NULL && strlen(reason) > 300) {
		cli_err("--reason is longer than 300 characters");
		return CLI_USAGE;
	}
	if ((s = cli_store_open(c)) == NULL)
		return CLI_FAIL;
	memset(&v, 0, sizeof(v));
	if (view_load(s, key, c->rep_half_life, now, &v) != 0) {
		rc = cli_store_fail(s, "reputation reset");
		goto out;
	}
	n = clearings(key, &v, &cl);
	snprintf(detail, sizeof(detail), "by %s%s%s", by, reason ? ": " : "", reason ? reason : "");
	/* All or nothing: a half-done reset would leave the network judging
	 * the IP that was just forgiven. */
	if (store_begin(s) != 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		int r = store_rep_clear(s, cl[i].key, cl[i].stat_kind, cl[i].stat_key);
		if (r < 0)
			goto fail_rollback;
		cl[i].cleared = r == 0;
		cleared += cl[i].cleared;
		/* The row named is always marked, so `show` tells why it is clean. */
		if ((cl[i].cleared || strcmp(cl[i].key, key) == 0) &&
		    store_rep_event_add(s, now, cl[i].key, "reset", "", detail) != 0)
			goto fail_rollback;
	}
	snprintf(audit, sizeof(audit), "%zu row%s cleared%s%s", cleared, cleared == 1 ? "" : "s",
	    reason ? ": " : "", reason ? reason : "");
	if (store_audit_add(s, by, "reputation reset", key, audit) < 0)
		goto fail_rollback;
	if (store_commit(s) != 0)
		goto fail_rollback;
	for (size_t i = 0; i < n; i++)
		if (cl[i].cleared) {
			fputs("cleared ", stdout);
			cli_print_safe(cl[i].key);
			fputc('\n', stdout);
		}
	cli_print_safe(key);
	if (cleared == 0)
		puts(": nothing was recorded; the reset is noted");
	else
		printf(": reset by %s (%zu row%s cleared)\n", by, cleared, cleared == 1 ? "" : "s");
	goto out;
fail_rollback:
	rc = cli_store_fail(s, "reputation reset");
	store_rollback(s);
	cli_err("nothing was reset");
	goto out;
fail:
	rc = cli_store_fail(s, "reputation reset");
out:
	free(cl);
	view_free(&v);
	store_close(s);
	return rc;
}

int
cli_reputation(const struct conf *c, int argc, char **argv)
{
	static const char *const show_opts[] = { "--limit=", "--json", "--by=", NULL };
	static const char *const reset_opts[] = { "--by=", "--reason=", NULL };
	const char *sub = argc > 1 ? argv[1] : NULL;
	struct cli_args a;
	int rc, show;

	if (sub == NULL || strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0) {
		cli_usage_group("reputation");
		return sub == NULL ? CLI_USAGE : CLI_OK;
	}
	if (strcmp(sub, "show") && strcmp(sub, "reset")) {
		cli_err("unknown reputation command '%s' (show, reset)", sub);
		return CLI_USAGE;
	}
	show = strcmp(sub, "show") == 0;
	if (cli_parse(argc, argv, 2, show ? show_opts : reset_opts, &a) != 0)
		return CLI_USAGE;
	if (a.help)
		cli_usage_group("reputation"), rc = CLI_OK;
	else
		rc = show ? rep_show(c, &a) : rep_reset(c, &a);
	cli_args_free(&a);
	return rc;
}
