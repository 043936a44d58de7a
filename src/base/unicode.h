/*
 * unicode.h - facts about code points that more than one tokenizer needs.
 *
 * Pure functions of a code point: no state, no allocation, thread-safe.
 * Decoding UTF-8 stays with each caller (they differ on what an invalid
 * byte means); encoding is the same for all.
 */
#ifndef MW_BASE_UNICODE_H
#define MW_BASE_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/*
 * 1 when c belongs to a script written without spaces between words: Han
 * (the unified ideographs, their extension blocks and the compatibility
 * ideographs), Hiragana, Katakana (with its phonetic extensions and the
 * half-width forms U+FF66..U+FF9F) and Thai; else 0.  A run of such
 * characters is a phrase or a sentence, not a word, so tokenizers cut it
 * (bayes_token.c: overlapping character pairs; fingerprint_norm.c: one
 * token per character).  Hangul is written with spaces and is not one of
 * them.
 */
int unicode_is_unspaced(uint32_t c);

/* c as UTF-8 into o (room for 4 bytes); returns the length, 1..4.  What is
 * not a Unicode scalar value - 0, a surrogate, beyond U+10FFFF - is written
 * as U+FFFD, so the output is always valid UTF-8 without NUL bytes. */
size_t unicode_utf8_put(uint32_t c, char *o);

#endif
