/*
 * content_int.h - internals shared by the files of src/content/ (not for
 * other modules).  Only our own types: the MIME library stays in content.c.
 *
 * Ownership: a struct content_msg owns one arena holding every string it
 * exposes, plus growable arrays of headers, texts, URLs and attachments.
 */
#ifndef MW_CONTENT_INT_H
#define MW_CONTENT_INT_H

#include <stddef.h>

#include "base/buf.h"
#include "content/content.h"
#include "content/content_archive.h"

/* A hex digit's value, -1 for any other byte. */
static inline int content_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The type of a file by its first bytes (at most 512 are looked at):
 * what an attachment's "detected" says (content.c). */
enum content_ftype content_detect_type(const unsigned char *h, size_t n);

/* The first place w (ASCII) occurs in p[0..n) ignoring ASCII case, or NULL
 * (content_text.c). */
const unsigned char *content_find_ci(const unsigned char *p, size_t n, const char *w);

struct arena_block;
struct arena {
	struct arena_block *head;
};
void *arena_alloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
void arena_free(struct arena *a);

/* Growable array of fixed-size items; grows by doubling. */
#define VEC(T) struct { T *v; size_t n, cap; }
#define VEC_PUSH(vec) \
	((vec).n == (vec).cap \
		? ((vec).cap = (vec).cap ? (vec).cap * 2 : 8, \
		   (vec).v = xrealloc((vec).v, (vec).cap * sizeof(*(vec).v))) : 0, \
	 &(vec).v[(vec).n++])


struct content_msg {
	struct content_limits lim;
	struct arena arena;
	unsigned flags;
	VEC(struct content_header) headers;
	VEC(struct content_text) texts;
	VEC(struct content_url) urls;
	VEC(struct content_attachment) atts;
	struct content_html_features html;
	/* URL de-duplication: hash -> index+1 into urls (0 = empty). */
	size_t *url_index;
	size_t url_index_cap;
	const char *from, *from_addr, *subject, *message_id;
	int64_t date;
	int has_date;
	const char *signature;
	enum content_sig_method sig_method;
	const char *last_block;   /* when no signature was found: content_last_block() */
	/* Hosts repeat within a message; the PSL lookup is the costliest step
	 * of URL handling, so the last few answers are kept (round robin). */
	struct { char host[128]; char rd[128]; } rd_cache[8];
	unsigned rd_next;
	size_t parts, max_depth;
	size_t decoded_total;
	struct content_archive_budget archive_budget;   /* content_archive.h */
};

/* content_text.c */
/* Append len bytes of UTF-8-ish text to out, replacing invalid sequences by
 * U+FFFD and dropping NUL; stops before out->len would exceed max.  Returns
 * 1 when it had to stop, 0 otherwise; *bad set to 1 on a replacement. */
int utf8_sanitize_append(struct buf *out, const char *s, size_t len, size_t max, int *bad);
/* Convert from charset to UTF-8 into out (bounded by max).  Returns 1 when
 * cut, 0 otherwise; sets CONTENT_F_UNKNOWN_CHARSET / BAD_CHARSET_DATA. */
int charset_to_utf8(const char *charset, const char *in, size_t len, struct buf *out,
	size_t max, unsigned *flags);
/* Unfold and decode a raw header value (RFC 2047 encoded words, each word
 * decoded on its own, adjacent same-charset words converted together) into
 * UTF-8 in out, bounded by max.  Sets CONTENT_F_BAD_ENCODED_WORD. */
void rfc2047_decode(const char *s, size_t n, struct buf *out, size_t max, unsigned *flags);
/* Find the signature block of text (sets m->signature and m->sig_method),
 * else its last paragraph (m->last_block). */
void signature_find(struct content_msg *m, const char *text, size_t len);

/* content_html.c: HTML to text into out (bounded by max); updates m->html
 * and adds href/src URLs.  Returns 1 when cut. */
int html_to_text(struct content_msg *m, const char *html, size_t len, struct buf *out, size_t max);

/* content_url.c */
void url_scan_text(struct content_msg *m, const char *text, size_t len);
void url_add(struct content_msg *m, const char *url, size_t len, int in_href);
/* If text (trimmed) looks like a URL or bare host name, write its registered
 * domain to out (NUL-terminated) and return 1; else 0. */
int url_text_regdomain(struct content_msg *m, const char *text, size_t len, char *out, size_t outsz);
/* Registered domain of url (scheme optional) into out; 1 on success. */
int url_regdomain(struct content_msg *m, const char *url, size_t len, char *out, size_t outsz);
void url_index_free(struct content_msg *m);

#endif
