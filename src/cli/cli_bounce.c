/*
 * cli_bounce.c - search keys from a pasted bounce message (R18).
 *
 * Support staff get whatever the sender pasted: a full DSN with the
 * original headers attached, a copied NDR text from some mail client, or
 * just the rejection line.  So nothing here relies on MIME structure; we
 * look for patterns line by line and use what the position of a header says
 * about it:
 *
 *  - ref id: "ref XXXX-XXXX" (our rejection texts), "X-Mailward-Ref:" header;
 *  - queue id: "X-Mailward-Queue-Id:" header, else "queued as QID" (which may
 *    also be the downstream server's id - the caller falls back when it
 *    finds nothing);
 *  - Message-ID: the last Message-ID header (a full DSN has its own first,
 *    the original's in the attached part after it), else a <...@...> token
 *    that looks like a generated id rather than an address;
 *  - recipient: Original-Recipient, Final-Recipient, X-Failed-Recipients,
 *    Postfix-style "<addr>: host said ..." lines, else the original's To:;
 *  - sender: a non-null Return-Path (the DSN's own is <>), else the DSN's
 *    To: when there are two To: headers (the bounce goes to the original
 *    sender), else a From: that is not the mailer daemon;
 *  - Subject and Date: the last ones (the original's), with NDR subjects
 *    ("Undeliverable: ...") stripped or ignored.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/util.h"
#include "cli/cli.h"

#define REF_ALPHABET "23456789ABCDEFGHJKMNPQRSTVWXYZ"

/* Headers we care about; the index is used in struct hdrs. */
enum { H_SUBJECT, H_DATE, H_FROM, H_TO, H_MSGID, H_RETURN_PATH, H_FINAL_RCPT, H_ORIG_RCPT,
	H_FAILED_RCPTS, H_MW_REF, H_MW_QID, H_COUNT };
static const char *const hdr_names[H_COUNT] = { "subject", "date", "from", "to", "message-id",
	"return-path", "final-recipient", "original-recipient", "x-failed-recipients",
	"x-mailward-ref", "x-mailward-queue-id" };

#define HVAL 512
struct hdrs {
	char first[H_COUNT][HVAL];
	char last[H_COUNT][HVAL];
	int count[H_COUNT];
	char first_nonnull_rp[HVAL];   /* first Return-Path that is not <> */
};

static int
is_ref_char(int ch)
{
	return ch != '\0' && strchr(REF_ALPHABET, toupper(ch)) != NULL;
}

/* p points at a candidate XXXX-XXXX; writes the canonical form. */
static int
ref_at(const char *p, const char *end, char *out)
{
	if (end - p < 9)
		return 0;
	for (int i = 0; i < 9; i++) {
		if (i == 4 ? p[i] != '-' : !is_ref_char((unsigned char)p[i]))
			return 0;
	}
	if (end - p > 9 && isalnum((unsigned char)p[9]))
		return 0;
	for (int i = 0; i < 9; i++)
		out[i] = (char)toupper((unsigned char)p[i]);
	out[9] = '\0';
	return 1;
}

/* Case-insensitive memmem. */
static const char *
ci_find(const char *h, const char *end, const char *needle)
{
	size_t n = strlen(needle);

	for (const char *p = h; p + n <= end; p++)
		if (strncasecmp(p, needle, n) == 0)
			return p;
	return NULL;
}

static void
trim_copy(char *out, size_t n, const char *s, size_t len)
{
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len >= n)
		len = n - 1;
	memcpy(out, s, len);
	out[len] = '\0';
}

/* The address in a header value: inside <> if present, else the first
 * token with an '@'.  "rfc822; addr" (DSN fields) is handled too. */
static void
addr_from_value(const char *v, char *out, size_t n)
{
	const char *semi = strchr(v, ';');
	const char *lt, *gt;

	out[0] = '\0';
	if (semi != NULL && strncasecmp(v, "rfc822", 6) == 0)
		v = semi + 1;
	if ((lt = strchr(v, '<')) != NULL && (gt = strchr(lt, '>')) != NULL) {
		trim_copy(out, n, lt + 1, (size_t)(gt - lt - 1));
	} else {
		const char *at = strchr(v, '@');
		if (at == NULL)
			return;
		const char *b = at, *e = at;
		while (b > v && !isspace((unsigned char)b[-1]) && b[-1] != ',' && b[-1] != ':' && b[-1] != '"')
			b--;
		while (*e && !isspace((unsigned char)*e) && *e != ',' && *e != '"')
			e++;
		trim_copy(out, n, b, (size_t)(e - b));
	}
	if (strchr(out, '@') == NULL)
		out[0] = '\0';
	mw_str_lower(out);
}

static int
is_daemon_addr(const char *a)
{
	return strstr(a, "mailer-daemon") != NULL || strstr(a, "postmaster") != NULL ||
	    strncmp(a, "mail-daemon", 11) == 0;
}

/* Subjects that bounces put on themselves. Returns the original subject
 * inside (Exchange: "Undeliverable: <subject>"), "" when the whole thing is a
 * bounce subject, or s itself. */
static const char *
strip_ndr_subject(const char *s)
{
	static const char *const prefixes[] = { "undeliverable:", "undelivered:",
		"delivery failure:", "returned mail:", "failure notice:", "nicht zustellbar:", NULL };
	static const char *const whole[] = { "undelivered mail returned to sender",
		"delivery status notification", "mail delivery failed", "failure notice",
		"returned mail", "mail delivery system", "delivery failure",
		"message rejected", "undeliverable", NULL };

	for (int i = 0; prefixes[i] != NULL; i++) {
		size_t l = strlen(prefixes[i]);
		if (strncasecmp(s, prefixes[i], l) == 0) {
			s += l;
			while (*s == ' ' || *s == '\t')
				s++;
			return s;
		}
	}
	for (int i = 0; whole[i] != NULL; i++)
		if (strncasecmp(s, whole[i], strlen(whole[i])) == 0)
			return "";
	return s;
}

/* A <local@domain> in free text that looks generated (long, has digits). */
static int
looks_like_msgid(const char *p, size_t len)
{
	const char *at = memchr(p, '@', len);
	int digits = 0;

	if (at == NULL || at == p || (size_t)(at - p) < 12 || at + 1 >= p + len)
		return 0;
	for (const char *q = p; q < p + len; q++) {
		if (isspace((unsigned char)*q) || *q == '<')
			return 0;
		if (isdigit((unsigned char)*q))
			digits++;
	}
	return digits >= 3;
}

void
cli_bounce_extract(const char *text, size_t len, struct cli_bounce_keys *k)
{
	struct hdrs *h = xcalloc(1, sizeof(*h));
	const char *end = text + len, *line = text;
	int prev_hdr = -1;
	char free_msgid[256] = "", angle_rcpt[320] = "", queued_as[40] = "";
	char buf[HVAL];

	memset(k, 0, sizeof(*k));
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *le = nl != NULL ? nl : end;
		if (le > line && le[-1] == '\r')
			le--;

		/* Ref id anywhere: after the word "ref" (our reply text and the
		 * X-Mailward-Ref header both have it). */
		for (const char *p = line; k->ref[0] == '\0' && (p = ci_find(p, le, "ref")) != NULL; p += 3) {
			if (p > line && isalnum((unsigned char)p[-1]))
				continue;
			const char *q = p + 3;
			while (q < le && (*q == ' ' || *q == ':' || *q == '(' || *q == '=' || *q == '#'))
				q++;
			ref_at(q, le, k->ref);
		}
		if (queued_as[0] == '\0') {
			const char *p = ci_find(line, le, "queued as ");
			if (p != NULL) {
				const char *q = p + 10, *e = q;
				while (e < le && isalnum((unsigned char)*e))
					e++;
				if (e - q >= 6 && e - q < (long)sizeof(queued_as))
					trim_copy(queued_as, sizeof(queued_as), q, (size_t)(e - q));
			}
		}

		if ((line < le) && (*line == ' ' || *line == '\t')) {
			/* Folded header line: continue the previous value. */
			if (prev_hdr >= 0) {
				size_t cur = strlen(h->last[prev_hdr]);
				trim_copy(buf, sizeof(buf), line, (size_t)(le - line));
				if (cur + 1 + strlen(buf) < HVAL) {
					h->last[prev_hdr][cur] = ' ';
					strcpy(h->last[prev_hdr] + cur + 1, buf);
					if (h->count[prev_hdr] == 1)
						strcpy(h->first[prev_hdr], h->last[prev_hdr]);
				}
			}
		} else {
			const char *colon = memchr(line, ':', (size_t)(le - line));
			int hi = -1;
			if (colon != NULL && colon > line) {
				int ok = 1;
				for (const char *q = line; q < colon; q++)
					if (!isalnum((unsigned char)*q) && *q != '-')
						ok = 0;
				for (int i = 0; ok && i < H_COUNT; i++)
					if ((size_t)(colon - line) == strlen(hdr_names[i]) &&
					    strncasecmp(line, hdr_names[i], (size_t)(colon - line)) == 0)
						hi = i;
			}
			if (hi >= 0) {
				trim_copy(h->last[hi], HVAL, colon + 1, (size_t)(le - colon - 1));
				if (h->count[hi]++ == 0)
					strcpy(h->first[hi], h->last[hi]);
				if (hi == H_RETURN_PATH && h->first_nonnull_rp[0] == '\0') {
					addr_from_value(h->last[hi], buf, sizeof(buf));
					mw_strlcpy(h->first_nonnull_rp, buf, HVAL);
				}
			} else if (*line == '<' && angle_rcpt[0] == '\0') {
				/* Postfix: "<user@example.com>: host mx said: 550 ..." */
				const char *gt = memchr(line, '>', (size_t)(le - line));
				if (gt != NULL && gt + 1 < le && gt[1] == ':' && memchr(line, '@', (size_t)(gt - line))) {
					trim_copy(angle_rcpt, sizeof(angle_rcpt), line + 1, (size_t)(gt - line - 1));
					mw_str_lower(angle_rcpt);
				}
			} else if (free_msgid[0] == '\0') {
				for (const char *lt = line; (lt = memchr(lt, '<', (size_t)(le - lt))) != NULL; lt++) {
					const char *gt = memchr(lt, '>', (size_t)(le - lt));
					if (gt == NULL)
						break;
					if (looks_like_msgid(lt + 1, (size_t)(gt - lt - 1)) &&
					    (size_t)(gt - lt - 1) < sizeof(free_msgid)) {
						trim_copy(free_msgid, sizeof(free_msgid), lt + 1, (size_t)(gt - lt - 1));
						break;
					}
				}
			}
			prev_hdr = hi;
		}
		line = nl != NULL ? nl + 1 : end;
	}

	/* Ref: the header form wins if the text had both (it cannot be
	 * someone else's). */
	if (h->count[H_MW_REF] > 0)
		ref_at(h->last[H_MW_REF], h->last[H_MW_REF] + strlen(h->last[H_MW_REF]), k->ref);

	if (h->count[H_MW_QID] > 0) {
		trim_copy(k->qid, sizeof(k->qid), h->last[H_MW_QID], strcspn(h->last[H_MW_QID], " \t;"));
	} else {
		mw_strlcpy(k->qid, queued_as, sizeof(k->qid));
	}
	for (char *p = k->qid; *p; p++)
		if (!isalnum((unsigned char)*p)) {
			k->qid[0] = '\0';
			break;
		}

	if (h->count[H_MSGID] > 0) {
		const char *v = h->last[H_MSGID];
		const char *lt = strchr(v, '<'), *gt = lt ? strchr(lt, '>') : NULL;
		if (lt != NULL && gt != NULL)
			trim_copy(k->message_id, sizeof(k->message_id), lt + 1, (size_t)(gt - lt - 1));
		else
			trim_copy(k->message_id, sizeof(k->message_id), v, strlen(v));
	} else {
		mw_strlcpy(k->message_id, free_msgid, sizeof(k->message_id));
	}

	/* Recipient. */
	char from_first[320] = "", from_last[320] = "", to_first[320] = "", to_last[320] = "";
	if (h->count[H_FROM] > 0) {
		addr_from_value(h->first[H_FROM], from_first, sizeof(from_first));
		addr_from_value(h->last[H_FROM], from_last, sizeof(from_last));
	}
	if (h->count[H_TO] > 0) {
		addr_from_value(h->first[H_TO], to_first, sizeof(to_first));
		addr_from_value(h->last[H_TO], to_last, sizeof(to_last));
	}
	int dsn_headers = is_daemon_addr(from_first) || h->count[H_TO] >= 2 ||
	    (h->count[H_SUBJECT] > 0 && strip_ndr_subject(h->first[H_SUBJECT]) != h->first[H_SUBJECT]);

	if (h->count[H_ORIG_RCPT] > 0)
		addr_from_value(h->first[H_ORIG_RCPT], k->recipient, sizeof(k->recipient));
	if (k->recipient[0] == '\0' && h->count[H_FINAL_RCPT] > 0)
		addr_from_value(h->first[H_FINAL_RCPT], k->recipient, sizeof(k->recipient));
	if (k->recipient[0] == '\0' && h->count[H_FAILED_RCPTS] > 0)
		addr_from_value(h->first[H_FAILED_RCPTS], k->recipient, sizeof(k->recipient));
	if (k->recipient[0] == '\0')
		mw_strlcpy(k->recipient, angle_rcpt, sizeof(k->recipient));
	if (k->recipient[0] == '\0') {
		/* The original's To: is the last one; a lone To: on a bounce is
		 * the original sender, not the recipient. */
		if (h->count[H_TO] >= 2 || (h->count[H_TO] == 1 && !dsn_headers))
			mw_strlcpy(k->recipient, to_last, sizeof(k->recipient));
	}

	/* Sender. */
	if (h->first_nonnull_rp[0] != '\0')
		mw_strlcpy(k->sender, h->first_nonnull_rp, sizeof(k->sender));
	else if (dsn_headers && to_first[0] != '\0' && strcmp(to_first, k->recipient) != 0)
		mw_strlcpy(k->sender, to_first, sizeof(k->sender));
	else if (from_last[0] != '\0' && !is_daemon_addr(from_last))
		mw_strlcpy(k->sender, from_last, sizeof(k->sender));

	/* Subject and date of the original. */
	if (h->count[H_SUBJECT] >= 2)
		mw_strlcpy(k->subject, h->last[H_SUBJECT], sizeof(k->subject));
	else if (h->count[H_SUBJECT] == 1)
		mw_strlcpy(k->subject, strip_ndr_subject(h->first[H_SUBJECT]), sizeof(k->subject));
	if (h->count[H_DATE] > 0 && cli_parse_rfc5322_date(h->last[H_DATE], &k->date) != 0)
		k->date = 0;
	free(h);
}

/* ---- RFC 5322 dates ----------------------------------------------------- */

int
cli_parse_rfc5322_date(const char *s, int64_t *out)
{
	static const char *const months[] = { "jan", "feb", "mar", "apr", "may", "jun", "jul",
		"aug", "sep", "oct", "nov", "dec" };
	static const struct { const char *name; int minutes; } zones[] = {
		{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 }, { "EST", -300 }, { "EDT", -240 },
		{ "CST", -360 }, { "CDT", -300 }, { "MST", -420 }, { "MDT", -360 }, { "PST", -480 },
		{ "PDT", -420 } };
	struct tm tm;
	const char *p = s;
	char *e;
	long v;
	int off = 0;

	memset(&tm, 0, sizeof(tm));
	while (isspace((unsigned char)*p))
		p++;
	if (isalpha((unsigned char)*p)) {          /* optional day of week */
		while (isalpha((unsigned char)*p))
			p++;
		if (*p == ',')
			p++;
		while (isspace((unsigned char)*p))
			p++;
	}
	v = strtol(p, &e, 10);
	if (e == p || v < 1 || v > 31)
		return -1;
	tm.tm_mday = (int)v;
	p = e;
	while (isspace((unsigned char)*p))
		p++;
	tm.tm_mon = -1;
	for (int i = 0; i < 12; i++)
		if (strncasecmp(p, months[i], 3) == 0)
			tm.tm_mon = i;
	if (tm.tm_mon < 0)
		return -1;
	while (isalpha((unsigned char)*p))
		p++;
	v = strtol(p, &e, 10);
	if (e == p || v < 0)
		return -1;
	if (v < 50)                                /* obsolete 2-digit years */
		v += 2000;
	else if (v < 1000)
		v += 1900;
	tm.tm_year = (int)v - 1900;
	p = e;
	v = strtol(p, &e, 10);
	if (e == p || *e != ':' || v < 0 || v > 23)
		return -1;
	tm.tm_hour = (int)v;
	p = e + 1;
	v = strtol(p, &e, 10);
	if (e == p || v < 0 || v > 59)
		return -1;
	tm.tm_min = (int)v;
	p = e;
	if (*p == ':') {
		p++;
		v = strtol(p, &e, 10);
		if (e == p || v < 0 || v > 60)
			return -1;
		tm.tm_sec = (int)v;
		p = e;
	}
	while (isspace((unsigned char)*p))
		p++;
	if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1])) {
		int sign = *p == '-' ? -1 : 1;
		v = strtol(p + 1, &e, 10);
		if (e - (p + 1) != 4)
			return -1;
		off = sign * (int)((v / 100) * 60 + v % 100);
	} else if (isalpha((unsigned char)*p)) {
		for (size_t i = 0; i < MW_ARRAY_LEN(zones); i++) {
			size_t l = strlen(zones[i].name);
			if (strncasecmp(p, zones[i].name, l) == 0 && !isalpha((unsigned char)p[l]))
				off = zones[i].minutes;
		}
	}
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = (int64_t)t - (int64_t)off * 60;
	return 0;
}
