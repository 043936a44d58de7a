/*
 * score_date.c - RFC 5322 date-times to seconds, for the rules that
 * compare a message's Date with its own Received chain (never with the
 * wall clock: docs/scoring.md).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "score/score_int.h"

/* ---- dates ---------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static const char *skip_cfws(const char *p)
{
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '(')
			return p;
		int depth = 0;   /* comments nest (RFC 5322 3.2.2) */
		do {
			if (*p == '(')
				depth++;
			else if (*p == ')')
				depth--;
			else if (*p == '\0')
				return p;
			p++;
		} while (depth > 0);
	}
}

static int read_num(const char **pp, int maxdigits, int *out)
{
	const char *p = *pp;
	int v = 0, n = 0;

	while (isdigit((unsigned char)*p) && n < maxdigits) {
		v = v * 10 + (*p - '0');
		p++;
		n++;
	}
	if (n == 0)
		return -1;
	*pp = p;
	*out = v;
	return n;
}

/* The fields of an RFC 5322 date-time up to its seconds: [day-of-week ,]
 * day month year hh:mm[:ss], comments and folding between them. */
struct date_fields {
	int wday;           /* 0 Thursday .. 6 Wednesday (1970-01-01 was a Thursday); -1 none */
	int day, year, year_digits, hh, mm, ss;
	unsigned mon;       /* 1..12 */
};

/* The position after the seconds (or minutes), or NULL when a field is
 * missing.  Years of two and three digits are read as RFC 5322 4.3 says;
 * ranges are the caller's to check. */
static const char *date_fields(const char *s, struct date_fields *f)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	static const char wdays[] = "thufrisatsunmontuewed";
	const char *p = skip_cfws(s);

	memset(f, 0, sizeof(*f));
	f->wday = -1;
	if (isalpha((unsigned char)*p)) {     /* optional day of week */
		for (int i = 0; i < 7; i++)
			if (strncasecmp(p, wdays + 3 * i, 3) == 0)
				f->wday = i;
		while (isalpha((unsigned char)*p))
			p++;
		p = skip_cfws(p);
		if (*p == ',')
			p = skip_cfws(p + 1);
	}
	if (read_num(&p, 2, &f->day) < 0)
		return NULL;
	p = skip_cfws(p);
	for (unsigned i = 0; i < 12; i++)
		if (strncasecmp(p, months + 3 * i, 3) == 0)
			f->mon = i + 1;
	if (f->mon == 0)
		return NULL;
	while (isalpha((unsigned char)*p))
		p++;
	p = skip_cfws(p);
	if ((f->year_digits = read_num(&p, 4, &f->year)) < 0)
		return NULL;
	f->year += f->year_digits <= 2 ? (f->year < 50 ? 2000 : 1900) : f->year_digits == 3 ? 1900 : 0;
	p = skip_cfws(p);
	if (read_num(&p, 2, &f->hh) < 0 || *p != ':')
		return NULL;
	p++;
	if (read_num(&p, 2, &f->mm) < 0)
		return NULL;
	if (*p == ':') {
		p++;
		if (read_num(&p, 2, &f->ss) < 0)
			return NULL;
	}
	return p;
}

int score_parse_rfc5322_date(const char *s, int64_t *out)
{
	struct date_fields f;
	const char *p = date_fields(s, &f);

	if (p == NULL || f.day < 1 || f.day > 31 || f.hh > 23 || f.mm > 59 || f.ss > 60)
		return -1;
	p = skip_cfws(p);
	int64_t off = 0;
	if (*p == '+' || *p == '-') {
		int z;
		const char *q = p + 1;
		if (read_num(&q, 4, &z) == 4)
			off = (int64_t)(z / 100 * 3600 + z % 100 * 60) * (*p == '-' ? -1 : 1);
	} else {
		/* Obsolete zone names; unknown ones count as UTC (RFC 5322 4.3). */
		static const struct { const char *n; int h; } zones[] = {
			{ "EDT", -4 }, { "EST", -5 }, { "CDT", -5 }, { "CST", -6 },
			{ "MDT", -6 }, { "MST", -7 }, { "PDT", -7 }, { "PST", -8 },
		};
		for (size_t i = 0; i < MW_ARRAY_LEN(zones); i++)
			if (strncasecmp(p, zones[i].n, 3) == 0)
				off = zones[i].h * 3600;
	}
	*out = days_from_civil(f.year, f.mon, (unsigned)f.day) * 86400 + f.hh * 3600 + f.mm * 60 +
	    f.ss - off;
	return 0;
}

/* The Date header's shape: what a mail client never writes.  Sets *no_zone
 * (no zone after the time), *two_digit (obsolete two-digit year) and
 * *bad_wday (a day-of-week name that is not the date's).  0 when the date
 * parsed that far, -1 otherwise (MISSING_DATE and friends cover it). */
int score_date_shape(const char *s, int *no_zone, int *two_digit, int *bad_wday)
{
	struct date_fields f;
	const char *p = date_fields(s, &f);

	*no_zone = *two_digit = *bad_wday = 0;
	if (p == NULL || f.day < 1 || f.day > 31)
		return -1;
	*two_digit = f.year_digits <= 2;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	/* A zone is a sign and digits or a name; a comment alone is none. */
	*no_zone = !(*p == '+' || *p == '-' || isalpha((unsigned char)*p));
	if (f.wday >= 0) {
		int64_t d = days_from_civil(f.year, f.mon, (unsigned)f.day);
		*bad_wday = (int)(((d % 7) + 7) % 7) != f.wday;
	}
	return 0;
}
