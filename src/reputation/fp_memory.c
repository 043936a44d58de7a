/* fp_memory.c - see fp_memory.h. */
#include "reputation/fp_memory.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "content/content.h"
#include "fingerprint/fingerprint_index.h"
#include "log/log.h"
#include "reputation/reputation.h"
#include "score/score.h"
#include "store/store.h"

_Static_assert(STORE_FP_SIG_BYTES == FP_SIG_BYTES, "store and fingerprint disagree on sizes");

#define REFRESH_EVERY 1   /* seconds between looks for rows of other processes */
#define MAX_MATCHES 4

struct fp_memory {
	pthread_rwlock_t lock;    /* the indexes: lookups read, inserts write */
	pthread_mutex_t writer;   /* one writer of rows at a time (no twin rows) */
	struct fp_index *ix[FP_KIND_COUNT];
	int64_t scanned_to;       /* rows up to this id were offered to the indexes */
	int64_t last_refresh;
	int full_logged;
	size_t stale;             /* rows fp_sig_decode() refused: never indexed */
	size_t stale_logged;      /* ... of which the log has been told */
};

/* Points of the strongest evidence per kind (docs/reputation.md). */
static const struct {
	const char *name;     /* in symbol names */
	const char *part;     /* in reasons */
	double trap, complaint_each, complaint_cap, spam;
} kinds[FP_KIND_COUNT] = {
	[FP_KIND_TEXT] = { "TEXT", "message text", 10, 3, 9, 3 },
	[FP_KIND_SIGNATURE] = { "SIGNATURE", "signature block", 10, 3, 9, 2 },
	[FP_KIND_URLS] = { "URLS", "set of link domains", 5, 2, 5, 2 },
	[FP_KIND_ATTACHMENTS] = { "ATTACHMENT", "attachment", 10, 3, 9, 4 },
};

static int usable(const struct fp_message *fm, int k)
{
	if (!(fm->present & (1u << k)))
		return 0;
	if ((k == FP_KIND_URLS || k == FP_KIND_ATTACHMENTS) && fm->count[k] < FP_MEMORY_MIN_SET)
		return 0;
	return 1;
}

static int index_row(struct fp_memory *m, const struct store_fp *f)
{
	struct fp_sig sig;
	enum fp_kind kind;
	if (fp_sig_decode(f->sig, sizeof(f->sig), &sig, &kind) < 0 || (int)kind != f->kind) {
		/* A row of another signature version (FP_SIG_VERSION): its
		 * minimums are not comparable with ours, so it is never
		 * indexed, matched or counted on.  It stays in the store for
		 * people (`fingerprint list` flags it; `remove` deletes it). */
		m->stale++;
		return 0;
	}
	pthread_rwlock_wrlock(&m->lock);
	int rc = fp_index_insert(m->ix[kind], (uint64_t)f->id, &sig);
	pthread_rwlock_unlock(&m->lock);
	if (rc < 0 && fp_index_get(m->ix[kind], (uint64_t)f->id, &sig) < 0 && !m->full_logged) {
		/* Full: the row stays in the store and is still counted when it
		 * is matched by id; the oldest rows are the ones to expire. */
		log_warn(NULL, "fingerprint index-full kind=%s entries=%zu", fp_kind_name(kind),
		    fp_index_count(m->ix[kind]));
		m->full_logged = 1;
	}
	return 0;
}

static int scan_cb(void *arg, const struct store_fp *f)
{
	struct fp_memory *m = arg;
	index_row(m, f);
	if (f->id > m->scanned_to)
		m->scanned_to = f->id;
	return 0;
}

/* One line when a load or refresh met rows it cannot use (after an upgrade
 * that changed FP_SIG_VERSION, or rows written by an older binary). */
static void log_stale(struct fp_memory *m)
{
	if (m->stale == m->stale_logged)
		return;
	log_warn(NULL, "fingerprint stale-rows count=%zu new=%zu current_version=%d action=ignored",
	    m->stale, m->stale - m->stale_logged, FP_SIG_VERSION);
	m->stale_logged = m->stale;
}

struct fp_memory *fp_memory_open(struct store *s, size_t max_entries, char *err, size_t errlen)
{
	struct fp_memory *m = xcalloc(1, sizeof(*m));
	pthread_rwlock_init(&m->lock, NULL);
	pthread_mutex_init(&m->writer, NULL);
	for (int k = 0; k < FP_KIND_COUNT; k++) {
		m->ix[k] = fp_index_new(max_entries);
		if (m->ix[k] == NULL) {
			snprintf(err, errlen, "fingerprint index of %zu entries: out of range", max_entries);
			fp_memory_free(m);
			return NULL;
		}
	}
	if (store_fp_scan(s, 0, scan_cb, m) < 0) {
		snprintf(err, errlen, "loading fingerprints: %s", store_error(s));
		fp_memory_free(m);
		return NULL;
	}
	log_stale(m);
	return m;
}

void fp_memory_free(struct fp_memory *m)
{
	if (m == NULL)
		return;
	for (int k = 0; k < FP_KIND_COUNT; k++)
		fp_index_free(m->ix[k]);
	pthread_rwlock_destroy(&m->lock);
	pthread_mutex_destroy(&m->writer);
	free(m);
}

int fp_memory_refresh(struct fp_memory *m, struct store *s, int64_t now)
{
	int rc = 0;
	/* Another thread refreshing or writing: it will see the new rows. */
	if (pthread_mutex_trylock(&m->writer) != 0)
		return 0;
	if (now - m->last_refresh >= REFRESH_EVERY) {
		m->last_refresh = now;
		rc = store_fp_scan(s, m->scanned_to, scan_cb, m) < 0 ? -1 : 0;
		log_stale(m);
	}
	pthread_mutex_unlock(&m->writer);
	return rc;
}

size_t fp_memory_stale(struct fp_memory *m)
{
	pthread_mutex_lock(&m->writer);
	size_t n = m->stale;
	pthread_mutex_unlock(&m->writer);
	return n;
}

size_t fp_memory_count(struct fp_memory *m)
{
	size_t n = 0;
	pthread_rwlock_rdlock(&m->lock);
	for (int k = 0; k < FP_KIND_COUNT; k++)
		n += fp_index_count(m->ix[k]);
	pthread_rwlock_unlock(&m->lock);
	return n;
}

static size_t lookup(struct fp_memory *m, int k, const struct fp_sig *sig, struct fp_match *out,
    size_t max)
{
	pthread_rwlock_rdlock(&m->lock);
	size_t n = fp_index_lookup(m->ix[k], sig, FP_INDEX_THRESHOLD, out, max);
	pthread_rwlock_unlock(&m->lock);
	return n < max ? n : max;
}

static void decay(struct store_fp *f, int64_t half_life, int64_t now)
{
	if (now <= f->updated || half_life <= 0)
		return;
	double x = pow(0.5, (double)(now - f->updated) / (double)half_life);
	f->traps *= x;
	f->complaints *= x;
	f->spam *= x;
	f->msgs *= x;
	f->updated = now;
}

/* "3 hours", "2 days": how long ago t was. */
static void ago(int64_t t, int64_t now, char *out, size_t n)
{
	int64_t d = now > t ? now - t : 0;
	if (d < 2 * 3600)
		snprintf(out, n, "%lld minutes", (long long)(d / 60 + 1));
	else if (d < 2 * 86400)
		snprintf(out, n, "%lld hours", (long long)(d / 3600));
	else
		snprintf(out, n, "%lld days", (long long)(d / 86400));
}

static void add_symbol(struct score_verdict *v, const char *name, double score,
    const char *reason)
{
	v->symbols = xrealloc(v->symbols, (v->n_symbols + 1) * sizeof(*v->symbols));
	struct score_symbol *sym = &v->symbols[v->n_symbols++];
	memset(sym, 0, sizeof(*sym));
	mw_strlcpy(sym->name, name, sizeof(sym->name));
	mw_strlcpy(sym->group, "fingerprint", sizeof(sym->group));
	sym->score = score;
	mw_strlcpy(sym->reason, reason, sizeof(sym->reason));
	v->score += score;
}

int fp_memory_symbols(struct fp_memory *m, struct store *s, const struct fp_message *fm,
    int64_t half_life, int64_t now, struct score_verdict *v)
{
	for (int k = 0; k < FP_KIND_COUNT; k++) {
		if (!usable(fm, k))
			continue;
		struct fp_match hits[MAX_MATCHES];
		size_t n = lookup(m, k, &fm->sig[k], hits, MAX_MATCHES);
		double best = 0;
		char name[48] = "", reason[256] = "";
		for (size_t i = 0; i < n; i++) {
			struct store_fp f;
			int rc = store_fp_get(s, (int64_t)hits[i].id, &f);
			if (rc < 0)
				return -1;
			if (rc == 1 || f.benign[0] != '\0')
				continue;   /* removed, or a tenant's own block */
			decay(&f, half_life, now);
			double pts = 0;
			const char *what = NULL;
			char span[32], detail[96];
			ago(f.created, now, span, sizeof(span));
			if (f.traps >= REP_TRAP_MIN) {
				pts = kinds[k].trap;
				what = "TRAP";
				snprintf(detail, sizeof(detail), "in mail to spam traps %.0f times",
				    ceil(f.traps - 0.5) > 0 ? ceil(f.traps - 0.5) : 1);
			} else if (f.complaints >= REP_COMPLAINT_MIN) {
				pts = fmin(kinds[k].complaint_cap, kinds[k].complaint_each * f.complaints);
				what = "COMPLAINT";
				snprintf(detail, sizeof(detail), "in mail that drew %.1f complaints",
				    f.complaints);
			} else if (f.spam >= 2.0) {
				pts = kinds[k].spam;
				what = "SPAM";
				snprintf(detail, sizeof(detail), "in %.1f messages scanned as probable spam",
				    f.spam);
			}
			if (what == NULL || pts <= best)
				continue;
			best = pts;
			snprintf(name, sizeof(name), "FP_%s_%s", kinds[k].name, what);
			snprintf(reason, sizeof(reason), "%s seen %s in the last %s (%.0f%% similar to "
			    "fingerprint #%lld, latest ref %s): \"%.80s\"", kinds[k].part, detail, span,
			    100.0 * hits[i].similarity, (long long)f.id, f.last_ref[0] ? f.last_ref : "-",
			    f.excerpt);
		}
		if (best > 0)
			add_symbol(v, name, best, reason);
	}
	return 0;
}

/* The first words of the part, for people reading `fingerprint list`. */
static void excerpt_of(const struct content_msg *cm, const struct fp_message *fm, int k, char *out,
    size_t n)
{
	out[0] = '\0';
	if (cm == NULL) {
		snprintf(out, n, "(%u %s)", fm->count[k], k == FP_KIND_URLS ||
		    k == FP_KIND_ATTACHMENTS ? "elements" : "shingles");
		return;
	}
	struct buf b = BUF_INIT;
	switch (k) {
	case FP_KIND_SIGNATURE: {
		enum content_sig_method how;
		const char *sig = content_signature(cm, &how);
		if (sig)
			buf_append_str(&b, sig);
		break;
	}
	case FP_KIND_TEXT:
		if (content_text_count(cm) > 0) {
			const struct content_text *t = content_text_at(cm, 0);
			buf_append(&b, t->text, t->len < 400 ? t->len : 400);
		}
		break;
	case FP_KIND_URLS:
		for (size_t i = 0; i < content_url_count(cm) && b.len < 300; i++)
			buf_printf(&b, "%s%s", i ? " " : "", content_url_at(cm, i)->reg_domain);
		break;
	case FP_KIND_ATTACHMENTS:
		for (size_t i = 0; i < content_attachment_count(cm) && b.len < 300; i++) {
			const struct content_attachment *a = content_attachment_at(cm, i);
			buf_printf(&b, "%s%s (%.12s)", i ? " " : "", a->filename[0] ? a->filename :
			    "unnamed", a->sha256);
		}
		break;
	}
	/* One line: whitespace runs become one space. */
	size_t o = 0;
	int sp = 0;
	for (size_t i = 0; i < b.len && o + 1 < n; i++) {
		unsigned char c = (unsigned char)b.data[i];
		if (c == '\r' || c == '\n' || c == '\t' || c == ' ') {
			sp = o > 0;
			continue;
		}
		if (c < 0x20 || c == 0x7f)
			continue;
		if (sp && o + 2 < n)
			out[o++] = ' ';
		sp = 0;
		out[o++] = (char)c;
	}
	/* Never end inside a UTF-8 sequence. */
	while (o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0x80)
		o--;
	if (o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0xc0)
		o--;
	out[o] = '\0';
	buf_free(&b);
}

/* The row that is a near-duplicate of sig (best match), or a new one
 * (id 0, counters zero).  1 = found. */
static int find_row(struct fp_memory *m, struct store *s, int k, const struct fp_sig *sig,
    struct store_fp *f, int *failed)
{
	struct fp_match hits[MAX_MATCHES];
	size_t n = lookup(m, k, sig, hits, MAX_MATCHES);
	*failed = 0;
	for (size_t i = 0; i < n; i++) {
		int rc = store_fp_get(s, (int64_t)hits[i].id, f);
		if (rc < 0) {
			*failed = 1;
			return 0;
		}
		if (rc == 0)
			return 1;
	}
	memset(f, 0, sizeof(*f));
	return 0;
}

static int new_row(struct fp_memory *m, struct store *s, int k, const struct fp_message *fm,
    const struct content_msg *cm, struct store_fp *f, int64_t now)
{
	memset(f, 0, sizeof(*f));
	f->kind = k;
	fp_sig_encode(&fm->sig[k], (enum fp_kind)k, f->sig);
	f->created = f->updated = now;
	excerpt_of(cm, fm, k, f->excerpt, sizeof(f->excerpt));
	if (store_fp_put(s, f) < 0)
		return -1;
	index_row(m, f);
	return 0;
}

int fp_memory_record(struct fp_memory *m, struct store *s, const struct fp_message *fm,
    const struct content_msg *cm, enum fp_evidence ev, const char *ref, int64_t half_life,
    int64_t now)
{
	int touched = 0;
	pthread_mutex_lock(&m->writer);
	/* Rows of other processes first: a near-duplicate they wrote is
	 * the row to count on, not a twin. */
	if (store_fp_scan(s, m->scanned_to, scan_cb, m) < 0)
		goto fail;
	log_stale(m);
	for (int k = 0; k < FP_KIND_COUNT; k++) {
		if (!usable(fm, k))
			continue;
		struct store_fp f;
		int failed;
		int found = find_row(m, s, k, &fm->sig[k], &f, &failed);
		if (failed)
			goto fail;
		if (found && f.benign[0] != '\0')
			continue;
		if (!found && new_row(m, s, k, fm, cm, &f, now) < 0)
			goto fail;
		decay(&f, half_life, now);
		f.msgs += 1;
		switch (ev) {
		case FP_EV_TRAP:
			f.traps += 1;
			f.last_trap = now;
			break;
		case FP_EV_COMPLAINT:
			f.complaints += 1;
			break;
		case FP_EV_SPAM:
			f.spam += 1;
			break;
		}
		if (ref != NULL)
			mw_strlcpy(f.last_ref, ref, sizeof(f.last_ref));
		if (store_fp_put(s, &f) < 0)
			goto fail;
		touched++;
	}
	pthread_mutex_unlock(&m->writer);
	return touched;
fail:
	pthread_mutex_unlock(&m->writer);
	return -1;
}

int fp_memory_mark_benign(struct fp_memory *m, struct store *s, const struct fp_message *fm,
    const struct content_msg *cm, const char *tenant, int64_t now)
{
	int marked = 0;
	pthread_mutex_lock(&m->writer);
	if (store_fp_scan(s, m->scanned_to, scan_cb, m) < 0)
		goto fail;
	log_stale(m);
	for (int k = 0; k < FP_KIND_COUNT; k++) {
		if (!(fm->present & (1u << k)))
			continue;
		struct store_fp f;
		int failed;
		int found = find_row(m, s, k, &fm->sig[k], &f, &failed);
		if (failed)
			goto fail;
		if (!found && new_row(m, s, k, fm, cm, &f, now) < 0)
			goto fail;
		mw_strlcpy(f.benign, tenant, sizeof(f.benign));
		if (store_fp_put(s, &f) < 0)
			goto fail;
		marked++;
	}
	pthread_mutex_unlock(&m->writer);
	return marked;
fail:
	pthread_mutex_unlock(&m->writer);
	return -1;
}
