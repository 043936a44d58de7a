/*
 * fuzz_smtp_reply.c - F7: the SMTP client's reply parser and the DSN
 * generator on arbitrary downstream bytes.
 *
 * The input is copied to a heap block of exactly its size so ASan flags any
 * read past the end (OpenSMTPD CVE-2020-8794 class).  Replies are parsed one
 * after another as the client does.  Invariants: a complete reply consumes
 * 1..len bytes and has a code in 200..599 and printable text; "incomplete"
 * only below SMTP_REPLY_MAX.  The same bytes then go into dsn_build() as the
 * diagnostic, recipient and original message: the result must have CRLF line
 * ends only, no line over 998 octets, top-level headers from the fixed set
 * only, and a message/delivery-status part whose every line is a known field
 * (nothing from the input can start a header or a field of its own).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/delivery.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int starts(const char *l, size_t n, const char *const *set)
{
	for (size_t i = 0; set[i] != NULL; i++) {
		size_t k = strlen(set[i]);
		if (n >= k && memcmp(l, set[i], k) == 0)
			return 1;
	}
	return 0;
}

static void check_lines(const char *p, size_t n, const char *const *allowed)
{
	size_t i = 0;

	while (i < n) {
		const char *e = memchr(p + i, '\n', n - i);
		size_t ll;

		if (e == NULL)
			abort();
		ll = (size_t)(e - (p + i));
		if (ll == 0 || p[i + ll - 1] != '\r')
			abort();
		ll--;
		if (ll > 998)
			abort();
		if (allowed != NULL && ll > 0 && !starts(p + i, ll, allowed))
			abort();
		i += ll + 2;
	}
}

static void check_dsn(const char *msg, size_t len)
{
	static const char *const top[] = {
		"From: ", "To: ", "Subject: ", "Date: ", "Message-ID: ", "Auto-Submitted: ", "MIME-Version: ",
		"Content-Type: ", "\tboundary=", NULL,
	};
	static const char *const fields[] = {
		"Reporting-MTA: ", "X-Mailward-Ref: ", "X-Mailward-Queue-ID: ", "Arrival-Date: ", "Final-Recipient: ",
		"Original-Recipient: ", "Action: ", "Status: ", "Remote-MTA: ", "Diagnostic-Code: ", NULL,
	};
	const char *hend, *b, *be, *p2, *p2end;
	char delim[128];
	size_t bl;

	for (size_t i = 0; i < len; i++)
		if (msg[i] == '\0')
			abort();
	check_lines(msg, len, NULL);
	hend = strstr(msg, "\r\n\r\n");
	if (hend == NULL)
		abort();
	check_lines(msg, (size_t)(hend - msg) + 2, top);
	/* Our continuation line: input text cannot make "\r\n\t" (clean()). */
	b = strstr(msg, "\r\n\tboundary=\"");
	if (b == NULL || b > hend)
		abort();
	b += 13;
	be = strchr(b, '"');
	if (be == NULL || (size_t)(be - b) > 100)
		abort();
	bl = (size_t)(be - b);
	delim[0] = '\r';
	delim[1] = '\n';
	delim[2] = delim[3] = '-';
	memcpy(delim + 4, b, bl);
	bl += 4;
	/* Exactly three parts and the closing delimiter. */
	{
		int n = 0;
		for (const char *q = hend; (q = memmem(q, len - (size_t)(q - msg), delim, bl)) != NULL; q += bl)
			n++;
		if (n != 4)
			abort();
	}
	p2 = memmem(hend, len - (size_t)(hend - msg), "Content-Type: message/delivery-status\r\n\r\n", 41);
	if (p2 == NULL)
		abort();
	p2 += 41;
	p2end = memmem(p2, len - (size_t)(p2 - msg), delim, bl);
	if (p2end == NULL)
		abort();
	check_lines(p2, (size_t)(p2end - p2) + 2, fields);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	size_t off = 0;

	memcpy(buf, data, size);
	while (off < size) {
		struct smtp_reply r;
		size_t used = 0;
		int rc = smtp_reply_parse(buf + off, size - off, &r, &used);

		if (rc == 0 && size - off >= SMTP_REPLY_MAX)
			abort();
		if (rc != 1)
			break;
		if (used == 0 || used > size - off || r.code < 200 || r.code > 599)
			abort();
		size_t tl = strnlen(r.text, sizeof(r.text));
		if (tl == sizeof(r.text))
			abort();
		for (size_t i = 0; i < tl; i++)
			if ((unsigned char)r.text[i] < 0x20 || (unsigned char)r.text[i] >= 0x7f)
				abort();
		off += used;
	}

	/* The raw bytes (to the first NUL) as everything a DSN takes from
	 * outside: the diagnostic, the recipient, the remote MTA, the status. */
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	struct dsn_rcpt dr = { s, "orig@example.org", s, s, s };
	struct dsn_info info = {
		.reporting_mta = "gw.example.com", .ref = s, .qid = "Q1", .sender = size ? s : "a@b",
		.arrival = 0, .now = 1, .expired = size & 1, .rcpts = &dr, .n_rcpts = 1,
		.orig = buf, .orig_len = size,
	};
	char *out = NULL;
	size_t len = 0;
	if (s[0] == '\0')
		info.sender = "a@b";
	if (dsn_build(&info, &out, &len) != 0)
		abort();
	check_dsn(out, len);
	free(out);
	free(s);
	free(buf);
	return 0;
}
