/*
 * cli_log.c - `mailward log search|purge` over the message log (R18).
 *
 * search --bounce turns a pasted bounce into a list of attempts, strongest
 * key first (ref id, queue id, Message-ID, then sender/recipient/subject
 * around the bounce's date).  A weaker attempt runs only when the stronger
 * one found nothing: a "queued as" id may be the downstream server's, and a
 * Message-ID header may be the bounce's own, so falling back is what finds
 * the record in practice.  Which keys were used is said on stderr.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/refid.h"
#include "base/timeparse.h"
#include "base/util.h"
#include "cli/cli.h"
#include "conf/conf.h"
#include "store/store.h"

enum { O_SENDER, O_RECIPIENT, O_SINCE, O_UNTIL, O_SUBJECT, O_REF, O_QID, O_MSGID, O_CLIENT_IP,
	O_ACTION, O_LIMIT, O_JSON, O_BOUNCE, O_N };

#define BOUNCE_MAX (16u << 20)   /* a bounce with the whole original attached */
#define DAY 86400

/* Reads a file or stdin ("-") into a heap buffer. 0 or -1 (reason printed). */
static int
read_all(const char *path, struct buf *b)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char chunk[8192];
	size_t n;

	if (f == NULL) {
		cli_err("cannot read '%s': %s", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b->len + n > BOUNCE_MAX) {
			cli_err("'%s' is larger than %u bytes", path, BOUNCE_MAX);
			if (f != stdin)
				fclose(f);
			return -1;
		}
		buf_append(b, chunk, n);
	}
	int bad = ferror(f);
	if (f != stdin)
		fclose(f);
	if (bad) {
		cli_err("cannot read '%s'", path);
		return -1;
	}
	return 0;
}

static int
same_rcpt(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

static size_t
distinct_rcpts(const struct store_log_entry *e)
{
	size_t n = 0;

	for (size_t i = 0; i < e->n_rcpts; i++) {
		size_t j = 0;

		while (j < i && !same_rcpt(e->rcpts[j].rcpt, e->rcpts[i].rcpt))
			j++;
		if (j == i)
			n++;
	}
	return n;
}

static void
txn_print(const struct store_log_entry *e)
{
	const struct store_log_txn *t = &e->txn;
	char ts[32];
	static const char *const labels[] = { "ref", "qid", "client ip", "helo", "sender", "from",
		"subject", "message-id" };
	const char *vals[] = { t->ref, t->qid, t->client_ip, t->helo, t->sender, t->from_hdr,
		t->subject, t->message_id };

	printf("%-11s %s\n", "time", cli_time(t->ts, ts, sizeof(ts)));
	for (size_t i = 0; i < MW_ARRAY_LEN(labels); i++) {
		printf("%-11s ", labels[i]);
		if (i == 4 && vals[i] != NULL && vals[i][0] == '\0')
			fputs("<>", stdout);        /* the null sender of a bounce */
		else
			cli_print_safe(vals[i] != NULL && vals[i][0] != '\0' ? vals[i] : NULL);
		fputc('\n', stdout);
	}
	printf("%-11s %lld\n", "size", (long long)t->size);
	printf("%-11s ", "action");
	cli_print_safe(t->action);
	printf("\n%-11s ", "reply");
	cli_print_safe(t->reply);
	if (t->scanned) {
		printf("\n%-11s %.2f (%s)\n", "score", t->score, t->cls ? t->cls : "-");
		cli_symbols_print(t->symbols);
	} else {
		printf("\n%-11s not scanned\n", "score");
	}
	/* One row per recipient event (accepted, then each delivery attempt):
	 * the count names recipients, the rows are their history. */
	const size_t rcpts = distinct_rcpts(e);
	printf("%-11s %zu", "recipients", rcpts);
	if (e->n_rcpts > rcpts)
		printf(" (%zu events)", e->n_rcpts);
	fputc('\n', stdout);
	for (size_t i = 0; i < e->n_rcpts; i++) {
		const struct store_log_rcpt *r = &e->rcpts[i];
		printf("  %s  ", cli_time(r->ts, ts, sizeof(ts)));
		cli_print_safe(r->status);
		fputs("  ", stdout);
		cli_print_safe(r->rcpt);
		fputs("  tenant=", stdout);
		cli_print_safe(r->tenant != NULL && r->tenant[0] ? r->tenant : NULL);
		fputs("  ", stdout);
		cli_print_safe(r->reply);
		fputc('\n', stdout);
	}
}

static json_t *
txn_json(const struct store_log_entry *e)
{
	const struct store_log_txn *t = &e->txn;
	char ts[32];
	json_t *o = json_object();
	json_t *rc = json_array();

	json_object_set_new(o, "time", json_string(cli_time(t->ts, ts, sizeof(ts))));
	json_object_set_new(o, "ts", json_integer(t->ts));
	json_object_set_new(o, "ref", cli_json_str(t->ref));
	json_object_set_new(o, "qid", cli_json_str(t->qid));
	json_object_set_new(o, "client_ip", cli_json_str(t->client_ip));
	json_object_set_new(o, "helo", cli_json_str(t->helo));
	json_object_set_new(o, "sender", cli_json_str(t->sender));
	json_object_set_new(o, "from_hdr", cli_json_str(t->from_hdr));
	json_object_set_new(o, "subject", cli_json_str(t->subject));
	json_object_set_new(o, "message_id", cli_json_str(t->message_id));
	json_object_set_new(o, "size", json_integer(t->size));
	json_object_set_new(o, "action", cli_json_str(t->action));
	json_object_set_new(o, "reply", cli_json_str(t->reply));
	json_object_set_new(o, "tls", json_boolean(t->tls));
	json_object_set_new(o, "score", t->scanned ? json_real(t->score) : json_null());
	json_object_set_new(o, "class", cli_json_str(t->cls));
	json_object_set_new(o, "symbols", cli_symbols_json(t->symbols));
	/* Every recipient event (the decision at RCPT/DATA, then each delivery
	 * attempt), in time order as the store returns them: the history is
	 * the point of tracking, and a script can take the last per rcpt. */
	for (size_t i = 0; i < e->n_rcpts; i++) {
		const struct store_log_rcpt *r = &e->rcpts[i];
		json_array_append_new(rc, json_pack("{s:o, s:I, s:o, s:o, s:o, s:o}",
		    "time", json_string(cli_time(r->ts, ts, sizeof(ts))), "ts", (json_int_t)r->ts,
		    "rcpt", cli_json_str(r->rcpt), "tenant", cli_json_str(r->tenant),
		    "status", cli_json_str(r->status), "reply", cli_json_str(r->reply)));
	}
	json_object_set_new(o, "recipients", rc);
	return o;
}

static int
valid_ip(const char *s)
{
	unsigned char tmp[16];

	return inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1;
}

/* Describes the keys of q for stderr. */
static void
say_keys(const struct store_log_query *q, const char *prefix)
{
	char a[32], b[32];

	fprintf(stderr, "mailward: %s", prefix);
	if (q->ref)
		fprintf(stderr, " ref=%s", q->ref);
	if (q->qid)
		fprintf(stderr, " queue-id=%s", q->qid);
	if (q->message_id)
		fprintf(stderr, " message-id=<%s>", q->message_id);
	if (q->sender)
		fprintf(stderr, " sender=%s", q->sender);
	if (q->recipient)
		fprintf(stderr, " recipient=%s", q->recipient);
	if (q->subject)
		fprintf(stderr, " subject=\"%s\"", q->subject);
	if (q->since || q->until)
		fprintf(stderr, " between %s and %s", q->since ? cli_time(q->since, a, sizeof(a)) : "-",
		    q->until ? cli_time(q->until, b, sizeof(b)) : "-");
	fputc('\n', stderr);
}

static int
log_search(const struct conf *c, const struct cli_args *a)
{
	struct store_log_query base, att[5];
	struct cli_bounce_keys bk;
	struct store_log_entry *res = NULL;
	struct store *s = NULL;
	char ref[REFID_LEN + 8], msgid[256];
	size_t natt = 0, nres = 0;
	int64_t now = mw_now();
	int rc = CLI_OK;

	memset(&base, 0, sizeof(base));
	if (a->npos != 0) {
		cli_err("unexpected argument '%s' (log search takes options only)", a->pos[0]);
		return CLI_USAGE;
	}
	base.sender = a->val[O_SENDER];
	base.recipient = a->val[O_RECIPIENT];
	base.subject = a->val[O_SUBJECT];
	base.qid = a->val[O_QID];
	base.action = a->val[O_ACTION];
	if (a->val[O_SINCE] && timeparse_point(a->val[O_SINCE], now, &base.since) != 0) {
		cli_err("bad --since '%s' (e.g. 2026-11-27, 2026-11-27T10:00, -7d, -2h)", a->val[O_SINCE]);
		return CLI_USAGE;
	}
	if (a->val[O_UNTIL] && timeparse_point(a->val[O_UNTIL], now, &base.until) != 0) {
		cli_err("bad --until '%s' (e.g. 2026-11-27, 2026-11-27T10:00, -7d, -2h)", a->val[O_UNTIL]);
		return CLI_USAGE;
	}
	if (base.since && base.until && base.since > base.until) {
		cli_err("--since is after --until");
		return CLI_USAGE;
	}
	if (a->val[O_REF]) {
		if (!refid_parse(a->val[O_REF], ref)) {
			cli_err("bad --ref '%s' (expected XXXX-XXXX)", a->val[O_REF]);
			return CLI_USAGE;
		}
		base.ref = ref;
	}
	if (a->val[O_QID] && !cli_valid_qid(a->val[O_QID])) {
		cli_err("bad --queue-id '%s'", a->val[O_QID]);
		return CLI_USAGE;
	}
	if (a->val[O_MSGID]) {
		const char *m = a->val[O_MSGID];
		size_t l = strlen(m);
		if (l >= 2 && m[0] == '<' && m[l - 1] == '>') {
			m++;
			l -= 2;
		}
		if (l == 0 || l >= sizeof(msgid)) {
			cli_err("bad --message-id");
			return CLI_USAGE;
		}
		memcpy(msgid, m, l);
		msgid[l] = '\0';
		base.message_id = msgid;
	}
	if (a->val[O_CLIENT_IP] && !valid_ip(a->val[O_CLIENT_IP])) {
		cli_err("bad --client-ip '%s' (an IPv4 or IPv6 address)", a->val[O_CLIENT_IP]);
		return CLI_USAGE;
	}
	base.client_ip = a->val[O_CLIENT_IP];
	if (a->val[O_ACTION]) {
		const char *p = a->val[O_ACTION];
		for (; *p; p++)
			if (!islower((unsigned char)*p) && *p != '_' && *p != '-')
				break;
		if (*p != '\0' || a->val[O_ACTION][0] == '\0') {
			cli_err("bad --action '%s' (e.g. accepted, rejected, delivered, deferred, bounced)",
			    a->val[O_ACTION]);
			return CLI_USAGE;
		}
	}
	if (a->val[O_LIMIT]) {
		uint64_t l;
		if (mw_parse_u64(a->val[O_LIMIT], &l) != 0 || l == 0 || l > 100000) {
			cli_err("bad --limit '%s' (1-100000)", a->val[O_LIMIT]);
			return CLI_USAGE;
		}
		base.limit = (size_t)l;
	}

	if (a->val[O_BOUNCE] == NULL) {
		att[natt++] = base;
	} else {
		struct buf b = BUF_INIT;
		if (read_all(a->val[O_BOUNCE], &b) != 0) {
			buf_free(&b);
			return CLI_USAGE;
		}
		cli_bounce_extract(b.data != NULL ? b.data : "", b.len, &bk);
		buf_free(&b);
		/* Options given on the command line refine every attempt. */
		if (bk.ref[0] && !base.ref) {
			att[natt] = base;
			att[natt++].ref = bk.ref;
		}
		if (bk.qid[0] && !base.qid) {
			att[natt] = base;
			att[natt++].qid = bk.qid;
		}
		if (bk.message_id[0] && !base.message_id) {
			att[natt] = base;
			att[natt++].message_id = bk.message_id;
		}
		if (bk.sender[0] || bk.recipient[0] || bk.subject[0]) {
			struct store_log_query q = base;
			if (!q.sender && bk.sender[0])
				q.sender = bk.sender;
			if (!q.recipient && bk.recipient[0])
				q.recipient = bk.recipient;
			if (!q.subject && bk.subject[0])
				q.subject = bk.subject;
			if (bk.date > 0 && !q.since && !q.until) {
				q.since = bk.date - DAY;
				q.until = bk.date + DAY;
			}
			att[natt++] = q;
			/* The sender guess and the subject are the shakiest keys
			 * (From vs envelope, rewritten subjects): last, try the
			 * recipient and the time alone. */
			if (q.recipient && (q.sender != base.sender || q.subject != base.subject) &&
			    (q.since || q.until)) {
				q.sender = base.sender;
				q.subject = base.subject;
				att[natt++] = q;
			}
		}
		if (natt == 0) {
			cli_err("no search keys found in the bounce text (ref id, queue id, Message-ID, "
			        "addresses, subject)");
			return CLI_USAGE;
		}
	}

	if ((s = cli_store_open(c)) == NULL)
		return CLI_FAIL;
	for (size_t i = 0; i < natt; i++) {
		if (a->val[O_BOUNCE] != NULL)
			say_keys(&att[i], i == 0 ? "bounce: searching by" : "no match; trying");
		if (store_log_search(s, &att[i], &res, &nres) != 0) {
			rc = cli_store_fail(s, "log search");
			goto out;
		}
		if (nres > 0)
			break;
		store_log_entry_free(res, nres);
		res = NULL;
	}
	if (a->val[O_JSON] != NULL) {
		json_t *arr = json_array();
		for (size_t i = 0; i < nres; i++)
			json_array_append_new(arr, txn_json(&res[i]));
		json_t *doc = json_pack("{s:o}", "results", arr);
		if (cli_json_print(doc) != 0)
			rc = CLI_FAIL;
		json_decref(doc);
	} else {
		for (size_t i = 0; i < nres; i++) {
			if (i > 0)
				fputc('\n', stdout);
			txn_print(&res[i]);
		}
	}
	if (nres == 0) {
		if (a->val[O_JSON] == NULL)
			cli_err("no matching messages");
		if (rc == CLI_OK)
			rc = CLI_NOTFOUND;
	}
out:
	store_log_entry_free(res, nres);
	store_close(s);
	return rc;
}

static int
log_purge(const struct conf *c, const struct cli_args *a)
{
	int64_t now = mw_now(), before = now - c->log_retention, n = 0;
	struct store *s;
	char ts[32];

	if (a->npos != 0) {
		cli_err("unexpected argument '%s' (log purge [--before T])", a->pos[0]);
		return CLI_USAGE;
	}
	if (a->val[0] != NULL && timeparse_point(a->val[0], now, &before) != 0) {
		cli_err("bad --before '%s' (e.g. 2026-11-27, -7d)", a->val[0]);
		return CLI_USAGE;
	}
	if ((s = cli_store_open(c)) == NULL)
		return CLI_FAIL;
	if (store_log_purge(s, before, &n) != 0) {
		int rc = cli_store_fail(s, "log purge");
		store_close(s);
		return rc;
	}
	store_close(s);
	printf("purged %lld log record(s) older than %s\n", (long long)n, cli_time(before, ts, sizeof(ts)));
	return CLI_OK;
}

int
cli_log(const struct conf *c, int argc, char **argv)
{
	static const char *const search_opts[] = { "--sender=", "--recipient=", "--since=", "--until=",
		"--subject=", "--ref=", "--queue-id=", "--message-id=", "--client-ip=", "--action=",
		"--limit=", "--json", "--bounce=", NULL };
	static const char *const purge_opts[] = { "--before=", NULL };
	const char *sub = argc > 1 ? argv[1] : NULL;
	struct cli_args a;
	int rc;

	if (sub == NULL) {
		cli_err("usage: log search|purge ...");
		return CLI_USAGE;
	}
	if (strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0) {
		cli_usage_group("log");
		return CLI_OK;
	}
	if (strcmp(sub, "search") != 0 && strcmp(sub, "purge") != 0) {
		cli_err("unknown log command '%s' (search, purge)", sub);
		return CLI_USAGE;
	}
	int search = strcmp(sub, "search") == 0;
	if (cli_parse(argc, argv, 2, search ? search_opts : purge_opts, &a) != 0)
		rc = CLI_USAGE;
	else if (a.help) {
		cli_usage_group("log");
		rc = CLI_OK;
	} else
		rc = search ? log_search(c, &a) : log_purge(c, &a);
	cli_args_free(&a);
	return rc;
}
