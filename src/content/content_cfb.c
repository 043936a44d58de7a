/*
 * content_cfb.c - reading a stream out of an OLE compound file ([MS-CFB]
 * 2.2-2.6: header, FAT and DIFAT, directory entries, mini stream).
 *
 * Sector s starts at (s + 1) * sector size for both versions (version 4's
 * header fills a whole 4 KiB sector).  Every chain is walked at most as
 * many steps as the bytes hold sectors, so a loop in a FAT costs a bounded
 * amount and no sector outside the bytes is ever read.
 */
#include "content/content_cfb.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "base/util.h"
#include "content/content_archive.h"

#define CFB_MAXREG 0xfffffffau      /* above: END, FREE and the special markers */
#define CFB_FREE 0xffffffffu
#define CFB_ENTRY 128u
#define CFB_MINI 64u
#define CFB_HEADER_DIFAT 109u
#define CFB_TYPE_STREAM 2u
#define CFB_TYPE_ROOT 5u

struct content_cfb {
	const unsigned char *p;
	size_t n;
	size_t ssz;         /* sector size: 512 or 4,096 */
	size_t nsect;       /* whole sectors the bytes hold */
	uint32_t *fat;      /* nsect entries, CFB_FREE where no FAT sector said */
};

const unsigned char content_clsid_equation[16] = { 0x02, 0xce, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46 };
const unsigned char content_clsid_ole_link[16] = { 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46 };

static const unsigned char *sector(const struct content_cfb *c, uint32_t s)
{
	return s < c->nsect ? c->p + ((size_t)s + 1) * c->ssz : NULL;
}

/* The k-th sector of the FAT is at location at. */
static void fat_take(struct content_cfb *c, size_t k, uint32_t at)
{
	const size_t per = c->ssz / 4;
	const unsigned char *q = sector(c, at);
	for (size_t i = 0; q != NULL && i < per && k * per + i < c->nsect; i++)
		c->fat[k * per + i] = archive_le32(q + 4 * i);
}

static void fat_load(struct content_cfb *c)
{
	const size_t per = c->ssz / 4;
	const size_t nfat = archive_le32(c->p + 0x2c);
	size_t k = 0;

	c->fat = xmalloc(c->nsect * sizeof(*c->fat));
	memset(c->fat, 0xff, c->nsect * sizeof(*c->fat));
	for (size_t i = 0; i < CFB_HEADER_DIFAT && k < nfat && k * per < c->nsect; i++, k++)
		fat_take(c, k, archive_le32(c->p + 0x4c + 4 * i));
	/* The DIFAT sectors list the rest of the FAT, the last slot of each
	 * pointing at the next one. */
	uint32_t d = archive_le32(c->p + 0x44);
	for (size_t steps = 0; d <= CFB_MAXREG && k < nfat && k * per < c->nsect && steps < c->nsect;
	    steps++) {
		const unsigned char *q = sector(c, d);
		if (q == NULL)
			break;
		for (size_t i = 0; i + 1 < per && k < nfat; i++, k++)
			fat_take(c, k, archive_le32(q + 4 * i));
		d = archive_le32(q + 4 * (per - 1));
	}
}

/* Up to want bytes of the chain from s into dst; what was read. */
static size_t chain_read(const struct content_cfb *c, uint32_t s, unsigned char *dst, size_t want)
{
	size_t got = 0;
	for (size_t steps = 0; got < want && steps < c->nsect; steps++) {
		const unsigned char *q = sector(c, s);
		if (q == NULL)
			break;
		const size_t k = want - got < c->ssz ? want - got : c->ssz;
		memcpy(dst + got, q, k);
		got += k;
		s = c->fat[s];
	}
	return got;
}

/* The same through the mini FAT, within the mini stream. */
static size_t mini_read(const struct content_cfb *c, uint32_t s, uint32_t root_start, uint64_t root_size,
    unsigned char *dst, size_t want)
{
	const size_t all = c->nsect * c->ssz;
	const size_t ms_want = root_size < all ? (size_t)root_size : all;
	const uint64_t mf_sects = archive_le32(c->p + 0x40);
	const size_t mf_want = mf_sects < c->nsect ? (size_t)mf_sects * c->ssz : all;
	unsigned char *ms = xmalloc(ms_want ? ms_want : 1), *mf = xmalloc(mf_want ? mf_want : 1);
	const size_t ms_len = chain_read(c, root_start, ms, ms_want);
	const size_t mf_len = chain_read(c, archive_le32(c->p + 0x3c), mf, mf_want);
	size_t got = 0;

	for (size_t steps = 0; got < want && steps <= ms_len / CFB_MINI; steps++) {
		const size_t off = (size_t)s * CFB_MINI;
		if (s > CFB_MAXREG || off + CFB_MINI > ms_len)
			break;
		const size_t k = want - got < CFB_MINI ? want - got : CFB_MINI;
		memcpy(dst + got, ms + off, k);
		got += k;
		s = (size_t)s * 4 + 4 <= mf_len ? archive_le32(mf + (size_t)s * 4) : CFB_FREE;
	}
	free(ms);
	free(mf);
	return got;
}

int content_cfb_entry_named(const unsigned char *e, const char *name)
{
	const size_t len = strlen(name);
	const size_t nl = (size_t)e[0x40] | (size_t)e[0x41] << 8;
	if (nl != 2 * (len + 1) || len > 31)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (e[2 * i + 1] != 0 || tolower(e[2 * i]) != tolower((unsigned char)name[i]))
			return 0;
	return e[2 * len] == 0 && e[2 * len + 1] == 0;
}

static uint64_t entry_size(const unsigned char *e, int v4)
{
	/* Version 3 files may leave junk in the high half (MS-CFB 2.6.3). */
	return archive_le32(e + 0x78) | (v4 ? (uint64_t)archive_le32(e + 0x7c) << 32 : 0);
}

struct content_cfb *content_cfb_open(const unsigned char *p, size_t n)
{
	if (n < 512 || memcmp(p, CONTENT_CFB_SIG, 8) != 0)
		return NULL;
	const unsigned shift = (unsigned)p[0x1e] | (unsigned)p[0x1f] << 8;
	const size_t ssz = (size_t)1 << (shift == 12 ? 12 : 9);
	if ((shift != 9 && shift != 12) || n / ssz < 2)
		return NULL;
	struct content_cfb *c = xcalloc(1, sizeof(*c));
	c->p = p;
	c->n = n;
	c->ssz = ssz;
	c->nsect = n / ssz - 1;
	fat_load(c);
	return c;
}

void content_cfb_close(struct content_cfb *c)
{
	if (c != NULL) {
		free(c->fat);
		free(c);
	}
}

enum content_cfb_result content_cfb_read(const struct content_cfb *c, const char *name, size_t max,
    unsigned char **out, size_t *len, int *cut)
{
	const int v4 = c->ssz == 4096;
	uint32_t root_start = CFB_FREE, start = CFB_FREE;
	uint64_t root_size = 0, size = 0;
	int have_root = 0, found = 0;

	*out = NULL;
	*len = 0;
	*cut = 0;
	uint32_t s = archive_le32(c->p + 0x30);
	for (size_t steps = 0; !found && steps < c->nsect; steps++) {
		const unsigned char *q = sector(c, s);
		if (q == NULL)
			break;
		for (size_t off = 0; off + CFB_ENTRY <= c->ssz && !found; off += CFB_ENTRY) {
			const unsigned char *e = q + off;
			if (e[0x42] == CFB_TYPE_ROOT && !have_root) {
				have_root = 1;
				root_start = archive_le32(e + 0x74);
				root_size = entry_size(e, v4);
			} else if (e[0x42] == CFB_TYPE_STREAM && content_cfb_entry_named(e, name)) {
				found = 1;
				start = archive_le32(e + 0x74);
				size = entry_size(e, v4);
			}
		}
		s = c->fat[s];
	}
	if (!found)
		return CONTENT_CFB_ABSENT;
	const size_t want = size < max ? (size_t)size : max;
	unsigned char *buf = xmalloc(want ? want : 1);
	/* Streams under the cutoff live in the mini stream (the root's data). */
	if (size < archive_le32(c->p + 0x38) && have_root)
		*len = mini_read(c, start, root_start, root_size, buf, want);
	else
		*len = chain_read(c, start, buf, want);
	*cut = *len < size;
	*out = buf;
	return CONTENT_CFB_FOUND;
}

int content_cfb_root_clsid(const struct content_cfb *c, unsigned char out[16])
{
	/* The root is the directory's first entry. */
	const unsigned char *q = sector(c, archive_le32(c->p + 0x30));
	if (q == NULL || q[0x42] != CFB_TYPE_ROOT)
		return 0;
	memcpy(out, q + 0x50, 16);
	return 1;
}
