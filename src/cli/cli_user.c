/*
 * cli_user.c - `mailward user add|list|remove` (R3: valid recipients,
 * catch-alls "@domain", aliases).
 *
 * `user add` checks every address (syntax, hosted domain, not taken) before
 * it writes any, so a bad alias does not leave a half-done change behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/util.h"
#include "cli/cli.h"
#include "store/store.h"

enum { O_ALIAS, O_DOMAIN, O_JSON };

#define ADDR_MAX 320

/* Looks address up among all users: 0 absent, 1 present, -1 storage error.
 * alias_of_out (may be NULL) gets a copy of its alias_of ("" for primary). */
static int
user_find(struct store *s, const char *address, char *alias_of_out, size_t n)
{
	struct store_user *u = NULL;
	size_t nu = 0;
	const char *dom = strrchr(address, '@') + 1;
	int found = 0;

	if (store_user_list(s, dom, &u, &nu) != 0)
		return -1;
	for (size_t i = 0; i < nu; i++) {
		if (u[i].address == NULL || strcmp(u[i].address, address) != 0)
			continue;
		found = 1;
		if (alias_of_out != NULL)
			mw_strlcpy(alias_of_out, u[i].alias_of ? u[i].alias_of : "", n);
	}
	store_user_free(u, nu);
	return found;
}

/* 1 if the domain of address is hosted, 0 if not, -1 storage error. */
static int
domain_hosted(struct store *s, const char *address)
{
	struct store_domain *d = NULL;
	size_t n = 0;
	const char *dom = strrchr(address, '@') + 1;
	int found = 0;

	if (store_domain_list(s, NULL, &d, &n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (d[i].domain != NULL && strcmp(d[i].domain, dom) == 0)
			found = 1;
	store_domain_free(d, n);
	return found;
}

static int
user_add(struct store *s, const struct cli_args *a)
{
	char primary[ADDR_MAX], existing_of[ADDR_MAX];
	size_t na = a->nlist[O_ALIAS];
	char (*alias)[ADDR_MAX] = NULL;
	const char *why = NULL;
	int r, rc = CLI_OK, have_primary = 0;

	if (a->npos != 1) {
		cli_err("usage: user add ADDRESS [--alias ADDRESS]...");
		return CLI_USAGE;
	}
	if (cli_normalize_address(a->pos[0], primary, sizeof(primary), &why) != 0) {
		cli_err("bad address '%s': %s", a->pos[0], why);
		return CLI_USAGE;
	}
	alias = na > 0 ? xcalloc(na, sizeof(*alias)) : NULL;
	for (size_t i = 0; i < na; i++) {
		if (cli_normalize_address(a->list[O_ALIAS][i], alias[i], ADDR_MAX, &why) != 0) {
			cli_err("bad alias '%s': %s", a->list[O_ALIAS][i], why);
			rc = CLI_USAGE;
			goto out;
		}
		if (strcmp(alias[i], primary) == 0) {
			cli_err("'%s' cannot be an alias of itself", alias[i]);
			rc = CLI_USAGE;
			goto out;
		}
	}
	/* Every domain must be hosted: the store would refuse, but we want to
	 * say which address is the problem before anything is written. */
	for (size_t i = 0; i <= na; i++) {
		const char *addr = i == 0 ? primary : alias[i - 1];
		r = domain_hosted(s, addr);
		if (r < 0) {
			rc = cli_store_fail(s, "user add");
			goto out;
		}
		if (r == 0) {
			cli_err("domain of '%s' is not hosted (add it with 'domain add')", addr);
			rc = CLI_USAGE;
			goto out;
		}
		r = user_find(s, addr, existing_of, sizeof(existing_of));
		if (r < 0) {
			rc = cli_store_fail(s, "user add");
			goto out;
		}
		if (r == 1 && i == 0) {
			/* Adding aliases to an existing address is the way to
			 * extend it; only a bare repeat is an error. */
			if (existing_of[0] != '\0') {
				cli_err("'%s' is already an alias of '%s'", primary, existing_of);
				rc = CLI_USAGE;
				goto out;
			}
			have_primary = 1;
			if (na == 0) {
				cli_err("user '%s' already exists", primary);
				rc = CLI_USAGE;
				goto out;
			}
		} else if (r == 1) {
			cli_err("'%s' already exists", addr);
			rc = CLI_USAGE;
			goto out;
		}
	}
	if (!have_primary) {
		r = store_user_add(s, primary, NULL);
		if (r == 1) {
			cli_err("domain of '%s' is not hosted", primary);
			rc = CLI_USAGE;
			goto out;
		}
		if (r != 0) {
			rc = cli_store_fail(s, "user add");
			goto out;
		}
		printf("user %s added\n", primary);
	}
	for (size_t i = 0; i < na; i++) {
		r = store_user_add(s, alias[i], primary);
		if (r == 1) {
			cli_err("domain of '%s' is not hosted", alias[i]);
			rc = CLI_USAGE;
			goto out;
		}
		if (r != 0) {
			rc = cli_store_fail(s, "user add");
			goto out;
		}
		printf("alias %s -> %s added\n", alias[i], primary);
	}
out:
	free(alias);
	return rc;
}

static int
user_list(struct store *s, const struct cli_args *a)
{
	struct store_user *u = NULL;
	size_t n = 0;
	char dom[256];
	const char *domain = NULL;
	int rc = CLI_OK;

	if (a->npos != 0) {
		cli_err("usage: user list [--domain D] [--json]");
		return CLI_USAGE;
	}
	if (a->val[O_DOMAIN] != NULL) {
		mw_strlcpy(dom, a->val[O_DOMAIN][0] == '@' ? a->val[O_DOMAIN] + 1 : a->val[O_DOMAIN],
		    sizeof(dom));
		mw_str_lower(dom);
		if (!cli_valid_domain(dom)) {
			cli_err("bad --domain '%s'", a->val[O_DOMAIN]);
			return CLI_USAGE;
		}
		domain = dom;
	}
	if (store_user_list(s, domain, &u, &n) != 0)
		return cli_store_fail(s, "user list");
	if (a->val[O_JSON] != NULL) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:o, s:o, s:o}", "address",
			    cli_json_str(u[i].address), "alias_of", cli_json_str(u[i].alias_of),
			    "tenant", cli_json_str(u[i].tenant)));
		json_t *doc = json_pack("{s:o}", "users", arr);
		if (cli_json_print(doc) != 0)
			rc = CLI_FAIL;
		json_decref(doc);
	} else {
		if (n > 0)
			printf("%-36s %-36s %s\n", "ADDRESS", "ALIAS OF", "TENANT");
		for (size_t i = 0; i < n; i++)
			printf("%-36s %-36s %s\n", u[i].address, u[i].alias_of ? u[i].alias_of : "-",
			    u[i].tenant ? u[i].tenant : "-");
	}
	store_user_free(u, n);
	return rc;
}

static int
user_remove(struct store *s, const struct cli_args *a)
{
	char addr[ADDR_MAX];
	const char *why = NULL;
	int r;

	if (a->npos != 1) {
		cli_err("usage: user remove ADDRESS");
		return CLI_USAGE;
	}
	if (cli_normalize_address(a->pos[0], addr, sizeof(addr), &why) != 0) {
		cli_err("bad address '%s': %s", a->pos[0], why);
		return CLI_USAGE;
	}
	r = store_user_remove(s, addr);
	if (r == 1) {
		cli_err("user '%s' not found", addr);
		return CLI_NOTFOUND;
	}
	if (r != 0)
		return cli_store_fail(s, "user remove");
	printf("user %s removed\n", addr);
	return CLI_OK;
}

int
cli_user(const struct conf *c, int argc, char **argv)
{
	static const char *const opts[] = { "--alias=*", "--domain=", "--json", NULL };
	struct cli_args a;
	struct store *s = NULL;
	const char *sub = argc > 1 ? argv[1] : NULL;
	int rc;

	if (sub == NULL) {
		cli_err("usage: user add|list|remove ...");
		return CLI_USAGE;
	}
	if (strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0) {
		cli_usage_group("user");
		return CLI_OK;
	}
	if (cli_parse(argc, argv, 2, opts, &a) != 0) {
		rc = CLI_USAGE;
		goto out;
	}
	if (a.help) {
		cli_usage_group("user");
		rc = CLI_OK;
		goto out;
	}
	if (strcmp(sub, "add") != 0 && strcmp(sub, "list") != 0 && strcmp(sub, "remove") != 0) {
		cli_err("unknown user command '%s' (add, list, remove)", sub);
		rc = CLI_USAGE;
		goto out;
	}
	if ((a.val[O_ALIAS] != NULL && strcmp(sub, "add") != 0) ||
	    ((a.val[O_DOMAIN] != NULL || a.val[O_JSON] != NULL) && strcmp(sub, "list") != 0)) {
		cli_err("option not valid for 'user %s'", sub);
		rc = CLI_USAGE;
		goto out;
	}
	if ((s = cli_store_open(c)) == NULL) {
		rc = CLI_FAIL;
		goto out;
	}
	if (strcmp(sub, "add") == 0)
		rc = user_add(s, &a);
	else if (strcmp(sub, "list") == 0)
		rc = user_list(s, &a);
	else
		rc = user_remove(s, &a);
out:
	if (s != NULL)
		store_close(s);
	cli_args_free(&a);
	return rc;
}
