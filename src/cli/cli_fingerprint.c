/*
 * cli_fingerprint.c - `mailward fingerprint list|benign|remove` (R12,
 * docs/fingerprint.md): the content fingerprints that carry evidence (mail
 * to traps, complaints, probable spam), and the administrator's two ways
 * to correct them.
 *
 * benign is for a tenant's own footer or disclaimer: every message its
 * users send carries it, so once one of them lands in a trap or draws a
 * complaint the block would count against all of them.  A benign
 * fingerprint is never counted and never matched, for anyone.  The sample
 * is a message (its signature block and its text are marked) or just the
 * block's text (only the signature fingerprint is marked).
 *
 * The rows live in the store; a running server indexes rows added since
 * its last look (fp_memory_refresh), so no restart is needed for benign.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/util.h"
#include "cli/cli.h"
#include "conf/conf.h"
#include "content/content.h"
#include "fingerprint/fingerprint.h"
#include "reputation/fp_memory.h"
#include "store/store.h"

/* As complaint import: the whole memory, as the server loads it. */
#define FP_MEMORY_ENTRIES 100000
/* Excerpt shown in the table (the JSON has all of it). */
#define EXCERPT_COLS 48

/* What reputation_decay() does for a reputation row, for one counter. */
static double
decayed(double v, int64_t updated, int64_t half_life, int64_t now)
{
	if (half_life <= 0 || now <= updated)
		return v;
	return v * exp2(-(double)(now - updated) / (double)half_life);
}

static const char *
kind_name(int kind)
{
	const char *n = kind >= 0 && kind < FP_KIND_COUNT ? fp_kind_name((enum fp_kind)kind) : NULL;
	return n != NULL ? n : "?";
}

/* ---- list --------------------------------------------------------------- */

struct listing {
	int64_t half_life, now;
	json_t *arr;          /* --json, else NULL */
	size_t n;
	size_t stale;         /* rows of another signature version */
};

/* A row written under another FP_SIG_VERSION (the encoding's first byte):
 * the server never matches it (fp_memory_stale()). */
static int
row_stale(const struct store_fp *f)
{
	struct fp_sig sig;
	enum fp_kind kind;
	return fp_sig_decode(f->sig, sizeof(f->sig), &sig, &kind) < 0 || (int)kind != f->kind;
}

static json_t *
fp_json(const struct listing *l, const struct store_fp *f)
{
	char t1[32], t2[32];
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(f->id));
	json_object_set_new(o, "kind", json_string(kind_name(f->kind)));
	json_object_set_new(o, "version", json_integer(f->sig[0]));
	json_object_set_new(o, "stale", json_boolean(row_stale(f)));
	json_object_set_new(o, "counters", json_pack("{s:f, s:f, s:f, s:f}",
	    "traps", decayed(f->traps, f->updated, l->half_life, l->now),
	    "complaints", decayed(f->complaints, f->updated, l->half_life, l->now),
	    "spam", decayed(f->spam, f->updated, l->half_life, l->now),
	    "msgs", decayed(f->msgs, f->updated, l->half_life, l->now)));
	json_object_set_new(o, "created", json_string(cli_time(f->created, t1, sizeof(t1))));
	json_object_set_new(o, "updated", json_string(cli_time(f->updated, t2, sizeof(t2))));
	json_object_set_new(o, "last_trap", f->last_trap > 0 ?
	    json_string(cli_time(f->last_trap, t1, sizeof(t1))) : json_null());
	json_object_set_new(o, "last_ref", f->last_ref[0] ? cli_json_str(f->last_ref) : json_null());
	json_object_set_new(o, "excerpt", cli_json_str(f->excerpt));
	json_object_set_new(o, "benign", f->benign[0] ? cli_json_str(f->benign) : json_null());
	return o;
}

/* The excerpt cut to the table's width, never inside a UTF-8 sequence. */
static void
print_excerpt(const char *s)
{
	char buf[EXCERPT_COLS * 4 + 4];
	size_t len = strlen(s), cut = len, chars = 0;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80 && ++chars > EXCERPT_COLS) {
			cut = i;
			break;
		}
	if (cut >= sizeof(buf) - 4)
		cut = sizeof(buf) - 4;
	while (cut > 0 && cut < len && ((unsigned char)s[cut] & 0xc0) == 0x80)
		cut--;
	memcpy(buf, s, cut);
	strcpy(buf + cut, cut < len ? "..." : "");
	cli_print_safe(buf);
}

static int
list_row(void *arg, const struct store_fp *f)
{
	struct listing *l = arg;
	char ts[32];

	l->n++;
	if (row_stale(f))
		l->stale++;
	if (l->arr != NULL) {
		json_array_append_new(l->arr, fp_json(l, f));
		return 0;
	}
	if (l->n == 1)
		printf("%-7s %-11s %6s %6s %6s %6s  %-20s %-12s %s\n", "ID", "KIND", "TRAPS", "COMPL",
		    "SPAM", "MSGS", "UPDATED", "BENIGN", "EXCERPT");
	printf("%-7lld %-11s %6.1f %6.1f %6.1f %6.1f  %-20s ", (long long)f->id,
	    kind_name(f->kind), decayed(f->traps, f->updated, l->half_life, l->now),
	    decayed(f->complaints, f->updated, l->half_life, l->now),
	    decayed(f->spam, f->updated, l->half_life, l->now),
	    decayed(f->msgs, f->updated, l->half_life, l->now),
	    cli_time(f->updated, ts, sizeof(ts)));
	cli_print_safe(f->benign[0] ? f->benign : "-");
	for (size_t k = f->benign[0] ? strlen(f->benign) : 1; k < 13; k++)
		fputc(' ', stdout);
	if (row_stale(f))
		printf("[stale: version %u] ", (unsigned)f->sig[0]);
	print_excerpt(f->excerpt);
	fputc('\n', stdout);
	return 0;
}

static int
fp_list(const struct conf *c, const struct cli_args *a)
{
	enum { L_JSON };
	struct listing l = { .half_life = c->rep_half_life, .now = mw_now() };
	struct store *s;
	int rc = CLI_OK;

	if (a->npos != 0) {
		cli_err("usage: fingerprint list [--json]");
		return CLI_USAGE;
	}
	if ((s = cli_store_open(c)) == NULL)
		return CLI_FAIL;
	if (a->val[L_JSON])
		l.arr = json_array();
	if (store_fp_scan(s, 0, list_row, &l) != 0) {
		rc = cli_store_fail(s, "fingerprint list");
		json_decref(l.arr);
		goto out;
	}
	if (l.arr != NULL) {
		json_t *doc = json_pack("{s:I, s:o}", "half_life", (json_int_t)c->rep_half_life,
		    "fingerprints", l.arr);
		if (cli_json_print(doc) != 0)
			rc = CLI_FAIL;
		json_decref(doc);
		goto out;
	}
	printf("%zu fingerprint%s (counters decayed to now)\n", l.n, l.n == 1 ? "" : "s");
	if (l.stale > 0)
		printf("%zu of them stale: written under another signature version (this one is %d), "
		    "never matched; mark benign samples again, then remove them\n", l.stale,
		    FP_SIG_VERSION);
	rc = l.n > 0 ? CLI_OK : CLI_NOTFOUND;
out:
	store_close(s);
	return rc;
}

/* ---- benign --------------------------------------------------------------- */

static int
known_field(const char *name, size_t n)
{
	static const char *const fields[] = { "from", "to", "cc", "subject", "date",
		"message-id", "mime-version", "content-type", "received", "return-path",
		"reply-to", "sender", NULL };

	for (size_t i = 0; fields[i] != NULL; i++)
		if (strlen(fields[i]) == n && strncasecmp(name, fields[i], n) == 0)
			return 1;
	return 0;
}

/*
 * A sample that starts with a header block is a message; anything else is
 * the footer's own text.  "Phone: +1 555 0100" alone is no header block:
 * the block must end in an empty line and hold a field every message has.
 */
static int
looks_like_message(const char *d, size_t len)
{
	const char *p = d, *end = d + len;
	int known = 0;

	if (len >= 5 && memcmp(d, "From ", 5) == 0) {        /* an mbox separator */
		const char *nl = memchr(d, '\n', len);
		if (nl == NULL)
			return 0;
		p = nl + 1;
	}
	const char *first = p;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0)
			return known && p != first;
		if (*p == ' ' || *p == '\t') {
			if (p == first)
				return 0;
		} else {
			const char *colon = memchr(p, ':', n);
			if (colon == NULL || colon == p)
				return 0;
			for (const char *q = p; q < colon; q++)
				if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
					return 0;
			known |= known_field(p, (size_t)(colon - p));
		}
		if (nl == NULL)
			return 0;
		p = nl + 1;
	}
	return 0;
}

struct benign {
	const char *tenant;
	const char *by;
	struct store *s;
	int rc;
	int marked;
	int done;
};

/* The footer's text as a message whose signature block it is. */
static char *
wrap_text(const char *d, size_t len, size_t *out_len)
{
	/* A sample that starts with the delimiter keeps its own. */
	int has_delim = (len >= 4 && memcmp(d, "-- \n", 4) == 0) ||
	    (len >= 5 && memcmp(d, "-- \r\n", 5) == 0);
	const char *head = has_delim ? "Content-Type: text/plain; charset=utf-8\r\n\r\n" :
	    "Content-Type: text/plain; charset=utf-8\r\n\r\n-- \r\n";
	size_t hl = strlen(head);
	char *m = xmalloc(hl + len + 1);

	memcpy(m, head, hl);
	memcpy(m + hl, d, len);
	m[hl + len] = '\0';
	*out_len = hl + len;
	return m;
}

static int
benign_one(void *arg, const char *path, const char *data, size_t len)
{
	struct benign *b = arg;
	struct content_limits lim = content_limits_default();
	struct fp_params p = fp_params_default();
	struct fp_message fm;
	char err[256] = "", object[512], detail[128];
	int is_msg = looks_like_message(data, len);
	size_t mlen = len;
	char *wrapped = is_msg ? NULL : wrap_text(data, len, &mlen);

	b->done = 1;
	struct content_msg *cm = content_parse(is_msg ? data : wrapped, mlen, &lim);
	/* A sample message stands for all of them: with no signature block of
	 * its own, its last paragraph is the footer it was chosen for (the
	 * block the mail path finds once it repeats, docs/content.md). */
	if (is_msg && content_signature(cm, NULL) == NULL)
		(void)content_signature_adopt(cm);
	fp_message_compute(cm, &p, &fm);
	fm.present &= (1u << FP_KIND_SIGNATURE) | (is_msg ? 1u << FP_KIND_TEXT : 0);
	if (fm.present == 0) {
		if (is_msg)
			cli_err("%s: nothing to fingerprint (a signature block needs at least %zu "
			    "words, a text %zu)", path, p.sig_min_shingles + p.sig_width - 1,
			    p.text_min_shingles + p.text_width - 1);
		else
			cli_err("%s: too short to fingerprint (a signature block needs at least %zu "
			    "words)", path, p.sig_min_shingles + p.sig_width - 1);
		b->rc = CLI_USAGE;
		goto out;
	}
	struct fp_memory *m = fp_memory_open(b->s, FP_MEMORY_ENTRIES, err, sizeof(err));
	if (m == NULL) {
		cli_err("cannot load the fingerprint memory: %s", err[0] ? err : "storage error");
		b->rc = CLI_FAIL;
		goto out;
	}
	b->marked = fp_memory_mark_benign(m, b->s, &fm, cm, b->tenant, mw_now());
	fp_memory_free(m);
	if (b->marked < 0) {
		b->rc = cli_store_fail(b->s, "fingerprint benign");
		goto out;
	}
	const char *what = fm.present == (1u << FP_KIND_SIGNATURE) ? "signature block" :
	    fm.present == (1u << FP_KIND_TEXT) ? "text" : "signature block and text";
	snprintf(object, sizeof(object), "%s of %s (tenant %s)", what, path, b->tenant);
	snprintf(detail, sizeof(detail), "%d fingerprint%s marked", b->marked,
	    b->marked == 1 ? "" : "s");
	if (store_audit_add(b->s, b->by, "fingerprint benign", object, detail) < 0)
		cli_err("warning: audit record not written: %s", store_error(b->s));
	printf("%d fingerprint%s marked benign for tenant %s: %s of ", b->marked,
	    b->marked == 1 ? "" : "s", b->tenant, what);
	cli_print_safe(path);
	fputc('\n', stdout);
out:
	content_free(cm);
	free(wrapped);
	return -1;   /* one sample: stop the walk */
}

static int
fp_benign(const struct conf *c, const struct cli_args *a)
{
	enum { B_TENANT, B_BY };
	struct benign b = { .tenant = a->val[B_TENANT], .by = a->val[B_BY] ? a->val[B_BY] : "cli",
		.rc = CLI_OK };
	int aborted = 0;

	if (a->npos != 1 || b.tenant == NULL) {
		cli_err("usage: fingerprint benign FILE --tenant T [--by WHO]");
		return CLI_USAGE;
	}
	if ((b.s = cli_store_open(c)) == NULL)
		return CLI_FAIL;
	if ((b.rc = cli_tenant_check(b.s, b.tenant)) == CLI_OK) {
		struct cli_msg_walk w = { .message = benign_one, .arg = &b };
		char *paths[1] = { (char *)(uintptr_t)a->pos[0] };
		if (cli_msg_walk(&w, paths, 1, &aborted) > 0)
			b.rc = CLI_FAIL;   /* unreadable: the walk said why */
		else if (!b.done) {
			cli_err("%s: no file in it", a->pos[0]);
			b.rc = CLI_USAGE;
		}
	}
	store_close(b.s);
	return b.rc;
}

/* ---- remove --------------------------------------------------------------- */

static int
fp_remove(const struct conf *c, const struct cli_args *a)
{
	enum { R_BY };
	const char *by = a->val[R_BY] ? a->val[R_BY] : "cli";
	struct store_fp f;
	struct store *s;
	char *end, object[96];
	int rc = CLI_OK;

	errno = 0;
	long long id = a->npos == 1 ? strtoll(a->pos[0], &end, 10) : 0;
	if (a->npos != 1 || errno || *end || id < 1) {
		cli_err("usage: fingerprint remove ID [--by WHO]");
		return CLI_USAGE;
	}
	if ((s = cli_store_open(c)) == NULL)
		return CLI_FAIL;
	int r = store_fp_get(s, id, &f);
	if (r == 0)
		r = store_fp_remove(s, id);
	if (r < 0) {
		rc = cli_store_fail(s, "fingerprint remove");
		goto out;
	}
	if (r == 1) {
		cli_err("no fingerprint %lld", id);
		rc = CLI_NOTFOUND;
		goto out;
	}
	snprintf(object, sizeof(object), "fingerprint %lld (%s)", id, kind_name(f.kind));
	if (store_audit_add(s, by, "fingerprint remove", object, f.excerpt) < 0)
		cli_err("warning: audit record not written: %s", store_error(s));
	printf("removed %s: ", object);
	print_excerpt(f.excerpt);
	fputc('\n', stdout);
out:
	store_close(s);
	return rc;
}

int
cli_fingerprint(const struct conf *c, int argc, char **argv)
{
	static const char *const list_opts[] = { "--json", NULL };
	static const char *const benign_opts[] = { "--tenant=", "--by=", NULL };
	static const char *const remove_opts[] = { "--by=", NULL };
	const char *sub = argc > 1 ? argv[1] : NULL;
	const char *const *opts;
	struct cli_args a;
	int rc;

	if (sub == NULL || strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0) {
		cli_usage_group("fingerprint");
		return sub == NULL ? CLI_USAGE : CLI_OK;
	}
	if (strcmp(sub, "list") == 0)
		opts = list_opts;
	else if (strcmp(sub, "benign") == 0)
		opts = benign_opts;
	else if (strcmp(sub, "remove") == 0)
		opts = remove_opts;
	else {
		cli_err("unknown fingerprint command '%s' (list, benign, remove)", sub);
		return CLI_USAGE;
	}
	if (cli_parse(argc, argv, 2, opts, &a) != 0)
		return CLI_USAGE;
	if (a.help)
		cli_usage_group("fingerprint"), rc = CLI_OK;
	else if (opts == list_opts)
		rc = fp_list(c, &a);
	else if (opts == benign_opts)
		rc = fp_benign(c, &a);
	else
		rc = fp_remove(c, &a);
	cli_args_free(&a);
	return rc;
}
