/*
 * fuzz_data_terminator.c - differential test of the DATA reader (plan F2).
 *
 * The reference below is the whole of RFC 5321 4.1.1.4 / 4.5.2 and nothing
 * else: split at CRLF, a line "." ends the data, a leading dot is removed.
 * Byte 0 picks the chunk size and the bare-LF mode; the rest is what the
 * client sends after the 354.  Asserted:
 *   - the end of data is at the same byte in both readers (or in neither),
 *     for every input, bare CR/LF/NUL included;
 *   - for pure CRLF text the content is byte-identical;
 *   - with bare CR/LF/NUL: reject mode answers 550 without data_end, and
 *     normalize mode flags bare_lf.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "smtp/smtp_proto.h"

/* Reference reader: returns bytes up to and incl. the end marker, or 0. */
static size_t ref_read(const char *d, size_t n, struct buf *out, int *bare)
{
	size_t pos = 0;

	*bare = 0;
	for (;;) {
		size_t e = pos;
		while (e + 1 < n && !(d[e] == '\r' && d[e + 1] == '\n'))
			e++;
		if (e + 1 >= n)
			return 0; /* no complete line left: no end of data */
		const char *line = d + pos;
		size_t len = e - pos;
		if (len == 1 && line[0] == '.')
			return e + 2;
		if (len > 0 && line[0] == '.') {
			line++;
			len--;
		}
		for (size_t i = 0; i < len; i++)
			if (line[i] == '\r' || line[i] == '\n' || line[i] == '\0')
				*bare = 1;
		buf_append(out, line, len);
		buf_append(out, "\r\n", 2);
		pos = e + 2;
	}
}

struct dz {
	struct buf content;
	int ended;
	struct smtp_data_info info;
};

static void dz_data_start(void *ctx, struct smtp_reply *r)
{
	(void)ctx;
	r->code = 354;
	memcpy(r->text, "Go", 3);
}

static int dz_data_write(void *ctx, const char *p, size_t n)
{
	struct dz *z = ctx;
	buf_append(&z->content, p, n);
	return 0;
}

static int dz_data_end(void *ctx, const struct smtp_data_info *info, struct smtp_reply *r)
{
	struct dz *z = ctx;
	(void)r;
	z->ended = 1;
	z->info = *info;
	return SMTP_HOOK_PENDING; /* pause: feed reports exactly where data ended */
}

static struct smtp_proto *dz_new(struct dz *z, int normalize)
{
	static const char prologue[] = "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n";
	struct smtp_limits lim = {
		.max_command_line = 512,
		.max_text_line = (size_t)1 << 40, /* the reference has no limits */
		.max_recipients = 100,
		.max_message_size = (uint64_t)1 << 40,
		.max_errors = 100,
		.max_junk = 100,
		.bare_lf_normalize = normalize,
	};
	struct smtp_hooks h = {
		.ctx = z,
		.data_start = dz_data_start,
		.data_write = dz_data_write,
		.data_end = dz_data_end,
	};
	struct smtp_proto *p = smtp_proto_new(&lim, &h, "fuzz.test");

	smtp_proto_greet(p, 220, NULL);
	if (smtp_proto_feed(p, prologue, sizeof(prologue) - 1) != sizeof(prologue) - 1 ||
	    smtp_proto_feed(p, "DATA\r\n", 6) != 6 || smtp_proto_state(p) != SMTP_S_DATA)
		abort();
	smtp_proto_output_consumed(p, (size_t)-1);
	return p;
}

/*
 * Run our reader over d in chunks; returns where the data ended (0: not).
 * When the proto answers the end itself (reject mode), it goes on to read
 * the following bytes as commands in the same call, so the exact end is
 * found by replaying the last chunk one byte at a time.
 */
static size_t dz_run(const char *d, size_t n, size_t chunk, int normalize, struct dz *z,
    struct smtp_proto **out)
{
	struct smtp_proto *p = dz_new(z, normalize);
	size_t pos = 0;

	while (pos < n) {
		size_t c = n - pos < chunk ? n - pos : chunk;
		size_t used = smtp_proto_feed(p, d + pos, c);

		if (smtp_proto_state(p) == SMTP_S_DATA) {
			if (used != c)
				abort();
			pos += c;
			continue;
		}
		if (smtp_proto_state(p) == SMTP_S_DATA_END) {
			*out = p;
			return pos + used;
		}
		/* replay up to pos with the same chunking, then byte by byte */
		smtp_proto_free(p);
		buf_reset(&z->content);
		p = dz_new(z, normalize);
		for (size_t q = 0; q < pos;) {
			size_t cq = pos - q < chunk ? pos - q : chunk;
			if (smtp_proto_feed(p, d + q, cq) != cq)
				abort();
			q += cq;
		}
		while (smtp_proto_state(p) == SMTP_S_DATA && pos < n)
			if (smtp_proto_feed(p, d + pos++, 1) != 1)
				abort();
		if (smtp_proto_state(p) == SMTP_S_DATA)
			abort(); /* did not end the second time round */
		*out = p;
		return pos;
	}
	*out = p;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t chunks[8] = { 1, 2, 3, 5, 8, 100, 4097, (size_t)-1 };
	struct dz z;
	struct buf ref = BUF_INIT;
	size_t n, chunk, ref_end, our_end;
	const char *d;
	int bare, normalize;
	struct smtp_proto *p;

	if (size < 1)
		return 0;
	chunk = chunks[data[0] & 7];
	normalize = (data[0] >> 3) & 1;
	d = (const char *)data + 1;
	n = size - 1;
	memset(&z, 0, sizeof(z));
	buf_init(&z.content);

	our_end = dz_run(d, n, chunk, normalize, &z, &p);
	ref_end = ref_read(d, n, &ref, &bare);
	if (our_end != ref_end)
		abort();
	if (ref_end) {
		if (!bare) {
			if (!z.ended || z.info.bare_lf || z.info.long_line || z.info.size_exceeded)
				abort();
			if (z.content.len != ref.len || z.info.size != ref.len ||
			    (ref.len && memcmp(z.content.data, ref.data, ref.len) != 0))
				abort();
		} else if (normalize) {
			if (!z.ended || !z.info.bare_lf)
				abort();
		} else {
			size_t ol;
			const char *o = smtp_proto_output(p, &ol);
			static const char rej[] = "550 5.5.2 Error: bare";
			if (z.ended || ol < sizeof(rej) - 1 || memcmp(o, rej, sizeof(rej) - 1) != 0)
				abort();
		}
	} else if (z.ended) {
		abort();
	}
	smtp_proto_free(p);
	buf_free(&ref);
	buf_free(&z.content);
	return 0;
}
