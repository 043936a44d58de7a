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
#include <stdint.h>

#include "base/buf.h"

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
	ARCHIVE_ISO,    /* an ISO 9660 disk image (with Joliet names) */
};

/* ZIP: where a member's data is, for opening an archive inside. */
struct content_archive_entry {
	uint64_t local;       /* its local header's offset in the bytes read */
	uint32_t csize, usize;
	unsigned method, flags;
};

struct content_archive {
	unsigned members;     /* entries seen (directories included) */
	unsigned encrypted;   /* of those, password-protected (or 1 with hidden) */
	int hidden;           /* the member list is encrypted: no names */
	int damaged;          /* no usable directory, or entries past the data */
	int names_cut;        /* more names than ARCHIVE_MAX_NAMES / _NAME_BUDGET */
	int nested_cut;       /* an archive inside could not be opened within
	                         the limits (content_archive_read_nested) */
	int disguised;        /* ZIP: tools would list different members - an
	                         archive glued in front, or a local header naming
	                         another file than the directory (both listed) */
	size_t n_names, names_bytes;
	char **names;         /* n_names of them */
	struct content_archive_entry *entries;   /* ZIP: one per name, else NULL */
};

/* What opening archives inside an archive may still cost, per message. */
struct content_archive_budget {
	size_t directory;     /* 7z directory bytes to decode */
	size_t unpacked;      /* bytes of inner archives to unpack */
	unsigned archives;    /* inner archives to open */
	unsigned sniffs;      /* members whose first bytes may be looked at */
	uint64_t streamed;    /* bytes of a tar inside a gzip to inflate and pass */
};
#define ARCHIVE_BUDGET_DEFAULT { 4 * ARCHIVE_MAX_DIRECTORY, 16u << 20, 64, 1024, 256u << 20 }
#define ARCHIVE_MAX_DEPTH 3            /* an archive in an archive in an archive */
#define ARCHIVE_MAX_INNER (8u << 20)   /* the most one inner archive unpacks to */

/* The kind of archive p starts with (ARCHIVE_NONE for anything else);
 * n >= 262 is needed to see a tar header's magic, and 32,774 for an ISO
 * image's (its first 32 KiB are a system area, zeros in most images). */
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

/* content_archive_read(), then the archives inside it opened too: a ZIP's
 * members (stored, or deflated: inflated with zlib) and a gzip's stream
 * whose first bytes are an archive's are listed in turn, up to
 * ARCHIVE_MAX_DEPTH deep, their members named "inner.zip/name" in out
 * and counted in its totals.  What the budget or the depth does not allow
 * sets nested_cut: that inside cannot be checked (plan M18: a bomb is
 * flagged, never unpacked past the limit). */
int content_archive_read_nested(enum content_archive_kind kind, const unsigned char *p, size_t n,
    struct content_archive_budget *budget, struct content_archive *out);

/* in inflated into out (window_bits as zlib's inflateInit2 takes them),
 * at most max bytes: 0 at the stream's end, 1 when max came first, -1 on
 * bad data (out holds what came before).  Also for content_pdf.c. */
int content_inflate(const unsigned char *in, size_t n, int window_bits, size_t max, struct buf *out);

/* A ZIP member's bytes (stored, or deflated: inflated with zlib), at most
 * max of them, into out: 0 the whole member, 1 only its first max bytes,
 * -1 when it cannot be read (encrypted, another method, damaged). */
int content_zip_member(const unsigned char *p, size_t n, const struct content_archive_entry *e,
    size_t max, struct buf *out);

/* The per-format readers content_archive_read() calls (same contract). */
int content_zip_read(const unsigned char *p, size_t n, struct content_archive *out);
int content_rar_read(const unsigned char *p, size_t n, struct content_archive *out);
int content_7z_read(const unsigned char *p, size_t n, size_t *decode_budget,
    struct content_archive *out);
int content_tar_read(const unsigned char *p, size_t n, struct content_archive *out);
int content_gzip_read(const unsigned char *p, size_t n, struct content_archive *out);
int content_iso_read(const unsigned char *p, size_t n, struct content_archive *out);

/* tar fed in pieces (content_tar_read() feeds it one): members go into
 * out as their headers pass.  finish frees what the stream holds and says
 * damaged when it stopped inside a header or a member's data. */
#define TAR_META_MAX (64u << 10)       /* of a long name or pax header, kept */
struct content_tar_stream {
	struct content_archive *out;
	unsigned char hdr[512];
	size_t hlen;
	uint64_t skip;                 /* data and padding still to pass */
	uint64_t meta_left;            /* of those, long-name / pax bytes to keep */
	struct buf meta;
	char meta_type;                /* 'L' or 'x' while its data passes */
	char *long_name;               /* for the next member */
	size_t long_len;
	int done;                      /* end blocks, or a bad header */
};
void content_tar_stream_init(struct content_tar_stream *s, struct content_archive *out);
void content_tar_stream_feed(struct content_tar_stream *s, const unsigned char *p, size_t n);
void content_tar_stream_finish(struct content_tar_stream *s);

/* For the readers: little-endian fields. */
static inline uint32_t archive_le16(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}
static inline uint32_t archive_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* For the readers: count one member and keep its name within the budgets;
 * content_archive_keep_name() keeps a name without counting a member (1
 * when it was kept). */
void content_archive_add(struct content_archive *a, const unsigned char *name, size_t len,
    int encrypted);
int content_archive_keep_name(struct content_archive *a, const unsigned char *name, size_t len);

#endif
