/* complaint.c - see complaint.h. */
#include "complaint/complaint.h"

#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "complaint/arf.h"
#include "content/content.h"
#include "fingerprint/fingerprint.h"
#include "log/log.h"
#include "reputation/fp_memory.h"
#include "reputation/reputation.h"
#include "score/score.h"
#include "store/store.h"

/* A Message-ID is the sender's own choice and often public (list
 * archives): a report that names only it counts for this much. */
#define MESSAGE_ID_WEIGHT 0.5

static const char *kind_name(enum arf_kind k)
{
	switch (k) {
	case ARF_OK: return "arf";
	case ARF_NOT_ARF: return "not-arf";
	case ARF_NONE: return "none";
	}
	return "none";
}

static void flags_text(unsigned flags, char *out, size_t n)
{
	size_t len = 0;
	out[0] = '\0';
	for (unsigned bit = 1; bit != 0 && len < n; bit <<= 1) {
		if (!(flags & bit))
			continue;
		const char *name = arf_flag_name(bit);
		len += (size_t)snprintf(out + len, n - len, "%s%s", len ? " " : "",
		    name ? name : "?");
	}
}

/* The original transaction in our log: by our ref id, else by Message-ID
 * (the most recent).  Identities come from here, never from the report's
 * headers, which anyone can write. 1 found, 0 not, -1 storage error. */
static int find_original(struct store *s, const struct arf_report *r, struct complaint_result *out,
    size_t *n_rcpts)
{
	struct store_log_query q;
	struct store_log_entry *e = NULL;
	size_t n = 0;
	const char *how = NULL;

	memset(&q, 0, sizeof(q));
	q.limit = 1;
	if (r->orig.ref[0] != '\0') {
		q.ref = r->orig.ref;
		if (store_log_search(s, &q, &e, &n) < 0)
			return -1;
		how = "ref";
	}
	if (n == 0 && r->orig.message_id != NULL && r->orig.message_id[0] != '\0') {
		store_log_entry_free(e, n);
		e = NULL;
		memset(&q, 0, sizeof(q));
		q.limit = 1;
		q.message_id = r->orig.message_id;
		if (store_log_search(s, &q, &e, &n) < 0)
			return -1;
		how = "message-id";
	}
	if (n == 0) {
		store_log_entry_free(e, n);
		return 0;
	}
	mw_strlcpy(out->match, how, sizeof(out->match));
	mw_strlcpy(out->matched_ref, e[0].txn.ref, sizeof(out->matched_ref));
	mw_strlcpy(out->client_ip, e[0].txn.client_ip ? e[0].txn.client_ip : "",
	    sizeof(out->client_ip));
	mw_strlcpy(out->sender, e[0].txn.sender ? e[0].txn.sender : "", sizeof(out->sender));
	mw_strlcpy(out->subject, e[0].txn.subject ? e[0].txn.subject : "", sizeof(out->subject));
	/* Who got it: no original can draw more complaints than it had
	 * recipients here. */
	*n_rcpts = 0;
	for (size_t i = 0; i < e[0].n_rcpts; i++)
		if (strcmp(e[0].rcpts[i].status, "accepted") == 0)
			(*n_rcpts)++;
	store_log_entry_free(e, n);
	return 1;
}

/* Does the original look like a fingerprint that already has evidence? */
static int fingerprint_known(const struct complaint_env *env, const struct fp_message *fm)
{
	struct score_verdict v;
	memset(&v, 0, sizeof(v));
	int rc = fp_memory_symbols(env->fpm, env->s, fm, env->half_life, env->now, &v);
	int known = rc == 0 && v.n_symbols > 0;
	score_verdict_free(&v);
	return rc < 0 ? -1 : known;
}

static int counts(enum arf_feedback_type t)
{
	/* not-spam is a ham signal, auth-failure is for the authentication
	 * work; anything else (unknown too: loops differ) is a complaint. */
	return t != ARF_FT_NOT_SPAM && t != ARF_FT_AUTH_FAILURE;
}

int complaint_ingest(const struct complaint_env *env, const char *data, size_t len,
    struct complaint_result *out)
{
	struct arf_report r;
	struct content_msg *cm = NULL;
	struct fp_message fm;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&fm, 0, sizeof(fm));
	arf_parse(data, len, &r);
	mw_strlcpy(out->kind, kind_name(r.kind), sizeof(out->kind));
	flags_text(r.flags, out->flags, sizeof(out->flags));
	mw_strlcpy(out->feedback_type, r.kind == ARF_OK ?
	    arf_feedback_type_name(r.feedback_type) : "", sizeof(out->feedback_type));
	mw_strlcpy(out->match, "none", sizeof(out->match));

	size_t n_rcpts = 0;
	int found = find_original(env->s, &r, out, &n_rcpts);
	if (found < 0)
		goto done;
	if (r.orig.raw_len > 0) {
		struct content_limits lim = content_limits_default();
		cm = content_parse(r.orig.raw, r.orig.raw_len, &lim);
		if (cm != NULL) {
			struct fp_params p = fp_params_default();
			fp_message_compute(cm, &p, &fm);
		}
	}
	if (!found && env->fpm != NULL && fm.present != 0) {
		int known = fingerprint_known(env, &fm);
		if (known < 0)
			goto done;
		if (known)
			mw_strlcpy(out->match, "fingerprint", sizeof(out->match));
	}
	if (out->subject[0] == '\0')
		mw_strlcpy(out->subject, r.orig.subject ? r.orig.subject : "", sizeof(out->subject));
	if (env->dry_run) {
		rc = 0;
		goto done;
	}

	struct store_complaint c = {
		.ts = env->now,
		.source = (char *)(uintptr_t)env->source,
		.kind = out->kind,
		.flags = out->flags,
		.digest = r.digest,
		.feedback_type = out->feedback_type,
		.reporter = r.reporter,
		.matched_ref = out->matched_ref,
		.match = out->match,
		.client_ip = out->client_ip,
		.sender = out->sender,
		.subject = out->subject,
		.raw = (char *)(uintptr_t)data,
		.raw_len = len,
	};
	/* Complaints this original drew before this one (duplicates are not
	 * rows, so they are not in it). */
	int64_t prior = 0, prior_mid = 0;
	if (found && store_complaint_count_ref(env->s, out->matched_ref, &prior, &prior_mid) < 0)
		goto done;
	int added = store_complaint_add(env->s, &c, &out->id);
	if (added < 0)
		goto done;
	if (added == 1) {
		out->duplicate = 1;
		out->id = 0;
		rc = 0;
		log_info(env->ref, "complaint duplicate digest=%.16s matched=%s", r.digest,
		    out->matched_ref[0] ? out->matched_ref : "-");
		goto done;
	}
	/* Message-ID-only reports (at most one counts, half: below) do not use
	 * up the cap of reports with our ref id, proof of receipt: a sender
	 * cannot pre-empt its recipients' complaints by reporting its own
	 * Message-ID. */
	int64_t by_ref = prior - prior_mid;
	if (found && counts(r.feedback_type) && strcmp(out->match, "ref") == 0 &&
	    by_ref >= (int64_t)(n_rcpts ? n_rcpts : 1)) {
		/* Every recipient of the original has complained already: more
		 * reports about it (another User-Agent, a resend) are stored but
		 * count nothing. */
		out->capped = COMPLAINT_CAPPED_RECIPIENTS;
	} else if (found && counts(r.feedback_type) && strcmp(out->match, "message-id") == 0 &&
	    prior_mid > 0) {
		/* A Message-ID is no proof of having received the message: forged
		 * reports quoting it (as many as it had recipients, each with
		 * another User-Agent) must not add up to a listing. The first
		 * counts half; only reports carrying our ref id count more. */
		out->capped = COMPLAINT_CAPPED_MESSAGE_ID;
	} else if (strcmp(out->match, "none") != 0 && counts(r.feedback_type)) {
		/* One report is one complaint: Incidents is the reporter's claim,
		 * and one reporter must not outweigh the original's recipients. */
		if (found) {
			struct rep_ids ids;
			struct rep_delta d = {
				.complaints = strcmp(out->match, "ref") == 0 ? 1.0 : MESSAGE_ID_WEIGHT,
			};
			char detail[256];
			reputation_identities(out->client_ip, out->sender, NULL, &ids);
			snprintf(detail, sizeof(detail), "complaint #%lld (%s, from %s) about ref %s",
			    (long long)out->id, out->feedback_type[0] ? out->feedback_type : out->kind,
			    r.reporter[0] ? r.reporter : "unknown reporter", out->matched_ref);
			if (reputation_add(env->s, &ids, &d, env->half_life, env->now, "complaint",
			    out->matched_ref, detail) < 0)
				goto done;
		}
		if (env->fpm != NULL && fm.present != 0) {
			int n = fp_memory_record(env->fpm, env->s, &fm, cm, FP_EV_COMPLAINT,
			    out->matched_ref[0] ? out->matched_ref : NULL, env->half_life, env->now);
			if (n < 0)
				goto done;
			out->fingerprints = n;
		}
		out->counted = 1;
	}
	log_info(env->ref, "complaint id=%lld source=%s kind=%s type=%s match=%s matched=%s ip=%s "
	    "counted=%d capped=%d fingerprints=%d flags=\"%s\"", (long long)out->id, env->source,
	    out->kind, out->feedback_type[0] ? out->feedback_type : "-", out->match,
	    out->matched_ref[0] ? out->matched_ref : "-", out->client_ip[0] ? out->client_ip : "-",
	    out->counted, out->capped, out->fingerprints, out->flags);
	rc = 0;
done:
	content_free(cm);
	arf_report_free(&r);
	return rc;
}
