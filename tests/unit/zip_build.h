/*
 * zip_build.h - small ZIP archives for the unit tests, written byte by byte
 * as PKWARE's APPNOTE lays them out (stored members: local header, data;
 * then the central directory and its end record), and MIME messages that
 * carry them base64-encoded.  Header-only: each test file includes it once.
 */
#ifndef MW_TESTS_ZIP_BUILD_H
#define MW_TESTS_ZIP_BUILD_H

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"

#define ZB_ENCRYPTED 0x0001u

static void zb_u16(struct buf *b, unsigned v)
{
	unsigned char c[2] = { (unsigned char)v, (unsigned char)(v >> 8) };
	buf_append(b, (const char *)c, 2);
}

static void zb_u32(struct buf *b, uint32_t v)
{
	unsigned char c[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
		(unsigned char)(v >> 24) };
	buf_append(b, (const char *)c, 4);
}

/* A stored archive of n members named names[i], each holding its own name
 * as content, with the general-purpose flags given (ZB_ENCRYPTED). */
static void zip_build(struct buf *out, const char *const *names, size_t n, unsigned flags)
{
	struct buf cd = BUF_INIT;
	uint32_t *offs = xcalloc(n ? n : 1, sizeof(*offs));

	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(names[i]);
		offs[i] = (uint32_t)out->len;
		zb_u32(out, 0x04034b50u);
		zb_u16(out, 20);                  /* version needed */
		zb_u16(out, flags);
		zb_u16(out, 0);                   /* stored */
		zb_u16(out, 0);
		zb_u16(out, 0);                   /* time, date */
		zb_u32(out, 0);                   /* crc: not checked by the reader */
		zb_u32(out, (uint32_t)nl);
		zb_u32(out, (uint32_t)nl);
		zb_u16(out, (unsigned)nl);
		zb_u16(out, 0);
		buf_append(out, names[i], nl);
		buf_append(out, names[i], nl);    /* the data */
	}
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(names[i]);
		zb_u32(&cd, 0x02014b50u);
		zb_u16(&cd, 20);
		zb_u16(&cd, 20);
		zb_u16(&cd, flags);
		zb_u16(&cd, 0);
		zb_u16(&cd, 0);
		zb_u16(&cd, 0);
		zb_u32(&cd, 0);
		zb_u32(&cd, (uint32_t)nl);
		zb_u32(&cd, (uint32_t)nl);
		zb_u16(&cd, (unsigned)nl);
		zb_u16(&cd, 0);                   /* extra */
		zb_u16(&cd, 0);                   /* comment */
		zb_u16(&cd, 0);                   /* disk */
		zb_u16(&cd, 0);
		zb_u32(&cd, 0);                   /* attributes */
		zb_u32(&cd, offs[i]);
		buf_append(&cd, names[i], nl);
	}
	uint32_t cd_off = (uint32_t)out->len;
	buf_append(out, cd.data ? cd.data : "", cd.len);
	zb_u32(out, 0x06054b50u);
	zb_u16(out, 0);
	zb_u16(out, 0);
	zb_u16(out, (unsigned)n);
	zb_u16(out, (unsigned)n);
	zb_u32(out, (uint32_t)cd.len);
	zb_u32(out, cd_off);
	zb_u16(out, 0);
	buf_free(&cd);
	free(offs);
}

/* A message with a text part and the bytes as a base64 attachment. */
static char *zip_message(const char *filename, const char *data, size_t len)
{
	char *b64 = xmalloc(4 * (len / 3 + 1) + 1);
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)data, (int)len);
	char *m = xasprintf("From: a@example.org\nTo: b@example.net\nSubject: files\n"
	    "Date: Tue, 1 Oct 2002 10:00:00 +0000\nMessage-ID: <9@x.org>\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"zz\"\n\n"
	    "--zz\nContent-Type: text/plain\n\nsee attached\n"
	    "--zz\nContent-Type: application/zip; name=\"%s\"\n"
	    "Content-Disposition: attachment; filename=\"%s\"\n"
	    "Content-Transfer-Encoding: base64\n\n%s\n--zz--\n", filename, filename, b64);
	free(b64);
	return m;
}

#endif
