/* reputation.c - see reputation.h. */
#include "reputation/reputation.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "content/content.h"
#include "score/score.h"

/* A network's evidence is shared by every address in it: one bad host
 * must not cost its neighbours the full penalty. */
#define NET_WEIGHT 0.5

const char *reputation_id_kind_name(enum rep_id_kind k)
{
	switch (k) {
	case REP_ID_IP: return "ip";
	case REP_ID_NET: return "network";
	case REP_ID_PAIR: return "domain+network";
	case REP_ID_ORG: return "domain";
	}
	return "?";
}

const char *reputation_state_name(enum rep_state s)
{
	switch (s) {
	case REP_GOOD: return "good";
	case REP_NEUTRAL: return "neutral";
	case REP_SUSPECT: return "suspect";
	case REP_FINGERPRINTED: return "fingerprinted";
	}
	return "?";
}

/* The text of ip and of its network ("192.0.2.0/24", "2001:db8:1::/64").
 * An IPv4-mapped IPv6 address is the IPv4 address it maps. 0 or -1. */
static int ip_and_net(const char *ip, char *ipout, size_t in, char *netout, size_t nn)
{
	unsigned char a[16];
	char t[INET6_ADDRSTRLEN];

	if (ip == NULL || *ip == '\0')
		return -1;
	if (inet_pton(AF_INET, ip, a) == 1) {
		;
	} else if (inet_pton(AF_INET6, ip, a) == 1) {
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		if (memcmp(a, mapped, 12) != 0) {
			inet_ntop(AF_INET6, a, t, sizeof(t));
			mw_strlcpy(ipout, t, in);
			memset(a + 8, 0, 8);
			inet_ntop(AF_INET6, a, t, sizeof(t));
			snprintf(netout, nn, "%s/64", t);
			return 0;
		}
		memmove(a, a + 12, 4);
	} else {
		return -1;
	}
	inet_ntop(AF_INET, a, t, sizeof(t));
	mw_strlcpy(ipout, t, in);
	a[3] = 0;
	inet_ntop(AF_INET, a, t, sizeof(t));
	snprintf(netout, nn, "%s/24", t);
	return 0;
}

static void add_id(struct rep_ids *ids, enum rep_id_kind k, const char *prefix, const char *a,
    const char *b)
{
	char key[STORE_REP_KEY_MAX];
	int n = snprintf(key, sizeof(key), "%s:%s%s%s", prefix, a, b ? "/" : "", b ? b : "");
	if (n < 0 || (size_t)n >= sizeof(key) || ids->n >= REP_MAX_IDS)
		return;   /* a name too long to key is no identity (never truncated into another) */
	ids->kind[ids->n] = k;
	memcpy(ids->key[ids->n], key, (size_t)n + 1);
	ids->n++;
}

void reputation_identities(const char *client_ip, const char *sender, const char *auth_domain,
    struct rep_ids *out)
{
	char ip[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN + 4], dom[256];

	memset(out, 0, sizeof(*out));
	int have_net = ip_and_net(client_ip, ip, sizeof(ip), net, sizeof(net)) == 0;
	if (have_net) {
		add_id(out, REP_ID_IP, "ip", ip, NULL);
		add_id(out, REP_ID_NET, "net", net, NULL);
	}
	const char *at = sender ? strrchr(sender, '@') : NULL;
	if (at != NULL && at[1] != '\0' && have_net) {
		/* The registered domain: a spammer rotating subdomains of one
		 * domain is one sender. */
		content_reg_domain(at + 1, dom, sizeof(dom));
		if (dom[0] != '\0')
			add_id(out, REP_ID_PAIR, "pair", dom, net);
	}
	if (auth_domain != NULL && auth_domain[0] != '\0') {
		content_reg_domain(auth_domain, dom, sizeof(dom));
		if (dom[0] != '\0')
			add_id(out, REP_ID_ORG, "org", dom, NULL);
	}
}

int reputation_key_of(const char *what, char *key, size_t n)
{
	char ip[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN + 4], tmp[INET6_ADDRSTRLEN + 8];

	if (what == NULL || *what == '\0' || strlen(what) >= 254)
		return -1;
	if (ip_and_net(what, ip, sizeof(ip), net, sizeof(net)) == 0) {
		snprintf(key, n, "ip:%s", ip);
		return 0;
	}
	const char *slash = strchr(what, '/');
	if (slash != NULL && (size_t)(slash - what) < sizeof(tmp)) {
		memcpy(tmp, what, (size_t)(slash - what));
		tmp[slash - what] = '\0';
		int v6 = strchr(tmp, ':') != NULL;
		if (strcmp(slash + 1, v6 ? "64" : "24") != 0)
			return -1;
		if (ip_and_net(tmp, ip, sizeof(ip), net, sizeof(net)) != 0)
			return -1;
		snprintf(key, n, "net:%s", net);
		return 0;
	}
	/* A domain: letters, digits, '-', '.', with a dot inside, and a last
	 * label that is not all digits (192.0.2.300 is a mistyped address). */
	size_t len = strlen(what);
	if (strchr(what, '.') == NULL || what[0] == '.' || what[0] == '-')
		return -1;
	const char *last = strrchr(what, '.') + 1;
	if (last[strspn(last, "0123456789")] == '\0')
		return -1;
	for (const char *p = what; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return -1;
	char dom[256];
	content_reg_domain(what, dom, sizeof(dom));
	MW_UNUSED(len);
	snprintf(key, n, "org:%s", dom);
	return 0;
}

void reputation_decay(struct store_rep *r, int64_t half_life, int64_t now)
{
	if (now <= r->updated || half_life <= 0) {
		if (r->updated == 0)
			r->updated = now;
		return;
	}
	double f = pow(0.5, (double)(now - r->updated) / (double)half_life);
	r->msgs *= f;
	r->valid *= f;
	r->invalid *= f;
	r->traps *= f;
	r->complaints *= f;
	r->spam *= f;
	r->ham *= f;
	r->updated = now;
}

/*
 * The points of each signal (docs/reputation.md has the table):
 *  - unknown recipients: 8 x share x min(1, invalid/10), from 3 unknown
 *    and a 25% share: a directory harvest scores high, a typo does not;
 *  - trap hits: 10 from half a hit (one hit stays one half-life), +1 per
 *    further hit up to 12: a trap never receives wanted mail - scaled down
 *    while hits are under 0.1% of the sender's messages (a big shared
 *    sender that reaches one recycled trap is not a spammer);
 *  - complaints: 3 each up to 12, scaled down while complaints are under
 *    1% of the sender's messages (a big sender always draws a few), from
 *    a quarter complaint: one lasts two half-lives, a half one (matched
 *    by Message-ID only) one;
 *  - probable-spam share over 50% of at least 5 scanned messages: up to 3;
 *  - good: -1 for 20+ messages, >= 90% clean, no trap hit or complaint.
 */
void reputation_assess(const struct store_rep *r, struct rep_assessment *out)
{
	memset(out, 0, sizeof(*out));
	double rc = r->valid + r->invalid;
	double share = rc > 0 ? r->invalid / rc : 0;
	if (r->invalid >= 3 && share >= 0.25)
		out->invalid = 8.0 * share * fmin(1.0, r->invalid / 10.0);
	if (r->traps >= REP_TRAP_MIN) {
		double rate = r->traps / fmax(1.0, r->msgs);
		out->traps = fmin(12.0, 10.0 + fmax(0.0, r->traps - 1.0)) * fmin(1.0, rate / 0.001);
	}
	if (r->complaints >= REP_COMPLAINT_MIN) {
		double rate = r->complaints / fmax(1.0, r->msgs);
		out->complaints = fmin(12.0, 3.0 * r->complaints) * fmin(1.0, rate / 0.01);
	}
	double verdicts = r->spam + r->ham;
	if (verdicts >= 5 && r->spam > r->ham)
		out->spam = 3.0 * (r->spam / verdicts - 0.5) / 0.5;
	if (r->msgs >= 20 && r->ham >= 0.9 * verdicts && r->traps < REP_TRAP_MIN &&
	    r->complaints < REP_COMPLAINT_MIN && share < 0.1)
		out->good = -1.0;
	out->total = out->invalid + out->traps + out->complaints + out->spam + out->good;
	if (out->total >= REP_FINGERPRINTED_POINTS)
		out->state = REP_FINGERPRINTED;
	else if (out->total >= REP_SUSPECT_POINTS)
		out->state = REP_SUSPECT;
	else if (out->good < 0 && out->total <= 0)
		out->state = REP_GOOD;
	else
		out->state = REP_NEUTRAL;

	char *e = out->evidence;
	size_t cap = sizeof(out->evidence), len = 0;
#define EV(...) do { if (len < cap) len += (size_t)snprintf(e + len, cap - len, __VA_ARGS__); } while (0)
	EV("%.1f messages", r->msgs);
	if (r->traps >= 0.05)
		EV(", %.1f spam-trap hits", r->traps);
	if (r->complaints >= 0.05)
		EV(", %.1f complaints", r->complaints);
	if (rc >= 0.05)
		EV(", %.0f%% unknown recipients (%.1f of %.1f)", 100.0 * share, r->invalid, rc);
	if (verdicts >= 0.05)
		EV(", %.0f%% probable spam (%.1f of %.1f scanned)", 100.0 * r->spam / verdicts,
		    r->spam, verdicts);
#undef EV
}

int reputation_get(struct store *s, const char *key, int64_t half_life, int64_t now,
    struct store_rep *out)
{
	int rc = store_rep_get(s, key, out);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		memset(out, 0, sizeof(*out));
		mw_strlcpy(out->key, key, sizeof(out->key));
		out->updated = now;
		return 0;
	}
	reputation_decay(out, half_life, now);
	return 0;
}

int reputation_add(struct store *s, const struct rep_ids *ids, const struct rep_delta *d,
    int64_t half_life, int64_t now, const char *event_kind, const char *ref,
    const char *detail)
{
	if (ids->n == 0)
		return 0;
	if (store_begin(s) < 0)
		return -1;
	for (size_t i = 0; i < ids->n; i++) {
		struct store_rep r;
		if (reputation_get(s, ids->key[i], half_life, now, &r) < 0)
			goto fail;
		if (r.first_seen == 0)
			r.first_seen = now;
		r.msgs += d->msgs;
		r.valid += d->valid;
		r.invalid += d->invalid;
		r.traps += d->traps;
		r.complaints += d->complaints;
		r.spam += d->spam;
		r.ham += d->ham;
		if (store_rep_put(s, &r) < 0)
			goto fail;
		if (event_kind != NULL && store_rep_event_add(s, now, ids->key[i], event_kind,
		    ref ? ref : "", detail ? detail : "") < 0)
			goto fail;
	}
	return store_commit(s);
fail:
	store_rollback(s);
	return -1;
}

/* "IP 192.0.2.1", "network 192.0.2.0/24", "domain example.org from network 192.0.2.0/24". */
static void id_label(const struct rep_ids *ids, size_t i, char *out, size_t n)
{
	const char *k = strchr(ids->key[i], ':');
	k = k ? k + 1 : ids->key[i];
	switch (ids->kind[i]) {
	case REP_ID_IP:
		snprintf(out, n, "IP %s", k);
		break;
	case REP_ID_NET:
		snprintf(out, n, "network %s", k);
		break;
	case REP_ID_PAIR: {
		const char *slash = strchr(k, '/');
		int dl = slash ? (int)(slash - k) : (int)strlen(k);
		snprintf(out, n, "domain %.*s from network %s", dl, k, slash ? slash + 1 : "?");
		break;
	}
	case REP_ID_ORG:
		snprintf(out, n, "domain %s", k);
		break;
	}
}

static void add_symbol(struct score_verdict *v, const char *name, double score,
    const char *reason)
{
	struct score_symbol *sym;
	/* The verdict's array grows one at a time here: a handful of symbols. */
	struct score_symbol *grown = xrealloc(v->symbols, (v->n_symbols + 1) * sizeof(*sym));
	v->symbols = grown;
	sym = &v->symbols[v->n_symbols++];
	memset(sym, 0, sizeof(*sym));
	mw_strlcpy(sym->name, name, sizeof(sym->name));
	mw_strlcpy(sym->group, "reputation", sizeof(sym->group));
	sym->score = score;
	mw_strlcpy(sym->reason, reason, sizeof(sym->reason));
	v->score += score;
}

int reputation_symbols(struct store *s, const struct rep_ids *ids, int64_t half_life,
    int64_t now, struct score_verdict *v)
{
	struct store_rep r[REP_MAX_IDS];
	struct rep_assessment a[REP_MAX_IDS];
	double w[REP_MAX_IDS];

	for (size_t i = 0; i < ids->n; i++) {
		if (reputation_get(s, ids->key[i], half_life, now, &r[i]) < 0)
			return -1;
		reputation_assess(&r[i], &a[i]);
		w[i] = ids->kind[i] == REP_ID_NET ? NET_WEIGHT : 1.0;
	}
	/* The worst identity per signal: one finding counts once. */
	size_t best[4] = { SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX };
	double pts[4] = { 0, 0, 0, 0 };
	double good = 0;
	for (size_t i = 0; i < ids->n; i++) {
		double sig[4] = { a[i].traps, a[i].complaints, a[i].invalid, a[i].spam };
		for (int k = 0; k < 4; k++)
			if (w[i] * sig[k] > pts[k]) {
				pts[k] = w[i] * sig[k];
				best[k] = i;
			}
		if (ids->kind[i] == REP_ID_IP && a[i].good < 0)
			good = a[i].good;
	}
	char label[STORE_REP_KEY_MAX + 64], reason[256];
	double hl_days = (double)half_life / 86400.0;
	int any = 0;
	for (int k = 0; k < 4; k++) {
		if (best[k] == SIZE_MAX || pts[k] < 0.05)
			continue;
		size_t i = best[k];
		const struct store_rep *x = &r[i];
		id_label(ids, i, label, sizeof(label));
		const char *wn = w[i] < 1.0 ? " (network: half weight)" : "";
		any = 1;
		switch (k) {
		case 0:
			snprintf(reason, sizeof(reason), "%s sent mail to spam traps: %.1f hits "
			    "(decaying, half-life %.3g days)%s", label, x->traps, hl_days, wn);
			add_symbol(v, "REP_TRAP_HITS", pts[k], reason);
			break;
		case 1:
			snprintf(reason, sizeof(reason), "%s drew complaints: %.1f complaints on %.1f "
			    "messages (decaying, half-life %.3g days)%s", label, x->complaints, x->msgs,
			    hl_days, wn);
			add_symbol(v, "REP_COMPLAINTS", pts[k], reason);
			break;
		case 2:
			snprintf(reason, sizeof(reason), "%s sent to unknown recipients: %.1f of %.1f "
			    "(%.0f%%, decaying)%s", label, x->invalid, x->valid + x->invalid,
			    100.0 * x->invalid / (x->valid + x->invalid), wn);
			add_symbol(v, "REP_INVALID_RCPTS", pts[k], reason);
			break;
		case 3:
			snprintf(reason, sizeof(reason), "%s sent mostly probable spam lately: %.1f of "
			    "%.1f scanned messages%s", label, x->spam, x->spam + x->ham, wn);
			add_symbol(v, "REP_SPAM_HISTORY", pts[k], reason);
			break;
		}
	}
	if (!any && good < 0) {
		for (size_t i = 0; i < ids->n; i++)
			if (ids->kind[i] == REP_ID_IP) {
				id_label(ids, i, label, sizeof(label));
				snprintf(reason, sizeof(reason), "%s has a clean history: %.0f messages, "
				    "%.0f%% clean, no trap hit or complaint", label, r[i].msgs,
				    100.0 * r[i].ham / fmax(1.0, r[i].spam + r[i].ham));
			}
		add_symbol(v, "REP_GOOD_HISTORY", good, reason);
	}
	return 0;
}
