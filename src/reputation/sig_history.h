/*
 * sig_history.h - which closing paragraphs a sender repeats: R7's second
 * form of the signature block, "the last short block of a text part that
 * repeats across a sender's messages".
 *
 * A message with no signature block of its own (no "-- " line, no
 * signature-like last paragraph: content.h) still often ends the same way
 * every time - a corporate disclaimer, a campaign's footer - and that block
 * is what the field article calls "the most static piece" of a sender's
 * mail.  The scan path offers each such message's last paragraph here
 * under its sender (the From address); once the same paragraph (after the
 * fingerprint normaliser: case, spacing and line breaks do not matter) has
 * ended SIG_HISTORY_REPEATS distinct messages of that sender within
 * SIG_HISTORY_WINDOW, it is the message's signature block
 * (content_signature_adopt()), fingerprinted and matched like a delimited
 * one.
 *
 * "Distinct" is by the caller's digest of the message text: a resend of
 * one of the last three texts (a retried transaction, one newsletter sent
 * in many transactions) counts once.
 * The memory is a fixed table of capacity entries (about 64 bytes each),
 * in process memory only: when full, the least recently seen entry of a
 * small neighbourhood makes room, and a restart forgets the history (a
 * sender's block is found again after its next few messages).
 *
 * Thread-safe (one mutex; an offer is a normalisation and a few probes).
 */
#ifndef MW_REPUTATION_SIG_HISTORY_H
#define MW_REPUTATION_SIG_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#define SIG_HISTORY_REPEATS 3               /* messages ending with the block */
#define SIG_HISTORY_WINDOW (30 * 86400)     /* seconds since its last sighting */
#define SIG_HISTORY_MAX_ENTRIES 100000000

struct sig_history;

/* NULL when capacity is 0 or above SIG_HISTORY_MAX_ENTRIES. */
struct sig_history *sig_history_new(size_t capacity);
void sig_history_free(struct sig_history *h);

/*
 * Count one message of sender (an address; compared without regard to
 * case) whose last paragraph is block, msg being a digest of its text.
 * Returns how many distinct messages of this sender ended with this block
 * within the window, this one included; 0 when block is too short to be a
 * signature block (fewer words than a signature fingerprint needs) or
 * sender is empty - such offers are not kept.
 */
unsigned sig_history_add(struct sig_history *h, const char *sender, const char *block,
    uint64_t msg, int64_t now);

#endif
