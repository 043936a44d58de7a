/*
 * timeparse.h - command-line times: ISO 8601 (2026-11-27, 2026-11-27T10:00,
 * 2026-11-27T10:00:05, optional trailing Z; interpreted as UTC) and relative
 * forms (-7d, -2h, -30m, -45s, "now").  Also durations for configuration
 * ("30s", "5m", "2h", "5d", bare number = seconds).
 */
#ifndef MW_BASE_TIMEPARSE_H
#define MW_BASE_TIMEPARSE_H

#include <stdint.h>

/* Returns 0 and sets *out (unix seconds), or -1 on bad input. */
int timeparse_point(const char *s, int64_t now, int64_t *out);
/* Returns 0 and sets *out (seconds), or -1. */
int timeparse_duration(const char *s, int64_t *out);
/* Format unix seconds as RFC 5322 date (for headers); out >= 40 bytes. */
void timefmt_rfc5322(int64_t t, char *out, unsigned long n);
/* Format unix seconds as ISO 8601 UTC "2026-11-27T10:00:05Z"; out >= 21 bytes. */
void timefmt_iso(int64_t t, char *out, unsigned long n);

#endif
