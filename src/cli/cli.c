/*
 * cli.c - sub-command dispatch and the helpers every command file shares:
 * option parsing, error reporting, safe printing, name and URL checks, JSON.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "base/timeparse.h"
#include "base/util.h"
#include "cli/cli.h"
#include "conf/conf.h"
#include "store/store.h"

/* One row per usage line; the group lets `help GROUP` show only its part. */
static const struct {
	const char *group;
	const char *text;
} usage_lines[] = {
	{ "serve", "  serve                                  run the gateway in the foreground" },
	{ "config-doc", "  config-doc                             print the configuration reference" },
	{ "tenant", "  tenant add NAME [--action reject|quarantine]" },
	{ "tenant", "  tenant list [--json] | show NAME [--json] | set NAME KEY=VALUE | remove NAME" },
	{ "domain", "  domain add DOMAIN --tenant NAME --deliver URL" },
	{ "domain", "         URL: smtp://HOST:PORT | lmtp://HOST:PORT | maildir:PATH" },
	{ "domain", "  domain list [--tenant NAME] [--json] | remove DOMAIN" },
	{ "domain", "  domain set DOMAIN KEY=VALUE...        override action, bulk, tag, probable_spam" },
	{ "user", "  user add ADDRESS [--alias ADDRESS]...   (\"@domain\" = catch-all)" },
	{ "user", "  user list [--domain D] [--json] | remove ADDRESS" },
	{ "log", "  log search [--sender S] [--recipient R] [--since T] [--until T]" },
	{ "log", "         [--subject TEXT] [--ref ID] [--queue-id QID] [--message-id ID]" },
	{ "log", "         [--client-ip IP] [--action A] [--limit N] [--json] [--bounce FILE|-]" },
	{ "log", "  log purge [--before T]" },
	{ "queue", "  queue list [--json] | show QID [--json] | flush [QID] | delete QID" },
	{ "allow", "  allow add PATTERN --tenant NAME|--user ADDRESS [--no-auth] [--by WHO]" },
	{ "allow", "  allow remove PATTERN --tenant NAME|--user ADDRESS [--by WHO]" },
	{ "allow", "  allow list [--tenant NAME|--user ADDRESS] [--json]" },
	{ "allow", "         PATTERN: user@example.org | example.org | .example.org (and subdomains)" },
	{ "block", "  block add|remove|list ...             the same, for senders to refuse" },
	{ "audit", "  audit [--since T] [--limit N] [--json]   who changed policy or acted on mail" },
	{ "quarantine", "  quarantine list [--tenant T] [--user ADDR] [--sender S] [--subject S]" },
	{ "quarantine", "         [--state held|released|deleted|expired|all] [--since T] [--until T]" },
	{ "quarantine", "         [--limit N] [--json]" },
	{ "quarantine", "  quarantine show ID [--json] [--raw] | release ID... [--by WHO]" },
	{ "quarantine", "  quarantine not-spam ID [--allow [--no-auth]] [--by WHO]   release + learn as ham" },
	{ "quarantine", "  quarantine delete ID... [--by WHO] | expire | digest [--tenant T]" },
	{ "scan", "  scan [--json] [--explain] FILE|DIR...   score messages offline" },
	{ "scan", "         exit 0 clean/bulk, 1 some possible/probable spam, 3 unreadable" },
	{ "train", "  train --spam|--ham FILE|DIR...          teach the Bayes classifier" },
	{ "train", "  train --untrain FILE|DIR...             forget messages learned before" },
	{ "train", "  train --reinforce FILE|DIR...           after training: count 3 times what it" },
	{ "train", "         would still misjudge (spam < 12 points, ham > 4)" },
	{ "train", "  train --status [--json]                 what the Bayes store has learned" },
	{ "train", "  train --expire [--max-tokens N]         drop the least recently learned tokens" },
	{ "train", "         above N ([bayes] max_tokens), down to 90 % of it" },
	{ "trap", "  trap add|remove ADDRESS|@DOMAIN [--tenant T] [--by WHO]   spam traps" },
	{ "trap", "  trap list [--tenant T] [--json]" },
	{ "trap", "  trap hits [--ip IP] [--sender S] [--limit N] [--json]" },
	{ "reputation", "  reputation show IP|NETWORK|DOMAIN [--limit N] [--json] [--by WHO]" },
	{ "reputation", "  reputation reset IP|NETWORK|DOMAIN [--by WHO] [--reason TEXT]" },
	{ "complaint", "  complaint import FILE|DIR|-... [--dry-run] [--json]   ARF reports" },
	{ "complaint", "  complaint list [--since T] [--limit N] [--json] | show ID [--raw] [--json]" },
	{ "outbound", "  outbound record MESSAGE-ID...|- --tenant T [--to ADDRESS]...   mail the tenant sent" },
	{ "fingerprint", "  fingerprint list [--json] | remove ID [--by WHO]" },
	{ "fingerprint", "  fingerprint benign FILE --tenant T [--by WHO]   a footer never counts" },
	{ "help", "  help [COMMAND]" },
};

void
cli_usage_group(const char *group)
{
	fputs("usage: mailward [-c FILE] COMMAND [ARGS]\n\n", stdout);
	for (size_t i = 0; i < MW_ARRAY_LEN(usage_lines); i++)
		if (group == NULL || strcmp(group, usage_lines[i].group) == 0)
			printf("%s\n", usage_lines[i].text);
	fputs("\nTimes: 2026-11-27, 2026-11-27T10:00[:05][Z] (UTC), -7d, -2h, -30m, now.\n"
	      "Exit status: 0 ok, 1 not found / no results, 2 bad usage or input,\n"
	      "3 storage or runtime error.  See docs/cli.md.\n",
	    stdout);
}

void
cli_usage(void)
{
	cli_usage_group(NULL);
}

int
cli_main(const struct conf *c, int argc, char **argv)
{
	const char *cmd;

	if (argc < 1 || argv[0] == NULL) {
		cli_err("no command given (try 'mailward help')");
		return CLI_USAGE;
	}
	cmd = argv[0];
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		if (argc < 2) {
			cli_usage();
			return CLI_OK;
		}
		for (size_t i = 0; i < MW_ARRAY_LEN(usage_lines); i++)
			if (strcmp(argv[1], usage_lines[i].group) == 0) {
				cli_usage_group(argv[1]);
				return CLI_OK;
			}
		cli_err("no help for unknown command '%s'", argv[1]);
		return CLI_USAGE;
	}
	if (strcmp(cmd, "tenant") == 0)
		return cli_tenant(c, argc, argv);
	if (strcmp(cmd, "domain") == 0)
		return cli_domain(c, argc, argv);
	if (strcmp(cmd, "user") == 0)
		return cli_user(c, argc, argv);
	if (strcmp(cmd, "log") == 0)
		return cli_log(c, argc, argv);
	if (strcmp(cmd, "queue") == 0)
		return cli_queue(c, argc, argv);
	if (strcmp(cmd, "scan") == 0)
		return cli_scan(c, argc, argv);
	if (strcmp(cmd, "quarantine") == 0)
		return cli_quarantine(c, argc, argv);
	if (strcmp(cmd, "allow") == 0 || strcmp(cmd, "block") == 0)
		return cli_list(c, cmd, argc, argv);
	if (strcmp(cmd, "audit") == 0)
		return cli_audit(c, argc, argv);
	if (strcmp(cmd, "train") == 0)
		return cli_train(c, argc, argv);
	if (strcmp(cmd, "trap") == 0)
		return cli_trap(c, argc, argv);
	if (strcmp(cmd, "reputation") == 0)
		return cli_reputation(c, argc, argv);
	if (strcmp(cmd, "complaint") == 0)
		return cli_complaint(c, argc, argv);
	if (strcmp(cmd, "outbound") == 0)
		return cli_outbound(c, argc, argv);
	if (strcmp(cmd, "fingerprint") == 0)
		return cli_fingerprint(c, argc, argv);
	cli_err("unknown command '%s' (try 'mailward help')", cmd);
	return CLI_USAGE;
}

/* ---- option parsing ----------------------------------------------------- */

/* Finds the spec for name (without "--"); *kind: 0 flag, 1 value, 2 list. */
static int
opt_find(const char *const *opts, const char *name, size_t namelen, int *kind)
{
	for (int i = 0; opts != NULL && opts[i] != NULL; i++) {
		const char *spec = opts[i];
		size_t sl = strcspn(spec + 2, "=");

		if (sl != namelen || strncmp(spec + 2, name, namelen) != 0)
			continue;
		if (spec[2 + sl] == '\0')
			*kind = 0;
		else if (strcmp(spec + 2 + sl, "=*") == 0)
			*kind = 2;
		else
			*kind = 1;
		return i;
	}
	return -1;
}

int
cli_parse(int argc, char **argv, int start, const char *const *opts, struct cli_args *a)
{
	int only_pos = 0;

	memset(a, 0, sizeof(*a));
	for (int i = start; i < argc; i++) {
		const char *arg = argv[i];

		if (only_pos || arg[0] != '-' || strcmp(arg, "-") == 0) {
			if (a->npos == CLI_MAX_POS) {
				cli_err("too many arguments");
				return -1;
			}
			a->pos[a->npos++] = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			a->help = 1;
			continue;
		}
		/* main() accepts the global -c after the sub-command name too and
		 * may pass it on; it has been used already, so skip it here. */
		if (strcmp(arg, "-c") == 0) {
			if (i + 1 >= argc) {
				cli_err("option -c needs a value");
				return -1;
			}
			i++;
			continue;
		}
		if (arg[1] != '-') {
			cli_err("unknown option '%s'", arg);
			return -1;
		}
		const char *name = arg + 2;
		const char *eq = strchr(name, '=');
		size_t namelen = eq ? (size_t)(eq - name) : strlen(name);
		int kind = 0;
		int idx = opt_find(opts, name, namelen, &kind);

		if (idx < 0) {
			cli_err("unknown option '--%.*s'", (int)namelen, name);
			return -1;
		}
		if (idx >= CLI_MAX_OPTS)
			mw_panic("option table too long");
		if (kind == 0) {
			if (eq != NULL) {
				cli_err("option '--%.*s' takes no value", (int)namelen, name);
				return -1;
			}
			a->val[idx] = "";
			continue;
		}
		const char *value;
		if (eq != NULL) {
			value = eq + 1;
		} else {
			if (i + 1 >= argc) {
				cli_err("option '--%s' needs a value", name);
				return -1;
			}
			value = argv[++i];
		}
		a->val[idx] = value;
		if (kind == 2) {
			a->list[idx] = xrealloc(a->list[idx], (a->nlist[idx] + 1) * sizeof(char *));
			a->list[idx][a->nlist[idx]++] = value;
		}
	}
	return 0;
}

void
cli_args_free(struct cli_args *a)
{
	for (size_t i = 0; i < CLI_MAX_OPTS; i++) {
		free(a->list[i]);
		a->list[i] = NULL;
		a->nlist[i] = 0;
	}
}

/* ---- reporting ---------------------------------------------------------- */

void
cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("mailward: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cli_store_fail(struct store *s, const char *what)
{
	const char *e = s != NULL ? store_error(s) : NULL;

	cli_err("%s: %s", what, e != NULL && *e != '\0' ? e : "storage error");
	return CLI_FAIL;
}

struct store *
cli_store_open(const struct conf *c)
{
	char err[256] = "";
	struct store *s = store_open(c, err, sizeof(err));

	if (s == NULL)
		cli_err("cannot open the store: %s", err[0] ? err : "unknown error");
	return s;
}

void
cli_print_safe(const char *s)
{
	if (s == NULL) {
		fputc('-', stdout);
		return;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, stdout);
}

const char *
cli_time(int64_t t, char *out, size_t n)
{
	if (t <= 0)
		mw_strlcpy(out, "-", n);
	else
		timefmt_iso(t, out, (unsigned long)n);
	return out;
}

/* ---- checks ------------------------------------------------------------- */

int
cli_valid_tenant_name(const char *s)
{
	size_t n = strlen(s);

	/* Tenant names appear in URLs of the admin API and in log lines:
	 * keep them to a plain token. */
	if (n == 0 || n > 64)
		return 0;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return 0;
	return 1;
}

int
cli_valid_domain(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.' || strchr(s, '.') == NULL)
		return 0;
	for (const char *p = s; *p; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-')
			return 0;
		if (label == 0 && *p == '-')
			return 0;
		if (++label > 63)
			return 0;
	}
	return s[n - 1] != '-';
}

int
cli_normalize_address(const char *in, char *out, size_t n, const char **why)
{
	const char *at = strrchr(in, '@');

	if (at == NULL) {
		*why = "an address needs '@' (use \"@domain\" for a catch-all)";
		return -1;
	}
	if (mw_snprintf(out, n, "%s", in) != 0 || strlen(in) > 254) {
		*why = "address too long";
		return -1;
	}
	mw_str_lower(out);
	size_t local = (size_t)(at - in);
	if (local > 64) {
		*why = "local part longer than 64 characters";
		return -1;
	}
	/* Only the dot-atom form: quoted local parts are refused at RCPT time
	 * anyway (R2), so they could never be matched. */
	for (size_t i = 0; i < local; i++) {
		unsigned char ch = (unsigned char)out[i];
		if (!isalnum(ch) && strchr("!#$%&'*+-/=?^_`{|}~.", ch) == NULL) {
			*why = "bad character in the local part";
			return -1;
		}
	}
	if (local > 0 && (out[0] == '.' || out[local - 1] == '.' || strstr(out, "..") != NULL)) {
		*why = "bad dots in the local part";
		return -1;
	}
	if (!cli_valid_domain(out + local + 1)) {
		*why = "bad domain";
		return -1;
	}
	return 0;
}

static int
valid_hostport(const char *hp, const char **why)
{
	const char *colon;
	uint64_t port;

	if (hp[0] == '[') {
		const char *close = strchr(hp, ']');
		if (close == NULL || close == hp + 1 || close[1] != ':') {
			*why = "expected [IPv6]:PORT";
			return -1;
		}
		colon = close + 1;
	} else {
		colon = strrchr(hp, ':');
		if (colon == NULL || colon == hp) {
			*why = "expected HOST:PORT";
			return -1;
		}
		for (const char *p = hp; p < colon; p++)
			if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.') {
				*why = "bad character in the host name";
				return -1;
			}
	}
	if (mw_parse_u64(colon + 1, &port) != 0 || port == 0 || port > 65535) {
		*why = "port must be 1-65535";
		return -1;
	}
	return 0;
}

int
cli_deliver_normalize(const char *in, const char *cwd, char *out, size_t n, const char **why)
{
	if (strncasecmp(in, "smtp://", 7) == 0 || strncasecmp(in, "lmtp://", 7) == 0) {
		if (valid_hostport(in + 7, why) != 0)
			return -1;
		if (mw_snprintf(out, n, "%s", in) != 0) {
			*why = "URL too long";
			return -1;
		}
		mw_str_lower(out);
		return 0;
	}
	if (strncasecmp(in, "maildir:", 8) == 0) {
		const char *path = in + 8;

		/* maildir://path is a common slip for maildir:/path. */
		if (strncmp(path, "//", 2) == 0)
			path += 1;
		if (*path == '\0') {
			*why = "maildir: needs a path";
			return -1;
		}
		/* The server's working directory need not be ours: store an
		 * absolute path so both mean the same directory. */
		int r = path[0] == '/' ? mw_snprintf(out, n, "maildir:%s", path)
		                       : mw_snprintf(out, n, "maildir:%s/%s", cwd, path);
		if (r != 0) {
			*why = "path too long";
			return -1;
		}
		/* Tidy "./" components and a trailing slash of the relative form. */
		char *p;
		while ((p = strstr(out, "/./")) != NULL)
			memmove(p, p + 2, strlen(p + 2) + 1);
		size_t l = strlen(out);
		while (l > 10 && out[l - 1] == '/')
			out[--l] = '\0';
		if (l > 10 && strcmp(out + l - 2, "/.") == 0)
			out[l - 2] = '\0';
		return 0;
	}
	*why = "expected smtp://HOST:PORT, lmtp://HOST:PORT or maildir:PATH";
	return -1;
}

int
cli_valid_qid(const char *s)
{
	size_t n = strlen(s);

	/* The id becomes a file name in the spool: ours are [0-9A-Z] only
	 * (refid.h), which also rules out any path trickery. */
	if (n == 0 || n > 32)
		return 0;
	for (const char *p = s; *p; p++)
		if (!isdigit((unsigned char)*p) && !isupper((unsigned char)*p))
			return 0;
	return 1;
}

/* ---- JSON --------------------------------------------------------------- */

void *
cli_json_str(const char *s)
{
	json_t *j;

	if (s == NULL)
		return json_null();
	j = json_string(s);
	if (j != NULL)
		return j;
	/* Not UTF-8 (raw 8-bit subject, say): keep the valid sequences and
	 * replace each bad byte so the document stays parseable. */
	size_t n = strlen(s);
	char *o = xmalloc(n * 3 + 1);
	size_t k = 0;
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		size_t len = p[i] < 0x80 ? 1 : (p[i] >> 5) == 6 ? 2 : (p[i] >> 4) == 14 ? 3 : (p[i] >> 3) == 30 ? 4 : 0;
		int ok = len > 0 && i + len <= n;
		for (size_t m = 1; ok && m < len; m++)
			if ((p[i + m] & 0xc0) != 0x80)
				ok = 0;
		if (ok && len > 1) {
			json_t *t = json_stringn((const char *)p + i, len);
			ok = t != NULL;
			json_decref(t);
		}
		if (ok) {
			memcpy(o + k, p + i, len);
			k += len;
			i += len;
		} else {
			memcpy(o + k, "\xef\xbf\xbd", 3);
			k += 3;
			i++;
		}
	}
	o[k] = '\0';
	j = json_string(o);
	free(o);
	return j != NULL ? j : json_string("");
}

int
cli_json_print(void *doc)
{
	char *s = json_dumps((json_t *)doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s == NULL) {
		cli_err("cannot format JSON");
		return -1;
	}
	fputs(s, stdout);
	fputc('\n', stdout);
	free(s);
	return 0;
}
