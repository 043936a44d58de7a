/*
 * fuzz_onenote - the OneNote section reader (content_onenote.c) that types
 * the files embedded in a .one attachment, with the attachment type
 * detector it runs on each.  Any bytes: no crash, no over-read, the same
 * answer twice, at most ONENOTE_MAX_FILES files, a type the detector
 * gives.  Seeds: sections carrying a PDF, an .hta, a program, a shell
 * link, one cut short.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "content/content_onenote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct content_onenote a, b;
	content_onenote_scan(data, size, &a);
	content_onenote_scan(data, size, &b);
	if (memcmp(&a, &b, sizeof(a)) != 0 || a.files > ONENOTE_MAX_FILES ||
	    (a.worst != CONTENT_FT_UNKNOWN && a.worst != CONTENT_FT_EXE && a.worst != CONTENT_FT_ELF &&
	     a.worst != CONTENT_FT_LNK && a.worst != CONTENT_FT_SCRIPT) ||
	    (a.worst != CONTENT_FT_UNKNOWN && a.files == 0) ||
	    content_onenote_is(data, size) != content_onenote_is(data, size))
		abort();
	return 0;
}
