/*
 * content_zip.c - ZIP member names and encryption flags from the archive's
 * directory (PKWARE APPNOTE 6.3: end of central directory record, central
 * directory file headers, local file headers).  Nothing is inflated.
 *
 * Tools disagree about a ZIP in two ways droppers use: one archive glued
 * in front of another (7-Zip and stream readers show the first, Windows
 * and most libraries the last), and a local header naming another file
 * than the directory does.  Both readings are listed, and the archive is
 * marked disguised.
 */
#include "content/content_archive.h"

#include <stdint.h>
#include <string.h>

#include "base/util.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define END_LEN 22u
#define CENTRAL_LEN 46u
#define LOCAL_LEN 30u
#define MAX_COMMENT 65535u
#define FLAG_ENCRYPTED 0x0001u
#define ZIP_MAX_GLUED 4            /* archives in front of one another, read */
#define FLAG_DESCRIPTOR 0x0008u

/* One member: counted, its name kept, and where its data is recorded
 * next to the name (for archives inside; content_nest.c). */
static void add_entry(struct content_archive *z, const unsigned char *name, size_t nl,
    const struct content_archive_entry *e)
{
	const size_t before = z->n_names;
	content_archive_add(z, name, nl, e->flags & FLAG_ENCRYPTED);
	if (z->n_names == before)
		return;
	if ((before & (before - 1)) == 0)       /* grown with the names */
		z->entries = xrealloc(z->entries, (before ? 2 * before : 1) * sizeof(*z->entries));
	z->entries[before] = *e;
}

/* The end record: the last signature within the final 22 + 65535 bytes
 * whose comment length reaches exactly the end (else the last one seen,
 * as unzip tolerates trailing bytes). */
static long find_end(const unsigned char *p, size_t n)
{
	long found = -1;

	if (n < END_LEN)
		return -1;
	size_t lo = n - END_LEN > MAX_COMMENT ? n - END_LEN - MAX_COMMENT : 0;
	for (size_t i = n - END_LEN + 1; i-- > lo;) {
		if (archive_le32(p + i) != SIG_END)
			continue;
		if (i + END_LEN + archive_le16(p + i + 20) == n)
			return (long)i;
		if (found < 0)
			found = (long)i;
	}
	return found;
}

/* Central directory entries from the end record at e: 0, or -1 when the
 * directory is not where the record says (then the caller walks).
 * *before: the bytes in front of the archive (a self-extractor's stub, or
 * another archive). */
static int read_central(const unsigned char *p, size_t e, struct content_archive *z, size_t *before,
    size_t *dir)
{
	uint32_t total = archive_le16(p + e + 10);
	uint32_t size = archive_le32(p + e + 12);
	uint32_t off = archive_le32(p + e + 16);

	if (off == 0xffffffffu || size == 0xffffffffu || total == 0xffffu)
		return -1;                 /* ZIP64: its records are not read here */
	if ((uint64_t)size > e)
		return -1;
	/* Bytes before the archive (a self-extractor's stub) shift every
	 * offset by the same amount: the directory ends at the end record. */
	size_t start = e - size;
	if (off > start)
		return -1;
	*before = start - off;
	*dir = start;
	size_t q = start;
	uint32_t seen = 0;
	while (q + CENTRAL_LEN <= e && archive_le32(p + q) == SIG_CENTRAL) {
		size_t nl = archive_le16(p + q + 28), xl = archive_le16(p + q + 30), cl = archive_le16(p + q + 32);
		if (q + CENTRAL_LEN + nl > e) {
			z->damaged = 1;
			break;
		}
		const struct content_archive_entry ent = { .local = (uint64_t)archive_le32(p + q + 42) + (start - off),
			.csize = archive_le32(p + q + 20), .usize = archive_le32(p + q + 24), .method = archive_le16(p + q + 10),
			.flags = archive_le16(p + q + 8) };
		add_entry(z, p + q + CENTRAL_LEN, nl, &ent);
		seen++;
		q += CENTRAL_LEN + nl + xl + cl;
	}
	if (seen != total || q != e)
		z->damaged = 1;
	return 0;
}

/* Local headers from the start, while each member's size is known. */
static void walk_local(const unsigned char *p, size_t n, struct content_archive *z)
{
	size_t q = 0;

	while (q + LOCAL_LEN <= n && archive_le32(p + q) == SIG_LOCAL) {
		uint32_t flags = archive_le16(p + q + 6);
		uint32_t csize = archive_le32(p + q + 18);
		size_t nl = archive_le16(p + q + 26), xl = archive_le16(p + q + 28);
		if (q + LOCAL_LEN + nl > n)
			break;
		const struct content_archive_entry ent = { .local = q, .csize = csize,
			.usize = archive_le32(p + q + 22), .method = archive_le16(p + q + 8), .flags = flags };
		add_entry(z, p + q + LOCAL_LEN, nl, &ent);
		if ((flags & FLAG_DESCRIPTOR) && csize == 0)
			break;                 /* the size follows the data: cannot skip */
		uint64_t next = (uint64_t)q + LOCAL_LEN + nl + xl + csize;
		if (next > n)
			break;
		q = (size_t)next;
	}
	z->damaged = 1;
}

/* The name a member's local header gives, when it differs from the
 * directory's (compared byte for byte). */
static void local_names(const unsigned char *p, size_t n, struct content_archive *z)
{
	const size_t listed = z->n_names;
	for (size_t i = 0; i < listed; i++) {
		const struct content_archive_entry e = z->entries[i];
		if (e.local > n || n - e.local < LOCAL_LEN || archive_le32(p + e.local) != SIG_LOCAL)
			continue;
		const size_t nl = archive_le16(p + e.local + 26);
		const unsigned char *ln = p + e.local + LOCAL_LEN;
		if (nl == 0 || n - e.local - LOCAL_LEN < nl)
			continue;
		/* The kept name is cut and has control bytes replaced
		 * (content_archive_keep_name): compare through the same. */
		const char *cn = z->names[i];
		const size_t kl = nl < ARCHIVE_MAX_NAME ? nl : ARCHIVE_MAX_NAME;
		int same = strlen(cn) == kl;
		for (size_t k = 0; same && k < kl; k++)
			same = (ln[k] < 0x20 || ln[k] == 0x7f ? '?' : (char)ln[k]) == cn[k];
		if (same)
			continue;
		add_entry(z, ln, nl, &e);
		z->disguised = 1;
	}
}

static int zip_read(const unsigned char *p, size_t n, struct content_archive *out, int depth);

/* An archive in the bytes before this one: its members are listed too. */
static void front_archive(const unsigned char *p, size_t before, struct content_archive *z, int depth)
{
	struct content_archive f;
	if (before < LOCAL_LEN || depth >= ZIP_MAX_GLUED || archive_le32(p) != SIG_LOCAL)
		return;                    /* nothing, or a self-extractor's program */
	if (zip_read(p, before, &f, depth + 1) == 0 && f.n_names > 0) {
		/* add_entry counts each named member and its encryption; the
		 * ones past the names kept are counted as members. */
		for (size_t i = 0; i < f.n_names; i++)
			add_entry(z, (const unsigned char *)f.names[i], strlen(f.names[i]), &f.entries[i]);
		z->members += f.members - (unsigned)f.n_names;
		z->names_cut |= f.names_cut;
		z->disguised = 1;
	}
	content_archive_free(&f);
}

static int zip_read(const unsigned char *p, size_t n, struct content_archive *out, int depth)
{
	memset(out, 0, sizeof(*out));
	long e = find_end(p, n);
	size_t before = 0, dir = 0;
	if (e >= 0 && read_central(p, (size_t)e, out, &before, &dir) == 0) {
		/* What comes before the first member: the prefix the offsets
		 * were shifted by (a directory written for this archive alone),
		 * or, when the directory was written over the whole file, the
		 * bytes up to its first member. */
		size_t first = before;
		if (out->n_names > 0) {
			uint64_t lo = UINT64_MAX;
			for (size_t i = 0; i < out->n_names; i++)
				if (out->entries[i].local < lo)
					lo = out->entries[i].local;
			first = lo <= n ? (size_t)lo : before;
		}
		/* Never the directory itself (offsets past it are lies). */
		if (first > dir)
			first = dir;
		local_names(p, n, out);
		front_archive(p, first, out, depth);
		return 0;
	}
	if (n >= 4 && archive_le32(p) == SIG_LOCAL) {
		content_archive_free(out);
		walk_local(p, n, out);
		return 0;
	}
	if (e >= 0) {
		out->damaged = 1;
		return 0;
	}
	return -1;
}

int content_zip_read(const unsigned char *p, size_t n, struct content_archive *out)
{
	return zip_read(p, n, out, 0);
}
