/*
 * content_tar.c - tar member names (POSIX ustar and pax, GNU long names,
 * old V7 headers).  A tar archive is a run of 512-byte headers, each
 * followed by its member's data; the walk reads the headers only.
 */
#include "content/content_archive.h"

#include <stdint.h>
#include <string.h>

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

int content_tar_read(const unsigned char *p, size_t n, struct content_archive *out)
{
	memset(out, 0, sizeof(*out));
	if (n < BLOCK || !checksum_ok(p))
		return n >= 262 && memcmp(p + 257, "ustar", 5) == 0 ? (out->damaged = 1, 0) : -1;

	const unsigned char *long_name = NULL;   /* from a GNU 'L' or a pax 'x' member */
	size_t long_len = 0;
	size_t q = 0;
	while (q + BLOCK <= n) {
		const unsigned char *h = p + q;
		if (all_zero(h))
			return 0;                  /* the end-of-archive blocks */
		uint64_t size;
		if (!checksum_ok(h) || field_num(h + 124, 12, &size) < 0) {
			out->damaged = 1;
			return 0;
		}
		const size_t data_at = q + BLOCK;
		if (size > n - data_at) {
			out->damaged = 1;      /* cut inside the data: still name it */
			size = n - data_at;
		}
		const unsigned type = h[156];
		if (type == 'L' || type == 'x') {
			const unsigned char *v = p + data_at;
			size_t vl = (size_t)size;
			if (type == 'x' && !pax_path(v, vl, &v, &vl))
				v = NULL;
			if (v != NULL) {
				const unsigned char *z = memchr(v, '\0', vl);
				long_name = v;
				long_len = z ? (size_t)(z - v) : vl;
			}
		} else if (type != 'K' && type != 'g') {
			if (long_name != NULL) {
				content_archive_add(out, long_name, long_len, 0);
			} else {
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
				content_archive_add(out, name, len + nl, 0);
			}
			long_name = NULL;
		}
		if (out->damaged)
			return 0;
		q = data_at + (size_t)((size + BLOCK - 1) / BLOCK * BLOCK);
	}
	if (q < n)
		out->damaged = 1;              /* a partial header at the end */
	return 0;
}
