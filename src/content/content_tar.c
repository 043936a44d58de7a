/*
 * content_tar.c - tar member names (POSIX ustar and pax, GNU long names,
 * old V7 headers).  A tar archive is a run of 512-byte headers, each
 * followed by its member's data; the walk reads the headers only, and
 * can be fed in pieces (a tar inside a gzip is listed as it is inflated,
 * never kept whole: content_nest.c).
 */
#include "content/content_archive.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define BLOCK 512u
#define NAME_LEN 100u
#define PREFIX_AT 345u
#define PREFIX_LEN 155u

static int all_zero(const unsigned char *p)
{
	for (size_t i = 0; i < BLOCK; i++)
		if (p[i])
			return 0;
	return 1;
}

/* An octal field (spaces and NULs around it), or GNU's base-256 form. */
static int field_num(const unsigned char *p, size_t len, uint64_t *v)
{
	*v = 0;
	if (p[0] & 0x80) {
		if (p[0] != 0x80)
			return -1;         /* negative or beyond 64 bits */
		for (size_t i = 1; i < len; i++) {
			if (*v >> 56)
				return -1;
			*v = *v << 8 | p[i];
		}
		return 0;
	}
	size_t i = 0;
	while (i < len && p[i] == ' ')
		i++;
	for (; i < len && p[i] >= '0' && p[i] <= '7'; i++) {
		if (*v >> 60)
			return -1;
		*v = *v * 8 + (uint64_t)(p[i] - '0');
	}
	return i < len && p[i] != ' ' && p[i] != '\0' ? -1 : 0;
}

static int checksum_ok(const unsigned char *h)
{
	uint64_t want;
	if (field_num(h + 148, 8, &want) < 0)
		return 0;
	uint64_t sum = 0;
	for (size_t i = 0; i < BLOCK; i++)
		sum += i >= 148 && i < 156 ? ' ' : h[i];
	return sum == want;
}

/* The "path" record of a pax extended header: "LEN path=VALUE\n". */
static int pax_path(const unsigned char *p, size_t n, const unsigned char **v, size_t *vl)
{
	size_t q = 0;
	while (q < n) {
		size_t len = 0, i = q;
		while (i < n && p[i] >= '0' && p[i] <= '9' && len < n)
			len = len * 10 + (size_t)(p[i++] - '0');
		if (i >= n || p[i] != ' ' || len <= i - q || len > n - q)
			return 0;
		const unsigned char *kv = p + i + 1, *end = p + q + len;
		if (end - kv > 5 && memcmp(kv, "path=", 5) == 0 && end[-1] == '\n') {
			*v = kv + 5;
			*vl = (size_t)(end - 1 - *v);
			return 1;
		}
		q += len;
	}
	return 0;
}

static uint64_t padded(uint64_t size)
{
	return (size + BLOCK - 1) / BLOCK * BLOCK;
}

static void emit(struct content_tar_stream *s, const unsigned char *h)
{
	if (s->long_name != NULL) {
		content_archive_add(s->out, (const unsigned char *)s->long_name, s->long_len, 0);
		free(s->long_name);
		s->long_name = NULL;
		return;
	}
	unsigned char name[PREFIX_LEN + 1 + NAME_LEN];
	size_t len = 0;
	if (memcmp(h + 257, "ustar\0", 6) == 0 && h[PREFIX_AT] != 0) {
		const unsigned char *z = memchr(h + PREFIX_AT, '\0', PREFIX_LEN);
		len = z ? (size_t)(z - (h + PREFIX_AT)) : PREFIX_LEN;
		memcpy(name, h + PREFIX_AT, len);
		name[len++] = '/';
	}
	const unsigned char *z = memchr(h, '\0', NAME_LEN);
	const size_t nl = z ? (size_t)(z - h) : NAME_LEN;
	memcpy(name + len, h, nl);
	content_archive_add(s->out, name, len + nl, 0);
}

/* A whole header block is in s->hdr. */
static void header(struct content_tar_stream *s)
{
	const unsigned char *h = s->hdr;
	uint64_t size;
	s->hlen = 0;
	if (all_zero(h)) {
		s->done = 1;                   /* the end-of-archive blocks */
		return;
	}
	if (!checksum_ok(h) || field_num(h + 124, 12, &size) < 0) {
		s->out->damaged = 1;
		s->done = 1;
		return;
	}
	const unsigned type = h[156];
	s->skip = padded(size);
	if (type == 'L' || type == 'x') {
		s->meta_type = (char)type;
		s->meta.len = 0;
		s->meta_left = size < TAR_META_MAX ? size : TAR_META_MAX;
	} else if (type != 'K' && type != 'g') {
		emit(s, h);
	}
}

/* The data of a long-name or pax member, all of it that was kept. */
static void meta_done(struct content_tar_stream *s)
{
	const unsigned char *v = (const unsigned char *)s->meta.data;
	size_t vl = s->meta.len;
	if (v != NULL && (s->meta_type == 'L' || pax_path(v, vl, &v, &vl))) {
		const unsigned char *z = memchr(v, '\0', vl);
		free(s->long_name);
		s->long_len = z ? (size_t)(z - v) : vl;
		s->long_name = xmalloc(s->long_len + 1);
		memcpy(s->long_name, v, s->long_len);
		s->long_name[s->long_len] = '\0';
	}
	s->meta_type = 0;
}

void content_tar_stream_init(struct content_tar_stream *s, struct content_archive *out)
{
	memset(s, 0, sizeof(*s));
	s->out = out;
	s->meta = (struct buf)BUF_INIT;
}

void content_tar_stream_feed(struct content_tar_stream *s, const unsigned char *p, size_t n)
{
	while (n > 0 && !s->done) {
		if (s->skip > 0) {
			size_t k = s->skip < n ? (size_t)s->skip : n;
			if (s->meta_left > 0) {
				size_t m = s->meta_left < k ? (size_t)s->meta_left : k;
				buf_append(&s->meta, (const char *)p, m);
				s->meta_left -= m;
			}
			s->skip -= k, p += k, n -= k;
			if (s->skip == 0 && s->meta_type)
				meta_done(s);
			continue;
		}
		size_t k = BLOCK - s->hlen < n ? BLOCK - s->hlen : n;
		memcpy(s->hdr + s->hlen, p, k);
		s->hlen += k, p += k, n -= k;
		if (s->hlen == BLOCK)
			header(s);
	}
}

void content_tar_stream_finish(struct content_tar_stream *s)
{
	if (!s->done && (s->hlen > 0 || s->skip > 0))
		s->out->damaged = 1;           /* cut inside a header or a member */
	free(s->long_name);
	buf_free(&s->meta);
	memset(s, 0, sizeof(*s));
}

int content_tar_read(const unsigned char *p, size_t n, struct content_archive *out)
{
	memset(out, 0, sizeof(*out));
	if (n < BLOCK || !checksum_ok(p))
		return n >= 262 && memcmp(p + 257, "ustar", 5) == 0 ? (out->damaged = 1, 0) : -1;
	struct content_tar_stream s;
	content_tar_stream_init(&s, out);
	content_tar_stream_feed(&s, p, n);
	content_tar_stream_finish(&s);
	return 0;
}
