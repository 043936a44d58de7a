/*
 * content_onenote.h - files embedded in a OneNote section (.one).  In
 * early 2023 OneNote replaced macro documents as the dropper of choice
 * (Qakbot, IcedID, AsyncRAT): a page with a "double-click to view"
 * picture over an embedded .hta, .bat, .cmd, .vbs, .js, .lnk or .exe.  A
 * section file stores each embedded file whole in a FileDataStoreObject
 * ([MS-ONESTORE] 2.6.13: a header GUID, the length, the bytes, a footer
 * GUID), so each one is found by its header and typed by its first bytes
 * as an attachment is.  Nothing is run; work is linear in n.
 */
#ifndef MW_CONTENT_CONTENT_ONENOTE_H
#define MW_CONTENT_CONTENT_ONENOTE_H

#include <stddef.h>

#include "content/content.h"

#define ONENOTE_MAX_FILES 256

struct content_onenote {
	unsigned files;                /* embedded files found */
	enum content_ftype worst;      /* the most dangerous type among them:
	                                  exe or elf, then lnk, then script;
	                                  CONTENT_FT_UNKNOWN when none is */
	int cut;                       /* more files than looked at, or one
	                                  longer than the bytes */
};

/* 1 when p starts with a OneNote section's file type GUID. */
int content_onenote_is(const unsigned char *p, size_t n);

void content_onenote_scan(const unsigned char *p, size_t n, struct content_onenote *out);

#endif
