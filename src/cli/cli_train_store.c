/*
 * cli_train_store.c - the Bayes store itself rather than messages:
 * `mailward train --status [--json]` says what it has learned and whether
 * the classifier gives an opinion yet; `mailward train --expire
 * [--max-tokens N]` keeps it within its size, as the server does hourly
 * (docs/bayes.md, "Expiry").
 *
 * --status reads; it never creates the store (a missing one is reported as
 * nothing learned).  --expire opens it as training does.
 *
 * Exit status: 0 done, 2 bad usage, 3 a storage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "base/util.h"
#include "bayes/bayes.h"
#include "cli/cli.h"
#include "conf/conf.h"
#include "store/store.h"

static void *
time_json(int64_t t)
{
	char buf[40];

	return t > 0 ? json_string(cli_time(t, buf, sizeof(buf))) : json_null();
}

static void *
class_json(const struct store_bayes_stats *b, int c, int64_t total)
{
	json_t *o = json_object();

	json_object_set_new(o, "messages", json_integer(b->msgs[c]));
	json_object_set_new(o, "reinforced", json_integer(b->reinforced[c]));
	json_object_set_new(o, "total", json_integer(total));
	return o;
}

static int
status_print(const struct conf *c, const struct store_bayes_stats *b, const char *db, int json)
{
	struct bayes_params p;
	char t1[40], t2[40];

	bayes_params_defaults(&p);
	int active = bayes_params_trained(&p, b->state.nspam, b->state.nham);
	if (json) {
		json_t *o = json_object();
		json_object_set_new(o, "store", cli_json_str(db));
		json_object_set_new(o, "spam", class_json(b, 1, b->state.nspam));
		json_object_set_new(o, "ham", class_json(b, 0, b->state.nham));
		json_object_set_new(o, "active", json_boolean(active));
		json_object_set_new(o, "min_spam", json_integer(p.min_spam));
		json_object_set_new(o, "min_ham", json_integer(p.min_ham));
		json_object_set_new(o, "tokens", json_integer(b->tokens));
		json_object_set_new(o, "tokens_once", json_integer(b->tokens_once));
		json_object_set_new(o, "max_tokens", json_integer(c->bayes_max_tokens));
		json_object_set_new(o, "last_learned", time_json(b->last_learned));
		json_object_set_new(o, "oldest_token", time_json(b->oldest_atime));
		json_object_set_new(o, "version", json_integer(b->state.version));
		int rc = cli_json_print(o) == 0 ? CLI_OK : CLI_FAIL;
		json_decref(o);
		return rc;
	}
	printf("store: ");
	cli_print_safe(db);
	putchar('\n');
	printf("learned: %lld spam (%lld counting 3 times), %lld ham (%lld counting 3 times)\n",
	    (long long)b->msgs[1], (long long)b->reinforced[1], (long long)b->msgs[0],
	    (long long)b->reinforced[0]);
	printf("totals: %lld spam, %lld ham\n", (long long)b->state.nspam, (long long)b->state.nham);
	if (active)
		printf("classifier: active (it needs %lld spam and %lld ham)\n",
		    (long long)p.min_spam, (long long)p.min_ham);
	else
		printf("classifier: no opinion yet: it needs %lld spam and %lld ham, "
		    "BAYES_UNAVAILABLE until then\n", (long long)p.min_spam, (long long)p.min_ham);
	printf("tokens: %lld (%lld seen in one message), at most %lld ([bayes] max_tokens)\n",
	    (long long)b->tokens, (long long)b->tokens_once, (long long)c->bayes_max_tokens);
	printf("last learned: %s\n", cli_time(b->last_learned, t1, sizeof(t1)));
	printf("least recently learned token: %s\n", cli_time(b->oldest_atime, t2, sizeof(t2)));
	return CLI_OK;
}

static int
train_status(const struct conf *c, int json)
{
	struct store_bayes_stats b;
	struct stat sb;
	struct store *st;
	char db[1024];

	conf_path(c, "mailward.db", db, sizeof(db));
	memset(&b, 0, sizeof(b));
	if (stat(db, &sb) != 0)
		return status_print(c, &b, db, json);
	if ((st = cli_store_open(c)) == NULL)
		return CLI_FAIL;
	if (store_bayes_stats(st, &b) < 0) {
		int rc = cli_store_fail(st, "reading the Bayes store");
		store_close(st);
		return rc;
	}
	store_close(st);
	return status_print(c, &b, db, json);
}

static int
train_expire(const struct conf *c, const char *max_arg)
{
	int64_t max = c->bayes_max_tokens, removed = 0;
	struct store_bayes_stats b;
	struct store *st;

	if (max_arg != NULL) {
		char *end;
		long long v = strtoll(max_arg, &end, 10);
		if (*max_arg == '\0' || *end != '\0' || v < 1 || v > 1000000000) {
			cli_err("train: --max-tokens takes a whole number from 1 to 1000000000");
			return CLI_USAGE;
		}
		max = v;
	}
	if ((st = cli_store_open(c)) == NULL)
		return CLI_FAIL;
	if (bayes_expire(st, max, &removed) < 0 || store_bayes_stats(st, &b) < 0) {
		int rc = cli_store_fail(st, "expiring Bayes tokens");
		store_close(st);
		return rc;
	}
	if (removed > 0) {
		char t[40];
		printf("expired %lld tokens, %lld left (at most %lld); least recently learned "
		    "token now %s\n", (long long)removed, (long long)b.tokens, (long long)max,
		    cli_time(b.oldest_atime, t, sizeof(t)));
		cli_train_snapshot(c, st);
	} else {
		printf("%lld tokens, at most %lld: nothing to expire\n", (long long)b.tokens,
		    (long long)max);
	}
	store_close(st);
	return CLI_OK;
}

int
cli_train_store(const struct conf *c, int argc, char **argv)
{
	static const char *const opts[] = { "--status", "--expire", "--json", "--max-tokens=",
		NULL };
	enum { O_STATUS, O_EXPIRE, O_JSON, O_MAX };
	struct cli_args a;
	int rc;

	if (cli_parse(argc, argv, 1, opts, &a) != 0) {
		cli_args_free(&a);
		return CLI_USAGE;
	}
	int status = CLI_OPT(&a, O_STATUS) != NULL, expire = CLI_OPT(&a, O_EXPIRE) != NULL;
	if (a.help) {
		cli_usage_group("train");
		rc = CLI_OK;
	} else if (status + expire != 1 || a.npos > 0 ||
	    (status && CLI_OPT(&a, O_MAX) != NULL) || (expire && CLI_OPT(&a, O_JSON) != NULL)) {
		cli_err("usage: train --status [--json] | train --expire [--max-tokens N]");
		rc = CLI_USAGE;
	} else if (status) {
		rc = train_status(c, CLI_OPT(&a, O_JSON) != NULL);
	} else {
		rc = train_expire(c, CLI_OPT(&a, O_MAX));
	}
	cli_args_free(&a);
	return rc;
}
