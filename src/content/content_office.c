/*
 * content_office.c - macros in Office documents (MS-CFB for the legacy
 * compound files, ECMA-376 and ODF part names for the packages).
 *
 * A compound file's directory is a chain of sectors found through its
 * FAT; rather than follow the chain, every 128-byte slot after the
 * header is checked for the shape of a directory entry with one of the
 * names VBA is stored under.  Directory sectors are sector-aligned and
 * hold 128-byte entries, so no real entry is missed; a slot of plain
 * data would need the exact name, length and type fields to be taken
 * for one, and faking one gains a sender nothing.
 */
#include "content/content_office.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#define CFB_HEADER 512u
#define CFB_ENTRY 128u
#define CFB_NAME_LEN_AT 0x40u
#define CFB_TYPE_AT 0x42u
#define CFB_STORAGE 1u
#define CFB_STREAM 2u

static int entry_is(const unsigned char *e, const char *name, unsigned type)
{
	const size_t len = strlen(name);
	const unsigned nl = (unsigned)e[CFB_NAME_LEN_AT] | (unsigned)e[CFB_NAME_LEN_AT + 1] << 8;
	if (e[CFB_TYPE_AT] != type || nl != 2 * (len + 1))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (e[2 * i + 1] != 0 || (e[2 * i] | 0x20) != (name[i] | 0x20))
			return 0;
	return e[2 * len] == 0 && e[2 * len + 1] == 0;
}

int content_ole_has_macros(const unsigned char *p, size_t n)
{
	if (n < CFB_HEADER || memcmp(p, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8) != 0)
		return 0;
	for (size_t off = CFB_HEADER; off + CFB_ENTRY <= n; off += CFB_ENTRY) {
		const unsigned char *e = p + off;
		/* Word keeps its project under "Macros", Excel and PowerPoint
		 * under "_VBA_PROJECT_CUR"; each holds a "VBA" storage. */
		if (entry_is(e, "VBA", CFB_STORAGE) || entry_is(e, "Macros", CFB_STORAGE) ||
		    entry_is(e, "_VBA_PROJECT_CUR", CFB_STORAGE) ||
		    entry_is(e, "_VBA_PROJECT", CFB_STREAM))
			return 1;
	}
	return 0;
}

int content_package_macro_part(const char *member)
{
	const char *base = strrchr(member, '/');
	base = base ? base + 1 : member;
	/* OOXML: the VBA project (word/, xl/, ppt/), Excel 4.0 macro sheets;
	 * ODF: Basic modules. */
	return strcasecmp(base, "vbaProject.bin") == 0 ||
	    strncasecmp(member, "xl/macrosheets/", 15) == 0 ||
	    strncasecmp(member, "Basic/", 6) == 0;
}
