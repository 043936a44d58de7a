/*
 * rep_mail.h - the reputation step of the mail path (R9-R12, R16).
 *
 * Runs in a scan thread, around the content scan of one message:
 *  - rep_mail_check(), after the rules and Bayes and before the class is
 *    set: symbols for the sender's identities (reputation.h), for the
 *    message's fingerprints with evidence (fp_memory.h), REPLY_TO_TENANT
 *    when In-Reply-To/References name a Message-ID the tenant sent (it
 *    cancels the reputation symbols, not the content ones), and FORWARDED
 *    when the message was forwarded (Resent-*, SRS, ARC, an attached
 *    message), and FP_BULK when the text reached [reputation]
 *    bulk_recipients recipients or bulk_tenants tenants in a day
 *    (fp_recent.h);
 *  - rep_mail_record(), after the verdict: the evidence this message adds:
 *    a message and its content verdict for the identities, trap hits
 *    (counted against the identities - unless forwarded: the forwarder is
 *    not blamed - and against the fingerprints; kept under data_dir/traps),
 *    complaints that arrived at [complaint] address, and the fingerprints
 *    of probable spam that content alone made so.
 * Lookups come before recording: a message is never judged on its own
 * evidence (a transaction that reaches a trap and a real user is
 * delivered to the user).
 *
 * Storage errors never stop mail: the step logs them with the ref id and
 * the verdict goes on without those symbols.
 */
#ifndef MW_REPUTATION_REP_MAIL_H
#define MW_REPUTATION_REP_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include "base/refid.h"

struct conf;
struct store;
struct fp_memory;
struct content_msg;
struct score_verdict;
struct score_thresholds;

/* What the session knows of the transaction (copied; owned by the job). */
struct rep_mail_ctx {
	char ref[REFID_LEN + 1];
	char client_ip[64];
	char helo[256];
	char sender[512];
	char tenant[128];      /* the real recipients' tenant ("" when none) */
	size_t n_real;         /* recipients that get the message */
	char **traps;          /* trap recipients, as given */
	char **trap_tenants;   /* the trap's tenant ("" network-wide) */
	size_t n_traps;
	int complaint;         /* the [complaint] address was a recipient */
};
struct rep_mail_ctx *rep_mail_ctx_copy(const struct rep_mail_ctx *c);
void rep_mail_ctx_free(struct rep_mail_ctx *c);

struct rep_mail_facts {
	int forwarded;
	int reply;
	struct fp_message *fp;   /* the message's fingerprints (owned; freed by rep_mail_facts_clear) */
};
void rep_mail_facts_clear(struct rep_mail_facts *f);

struct rep_mail;
struct fp_recent;
struct sig_history;
/* s, fpm, recent and sigh are borrowed (the scan thread's store handle;
 * the pool's shared fingerprint memory, bulk counter and closing-paragraph
 * history, any of which may be NULL). */
struct rep_mail *rep_mail_new(const struct conf *c, struct store *s, struct fp_memory *fpm,
    struct fp_recent *recent, struct sig_history *sigh);
void rep_mail_free(struct rep_mail *rm);

/*
 * R7's second form of the signature block, right after the parse: a
 * message with none of its own whose last paragraph ended
 * SIG_HISTORY_REPEATS distinct messages of its From address (the envelope
 * sender when there is no From) gets that paragraph as its signature
 * block (sig_history.h), so its fingerprints and the evidence recorded
 * against them treat it as one.  Returns 1 when it did, else 0.
 */
int rep_mail_signature(struct rep_mail *rm, const struct rep_mail_ctx *ctx,
    struct content_msg *m);

void rep_mail_check(struct rep_mail *rm, const struct rep_mail_ctx *ctx,
    const struct content_msg *m, const char *data, size_t len, struct score_verdict *v,
    struct rep_mail_facts *f);
void rep_mail_record(struct rep_mail *rm, const struct rep_mail_ctx *ctx,
    const struct content_msg *m, const char *data, size_t len, const struct score_verdict *v,
    const struct score_thresholds *th, const struct rep_mail_facts *f);

/* The reason class of a rejection: the group of symbols that gave the
 * most points - "content", "sender reputation" or "content fingerprint". */
const char *rep_mail_reason_class(const struct score_verdict *v);

#endif
