/*
 * cli_domain.c - `mailward domain add|list|remove`.
 *
 * A hosted domain belongs to one tenant and has one destination URL.  The
 * URL is checked and normalised here (a relative maildir path becomes
 * absolute) because the server reads it later from another directory.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/util.h"
#include "cli/cli.h"
#include "store/store.h"

enum { O_TENANT, O_DELIVER, O_JSON };

/* 1 if domain is hosted already, 0 if not, -1 on a storage error. */
static int
domain_exists(struct store *s, const char *domain)
{
	struct store_domain *d = NULL;
	size_t n = 0;
	int found = 0;

	if (store_domain_list(s, NULL, &d, &n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (d[i].domain != NULL && strcmp(d[i].domain, domain) == 0)
			found = 1;
	store_domain_free(d, n);
	return found;
}

static int
domain_add(struct store *s, const struct cli_args *a)
{
	char domain[256], url[PATH_MAX + 16], cwd[PATH_MAX];
	const char *why = NULL;
	int r;

	if (a->npos != 1 || a->val[O_TENANT] == NULL || a->val[O_DELIVER] == NULL) {
		cli_err("usage: domain add DOMAIN --tenant NAME --deliver URL");
		return CLI_USAGE;
	}
	if (mw_snprintf(domain, sizeof(domain), "%s", a->pos[0]) != 0 || !cli_valid_domain(domain)) {
		cli_err("bad domain name '%s'", a->pos[0]);
		return CLI_USAGE;
	}
	mw_str_lower(domain);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		mw_strlcpy(cwd, "/", sizeof(cwd));
	if (cli_deliver_normalize(a->val[O_DELIVER], cwd, url, sizeof(url), &why) != 0) {
		cli_err("bad --deliver '%s': %s", a->val[O_DELIVER], why);
		return CLI_USAGE;
	}
	r = domain_exists(s, domain);
	if (r < 0)
		return cli_store_fail(s, "domain add");
	if (r == 1) {
		cli_err("domain '%s' already exists", domain);
		return CLI_USAGE;
	}
	r = store_domain_add(s, domain, a->val[O_TENANT], url);
	if (r == 1) {
		cli_err("tenant '%s' not found", a->val[O_TENANT]);
		return CLI_USAGE;
	}
	if (r != 0)
		return cli_store_fail(s, "domain add");
	printf("domain %s added (tenant %s, deliver %s)\n", domain, a->val[O_TENANT], url);
	return CLI_OK;
}

static json_t *
override_json(const char *text)
{
	return text[0] ? json_string(text) : json_null();
}

static json_t *
override_score_json(int64_t v)
{
	return v == STORE_SCORE_DEFAULT ? json_null() : json_real((double)v / 100.0);
}

static int
domain_list(struct store *s, const struct cli_args *a)
{
	struct store_domain *d = NULL;
	size_t n = 0;
	const char *tenant = a->val[O_TENANT];
	int rc = CLI_OK;

	if (a->npos != 0) {
		cli_err("usage: domain list [--tenant NAME] [--json]");
		return CLI_USAGE;
	}
	if (tenant != NULL) {
		struct store_tenant t;
		int r = store_tenant_get(s, tenant, &t);
		if (r < 0)
			return cli_store_fail(s, "domain list");
		if (r == 1) {
			cli_err("tenant '%s' not found", tenant);
			return CLI_NOTFOUND;
		}
		free(t.name);
		free(t.action);
	}
	if (store_domain_list(s, tenant, &d, &n) != 0)
		return cli_store_fail(s, "domain list");
	if (a->val[O_JSON] != NULL) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
			    "domain", cli_json_str(d[i].domain), "tenant", cli_json_str(d[i].tenant),
			    "deliver", cli_json_str(d[i].deliver), "action", override_json(d[i].action),
			    "bulk", override_json(d[i].bulk), "tag", override_score_json(d[i].tag),
			    "probable_spam", override_score_json(d[i].probable_spam),
			    "retention", d[i].retention > 0 ? json_integer(d[i].retention) :
			    json_null()));
		json_t *doc = json_pack("{s:o}", "domains", arr);
		if (cli_json_print(doc) != 0)
			rc = CLI_FAIL;
		json_decref(doc);
	} else {
		if (n > 0)
			printf("%-30s %-20s %s\n", "DOMAIN", "TENANT", "DELIVER");
		for (size_t i = 0; i < n; i++)
			printf("%-30s %-20s %s\n", d[i].domain, d[i].tenant ? d[i].tenant : "-",
			    d[i].deliver ? d[i].deliver : "-");
	}
	store_domain_free(d, n);
	return rc;
}

static int
domain_remove(struct store *s, const struct cli_args *a)
{
	struct store_user *u = NULL;
	size_t nu = 0;
	char domain[256];
	int r;

	if (a->npos != 1) {
		cli_err("usage: domain remove DOMAIN");
		return CLI_USAGE;
	}
	mw_strlcpy(domain, a->pos[0], sizeof(domain));
	mw_str_lower(domain);
	r = domain_exists(s, domain);
	if (r < 0)
		return cli_store_fail(s, "domain remove");
	if (r == 0) {
		cli_err("domain '%s' not found", domain);
		return CLI_NOTFOUND;
	}
	if (store_user_list(s, domain, &u, &nu) != 0)
		return cli_store_fail(s, "domain remove");
	store_user_free(u, nu);
	if (nu > 0) {
		cli_err("domain '%s' still has %zu user(s); remove them first", domain, nu);
		return CLI_USAGE;
	}
	r = store_domain_remove(s, domain);
	if (r == 1) {
		cli_err("domain '%s' not found", domain);
		return CLI_NOTFOUND;
	}
	if (r != 0)
		return cli_store_fail(s, "domain remove");
	printf("domain %s removed\n", domain);
	return CLI_OK;
}

/* Overrides of the tenant's settings for one domain (R13). */
static int
domain_set(struct store *s, const struct cli_args *a)
{
	if (a->npos < 2) {
		cli_err("usage: domain set DOMAIN KEY=VALUE...   (action, bulk, tag, probable_spam; "
		    "VALUE 'default' follows the tenant)");
		return CLI_USAGE;
	}
	for (size_t i = 1; i < a->npos; i++) {
		const char *eq = strchr(a->pos[i], '=');
		if (eq == NULL || eq == a->pos[i]) {
			cli_err("expected KEY=VALUE, got '%s'", a->pos[i]);
			return CLI_USAGE;
		}
	}
	if (store_begin(s) < 0)
		return cli_store_fail(s, "domain set");
	for (size_t i = 1; i < a->npos; i++) {
		const char *eq = strchr(a->pos[i], '=');
		char *key = xstrndup(a->pos[i], (size_t)(eq - a->pos[i]));
		int r = store_domain_set(s, a->pos[0], key, eq + 1);
		free(key);
		if (r != 0) {
			cli_err("domain set %s", store_error(s));
			store_rollback(s);
			return r == 1 ? CLI_NOTFOUND : CLI_USAGE;
		}
	}
	if (store_commit(s) < 0)
		return cli_store_fail(s, "domain set");
	for (size_t i = 1; i < a->npos; i++)
		printf("domain %s: %s\n", a->pos[0], a->pos[i]);
	return CLI_OK;
}

int
cli_domain(const struct conf *c, int argc, char **argv)
{
	static const char *const opts[] = { "--tenant=", "--deliver=", "--json", NULL };
	struct cli_args a;
	struct store *s = NULL;
	const char *sub = argc > 1 ? argv[1] : NULL;
	int rc;

	if (sub == NULL) {
		cli_err("usage: domain add|list|remove ...");
		return CLI_USAGE;
	}
	if (strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0) {
		cli_usage_group("domain");
		return CLI_OK;
	}
	if (cli_parse(argc, argv, 2, opts, &a) != 0) {
		rc = CLI_USAGE;
		goto out;
	}
	if (a.help) {
		cli_usage_group("domain");
		rc = CLI_OK;
		goto out;
	}
	if (strcmp(sub, "add") != 0 && strcmp(sub, "list") != 0 && strcmp(sub, "remove") != 0 &&
	    strcmp(sub, "set") != 0) {
		cli_err("unknown domain command '%s' (add, list, set, remove)", sub);
		rc = CLI_USAGE;
		goto out;
	}
	if ((a.val[O_DELIVER] != NULL && strcmp(sub, "add") != 0) ||
	    (a.val[O_TENANT] != NULL && (strcmp(sub, "remove") == 0 || strcmp(sub, "set") == 0)) ||
	    (a.val[O_JSON] != NULL && strcmp(sub, "list") != 0)) {
		cli_err("option not valid for 'domain %s'", sub);
		rc = CLI_USAGE;
		goto out;
	}
	if ((s = cli_store_open(c)) == NULL) {
		rc = CLI_FAIL;
		goto out;
	}
	if (strcmp(sub, "add") == 0)
		rc = domain_add(s, &a);
	else if (strcmp(sub, "list") == 0)
		rc = domain_list(s, &a);
	else if (strcmp(sub, "set") == 0)
		rc = domain_set(s, &a);
	else
		rc = domain_remove(s, &a);
out:
	if (s != NULL)
		store_close(s);
	cli_args_free(&a);
	return rc;
}
