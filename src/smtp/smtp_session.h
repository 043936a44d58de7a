/*
 * smtp_session.h - the SMTP listener and its sessions on libevent.
 *
 * This is the glue between sockets and the pure protocol (smtp_proto.h):
 * it reads bytes, feeds the proto, writes its replies when input runs dry,
 * asks the policy at RCPT, streams DATA into a spool file and answers the
 * end of data only when the spool's commit thread reports the file durable.
 * Everything here runs on the one event-loop thread; the only cross-thread
 * input is the spool's completion fd, matched to sessions by id.
 */
#ifndef MW_SMTP_SESSION_H
#define MW_SMTP_SESSION_H

#include <stddef.h>

struct event_base;
struct conf;
struct store;
struct spool;
struct queue;
struct track;
struct score_pool;
struct smtp_listener;

struct smtp_deps {
	const struct conf *conf;
	struct store *store;     /* owned by the caller; used on the loop thread only */
	struct spool *spool;
	struct queue *queue;
	struct track *track;
	struct score_pool *scan; /* NULL: messages are not scanned (tests of the core only) */
};

/* Binds conf->smtp_listen (and loads [tls] cert/key).  NULL + err on failure. */
struct smtp_listener *smtp_listener_new(struct event_base *base, const struct smtp_deps *deps,
    char *err, size_t errlen);
/* Stop accepting; sessions get 421 as soon as they are not waiting on a commit. */
void smtp_listener_shutdown(struct smtp_listener *l);
size_t smtp_listener_sessions(const struct smtp_listener *l);
/* Frees remaining sessions (after the loop ended) and the listener. */
void smtp_listener_free(struct smtp_listener *l);

#endif
