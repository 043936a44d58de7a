/*
 * Unit tests: content fingerprints (src/fingerprint/, docs/fingerprint.md) -
 * the normaliser, MinHash signatures of texts and sets, the fingerprints of
 * parsed messages (text without its signature block, the signature block,
 * URL domains, attachments) and the LSH index (near-duplicates found,
 * unrelated ones not, removal, churn checked against a brute-force scan,
 * rebuild from encoded signatures).  No timing is asserted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/util.h"
#include "content/content.h"
#include "fingerprint/fingerprint.h"
#include "fingerprint/fingerprint_index.h"

/* ---- helpers ------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static char *norm(const char *text, unsigned flags)
{
	struct fp_limits lim = fp_params_default().lim;
	struct buf b = BUF_INIT;
	fp_normalize(text, strlen(text), flags, &lim, &b, NULL);
	return buf_steal(&b);
}

static void assert_norm(const char *text, unsigned flags, const char *want)
{
	char *got = norm(text, flags);
	assert_string_equal(got, want);
	free(got);
}

static const char *data_dir(void)
{
	const char *d = getenv("FINGERPRINT_TEST_DATA");
	return d ? d : "tests/unit/data/fingerprint";
}

static char *read_data(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", data_dir(), name);
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s (run from the repository root)", path);
	struct buf b = BUF_INIT;
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	return buf_steal(&b);
}

/* A pseudo-English paragraph of n words from a fixed vocabulary. */
static const char *const vocab[] = {
	"the", "account", "please", "review", "attached", "invoice", "meeting", "tomorrow", "project",
	"update", "we", "will", "send", "you", "report", "before", "friday", "customer", "order",
	"shipping", "delivery", "price", "offer", "limited", "time", "team", "thanks", "for", "your",
	"patience", "server", "migration", "schedule", "budget", "quarter", "results", "marketing",
	"campaign", "newsletter", "unsubscribe", "security", "password", "reset", "login", "bank",
	"transfer", "urgent", "confirm", "details", "contract", "signed", "draft", "changes", "agenda",
	"lunch", "office", "holiday", "travel", "hotel", "booking", "flight", "conference", "speaker",
};

static void para(struct buf *b, uint64_t *seed, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		buf_append_str(b, vocab[rng_next(seed) % MW_ARRAY_LEN(vocab)]);
		buf_append_char(b, i + 1 == n ? '.' : ' ');
	}
	buf_append_str(b, "\n\n");
}

static double text_sim(const char *a, const char *b)
{
	struct fp_params p = fp_params_default();
	struct fp_sig sa, sb;
	assert_int_equal(fp_text_sig(a, strlen(a), &p, &sa, NULL, NULL), 0);
	assert_int_equal(fp_text_sig(b, strlen(b), &p, &sb, NULL, NULL), 0);
	return fp_sig_similarity(&sa, &sb);
}

static void random_sig(struct fp_sig *s, uint64_t *seed)
{
	for (size_t k = 0; k < FP_K; k++)
		s->v[k] = (uint32_t)rng_next(seed);
}

/* A near-duplicate: each minimum replaced with probability 1 - j, which is
 * how MinHash behaves for two sets of Jaccard similarity j. */
static void variant_sig(struct fp_sig *out, const struct fp_sig *base, double j, uint64_t *seed)
{
	for (size_t k = 0; k < FP_K; k++)
		out->v[k] = (double)(rng_next(seed) % 10000) / 10000.0 < j ? base->v[k] : (uint32_t)rng_next(seed);
}

/* ---- normaliser ------------------------------------------------------------ */

static void test_normalize_basic(void **state)
{
	(void)state;
	assert_norm("Hello, WORLD!!  Visit http://x.example/a?b=1 or mail Bob.Smith@example.com; call 555-1234 now",
		    0, "hello world visit #u or mail #e call #n now");
	assert_norm("(www.Example.com) $1,000.00 for 3 items", 0, "#u #n for #n items");
	assert_norm("order A7F3K9 shipped", 0, "order #n shipped");
	assert_norm("  \t\r\n ...!!! --- \n", 0, "");
	assert_norm("", 0, "");
	assert_norm("a\xc2\xa0" "b\xe3\x80\x80" "c", 0, "a b c"); /* NBSP, ideographic space */
	assert_norm("e-mail: user@host", 0, "e mail user host"); /* no dot after '@': words */
}

static void test_normalize_unicode(void **state)
{
	(void)state;
	assert_norm("\xc3\x89" "COLE Stra\xc3\x9f" "e \xce\x91\xce\x92\xce\x93 \xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2",
		    0, "\xc3\xa9" "cole stra\xc3\x9f" "e \xce\xb1\xce\xb2\xce\xb3 \xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
	/* Zero-width space and soft hyphen inside a word are dropped. */
	assert_norm("V\xe2\x80\x8bia\xc2\xad" "gra", 0, "viagra");
	/* Fullwidth ASCII folds to ASCII. */
	assert_norm("\xef\xbc\xa6\xef\xbc\xb2\xef\xbc\xa5\xef\xbc\xa5 \xef\xbc\x91\xef\xbc\x92", 0, "free #n");
	/* Curly quotes and dashes separate words. */
	assert_norm("\xe2\x80\x9cyes\xe2\x80\x9d\xe2\x80\x94no", 0, "yes no");
	/* Invalid UTF-8 never swallows the bytes after it. */
	assert_norm("\xff\xfe" "abc\xc3", 0, "abc");
	assert_norm("ab\xe2\x82" "cd", 0, "ab cd");
}

static void test_normalize_keep_flags(void **state)
{
	(void)state;
	const char *sig = "Tel +1 555 123-4567, www.Acme.example, jo@acme.example";
	assert_norm(sig, 0, "tel #n #u #e");
	assert_norm(sig, FP_NORM_KEEP_NUMBERS | FP_NORM_KEEP_ADDRESSES,
		    "tel 1 555 123 4567 www acme example jo acme example");
}

static void test_normalize_caps(void **state)
{
	(void)state;
	struct fp_limits lim = { .max_bytes = 1000, .max_tokens = 3 };
	struct buf b = BUF_INIT;
	int cut = 0;
	size_t n = fp_normalize("one two three four five", 23, 0, &lim, &b, &cut);
	assert_int_equal(n, 3);
	assert_int_equal(cut, 1);
	assert_string_equal(b.data, "one two three");
	buf_reset(&b);
	lim.max_tokens = 100;
	lim.max_bytes = 9; /* cuts inside "three" */
	n = fp_normalize("one two three", 13, 0, &lim, &b, &cut);
	assert_int_equal(cut, 1);
	assert_string_equal(b.data, "one two t");
	buf_reset(&b);
	/* A cut inside a UTF-8 sequence backs up to its start. */
	lim.max_bytes = 3;
	n = fp_normalize("ab\xc3\xa9z", 5, 0, &lim, &b, &cut);
	assert_string_equal(b.data, "ab");
	buf_reset(&b);
	/* Words are cut at 40 bytes. */
	lim.max_bytes = 1000;
	char longw[200];
	memset(longw, 'x', sizeof(longw) - 1);
	longw[sizeof(longw) - 1] = '\0';
	n = fp_normalize(longw, strlen(longw), 0, &lim, &b, &cut);
	assert_int_equal(n, 1);
	assert_int_equal(b.len, 40);
	assert_int_equal(cut, 0);
	buf_free(&b);
}

/* Han, kana and Thai are written without spaces: each character is a token
 * (a run used to be one word cut at 40 bytes).  Hangul keeps its words. */
static void test_normalize_unspaced_scripts(void **state)
{
	(void)state;
	assert_norm("日本語のテキスト", 0, "日 本 語 の テ キ ス ト");
	assert_norm("欢迎光临，全场八折！", 0, "欢 迎 光 临 全 场 八 折");
	assert_norm("ｶﾀｶﾅ", 0, "ｶ ﾀ ｶ ﾅ"); /* half-width Katakana */
	assert_norm("สวัสดีครับ", 0, "ส ว ั ส ด ี ค ร ั บ"); /* Thai, marks included */
	assert_norm("안녕하세요 고객님", 0, "안녕하세요 고객님");
	/* A run ends the Latin word before it; numbers inside are "#n". */
	assert_norm("SALE中 価格1,000円 iPhone対応", 0, "sale 中 価 格 #n 円 iphone 対 応");
	assert_norm("価格1,000円", FP_NORM_KEEP_NUMBERS, "価 格 1 000 円");
	/* Zero-width characters between them change nothing. */
	assert_norm("東\xe2\x80\x8b京", 0, "東 京");
	/* Every character of a long run counts, not the first 40 bytes. */
	assert_norm("本日限定のお得なキャンペーンを実施中です", 0,
		    "本 日 限 定 の お 得 な キ ャ ン ペ ー ン を 実 施 中 で す");
	/* Normalised text is a fixed point. */
	char *once = norm("【重要】お客様のアカウント、ご確認ください。ABC株式会社", 0);
	assert_norm(once, 0, once);
	free(once);
	/* The token cap counts characters. */
	struct fp_limits lim = { .max_bytes = 1000, .max_tokens = 3 };
	struct buf b = BUF_INIT;
	int cut = 0;
	assert_int_equal(fp_normalize("一二三四五", strlen("一二三四五"), 0, &lim, &b, &cut), 3);
	assert_int_equal(cut, 1);
	assert_string_equal(b.data, "一 二 三");
	buf_free(&b);
}

/* ---- signatures -------------------------------------------------------------- */

static void test_minhash_estimates_jaccard(void **state)
{
	(void)state;
	/* Two sets of 2 000 elements sharing 1 200: J = 1200 / 2800 = 0.43. */
	struct fp_sig a, b;
	fp_sig_init(&a);
	fp_sig_init(&b);
	for (uint64_t i = 0; i < 2800; i++) {
		uint64_t h = fp_hash64(&i, sizeof(i), 7);
		if (i < 2000)
			fp_sig_add(&a, h);
		if (i >= 800)
			fp_sig_add(&b, h);
	}
	double est = fp_sig_similarity(&a, &b);
	assert_true(est > 0.43 - 0.2 && est < 0.43 + 0.2);
	/* Order and repeats do not matter. */
	struct fp_sig c;
	fp_sig_init(&c);
	for (uint64_t i = 2000; i-- > 0;) {
		uint64_t h = fp_hash64(&i, sizeof(i), 7);
		fp_sig_add(&c, h);
		fp_sig_add(&c, h);
	}
	assert_memory_equal(&a, &c, sizeof(a));
}

static void test_text_near_duplicates(void **state)
{
	(void)state;
	uint64_t seed = 42;
	struct buf p1 = BUF_INIT, p2 = BUF_INIT, p3 = BUF_INIT, other = BUF_INIT;
	para(&p1, &seed, 80);
	para(&p2, &seed, 80);
	para(&p3, &seed, 80);
	uint64_t seed2 = 4242;
	para(&other, &seed2, 240);

	char *orig = xasprintf("Dear customer, your order 12345 of $99.95 is ready.\n\n%s%s%s", p1.data,
			       p2.data, p3.data);
	char *same = xstrdup(orig);
	char *number = xasprintf("Dear customer, your order 67890 of $1,299.00 is ready.\n\n%s%s%s", p1.data,
				 p2.data, p3.data);
	char *word = xasprintf("Dear client, your order 12345 of $99.95 is ready.\n\n%s%s%s", p1.data,
			       p2.data, p3.data);
	char *reorder = xasprintf("Dear customer, your order 12345 of $99.95 is ready.\n\n%s%s%s", p2.data,
				  p1.data, p3.data);
	char *unrelated = xasprintf("Hello team,\n\n%s", other.data);

	assert_true(text_sim(orig, same) == 1.0);
	assert_true(text_sim(orig, number) == 1.0); /* numbers are placeholders */
	double w = text_sim(orig, word), r = text_sim(orig, reorder), u = text_sim(orig, unrelated);
	if (getenv("TEST_VERBOSE"))
		fprintf(stderr, "changed word %.3f, reordered %.3f, unrelated %.3f\n", w, r, u);
	assert_true(w >= 0.85);
	assert_true(r >= FP_INDEX_THRESHOLD);
	assert_true(u <= 0.2);
	/* Case, punctuation and spacing are not differences. */
	char *shout = xstrdup(orig);
	for (char *c = shout; *c; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 32);
	assert_true(text_sim(orig, shout) == 1.0);

	free(orig), free(same), free(number), free(word), free(reorder), free(unrelated), free(shout);
	buf_free(&p1), buf_free(&p2), buf_free(&p3), buf_free(&other);
}

/*
 * Near-duplicates in Japanese, Chinese and Thai (tests/unit/data/fingerprint:
 * a text, the same with one character changed, a lightly edited copy, an
 * unrelated text of the same kind).  With a run as one 40-byte word the
 * edited copies fell to 0.28 and 0.47, the Thai text had no fingerprint at
 * all and an edit past the 13th character of a run was invisible
 * (docs/fingerprint.md has the figures).
 */
static void test_text_unspaced_near_duplicates(void **state)
{
	(void)state;
	static const char *const langs[] = { "ja", "zh", "th" };
	for (size_t i = 0; i < MW_ARRAY_LEN(langs); i++) {
		char name[32];
		char *text[4];
		static const char *const v[] = { "a", "one", "b", "c" };
		for (size_t k = 0; k < 4; k++) {
			snprintf(name, sizeof(name), "%s_%s.txt", langs[i], v[k]);
			text[k] = read_data(name);
		}
		double one = text_sim(text[0], text[1]);
		double edit = text_sim(text[0], text[2]);
		double other = text_sim(text[0], text[3]);
		if (getenv("TEST_VERBOSE"))
			fprintf(stderr, "%s: one character %.3f, edited %.3f, unrelated %.3f\n", langs[i],
				one, edit, other);
		assert_true(one >= 0.9 && one < 1.0);
		assert_true(edit >= FP_INDEX_THRESHOLD && edit < 1.0);
		assert_true(other <= 0.3);
		for (size_t k = 0; k < 4; k++)
			free(text[k]);
	}
	/* Two texts that differ only after the 13th character of each run. */
	const char *x = "本日はご来店いただき誠にありがとうございました。"
			"次回のご来店でお使いいただける割引券を同封いたしました。"
			"有効期限は来月末までとなっておりますのでご注意ください。";
	const char *y = "本日はご来店いただき誠にありがとうございます。"
			"次回のご来店でお使いいただける割引券を同封しております。"
			"有効期限は来月末までとなっておりますので忘れずにご利用ください。";
	assert_true(text_sim(x, y) < 0.9);
}

static void test_text_short_and_empty(void **state)
{
	(void)state;
	struct fp_params p = fp_params_default();
	struct fp_sig s;
	size_t n = 99;
	assert_int_equal(fp_text_sig("", 0, &p, &s, &n, NULL), -1);
	assert_int_equal(n, 0);
	const char *shortt = "Buy cheap watches now at our shop, best price today only!";
	assert_int_equal(fp_text_sig(shortt, strlen(shortt), &p, &s, &n, NULL), -1);
	assert_true(n > 0 && n < p.text_min_shingles);
	/* Punctuation only: no tokens. */
	assert_int_equal(fp_text_sig("!!! ??? ...", 11, &p, &s, &n, NULL), -1);
	assert_int_equal(n, 0);
}

static void test_text_huge_within_caps(void **state)
{
	(void)state;
	struct fp_params p = fp_params_default();
	size_t len = 8u << 20;
	char *big = xmalloc(len + 1);
	uint64_t seed = 9;
	for (size_t i = 0; i < len; i++) {
		uint64_t r = rng_next(&seed) % 8;
		big[i] = r == 0 ? ' ' : (char)('a' + r);
	}
	big[len] = '\0';
	struct fp_sig s, s2;
	size_t n = 0;
	int cut = 0;
	assert_int_equal(fp_text_sig(big, len, &p, &s, &n, &cut), 0);
	assert_int_equal(cut, 1);
	assert_true(n <= p.lim.max_tokens);
	/* Only the prefix within the caps counts: a different tail changes nothing. */
	memset(big + len / 2, 'q', len / 2);
	assert_int_equal(fp_text_sig(big, len, &p, &s2, NULL, NULL), 0);
	assert_memory_equal(&s, &s2, sizeof(s));
	free(big);
}

static void test_encode_decode(void **state)
{
	(void)state;
	uint64_t seed = 1;
	struct fp_sig s, t;
	random_sig(&s, &seed);
	uint8_t enc[FP_SIG_BYTES];
	fp_sig_encode(&s, FP_KIND_SIGNATURE, enc);
	enum fp_kind k = FP_KIND_TEXT;
	assert_int_equal(fp_sig_decode(enc, sizeof(enc), &t, &k), 0);
	assert_int_equal(k, FP_KIND_SIGNATURE);
	assert_memory_equal(&s, &t, sizeof(s));
	assert_int_equal(enc[4], (uint8_t)s.v[0]); /* little-endian, whatever the host */
	assert_int_equal(fp_sig_decode(enc, sizeof(enc) - 1, &t, &k), -1);
	enc[0] = FP_SIG_VERSION + 1;
	assert_int_equal(fp_sig_decode(enc, sizeof(enc), &t, &k), -1);
	/* Version 1 (one 40-byte word per Han/kana/Thai run) is another scheme. */
	assert_int_equal(FP_SIG_VERSION, 2);
	enc[0] = 1;
	assert_int_equal(fp_sig_decode(enc, sizeof(enc), &t, &k), -1);
	enc[0] = FP_SIG_VERSION;
	enc[1] = FP_KIND_COUNT;
	assert_int_equal(fp_sig_decode(enc, sizeof(enc), &t, &k), -1);
	assert_string_equal(fp_kind_name(FP_KIND_URLS), "urls");
	assert_null(fp_kind_name(FP_KIND_COUNT));
	/* The hash is fixed: stored signatures must survive a rebuild. */
	assert_true(fp_hash64("", 0, 0) == fp_hash64("", 0, 0));
	assert_true(fp_hash64("abc", 3, 0) != fp_hash64("abd", 3, 0));
	assert_true(fp_hash64("abc", 3, 0) != fp_hash64("abc", 3, 1));
}

/* ---- messages ------------------------------------------------------------------ */

static const char *SIG_BLOCK = "John Smith\nSales Director, Acme Widgets Ltd\nTel +1 555 123 4567\n"
			       "www.acme-widgets.example\n";

static struct content_msg *msg(const char *body, const char *sig, const char *extra_part)
{
	struct buf b = BUF_INIT;
	buf_append_str(&b, "From: John <john@acme-widgets.example>\r\nTo: a@b.example\r\n"
			   "Subject: hello\r\nMessage-ID: <1@acme>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n");
	if (extra_part != NULL) {
		buf_append_str(&b, "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=BB\r\n\r\n"
				   "--BB\r\nContent-Type: text/plain\r\n\r\n");
	} else {
		buf_append_str(&b, "\r\n");
	}
	buf_append_str(&b, body);
	if (sig != NULL)
		buf_printf(&b, "\n-- \n%s", sig);
	if (extra_part != NULL)
		buf_printf(&b, "\r\n--BB\r\n%s\r\n--BB--\r\n", extra_part);
	struct content_msg *m = content_parse(b.data, b.len, NULL);
	buf_free(&b);
	assert_non_null(m);
	return m;
}

static void test_message_signature_block(void **state)
{
	(void)state;
	uint64_t s1 = 5, s2 = 6;
	struct buf b1 = BUF_INIT, b2 = BUF_INIT;
	para(&b1, &s1, 150);
	para(&b2, &s2, 150);
	struct fp_params p = fp_params_default();
	struct fp_message f1, f2, f3, f4;

	struct content_msg *m1 = msg(b1.data, SIG_BLOCK, NULL);
	struct content_msg *m2 = msg(b2.data, SIG_BLOCK, NULL);
	struct content_msg *m3 = msg(b1.data, NULL, NULL);
	struct content_msg *m4 = msg(b2.data, "Mary Jones\nOther Corp GmbH\nTel +49 30 987 6543\n", NULL);
	fp_message_compute(m1, &p, &f1);
	fp_message_compute(m2, &p, &f2);
	fp_message_compute(m3, &p, &f3);
	fp_message_compute(m4, &p, &f4);

	unsigned both = 1u << FP_KIND_TEXT | 1u << FP_KIND_SIGNATURE;
	assert_int_equal(f1.present & both, both);
	assert_int_equal(f2.present & both, both);
	/* Same block under different bodies: the block matches, the text not. */
	assert_true(fp_sig_similarity(&f1.sig[FP_KIND_SIGNATURE], &f2.sig[FP_KIND_SIGNATURE]) == 1.0);
	assert_true(fp_sig_similarity(&f1.sig[FP_KIND_TEXT], &f2.sig[FP_KIND_TEXT]) < 0.2);
	/* The same message without its block: no signature fingerprint, and the
	 * text fingerprint is the same (the block is cut out of the text). */
	assert_false(f3.present & (1u << FP_KIND_SIGNATURE));
	assert_true(fp_sig_similarity(&f1.sig[FP_KIND_TEXT], &f3.sig[FP_KIND_TEXT]) == 1.0);
	/* Another sender's block does not match. */
	assert_true(f4.present & (1u << FP_KIND_SIGNATURE));
	assert_true(fp_sig_similarity(&f1.sig[FP_KIND_SIGNATURE], &f4.sig[FP_KIND_SIGNATURE]) < 0.2);
	/* A URL in the block counts for the URL set. */
	assert_true(f1.present & (1u << FP_KIND_URLS));
	assert_int_equal(f1.count[FP_KIND_URLS], 1);
	assert_false(f3.present & (1u << FP_KIND_URLS));

	content_free(m1), content_free(m2), content_free(m3), content_free(m4);
	buf_free(&b1), buf_free(&b2);
}

static void test_message_sets(void **state)
{
	(void)state;
	struct fp_params p = fp_params_default();
	const char *att = "Content-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
			  "JVBERi0xLjQKJcfsj6IKNSAwIG9iago=";
	const char *att2 = "Content-Type: application/pdf; name=b.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
			   "JVBERi0xLjQKJcfsj6IKNiAwIG9iago=";
	struct content_msg *m1 = msg("See https://www.shop.example/x?id=1 and http://a.b.shop.example/ and "
				     "http://tracker.example/p\r\n",
				     NULL, att);
	struct content_msg *m2 = msg("Other words, http://tracker.example/q and https://shop.example/\r\n", NULL, att);
	struct content_msg *m3 = msg("Hi, http://elsewhere.example/\r\n", NULL, att2);
	struct content_msg *m4 = msg("", NULL, NULL);
	struct fp_message f1, f2, f3, f4;
	fp_message_compute(m1, &p, &f1);
	fp_message_compute(m2, &p, &f2);
	fp_message_compute(m3, &p, &f3);
	fp_message_compute(m4, &p, &f4);
	assert_int_equal(f1.count[FP_KIND_URLS], 2); /* shop.example, tracker.example */
	assert_true(fp_sig_similarity(&f1.sig[FP_KIND_URLS], &f2.sig[FP_KIND_URLS]) == 1.0);
	assert_true(fp_sig_similarity(&f1.sig[FP_KIND_URLS], &f3.sig[FP_KIND_URLS]) < 0.2);
	assert_int_equal(f1.count[FP_KIND_ATTACHMENTS], 1);
	assert_true(fp_sig_similarity(&f1.sig[FP_KIND_ATTACHMENTS], &f2.sig[FP_KIND_ATTACHMENTS]) == 1.0);
	assert_true(fp_sig_similarity(&f1.sig[FP_KIND_ATTACHMENTS], &f3.sig[FP_KIND_ATTACHMENTS]) < 0.2);
	/* Nothing to fingerprint: nothing present, nothing invented. */
	assert_int_equal(f4.present, 0);
	assert_false(f1.present & (1u << FP_KIND_TEXT)); /* too short */
	content_free(m1), content_free(m2), content_free(m3), content_free(m4);
}

/* ---- index ---------------------------------------------------------------------- */

static void test_index_finds_near_duplicate(void **state)
{
	(void)state;
	uint64_t seed = 77;
	struct fp_index *ix = fp_index_new(5000);
	assert_non_null(ix);
	struct fp_sig bases[500], s;
	for (uint64_t i = 0; i < 500; i++) {
		random_sig(&bases[i], &seed);
		assert_int_equal(fp_index_insert(ix, 1000 + i, &bases[i]), 0);
	}
	assert_int_equal(fp_index_count(ix), 500);
	/* Near-duplicates of 100 entries are found, with their id first. */
	size_t found = 0;
	for (uint64_t i = 0; i < 100; i++) {
		variant_sig(&s, &bases[i], 0.85, &seed);
		struct fp_match m[4];
		size_t n = fp_index_lookup(ix, &s, FP_INDEX_THRESHOLD, m, 4);
		if (n >= 1 && m[0].id == 1000 + i && m[0].similarity >= FP_INDEX_THRESHOLD)
			found++;
		assert_true(n <= 1); /* the others are unrelated */
	}
	assert_true(found >= 98);
	/* Unrelated signatures find nothing. */
	for (int i = 0; i < 200; i++) {
		random_sig(&s, &seed);
		assert_int_equal(fp_index_lookup(ix, &s, FP_INDEX_THRESHOLD, NULL, 0), 0);
	}
	/* An exact copy: similarity 1. */
	struct fp_match m1;
	assert_int_equal(fp_index_lookup(ix, &bases[7], 0.5, &m1, 1), 1);
	assert_true(m1.id == 1007 && m1.similarity == 1.0);
	/* Duplicate ids are refused; get returns the stored signature. */
	assert_int_equal(fp_index_insert(ix, 1007, &bases[8]), -1);
	assert_int_equal(fp_index_get(ix, 1007, &s), 0);
	assert_memory_equal(&s, &bases[7], sizeof(s));
	/* Removal. */
	assert_int_equal(fp_index_remove(ix, 1007), 0);
	assert_int_equal(fp_index_remove(ix, 1007), -1);
	assert_int_equal(fp_index_get(ix, 1007, &s), -1);
	assert_int_equal(fp_index_lookup(ix, &bases[7], 0.5, NULL, 0), 0);
	assert_int_equal(fp_index_count(ix), 499);
	assert_int_equal(fp_index_insert(ix, 1007, &bases[7]), 0);
	assert_int_equal(fp_index_lookup(ix, &bases[7], 0.5, &m1, 1), 1);
	fp_index_free(ix);
	assert_null(fp_index_new(0));
	assert_null(fp_index_new(FP_INDEX_MAX_ENTRIES + 1));
}

static void test_index_buckets_and_full(void **state)
{
	(void)state;
	uint64_t seed = 3;
	struct fp_index *ix = fp_index_new(100);
	struct fp_sig base, s;
	random_sig(&base, &seed);
	/* 100 identical copies: buckets cap at FP_INDEX_BUCKET_MAX, yet every copy
	 * stays removable and a lookup still finds the family. */
	for (uint64_t i = 0; i < 100; i++)
		assert_int_equal(fp_index_insert(ix, i, &base), 0);
	assert_int_equal(fp_index_insert(ix, 100, &base), -1); /* full */
	struct fp_match m[8];
	size_t n = fp_index_lookup(ix, &base, 0.9, m, 8);
	assert_true(n >= FP_INDEX_BUCKET_MAX && n <= 100);
	assert_true(m[0].id == 0 && m[1].id == 1); /* ties by id */
	for (uint64_t i = 0; i < 100; i += 2)
		assert_int_equal(fp_index_remove(ix, i), 0);
	random_sig(&s, &seed);
	assert_int_equal(fp_index_insert(ix, 1000, &s), 0);
	n = fp_index_lookup(ix, &base, 0.9, m, 8);
	assert_true(n >= 1);
	for (size_t i = 0; i < (n < 8 ? n : 8); i++)
		assert_true(m[i].id % 2 == 1);
	fp_index_free(ix);
}

struct brute {
	uint64_t *ids;
	struct fp_sig *sigs;
	size_t n;
};

static void test_index_churn_matches_brute_force(void **state)
{
	(void)state;
	enum { CAP = 3000, FAMILIES = 300, OPS = 30000 };
	uint64_t seed = 11;
	struct fp_index *ix = fp_index_new(CAP);
	struct fp_sig *fam = xmalloc(FAMILIES * sizeof(*fam));
	for (size_t i = 0; i < FAMILIES; i++)
		random_sig(&fam[i], &seed);
	struct brute br = { xmalloc(CAP * sizeof(uint64_t)), xmalloc(CAP * sizeof(struct fp_sig)), 0 };
	uint64_t next_id = 1;
	for (size_t op = 0; op < OPS; op++) {
		uint64_t r = rng_next(&seed) % 100;
		if (r < 55 && br.n < CAP) {
			struct fp_sig s;
			variant_sig(&s, &fam[rng_next(&seed) % FAMILIES], 0.9, &seed);
			assert_int_equal(fp_index_insert(ix, next_id, &s), 0);
			br.ids[br.n] = next_id++;
			br.sigs[br.n++] = s;
		} else if (r < 95 && br.n > 0) {
			size_t k = rng_next(&seed) % br.n;
			assert_int_equal(fp_index_remove(ix, br.ids[k]), 0);
			br.ids[k] = br.ids[br.n - 1];
			br.sigs[k] = br.sigs[--br.n];
		} else {
			/* Everything returned is right; and with buckets never
			 * full here (at most ~30 a family), nothing that shares a
			 * band is missed. */
			struct fp_sig q;
			variant_sig(&q, &fam[rng_next(&seed) % FAMILIES], 0.9, &seed);
			struct fp_match m[64];
			size_t n = fp_index_lookup(ix, &q, 0.6, m, 64);
			size_t want = 0;
			for (size_t i = 0; i < br.n; i++) {
				int share = 0;
				for (unsigned b = 0; b < FP_INDEX_BANDS && !share; b++)
					share = memcmp(br.sigs[i].v + b * FP_INDEX_ROWS, q.v + b * FP_INDEX_ROWS,
						       FP_INDEX_ROWS * 4) == 0;
				if (share && fp_sig_similarity(&br.sigs[i], &q) >= 0.6)
					want++;
			}
			assert_int_equal(n, want);
			for (size_t i = 1; i < (n < 64 ? n : 64); i++)
				assert_true(m[i - 1].similarity >= m[i].similarity);
		}
		assert_int_equal(fp_index_count(ix), br.n);
	}
	/* Rebuild from encoded signatures gives the same answers. */
	struct fp_index *ix2 = fp_index_new(CAP);
	for (size_t i = 0; i < br.n; i++) {
		uint8_t enc[FP_SIG_BYTES];
		fp_sig_encode(&br.sigs[i], FP_KIND_TEXT, enc);
		assert_int_equal(fp_index_insert_encoded(ix2, br.ids[i], enc, sizeof(enc)), 0);
	}
	uint8_t junk[3] = { 0 };
	assert_int_equal(fp_index_insert_encoded(ix2, 999999, junk, sizeof(junk)), -1);
	for (size_t f = 0; f < FAMILIES; f += 7) {
		struct fp_match a[16], b[16];
		size_t na = fp_index_lookup(ix, &fam[f], 0.5, a, 16);
		size_t nb = fp_index_lookup(ix2, &fam[f], 0.5, b, 16);
		assert_int_equal(na, nb);
		for (size_t i = 0; i < (na < 16 ? na : 16); i++)
			assert_true(a[i].similarity == b[i].similarity);
	}
	assert_true(fp_index_bytes(ix) > CAP * sizeof(struct fp_sig));
	fp_index_free(ix2);
	fp_index_free(ix);
	free(fam), free(br.ids), free(br.sigs);
}

static int count_cb(void *ctx, uint64_t id, const struct fp_sig *sig)
{
	(void)sig;
	uint64_t *sum = ctx;
	*sum += id;
	return id == 5 ? 7 : 0;
}

static void test_index_each(void **state)
{
	(void)state;
	uint64_t seed = 8, sum = 0;
	struct fp_index *ix = fp_index_new(10);
	struct fp_sig s;
	for (uint64_t i = 1; i <= 4; i++) {
		random_sig(&s, &seed);
		assert_int_equal(fp_index_insert(ix, i, &s), 0);
	}
	assert_int_equal(fp_index_remove(ix, 2), 0);
	assert_int_equal(fp_index_each(ix, count_cb, &sum), 0);
	assert_int_equal(sum, 1 + 3 + 4);
	random_sig(&s, &seed);
	assert_int_equal(fp_index_insert(ix, 5, &s), 0);
	assert_int_equal(fp_index_each(ix, count_cb, &sum), 7);
	fp_index_free(ix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize_basic),
		cmocka_unit_test(test_normalize_unicode),
		cmocka_unit_test(test_normalize_keep_flags),
		cmocka_unit_test(test_normalize_caps),
		cmocka_unit_test(test_normalize_unspaced_scripts),
		cmocka_unit_test(test_minhash_estimates_jaccard),
		cmocka_unit_test(test_text_near_duplicates),
		cmocka_unit_test(test_text_unspaced_near_duplicates),
		cmocka_unit_test(test_text_short_and_empty),
		cmocka_unit_test(test_text_huge_within_caps),
		cmocka_unit_test(test_encode_decode),
		cmocka_unit_test(test_message_signature_block),
		cmocka_unit_test(test_message_sets),
		cmocka_unit_test(test_index_finds_near_duplicate),
		cmocka_unit_test(test_index_buckets_and_full),
		cmocka_unit_test(test_index_churn_matches_brute_force),
		cmocka_unit_test(test_index_each),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
