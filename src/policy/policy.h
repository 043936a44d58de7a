/*
 * policy.h - what the gateway accepts at RCPT time (R2, R3, R6).
 *
 * Pure decisions over a store lookup: hosted domain or relay denied (with
 * the relay tricks of P37-P40 refused outright), valid user or 550 5.1.1,
 * and the "policy group key" that decides which recipients may share one
 * transaction.  Later issues extend the key (actions, allow lists).
 */
#ifndef MW_POLICY_POLICY_H
#define MW_POLICY_POLICY_H

#include <stddef.h>
#include "smtp/smtp_addr.h"
#include "smtp/smtp_proto.h"
#include "store/store.h"
#include "policy/sender_list.h"

struct policy_rcpt {
	struct smtp_reply reply;   /* what to answer */
	int accepted;              /* 1: 250 */
	int invalid_user;          /* 1: counted as an invalid recipient (R3/R9) */
	struct store_rcpt r;       /* lookup result when hosted */
	struct list_match list;    /* the allow/block decision for this recipient (R14) */
	int harvest_bypassed;      /* 1: refused for directory harvest but for an allow entry */
	int harvest_refused;       /* 1: the reply is the directory-harvest 554 */
	int trap;                  /* 1: a spam trap (R10): 250, never delivered */
	char trap_tenant[128];     /* the trap's tenant, "" network-wide */
	int complaint;             /* 1: the [complaint] address (R11): 250, to complaint intake */
	char group_key[160];       /* R6: recipients of one transaction share it */
};

/* Directory-harvest limits (R9), from [reputation]. */
struct policy_harvest {
	int64_t window;          /* seconds */
	int64_t min_invalid;     /* 0 = off */
	int64_t ratio_pct;
};

/* Decide a RCPT from sender (the envelope's, "" for <>) at client_ip.  ref
 * goes into rejection texts; hv may be NULL (no harvest check);
 * complaint_address is [complaint] address ("" or NULL: none).  A trap or
 * the complaint address is answered 250 like any valid recipient (a trap
 * must not reveal itself) with accepted = 0 and trap / complaint set: it
 * joins no policy group.  Returns 0, or -1 when the store failed (reply is
 * then 451 4.3.0). */
int policy_check_rcpt(struct store *s, const struct policy_harvest *hv, const char *sender,
    const char *client_ip, const struct smtp_path *to, const char *ref,
    const char *complaint_address, struct policy_rcpt *out);

/* The group key of an accepted recipient: its tenant, its list decision and
 * its effective action, bulk action and thresholds (domain overrides
 * included), so recipients that would be treated differently at the end of
 * DATA never share a transaction (452 4.5.3 splits them). */
void policy_group_key(const struct store_rcpt *r, const struct list_match *m, char *out,
    size_t n);

#endif
