/* digest.c - see digest.h. */
#include "digest/digest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "base/buf.h"
#include "base/refid.h"
#include "base/timeparse.h"
#include "base/util.h"
#include "conf/conf.h"
#include "log/log.h"
#include "spool/spool.h"

void digest_base_url(const struct conf *c, char *out, size_t n)
{
	if (c->admin_url[0] != '\0')
		mw_strlcpy(out, c->admin_url, n);
	else
		snprintf(out, n, "http://%s", c->admin_listen);
}

/* Header-derived text into a body line: no control bytes. */
static void plain(struct buf *b, const char *s)
{
	for (; *s; s++)
		buf_append_char(b, (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
}

static void html(struct buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': buf_append_str(b, "&lt;"); break;
		case '>': buf_append_str(b, "&gt;"); break;
		case '&': buf_append_str(b, "&amp;"); break;
		case '"': buf_append_str(b, "&quot;"); break;
		default:
			buf_append_char(b, (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
		}
	}
}

char *digest_build(const struct conf *c, const unsigned char key[DIGEST_KEY_LEN],
    const char *rcpt, const struct store_quarantine *rows, size_t n, size_t total, int64_t now,
    size_t *len)
{
	struct buf b = BUF_INIT, txt = BUF_INIT, htm = BUF_INIT;
	unsigned char rnd[8];
	char boundary[64], date[64], base[512], url[1024], sig[DIGEST_SIG_HEX], when[64];
	const int64_t exp = now + c->quarantine_link_lifetime;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0x5a, sizeof(rnd));
	snprintf(boundary, sizeof(boundary), "=_mw_digest_%02x%02x%02x%02x%02x%02x%02x%02x",
	    rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	digest_base_url(c, base, sizeof(base));
	timefmt_rfc5322(now, date, sizeof(date));
	timefmt_rfc5322(exp, when, sizeof(when));

	buf_printf(&txt, "%zu message%s sent to %s %s held in quarantine.\r\n"
	    "Release one you want by opening its link (each works once, until %s).\r\n\r\n",
	    total, total == 1 ? "" : "s", rcpt, total == 1 ? "is" : "are", when);
	buf_printf(&htm, "<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\">"
	    "<title>Quarantine digest</title></head><body>\r\n<p>%zu message%s sent to ",
	    total, total == 1 ? "" : "s");
	html(&htm, rcpt);
	buf_printf(&htm, " %s held in quarantine. Each release link works once, until %s.</p>\r\n"
	    "<table border=\"1\" cellpadding=\"4\">\r\n<tr><th>Date</th><th>From</th>"
	    "<th>Subject</th><th>Score</th><th></th></tr>\r\n", total == 1 ? "is" : "are", when);
	for (size_t i = 0; i < n; i++) {
		const struct store_quarantine *q = &rows[i];
		char d[64];
		const char *from = q->from_hdr[0] ? q->from_hdr : q->sender[0] ? q->sender : "<>";
		timefmt_rfc5322(q->ts, d, sizeof(d));
		digest_link_sign(key, q->id, q->rcpt, exp, sig);
		digest_link_url(base, q->id, exp, sig, url, sizeof(url));
		buf_printf(&txt, "%zu. %s\r\n   From:    ", i + 1, d);
		plain(&txt, from);
		buf_append_str(&txt, "\r\n   Subject: ");
		plain(&txt, q->subject[0] ? q->subject : "(none)");
		buf_printf(&txt, "\r\n   Score:   %.2f\r\n   Release: %s\r\n\r\n", q->score, url);
		buf_printf(&htm, "<tr><td>%s</td><td>", d);
		html(&htm, from);
		buf_append_str(&htm, "</td><td>");
		html(&htm, q->subject[0] ? q->subject : "(none)");
		buf_printf(&htm, "</td><td>%.2f</td><td><a href=\"%s\">Release</a></td></tr>\r\n",
		    q->score, url);
	}
	if (total > n) {
		buf_printf(&txt, "... and %zu more: ask your administrator (mailward quarantine list "
		    "--user %s).\r\n", total - n, rcpt);
		buf_printf(&htm, "<tr><td colspan=\"5\">... and %zu more</td></tr>\r\n", total - n);
	}
	buf_append_str(&htm, "</table>\r\n</body></html>\r\n");

	buf_printf(&b, "From: Mailward quarantine <postmaster@%s>\r\nTo: <%s>\r\n"
	    "Subject: Quarantine digest: %zu message%s held for you\r\nDate: %s\r\n"
	    "Message-ID: <digest.%lld.%02x%02x%02x%02x@%s>\r\nAuto-Submitted: auto-generated\r\n"
	    "X-Mailward-Digest: yes\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n"
	    "This is a MIME message: a plain text and an HTML version.\r\n\r\n",
	    c->hostname, rcpt, total, total == 1 ? "" : "s", date, (long long)now, rnd[0], rnd[1],
	    rnd[2], rnd[3], c->hostname, boundary);
	buf_printf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n", boundary);
	buf_append(&b, txt.data, txt.len);
	buf_printf(&b, "\r\n--%s\r\nContent-Type: text/html; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n", boundary);
	buf_append(&b, htm.data, htm.len);
	buf_printf(&b, "\r\n--%s--\r\n", boundary);
	buf_free(&txt);
	buf_free(&htm);
	*len = b.len;
	return buf_steal(&b);
}

static int queue_one(struct store *s, const struct conf *c, struct spool *sp,
    const unsigned char *key, const struct store_quarantine *rows, size_t n, size_t total,
    int64_t now, void (*queued)(const char *qid, void *arg), void *arg, char *err,
    size_t errlen)
{
	size_t len;
	char *msg = digest_build(c, key, rows[0].rcpt, rows, n, total, now, &len);
	struct spool_envelope_rcpt er = {
		.rcpt = rows[0].rcpt, .original = rows[0].rcpt, .tenant = rows[0].tenant,
		.deliver = rows[0].deliver, .status = SPOOL_RCPT_PENDING,
	};
	const char *attrs[] = { "digest=1" };
	struct spool_envelope env = {
		.ref = "", .arrival = now, .client_ip = "", .helo = "", .sender = "",
		.rcpts = &er, .n_rcpts = 1, .attrs = attrs, .n_attrs = 1,
	};
	char qid[QID_LEN + 1];
	struct spool_msg *m = spool_msg_new(sp, &env, qid);
	int rc = -1;
	if (m == NULL || spool_msg_write(m, msg, len) < 0) {
		if (m)
			spool_msg_abort(m);
		snprintf(err, errlen, "cannot write a queue file for %s's digest", rows[0].rcpt);
		goto out;
	}
	if (spool_commit_now(sp, m) < 0) {
		snprintf(err, errlen, "cannot commit %s's digest", rows[0].rcpt);
		goto out;
	}
	/* Durable first, then remembered: a crash in between sends it again. */
	int64_t newest = 0;
	for (size_t i = 0; i < n; i++)
		if (rows[i].ts > newest)
			newest = rows[i].ts;
	if (store_digest_set(s, rows[0].rcpt, newest, now) < 0)
		log_error(NULL, "digest state rcpt=%s error=\"%s\"", rows[0].rcpt, store_error(s));
	log_info(NULL, "digest queued rcpt=%s qid=%s listed=%zu held=%zu", rows[0].rcpt, qid, n,
	    total);
	if (queued)
		queued(qid, arg);
	rc = 0;
out:
	free(msg);
	return rc;
}

static int by_rcpt_then_time(const void *a, const void *b)
{
	const struct store_quarantine *x = a, *y = b;
	int c = strcmp(x->rcpt, y->rcpt);
	if (c != 0)
		return c;
	return x->ts < y->ts ? 1 : x->ts > y->ts ? -1 : (x->id < y->id ? 1 : -1);
}

int digest_run(struct store *s, const struct conf *c, struct spool *sp, const char *tenant,
    int64_t now, int force, void (*queued)(const char *qid, void *arg), void *arg, int *sent,
    char *err, size_t errlen)
{
	unsigned char key[DIGEST_KEY_LEN];
	struct store_quarantine *v = NULL;
	size_t n = 0;
	struct store_quarantine_query q = { .tenant = tenant, .state = "held", .limit = 100000 };

	*sent = 0;
	if (digest_key_load(c, key, err, errlen) < 0)
		return -1;
	if (store_quarantine_search(s, &q, &v, &n) < 0) {
		snprintf(err, errlen, "%s", store_error(s));
		return -1;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), by_rcpt_then_time);
	int rc = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && strcmp(v[j].rcpt, v[i].rcpt) == 0)
			j++;
		int64_t last = 0, sent_at = 0, interval = -1;
		if (store_digest_get(s, v[i].rcpt, &last, &sent_at) < 0 ||
		    store_tenant_digest(s, v[i].tenant, &interval) < 0) {
			snprintf(err, errlen, "%s", store_error(s));
			rc = -1;
			break;
		}
		if (interval < 0)
			interval = c->quarantine_digest;
		int due = force || (interval > 0 && now - sent_at >= interval);
		/* Only when something new arrived since the last digest; it then
		 * lists everything still held (newest first), so one digest is
		 * enough to act on. */
		if (due && v[i].ts > last) {
			size_t total = j - i;
			size_t listed = total < DIGEST_MAX_LISTED ? total : DIGEST_MAX_LISTED;
			if (queue_one(s, c, sp, key, &v[i], listed, total, now, queued, arg, err,
			    errlen) < 0) {
				rc = -1;
				break;
			}
			(*sent)++;
		}
		i = j;
	}
	store_quarantine_free(v, n);
	return rc;
}
