/*
 * cli_quarantine.c - `mailward quarantine list|show|release|delete|expire`.
 *
 * The rows live in the store and the messages under data_dir/quarantine/,
 * so everything works whether or not the server runs; a release writes a
 * queue file and tells a running server about it over the control socket
 * (without one, the file is picked up at the next start).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/timeparse.h"
#include "base/util.h"
#include "cli/cli.h"
#include "conf/conf.h"
#include "digest/digest.h"
#include "control/control.h"
#include "quarantine/quarantine.h"
#include "score/score.h"
#include "spool/spool.h"
#include "store/store.h"

enum { O_TENANT, O_USER, O_SENDER, O_SUBJECT, O_STATE, O_SINCE, O_UNTIL, O_LIMIT, O_JSON };
enum { OS_JSON, OS_RAW };
enum { OA_BY };

static json_t *
row_json(const struct store_quarantine *q, int with_symbols)
{
	char ts[32], at[32];
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(q->id));
	json_object_set_new(o, "time", json_string(cli_time(q->ts, ts, sizeof(ts))));
	json_object_set_new(o, "ts", json_integer(q->ts));
	json_object_set_new(o, "ref", cli_json_str(q->ref));
	json_object_set_new(o, "qid", cli_json_str(q->qid));
	json_object_set_new(o, "tenant", cli_json_str(q->tenant));
	json_object_set_new(o, "rcpt", cli_json_str(q->rcpt));
	json_object_set_new(o, "sender", cli_json_str(q->sender));
	json_object_set_new(o, "from_hdr", cli_json_str(q->from_hdr));
	json_object_set_new(o, "subject", cli_json_str(q->subject));
	json_object_set_new(o, "score", json_real(q->score));
	json_object_set_new(o, "class", cli_json_str(q->cls));
	json_object_set_new(o, "state", cli_json_str(q->state));
	json_object_set_new(o, "actor", cli_json_str(q->actor));
	json_object_set_new(o, "acted", q->acted ? json_string(cli_time(q->acted, at, sizeof(at))) :
	    json_null());
	json_object_set_new(o, "release_qid", cli_json_str(q->release_qid));
	if (with_symbols)
		json_object_set_new(o, "symbols", cli_symbols_json(q->symbols));
	return o;
}

static int
q_list(const struct conf *c, const struct cli_args *a)
{
	struct store *s;
	struct store_quarantine *v = NULL;
	size_t n = 0;
	int64_t now = mw_now();
	struct store_quarantine_query q = {
		.tenant = a->val[O_TENANT], .rcpt = a->val[O_USER], .sender = a->val[O_SENDER],
		.subject = a->val[O_SUBJECT], .state = "held",
	};

	if (a->npos != 0) {
		cli_err("usage: quarantine list [--tenant T] [--user ADDR] [--sender S] [--subject S] "
		    "[--state held|released|deleted|expired|all] [--since T] [--until T] [--limit N] "
		    "[--json]");
		return CLI_USAGE;
	}
	if (a->val[O_STATE] != NULL)
		q.state = strcmp(a->val[O_STATE], "all") == 0 ? NULL : a->val[O_STATE];
	if (q.state && strcmp(q.state, "held") && strcmp(q.state, "released") &&
	    strcmp(q.state, "deleted") && strcmp(q.state, "expired")) {
		cli_err("bad --state '%s' (held, released, deleted, expired, all)", q.state);
		return CLI_USAGE;
	}
	if ((a->val[O_SINCE] && timeparse_point(a->val[O_SINCE], now, &q.since) != 0) ||
	    (a->val[O_UNTIL] && timeparse_point(a->val[O_UNTIL], now, &q.until) != 0)) {
		cli_err("bad --since/--until (e.g. 2026-11-27, 2026-11-27T10:00, -7d, -2h)");
		return CLI_USAGE;
	}
	if (a->val[O_LIMIT]) {
		char *end;
		long l = strtol(a->val[O_LIMIT], &end, 10);
		if (*end || l < 1 || l > 100000) {
			cli_err("bad --limit '%s' (1-100000)", a->val[O_LIMIT]);
			return CLI_USAGE;
		}
		q.limit = (size_t)l;
	}
	if ((s = cli_store_open(c)) == NULL)
		return CLI_FAIL;
	if (store_quarantine_search(s, &q, &v, &n) != 0) {
		int rc = cli_store_fail(s, "quarantine list");
		store_close(s);
		return rc;
	}
	int rc = CLI_OK;
	if (a->val[O_JSON] != NULL) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, row_json(&v[i], 0));
		json_t *doc = json_pack("{s:o}", "quarantine", arr);
		if (cli_json_print(doc) != 0)
			rc = CLI_FAIL;
		json_decref(doc);
	} else {
		char ts[32];
		if (n > 0)
			printf("%-8s %-20s %-9s %7s  %-28s %-28s %s\n", "ID", "TIME", "STATE", "SCORE",
			    "RECIPIENT", "SENDER", "SUBJECT");
		for (size_t i = 0; i < n; i++) {
			printf("%-8lld %-20s %-9s %7.2f  ", (long long)v[i].id,
			    cli_time(v[i].ts, ts, sizeof(ts)), v[i].state, v[i].score);
			cli_print_safe(v[i].rcpt);
			for (size_t l = strlen(v[i].rcpt); l < 29; l++)
				fputc(' ', stdout);
			cli_print_safe(v[i].sender[0] ? v[i].sender : "<>");
			for (size_t l = strlen(v[i].sender[0] ? v[i].sender : "<>"); l < 29; l++)
				fputc(' ', stdout);
			cli_print_safe(v[i].subject);
			fputc('\n', stdout);
		}
		printf("%zu message(s)\n", n);
	}
	store_quarantine_free(v, n);
	store_close(s);
	return rc;
}

static int
parse_id(const char *s, int64_t *id)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < 1)
		return -1;
	*id = v;
	return 0;
}

static int
q_show(const struct conf *c, const struct cli_args *a)
{
	int64_t id;
	struct store_quarantine q;
	struct store *s;

	if (a->npos != 1 || parse_id(a->pos[0], &id) < 0) {
		cli_err("usage: quarantine show ID [--json] [--raw]");
		return CLI_USAGE;
	}
	if ((s = cli_store_open(c)) == NULL)
		return CLI_FAIL;
	int r = store_quarantine_get(s, id, &q);
	if (r != 0) {
		int rc = r == 1 ? CLI_NOTFOUND : cli_store_fail(s, "quarantine show");
		if (r == 1)
			cli_err("no quarantined message %lld", (long long)id);
		store_close(s);
		return rc;
	}
	int rc = CLI_OK;
	if (a->val[OS_RAW] != NULL) {
		char *data = NULL, err[256];
		size_t len = 0;
		if (quarantine_read(c, q.qid, &data, &len, err, sizeof(err)) != 0) {
			cli_err("message of %lld: %s", (long long)id, err);
			rc = CLI_FAIL;
		} else if (fwrite(data, 1, len, stdout) != len) {
			rc = CLI_FAIL;
		}
		free(data);
	} else if (a->val[OS_JSON] != NULL) {
		json_t *o = row_json(&q, 1);
		if (cli_json_print(o) != 0)
			rc = CLI_FAIL;
		json_decref(o);
	} else {
		char ts[32];
		static const char *const labels[] = { "ref", "queue id", "tenant", "recipient",
			"sender", "from", "subject", "state", "by" };
		const char *vals[] = { q.ref, q.qid, q.tenant, q.rcpt, q.sender, q.from_hdr,
			q.subject, q.state, q.actor };
		printf("%-10s %lld\n%-10s %s\n", "id", (long long)q.id, "time",
		    cli_time(q.ts, ts, sizeof(ts)));
		for (size_t i = 0; i < MW_ARRAY_LEN(labels); i++) {
			printf("%-10s ", labels[i]);
			cli_print_safe(vals[i][0] ? vals[i] : NULL);
			fputc('\n', stdout);
		}
		printf("%-10s %.2f (%s)\n", "score", q.score, q.cls);
		cli_symbols_print(q.symbols);
	}
	store_quarantine_clear(&q);
	store_close(s);
	return rc;
}

/* release / delete: every ID is tried; the exit status is the worst. */
static int
q_act(const struct conf *c, const struct cli_args *a, int release)
{
	const char *by = a->val[OA_BY] ? a->val[OA_BY] : "cli";
	struct store *s;
	struct spool *sp = NULL;
	int rc = CLI_OK;

	if (a->npos == 0) {
		cli_err("usage: quarantine %s ID... [--by WHO]", release ? "release" : "delete");
		return CLI_USAGE;
	}
	for (size_t i = 0; i < a->npos; i++) {
		int64_t id;
		if (parse_id(a->pos[i], &id) < 0) {
			cli_err("bad id '%s'", a->pos[i]);
			return CLI_USAGE;
		}
	}
	if ((s = cli_store_open(c)) == NULL)
		return CLI_FAIL;
	if (release) {
		char dir[1024], err[256] = "";
		conf_path(c, "spool", dir, sizeof(dir));
		if ((sp = spool_open(dir, (int)c->fsync, err, sizeof(err))) == NULL) {
			cli_err("cannot open the spool %s: %s", dir, err);
			store_close(s);
			return CLI_FAIL;
		}
	}
	for (size_t i = 0; i < a->npos; i++) {
		int64_t id = 0;
		char err[512] = "", qid[24] = "";
		parse_id(a->pos[i], &id);
		int r = release ? quarantine_release(s, c, sp, id, by, qid, err, sizeof(err)) :
		    quarantine_delete(s, c, id, by, err, sizeof(err));
		if (r != 0) {
			cli_err("%s %lld: %s", release ? "release" : "delete", (long long)id, err);
			int code = r == 1 ? CLI_NOTFOUND : CLI_FAIL;
			if (code > rc)
				rc = code;
			continue;
		}
		if (!release) {
			printf("%lld deleted\n", (long long)id);
			continue;
		}
		char line[64], reply[128];
		snprintf(line, sizeof(line), "queue %s", qid);
		if (control_request(c, line, reply, sizeof(reply)) == 0)
			printf("%lld released as %s\n", (long long)id, qid);
		else
			printf("%lld released as %s (the server is not running: delivered when it "
			    "starts)\n", (long long)id, qid);
	}
	if (sp)
		spool_close(sp);
	store_close(s);
	return rc;
}

static int
q_expire(const struct conf *c, const struct cli_args *a)
{
	struct store *s;
	int64_t n = 0;
	char err[256] = "";

	if (a->npos != 0) {
		cli_err("usage: quarantine expire");
		return CLI_USAGE;
	}
	if ((s = cli_store_open(c)) == NULL)
		return CLI_FAIL;
	int r = quarantine_expire(s, c, mw_now(), &n, err, sizeof(err));
	store_close(s);
	if (r != 0) {
		cli_err("quarantine expire: %s", err);
		return CLI_FAIL;
	}
	printf("%lld expired\n", (long long)n);
	return CLI_OK;
}

/*
 * not-spam: the user's "this was mine" (R19).  Release (once, as release
 * does), learn the message as ham - the sender's part only, without our
 * header lines, i.e. what the scan saw - and with --allow add the sender's
 * address to the recipient's own allow list.
 */
static int
q_not_spam(const struct conf *c, const struct cli_args *a)
{
	enum { N_BY, N_ALLOW, N_NO_AUTH };
	const char *by = a->val[N_BY] ? a->val[N_BY] : "cli";
	int64_t id = 0;
	struct store *s;
	struct store_quarantine q;
	char err[512] = "", qid[24] = "", dir[1024];
	int rc = CLI_OK;

	if (a->npos != 1 || parse_id(a->pos[0], &id) < 0) {
		cli_err("usage: quarantine not-spam ID [--allow [--no-auth]] [--by WHO]");
		return CLI_USAGE;
	}
	if ((s = cli_store_open(c)) == NULL)
		return CLI_FAIL;
	int r = store_quarantine_get(s, id, &q);
	if (r != 0) {
		cli_err("not-spam %lld: %s", (long long)id, store_error(s));
		store_close(s);
		return r == 1 ? CLI_NOTFOUND : CLI_FAIL;
	}
	char *data = NULL;
	size_t len = 0;
	if (strcmp(q.state, "held") != 0) {
		cli_err("not-spam %lld: quarantined message %lld was %s%s%s", (long long)id,
		    (long long)id, q.state, q.actor[0] ? " by " : "", q.actor);
		rc = CLI_NOTFOUND;
		goto out;
	}
	if (quarantine_read(c, q.qid, &data, &len, err, sizeof(err)) != 0) {
		cli_err("not-spam %lld: %s", (long long)id, err);
		rc = CLI_FAIL;
		goto out;
	}
	conf_path(c, "spool", dir, sizeof(dir));
	struct spool *sp = spool_open(dir, (int)c->fsync, err, sizeof(err));
	if (sp == NULL) {
		cli_err("cannot open the spool %s: %s", dir, err);
		rc = CLI_FAIL;
		goto out;
	}
	r = quarantine_release(s, c, sp, id, by, qid, err, sizeof(err));
	spool_close(sp);
	if (r != 0) {
		cli_err("not-spam %lld: %s", (long long)id, err);
		rc = r == 1 ? CLI_NOTFOUND : CLI_FAIL;
		goto out;
	}
	char line[64], reply[128];
	snprintf(line, sizeof(line), "queue %s", qid);
	int told = control_request(c, line, reply, sizeof(reply)) == 0;
	printf("%lld released as %s%s\n", (long long)id, qid,
	    told ? "" : " (the server is not running: delivered when it starts)");
	/* Learning is the second half: if it fails, the release stands. */
	size_t own = quarantine_own_headers_len(data, len);
	struct score_trainer *t = score_trainer_new(s);
	int learned = score_trainer_add(t, data + own, len - own, 0);
	if (learned >= 0)
		learned = score_trainer_flush(t);
	score_trainer_free(t);
	if (learned < 0) {
		cli_err("not-spam %lld: released, but not learned as ham: %s", (long long)id,
		    store_error(s));
		rc = CLI_FAIL;
	} else {
		printf("%lld learned as ham\n", (long long)id);
	}
	char obj[64];
	snprintf(obj, sizeof(obj), "quarantine id %lld", (long long)id);
	store_audit_add(s, by, "quarantine not-spam", obj, q.rcpt);
	if (a->val[N_ALLOW] != NULL && q.sender[0] != '\0') {
		struct store_list_entry e = {
			.tenant = q.tenant, .user = q.rcpt, .kind = "allow", .pattern = q.sender,
			.no_auth = a->val[N_NO_AUTH] != NULL, .actor = (char *)(uintptr_t)by,
		};
		r = store_list_add(s, &e);
		if (r < 0) {
			cli_err("not-spam %lld: allow entry not added: %s", (long long)id, store_error(s));
			rc = CLI_FAIL;
		} else {
			char o2[700];
			snprintf(o2, sizeof(o2), "allow %s (user %s)", q.sender, q.rcpt);
			if (r == 0)
				store_audit_add(s, by, "allow add", o2, "not-spam");
			printf("%s %s\n", o2, r == 0 ? "added" : "already there");
		}
	}
out:
	free(data);
	store_quarantine_clear(&q);
	store_close(s);
	return rc;
}

static void
tell_server(const char *qid, void *arg)
{
	const struct conf *c = arg;
	char line[64], reply[128];
	snprintf(line, sizeof(line), "queue %s", qid);
	if (control_request(c, line, reply, sizeof(reply)) != 0)
		printf("queued %s (the server is not running: delivered when it starts)\n", qid);
	else
		printf("queued %s\n", qid);
}

/* Send the digests due now (the server also does it every [quarantine] digest). */
static int
q_digest(const struct conf *c, const struct cli_args *a)
{
	struct store *s;
	struct spool *sp;
	char dir[1024], err[512] = "";
	int sent = 0;

	if (a->npos != 0) {
		cli_err("usage: quarantine digest [--tenant T]");
		return CLI_USAGE;
	}
	if ((s = cli_store_open(c)) == NULL)
		return CLI_FAIL;
	conf_path(c, "spool", dir, sizeof(dir));
	if ((sp = spool_open(dir, (int)c->fsync, err, sizeof(err))) == NULL) {
		cli_err("cannot open the spool %s: %s", dir, err);
		store_close(s);
		return CLI_FAIL;
	}
	int r = digest_run(s, c, sp, a->val[O_TENANT], mw_now(), 1, tell_server,
	    (void *)(uintptr_t)c, &sent, err, sizeof(err));
	spool_close(sp);
	store_close(s);
	printf("%d digest%s sent\n", sent, sent == 1 ? "" : "s");
	if (r < 0) {
		cli_err("quarantine digest: %s", err);
		return CLI_FAIL;
	}
	return CLI_OK;
}

int
cli_quarantine(const struct conf *c, int argc, char **argv)
{
	static const char *const list_opts[] = { "--tenant=", "--user=", "--sender=", "--subject=",
		"--state=", "--since=", "--until=", "--limit=", "--json", NULL };
	static const char *const show_opts[] = { "--json", "--raw", NULL };
	static const char *const act_opts[] = { "--by=", NULL };
	static const char *const no_opts[] = { NULL };
	static const char *const digest_opts[] = { "--tenant=", NULL };
	static const char *const ns_opts[] = { "--by=", "--allow", "--no-auth", NULL };
	const char *sub = argc > 1 ? argv[1] : NULL;
	const char *const *opts;
	struct cli_args a;
	int rc;

	if (sub == NULL || strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0) {
		cli_usage_group("quarantine");
		return sub == NULL ? CLI_USAGE : CLI_OK;
	}
	if (strcmp(sub, "list") == 0)
		opts = list_opts;
	else if (strcmp(sub, "show") == 0)
		opts = show_opts;
	else if (strcmp(sub, "release") == 0 || strcmp(sub, "delete") == 0)
		opts = act_opts;
	else if (strcmp(sub, "expire") == 0)
		opts = no_opts;
	else if (strcmp(sub, "digest") == 0)
		opts = digest_opts;
	else if (strcmp(sub, "not-spam") == 0)
		opts = ns_opts;
	else {
		cli_err("unknown quarantine command '%s' (list, show, release, not-spam, delete, "
		    "expire, digest)", sub);
		return CLI_USAGE;
	}
	if (cli_parse(argc, argv, 2, opts, &a) != 0)
		return CLI_USAGE;
	if (a.help)
		cli_usage_group("quarantine"), rc = CLI_OK;
	else if (opts == list_opts)
		rc = q_list(c, &a);
	else if (opts == show_opts)
		rc = q_show(c, &a);
	else if (opts == act_opts)
		rc = q_act(c, &a, strcmp(sub, "release") == 0);
	else if (opts == digest_opts)
		rc = q_digest(c, &a);
	else if (opts == ns_opts)
		rc = q_not_spam(c, &a);
	else
		rc = q_expire(c, &a);
	cli_args_free(&a);
	return rc;
}
