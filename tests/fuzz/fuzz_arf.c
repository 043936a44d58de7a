/*
 * fuzz_arf.c - F-ARF: arf_parse() on arbitrary bytes (copied to a heap block
 * of exactly their size, so ASan flags any read past the end).  Invariants:
 * it never crashes; the result is -1, 0 or 1 and equals out.kind; every
 * string is non-NULL, valid UTF-8, free of control characters and within
 * ARF_MAX_VALUE (the original's body may hold '\n' and '\t' and stays within
 * ARF_MAX_BODY); lists stay within ARF_MAX_LIST and hold no empty string;
 * the ref id is "" or canonical; Source-IP is "" or an IP literal; Incidents
 * is within 1..ARF_MAX_INCIDENTS; the digest is 64 hex digits; ARF_NONE
 * means nothing was extracted; parsing twice gives the same digest, kind
 * and flags; arf_report_free() leaves a zeroed struct that can be freed again.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/refid.h"
#include "complaint/arf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int valid_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned c = p[i];
		size_t k;
		uint32_t v, min;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0)
			k = 1, v = c & 0x1F, min = 0x80;
		else if ((c & 0xF0) == 0xE0)
			k = 2, v = c & 0x0F, min = 0x800;
		else if ((c & 0xF8) == 0xF0)
			k = 3, v = c & 0x07, min = 0x10000;
		else
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if (i + j >= n || (p[i + j] & 0xC0) != 0x80)
				return 0;
			v = (v << 6) | (p[i + j] & 0x3F);
		}
		if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
			return 0;
		i += k + 1;
	}
	return 1;
}

/* A field string: cleaned, capped, no control characters. */
static void check_str(const char *s)
{
	if (s == NULL)
		abort();
	size_t n = strlen(s);
	if (n > ARF_MAX_VALUE || !valid_utf8(s, n))
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			abort();
}

static void check_list(char **l, size_t n)
{
	if (n > ARF_MAX_LIST || (n > 0 && l == NULL))
		abort();
	for (size_t i = 0; i < n; i++) {
		check_str(l[i]);
		if (l[i][0] == '\0')
			abort();
	}
}

static void check(const struct arf_report *r, int rc)
{
	if (rc != (int)r->kind || rc < -1 || rc > 1)
		abort();
	const char *strs[] = { r->reporter, r->feedback_type_raw, r->user_agent, r->version,
			       r->original_mail_from, r->arrival_date, r->source_ip,
			       r->authentication_results, r->orig.message_id, r->orig.from,
			       r->orig.from_addr, r->orig.return_path, r->orig.subject,
			       r->orig.date, r->orig.received_ip };
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		check_str(strs[i]);
	check_list(r->original_rcpt_to, r->n_original_rcpt_to);
	check_list(r->reported_domain, r->n_reported_domain);
	check_list(r->reported_uri, r->n_reported_uri);

	const struct arf_original *o = &r->orig;
	if (o->body == NULL || strlen(o->body) != o->body_len || o->body_len > ARF_MAX_BODY ||
	    !valid_utf8(o->body, o->body_len))
		abort();
	for (size_t i = 0; i < o->body_len; i++)
		if (((unsigned char)o->body[i] < 0x20 && o->body[i] != '\n' && o->body[i] != '\t') ||
		    o->body[i] == 0x7f)
			abort();
	if (o->raw == NULL || o->raw_len > ARF_MAX_RAW || o->raw[o->raw_len] != '\0')
		abort();
	if (o->present < 0 || o->present > 2 || (o->present == 0 && o->raw_len != 0))
		abort();
	if (strlen(o->ref) != 0) {
		char canon[REFID_LEN + 1];
		if (!refid_parse(o->ref, canon) || strcmp(canon, o->ref) != 0)
			abort();
	}
	if (r->source_ip[0] != '\0') {
		unsigned char bin[16];
		if (inet_pton(AF_INET, r->source_ip, bin) != 1 &&
		    inet_pton(AF_INET6, r->source_ip, bin) != 1)
			abort();
	}
	if (r->incidents < 1 || r->incidents > ARF_MAX_INCIDENTS)
		abort();
	if (strlen(r->digest) != 64 || strspn(r->digest, "0123456789abcdef") != 64)
		abort();
	if (r->kind == ARF_NONE && (o->present != 0 || o->ref[0] != '\0'))
		abort();
	if (r->kind == ARF_NOT_ARF && o->present == 0 && o->ref[0] == '\0')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	struct arf_report a, b;
	int ra = arf_parse(copy, size, &a);
	int rb = arf_parse(copy, size, &b);
	free(copy);
	check(&a, ra);
	check(&b, rb);
	if (ra != rb || a.flags != b.flags || strcmp(a.digest, b.digest) != 0 ||
	    strcmp(a.orig.ref, b.orig.ref) != 0)
		abort();
	arf_report_free(&a);
	arf_report_free(&b);
	arf_report_free(&a);
	if (a.reporter != NULL || a.n_original_rcpt_to != 0)
		abort();
	return 0;
}
