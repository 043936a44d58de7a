/*
 * admin.h - the admin HTTP listener ([admin] listen) and the periodic
 * quarantine digest.
 *
 * One thread with its own event loop and store handle, so nothing here can
 * slow the SMTP loop.  Endpoints (a minimal start; the full API is its own
 * issue):
 *   GET /health                          "ok"
 *   GET /release?id=N&exp=T&sig=HEX      a digest's one-click release link
 *                                        (digest_link.h): 200 released,
 *                                        403 bad signature, 410 expired or
 *                                        already released/deleted/expired
 * The same loop runs digest_run() every 5 minutes (or every [quarantine]
 * digest when shorter); each user is due on their tenant's interval.
 */
#ifndef MW_ADMIN_ADMIN_H
#define MW_ADMIN_ADMIN_H

#include <stddef.h>

struct conf;
struct spool;
struct queue;
struct admin;

/* Binds [admin] listen and starts the thread.  NULL + err on failure. */
struct admin *admin_start(const struct conf *c, struct spool *sp, struct queue *q, char *err,
    size_t errlen);
void admin_stop(struct admin *a);   /* NULL is fine */

#endif
