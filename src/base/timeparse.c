/*
 * timeparse.c - times typed by people (CLI, configuration) and times
 * written into mail headers.
 *
 * Everything is UTC: a support engineer pasting "2026-11-27T10:00" from a
 * bounce must get the same answer on every host, whatever its TZ.  The
 * calendar arithmetic is done here (days_from_civil) instead of timegm()
 * so the result does not depend on the C library's time zone state.
 */
#include "base/timeparse.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int64_t m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Exactly n decimal digits at *p; advances p.  -1 if not. */
static int digits(const char **p, int n, int64_t *out)
{
	int64_t v = 0;
	for (int i = 0; i < n; i++) {
		char ch = (*p)[i];
		if (ch < '0' || ch > '9')
			return -1;
		v = v * 10 + (ch - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int parse_iso(const char *s, int64_t *out)
{
	const char *p = s;
	int64_t y, mo, d, h = 0, mi = 0, sec = 0;

	if (digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 ||
	    *p++ != '-' || digits(&p, 2, &d) < 0)
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &mi) < 0)
			return -1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec) < 0)
				return -1;
		}
		/* 60 is a leap second: accepted and folded into the next minute. */
		if (h > 23 || mi > 59 || sec > 60)
			return -1;
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	if (*p != '\0')
		return -1;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	return 0;
}

int timeparse_duration(const char *s, int64_t *out)
{
	/* 100 years: far beyond any sensible setting, far from overflow. */
	const int64_t cap = (int64_t)100 * 366 * 86400;
	int64_t v = 0, mult = 1;
	const char *p = s;

	if (s == NULL || *s == '\0')
		return -1;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (*p - '0');
		if (v > cap)
			return -1;
		p++;
	}
	if (p == s)
		return -1;
	switch (*p) {
	case '\0': mult = 1; break;
	case 's': case 'S': mult = 1; p++; break;
	case 'm': case 'M': mult = 60; p++; break;
	case 'h': case 'H': mult = 3600; p++; break;
	case 'd': case 'D': mult = 86400; p++; break;
	case 'w': case 'W': mult = 7 * 86400; p++; break;
	default: return -1;
	}
	if (*p != '\0' || v > cap / mult)
		return -1;
	*out = v * mult;
	return 0;
}

int timeparse_point(const char *s, int64_t now, int64_t *out)
{
	int64_t d;

	if (s == NULL)
		return -1;
	if (strcmp(s, "now") == 0) {
		*out = now;
		return 0;
	}
	/* A bare "-5" is too easily a typo for a date; insist on a unit. */
	if (s[0] == '-') {
		char last = s[strlen(s) - 1];
		if ((last >= '0' && last <= '9') || timeparse_duration(s + 1, &d) < 0)
			return -1;
		*out = now - d;
		return 0;
	}
	return parse_iso(s, out);
}

void timefmt_rfc5322(int64_t t, char *out, unsigned long n)
{
	static const char *const wd[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mon[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;

	if (n == 0)
		return;
	/* Month and day names by table: strftime would follow the locale. */
	if (gmtime_r(&tt, &tm) == NULL) {
		out[0] = '\0';
		return;
	}
	snprintf(out, n, "%s, %d %s %04d %02d:%02d:%02d +0000", wd[tm.tm_wday], tm.tm_mday,
	    mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void timefmt_iso(int64_t t, char *out, unsigned long n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (n == 0)
		return;
	if (gmtime_r(&tt, &tm) == NULL) {
		out[0] = '\0';
		return;
	}
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
