/*
 * fuzz_rtf - the RTF object reader (content_rtf.c) that finds Equation
 * Editor, link and Packager objects in an RTF attachment, with the
 * compound file reader (content_cfb.c) it uses on each object's data.
 * Any bytes: no crash, no over-read, the same answer twice, only known
 * flags, a file name that fits its buffer.  Seeds: RTF documents with an
 * Equation Editor object (by name; by class id with the hex broken up),
 * a link object loaded on opening, a Packager object, \binN data, a chart.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "content/content_rtf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct content_rtf a, b;
	content_rtf_scan(data, size, &a);
	content_rtf_scan(data, size, &b);
	if (a.flags != b.flags || strcmp(a.package, b.package) != 0 || (a.flags & ~0x3fu) != 0 ||
	    memchr(a.package, 0, sizeof(a.package)) == NULL ||
	    content_rtf_is(data, size) != (size >= 4 && memcmp(data, "{\\rt", 4) == 0))
		abort();
	return 0;
}
