/*
 * cli_list.c - `mailward allow|block add|remove|list` (R14) and
 * `mailward audit` (who changed policy or acted on held mail).
 *
 * An entry belongs to a tenant (--tenant: domain level, all its users) or to
 * one user (--user ADDRESS: that recipient only; its tenant is found from
 * the address).  Every change is written to the audit trail with --by.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/timeparse.h"
#include "base/util.h"
#include "cli/cli.h"
#include "conf/conf.h"
#include "store/store.h"

enum { O_TENANT, O_USER, O_NO_AUTH, O_BY, O_JSON };

/* --tenant T or --user ADDR (exactly one for add/remove): the tenant and
 * the user ("" for domain level). */
static int
owner(struct store *s, const struct cli_args *a, int need, char *tenant, size_t tn, char *user,
    size_t un)
{
	tenant[0] = user[0] = '\0';
	if (a->val[O_TENANT] && a->val[O_USER]) {
		cli_err("give --tenant or --user, not both");
		return CLI_USAGE;
	}
	if (a->val[O_TENANT]) {
		mw_strlcpy(tenant, a->val[O_TENANT], tn);
		struct store_tenant t;
		int r = store_tenant_get(s, tenant, &t);
		if (r != 0) {
			if (r < 0)
				return cli_store_fail(s, "tenant lookup");
			cli_err("tenant '%s' not found", tenant);
			return CLI_NOTFOUND;
		}
		free(t.name);
		free(t.action);
		return CLI_OK;
	}
	if (a->val[O_USER]) {
		const char *why = NULL;
		if (cli_normalize_address(a->val[O_USER], user, un, &why) != 0) {
			cli_err("bad --user '%s': %s", a->val[O_USER], why ? why : "not an address");
			return CLI_USAGE;
		}
		struct store_rcpt r;
		if (store_rcpt_lookup(s, user, &r) < 0)
			return cli_store_fail(s, "user lookup");
		if (r.status != RCPT_VALID) {
			cli_err("'%s' is not a user of any tenant", user);
			return CLI_NOTFOUND;
		}
		mw_strlcpy(tenant, r.tenant, tn);
		mw_strlcpy(user, r.canonical, un);   /* an alias's entries are its mailbox's */
		return CLI_OK;
	}
	if (need) {
		cli_err("give --tenant NAME (all its users) or --user ADDRESS");
		return CLI_USAGE;
	}
	return CLI_OK;
}

static int
list_change(const struct conf *c, const struct cli_args *a, const char *kind, int add)
{
	char tenant[128], user[320], object[700], pat[512];
	const char *by = a->val[O_BY] ? a->val[O_BY] : "cli";
	struct store *s;
	int rc;

	if (a->npos != 1) {
		cli_err("usage: %s %s PATTERN --tenant NAME|--user ADDRESS%s [--by WHO]", kind,
		    add ? "add" : "remove", add ? " [--no-auth]" : "");
		return CLI_USAGE;
	}
	if (store_list_pattern(a->pos[0], pat, sizeof(pat)) < 0) {
		cli_err("bad pattern '%s' (user@example.org, example.org, or .example.org for the "
		    "domain and its subdomains)", a->pos[0]);
		return CLI_USAGE;
	}
	if ((s = cli_store_open(c)) == NULL)
		return CLI_FAIL;
	if ((rc = owner(s, a, 1, tenant, sizeof(tenant), user, sizeof(user))) != CLI_OK)
		goto out;
	int r;
	if (add) {
		struct store_list_entry e = {
			.tenant = tenant, .user = user, .kind = (char *)(uintptr_t)kind, .pattern = pat,
			.no_auth = a->val[O_NO_AUTH] != NULL, .actor = (char *)(uintptr_t)by,
		};
		r = store_list_add(s, &e);
	} else {
		r = store_list_remove(s, tenant, user, kind, pat);
	}
	if (r < 0) {
		rc = cli_store_fail(s, add ? "list add" : "list remove");
		goto out;
	}
	if (r == 1) {
		cli_err("%s", store_error(s));
		rc = add ? CLI_USAGE : CLI_NOTFOUND;
		goto out;
	}
	snprintf(object, sizeof(object), "%s %s (%s%s)", kind, pat, user[0] ? "user " : "tenant ",
	    user[0] ? user : tenant);
	char action[32];
	snprintf(action, sizeof(action), "%s %s", kind, add ? "add" : "remove");
	if (store_audit_add(s, by, action, object,
	    add && a->val[O_NO_AUTH] ? "no-auth" : "") < 0)
		cli_err("warning: audit record not written: %s", store_error(s));
	printf("%s %s: %s\n", kind, add ? "added" : "removed", object);
	rc = CLI_OK;
out:
	store_close(s);
	return rc;
}

static int
list_show(const struct conf *c, const struct cli_args *a, const char *kind)
{
	char tenant[128], user[320];
	struct store *s;
	struct store_list_entry *e = NULL;
	size_t n = 0;
	int rc;

	if (a->npos != 0) {
		cli_err("usage: %s list [--tenant NAME|--user ADDRESS] [--json]", kind);
		return CLI_USAGE;
	}
	if ((s = cli_store_open(c)) == NULL)
		return CLI_FAIL;
	if ((rc = owner(s, a, 0, tenant, sizeof(tenant), user, sizeof(user))) != CLI_OK)
		goto out;
	/* --tenant lists every entry of the tenant (both levels); --user that
	 * user's own entries. */
	if (store_list_search(s, tenant[0] ? tenant : NULL, user[0] ? user : NULL, kind, &e,
	    &n) != 0) {
		rc = cli_store_fail(s, "list");
		goto out;
	}
	if (a->val[O_JSON]) {
		json_t *arr = json_array();
		char ts[32];
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:I, s:o, s:o, s:o, s:o, s:b, s:s, s:o}",
			    "id", (json_int_t)e[i].id, "tenant", cli_json_str(e[i].tenant),
			    "user", e[i].user[0] ? cli_json_str(e[i].user) : json_null(),
			    "kind", cli_json_str(e[i].kind), "pattern", cli_json_str(e[i].pattern),
			    "no_auth", e[i].no_auth, "created", cli_time(e[i].created, ts, sizeof(ts)),
			    "by", cli_json_str(e[i].actor)));
		json_t *doc = json_pack("{s:o}", "entries", arr);
		if (cli_json_print(doc) != 0)
			rc = CLI_FAIL;
		json_decref(doc);
	} else {
		if (n > 0)
			printf("%-6s %-20s %-30s %-6s %-8s %s\n", "KIND", "TENANT", "USER", "AUTH",
			    "BY", "PATTERN");
		for (size_t i = 0; i < n; i++) {
			printf("%-6s %-20s ", e[i].kind, e[i].tenant);
			cli_print_safe(e[i].user[0] ? e[i].user : "(all users)");
			for (size_t l = strlen(e[i].user[0] ? e[i].user : "(all users)"); l < 31; l++)
				fputc(' ', stdout);
			printf("%-6s ", e[i].no_auth ? "no" : "needed");
			cli_print_safe(e[i].actor);
			for (size_t l = strlen(e[i].actor); l < 9; l++)
				fputc(' ', stdout);
			cli_print_safe(e[i].pattern);
			fputc('\n', stdout);
		}
		printf("%zu entr%s\n", n, n == 1 ? "y" : "ies");
	}
	rc = n > 0 || a->val[O_JSON] ? CLI_OK : CLI_NOTFOUND;
out:
	store_list_free(e, n);
	store_close(s);
	return rc;
}

int
cli_list(const struct conf *c, const char *kind, int argc, char **argv)
{
	static const char *const opts[] = { "--tenant=", "--user=", "--no-auth", "--by=", "--json",
		NULL };
	const char *sub = argc > 1 ? argv[1] : NULL;
	struct cli_args a;
	int rc;

	if (sub == NULL || strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0) {
		cli_usage_group(kind);
		return sub == NULL ? CLI_USAGE : CLI_OK;
	}
	if (strcmp(sub, "add") && strcmp(sub, "remove") && strcmp(sub, "list")) {
		cli_err("unknown %s command '%s' (add, remove, list)", kind, sub);
		return CLI_USAGE;
	}
	if (cli_parse(argc, argv, 2, opts, &a) != 0)
		return CLI_USAGE;
	if (a.help) {
		cli_usage_group(kind);
		rc = CLI_OK;
	} else if (strcmp(sub, "list") == 0) {
		rc = list_show(c, &a, kind);
	} else {
		rc = list_change(c, &a, kind, strcmp(sub, "add") == 0);
	}
	cli_args_free(&a);
	return rc;
}

int
cli_audit(const struct conf *c, int argc, char **argv)
{
	static const char *const opts[] = { "--since=", "--limit=", "--json", NULL };
	enum { A_SINCE, A_LIMIT, A_JSON };
	struct cli_args a;
	struct store *s = NULL;
	struct store_audit *v = NULL;
	size_t n = 0, limit = 100;
	int64_t since = 0;
	int rc = CLI_OK;

	if (cli_parse(argc, argv, 1, opts, &a) != 0)
		return CLI_USAGE;
	if (a.help || a.npos != 0) {
		cli_usage_group("audit");
		rc = a.help ? CLI_OK : CLI_USAGE;
		goto out;
	}
	if (a.val[A_SINCE] && timeparse_point(a.val[A_SINCE], mw_now(), &since) != 0) {
		cli_err("bad --since '%s'", a.val[A_SINCE]);
		rc = CLI_USAGE;
		goto out;
	}
	if (a.val[A_LIMIT]) {
		char *end;
		long l = strtol(a.val[A_LIMIT], &end, 10);
		if (*end || l < 1 || l > 100000) {
			cli_err("bad --limit '%s'", a.val[A_LIMIT]);
			rc = CLI_USAGE;
			goto out;
		}
		limit = (size_t)l;
	}
	if ((s = cli_store_open(c)) == NULL) {
		rc = CLI_FAIL;
		goto out;
	}
	if (store_audit_search(s, since, limit, &v, &n) != 0) {
		rc = cli_store_fail(s, "audit");
		goto out;
	}
	char ts[32];
	if (a.val[A_JSON]) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:s, s:I, s:o, s:o, s:o, s:o}",
			    "time", cli_time(v[i].ts, ts, sizeof(ts)), "ts", (json_int_t)v[i].ts,
			    "by", cli_json_str(v[i].actor), "action", cli_json_str(v[i].action),
			    "object", cli_json_str(v[i].object), "detail", cli_json_str(v[i].detail)));
		json_t *doc = json_pack("{s:o}", "audit", arr);
		if (cli_json_print(doc) != 0)
			rc = CLI_FAIL;
		json_decref(doc);
	} else {
		for (size_t i = 0; i < n; i++) {
			printf("%s  ", cli_time(v[i].ts, ts, sizeof(ts)));
			cli_print_safe(v[i].actor);
			fputs("  ", stdout);
			cli_print_safe(v[i].action);
			fputs("  ", stdout);
			cli_print_safe(v[i].object);
			if (v[i].detail[0]) {
				fputs("  ", stdout);
				cli_print_safe(v[i].detail);
			}
			fputc('\n', stdout);
		}
	}
out:
	store_audit_free(v, n);
	if (s)
		store_close(s);
	cli_args_free(&a);
	return rc;
}
