/* Unit tests: sender identities, decaying counters, the assessment and
 * its decay back to neutral with an injected clock (issue 4, Done means 2),
 * and the fingerprint memory - all on real SQLite files. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/util.h"
#include "conf/conf.h"
#include "content/content.h"
#include "fingerprint/fingerprint.h"
#include "reputation/fp_memory.h"
#include "reputation/fp_recent.h"
#include "reputation/reputation.h"
#include "reputation/sig_history.h"
#include "score/score.h"
#include "store/store.h"

#define DAY 86400
#define T0 1800000000   /* an arbitrary "now": the clock is ours */

struct fx {
	char dir[64];
	struct conf c;
	struct store *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];
	strcpy(f->dir, "/tmp/mw-rep-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	conf_defaults(&f->c);
	snprintf(f->c.data_dir, sizeof(f->c.data_dir), "%s", f->dir);
	f->s = store_open(&f->c, err, sizeof(err));
	if (f->s == NULL) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* ---- identities ------------------------------------------------------------ */

static void test_identities_v4(void **state)
{
	struct rep_ids ids;
	(void)state;
	reputation_identities("192.0.2.77", "Bob@Mail.Example.CO.UK", NULL, &ids);
	assert_int_equal(ids.n, 3);
	assert_string_equal(ids.key[0], "ip:192.0.2.77");
	assert_int_equal(ids.kind[0], REP_ID_IP);
	assert_string_equal(ids.key[1], "net:192.0.2.0/24");
	/* The registered domain, paired with the network: a forged domain
	 * taints only "that domain from this network". */
	assert_string_equal(ids.key[2], "pair:example.co.uk/192.0.2.0/24");
	assert_int_equal(ids.kind[2], REP_ID_PAIR);
}

static void test_identities_v6_and_mapped(void **state)
{
	struct rep_ids ids;
	(void)state;
	reputation_identities("2001:db8:1:2:a::1", "", NULL, &ids);
	assert_int_equal(ids.n, 2);   /* the null sender has no domain */
	assert_string_equal(ids.key[0], "ip:2001:db8:1:2:a::1");
	assert_string_equal(ids.key[1], "net:2001:db8:1:2::/64");
	reputation_identities("::ffff:198.51.100.9", "a@b.example", NULL, &ids);
	assert_string_equal(ids.key[0], "ip:198.51.100.9");
	assert_string_equal(ids.key[1], "net:198.51.100.0/24");
	reputation_identities("", "a@b.example", NULL, &ids);
	assert_int_equal(ids.n, 0);
	reputation_identities("not-an-ip", "a@b.example", NULL, &ids);
	assert_int_equal(ids.n, 0);
	/* Authenticated (later, R15): the domain itself is an identity. */
	reputation_identities("192.0.2.1", "a@b.example", "news.b.example", &ids);
	assert_int_equal(ids.n, 4);
	assert_string_equal(ids.key[3], "org:b.example");
}

static void test_key_of(void **state)
{
	char k[STORE_REP_KEY_MAX];
	(void)state;
	assert_int_equal(reputation_key_of("192.0.2.1", k, sizeof(k)), 0);
	assert_string_equal(k, "ip:192.0.2.1");
	assert_int_equal(reputation_key_of("192.0.2.9/24", k, sizeof(k)), 0);
	assert_string_equal(k, "net:192.0.2.0/24");
	assert_int_equal(reputation_key_of("2001:db8::/64", k, sizeof(k)), 0);
	assert_string_equal(k, "net:2001:db8::/64");
	assert_int_equal(reputation_key_of("Mail.Example.ORG", k, sizeof(k)), 0);
	assert_string_equal(k, "org:example.org");
	assert_int_equal(reputation_key_of("192.0.2.0/16", k, sizeof(k)), -1);
	assert_int_equal(reputation_key_of("no dots", k, sizeof(k)), -1);
	assert_int_equal(reputation_key_of("192.0.2.300", k, sizeof(k)), -1);
	assert_int_equal(reputation_key_of("example.", k, sizeof(k)), -1);
	assert_int_equal(reputation_key_of("", k, sizeof(k)), -1);
	assert_int_equal(reputation_key_of("a'b.example", k, sizeof(k)), -1);
}

/* ---- decay and assessment ------------------------------------------------------ */

static void test_decay_halves(void **state)
{
	struct store_rep r = { .updated = T0, .traps = 4, .invalid = 8, .msgs = 16 };
	(void)state;
	reputation_decay(&r, DAY, T0 + DAY);
	assert_true(fabs(r.traps - 2) < 1e-9 && fabs(r.invalid - 4) < 1e-9);
	reputation_decay(&r, DAY, T0 + 3 * DAY);
	assert_true(fabs(r.msgs - 2) < 1e-9);
	assert_int_equal(r.updated, T0 + 3 * DAY);
	/* A clock that went back changes nothing. */
	reputation_decay(&r, DAY, T0);
	assert_true(fabs(r.msgs - 2) < 1e-9);
}

static void test_assess_signals(void **state)
{
	struct rep_assessment a;
	(void)state;
	struct store_rep none = { 0 };
	reputation_assess(&none, &a);
	assert_int_equal(a.state, REP_NEUTRAL);
	assert_true(a.total == 0);

	struct store_rep trap = { .msgs = 1, .traps = 1 };
	reputation_assess(&trap, &a);
	assert_true(a.traps >= 10);
	assert_int_equal(a.state, REP_FINGERPRINTED);
	assert_non_null(strstr(a.evidence, "spam-trap"));
	/* One recycled trap reached by a big shared sender: scaled down. */
	struct store_rep bigtrap = { .msgs = 100000, .ham = 99000, .traps = 1 };
	reputation_assess(&bigtrap, &a);
	assert_true(a.traps > 0 && a.traps < 1);
	assert_int_equal(a.state, REP_NEUTRAL);
	/* ...but not below 0.1% of its messages. */
	struct store_rep spammer = { .msgs = 900, .traps = 1 };
	reputation_assess(&spammer, &a);
	assert_true(a.traps >= 10);

	/* A directory harvest: many unknown recipients, most of them. */
	struct store_rep harvest = { .valid = 2, .invalid = 30 };
	reputation_assess(&harvest, &a);
	assert_true(a.invalid > 7 && a.invalid <= 8);
	assert_int_equal(a.state, REP_SUSPECT);
	/* A typo or two among many: nothing. */
	struct store_rep typo = { .valid = 200, .invalid = 2 };
	reputation_assess(&typo, &a);
	assert_true(a.invalid == 0);

	/* Four complaints on few messages: probable spam on their own. */
	struct store_rep comp = { .msgs = 5, .complaints = 4 };
	reputation_assess(&comp, &a);
	assert_true(a.complaints >= 12 - 1e-9);
	/* The same four on 100,000 messages: a big sender, scaled down. */
	struct store_rep big = { .msgs = 100000, .complaints = 4, .ham = 100000 };
	reputation_assess(&big, &a);
	assert_true(a.complaints < 1);
	/* Half a complaint (a Message-ID-only match) counts while it decays,
	 * not only at the instant it arrived; under a quarter it is gone. */
	struct store_rep half = { .msgs = 2, .complaints = 0.5 * 0.99 };
	reputation_assess(&half, &a);
	assert_true(a.complaints > 1.4 && a.complaints < 1.5);
	half.complaints = 0.24;
	reputation_assess(&half, &a);
	assert_true(a.complaints == 0);
	/* Two claimed-forward trap hits (a third each) list; one does not. */
	struct store_rep fwd = { .msgs = 2, .traps = 2.0 / 3.0 * 0.999 };
	reputation_assess(&fwd, &a);
	assert_int_equal(a.state, REP_FINGERPRINTED);
	fwd.traps = 1.0 / 3.0;
	reputation_assess(&fwd, &a);
	assert_true(a.traps == 0);

	struct store_rep good = { .msgs = 50, .ham = 50, .valid = 50 };
	reputation_assess(&good, &a);
	assert_int_equal(a.state, REP_GOOD);
	assert_true(a.total < 0);
}

/* Done means 2: a fingerprinted sender returns to neutral after the
 * configured time without new evidence. */
static void test_decay_to_neutral(void **state)
{
	struct fx *f = *state;
	const int64_t hl = 3 * DAY;
	struct rep_ids ids;
	struct store_rep r;
	struct rep_assessment a;
	reputation_identities("203.0.113.5", "x@spam.example", NULL, &ids);
	struct rep_delta d = { .msgs = 1, .traps = 1 };
	assert_int_equal(reputation_add(f->s, &ids, &d, hl, T0, "trap", "ABCD-EFGH", "test"), 0);

	assert_int_equal(reputation_get(f->s, ids.key[0], hl, T0, &r), 0);
	reputation_assess(&r, &a);
	assert_int_equal(a.state, REP_FINGERPRINTED);
	/* Still listed just before one half-life... */
	assert_int_equal(reputation_get(f->s, ids.key[0], hl, T0 + hl - 60, &r), 0);
	reputation_assess(&r, &a);
	assert_int_equal(a.state, REP_FINGERPRINTED);
	/* ...and neutral once the hit has decayed under half a hit. */
	assert_int_equal(reputation_get(f->s, ids.key[0], hl, T0 + hl + 60, &r), 0);
	reputation_assess(&r, &a);
	assert_int_equal(a.state, REP_NEUTRAL);
	assert_true(a.total < REP_SUSPECT_POINTS);

	/* New evidence in between renews the listing: two hits last two
	 * half-lives. */
	assert_int_equal(reputation_add(f->s, &ids, &d, hl, T0 + hl / 2, "trap", "ABCD-EFGH",
	    "again"), 0);
	assert_int_equal(reputation_get(f->s, ids.key[0], hl, T0 + hl + 60, &r), 0);
	reputation_assess(&r, &a);
	assert_int_equal(a.state, REP_FINGERPRINTED);
	assert_int_equal(reputation_get(f->s, ids.key[0], hl, T0 + 3 * hl, &r), 0);
	reputation_assess(&r, &a);
	assert_int_equal(a.state, REP_NEUTRAL);

	/* The evidence stays readable as history. */
	struct store_rep_event *ev = NULL;
	size_t n = 0;
	assert_int_equal(store_rep_event_list(f->s, ids.key[0], 0, &ev, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ev[0].kind, "trap");
	assert_string_equal(ev[0].ref, "ABCD-EFGH");
	store_rep_event_free(ev, n);
}

static double symbol_score(const struct score_verdict *v, const char *name)
{
	for (size_t i = 0; i < v->n_symbols; i++)
		if (strcmp(v->symbols[i].name, name) == 0)
			return v->symbols[i].score;
	return NAN;
}

static void test_symbols_worst_identity(void **state)
{
	struct fx *f = *state;
	const int64_t hl = 3 * DAY;
	struct rep_ids ids, net_only, other;
	struct score_verdict v;

	reputation_identities("198.51.100.7", "a@one.example", NULL, &ids);
	struct rep_delta d = { .msgs = 1, .traps = 1 };
	assert_int_equal(reputation_add(f->s, &ids, &d, hl, T0, "trap", "R", "x"), 0);

	memset(&v, 0, sizeof(v));
	assert_int_equal(reputation_symbols(f->s, &ids, hl, T0 + 10, &v), 0);
	/* Three identities have the hit: counted once, at full weight. */
	assert_int_equal(v.n_symbols, 1);
	assert_true(symbol_score(&v, "REP_TRAP_HITS") >= 10);
	assert_non_null(strstr(v.symbols[0].reason, "IP 198.51.100.7"));
	score_verdict_free(&v);

	/* A neighbour in the /24 with another domain: the network alone, at
	 * half weight - suspect, not rejected. */
	reputation_identities("198.51.100.8", "b@two.example", NULL, &net_only);
	memset(&v, 0, sizeof(v));
	assert_int_equal(reputation_symbols(f->s, &net_only, hl, T0 + 10, &v), 0);
	assert_true(fabs(symbol_score(&v, "REP_TRAP_HITS") - 5) < 1e-9);
	assert_non_null(strstr(v.symbols[0].reason, "network 198.51.100.0/24"));
	score_verdict_free(&v);

	/* The same domain from elsewhere: untouched (no framing by forgery). */
	reputation_identities("192.0.2.200", "a@one.example", NULL, &other);
	memset(&v, 0, sizeof(v));
	assert_int_equal(reputation_symbols(f->s, &other, hl, T0 + 10, &v), 0);
	assert_int_equal(v.n_symbols, 0);
	score_verdict_free(&v);
}

/* ---- fingerprint memory ------------------------------------------------------- */

#define SIG_MSG \
    "From: a@x.example\r\nSubject: s\r\n\r\n" \
    "%s\r\n\r\n-- \r\nJohn Q. Sender\r\nSenior Vice President of Moving Money\r\n" \
    "Sender Holdings International, 12 Long Street, Springfield\r\n" \
    "Phone +1 555 0100 0199, www.sender-holdings.example\r\n"

static void fp_of(const char *body, struct fp_message *fm, struct content_msg **cm)
{
	char buf[4096];
	struct content_limits lim = content_limits_default();
	struct fp_params p = fp_params_default();
	snprintf(buf, sizeof(buf), SIG_MSG, body);
	*cm = content_parse(buf, strlen(buf), &lim);
	assert_non_null(*cm);
	fp_message_compute(*cm, &p, fm);
}

static void test_fp_memory_trap_and_benign(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct fp_message a, b;
	struct content_msg *ca, *cb;
	struct score_verdict v;
	const int64_t hl = 3 * DAY;

	fp_of("Dear friend, I have a business proposal for you that concerns a very large "
	    "sum of money which I need to move out of the country quickly and quietly.", &a, &ca);
	fp_of("Completely different words about the quarterly meeting agenda, the budget "
	    "review, and who brings the coffee and the biscuits on Thursday morning.", &b, &cb);
	assert_true(a.present & (1u << FP_KIND_SIGNATURE));

	struct fp_memory *m = fp_memory_open(f->s, 1000, err, sizeof(err));
	assert_non_null(m);
	assert_true(fp_memory_record(m, f->s, &a, ca, FP_EV_TRAP, "TRAP-0001", hl, T0) >= 2);

	/* Another body with the same signature block: the signature matches. */
	memset(&v, 0, sizeof(v));
	assert_int_equal(fp_memory_symbols(m, f->s, &b, hl, T0 + 60, &v), 0);
	assert_true(symbol_score(&v, "FP_SIGNATURE_TRAP") >= 10);
	assert_true(isnan(symbol_score(&v, "FP_TEXT_TRAP")));
	const char *reason = v.symbols[0].reason;
	assert_non_null(strstr(reason, "signature block"));
	assert_non_null(strstr(reason, "spam traps"));
	score_verdict_free(&v);

	/* A second process's view: a new memory loads the rows. */
	struct fp_memory *m2 = fp_memory_open(f->s, 1000, err, sizeof(err));
	assert_non_null(m2);
	assert_int_equal(fp_memory_count(m2), fp_memory_count(m));

	/* Decayed away after a few half-lives. */
	memset(&v, 0, sizeof(v));
	assert_int_equal(fp_memory_symbols(m2, f->s, &b, hl, T0 + 2 * hl, &v), 0);
	assert_int_equal(v.n_symbols, 0);
	score_verdict_free(&v);

	/* The tenant marks the block benign: never matched again. */
	assert_true(fp_memory_mark_benign(m2, f->s, &b, cb, "acme", T0 + 120) >= 1);
	memset(&v, 0, sizeof(v));
	assert_int_equal(fp_memory_symbols(m, f->s, &b, hl, T0 + 180, &v), 0);
	assert_true(isnan(symbol_score(&v, "FP_SIGNATURE_TRAP")));
	score_verdict_free(&v);

	fp_memory_free(m);
	fp_memory_free(m2);
	content_free(ca);
	content_free(cb);
}

/*
 * After an upgrade that changed FP_SIG_VERSION the store still holds rows of
 * the old version.  They must not be compared (their minimums come from
 * another normaliser), must not crash the load, and must not be lost:
 * ignored, left in the store, and the evidence starts again in new rows.
 */
static void test_fp_memory_ignores_old_version_rows(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct fp_message a;
	struct content_msg *ca;
	struct score_verdict v;
	const int64_t hl = 3 * DAY;

	fp_of("Dear friend, I have a business proposal for you that concerns a very large "
	    "sum of money which I need to move out of the country quickly and quietly.", &a, &ca);
	assert_true(a.present & (1u << FP_KIND_TEXT));

	/* What a version 1 gateway wrote: the very minimums of this message,
	 * with trap hits, under the old version byte. */
	struct store_fp old;
	memset(&old, 0, sizeof(old));
	old.kind = FP_KIND_TEXT;
	fp_sig_encode(&a.sig[FP_KIND_TEXT], FP_KIND_TEXT, old.sig);
	old.sig[0] = 1;
	old.created = old.updated = T0;
	old.traps = old.msgs = 5;
	snprintf(old.excerpt, sizeof(old.excerpt), "Dear friend, I have a business proposal");
	assert_int_equal(store_fp_put(f->s, &old), 0);
	int64_t old_id = old.id;

	struct fp_memory *m = fp_memory_open(f->s, 1000, err, sizeof(err));
	assert_non_null(m);
	assert_int_equal(fp_memory_count(m), 0);
	assert_int_equal(fp_memory_stale(m), 1);

	/* Identical minimums, five trap hits: still no match. */
	memset(&v, 0, sizeof(v));
	assert_int_equal(fp_memory_symbols(m, f->s, &a, hl, T0 + 60, &v), 0);
	assert_int_equal(v.n_symbols, 0);
	score_verdict_free(&v);

	/* New evidence makes new rows; the old row is neither updated nor gone. */
	assert_true(fp_memory_record(m, f->s, &a, ca, FP_EV_TRAP, "TRAP-0002", hl, T0 + 120) >= 1);
	assert_true(fp_memory_count(m) >= 1);
	struct store_fp back;
	assert_int_equal(store_fp_get(f->s, old_id, &back), 0);
	assert_int_equal(back.sig[0], 1);
	assert_true(back.traps == 5 && back.updated == T0);
	memset(&v, 0, sizeof(v));
	assert_int_equal(fp_memory_symbols(m, f->s, &a, hl, T0 + 180, &v), 0);
	assert_true(symbol_score(&v, "FP_TEXT_TRAP") >= 10);
	assert_non_null(strstr(v.symbols[0].reason, "TRAP-0002"));
	score_verdict_free(&v);

	/* An old binary sharing the store writes another one: refresh skips it. */
	size_t indexed = fp_memory_count(m);
	old.id = 0;
	assert_int_equal(store_fp_put(f->s, &old), 0);
	assert_int_equal(fp_memory_refresh(m, f->s, T0 + 3600), 0);
	assert_int_equal(fp_memory_stale(m), 2);
	assert_int_equal(fp_memory_count(m), indexed);

	fp_memory_free(m);
	content_free(ca);
}

/* ---- bulk: how far a text went today ------------------------------------------ */

static void test_fp_recent_counts_and_window(void **state)
{
	struct fp_message a, b;
	struct content_msg *ca, *cb;
	struct fp_recent_seen seen;
	(void)state;

	fp_of("Our spring catalogue is here: forty new garden tools, free delivery on orders "
	    "over fifty, and a voucher for your next visit to any of our stores this month.", &a, &ca);
	fp_of("Minutes of the board meeting: the budget was approved, the audit starts in May, "
	    "and the new office lease is signed for three more years starting next January.", &b, &cb);
	struct fp_recent *r = fp_recent_new(4);
	assert_non_null(r);
	assert_null(fp_recent_new(0));

	fp_recent_add(r, &a.sig[FP_KIND_TEXT], "acme", 10, T0, &seen);
	assert_int_equal(seen.rcpts, 10);
	assert_int_equal(seen.tenants, 1);
	fp_recent_add(r, &a.sig[FP_KIND_TEXT], "beta", 5, T0 + 60, &seen);
	assert_int_equal(seen.rcpts, 15);
	assert_int_equal(seen.tenants, 2);
	fp_recent_add(r, &a.sig[FP_KIND_TEXT], "acme", 1, T0 + 120, &seen);
	assert_int_equal(seen.tenants, 2);        /* a tenant counts once */
	assert_int_equal(seen.first, T0);
	/* Another text is another entry. */
	fp_recent_add(r, &b.sig[FP_KIND_TEXT], "acme", 1, T0 + 180, &seen);
	assert_int_equal(seen.rcpts, 1);
	/* A day after its first copy, the first text counts afresh. */
	fp_recent_add(r, &a.sig[FP_KIND_TEXT], "gamma", 2, T0 + FP_RECENT_WINDOW + 1, &seen);
	assert_int_equal(seen.rcpts, 2);
	assert_int_equal(seen.tenants, 1);
	fp_recent_free(r);

	/* Fixed memory: with room for one entry, a new text evicts the old. */
	r = fp_recent_new(1);
	fp_recent_add(r, &a.sig[FP_KIND_TEXT], "acme", 3, T0, &seen);
	fp_recent_add(r, &b.sig[FP_KIND_TEXT], "acme", 1, T0 + 1, &seen);
	fp_recent_add(r, &a.sig[FP_KIND_TEXT], "acme", 1, T0 + 2, &seen);
	assert_int_equal(seen.rcpts, 1);
	fp_recent_free(r);
	content_free(ca);
	content_free(cb);
}

/* ---- which closing paragraph a sender repeats (R7) ------------------------------ */

#define DISCLAIMER "This message and anything attached are confidential and meant only " \
	"for the people it is addressed to."

static void test_sig_history_repeats_per_sender(void **state)
{
	(void)state;
	struct sig_history *h = sig_history_new(64);
	assert_non_null(h);
	assert_null(sig_history_new(0));
	assert_null(sig_history_new((size_t)SIG_HISTORY_MAX_ENTRIES + 1));

	/* Three distinct messages ending the same way; case, spacing and line
	 * breaks are the normaliser's, the sender's case does not matter. */
	assert_int_equal(sig_history_add(h, "ann@acme.example", DISCLAIMER, 1, T0), 1);
	assert_int_equal(sig_history_add(h, "ANN@acme.example",
	    "THIS message and anything attached\nare confidential and  meant only "
	    "for the people it is addressed to.", 2, T0 + 60), 2);
	/* A resend of a text counted already changes nothing. */
	assert_int_equal(sig_history_add(h, "ann@acme.example", DISCLAIMER, 2, T0 + 61), 2);
	assert_int_equal(sig_history_add(h, "ann@acme.example", DISCLAIMER, 3, T0 + 120),
	    SIG_HISTORY_REPEATS);
	/* The same block from another sender, another block from the same one,
	 * each start from one. */
	assert_int_equal(sig_history_add(h, "bob@acme.example", DISCLAIMER, 4, T0 + 180), 1);
	assert_int_equal(sig_history_add(h, "ann@acme.example",
	    "Sent from the quay office on the north side", 5, T0 + 240), 1);
	/* Too short for a signature fingerprint, or no sender: not counted. */
	assert_int_equal(sig_history_add(h, "ann@acme.example", "Thanks, Ann", 6, T0), 0);
	assert_int_equal(sig_history_add(h, "ann@acme.example", "Thanks, Ann", 7, T0), 0);
	assert_int_equal(sig_history_add(h, "", DISCLAIMER, 8, T0), 0);
	assert_int_equal(sig_history_add(h, NULL, DISCLAIMER, 8, T0), 0);
	assert_int_equal(sig_history_add(h, "ann@acme.example", NULL, 8, T0), 0);
	/* Within the window since the last sighting it goes on counting ... */
	assert_int_equal(sig_history_add(h, "ann@acme.example", DISCLAIMER, 9,
	    T0 + 120 + SIG_HISTORY_WINDOW), 4);
	/* ... after a whole window without it, it counts afresh. */
	assert_int_equal(sig_history_add(h, "ann@acme.example", DISCLAIMER, 10,
	    T0 + 121 + 2 * SIG_HISTORY_WINDOW), 1);
	sig_history_free(h);

	/* Fixed memory: with one slot, another sender's block evicts the first. */
	h = sig_history_new(1);
	assert_int_equal(sig_history_add(h, "ann@acme.example", DISCLAIMER, 1, T0), 1);
	assert_int_equal(sig_history_add(h, "ann@acme.example", DISCLAIMER, 2, T0 + 1), 2);
	assert_int_equal(sig_history_add(h, "bob@acme.example", DISCLAIMER, 3, T0 + 2), 1);
	assert_int_equal(sig_history_add(h, "ann@acme.example", DISCLAIMER, 4, T0 + 3), 1);
	sig_history_free(h);

	/* A full neighbourhood: the least recently seen entry makes room, the
	 * others keep their counts. */
	h = sig_history_new(16);
	char who[64];
	for (int i = 0; i < 16; i++) {
		snprintf(who, sizeof(who), "user%d@acme.example", i);
		assert_int_equal(sig_history_add(h, who, DISCLAIMER, 1, T0 + i), 1);
		assert_int_equal(sig_history_add(h, who, DISCLAIMER, 2, T0 + 100 + i), 2);
	}
	assert_int_equal(sig_history_add(h, "new@acme.example", DISCLAIMER, 1, T0 + 200), 1);
	assert_int_equal(sig_history_add(h, "user0@acme.example", DISCLAIMER, 3, T0 + 201), 1);
	for (int i = 2; i < 16; i++) {
		snprintf(who, sizeof(who), "user%d@acme.example", i);
		assert_int_equal(sig_history_add(h, who, DISCLAIMER, 3, T0 + 300 + i), 3);
	}
	sig_history_free(h);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identities_v4),
		cmocka_unit_test(test_identities_v6_and_mapped),
		cmocka_unit_test(test_key_of),
		cmocka_unit_test(test_decay_halves),
		cmocka_unit_test(test_assess_signals),
		T(test_decay_to_neutral),
		T(test_symbols_worst_identity),
		T(test_fp_memory_trap_and_benign),
		T(test_fp_memory_ignores_old_version_rows),
		cmocka_unit_test(test_fp_recent_counts_and_window),
		cmocka_unit_test(test_sig_history_repeats_per_sender),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
