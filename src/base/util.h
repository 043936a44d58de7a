/*
 * util.h - allocation that cannot fail silently, bounded string helpers.
 *
 * Allocation failure is treated as a bug-class condition (the process cannot
 * continue sensibly): x*alloc() abort with file:line.  Everything else in the
 * code base returns -1 on bad input and never exits.
 */
#ifndef MW_BASE_UTIL_H
#define MW_BASE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdlib.h>

#define MW_UNUSED(x) ((void)(x))
#define MW_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MW_PRINTF(f, a) __attribute__((format(printf, f, a)))

void *mw_xmalloc_at(size_t n, const char *file, int line);
void *mw_xcalloc_at(size_t nmemb, size_t size, const char *file, int line);
void *mw_xrealloc_at(void *p, size_t n, const char *file, int line);
char *mw_xstrdup_at(const char *s, const char *file, int line);
char *mw_xstrndup_at(const char *s, size_t n, const char *file, int line);
#define xmalloc(n) mw_xmalloc_at((n), __FILE__, __LINE__)
#define xcalloc(a, b) mw_xcalloc_at((a), (b), __FILE__, __LINE__)
#define xrealloc(p, n) mw_xrealloc_at((p), (n), __FILE__, __LINE__)
#define xstrdup(s) mw_xstrdup_at((s), __FILE__, __LINE__)
#define xstrndup(s, n) mw_xstrndup_at((s), (n), __FILE__, __LINE__)

/* printf into a fresh heap string; the caller frees it. */
char *xasprintf(const char *fmt, ...) MW_PRINTF(1, 2);

/* Impossible state: print file:line and abort. */
_Noreturn void mw_panic_at(const char *file, int line, const char *fmt, ...) MW_PRINTF(3, 4);
#define mw_panic(...) mw_panic_at(__FILE__, __LINE__, __VA_ARGS__)

/* strlcpy semantics: always NUL-terminates when n > 0, returns strlen(src). */
size_t mw_strlcpy(char *dst, const char *src, size_t n);
/* snprintf that never returns a truncated-but-"successful" result:
 * returns 0 on success, -1 if the output did not fit (dst still terminated). */
int mw_snprintf(char *dst, size_t n, const char *fmt, ...) MW_PRINTF(3, 4);

/* ASCII lower-casing in place; returns s. */
char *mw_str_lower(char *s);
int mw_str_casecmp_prefix(const char *s, const char *prefix); /* 1 if s starts with prefix, case-insensitive */

/* Parse a decimal unsigned integer with overflow check; whole string must match.
 * Returns 0 or -1. */
int mw_parse_u64(const char *s, uint64_t *out);

/* Wall clock and monotonic clock in milliseconds / seconds. */
int64_t mw_now_ms(void);
int64_t mw_now(void);
int64_t mw_mono_ms(void);

/* CRC-32 (IEEE 802.3, reflected), incremental: start with crc = 0. */
uint32_t mw_crc32(uint32_t crc, const void *buf, size_t len);

/* Durable file helpers: fsync a directory by path. Returns 0 or -1 (errno set). */
int mw_fsync_dir(const char *dir);
/* mkdir -p with mode. 0 or -1. */
int mw_mkdir_p(const char *path, int mode);

#endif
