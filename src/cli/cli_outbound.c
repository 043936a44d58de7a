/*
 * cli_outbound.c - `mailward outbound record MESSAGE-ID... --tenant T
 * [--to ADDRESS]...`
 * (R16): the Message-IDs of mail a tenant sent, so a reply to it (its
 * In-Reply-To or References naming one) is recognised as a reply and not
 * judged as a stranger's first mail.
 *
 * Meant to be called by the tenant's outgoing mail path, possibly once per
 * message, so it is not audited (the volume would drown the audit trail)
 * and "-" reads one ID per line from stdin for batches.  IDs are kept for
 * [reputation] outbound_retention.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cli/cli.h"
#include "conf/conf.h"
#include "content/content.h"
#include "store/store.h"

enum { O_TENANT, O_TO };

/* The registered domains of the --to addresses (each value may hold
 * several, separated by commas or spaces), deduplicated. */
struct rcpt_domains {
	char (*d)[256];
	size_t n;
};

static int
rcpt_domains_parse(const struct cli_args *a, struct rcpt_domains *out)
{
	out->d = NULL;
	out->n = 0;
	for (size_t i = 0; i < a->nlist[O_TO]; i++) {
		char *copy = xstrdup(a->list[O_TO][i]), *save = NULL;
		for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
			size_t l = strlen(t);
			if (l >= 2 && t[0] == '<' && t[l - 1] == '>') {
				t[l - 1] = '\0';
				t++;
			}
			const char *at = strrchr(t, '@');
			if (at == NULL || at == t || at[1] == '\0' || strlen(at + 1) > 253) {
				cli_err("bad --to address '%s': want local@domain", t);
				free(copy);
				free(out->d);
				return -1;
			}
			char reg[256];
			content_reg_domain(at + 1, reg, sizeof(reg));
			size_t k = 0;
			while (k < out->n && strcmp(out->d[k], reg) != 0)
				k++;
			if (k == out->n) {
				out->d = xrealloc(out->d, (out->n + 1) * sizeof(*out->d));
				mw_strlcpy(out->d[out->n++], reg, sizeof(out->d[0]));
			}
		}
		free(copy);
	}
	return 0;
}

/* An ID longer than this is not one a mail program wrote: RFC 5322 lines
 * are at most 998 bytes, header name included. */
#define MSGID_MAX 990

/* Strips one pair of <> and checks what is left: 0, or -1 with *why. */
static int
msgid_clean(const char *in, char *out, size_t n, const char **why)
{
	size_t len = strlen(in);

	if (len >= 2 && in[0] == '<' && in[len - 1] == '>') {
		in++;
		len -= 2;
	}
	if (len == 0) {
		*why = "empty";
		return -1;
	}
	if (len > MSGID_MAX || len >= n) {
		*why = "too long";
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)in[i] <= 0x20 || in[i] == 0x7f || in[i] == '<' || in[i] == '>') {
			*why = "space, control character or <> inside";
			return -1;
		}
	memcpy(out, in, len);
	out[len] = '\0';
	return 0;
}

/* Records one ID: CLI_OK, CLI_USAGE for a bad one (reported, the rest go
 * on), CLI_FAIL on a storage error (the caller stops). */
static int
record_one(struct store *s, const char *tenant, const char *raw, int64_t now,
    const struct rcpt_domains *rd)
{
	char id[MSGID_MAX + 1];
	const char *why = NULL;

	if (msgid_clean(raw, id, sizeof(id), &why) != 0) {
		cli_err("bad Message-ID '%s': %s", raw, why);
		return CLI_USAGE;
	}
	int r = store_outbound_add(s, tenant, id, now);
	if (r < 0)
		return cli_store_fail(s, "outbound record");
	int added = 0;
	for (size_t i = 0; i < rd->n; i++) {
		int d = store_outbound_rcpt_add(s, tenant, id, rd->d[i]);
		if (d < 0)
			return cli_store_fail(s, "outbound record");
		added += d == 0;
	}
	fputc('<', stdout);
	cli_print_safe(id);
	printf("> %s", r == 0 ? "recorded" : "known");
	if (rd->n > 0) {
		printf(", sent to");
		for (size_t i = 0; i < rd->n; i++)
			printf("%s %s", i ? "," : "", rd->d[i]);
		if (r != 0)
			printf(" (%d new)", added);
	}
	putchar('\n');
	return CLI_OK;
}

static int
record_stdin(struct store *s, const char *tenant, int64_t now, const struct rcpt_domains *rd)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	int rc = CLI_OK;

	while ((got = getline(&line, &cap, stdin)) >= 0) {
		while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
			line[--got] = '\0';
		if (got == 0)
			continue;
		int r = record_one(s, tenant, line, now, rd);
		if (r > rc)
			rc = r;
		if (r == CLI_FAIL)
			break;
	}
	free(line);
	return rc;
}

static int
outbound_record(const struct conf *c, const struct cli_args *a)
{
	const char *tenant = a->val[O_TENANT];
	int64_t now = mw_now();
	struct store *s;
	int rc = CLI_OK;

	struct rcpt_domains rd;

	if (a->npos == 0 || tenant == NULL) {
		cli_err("usage: outbound record MESSAGE-ID...|- --tenant T [--to ADDRESS]...");
		return CLI_USAGE;
	}
	if (rcpt_domains_parse(a, &rd) != 0)
		return CLI_USAGE;
	if ((s = cli_store_open(c)) == NULL) {
		free(rd.d);
		return CLI_FAIL;
	}
	if ((rc = cli_tenant_check(s, tenant)) != CLI_OK)
		goto out;
	/* One transaction for the lot: a batch costs one fsync, not one each. */
	if (store_begin(s) != 0) {
		rc = cli_store_fail(s, "outbound record");
		goto out;
	}
	for (size_t i = 0; i < a->npos && rc != CLI_FAIL; i++) {
		int r = strcmp(a->pos[i], "-") == 0 ? record_stdin(s, tenant, now, &rd) :
		    record_one(s, tenant, a->pos[i], now, &rd);
		if (r > rc)
			rc = r;
	}
	if (rc == CLI_FAIL) {
		store_rollback(s);
		cli_err("nothing was recorded");
	} else if (store_commit(s) != 0)
		rc = cli_store_fail(s, "outbound record");
out:
	store_close(s);
	free(rd.d);
	return rc;
}

int
cli_outbound(const struct conf *c, int argc, char **argv)
{
	static const char *const opts[] = { "--tenant=", "--to=*", NULL };
	const char *sub = argc > 1 ? argv[1] : NULL;
	struct cli_args a;
	int rc;

	if (sub == NULL || strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0) {
		cli_usage_group("outbound");
		return sub == NULL ? CLI_USAGE : CLI_OK;
	}
	if (strcmp(sub, "record") != 0) {
		cli_err("unknown outbound command '%s' (record)", sub);
		return CLI_USAGE;
	}
	if (cli_parse(argc, argv, 2, opts, &a) != 0)
		return CLI_USAGE;
	if (a.help)
		cli_usage_group("outbound"), rc = CLI_OK;
	else
		rc = outbound_record(c, &a);
	cli_args_free(&a);
	return rc;
}
