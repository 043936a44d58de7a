/* rep_mail.c - see rep_mail.h. */
#include "reputation/rep_mail.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/util.h"
#include "complaint/complaint.h"
#include "conf/conf.h"
#include "content/content.h"
#include "fingerprint/fingerprint.h"
#include "log/log.h"
#include "reputation/fp_memory.h"
#include "reputation/fp_recent.h"
#include "reputation/reputation.h"
#include "reputation/sig_history.h"
#include "score/score.h"
#include "store/store.h"

#define MAX_REFS 32   /* Message-IDs of In-Reply-To + References looked up */
/* A forward is claimed by headers anyone can write (Resent-*, SRS, ARC,
 * an attached message); until it can be verified (SRS hash, ARC seal,
 * SPF of the forwarder: R15), what it carries counts against the
 * forwarder at this weight - a real forwarder is not listed for one
 * forwarded trap hit, a spammer cannot escape by adding two lines: two
 * such hits within a half-life reach the half hit that lists a sender. */
#define FORWARD_WEIGHT (1.0 / 3.0)

struct rep_mail {
	const struct conf *c;
	struct store *s;
	struct fp_memory *fpm;
	struct fp_recent *recent;
	struct sig_history *sigh;
};

static char **strv_copy(char *const *v, size_t n)
{
	if (n == 0)
		return NULL;
	char **out = xcalloc(n, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i] ? v[i] : "");
	return out;
}

struct rep_mail_ctx *rep_mail_ctx_copy(const struct rep_mail_ctx *c)
{
	struct rep_mail_ctx *n = xcalloc(1, sizeof(*n));
	*n = *c;
	n->traps = strv_copy(c->traps, c->n_traps);
	n->trap_tenants = strv_copy(c->trap_tenants, c->n_traps);
	return n;
}

void rep_mail_ctx_free(struct rep_mail_ctx *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_traps; i++) {
		free(c->traps[i]);
		free(c->trap_tenants[i]);
	}
	free(c->traps);
	free(c->trap_tenants);
	free(c);
}

void rep_mail_facts_clear(struct rep_mail_facts *f)
{
	free(f->fp);
	memset(f, 0, sizeof(*f));
}

struct rep_mail *rep_mail_new(const struct conf *c, struct store *s, struct fp_memory *fpm,
    struct fp_recent *recent, struct sig_history *sigh)
{
	struct rep_mail *rm = xcalloc(1, sizeof(*rm));
	rm->c = c;
	rm->s = s;
	rm->fpm = fpm;
	rm->recent = recent;
	rm->sigh = sigh;
	return rm;
}

/* ---- signature block by repetition (R7) ------------------------------------ */

int rep_mail_signature(struct rep_mail *rm, const struct rep_mail_ctx *ctx,
    struct content_msg *m)
{
	const char *block = content_last_block(m);
	if (rm->sigh == NULL || block == NULL)   /* a block implies a text part */
		return 0;
	/* The sender is who writes the From line; the envelope is often a
	 * bounce address that changes with every message. */
	const char *sender = content_from_addr(m);
	if (*sender == '\0')
		sender = ctx->sender;
	const struct content_text *t = content_text_at(m, 0);
	uint64_t digest = fp_hash64(t->text, t->len, 0x7e57);
	if (sig_history_add(rm->sigh, sender, block, digest, mw_now()) < SIG_HISTORY_REPEATS)
		return 0;
	return content_signature_adopt(m) == 0;
}

void rep_mail_free(struct rep_mail *rm)
{
	free(rm);
}

static void add_symbol(struct score_verdict *v, const char *name, const char *group, double score,
    const char *reason)
{
	v->symbols = xrealloc(v->symbols, (v->n_symbols + 1) * sizeof(*v->symbols));
	struct score_symbol *sym = &v->symbols[v->n_symbols++];
	memset(sym, 0, sizeof(*sym));
	mw_strlcpy(sym->name, name, sizeof(sym->name));
	mw_strlcpy(sym->group, group, sizeof(sym->group));
	sym->score = score;
	mw_strlcpy(sym->reason, reason, sizeof(sym->reason));
	v->score += score;
}

/* ---- forwarded? -------------------------------------------------------- */

static int has_attached_message(const char *data, size_t len)
{
	/* A Content-Type line naming message/rfc822 anywhere in the message:
	 * the forward-as-attachment of every mail client. */
	static const char needle[] = "message/rfc822";
	size_t n = sizeof(needle) - 1;
	for (size_t i = 0; i + n <= len; i++) {
		if (strncasecmp(data + i, needle, n) != 0)
			continue;
		size_t j = i;
		while (j > 0 && data[j - 1] != '\n' && i - j < 64)
			j--;
		if (i - j >= 13 && strncasecmp(data + j, "content-type:", 13) == 0)
			return 1;
	}
	return 0;
}

static int forwarded(const struct rep_mail_ctx *ctx, const struct content_msg *m,
    const char *data, size_t len, char *why, size_t n)
{
	const char *local = ctx->sender;
	why[0] = '\0';
	if (strncasecmp(local, "srs0=", 5) == 0 || strncasecmp(local, "srs1=", 5) == 0)
		snprintf(why, n, "the envelope sender is SRS-rewritten by a forwarder");
	else if (content_header(m, "Resent-From", 0) || content_header(m, "Resent-Sender", 0) ||
	    content_header(m, "Resent-Date", 0))
		snprintf(why, n, "Resent-* header lines: re-sent by %s",
		    content_header(m, "Resent-From", 0) ? content_header(m, "Resent-From", 0) :
		    content_header(m, "Resent-Sender", 0) ? content_header(m, "Resent-Sender", 0) :
		    "a forwarder");
	else if (content_header(m, "ARC-Seal", 0))
		snprintf(why, n, "an ARC chain: forwarded by an intermediary");
	else if (has_attached_message(data, len))
		snprintf(why, n, "an attached message (message/rfc822)");
	return why[0] != '\0';
}

/* ---- a reply to the tenant? -------------------------------------------- */

static size_t msgids(const char *h, char ids[][256], size_t have, size_t max)
{
	while (h && *h && have < max) {
		const char *lt = strchr(h, '<');
		if (lt == NULL)
			break;
		const char *gt = strchr(lt + 1, '>');
		if (gt == NULL)
			break;
		size_t l = (size_t)(gt - lt - 1);
		if (l > 0 && l < 256) {
			memcpy(ids[have], lt + 1, l);
			ids[have][l] = '\0';
			have++;
		}
		h = gt + 1;
	}
	return have;
}

static void check_reply(struct rep_mail *rm, const struct rep_mail_ctx *ctx,
    const struct content_msg *m, struct score_verdict *v, struct rep_mail_facts *f)
{
	char ids[MAX_REFS][256];
	const char *ptrs[MAX_REFS];
	size_t n = 0;

	if (ctx->tenant[0] == '\0')
		return;
	n = msgids(content_header(m, "In-Reply-To", 0), ids, n, MAX_REFS);
	n = msgids(content_header(m, "References", 0), ids, n, MAX_REFS);
	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++)
		ptrs[i] = ids[i];
	char matched[256];
	int rc = store_outbound_match(rm->s, ctx->tenant, ptrs, n, matched, sizeof(matched));
	if (rc < 0) {
		log_warn(ctx->ref, "reputation outbound-lookup error=\"%s\"", store_error(rm->s));
		return;
	}
	if (rc == 1)
		return;
	/* A Message-ID is no secret (it is quoted in every reply, archived
	 * with list mail): when the tenant recorded where the original went,
	 * only a reply from there is trusted - the envelope sender's or the
	 * From's registered domain must be one the original was sent to. */
	char doms[2][256], known[256];
	const char *dp[2];
	size_t nd = 0;
	const char *addrs[2] = { ctx->sender, content_from_addr(m) };
	for (size_t i = 0; i < 2; i++) {
		const char *at = addrs[i] ? strrchr(addrs[i], '@') : NULL;
		if (at == NULL || at[1] == '\0')
			continue;
		content_reg_domain(at + 1, doms[nd], sizeof(doms[nd]));
		dp[nd] = doms[nd];
		nd++;
	}
	rc = store_outbound_rcpt_check(rm->s, ctx->tenant, matched, dp, nd, known, sizeof(known));
	if (rc < 0) {
		log_warn(ctx->ref, "reputation outbound-lookup error=\"%s\"", store_error(rm->s));
		return;
	}
	if (rc == 1) {
		char reason[256];
		snprintf(reason, sizeof(reason), "refers to <%.80s>, which tenant %s sent to %.60s, "
		    "not to %.60s: no reply trust", matched, ctx->tenant, known, nd ? dp[0] : "this sender");
		add_symbol(v, "REPLY_FROM_ELSEWHERE", "reply", 0, reason);
		return;
	}
	double rep = 0;
	for (size_t i = 0; i < v->n_symbols; i++)
		if (strcmp(v->symbols[i].group, "reputation") == 0 && v->symbols[i].score > 0)
			rep += v->symbols[i].score;
	char reason[256];
	snprintf(reason, sizeof(reason), "a reply to <%.100s>, which tenant %s sent: the sender's "
	    "reputation (%.2f points) does not count against it", matched, ctx->tenant, rep);
	add_symbol(v, "REPLY_TO_TENANT", "reply", -rep, reason);
	f->reply = 1;
}

/* ---- bulk? --------------------------------------------------------------- */

static void check_bulk(struct rep_mail *rm, const struct rep_mail_ctx *ctx,
    const struct fp_message *fp, int64_t now, struct score_verdict *v)
{
	struct fp_recent_seen seen;
	size_t n = ctx->n_real + ctx->n_traps;

	if (rm->recent == NULL || fp == NULL || !(fp->present & (1u << FP_KIND_TEXT)) || n == 0)
		return;
	fp_recent_add(rm->recent, &fp->sig[FP_KIND_TEXT], ctx->tenant, n, now, &seen);
	if (seen.rcpts < (uint64_t)rm->c->bulk_recipients &&
	    seen.tenants < (unsigned)rm->c->bulk_tenants)
		return;
	char reason[256], span[32];
	int64_t d = now - seen.first;
	if (d < 7200)
		snprintf(span, sizeof(span), "%lld minutes", (long long)(d / 60 + 1));
	else
		snprintf(span, sizeof(span), "%lld hours", (long long)(d / 3600));
	snprintf(reason, sizeof(reason), "this text (or a near-duplicate) reached %llu recipients "
	    "of %u%s tenants in the last %s: bulk mail", (unsigned long long)seen.rcpts,
	    seen.tenants, seen.tenants >= FP_RECENT_TENANTS ? "+" : "", span);
	add_symbol(v, "FP_BULK", "bulk", 0, reason);
}

/* ---- check ---------------------------------------------------------------- */

void rep_mail_check(struct rep_mail *rm, const struct rep_mail_ctx *ctx,
    const struct content_msg *m, const char *data, size_t len, struct score_verdict *v,
    struct rep_mail_facts *f)
{
	memset(f, 0, sizeof(*f));
	int64_t now = mw_now();
	int64_t hl = rm->c->rep_half_life;
	char why[256];

	if (rm->s == NULL)
		return;
	struct rep_ids ids;
	reputation_identities(ctx->client_ip, ctx->sender, NULL, &ids);
	if (reputation_symbols(rm->s, &ids, hl, now, v) < 0)
		log_warn(ctx->ref, "reputation lookup error=\"%s\"", store_error(rm->s));
	if (rm->fpm != NULL || rm->recent != NULL) {
		f->fp = xcalloc(1, sizeof(*f->fp));
		struct fp_params p = fp_params_default();
		fp_message_compute(m, &p, f->fp);
	}
	if (rm->fpm != NULL) {
		if (fp_memory_refresh(rm->fpm, rm->s, now) < 0 ||
		    fp_memory_symbols(rm->fpm, rm->s, f->fp, hl, now, v) < 0)
			log_warn(ctx->ref, "fingerprint lookup error=\"%s\"", store_error(rm->s));
	}
	check_bulk(rm, ctx, f->fp, now, v);
	if (forwarded(ctx, m, data, len, why, sizeof(why))) {
		f->forwarded = 1;
		char reason[256];
		snprintf(reason, sizeof(reason), "forwarded mail (%s): what it carries counts a third "
		    "against the forwarder", why);
		add_symbol(v, "FORWARDED", "forward", 0, reason);
	}
	check_reply(rm, ctx, m, v, f);
}

/* ---- record ---------------------------------------------------------------- */

static int outside_content(const char *group)
{
	return strcmp(group, "reputation") == 0 || strcmp(group, "fingerprint") == 0 ||
	    strcmp(group, "reply") == 0 || strcmp(group, "forward") == 0 ||
	    strcmp(group, "policy") == 0;
}

/* What content alone made of the message: evidence must never feed on
 * the reputation it is evidence for.  -1 ham, 1 probable spam, 0 neither
 * (or the GTUBE test string, which says nothing about the sender). */
static int content_verdict(const struct score_verdict *v, const struct score_thresholds *th)
{
	double sum = 0;
	for (size_t i = 0; i < v->n_symbols; i++) {
		if (strcmp(v->symbols[i].name, "GTUBE") == 0)
			return 0;
		if (!outside_content(v->symbols[i].group))
			sum += v->symbols[i].score;
	}
	return sum >= th->probable_spam ? 1 : sum < th->tag ? -1 : 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The message as received, kept as the trap hit's evidence: name is the
 * file's name under data_dir/traps ("" when not kept). */
static void keep_copy(struct rep_mail *rm, const char *ref, const char *data, size_t len,
    char *name, size_t nn)
{
	char dir[1024], file[1100], tmp[1110];
	name[0] = '\0';
	if (rm->c->trap_keep <= 0)
		return;
	conf_path(rm->c, "traps", dir, sizeof(dir));
	if (mw_mkdir_p(dir, 0750) < 0)
		return;
	snprintf(file, sizeof(file), "%s/%s.eml", dir, ref);
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0 || write_all(fd, data, len) < 0 || close(fd) < 0 || rename(tmp, file) < 0) {
		log_warn(ref, "trap keep-failed file=%s error=\"%s\"", file, strerror(errno));
		if (fd >= 0)
			unlink(tmp);
		return;
	}
	snprintf(name, nn, "%s.eml", ref);
}

static void record_traps(struct rep_mail *rm, const struct rep_mail_ctx *ctx,
    const struct content_msg *m, const char *data, size_t len)
{
	char file[64], dir[1024], path[1100];
	keep_copy(rm, ctx->ref, data, len, file, sizeof(file));
	conf_path(rm->c, "traps", dir, sizeof(dir));
	for (size_t i = 0; i < ctx->n_traps; i++) {
		struct store_trap_hit h = {
			.ts = mw_now(),
			.ref = (char *)(uintptr_t)ctx->ref,
			.client_ip = (char *)(uintptr_t)ctx->client_ip,
			.helo = (char *)(uintptr_t)ctx->helo,
			.sender = (char *)(uintptr_t)ctx->sender,
			.rcpt = ctx->traps[i],
			.tenant = ctx->trap_tenants[i],
			.subject = (char *)(uintptr_t)(content_subject(m) ? content_subject(m) : ""),
			.file = file,
		};
		char **gone = NULL;
		size_t n_gone = 0;
		if (store_trap_hit_add(rm->s, &h, (size_t)(rm->c->trap_keep > 0 ? rm->c->trap_keep :
		    1), &gone, &n_gone) < 0) {
			log_warn(ctx->ref, "trap hit-store error=\"%s\"", store_error(rm->s));
			continue;
		}
		for (size_t k = 0; k < n_gone; k++)
			if (gone[k][0] != '\0' && strcmp(gone[k], file) != 0) {
				snprintf(path, sizeof(path), "%s/%s", dir, gone[k]);
				unlink(path);
			}
		store_strings_free(gone, n_gone);
	}
}

void rep_mail_record(struct rep_mail *rm, const struct rep_mail_ctx *ctx,
    const struct content_msg *m, const char *data, size_t len, const struct score_verdict *v,
    const struct score_thresholds *th, const struct rep_mail_facts *f)
{
	int64_t now = mw_now(), hl = rm->c->rep_half_life;
	if (rm->s == NULL)
		return;
	if (ctx->complaint) {
		struct complaint_env env = { rm->s, rm->fpm, hl, now, "smtp", ctx->ref, 0 };
		struct complaint_result res;
		if (complaint_ingest(&env, data, len, &res) < 0)
			log_error(ctx->ref, "complaint store-failed error=\"%s\"", store_error(rm->s));
	}
	if (ctx->n_real == 0 && ctx->n_traps == 0)
		return;   /* a report to the complaint address is not the reporter's mail */

	int cv = content_verdict(v, th);
	struct rep_ids ids;
	struct rep_delta d = { .msgs = 1 };
	char detail[512] = "";
	double w = f->forwarded ? FORWARD_WEIGHT : 1.0;
	d.spam = cv > 0 ? w : 0;
	d.ham = cv < 0;
	if (ctx->n_traps > 0) {
		d.traps = w;
		snprintf(detail, sizeof(detail), "message to spam trap <%s>%s%s%s, subject \"%.80s\"%s",
		    ctx->traps[0], ctx->n_traps > 1 ? " and others" : "",
		    ctx->trap_tenants[0][0] ? " of tenant " : "", ctx->trap_tenants[0],
		    content_subject(m) ? content_subject(m) : "",
		    f->forwarded ? " (forwarded: a third of a hit)" : "");
	}
	reputation_identities(ctx->client_ip, ctx->sender, NULL, &ids);
	if (reputation_add(rm->s, &ids, &d, hl, now, d.traps > 0 ? "trap" : NULL, ctx->ref,
	    detail) < 0)
		log_warn(ctx->ref, "reputation record-failed error=\"%s\"", store_error(rm->s));
	if (ctx->n_traps > 0) {
		record_traps(rm, ctx, m, data, len);
		log_info(ctx->ref, "reputation trap-hit ip=%s traps=%zu forwarded=%d", ctx->client_ip,
		    ctx->n_traps, f->forwarded);
	}
	if (rm->fpm == NULL || f->fp == NULL)
		return;
	int n = 0;
	if (ctx->n_traps > 0)
		n = fp_memory_record(rm->fpm, rm->s, f->fp, m, FP_EV_TRAP, ctx->ref, hl, now);
	else if (cv > 0)
		n = fp_memory_record(rm->fpm, rm->s, f->fp, m, FP_EV_SPAM, ctx->ref, hl, now);
	if (n < 0)
		log_warn(ctx->ref, "fingerprint record-failed error=\"%s\"", store_error(rm->s));
}

const char *rep_mail_reason_class(const struct score_verdict *v)
{
	double content = 0, rep = 0, fp = 0;
	for (size_t i = 0; i < v->n_symbols; i++) {
		const struct score_symbol *s = &v->symbols[i];
		if (strcmp(s->group, "reputation") == 0 || strcmp(s->group, "reply") == 0)
			rep += s->score;
		else if (strcmp(s->group, "fingerprint") == 0)
			fp += s->score;
		else if (!outside_content(s->group))
			content += s->score;
	}
	if (rep > content && rep >= fp)
		return "sender reputation";
	if (fp > content)
		return "content fingerprint";
	return "content";
}
