/*
 * fuzz_mime.c - F-MIME: content_parse() with default limits on arbitrary
 * bytes (copied to a heap block of exactly their size, so ASan flags any
 * read past the end).  Invariants: it never crashes and never returns NULL;
 * parsing twice gives the same summary (flags, counts, sizes, hashes); every
 * text and header value is valid UTF-8 of its stated length; texts are
 * within max_text_bytes and decoded attachment bytes within
 * max_decoded_bytes; depth and part counts within their limits; the
 * last-paragraph candidate (R7) exists only without a signature block, is
 * valid UTF-8 within 1 KiB, and adopting it makes it the signature block;
 * the message's fingerprints are then the same twice, and there is a
 * signature fingerprint only when there is a signature block.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "content/content.h"
#include "content/content_office.h"
#include "fingerprint/fingerprint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int valid_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned c = p[i];
		size_t k;
		uint32_t v, min;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0)
			k = 1, v = c & 0x1F, min = 0x80;
		else if ((c & 0xF0) == 0xE0)
			k = 2, v = c & 0x0F, min = 0x800;
		else if ((c & 0xF8) == 0xF0)
			k = 3, v = c & 0x07, min = 0x10000;
		else
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if (i + j >= n || (p[i + j] & 0xC0) != 0x80)
				return 0;
			v = (v << 6) | (p[i + j] & 0x3F);
		}
		if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
			return 0;
		i += k + 1;
	}
	return 1;
}

static int str_ok(const char *s)
{
	return s != NULL && valid_utf8(s, strlen(s));
}

struct summary {
	unsigned flags;
	size_t headers, texts, urls, atts, parts, depth, text_bytes, att_bytes;
	unsigned hidden, mismatch, images;
	uint64_t hash;
};

static uint64_t mix(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h * 31 + 7;
}

static void summarize(const struct content_msg *m, struct summary *s)
{
	const struct content_limits lim = content_limits_default();
	memset(s, 0, sizeof(*s));
	s->flags = content_flags(m);
	s->headers = content_header_count(m);
	s->texts = content_text_count(m);
	s->urls = content_url_count(m);
	s->atts = content_attachment_count(m);
	s->parts = content_part_count(m);
	s->depth = content_max_depth(m);
	s->hash = 1469598103934665603ull;
	if (s->parts > lim.max_parts || s->depth > lim.max_depth || s->urls > lim.max_urls)
		abort();
	for (size_t i = 0; i < s->headers; i++) {
		const struct content_header *h = content_header_at(m, i);
		if (!str_ok(h->name) || !str_ok(h->value))
			abort();
		s->hash = mix(s->hash, h->value);
	}
	for (size_t i = 0; i < s->texts; i++) {
		const struct content_text *t = content_text_at(m, i);
		if (t->len > lim.max_text_bytes || strlen(t->text) != t->len ||
			!valid_utf8(t->text, t->len))
			abort();
		s->text_bytes += t->len;
		s->hash = mix(s->hash, t->text);
	}
	for (size_t i = 0; i < s->urls; i++) {
		const struct content_url *u = content_url_at(m, i);
		if (!str_ok(u->url) || !str_ok(u->host) || !str_ok(u->reg_domain) || u->count == 0)
			abort();
		s->hash = mix(s->hash, u->url);
	}
	for (size_t i = 0; i < s->atts; i++) {
		const struct content_attachment *a = content_attachment_at(m, i);
		if (!str_ok(a->filename) || !str_ok(a->declared_type) || strlen(a->sha256) != 64)
			abort();
		s->att_bytes += a->size;
		s->hash = mix(s->hash, a->sha256);
		/* An archive's listing: only for an archive, bounded, valid names. */
		const int archive = a->detected == CONTENT_FT_ZIP || a->detected == CONTENT_FT_RAR ||
		    a->detected == CONTENT_FT_7Z || a->detected == CONTENT_FT_GZIP ||
		    a->detected == CONTENT_FT_TAR;
		if ((a->archive_members || a->n_archive_names || a->archive_hidden) && !archive)
			abort();
		if (a->n_archive_names > a->archive_members ||
		    a->archive_encrypted > a->archive_members + (unsigned)a->archive_hidden ||
		    (a->n_archive_names > 0) != (a->archive_names != NULL))
			abort();
		for (size_t k = 0; k < a->n_archive_names; k++) {
			if (!str_ok(a->archive_names[k]))
				abort();
			s->hash = mix(s->hash, a->archive_names[k]);
		}
		if ((a->archive_encrypted || a->archive_hidden) &&
		    !(content_flags(m) & CONTENT_F_ARCHIVE_UNSCANNABLE))
			abort();
		/* An RTF's objects and an Office document's bits: only for those
		 * kinds; a carried file's name only from an RTF, valid UTF-8. */
		if ((a->rtf != 0 || a->embedded_name != NULL) && a->detected != CONTENT_FT_RTF)
			abort();
		if (a->embedded_name != NULL && !str_ok(a->embedded_name))
			abort();
		if (a->office != 0 && a->detected != CONTENT_FT_OLE && a->detected != CONTENT_FT_ZIP)
			abort();
		if ((a->ooxml != 0 || a->ooxml_target != NULL) && a->detected != CONTENT_FT_ZIP)
			abort();
		if (a->ooxml_target != NULL && !str_ok(a->ooxml_target))
			abort();
		if (a->shortcut_url != NULL && (!str_ok(a->shortcut_url) || a->detected != CONTENT_FT_TEXT))
			abort();
		if (a->embedded_type != CONTENT_FT_UNKNOWN && a->detected != CONTENT_FT_ONENOTE)
			abort();
		if ((a->office & CONTENT_OFFICE_ENCRYPTED) && !(content_flags(m) & CONTENT_F_ARCHIVE_UNSCANNABLE))
			abort();
	}
	if (s->att_bytes > lim.max_decoded_bytes)
		abort();
	const char *sig = content_signature(m, NULL);
	if (sig != NULL && !str_ok(sig))
		abort();
	if (sig != NULL)
		s->hash = mix(s->hash, sig);
	/* R7's candidate: only without a signature, bounded, valid. */
	const char *last = content_last_block(m);
	if (last != NULL && (sig != NULL || !str_ok(last) || strlen(last) > 1024 || *last == '\0'))
		abort();
	if (last != NULL)
		s->hash = mix(s->hash, last);
	if (!str_ok(content_subject(m)) || !str_ok(content_from(m)) || !str_ok(content_from_addr(m)) ||
		!str_ok(content_message_id(m)))
		abort();
	const struct content_html_features *h = content_html(m);
	s->hidden = h->hidden_text;
	s->mismatch = h->link_mismatch;
	s->images = h->images;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	struct content_limits lim = content_limits_default();
	struct content_msg *a = content_parse(copy, size, &lim);
	struct content_msg *b = content_parse(copy, size, &lim);
	free(copy);
	if (a == NULL || b == NULL)
		abort();
	struct summary sa, sb;
	summarize(a, &sa);
	summarize(b, &sb);
	if (memcmp(&sa, &sb, sizeof(sa)) != 0)
		abort();
	/* Adopting the candidate makes it the signature block, once; the
	 * fingerprints then cut it out of the text (fingerprint.c), the same
	 * way every time. */
	const char *last = content_last_block(a);
	enum content_sig_method how;
	if (content_signature_adopt(a) != (last != NULL ? 0 : -1))
		abort();
	if (last != NULL && (content_signature(a, &how) != last || how != CONTENT_SIG_REPEATED ||
		content_last_block(a) != NULL || content_signature_adopt(a) != -1))
		abort();
	struct fp_params p = fp_params_default();
	struct fp_message fa, fb;
	fp_message_compute(a, &p, &fa);
	fp_message_compute(a, &p, &fb);
	if (memcmp(&fa, &fb, sizeof(fa)) != 0 ||
		((fa.present & (1u << FP_KIND_SIGNATURE)) && content_signature(a, NULL) == NULL))
		abort();
	content_free(a);
	content_free(b);
	return 0;
}
