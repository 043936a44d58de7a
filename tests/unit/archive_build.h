/*
 * archive_build.h - RAR 4, RAR 5, tar and gzip archives for the unit
 * tests, written byte by byte as RARLAB's technical notes, POSIX ustar and
 * RFC 1952 lay them out (stored members; header CRCs filled in, as unrar
 * and libarchive check them), and three 7z archives made by 7-Zip 26.02
 * (`7zz a`): a plain one, one with -p (data encrypted, the header
 * LZMA-packed) and one with -p -mhe=on (the header encrypted too).  Each
 * holds invoice.pdf.exe ("hello\n") and notes.txt ("doc\n").  Uses zb_u16 /
 * zb_u32 from zip_build.h; header-only.
 */
#ifndef MW_TESTS_ARCHIVE_BUILD_H
#define MW_TESTS_ARCHIVE_BUILD_H

#include <stdio.h>
#include <zlib.h>

#include "zip_build.h"

/* CRC-32 (ISO 3309, the one zlib, ZIP and RAR use), bit by bit. */
static uint32_t ab_crc32(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		crc ^= c[i];
		for (int k = 0; k < 8; k++)
			crc = crc >> 1 ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

#define AB_ENCRYPTED 0x1u   /* each member password-protected */
#define AB_HIDDEN 0x2u      /* the headers themselves encrypted */

/* RAR 4: marker, main header, one stored file header per name (the name
 * is its data), end of archive. */
static void rar4_build(struct buf *out, const char *const *names, size_t n, unsigned flags)
{
	struct buf h = BUF_INIT;
	buf_append(out, "Rar!\x1a\x07\x00", 7);
	buf_append(&h, "\x73", 1);
	zb_u16(&h, flags & AB_HIDDEN ? 0x0080 : 0);
	zb_u16(&h, 13);
	buf_append(&h, "\0\0\0\0\0\0", 6);
	zb_u16(out, (unsigned)ab_crc32(h.data, h.len) & 0xffff);
	buf_append(out, h.data, h.len);
	if (flags & AB_HIDDEN) {
		buf_append(out, "ciphertext-ciphertext-ciphertext", 32);
		buf_free(&h);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const size_t nl = strlen(names[i]);
		h.len = 0;
		buf_append(&h, "\x74", 1);
		zb_u16(&h, 0x8000 | (flags & AB_ENCRYPTED ? 0x0004 : 0));
		zb_u16(&h, (unsigned)(32 + nl));
		zb_u32(&h, (uint32_t)nl);          /* packed size */
		zb_u32(&h, (uint32_t)nl);          /* unpacked size */
		buf_append(&h, "\x03", 1);         /* host OS: Unix */
		zb_u32(&h, ab_crc32(names[i], nl));
		zb_u32(&h, 0x5a210000u);           /* DOS time */
		buf_append(&h, "\x1d\x30", 2);     /* version 2.9, stored */
		zb_u16(&h, (unsigned)nl);
		zb_u32(&h, 0x81a4);
		buf_append(&h, names[i], nl);
		zb_u16(out, (unsigned)ab_crc32(h.data, h.len) & 0xffff);
		buf_append(out, h.data, h.len);
		buf_append(out, names[i], nl);
	}
	h.len = 0;
	buf_append(&h, "\x7b", 1);
	zb_u16(&h, 0x4000);
	zb_u16(&h, 7);
	zb_u16(out, (unsigned)ab_crc32(h.data, h.len) & 0xffff);
	buf_append(out, h.data, h.len);
	buf_free(&h);
}

static void rb_vint(struct buf *b, uint64_t v)
{
	do {
		unsigned char c = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v)
			c |= 0x80;
		buf_append(b, (const char *)&c, 1);
	} while (v);
}

/* A RAR 5 header: CRC32 and size, then the fields from the type on. */
static void rb_block(struct buf *out, const struct buf *fields)
{
	struct buf s = BUF_INIT;
	rb_vint(&s, fields->len);
	buf_append(&s, fields->data, fields->len);
	zb_u32(out, ab_crc32(s.data, s.len));
	buf_append(out, s.data, s.len);
	buf_free(&s);
}

static void rar5_build(struct buf *out, const char *const *names, size_t n, unsigned flags)
{
	struct buf f = BUF_INIT, extra = BUF_INIT, rec = BUF_INIT;
	buf_append(out, "Rar!\x1a\x07\x01\x00", 8);
	if (flags & AB_HIDDEN) {               /* archive encryption header */
		rb_vint(&f, 4), rb_vint(&f, 0), rb_vint(&f, 0), rb_vint(&f, 0);
		buf_append(&f, "\x0f" "0123456789abcdef", 17);   /* KDF count, salt */
		rb_block(out, &f);
		buf_append(out, "ciphertext-ciphertext-ciphertext", 32);
		buf_free(&f);
		return;
	}
	rb_vint(&f, 1), rb_vint(&f, 0), rb_vint(&f, 0);      /* main header */
	rb_block(out, &f);
	if (flags & AB_ENCRYPTED) {            /* version, flags, KDF count, salt, IV */
		rb_vint(&rec, 1), rb_vint(&rec, 0), rb_vint(&rec, 0);
		buf_append(&rec, "\x0f" "0123456789abcdef" "fedcba9876543210", 33);
		rb_vint(&extra, rec.len);
		buf_append(&extra, rec.data, rec.len);
	}
	for (size_t i = 0; i < n; i++) {
		const size_t nl = strlen(names[i]);
		f.len = 0;
		rb_vint(&f, 2);                    /* file header */
		rb_vint(&f, 0x0002 | (extra.len ? 0x0001 : 0));
		if (extra.len)
			rb_vint(&f, extra.len);
		rb_vint(&f, nl);                   /* data size */
		rb_vint(&f, 0x0004);               /* file flags: CRC32 present */
		rb_vint(&f, nl);
		rb_vint(&f, 0644);
		zb_u32(&f, ab_crc32(names[i], nl));
		rb_vint(&f, 0);                    /* stored */
		rb_vint(&f, 1);                    /* host OS: Unix */
		rb_vint(&f, nl);
		buf_append(&f, names[i], nl);
		if (extra.len)
			buf_append(&f, extra.data, extra.len);
		rb_block(out, &f);
		buf_append(out, names[i], nl);
	}
	f.len = 0;
	rb_vint(&f, 5), rb_vint(&f, 0), rb_vint(&f, 0);      /* end of archive */
	rb_block(out, &f);
	buf_free(&f);
	buf_free(&extra);
	buf_free(&rec);
}

/* A ustar archive; a name longer than 100 bytes is split into prefix and
 * name at a '/', as POSIX does. */
static void tar_build(struct buf *out, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char h[512] = { 0 };
		const char *name = names[i];
		size_t nl = strlen(name);
		if (nl > 100) {
			const char *slash = strchr(name + nl - 100, '/');
			memcpy(h + 345, name, (size_t)(slash - name));
			name = slash + 1;
			nl = strlen(name);
		}
		memcpy(h, name, nl);
		memcpy(h + 100, "0000644", 7);
		memcpy(h + 108, "0000000", 7);
		memcpy(h + 116, "0000000", 7);
		snprintf((char *)h + 124, 12, "%011o", (unsigned)strlen(names[i]));
		memcpy(h + 136, "14500000000", 11);
		h[156] = '0';
		memcpy(h + 257, "ustar\0" "00", 8);
		unsigned sum = 0;
		memset(h + 148, ' ', 8);
		for (size_t k = 0; k < 512; k++)
			sum += h[k];
		snprintf((char *)h + 148, 8, "%06o", sum);
		buf_append(out, (const char *)h, 512);
		unsigned char data[512] = { 0 };
		memcpy(data, names[i], strlen(names[i]) < 512 ? strlen(names[i]) : 512);
		buf_append(out, (const char *)data, 512);
	}
	static const unsigned char end[1024];
	buf_append(out, (const char *)end, sizeof(end));
}

/* An OLE compound file (MS-CFB version 3: 512-byte sectors): the header,
 * one FAT sector, one directory sector with a root entry and the given
 * storages (type 1) and streams (type 2, empty), each the child of
 * entries[parent] (-1: the root) - the layout Office gives a document's
 * "Macros/VBA/_VBA_PROJECT" or "WordDocument". */
struct ole_entry {
	const char *name;
	unsigned type;
	int parent;
};

static void ole_put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16), p[3] = (unsigned char)(v >> 24);
}

/* A directory entry: its UTF-16 name, type, black, no links, no data. */
static void ole_dir_entry(unsigned char *d, const char *name, unsigned type)
{
	size_t k = 0;
	for (; name[k] && k < 31; k++)
		d[2 * k] = (unsigned char)name[k];
	d[0x40] = (unsigned char)(2 * (k + 1));
	d[0x42] = (unsigned char)type;
	d[0x43] = 1;                        /* black */
	ole_put32(d + 0x44, 0xffffffffu);   /* left, right, child: none yet */
	ole_put32(d + 0x48, 0xffffffffu);
	ole_put32(d + 0x4c, 0xffffffffu);
	ole_put32(d + 0x74, 0xfffffffeu);   /* no data */
}

static void ole_build(struct buf *out, const struct ole_entry *e, size_t n)
{
	unsigned char h[512], fat[512], dir[512];
	memset(h, 0, sizeof(h));
	memcpy(h, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8);
	h[0x18] = 0x3e, h[0x1a] = 3, h[0x1c] = 0xfe, h[0x1d] = 0xff, h[0x1e] = 9, h[0x20] = 6;
	ole_put32(h + 0x2c, 1);                /* FAT sectors */
	ole_put32(h + 0x30, 1);                /* first directory sector */
	ole_put32(h + 0x38, 0x1000);           /* mini stream cutoff */
	ole_put32(h + 0x3c, 0xfffffffeu);      /* no mini FAT */
	ole_put32(h + 0x44, 0xfffffffeu);      /* no DIFAT sectors */
	memset(h + 0x4c, 0xff, 109 * 4);
	ole_put32(h + 0x4c, 0);                /* the FAT is sector 0 */
	memset(fat, 0xff, sizeof(fat));
	ole_put32(fat, 0xfffffffdu);           /* sector 0: FAT */
	ole_put32(fat + 4, 0xfffffffeu);       /* sector 1: directory, end of chain */
	memset(dir, 0, sizeof(dir));
	for (size_t i = 0; i <= n && i < 4; i++)
		ole_dir_entry(dir + 128 * i, i == 0 ? "Root Entry" : e[i - 1].name, i == 0 ? 5 : e[i - 1].type);
	for (size_t i = 1; i <= n && i < 4; i++) {   /* link each under its parent */
		unsigned char *slot = dir + 128 * (size_t)(e[i - 1].parent + 1) + 0x4c;
		while (slot[0] != 0xff || slot[1] != 0xff || slot[2] != 0xff || slot[3] != 0xff) {
			const size_t at = (size_t)slot[0] | (size_t)slot[1] << 8;
			slot = dir + 128 * at + 0x48;   /* its right sibling */
		}
		ole_put32(slot, (uint32_t)i);
	}
	buf_append(out, (const char *)h, sizeof(h));
	buf_append(out, (const char *)fat, sizeof(fat));
	buf_append(out, (const char *)dir, sizeof(dir));
}

/* A compound file (MS-CFB version 3) whose root holds the given streams
 * with their data, laid out as the specification has it: streams of 4,096
 * bytes or more in sectors of their own through the FAT, shorter ones in
 * 64-byte sectors of the mini stream through the mini FAT; a FAT of more
 * than 109 sectors (a file over about 7 MiB) continued in DIFAT sectors.
 * Sectors in order: FAT, DIFAT, directory, mini FAT, mini stream, then
 * each large stream.  At most three streams. */
struct ole_stream {
	const char *name;
	const void *data;
	size_t len;
};

#define OLE_SECT 512u
#define OLE_PER (OLE_SECT / 4)

static size_t ole_div(size_t a, size_t b)
{
	return (a + b - 1) / b;
}

static void ole_build_streams(struct buf *out, const struct ole_stream *st, size_t n)
{
	size_t mini = 0, big = 0;
	for (size_t i = 0; i < n; i++) {
		if (st[i].len < 4096)
			mini += ole_div(st[i].len, 64);
		else
			big += ole_div(st[i].len, OLE_SECT);
	}
	const size_t ms_sects = ole_div(mini * 64, OLE_SECT), mf_sects = ole_div(mini, OLE_PER);
	size_t nfat = 1, ndif = 0;
	for (;;) {      /* the FAT must also cover its own and the DIFAT's sectors */
		const size_t total = nfat + ndif + 1 + mf_sects + ms_sects + big;
		const size_t need = ole_div(total, OLE_PER);
		const size_t nd = need > 109 ? ole_div(need - 109, OLE_PER - 1) : 0;
		if (need == nfat && nd == ndif)
			break;
		nfat = need;
		ndif = nd;
	}
	const size_t dir_at = nfat + ndif, mf_at = dir_at + 1, ms_at = mf_at + mf_sects;
	const size_t total = ms_at + ms_sects + big;
	uint32_t *fat = xmalloc(nfat * OLE_PER * 4);
	memset(fat, 0xff, nfat * OLE_PER * 4);
	unsigned char *img = xcalloc(total + 1, OLE_SECT);     /* header + sectors */
	unsigned char *h = img;
#define OLE_S(k) (img + ((size_t)(k) + 1) * OLE_SECT)
	memcpy(h, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8);
	h[0x18] = 0x3e, h[0x1a] = 3, h[0x1c] = 0xfe, h[0x1d] = 0xff, h[0x1e] = 9, h[0x20] = 6;
	ole_put32(h + 0x2c, (uint32_t)nfat);
	ole_put32(h + 0x30, (uint32_t)dir_at);
	ole_put32(h + 0x38, 0x1000);
	ole_put32(h + 0x3c, mf_sects ? (uint32_t)mf_at : 0xfffffffeu);
	ole_put32(h + 0x40, (uint32_t)mf_sects);
	ole_put32(h + 0x44, ndif ? (uint32_t)nfat : 0xfffffffeu);
	ole_put32(h + 0x48, (uint32_t)ndif);
	memset(h + 0x4c, 0xff, 109 * 4);
	for (size_t k = 0; k < nfat; k++) {
		fat[k] = 0xfffffffdu;
		if (k < 109) {
			ole_put32(h + 0x4c + 4 * k, (uint32_t)k);
		} else {
			const size_t d = (k - 109) / (OLE_PER - 1), j = (k - 109) % (OLE_PER - 1);
			ole_put32(OLE_S(nfat + d) + 4 * j, (uint32_t)k);
		}
	}
	for (size_t d = 0; d < ndif; d++) {
		unsigned char *q = OLE_S(nfat + d);
		for (size_t j = 0; j < OLE_PER - 1; j++)   /* unused slots are free */
			if (109 + d * (OLE_PER - 1) + j >= nfat)
				ole_put32(q + 4 * j, 0xffffffffu);
		ole_put32(q + 4 * (OLE_PER - 1), d + 1 < ndif ? (uint32_t)(nfat + d + 1) : 0xfffffffeu);
		fat[nfat + d] = 0xfffffffcu;
	}
	fat[dir_at] = 0xfffffffeu;
	for (size_t k = 0; k < mf_sects; k++)
		fat[mf_at + k] = k + 1 < mf_sects ? (uint32_t)(mf_at + k + 1) : 0xfffffffeu;
	for (size_t k = 0; k < ms_sects; k++)
		fat[ms_at + k] = k + 1 < ms_sects ? (uint32_t)(ms_at + k + 1) : 0xfffffffeu;

	unsigned char *dir = OLE_S(dir_at);
	size_t next_mini = 0, next_big = ms_at + ms_sects;
	for (size_t i = 0; i <= n && i < 4; i++) {
		unsigned char *d = dir + 128 * i;
		ole_dir_entry(d, i == 0 ? "Root Entry" : st[i - 1].name, i == 0 ? 5 : 2);
		/* the streams as a chain of right siblings under the root */
		ole_put32(d + 0x48, i > 0 && i < n && i < 3 ? (uint32_t)(i + 1) : 0xffffffffu);
		ole_put32(d + 0x4c, i == 0 && n > 0 ? 1u : 0xffffffffu);
		if (i == 0) {
			ole_put32(d + 0x74, ms_sects ? (uint32_t)ms_at : 0xfffffffeu);
			ole_put32(d + 0x78, (uint32_t)(mini * 64));
			continue;
		}
		const struct ole_stream *s = &st[i - 1];
		ole_put32(d + 0x78, (uint32_t)s->len);
		if (s->len == 0) {
			ole_put32(d + 0x74, 0xfffffffeu);
		} else if (s->len < 4096) {
			const size_t ns = ole_div(s->len, 64);
			ole_put32(d + 0x74, (uint32_t)next_mini);
			memcpy(OLE_S(ms_at) + 64 * next_mini, s->data, s->len);
			for (size_t j = 0; j < ns; j++)
				ole_put32(OLE_S(mf_at) + 4 * (next_mini + j),
				    j + 1 < ns ? (uint32_t)(next_mini + j + 1) : 0xfffffffeu);
			next_mini += ns;
		} else {
			const size_t ns = ole_div(s->len, OLE_SECT);
			ole_put32(d + 0x74, (uint32_t)next_big);
			memcpy(OLE_S(next_big), s->data, s->len);
			for (size_t j = 0; j < ns; j++)
				fat[next_big + j] = j + 1 < ns ? (uint32_t)(next_big + j + 1) : 0xfffffffeu;
			next_big += ns;
		}
	}
	for (size_t j = next_mini; mf_sects && j < mf_sects * OLE_PER; j++)
		ole_put32(OLE_S(mf_at) + 4 * j, 0xffffffffu);
	for (size_t k = 0; k < nfat; k++)
		for (size_t j = 0; j < OLE_PER; j++)
			ole_put32(OLE_S(k) + 4 * j, fat[k * OLE_PER + j]);
#undef OLE_S
	buf_append(out, (const char *)img, (total + 1) * OLE_SECT);
	free(img);
	free(fat);
}

/* A BIFF record ([MS-XLS] 2.1.4): type, length, data. */
static void biff_rec(struct buf *b, unsigned type, const void *data, size_t len)
{
	const unsigned char h[4] = { (unsigned char)type, (unsigned char)(type >> 8),
		(unsigned char)len, (unsigned char)(len >> 8) };
	buf_append(b, (const char *)h, 4);
	if (len > 0)
		buf_append(b, (const char *)data, len);
}

/* A BIFF8 BOF of the given substream kind (5 globals, 0x10 sheet, 0x40
 * macro sheet). */
static void biff_bof(struct buf *b, unsigned dt)
{
	const unsigned char d[16] = { 0x00, 0x06, (unsigned char)dt, (unsigned char)(dt >> 8), 0xbb, 0x0d,
		0xcc, 0x07 };
	biff_rec(b, 0x0809, d, sizeof(d));
}

/* A BoundSheet8 record: hs 0 visible, 1 hidden, 2 very hidden; dt 0
 * worksheet, 1 macro sheet; a one-byte-per-character name. */
static void biff_sheet(struct buf *b, const char *name, unsigned hs, unsigned dt)
{
	unsigned char d[64] = { 0 };
	const size_t l = strlen(name);
	d[4] = (unsigned char)hs;
	d[5] = (unsigned char)dt;
	d[6] = (unsigned char)l;
	d[7] = 0;
	memcpy(d + 8, name, l);
	biff_rec(b, 0x0085, d, 8 + l);
}

/* A Lbl record: a built-in name by its code (1 = Auto_Open), or a name of
 * its own in one byte per character. */
static void biff_name(struct buf *b, const char *name, unsigned builtin)
{
	unsigned char d[64] = { 0 };
	const size_t l = builtin ? 1 : strlen(name);
	d[0] = builtin ? 0x20 : 0;
	d[3] = (unsigned char)l;
	d[14] = 0;                              /* characters are bytes */
	if (builtin)
		d[15] = (unsigned char)builtin;
	else
		memcpy(d + 15, name, l);
	biff_rec(b, 0x0018, d, 15 + l);
}

/* Set the class id of a compound file's root entry (the directory's first). */
static void ole_set_root_clsid(struct buf *b, const unsigned char clsid[16])
{
	const unsigned char *h = (const unsigned char *)b->data;
	const size_t dir = (size_t)h[0x30] | (size_t)h[0x31] << 8;
	memcpy(b->data + (dir + 1) * 512 + 0x50, clsid, 16);
}

/* An OLE1 embedded object ([MS-OLEDS] 2.2.4): version, format 2, class
 * name, empty topic and item, then the native data. */
static void ole1_embedded(struct buf *b, const char *cls, const void *native, size_t n)
{
	unsigned char u[4];
	const size_t cl = strlen(cls) + 1;
	ole_put32(u, 0x0501);
	buf_append(b, u, 4);
	ole_put32(u, 2);
	buf_append(b, u, 4);
	ole_put32(u, (uint32_t)cl);
	buf_append(b, u, 4);
	buf_append(b, cls, cl);
	ole_put32(u, 0);
	buf_append(b, u, 4);                   /* topic */
	buf_append(b, u, 4);                   /* item */
	ole_put32(u, (uint32_t)n);
	buf_append(b, u, 4);
	buf_append(b, native, n);
}

/* Bytes as the hex of an RTF \objdata: 64 digits a line; with noise,
 * droppers' padding between the digits (blanks, a control word, an
 * ignorable group, a stray non-hex letter). */
static void rtf_hex(struct buf *out, const void *data, size_t n, int noise)
{
	static const char hx[] = "0123456789abcdef";
	const unsigned char *d = data;
	for (size_t i = 0; i < n; i++) {
		buf_append_char(out, hx[d[i] >> 4]);
		if (noise && i % 7 == 3)
			buf_append_str(out, i % 2 ? " \\par\r\n" : "{\\*\\datastore 0f1e}\tz");
		buf_append_char(out, hx[d[i] & 15]);
		if (i % 32 == 31)
			buf_append_str(out, "\r\n");
	}
}

/* A OneNote section as [MS-ONESTORE] lays out what matters here: the
 * header (1,024 bytes, its file type GUID first), then each embedded file
 * as a FileDataStoreObject (header GUID, length, 12 reserved bytes, the
 * data, padding to 8, footer GUID) after some other bytes. */
static void onenote_build(struct buf *out, const struct buf *files, size_t n)
{
	static const unsigned char one[16] = { 0xe4, 0x52, 0x5c, 0x7b, 0x8c, 0xd8, 0xa7, 0x4d,
		0xae, 0xb1, 0x53, 0x78, 0xd0, 0x29, 0x96, 0xd3 };
	static const unsigned char head[16] = { 0xe7, 0x16, 0xe3, 0xbd, 0x65, 0x26, 0x11, 0x45,
		0xa4, 0xc4, 0x8d, 0x4d, 0x0b, 0x7a, 0x9e, 0xac };
	static const unsigned char foot[16] = { 0x22, 0xa7, 0xfb, 0x71, 0x79, 0x0f, 0x0b, 0x4a,
		0xbb, 0x13, 0x89, 0x92, 0x56, 0x42, 0x6b, 0x24 };
	static const unsigned char zero[1024];
	buf_append(out, one, 16);
	buf_append(out, zero, sizeof(zero) - 16);
	for (size_t i = 0; i < n; i++) {
		unsigned char len[20] = { 0 };
		for (int k = 0; k < 8; k++)
			len[k] = (unsigned char)((uint64_t)files[i].len >> (8 * k));
		buf_append(out, zero, 40);             /* a node list's bytes, say */
		buf_append(out, head, 16);
		buf_append(out, len, 20);
		buf_append(out, files[i].data, files[i].len);
		buf_append(out, zero, (8 - files[i].len % 8) % 8);
		buf_append(out, foot, 16);
	}
}

/* in compressed by zlib: raw deflate (window_bits -15) or gzip (31). */
static void ab_deflate(struct buf *out, const void *in, size_t n, int window_bits, int level)
{
	uLongf cap = compressBound((uLong)n) + 64;
	unsigned char *tmp = xmalloc(cap);
	z_stream z;
	memset(&z, 0, sizeof(z));
	deflateInit2(&z, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (unsigned char *)(uintptr_t)(in ? in : "");
	z.avail_in = (uInt)n;
	z.next_out = tmp;
	z.avail_out = (uInt)cap;
	deflate(&z, Z_FINISH);
	buf_append(out, (const char *)tmp, cap - z.avail_out);
	deflateEnd(&z);
	free(tmp);
}

/* A ZIP of members with the given contents, stored or
 * deflated by zlib (deflated != 0), with its central directory. */
static void zip_build_data(struct buf *out, const char *const *names, const struct buf *data,
    size_t n, int deflated)
{
	struct buf cd = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		const size_t nl = strlen(names[i]);
		struct buf packed = BUF_INIT;
		if (deflated)
			ab_deflate(&packed, data[i].data, data[i].len, -MAX_WBITS, 6);
		else
			buf_append(&packed, data[i].data ? data[i].data : "", data[i].len);
		const uint32_t crc = ab_crc32(data[i].data ? data[i].data : "", data[i].len);
		const uint32_t off = (uint32_t)out->len;
		zb_u32(out, 0x04034b50u);
		zb_u16(out, 20), zb_u16(out, 0), zb_u16(out, deflated ? 8 : 0), zb_u16(out, 0), zb_u16(out, 0);
		zb_u32(out, crc), zb_u32(out, (uint32_t)packed.len), zb_u32(out, (uint32_t)data[i].len);
		zb_u16(out, (unsigned)nl), zb_u16(out, 0);
		buf_append(out, names[i], nl);
		buf_append(out, packed.data ? packed.data : "", packed.len);
		zb_u32(&cd, 0x02014b50u);
		zb_u16(&cd, 20), zb_u16(&cd, 20), zb_u16(&cd, 0), zb_u16(&cd, deflated ? 8 : 0);
		zb_u16(&cd, 0), zb_u16(&cd, 0);
		zb_u32(&cd, crc), zb_u32(&cd, (uint32_t)packed.len), zb_u32(&cd, (uint32_t)data[i].len);
		zb_u16(&cd, (unsigned)nl), zb_u16(&cd, 0), zb_u16(&cd, 0), zb_u16(&cd, 0), zb_u16(&cd, 0);
		zb_u32(&cd, 0), zb_u32(&cd, off);
		buf_append(&cd, names[i], nl);
		buf_free(&packed);
	}
	const uint32_t cd_off = (uint32_t)out->len;
	buf_append(out, cd.data ? cd.data : "", cd.len);
	zb_u32(out, 0x06054b50u);
	zb_u16(out, 0), zb_u16(out, 0), zb_u16(out, (unsigned)n), zb_u16(out, (unsigned)n);
	zb_u32(out, (uint32_t)cd.len), zb_u32(out, cd_off), zb_u16(out, 0);
	buf_free(&cd);
}

/* in gzip-compressed by zlib (a .gz of it, no stored name). */
static void gzip_data(struct buf *out, const void *in, size_t n)
{
	ab_deflate(out, in, n, 16 + MAX_WBITS, 1);
}

/* An ISO 9660 image (ECMA-119) of empty files: a primary descriptor with
 * 8.3 names ("NAME.EXT;1"), a Joliet descriptor with the names as given
 * (UCS-2), the terminator, and for each a root directory whose files are
 * names[] without a '/' and one subdirectory holding those "sub/name"
 * (one subdirectory, named by the first such name). */
static void iso_u32(unsigned char *p, uint32_t v)  /* both-endian 32 */
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i)), p[7 - i] = (unsigned char)(v >> (8 * i));
}

static size_t iso_rec(unsigned char *d, uint32_t lba, uint32_t len, int dir, const unsigned char *nm,
    size_t nl)
{
	const size_t rl = 33 + nl + (nl % 2 == 0);
	memset(d, 0, rl);
	d[0] = (unsigned char)rl;
	iso_u32(d + 2, lba);
	iso_u32(d + 10, len);
	d[18] = 125, d[19] = 1, d[20] = 1;      /* 2025-01-01 */
	d[25] = dir ? 2 : 0;
	d[28] = 1, d[31] = 1;                   /* volume sequence 1 */
	d[32] = (unsigned char)nl;
	memcpy(d + 33, nm, nl);
	return rl;
}

static size_t iso_name(const char *name, int joliet, unsigned char *out)
{
	size_t o = 0;
	for (const char *c = name; *c; c++) {
		if (joliet)
			out[o++] = 0, out[o++] = (unsigned char)*c;
		else
			out[o++] = (unsigned char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
	}
	return o;
}

/* A directory extent at lba: ".", "..", then the entries. */
static void iso_dir(unsigned char *img, uint32_t lba, uint32_t parent, const char *const *names,
    const int *is_dir, const uint32_t *lbas, size_t n, int joliet)
{
	unsigned char *d = img + (size_t)lba * 2048;
	size_t at = iso_rec(d, lba, 2048, 1, (const unsigned char *)"\0", 1);
	at += iso_rec(d + at, parent, 2048, 1, (const unsigned char *)"\1", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char nm[512];
		size_t nl = iso_name(names[i], joliet, nm);
		if (!is_dir[i] && !joliet)
			memcpy(nm + nl, ";1", 2), nl += 2;
		at += iso_rec(d + at, is_dir[i] ? lbas[i] : 0, is_dir[i] ? 2048 : 0, is_dir[i], nm, nl);
	}
}

static void iso_build(struct buf *out, const char *const *names, size_t n)
{
	enum { SECTORS = 26 };
	unsigned char *img = xcalloc(SECTORS, 2048);
	const char *root_names[16], *sub_names[16], *sub = NULL;
	int root_dir[16] = { 0 }, sub_dir[16] = { 0 };
	uint32_t root_lba[16] = { 0 }, sub_lba[16] = { 0 };
	size_t nr = 0, ns = 0;
	static char subname[64];
	for (size_t i = 0; i < n && i < 15; i++) {
		const char *slash = strchr(names[i], '/');
		if (slash == NULL) {
			root_names[nr++] = names[i];
			continue;
		}
		if (sub == NULL) {
			snprintf(subname, sizeof(subname), "%.*s", (int)(slash - names[i]), names[i]);
			sub = subname;
		}
		sub_names[ns++] = slash + 1;
	}
	for (int joliet = 0; joliet <= 1; joliet++) {
		const uint32_t root = joliet ? 22 : 20, subl = root + 1;
		size_t k = nr;
		if (sub != NULL) {
			root_names[k] = sub, root_dir[k] = 1, root_lba[k] = subl;
			k++;
		}
		iso_dir(img, root, root, root_names, root_dir, root_lba, k, joliet);
		if (sub != NULL)
			iso_dir(img, subl, root, sub_names, sub_dir, sub_lba, ns, joliet);
		unsigned char *vd = img + (size_t)(16 + joliet) * 2048;
		vd[0] = joliet ? 2 : 1;
		memcpy(vd + 1, "CD001", 5);
		vd[6] = 1;
		memset(vd + 8, ' ', 64);                /* system and volume ids */
		iso_u32(vd + 80, SECTORS);
		vd[120] = 1, vd[123] = 1, vd[124] = 1, vd[127] = 1;
		vd[128] = 0x00, vd[129] = 0x08, vd[130] = 0x08, vd[131] = 0x00;   /* 2048 */
		if (joliet)
			memcpy(vd + 88, "%/E", 3);
		iso_u32(vd + 132, 10);                  /* path table: one root entry */
		vd[140] = 19, vd[151] = 19;             /* its L and M copies: sector 19 */
		vd[881] = 1;                            /* file structure version */
		iso_rec(vd + 156, root, 2048, 1, (const unsigned char *)"\0", 1);
	}
	unsigned char *term = img + 18 * 2048;
	term[0] = 255;
	memcpy(term + 1, "CD001", 5);
	term[6] = 1;
	buf_append(out, (const char *)img, SECTORS * 2048);
	free(img);
}

/* A gzip header (the deflated data is not needed to name the member). */
static void gzip_build(struct buf *out, const char *name)
{
	buf_append(out, "\x1f\x8b\x08", 3);
	buf_append(out, name ? "\x08" : "\x00", 1);
	buf_append(out, "\0\0\0\0\0\x03", 6);
	if (name)
		buf_append(out, name, strlen(name) + 1);
	buf_append(out, "\x03\x00\0\0\0\0\0\0\0\0", 10);   /* an empty deflate stream */
}

static const unsigned char sz_plain[] = {
  0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0x00, 0x04, 0x12, 0x4b, 0x40, 0xe5,
  0x7b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x21, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0xbf, 0x33, 0x43, 0xbe, 0x01, 0x00, 0x09, 0x68,
  0x65, 0x6c, 0x6c, 0x6f, 0x0a, 0x64, 0x6f, 0x63, 0x0a, 0x00, 0x00, 0x00,
  0x81, 0x33, 0x07, 0xae, 0x0f, 0xce, 0xc7, 0x5c, 0x81, 0x09, 0x2a, 0xae,
  0xd3, 0xaa, 0x85, 0x26, 0x28, 0x15, 0xe7, 0xee, 0xe1, 0xe4, 0xa2, 0xc2,
  0x56, 0x1a, 0x9f, 0x24, 0x2d, 0x80, 0x9c, 0x37, 0xaa, 0x88, 0x42, 0x01,
  0xdd, 0xe8, 0x7e, 0x9b, 0xb3, 0xae, 0x16, 0xf4, 0xfa, 0x7d, 0x52, 0xee,
  0x09, 0x8d, 0x3f, 0x0b, 0x0b, 0xe3, 0xe0, 0x80, 0x6b, 0x04, 0xdc, 0x0a,
  0xa5, 0x51, 0x6c, 0xe8, 0x10, 0xbb, 0xa0, 0xd2, 0xbd, 0x4a, 0x17, 0x43,
  0xdf, 0xc3, 0x68, 0x9c, 0x85, 0x58, 0x6f, 0x73, 0x53, 0x30, 0x29, 0x43,
  0x19, 0xeb, 0xe9, 0xf7, 0x5b, 0xe1, 0x6e, 0x35, 0x0e, 0xe1, 0x14, 0x7e,
  0xf1, 0x54, 0xef, 0x87, 0xbf, 0x85, 0x03, 0xd4, 0x00, 0x00, 0x00, 0x17,
  0x06, 0x0e, 0x01, 0x09, 0x6d, 0x00, 0x07, 0x0b, 0x01, 0x00, 0x01, 0x23,
  0x03, 0x01, 0x01, 0x05, 0x5d, 0x00, 0x10, 0x00, 0x00, 0x0c, 0x80, 0x86,
  0x0a, 0x01, 0x7f, 0x6e, 0xef, 0xb2, 0x00, 0x00
};

static const unsigned char sz_enc[] = {
  0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0x00, 0x04, 0x26, 0xf9, 0xe1, 0x19,
  0x99, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x22, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x48, 0x77, 0x36, 0x9e, 0x00, 0x66, 0x29, 0xb0,
  0x86, 0x70, 0x61, 0xb2, 0x43, 0x58, 0x1d, 0xa6, 0x84, 0x7e, 0xa3, 0xfe,
  0x00, 0x00, 0x81, 0x33, 0x07, 0xae, 0x0f, 0xce, 0xf2, 0xb2, 0x0c, 0x07,
  0xb0, 0xc3, 0xda, 0xf7, 0x5f, 0x45, 0x8a, 0x98, 0x48, 0x4a, 0xf9, 0xab,
  0x49, 0x41, 0xab, 0xb8, 0x77, 0x09, 0x02, 0x1e, 0x13, 0xd1, 0x75, 0x89,
  0x95, 0x96, 0xed, 0x15, 0xbf, 0x95, 0x34, 0xc3, 0x83, 0x07, 0x90, 0x96,
  0x45, 0x7d, 0x96, 0x81, 0xf5, 0xd0, 0x85, 0x6c, 0xd3, 0x2b, 0xd8, 0x3a,
  0x8b, 0xc9, 0xee, 0x76, 0x8a, 0x16, 0xd1, 0x86, 0x03, 0x7f, 0x7d, 0x43,
  0x8e, 0x42, 0x62, 0x24, 0x39, 0x6d, 0x88, 0xc2, 0xea, 0x78, 0x7f, 0x62,
  0xbd, 0xb5, 0x49, 0x8d, 0x5a, 0xe8, 0x56, 0xf1, 0x0b, 0x3a, 0xa0, 0xde,
  0xbb, 0xeb, 0x8a, 0x8c, 0x9a, 0x4b, 0x31, 0x7d, 0xab, 0xd2, 0xfb, 0x55,
  0x17, 0xf1, 0x50, 0xc0, 0xab, 0x41, 0xa8, 0x09, 0xac, 0xa9, 0xe4, 0xda,
  0xb6, 0x45, 0xaa, 0xcd, 0x81, 0x9c, 0xdc, 0x8b, 0x67, 0x60, 0xf5, 0x64,
  0x1c, 0x80, 0x00, 0x00, 0x00, 0x17, 0x06, 0x10, 0x01, 0x09, 0x80, 0x89,
  0x00, 0x07, 0x0b, 0x01, 0x00, 0x01, 0x23, 0x03, 0x01, 0x01, 0x05, 0x5d,
  0x00, 0x10, 0x00, 0x00, 0x0c, 0x80, 0xa6, 0x0a, 0x01, 0x2a, 0xf5, 0x2e,
  0xb9, 0x00, 0x00
};

static const unsigned char sz_hdr[] = {
  0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0x00, 0x04, 0x10, 0x45, 0x70, 0x39,
  0xa0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3e, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x21, 0x34, 0xc9, 0xc0, 0xd9, 0x49, 0x9e, 0xbc,
  0xf8, 0xea, 0xd4, 0xbe, 0xa6, 0x99, 0xa7, 0xaa, 0xa9, 0x56, 0xa6, 0xfe,
  0x6e, 0xc5, 0xf0, 0x37, 0x9e, 0x84, 0xef, 0x74, 0xb3, 0x51, 0xc6, 0x40,
  0x7f, 0xd5, 0xf6, 0x66, 0xbd, 0xd5, 0x14, 0x0b, 0x0c, 0x01, 0xf5, 0x87,
  0xa4, 0x01, 0x11, 0xed, 0xd5, 0x43, 0xcc, 0x17, 0x3c, 0xb5, 0xe1, 0xf2,
  0xde, 0xf2, 0xad, 0x24, 0x5f, 0xc3, 0x51, 0x35, 0x8c, 0xca, 0xd9, 0xd2,
  0x97, 0xa7, 0x60, 0xd3, 0x58, 0x37, 0x1c, 0xac, 0xe7, 0xc1, 0xed, 0xf9,
  0x1c, 0x95, 0x1d, 0x51, 0x52, 0x4b, 0xb8, 0xd7, 0x6e, 0x8d, 0x1e, 0x6b,
  0xb9, 0xad, 0xdd, 0xd5, 0x69, 0x58, 0x42, 0xb9, 0x32, 0x22, 0x6b, 0xfa,
  0x26, 0xb4, 0xf2, 0x18, 0x75, 0xcd, 0xeb, 0x1a, 0xf9, 0xb7, 0x85, 0x28,
  0xa7, 0x09, 0x28, 0x3b, 0xd0, 0x8a, 0x47, 0x67, 0x15, 0x6b, 0x93, 0x88,
  0x0b, 0x24, 0xd4, 0x82, 0xf8, 0x76, 0x9a, 0xd0, 0x7a, 0x87, 0xf4, 0xbf,
  0x6a, 0xb8, 0x44, 0x1f, 0x3e, 0xf8, 0x24, 0xd6, 0x5a, 0x29, 0x60, 0xb6,
  0xaf, 0x0f, 0x61, 0x2d, 0xca, 0x52, 0x7a, 0x40, 0x26, 0x0a, 0x06, 0x92,
  0x17, 0x06, 0x10, 0x01, 0x09, 0x80, 0x90, 0x00, 0x07, 0x0b, 0x01, 0x00,
  0x02, 0x24, 0x06, 0xf1, 0x07, 0x01, 0x12, 0x53, 0x0f, 0xfd, 0xae, 0xc1,
  0x1a, 0x2e, 0xdc, 0x93, 0x90, 0xe1, 0x12, 0x2a, 0x79, 0x45, 0x85, 0xef,
  0x8e, 0x23, 0x03, 0x01, 0x01, 0x05, 0x5d, 0x00, 0x10, 0x00, 0x00, 0x01,
  0x00, 0x0c, 0x80, 0x89, 0x80, 0xa6, 0x0a, 0x01, 0x1a, 0x6e, 0x7a, 0xe5,
  0x00, 0x00
};

#endif
