/*
 * control.h - the running server's control socket.
 *
 * The CLI edits the store directly, but a few actions need the server's
 * in-memory state (the delivery schedule): those go over a unix socket
 * <data_dir>/control.sock (mode 0600), one request line, one reply line:
 *     ping            -> ok
 *     flush [QID]     -> ok | not found
 *     delete QID      -> ok | not found
 * Replies are "ok", "not found" or "error: reason".
 */
#ifndef MW_CONTROL_CONTROL_H
#define MW_CONTROL_CONTROL_H

#include <stddef.h>

struct conf;
struct queue;
struct control;

/* Client side: 0 with the reply line in reply, or -1 when no server listens. */
int control_request(const struct conf *c, const char *line, char *reply, size_t n);

/* Server side: a thread answering requests against q.  NULL + err on failure. */
struct control *control_start(const struct conf *c, struct queue *q, char *err, size_t errlen);
void control_stop(struct control *ctl);

#endif
