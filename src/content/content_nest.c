/*
 * content_nest.c - archives inside archives: a ZIP member or a gzip stream
 * whose first bytes are an archive's is unpacked (stored, or inflated by
 * zlib) within the per-message budget and listed in turn, so that
 * "invoice.zip" holding "docs.zip" holding "invoice.pdf.exe" is seen as
 * such.  Every unpacking is bounded by bytes out, not by what the archive
 * claims; what a limit stops is flagged (nested_cut), never passed as
 * checked (plan M18: 42.zip, a gzip of 10 GB of zeros, 20 levels deep).
 */
#include "content/content_archive.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "base/buf.h"

#define SNIFF 512u             /* enough for content_archive_kind() */
#define LOCAL_LEN 30u
#define SIG_LOCAL 0x04034b50u
#define METHOD_STORED 0u
#define METHOD_DEFLATED 8u
#define FLAG_ENCRYPTED 0x0001u

enum { GOT_ALL, GOT_PREFIX, TOO_BIG, CANNOT };

/* Inflate in (window_bits as zlib's inflateInit2 takes them: raw deflate,
 * zlib or gzip framing), handing each piece
 * of output to sink (which may stop the run by returning 1), until max
 * bytes came out (*used says how many did): GOT_ALL at the stream's end
 * (or when sink stopped it),
 * GOT_PREFIX when max was reached first, CANNOT on bad data. */
static int inflate_run(const unsigned char *in, size_t n, int window_bits, uint64_t max,
    int (*sink)(void *, const unsigned char *, size_t), void *ctx, uint64_t *used)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, window_bits) != Z_OK)
		return CANNOT;
	unsigned char chunk[16384];
	uint64_t got = 0;
	int rc = Z_OK, stopped = 0;
	z.next_in = (unsigned char *)(uintptr_t)in;   /* zlib's API is not const */
	z.avail_in = n > UINT32_MAX ? UINT32_MAX : (uInt)n;
	while (rc == Z_OK && got < max && !stopped) {
		const uint64_t room = max - got;
		z.next_out = chunk;
		z.avail_out = room < sizeof(chunk) ? (uInt)room : (uInt)sizeof(chunk);
		rc = inflate(&z, Z_NO_FLUSH);
		const size_t k = (size_t)(z.next_out - chunk);
		got += k;
		stopped = sink(ctx, chunk, k);
		if (rc == Z_BUF_ERROR && z.avail_in == 0)
			break;                   /* the input ended before the stream did */
	}
	inflateEnd(&z);
	*used = got;
	if (rc == Z_STREAM_END || stopped)
		return GOT_ALL;
	return got >= max ? GOT_PREFIX : CANNOT;
}

static int sink_buf(void *ctx, const unsigned char *p, size_t n)
{
	buf_append(ctx, (const char *)p, n);
	return 0;
}

int content_inflate(const unsigned char *in, size_t n, int window_bits, size_t max, struct buf *out)
{
	uint64_t used;
	switch (inflate_run(in, n, window_bits, max, sink_buf, out, &used)) {
	case GOT_ALL: return 0;
	case GOT_PREFIX: return 1;
	default: return -1;
	}
}

static int inflate_to(const unsigned char *in, size_t n, int gzip, size_t max, struct buf *out)
{
	uint64_t used;
	return inflate_run(in, n, gzip ? 16 + MAX_WBITS : -MAX_WBITS, max, sink_buf, out, &used);
}

static int sink_tar(void *ctx, const unsigned char *p, size_t n)
{
	struct content_tar_stream *t = ctx;
	content_tar_stream_feed(t, p, n);
	return t->done;
}

/* A ZIP member's bytes, at most max of them. */
static int zip_member(const unsigned char *p, size_t n, const struct content_archive_entry *e,
    size_t max, struct buf *out)
{
	if (e->flags & FLAG_ENCRYPTED || e->local > n || n - e->local < LOCAL_LEN ||
	    archive_le32(p + e->local) != SIG_LOCAL)
		return CANNOT;
	const size_t at = (size_t)e->local + LOCAL_LEN + archive_le16(p + e->local + 26) +
	    archive_le16(p + e->local + 28);
	if (at > n)
		return CANNOT;
	const size_t avail = n - at < e->csize ? n - at : e->csize;
	if (e->method == METHOD_STORED) {
		buf_append(out, (const char *)p + at, avail < max ? avail : max);
		return avail <= max && avail == e->csize ? GOT_ALL : avail > max ? GOT_PREFIX : CANNOT;
	}
	if (e->method == METHOD_DEFLATED)
		return inflate_to(p + at, avail, 0, max, out);
	return CANNOT;                         /* bzip2, LZMA, Deflate64 ... */
}

int content_zip_member(const unsigned char *p, size_t n, const struct content_archive_entry *e,
    size_t max, struct buf *out)
{
	switch (zip_member(p, n, e, max, out)) {
	case GOT_ALL: return 0;
	case GOT_PREFIX: return 1;
	default: return -1;
	}
}

/* Member i's bytes (a gzip has one member, its whole stream). */
static int member(enum content_archive_kind kind, const unsigned char *p, size_t n,
    const struct content_archive *list, size_t i, size_t max, struct buf *out)
{
	if (kind == ARCHIVE_GZIP)
		return inflate_to(p, n, 1, max, out);
	if (kind == ARCHIVE_ZIP && list->entries != NULL)
		return zip_member(p, n, &list->entries[i], max, out);
	return CANNOT;
}

static int archive_name(const char *name)
{
	static const char *const ext[] = { ".zip", ".rar", ".7z", ".gz", ".tgz", ".tar", NULL };
	const size_t l = strlen(name);
	for (int k = 0; ext[k]; k++) {
		const size_t el = strlen(ext[k]);
		if (l > el && strcasecmp(name + l - el, ext[k]) == 0)
			return 1;
	}
	return 0;
}

/* inner's names into top, as "prefix/name" (the prefix cut from the left
 * when the whole would be too long, so the member's own name stays). */
static void merge(struct content_archive *top, const char *prefix, const struct content_archive *inner)
{
	top->members += inner->members;
	top->encrypted += inner->encrypted;
	top->hidden |= inner->hidden;
	top->names_cut |= inner->names_cut;
	top->nested_cut |= inner->nested_cut;
	top->disguised |= inner->disguised;
	const size_t pl = strlen(prefix);
	for (size_t i = 0; i < inner->n_names; i++) {
		char name[ARCHIVE_MAX_NAME + 1];
		const size_t nl = strlen(inner->names[i]);
		const size_t keep = nl + 1 >= ARCHIVE_MAX_NAME ? 0 :
		    pl < ARCHIVE_MAX_NAME - nl - 1 ? pl : ARCHIVE_MAX_NAME - nl - 1;
		size_t len = 0;
		if (keep > 0) {
			memcpy(name, prefix + pl - keep, keep);
			name[keep] = '/';
			len = keep + 1;
		}
		const size_t take = nl < ARCHIVE_MAX_NAME - len ? nl : ARCHIVE_MAX_NAME - len;
		memcpy(name + len, inner->names[i], take);
		len += take;
		content_archive_keep_name(top, (const unsigned char *)name, len);
	}
}

static void nest(struct content_archive *top, enum content_archive_kind kind,
    const unsigned char *p, size_t n, const struct content_archive *list, int depth,
    struct content_archive_budget *b);

/* Open member i of list if it is an archive: its members, and those of
 * the archives inside it, go into top under its name. */
static void open_member(struct content_archive *top, enum content_archive_kind kind,
    const unsigned char *p, size_t n, const struct content_archive *list, size_t i,
    int depth, struct content_archive_budget *b)
{
	struct buf head = BUF_INIT, whole = BUF_INIT;
	const char *name = i < list->n_names ? list->names[i] : "";
	if (b->sniffs == 0) {
		if (archive_name(name))
			top->nested_cut = 1;   /* an archive by its name, not looked at */
		return;
	}
	b->sniffs--;
	int rc = member(kind, p, n, list, i, SNIFF, &head);
	const enum content_archive_kind inner_kind = rc == CANNOT ? ARCHIVE_NONE :
	    content_archive_kind((const unsigned char *)head.data, head.len);
	buf_free(&head);
	if (rc == CANNOT && archive_name(name) && kind == ARCHIVE_ZIP && list->entries != NULL &&
	    !(list->entries[i].flags & FLAG_ENCRYPTED))
		top->nested_cut = 1;   /* an archive by its name, packed in a way not read here */
	if (inner_kind == ARCHIVE_NONE)
		return;
	if (depth >= ARCHIVE_MAX_DEPTH || b->archives == 0) {
		top->nested_cut = 1;
		return;
	}
	b->archives--;
	if (kind == ARCHIVE_GZIP && inner_kind == ARCHIVE_TAR) {
		/* A .tar.gz: listed as it inflates, never kept; a tar member
		 * is not opened further (its data is not kept). */
		struct content_archive inner = { 0 };
		struct content_tar_stream t;
		content_tar_stream_init(&t, &inner);
		uint64_t used;
		rc = inflate_run(p, n, 16 + MAX_WBITS, b->streamed, sink_tar, &t, &used);
		b->streamed -= used;
		if (rc == GOT_PREFIX)
			top->nested_cut = 1;      /* past the budget: the rest unseen */
		content_tar_stream_finish(&t);
		merge(top, name, &inner);
		content_archive_free(&inner);
		return;
	}
	const size_t max = b->unpacked < ARCHIVE_MAX_INNER ? b->unpacked : ARCHIVE_MAX_INNER;
	rc = member(kind, p, n, list, i, max, &whole);
	b->unpacked -= whole.len;
	if (rc != GOT_ALL) {
		/* Past the limit (a bomb, or just too big), or broken on the
		 * way: what is inside was not all seen. */
		top->nested_cut = 1;
		buf_free(&whole);
		return;
	}
	struct content_archive inner;
	const unsigned char *ip = (const unsigned char *)whole.data;
	if (content_archive_read(inner_kind, ip, whole.len, &b->directory, &inner) == 0) {
		struct content_archive deeper = { 0 };
		nest(&deeper, inner_kind, ip, whole.len, &inner, depth + 1, b);
		merge(top, name, &inner);      /* a gzip's stream has no name: "" */
		merge(top, name, &deeper);
		content_archive_free(&deeper);
	}
	content_archive_free(&inner);
	buf_free(&whole);
}

static void nest(struct content_archive *top, enum content_archive_kind kind,
    const unsigned char *p, size_t n, const struct content_archive *list, int depth,
    struct content_archive_budget *b)
{
	if (kind == ARCHIVE_GZIP) {
		open_member(top, kind, p, n, list, 0, depth, b);
		return;
	}
	if (kind != ARCHIVE_ZIP)
		return;                         /* RAR, 7z, tar members are not unpacked */
	for (size_t i = 0; i < list->n_names; i++)
		open_member(top, kind, p, n, list, i, depth, b);
}

int content_archive_read_nested(enum content_archive_kind kind, const unsigned char *p, size_t n,
    struct content_archive_budget *budget, struct content_archive *out)
{
	if (kind == ARCHIVE_NONE)
		kind = content_archive_kind(p, n);
	if (content_archive_read(kind, p, n, &budget->directory, out) < 0)
		return -1;
	struct content_archive found = { 0 };
	nest(&found, kind, p, n, out, 1, budget);
	/* The inner archives' members are counted on top of the outer ones. */
	merge(out, "", &found);
	content_archive_free(&found);
	return 0;
}
