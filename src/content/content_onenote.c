/*
 * content_onenote.c - a OneNote section's embedded files ([MS-ONESTORE]
 * 2.3.1 the header's guidFileType, 2.6.13 FileDataStoreObject).
 *
 * The objects are found by their header GUID rather than through the
 * file's node lists: an embedded file is stored once, whole, between its
 * header and footer wherever the file puts it, and a dropper cannot hide
 * one from OneNote without hiding it from this search too.
 */
#include "content/content_onenote.h"

#include <stdint.h>
#include <string.h>

#include "content/content_int.h"

/* {7B5C52E4-D88C-4DA7-AEB1-5378D02996D3}: a .one section file. */
static const unsigned char guid_one[16] = { 0xe4, 0x52, 0x5c, 0x7b, 0x8c, 0xd8, 0xa7, 0x4d,
	0xae, 0xb1, 0x53, 0x78, 0xd0, 0x29, 0x96, 0xd3 };
/* {BDE316E7-2665-4511-A4C4-8D4D0B7A9EAC}: a FileDataStoreObject's header. */
static const unsigned char guid_file[16] = { 0xe7, 0x16, 0xe3, 0xbd, 0x65, 0x26, 0x11, 0x45,
	0xa4, 0xc4, 0x8d, 0x4d, 0x0b, 0x7a, 0x9e, 0xac };
/* header GUID, cbLength (8), unused (4), reserved (8), then the data */
#define FDSO_DATA 36u

int content_onenote_is(const unsigned char *p, size_t n)
{
	return n >= 16 && memcmp(p, guid_one, 16) == 0;
}

static int rank(enum content_ftype t)
{
	switch (t) {
	case CONTENT_FT_EXE:
	case CONTENT_FT_ELF: return 3;
	case CONTENT_FT_LNK: return 2;
	case CONTENT_FT_SCRIPT: return 1;
	default: return 0;
	}
}

void content_onenote_scan(const unsigned char *p, size_t n, struct content_onenote *out)
{
	memset(out, 0, sizeof(*out));
	out->worst = CONTENT_FT_UNKNOWN;
	const unsigned char *q = p, *end = p + n;
	while ((q = memmem(q, (size_t)(end - q), guid_file, 16)) != NULL) {
		if (out->files >= ONENOTE_MAX_FILES) {
			out->cut = 1;
			return;
		}
		out->files++;
		if ((size_t)(end - q) < FDSO_DATA) {
			out->cut = 1;
			return;
		}
		uint64_t len = 0;
		for (int i = 7; i >= 0; i--)
			len = len << 8 | q[16 + i];
		const unsigned char *d = q + FDSO_DATA;
		const size_t avail = (size_t)(end - d);
		if (len > avail)
			out->cut = 1;
		const size_t look = len < avail ? (size_t)len : avail;
		const enum content_ftype t = content_detect_type(d, look < 512 ? look : 512);
		if (rank(t) > rank(out->worst))
			out->worst = t;
		q = d + look;                  /* the next object follows the data */
	}
}
