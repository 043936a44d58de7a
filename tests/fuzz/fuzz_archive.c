/*
 * fuzz_archive - the RAR, 7z, tar and gzip listings (content_rar.c,
 * content_7z.c, content_tar.c, content_archive.c) that name an archive
 * attachment's members for the executable and encryption checks (plan
 * M18/M21).  The first byte picks the reader, so each is reached whatever
 * the input starts with; the rest is the archive.  Any bytes: no crash,
 * no over-read, bounded output, the 7z directory budget respected, and
 * the same answer twice (an ISO image when the bytes have one 32 KiB in).
 * A sixth choice runs the OLE checks (content_office.c, content_cfb.c:
 * VBA, XLM macro sheets, encryption), a seventh the listing with archives inside opened
 * (content_nest.c) under a small budget, an eighth the checks of a web
 * page attachment (content_htmlfile.c), a ninth a PDF's active content
 * (content_pdf.c).  Seeds: archives from 7-Zip, GNU tar and gzip,
 * hand-built RAR 4 / RAR 5 (stored, encrypted, encrypted headers), OLE
 * files with a VBA project, an XLM macro sheet (in the FAT and in the mini
 * stream) and encryption (Word, Office Open XML).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archive_names.h"
#include "content/content_archive.h"
#include "content/content_htmlfile.h"
#include "content/content_office.h"
#include "content/content_pdf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum content_archive_kind kinds[] = { ARCHIVE_NONE, ARCHIVE_RAR, ARCHIVE_7Z,
		ARCHIVE_TAR, ARCHIVE_GZIP };
	if (size < 1)
		return 0;
	const unsigned pick = data[0] % 9;
	data++, size--;
	if (pick == 8) {
		/* A PDF's active content (content_pdf.c), object streams within
		 * a small budget. */
		size_t b1 = 64u << 10, b2 = b1;
		const unsigned f = content_pdf_scan(data, size, &b1);
		if (f != content_pdf_scan(data, size, &b2) || b1 != b2 || b1 > (64u << 10) || (f & ~0x3fu))
			abort();
		return 0;
	}
	if (pick == 7) {
		/* A web page attachment's checks (content_htmlfile.c). */
		const unsigned f = content_htmlfile_scan(data, size);
		if (f != content_htmlfile_scan(data, size) || (f & ~0xfu) ||
		    content_htmlfile_is(data, size) != content_htmlfile_is(data, size))
			abort();
		return 0;
	}
	if (pick == 6) {
		/* Archives inside (content_nest.c), with a small budget so its
		 * limits are reached too. */
		struct content_archive_budget b1 = { 4096, 1u << 20, 4, 64, 1u << 20 }, b2 = b1;
		struct content_archive x, y;
		int rx = content_archive_read_nested(ARCHIVE_NONE, data, size, &b1, &x);
		int ry = content_archive_read_nested(ARCHIVE_NONE, data, size, &b2, &y);
		if (rx != ry || x.members != y.members || x.n_names != y.n_names ||
		    x.nested_cut != y.nested_cut || memcmp(&b1, &b2, sizeof(b1)) != 0 ||
		    x.n_names > ARCHIVE_MAX_NAMES || x.names_bytes > ARCHIVE_NAME_BUDGET ||
		    b1.archives > 4 || b1.sniffs > 64 || b1.unpacked > (1u << 20) || b1.streamed > (1u << 20))
			abort();
		archive_names_check(&x, &y);
		content_archive_free(&x);
		content_archive_free(&y);
		return 0;
	}
	if (pick == 5) {
		const unsigned m = content_ole_scan(data, size);
		if (m != content_ole_scan(data, size) || m > 63)
			abort();
		return 0;
	}
	const enum content_archive_kind kind = kinds[pick];

	/* A small budget too, so the "no budget left" path is reached. */
	const size_t start = size > 0 && (data[0] & 1) ? 4 * ARCHIVE_MAX_DIRECTORY : 256;
	size_t ba = start, bb = start;
	struct content_archive a, b;
	int ra = content_archive_read(kind, data, size, &ba, &a);
	int rb = content_archive_read(kind, data, size, &bb, &b);

	if (ra != rb || ba != bb || a.members != b.members || a.encrypted != b.encrypted ||
	    a.hidden != b.hidden || a.damaged != b.damaged || a.n_names != b.n_names ||
	    a.names_cut != b.names_cut)
		abort();                       /* not deterministic */
	if (ba > start || a.encrypted > a.members + (unsigned)a.hidden ||
	    a.n_names > a.members || a.n_names > ARCHIVE_MAX_NAMES ||
	    a.names_bytes > ARCHIVE_NAME_BUDGET ||
	    (ra < 0 && (a.members || a.n_names)))
		abort();
	if (archive_names_check(&a, &b) != a.names_bytes)
		abort();
	content_archive_free(&a);
	content_archive_free(&b);
	return 0;
}
