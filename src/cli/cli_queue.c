/*
 * cli_queue.c - `mailward queue list|show|flush|delete`.
 *
 * list and show read the spool files directly: they are read-only and the
 * server need not be running.  flush and delete change the delivery
 * schedule, which lives in the server, so they ask it over the control
 * socket; delete falls back to removing the file when no server runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/util.h"
#include "cli/cli.h"
#include "conf/conf.h"
#include "control/control.h"
#include "spool/spool.h"

enum { O_JSON };

static const char *
status_word(char st)
{
	switch (st) {
	case SPOOL_RCPT_PENDING: return "pending";
	case SPOOL_RCPT_DELIVERED: return "delivered";
	case SPOOL_RCPT_BOUNCED: return "bounced";
	case SPOOL_RCPT_EXPIRED: return "expired";
	case SPOOL_RCPT_DROPPED: return "dropped";
	case SPOOL_RCPT_QUARANTINED: return "quarantined";
	default: return "unknown";
	}
}

static struct spool *
open_spool(const struct conf *c)
{
	char dir[1024], err[256] = "";
	struct spool *sp;

	conf_path(c, "spool", dir, sizeof(dir));
	sp = spool_open(dir, (int)c->fsync, err, sizeof(err));
	if (sp == NULL)
		cli_err("cannot open the spool %s: %s", dir, err[0] ? err : "unknown error");
	return sp;
}

static size_t
pending_count(const struct spool_file *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n_rcpts; i++)
		n += f->rcpts[i].status == SPOOL_RCPT_PENDING;
	return n;
}

static int
queue_list(const struct conf *c, const struct cli_args *a)
{
	struct spool *sp;
	char **qids = NULL;
	size_t n = 0, shown = 0;
	char ts[32], err[256];
	json_t *arr = a->val[O_JSON] != NULL ? json_array() : NULL;
	int rc = CLI_OK;

	if (a->npos != 0) {
		cli_err("usage: queue list [--json]");
		json_decref(arr);
		return CLI_USAGE;
	}
	if ((sp = open_spool(c)) == NULL) {
		json_decref(arr);
		return CLI_FAIL;
	}
	if (spool_list(sp, &qids, &n) != 0) {
		cli_err("cannot list the spool");
		rc = CLI_FAIL;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct spool_file *f = NULL;
		int r = spool_file_open(sp, qids[i], &f, err, sizeof(err));

		if (r == 1)
			continue;       /* delivered and removed while we listed */
		if (r != 0) {
			cli_err("queue file %s unreadable: %s", qids[i], err);
			continue;
		}
		if (arr != NULL) {
			json_t *pend = json_array();
			for (size_t k = 0; k < f->n_rcpts; k++)
				if (f->rcpts[k].status == SPOOL_RCPT_PENDING)
					json_array_append_new(pend, cli_json_str(f->rcpts[k].rcpt));
			json_array_append_new(arr, json_pack("{s:s, s:o, s:s, s:I, s:o, s:I, s:I, s:o}",
			    "qid", f->qid, "ref", cli_json_str(f->ref),
			    "arrival", cli_time(f->arrival, ts, sizeof(ts)), "ts", (json_int_t)f->arrival,
			    "sender", cli_json_str(f->sender), "size", (json_int_t)f->data_len,
			    "recipients", (json_int_t)f->n_rcpts, "pending", pend));
		} else {
			if (shown == 0)
				printf("%-20s %-20s %9s  %-30s %s\n", "QID", "ARRIVAL", "SIZE", "SENDER",
				    "PENDING");
			printf("%-20s %-20s %9lld  ", f->qid, cli_time(f->arrival, ts, sizeof(ts)),
			    (long long)f->data_len);
			if (f->sender == NULL || f->sender[0] == '\0')
				printf("%-30s", "<>");
			else {
				cli_print_safe(f->sender);
				for (size_t l = strlen(f->sender); l < 30; l++)
					fputc(' ', stdout);
			}
			fputc(' ', stdout);
			size_t pc = 0;
			for (size_t k = 0; k < f->n_rcpts; k++) {
				if (f->rcpts[k].status != SPOOL_RCPT_PENDING)
					continue;
				if (pc++ > 0)
					fputc(',', stdout);
				cli_print_safe(f->rcpts[k].rcpt);
			}
			printf(" (%zu/%zu)\n", pending_count(f), f->n_rcpts);
		}
		shown++;
		spool_file_close(f);
	}
	if (arr != NULL) {
		json_t *doc = json_pack("{s:o}", "queue", arr);
		arr = NULL;
		if (cli_json_print(doc) != 0)
			rc = CLI_FAIL;
		json_decref(doc);
	} else {
		printf("%zu message(s) in the queue\n", shown);
	}
out:
	json_decref(arr);
	for (size_t i = 0; i < n; i++)
		free(qids[i]);
	free(qids);
	spool_close(sp);
	return rc;
}

/* The header block of a message (up to the first empty line), heap copy
 * with CR removed so it prints as plain lines. */
static char *
header_block(const char *data, size_t n)
{
	size_t end = n;
	char *out, *o;

	for (size_t i = 0; i + 1 < n; i++) {
		if (data[i] == '\n' && (data[i + 1] == '\n' ||
		    (data[i + 1] == '\r' && i + 2 < n && data[i + 2] == '\n'))) {
			end = i + 1;
			break;
		}
	}
	if (n > 0 && data[0] == '\r' && n > 1 && data[1] == '\n')
		end = 0;
	o = out = xmalloc(end + 1);
	for (size_t i = 0; i < end; i++)
		if (data[i] != '\r' && data[i] != '\0')
			*o++ = data[i];
	*o = '\0';
	return out;
}

static int
queue_show(const struct conf *c, const struct cli_args *a)
{
	struct spool *sp;
	struct spool_file *f = NULL;
	char err[256], ts[32];
	char *data = NULL, *hdrs = NULL;
	size_t dn = 0;
	int r, rc = CLI_OK;

	if (a->npos != 1) {
		cli_err("usage: queue show QID [--json]");
		return CLI_USAGE;
	}
	if (!cli_valid_qid(a->pos[0])) {
		cli_err("bad queue id '%s'", a->pos[0]);
		return CLI_USAGE;
	}
	if ((sp = open_spool(c)) == NULL)
		return CLI_FAIL;
	r = spool_file_open(sp, a->pos[0], &f, err, sizeof(err));
	if (r == 1) {
		cli_err("queue id %s not found", a->pos[0]);
		rc = CLI_NOTFOUND;
		goto out;
	}
	if (r != 0) {
		cli_err("queue file %s unreadable: %s", a->pos[0], err);
		rc = CLI_FAIL;
		goto out;
	}
	if (spool_file_read_data(f, &data, &dn) != 0) {
		cli_err("cannot read the message of %s", a->pos[0]);
		rc = CLI_FAIL;
		goto out;
	}
	hdrs = header_block(data, dn);
	if (a->val[O_JSON] != NULL) {
		json_t *rc_arr = json_array(), *attrs = json_array();
		for (size_t i = 0; i < f->n_rcpts; i++) {
			const struct spool_rcpt *p = &f->rcpts[i];
			json_array_append_new(rc_arr, json_pack("{s:o, s:o, s:o, s:o, s:s}",
			    "rcpt", cli_json_str(p->rcpt), "original", cli_json_str(p->original),
			    "tenant", cli_json_str(p->tenant), "deliver", cli_json_str(p->deliver),
			    "status", status_word(p->status)));
		}
		for (size_t i = 0; i < f->n_attrs; i++)
			json_array_append_new(attrs, cli_json_str(f->attrs[i]));
		json_t *doc = json_pack("{s:s, s:o, s:s, s:I, s:o, s:o, s:o, s:I, s:o, s:o, s:o}",
		    "qid", f->qid, "ref", cli_json_str(f->ref),
		    "arrival", cli_time(f->arrival, ts, sizeof(ts)), "ts", (json_int_t)f->arrival,
		    "client_ip", cli_json_str(f->client_ip), "helo", cli_json_str(f->helo),
		    "sender", cli_json_str(f->sender), "size", (json_int_t)f->data_len,
		    "attrs", attrs, "recipients", rc_arr, "headers", cli_json_str(hdrs));
		if (cli_json_print(doc) != 0)
			rc = CLI_FAIL;
		json_decref(doc);
	} else {
		printf("%-11s %s\n", "qid", f->qid);
		printf("%-11s ", "ref");
		cli_print_safe(f->ref);
		printf("\n%-11s %s\n", "arrival", cli_time(f->arrival, ts, sizeof(ts)));
		printf("%-11s ", "client ip");
		cli_print_safe(f->client_ip);
		printf("\n%-11s ", "helo");
		cli_print_safe(f->helo);
		printf("\n%-11s ", "sender");
		if (f->sender == NULL || f->sender[0] == '\0')
			fputs("<>", stdout);
		else
			cli_print_safe(f->sender);
		printf("\n%-11s %lld\n", "size", (long long)f->data_len);
		for (size_t i = 0; i < f->n_attrs; i++) {
			printf("%-11s ", "attr");
			cli_print_safe(f->attrs[i]);
			fputc('\n', stdout);
		}
		printf("recipients  %zu (%zu pending)\n", f->n_rcpts, pending_count(f));
		for (size_t i = 0; i < f->n_rcpts; i++) {
			const struct spool_rcpt *p = &f->rcpts[i];
			printf("  %-9s ", status_word(p->status));
			cli_print_safe(p->rcpt);
			if (p->original != NULL && p->original[0] && p->rcpt != NULL &&
			    strcmp(p->original, p->rcpt) != 0) {
				fputs(" (to ", stdout);
				cli_print_safe(p->original);
				fputc(')', stdout);
			}
			fputs("  tenant=", stdout);
			cli_print_safe(p->tenant);
			fputs("  ", stdout);
			cli_print_safe(p->deliver);
			fputc('\n', stdout);
		}
		fputs("headers\n", stdout);
		/* Line by line so a header's control bytes are neutralised but
		 * the line structure stays. */
		for (char *line = hdrs, *nl; *line; line = nl + 1) {
			nl = strchr(line, '\n');
			if (nl != NULL)
				*nl = '\0';
			fputs("  ", stdout);
			for (char *p = line; *p; p++)
				fputc(*p == '\t' ? ' ' : ((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p), stdout);
			fputc('\n', stdout);
			if (nl == NULL)
				break;
		}
	}
out:
	free(data);
	free(hdrs);
	if (f != NULL)
		spool_file_close(f);
	spool_close(sp);
	return rc;
}

/* Maps a control reply to an exit status and says what happened. */
static int
control_reply(const char *what, const char *reply)
{
	if (strcmp(reply, "ok") == 0) {
		printf("%s: ok\n", what);
		return CLI_OK;
	}
	if (strcmp(reply, "not found") == 0) {
		cli_err("%s: not found", what);
		return CLI_NOTFOUND;
	}
	cli_err("%s: %s", what, reply);
	return CLI_FAIL;
}

static int
queue_flush(const struct conf *c, const struct cli_args *a)
{
	char line[64], reply[512];

	if (a->npos > 1) {
		cli_err("usage: queue flush [QID]");
		return CLI_USAGE;
	}
	if (a->npos == 1 && !cli_valid_qid(a->pos[0])) {
		cli_err("bad queue id '%s'", a->pos[0]);
		return CLI_USAGE;
	}
	if (a->npos == 1)
		snprintf(line, sizeof(line), "flush %s", a->pos[0]);
	else
		mw_strlcpy(line, "flush", sizeof(line));
	if (control_request(c, line, reply, sizeof(reply)) != 0) {
		/* Without a server nothing is being delivered, so there is no
		 * schedule to hurry: the next start tries every message. */
		printf("no server is running: nothing to flush\n");
		return CLI_OK;
	}
	return control_reply(line, reply);
}

static int
queue_delete(const struct conf *c, const struct cli_args *a)
{
	char line[64], reply[512], err[256];
	struct spool *sp;
	struct spool_file *f = NULL;
	int r, rc = CLI_OK;

	if (a->npos != 1) {
		cli_err("usage: queue delete QID");
		return CLI_USAGE;
	}
	if (!cli_valid_qid(a->pos[0])) {
		cli_err("bad queue id '%s'", a->pos[0]);
		return CLI_USAGE;
	}
	snprintf(line, sizeof(line), "delete %s", a->pos[0]);
	/* A running server may be delivering the message right now: only it
	 * can delete without racing its delivery worker. */
	if (control_request(c, line, reply, sizeof(reply)) == 0)
		return control_reply(line, reply);

	/* XXX a server starting between the request above and the unlink
	 * below could pick the file up; it would then find no pending
	 * recipient (we mark them first) and deliver nothing. */
	if ((sp = open_spool(c)) == NULL)
		return CLI_FAIL;
	r = spool_file_open(sp, a->pos[0], &f, err, sizeof(err));
	if (r == 1) {
		cli_err("queue id %s not found", a->pos[0]);
		rc = CLI_NOTFOUND;
		goto out;
	}
	if (r == 0) {
		/* Mark every pending recipient as dropped before unlinking, so
		 * that if the unlink fails the message is still never sent. */
		for (size_t i = 0; i < f->n_rcpts; i++)
			if (f->rcpts[i].status == SPOOL_RCPT_PENDING &&
			    spool_file_mark(f, i, SPOOL_RCPT_DROPPED, (int)c->fsync) != 0) {
				cli_err("cannot mark %s: write failed", a->pos[0]);
				rc = CLI_FAIL;
				goto out;
			}
		spool_file_close(f);
		f = NULL;
	}
	/* r == -1: a corrupt file is removed all the same; that is what the
	 * operator asked for. */
	if (spool_remove(sp, a->pos[0]) != 0) {
		cli_err("cannot remove %s from the spool", a->pos[0]);
		rc = CLI_FAIL;
		goto out;
	}
	printf("%s: deleted (no server running; removed from the spool)\n", a->pos[0]);
out:
	if (f != NULL)
		spool_file_close(f);
	spool_close(sp);
	return rc;
}

int
cli_queue(const struct conf *c, int argc, char **argv)
{
	static const char *const opts[] = { "--json", NULL };
	const char *sub = argc > 1 ? argv[1] : NULL;
	struct cli_args a;
	int rc;

	if (sub == NULL) {
		cli_err("usage: queue list|show|flush|delete ...");
		return CLI_USAGE;
	}
	if (strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0) {
		cli_usage_group("queue");
		return CLI_OK;
	}
	if (cli_parse(argc, argv, 2, opts, &a) != 0) {
		rc = CLI_USAGE;
		goto out;
	}
	if (a.help) {
		cli_usage_group("queue");
		rc = CLI_OK;
		goto out;
	}
	if (a.val[O_JSON] != NULL && strcmp(sub, "list") != 0 && strcmp(sub, "show") != 0) {
		cli_err("--json only applies to 'queue list' and 'queue show'");
		rc = CLI_USAGE;
		goto out;
	}
	if (strcmp(sub, "list") == 0)
		rc = queue_list(c, &a);
	else if (strcmp(sub, "show") == 0)
		rc = queue_show(c, &a);
	else if (strcmp(sub, "flush") == 0)
		rc = queue_flush(c, &a);
	else if (strcmp(sub, "delete") == 0)
		rc = queue_delete(c, &a);
	else {
		cli_err("unknown queue command '%s' (list, show, flush, delete)", sub);
		rc = CLI_USAGE;
	}
out:
	cli_args_free(&a);
	return rc;
}
