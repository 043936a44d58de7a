/* control.c - see control.h. */
#include "control/control.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/util.h"
#include "conf/conf.h"
#include "log/log.h"
#include "queue/queue.h"

struct control {
	int fd;
	int stop_pipe[2];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct queue *q;
	pthread_t thread;
};

static int control_addr(const struct conf *c, struct sockaddr_un *sa, char *path, size_t pn)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	conf_path(c, "control.sock", path, pn);
	if (strlen(path) >= sizeof(sa->sun_path))
		return -1;
	mw_strlcpy(sa->sun_path, path, sizeof(sa->sun_path));
	return 0;
}

int control_request(const struct conf *c, const char *line, char *reply, size_t n)
{
	struct sockaddr_un sa;
	char path[sizeof(sa.sun_path)];
	if (control_addr(c, &sa, path, sizeof(path)) < 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	char req[512];
	int len = snprintf(req, sizeof(req), "%s\n", line);
	if (len < 0 || (size_t)len >= sizeof(req) || write(fd, req, (size_t)len) != len) {
		close(fd);
		return -1;
	}
	size_t got = 0;
	while (got + 1 < n) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		if (poll(&pfd, 1, 600000) <= 0)
			break;
		ssize_t r = read(fd, reply + got, n - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (memchr(reply, '\n', got))
			break;
	}
	close(fd);
	reply[got] = '\0';
	char *nl = strchr(reply, '\n');
	if (nl)
		*nl = '\0';
	return got > 0 ? 0 : -1;
}

static void control_answer(struct control *ctl, char *line, char *out, size_t n)
{
	char *arg = strchr(line, ' ');
	if (arg)
		*arg++ = '\0';
	if (strcmp(line, "ping") == 0) {
		mw_strlcpy(out, "ok", n);
	} else if (strcmp(line, "flush") == 0) {
		int r = queue_flush(ctl->q, arg && *arg ? arg : NULL);
		mw_strlcpy(out, r == 0 ? "ok" : "not found", n);
		log_info(NULL, "control flush qid=%s result=%s", arg ? arg : "*", out);
	} else if (strcmp(line, "queue") == 0 && arg && *arg) {
		/* A queue file written by another process (a quarantine release). */
		queue_add(ctl->q, arg);
		mw_strlcpy(out, "ok", n);
		log_info(NULL, "control queue qid=%s", arg);
	} else if (strcmp(line, "delete") == 0 && arg && *arg) {
		int r = queue_delete(ctl->q, arg);
		mw_strlcpy(out, r == 0 ? "ok" : r == 1 ? "not found" : "error: delete failed", n);
		log_info(NULL, "control delete qid=%s result=%s", arg, out);
	} else {
		mw_strlcpy(out, "error: unknown request", n);
	}
}

static void *control_main(void *arg)
{
	struct control *ctl = arg;
	for (;;) {
		struct pollfd pfd[2] = { { ctl->fd, POLLIN, 0 }, { ctl->stop_pipe[0], POLLIN, 0 } };
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		int cfd = accept4(ctl->fd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0)
			continue;
		char line[512];
		size_t got = 0;
		while (got + 1 < sizeof(line)) {
			struct pollfd cp = { cfd, POLLIN, 0 };
			if (poll(&cp, 1, 5000) <= 0)
				break;
			ssize_t r = read(cfd, line + got, sizeof(line) - 1 - got);
			if (r <= 0)
				break;
			got += (size_t)r;
			if (memchr(line, '\n', got))
				break;
		}
		line[got] = '\0';
		line[strcspn(line, "\r\n")] = '\0';
		char out[256];
		control_answer(ctl, line, out, sizeof(out));
		size_t ol = strlen(out);
		out[ol++] = '\n';
		ssize_t w = write(cfd, out, ol);
		(void)w;
		close(cfd);
	}
	return NULL;
}

struct control *control_start(const struct conf *c, struct queue *q, char *err, size_t errlen)
{
	struct control *ctl = xcalloc(1, sizeof(*ctl));
	struct sockaddr_un sa;
	ctl->q = q;
	ctl->fd = -1;
	ctl->stop_pipe[0] = ctl->stop_pipe[1] = -1;
	if (control_addr(c, &sa, ctl->path, sizeof(ctl->path)) < 0) {
		snprintf(err, errlen, "control socket path too long");
		goto fail;
	}
	unlink(ctl->path);
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	mode_t old = umask(077);
	int r = ctl->fd < 0 ? -1 : bind(ctl->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(ctl->fd, 16) < 0 || pipe2(ctl->stop_pipe, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "control socket %s: %s", ctl->path, strerror(errno));
		goto fail;
	}
	if (pthread_create(&ctl->thread, NULL, control_main, ctl) != 0) {
		snprintf(err, errlen, "control thread: cannot start");
		goto fail;
	}
	return ctl;
fail:
	if (ctl->fd >= 0)
		close(ctl->fd);
	if (ctl->stop_pipe[0] >= 0) {
		close(ctl->stop_pipe[0]);
		close(ctl->stop_pipe[1]);
	}
	free(ctl);
	return NULL;
}

void control_stop(struct control *ctl)
{
	if (ctl == NULL)
		return;
	ssize_t w = write(ctl->stop_pipe[1], "x", 1);
	(void)w;
	pthread_join(ctl->thread, NULL);
	close(ctl->fd);
	close(ctl->stop_pipe[0]);
	close(ctl->stop_pipe[1]);
	unlink(ctl->path);
	free(ctl);
}
