/*
 * content_office.c - macros in Office documents (MS-CFB for the legacy
 * compound files, MS-XLS for a workbook's sheet list and names, ECMA-376
 * and ODF part names for the packages).
 *
 * A compound file's directory is a chain of sectors found through its
 * FAT; rather than follow the chain, every 128-byte slot after the
 * header is checked for the shape of a directory entry with one of the
 * names VBA is stored under, or of a storage with the Equation Editor's
 * class id.  Directory sectors are sector-aligned and hold 128-byte
 * entries, so no real entry is missed; a slot of plain data would need
 * the exact name, length and type fields to be taken for one, and faking
 * one gains a sender nothing.  The Workbook stream, which is data, is
 * read through the FAT (content_cfb.h).
 */
#include "content/content_office.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "content/content_archive.h"
#include "content/content_cfb.h"

#define CFB_HEADER 512u
#define CFB_ENTRY 128u
#define CFB_TYPE_AT 0x42u
#define CFB_STORAGE 1u
#define CFB_STREAM 2u

static int entry_is(const unsigned char *e, const char *name, unsigned type)
{
	return e[CFB_TYPE_AT] == type && content_cfb_entry_named(e, name);
}

#define CFB_CLSID_AT 0x50u

/* VBA's entries, and a storage (an embedded object: Word's ObjectPool,
 * Excel's MBD storages) or root whose class is the Equation Editor. */
static unsigned dir_bits(const unsigned char *p, size_t n)
{
	unsigned r = 0;
	for (size_t off = CFB_HEADER; off + CFB_ENTRY <= n; off += CFB_ENTRY) {
		const unsigned char *e = p + off;
		if ((e[CFB_TYPE_AT] == CFB_STORAGE || e[CFB_TYPE_AT] == 5) &&
		    memcmp(e + CFB_CLSID_AT, content_clsid_equation, 16) == 0)
			r |= CONTENT_OFFICE_EQUATION;
		/* Word keeps its project under "Macros", Excel and PowerPoint
		 * under "_VBA_PROJECT_CUR"; each holds a "VBA" storage. */
		if (entry_is(e, "VBA", CFB_STORAGE) || entry_is(e, "Macros", CFB_STORAGE) ||
		    entry_is(e, "_VBA_PROJECT_CUR", CFB_STORAGE) ||
		    entry_is(e, "_VBA_PROJECT", CFB_STREAM))
			r |= CONTENT_OFFICE_VBA;
	}
	return r;
}

/* BIFF record types ([MS-XLS] 2.3) read from a workbook's globals. */
#define BIFF_BOF 0x0809u
#define BIFF_EOF 0x000au
#define BIFF_FILEPASS 0x002fu
#define BIFF_BOUNDSHEET 0x0085u
#define BIFF_LBL 0x0018u
#define BIFF8_VERSION 0x0600u
#define SHEET_MACRO 0x01u          /* BoundSheet8.dt: an Excel 4.0 macro sheet */
#define LBL_BUILTIN 0x0020u
#define LBL_AUTO_OPEN 0x01u        /* the built-in name Auto_Open */
/* The globals substream comes first and holds the sheet list and the
 * names ahead of the string table; a megabyte reaches them. */
#define WORKBOOK_READ (1u << 20)


/* A defined name that Excel runs when the workbook opens: the built-in
 * Auto_Open (one character, 0x01), or a name of its own beginning with
 * "Auto_Open", which Excel honours too. */
static int lbl_auto_open(const unsigned char *d, size_t len, int biff8)
{
	if (len < 15)
		return 0;
	const unsigned flags = archive_le16(d), cch = d[3];
	/* BIFF8 puts a byte saying how wide the characters are before them. */
	const size_t at = biff8 ? 15 : 14;
	const int wide = biff8 && (d[14] & 1);
	if (flags & LBL_BUILTIN)
		return cch == 1 && at < len && d[at] == LBL_AUTO_OPEN;
	static const char want[] = "auto_open";
	if (cch < sizeof(want) - 1 || at + (sizeof(want) - 1) * (wide ? 2 : 1) > len)
		return 0;
	for (size_t i = 0; i < sizeof(want) - 1; i++) {
		const unsigned char ch = d[at + i * (wide ? 2 : 1)];
		if ((wide && d[at + 2 * i + 1] != 0) || tolower(ch) != want[i])
			return 0;
	}
	return 1;
}

/* The macro bits of a Workbook (BIFF8) or Book (BIFF5) stream's globals:
 * its sheet list (BoundSheet8 records: the sheet's kind and whether it
 * is hidden) and its defined names, up to the globals' EOF. */
static unsigned biff_macros(const unsigned char *w, size_t n)
{
	unsigned r = 0;
	int biff8 = 0;

	if (n < 8 || archive_le16(w) != BIFF_BOF)
		return 0;
	biff8 = archive_le16(w + 4) == BIFF8_VERSION;
	for (size_t off = 4 + archive_le16(w + 2); off + 4 <= n;) {
		const unsigned type = archive_le16(w + off), len = archive_le16(w + off + 2);
		const unsigned char *d = w + off + 4;
		if (off + 4 + len > n || type == BIFF_EOF)
			break;
		if (type == BIFF_FILEPASS) {
			/* What follows is encrypted, the sheet kinds included. */
			r |= CONTENT_OFFICE_ENCRYPTED;
			break;
		}
		if (type == BIFF_BOUNDSHEET && len >= 6 && d[5] == SHEET_MACRO) {
			r |= CONTENT_OFFICE_XLM;
			if ((d[4] & 3) != 0)        /* hidden, or "very hidden" */
				r |= CONTENT_OFFICE_XLM_HIDDEN;
		} else if (type == BIFF_LBL && lbl_auto_open(d, len, biff8)) {
			r |= CONTENT_OFFICE_AUTO_OPEN;
		}
		off += 4 + (size_t)len;
	}
	/* An Auto_Open name without a macro sheet runs nothing of its own. */
	return r & CONTENT_OFFICE_XLM ? r : r & CONTENT_OFFICE_ENCRYPTED;
}

/* Word's file information block ([MS-DOC] 2.5.2 FibBase): its magic
 * number, then at offset 10 the flags whose bit 8 is fEncrypted. */
#define WORD_IDENT 0xa5ecu
#define WORD_ENCRYPTED 0x0100u

static unsigned word_bits(const struct content_cfb *c)
{
	unsigned char *w = NULL;
	size_t wl = 0;
	int cut = 0;
	unsigned r = 0;
	if (content_cfb_read(c, "WordDocument", 12, &w, &wl, &cut) == CONTENT_CFB_FOUND && wl >= 12 &&
	    archive_le16(w) == WORD_IDENT && (archive_le16(w + 10) & WORD_ENCRYPTED) != 0)
		r = CONTENT_OFFICE_ENCRYPTED;
	free(w);
	return r;
}

unsigned content_ole_scan(const unsigned char *p, size_t n)
{
	if (n < CFB_HEADER || memcmp(p, CONTENT_CFB_SIG, 8) != 0)
		return 0;
	unsigned r = dir_bits(p, n);
	struct content_cfb *c = content_cfb_open(p, n);
	if (c == NULL)
		return r;
	unsigned char *w = NULL;
	size_t wl = 0;
	int cut = 0;
	if (content_cfb_read(c, "Workbook", WORKBOOK_READ, &w, &wl, &cut) == CONTENT_CFB_ABSENT)
		content_cfb_read(c, "Book", WORKBOOK_READ, &w, &wl, &cut);
	if (w != NULL)
		r |= biff_macros(w, wl);
	free(w);
	r |= word_bits(c);
	/* An encrypted Office Open XML document is a compound file holding the
	 * encrypted package ([MS-OFFCRYPTO] 2.3.4.4). */
	if (content_cfb_read(c, "EncryptedPackage", 0, &w, &wl, &cut) == CONTENT_CFB_FOUND)
		r |= CONTENT_OFFICE_ENCRYPTED;
	free(w);
	content_cfb_close(c);
	return r;
}

unsigned content_package_macro_part(const char *member)
{
	const char *base = strrchr(member, '/');
	base = base ? base + 1 : member;
	/* OOXML: the VBA project (word/, xl/, ppt/), Excel 4.0 macro sheets;
	 * ODF: Basic modules. */
	if (strncasecmp(member, "xl/macrosheets/", 15) == 0)
		return CONTENT_OFFICE_XLM;
	return strcasecmp(base, "vbaProject.bin") == 0 || strncasecmp(member, "Basic/", 6) == 0
	    ? CONTENT_OFFICE_VBA : 0;
}
