/*
 * content_7z.c - 7z member names and encryption from the archive's header
 * (7-Zip's 7zFormat.txt: the signature header, then the "next header" at
 * the end).  7-Zip compresses that header by default (and encrypts it with
 * -mhe), so a listing first has to decode it: with liblzma, only when it
 * is packed by LZMA or LZMA2 alone, only up to the size the archive
 * declares and the caller's budget allows.  Member data is never decoded.
 * An AES coder on the header means the names are hidden; on a folder of
 * the data, that its members are password-protected.
 */
#include "content/content_archive.h"

#include <lzma.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/unicode.h"
#include "base/util.h"

#define SIG_LEN 32u
#define MAX_LEVELS 4                /* a header packed inside a packed header ... */
#define MAX_CODERS 32u
#define MAX_FOLDERS (1u << 20)

enum {
	K_END = 0x00, K_HEADER = 0x01, K_ARCHIVE_PROPS = 0x02, K_ADDITIONAL = 0x03,
	K_MAIN = 0x04, K_FILES = 0x05, K_PACK_INFO = 0x06, K_UNPACK_INFO = 0x07,
	K_SUBSTREAMS = 0x08, K_SIZE = 0x09, K_CRC = 0x0a, K_FOLDER = 0x0b,
	K_UNPACK_SIZE = 0x0c, K_NUM_UNPACK = 0x0d, K_EMPTY_STREAM = 0x0e, K_NAME = 0x11,
	K_ENCODED_HEADER = 0x17,
};

enum coder { C_OTHER, C_LZMA, C_LZMA2, C_AES };

struct rd {
	const unsigned char *p;
	size_t n, q;
	int bad;
};

struct folder {
	int aes;                /* an AES coder among its coders */
	int crc;                /* its unpacked CRC is given */
	enum coder only;        /* the coder, when it has exactly one */
	unsigned char props[8];
	size_t n_props;
	uint64_t unpack_size;   /* of its last coder's output */
	uint64_t n_sub;         /* files whose data it holds */
};

struct streams {
	uint64_t pack_pos, pack_size;  /* the first packed stream */
	struct folder *f;
	size_t n_f;
};

static unsigned rd_byte(struct rd *r)
{
	if (r->q >= r->n) {
		r->bad = 1;
		return 0;
	}
	return r->p[r->q++];
}

/* 7z's NUMBER: the leading one bits of the first byte say how many bytes
 * follow (little-endian); its remaining bits are the top of the value. */
static uint64_t rd_num(struct rd *r)
{
	const unsigned first = rd_byte(r);
	uint64_t v = 0;
	unsigned mask = 0x80;
	for (unsigned i = 0; i < 8; i++, mask >>= 1) {
		if (!(first & mask))
			return v | (uint64_t)(first & (mask - 1)) << (8 * i);
		v |= (uint64_t)rd_byte(r) << (8 * i);
	}
	return v;
}

/* A property id: one NUMBER; one past the byte range is no id we know
 * (and must not wrap to K_END). */
static unsigned rd_id(struct rd *r)
{
	const uint64_t v = rd_num(r);
	return v > 0xff ? 0x100 : (unsigned)v;
}

static void rd_skip(struct rd *r, uint64_t k)
{
	if (k > r->n - r->q) {
		r->bad = 1;
		r->q = r->n;
		return;
	}
	r->q += (size_t)k;
}

/* A list of count CRCs, with its "all defined" byte or bit vector. */
static void skip_digests(struct rd *r, uint64_t count)
{
	uint64_t defined = count;
	if (rd_byte(r) == 0) {
		defined = 0;
		for (uint64_t i = 0; i < count && !r->bad; i += 8) {
			unsigned b = rd_byte(r);
			for (unsigned k = 0; k < 8 && i + k < count; k++)
				defined += (b >> (7 - k)) & 1;
		}
	}
	if (defined > (r->n - r->q) / 4)
		r->bad = 1;
	else
		rd_skip(r, 4 * defined);
}

static void pack_info(struct rd *r, struct streams *s)
{
	s->pack_pos = rd_num(r);
	const uint64_t count = rd_num(r);
	for (unsigned id; !r->bad && (id = rd_id(r)) != K_END;) {
		if (id == K_SIZE) {
			for (uint64_t i = 0; i < count && !r->bad; i++) {
				uint64_t v = rd_num(r);
				if (i == 0)
					s->pack_size = v;
			}
		} else if (id == K_CRC) {
			skip_digests(r, count);
		} else {
			r->bad = 1;
		}
	}
}

static enum coder coder_kind(const unsigned char *id, size_t len)
{
	if (len == 3 && memcmp(id, "\x03\x01\x01", 3) == 0)
		return C_LZMA;
	if (len == 1 && id[0] == 0x21)
		return C_LZMA2;
	if (len == 4 && memcmp(id, "\x06\xf1\x07\x01", 4) == 0)
		return C_AES;
	return C_OTHER;
}

/* One folder: its coders and how they are bound; returns its number of
 * outputs (each gets an unpack size later), 0 when it cannot be read. */
static uint64_t folder(struct rd *r, struct folder *f)
{
	const uint64_t n_coders = rd_num(r);
	uint64_t in = 0, out = 0;
	if (n_coders == 0 || n_coders > MAX_CODERS) {
		r->bad = 1;
		return 0;
	}
	for (uint64_t c = 0; c < n_coders && !r->bad; c++) {
		const unsigned flag = rd_byte(r);
		const size_t id_len = flag & 0x0f;
		if ((flag & 0xc0) || id_len > r->n - r->q) {
			r->bad = 1;    /* 0x80 was "alternative methods", never written */
			return 0;
		}
		const enum coder kind = coder_kind(r->p + r->q, id_len);
		r->q += id_len;
		if (flag & 0x10) {
			in += rd_num(r);
			out += rd_num(r);
		} else {
			in++, out++;
		}
		if (kind == C_AES)
			f->aes = 1;
		f->only = n_coders == 1 ? kind : C_OTHER;
		if (flag & 0x20) {
			const uint64_t np = rd_num(r);
			if (np <= sizeof(f->props) && np <= r->n - r->q) {
				memcpy(f->props, r->p + r->q, (size_t)np);
				f->n_props = (size_t)np;
			}
			rd_skip(r, np);
		}
	}
	if (out == 0 || out > MAX_CODERS * 4 || in > MAX_CODERS * 4 || in < out - 1) {
		r->bad = 1;
		return 0;
	}
	for (uint64_t b = 0; b < out - 1; b++)    /* bind pairs: in index, out index */
		rd_num(r), rd_num(r);
	const uint64_t packed = in - (out - 1);
	if (packed > 1)
		for (uint64_t k = 0; k < packed; k++)
			rd_num(r);
	return r->bad ? 0 : out;
}

static void unpack_info(struct rd *r, struct streams *s)
{
	if (rd_num(r) != K_FOLDER) {
		r->bad = 1;
		return;
	}
	const uint64_t n = rd_num(r);
	if (rd_byte(r) != 0 || n > MAX_FOLDERS || n > r->n - r->q) {
		r->bad = 1;        /* folders kept in another stream: not read here */
		return;
	}
	s->f = xcalloc((size_t)n ? (size_t)n : 1, sizeof(*s->f));
	s->n_f = (size_t)n;
	uint64_t *outs = xcalloc((size_t)n ? (size_t)n : 1, sizeof(*outs));
	for (size_t i = 0; i < s->n_f && !r->bad; i++) {
		s->f[i].n_sub = 1;
		outs[i] = folder(r, &s->f[i]);
	}
	if (!r->bad && rd_num(r) != K_UNPACK_SIZE)
		r->bad = 1;
	for (size_t i = 0; i < s->n_f && !r->bad; i++)
		for (uint64_t k = 0; k < outs[i]; k++)
			s->f[i].unpack_size = rd_num(r);
	free(outs);
	for (unsigned id; !r->bad && (id = rd_id(r)) != K_END;) {
		if (id != K_CRC) {
			r->bad = 1;
			break;
		}
		const size_t at = r->q;
		skip_digests(r, s->n_f);
		if (r->bad)
			break;
		/* Which folders have a CRC: the same vector, read again. */
		const int all = r->p[at] != 0;
		for (size_t i = 0; i < s->n_f && !r->bad; i++)
			s->f[i].crc = all || (r->p[at + 1 + i / 8] >> (7 - i % 8)) & 1;
	}
}

static void substreams(struct rd *r, struct streams *s)
{
	for (unsigned id; !r->bad && (id = rd_id(r)) != K_END;) {
		if (id == K_NUM_UNPACK) {
			for (size_t i = 0; i < s->n_f && !r->bad; i++)
				s->f[i].n_sub = rd_num(r);
		} else if (id == K_SIZE) {
			for (size_t i = 0; i < s->n_f && !r->bad; i++)
				for (uint64_t k = 1; k < s->f[i].n_sub && !r->bad; k++)
					rd_num(r);
		} else if (id == K_CRC) {
			uint64_t count = 0;
			for (size_t i = 0; i < s->n_f; i++)
				if (s->f[i].n_sub != 1 || !s->f[i].crc)
					count += s->f[i].n_sub;
			skip_digests(r, count);
		} else {
			r->bad = 1;
		}
	}
}

static void streams_info(struct rd *r, struct streams *s)
{
	for (unsigned id; !r->bad && (id = rd_id(r)) != K_END;) {
		if (id == K_PACK_INFO)
			pack_info(r, s);
		else if (id == K_UNPACK_INFO && s->f == NULL)
			unpack_info(r, s);
		else if (id == K_SUBSTREAMS)
			substreams(r, s);
		else
			r->bad = 1;
	}
}

/* UTF-16LE up to its NUL, as UTF-8 of at most ARCHIVE_MAX_NAME bytes cut
 * between characters; a lone surrogate becomes U+FFFD. */
static size_t utf16_name(const unsigned char *p, size_t n, size_t *used, unsigned char *out)
{
	size_t o = 0, i = 0;
	for (; i + 1 < n; i += 2) {
		uint32_t c = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8;
		if (c == 0) {
			i += 2;
			break;
		}
		if (c >= 0xd800 && c < 0xdc00 && i + 3 < n) {
			uint32_t lo = (uint32_t)p[i + 2] | (uint32_t)p[i + 3] << 8;
			if (lo >= 0xdc00 && lo < 0xe000) {
				c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
				i += 2;
			}
		}
		char u[4];
		const size_t k = unicode_utf8_put(c, u);   /* a lone surrogate: U+FFFD */
		if (o + k <= ARCHIVE_MAX_NAME) {
			memcpy(out + o, u, k);
			o += k;
		}
	}
	*used = i < n ? i : n;
	return o;
}

/* The files' names, and which of them are in an encrypted folder: the
 * files with data take the folders' streams in order. */
static void files_info(struct rd *r, const struct streams *s, struct content_archive *a)
{
	const uint64_t n_files = rd_num(r);
	const unsigned char *empty = NULL, *names = NULL;
	size_t empty_len = 0, names_len = 0;

	if (n_files > ARCHIVE_MAX_DIRECTORY) {
		r->bad = 1;
		return;
	}
	for (unsigned type; !r->bad && (type = rd_id(r)) != K_END;) {
		const uint64_t size = rd_num(r);
		if (r->bad || size > r->n - r->q) {
			r->bad = 1;
			return;
		}
		if (type == K_EMPTY_STREAM)
			empty = r->p + r->q, empty_len = (size_t)size;
		else if (type == K_NAME && size > 0 && r->p[r->q] == 0)
			names = r->p + r->q + 1, names_len = (size_t)size - 1;
		r->q += (size_t)size;
	}
	size_t f = 0;
	uint64_t in_f = 0;
	for (uint64_t i = 0; i < n_files; i++) {
		int enc = 0;
		const int no_data = empty != NULL && i / 8 < empty_len && (empty[i / 8] >> (7 - i % 8)) & 1;
		if (!no_data) {
			while (f < s->n_f && in_f >= s->f[f].n_sub)
				f++, in_f = 0;
			if (f < s->n_f) {
				enc = s->f[f].aes;
				in_f++;
			}
		}
		if (names != NULL && names_len > 0) {
			unsigned char u[ARCHIVE_MAX_NAME];
			size_t used;
			size_t len = utf16_name(names, names_len, &used, u);
			names += used, names_len -= used;
			content_archive_add(a, u, len, enc);
		} else {
			a->members++;
			a->encrypted += enc != 0;
		}
	}
}

/* The packed header of folder 0 decoded into *out (the caller frees).  0,
 * or -1 when it cannot be (another coder, damage, past the budget). */
static int decode_header(const unsigned char *p, size_t n, const struct streams *s,
    size_t *budget, struct content_archive *a, unsigned char **out, size_t *out_len)
{
	const struct folder *f = &s->f[0];
	if (f->aes) {
		a->hidden = 1;
		a->encrypted = a->encrypted ? a->encrypted : 1;
		return -1;
	}
	if (f->only != C_LZMA && f->only != C_LZMA2)
		return a->names_cut = 1, -1;   /* a coder not decoded here: not listable */
	if (f->unpack_size > ARCHIVE_MAX_DIRECTORY || f->unpack_size > *budget)
		return a->names_cut = 1, -1;
	if (s->pack_pos > n - SIG_LEN || s->pack_size > n - SIG_LEN - s->pack_pos)
		return a->damaged = 1, -1;

	lzma_filter flt[2] = { { .id = f->only == C_LZMA ? LZMA_FILTER_LZMA1 : LZMA_FILTER_LZMA2 },
		{ .id = LZMA_VLI_UNKNOWN } };
	if (lzma_properties_decode(&flt[0], NULL, f->props, f->n_props) != LZMA_OK)
		return a->damaged = 1, -1;
	/* A dictionary larger than the output is never used; the declared
	 * one could be 4 GiB. */
	lzma_options_lzma *o = flt[0].options;
	if (o->dict_size > f->unpack_size)
		o->dict_size = f->unpack_size < LZMA_DICT_SIZE_MIN ? LZMA_DICT_SIZE_MIN :
		    (uint32_t)f->unpack_size;
	lzma_stream z = LZMA_STREAM_INIT;
	lzma_ret ret = lzma_raw_decoder(&z, flt);
	free(flt[0].options);
	if (ret != LZMA_OK)
		return a->damaged = 1, -1;
	unsigned char *buf = xmalloc((size_t)f->unpack_size + 1);
	z.next_in = p + SIG_LEN + s->pack_pos;
	z.avail_in = (size_t)s->pack_size;
	z.next_out = buf;
	z.avail_out = (size_t)f->unpack_size;
	do
		ret = lzma_code(&z, LZMA_FINISH);
	while (ret == LZMA_OK && z.avail_out > 0 && z.avail_in > 0);
	const size_t got = (size_t)f->unpack_size - z.avail_out;
	lzma_end(&z);
	*budget -= (size_t)f->unpack_size;
	if (got != f->unpack_size) {
		free(buf);
		return a->damaged = 1, -1;
	}
	*out = buf;
	*out_len = got;
	return 0;
}

static void streams_free(struct streams *s)
{
	free(s->f);
	memset(s, 0, sizeof(*s));
}

static void read_header(struct rd *r, struct content_archive *a)
{
	struct streams main = { 0 }, extra = { 0 };
	unsigned id = rd_id(r);
	if (id == K_ARCHIVE_PROPS) {
		while (!r->bad && rd_id(r) != K_END)
			rd_skip(r, rd_num(r));
		id = rd_id(r);
	}
	if (id == K_ADDITIONAL) {
		streams_info(r, &extra);
		id = rd_id(r);
	}
	if (id == K_MAIN) {
		streams_info(r, &main);
		id = rd_id(r);
	}
	if (id == K_FILES && !r->bad) {
		files_info(r, &main, a);
		id = rd_id(r);
	}
	if (r->bad || id != K_END)
		a->damaged = 1;
	streams_free(&main);
	streams_free(&extra);
}

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int content_7z_read(const unsigned char *p, size_t n, size_t *decode_budget,
    struct content_archive *out)
{
	memset(out, 0, sizeof(*out));
	if (n < 6 || memcmp(p, "7z\xbc\xaf\x27\x1c", 6) != 0)
		return -1;
	if (n < SIG_LEN) {
		out->damaged = 1;
		return 0;
	}
	const uint64_t off = le64(p + 12), size = le64(p + 20);
	if (off > n - SIG_LEN || size > n - SIG_LEN - off) {
		out->damaged = 1;              /* cut: the header is at the end */
		return 0;
	}
	if (size == 0)
		return 0;                      /* an empty archive */
	struct rd r = { .p = p + SIG_LEN + off, .n = (size_t)size };
	unsigned char *decoded = NULL;
	for (int level = 0; level <= MAX_LEVELS; level++) {
		const unsigned id = rd_id(&r);
		if (id == K_HEADER && !r.bad) {
			read_header(&r, out);
			break;
		}
		if (id != K_ENCODED_HEADER || r.bad || level == MAX_LEVELS) {
			out->damaged = 1;
			break;
		}
		struct streams s = { 0 };
		streams_info(&r, &s);
		unsigned char *next = NULL;
		size_t next_len = 0;
		int rc = -1;
		if (r.bad || s.n_f == 0)
			out->damaged = 1;
		else
			rc = decode_header(p, n, &s, decode_budget, out, &next, &next_len);
		streams_free(&s);
		free(decoded);
		decoded = next;
		if (rc < 0)
			break;
		r = (struct rd){ .p = decoded, .n = next_len };
	}
	free(decoded);
	return 0;
}
