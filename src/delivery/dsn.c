/*
 * dsn.c - build a delivery status notification (RFC 3464, RFC 6522).
 *
 * Every value that reaches a header or a DSN field passes through clean():
 * CR, LF, NUL and other control bytes become spaces and 8-bit bytes '?', so a
 * downstream reply like "550 no\r\nBcc: victim" can never start a header
 * line of its own (F7), and the report stays 7-bit us-ascii as RFC 3464
 * requires.  The boundary is random and checked against the returned
 * headers, so the original cannot close or forge a part.
 *
 * X14: a DSN is never built for the null sender <>; dsn_build() returns -1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "base/buf.h"
#include "base/timeparse.h"
#include "base/util.h"
#include "delivery/delivery.h"

#define HEADERS_MAX 65536
#define FIELD_MAX 900 /* keeps "Diagnostic-Code: smtp; ..." under 998 octets */

/* Append s as one safe header-value fragment, at most max bytes. */
static void clean(struct buf *b, const char *s, size_t max)
{
	size_t n = 0;

	if (s == NULL)
		return;
	for (; *s && n < max; s++, n++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			buf_append_char(b, ' ');
		else if (c >= 0x80)
			buf_append_char(b, '?');
		else
			buf_append_char(b, (char)c);
	}
}

static int status_ok(const char *s)
{
	/* class "." subject "." detail, RFC 3463: [245].d{1,3}.d{1,3} */
	int parts = 0, digits = 0;

	if (s == NULL || (s[0] != '2' && s[0] != '4' && s[0] != '5'))
		return 0;
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9') {
			if (++digits > 3)
				return 0;
		} else if (*s == '.' && digits > 0 && parts < 2) {
			parts++;
			digits = 0;
		} else {
			return 0;
		}
	}
	return parts == 2 && digits > 0;
}

static void hexrand(char *out, size_t nbytes)
{
	unsigned char r[32];
	static const char hx[] = "0123456789abcdef";

	if (nbytes > sizeof(r))
		nbytes = sizeof(r);
	if (RAND_bytes(r, (int)nbytes) != 1) {
		/* Uniqueness only, not secrecy: the clock is good enough. */
		int64_t t = mw_now_ms();
		for (size_t i = 0; i < nbytes; i++)
			r[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)(i * 131);
	}
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = hx[r[i] >> 4];
		out[2 * i + 1] = hx[r[i] & 15];
	}
	out[2 * nbytes] = '\0';
}

/* The header block of the original, line ends made CRLF, NULs made spaces,
 * each line cut at 998 octets, the block cut at the last whole line within
 * HEADERS_MAX. */
static void orig_headers(struct buf *b, const char *d, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t s = i, e;

		while (i < len && d[i] != '\r' && d[i] != '\n')
			i++;
		e = i;
		if (i < len)
			i += (d[i] == '\r' && i + 1 < len && d[i + 1] == '\n') ? 2 : 1;
		if (e == s)
			break; /* the empty line: end of the header block */
		/* RFC 5322 caps a line at 998 octets: cut longer ones. */
		if (e - s > 998)
			e = s + 998;
		if (b->len + (e - s) + 2 > HEADERS_MAX)
			break;
		for (size_t k = s; k < e; k++)
			buf_append_char(b, d[k] == '\0' ? ' ' : d[k]);
		buf_append(b, "\r\n", 2);
	}
}

int dsn_build(const struct dsn_info *info, char **out, size_t *len)
{
	struct buf b = BUF_INIT, hdrs = BUF_INIT;
	char bound[64], rnd[33], date[64], arr[64];
	const char *host = info->reporting_mta && info->reporting_mta[0] ? info->reporting_mta : "localhost";

	*out = NULL;
	*len = 0;
	if (info->sender == NULL || info->sender[0] == '\0' || info->n_rcpts == 0)
		return -1; /* never bounce to <> (X14); nothing to report */

	if (info->orig != NULL)
		orig_headers(&hdrs, info->orig, info->orig_len);
	/* 128 random bits make a clash unlikely; the check makes it impossible. */
	do {
		hexrand(rnd, 16);
		snprintf(bound, sizeof(bound), "=_mw_%s", rnd);
	} while (hdrs.len > 0 && memmem(hdrs.data, hdrs.len, bound, strlen(bound)) != NULL);

	timefmt_rfc5322(info->now, date, sizeof(date));
	timefmt_rfc5322(info->arrival, arr, sizeof(arr));

	buf_append_str(&b, "From: \"Mail Delivery System\" <MAILER-DAEMON@");
	clean(&b, host, 255);
	buf_append_str(&b, ">\r\nTo: <");
	clean(&b, info->sender, 512);
	buf_append_str(&b, ">\r\nSubject: Undelivered Mail Returned to Sender");
	if (info->expired)
		buf_append_str(&b, " (Delivery time expired)");
	buf_printf(&b, "\r\nDate: %s\r\n", date);
	hexrand(rnd, 8);
	buf_printf(&b, "Message-ID: <%lld.%s@", (long long)info->now, rnd);
	clean(&b, host, 255);
	buf_append_str(&b, ">\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n");
	buf_printf(&b, "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n", bound);
	buf_append_str(&b, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");

	/* Part 1: for people. */
	buf_printf(&b, "--%s\r\nContent-Description: Notification\r\n"
		       "Content-Type: text/plain; charset=us-ascii\r\n\r\n", bound);
	buf_append_str(&b, "This is the mail system at host ");
	clean(&b, host, 255);
	buf_append_str(&b, ".\r\n\r\n");
	if (info->expired)
		buf_append_str(&b, "Your message could not be delivered before the time limit for\r\n"
				   "delivery attempts ran out. It was given up on for the\r\n"
				   "recipients listed below.\r\n\r\n");
	else
		buf_append_str(&b, "Your message could not be delivered to one or more recipients.\r\n"
				   "The failure is permanent: it will not be retried.\r\n\r\n");
	buf_append_str(&b, "Reference: ");
	clean(&b, info->ref ? info->ref : "-", 64);
	buf_append_str(&b, "  Queue ID: ");
	clean(&b, info->qid ? info->qid : "-", 64);
	buf_append_str(&b, "\r\n\r\n");
	for (size_t i = 0; i < info->n_rcpts; i++) {
		const struct dsn_rcpt *r = &info->rcpts[i];
		const char *why = r->diagnostic ? r->diagnostic : "no reason recorded";
		buf_append_str(&b, "<");
		clean(&b, r->rcpt, 512);
		/* Postfix style "<rcpt>: reason" on one line when it fits in
		 * the 998-octet line limit, else the reason on the next one. */
		buf_append_str(&b, strnlen(r->rcpt, 512) + strnlen(why, FIELD_MAX) + 4 > 990 ? ">:\r\n    " : ">: ");
		clean(&b, why, FIELD_MAX);
		buf_append_str(&b, "\r\n\r\n");
	}

	/* Part 2: for machines (RFC 3464 section 2). */
	buf_printf(&b, "--%s\r\nContent-Description: Delivery report\r\n"
		       "Content-Type: message/delivery-status\r\n\r\n", bound);
	buf_append_str(&b, "Reporting-MTA: dns; ");
	clean(&b, host, 255);
	buf_append_str(&b, "\r\nX-Mailward-Ref: ");
	clean(&b, info->ref ? info->ref : "-", 64);
	buf_append_str(&b, "\r\nX-Mailward-Queue-ID: ");
	clean(&b, info->qid ? info->qid : "-", 64);
	buf_printf(&b, "\r\nArrival-Date: %s\r\n", arr);
	for (size_t i = 0; i < info->n_rcpts; i++) {
		const struct dsn_rcpt *r = &info->rcpts[i];
		const char *status = info->expired ? "4.4.7" : (status_ok(r->status) ? r->status : "5.0.0");

		buf_append_str(&b, "\r\nFinal-Recipient: rfc822; ");
		clean(&b, r->rcpt, 512);
		if (r->original != NULL && r->original[0] != '\0' && strcmp(r->original, r->rcpt) != 0) {
			buf_append_str(&b, "\r\nOriginal-Recipient: rfc822; ");
			clean(&b, r->original, 512);
		}
		buf_printf(&b, "\r\nAction: failed\r\nStatus: %s\r\n", status);
		if (r->remote_mta != NULL && r->remote_mta[0] != '\0') {
			buf_append_str(&b, "Remote-MTA: dns; ");
			clean(&b, r->remote_mta, 255);
			buf_append_str(&b, "\r\n");
		}
		if (r->diagnostic != NULL && r->diagnostic[0] != '\0') {
			buf_append_str(&b, "Diagnostic-Code: smtp; ");
			clean(&b, r->diagnostic, FIELD_MAX);
			buf_append_str(&b, "\r\n");
		}
	}
	buf_append_str(&b, "\r\n");

	/* Part 3: the original's headers, so the sender can tell which mail. */
	buf_printf(&b, "--%s\r\nContent-Description: Undelivered Message Headers\r\n"
		       "Content-Type: text/rfc822-headers\r\n\r\n", bound);
	if (hdrs.len > 0)
		buf_append(&b, hdrs.data, hdrs.len);
	buf_printf(&b, "\r\n--%s--\r\n", bound);

	buf_free(&hdrs);
	*len = b.len;
	*out = buf_steal(&b);
	return 0;
}
