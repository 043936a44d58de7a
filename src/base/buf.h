/*
 * buf.h - growable byte buffer.
 *
 * The struct is public so buffers can live inside other structs and on the
 * stack; the owner calls buf_free().  Data is always NUL-terminated past
 * len so text can be used as a C string (embedded NULs are still counted).
 */
#ifndef MW_BASE_BUF_H
#define MW_BASE_BUF_H

#include <stddef.h>
#include <stdarg.h>
#include "base/util.h"

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b); /* len = 0, keeps memory */
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_append_str(struct buf *b, const char *s);
void buf_append_char(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) MW_PRINTF(2, 3);
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Remove the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Take ownership of the data (NUL-terminated, never NULL); b is reset. */
char *buf_steal(struct buf *b);

#endif
