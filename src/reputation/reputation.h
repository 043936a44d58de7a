/*
 * reputation.h - what a sender's recent mail did, and what that makes it
 * (R9-R12, docs/reputation.md).
 *
 * A sender is several identities at once: its client IP, the IP's network
 * (/24 for IPv4, /64 for IPv6), and its envelope domain.  An envelope
 * domain is forgeable, so until it is authenticated (SPF/DKIM, the
 * authentication work) it is never an identity of its own: it is paired
 * with the network it was seen from ("pair:"), and only the pair collects
 * evidence.  A spammer who forges example.org from his own network taints
 * "example.org from his network", never example.org.  The choice is one
 * function, reputation_identities(), which the authentication work extends
 * with "org:" for authenticated domains.
 *
 * Evidence is counted in decaying counters (store_rep): every counter
 * halves each half_life without new evidence.  "Recent" is the point: a
 * listing nobody renews ends by itself.  The clock is always a parameter,
 * so tests inject it.
 *
 * reputation_assess() turns one identity's counters into points, a state
 * and a sentence of evidence; reputation_symbols() turns a message's
 * identities into verdict symbols (the worst identity per signal, so one
 * finding is not counted three times).
 *
 * Pure except the reputation_get/add helpers, which read and write through
 * the caller's store handle (one per thread, as always).
 */
#ifndef MW_REPUTATION_REPUTATION_H
#define MW_REPUTATION_REPUTATION_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct score_verdict;

enum rep_id_kind { REP_ID_IP, REP_ID_NET, REP_ID_PAIR, REP_ID_ORG };

#define REP_MAX_IDS 4
struct rep_ids {
	size_t n;
	enum rep_id_kind kind[REP_MAX_IDS];
	char key[REP_MAX_IDS][STORE_REP_KEY_MAX];
};

/*
 * The identities of a message from client_ip (text form, v4 or v6; "" or
 * unparsable: none of the network ones) with envelope sender (local@domain,
 * "" for the null sender: no domain identity).  auth_domain is an
 * authenticated organizational domain or NULL (always NULL until R15).
 */
void reputation_identities(const char *client_ip, const char *sender, const char *auth_domain,
    struct rep_ids *out);
/* "ip", "network", "domain+network", "domain". */
const char *reputation_id_kind_name(enum rep_id_kind k);
/* The key of an IP ("ip:..."), a network ("net:.../24") or a domain
 * ("org:...") typed by an administrator: 0, or -1 when it is none. */
int reputation_key_of(const char *what, char *key, size_t n);

/* Brings r's counters from r->updated to now (no change when now <=
 * updated).  half_life in seconds (> 0). */
void reputation_decay(struct store_rep *r, int64_t half_life, int64_t now);

enum rep_state { REP_GOOD, REP_NEUTRAL, REP_SUSPECT, REP_FINGERPRINTED };
const char *reputation_state_name(enum rep_state s);   /* "good" "neutral" "suspect" "fingerprinted" */

/* Points per signal (each >= 0, except good < 0) of one identity's decayed
 * counters; the sum decides the state: >= REP_FINGERPRINTED_POINTS
 * fingerprinted, >= REP_SUSPECT_POINTS suspect; a long clean history with
 * no bad signal is good. */
#define REP_FINGERPRINTED_POINTS 10.0
#define REP_SUSPECT_POINTS 4.0
/* Trap evidence lists a sender from half a hit: one hit for one
 * half-life. Complaints count from a quarter: points grow with them
 * anyway, and a half-weight complaint must outlive its own arrival. */
#define REP_TRAP_MIN 0.5
#define REP_COMPLAINT_MIN 0.25
struct rep_assessment {
	double invalid;       /* share of unknown recipients */
	double traps;         /* spam-trap hits */
	double complaints;    /* complaints */
	double spam;          /* share of probable-spam verdicts */
	double good;          /* <= 0: a clean history */
	double total;
	enum rep_state state;
	char evidence[256];   /* "2.0 trap hits, 40% unknown recipients (12 of 30)" */
};
void reputation_assess(const struct store_rep *decayed, struct rep_assessment *out);

/* Store helpers: the counters of key decayed to now (zeroed if unknown). */
int reputation_get(struct store *s, const char *key, int64_t half_life, int64_t now,
    struct store_rep *out);

/* What one message (or one recipient, or one complaint) adds. */
struct rep_delta {
	double msgs, valid, invalid, traps, complaints, spam, ham;
};
/* Adds d to every identity of ids, in one transaction (decay first), plus
 * an event row per identity when event_kind is not NULL. */
int reputation_add(struct store *s, const struct rep_ids *ids, const struct rep_delta *d,
    int64_t half_life, int64_t now, const char *event_kind, const char *ref,
    const char *detail);

/*
 * Verdict symbols (group "reputation") for the identities of a message,
 * from counters decayed to now: REP_TRAP_HITS, REP_COMPLAINTS,
 * REP_INVALID_RCPTS, REP_SPAM_HISTORY, REP_GOOD_HISTORY - each from the
 * identity that scores worst for it, its reason naming that identity.
 * Appends to v (score and symbols; the class is the caller's to set).
 * Returns 0, or -1 on a storage error (no symbols added).
 */
int reputation_symbols(struct store *s, const struct rep_ids *ids, int64_t half_life,
    int64_t now, struct score_verdict *v);

#endif
