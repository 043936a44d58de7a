/* Unit tests: base (buffers, CRC-32, ids, integer parsing) and log escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/refid.h"
#include "base/unicode.h"
#include "base/util.h"
#include "log/log.h"

static void test_crc32_known_vector(void **state)
{
	(void)state;
	assert_int_equal(mw_crc32(0, "123456789", 9), 0xCBF43926u);
	/* Incremental equals one-shot. */
	uint32_t c = mw_crc32(0, "1234", 4);
	assert_int_equal(mw_crc32(c, "56789", 5), 0xCBF43926u);
	assert_int_equal(mw_crc32(0, "", 0), 0);
}

static void test_buf_grow_and_consume(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%d,", i);
	assert_true(b.len > 3000);
	assert_int_equal(b.data[b.len], '\0');
	buf_consume(&b, 2);
	assert_memory_equal(b.data, "1,2,", 4);
	buf_append(&b, "\0x", 2);
	assert_int_equal(b.data[b.len - 2], '\0');
	char *s = buf_steal(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(s);
	s = buf_steal(&b);
	assert_string_equal(s, "");
	free(s);
}

static void test_parse_u64_overflow(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(mw_parse_u64("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(mw_parse_u64("18446744073709551616", &v), -1);
	assert_int_equal(mw_parse_u64("99999999999999999999999", &v), -1);
	assert_int_equal(mw_parse_u64("", &v), -1);
	assert_int_equal(mw_parse_u64("-1", &v), -1);
	assert_int_equal(mw_parse_u64("12a", &v), -1);
}

static void test_refid_format_and_parse(void **state)
{
	(void)state;
	struct refgen *g = refgen_new();
	char ref[REFID_LEN + 1], canon[REFID_LEN + 1], prev[REFID_LEN + 1] = "";
	for (int i = 0; i < 1000; i++) {
		refgen_next_ref(g, ref);
		assert_int_equal(strlen(ref), REFID_LEN);
		assert_int_equal(ref[4], '-');
		assert_null(strpbrk(ref, "01ILOU"));
		assert_true(refid_parse(ref, canon));
		assert_string_equal(ref, canon);
		assert_string_not_equal(ref, prev);
		strcpy(prev, ref);
	}
	refgen_free(g);
	assert_true(refid_parse("8kq2-7z4m", canon));
	assert_string_equal(canon, "8KQ2-7Z4M");
	assert_true(refid_parse("8KQ27Z4M", canon));
	assert_false(refid_parse("8KQ2-7Z4", canon));     /* short */
	assert_false(refid_parse("8KQ2-7Z4MM", canon));   /* long */
	assert_false(refid_parse("0KQ2-7Z4M", canon));    /* 0 is not in the alphabet */
	assert_false(refid_parse("8KQ-27Z4M", canon));    /* dash misplaced */
	assert_false(refid_parse("", canon));
}

static void test_qid_unique_sorted(void **state)
{
	(void)state;
	char a[QID_LEN + 1], b[QID_LEN + 1];
	refgen_next_qid(a);
	for (int i = 0; i < 10000; i++) {
		refgen_next_qid(b);
		assert_int_equal(strlen(b), QID_LEN);
		assert_string_not_equal(a, b);
		assert_true(strspn(b, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == QID_LEN);
		strcpy(a, b);
	}
}

static void test_log_escape(void **state)
{
	(void)state;
	char out[64];
	assert_string_equal(log_escape("plain", out, sizeof(out)), "plain");
	assert_string_equal(log_escape("a b", out, sizeof(out)), "\"a b\"");
	assert_string_equal(log_escape("x\r\ny", out, sizeof(out)), "x\\x0d\\x0ay");
	assert_string_equal(log_escape("", out, sizeof(out)), "\"\"");
	char big[200];
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_escape(big, out, sizeof(out));
	assert_true(strlen(out) < sizeof(out));
}

static void test_strlcpy_snprintf(void **state)
{
	(void)state;
	char d[4];
	assert_int_equal(mw_strlcpy(d, "abcdef", sizeof(d)), 6);
	assert_string_equal(d, "abc");
	assert_int_equal(mw_snprintf(d, sizeof(d), "%s", "ab"), 0);
	assert_int_equal(mw_snprintf(d, sizeof(d), "%s", "abcd"), -1);
	assert_string_equal(d, "abc");
}

/* The edges of each block, and the neighbours that must stay out. */
static void test_unicode_unspaced(void **state)
{
	(void)state;
	static const uint32_t in[] = {
		0x0e01, 0x0e5b,           /* Thai */
		0x3040, 0x30ff, 0x31f0,   /* Hiragana, Katakana, Katakana extension */
		0x3400, 0x4dbf, 0x4e00, 0x9fff, 0xf900, 0xfaff, /* Han */
		0xff66, 0xff9f,           /* half-width Katakana */
		0x20000, 0x2fa1f,         /* Han extensions B.., compatibility supplement */
	};
	static const uint32_t out[] = {
		'a', '0', 0xe9, 0x0430,   /* Latin, Latin-1, Cyrillic */
		0x0e00, 0x0e5c,           /* just outside Thai */
		0x3000, 0x3001, 0x303f,   /* ideographic space, CJK punctuation */
		0xac00, 0xd7a3, 0x1100,   /* Hangul syllables and jamo: written with spaces */
		0xff01, 0xff21, 0xff65, 0xffa0, /* fullwidth ASCII, half-width dot, half-width Hangul */
		0x1fffe, 0x2fa20, 0x10ffff,
	};
	for (size_t i = 0; i < MW_ARRAY_LEN(in); i++)
		assert_int_equal(unicode_is_unspaced(in[i]), 1);
	for (size_t i = 0; i < MW_ARRAY_LEN(out); i++)
		assert_int_equal(unicode_is_unspaced(out[i]), 0);
}

/* Every length's first and last code point, and what is not a scalar
 * value written as U+FFFD. */
static void test_unicode_utf8_put(void **state)
{
	static const struct { uint32_t c; const char *utf8; } v[] = {
		{ 'a', "a" }, { 0x7f, "\x7f" },
		{ 0x80, "\xc2\x80" }, { 0xe4, "\xc3\xa4" }, { 0x7ff, "\xdf\xbf" },
		{ 0x800, "\xe0\xa0\x80" }, { 0x4e2d, "\xe4\xb8\xad" }, { 0xd7ff, "\xed\x9f\xbf" },
		{ 0xe000, "\xee\x80\x80" }, { 0xffff, "\xef\xbf\xbf" },
		{ 0x10000, "\xf0\x90\x80\x80" }, { 0x10ffff, "\xf4\x8f\xbf\xbf" },
		/* not scalar values */
		{ 0, "\xef\xbf\xbd" }, { 0xd800, "\xef\xbf\xbd" }, { 0xdfff, "\xef\xbf\xbd" },
		{ 0x110000, "\xef\xbf\xbd" }, { 0xffffffff, "\xef\xbf\xbd" },
	};
	char o[8];

	(void)state;
	for (size_t i = 0; i < MW_ARRAY_LEN(v); i++) {
		memset(o, 0, sizeof(o));
		size_t n = unicode_utf8_put(v[i].c, o);
		assert_int_equal(n, strlen(v[i].utf8));
		assert_memory_equal(o, v[i].utf8, n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32_known_vector),
		cmocka_unit_test(test_buf_grow_and_consume),
		cmocka_unit_test(test_parse_u64_overflow),
		cmocka_unit_test(test_refid_format_and_parse),
		cmocka_unit_test(test_qid_unique_sorted),
		cmocka_unit_test(test_log_escape),
		cmocka_unit_test(test_strlcpy_snprintf),
		cmocka_unit_test(test_unicode_unspaced),
		cmocka_unit_test(test_unicode_utf8_put),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
