/*
 * sender_list.h - which allow or block entry decides for one recipient (R14).
 *
 * Pure: entries in, a decision out.  Precedence (docs/policy.md):
 *   1. the recipient's own (user-level) entries beat the tenant's
 *      domain-level ones;
 *   2. within a level, the narrowest matching entry decides: an address,
 *      then the exact domain, then ".domain" wildcards by how many labels
 *      they name;
 *   3. at equal narrowness a block beats an allow.
 * An allow decides fully only when the sender is authenticated or the entry
 * was made with --no-auth; otherwise it only lowers the score.  A block
 * always applies: a forged sender gains nothing by being blocked.
 */
#ifndef MW_POLICY_SENDER_LIST_H
#define MW_POLICY_SENDER_LIST_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

enum list_verdict { LIST_NONE = 0, LIST_ALLOW, LIST_ALLOW_UNAUTH, LIST_BLOCK };

struct list_match {
	enum list_verdict verdict;
	int user_level;          /* 1: the recipient's own entry decided */
	int64_t id;              /* the deciding entry */
	char pattern[320];
};

/* How narrowly pattern matches sender (lower-case): 0 no match, larger is
 * narrower. */
int sender_list_specificity(const char *pattern, const char *sender);

/* rcpt and sender are lower-case; authenticated is sender_list_authenticated()'s. */
void sender_list_decide(const struct store_list_entry *e, size_t n, const char *rcpt,
    const char *sender, int authenticated, struct list_match *out);

/* Whether the envelope sender's identity is authenticated (SPF pass, or
 * DMARC-aligned DKIM/SPF for the From domain).  The one place the
 * authentication work fills in; until then nothing is authenticated, so only
 * --no-auth entries allow fully. */
int sender_list_authenticated(const char *sender, const char *client_ip);

const char *sender_list_verdict_name(enum list_verdict v);

#endif
