/* admin.c - see admin.h. */
#include "admin/admin.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "base/util.h"
#include "conf/conf.h"
#include "digest/digest.h"
#include "log/log.h"
#include "quarantine/quarantine.h"
#include "queue/queue.h"
#include "store/store.h"

struct admin {
	const struct conf *c;
	struct spool *sp;
	struct queue *q;
	struct store *st;
	struct event_base *base;
	struct evhttp *http;
	struct event *digest_ev;
	struct event *stop_ev;
	int stop_pipe[2];
	pthread_t thread;
	int started;
	unsigned char key[DIGEST_KEY_LEN];
};

static void page(struct evhttp_request *req, int code, const char *reason, const char *title,
    const char *text)
{
	struct evbuffer *b = evbuffer_new();
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "text/html; charset=utf-8");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	evbuffer_add_printf(b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s"
	    "</title></head><body><h1>%s</h1><p>%s</p></body></html>\n", title, title, text);
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
}

static int64_t num_param(const struct evkeyvalq *qs, const char *name)
{
	const char *v = evhttp_find_header(qs, name);
	char *end;
	if (v == NULL || *v == '\0')
		return -1;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	return errno || *end || n < 0 ? -1 : (int64_t)n;
}

static void on_release(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;
	struct evkeyvalq qs;
	const char *uri = evhttp_request_get_uri(req);
	const struct evhttp_uri *pu = evhttp_request_get_evhttp_uri(req);
	const char *query = pu ? evhttp_uri_get_query(pu) : NULL;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET || query == NULL ||
	    evhttp_parse_query_str(query, &qs) != 0) {
		page(req, 400, "Bad Request", "Bad request", "This is not a release link.");
		return;
	}
	int64_t id = num_param(&qs, "id"), exp = num_param(&qs, "exp");
	char sig[DIGEST_SIG_HEX] = "";
	const char *s = evhttp_find_header(&qs, "sig");
	if (s)
		mw_strlcpy(sig, s, sizeof(sig));
	evhttp_clear_headers(&qs);
	struct store_quarantine q;
	if (id < 1 || exp < 0 || store_quarantine_get(a->st, id, &q) != 0) {
		log_info(NULL, "admin release-link bad uri=%.80s", uri);
		page(req, 403, "Forbidden", "Invalid link", "This release link is not valid.");
		return;
	}
	enum digest_link_check ck = digest_link_verify(a->key, id, q.rcpt, exp, sig, mw_now());
	if (ck == DIGEST_LINK_BAD) {
		log_info(q.ref, "admin release-link bad-signature id=%lld", (long long)id);
		page(req, 403, "Forbidden", "Invalid link", "This release link is not valid.");
	} else if (ck == DIGEST_LINK_EXPIRED) {
		log_info(q.ref, "admin release-link expired id=%lld", (long long)id);
		page(req, 410, "Gone", "Link expired", "This release link has expired; ask your "
		    "administrator to release the message.");
	} else {
		char actor[400], qid[24], err[512];
		snprintf(actor, sizeof(actor), "link:%s", q.rcpt);
		int r = quarantine_release(a->st, a->c, a->sp, id, actor, qid, err, sizeof(err));
		if (r == 0) {
			queue_add(a->q, qid);
			page(req, 200, "OK", "Released", "The message is on its way to your mailbox.");
		} else if (r == 1) {
			log_info(q.ref, "admin release-link used id=%lld state=%s", (long long)id, q.state);
			page(req, 410, "Gone", "Already done", "This message was already released, "
			    "deleted or expired: the link works once.");
		} else {
			log_error(q.ref, "admin release-link id=%lld error=\"%s\"", (long long)id, err);
			page(req, 503, "Service Unavailable", "Try again later",
			    "The message could not be released just now.");
		}
	}
	store_quarantine_clear(&q);
}

static void on_health(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b = evbuffer_new();
	MW_UNUSED(arg);
	evbuffer_add_printf(b, "ok\n");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void on_other(struct evhttp_request *req, void *arg)
{
	MW_UNUSED(arg);
	page(req, 404, "Not Found", "Not found", "No such page.");
}

static void queued(const char *qid, void *arg)
{
	queue_add(arg, qid);
}

static void on_digest(evutil_socket_t fd, short what, void *arg)
{
	struct admin *a = arg;
	char err[512];
	int sent = 0;
	MW_UNUSED(fd);
	MW_UNUSED(what);
	if (digest_run(a->st, a->c, a->sp, NULL, mw_now(), 0, queued, a->q, &sent, err,
	    sizeof(err)) < 0)
		log_error(NULL, "admin digest error=\"%s\" sent=%d", err, sent);
	else if (sent > 0)
		log_info(NULL, "admin digest sent=%d", sent);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct admin *a = arg;
	MW_UNUSED(fd);
	MW_UNUSED(what);
	event_base_loopbreak(a->base);
}

static void *admin_main(void *arg)
{
	struct admin *a = arg;
	event_base_dispatch(a->base);
	return NULL;
}

static int split_listen(const char *spec, char *host, size_t hn, int *port)
{
	const char *colon = strrchr(spec, ':');
	if (colon == NULL)
		return -1;
	const char *h = spec;
	size_t hl = (size_t)(colon - spec);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl >= hn)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = atoi(colon + 1);
	return *port > 0 && *port < 65536 ? 0 : -1;
}

struct admin *admin_start(const struct conf *c, struct spool *sp, struct queue *q, char *err,
    size_t errlen)
{
	struct admin *a = xcalloc(1, sizeof(*a));
	char host[128];
	int port;

	a->c = c;
	a->sp = sp;
	a->q = q;
	a->stop_pipe[0] = a->stop_pipe[1] = -1;
	if (split_listen(c->admin_listen, host, sizeof(host), &port) < 0) {
		snprintf(err, errlen, "[admin] listen: cannot parse \"%s\"", c->admin_listen);
		goto fail;
	}
	if ((a->st = store_open(c, err, errlen)) == NULL ||
	    digest_key_load(c, a->key, err, errlen) < 0)
		goto fail;
	if (pipe(a->stop_pipe) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	a->base = event_base_new();
	a->http = evhttp_new(a->base);
	if (a->base == NULL || a->http == NULL) {
		snprintf(err, errlen, "cannot set up the admin listener");
		goto fail;
	}
	if (evhttp_bind_socket(a->http, host, (ev_uint16_t)port) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", c->admin_listen, strerror(errno));
		goto fail;
	}
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(a->http, 16384);
	evhttp_set_max_body_size(a->http, 0);
	evhttp_set_timeout(a->http, 30);
	evhttp_set_cb(a->http, "/release", on_release, a);
	evhttp_set_cb(a->http, "/health", on_health, a);
	evhttp_set_gencb(a->http, on_other, a);
	a->stop_ev = event_new(a->base, a->stop_pipe[0], EV_READ, on_stop, a);
	event_add(a->stop_ev, NULL);
	/* Each user is due on their tenant's own interval (digest_run decides);
	 * the tick only bounds how late a digest can be. */
	struct timeval tv = { c->quarantine_digest > 0 && c->quarantine_digest < 300 ?
	    (time_t)c->quarantine_digest : 300, 0 };
	a->digest_ev = event_new(a->base, -1, EV_PERSIST, on_digest, a);
	event_add(a->digest_ev, &tv);
	int rc = pthread_create(&a->thread, NULL, admin_main, a);
	if (rc != 0) {
		snprintf(err, errlen, "admin thread: %s", strerror(rc));
		goto fail;
	}
	a->started = 1;
	log_info(NULL, "admin listening on %s", c->admin_listen);
	return a;
fail:
	admin_stop(a);
	return NULL;
}

void admin_stop(struct admin *a)
{
	if (a == NULL)
		return;
	if (a->started) {
		char x = 1;
		if (write(a->stop_pipe[1], &x, 1) < 0)
			log_error(NULL, "admin stop error=\"%s\"", strerror(errno));
		pthread_join(a->thread, NULL);
	}
	if (a->digest_ev)
		event_free(a->digest_ev);
	if (a->stop_ev)
		event_free(a->stop_ev);
	if (a->http)
		evhttp_free(a->http);
	if (a->base)
		event_base_free(a->base);
	for (int i = 0; i < 2; i++)
		if (a->stop_pipe[i] >= 0)
			close(a->stop_pipe[i]);
	if (a->st)
		store_close(a->st);
	free(a);
}
