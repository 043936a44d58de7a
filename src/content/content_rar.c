/*
 * content_rar.c - RAR member names and encryption flags from the block
 * headers (RAR 1.5-4.x and RAR 5.0 as RARLAB's technical notes describe
 * them).  The headers sit in clear before each member's data, so the list
 * is a walk from header to header; nothing is unpacked, and a header CRC
 * is not checked (a bad one is what a damaged archive shows, and unrar
 * still lists it).
 */
#include "content/content_archive.h"

#include <stdint.h>
#include <string.h>

#define RAR4_SIG_LEN 7u
#define RAR5_SIG_LEN 8u

/* RAR 4 block types and flags */
#define R4_MAIN 0x73u
#define R4_FILE 0x74u
#define R4_SERVICE 0x7au
#define R4_END 0x7bu
#define R4_BASE_LEN 7u
#define R4_FILE_LEN 32u            /* base + the fixed file fields */
#define R4_LONG_BLOCK 0x8000u      /* a data size follows the base fields */
#define R4_MAIN_PASSWORD 0x0080u   /* every later header is encrypted */
#define R4_FILE_PASSWORD 0x0004u
#define R4_FILE_LARGE 0x0100u      /* 64-bit sizes */
#define R4_FILE_UNICODE 0x0200u    /* a NUL, then the name in RAR's Unicode form */

/* RAR 5 header types and flags */
#define R5_FILE 2u
#define R5_CRYPT 4u                /* archive encryption: headers encrypted */
#define R5_END 5u
#define R5_HAS_EXTRA 0x0001u
#define R5_HAS_DATA 0x0002u
#define R5_FILE_MTIME 0x0002u
#define R5_FILE_CRC 0x0004u
#define R5_EXTRA_CRYPT 0x01u

static void rar4_walk(const unsigned char *p, size_t n, struct content_archive *a)
{
	size_t q = RAR4_SIG_LEN;

	while (q < n) {
		if (n - q < R4_BASE_LEN) {
			a->damaged = 1;
			return;
		}
		const unsigned type = p[q + 2], flags = archive_le16(p + q + 3);
		const size_t hsize = archive_le16(p + q + 5);
		if (hsize < R4_BASE_LEN || hsize > n - q) {
			a->damaged = 1;
			return;
		}
		uint64_t data = 0;
		if (type == R4_MAIN && (flags & R4_MAIN_PASSWORD)) {
			a->hidden = 1;
			a->encrypted = a->encrypted ? a->encrypted : 1;
			return;
		}
		if (type == R4_END)
			return;
		if (type == R4_FILE || type == R4_SERVICE) {
			/* A service block (comment, ACL, stream) is laid out like a file. */
			const size_t name_at = (flags & R4_FILE_LARGE) ? R4_FILE_LEN + 8 : R4_FILE_LEN;
			if (hsize < name_at || archive_le16(p + q + 26) > hsize - name_at) {
				a->damaged = 1;
				return;
			}
			data = archive_le32(p + q + 7);
			if (flags & R4_FILE_LARGE)
				data |= (uint64_t)archive_le32(p + q + 32) << 32;
			if (type == R4_FILE) {
				const unsigned char *name = p + q + name_at;
				size_t len = archive_le16(p + q + 26);
				const unsigned char *z;
				if ((flags & R4_FILE_UNICODE) && (z = memchr(name, '\0', len)) != NULL)
					len = (size_t)(z - name);
				content_archive_add(a, name, len, (flags & R4_FILE_PASSWORD) != 0);
			}
		} else if (flags & R4_LONG_BLOCK) {
			if (hsize < R4_BASE_LEN + 4) {
				a->damaged = 1;
				return;
			}
			data = archive_le32(p + q + 7);
		}
		if (data > n - q - hsize) {
			a->damaged = 1;    /* cut inside a member's data */
			return;
		}
		q += hsize + (size_t)data;
	}
	a->damaged = 1;                        /* no end of archive block */
}

/* RAR 5's variable-length integer: 7 bits a byte, low bits first. */
static int vint(const unsigned char *p, size_t n, size_t *q, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64 && *q < n; shift += 7) {
		const unsigned char b = p[(*q)++];
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

/* Whether a file header's extra area [q, end) holds an encryption record. */
static int rar5_encrypted(const unsigned char *p, size_t q, size_t end)
{
	while (q < end) {
		uint64_t size, type;
		if (vint(p, end, &q, &size) < 0 || size > end - q)
			return 0;
		const size_t rec_end = q + (size_t)size;
		if (vint(p, rec_end, &q, &type) < 0)
			return 0;
		if (type == R5_EXTRA_CRYPT)
			return 1;
		q = rec_end;
	}
	return 0;
}

/* A file header's own fields, from q (after the general ones) to the
 * extra area at extra_at. */
static int rar5_file(const unsigned char *p, size_t q, size_t extra_at, size_t end,
    struct content_archive *a)
{
	uint64_t fflags, v, nl;
	if (vint(p, extra_at, &q, &fflags) < 0 || vint(p, extra_at, &q, &v) < 0 ||
	    vint(p, extra_at, &q, &v) < 0)
		return -1;
	q += (fflags & R5_FILE_MTIME ? 4 : 0) + (fflags & R5_FILE_CRC ? 4 : 0);
	if (q > extra_at || vint(p, extra_at, &q, &v) < 0 || vint(p, extra_at, &q, &v) < 0 ||
	    vint(p, extra_at, &q, &nl) < 0 || nl > extra_at - q)
		return -1;
	content_archive_add(a, p + q, (size_t)nl, rar5_encrypted(p, extra_at, end));
	return 0;
}

static void rar5_walk(const unsigned char *p, size_t n, struct content_archive *a)
{
	size_t q = RAR5_SIG_LEN;

	while (q < n) {
		uint64_t hsize, type, flags, extra = 0, data = 0;
		size_t h = q + 4;                  /* after the header's CRC32 */
		if (h > n || vint(p, n, &h, &hsize) < 0 || hsize == 0 || hsize > n - h) {
			a->damaged = 1;
			return;
		}
		const size_t end = h + (size_t)hsize;
		if (vint(p, end, &h, &type) < 0 || vint(p, end, &h, &flags) < 0 ||
		    ((flags & R5_HAS_EXTRA) && vint(p, end, &h, &extra) < 0) ||
		    ((flags & R5_HAS_DATA) && vint(p, end, &h, &data) < 0) || extra > end - h) {
			a->damaged = 1;
			return;
		}
		if (type == R5_CRYPT) {
			a->hidden = 1;
			a->encrypted = a->encrypted ? a->encrypted : 1;
			return;
		}
		if (type == R5_END)
			return;
		if (type == R5_FILE && rar5_file(p, h, end - (size_t)extra, end, a) < 0) {
			a->damaged = 1;
			return;
		}
		if (data > n - end) {
			a->damaged = 1;
			return;
		}
		q = end + (size_t)data;
	}
	a->damaged = 1;
}

int content_rar_read(const unsigned char *p, size_t n, struct content_archive *out)
{
	memset(out, 0, sizeof(*out));
	if (n >= RAR5_SIG_LEN && memcmp(p, "Rar!\x1a\x07\x01\x00", RAR5_SIG_LEN) == 0) {
		rar5_walk(p, n, out);
		return 0;
	}
	if (n >= RAR4_SIG_LEN && memcmp(p, "Rar!\x1a\x07\x00", RAR4_SIG_LEN) == 0) {
		rar4_walk(p, n, out);
		return 0;
	}
	if (n >= 6 && memcmp(p, "Rar!\x1a\x07", 6) == 0) {
		out->damaged = 1;                  /* a RAR of a version not known here */
		return 0;
	}
	return -1;
}
