/*
 * content_zip.h - what a ZIP archive says it holds: its members' names and
 * whether any is encrypted, read from the archive's directory without
 * inflating a byte (so no decompression bomb can cost anything: M18).
 *
 * Used by content.c for attachments whose bytes start like a ZIP (also
 * .docx/.jar/.apk, which are ZIPs); exposed here for its fuzz target.
 *
 *  - content_zip_read() never fails on bad input: a damaged archive gives
 *    what could be read and damaged = 1.  Work is linear in n.
 *  - The central directory (at the end) is read when its end record is
 *    found; else the local headers are walked from the start until one
 *    cannot be skipped (a streamed member with its size after the data).
 *  - Names are the archive's bytes, NUL-terminated, with control bytes and
 *    NUL replaced by '?': not yet UTF-8 (CP437 names are common); callers
 *    sanitise before showing them.  Each is cut at ZIP_MAX_NAME bytes.
 *    Every member's name is kept up to ZIP_MAX_NAMES names or
 *    ZIP_NAME_BUDGET bytes of them; past that names_cut is set (members
 *    still counts them all), so a listing padded with harmless names
 *    before the one that matters is seen as such.
 *  - Ownership: out is the caller's; content_zip_free() frees the names
 *    (also after a -1 return) and zeroes it.
 */
#ifndef MW_CONTENT_CONTENT_ZIP_H
#define MW_CONTENT_CONTENT_ZIP_H

#include <stddef.h>

#define ZIP_MAX_NAMES 65535u       /* the most a ZIP without ZIP64 records lists */
#define ZIP_NAME_BUDGET (1u << 20) /* bytes of names kept */
#define ZIP_MAX_NAME 255

struct content_zip {
	unsigned members;     /* entries seen (central directory, or local headers) */
	unsigned encrypted;   /* of those, with the encryption bit set */
	int damaged;          /* no usable directory, or entries past the data */
	int names_cut;        /* more names than ZIP_MAX_NAMES / ZIP_NAME_BUDGET */
	size_t n_names, names_bytes;
	char **names;         /* n_names of them */
};

/* 0 when p holds a ZIP structure (a directory end record or a first local
 * header), -1 when it does not look like a ZIP at all. */
int content_zip_read(const unsigned char *p, size_t n, struct content_zip *out);
void content_zip_free(struct content_zip *z);

#endif
