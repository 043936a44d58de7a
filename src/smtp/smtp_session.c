/* smtp_session.c - see smtp_session.h. */
#include "smtp/smtp_session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base/buf.h"
#include "base/refid.h"
#include "base/timeparse.h"
#include "base/util.h"
#include "conf/conf.h"
#include "log/log.h"
#include "policy/policy.h"
#include "queue/queue.h"
#include "reputation/rep_mail.h"
#include "score/score_pool.h"
#include "smtp/smtp_proto.h"
#include "spool/spool.h"
#include "store/store.h"
#include "track/track.h"

#define SESSION_BUCKETS 256
#define IP_BUCKETS 1024
#define FEED_CHUNK 65536
/* An allow entry that is not authenticated lowers the score by this much
 * (docs/policy.md). */
#define POLICY_UNAUTH_ALLOW_POINTS 5.0

struct rcpt_entry {
	char *addr;        /* as given */
	char *canonical;   /* delivery address */
	char *tenant;
	char *deliver;
};

/* One mail transaction; reset at MAIL, RSET, HELO, end of data. */
struct txn {
	int active;              /* MAIL accepted */
	int64_t ts;
	char *sender;
	struct rcpt_entry *rcpts;
	size_t n_rcpts;
	size_t n_rejected;
	char group_key[160];
	char action[16];         /* the group's action for probable spam */
	char bulk[16];           /* and for bulk mail (deliver, tag, quarantine) */
	struct list_match list;  /* the group's allow/block decision */
	int harvest_bypassed;    /* the allow entry overrode a directory-harvest refusal */
	int64_t tag, probable;   /* its thresholds, hundredths, or STORE_SCORE_DEFAULT */
	int64_t arrival;         /* for our Received line */
	struct spool_msg *msg;
	char qid[QID_LEN + 1];
	struct buf hdr;          /* the header block, for the tracking log */
	int hdr_done;
	int write_failed;
	int logged;              /* the transaction's log record is written */
	uint64_t size;           /* content bytes, known at end of data */
	char last_reply[512];
	struct buf body;         /* the message as received, up to [scan] max_size */
	uint64_t body_seen;      /* bytes received, kept or not */
	int scanned;             /* the verdict below is filled */
	int quarantine;          /* committed for the quarantine, not for delivery */
	double score;
	char cls[16];
	char *symbols;           /* the log's form: NAME TAB score TAB reason lines */
	char **traps;            /* trap recipients (R10): 250, never delivered */
	char **trap_tenants;
	size_t n_traps;
	int complaint;           /* the [complaint] address was a recipient (R11) */
	int sink_only;           /* no real recipient: no queue file, nothing delivered */
};

struct ip_count {
	char ip[INET6_ADDRSTRLEN];
	unsigned n;
	struct ip_count *next;
};

struct session {
	uint64_t id;
	struct smtp_listener *l;
	struct bufferevent *bev;
	evutil_socket_t fd;      /* owned here until TLS: then the TLS bufferevent owns it (-1) */
	struct smtp_proto *proto;
	char ref[REFID_LEN + 1];  /* the current (or next) transaction's reference */
	char ip[INET6_ADDRSTRLEN];
	char helo[256];
	int tls;
	int closing;             /* close once output is written */
	int waiting_commit;
	int waiting_scan;
	int shutdown_after;      /* listener shutting down: 421 after the pending reply */
	struct event *deadline;  /* session_timeout */
	struct event *tarpit;    /* harvest_delay: holds the replies, reads nothing */
	int tarpit_on;           /* a harvest refusal is waiting for the tarpit */
	struct txn txn;
	struct session *next;    /* hash chain */
};

struct smtp_listener {
	struct event_base *base;
	struct smtp_deps d;
	struct evconnlistener *evl;
	struct event *completion_ev;
	struct event *scan_ev;
	SSL_CTX *tls;
	struct refgen *refs;
	uint64_t next_id;
	size_t n_sessions;
	int shutting_down;
	struct session *sessions[SESSION_BUCKETS];
	struct ip_count *ips[IP_BUCKETS];
	struct smtp_limits limits;
};

static void session_pump(struct session *s);
static void session_free(struct session *s);

/* ---- bookkeeping ------------------------------------------------------- */

static unsigned ip_hash(const char *ip)
{
	unsigned h = 5381;
	for (; *ip; ip++)
		h = h * 33 + (unsigned char)*ip;
	return h % IP_BUCKETS;
}

static unsigned *ip_slot(struct smtp_listener *l, const char *ip, int create)
{
	struct ip_count **pp = &l->ips[ip_hash(ip)];
	for (struct ip_count *c = *pp; c; c = c->next)
		if (strcmp(c->ip, ip) == 0)
			return &c->n;
	if (!create)
		return NULL;
	struct ip_count *c = xcalloc(1, sizeof(*c));
	mw_strlcpy(c->ip, ip, sizeof(c->ip));
	c->next = *pp;
	*pp = c;
	return &c->n;
}

static void ip_release(struct smtp_listener *l, const char *ip)
{
	struct ip_count **pp = &l->ips[ip_hash(ip)];
	for (; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->ip, ip) != 0)
			continue;
		if (--(*pp)->n == 0) {
			struct ip_count *dead = *pp;
			*pp = dead->next;
			free(dead);
		}
		return;
	}
}

static void session_link(struct session *s)
{
	struct session **b = &s->l->sessions[s->id % SESSION_BUCKETS];
	s->next = *b;
	*b = s;
	s->l->n_sessions++;
}

static void session_unlink(struct session *s)
{
	for (struct session **pp = &s->l->sessions[s->id % SESSION_BUCKETS]; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			s->l->n_sessions--;
			return;
		}
}

static struct session *session_find(struct smtp_listener *l, uint64_t id)
{
	for (struct session *s = l->sessions[id % SESSION_BUCKETS]; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

/* ---- transaction and tracking ------------------------------------------ */

static void header_value(const struct buf *hdr, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name);
	const char *p = hdr->data ? hdr->data : "";
	out[0] = '\0';
	while (*p) {
		const char *eol = strstr(p, "\r\n");
		size_t linelen = eol ? (size_t)(eol - p) : strlen(p);
		if (linelen > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			/* Unfold: continuation lines start with a space or tab. */
			size_t j = 0;
			const char *v = p + nl + 1;
			for (;;) {
				const char *e = strstr(v, "\r\n");
				size_t vl = e ? (size_t)(e - v) : strlen(v);
				for (size_t i = 0; i < vl && j + 1 < n; i++) {
					unsigned char ch = (unsigned char)v[i];
					if (j == 0 && (ch == ' ' || ch == '\t'))
						continue;
					out[j++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
				}
				if (e == NULL || (e[2] != ' ' && e[2] != '\t'))
					break;
				v = e + 2;
			}
			out[j] = '\0';
			return;
		}
		if (eol == NULL)
			break;
		p = eol + 2;
	}
}

static void txn_log(struct session *s, const char *action, const char *reply, uint64_t size)
{
	struct txn *t = &s->txn;
	char from[512], subject[512], msgid[512];
	header_value(&t->hdr, "From", from, sizeof(from));
	header_value(&t->hdr, "Subject", subject, sizeof(subject));
	header_value(&t->hdr, "Message-ID", msgid, sizeof(msgid));
	char *m = msgid;
	if (*m == '<') {
		m++;
		m[strcspn(m, ">")] = '\0';
	}
	struct store_log_txn rec = {
		.ref = s->ref,
		.qid = t->qid,
		.ts = t->ts ? t->ts : mw_now(),
		.client_ip = s->ip,
		.helo = s->helo,
		.sender = t->sender ? t->sender : "",
		.from_hdr = from,
		.subject = subject,
		.message_id = m,
		.size = (int64_t)size,
		.action = (char *)(uintptr_t)action,
		.reply = (char *)(uintptr_t)reply,
		.tls = s->tls,
		.scanned = t->scanned,
		.score = t->score,
		.cls = t->cls,
		.symbols = t->symbols,
	};
	track_txn(s->l->d.track, &rec);
	char esc_sender[300];
	char verdict[64] = "";
	if (t->scanned)
		snprintf(verdict, sizeof(verdict), " score=%.2f class=%s", t->score, t->cls);
	log_info(s->ref, "smtp txn action=%s qid=%s ip=%s sender=%s rcpts=%zu rejected=%zu size=%llu%s",
	    action, t->qid[0] ? t->qid : "-", s->ip,
	    log_escape(t->sender ? t->sender : "", esc_sender, sizeof(esc_sender)), t->n_rcpts,
	    t->n_rejected, (unsigned long long)size, verdict);
	t->logged = 1;
	/* The next transaction on this connection gets its own reference. */
	refgen_next_ref(s->l->refs, s->ref);
	smtp_proto_set_ref(s->proto, s->ref);
}

/* End the transaction.  A transaction that got recipient decisions but no
 * end-of-data answer is still logged: R18 wants every decision findable. */
static void txn_clear(struct session *s)
{
	struct txn *t = &s->txn;
	if (t->active && !t->logged && (t->n_rcpts || t->n_rejected)) {
		/* The last reply tells how it ended: a refusal at the end of data
		 * (size, bare LF, long line), RCPTs all refused, or the client left. */
		int code = atoi(t->last_reply);
		const char *action = code >= 500 ? "rejected" : code >= 400 ? "tempfail" :
		    t->n_rcpts ? "aborted" : "rejected";
		txn_log(s, action, t->last_reply, t->size);
	}
	if (t->msg)
		spool_msg_abort(t->msg);
	for (size_t i = 0; i < t->n_rcpts; i++) {
		free(t->rcpts[i].addr);
		free(t->rcpts[i].canonical);
		free(t->rcpts[i].tenant);
		free(t->rcpts[i].deliver);
	}
	free(t->rcpts);
	for (size_t i = 0; i < t->n_traps; i++) {
		free(t->traps[i]);
		free(t->trap_tenants[i]);
	}
	free(t->traps);
	free(t->trap_tenants);
	free(t->sender);
	buf_free(&t->hdr);
	buf_free(&t->body);
	free(t->symbols);
	memset(t, 0, sizeof(*t));
	/* No recipient of a tenant yet: the [scan] defaults, until one sets
	 * them (a transaction of traps only is judged by these). */
	t->tag = t->probable = STORE_SCORE_DEFAULT;
}

/* ---- protocol hooks ---------------------------------------------------- */

static void hook_helo(void *ctx, const char *name, int esmtp)
{
	struct session *s = ctx;
	mw_strlcpy(s->helo, name, sizeof(s->helo));
	MW_UNUSED(esmtp);
}

static void hook_mail(void *ctx, const struct smtp_path *from, struct smtp_reply *r)
{
	struct session *s = ctx;
	if (s->txn.active)
		txn_clear(s);
	s->txn.active = 1;
	s->txn.ts = mw_now();
	s->txn.sender = xstrdup(from->addr);
	r->code = 250;
	mw_strlcpy(r->text, "2.1.0 Ok", sizeof(r->text));
}

static const char *sender_domain(const char *sender)
{
	const char *at = strrchr(sender, '@');
	return at ? at + 1 : "";
}

/* A trap or the complaint address: remembered for the scan, logged for
 * support (the sender sees only the 250 any user gets). */
static void special_rcpt(struct session *s, const struct smtp_path *to,
    const struct policy_rcpt *pr, const struct smtp_reply *r)
{
	struct txn *t = &s->txn;
	if (pr->trap) {
		t->traps = xrealloc(t->traps, (t->n_traps + 1) * sizeof(*t->traps));
		t->trap_tenants = xrealloc(t->trap_tenants, (t->n_traps + 1) * sizeof(char *));
		t->traps[t->n_traps] = xstrdup(to->addr);
		t->trap_tenants[t->n_traps] = xstrdup(pr->trap_tenant);
		t->n_traps++;
	} else {
		t->complaint = 1;
	}
	snprintf(t->last_reply, sizeof(t->last_reply), "%d %s", r->code, r->text);
	struct store_log_rcpt rec = {
		.ref = s->ref,
		.ts = mw_now(),
		.rcpt = (char *)(uintptr_t)to->addr,
		.tenant = pr->trap ? (char *)(uintptr_t)pr->trap_tenant : "",
		.status = pr->trap ? "trap" : "complaint",
		.reply = t->last_reply,
	};
	track_rcpt(s->l->d.track, &rec);
	char esc[300];
	log_info(s->ref, "smtp rcpt ip=%s rcpt=%s result=%d kind=%s", s->ip,
	    log_escape(to->addr, esc, sizeof(esc)), r->code, pr->trap ? "trap" : "complaint");
}

static void hook_rcpt(void *ctx, const struct smtp_path *to, struct smtp_reply *r)
{
	struct session *s = ctx;
	struct txn *t = &s->txn;
	struct policy_rcpt pr;
	const struct conf *c = s->l->d.conf;
	struct policy_harvest hv = { c->harvest_window, c->harvest_min_invalid, c->harvest_ratio };
	policy_check_rcpt(s->l->d.store, &hv, t->sender ? t->sender : "", s->ip, to, s->ref,
	    c->complaint_address, &pr);
	*r = pr.reply;
	if (pr.harvest_refused && c->harvest_delay > 0)
		s->tarpit_on = 1;   /* session_pump holds the reply back */
	if (pr.trap || pr.complaint) {
		special_rcpt(s, to, &pr, r);
		return;
	}
	if (pr.accepted && t->group_key[0] && strcmp(t->group_key, pr.group_key) != 0) {
		/* R6: one decision per transaction; another group retries separately. */
		r->code = 452;
		snprintf(r->text, sizeof(r->text),
		    "4.5.3 Too many recipients, try again in a new transaction (ref %s)", s->ref);
		pr.accepted = 0;
	}
	if (pr.accepted || pr.invalid_user)
		track_rcpt_stat(s->l->d.track, s->ip, sender_domain(t->sender ? t->sender : ""),
		    pr.accepted, mw_now(), s->ref, to->addr);
	if (pr.accepted) {
		if (t->group_key[0] == '\0') {
			/* The group key is the tenant: its settings hold for the
			 * whole transaction. */
			mw_strlcpy(t->group_key, pr.group_key, sizeof(t->group_key));
			mw_strlcpy(t->action, pr.r.action, sizeof(t->action));
			mw_strlcpy(t->bulk, pr.r.bulk, sizeof(t->bulk));
			t->list = pr.list;
			t->harvest_bypassed = pr.harvest_bypassed;
			t->tag = pr.r.tag;
			t->probable = pr.r.probable_spam;
		}
		t->rcpts = xrealloc(t->rcpts, (t->n_rcpts + 1) * sizeof(*t->rcpts));
		struct rcpt_entry *e = &t->rcpts[t->n_rcpts++];
		e->addr = xstrdup(to->addr);
		e->canonical = xstrdup(pr.r.canonical);
		e->tenant = xstrdup(pr.r.tenant);
		e->deliver = xstrdup(pr.r.deliver);
	} else {
		t->n_rejected++;
	}
	snprintf(t->last_reply, sizeof(t->last_reply), "%d %s", r->code, r->text);
	struct store_log_rcpt rec = {
		.ref = s->ref,
		.ts = mw_now(),
		.rcpt = (char *)(uintptr_t)to->addr,
		.tenant = pr.accepted || pr.r.status == RCPT_UNKNOWN_USER ? pr.r.tenant : "",
		.status = pr.accepted ? "accepted" : "rejected",
		.reply = t->last_reply,
	};
	track_rcpt(s->l->d.track, &rec);
	char esc[300];
	log_info(s->ref, "smtp rcpt ip=%s rcpt=%s result=%d", s->ip,
	    log_escape(to->addr, esc, sizeof(esc)), r->code);
}

static void reply_busy(struct session *s, struct smtp_reply *r)
{
	r->code = 451;
	snprintf(r->text, sizeof(r->text),
	    "4.3.2 System busy scanning other mail, try again later (ref %s)", s->ref);
}

static void hook_data_start(void *ctx, struct smtp_reply *r)
{
	struct session *s = ctx;
	struct txn *t = &s->txn;
	/* Saturated scanners: refuse before the client sends the body. */
	if (s->l->d.scan != NULL && score_pool_full(s->l->d.scan)) {
		log_warn(s->ref, "smtp scan-busy ip=%s at=data", s->ip);
		reply_busy(s, r);
		return;
	}
	if (t->n_rcpts == 0) {
		/* Only traps and the complaint address: the message is read for
		 * the scan and never queued. */
		t->sink_only = 1;
		t->arrival = mw_now();
		r->code = 354;
		mw_strlcpy(r->text, "End data with <CR><LF>.<CR><LF>", sizeof(r->text));
		return;
	}
	struct spool_envelope_rcpt *er = xcalloc(t->n_rcpts, sizeof(*er));
	for (size_t i = 0; i < t->n_rcpts; i++) {
		er[i].rcpt = t->rcpts[i].canonical;
		er[i].original = t->rcpts[i].addr;
		er[i].tenant = t->rcpts[i].tenant;
		er[i].deliver = t->rcpts[i].deliver;
		er[i].status = SPOOL_RCPT_PENDING;
	}
	struct spool_envelope env = {
		.ref = s->ref,
		.arrival = mw_now(),
		.client_ip = s->ip,
		.helo = s->helo,
		.sender = t->sender ? t->sender : "",
		.rcpts = er,
		.n_rcpts = t->n_rcpts,
	};
	t->msg = spool_msg_new(s->l->d.spool, &env, t->qid);
	free(er);
	if (t->msg == NULL) {
		log_error(s->ref, "smtp spool-open error=\"%s\"", strerror(errno));
		r->code = 451;
		snprintf(r->text, sizeof(r->text), "4.3.0 Error: queue file write error (ref %s)", s->ref);
		return;
	}
	t->arrival = env.arrival;
	r->code = 354;
	mw_strlcpy(r->text, "End data with <CR><LF>.<CR><LF>", sizeof(r->text));
}

static int hook_data_write(void *ctx, const char *p, size_t n)
{
	struct session *s = ctx;
	struct txn *t = &s->txn;
	if (!t->hdr_done) {
		size_t cap = (size_t)s->l->d.conf->max_header_size;
		size_t take = n;
		if (t->hdr.len + take > cap)
			take = cap > t->hdr.len ? cap - t->hdr.len : 0;
		size_t old = t->hdr.len;
		buf_append(&t->hdr, p, take);
		char *end = NULL;
		if (t->hdr.len >= 2 && strncmp(t->hdr.data, "\r\n", 2) == 0)
			end = t->hdr.data;
		else
			end = strstr(t->hdr.data + (old > 3 ? old - 3 : 0), "\r\n\r\n");
		if (end) {
			t->hdr.len = (size_t)(end - t->hdr.data) + 2;
			t->hdr.data[t->hdr.len] = '\0';
			t->hdr_done = 1;
		} else if (t->hdr.len >= cap) {
			t->hdr_done = 1;
		}
	}
	if (t->write_failed || (t->msg == NULL && !t->sink_only))
		return -1;
	if (t->msg != NULL && spool_msg_write(t->msg, p, n) < 0) {
		t->write_failed = 1;
		return -1;
	}
	if (s->l->d.scan != NULL) {
		size_t cap = (size_t)s->l->d.conf->scan_max_size;
		if (t->body.len < cap)
			buf_append(&t->body, p, n < cap - t->body.len ? n : cap - t->body.len);
		t->body_seen += n;
	}
	return 0;
}

/* Our header lines, put before the message at delivery (a PREPEND record):
 * trace first, then the verdict.  Ours come first, so a filter downstream
 * that reads the first X-Mailward-* line cannot be fooled by a copy the
 * sender wrote into the message. */
static void build_prepend(struct session *s, const struct score_verdict *v, struct buf *h)
{
	struct txn *t = &s->txn;
	char date[64];
	timefmt_rfc5322(t->arrival, date, sizeof(date));
	buf_printf(h, "Received: from %s ([%s])\r\n\tby %s (mailward) with %s id %s",
	    s->helo[0] ? s->helo : "unknown", s->ip, s->l->d.conf->hostname,
	    s->tls ? "ESMTPS" : "ESMTP", t->qid);
	if (t->n_rcpts == 1)
		buf_printf(h, "\r\n\tfor <%s>", t->rcpts[0].addr);
	buf_printf(h, "; %s\r\nX-Mailward-Ref: %s\r\n", date, s->ref);
	if (v == NULL)
		return;
	buf_printf(h, "X-Mailward-Score: %.2f (%s)\r\n", v->score, score_class_name(v->cls));
	/* Folded at symbol boundaries: RFC 5322 wants lines under 78 octets. */
	char line[2048], *save = NULL;
	score_symbols_line(v, line, sizeof(line));
	buf_printf(h, "X-Mailward-Symbols:");
	size_t col = strlen("X-Mailward-Symbols:");
	for (char *tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		size_t n = strlen(tok);
		if (col + 1 + n > 76 && col > strlen("X-Mailward-Symbols:")) {
			buf_printf(h, "\r\n\t%s", tok);
			col = 1 + n;
		} else {
			buf_printf(h, " %s", tok);
			col += 1 + n;
		}
	}
	buf_printf(h, "\r\n");
	if (v->cls >= SCORE_POSSIBLE_SPAM && t->list.verdict != LIST_ALLOW)
		buf_printf(h, "X-Mailward-Spam: yes\r\n");
	if (v->cls == SCORE_BULK && strcmp(t->bulk, "tag") == 0 && t->list.verdict != LIST_ALLOW)
		buf_printf(h, "X-Mailward-Bulk: yes\r\n");
}

static void commit_message(struct session *s, const struct score_verdict *v)
{
	struct txn *t = &s->txn;
	struct buf h = BUF_INIT;
	build_prepend(s, v, &h);
	int rc = spool_msg_prepend(t->msg, h.data, h.len);
	buf_free(&h);
	struct spool_msg *m = t->msg;
	t->msg = NULL;
	if (rc < 0) {
		/* The commit fails on the sticky error and answers 451. */
		log_error(s->ref, "smtp spool-prepend error=\"%s\"", strerror(errno));
	}
	s->waiting_commit = 1;
	spool_commit_submit(s->l->d.spool, m, s->id);
}

/* The answer to a message that only traps and the complaint address got:
 * the same words and a queue id of the same form as for real mail. */
static void sink_reply(struct session *s, struct smtp_reply *r)
{
	struct txn *t = &s->txn;
	char qid[QID_LEN + 1];
	refgen_next_qid(qid);
	r->code = 250;
	snprintf(r->text, sizeof(r->text), "2.0.0 Ok: queued as %s (ref %s)", qid, s->ref);
	snprintf(t->last_reply, sizeof(t->last_reply), "%d %s", r->code, r->text);
	txn_log(s, t->n_traps ? "trap" : "complaint", t->last_reply, t->size);
}

/* What the scan thread needs to know of the transaction (rep_mail.h);
 * its arrays borrow the transaction's (the pool copies them). */
static void mail_ctx(struct session *s, struct rep_mail_ctx *c)
{
	struct txn *t = &s->txn;
	memset(c, 0, sizeof(*c));
	mw_strlcpy(c->ref, s->ref, sizeof(c->ref));
	mw_strlcpy(c->client_ip, s->ip, sizeof(c->client_ip));
	mw_strlcpy(c->helo, s->helo, sizeof(c->helo));
	mw_strlcpy(c->sender, t->sender ? t->sender : "", sizeof(c->sender));
	if (t->n_rcpts > 0)
		mw_strlcpy(c->tenant, t->rcpts[0].tenant, sizeof(c->tenant));
	c->n_real = t->n_rcpts;
	c->traps = t->traps;
	c->trap_tenants = t->trap_tenants;
	c->n_traps = t->n_traps;
	c->complaint = t->complaint;
}

/* Received fields in a header block (CRLF lines, as the client sent it):
 * each relay adds one, so a message that keeps coming back grows them
 * until a limit stops it (RFC 5321 section 6.3). */
static size_t count_received(const struct buf *hdr)
{
	static const char name[] = "received:";
	const size_t nl = sizeof(name) - 1;
	const char *p = hdr->data ? hdr->data : "";
	const char *end = p + hdr->len;
	size_t n = 0;

	while (p < end) {
		if ((size_t)(end - p) >= nl && strncasecmp(p, name, nl) == 0)
			n++;
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			break;
		p = eol + 1;
	}
	return n;
}

static int hook_data_end(void *ctx, const struct smtp_data_info *info, struct smtp_reply *r)
{
	struct session *s = ctx;
	struct txn *t = &s->txn;
	if (t->write_failed || (t->msg == NULL && !t->sink_only)) {
		log_error(s->ref, "smtp spool-write error=\"%s\"", strerror(errno));
		r->code = 451;
		snprintf(r->text, sizeof(r->text), "4.3.0 Error: queue file write error (ref %s)", s->ref);
		snprintf(t->last_reply, sizeof(t->last_reply), "%d %s", r->code, r->text);
		txn_log(s, "tempfail", t->last_reply, info->size);
		return SMTP_HOOK_DONE;
	}
	t->hdr_done = 1;
	t->size = info->size;
	size_t hops = count_received(&t->hdr);
	if (hops > (size_t)s->l->d.conf->max_received) {
		/* Refused, not bounced: a bounce of looping mail can loop too. */
		log_warn(s->ref, "smtp mail-loop received=%zu max=%lld", hops,
		    (long long)s->l->d.conf->max_received);
		r->code = 554;
		snprintf(r->text, sizeof(r->text),
		    "5.4.6 Too many Received headers (%zu): mail loop (ref %s)", hops, s->ref);
		spool_msg_abort(t->msg);
		t->msg = NULL;
		snprintf(t->last_reply, sizeof(t->last_reply), "%d %s", r->code, r->text);
		txn_log(s, "rejected", t->last_reply, info->size);
		return SMTP_HOOK_DONE;
	}
	if (s->l->d.scan == NULL) {
		if (t->sink_only) {
			sink_reply(s, r);
			return SMTP_HOOK_DONE;
		}
		bufferevent_disable(s->bev, EV_READ);
		commit_message(s, NULL);
		return SMTP_HOOK_PENDING;
	}
	const struct conf *c = s->l->d.conf;
	struct score_thresholds th = {
		.tag = (double)(t->tag != STORE_SCORE_DEFAULT ? t->tag : c->scan_tag) / 100.0,
		.probable_spam = (double)(t->probable != STORE_SCORE_DEFAULT ? t->probable :
		    c->scan_probable_spam) / 100.0,
	};
	if (t->list.verdict == LIST_ALLOW_UNAUTH) {
		/* Same classes as lowering the score by this much (policy_verdict). */
		th.tag += POLICY_UNAUTH_ALLOW_POINTS;
		th.probable_spam += POLICY_UNAUTH_ALLOW_POINTS;
	}
	size_t len = t->body.len;
	char *data = len ? buf_steal(&t->body) : xstrdup("");
	struct rep_mail_ctx rc;
	mail_ctx(s, &rc);
	if (score_pool_submit(s->l->d.scan, s->id, data, len, (size_t)t->body_seen, &th, &rc) < 0) {
		free(data);
		log_warn(s->ref, "smtp scan-busy ip=%s at=end-of-data", s->ip);
		reply_busy(s, r);
		snprintf(t->last_reply, sizeof(t->last_reply), "%d %s", r->code, r->text);
		txn_log(s, "tempfail", t->last_reply, info->size);
		spool_msg_abort(t->msg);
		t->msg = NULL;
		return SMTP_HOOK_DONE;
	}
	s->waiting_scan = 1;
	bufferevent_disable(s->bev, EV_READ);
	return SMTP_HOOK_PENDING;
}

/* Keep the transaction's last refusal for its log record: the proto answers
 * some ends of data itself (size, bare LF, long line). */
static void hook_replied(void *ctx, int code, const char *text)
{
	struct session *s = ctx;
	struct txn *t = &s->txn;
	if (t->active && !t->logged && code >= 400)
		snprintf(t->last_reply, sizeof(t->last_reply), "%d %s", code, text);
}

static void hook_txn_reset(void *ctx)
{
	struct session *s = ctx;
	txn_clear(s);
}

static void session_start_tls(struct session *s);

static void hook_starttls(void *ctx)
{
	struct session *s = ctx;
	txn_clear(s);
	s->tls = -1; /* pending: session_pump starts the handshake after the 220 */
}

/* ---- I/O --------------------------------------------------------------- */

static void session_write_output(struct session *s)
{
	size_t len;
	const char *out = smtp_proto_output(s->proto, &len);
	if (len) {
		bufferevent_write(s->bev, out, len);
		smtp_proto_output_consumed(s->proto, len);
	}
}

static void session_on_written(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	MW_UNUSED(bev);
	if (s->closing && evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		session_free(s);
}

static void session_close(struct session *s)
{
	s->closing = 1;
	bufferevent_disable(s->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		session_free(s);
	/* else session_on_written frees it once the output is gone */
}

static void session_set_timeouts(struct session *s)
{
	const struct conf *c = s->l->d.conf;
	struct timeval rt = { smtp_proto_state(s->proto) == SMTP_S_DATA ? c->data_timeout : c->idle_timeout, 0 };
	struct timeval wt = { c->data_timeout, 0 };
	bufferevent_set_timeouts(s->bev, &rt, &wt);
}

static void on_tarpit(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	MW_UNUSED(fd);
	MW_UNUSED(what);
	s->tarpit_on = 0;
	if (!s->waiting_commit && !s->waiting_scan)
		bufferevent_enable(s->bev, EV_READ);
	session_pump(s);
}

/* Stop holding replies back (shutdown, time limit): what is due is sent. */
static void tarpit_cancel(struct session *s)
{
	s->tarpit_on = 0;
	if (s->tarpit)
		evtimer_del(s->tarpit);
}

/* A harvest refusal was answered: the replies so far wait harvest_delay,
 * and nothing more is read from the client until they are sent. */
static void tarpit_hold(struct session *s)
{
	bufferevent_disable(s->bev, EV_READ);
	if (s->tarpit == NULL)
		s->tarpit = evtimer_new(s->l->base, on_tarpit, s);
	if (!evtimer_pending(s->tarpit, NULL)) {
		struct timeval tv = { s->l->d.conf->harvest_delay, 0 };
		evtimer_add(s->tarpit, &tv);
	}
}

static void session_pump(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	while (!smtp_proto_paused(s->proto) && smtp_proto_state(s->proto) != SMTP_S_CLOSED &&
	    !s->tarpit_on) {
		size_t len = evbuffer_get_length(in);
		if (len == 0)
			break;
		size_t chunk = len < FEED_CHUNK ? len : FEED_CHUNK;
		const char *p = (const char *)evbuffer_pullup(in, (ssize_t)chunk);
		size_t used = smtp_proto_feed(s->proto, p, chunk);
		evbuffer_drain(in, used);
		if (used == 0)
			break;
	}
	if (s->tarpit_on) {
		tarpit_hold(s);
		return;
	}
	enum smtp_state st = smtp_proto_state(s->proto);
	if (st == SMTP_S_TLS && s->tls == -1) {
		/* Plaintext pipelined behind STARTTLS must never be read as if it had
		 * come through TLS (CVE-2011-0411). */
		evbuffer_drain(in, evbuffer_get_length(in));
		session_start_tls(s);
		return;
	}
	session_write_output(s);
	if (st == SMTP_S_CLOSED) {
		session_close(s);
		return;
	}
	if (!smtp_proto_paused(s->proto))
		session_set_timeouts(s);
}

static void session_on_read(struct bufferevent *bev, void *arg)
{
	MW_UNUSED(bev);
	session_pump(arg);
}

static void session_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	MW_UNUSED(bev);
	if (what & BEV_EVENT_CONNECTED) {
		/* TLS handshake done. */
		s->tls = 1;
		smtp_proto_tls_started(s->proto);
		log_info(s->ref, "smtp starttls ip=%s version=%s", s->ip,
		    SSL_get_version(bufferevent_openssl_get_ssl(s->bev)));
		session_set_timeouts(s);
		session_pump(s);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && !s->closing) {
		char line[300];
		snprintf(line, sizeof(line), "421 4.4.2 %s Error: timeout exceeded\r\n", s->l->d.conf->hostname);
		log_info(s->ref, "smtp timeout ip=%s state=%d", s->ip, (int)smtp_proto_state(s->proto));
		txn_clear(s);
		bufferevent_write(s->bev, line, strlen(line));
		bufferevent_enable(s->bev, EV_WRITE);
		session_close(s);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		if (what & BEV_EVENT_ERROR) {
			unsigned long e = bufferevent_get_openssl_error(s->bev);
			if (e)
				log_info(s->ref, "smtp tls-error ip=%s error=\"%s\"", s->ip, ERR_reason_error_string(e));
		}
		log_info(s->ref, "smtp disconnect ip=%s", s->ip);
		session_free(s);
	}
}

/* Write out what is still owed in plaintext (the 220 among it) before TLS
 * takes over the socket: a few hundred bytes, so a short blocking write. */
static int send_all(evutil_socket_t fd, const char *p, size_t len, int64_t deadline)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = send(fd, p + done, len - done, MSG_NOSIGNAL);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if ((n < 0 && errno != EAGAIN && errno != EINTR) || mw_mono_ms() > deadline)
			return -1;
		struct pollfd pfd = { fd, POLLOUT, 0 };
		poll(&pfd, 1, 100);
	}
	return 0;
}

static int session_flush_plain(struct session *s)
{
	/* A socket bufferevent freezes the front of its output buffer (no
	 * draining, no copyout), so what it still holds is read with peek and
	 * sent here, followed by the proto's pending replies (the 220); the old
	 * bufferevent is then freed with its copy. */
	struct evbuffer *out = bufferevent_get_output(s->bev);
	int64_t deadline = mw_mono_ms() + 10000;
	int n = evbuffer_peek(out, -1, NULL, NULL, 0);
	if (n > 0) {
		struct evbuffer_iovec *v = xcalloc((size_t)n, sizeof(*v));
		evbuffer_peek(out, -1, NULL, v, n);
		for (int i = 0; i < n; i++)
			if (send_all(s->fd, v[i].iov_base, v[i].iov_len, deadline) < 0) {
				free(v);
				return -1;
			}
		free(v);
	}
	size_t len;
	const char *pending = smtp_proto_output(s->proto, &len);
	if (send_all(s->fd, pending, len, deadline) < 0)
		return -1;
	smtp_proto_output_consumed(s->proto, len);
	return 0;
}

/* The TLS bufferevent reads the socket itself rather than filtering the
 * plaintext one: a filter can sit on a record that arrived together with
 * the client's Finished message and never report it. */
static void session_start_tls(struct session *s)
{
	SSL *ssl = NULL;
	struct bufferevent *tb = NULL;
	if (session_flush_plain(s) == 0 && (ssl = SSL_new(s->l->tls)) != NULL)
		tb = bufferevent_openssl_socket_new(s->l->base, s->fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
		    BEV_OPT_CLOSE_ON_FREE);
	if (tb == NULL) {
		if (ssl)
			SSL_free(ssl);
		log_error(s->ref, "smtp starttls error=\"cannot set up TLS\"");
		session_free(s);
		return;
	}
	bufferevent_free(s->bev);
	s->bev = tb;
	s->fd = -1;  /* the TLS bufferevent owns the socket and the SSL object now */
	bufferevent_setcb(tb, session_on_read, session_on_written, session_on_event, s);
	bufferevent_enable(tb, EV_READ | EV_WRITE);
	struct timeval hs = { s->l->d.conf->idle_timeout, 0 };
	bufferevent_set_timeouts(tb, &hs, &hs);
}

static void session_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	MW_UNUSED(fd);
	MW_UNUSED(what);
	if (s->waiting_commit || s->waiting_scan) {
		s->shutdown_after = 1;
		return;
	}
	log_info(s->ref, "smtp session-timeout ip=%s", s->ip);
	tarpit_cancel(s);
	txn_clear(s);
	smtp_proto_shutdown(s->proto, "Error: session time limit exceeded");
	session_write_output(s);
	session_close(s);
}

static void session_free(struct session *s)
{
	txn_clear(s);
	session_unlink(s);
	ip_release(s->l, s->ip);
	if (s->deadline)
		event_free(s->deadline);
	if (s->tarpit)
		event_free(s->tarpit);
	if (s->bev)
		bufferevent_free(s->bev);
	if (s->fd >= 0)
		evutil_closesocket(s->fd);
	smtp_proto_free(s->proto);
	free(s);
}

/* ---- commit and scan completions --------------------------------------- */

/* Answer the end of data and go on reading (or close, when shutting down). */
static void session_resume(struct session *s, const struct smtp_reply *r)
{
	smtp_proto_resume(s->proto, r);
	if (s->shutdown_after || s->l->shutting_down) {
		tarpit_cancel(s);
		smtp_proto_shutdown(s->proto, "Service shutting down, try again later");
		session_write_output(s);
		session_close(s);
		return;
	}
	bufferevent_enable(s->bev, EV_READ);
	session_pump(s);
}

/* End the transaction at the end of data without a queue file. */
static void refuse_message(struct session *s, const struct smtp_reply *r, const char *action)
{
	struct txn *t = &s->txn;
	spool_msg_abort(t->msg);
	t->msg = NULL;
	snprintf(t->last_reply, sizeof(t->last_reply), "%d %s", r->code, r->text);
	txn_log(s, action, t->last_reply, t->size);
	session_resume(s, r);
}

/* An orderly close (or reset) from the client, seen without reading: a
 * peek that returns 0 bytes.  Pipelined input still waiting is not "gone". */
static int peer_gone(struct session *s)
{
	evutil_socket_t fd = bufferevent_getfd(s->bev);
	char c;
	if (fd < 0)
		return 0;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* The tenant keeps probable spam in its quarantine: the sender gets the
 * ordinary 250 (it must not learn where the message went), and the spool
 * file says where the delivery worker puts it, with the verdict that the
 * quarantine shows. */
static int mark_quarantine(struct session *s, const struct score_verdict *v)
{
	struct txn *t = &s->txn;
	char a[64];
	struct buf sym = BUF_INIT;

	buf_append_str(&sym, "symbols=");
	/* The attribute is capped (4 KiB): the strongest symbols first, whole
	 * lines only; the message log keeps them all. */
	const char *p = t->symbols ? t->symbols : "";
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) + 1 : strlen(p);
		if (sym.len + n > 4000)
			break;
		buf_append(&sym, p, n);
		p += n;
	}
	int rc = spool_msg_attr(t->msg, "disposition=quarantine");
	snprintf(a, sizeof(a), "score=%.2f", v->score);
	rc |= spool_msg_attr(t->msg, a);
	snprintf(a, sizeof(a), "class=%s", score_class_name(v->cls));
	rc |= spool_msg_attr(t->msg, a);
	rc |= spool_msg_attr(t->msg, sym.data);
	buf_free(&sym);
	if (rc < 0)
		log_error(s->ref, "smtp spool-attr error=\"%s\"", strerror(errno));
	t->quarantine = 1;
	return rc < 0 ? -1 : 0;
}

/* A copy of the scan's verdict with the sender-list decision added:
 * POLICY_ALLOW (0 points: the class stays what the content earned, the
 * action is bypassed), POLICY_ALLOW_UNAUTH (lowers the score; the scan ran
 * with thresholds raised by as much, so the class is already right) or
 * POLICY_BLOCK. */
static void policy_verdict(const struct txn *t, const struct score_verdict *in,
    struct score_verdict *out)
{
	*out = *in;
	out->symbols = xcalloc(in->n_symbols + 1, sizeof(*out->symbols));
	if (in->n_symbols > 0)
		memcpy(out->symbols, in->symbols, in->n_symbols * sizeof(*in->symbols));
	const struct list_match *m = &t->list;
	if (m->verdict == LIST_NONE)
		return;
	struct score_symbol *sym = &out->symbols[out->n_symbols++];
	memset(sym, 0, sizeof(*sym));
	mw_strlcpy(sym->group, "policy", sizeof(sym->group));
	const char *level = m->user_level ? "the recipient's own" : "the tenant's";
	switch (m->verdict) {
	case LIST_ALLOW:
		mw_strlcpy(sym->name, "POLICY_ALLOW", sizeof(sym->name));
		snprintf(sym->reason, sizeof(sym->reason), "sender allowed by %s entry '%s' "
		    "(without it: %s%s)", level, m->pattern, score_class_name(in->cls),
		    t->harvest_bypassed ? "; refused at RCPT for directory harvest from its IP" : "");
		break;
	case LIST_ALLOW_UNAUTH:
		mw_strlcpy(sym->name, "POLICY_ALLOW_UNAUTH", sizeof(sym->name));
		sym->score = -POLICY_UNAUTH_ALLOW_POINTS;
		out->score += sym->score;
		snprintf(sym->reason, sizeof(sym->reason), "sender matches %s allow entry '%s' but "
		    "is not authenticated: the score is lowered, the action not bypassed", level,
		    m->pattern);
		break;
	case LIST_BLOCK:
		mw_strlcpy(sym->name, "POLICY_BLOCK", sizeof(sym->name));
		snprintf(sym->reason, sizeof(sym->reason), "sender blocked by %s entry '%s' "
		    "(content alone: %s)", level, m->pattern, score_class_name(in->cls));
		break;
	case LIST_NONE:
		break;
	}
}

static void on_scan_done(const struct score_pool_result *res, void *arg)
{
	struct smtp_listener *l = arg;
	struct session *s = session_find(l, res->token);
	if (s == NULL || !s->waiting_scan) {
		/* The client left during the scan: its message was never acked. */
		log_info(NULL, "smtp scan-orphan session=%llu", (unsigned long long)res->token);
		return;
	}
	struct txn *t = &s->txn;
	struct smtp_reply r;
	s->waiting_scan = 0;
	if (peer_gone(s)) {
		/* Reading is off while we scan, so a client that gave up is only
		 * seen now.  It never got a 250: queueing its message would make
		 * a duplicate of the copy it will send again. */
		log_info(s->ref, "smtp disconnect ip=%s during=scan", s->ip);
		session_free(s);
		return;
	}
	if (!res->ok) {
		log_error(s->ref, "smtp scan-failed ip=%s", s->ip);
		r.code = 451;
		snprintf(r.text, sizeof(r.text), "4.3.0 Error: message scan failed, try again later "
		    "(ref %s)", s->ref);
		refuse_message(s, &r, "tempfail");
		return;
	}
	/* The list decision joins the verdict as a symbol, so the header, the
	 * log and the quarantine all say why (R14: what would have happened). */
	struct score_verdict v;
	policy_verdict(t, &res->v, &v);
	t->scanned = 1;
	t->score = v.score;
	mw_strlcpy(t->cls, score_class_name(v.cls), sizeof(t->cls));
	free(t->symbols);
	t->symbols = score_symbols_text(&v);
	char line[1024];
	score_symbols_line(&v, line, sizeof(line));
	log_info(s->ref, "smtp scan score=%.2f class=%s list=%s ms=%.1f symbols=\"%s\"", v.score,
	    t->cls, sender_list_verdict_name(t->list.verdict), res->ms, line);
	if (t->sink_only) {
		score_verdict_free(&v);
		sink_reply(s, &r);
		session_resume(s, &r);
		return;
	}
	int blocked = t->list.verdict == LIST_BLOCK;
	int held = (v.cls == SCORE_PROBABLE_SPAM && t->list.verdict != LIST_ALLOW) || blocked;
	/* Bulk mail (newsletters the user may have asked for) is never refused:
	 * delivered, tagged, or kept in the quarantine per the tenant. */
	int bulk = v.cls == SCORE_BULK && t->list.verdict != LIST_ALLOW;
	if (bulk && strcmp(t->bulk, "quarantine") == 0) {
		if (mark_quarantine(s, &v) < 0) {
			score_verdict_free(&v);
			r.code = 451;
			snprintf(r.text, sizeof(r.text), "4.3.0 Error: queue file write error (ref %s)",
			    s->ref);
			refuse_message(s, &r, "tempfail");
			return;
		}
		commit_message(s, &v);
		score_verdict_free(&v);
		return;
	}
	if (held && strcmp(t->action, "quarantine") != 0) {
		r.code = 554;
		if (blocked)
			snprintf(r.text, sizeof(r.text), "5.7.1 Message rejected: the sender is on the "
			    "recipient's block list (ref %s)", s->ref);
		else
			snprintf(r.text, sizeof(r.text), "5.7.1 Message rejected as probable spam: %s "
			    "(ref %s)", rep_mail_reason_class(&v), s->ref);
		score_verdict_free(&v);
		refuse_message(s, &r, "rejected");
		return;
	}
	if (held && mark_quarantine(s, &v) < 0) {
		score_verdict_free(&v);
		r.code = 451;
		snprintf(r.text, sizeof(r.text), "4.3.0 Error: queue file write error (ref %s)", s->ref);
		refuse_message(s, &r, "tempfail");
		return;
	}
	commit_message(s, &v);
	score_verdict_free(&v);
}

static void on_scan_fd(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_listener *l = arg;
	MW_UNUSED(fd);
	MW_UNUSED(what);
	score_pool_drain(l->d.scan, on_scan_done, l);
}

static void on_completion(const struct spool_completion *c, void *arg)
{
	struct smtp_listener *l = arg;
	/* A durable message is delivered whether or not its session still exists:
	 * the client may not have seen the 250, but mail is never dropped. */
	if (c->ok)
		queue_add(l->d.queue, c->qid);
	struct session *s = session_find(l, c->token);
	if (s == NULL || !s->waiting_commit) {
		log_info(NULL, "smtp commit-orphan qid=%s ok=%d", c->qid, c->ok);
		return;
	}
	struct txn *t = &s->txn;
	struct smtp_reply r;
	mw_strlcpy(t->qid, c->qid, sizeof(t->qid));
	if (c->ok) {
		r.code = 250;
		snprintf(r.text, sizeof(r.text), "2.0.0 Ok: queued as %s (ref %s)", c->qid, s->ref);
	} else {
		log_error(s->ref, "smtp commit-failed error=\"%s\"", strerror(c->err));
		r.code = 451;
		snprintf(r.text, sizeof(r.text), "4.3.0 Error: queue file write error (ref %s)", s->ref);
		t->qid[0] = '\0';
	}
	snprintf(t->last_reply, sizeof(t->last_reply), "%d %s", r.code, r.text);
	txn_log(s, !c->ok ? "tempfail" : t->quarantine ? "quarantined" : "accepted", t->last_reply,
	    t->size);
	s->waiting_commit = 0;
	session_resume(s, &r);
}

static void on_completion_fd(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_listener *l = arg;
	MW_UNUSED(fd);
	MW_UNUSED(what);
	spool_completions_drain(l->d.spool, on_completion, l);
}

/* ---- accepting --------------------------------------------------------- */

static void refuse(evutil_socket_t fd, const char *line)
{
	ssize_t w = send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)w;
	evutil_closesocket(fd);
}

static void on_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct smtp_listener *l = arg;
	const struct conf *c = l->d.conf;
	char ip[INET6_ADDRSTRLEN] = "unknown";
	MW_UNUSED(evl);
	MW_UNUSED(salen);
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof(ip));

	char line[300];
	if (l->shutting_down) {
		snprintf(line, sizeof(line), "421 4.3.2 %s Service shutting down\r\n", c->hostname);
		refuse(fd, line);
		return;
	}
	if ((int64_t)l->n_sessions >= c->max_connections) {
		snprintf(line, sizeof(line), "421 4.7.0 %s Too many connections, try again later\r\n", c->hostname);
		log_warn(NULL, "smtp refuse ip=%s reason=max_connections", ip);
		refuse(fd, line);
		return;
	}
	unsigned *n = ip_slot(l, ip, 1);
	if ((int64_t)*n >= c->max_connections_per_ip) {
		snprintf(line, sizeof(line), "421 4.7.0 %s Too many connections from your address\r\n", c->hostname);
		log_warn(NULL, "smtp refuse ip=%s reason=max_connections_per_ip", ip);
		if (*n == 0)
			ip_release(l, ip);
		refuse(fd, line);
		return;
	}
	(*n)++;

	struct session *s = xcalloc(1, sizeof(*s));
	s->l = l;
	s->id = ++l->next_id;
	s->txn.tag = s->txn.probable = STORE_SCORE_DEFAULT;
	mw_strlcpy(s->ip, ip, sizeof(s->ip));
	refgen_next_ref(l->refs, s->ref);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->fd = fd;
	s->bev = bufferevent_socket_new(l->base, fd, 0);
	struct smtp_hooks hooks = {
		.ctx = s,
		.helo = hook_helo,
		.mail = hook_mail,
		.rcpt = hook_rcpt,
		.data_start = hook_data_start,
		.data_write = hook_data_write,
		.data_end = hook_data_end,
		.txn_reset = hook_txn_reset,
		.starttls = hook_starttls,
		.replied = hook_replied,
	};
	s->proto = smtp_proto_new(&l->limits, &hooks, c->hostname);
	smtp_proto_set_ref(s->proto, s->ref);
	session_link(s);
	bufferevent_setcb(s->bev, session_on_read, session_on_written, session_on_event, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	struct timeval dl = { c->session_timeout, 0 };
	s->deadline = evtimer_new(l->base, session_on_deadline, s);
	evtimer_add(s->deadline, &dl);
	log_info(s->ref, "smtp connect ip=%s", ip);
	smtp_proto_greet(s->proto, 220, NULL);
	session_write_output(s);
	session_set_timeouts(s);
}

static SSL_CTX *tls_ctx_new(const struct conf *c, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		snprintf(err, errlen, "TLS: cannot create context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, c->tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "TLS: cannot load cert %s / key %s: %s", c->tls_cert, c->tls_key,
		    ERR_reason_error_string(ERR_get_error()));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static int parse_listen(const char *spec, struct sockaddr_storage *ss, int *sslen)
{
	char host[128];
	mw_strlcpy(host, spec, sizeof(host));
	char *colon = strrchr(host, ':');
	if (colon == NULL)
		return -1;
	*colon = '\0';
	char *h = host;
	if (*h == '[') {
		h++;
		h[strcspn(h, "]")] = '\0';
	}
	uint64_t port;
	if (mw_parse_u64(colon + 1, &port) < 0 || port == 0 || port > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, h, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*sslen = sizeof(*s4);
	} else if (inet_pton(AF_INET6, h, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*sslen = sizeof(*s6);
	} else {
		return -1;
	}
	return 0;
}

struct smtp_listener *smtp_listener_new(struct event_base *base, const struct smtp_deps *deps,
    char *err, size_t errlen)
{
	const struct conf *c = deps->conf;
	struct smtp_listener *l = xcalloc(1, sizeof(*l));
	l->base = base;
	l->d = *deps;
	l->refs = refgen_new();
	l->limits = (struct smtp_limits){
		.max_command_line = (size_t)c->max_command_line,
		.max_text_line = (size_t)c->max_text_line,
		.max_recipients = (size_t)c->max_recipients,
		.max_message_size = (uint64_t)c->max_message_size,
		.max_errors = (unsigned)c->max_errors,
		.max_junk = (unsigned)c->max_junk_commands,
		.bare_lf_normalize = c->bare_lf == BARE_LF_NORMALIZE,
		.require_helo = (int)c->require_helo,
	};
	if (c->tls_cert[0] || c->tls_key[0]) {
		l->tls = tls_ctx_new(c, err, errlen);
		if (l->tls == NULL)
			goto fail;
		l->limits.tls_available = 1;
	}
	struct sockaddr_storage ss;
	int sslen;
	if (parse_listen(c->smtp_listen, &ss, &sslen) < 0) {
		snprintf(err, errlen, "[smtp] listen: cannot parse \"%s\" (want ADDRESS:PORT)", c->smtp_listen);
		goto fail;
	}
	l->evl = evconnlistener_new_bind(base, on_accept, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 511,
	    (struct sockaddr *)&ss, sslen);
	if (l->evl == NULL) {
		snprintf(err, errlen, "cannot listen on %s: %s", c->smtp_listen, strerror(errno));
		goto fail;
	}
	l->completion_ev = event_new(base, spool_completion_fd(deps->spool), EV_READ | EV_PERSIST,
	    on_completion_fd, l);
	event_add(l->completion_ev, NULL);
	if (deps->scan != NULL) {
		l->scan_ev = event_new(base, score_pool_fd(deps->scan), EV_READ | EV_PERSIST,
		    on_scan_fd, l);
		event_add(l->scan_ev, NULL);
	}
	return l;
fail:
	if (l->tls)
		SSL_CTX_free(l->tls);
	refgen_free(l->refs);
	free(l);
	return NULL;
}

void smtp_listener_shutdown(struct smtp_listener *l)
{
	if (l->shutting_down)
		return;
	l->shutting_down = 1;
	evconnlistener_disable(l->evl);
	for (size_t b = 0; b < SESSION_BUCKETS; b++) {
		struct session *s = l->sessions[b];
		while (s) {
			struct session *next = s->next;
			if (s->waiting_commit || s->waiting_scan) {
				s->shutdown_after = 1;
			} else if (!s->closing) {
				tarpit_cancel(s);
				txn_clear(s);
				smtp_proto_shutdown(s->proto, "Service shutting down, try again later");
				session_write_output(s);
				session_close(s);
			}
			s = next;
		}
	}
}

size_t smtp_listener_sessions(const struct smtp_listener *l)
{
	return l->n_sessions;
}

void smtp_listener_free(struct smtp_listener *l)
{
	if (l == NULL)
		return;
	for (size_t b = 0; b < SESSION_BUCKETS; b++)
		while (l->sessions[b])
			session_free(l->sessions[b]);
	for (size_t b = 0; b < IP_BUCKETS; b++)
		while (l->ips[b]) {
			struct ip_count *c = l->ips[b];
			l->ips[b] = c->next;
			free(c);
		}
	if (l->completion_ev)
		event_free(l->completion_ev);
	if (l->scan_ev)
		event_free(l->scan_ev);
	if (l->evl)
		evconnlistener_free(l->evl);
	if (l->tls)
		SSL_CTX_free(l->tls);
	refgen_free(l->refs);
	free(l);
}
