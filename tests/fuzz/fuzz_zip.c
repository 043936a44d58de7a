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
	size_t bytes = 0;
	for (size_t i = 0; i < a.n_names; i++) {
		size_t l = strlen(a.names[i]);
		if (l > ARCHIVE_MAX_NAME || strcmp(a.names[i], b.names[i]) != 0)
			abort();
		for (size_t k = 0; k < l; k++)
			if ((unsigned char)a.names[i][k] < 0x20 || a.names[i][k] == 0x7f)
				abort();       /* control bytes must have become '?' */
		bytes += l;
	}
	/* Every member name kept came out of the input. */
	if (bytes > size)
		abort();
	content_archive_free(&a);
	content_archive_free(&b);
	return 0;
}
