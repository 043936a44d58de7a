/*
 * fuzz_zip - the ZIP directory reader (content_zip.c, content_archive.h) that lists a ZIP
 * attachment's members for the executable and encryption checks (plan
 * M18/M21).  Any bytes: no crash, no over-read, bounded output, and the
 * same answer twice.  The same bytes go through the Office Open XML
 * relationship check (content_ooxml.c), which inflates the ".rels"
 * members, within a small budget.  Seeds are small archives (stored,
 * deflated, with a comment, a self-extractor stub, encrypted flags, a cut
 * one) and .docx files that load a template or an object from the web.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archive_names.h"
#include "content/content_archive.h"
#include "content/content_ooxml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct content_archive a, b;
	int ra = content_zip_read(data, size, &a);
	int rb = content_zip_read(data, size, &b);

	if (ra != rb || a.members != b.members || a.encrypted != b.encrypted ||
	    a.damaged != b.damaged || a.n_names != b.n_names || a.names_cut != b.names_cut ||
	    a.disguised != b.disguised)
		abort();                       /* not deterministic */
	if (a.encrypted > a.members || a.n_names > a.members || a.n_names > ARCHIVE_MAX_NAMES ||
	    a.names_bytes > ARCHIVE_NAME_BUDGET || (ra < 0 && (a.members || a.n_names)))
		abort();
	/* Every member name kept came out of the input. */
	if (archive_names_check(&a, &b) > size)
		abort();
	content_archive_free(&a);
	content_archive_free(&b);

	size_t b1 = 64u << 10, b2 = b1;
	struct content_ooxml x, y;
	content_ooxml_scan(data, size, &b1, &x);
	content_ooxml_scan(data, size, &b2, &y);
	if (x.flags != y.flags || b1 != b2 || b1 > (64u << 10) || (x.flags & ~0x1fu) ||
	    strcmp(x.target, y.target) != 0 || memchr(x.target, 0, sizeof(x.target)) == NULL ||
	    ((x.flags & 7u) != 0) != (x.target[0] != '\0'))
		abort();
	return 0;
}
