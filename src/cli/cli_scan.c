/*
 * cli_scan.c - `mailward scan [--json] [--explain] FILE|DIR...`: score
 * messages offline with the same engine the gateway uses (R8, R20), and the
 * message-file walker that `train` shares.
 *
 * One process scans any number of files: one engine, one store handle and
 * one read buffer for the whole run, so the cost per message is reading the
 * file and scoring it.  Bayes takes part when <data_dir>/mailward.db exists
 * and has learned messages; otherwise the rules alone decide, and the data
 * directory is not created (a scan must not leave files behind).
 *
 * Exit status: 0 every message clean or bulk, 1 at least one possible or
 * probable spam, 2 bad usage, 3 a file could not be read or scanned, or the
 * store could not be opened (3 wins over 1: the run is incomplete).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "base/util.h"
#include "bayes/bayes_snapshot.h"
#include "cli/cli.h"
#include "conf/conf.h"
#include "score/score.h"
#include "store/store.h"

/* ---- the walker ----------------------------------------------------------- */

/* Deeper trees than this are almost surely a mistake (or a bind-mount loop);
 * symlinked directories are not followed for the same reason. */
#define WALK_MAX_DEPTH 64

struct walk {
	const struct cli_msg_walk *w;
	char *buf;          /* one buffer reused for every message */
	size_t cap;
	size_t failed;
	int aborted;
};

static void
walk_fail(struct walk *k, const char *path, const char *why)
{
	fprintf(stderr, "mailward: warning: %s: %s\n", path, why);
	k->failed++;
	if (k->w->unreadable != NULL)
		k->w->unreadable(k->w->arg, path, why);
}

/* Reads all of fd into k->buf.  0 with *len, or -1 with *why. */
static int
walk_read(struct walk *k, int fd, size_t hint, size_t *len, const char **why)
{
	size_t n = 0;

	if (hint > CLI_MSG_MAX) {
		*why = "larger than the 32 MiB message limit";
		return -1;
	}
	for (;;) {
		if (n == k->cap) {
			/* grow geometrically, starting at the size fstat() gave so a
			 * regular file is read with one allocation at most */
			size_t want = k->cap == 0 ? (hint + 1 > 65536 ? hint + 1 : 65536) : k->cap * 2;
			if (want > CLI_MSG_MAX + 1)
				want = CLI_MSG_MAX + 1;
			if (want <= k->cap) {
				*why = "larger than the 32 MiB message limit";
				return -1;
			}
			k->buf = xrealloc(k->buf, want);
			k->cap = want;
		}
		ssize_t r = read(fd, k->buf + n, k->cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			*why = strerror(errno);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > CLI_MSG_MAX) {
			*why = "larger than the 32 MiB message limit";
			return -1;
		}
	}
	*len = n;
	return 0;
}

static void
walk_deliver(struct walk *k, const char *path, size_t len)
{
	if (k->w->message(k->w->arg, path, k->buf, len) < 0)
		k->aborted = 1;
}

static void
walk_file(struct walk *k, const char *path)
{
	struct stat sb;
	const char *why = NULL;
	size_t len = 0;
	/* O_NONBLOCK: a FIFO named by mistake must not hang the run */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0) {
		walk_fail(k, path, strerror(errno));
		return;
	}
	if (fstat(fd, &sb) != 0) {
		walk_fail(k, path, strerror(errno));
	} else if (!S_ISREG(sb.st_mode)) {
		walk_fail(k, path, "not a regular file");
	} else if (walk_read(k, fd, (size_t)sb.st_size, &len, &why) != 0) {
		walk_fail(k, path, why);
	} else {
		close(fd);
		walk_deliver(k, path, len);
		return;
	}
	close(fd);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
walk_dir(struct walk *k, const char *path, int depth)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	size_t pl = strlen(path);
	const char *sep = pl > 0 && path[pl - 1] == '/' ? "" : "/";

	if (depth > WALK_MAX_DEPTH) {
		walk_fail(k, path, "directories nested too deep");
		return;
	}
	if ((d = opendir(path)) == NULL) {
		walk_fail(k, path, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		/* dotfiles are editor and tool droppings (.swp, .DS_Store, and
		 * maildir's own bookkeeping), never messages */
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	/* sorted: the same tree gives the same output order, run to run */
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		char *full = xasprintf("%s%s%s", path, sep, names[i]);
		struct stat sb;

		if (!k->aborted) {
			if (lstat(full, &sb) != 0)
				walk_fail(k, full, strerror(errno));
			else if (S_ISDIR(sb.st_mode))
				walk_dir(k, full, depth + 1);
			else if (S_ISREG(sb.st_mode))
				walk_file(k, full);
			else if (S_ISLNK(sb.st_mode) && stat(full, &sb) == 0 && S_ISREG(sb.st_mode))
				walk_file(k, full);
			/* sockets, FIFOs, symlinks to directories: not messages */
		}
		free(full);
		free(names[i]);
	}
	free(names);
}

size_t
cli_msg_walk(const struct cli_msg_walk *w, char *const *paths, size_t n, int *aborted)
{
	struct walk k = { .w = w };

	for (size_t i = 0; i < n && !k.aborted; i++) {
		struct stat sb;
		const char *why = NULL;
		size_t len = 0;

		if (strcmp(paths[i], "-") == 0) {
			if (walk_read(&k, STDIN_FILENO, 0, &len, &why) != 0)
				walk_fail(&k, "-", why);
			else
				walk_deliver(&k, "-", len);
		} else if (stat(paths[i], &sb) != 0) {
			walk_fail(&k, paths[i], strerror(errno));
		} else if (S_ISDIR(sb.st_mode)) {
			walk_dir(&k, paths[i], 0);
		} else {
			walk_file(&k, paths[i]);
		}
	}
	free(k.buf);
	if (aborted != NULL)
		*aborted = k.aborted;
	return k.failed;
}

int
cli_msg_args(int argc, char **argv, const char *const *flags, int *set, char ***paths, size_t *npaths)
{
	int only_paths = 0;

	*paths = xcalloc((size_t)argc + 1, sizeof(char *));
	*npaths = 0;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		int found = 0;

		if (only_paths || arg[0] != '-' || strcmp(arg, "-") == 0) {
			(*paths)[(*npaths)++] = argv[i];
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_paths = 1;
			continue;
		}
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
			return 1;
		for (int f = 0; flags[f] != NULL; f++)
			if (strcmp(arg, flags[f]) == 0) {
				set[f] = 1;
				found = 1;
			}
		if (!found) {
			cli_err("unknown option '%s'", arg);
			return -1;
		}
	}
	return 0;
}

/* ---- scan ------------------------------------------------------------------ */

/* --explain names this many of the strongest Bayes clues each way: enough
 * to see why a message leans, short enough to read. */
#define EXPLAIN_CLUES 8

struct scan {
	struct score_engine *e;
	int explain;
	int json;           /* --json: results are streamed, one object a line */
	json_t *errors;     /* --json: files not scanned (few: kept to the end) */
	size_t count[4];    /* by class */
	size_t n;
	size_t scan_failed;
};

struct clues {
	struct score_clue *c;
	size_t n;
	int failed;         /* the store could not be read a second time */
};

static json_t *
clues_json(const struct clues *cl)
{
	json_t *a = json_array();

	for (size_t i = 0; i < cl->n; i++) {
		json_t *j = json_object();
		json_object_set_new(j, "name", cli_json_str(cl->c[i].name));
		json_object_set_new(j, "f", json_real(cl->c[i].f));
		json_object_set_new(j, "spam", json_integer((json_int_t)cl->c[i].spam));
		json_object_set_new(j, "ham", json_integer((json_int_t)cl->c[i].ham));
		json_array_append_new(a, j);
	}
	return a;
}

/* cl: the named Bayes clues with --explain, else NULL */
static json_t *
verdict_json(const char *path, const struct score_verdict *v, const struct clues *cl)
{
	json_t *syms = json_array();
	json_t *o = json_object();

	for (size_t i = 0; i < v->n_symbols; i++) {
		const struct score_symbol *s = &v->symbols[i];
		json_t *j = json_object();

		json_object_set_new(j, "name", cli_json_str(s->name));
		json_object_set_new(j, "group", cli_json_str(s->group));
		json_object_set_new(j, "score", json_real(s->score));
		json_object_set_new(j, "reason", cli_json_str(s->reason));
		json_array_append_new(syms, j);
	}
	json_object_set_new(o, "file", cli_json_str(path));
	json_object_set_new(o, "score", json_real(v->score));
	json_object_set_new(o, "class", json_string(score_class_name(v->cls)));
	json_object_set_new(o, "bayes", v->bayes_prob >= 0 ? json_real(v->bayes_prob) : json_null());
	json_object_set_new(o, "symbols", syms);
	if (cl != NULL)
		json_object_set_new(o, "clues", cl->failed ? json_null() : clues_json(cl));
	return o;
}

/* Prints one result of the "results" array as it is made, so memory stays
 * flat however many messages a run scans; the document is closed at the
 * end (scan_json_end). */
static void
result_emit(struct scan *s, json_t *o)
{
	char *t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

	if (t == NULL)
		mw_panic("json_dumps: out of memory");
	printf("%s\n  %s", s->n > 1 ? "," : "", t);
	free(t);
	json_decref(o);
}

static void
clues_print(const struct clues *cl)
{
	if (cl->failed) {
		puts("    (bayes clues: the store could not be read)");
		return;
	}
	if (cl->n == 0)
		return;
	puts("    bayes clues (f, learned in spam/ham, feature):");
	for (size_t i = 0; i < cl->n; i++) {
		printf("      %-4s %.4f %lld/%lld ", cl->c[i].f > 0.5 ? "spam" : "ham", cl->c[i].f,
		    (long long)cl->c[i].spam, (long long)cl->c[i].ham);
		cli_print_safe(cl->c[i].name);
		fputc('\n', stdout);
	}
}

static void
verdict_print(const struct scan *s, const char *path, const struct score_verdict *v,
    const struct clues *cl)
{
	cli_print_safe(path);
	printf("  %.2f  %s  ", v->score, score_class_name(v->cls));
	if (v->n_symbols == 0)
		fputc('-', stdout);
	for (size_t i = 0; i < v->n_symbols; i++) {
		if (i > 0)
			fputc(',', stdout);
		cli_print_safe(v->symbols[i].name);
	}
	fputc('\n', stdout);
	if (!s->explain)
		return;
	for (size_t i = 0; i < v->n_symbols; i++) {
		fputs("    ", stdout);
		cli_print_safe(v->symbols[i].name);
		printf(" %+.2f [", v->symbols[i].score);
		cli_print_safe(v->symbols[i].group);
		fputs("] ", stdout);
		cli_print_safe(v->symbols[i].reason);
		fputc('\n', stdout);
	}
	if (v->bayes_prob >= 0)
		printf("    (bayes probability %.4f)\n", v->bayes_prob);
	clues_print(cl);
}

static int
scan_one(void *arg, const char *path, const char *data, size_t len)
{
	struct scan *s = arg;
	struct score_verdict v;

	memset(&v, 0, sizeof(v));
	if (score_message(s->e, data, len, &v) != 0) {
		/* allocation-class failure inside the engine: this message is
		 * not scanned, the run goes on and ends with exit 3 */
		fprintf(stderr, "mailward: warning: %s: cannot scan the message\n", path);
		s->scan_failed++;
		if (s->errors != NULL) {
			json_t *j = json_object();
			json_object_set_new(j, "file", cli_json_str(path));
			json_object_set_new(j, "error", json_string("cannot scan the message"));
			json_array_append_new(s->errors, j);
		}
		return 0;
	}
	s->n++;
	if ((unsigned)v.cls < MW_ARRAY_LEN(s->count))
		s->count[v.cls]++;
	struct clues cl = { 0 };
	if (s->explain && v.bayes_prob >= 0 &&
	    score_message_clues(s->e, data, len, EXPLAIN_CLUES, &cl.c, &cl.n) != 0)
		cl.failed = 1;
	if (s->json)
		result_emit(s, verdict_json(path, &v, s->explain ? &cl : NULL));
	else
		verdict_print(s, path, &v, &cl);
	score_clues_free(cl.c, cl.n);
	score_verdict_free(&v);
	return 0;
}

static void
scan_unreadable(void *arg, const char *path, const char *why)
{
	struct scan *s = arg;

	if (s->errors == NULL)
		return;
	json_t *j = json_object();
	json_object_set_new(j, "file", cli_json_str(path));
	json_object_set_new(j, "error", cli_json_str(why));
	json_array_append_new(s->errors, j);
}

/* Closes the document result_emit() opened: the rest of it as one object's
 * members, printed by jansson so escaping stays its business. */
static int
scan_json_end(struct scan *s, int bayes, size_t unreadable)
{
	json_t *tail = json_object(), *sum = json_object();
	char *t;

	json_object_set_new(sum, "messages", json_integer((json_int_t)s->n));
	for (int k = SCORE_CLEAN; k <= SCORE_PROBABLE_SPAM; k++)
		json_object_set_new(sum, score_class_name((enum score_class)k),
		    json_integer((json_int_t)s->count[k]));
	json_object_set_new(sum, "failed", json_integer((json_int_t)(unreadable + s->scan_failed)));
	json_object_set_new(tail, "errors", s->errors);
	s->errors = NULL;
	json_object_set_new(tail, "summary", sum);
	json_object_set_new(tail, "bayes", json_boolean(bayes));
	t = json_dumps(tail, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(tail);
	if (t == NULL) {
		cli_err("cannot format JSON");
		return -1;
	}
	/* t is "{...}": its members follow the results array */
	printf("%s],\n %s\n", s->n > 0 ? "\n" : "", t + 1);
	free(t);
	return 0;
}

/*
 * Whether the run classifies from an in-memory snapshot of the Bayes tokens
 * (bayes_snapshot.h) rather than one database lookup per message.  Loading
 * reads every token: 0.2-0.3 CPU s for the 2.2 million learned from the
 * SpamAssassin corpus, where a lookup costs about 1.7 ms a message, so it
 * pays for itself after a hundred-odd messages (docs/bayes.md).  A
 * directory, or many files, loads it; a few files (a script scanning one
 * message at a time) ask the database and stay at a few milliseconds.
 */
#define SCAN_SNAPSHOT_FILES 100

static int
scan_wants_snapshot(char *const *paths, size_t n)
{
	struct stat sb;

	if (n >= SCAN_SNAPSHOT_FILES)
		return 1;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(paths[i], "-") != 0 && stat(paths[i], &sb) == 0 && S_ISDIR(sb.st_mode))
			return 1;
	}
	return 0;
}

/* The store, when it holds a trained Bayes database; NULL otherwise.
 * *failed is set when a database exists but cannot be used. */
static struct store *
scan_store(const struct conf *c, int *failed)
{
	char db[1024];
	struct stat sb;
	struct store *st;
	int64_t nspam = 0, nham = 0;

	*failed = 0;
	conf_path(c, "mailward.db", db, sizeof(db));
	/* no database: rules only, and nothing is created */
	if (stat(db, &sb) != 0)
		return NULL;
	if ((st = cli_store_open(c)) == NULL) {
		*failed = 1;
		return NULL;
	}
	if (store_bayes_totals(st, &nspam, &nham) != 0) {
		cli_store_fail(st, "reading the Bayes totals");
		store_close(st);
		*failed = 1;
		return NULL;
	}
	if (nspam + nham == 0) {
		store_close(st);
		return NULL;
	}
	return st;
}

int
cli_scan(const struct conf *c, int argc, char **argv)
{
	static const char *const flags[] = { "--json", "--explain", NULL };
	enum { F_JSON, F_EXPLAIN };
	int set[2] = { 0, 0 };
	char **paths = NULL;
	size_t npaths = 0, unreadable;
	struct scan s;
	struct store *st = NULL;
	struct bayes_cache *cache = NULL;
	struct score_thresholds th = score_thresholds_default();
	int r, store_failed = 0, rc;

	memset(&s, 0, sizeof(s));
	r = cli_msg_args(argc, argv, flags, set, &paths, &npaths);
	if (r != 0) {
		free(paths);
		if (r > 0) {
			cli_usage_group("scan");
			return CLI_OK;
		}
		return CLI_USAGE;
	}
	if (npaths == 0) {
		free(paths);
		cli_err("usage: scan [--json] [--explain] FILE|DIR...");
		return CLI_USAGE;
	}
	st = scan_store(c, &store_failed);
	if (store_failed) {
		free(paths);
		return CLI_FAIL;
	}
	s.explain = set[F_EXPLAIN];
	if ((s.e = score_engine_new(st, &th)) == NULL) {
		cli_err("cannot set up the scan engine");
		if (st != NULL)
			store_close(st);
		free(paths);
		return CLI_FAIL;
	}
	/* --explain: BAYES_TOP_CLUES reads as the mail path's log does */
	score_engine_set_clue_names(s.e, s.explain);
	if (st != NULL && scan_wants_snapshot(paths, npaths)) {
		char why[256], file[1024];
		/* One snapshot for the whole run, never refreshed: every message
		 * is judged by the same state of the store; mapped from the file
		 * the last training wrote when it is still the store's state. */
		cache = bayes_cache_new(-1);
		conf_path(c, "bayes.snapshot", file, sizeof(file));
		bayes_cache_set_file(cache, file);
		if (bayes_cache_reload(cache, st, why, sizeof(why)) != 0)
			fprintf(stderr, "mailward: warning: Bayes counts not loaded into memory (%s); "
			    "asking the database per message\n", why);
		score_engine_set_bayes_cache(s.e, cache);
	}
	if (set[F_JSON]) {
		s.json = 1;
		s.errors = json_array();
		fputs("{\"results\": [", stdout);
	} else {
		fputs("FILE  SCORE  CLASS  SYMBOLS\n", stdout);
	}

	struct cli_msg_walk w = { .message = scan_one, .unreadable = scan_unreadable, .arg = &s };
	unreadable = cli_msg_walk(&w, paths, npaths, NULL);

	rc = unreadable > 0 || s.scan_failed > 0 ? CLI_FAIL
	    : s.count[SCORE_POSSIBLE_SPAM] + s.count[SCORE_PROBABLE_SPAM] > 0 ? 1
	    : CLI_OK;
	if (set[F_JSON] && scan_json_end(&s, st != NULL, unreadable) != 0)
		rc = CLI_FAIL;
	if (fflush(stdout) != 0) {
		cli_err("cannot write the output");
		rc = CLI_FAIL;
	}
	score_engine_free(s.e);
	bayes_cache_free(cache);
	if (st != NULL)
		store_close(st);
	free(paths);
	return rc;
}
