/* server.c - see server.h. */
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "admin/admin.h"
#include "base/util.h"
#include "conf/conf.h"
#include "control/control.h"
#include "log/log.h"
#include "queue/queue.h"
#include "score/score_pool.h"
#include "smtp/smtp_session.h"
#include "spool/spool.h"
#include "store/store.h"
#include "track/track.h"

struct server {
	const struct conf *conf;
	struct event_base *base;
	struct smtp_listener *smtp;
	struct event *stop_check;
	int64_t stop_deadline_ms;
};

static void on_stop_check(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	MW_UNUSED(fd);
	MW_UNUSED(what);
	if (smtp_listener_sessions(srv->smtp) == 0 || mw_mono_ms() > srv->stop_deadline_ms)
		event_base_loopexit(srv->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	MW_UNUSED(what);
	if (srv->stop_check)
		return;
	log_info(NULL, "server stopping signal=%d sessions=%zu", (int)sig, smtp_listener_sessions(srv->smtp));
	smtp_listener_shutdown(srv->smtp);
	/* Sessions waiting on a commit get their answer first; ten seconds is
	 * far more than a group commit takes. */
	srv->stop_deadline_ms = mw_mono_ms() + 10000;
	srv->stop_check = event_new(srv->base, -1, EV_PERSIST, on_stop_check, srv);
	struct timeval tick = { 0, 50000 };
	event_add(srv->stop_check, &tick);
}

static void chown_tree(const char *path, uid_t uid, gid_t gid)
{
	if (chown(path, uid, gid) < 0)
		log_warn(NULL, "server chown path=%s error=\"%s\"", path, strerror(errno));
}

/* Bind first (port 25 needs root), then give up root for good. */
static int drop_privileges(const struct conf *c, const char *spool_dir)
{
	if (geteuid() != 0)
		return 0;
	if (c->user[0] == '\0' || strcmp(c->user, "root") == 0) {
		log_warn(NULL, "server running as root: set [run] user to drop privileges");
		return 0;
	}
	struct passwd *pw = getpwnam(c->user);
	if (pw == NULL) {
		log_warn(NULL, "server running as root: user \"%s\" does not exist", c->user);
		return 0;
	}
	const char *sub[] = { "", "/tmp", "/queue", "/corrupt" };
	char p[1024];
	chown_tree(c->data_dir, pw->pw_uid, pw->pw_gid);
	for (size_t i = 0; i < MW_ARRAY_LEN(sub); i++) {
		snprintf(p, sizeof(p), "%s%s", spool_dir, sub[i]);
		chown_tree(p, pw->pw_uid, pw->pw_gid);
	}
	const char *dbf[] = { "mailward.db", "mailward.db-wal", "mailward.db-shm" };
	for (size_t i = 0; i < MW_ARRAY_LEN(dbf); i++) {
		conf_path(c, dbf[i], p, sizeof(p));
		if (access(p, F_OK) == 0)
			chown_tree(p, pw->pw_uid, pw->pw_gid);
	}
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		log_msg(LOG_FATAL, NULL, "server cannot drop privileges to %s: %s", c->user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		log_msg(LOG_FATAL, NULL, "server privileges could be regained after dropping them");
		return -1;
	}
#if defined(__SANITIZE_ADDRESS__)
	/* The leak checker stops the world with ptrace, which a process that
	 * changed its uid refuses; only sanitizer builds re-allow it. */
	prctl(PR_SET_DUMPABLE, 1);
#endif
	log_info(NULL, "server privileges dropped user=%s uid=%d", c->user, (int)pw->pw_uid);
	return 0;
}

/* One server per data directory: a second one would purge the first one's
 * spool temp files at recovery and deliver its queue twice. */
static int lock_data_dir(const struct conf *c)
{
	char path[1024];
	conf_path(c, "serve.lock", path, sizeof(path));
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_msg(LOG_FATAL, NULL, "server lock=%s error=\"%s\"", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		log_msg(LOG_FATAL, NULL, "server error=\"another mailward serve is running on data_dir %s\"",
		    c->data_dir);
		close(fd);
		return -1;
	}
	return fd; /* held until exit */
}

static void on_recovered(const char *qid, void *arg)
{
	queue_add(arg, qid);
}

int server_run(const struct conf *c)
{
	char err[512] = "";
	char spool_dir[1024];
	int rc = 1;
	struct server srv = { .conf = c };
	struct store *store = NULL;
	struct track *track = NULL;
	struct spool *spool = NULL;
	struct score_pool *scan = NULL;
	struct queue *queue = NULL;
	struct control *ctl = NULL;
	struct admin *adm = NULL;
	struct event *sigterm = NULL, *sigint = NULL;

	signal(SIGPIPE, SIG_IGN);
	umask(077);
	if (mw_mkdir_p(c->data_dir, 0700) < 0) {
		log_msg(LOG_FATAL, NULL, "server data_dir=%s error=\"%s\"", c->data_dir, strerror(errno));
		return 1;
	}
	int lock_fd = lock_data_dir(c);
	if (lock_fd < 0)
		return 1;
	if ((store = store_open(c, err, sizeof(err))) == NULL ||
	    (track = track_open(c, err, sizeof(err))) == NULL) {
		log_msg(LOG_FATAL, NULL, "server storage error=\"%s\"", err);
		goto out;
	}
	conf_path(c, "spool", spool_dir, sizeof(spool_dir));
	if ((spool = spool_open(spool_dir, (int)c->fsync, err, sizeof(err))) == NULL) {
		log_msg(LOG_FATAL, NULL, "server spool error=\"%s\"", err);
		goto out;
	}
	if (!c->fsync)
		log_warn(NULL, "server fsync=no: acknowledged mail can be lost in a crash");
	queue = queue_new(c, spool, track);
	srv.base = event_base_new();
	if ((scan = score_pool_new(c, err, sizeof(err))) == NULL) {
		log_msg(LOG_FATAL, NULL, "server scan error=\"%s\"", err);
		goto out;
	}
	struct smtp_deps deps = { c, store, spool, queue, track, scan };
	if ((srv.smtp = smtp_listener_new(srv.base, &deps, err, sizeof(err))) == NULL) {
		log_msg(LOG_FATAL, NULL, "server smtp error=\"%s\"", err);
		goto out;
	}
	/* Before the privilege drop: the admin port may be a privileged one. */
	if ((adm = admin_start(c, spool, queue, err, sizeof(err))) == NULL) {
		log_msg(LOG_FATAL, NULL, "server admin error=\"%s\"", err);
		goto out;
	}
	if (drop_privileges(c, spool_dir) < 0)
		goto out;
	int moved = spool_recover(spool, on_recovered, queue);
	if (moved < 0) {
		log_msg(LOG_FATAL, NULL, "server spool recovery failed");
		goto out;
	}
	if (moved > 0)
		log_warn(NULL, "server spool recovery moved=%d to corrupt/", moved);
	if (queue_start(queue) < 0) {
		log_msg(LOG_FATAL, NULL, "server cannot start delivery workers");
		goto out;
	}
	if ((ctl = control_start(c, queue, err, sizeof(err))) == NULL) {
		log_msg(LOG_FATAL, NULL, "server control error=\"%s\"", err);
		goto out;
	}
	sigterm = evsignal_new(srv.base, SIGTERM, on_signal, &srv);
	sigint = evsignal_new(srv.base, SIGINT, on_signal, &srv);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	log_info(NULL, "server ready smtp=%s data_dir=%s", c->smtp_listen, c->data_dir);
	event_base_dispatch(srv.base);
	rc = 0;
	log_info(NULL, "server stopped");
out:
	control_stop(ctl);
	admin_stop(adm);
	if (srv.smtp)
		smtp_listener_free(srv.smtp);
	if (srv.stop_check)
		event_free(srv.stop_check);
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	/* After the listener: no session waits on a scan any more. */
	score_pool_free(scan);
	if (queue)
		queue_free(queue);
	if (spool)
		spool_close(spool);
	if (track)
		track_close(track);
	if (store)
		store_close(store);
	if (srv.base)
		event_base_free(srv.base);
	close(lock_fd);
	return rc;
}
