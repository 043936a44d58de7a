/*
 * fingerprint.h - content fingerprints for near-duplicate detection (R12,
 * docs/fingerprint.md): a message's text, signature block, URL registered
 * domains and attachment hashes each become a MinHash signature of K 32-bit
 * minimums, and two signatures estimate the Jaccard similarity of the sets
 * behind them.  fingerprint_index.h finds near-duplicates among many.
 *
 * Pipeline for text: fp_normalize() turns UTF-8 into a stream of normalised
 * tokens (case-folded; numbers, URLs and e-mail addresses collapsed to
 * placeholders; punctuation and whitespace runs gone), the stream is cut
 * into overlapping word shingles (width words each), every shingle is
 * hashed once with a 64-bit hash, and K cheap hash functions of that hash
 * (multiply-add-shift with fixed constants) give the K minimums.  Sets
 * (URL domains, attachment SHA-256) are MinHashed element by element.
 *
 * Contract:
 *  - Pure functions over caller memory: no global mutable state, no clock,
 *    thread-safe.  Allocation only for scratch (x*alloc: aborts on OOM).
 *  - Input is never trusted: any bytes (not only valid UTF-8) are accepted,
 *    and the caps in struct fp_limits bound work and memory; hitting a cap
 *    sets `truncated` and the prefix within the caps is fingerprinted.
 *  - Short texts (fewer than min_shingles shingles) get no text signature
 *    (present bit clear) rather than a noisy one; empty sets likewise.
 *  - A signature's bits depend on FP_K, the hash constants, the shingle
 *    widths and the normaliser: they are fixed by FP_SIG_VERSION, which
 *    fp_sig_encode() writes so a store never compares signatures of two
 *    different schemes (fp_sig_decode() refuses another version).
 */
#ifndef MW_FINGERPRINT_FINGERPRINT_H
#define MW_FINGERPRINT_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

struct content_msg;

#define FP_K 64             /* minimums per signature */
#define FP_SIG_VERSION 2    /* bump when anything that changes the bits changes;
                             * 2: Han, kana and Thai give a token per character */
#define FP_SIG_BYTES (4 + 4 * FP_K) /* encoded: version, kind, 2 zero bytes, K LE u32 */

enum fp_kind {
	FP_KIND_TEXT,        /* word shingles of the body text (signature block cut off) */
	FP_KIND_SIGNATURE,   /* word shingles of the signature block */
	FP_KIND_URLS,        /* the set of URL registered domains */
	FP_KIND_ATTACHMENTS, /* the set of attachment SHA-256 hashes */
	FP_KIND_COUNT
};
/* "text", "signature", "urls", "attachments"; NULL for an unknown kind. */
const char *fp_kind_name(enum fp_kind k);

struct fp_sig {
	uint32_t v[FP_K];
};

struct fp_limits {
	size_t max_bytes;  /* input bytes examined per text (256 KiB) */
	size_t max_tokens; /* tokens kept per text (10 000) */
};

/* Normaliser options (the signature block keeps what identifies a sender). */
enum {
	FP_NORM_KEEP_NUMBERS = 1u << 0,   /* digits stay (phone numbers) instead of "#n" */
	FP_NORM_KEEP_ADDRESSES = 1u << 1, /* URLs and e-mail addresses are split into
	                                   * words instead of becoming "#u" / "#e" */
};

/* Placeholders: never produced by a word, which holds no '#'. */
#define FP_TOKEN_NUMBER "#n"
#define FP_TOKEN_URL "#u"
#define FP_TOKEN_EMAIL "#e"

struct fp_params {
	struct fp_limits lim;
	unsigned text_width;       /* words per text shingle (4) */
	size_t text_min_shingles;  /* fewer: no text signature (16) */
	unsigned sig_width;        /* words per signature-block shingle (2) */
	size_t sig_min_shingles;   /* fewer: no signature-block signature (3) */
};
struct fp_params fp_params_default(void);

/*
 * Appends the normalised tokens of text[0..len) to out, separated by single
 * spaces (no leading or trailing space; out is not reset).  Returns the
 * number of tokens; *truncated (may be NULL) is set to 1 when a cap cut the
 * input, else 0.  Rules (docs/fingerprint.md): tokens are runs of letters
 * and digits (any code point above U+007F that is not a space or
 * punctuation counts as a letter); zero-width characters and soft hyphens
 * are dropped inside words; fullwidth ASCII is folded to ASCII; Latin,
 * Greek and Cyrillic are lower-cased; each character of a script written
 * without spaces (Han, Hiragana, Katakana, Thai: unicode_is_unspaced()) is
 * a token of its own; a whitespace-delimited chunk holding
 * "://" or starting with "www." is one "#u", one with a '@' between word
 * characters and a '.' after it is one "#e"; a word holding a digit is
 * "#n", and consecutive "#n" are one; words are cut at 40 bytes.
 */
size_t fp_normalize(const char *text, size_t len, unsigned flags, const struct fp_limits *lim,
		    struct buf *out, int *truncated);

/* 64-bit hash of bytes (wyhash-style multiply-fold; stable across hosts). */
uint64_t fp_hash64(const void *data, size_t len, uint64_t seed);

/* Signature builder: init, add element hashes (order and repeats do not
 * matter: a signature stands for a set), done. */
void fp_sig_init(struct fp_sig *s);
void fp_sig_add(struct fp_sig *s, uint64_t element_hash);

/*
 * MinHash of the width-word shingles of a normalised token stream (as
 * written by fp_normalize).  Returns the number of shingles (tokens - width
 * + 1, or 0 when there are fewer tokens than width); *s is written only
 * when that is at least min_shingles, and the return value tells.
 */
size_t fp_sig_from_tokens(const char *tokens, size_t len, unsigned width, size_t min_shingles,
			  struct fp_sig *s);

/* Estimated Jaccard similarity: the share of equal minimums, 0.0 .. 1.0. */
double fp_sig_similarity(const struct fp_sig *a, const struct fp_sig *b);
/* Same, as a count of equal minimums out of FP_K. */
unsigned fp_sig_equal_count(const struct fp_sig *a, const struct fp_sig *b);

/* What a store keeps: FP_SIG_BYTES bytes, byte order fixed. */
void fp_sig_encode(const struct fp_sig *s, enum fp_kind kind, uint8_t out[FP_SIG_BYTES]);
/* 0, or -1 when len, version or kind are wrong (a row of an older scheme). */
int fp_sig_decode(const uint8_t *in, size_t len, struct fp_sig *s, enum fp_kind *kind);

/* The fingerprints of one message. */
struct fp_message {
	unsigned present;                 /* bit (1u << kind): sig[kind] is valid */
	uint32_t count[FP_KIND_COUNT];    /* shingles / set elements behind each */
	int truncated;                    /* a cap of fp_limits cut some text */
	struct fp_sig sig[FP_KIND_COUNT];
};

/*
 * Text alone (no content parse): the FP_KIND_TEXT part of fp_message.
 * Returns 0 and fills *s, or -1 when the text is too short (fewer than
 * p->text_min_shingles shingles).  *nshingles and *truncated may be NULL.
 */
int fp_text_sig(const char *text, size_t len, const struct fp_params *p, struct fp_sig *s,
		size_t *nshingles, int *truncated);

/*
 * All fingerprints of a parsed message (content.h, borrowed for the call):
 *  - text: the text/plain parts (the converted HTML parts when there is
 *    none), joined, with the signature block cut out of the first one;
 *  - signature: content_signature(), numbers and addresses kept;
 *  - urls: the distinct registered domains of content_url_at();
 *  - attachments: the distinct SHA-256 of content_attachment_at().
 * Never fails; out->present says which exist.
 */
void fp_message_compute(const struct content_msg *m, const struct fp_params *p,
			struct fp_message *out);

#endif
