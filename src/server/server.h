/*
 * server.h - `mailward serve`: wires the subsystems together and runs the
 * event loop until SIGTERM/SIGINT.
 *
 * Start-up order: open the store, the tracking writer and the spool; bind
 * the SMTP listener; drop privileges; recover the spool (every committed
 * file is queued again, incomplete ones moved aside); start the delivery
 * queue and the control socket; run.  Shutdown: stop accepting, answer 421
 * to idle sessions, let pending commits finish, stop the queue (attempts in
 * progress complete), flush the tracking log.
 */
#ifndef MW_SERVER_SERVER_H
#define MW_SERVER_SERVER_H

struct conf;

/* Returns the process exit status. */
int server_run(const struct conf *c);

#endif
