/*
 * content_archive.h - what an archive attachment says it holds: its
 * members' names and whether they are encrypted, read from the archive's
 * own directory (ZIP, RAR 4 and 5, 7z, tar) or header (gzip).  Member
 * data is never decompressed, so no decompression bomb can cost anything
 * (plan M18); the one exception is a 7z directory, which 7-Zip itself
 * compresses: it is decoded within a byte budget the caller gives.
 *
 * Used by content.c for attachments whose bytes start like an archive;
 * exposed here for the unit tests and fuzz targets.
 *
 *  - The readers never fail on bad input: a damaged archive gives what
 *    could be read and damaged = 1.  Work is linear in n (plus, for 7z,
 *    the directory bytes decoded, at most what the budget allows).
 *  - Names are the archive's bytes (UTF-8 for RAR 5 and 7z, often CP437
 *    or another code page for ZIP, RAR 4 and tar), NUL-terminated, with
 *    control bytes and NUL replaced by '?'; callers make them valid UTF-8
 *    before showing them.  Each is cut at ARCHIVE_MAX_NAME bytes.  Every
 *    member is counted; names are kept up to ARCHIVE_MAX_NAMES of them or
 *    ARCHIVE_NAME_BUDGET bytes, and past that names_cut is set, so a
 *    listing padded with harmless names before the one that matters is
 *    seen as such.
 *  - hidden says the member list itself is encrypted (RAR's and 7z's
 *    "encrypt file names"): nothing from there on can be named (an
 *    archive from RAR or 7-Zip has it from the start), and encrypted is
 *    then at least 1.
 *  - Ownership: out is the caller's; content_archive_free() frees the
 *    names (also after a -1 return) and zeroes it; a second free is
 *    harmless.
 */
#ifndef MW_CONTENT_CONTENT_ARCHIVE_H
#define MW_CONTENT_CONTENT_ARCHIVE_H

#include <stddef.h>

#define ARCHIVE_MAX_NAMES 65535u       /* the most a ZIP without ZIP64 records lists */
#define ARCHIVE_NAME_BUDGET (1u << 20) /* bytes of names kept */
#define ARCHIVE_MAX_NAME 255
/* The most a 7z directory may decode to; a bigger one is not listed. */
#define ARCHIVE_MAX_DIRECTORY (2u << 20)

enum content_archive_kind {
	ARCHIVE_NONE,
	ARCHIVE_ZIP,
	ARCHIVE_RAR,    /* RAR 1.5-4.x and RAR 5 */
	ARCHIVE_7Z,
	ARCHIVE_TAR,    /* ustar, GNU and old V7 headers */
	ARCHIVE_GZIP,   /* one member: the name its header stores, if any */
};

struct content_archive {
	unsigned members;     /* entries seen (directories included) */
	unsigned encrypted;   /* of those, password-protected (or 1 with hidden) */
	int hidden;           /* the member list is encrypted: no names */
	int damaged;          /* no usable directory, or entries past the data */
	int names_cut;        /* more names than ARCHIVE_MAX_NAMES / _NAME_BUDGET */
	size_t n_names, names_bytes;
	char **names;         /* n_names of them */
};

/* The kind of archive p starts with (ARCHIVE_NONE for anything else);
 * n >= 262 is needed to see a tar header's magic. */
enum content_archive_kind content_archive_kind(const unsigned char *p, size_t n);

/* The member list of p, read as kind (content_archive_kind() of it when
 * kind is ARCHIVE_NONE).  *decode_budget is the number of directory bytes
 * a 7z may still decode (the caller's per-message allowance), and is
 * lowered by what was used; a 7z directory it cannot cover, or packed by
 * another coder than LZMA or LZMA2, is reported as names_cut (no list).  0 when p holds that archive's structure, -1 when it
 * does not look like one at all. */
int content_archive_read(enum content_archive_kind kind, const unsigned char *p, size_t n,
    size_t *decode_budget, struct content_archive *out);
void content_archive_free(struct content_archive *a);

/* The per-format readers content_archive_read() calls (same contract). */
int content_zip_read(const unsigned char *p, size_t n, struct content_archive *out);
int content_rar_read(const unsigned char *p, size_t n, struct content_archive *out);
int content_7z_read(const unsigned char *p, size_t n, size_t *decode_budget,
    struct content_archive *out);
int content_tar_read(const unsigned char *p, size_t n, struct content_archive *out);
int content_gzip_read(const unsigned char *p, size_t n, struct content_archive *out);

/* For the readers: count one member and keep its name within the budgets. */
void content_archive_add(struct content_archive *a, const unsigned char *name, size_t len,
    int encrypted);

#endif
