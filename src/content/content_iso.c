/*
 * content_iso.c - the file names of an ISO 9660 disk image (ECMA-119, with
 * Microsoft's Joliet names when the image has them).  Mailed disk images
 * carried shortcut and executable droppers past gateways that did not
 * look inside them (Windows mounts one on a double click).  The volume
 * descriptors from sector 16 lead to the root directory; directories are
 * walked breadth first, each extent read once, their records giving the
 * names.  Nothing is read but directory records.
 */
#include "content/content_archive.h"

#include <stdlib.h>
#include <string.h>

#include "base/unicode.h"
#include "base/util.h"

#define SECTOR 2048u
#define FIRST_VD 16u
#define MAX_VD 32u              /* descriptors looked at before the terminator */
#define MAX_DIRS 4096u          /* directories walked */
#define MAX_DEPTH 8u
#define REC_MIN 34u             /* a directory record without its name */
#define FLAG_DIR 0x02u

struct dir {
	uint32_t lba, len;
	unsigned depth;
	char *path;             /* "a/b", "" for the root */
};

/* One record's name as UTF-8 (Joliet: UCS-2 big-endian) without its
 * ";1" version; at most ARCHIVE_MAX_NAME bytes. */
static size_t rec_name(const unsigned char *nm, size_t nl, int joliet, char *out)
{
	size_t o = 0;
	if (joliet) {
		for (size_t i = 0; i + 1 < nl; i += 2) {
			char u[4];
			const size_t k = unicode_utf8_put((uint32_t)nm[i] << 8 | nm[i + 1], u);
			if (o + k > ARCHIVE_MAX_NAME)
				break;
			memcpy(out + o, u, k);
			o += k;
		}
	} else {
		o = nl < ARCHIVE_MAX_NAME ? nl : ARCHIVE_MAX_NAME;
		memcpy(out, nm, o);
	}
	char *semi = memchr(out, ';', o);
	if (semi != NULL)
		o = (size_t)(semi - out);
	if (o > 0 && out[o - 1] == '.')
		o--;                     /* "README." of a name without extension */
	return o;
}

static int seen(const struct dir *q, size_t n, uint32_t lba)
{
	for (size_t i = 0; i < n; i++)
		if (q[i].lba == lba)
			return 1;
	return 0;
}

/* The root directory record of the descriptor to use: Joliet's when there
 * is one, else the primary's.  NULL when p is no ISO 9660 image. */
static const unsigned char *root_record(const unsigned char *p, size_t n, int *joliet)
{
	const unsigned char *primary = NULL, *supplementary = NULL;
	for (size_t s = FIRST_VD; s < FIRST_VD + MAX_VD; s++) {
		if ((uint64_t)(s + 1) * SECTOR > n)
			break;
		const unsigned char *d = p + s * SECTOR;
		if (memcmp(d + 1, "CD001", 5) != 0)
			break;
		if (d[0] == 255)
			break;                   /* the set's terminator */
		if (d[0] == 1 && primary == NULL)
			primary = d;
		/* Joliet: a supplementary descriptor with a UCS-2 escape. */
		if (d[0] == 2 && d[88] == '%' && d[89] == '/' && (d[90] == '@' || d[90] == 'C' || d[90] == 'E'))
			supplementary = d;
	}
	*joliet = supplementary != NULL;
	const unsigned char *vd = supplementary ? supplementary : primary;
	return vd ? vd + 156 : NULL;
}

int content_iso_read(const unsigned char *p, size_t n, struct content_archive *out)
{
	memset(out, 0, sizeof(*out));
	if (n < (FIRST_VD + 1) * SECTOR || memcmp(p + FIRST_VD * SECTOR + 1, "CD001", 5) != 0)
		return -1;
	int joliet;
	const unsigned char *root = root_record(p, n, &joliet);
	if (root == NULL) {
		out->damaged = 1;
		return 0;
	}
	struct dir *q = xcalloc(MAX_DIRS, sizeof(*q));
	size_t nq = 0;
	q[nq++] = (struct dir){ archive_le32(root + 2), archive_le32(root + 10), 0, xstrdup("") };
	for (size_t at = 0; at < nq; at++) {
		const struct dir d = q[at];
		if ((uint64_t)d.lba * SECTOR > n || d.len > n - (size_t)d.lba * SECTOR) {
			out->damaged = 1;        /* the image was cut: list what is there */
			continue;
		}
		const unsigned char *e = p + (size_t)d.lba * SECTOR, *end = e + d.len;
		while (e < end) {
			const size_t rl = e[0];
			if (rl == 0) {           /* records do not cross sectors: next one */
				const size_t off = (size_t)(e - p) % SECTOR;
				e += SECTOR - off;
				continue;
			}
			if (rl < REC_MIN || rl > (size_t)(end - e) || (size_t)e[32] > rl - 33) {
				out->damaged = 1;
				break;
			}
			const unsigned char *nm = e + 33;
			const size_t nl = e[32];
			const int self = nl == 1 && (nm[0] == 0 || nm[0] == 1);
			if (!self) {
				char name[ARCHIVE_MAX_NAME + 1];
				const size_t len = rec_name(nm, nl, joliet, name);
				const size_t pl = strlen(d.path);
				char full[2 * ARCHIVE_MAX_NAME + 2];
				size_t fl = 0;
				if (pl > 0) {
					memcpy(full, d.path, pl);
					full[pl] = '/';
					fl = pl + 1;
				}
				memcpy(full + fl, name, len);
				fl += len;
				/* The file's own name is what matters: cut the path from the left. */
				const size_t skip = fl > ARCHIVE_MAX_NAME ? fl - ARCHIVE_MAX_NAME : 0;
				content_archive_add(out, (const unsigned char *)full + skip, fl - skip, 0);
				if (e[25] & FLAG_DIR) {
					const uint32_t lba = archive_le32(e + 2);
					if (d.depth + 1 >= MAX_DEPTH || nq == MAX_DIRS)
						out->names_cut = 1;   /* not all of it walked */
					else if (!seen(q, nq, lba)) {
						full[fl] = '\0';
						q[nq++] = (struct dir){ lba, archive_le32(e + 10), d.depth + 1,
							xstrdup(full + skip) };
					}
				}
			}
			e += rl;
		}
	}
	for (size_t i = 0; i < nq; i++)
		free(q[i].path);
	free(q);
	return 0;
}
