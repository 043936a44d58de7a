/* test_policy.c - the sender-list decision (R14): precedence and matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/util.h"
#include "policy/sender_list.h"
#include "store/store.h"

#define E(id, user, kind, pat, noauth) \
	{ id, "acme", user, kind, pat, noauth, 0, "t" }

static void test_specificity(void **state)
{
	(void)state;
	assert_int_equal(sender_list_specificity("a@example.org", "a@example.org"), 1000);
	assert_int_equal(sender_list_specificity("a@example.org", "b@example.org"), 0);
	assert_int_equal(sender_list_specificity("example.org", "a@example.org"), 900);
	assert_int_equal(sender_list_specificity("example.org", "a@mail.example.org"), 0);
	assert_true(sender_list_specificity(".example.org", "a@example.org") > 0);
	assert_true(sender_list_specificity(".example.org", "a@mail.example.org") > 0);
	/* Not a label boundary: "badexample.org" is not under ".example.org". */
	assert_int_equal(sender_list_specificity(".example.org", "a@badexample.org"), 0);
	/* Narrower wildcards beat broader ones. */
	assert_true(sender_list_specificity(".mail.example.org", "a@x.mail.example.org") >
	    sender_list_specificity(".example.org", "a@x.mail.example.org"));
	assert_true(sender_list_specificity(".example.org", "a@example.org") <
	    sender_list_specificity("example.org", "a@example.org"));
	/* The null sender and odd input never match. */
	assert_int_equal(sender_list_specificity("example.org", ""), 0);
	assert_int_equal(sender_list_specificity("example.org", "nodomain"), 0);
	assert_int_equal(sender_list_specificity(".example.org", "a@"), 0);
}

static void test_precedence(void **state)
{
	(void)state;
	struct list_match m;
	struct store_list_entry e[] = {
		E(1, "", "allow", ".example.org", 1),
		E(2, "", "block", "spam.example.org", 0),
		E(3, "bob@acme.test", "block", ".example.org", 0),
		E(4, "carol@acme.test", "allow", "x@spam.example.org", 1),
		E(5, "", "block", "x@other.example", 0),
		E(6, "", "allow", "x@other.example", 1),
		E(7, "", "allow", "news.example", 0),
	};
	size_t n = MW_ARRAY_LEN(e);

	/* Domain level: the wildcard allow. */
	sender_list_decide(e, n, "alice@acme.test", "a@www.example.org", 0, &m);
	assert_int_equal(m.verdict, LIST_ALLOW);
	assert_int_equal(m.id, 1);
	assert_false(m.user_level);
	/* Narrower beats broader within a level: the exact-domain block. */
	sender_list_decide(e, n, "alice@acme.test", "x@spam.example.org", 0, &m);
	assert_int_equal(m.verdict, LIST_BLOCK);
	assert_int_equal(m.id, 2);
	/* The user's own entry beats the domain level, even a broader block. */
	sender_list_decide(e, n, "bob@acme.test", "a@www.example.org", 0, &m);
	assert_int_equal(m.verdict, LIST_BLOCK);
	assert_int_equal(m.id, 3);
	assert_true(m.user_level);
	sender_list_decide(e, n, "carol@acme.test", "x@spam.example.org", 0, &m);
	assert_int_equal(m.verdict, LIST_ALLOW);
	assert_int_equal(m.id, 4);
	/* Another user's entries do not apply. */
	sender_list_decide(e, n, "alice@acme.test", "y@spam.example.org", 0, &m);
	assert_int_equal(m.id, 2);
	/* Equal narrowness at one level: block beats allow. */
	sender_list_decide(e, n, "alice@acme.test", "x@other.example", 0, &m);
	assert_int_equal(m.verdict, LIST_BLOCK);
	assert_int_equal(m.id, 5);
	/* Authentication: an entry without --no-auth only lowers the score ... */
	sender_list_decide(e, n, "alice@acme.test", "a@news.example", 0, &m);
	assert_int_equal(m.verdict, LIST_ALLOW_UNAUTH);
	assert_string_equal(m.pattern, "news.example");
	/* ... unless the sender is authenticated. */
	sender_list_decide(e, n, "alice@acme.test", "a@news.example", 1, &m);
	assert_int_equal(m.verdict, LIST_ALLOW);
	/* No match, the null sender. */
	sender_list_decide(e, n, "alice@acme.test", "a@elsewhere.example", 0, &m);
	assert_int_equal(m.verdict, LIST_NONE);
	sender_list_decide(e, n, "alice@acme.test", "", 0, &m);
	assert_int_equal(m.verdict, LIST_NONE);
	sender_list_decide(NULL, 0, "alice@acme.test", "a@b.example", 0, &m);
	assert_int_equal(m.verdict, LIST_NONE);
	/* Nothing is authenticated until SPF/DKIM/DMARC exist. */
	assert_int_equal(sender_list_authenticated("a@news.example", "192.0.2.1"), 0);
	assert_string_equal(sender_list_verdict_name(LIST_ALLOW_UNAUTH), "allow-unauthenticated");
}

static void test_patterns(void **state)
{
	(void)state;
	char out[320];
	assert_int_equal(store_list_pattern("User@Example.ORG", out, sizeof(out)), 0);
	assert_string_equal(out, "user@example.org");
	assert_int_equal(store_list_pattern(".Example.org", out, sizeof(out)), 0);
	assert_string_equal(out, ".example.org");
	assert_int_equal(store_list_pattern("example.org", out, sizeof(out)), 0);
	static const char *const bad[] = { "", ".", "@example.org", "a@", "exa mple.org",
		"..example.org", "a@b@", "-bad-.org" };
	for (size_t i = 0; i < MW_ARRAY_LEN(bad); i++)
		assert_int_equal(store_list_pattern(bad[i], out, sizeof(out)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_specificity),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_patterns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
