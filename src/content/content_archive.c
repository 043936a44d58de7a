/*
 * content_archive.c - which archive an attachment is, the shared member
 * list, and the smallest reader: gzip's one stored name (RFC 1952).
 * The directory readers live in content_zip.c, content_rar.c,
 * content_7z.c, content_tar.c and content_iso.c.
 */
#include "content/content_archive.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

int content_archive_keep_name(struct content_archive *a, const unsigned char *name, size_t len)
{
	if (len > ARCHIVE_MAX_NAME)
		len = ARCHIVE_MAX_NAME;
	if (a->n_names >= ARCHIVE_MAX_NAMES || a->names_bytes + len > ARCHIVE_NAME_BUDGET) {
		a->names_cut = 1;
		return 0;
	}
	if ((a->n_names & (a->n_names - 1)) == 0)      /* 0, 1, 2, 4, ...: grow */
		a->names = xrealloc(a->names, (a->n_names ? 2 * a->n_names : 1) * sizeof(*a->names));
	a->names_bytes += len;
	char *s = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++)
		s[i] = name[i] < 0x20 || name[i] == 0x7f ? '?' : (char)name[i];
	s[len] = '\0';
	a->names[a->n_names++] = s;
	return 1;
}

void content_archive_add(struct content_archive *a, const unsigned char *name, size_t len,
    int encrypted)
{
	a->members++;
	if (encrypted)
		a->encrypted++;
	content_archive_keep_name(a, name, len);
}

void content_archive_free(struct content_archive *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n_names; i++)
		free(a->names[i]);
	free(a->names);
	free(a->entries);
	memset(a, 0, sizeof(*a));
}

/* A local header, an empty archive's end record, or a spanned archive's
 * marker: a ZIP's first four bytes. */
static int zip_magic(const unsigned char *p, size_t n)
{
	return n >= 4 && p[0] == 'P' && p[1] == 'K' &&
	    ((p[2] == 3 && p[3] == 4) || (p[2] == 5 && p[3] == 6) || (p[2] == 7 && p[3] == 8));
}

/* A tar header: "ustar" at 257 (POSIX and GNU), else an old V7 header
 * whose checksum field matches its bytes. */
static int tar_magic(const unsigned char *p, size_t n)
{
	if (n < 512)
		return n >= 262 && memcmp(p + 257, "ustar", 5) == 0;
	if (memcmp(p + 257, "ustar", 5) == 0)
		return 1;
	unsigned long want = 0, sum = 0;
	size_t i = 148;
	while (i < 156 && p[i] == ' ')
		i++;
	if (i == 156 || p[i] < '0' || p[i] > '7')
		return 0;
	for (; i < 156 && p[i] >= '0' && p[i] <= '7'; i++)
		want = want * 8 + (p[i] - '0');
	for (i = 0; i < 512; i++)
		sum += i >= 148 && i < 156 ? ' ' : p[i];
	return p[0] != 0 && sum == want;
}

enum content_archive_kind content_archive_kind(const unsigned char *p, size_t n)
{
	if (zip_magic(p, n))
		return ARCHIVE_ZIP;
	if (n >= 6 && memcmp(p, "Rar!\x1a\x07", 6) == 0)
		return ARCHIVE_RAR;
	if (n >= 6 && memcmp(p, "7z\xbc\xaf\x27\x1c", 6) == 0)
		return ARCHIVE_7Z;
	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return ARCHIVE_GZIP;
	if (tar_magic(p, n))
		return ARCHIVE_TAR;
	if (n >= 32774 && memcmp(p + 32769, "CD001", 5) == 0)
		return ARCHIVE_ISO;
	return ARCHIVE_NONE;
}

int content_archive_read(enum content_archive_kind kind, const unsigned char *p, size_t n,
    size_t *decode_budget, struct content_archive *out)
{
	if (kind == ARCHIVE_NONE)
		kind = content_archive_kind(p, n);
	switch (kind) {
	case ARCHIVE_ZIP: return content_zip_read(p, n, out);
	case ARCHIVE_RAR: return content_rar_read(p, n, out);
	case ARCHIVE_7Z: return content_7z_read(p, n, decode_budget, out);
	case ARCHIVE_TAR: return content_tar_read(p, n, out);
	case ARCHIVE_GZIP: return content_gzip_read(p, n, out);
	case ARCHIVE_ISO: return content_iso_read(p, n, out);
	case ARCHIVE_NONE: break;
	}
	memset(out, 0, sizeof(*out));
	return -1;
}

#define GZ_FEXTRA 0x04u
#define GZ_FNAME 0x08u
#define GZ_RESERVED 0xe0u

/* gzip holds one file; its header may store that file's name (gzip -N
 * restores it).  A member without one is counted with no name: the
 * caller knows the attachment's own name, which gunzip would use. */
int content_gzip_read(const unsigned char *p, size_t n, struct content_archive *out)
{
	memset(out, 0, sizeof(*out));
	if (n < 2 || p[0] != 0x1f || p[1] != 0x8b)
		return -1;
	if (n < 10 || p[2] != 8 || (p[3] & GZ_RESERVED)) {
		out->damaged = 1;
		return 0;
	}
	unsigned flags = p[3];
	size_t q = 10;
	if (flags & GZ_FEXTRA) {
		if (q + 2 > n) {
			out->damaged = 1;
			return 0;
		}
		q += 2 + ((size_t)p[q] | (size_t)p[q + 1] << 8);
	}
	if (flags & GZ_FNAME) {
		const unsigned char *end = q < n ? memchr(p + q, '\0', n - q) : NULL;
		if (end == NULL) {
			out->damaged = 1;
			return 0;
		}
		/* The name is stored without a path, but some writers keep one. */
		const unsigned char *s = p + q;
		for (const unsigned char *c = s; c < end; c++)
			if (*c == '/' || *c == '\\')
				s = c + 1;
		if (end > s) {
			content_archive_add(out, s, (size_t)(end - s), 0);
			return 0;
		}
	} else if (q > n) {
		out->damaged = 1;
	}
	out->members = 1;                      /* one file, its name not stored */
	return 0;
}
