/*
 * cli_complaint.c - `mailward complaint import|list|show` (R11,
 * docs/complaints.md): feedback-loop reports and users' "this is spam"
 * forwards that did not come in by SMTP, and what arrived so far.
 *
 * import goes through complaint_ingest(), the path the SMTP intake uses:
 * parse, store (malformed reports too, so nothing that arrived is lost),
 * match to our own transaction, count against its sender and content.
 * The same report twice counts once.  Rows written here reach a running
 * server through the store; the fingerprints through fp_memory_refresh().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/timeparse.h"
#include "base/util.h"
#include "cli/cli.h"
#include "complaint/complaint.h"
#include "conf/conf.h"
#include "reputation/fp_memory.h"
#include "store/store.h"

/* The fingerprint memory a one-shot import loads: every stored row, like
 * the server, or matching by content would miss what the server finds. */
#define FP_MEMORY_ENTRIES 100000

struct import {
	struct complaint_env env;
	int json;
	json_t *reports;
	size_t read, stored, duplicates, malformed, unreadable;
	int failed;           /* a storage error: stop */
};

/* Not a clean ARF report: kept and listed, but worth saying. */
static int
malformed(const struct complaint_result *r)
{
	return strcmp(r->kind, "arf") != 0 || r->flags[0] != '\0';
}

static const char *
kind_text(const char *kind)
{
	if (strcmp(kind, "arf") == 0)
		return "ARF report";
	if (strcmp(kind, "not-arf") == 0)
		return "not ARF (a forward: the original was found)";
	return "nothing usable (no feedback part, no original, no ref)";
}

/* Why a stored report counted nothing, for people. */
static const char *
not_counted_why(const struct import *im, const struct complaint_result *r)
{
	if (im->env.dry_run)
		return "dry run";
	if (r->duplicate)
		return "the same report was imported before";
	if (strcmp(r->match, "none") == 0 || r->match[0] == '\0')
		return "no transaction of ours matched";
	if (strcmp(r->feedback_type, "not-spam") == 0)
		return "feedback type not-spam";
	if (r->capped == COMPLAINT_CAPPED_MESSAGE_ID)
		return "capped: a report matched only by this Message-ID counted already";
	if (r->capped)
		return "capped: the original already drew as many complaints as it had recipients";
	return "see docs/complaints.md";
}

static void
result_print(const struct import *im, const char *path, const struct complaint_result *r)
{
	cli_print_safe(path);
	if (im->env.dry_run)
		puts(": dry run, nothing stored");
	else if (r->duplicate)
		puts(": duplicate, not stored again");
	else
		printf(": stored as complaint %lld\n", (long long)r->id);
	printf("  kind      %s\n  feedback  ", kind_text(r->kind));
	cli_print_safe(r->feedback_type[0] ? r->feedback_type : NULL);
	fputs("\n  flags     ", stdout);
	cli_print_safe(r->flags[0] ? r->flags : NULL);
	fputs("\n  match     ", stdout);
	if (strcmp(r->match, "none") == 0 || r->match[0] == '\0') {
		fputs("none", stdout);
	} else {
		printf("by %s: ref %s, client ", r->match, r->matched_ref[0] ? r->matched_ref : "-");
		cli_print_safe(r->client_ip[0] ? r->client_ip : NULL);
		fputs(", sender ", stdout);
		cli_print_safe(r->sender[0] ? r->sender : "<>");
	}
	if (r->counted)
		printf("\n  counted   against the sender and %d fingerprint%s\n", r->fingerprints,
		    r->fingerprints == 1 ? "" : "s");
	else
		printf("\n  counted   no (%s)\n", not_counted_why(im, r));
	if (malformed(r))
		puts("  note      malformed or not ARF: kept for the record");
}

static json_t *
result_json(const struct import *im, const char *path, const struct complaint_result *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "file", cli_json_str(path));
	json_object_set_new(o, "id", r->id > 0 ? json_integer(r->id) : json_null());
	json_object_set_new(o, "stored", json_boolean(!im->env.dry_run && !r->duplicate));
	json_object_set_new(o, "duplicate", json_boolean(r->duplicate));
	json_object_set_new(o, "counted", json_boolean(r->counted));
	json_object_set_new(o, "capped", json_boolean(r->capped));
	json_object_set_new(o, "fingerprints", json_integer(r->fingerprints));
	json_object_set_new(o, "kind", cli_json_str(r->kind));
	json_object_set_new(o, "malformed", json_boolean(malformed(r)));
	json_object_set_new(o, "feedback_type", cli_json_str(r->feedback_type));
	json_object_set_new(o, "flags", cli_json_str(r->flags));
	json_object_set_new(o, "match", cli_json_str(r->match));
	json_object_set_new(o, "matched_ref", r->matched_ref[0] ? cli_json_str(r->matched_ref) :
	    json_null());
	json_object_set_new(o, "client_ip", r->client_ip[0] ? cli_json_str(r->client_ip) :
	    json_null());
	json_object_set_new(o, "sender", cli_json_str(r->sender));
	json_object_set_new(o, "subject", cli_json_str(r->subject));
	return o;
}

static int
import_one(void *arg, const char *path, const char *data, size_t len)
{
	struct import *im = arg;
	struct complaint_result r;

	memset(&r, 0, sizeof(r));
	if (complaint_ingest(&im->env, data, len, &r) != 0) {
		cli_store_fail(im->env.s, path);
		im->failed = 1;
		return -1;
	}
	im->read++;
	if (r.duplicate)
		im->duplicates++;
	else if (!im->env.dry_run)
		im->stored++;
	if (malformed(&r))
		im->malformed++;
	if (im->json)
		json_array_append_new(im->reports, result_json(im, path, &r));
	else
		result_print(im, path, &r);
	return 0;
}

static void
import_unreadable(void *arg, const char *path, const char *why)
{
	struct import *im = arg;

	im->unreadable++;
	if (im->json)
		json_array_append_new(im->reports, json_pack("{s:o, s:s}", "file",
		    cli_json_str(path), "error", why));
}

static int
complaint_import(const struct conf *c, int argc, char **argv)
{
	static const char *const flags[] = { "--dry-run", "--json", NULL };
	int set[2] = { 0, 0 }, aborted = 0, rc = CLI_OK;
	char **paths = NULL, err[256] = "";
	size_t npaths = 0;
	struct import im;

	/* Like scan and train: any number of files, directories or "-". */
	int r = cli_msg_args(argc - 1, argv + 1, flags, set, &paths, &npaths);
	if (r != 0) {
		free(paths);
		if (r > 0)
			cli_usage_group("complaint");
		return r > 0 ? CLI_OK : CLI_USAGE;
	}
	if (npaths == 0) {
		free(paths);
		cli_err("usage: complaint import FILE|DIR|-... [--dry-run] [--json]");
		return CLI_USAGE;
	}
	memset(&im, 0, sizeof(im));
	im.json = set[1];
	im.env = (struct complaint_env){
		.half_life = c->rep_half_life, .now = mw_now(), .source = "cli", .ref = NULL,
		.dry_run = set[0],
	};
	if ((im.env.s = cli_store_open(c)) == NULL) {
		free(paths);
		return CLI_FAIL;
	}
	im.env.fpm = fp_memory_open(im.env.s, FP_MEMORY_ENTRIES, err, sizeof(err));
	if (im.env.fpm == NULL) {
		cli_err("cannot load the fingerprint memory: %s", err[0] ? err : "storage error");
		rc = CLI_FAIL;
		goto out;
	}
	im.reports = json_array();
	struct cli_msg_walk w = { .message = import_one, .unreadable = import_unreadable,
		.arg = &im };
	cli_msg_walk(&w, paths, npaths, &aborted);
	if (im.json) {
		json_t *doc = json_pack("{s:b, s:o}", "dry_run", set[0], "reports", im.reports);
		im.reports = NULL;
		if (!im.failed && cli_json_print(doc) != 0)
			rc = CLI_FAIL;
		json_decref(doc);
	} else {
		printf("%zu report%s read: %zu stored, %zu duplicate, %zu malformed or not ARF",
		    im.read, im.read == 1 ? "" : "s", im.stored, im.duplicates, im.malformed);
		if (im.unreadable)
			printf(", %zu unreadable", im.unreadable);
		puts(im.env.dry_run ? " (dry run: nothing was stored)" : "");
	}
	if (im.failed || im.unreadable)
		rc = CLI_FAIL;
out:
	json_decref(im.reports);
	if (im.env.fpm)
		fp_memory_free(im.env.fpm);
	store_close(im.env.s);
	free(paths);
	return rc;
}

/* ---- list, show --------------------------------------------------------- */

static json_t *
row_json(const struct store_complaint *r, int full)
{
	char ts[32];
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "time", json_string(cli_time(r->ts, ts, sizeof(ts))));
	json_object_set_new(o, "ts", json_integer(r->ts));
	json_object_set_new(o, "source", cli_json_str(r->source));
	json_object_set_new(o, "kind", cli_json_str(r->kind));
	json_object_set_new(o, "flags", cli_json_str(r->flags));
	json_object_set_new(o, "feedback_type", cli_json_str(r->feedback_type));
	json_object_set_new(o, "reporter", cli_json_str(r->reporter));
	json_object_set_new(o, "match", cli_json_str(r->match));
	json_object_set_new(o, "matched_ref", r->matched_ref && r->matched_ref[0] ?
	    cli_json_str(r->matched_ref) : json_null());
	json_object_set_new(o, "client_ip", r->client_ip && r->client_ip[0] ?
	    cli_json_str(r->client_ip) : json_null());
	json_object_set_new(o, "sender", cli_json_str(r->sender));
	json_object_set_new(o, "subject", cli_json_str(r->subject));
	if (full) {
		json_object_set_new(o, "digest", cli_json_str(r->digest));
		json_object_set_new(o, "size", json_integer((json_int_t)r->raw_len));
		/* raw is bytes: NUL inside would end a C string early. */
		json_object_set_new(o, "raw", r->raw ? cli_json_str(r->raw) : json_null());
	}
	return o;
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
complaint_list(const struct conf *c, const struct cli_args *a)
{
	enum { L_SINCE, L_LIMIT, L_JSON };
	struct store *s;
	struct store_complaint *v = NULL;
	size_t n = 0, limit = 100;
	int64_t since = 0;
	int rc = CLI_OK;

	if (a->npos != 0) {
		cli_err("usage: complaint list [--since T] [--limit N] [--json]");
		return CLI_USAGE;
	}
	if (a->val[L_SINCE] && timeparse_point(a->val[L_SINCE], mw_now(), &since) != 0) {
		cli_err("bad --since '%s' (e.g. 2026-11-27, -7d, -2h)", a->val[L_SINCE]);
		return CLI_USAGE;
	}
	if (a->val[L_LIMIT]) {
		char *end;
		long l = strtol(a->val[L_LIMIT], &end, 10);
		if (*end || l < 1 || l > 100000) {
			cli_err("bad --limit '%s' (1-100000)", a->val[L_LIMIT]);
			return CLI_USAGE;
		}
		limit = (size_t)l;
	}
	if ((s = cli_store_open(c)) == NULL)
		return CLI_FAIL;
	if (store_complaint_list(s, since, limit, &v, &n) != 0) {
		rc = cli_store_fail(s, "complaint list");
		goto out;
	}
	if (a->val[L_JSON]) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, row_json(&v[i], 0));
		json_t *doc = json_pack("{s:o}", "complaints", arr);
		if (cli_json_print(doc) != 0)
			rc = CLI_FAIL;
		json_decref(doc);
		goto out;
	}
	if (n > 0)
		printf("%-6s %-20s %-6s %-8s %-10s %-11s %-9s %-16s %s\n", "ID", "TIME", "SOURCE",
		    "KIND", "TYPE", "MATCH", "REF", "CLIENT", "SUBJECT");
	for (size_t i = 0; i < n; i++) {
		char ts[32];
		const char *ip = v[i].client_ip && v[i].client_ip[0] ? v[i].client_ip : "-";
		printf("%-6lld %-20s %-6s %-8s ", (long long)v[i].id, cli_time(v[i].ts, ts,
		    sizeof(ts)), v[i].source, v[i].kind);
		cli_print_safe(v[i].feedback_type[0] ? v[i].feedback_type : "-");
		for (size_t l = v[i].feedback_type[0] ? strlen(v[i].feedback_type) : 1; l < 11; l++)
			fputc(' ', stdout);
		printf("%-11s %-9s ", v[i].match, v[i].matched_ref[0] ? v[i].matched_ref : "-");
		cli_print_safe(ip);
		for (size_t l = strlen(ip); l < 17; l++)
			fputc(' ', stdout);
		cli_print_safe(v[i].subject);
		fputc('\n', stdout);
	}
	printf("%zu complaint%s\n", n, n == 1 ? "" : "s");
	rc = n > 0 ? CLI_OK : CLI_NOTFOUND;
out:
	store_complaint_free(v, n);
	store_close(s);
	return rc;
}

static void
show_text(const struct store_complaint *r)
{
	char ts[32];
	static const char *const labels[] = { "source", "kind", "flags", "feedback", "reporter",
		"match", "ref", "client", "sender", "subject", "digest" };
	const char *vals[] = { r->source, r->kind, r->flags, r->feedback_type, r->reporter,
		r->match, r->matched_ref, r->client_ip, r->sender, r->subject, r->digest };

	printf("%-10s %lld\n%-10s %s\n", "id", (long long)r->id, "time",
	    cli_time(r->ts, ts, sizeof(ts)));
	for (size_t i = 0; i < MW_ARRAY_LEN(labels); i++) {
		printf("%-10s ", labels[i]);
		cli_print_safe(vals[i] && vals[i][0] ? vals[i] : NULL);
		fputc('\n', stdout);
	}
	printf("%-10s %zu bytes kept (--raw prints them)\n", "report", r->raw_len);
}

static int
complaint_show(const struct conf *c, const struct cli_args *a)
{
	enum { W_RAW, W_JSON };
	struct store *s;
	int64_t id;
	int rc = CLI_OK;

	if (a->npos != 1 || parse_id(a->pos[0], &id) != 0) {
		cli_err("usage: complaint show ID [--raw] [--json]");
		return CLI_USAGE;
	}
	if ((s = cli_store_open(c)) == NULL)
		return CLI_FAIL;
	/* On the heap: store_complaint_free() frees the array with its rows. */
	struct store_complaint *r = xcalloc(1, sizeof(*r));
	int g = store_complaint_get(s, id, r);
	if (g != 0) {
		if (g == 1)
			cli_err("no complaint %lld", (long long)id);
		rc = g == 1 ? CLI_NOTFOUND : cli_store_fail(s, "complaint show");
	} else if (a->val[W_RAW]) {
		if (r->raw_len > 0 && fwrite(r->raw, 1, r->raw_len, stdout) != r->raw_len)
			rc = CLI_FAIL;
	} else if (a->val[W_JSON]) {
		json_t *o = row_json(r, 1);
		if (cli_json_print(o) != 0)
			rc = CLI_FAIL;
		json_decref(o);
	} else {
		show_text(r);
	}
	store_complaint_free(r, 1);
	store_close(s);
	return rc;
}

int
cli_complaint(const struct conf *c, int argc, char **argv)
{
	static const char *const list_opts[] = { "--since=", "--limit=", "--json", NULL };
	static const char *const show_opts[] = { "--raw", "--json", NULL };
	const char *sub = argc > 1 ? argv[1] : NULL;
	struct cli_args a;
	int rc;

	if (sub == NULL || strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0) {
		cli_usage_group("complaint");
		return sub == NULL ? CLI_USAGE : CLI_OK;
	}
	if (strcmp(sub, "import") == 0)
		return complaint_import(c, argc, argv);
	if (strcmp(sub, "list") && strcmp(sub, "show")) {
		cli_err("unknown complaint command '%s' (import, list, show)", sub);
		return CLI_USAGE;
	}
	int list = strcmp(sub, "list") == 0;
	if (cli_parse(argc, argv, 2, list ? list_opts : show_opts, &a) != 0)
		return CLI_USAGE;
	if (a.help)
		cli_usage_group("complaint"), rc = CLI_OK;
	else
		rc = list ? complaint_list(c, &a) : complaint_show(c, &a);
	cli_args_free(&a);
	return rc;
}
