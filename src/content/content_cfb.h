/*
 * content_cfb.h - the streams of an OLE compound file (MS-CFB: legacy
 * .doc, .xls, .ppt, .msi), read from the bytes given and nothing else.
 *
 * A stream is a chain of sectors through the file's FAT (the FAT itself
 * listed in the header and the DIFAT sectors), or of 64-byte mini sectors
 * through the mini FAT when it is shorter than the cutoff (4,096 bytes).
 * A chain that leaves the bytes (an attachment cut short), loops or
 * points nowhere ends the stream there; the caller is told it was cut.
 * Work and memory are linear in n.
 */
#ifndef MW_CONTENT_CONTENT_CFB_H
#define MW_CONTENT_CONTENT_CFB_H

#include <stddef.h>

enum content_cfb_result {
	CONTENT_CFB_ABSENT = 0,    /* no stream of that name */
	CONTENT_CFB_FOUND = 1,     /* *out holds the stream (maybe cut, *cut says) */
};

/* A compound file's first eight bytes. */
#define CONTENT_CFB_SIG "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

/* Class ids as a directory entry stores them ([MS-CFB] 2.6.1): the
 * Equation Editor 3.0 ({0002CE02-0000-0000-C000-000000000046}; MathType's
 * differs) and the standard OLE link ({00000300-0000-0000-C000-000000000046}). */
extern const unsigned char content_clsid_equation[16];
extern const unsigned char content_clsid_ole_link[16];

/* 1 when the 128-byte directory entry e is named name (ASCII, any case). */
int content_cfb_entry_named(const unsigned char *e, const char *name);

struct content_cfb;

/* A reader over p[0..n) (which must outlive it), or NULL when p is not a
 * compound file or its header is unusable.  The reader owns a copy of the
 * FAT: free it with content_cfb_close(). */
struct content_cfb *content_cfb_open(const unsigned char *p, size_t n);
void content_cfb_close(struct content_cfb *c);

/* The first stream entry of the directory named name (ASCII, any case),
 * wherever it sits in the tree, read into a buffer the caller frees: at
 * most max bytes of it.  *cut is 1 when the stream is longer than what was
 * read (max, or a chain that ended early). */
enum content_cfb_result content_cfb_read(const struct content_cfb *c, const char *name, size_t max,
    unsigned char **out, size_t *len, int *cut);

/* The class id of the root storage (the 16 bytes as stored, [MS-CFB]
 * 2.6.1) into out: what application the file is an object of.  0 when the
 * root entry cannot be read. */
int content_cfb_root_clsid(const struct content_cfb *c, unsigned char out[16]);

#endif
