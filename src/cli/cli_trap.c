/*
 * cli_trap.c - `mailward trap add|remove|list|hits` (R10): the addresses
 * nobody real uses, so mail to them is evidence against its sender, and
 * the hits they caught.
 *
 * A trap is "user@example.org" or "@example.org" (the whole domain), for
 * one tenant or (no --tenant) the whole gateway.  The server looks traps up
 * per recipient, so a change here applies to the next RCPT without a
 * restart.  add and remove are audited with --by.
 *
 * Also cli_tenant_check(), shared with outbound and fingerprint.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/util.h"
#include "cli/cli.h"
#include "conf/conf.h"
#include "store/store.h"

enum { O_TENANT, O_BY, O_JSON, O_FORCE };
enum { H_IP, H_SENDER, H_LIMIT, H_JSON };

int
cli_tenant_check(struct store *s, const char *name)
{
	struct store_tenant t;
	int r;

	if (!cli_valid_tenant_name(name)) {
		cli_err("bad tenant name '%s'", name);
		return CLI_USAGE;
	}
	if ((r = store_tenant_get(s, name, &t)) < 0)
		return cli_store_fail(s, "tenant lookup");
	if (r == 1) {
		cli_err("tenant '%s' not found", name);
		return CLI_USAGE;
	}
	free(t.name);
	free(t.action);
	return CLI_OK;
}

/* "user@example.org" or "@example.org", lower-cased into out. */
static int
trap_pattern(const char *in, char *out, size_t n)
{
	const char *why = NULL;

	if (strchr(in, '@') == NULL)
		why = "no '@'";
	else if (cli_normalize_address(in, out, n, &why) == 0)
		return 0;
	cli_err("bad trap '%s': %s (a trap is user@example.org, or @example.org for the "
	    "whole domain)", in, why != NULL ? why : "not an address");
	return -1;
}

/*
 * A trap on a mailbox, or on a hosted domain, silently black-holes real
 * mail and counts its owner's correspondents as spammers: refused unless
 * the administrator says --force (retiring a domain as a trap is a
 * legitimate use).  0 go on, -1 refused (said why).
 */
static int
refuse_live(struct store *s, const char *pattern, int force)
{
	struct store_rcpt r;
	char probe[340];

	if (pattern[0] == '@')
		snprintf(probe, sizeof(probe), "postmaster%s", pattern);
	else
		mw_strlcpy(probe, pattern, sizeof(probe));
	if (store_rcpt_lookup(s, probe, &r) != 0)
		return 0;
	if (pattern[0] == '@' && r.status != RCPT_NOT_HOSTED) {
		cli_err("%s%s is a hosted domain of tenant %s: every address in it would become a "
		    "trap (never delivered)%s", force ? "warning: " : "", pattern + 1, r.tenant,
		    force ? "" : "; use --force if the domain is retired");
		return force ? 0 : -1;
	}
	if (pattern[0] != '@' && r.status == RCPT_VALID) {
		cli_err("%s%s is a user of tenant %s: its mail would never be delivered and its "
		    "correspondents would count as spammers%s", force ? "warning: " : "", pattern,
		    r.tenant, force ? "" : "; remove the user first, or use --force");
		return force ? 0 : -1;
	}
	return 0;
}

static int
trap_change(const struct conf *c, const struct cli_args *a, int add)
{
	const char *by = a->val[O_BY] ? a->val[O_BY] : "cli";
	const char *tenant = a->val[O_TENANT] ? a->val[O_TENANT] : "";
	char pat[330], object[512];
	struct store *s;
	int r, rc = CLI_OK;

	if (a->npos != 1 || a->val[O_JSON] != NULL) {
		cli_err("usage: trap %s ADDRESS|@DOMAIN [--tenant T] [--by WHO]%s",
		    add ? "add" : "remove", add ? " [--force]" : "");
		return CLI_USAGE;
	}
	if (trap_pattern(a->pos[0], pat, sizeof(pat)) != 0)
		return CLI_USAGE;
	if ((s = cli_store_open(c)) == NULL)
		return CLI_FAIL;
	if (tenant[0] != '\0' && (rc = cli_tenant_check(s, tenant)) != CLI_OK)
		goto out;
	if (add && refuse_live(s, pat, a->val[O_FORCE] != NULL) != 0) {
		rc = CLI_USAGE;
		goto out;
	}
	if (add)
		r = store_trap_add(s, pat, tenant, by);
	else
		r = store_trap_remove(s, pat, tenant);
	if (r < 0) {
		rc = cli_store_fail(s, add ? "trap add" : "trap remove");
		goto out;
	}
	snprintf(object, sizeof(object), "trap %s (%s%s)", pat, tenant[0] ? "tenant " : "",
	    tenant[0] ? tenant : "all tenants");
	if (r == 1) {
		cli_err("%s %s", object, add ? "already exists" : "not found");
		rc = add ? CLI_USAGE : CLI_NOTFOUND;
		goto out;
	}
	if (store_audit_add(s, by, add ? "trap add" : "trap remove", object, "") < 0)
		cli_err("warning: audit record not written: %s", store_error(s));
	printf("%s: %s\n", add ? "added" : "removed", object);
out:
	store_close(s);
	return rc;
}

static int
trap_list(const struct conf *c, const struct cli_args *a)
{
	struct store *s;
	struct store_trap *t = NULL;
	size_t n = 0;
	char ts[32];
	int rc = CLI_OK;

	if (a->npos != 0 || a->val[O_BY] != NULL) {
		cli_err("usage: trap list [--tenant T] [--json]");
		return CLI_USAGE;
	}
	if ((s = cli_store_open(c)) == NULL)
		return CLI_FAIL;
	if (a->val[O_TENANT] && (rc = cli_tenant_check(s, a->val[O_TENANT])) != CLI_OK)
		goto out;
	if (store_trap_list(s, a->val[O_TENANT], &t, &n) != 0) {
		rc = cli_store_fail(s, "trap list");
		goto out;
	}
	if (a->val[O_JSON]) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:I, s:o, s:o, s:s, s:I, s:o}",
			    "id", (json_int_t)t[i].id, "pattern", cli_json_str(t[i].pattern),
			    "tenant", t[i].tenant[0] ? cli_json_str(t[i].tenant) : json_null(),
			    "created", cli_time(t[i].created, ts, sizeof(ts)),
			    "ts", (json_int_t)t[i].created, "by", cli_json_str(t[i].actor)));
		json_t *doc = json_pack("{s:o}", "traps", arr);
		if (cli_json_print(doc) != 0)
			rc = CLI_FAIL;
		json_decref(doc);
		goto out;
	}
	if (n > 0)
		printf("%-40s %-20s %-20s %s\n", "TRAP", "TENANT", "CREATED", "BY");
	for (size_t i = 0; i < n; i++) {
		cli_print_safe(t[i].pattern);
		for (size_t l = strlen(t[i].pattern); l < 41; l++)
			fputc(' ', stdout);
		printf("%-20s %-20s ", t[i].tenant[0] ? t[i].tenant : "(all)",
		    cli_time(t[i].created, ts, sizeof(ts)));
		cli_print_safe(t[i].actor);
		fputc('\n', stdout);
	}
	printf("%zu trap%s\n", n, n == 1 ? "" : "s");
	rc = n > 0 ? CLI_OK : CLI_NOTFOUND;
out:
	store_trap_free(t, n);
	store_close(s);
	return rc;
}

static int
valid_ip(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

static json_t *
hit_json(const struct store_trap_hit *h)
{
	char ts[32];
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(h->id));
	json_object_set_new(o, "time", json_string(cli_time(h->ts, ts, sizeof(ts))));
	json_object_set_new(o, "ts", json_integer(h->ts));
	json_object_set_new(o, "ref", cli_json_str(h->ref));
	json_object_set_new(o, "client_ip", cli_json_str(h->client_ip));
	json_object_set_new(o, "helo", cli_json_str(h->helo));
	json_object_set_new(o, "sender", cli_json_str(h->sender));
	json_object_set_new(o, "rcpt", cli_json_str(h->rcpt));
	json_object_set_new(o, "tenant", h->tenant[0] ? cli_json_str(h->tenant) : json_null());
	json_object_set_new(o, "subject", cli_json_str(h->subject));
	json_object_set_new(o, "file", h->file[0] ? cli_json_str(h->file) : json_null());
	return o;
}

void *
cli_trap_hits_json(const struct store_trap_hit *h, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, hit_json(&h[i]));
	return arr;
}

void
cli_trap_hits_print(const struct store_trap_hit *h, size_t n)
{
	char ts[32];

	if (n > 0)
		printf("%-20s %-9s %-16s %-28s %-28s %s\n", "TIME", "REF", "CLIENT", "SENDER",
		    "TRAP", "SUBJECT");
	for (size_t i = 0; i < n; i++) {
		const char *snd = h[i].sender[0] ? h[i].sender : "<>";
		printf("%-20s %-9s ", cli_time(h[i].ts, ts, sizeof(ts)), h[i].ref);
		cli_print_safe(h[i].client_ip);
		for (size_t l = strlen(h[i].client_ip); l < 17; l++)
			fputc(' ', stdout);
		cli_print_safe(snd);
		for (size_t l = strlen(snd); l < 29; l++)
			fputc(' ', stdout);
		cli_print_safe(h[i].rcpt);
		for (size_t l = strlen(h[i].rcpt); l < 29; l++)
			fputc(' ', stdout);
		cli_print_safe(h[i].subject);
		fputc('\n', stdout);
	}
}

static int
trap_hits(const struct conf *c, const struct cli_args *a)
{
	struct store *s;
	struct store_trap_hit *h = NULL;
	size_t n = 0, limit = 100;
	int rc = CLI_OK;

	if (a->npos != 0) {
		cli_err("usage: trap hits [--ip IP] [--sender S] [--limit N] [--json]");
		return CLI_USAGE;
	}
	if (a->val[H_IP] && !valid_ip(a->val[H_IP])) {
		cli_err("bad --ip '%s' (an IPv4 or IPv6 address)", a->val[H_IP]);
		return CLI_USAGE;
	}
	if (a->val[H_LIMIT]) {
		char *end;
		long l = strtol(a->val[H_LIMIT], &end, 10);
		if (*end || l < 1 || l > 100000) {
			cli_err("bad --limit '%s' (1-100000)", a->val[H_LIMIT]);
			return CLI_USAGE;
		}
		limit = (size_t)l;
	}
	if ((s = cli_store_open(c)) == NULL)
		return CLI_FAIL;
	/* Senders are stored lower-case like every address we keep. */
	char *snd = a->val[H_SENDER] ? mw_str_lower(xstrdup(a->val[H_SENDER])) : NULL;
	if (store_trap_hit_list(s, a->val[H_IP], snd, limit, &h, &n) != 0) {
		rc = cli_store_fail(s, "trap hits");
		goto out;
	}
	if (a->val[H_JSON]) {
		json_t *doc = json_pack("{s:o}", "hits", cli_trap_hits_json(h, n));
		if (cli_json_print(doc) != 0)
			rc = CLI_FAIL;
		json_decref(doc);
		goto out;
	}
	cli_trap_hits_print(h, n);
	printf("%zu hit%s\n", n, n == 1 ? "" : "s");
	rc = n > 0 ? CLI_OK : CLI_NOTFOUND;
out:
	free(snd);
	store_trap_hit_free(h, n);
	store_close(s);
	return rc;
}

int
cli_trap(const struct conf *c, int argc, char **argv)
{
	static const char *const opts[] = { "--tenant=", "--by=", "--json", "--force", NULL };
	static const char *const hit_opts[] = { "--ip=", "--sender=", "--limit=", "--json", NULL };
	const char *sub = argc > 1 ? argv[1] : NULL;
	struct cli_args a;
	int rc;

	if (sub == NULL || strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0) {
		cli_usage_group("trap");
		return sub == NULL ? CLI_USAGE : CLI_OK;
	}
	if (strcmp(sub, "add") && strcmp(sub, "remove") && strcmp(sub, "list") &&
	    strcmp(sub, "hits")) {
		cli_err("unknown trap command '%s' (add, remove, list, hits)", sub);
		return CLI_USAGE;
	}
	if (cli_parse(argc, argv, 2, strcmp(sub, "hits") == 0 ? hit_opts : opts, &a) != 0)
		return CLI_USAGE;
	if (a.help)
		cli_usage_group("trap"), rc = CLI_OK;
	else if (strcmp(sub, "list") == 0)
		rc = trap_list(c, &a);
	else if (strcmp(sub, "hits") == 0)
		rc = trap_hits(c, &a);
	else
		rc = trap_change(c, &a, strcmp(sub, "add") == 0);
	cli_args_free(&a);
	return rc;
}
