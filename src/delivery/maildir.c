/*
 * maildir.c - maildir:/PATH destination: PATH/<recipient>/{tmp,new,cur}.
 *
 * Durable before 250 (STYLE 6): the file is written in tmp/, fsynced,
 * renamed into new/, and new/ is fsynced (plus the recipient's directory and
 * PATH when they were just created), so a crash never loses a message we
 * reported delivered and never shows a half-written one in new/.
 *
 * Maildir files use the Unix convention: every line end (CRLF, bare LF, bare
 * CR) is written as LF.  The first line is "Delivered-To: <address>".
 *
 * The recipient becomes a directory name, so it is checked: no '/', no
 * leading '.', no control bytes (no path traversal, no header injection via
 * Delivered-To).  A bad recipient gets 550 5.1.3; a file-system error 451.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/util.h"
#include "delivery/delivery.h"

#define CHUNK 16384

static int rcpt_ok(const char *r)
{
	size_t n = strlen(r);

	if (n == 0 || n > 255 || r[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)r[i];
		if (c < 0x20 || c == 0x7f || c == '/')
			return 0;
	}
	return 1;
}

/* time.MusecPpidQseq.host: unique across processes (pid), threads and
 * calls (the counter), hosts (the name); O_EXCL catches anything else. */
static void unique_name(char *out, size_t n)
{
	/* The one piece of shared state in this module: names must differ
	 * across worker threads, and an atomic needs no lock. */
	static atomic_ulong seq;
	struct timeval tv;
	char host[256], safe[256];
	size_t j = 0;

	gettimeofday(&tv, NULL);
	if (gethostname(host, sizeof(host)) != 0)
		mw_strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	/* '/' and ':' are not allowed in the host part (maildir spec). */
	for (size_t i = 0; host[i] && j + 1 < sizeof(safe); i++)
		safe[j++] = (host[i] == '/' || host[i] == ':') ? '_' : host[i];
	safe[j] = '\0';
	snprintf(out, n, "%lld.M%06ldP%ldQ%lu.%s", (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
		 atomic_fetch_add(&seq, 1) + 1, safe);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Header + message with LF line ends: 0 or -1 (errno). */
static int write_message(int fd, const char *rcpt, const char *d, size_t len)
{
	char *out = xmalloc(CHUNK);
	size_t o;
	int rc = -1;

	o = (size_t)snprintf(out, CHUNK, "Delivered-To: %s\n", rcpt);
	for (size_t i = 0; i < len; i++) {
		char c = d[i];
		if (o + 1 > CHUNK) {
			if (write_all(fd, out, o) < 0)
				goto out;
			o = 0;
		}
		if (c == '\r') {
			if (i + 1 < len && d[i + 1] == '\n')
				i++;
			c = '\n';
		}
		out[o++] = c;
	}
	rc = write_all(fd, out, o);
out:
	free(out);
	return rc;
}

/* Deliver one copy: 0, or -1 with errno and *what naming the failed step. */
static int deliver_one(const char *base, const char *rcpt, const struct delivery_job *job, const char **what)
{
	char dir[4096], tmpd[4200], newd[4200], curd[4200], name[400], tmpf[4700], newf[4700];
	struct stat st;
	int fresh, fd, e;
	size_t i;

	if (mw_snprintf(dir, sizeof(dir), "%s/%s", base, rcpt) < 0) {
		*what = "path";
		errno = ENAMETOOLONG;
		return -1;
	}
	mw_str_lower(dir + strlen(base) + 1);
	snprintf(tmpd, sizeof(tmpd), "%s/tmp", dir);
	snprintf(newd, sizeof(newd), "%s/new", dir);
	snprintf(curd, sizeof(curd), "%s/cur", dir);
	fresh = stat(newd, &st) != 0;
	*what = "mkdir";
	if (mw_mkdir_p(tmpd, 0700) < 0 || mw_mkdir_p(newd, 0700) < 0 || mw_mkdir_p(curd, 0700) < 0)
		return -1;
	if (fresh && (mw_fsync_dir(dir) < 0 || mw_fsync_dir(base) < 0))
		return -1;

	*what = "create";
	for (i = 0;; i++) {
		unique_name(name, sizeof(name));
		snprintf(tmpf, sizeof(tmpf), "%s/%s", tmpd, name);
		fd = open(tmpf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST || i == 5)
			return -1;
	}
	*what = "write";
	if (write_message(fd, rcpt, job->data, job->len) < 0)
		goto fail;
	*what = "fsync";
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	snprintf(newf, sizeof(newf), "%s/%s", newd, name);
	*what = "rename";
	if (rename(tmpf, newf) < 0)
		goto fail;
	*what = "fsync new/";
	if (mw_fsync_dir(newd) < 0)
		return -1; /* the file is in new/ but may not survive a crash: 451 */
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmpf);
	errno = e;
	return -1;
}

int delivery_maildir(const struct delivery_job *job, const char *path, struct delivery_result *res)
{
	size_t failed = 0;

	for (size_t i = 0; i < job->n_rcpts; i++) {
		const char *what = "";

		if (!rcpt_ok(job->rcpts[i])) {
			res[i].code = 550;
			mw_strlcpy(res[i].text, "5.1.3 recipient not usable as a maildir name", sizeof(res[i].text));
			continue;
		}
		if (deliver_one(path, job->rcpts[i], job, &what) < 0) {
			res[i].code = 451;
			snprintf(res[i].text, sizeof(res[i].text), "4.3.0 maildir %s: %s", what, strerror(errno));
			failed++;
			continue;
		}
		res[i].code = 250;
		mw_strlcpy(res[i].text, "delivered to maildir", sizeof(res[i].text));
	}
	/* Nothing delivered and every failure local: the attempt as a whole
	 * failed (delivery.h), e.g. PATH is missing or not writable. */
	return failed > 0 && failed == job->n_rcpts ? -1 : 0;
}
