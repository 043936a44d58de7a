/*
 * cli_tenant.c - `mailward tenant add|list|show|set|remove`.
 *
 * Checks that have a clear answer for the user (duplicate name, tenant still
 * owning domains) are made here before writing, so the store's refusal is
 * only ever a real storage error (exit 3), never a confusing one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/util.h"
#include "cli/cli.h"
#include "conf/conf.h"
#include "store/store.h"

static int
valid_action(const char *a)
{
	return strcmp(a, "reject") == 0 || strcmp(a, "quarantine") == 0;
}

static int
tenant_add(struct store *s, const struct cli_args *a)
{
	const char *name = a->pos[0];
	const char *action = a->val[0] != NULL ? a->val[0] : "reject";
	struct store_tenant t;
	int r;

	if (a->npos != 1) {
		cli_err("usage: tenant add NAME [--action reject|quarantine]");
		return CLI_USAGE;
	}
	if (!cli_valid_tenant_name(name)) {
		cli_err("bad tenant name '%s' (letters, digits, '.', '-', '_'; at most 64)", name);
		return CLI_USAGE;
	}
	if (!valid_action(action)) {
		cli_err("bad --action '%s' (reject or quarantine)", action);
		return CLI_USAGE;
	}
	r = store_tenant_get(s, name, &t);
	if (r < 0)
		return cli_store_fail(s, "tenant add");
	if (r == 0) {
		/* store_tenant_free() also frees the array: members only here. */
		free(t.name);
		free(t.action);
		cli_err("tenant '%s' already exists", name);
		return CLI_USAGE;
	}
	if (store_tenant_add(s, name, action) != 0)
		return cli_store_fail(s, "tenant add");
	printf("tenant %s added (action %s)\n", name, action);
	return CLI_OK;
}

static json_t *
tenant_json(const struct store_tenant *t)
{
	char ts[32];

	/* A threshold not set is null: the server's [scan] default applies. */
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o}", "name", cli_json_str(t->name),
	    "action", cli_json_str(t->action), "created",
	    t->created > 0 ? json_string(cli_time(t->created, ts, sizeof(ts))) : json_null(),
	    "tag", t->tag == STORE_SCORE_DEFAULT ? json_null() : json_real((double)t->tag / 100.0),
	    "probable_spam", t->probable_spam == STORE_SCORE_DEFAULT ? json_null() :
	    json_real((double)t->probable_spam / 100.0), "bulk", t->bulk,
	    "retention", t->retention > 0 ? json_integer(t->retention) : json_null(),
	    "digest", t->digest >= 0 ? json_integer(t->digest) : json_null());
}

static const char *
threshold_text(int64_t v, char *buf, size_t n)
{
	if (v == STORE_SCORE_DEFAULT)
		return "default ([scan] in the configuration)";
	conf_format_score(v, buf, n);
	return buf;
}

static int
tenant_list(struct store *s, const struct cli_args *a)
{
	struct store_tenant *t = NULL;
	size_t n = 0;
	char ts[32];
	int rc = CLI_OK;

	if (a->npos != 0) {
		cli_err("usage: tenant list [--json]");
		return CLI_USAGE;
	}
	if (store_tenant_list(s, &t, &n) != 0)
		return cli_store_fail(s, "tenant list");
	if (a->val[1] != NULL) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++) {
			json_array_append_new(arr, tenant_json(&t[i]));
		}
		json_t *doc = json_pack("{s:o}", "tenants", arr);
		if (cli_json_print(doc) != 0)
			rc = CLI_FAIL;
		json_decref(doc);
	} else {
		if (n > 0)
			printf("%-24s %-11s %s\n", "TENANT", "ACTION", "CREATED");
		for (size_t i = 0; i < n; i++)
			printf("%-24s %-11s %s\n", t[i].name, t[i].action ? t[i].action : "-",
			    cli_time(t[i].created, ts, sizeof(ts)));
	}
	store_tenant_free(t, n);
	return rc;
}

static int
tenant_show(struct store *s, const struct cli_args *a)
{
	struct store_tenant t;
	struct store_domain *d = NULL;
	size_t nd = 0;
	char ts[32];
	int r, rc = CLI_OK;

	if (a->npos != 1) {
		cli_err("usage: tenant show NAME [--json]");
		return CLI_USAGE;
	}
	memset(&t, 0, sizeof(t));
	r = store_tenant_get(s, a->pos[0], &t);
	if (r < 0)
		return cli_store_fail(s, "tenant show");
	if (r == 1) {
		cli_err("tenant '%s' not found", a->pos[0]);
		return CLI_NOTFOUND;
	}
	if (store_domain_list(s, t.name, &d, &nd) != 0) {
		rc = cli_store_fail(s, "tenant show");
		goto out;
	}
	if (a->val[1] != NULL) {
		json_t *o = tenant_json(&t);
		json_t *doms = json_array();
		for (size_t i = 0; i < nd; i++)
			json_array_append_new(doms, json_pack("{s:o, s:o}", "domain", cli_json_str(d[i].domain),
			    "deliver", cli_json_str(d[i].deliver)));
		json_object_set_new(o, "domains", doms);
		if (cli_json_print(o) != 0)
			rc = CLI_FAIL;
		json_decref(o);
	} else {
		printf("tenant:   %s\n", t.name);
		char b1[32], b2[32];
		printf("action:   %s\n", t.action ? t.action : "-");
		printf("tag:      %s\n", threshold_text(t.tag, b1, sizeof(b1)));
		printf("probable_spam: %s\n", threshold_text(t.probable_spam, b2, sizeof(b2)));
		printf("bulk:     %s\n", t.bulk);
		if (t.retention > 0)
			printf("retention: %llds\n", (long long)t.retention);
		else
			printf("retention: default ([quarantine] in the configuration)\n");
		if (t.digest >= 0)
			printf("digest:   %s%lld%s\n", t.digest ? "every " : "", (long long)t.digest,
			    t.digest ? "s" : " (never)");
		else
			printf("digest:   default ([quarantine] in the configuration)\n");
		printf("created:  %s\n", cli_time(t.created, ts, sizeof(ts)));
		printf("domains:  %zu\n", nd);
		for (size_t i = 0; i < nd; i++)
			printf("  %-30s %s\n", d[i].domain, d[i].deliver ? d[i].deliver : "-");
	}
out:
	store_domain_free(d, nd);
	free(t.name);
	free(t.action);
	return rc;
}

static int
tenant_set(struct store *s, const struct cli_args *a)
{
	int r;

	if (a->npos < 2) {
		cli_err("usage: tenant set NAME KEY=VALUE...");
		return CLI_USAGE;
	}
	/* Check every pair before writing any, so a typo in the second pair
	 * does not leave the first one applied. */
	for (size_t i = 1; i < a->npos; i++) {
		const char *eq = strchr(a->pos[i], '=');
		if (eq == NULL || eq == a->pos[i]) {
			cli_err("expected KEY=VALUE, got '%s'", a->pos[i]);
			return CLI_USAGE;
		}
		if (strncmp(a->pos[i], "action=", 7) == 0 && !valid_action(eq + 1)) {
			cli_err("bad action '%s' (reject or quarantine)", eq + 1);
			return CLI_USAGE;
		}
		if (strncmp(a->pos[i], "name=", 5) == 0) {
			cli_err("a tenant cannot be renamed");
			return CLI_USAGE;
		}
	}
	/* One transaction: a refused pair leaves none of them applied. */
	if (store_begin(s) < 0)
		return cli_store_fail(s, "tenant set");
	for (size_t i = 1; i < a->npos; i++) {
		const char *eq = strchr(a->pos[i], '=');
		char *key = xstrndup(a->pos[i], (size_t)(eq - a->pos[i]));

		r = store_tenant_set(s, a->pos[0], key, eq + 1);
		if (r == 1) {
			free(key);
			store_rollback(s);
			cli_err("tenant '%s' not found", a->pos[0]);
			return CLI_NOTFOUND;
		}
		if (r != 0) {
			/* The store knows which keys exist; an unknown key is the
			 * usual reason it refuses, so say which one.  XXX the store
			 * API cannot tell that apart from a real storage error,
			 * which therefore also exits 2 here. */
			cli_err("tenant set %s: %s", key, store_error(s));
			free(key);
			store_rollback(s);
			return CLI_USAGE;
		}
		free(key);
	}
	if (store_commit(s) < 0)
		return cli_store_fail(s, "tenant set");
	for (size_t i = 1; i < a->npos; i++) {
		const char *eq = strchr(a->pos[i], '=');
		printf("tenant %s: %.*s set to %s\n", a->pos[0], (int)(eq - a->pos[i]), a->pos[i],
		    eq + 1);
	}
	return CLI_OK;
}

static int
tenant_remove(struct store *s, const struct cli_args *a)
{
	struct store_domain *d = NULL;
	size_t nd = 0;
	int r;

	if (a->npos != 1) {
		cli_err("usage: tenant remove NAME");
		return CLI_USAGE;
	}
	if (store_domain_list(s, a->pos[0], &d, &nd) != 0)
		return cli_store_fail(s, "tenant remove");
	store_domain_free(d, nd);
	if (nd > 0) {
		cli_err("tenant '%s' still has %zu domain(s); remove them first", a->pos[0], nd);
		return CLI_USAGE;
	}
	r = store_tenant_remove(s, a->pos[0]);
	if (r == 1) {
		cli_err("tenant '%s' not found", a->pos[0]);
		return CLI_NOTFOUND;
	}
	if (r != 0)
		return cli_store_fail(s, "tenant remove");
	printf("tenant %s removed\n", a->pos[0]);
	return CLI_OK;
}

int
cli_tenant(const struct conf *c, int argc, char **argv)
{
	static const char *const opts[] = { "--action=", "--json", NULL };
	struct cli_args a;
	struct store *s = NULL;
	const char *sub = argc > 1 ? argv[1] : NULL;
	int rc;

	if (sub == NULL || strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0) {
		if (sub == NULL)
			cli_err("usage: tenant add|list|show|set|remove ...");
		else
			cli_usage_group("tenant");
		return sub == NULL ? CLI_USAGE : CLI_OK;
	}
	if (cli_parse(argc, argv, 2, opts, &a) != 0) {
		rc = CLI_USAGE;
		goto out;
	}
	if (a.help) {
		cli_usage_group("tenant");
		rc = CLI_OK;
		goto out;
	}
	int known = strcmp(sub, "add") == 0 || strcmp(sub, "list") == 0 || strcmp(sub, "show") == 0 ||
	    strcmp(sub, "set") == 0 || strcmp(sub, "remove") == 0;
	if (!known) {
		cli_err("unknown tenant command '%s' (add, list, show, set, remove)", sub);
		rc = CLI_USAGE;
		goto out;
	}
	if (a.val[0] != NULL && strcmp(sub, "add") != 0) {
		cli_err("--action only applies to 'tenant add' (use 'tenant set NAME action=...')");
		rc = CLI_USAGE;
		goto out;
	}
	if (a.val[1] != NULL && strcmp(sub, "list") != 0 && strcmp(sub, "show") != 0) {
		cli_err("--json only applies to 'tenant list' and 'tenant show'");
		rc = CLI_USAGE;
		goto out;
	}
	if ((s = cli_store_open(c)) == NULL) {
		rc = CLI_FAIL;
		goto out;
	}
	if (strcmp(sub, "add") == 0)
		rc = tenant_add(s, &a);
	else if (strcmp(sub, "list") == 0)
		rc = tenant_list(s, &a);
	else if (strcmp(sub, "show") == 0)
		rc = tenant_show(s, &a);
	else if (strcmp(sub, "set") == 0)
		rc = tenant_set(s, &a);
	else
		rc = tenant_remove(s, &a);
out:
	if (s != NULL)
		store_close(s);
	cli_args_free(&a);
	return rc;
}
