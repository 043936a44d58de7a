/* digest_link.c - see digest_link.h. */
#include "digest/digest_link.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "base/util.h"
#include "conf/conf.h"

int digest_key_load(const struct conf *c, unsigned char key[DIGEST_KEY_LEN], char *err,
    size_t errlen)
{
	char path[1024];

	conf_path(c, "link.key", path, sizeof(path));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		/* O_EXCL: two processes making the key at once agree on one. */
		unsigned char fresh[DIGEST_KEY_LEN];
		if (RAND_bytes(fresh, sizeof(fresh)) != 1) {
			snprintf(err, errlen, "no randomness for %s", path);
			return -1;
		}
		int wfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (wfd >= 0) {
			ssize_t w = write(wfd, fresh, sizeof(fresh));
			int ok = w == (ssize_t)sizeof(fresh) && fsync(wfd) == 0;
			close(wfd);
			if (!ok) {
				unlink(path);
				snprintf(err, errlen, "cannot write %s", path);
				return -1;
			}
		} else if (errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
			return -1;
		}
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	ssize_t r = read(fd, key, DIGEST_KEY_LEN);
	close(fd);
	if (r != DIGEST_KEY_LEN) {
		snprintf(err, errlen, "%s is not a %d-byte key", path, DIGEST_KEY_LEN);
		return -1;
	}
	return 0;
}

void digest_link_sign(const unsigned char key[DIGEST_KEY_LEN], int64_t id, const char *rcpt,
    int64_t exp, char out[DIGEST_SIG_HEX])
{
	char msg[600];
	unsigned char mac[32];
	unsigned int maclen = 0;
	int n = snprintf(msg, sizeof(msg), "release\n%lld\n%s\n%lld", (long long)id, rcpt,
	    (long long)exp);

	HMAC(EVP_sha256(), key, DIGEST_KEY_LEN, (const unsigned char *)msg,
	    (size_t)(n < (int)sizeof(msg) ? n : (int)sizeof(msg) - 1), mac, &maclen);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	out[64] = '\0';
}

enum digest_link_check digest_link_verify(const unsigned char key[DIGEST_KEY_LEN], int64_t id,
    const char *rcpt, int64_t exp, const char *sig, int64_t now)
{
	char want[DIGEST_SIG_HEX];

	if (sig == NULL || strlen(sig) != 64)
		return DIGEST_LINK_BAD;
	digest_link_sign(key, id, rcpt, exp, want);
	if (CRYPTO_memcmp(want, sig, 64) != 0)
		return DIGEST_LINK_BAD;
	return now > exp ? DIGEST_LINK_EXPIRED : DIGEST_LINK_OK;
}

void digest_link_url(const char *base, int64_t id, int64_t exp, const char *sig, char *out,
    size_t n)
{
	size_t bl = strlen(base);
	snprintf(out, n, "%.*s/release?id=%lld&exp=%lld&sig=%s",
	    (int)(bl > 0 && base[bl - 1] == '/' ? bl - 1 : bl), base, (long long)id,
	    (long long)exp, sig);
}
