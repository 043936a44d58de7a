/*
 * digest_link.h - signed, expiring one-click release links (R19).
 *
 * A link names a quarantine row and an expiry time; its signature is
 * HMAC-SHA256 over "release", the row id, the row's recipient and the
 * expiry, with a key kept in <data_dir>/link.key (32 random bytes, mode
 * 0600, made on first use).  The recipient is inside the signature but not
 * in the URL: a link cannot be turned into one for another row, and it says
 * nothing about the user to whoever sees it.  Once is enforced by the
 * quarantine itself: a released row is not held any more.
 */
#ifndef MW_DIGEST_DIGEST_LINK_H
#define MW_DIGEST_DIGEST_LINK_H

#include <stddef.h>
#include <stdint.h>

struct conf;

#define DIGEST_KEY_LEN 32
#define DIGEST_SIG_HEX 65   /* 64 hex digits + NUL */

/* Loads the key, creating it when absent.  0, or -1 with err. */
int digest_key_load(const struct conf *c, unsigned char key[DIGEST_KEY_LEN], char *err,
    size_t errlen);

void digest_link_sign(const unsigned char key[DIGEST_KEY_LEN], int64_t id, const char *rcpt,
    int64_t exp, char out[DIGEST_SIG_HEX]);

enum digest_link_check { DIGEST_LINK_OK = 0, DIGEST_LINK_BAD = -1, DIGEST_LINK_EXPIRED = 1 };
/* Constant-time comparison; the signature is checked before the expiry, so
 * an expired answer means a genuine link. */
enum digest_link_check digest_link_verify(const unsigned char key[DIGEST_KEY_LEN], int64_t id,
    const char *rcpt, int64_t exp, const char *sig, int64_t now);

/* The URL of a release link: base (e.g. "http://127.0.0.1:8025") + path. */
void digest_link_url(const char *base, int64_t id, int64_t exp, const char *sig, char *out,
    size_t n);

#endif
