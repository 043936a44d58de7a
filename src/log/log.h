/*
 * log.h - one line per event: "ts level ref=XXXX-XXXX subsystem event k=v ...".
 *
 * The ref id comes first when there is one.  Values from peers must go
 * through log_escape() (or the %s of log_kv helpers) so a CR/LF from the
 * network can never forge a log line.  Thread-safe (one write(2) per line).
 * The level and the output fd are process settings made once by main().
 */
#ifndef MW_LOG_LOG_H
#define MW_LOG_LOG_H

#include <stddef.h>
#include "base/util.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_FATAL };

void log_init(enum log_level min, int fd);
int log_level_parse(const char *s, enum log_level *out);

/* ref may be NULL.  fmt is the rest of the line ("smtp connect ip=%s"). */
void log_msg(enum log_level lvl, const char *ref, const char *fmt, ...) MW_PRINTF(3, 4);

#define log_debug(ref, ...) log_msg(LOG_DEBUG, (ref), __VA_ARGS__)
#define log_info(ref, ...) log_msg(LOG_INFO, (ref), __VA_ARGS__)
#define log_warn(ref, ...) log_msg(LOG_WARN, (ref), __VA_ARGS__)
#define log_error(ref, ...) log_msg(LOG_ERROR, (ref), __VA_ARGS__)

/* Escape peer text for a log value: quotes it if it has spaces, escapes
 * control bytes, '"' and '\\' as \xNN.  Truncated to fit out (>= 8 bytes). */
const char *log_escape(const char *s, char *out, size_t n);

#endif
