/*
 * fingerprint.c - hashing, MinHash signatures and the fingerprints of a
 * parsed message (fingerprint.h, docs/fingerprint.md).
 */
#include <string.h>

#include "base/util.h"
#include "content/content.h"
#include "fingerprint/fingerprint.h"

#define P0 0xa0761d6478bd642full
#define P1 0xe7037ed1a0b428dbull
#define P2 0x8ebc6af09c88c6e3ull
#define P3 0x589965cc75374cc3ull
#define MAX_WIDTH 16

/* The K hash functions h_k(x) = (A_k x + B_k) mod 2^64 >> 32 (Dietzfelbinger's
 * multiply-add-shift; A_k odd).  x is already a strong 64-bit hash of the
 * shingle, so a cheap family per slot is enough.  Constants: splitmix64 from
 * the seed 0x6d61696c77617264 ("mailward"); changing them changes every
 * signature (FP_SIG_VERSION). */
static const uint64_t perm_a[FP_K] = {
	0x734435c15c65f0b7ull, 0xd8777f05275c5f69ull, 0xccb2459fcde09437ull,
	0x95901e329c16d85bull, 0x120792cb5cc9bc65ull, 0xdafa19d199d341b5ull,
	0xcbeac02beaff8073ull, 0x601e2472db2509e5ull, 0x5156abebcd71f31bull,
	0x48f0ee7c6f8abf6bull, 0x03a7d59c297c5eedull, 0xc86991b7b134058full,
	0x459c5bb746f69e61ull, 0x9cb0ba0934f6b4dfull, 0x6fe36ac7ddc96e2full,
	0x3e4da7d95ac7ffd5ull, 0xadf2d24c30545661ull, 0x1b78f9c5963fb2ebull,
	0x4737beea3cf14159ull, 0xbfb59de89fec14c9ull, 0xc9dff495ffb3dabbull,
	0xcf5100452b71d395ull, 0x1810089ea210ee6full, 0x419e40a5afb3c2afull,
	0x8c8ace12f2b7dcd9ull, 0x0d40a0389938b4e3ull, 0xdc50024f0213654dull,
	0x536a415361a461c1ull, 0x68a6bb05f8e5cb23ull, 0xc634149d28992eefull,
	0xd34bcc6d968a2aa9ull, 0xda9eecda70f3687full, 0x1b3f47f7e64b077full,
	0x546fced42a094d15ull, 0x63bc915dff58dcfdull, 0xe88b0b12b4cb3dc9ull,
	0x473e089418daad8full, 0xebacf64128dca9d5ull, 0x144acdffc1416cafull,
	0xcfb57272fcf3fb41ull, 0x17216e133252f465ull, 0x8e94fec73597745full,
	0xcf92a1b7db38325dull, 0x7a764a429b4ce06dull, 0x93979a0db1277007ull,
	0x5dc3731380071293ull, 0xddc7ae8a9ad58c69ull, 0x5d4ec123d8786ec9ull,
	0x09a2cd4f3e5226dfull, 0xbeb81503ad511887ull, 0xa32b650f470fbeadull,
	0xe0ebea0ff3a38197ull, 0x8e1c2d99609907b3ull, 0x7cf452e4b656bc3full,
	0x6b8880e0e8f64e4bull, 0x48e5f3905cdac0c7ull, 0x563c50f39248f7efull,
	0xd2ac9f070857e4b5ull, 0x2fddfb7e93fa5581ull, 0x59051fd5478fabebull,
	0xedc9f6edce11a135ull, 0xc7000ca56a30f091ull, 0x4bb6bf8cd8a7557dull,
	0xed237c0c9563add9ull,
};
static const uint64_t perm_b[FP_K] = {
	0x1218e88e959686cfull, 0x96e7ce43e5ee5e7eull, 0xe850f59f94c16a2dull,
	0x141e6b6960af0f3bull, 0x33840ab67482f735ull, 0x687f2d24354b72e2ull,
	0x140b17c96ea316f2ull, 0x6c80e799c612c222ull, 0xb81cacd60390fa6eull,
	0x1fb0fbb57500c6d9ull, 0xb8a776c433ed6a6eull, 0x3bb413877dd4abfaull,
	0x36af42d53de9b309ull, 0x0b991e785ee683c7ull, 0x701f83fb687d6935ull,
	0xaa4fbca86432a1abull, 0xa3e6079486eca087ull, 0x20b611ebba43a8a5ull,
	0x19822adcb025d034ull, 0x736e5b5c9ce018daull, 0x5eb6236af2255911ull,
	0x6af238a794bd6fdfull, 0x0cf4f86500f9f173ull, 0x898b3a1fb57a5524ull,
	0x10795e902d7d5b30ull, 0x4a6e6e815e969a8aull, 0xacaa18abc22cff40ull,
	0x374faf4432c21bbdull, 0x47f00d619b81c375ull, 0x257d5c3710b11fe7ull,
	0x3fa03b7dba59832cull, 0xef5871e54e9d1aebull, 0x345e9776bee67b31ull,
	0x0ff68fa2cb90482dull, 0xd6023c23bb2f4ea0ull, 0xacbb79c19a2eff8cull,
	0xdf01e14c3705d41aull, 0x5f5aca7e58b756bdull, 0x28571344ba2fbd75ull,
	0x8ed531dc93e27613ull, 0xf407332039fcb877ull, 0xd04872cc42500a9eull,
	0x65eee2716a8c2463ull, 0xb45a94cf1077576cull, 0x319f0006a51a3a92ull,
	0x2191ea91373c1e4bull, 0x9eef71b6c2bcfd31ull, 0x84be3cfc4705d24dull,
	0x37c116e55832fdb5ull, 0x725d6f26880fc031ull, 0xb0919fd0ea7cef3eull,
	0xb4b2af63433deda9ull, 0x8305cf23d51378a1ull, 0xe1ab099b18109049ull,
	0x17fb8cb8eead3ee3ull, 0xb586320f1d9dd951ull, 0x83c1ade4a2a967d0ull,
	0x1cd764d70094dd78ull, 0x51e6aeb6340a32c2ull, 0x79a2f051a9abf7d3ull,
	0x664962e7c03cac11ull, 0xff6f8c5fb3fc7fc0ull, 0x169f5b0e4fac9ddbull,
	0xb2678187cf516b49ull,
};

_Static_assert(FP_K == 64, "perm_a/perm_b hold 64 constants");

const char *fp_kind_name(enum fp_kind k)
{
	switch (k) {
	case FP_KIND_TEXT: return "text";
	case FP_KIND_SIGNATURE: return "signature";
	case FP_KIND_URLS: return "urls";
	case FP_KIND_ATTACHMENTS: return "attachments";
	case FP_KIND_COUNT: break;
	}
	return NULL;
}

struct fp_params fp_params_default(void)
{
	struct fp_params p = {
		.lim = { .max_bytes = 256 * 1024, .max_tokens = 10000 },
		.text_width = 4,
		.text_min_shingles = 16,
		.sig_width = 2,
		.sig_min_shingles = 3,
	};
	return p;
}

static inline uint64_t mum(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* Little-endian loads spelled out so the bits are the same on every host
 * (signatures are stored and shared). */
static inline uint64_t rd64(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	       (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

uint64_t fp_hash64(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	size_t n = len;
	uint64_t h = seed ^ P0;
	while (n >= 16) {
		h = mum(rd64(p) ^ P1, rd64(p + 8) ^ h);
		p += 16;
		n -= 16;
	}
	if (n >= 8) {
		h = mum(rd64(p) ^ P1, h ^ P2);
		p += 8;
		n -= 8;
	}
	uint64_t t = 0;
	for (size_t i = 0; i < n; i++)
		t |= (uint64_t)p[i] << (8 * i);
	h = mum(t ^ P2, h ^ (uint64_t)len ^ P3);
	return mum(h ^ P0, h ^ P1);
}

void fp_sig_init(struct fp_sig *s)
{
	for (size_t k = 0; k < FP_K; k++)
		s->v[k] = UINT32_MAX;
}

void fp_sig_add(struct fp_sig *s, uint64_t x)
{
	for (size_t k = 0; k < FP_K; k++) {
		uint32_t v = (uint32_t)((x * perm_a[k] + perm_b[k]) >> 32);
		s->v[k] = v < s->v[k] ? v : s->v[k];
	}
}

size_t fp_sig_from_tokens(const char *tokens, size_t len, unsigned width, size_t min_shingles,
			  struct fp_sig *s)
{
	if (width == 0)
		width = 1;
	if (width > MAX_WIDTH)
		width = MAX_WIDTH;
	if (len == 0)
		return 0;
	/* Count first: a short text costs no hashing at all. */
	size_t ntok = 1;
	for (const char *q = tokens, *e = tokens + len; (q = memchr(q, ' ', (size_t)(e - q))) != NULL; q++)
		ntok++;
	if (ntok < width)
		return 0;
	size_t nsh = ntok - width + 1;
	if (nsh < min_shingles || nsh == 0)
		return nsh;
	fp_sig_init(s);
	uint64_t ring[MAX_WIDTH];
	size_t seen = 0;
	const char *p = tokens, *end = tokens + len;
	while (p < end) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		const char *te = sp ? sp : end;
		ring[seen % width] = fp_hash64(p, (size_t)(te - p), P3);
		seen++;
		if (seen >= width) {
			/* Shingle = the last width token hashes in order. */
			uint64_t h = P0 ^ width;
			for (size_t j = seen - width; j < seen; j++)
				h = mum(h ^ ring[j % width], P1);
			fp_sig_add(s, h);
		}
		p = te + 1;
	}
	return nsh;
}

unsigned fp_sig_equal_count(const struct fp_sig *a, const struct fp_sig *b)
{
	unsigned eq = 0;
	for (size_t k = 0; k < FP_K; k++)
		eq += a->v[k] == b->v[k];
	return eq;
}

double fp_sig_similarity(const struct fp_sig *a, const struct fp_sig *b)
{
	return (double)fp_sig_equal_count(a, b) / FP_K;
}

void fp_sig_encode(const struct fp_sig *s, enum fp_kind kind, uint8_t out[FP_SIG_BYTES])
{
	out[0] = FP_SIG_VERSION;
	out[1] = (uint8_t)kind;
	out[2] = out[3] = 0;
	for (size_t k = 0; k < FP_K; k++) {
		uint32_t v = s->v[k];
		uint8_t *o = out + 4 + 4 * k;
		o[0] = (uint8_t)v, o[1] = (uint8_t)(v >> 8), o[2] = (uint8_t)(v >> 16), o[3] = (uint8_t)(v >> 24);
	}
}

int fp_sig_decode(const uint8_t *in, size_t len, struct fp_sig *s, enum fp_kind *kind)
{
	if (len != FP_SIG_BYTES || in[0] != FP_SIG_VERSION || in[1] >= FP_KIND_COUNT || in[2] != 0 ||
	    in[3] != 0)
		return -1;
	for (size_t k = 0; k < FP_K; k++) {
		const uint8_t *i = in + 4 + 4 * k;
		s->v[k] = (uint32_t)i[0] | (uint32_t)i[1] << 8 | (uint32_t)i[2] << 16 | (uint32_t)i[3] << 24;
	}
	if (kind != NULL)
		*kind = (enum fp_kind)in[1];
	return 0;
}

int fp_text_sig(const char *text, size_t len, const struct fp_params *p, struct fp_sig *s,
		size_t *nshingles, int *truncated)
{
	struct buf b = BUF_INIT;
	int cut = 0;
	fp_normalize(text, len, 0, &p->lim, &b, &cut);
	size_t n = fp_sig_from_tokens(b.data, b.len, p->text_width, p->text_min_shingles, s);
	buf_free(&b);
	if (nshingles != NULL)
		*nshingles = n;
	if (truncated != NULL)
		*truncated = cut;
	return n >= p->text_min_shingles && n > 0 ? 0 : -1;
}

/* Last occurrence of needle in hay, or NULL. */
static const char *last_memmem(const char *hay, size_t hn, const char *needle, size_t nn)
{
	const char *last = NULL;
	const char *p = hay, *end = hay + hn;
	while (p < end) {
		const char *q = memmem(p, (size_t)(end - p), needle, nn);
		if (q == NULL)
			break;
		last = q;
		p = q + 1;
	}
	return last;
}

/* Adds one element to a set fingerprint.  Repeats never change a MinHash
 * signature; they are looked for among the first `cap` distinct elements
 * only so that the count stays cheap (max_urls is 2 000). */
static void set_add(struct fp_message *out, enum fp_kind kind, const char *s, size_t n,
		    uint64_t *seen, size_t *nseen, size_t cap)
{
	uint64_t h = fp_hash64(s, n, P2 + kind);
	for (size_t i = 0; i < *nseen; i++)
		if (seen[i] == h)
			return;
	if (*nseen < cap)
		seen[(*nseen)++] = h;
	if (!(out->present & (1u << kind))) {
		fp_sig_init(&out->sig[kind]);
		out->present |= 1u << kind;
	}
	fp_sig_add(&out->sig[kind], h);
	out->count[kind]++;
}

void fp_message_compute(const struct content_msg *m, const struct fp_params *p,
			struct fp_message *out)
{
	memset(out, 0, sizeof(*out));
	enum content_sig_method how = CONTENT_SIG_NONE;
	const char *sig = content_signature(m, &how);
	size_t siglen = sig != NULL ? strlen(sig) : 0;

	/* Text: plain parts, else the converted HTML ones (alternatives repeat
	 * the same words, and their HTML conversion would add noise). */
	size_t nt = content_text_count(m);
	enum content_text_type want = CONTENT_TEXT_HTML;
	for (size_t i = 0; i < nt; i++)
		if (content_text_at(m, i)->type == CONTENT_TEXT_PLAIN)
			want = CONTENT_TEXT_PLAIN;
	struct buf norm = BUF_INIT;
	int first = 1, any_cut = 0;
	struct fp_limits lim = p->lim; /* one token budget for all parts */
	for (size_t i = 0; i < nt && lim.max_tokens > 0; i++) {
		const struct content_text *t = content_text_at(m, i);
		if (t->type != want)
			continue;
		/* The signature block has its own fingerprint; left in, it would
		 * make a sender's unrelated short mails look alike.  It is the
		 * first delimited block, or the last paragraph (content.md). */
		const char *at = NULL;
		if (first && siglen > 0)
			at = how == CONTENT_SIG_DELIMITER ? memmem(t->text, t->len, sig, siglen)
							  : last_memmem(t->text, t->len, sig, siglen);
		first = 0;
		size_t a = at != NULL ? (size_t)(at - t->text) : t->len;
		int cut = 0;
		size_t k = fp_normalize(t->text, a, 0, &lim, &norm, &cut);
		any_cut |= cut;
		lim.max_tokens -= k;
		if (at != NULL && lim.max_tokens > 0) {
			k = fp_normalize(at + siglen, t->len - a - siglen, 0, &lim, &norm, &cut);
			any_cut |= cut;
			lim.max_tokens -= k;
		}
	}
	size_t n = fp_sig_from_tokens(norm.data, norm.len, p->text_width, p->text_min_shingles,
				      &out->sig[FP_KIND_TEXT]);
	out->count[FP_KIND_TEXT] = (uint32_t)n;
	if (n > 0 && n >= p->text_min_shingles)
		out->present |= 1u << FP_KIND_TEXT;

	/* Signature block: what identifies the sender stays. */
	if (siglen > 0) {
		buf_reset(&norm);
		fp_normalize(sig, siglen, FP_NORM_KEEP_NUMBERS | FP_NORM_KEEP_ADDRESSES, &p->lim, &norm, NULL);
		n = fp_sig_from_tokens(norm.data, norm.len, p->sig_width, p->sig_min_shingles,
				       &out->sig[FP_KIND_SIGNATURE]);
		out->count[FP_KIND_SIGNATURE] = (uint32_t)n;
		if (n > 0 && n >= p->sig_min_shingles)
			out->present |= 1u << FP_KIND_SIGNATURE;
	}
	buf_free(&norm);

	/* Sets: the count is exact up to 64 distinct elements. */
	uint64_t seen[64];
	size_t nseen = 0;
	for (size_t i = 0; i < content_url_count(m); i++) {
		const struct content_url *u = content_url_at(m, i);
		if (u->reg_domain != NULL && u->reg_domain[0] != '\0')
			set_add(out, FP_KIND_URLS, u->reg_domain, strlen(u->reg_domain), seen, &nseen,
				MW_ARRAY_LEN(seen));
	}
	nseen = 0;
	for (size_t i = 0; i < content_attachment_count(m); i++) {
		const struct content_attachment *a = content_attachment_at(m, i);
		set_add(out, FP_KIND_ATTACHMENTS, a->sha256, strlen(a->sha256), seen, &nseen,
			MW_ARRAY_LEN(seen));
	}
	out->truncated = any_cut;
}
