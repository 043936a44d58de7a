/*
 * content.c - MIME parsing with GMime into our own view (content.h).
 *
 * GMime builds the tree (it bounds its own recursion at 1024 levels and
 * reports GMIME_CRIT_NESTING_OVERFLOW); we then walk it iteratively with an
 * explicit stack and depth counter, so max_depth and max_parts apply however
 * the nesting is spelled (multipart, message/rfc822, alternating: M1-M5).
 * Bodies are decoded by us in chunks through GMime's lenient decoders, so
 * the decoded budget is enforced while decoding, not after.
 *
 * GMime and GLib types stay in this file (STYLE 7).
 */
#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <gmime/gmime.h>

#include "base/util.h"
#include "content/content_int.h"
#include "content/content_archive.h"
#include "content/content_cfb.h"
#include "content/content_htmlfile.h"
#include "content/content_office.h"
#include "content/content_onenote.h"
#include "content/content_ooxml.h"
#include "content/content_pdf.h"
#include "content/content_rtf.h"

#define CHUNK 16384

struct content_limits content_limits_default(void)
{
	struct content_limits l = {
		.max_depth = 64,
		.max_parts = 10000,
		.max_header_bytes = 1u << 20,
		.max_decoded_bytes = 32u << 20,
		.max_text_bytes = 2u << 20,
		.max_urls = 2000,
	};
	return l;
}

static const char *const flag_names[] = { "LIMIT_DEPTH", "LIMIT_PARTS", "LIMIT_HEADERS",
	"LIMIT_DECODED", "LIMIT_TEXT", "LIMIT_URLS", "BAD_BOUNDARY", "BAD_BASE64", "BAD_QP",
	"UNKNOWN_CHARSET", "BAD_CHARSET_DATA", "MALFORMED_HEADER", "NUL_BYTES", "HTML_ONLY",
	"MISSING_DATE", "MISSING_MESSAGE_ID", "MISSING_FROM", "BAD_ENCODED_WORD",
	"CONFLICTING_HEADER", "TRUNCATED", "8BIT_HEADER", "NO_TEXT", "AMBIGUOUS_STRUCTURE",
	"ARCHIVE_UNSCANNABLE" };

const char *content_flag_name(unsigned bit)
{
	for (size_t i = 0; i < MW_ARRAY_LEN(flag_names); i++)
		if (bit == 1u << i)
			return flag_names[i];
	return NULL;
}

const char *content_ftype_name(enum content_ftype t)
{
	static const char *const names[] = { "unknown", "exe", "elf", "zip", "rar", "7z", "gzip",
		"pdf", "ole", "script", "text", "tar", "iso", "html", "rtf", "lnk", "onenote" };
	return (size_t)t < MW_ARRAY_LEN(names) ? names[t] : "unknown";
}

/* g_mime_init() is process-global and not idempotent-safe across threads. */
static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void gmime_init(void)
{
	g_mime_init();
}

/* ---- raw header block checks ------------------------------------------- */

/* The top-level header block is read by us, from the raw bytes: the header
 * list is exactly what the message says (M12), and its cost is ours to
 * bound.  One linear pass records the fields; checks what GMime smooths
 * over (lines without a colon, bad names, a continuation line first, 8-bit
 * bytes); applies max_header_bytes and MAX_HEADER_LINES (M9).  GMime is
 * then given the message without the fields we drop (over the limits, or
 * a Subject longer than GMIME_SUBJECT_MAX: GMime decodes Subject eagerly,
 * quadratic in its "=?" openers - 64 KiB took 0.2 s, 512 KiB 25 s). */
#define MAX_HEADER_LINES 10000
#define GMIME_SUBJECT_MAX 2048
#define HEADER_VALUE_MAX (256u << 10)

struct raw_field {
	size_t start, colon, end; /* end: past the last line's terminator */
};

static void add_header(struct content_msg *m, const char *d, const struct raw_field *f,
	size_t *budget, struct buf *v)
{
	size_t ne = f->colon;
	while (ne > f->start && (d[ne - 1] == ' ' || d[ne - 1] == '\t'))
		ne--;
	size_t nl = ne - f->start;
	if (nl + 2 > *budget) {
		m->flags |= CONTENT_F_LIMIT_HEADERS;
		*budget = 0;
		return;
	}
	buf_reset(v);
	size_t max = *budget - nl - 2 < HEADER_VALUE_MAX ? *budget - nl - 2 : HEADER_VALUE_MAX;
	rfc2047_decode(d + f->colon + 1, f->end - f->colon - 1, v, max, &m->flags);
	*budget -= nl + 2 + v->len;
	struct buf nb = BUF_INIT;
	utf8_sanitize_append(&nb, d + f->start, nl, 256, NULL);
	struct content_header *ch = VEC_PUSH(m->headers);
	ch->name = arena_strndup(&m->arena, nb.data ? nb.data : "", nb.len);
	ch->value = arena_strndup(&m->arena, v->data ? v->data : "", v->len);
	buf_free(&nb);
}

/* Returns a heap copy of the message for GMime when fields had to be
 * dropped (*out_len set), else NULL (parse the input in place). */
static char *raw_headers(struct content_msg *m, const char *d, size_t len, size_t *out_len)
{
	VEC(struct raw_field) fields = { NULL, 0, 0 };
	struct raw_field cur = { 0, 0, 0 };
	int have = 0, cut = 0;
	size_t i = 0;
	if (memchr(d, '\0', len) != NULL)
		m->flags |= CONTENT_F_NUL_BYTES;
	if (len > 0 && (d[0] == ' ' || d[0] == '\t'))
		m->flags |= CONTENT_F_MALFORMED_HEADER;
	while (i < len) {
		const char *nl = memchr(d + i, '\n', len - i);
		size_t le = nl ? (size_t)(nl - d) : len;
		size_t ll = le - i;
		if (ll > 0 && d[le - 1] == '\r')
			ll--;
		if (ll == 0)
			break; /* the blank line ending the block */
		size_t next = nl ? le + 1 : len;
		if (!cut && (next > m->lim.max_header_bytes || fields.n >= MAX_HEADER_LINES)) {
			cut = 1;
			m->flags |= CONTENT_F_LIMIT_HEADERS;
		}
		if (!(m->flags & CONTENT_F_8BIT_HEADER))
			for (size_t k = i; k < i + ll; k++)
				if ((unsigned char)d[k] >= 0x80) {
					m->flags |= CONTENT_F_8BIT_HEADER;
					break;
				}
		if (d[i] == ' ' || d[i] == '\t') {
			if (have && !cut)
				cur.end = next; /* continuation */
		} else {
			if (have && !cut)
				*VEC_PUSH(fields) = cur;
			have = 0;
			const char *colon = memchr(d + i, ':', ll);
			if (colon == NULL || colon == d + i) {
				m->flags |= CONTENT_F_MALFORMED_HEADER;
			} else {
				for (const char *p = d + i; p < colon; p++)
					if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f) {
						m->flags |= CONTENT_F_MALFORMED_HEADER;
						break;
					}
				cur = (struct raw_field){ i, (size_t)(colon - d), next };
				have = 1;
			}
		}
		i = next;
	}
	if (have && !cut)
		*VEC_PUSH(fields) = cur;
	size_t body = i < len ? i : len;

	size_t budget = m->lim.max_header_bytes;
	struct buf v = BUF_INIT;
	int drop = cut;
	for (size_t k = 0; k < fields.n && budget > 0; k++) {
		add_header(m, d, &fields.v[k], &budget, &v);
		const struct raw_field *f = &fields.v[k];
		if (f->end - f->start > GMIME_SUBJECT_MAX && f->colon - f->start == 7 &&
			strncasecmp(d + f->start, "subject", 7) == 0)
			drop = 1;
	}
	buf_free(&v);

	char *copy = NULL;
	if (drop) {
		struct buf c = BUF_INIT;
		for (size_t k = 0; k < fields.n; k++) {
			const struct raw_field *f = &fields.v[k];
			if (f->end - f->start > GMIME_SUBJECT_MAX && f->colon - f->start == 7 &&
				strncasecmp(d + f->start, "subject", 7) == 0)
				continue;
			buf_append(&c, d + f->start, f->end - f->start);
		}
		buf_append(&c, d + body, len - body);
		*out_len = c.len;
		copy = buf_steal(&c);
	}
	free(fields.v);
	return copy;
}

/* ---- headers and convenience fields ------------------------------------- */

static const char *dup_utf8(struct content_msg *m, const char *s, size_t max)
{
	if (s == NULL)
		return "";
	struct buf b = BUF_INIT;
	utf8_sanitize_append(&b, s, strlen(s), max, NULL);
	const char *r = arena_strndup(&m->arena, b.data ? b.data : "", b.len);
	buf_free(&b);
	return r;
}

/* Convenience fields: Subject and the header checks from our own list;
 * the From address, Message-ID and Date through GMime's parsers. */
static void header_checks(struct content_msg *m)
{
	/* Two of a header that must be unique: clients and scanners may pick
	 * different ones (M7). */
	static const char *const unique[] = { "Content-Type", "Content-Transfer-Encoding",
		"Subject", "From", "Date", "Message-ID", NULL };
	for (int i = 0; unique[i]; i++)
		if (content_header(m, unique[i], 1) != NULL)
			m->flags |= CONTENT_F_CONFLICTING_HEADER;
	const char *subject = content_header(m, "Subject", 0);
	m->subject = subject ? subject : "";
	const char *from = content_header(m, "From", 0);
	m->from = from ? from : "";
	if (from == NULL)
		m->flags |= CONTENT_F_MISSING_FROM;
	if (content_header(m, "Message-ID", 0) == NULL)
		m->flags |= CONTENT_F_MISSING_MESSAGE_ID;
	if (content_header(m, "Date", 0) == NULL)
		m->flags |= CONTENT_F_MISSING_DATE;
}

static void take_fields(struct content_msg *m, GMimeMessage *msg)
{
	InternetAddressList *fl = g_mime_message_get_from(msg);
	if (fl != NULL && internet_address_list_length(fl) > 0) {
		InternetAddress *ia = internet_address_list_get_address(fl, 0);
		if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
			const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
			char *a = (char *)(uintptr_t)dup_utf8(m, addr, 1024);
			char *at = strrchr(a, '@');
			for (char *p = at; p && *p; p++)
				*p = (char)tolower((unsigned char)*p);
			m->from_addr = a;
		}
	}
	m->message_id = dup_utf8(m, g_mime_message_get_message_id(msg), 1024);
	if (content_header(m, "Date", 0) != NULL) {
		GDateTime *dt = g_mime_message_get_date(msg);
		if (dt != NULL) {
			m->date = g_date_time_to_unix(dt);
			m->has_date = 1;
		}
	}
}

/* ---- body decoding ------------------------------------------------------ */

struct enc_check {
	int pad_seen;
	size_t alpha;
};

static int b64_alpha(unsigned char c)
{
	return isalnum(c) || c == '+' || c == '/';
}

/* Lenient base64 (M16): every non-alphabet byte, '=' included, is skipped,
 * the way most MUAs decode; GMime's decoder stops at the first '=' and so
 * would hide whatever follows a stray pad from the scanner. */
struct b64_state {
	uint32_t bits;
	int nbits;
};

static size_t b64_decode(struct b64_state *st, const char *in, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else
			continue;
		st->bits = (st->bits << 6) | (uint32_t)v;
		st->nbits += 6;
		if (st->nbits >= 8) {
			st->nbits -= 8;
			out[o++] = (char)(st->bits >> st->nbits);
		}
	}
	return o;
}

/* Flags what GMime's lenient decoders silently skip (M16/M17). */
static void check_encoded(struct content_msg *m, GMimeContentEncoding enc, struct enc_check *st,
	const char *s, size_t n)
{
	if (enc == GMIME_CONTENT_ENCODING_BASE64) {
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)s[i];
			if (b64_alpha(c)) {
				if (st->pad_seen)
					m->flags |= CONTENT_F_BAD_BASE64;
				st->alpha++;
			} else if (c == '=') {
				st->pad_seen = 1;
			} else if (c != '\r' && c != '\n' && c != ' ' && c != '\t') {
				m->flags |= CONTENT_F_BAD_BASE64;
			}
		}
	} else if (enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE) {
		for (const char *p = memchr(s, '=', n); p != NULL;
			p = memchr(p + 1, '=', n - (size_t)(p + 1 - s))) {
			size_t left = n - (size_t)(p - s);
			if (left < 3)
				break; /* may continue in the next chunk */
			if (!(isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) &&
				p[1] != '\n' && !(p[1] == '\r' && p[2] == '\n') && p[1] != ' ' && p[1] != '\t')
				m->flags |= CONTENT_F_BAD_QP;
			if (p + 1 >= s + n)
				break;
		}
	}
}

/* Decode a leaf's body, within what is left of the decoded budget.  sink
 * receives decoded chunks.  Returns 1 when the budget cut it short. */
typedef void (*sink_fn)(void *ctx, const char *p, size_t n);

static int decode_body(struct content_msg *m, GMimePart *part, sink_fn sink, void *ctx)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	if (w == NULL)
		return 0;
	GMimeStream *s = g_mime_data_wrapper_get_stream(w);
	if (s == NULL)
		return 0;
	GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(w);
	int b64 = enc == GMIME_CONTENT_ENCODING_BASE64;
	int transform = enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
		enc == GMIME_CONTENT_ENCODING_UUENCODE;
	GMimeEncoding st;
	struct b64_state bst = { 0, 0 };
	if (transform)
		g_mime_encoding_init_decode(&st, enc);
	struct enc_check chk = { 0, 0 };
	char *in = xmalloc(CHUNK);
	/* Decoders never expand: outlen() bounds a chunk's output. */
	char *out = xmalloc(transform ? g_mime_encoding_outlen(&st, CHUNK) + 16 : CHUNK);
	int cut = 0;
	g_mime_stream_reset(s);
	for (;;) {
		ssize_t r = g_mime_stream_read(s, in, CHUNK);
		int last = r <= 0;
		const char *p = in;
		size_t n = 0;
		if (b64) {
			if (!last) {
				n = b64_decode(&bst, in, (size_t)r, out);
				check_encoded(m, enc, &chk, in, (size_t)r);
			}
			p = out;
		} else if (transform) {
			n = last ? g_mime_encoding_flush(&st, in, 0, out)
				: g_mime_encoding_step(&st, in, (size_t)r, out);
			p = out;
			if (!last)
				check_encoded(m, enc, &chk, in, (size_t)r);
		} else if (!last) {
			n = (size_t)r;
		}
		size_t left = m->lim.max_decoded_bytes - m->decoded_total;
		if (n > left) {
			n = left;
			cut = 1;
		}
		if (n > 0) {
			m->decoded_total += n;
			sink(ctx, p, n);
		}
		if (cut || last)
			break;
	}
	if (enc == GMIME_CONTENT_ENCODING_BASE64 && chk.alpha % 4 == 1)
		m->flags |= CONTENT_F_BAD_BASE64;
	if (cut)
		m->flags |= CONTENT_F_LIMIT_DECODED;
	free(in);
	free(out);
	return cut;
}

static void sink_buf(void *ctx, const char *p, size_t n)
{
	buf_append(ctx, p, n);
}


enum content_ftype content_detect_type(const unsigned char *h, size_t n)
{
	static const struct { const char *magic; size_t len; enum content_ftype t; } tab[] = {
		{ "MZ", 2, CONTENT_FT_EXE },
		{ "\x7f" "ELF", 4, CONTENT_FT_ELF },
		{ "Rar!\x1a\x07", 6, CONTENT_FT_RAR },
		{ "7z\xbc\xaf\x27\x1c", 6, CONTENT_FT_7Z },
		{ "\x1f\x8b", 2, CONTENT_FT_GZIP },
		{ CONTENT_CFB_SIG, 8, CONTENT_FT_OLE },
		{ "#!", 2, CONTENT_FT_SCRIPT },
		{ "{\\rt", 4, CONTENT_FT_RTF },
		/* a shell link: its header size, then the link class id */
		{ "L\0\0\0\x01\x14\x02\0", 8, CONTENT_FT_LNK },
		{ "\xe4\x52\x5c\x7b\x8c\xd8\xa7\x4d\xae\xb1\x53\x78\xd0\x29\x96\xd3", 16, CONTENT_FT_ONENOTE },
	};
	for (size_t i = 0; i < MW_ARRAY_LEN(tab); i++)
		if (n >= tab[i].len && memcmp(h, tab[i].magic, tab[i].len) == 0)
			return tab[i].t;
	switch (content_archive_kind(h, n)) {
	case ARCHIVE_ZIP: return CONTENT_FT_ZIP;
	case ARCHIVE_TAR: return CONTENT_FT_TAR;
	default: break;
	}
	/* PDF readers accept the header anywhere in the first KiB. */
	for (size_t i = 0; i + 5 <= n; i++)
		if (memcmp(h + i, "%PDF-", 5) == 0)
			return CONTENT_FT_PDF;
	if (n == 0)
		return CONTENT_FT_UNKNOWN;
	size_t bin = 0;
	for (size_t i = 0; i < n; i++)
		if (h[i] < 0x09 || (h[i] > 0x0d && h[i] < 0x20))
			bin++;
	if (bin * 20 > n)
		return CONTENT_FT_UNKNOWN;
	/* What reaches outside a browser or an editor: the Windows script
	 * hosts, a shell, ActiveX.  Words any code has ("function(", "Dim ",
	 * "eval(") are not enough - a CSV, a JSON export or a page with a
	 * chart script has them, and a page is read by the web page checks. */
	static const char *const script[] = { "wscript", "cscript", "createobject", "powershell",
		"@echo off", "cmd.exe", "cmd /c", "<job", "activexobject", "shell.application",
		"getobject(", NULL };
	for (int i = 0; script[i]; i++)
		if (content_find_ci(h, n, script[i]) != NULL)
			return CONTENT_FT_SCRIPT;
	if (content_htmlfile_is(h, n))
		return CONTENT_FT_HTML;
	return CONTENT_FT_TEXT;
}

/* An archive's directory is at its end (ZIP, 7z) or spread through it
 * (RAR, tar), and so is an OLE file's, and a web page's form or script
 * or a PDF's actions can be anywhere in it: an attachment that starts like one of them is
 * kept whole, up to this much (the scan reads at most [scan] max_size of
 * a message anyway), to look into it. */
#define ARCHIVE_KEEP_MAX (8u << 20)

struct att_sink {
	EVP_MD_CTX *md;
	unsigned char head[512];
	size_t head_len;
	size_t size;
	int keep;            /* 0 undecided, 1 keeping the bytes, -1 nothing to look into */
	int image_name;      /* named like a disk image: its directory is 32 KiB in */
	int keep_cut;        /* longer than ARCHIVE_KEEP_MAX */
	struct buf bytes;
};

/* An ISO image's first 32 KiB are its system area, zeros but for hybrid
 * boot images: a head of zeros may be one. */
static int zero_head(const unsigned char *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (h[i])
			return 0;
	return n > 0;
}

static int image_name(const char *name)
{
	const size_t l = name ? strlen(name) : 0;
	return l > 4 && (strcasecmp(name + l - 4, ".iso") == 0 || strcasecmp(name + l - 4, ".img") == 0);
}

static void keep_bytes(struct att_sink *a, const char *p, size_t n)
{
	size_t room = ARCHIVE_KEEP_MAX - a->bytes.len;
	if (n > room) {
		n = room;
		a->keep_cut = 1;
	}
	buf_append(&a->bytes, p, n);
}

static void sink_att(void *ctx, const char *p, size_t n)
{
	struct att_sink *a = ctx;
	size_t k = 0;
	if (a->head_len < sizeof(a->head)) {
		k = sizeof(a->head) - a->head_len;
		if (k > n)
			k = n;
		memcpy(a->head + a->head_len, p, k);
		a->head_len += k;
	}
	/* Decided on a full head (a tar header is 512 bytes); a shorter
	 * attachment is all in the head. */
	if (a->keep == 0 && a->head_len == sizeof(a->head)) {
		a->keep = content_archive_kind(a->head, a->head_len) != ARCHIVE_NONE ||
		    memcmp(a->head, CONTENT_CFB_SIG, 8) == 0 ||
		    content_htmlfile_is(a->head, a->head_len) || a->image_name ||
		    content_rtf_is(a->head, a->head_len) || content_onenote_is(a->head, a->head_len) ||
		    zero_head(a->head, a->head_len) ||
		    memmem(a->head, a->head_len, "%PDF-", 5) != NULL ? 1 : -1;
		if (a->keep == 1) {    /* what came before, then the rest of this chunk */
			keep_bytes(a, (const char *)a->head, a->head_len);
			keep_bytes(a, p + k, n - k);
		}
	} else if (a->keep == 1) {
		keep_bytes(a, p, n);
	}
	EVP_DigestUpdate(a->md, p, n);
	a->size += n;
}

/* The attachment's bytes as kept: all of them, or a short one's head. */
static const unsigned char *kept_bytes(const struct att_sink *as, size_t *n)
{
	*n = as->keep == 1 ? as->bytes.len : as->head_len;
	return as->keep == 1 ? (const unsigned char *)as->bytes.data : as->head;
}

/* What an archive attachment lists, as content_archive.h reads it. */
static void take_archive(struct content_msg *m, struct content_attachment *a, struct att_sink *as)
{
	size_t n;
	const unsigned char *p = kept_bytes(as, &n);
	struct content_archive z;
	if (content_archive_read_nested(ARCHIVE_NONE, p, n, &m->archive_budget, &z) == 0) {
		a->archive_members = z.members;
		a->archive_encrypted = z.encrypted;
		a->archive_hidden = z.hidden;
		a->archive_nested_cut = z.nested_cut;
		a->archive_damaged = z.damaged || as->keep_cut;
		a->archive_disguised = z.disguised;
		if (z.n_names > 0) {
			const char **names = arena_alloc(&m->arena, z.n_names * sizeof(*names));
			int package = 0;
			for (size_t i = 0; i < z.n_names; i++) {
				names[i] = dup_utf8(m, z.names[i], ARCHIVE_MAX_NAME * 3);
				if (a->detected == CONTENT_FT_ZIP) {
					a->office |= content_package_macro_part(names[i]);
					package |= content_ooxml_marker(names[i]);
				}
			}
			if (package) {
				struct content_ooxml o;
				content_ooxml_scan(p, n, &m->archive_budget.unpacked, &o);
				a->ooxml = o.flags;
				if (o.target[0] != '\0')
					a->ooxml_target = dup_utf8(m, o.target, sizeof(o.target));
			}
			a->archive_names = names;
			a->n_archive_names = z.n_names;
		}
		/* A gzip that stores no name unpacks to the attachment's own name
		 * without its suffix, as gunzip does. */
		if (z.n_names == 0 && z.members == 1 && a->detected == CONTENT_FT_GZIP) {
			const size_t fl = strlen(a->filename);
			const char **names = arena_alloc(&m->arena, sizeof(*names));
			if (fl > 3 && strcasecmp(a->filename + fl - 3, ".gz") == 0)
				names[0] = arena_strndup(&m->arena, a->filename, fl - 3);
			else if (fl > 4 && strcasecmp(a->filename + fl - 4, ".tgz") == 0) {
				char *t = arena_alloc(&m->arena, fl + 1);
				memcpy(t, a->filename, fl - 4);
				memcpy(t + fl - 4, ".tar", 5);
				names[0] = t;
			} else
				names[0] = NULL;
			if (names[0] != NULL) {
				a->archive_names = names;
				a->n_archive_names = 1;
			}
		}
		a->archive_names_cut = z.names_cut;
		if (z.encrypted > 0 || z.hidden || z.names_cut || z.nested_cut || z.disguised)
			m->flags |= CONTENT_F_ARCHIVE_UNSCANNABLE;
	}
	content_archive_free(&z);
}

/* An Internet shortcut's target: the value of its "URL=" line (the
 * [InternetShortcut] section keeps it in the first lines), or NULL. */
static const char *shortcut_target(struct content_msg *m, const char *name, const unsigned char *h,
    size_t n)
{
	const size_t nl = name ? strlen(name) : 0;
	if (nl < 4 || strcasecmp(name + nl - 4, ".url") != 0)
		return NULL;
	for (size_t i = 0; i + 4 <= n; i++) {
		if ((i > 0 && h[i - 1] != '\n') || strncasecmp((const char *)h + i, "URL=", 4) != 0)
			continue;
		size_t e = i + 4;
		while (e < n && h[e] != '\r' && h[e] != '\n')
			e++;
		char v[sizeof(((struct att_sink *)0)->head) + 1];
		memcpy(v, h + i + 4, e - i - 4);
		v[e - i - 4] = '\0';
		return dup_utf8(m, v, sizeof(v));
	}
	return NULL;
}

static void take_attachment(struct content_msg *m, GMimePart *part, const char *ctype)
{
	struct att_sink as = { .md = EVP_MD_CTX_new(), .bytes = BUF_INIT,
		.image_name = image_name(g_mime_part_get_filename(part)) };
	if (as.md == NULL)
		mw_panic("EVP_MD_CTX_new");
	EVP_DigestInit_ex(as.md, EVP_sha256(), NULL);
	int cut = decode_body(m, part, sink_att, &as);
	unsigned char dig[32];
	unsigned dl = 0;
	EVP_DigestFinal_ex(as.md, dig, &dl);
	EVP_MD_CTX_free(as.md);

	struct content_attachment *a = VEC_PUSH(m->atts);
	memset(a, 0, sizeof(*a));
	a->filename = dup_utf8(m, g_mime_part_get_filename(part), 4096);
	a->declared_type = dup_utf8(m, ctype, 256);
	a->detected = content_detect_type(as.head, as.head_len);
	if (a->detected == CONTENT_FT_TEXT)
		a->shortcut_url = shortcut_target(m, a->filename, as.head, as.head_len);
	a->size = as.size;
	a->truncated = cut;
	size_t kn;
	const unsigned char *kp = kept_bytes(&as, &kn);
	if (a->detected == CONTENT_FT_UNKNOWN && content_archive_kind(kp, kn) == ARCHIVE_ISO)
		a->detected = CONTENT_FT_ISO;
	if (a->detected == CONTENT_FT_ZIP || a->detected == CONTENT_FT_RAR ||
	    a->detected == CONTENT_FT_7Z || a->detected == CONTENT_FT_GZIP ||
	    a->detected == CONTENT_FT_TAR || a->detected == CONTENT_FT_ISO)
		take_archive(m, a, &as);
	if (a->detected == CONTENT_FT_OLE) {
		a->office = content_ole_scan(kp, kn);
		if (a->office & CONTENT_OFFICE_ENCRYPTED)
			m->flags |= CONTENT_F_ARCHIVE_UNSCANNABLE;
	} else if (a->detected == CONTENT_FT_PDF) {
		a->pdf = content_pdf_scan(kp, kn, &m->archive_budget.unpacked);
	} else if (a->detected == CONTENT_FT_ONENOTE) {
		struct content_onenote o;
		content_onenote_scan(kp, kn, &o);
		a->embedded_type = o.worst;
	} else if (a->detected == CONTENT_FT_RTF) {
		struct content_rtf r;
		content_rtf_scan(kp, kn, &r);
		a->rtf = r.flags;
		if (r.package[0] != '\0')
			a->embedded_name = dup_utf8(m, r.package, sizeof(r.package));
	} else if (content_htmlfile_is(kp, kn)) {
		a->html_file = content_htmlfile_scan(kp, kn);
	}
	buf_free(&as.bytes);
	static const char hex[] = "0123456789abcdef";
	for (unsigned i = 0; i < 32; i++) {
		a->sha256[2 * i] = hex[dig[i] >> 4];
		a->sha256[2 * i + 1] = hex[dig[i] & 15];
	}
	a->sha256[64] = '\0';
}

/* Texts use "\n" line ends: tokenizers and the signature finder then see
 * one form whatever the wire used (a lone CR becomes a line end too). */
static void crlf_to_lf(struct buf *b)
{
	if (b->data == NULL || memchr(b->data, '\r', b->len) == NULL)
		return;
	size_t w = 0;
	for (size_t r = 0; r < b->len; r++) {
		if (b->data[r] == '\r') {
			if (r + 1 < b->len && b->data[r + 1] == '\n')
				continue;
			b->data[w++] = '\n';
			continue;
		}
		b->data[w++] = b->data[r];
	}
	b->len = w;
	b->data[w] = '\0';
}

static void take_text(struct content_msg *m, GMimePart *part, int html, const char *charset)
{
	struct buf raw = BUF_INIT, u = BUF_INIT;
	int cut = decode_body(m, part, sink_buf, &raw);
	size_t max = m->lim.max_text_bytes;
	if (charset_to_utf8(charset, raw.data ? raw.data : "", raw.len, &u, max, &m->flags))
		cut = 1, m->flags |= CONTENT_F_LIMIT_TEXT;
	buf_free(&raw);
	if (html) {
		struct buf t = BUF_INIT;
		if (html_to_text(m, u.data ? u.data : "", u.len, &t, max))
			cut = 1, m->flags |= CONTENT_F_LIMIT_TEXT;
		buf_free(&u);
		u = t;
	}
	crlf_to_lf(&u);
	url_scan_text(m, u.data ? u.data : "", u.len);
	struct content_text *ct = VEC_PUSH(m->texts);
	ct->type = html ? CONTENT_TEXT_HTML : CONTENT_TEXT_PLAIN;
	ct->len = u.len;
	ct->text = buf_steal(&u); /* owned by the message, freed in content_free */
	ct->charset = dup_utf8(m, charset, 64);
	ct->truncated = cut;
}

static void take_leaf(struct content_msg *m, GMimePart *part)
{
	GMimeObject *obj = GMIME_OBJECT(part);
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	const char *type = ct ? g_mime_content_type_get_media_type(ct) : NULL;
	const char *sub = ct ? g_mime_content_type_get_media_subtype(ct) : NULL;
	char ctype[256];
	snprintf(ctype, sizeof(ctype), "%s/%s", type ? type : "text", sub ? sub : "plain");
	for (char *p = ctype; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	const char *disp = g_mime_object_get_disposition(obj);
	int attachment = disp != NULL && strcasecmp(disp, "attachment") == 0;
	int is_plain = strcmp(ctype, "text/plain") == 0, is_html = strcmp(ctype, "text/html") == 0;
	if ((is_plain || is_html) && !attachment) {
		const char *cs = g_mime_object_get_content_type_parameter(obj, "charset");
		take_text(m, part, is_html, cs ? cs : "");
	} else {
		take_attachment(m, part, ctype);
	}
}

/* Bytes that are not a decodable part (prologue, unparsable message) kept
 * as one plain text so URLs and words in them are still scored. */
static void take_raw_text(struct content_msg *m, const char *p, size_t len)
{
	struct buf u = BUF_INIT;
	size_t left = m->lim.max_decoded_bytes - m->decoded_total;
	if (len > left) {
		len = left;
		m->flags |= CONTENT_F_LIMIT_DECODED;
	}
	m->decoded_total += len;
	int cut = utf8_sanitize_append(&u, p, len, m->lim.max_text_bytes, NULL);
	if (cut)
		m->flags |= CONTENT_F_LIMIT_TEXT;
	crlf_to_lf(&u);
	url_scan_text(m, u.data ? u.data : "", u.len);
	struct content_text *ct = VEC_PUSH(m->texts);
	ct->type = CONTENT_TEXT_PLAIN;
	ct->len = u.len;
	ct->text = buf_steal(&u);
	ct->charset = "";
	ct->truncated = cut;
}

/* ---- the tree walk ------------------------------------------------------- */

struct walk_item {
	GMimeObject *obj;
	size_t depth;
};

/* The extension of a file name, lower-cased into out ("" when none). */
static void name_ext(const char *name, char *out, size_t n)
{
	const char *dot = name != NULL ? strrchr(name, '.') : NULL;
	size_t i = 0;
	if (dot != NULL)
		for (dot++; *dot != '\0' && i + 1 < n; dot++)
			out[i++] = (char)tolower((unsigned char)*dot);
	out[i] = '\0';
}

/* Parameters that must have one value: two boundaries, or file names with
 * two different extensions (in Content-Type name= and Content-Disposition
 * filename= together: an RFC 2231 name next to its plain fallback has the
 * same extension). */
static int params_ambiguous(GMimeParamList *pl, const char *what, char ext[16], const char **bnd)
{
	int n = pl != NULL ? g_mime_param_list_length(pl) : 0;
	for (int i = 0; i < n; i++) {
		GMimeParam *pa = g_mime_param_list_get_parameter_at(pl, i);
		const char *name = g_mime_param_get_name(pa), *value = g_mime_param_get_value(pa);
		if (name == NULL || value == NULL)
			continue;
		if (strcasecmp(name, "boundary") == 0) {
			if (*bnd != NULL && strcmp(*bnd, value) != 0)
				return 1;
			*bnd = value;
		} else if (strcasecmp(name, what) == 0) {
			char e[16];
			name_ext(value, e, sizeof(e));
			if (e[0] == '\0')
				continue;
			if (ext[0] != '\0' && strcmp(ext, e) != 0)
				return 1;
			memcpy(ext, e, sizeof(e));
		}
	}
	return 0;
}

/* An entity that mail clients may read otherwise than GMime does (M7):
 * two Content-Type or Content-Transfer-Encoding headers (GMime takes one,
 * a client may take the other), two boundary parameters, or a file name
 * given twice with different extensions (GMime takes the first; a client
 * that takes the other shows an ".exe" we never named).  Linear in the
 * entity's headers and parameters, which the parse has already paid for. */
static int entity_ambiguous(GMimeObject *o)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(o);
	int n = hl != NULL ? g_mime_header_list_get_count(hl) : 0, ct = 0, cte = 0;
	for (int i = 0; i < n; i++) {
		const char *name = g_mime_header_get_name(g_mime_header_list_get_header_at(hl, i));
		if (name == NULL)
			continue;
		if (strcasecmp(name, "Content-Type") == 0)
			ct++;
		else if (strcasecmp(name, "Content-Transfer-Encoding") == 0)
			cte++;
	}
	if (ct > 1 || cte > 1)
		return 1;
	char ext[16] = "";
	const char *bnd = NULL;
	GMimeContentType *t = g_mime_object_get_content_type(o);
	if (t != NULL && params_ambiguous(g_mime_content_type_get_parameters(t), "name", ext, &bnd))
		return 1;
	GMimeContentDisposition *d = g_mime_object_get_content_disposition(o);
	return d != NULL &&
	    params_ambiguous(g_mime_content_disposition_get_parameters(d), "filename", ext, &bnd);
}

static void walk(struct content_msg *m, GMimeObject *root)
{
	VEC(struct walk_item) st = { NULL, 0, 0 };
	*VEC_PUSH(st) = (struct walk_item){ root, 0 };
	while (st.n > 0) {
		struct walk_item it = st.v[--st.n];
		if (it.obj == NULL)
			continue;
		if (it.depth > m->lim.max_depth) {
			m->flags |= CONTENT_F_LIMIT_DEPTH;
			continue;
		}
		if (m->parts >= m->lim.max_parts) {
			m->flags |= CONTENT_F_LIMIT_PARTS;
			break;
		}
		m->parts++;
		if (it.depth > m->max_depth)
			m->max_depth = it.depth;
		if (entity_ambiguous(it.obj))
			m->flags |= CONTENT_F_AMBIGUOUS_STRUCTURE;
		if (GMIME_IS_MULTIPART(it.obj)) {
			GMimeMultipart *mp = GMIME_MULTIPART(it.obj);
			int n = g_mime_multipart_get_count(mp);
			/* XXX write_end_boundary is GMime-private; its parser clears
			 * it when the closing boundary is missing (M6). */
			if (n == 0 || !mp->write_end_boundary ||
				g_mime_object_get_content_type_parameter(it.obj, "boundary") == NULL)
				m->flags |= CONTENT_F_BAD_BOUNDARY;
			if (n > 0 && !mp->write_end_boundary)
				m->flags |= CONTENT_F_TRUNCATED;
			/* No child found: the content sits in the prologue (wrong or
			 * missing boundary).  Scan it as text rather than lose it. */
			if (n == 0 && mp->prologue != NULL)
				take_raw_text(m, mp->prologue, strlen(mp->prologue));
			/* Only push what the part budget can still take, so a 10^6
			 * sibling multipart costs O(max_parts) here. */
			size_t room = m->lim.max_parts - m->parts + 1;
			if ((size_t)n > room) {
				m->flags |= CONTENT_F_LIMIT_PARTS;
				n = (int)room;
			}
			for (int i = n; i > 0; i--)
				*VEC_PUSH(st) = (struct walk_item){ g_mime_multipart_get_part(mp, i - 1), it.depth + 1 };
		} else if (GMIME_IS_MESSAGE_PART(it.obj)) {
			GMimeMessage *sub = g_mime_message_part_get_message(GMIME_MESSAGE_PART(it.obj));
			if (sub != NULL)
				*VEC_PUSH(st) = (struct walk_item){ g_mime_message_get_mime_part(sub), it.depth + 1 };
		} else if (GMIME_IS_PART(it.obj)) {
			take_leaf(m, GMIME_PART(it.obj));
		}
	}
	free(st.v);
}

/* ---- entry points --------------------------------------------------------- */

static void finish(struct content_msg *m)
{
	int plain = 0, html = 0;
	for (size_t i = 0; i < m->texts.n; i++) {
		if (m->texts.v[i].type == CONTENT_TEXT_PLAIN)
			plain = 1;
		else
			html = 1;
	}
	if (html && !plain)
		m->flags |= CONTENT_F_HTML_ONLY;
	if (m->texts.n == 0)
		m->flags |= CONTENT_F_NO_TEXT;
	struct content_html_features *h = &m->html;
	h->image_only = h->images > 0 && h->text_chars < 50;
	/* Signature: the first plain part, else the first converted HTML. */
	const struct content_text *t = NULL;
	for (size_t i = 0; i < m->texts.n && t == NULL; i++)
		if (m->texts.v[i].type == CONTENT_TEXT_PLAIN)
			t = &m->texts.v[i];
	if (t == NULL && m->texts.n > 0)
		t = &m->texts.v[0];
	if (t != NULL)
		signature_find(m, t->text, t->len);
}

struct content_msg *content_parse(const char *data, size_t len, const struct content_limits *lim)
{
	pthread_once(&gmime_once, gmime_init);
	struct content_msg *m = xcalloc(1, sizeof(*m));
	m->lim = lim ? *lim : content_limits_default();
	if (m->lim.max_depth == 0 || m->lim.max_parts == 0)
		m->lim = content_limits_default();
	m->archive_budget = (struct content_archive_budget)ARCHIVE_BUDGET_DEFAULT;
	/* GMime stops nesting at 1024 levels on its own; staying below it means
	 * a deeper message always shows up as LIMIT_DEPTH in our walk. */
	if (m->lim.max_depth > 1000)
		m->lim.max_depth = 1000;
	m->from = m->from_addr = m->subject = m->message_id = "";
	if (data == NULL)
		len = 0;
	/* GByteArray lengths are guint; a bigger message is cut (and flagged). */
	if (len > UINT_MAX / 2) {
		len = UINT_MAX / 2;
		m->flags |= CONTENT_F_LIMIT_DECODED;
	}
	/* Fields over the limits (and overlong Subjects) are dropped before
	 * GMime sees the message: one copy, only then. */
	size_t copy_len = 0;
	char *trimmed = raw_headers(m, data ? data : "", len, &copy_len);
	if (trimmed != NULL) {
		data = trimmed;
		len = copy_len;
	}
	header_checks(m);

	/* Parse from the caller's memory without a copy: the byte array borrows
	 * data (never written: parsing only reads) and is released without
	 * freeing it. */
	GByteArray *ba = g_byte_array_new_take((guint8 *)(uintptr_t)(data ? data : ""), (gsize)len);
	GMimeStream *stream = g_mime_stream_mem_new_with_byte_array(ba);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	/* No warning callback: with one set, GMime decodes every header value
	 * while parsing, quadratic in the "=?" openers of a value (64 KiB took
	 * 0.2 s, 512 KiB 25 s).  The anomalies it would report are detected by
	 * us instead (raw header scan, tree walk, our RFC 2047 decoder). */
	GMimeParserOptions *opts = g_mime_parser_options_new();
	GMimeMessage *msg = g_mime_parser_construct_message(parser, opts);
	if (msg != NULL) {
		take_fields(m, msg);
		walk(m, g_mime_message_get_mime_part(msg));
		g_object_unref(msg);
	} else {
		/* GMime found no message: keep the bytes as one plain text. */
		m->flags |= CONTENT_F_MALFORMED_HEADER;
		take_raw_text(m, data ? data : "", len);
	}
	g_object_unref(parser);
	g_object_unref(stream);
	g_byte_array_free(ba, FALSE); /* frees the wrapper only, not data */
	g_mime_parser_options_free(opts);
	free(trimmed);
	url_index_free(m);
	finish(m);
	return m;
}

void content_free(struct content_msg *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->texts.n; i++)
		free((void *)(uintptr_t)m->texts.v[i].text);
	free(m->headers.v);
	free(m->texts.v);
	free(m->urls.v);
	free(m->atts.v);
	url_index_free(m);
	arena_free(&m->arena);
	free(m);
}

/* ---- accessors ------------------------------------------------------------ */

unsigned content_flags(const struct content_msg *m) { return m->flags; }
size_t content_header_count(const struct content_msg *m) { return m->headers.n; }

const struct content_header *content_header_at(const struct content_msg *m, size_t i)
{
	return i < m->headers.n ? &m->headers.v[i] : NULL;
}

const char *content_header(const struct content_msg *m, const char *name, size_t index)
{
	for (size_t i = 0; i < m->headers.n; i++)
		if (strcasecmp(m->headers.v[i].name, name) == 0 && index-- == 0)
			return m->headers.v[i].value;
	return NULL;
}

const char *content_from(const struct content_msg *m) { return m->from; }
const char *content_from_addr(const struct content_msg *m) { return m->from_addr; }
const char *content_subject(const struct content_msg *m) { return m->subject; }
const char *content_message_id(const struct content_msg *m) { return m->message_id; }

int content_date(const struct content_msg *m, int64_t *out)
{
	*out = m->has_date ? m->date : 0;
	return m->has_date ? 0 : -1;
}

size_t content_text_count(const struct content_msg *m) { return m->texts.n; }

const struct content_text *content_text_at(const struct content_msg *m, size_t i)
{
	return i < m->texts.n ? &m->texts.v[i] : NULL;
}

const struct content_html_features *content_html(const struct content_msg *m) { return &m->html; }
size_t content_url_count(const struct content_msg *m) { return m->urls.n; }

const struct content_url *content_url_at(const struct content_msg *m, size_t i)
{
	return i < m->urls.n ? &m->urls.v[i] : NULL;
}

size_t content_attachment_count(const struct content_msg *m) { return m->atts.n; }

const struct content_attachment *content_attachment_at(const struct content_msg *m, size_t i)
{
	return i < m->atts.n ? &m->atts.v[i] : NULL;
}

const char *content_signature(const struct content_msg *m, enum content_sig_method *method)
{
	if (method)
		*method = m->signature ? m->sig_method : CONTENT_SIG_NONE;
	return m->signature;
}

const char *content_last_block(const struct content_msg *m)
{
	return m->signature ? NULL : m->last_block;
}

int content_signature_adopt(struct content_msg *m)
{
	if (m->signature != NULL || m->last_block == NULL)
		return -1;
	m->signature = m->last_block;
	m->sig_method = CONTENT_SIG_REPEATED;
	return 0;
}

size_t content_part_count(const struct content_msg *m) { return m->parts; }
size_t content_max_depth(const struct content_msg *m) { return m->max_depth; }
