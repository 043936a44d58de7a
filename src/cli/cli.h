/*
 * cli.h - the administration sub-commands of the `mailward` program (R20):
 * tenant, domain, user, log, queue, scan, train, quarantine, allow, block,
 * audit, trap, reputation, complaint, outbound, fingerprint, help.
 * docs/cli.md is the user's manual.
 *
 * main() parses the global options, loads the configuration and calls
 * cli_main() for every sub-command it does not run itself (serve,
 * config-doc).  cli_main() returns the process exit status:
 *
 *   0  success
 *   1  the object named on the command line does not exist (show, set,
 *      remove, queue show/delete) or a search found nothing - so scripts can
 *      test for it without parsing text
 *   2  bad usage or bad input; a one-line reason "mailward: ..." on stderr
 *   3  storage or runtime error (database, spool, control socket)
 *
 * Everything a command prints for a person goes to stdout; reasons and
 * diagnostics go to stderr; --json prints exactly one JSON document on
 * stdout.  The administration commands only write the store (or ask the
 * running server over its control socket), so they work while the server
 * runs.  No global state: each call opens and closes what it uses.
 *
 * The second half of this header is internal to src/cli/: helpers shared by
 * the command files, and pure functions exported for unit tests.
 */
#ifndef MW_CLI_CLI_H
#define MW_CLI_CLI_H

#include <stddef.h>
#include <stdint.h>

struct conf;

/* argv[0] is the sub-command name, e.g. "tenant".  c is borrowed. */
int cli_main(const struct conf *c, int argc, char **argv);

/* ---- internal to src/cli ----------------------------------------------- */

enum cli_exit { CLI_OK = 0, CLI_NOTFOUND = 1, CLI_USAGE = 2, CLI_FAIL = 3 };

struct store;

/* Option table of one command: "--name" is a flag, "--name=" takes a value,
 * "--name=*" takes a value and may repeat.  Values may start with '-'
 * (--since -7d), and "--name=value" is accepted as well as "--name value". */
#define CLI_MAX_OPTS 16
#define CLI_MAX_POS 8
struct cli_args {
	const char *val[CLI_MAX_OPTS];   /* last value given; "" for a set flag; NULL if absent */
	const char **list[CLI_MAX_OPTS]; /* every value of a repeatable option (heap array) */
	size_t nlist[CLI_MAX_OPTS];
	const char *pos[CLI_MAX_POS];    /* positional arguments, in order */
	size_t npos;
	int help;                        /* --help / -h was given */
};

/* Parses argv[start..argc-1] against opts (NULL-terminated array of specs as
 * above).  Also accepts and ignores "-c FILE" (main() has already used it).
 * Returns 0, or -1 after printing the reason.  Release with cli_args_free()
 * in both cases. */
int cli_parse(int argc, char **argv, int start, const char *const *opts, struct cli_args *a);
void cli_args_free(struct cli_args *a);
/* Value of option i of the table (NULL if absent). */
#define CLI_OPT(a, i) ((a)->val[(i)])

/* "mailward: <reason>\n" on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reports a store failure and returns CLI_FAIL. */
int cli_store_fail(struct store *s, const char *what);
/* Opens the store or prints why not (returns NULL: exit CLI_FAIL). */
struct store *cli_store_open(const struct conf *c);

/* Prints s for a terminal: control bytes become '?' so text that came from
 * the network (subjects, replies) cannot move the cursor or fake lines.
 * NULL prints as "-", "" as "" . */
void cli_print_safe(const char *s);
/* Formats unix seconds as ISO 8601 UTC into out (>= 24 bytes); 0 -> "-". */
const char *cli_time(int64_t t, char *out, size_t n);

/* Usage text on stdout: all of it, or the lines of one group ("tenant"). */
void cli_usage(void);
void cli_usage_group(const char *group);

/* Name checks shared by the admin commands.  Return 1 if valid. */
int cli_valid_tenant_name(const char *s);
int cli_valid_domain(const char *s);
/* Lower-cases a copy of an address "local@domain" or "@domain" (catch-all)
 * into out; 0, or -1 with the reason in why. */
int cli_normalize_address(const char *in, char *out, size_t n, const char **why);
/* Checks a delivery URL and writes the form the server should use:
 * smtp://HOST:PORT, lmtp://HOST:PORT, maildir:/ABS/PATH (a relative maildir
 * path is made absolute against cwd).  0, or -1 with the reason in why. */
int cli_deliver_normalize(const char *in, const char *cwd, char *out, size_t n, const char **why);
/* A queue id names a file: [0-9A-Z], 1..32 characters.  1 if valid. */
int cli_valid_qid(const char *s);

/* JSON string for possibly non-UTF-8 text: invalid bytes become U+FFFD.
 * NULL gives JSON null.  Returns a new reference (json_t *). */
void *cli_json_str(const char *s);
/* A verdict's stored symbol lines (NAME TAB score TAB reason): printed one
 * per line with the reason, or as a JSON array of {name, score, reason}
 * (cli_verdict.c). */
void cli_symbols_print(const char *symbols);
void *cli_symbols_json(const char *symbols);
/* Prints one JSON document (json_t *) and a newline; 0 or -1. */
int cli_json_print(void *doc);

/* ---- command groups (argv[0] is the group name) ---- */
int cli_tenant(const struct conf *c, int argc, char **argv);
int cli_domain(const struct conf *c, int argc, char **argv);
int cli_user(const struct conf *c, int argc, char **argv);
int cli_log(const struct conf *c, int argc, char **argv);
int cli_queue(const struct conf *c, int argc, char **argv);
int cli_scan(const struct conf *c, int argc, char **argv);   /* cli_scan.c */
int cli_train(const struct conf *c, int argc, char **argv);  /* cli_train.c */
int cli_train_store(const struct conf *c, int argc, char **argv);  /* cli_train_store.c */
/* After a run that changed the Bayes counts: rewrite <data_dir>/bayes.snapshot
 * (a warning, not an error, when it cannot be written). */
void cli_train_snapshot(const struct conf *c, struct store *st);
int cli_quarantine(const struct conf *c, int argc, char **argv);   /* cli_quarantine.c */
int cli_list(const struct conf *c, const char *kind, int argc, char **argv);  /* cli_list.c */
int cli_audit(const struct conf *c, int argc, char **argv);        /* cli_list.c */
int cli_trap(const struct conf *c, int argc, char **argv);         /* cli_trap.c */
int cli_reputation(const struct conf *c, int argc, char **argv);   /* cli_reputation.c */
int cli_complaint(const struct conf *c, int argc, char **argv);    /* cli_complaint.c */
int cli_outbound(const struct conf *c, int argc, char **argv);     /* cli_outbound.c */
int cli_fingerprint(const struct conf *c, int argc, char **argv);  /* cli_fingerprint.c */

/* ---- shared by the reputation commands (cli_trap.c) ---- */

struct store_trap_hit;
/* The tenant named on the command line exists: CLI_OK, or the exit status
 * after printing why not (2 no such tenant or a bad name, 3 storage). */
int cli_tenant_check(struct store *s, const char *name);
/* Trap hits as a table (TIME REF CLIENT SENDER TRAP SUBJECT) or as a JSON
 * array (json_t *, new reference), for `trap hits` and `reputation show`. */
void cli_trap_hits_print(const struct store_trap_hit *h, size_t n);
void *cli_trap_hits_json(const struct store_trap_hit *h, size_t n);

/* ---- message files (cli_scan.c), shared by scan and train ---- */

/* A message file larger than this is refused (the gateway's own size limit
 * is far below it; this only bounds memory for a stray big file). */
#define CLI_MSG_MAX (32u * 1024u * 1024u)

/* Calls message() for every message named by paths: a file, "-" (stdin),
 * or a directory walked recursively in name order, skipping dotfiles,
 * symlinked directories and anything not a regular file.  data is valid
 * only during the call.  A file that cannot be read gets a warning line
 * "mailward: warning: PATH: reason" on stderr, then unreadable() if set,
 * and the walk goes on.  message() returning -1 stops the walk (*aborted).
 * Returns the number of unreadable files. */
struct cli_msg_walk {
	int (*message)(void *arg, const char *path, const char *data, size_t len);
	void (*unreadable)(void *arg, const char *path, const char *why);
	void *arg;
};
size_t cli_msg_walk(const struct cli_msg_walk *w, char *const *paths, size_t n, int *aborted);
/* Arguments of scan/train: argv[1..] are flags from the NULL-terminated
 * list (set[i] = 1 when flags[i] is given) or paths, any number of them
 * ("--" ends the flags).  *paths is a heap array of borrowed argv strings:
 * free() it in every case.  0, 1 for --help, -1 after printing the reason. */
int cli_msg_args(int argc, char **argv, const char *const *flags, int *set, char ***paths,
    size_t *npaths);

/* ---- bounce parsing (cli_bounce.c), pure, for `log search --bounce` ---- */

/* Search keys found in a pasted bounce / NDR.  Empty string = not found. */
struct cli_bounce_keys {
	char ref[16];           /* canonical XXXX-XXXX */
	char qid[40];
	char message_id[256];   /* without <> */
	char sender[320];
	char recipient[320];
	char subject[256];
	int64_t date;           /* unix seconds of the original, 0 = unknown */
};

/* Extracts what it can from text (need not be NUL-terminated). */
void cli_bounce_extract(const char *text, size_t len, struct cli_bounce_keys *k);
/* RFC 5322 date ("Fri, 27 Nov 2026 10:00:05 +0100"); 0, or -1. */
int cli_parse_rfc5322_date(const char *s, int64_t *out);

#endif
