/*
 * test_smtp_addr.c - RFC 5321 path / ESMTP parameter parser and UTF-8 check.
 *
 * Table-driven: input, MAIL or RCPT, expected error, and for accepted paths
 * the exact local / domain / addr / flags the policy will see.  The open
 * relay vectors of reliability plan 2.8 must come out flagged.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "smtp/smtp_addr.h"

struct path_case {
	const char *in;
	int is_mail;
	enum smtp_path_err err;
	const char *local, *domain, *addr;
	unsigned flags;
};

static const struct path_case path_cases[] = {
	{ "<user@Example.COM>", 1, SMTP_PATH_OK, "user", "example.com", "user@example.com", 0 },
	{ " <User.Name+tag@sub.example.org>", 0, SMTP_PATH_OK, "User.Name+tag", "sub.example.org",
	    "User.Name+tag@sub.example.org", 0 },
	{ "<>", 1, SMTP_PATH_OK, "", "", "", SMTP_PATH_NULL },
	{ "<>", 0, SMTP_PATH_ESYNTAX, NULL, NULL, NULL, 0 },
	{ "user@example.com", 1, SMTP_PATH_ESYNTAX, NULL, NULL, NULL, 0 },
	{ "<user@example.com", 1, SMTP_PATH_ESYNTAX, NULL, NULL, NULL, 0 },
	{ "<user>", 1, SMTP_PATH_ESYNTAX, NULL, NULL, NULL, 0 },
	{ "<postmaster>", 1, SMTP_PATH_ESYNTAX, NULL, NULL, NULL, 0 },
	{ "<PostMaster>", 0, SMTP_PATH_OK, "PostMaster", "", "PostMaster", SMTP_PATH_POSTMASTER },
	{ "<postmaster@t.example>", 0, SMTP_PATH_OK, "postmaster", "t.example", "postmaster@t.example", 0 },
	/* open relay vectors (plan 2.8 / P38) */
	{ "<relaytest%d.example@t.example>", 0, SMTP_PATH_OK, "relaytest%d.example", "t.example",
	    "relaytest%d.example@t.example", SMTP_PATH_PERCENT },
	{ "<d.example!relaytest@t.example>", 0, SMTP_PATH_OK, "d.example!relaytest", "t.example",
	    "d.example!relaytest@t.example", SMTP_PATH_BANG },
	{ "<\"relaytest@d.example\"@t.example>", 0, SMTP_PATH_OK, "relaytest@d.example", "t.example",
	    "relaytest@d.example@t.example", SMTP_PATH_QUOTED | SMTP_PATH_AT_IN_LOCAL },
	{ "<\"a\\\"b\\\\c d\"@t.example>", 0, SMTP_PATH_OK, "a\"b\\c d", "t.example", "a\"b\\c d@t.example",
	    SMTP_PATH_QUOTED },
	{ "<@t.example:relaytest@d.example>", 0, SMTP_PATH_OK, "relaytest", "d.example",
	    "relaytest@d.example", SMTP_PATH_SOURCE_ROUTE },
	{ "<@a.example,@[10.0.0.1]:u@d.example>", 0, SMTP_PATH_OK, "u", "d.example", "u@d.example",
	    SMTP_PATH_SOURCE_ROUTE },
	{ "<relaytest@d.example@t.example>", 0, SMTP_PATH_EDOMAIN, NULL, NULL, NULL, 0 },
	{ "<relaytest@d.example.@t.example>", 0, SMTP_PATH_EDOMAIN, NULL, NULL, NULL, 0 },
	{ "<a@[127.0.0.1]>", 0, SMTP_PATH_OK, "a", "[127.0.0.1]", "a@[127.0.0.1]", SMTP_PATH_LITERAL },
	{ "<a@[IPv6:::1]>", 0, SMTP_PATH_OK, "a", "[ipv6:::1]", "a@[ipv6:::1]", SMTP_PATH_LITERAL },
	{ "<a@[1.2.3]>", 0, SMTP_PATH_EDOMAIN, NULL, NULL, NULL, 0 },
	{ "<a@[IPv6:zz]>", 0, SMTP_PATH_EDOMAIN, NULL, NULL, NULL, 0 },
	{ "<a@[x:y]>", 0, SMTP_PATH_EDOMAIN, NULL, NULL, NULL, 0 },
	/* local part and domain syntax */
	{ "<.a@b>", 0, SMTP_PATH_ESYNTAX, NULL, NULL, NULL, 0 },
	{ "<a.@b>", 0, SMTP_PATH_ESYNTAX, NULL, NULL, NULL, 0 },
	{ "<a..b@b>", 0, SMTP_PATH_ESYNTAX, NULL, NULL, NULL, 0 },
	{ "<a b@b>", 0, SMTP_PATH_ESYNTAX, NULL, NULL, NULL, 0 },
	{ "<\"\"@b>", 0, SMTP_PATH_ESYNTAX, NULL, NULL, NULL, 0 },
	{ "<\"a\tb\"@b>", 0, SMTP_PATH_ESYNTAX, NULL, NULL, NULL, 0 },
	{ "<a@-b.example>", 0, SMTP_PATH_EDOMAIN, NULL, NULL, NULL, 0 },
	{ "<a@b-.example>", 0, SMTP_PATH_EDOMAIN, NULL, NULL, NULL, 0 },
	{ "<a@b..example>", 0, SMTP_PATH_EDOMAIN, NULL, NULL, NULL, 0 },
	{ "<a@b_c.example>", 0, SMTP_PATH_EDOMAIN, NULL, NULL, NULL, 0 },
	{ "<a@>", 0, SMTP_PATH_ESYNTAX, NULL, NULL, NULL, 0 },
	{ "<;sleep 66;>", 1, SMTP_PATH_ESYNTAX, NULL, NULL, NULL, 0 },
	{ "</etc/passwd@t.example>", 0, SMTP_PATH_OK, "/etc/passwd", "t.example", "/etc/passwd@t.example", 0 },
	{ "<\"|touch /tmp/pwned\"@t.example>", 0, SMTP_PATH_OK, "|touch /tmp/pwned", "t.example",
	    "|touch /tmp/pwned@t.example", SMTP_PATH_QUOTED },
	{ "<a@b>x", 1, SMTP_PATH_ESYNTAX, NULL, NULL, NULL, 0 },
	{ "<a@b>  ", 1, SMTP_PATH_OK, "a", "b", "a@b", 0 },
	/* UTF-8 */
	{ "<j\xc3\xbcrgen@b\xc3\xbc.example>", 1, SMTP_PATH_OK, "j\xc3\xbcrgen", "b\xc3\xbc.example",
	    "j\xc3\xbcrgen@b\xc3\xbc.example", SMTP_PATH_UTF8 },
	{ "<j\xc3\x28rgen@b>", 1, SMTP_PATH_E8BIT, NULL, NULL, NULL, 0 },
	{ "<j\xc0\xaf@b>", 1, SMTP_PATH_E8BIT, NULL, NULL, NULL, 0 },
	{ "<j\xed\xa0\x80@b>", 1, SMTP_PATH_E8BIT, NULL, NULL, NULL, 0 },
	/* parameters */
	{ "<a@b> size=100 body=8BITMIME SMTPUTF8", 1, SMTP_PATH_OK, "a", "b", "a@b", 0 },
	{ "<a@b> SIZE=", 1, SMTP_PATH_EPARAM, NULL, NULL, NULL, 0 },
	{ "<a@b> =1", 1, SMTP_PATH_EPARAM, NULL, NULL, NULL, 0 },
	{ "<a@b> -X=1", 1, SMTP_PATH_EPARAM, NULL, NULL, NULL, 0 },
	{ "<a@b> SIZE=1 SIZE=2", 1, SMTP_PATH_EPARAM, NULL, NULL, NULL, 0 },
	{ "<a@b> AUTH=\x7f", 1, SMTP_PATH_EPARAM, NULL, NULL, NULL, 0 },
	{ "<a@b> AUTH=\r", 1, SMTP_PATH_EPARAM, NULL, NULL, NULL, 0 },
	{ "<a@b> ENVID=\xc3\xbc", 1, SMTP_PATH_EPARAM, NULL, NULL, NULL, 0 },
	{ "<a@b> ORCPT=rfc822;a+0Ab", 1, SMTP_PATH_OK, "a", "b", "a@b", 0 },
};

static void test_path_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *c = &path_cases[i];
		struct smtp_path p;
		enum smtp_path_err e = smtp_path_parse(c->in, c->is_mail, &p);

		if (e != c->err)
			fail_msg("case %zu \"%s\": got %s want %s", i, c->in, smtp_path_strerror(e),
			    smtp_path_strerror(c->err));
		if (e != SMTP_PATH_OK) {
			assert_string_equal(p.addr, "");
			continue;
		}
		assert_string_equal(p.local, c->local);
		assert_string_equal(p.domain, c->domain);
		assert_string_equal(p.addr, c->addr);
		if (p.flags != c->flags)
			fail_msg("case %zu \"%s\": flags %#x want %#x", i, c->in, p.flags, c->flags);
	}
}

static void test_params(void **state)
{
	(void)state;
	struct smtp_path p;
	assert_int_equal(smtp_path_parse("<a@b> size=100 body=8BITMIME SMTPUTF8", 1, &p), SMTP_PATH_OK);
	assert_int_equal(p.n_params, 3);
	const struct smtp_param *s = smtp_path_param(&p, "SIZE");
	assert_non_null(s);
	assert_string_equal(s->value, "100");
	assert_true(s->has_value);
	s = smtp_path_param(&p, "SMTPUTF8");
	assert_non_null(s);
	assert_false(s->has_value);
	assert_string_equal(s->value, "");
	assert_string_equal(smtp_path_param(&p, "BODY")->value, "8BITMIME");
	assert_null(smtp_path_param(&p, "AUTH"));

	/* 16 parameters are fine, 17 are not */
	char buf[512] = "<a@b>";
	for (int i = 0; i < 16; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), " P%d=%d", i, i);
	assert_int_equal(smtp_path_parse(buf, 1, &p), SMTP_PATH_OK);
	assert_int_equal(p.n_params, 16);
	strcat(buf, " X=1");
	assert_int_equal(smtp_path_parse(buf, 1, &p), SMTP_PATH_EPARAM);
}

static void test_lengths(void **state)
{
	(void)state;
	char buf[600], local[100], dom[300];
	struct smtp_path p;

	/* P18: local part 64 ok, 65 not */
	memset(local, 'l', 64);
	local[64] = '\0';
	snprintf(buf, sizeof(buf), "<%s@b.example>", local);
	assert_int_equal(smtp_path_parse(buf, 0, &p), SMTP_PATH_OK);
	assert_int_equal(strlen(p.local), 64);
	local[64] = 'l';
	local[65] = '\0';
	snprintf(buf, sizeof(buf), "<%s@b.example>", local);
	assert_int_equal(smtp_path_parse(buf, 0, &p), SMTP_PATH_ELOCAL);
	snprintf(buf, sizeof(buf), "<\"%s\"@b.example>", local);
	assert_int_equal(smtp_path_parse(buf, 0, &p), SMTP_PATH_ELOCAL);

	/* label 63 ok, 64 not */
	memset(dom, 'd', 63);
	strcpy(dom + 63, ".example");
	snprintf(buf, sizeof(buf), "<a@%s>", dom);
	assert_int_equal(smtp_path_parse(buf, 0, &p), SMTP_PATH_OK);
	memset(dom, 'd', 64);
	strcpy(dom + 64, ".example");
	snprintf(buf, sizeof(buf), "<a@%s>", dom);
	assert_int_equal(smtp_path_parse(buf, 0, &p), SMTP_PATH_EDOMAIN);

	/* domain of 256 octets */
	dom[0] = '\0';
	while (strlen(dom) < 250)
		strcat(dom, "abcdefghi.");
	strcat(dom, "abcdef"); /* 256 */
	assert_int_equal(strlen(dom), 256);
	snprintf(buf, sizeof(buf), "<a@%s>", dom);
	assert_int_equal(smtp_path_parse(buf, 0, &p), SMTP_PATH_EDOMAIN);

	/* path: 256 incl. <> ok, 257 not (domain itself legal) */
	dom[0] = '\0';
	while (strlen(dom) < 250)
		strcat(dom, "abcdefghi.");
	strcat(dom, "abcdefghij"); /* 260 */
	dom[252] = '\0';           /* "<a@" + 252 + ">" = 256 */
	if (dom[251] == '.')
		dom[251] = 'x';
	snprintf(buf, sizeof(buf), "<a@%s>", dom);
	assert_int_equal(strlen(buf), 256);
	assert_int_equal(smtp_path_parse(buf, 0, &p), SMTP_PATH_OK);
	snprintf(buf, sizeof(buf), "<ab@%s>", dom);
	assert_int_equal(smtp_path_parse(buf, 0, &p), SMTP_PATH_ETOOLONG);
}

static void test_utf8(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int ok;
	} c[] = {
		{ "plain", 1 },
		{ "j\xc3\xbcrgen", 1 },
		{ "\xe2\x82\xac", 1 },             /* U+20AC */
		{ "\xf0\x9f\x98\x80", 1 },         /* U+1F600 */
		{ "\xf4\x8f\xbf\xbf", 1 },         /* U+10FFFF */
		{ "\xc3\x28", 0 },
		{ "\xc0\xaf", 0 },                 /* overlong '/' */
		{ "\xe0\x80\xaf", 0 },             /* overlong 3-byte */
		{ "\xf0\x80\x80\xaf", 0 },         /* overlong 4-byte */
		{ "\xed\xa0\x80", 0 },             /* surrogate */
		{ "\xf4\x90\x80\x80", 0 },         /* > U+10FFFF */
		{ "\xf5\x80\x80\x80", 0 },
		{ "\x80", 0 },
		{ "\xe2\x82", 0 },                 /* truncated */
		{ "\xff", 0 },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (smtp_utf8_valid(c[i].s, strlen(c[i].s)) != c[i].ok)
			fail_msg("utf8 case %zu", i);
	/* length is honoured: the truncated tail of a valid sequence */
	assert_false(smtp_utf8_valid("\xe2\x82\xac", 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_table),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
