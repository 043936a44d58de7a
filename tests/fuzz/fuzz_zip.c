/*
 * fuzz_zip - the ZIP directory reader (content_zip.c, content_archive.h) that lists a ZIP
 * attachment's members for the executable and encryption checks (plan
 * M18/M21).  Any bytes: no crash, no over-read, bounded output, and the
 * same answer twice.  Seeds are small archives (stored, deflated, with a
 * comment, a self-extractor stub, encrypted flags, a cut one).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archive_names.h"
#include "content/content_archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct content_archive a, b;
	int ra = content_zip_read(data, size, &a);
	int rb = content_zip_read(data, size, &b);

	if (ra != rb || a.members != b.members || a.encrypted != b.encrypted ||
	    a.damaged != b.damaged || a.n_names != b.n_names || a.names_cut != b.names_cut)
		abort();                       /* not deterministic */
	if (a.encrypted > a.members || a.n_names > a.members || a.n_names > ARCHIVE_MAX_NAMES ||
	    a.names_bytes > ARCHIVE_NAME_BUDGET || (ra < 0 && (a.members || a.n_names)))
		abort();
	/* Every member name kept came out of the input. */
	if (archive_names_check(&a, &b) > size)
		abort();
	content_archive_free(&a);
	content_archive_free(&b);
	return 0;
}
