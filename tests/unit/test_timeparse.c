/* Unit tests: command-line times, configuration durations, header dates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/timeparse.h"

#define NOW INT64_C(1795776005) /* 2026-11-27T10:40:05Z */

static void test_iso_forms(void **state)
{
	(void)state;
	int64_t t;

	assert_int_equal(timeparse_point("2026-11-27", NOW, &t), 0);
	assert_int_equal(t, INT64_C(1795737600));
	assert_int_equal(timeparse_point("2026-11-27T10:00", NOW, &t), 0);
	assert_int_equal(t, INT64_C(1795737600) + 36000);
	assert_int_equal(timeparse_point("2026-11-27T10:00:05", NOW, &t), 0);
	assert_int_equal(t, INT64_C(1795737600) + 36005);
	assert_int_equal(timeparse_point("2026-11-27T10:00:05Z", NOW, &t), 0);
	assert_int_equal(t, INT64_C(1795737600) + 36005);
	assert_int_equal(timeparse_point("2026-11-27 10:00Z", NOW, &t), 0);
	assert_int_equal(t, INT64_C(1795737600) + 36000);
	assert_int_equal(timeparse_point("1970-01-01", NOW, &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(timeparse_point("2024-02-29", NOW, &t), 0);
	assert_int_equal(t, INT64_C(1709164800));
	assert_int_equal(timeparse_point("2000-03-01T00:00:00Z", NOW, &t), 0);
	assert_int_equal(t, INT64_C(951868800));
}

static void test_relative_forms(void **state)
{
	(void)state;
	int64_t t;

	assert_int_equal(timeparse_point("now", NOW, &t), 0);
	assert_int_equal(t, NOW);
	assert_int_equal(timeparse_point("-7d", NOW, &t), 0);
	assert_int_equal(t, NOW - 7 * 86400);
	assert_int_equal(timeparse_point("-2h", NOW, &t), 0);
	assert_int_equal(t, NOW - 7200);
	assert_int_equal(timeparse_point("-30m", NOW, &t), 0);
	assert_int_equal(t, NOW - 1800);
	assert_int_equal(timeparse_point("-45s", NOW, &t), 0);
	assert_int_equal(t, NOW - 45);
}

static void test_bad_points(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "yesterday", "2026-13-01", "2026-02-30", "2023-02-29", "2026-11-27T24:00",
		"2026-11-27T10:60", "2026-11-27T10", "2026-11-27T10:00:5", "26-11-27",
		"2026-11-27Z5", "2026/11/27", "-5", "-", "-d", "-7x", "+7d", "-7d ",
		" 2026-11-27", "1969-12-31", "-99999999999999999999d", "NOW",
	};
	int64_t t = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (timeparse_point(bad[i], NOW, &t) != -1)
			fail_msg("accepted '%s'", bad[i]);
	}
	assert_int_equal(t, 42); /* untouched on failure */
	assert_int_equal(timeparse_point(NULL, NOW, &t), -1);
}

static void test_durations(void **state)
{
	(void)state;
	int64_t d;

	assert_int_equal(timeparse_duration("30", &d), 0);
	assert_int_equal(d, 30);
	assert_int_equal(timeparse_duration("30s", &d), 0);
	assert_int_equal(d, 30);
	assert_int_equal(timeparse_duration("5m", &d), 0);
	assert_int_equal(d, 300);
	assert_int_equal(timeparse_duration("2h", &d), 0);
	assert_int_equal(d, 7200);
	assert_int_equal(timeparse_duration("5d", &d), 0);
	assert_int_equal(d, 432000);
	assert_int_equal(timeparse_duration("2w", &d), 0);
	assert_int_equal(d, 14 * 86400);
	assert_int_equal(timeparse_duration("0", &d), 0);
	assert_int_equal(d, 0);

	static const char *const bad[] = {
		"", "s", "-5", "5 m", " 5m", "5m ", "5ms", "1.5h", "5y", "0x10",
		"99999999999999999999", "36600000d",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (timeparse_duration(bad[i], &d) != -1)
			fail_msg("accepted '%s'", bad[i]);
	}
	assert_int_equal(timeparse_duration(NULL, &d), -1);
}

static void test_formatting(void **state)
{
	(void)state;
	char out[64];

	timefmt_rfc5322(NOW, out, sizeof(out));
	assert_string_equal(out, "Fri, 27 Nov 2026 10:40:05 +0000");
	timefmt_rfc5322(0, out, sizeof(out));
	assert_string_equal(out, "Thu, 1 Jan 1970 00:00:00 +0000");
	timefmt_iso(NOW, out, sizeof(out));
	assert_string_equal(out, "2026-11-27T10:40:05Z");
	/* Truncation stays terminated. */
	timefmt_iso(NOW, out, 5);
	assert_string_equal(out, "2026");
	/* Round trip. */
	int64_t t;
	timefmt_iso(NOW, out, sizeof(out));
	assert_int_equal(timeparse_point(out, 0, &t), 0);
	assert_int_equal(t, NOW);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iso_forms),
		cmocka_unit_test(test_relative_forms),
		cmocka_unit_test(test_bad_points),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_formatting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
