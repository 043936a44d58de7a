/* policy.c - see policy.h. */
#include "policy/policy.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"

/* Address forms that route through us to somewhere else.  A hosted domain
 * does not make them acceptable: a downstream MTA that honours the percent
 * hack, a bang path or a source route would relay for us (P37, P38). */
static int path_is_relay_trick(const struct smtp_path *to)
{
	const unsigned tricks = SMTP_PATH_SOURCE_ROUTE | SMTP_PATH_PERCENT | SMTP_PATH_BANG |
	    SMTP_PATH_LITERAL | SMTP_PATH_AT_IN_LOCAL | SMTP_PATH_QUOTED;
	return (to->flags & tricks) != 0;
}

static void reply_set(struct smtp_reply *r, int code, const char *fmt, const char *addr,
    const char *ref) MW_PRINTF(3, 0);

static void reply_set(struct smtp_reply *r, int code, const char *fmt, const char *addr, const char *ref)
{
	char text[sizeof(r->text)];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(text, sizeof(text), fmt, addr);
#pragma GCC diagnostic pop
	r->code = code;
	if (ref && *ref)
		snprintf(r->text, sizeof(r->text), "%s (ref %s)", text, ref);
	else
		mw_strlcpy(r->text, text, sizeof(r->text));
}

void policy_group_key(const struct store_rcpt *r, const struct list_match *m, char *out,
    size_t n)
{
	/* Everything that decides what happens at the end of DATA: a domain of
	 * the tenant with its own action or thresholds is another group. */
	snprintf(out, n, "tenant=%lld list=%s action=%s bulk=%s th=%lld/%lld",
	    (long long)r->tenant_id, sender_list_verdict_name(m ? m->verdict : LIST_NONE),
	    r->action, r->bulk, (long long)r->tag, (long long)r->probable_spam);
}

/* 1 when client_ip sent too many unknown recipients lately (R9).  Keyed on
 * the IP alone: an envelope domain can be forged, a TCP peer cannot, so
 * nobody can get an innocent domain refused this way. */
static int harvesting(struct store *s, const struct policy_harvest *hv, const char *client_ip,
    int *failed)
{
	int64_t valid = 0, invalid = 0;

	*failed = 0;
	if (hv == NULL || hv->min_invalid <= 0 || client_ip == NULL || client_ip[0] == '\0')
		return 0;
	if (store_rcpt_stat_get(s, "ip", client_ip, mw_now() - hv->window, &valid, &invalid) < 0) {
		*failed = 1;
		return 0;
	}
	return invalid >= hv->min_invalid && invalid * 100 >= hv->ratio_pct * (valid + invalid);
}

/* The one answer a harvesting client gets for any recipient: trap, user,
 * unknown address alike. */
static void harvest_refuse(struct policy_rcpt *out, const struct smtp_path *to, const char *ref)
{
	reply_set(&out->reply, 554, "5.7.1 <%s>: Recipient address rejected: too many "
	    "unknown recipients from your address recently (directory harvest)", to->addr, ref);
	out->harvest_refused = 1;
}

/* A trap or the complaint address: 250 like a user, unless the client is
 * harvesting (then it gets what a user would get). */
static int special_rcpt(struct store *s, const struct policy_harvest *hv, const char *client_ip,
    const struct smtp_path *to, const char *ref, const char *complaint_address,
    struct policy_rcpt *out)
{
	char pattern[330];
	int rc = 1;

	if (complaint_address && *complaint_address && strcasecmp(to->addr, complaint_address) == 0) {
		out->complaint = 1;
		rc = 0;
	} else {
		char lower[330];
		mw_strlcpy(lower, to->addr, sizeof(lower));
		mw_str_lower(lower);
		rc = store_trap_match(s, lower, pattern, sizeof(pattern), out->trap_tenant,
		    sizeof(out->trap_tenant));
		if (rc < 0) {
			reply_set(&out->reply, 451, "4.3.0 <%s>: Temporary lookup failure, try again later",
			    to->addr, ref);
			return -1;
		}
		out->trap = rc == 0;
	}
	if (rc != 0)
		return 1;
	int failed;
	if (harvesting(s, hv, client_ip, &failed)) {
		out->trap = out->complaint = 0;
		harvest_refuse(out, to, ref);
		return 0;
	}
	out->reply.code = 250;
	mw_strlcpy(out->reply.text, "2.1.5 Ok", sizeof(out->reply.text));
	return 0;
}

int policy_check_rcpt(struct store *s, const struct policy_harvest *hv, const char *sender,
    const char *client_ip, const struct smtp_path *to, const char *ref,
    const char *complaint_address, struct policy_rcpt *out)
{
	memset(out, 0, sizeof(*out));
	if (to->flags & SMTP_PATH_POSTMASTER) {
		/* A bare <postmaster> names no tenant; every tenant's own postmaster@
		 * address is the one to use. */
		reply_set(&out->reply, 550, "5.1.1 <%s>: Recipient address rejected: use postmaster@<domain>",
		    "postmaster", ref);
		return 0;
	}
	if (path_is_relay_trick(to)) {
		reply_set(&out->reply, 554, "5.7.1 <%s>: Relay access denied", to->addr, ref);
		return 0;
	}
	int sp = special_rcpt(s, hv, client_ip, to, ref, complaint_address, out);
	if (sp <= 0)
		return sp;
	if (store_rcpt_lookup(s, to->addr, &out->r) < 0) {
		reply_set(&out->reply, 451, "4.3.0 <%s>: Temporary lookup failure, try again later",
		    to->addr, ref);
		return -1;
	}
	switch (out->r.status) {
	case RCPT_NOT_HOSTED:
		reply_set(&out->reply, 554, "5.7.1 <%s>: Relay access denied", to->addr, ref);
		return 0;
	case RCPT_UNKNOWN_USER:
	case RCPT_VALID:
		break;
	}
	struct store_list_entry *e = NULL;
	size_t ne = 0;
	if (store_list_for_rcpt(s, out->r.tenant, out->r.canonical, &e, &ne) < 0) {
		reply_set(&out->reply, 451, "4.3.0 <%s>: Temporary lookup failure, try again later",
		    to->addr, ref);
		return -1;
	}
	char lsender[512];
	mw_strlcpy(lsender, sender ? sender : "", sizeof(lsender));
	for (char *c = lsender; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	sender_list_decide(e, ne, out->r.canonical, lsender,
	    sender_list_authenticated(lsender, client_ip), &out->list);
	store_list_free(e, ne);
	int failed;
	if (out->r.status == RCPT_UNKNOWN_USER) {
		/* A harvesting client gets the same answer for an unknown user as
		 * for a real one: two answers would tell it which addresses
		 * exist.  The unknown recipient still counts against it. */
		out->invalid_user = 1;
		if (out->list.verdict != LIST_ALLOW && harvesting(s, hv, client_ip, &failed)) {
			harvest_refuse(out, to, ref);
			return 0;
		}
		reply_set(&out->reply, 550, "5.1.1 <%s>: Recipient address rejected: User unknown",
		    to->addr, ref);
		return 0;
	}
	if (harvesting(s, hv, client_ip, &failed)) {
		if (out->list.verdict != LIST_ALLOW) {
			harvest_refuse(out, to, ref);
			return 0;
		}
		/* The recipient allows this sender: R14 bypasses reputation
		 * refusals; the verdict says what would have happened. */
		out->harvest_bypassed = 1;
	} else if (failed) {
		reply_set(&out->reply, 451, "4.3.0 <%s>: Temporary lookup failure, try again later",
		    to->addr, ref);
		return -1;
	}
	out->accepted = 1;
	out->reply.code = 250;
	mw_strlcpy(out->reply.text, "2.1.5 Ok", sizeof(out->reply.text));
	policy_group_key(&out->r, &out->list, out->group_key, sizeof(out->group_key));
	return 0;
}
