/*
 * score_ratware.c - RATWARE_HEADERS (docs/scoring.md, "Rules, fourth
 * round"): header shapes no mail client writes - a Date without a zone, a
 * two-digit year or a wrong weekday, multipart without MIME-Version, a
 * Message-ID without @, a padded Subject, a freemail HELO from outside the
 * provider, a malformed X-Mailer.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "content/content.h"
#include "score/score_int.h"

/* ---- ratware header shapes ---------------------------------------------- */

/* Registered domains of the big freemail providers: their outgoing relays
 * have their own reverse DNS, so a HELO in one of them from a host outside
 * it is forged (SpamAssassin's FORGED_HOTMAIL_RCVD, FORGED_YAHOO_RCVD).
 * A provider's relays may carry a sister company's name (Netscape's hosts
 * are netcenter.com, Hotmail's are msn.com), so each domain names its
 * family and a reverse DNS anywhere in the family is the provider's own.
 * Only entries with helo set are providers a HELO is checked against.
 * Kept in strcmp order: looked up with bsearch. */
struct freemail_dom {
	const char *dom;
	const char *family;
	int helo;
};

static const struct freemail_dom freemail_doms[] = {
	{ "aol.com", "aol", 1 },
	{ "aol.net", "aol", 0 },
	{ "excite.com", "excite", 1 },
	{ "excitehome.net", "excite", 0 },
	{ "gmail.com", "google", 1 },
	{ "google.com", "google", 0 },
	{ "googlemail.com", "google", 0 },
	{ "hotmail.com", "microsoft", 1 },
	{ "juno.com", "unitedonline", 1 },
	{ "live.com", "microsoft", 1 },
	{ "microsoft.com", "microsoft", 0 },
	{ "msn.com", "microsoft", 1 },
	{ "netcenter.com", "aol", 0 },
	{ "netscape.com", "aol", 1 },
	{ "netscape.net", "aol", 1 },
	{ "netzero.net", "unitedonline", 0 },
	{ "outlook.com", "microsoft", 1 },
	{ "untd.com", "unitedonline", 0 },
	{ "yahoo.com", "yahoo", 1 },
	{ "yahoo.net", "yahoo", 0 },
	{ "yahoodns.net", "yahoo", 0 },
};

static int cmp_freemail(const void *a, const void *b)
{
	return strcmp((const char *)a, ((const struct freemail_dom *)b)->dom);
}

static const struct freemail_dom *freemail_find(const char *reg)
{
	return bsearch(reg, freemail_doms, MW_ARRAY_LEN(freemail_doms), sizeof(freemail_doms[0]),
	    cmp_freemail);
}

/* "from HELO (RDNS [IP]) ...": HELO's registered domain is a freemail
 * provider's and RDNS (the host name the receiving MTA looked up, or
 * "unknown" when there was none) is outside it.  HELO is copied to out. */
static int forged_freemail_helo(const char *r, char *out, size_t n)
{
	char helo[256], rdns[256], hreg[256], rreg[256];
	size_t k = 0;

	while (isspace((unsigned char)*r))
		r++;
	if (strncasecmp(r, "from", 4) != 0 || !isspace((unsigned char)r[4]))
		return 0;
	r += 4;
	while (isspace((unsigned char)*r))
		r++;
	while (*r && !isspace((unsigned char)*r) && *r != '(' && k + 1 < sizeof(helo))
		helo[k++] = *r++;
	helo[k] = '\0';
	while (isspace((unsigned char)*r))
		r++;
	if (*r != '(' || strchr(helo, '.') == NULL)
		return 0;
	content_reg_domain(helo, hreg, sizeof(hreg));
	const struct freemail_dom *hf = freemail_find(hreg);
	if (hf == NULL || !hf->helo)
		return 0;
	r++;
	k = 0;
	while (*r && !isspace((unsigned char)*r) && *r != ')' && *r != '[' && k + 1 < sizeof(rdns))
		rdns[k++] = *r++;
	rdns[k] = '\0';
	/* "(unknown [IP])": the lookup failed; "([IP])": some MTAs (Exim
	 * without host lookups) record none, which proves nothing. */
	if (strcasecmp(rdns, "unknown") != 0) {
		if (strchr(rdns, '.') == NULL)
			return 0;
		content_reg_domain(rdns, rreg, sizeof(rreg));
		const struct freemail_dom *rf = freemail_find(rreg);
		if (strcmp(rreg, hreg) == 0 || (rf != NULL && strcmp(rf->family, hf->family) == 0))
			return 0;
	}
	mw_strlcpy(out, helo, n);
	return 1;
}

/* X-Mailer values no mail program writes: the header's own name repeated
 * in the value, one random-looking token (mixed case and digits, 12 or
 * more characters, nothing else), or an Outlook Express version with more
 * than four numbers. */
static int odd_xmailer(const char *x)
{
	while (isspace((unsigned char)*x))
		x++;
	if (strncasecmp(x, "x-mailer", 8) == 0)
		return 1;
	size_t n = 0;
	int up = 0, lo = 0, dig = 0;
	for (const char *p = x; *p && isalnum((unsigned char)*p); p++, n++) {
		up |= isupper((unsigned char)*p) != 0;
		lo |= islower((unsigned char)*p) != 0;
		dig |= isdigit((unsigned char)*p) != 0;
	}
	const char *rest = x + n;
	while (isspace((unsigned char)*rest))
		rest++;
	if (n >= 12 && *rest == '\0' && up && lo && dig)
		return 1;
	const char *oe = strcasestr(x, "outlook express");
	if (oe != NULL) {
		const char *p = oe + 15;
		while (*p == ' ')
			p++;
		int groups = 0;
		while (isdigit((unsigned char)*p)) {
			while (isdigit((unsigned char)*p))
				p++;
			groups++;
			if (*p != '.' || !isdigit((unsigned char)p[1]))
				break;
			p++;
		}
		if (groups > 4)
			return 1;
	}
	return 0;
}

/* The raw Subject line (its first physical line: a folded Subject's
 * continuation whitespace is not padding) has a run of five or more spaces
 * between two words: ratware pads the subject before a tracking tag
 * ("Great offer          YMF", "...!     22337"). */
static int subject_padded(const char *raw, size_t len)
{
	const char *p = raw, *end = raw + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if (le == p || (le == p + 1 && *p == '\r'))
			return 0;   /* end of the header block */
		if (le - p > 8 && strncasecmp(p, "subject:", 8) == 0) {
			const char *q = p + 8;
			while (q < le && (*q == ' ' || *q == '\t'))
				q++;
			int run = 0, seen_word = 0;
			for (; q < le && *q != '\r'; q++) {
				if (*q == ' ') {
					run++;
				} else {
					if (run >= 5 && seen_word)
						return 1;
					run = 0;
					seen_word = 1;
				}
			}
			return 0;
		}
		p = le + (le < end);
	}
	return 0;
}

static void rw_add(char *what, size_t n, const char *s)
{
	if (what[0] != '\0')
		strncat(what, ", ", n - strlen(what) - 1);
	strncat(what, s, n - strlen(what) - 1);
}

void score_rule_ratware(const struct content_msg *m, const char *raw, size_t len,
    struct score_hits *h)
{
	char what[160] = "", helo[128];
	const char *v;
	int no_zone, two_digit, bad_wday;

	if ((v = content_header(m, "Date", 0)) != NULL && score_date_shape(v, &no_zone, &two_digit, &bad_wday) == 0) {
		if (no_zone)
			rw_add(what, sizeof(what), "Date without zone");
		if (two_digit)
			rw_add(what, sizeof(what), "Date with a two-digit year");
		if (bad_wday)
			rw_add(what, sizeof(what), "Date with the wrong weekday");
	}
	if ((v = content_header(m, "Content-Type", 0)) != NULL && content_header(m, "MIME-Version", 0) == NULL) {
		while (isspace((unsigned char)*v))
			v++;
		if (strncasecmp(v, "multipart/", 10) == 0)
			rw_add(what, sizeof(what), "multipart without MIME-Version");
	}
	if ((v = content_header(m, "Message-ID", 0)) != NULL && strchr(v, '@') == NULL)
		rw_add(what, sizeof(what), "Message-ID without @");
	if (subject_padded(raw, len))
		rw_add(what, sizeof(what), "Subject padded with spaces");
	for (size_t i = 0; (v = content_header(m, "Received", i)) != NULL; i++) {
		if (forged_freemail_helo(v, helo, sizeof(helo))) {
			char t[160];
			snprintf(t, sizeof(t), "HELO %.64s from outside it", helo);
			rw_add(what, sizeof(what), t);
			break;
		}
	}
	if ((v = content_header(m, "X-Mailer", 0)) != NULL && odd_xmailer(v))
		rw_add(what, sizeof(what), "malformed X-Mailer");
	if (what[0] != '\0')
		score_hit(h, SYM_RATWARE_HEADERS, 1.0, "headers no mail client writes: %s", what);
}
