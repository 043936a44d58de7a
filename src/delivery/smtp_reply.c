/*
 * smtp_reply.c - parse one SMTP reply from a downstream server (RFC 5321 4.2).
 *
 * Pure: no I/O, no allocation, reads only buf[0..len).  The downstream server
 * is not trusted (OpenSMTPD CVE-2020-8794 was an over-read in exactly this
 * place), so every line is checked before it is used: three digits with the
 * first in 2..5, then ' ' (last line), '-' (more lines follow) or the line
 * end; all lines carry the same code; the whole reply must end within
 * SMTP_REPLY_MAX bytes.  A bare LF is accepted as a line end (a CR before it
 * is dropped) because a reply that is otherwise well formed should not fail
 * a delivery; the text keeps printable ASCII only so it can go into logs,
 * result strings and DSN headers without escaping.
 */
#include <string.h>

#include "delivery/delivery.h"

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Append line text to r->text, separated by ' ', truncating silently. */
static void text_add(struct smtp_reply *r, size_t *tl, const char *s, size_t n)
{
	size_t cap = sizeof(r->text) - 1;

	if (*tl > 0 && *tl < cap)
		r->text[(*tl)++] = ' ';
	for (size_t i = 0; i < n && *tl < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		r->text[(*tl)++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	r->text[*tl] = '\0';
}

static unsigned keyword(const char *s, size_t n)
{
	static const struct {
		const char *kw;
		unsigned bit;
	} tab[] = {
		{ "PIPELINING", SMTP_EXT_PIPELINING },
		{ "STARTTLS", SMTP_EXT_STARTTLS },
		{ "8BITMIME", SMTP_EXT_8BITMIME },
	};
	size_t w = 0;

	while (w < n && s[w] != ' ' && s[w] != '\t' && s[w] != '\r')
		w++;
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		size_t kl = strlen(tab[i].kw);
		if (w == kl && strncasecmp(s, tab[i].kw, kl) == 0)
			return tab[i].bit;
	}
	return 0;
}

int smtp_reply_parse(const char *buf, size_t len, struct smtp_reply *r, size_t *used)
{
	size_t pos = 0, tl = 0;
	int code = -1, line = 0;

	r->code = 0;
	r->ext = 0;
	r->text[0] = '\0';
	*used = 0;
	/* Only the first SMTP_REPLY_MAX bytes count: a reply that has not ended
	 * there is an error whatever follows. */
	if (len > SMTP_REPLY_MAX)
		len = SMTP_REPLY_MAX;

	for (;;) {
		const char *l = buf + pos;
		const char *nl = memchr(l, '\n', len - pos);
		size_t ll;
		int c;

		if (nl == NULL) {
			/* Validate what we have so far so garbage fails at once
			 * instead of after 64 KiB. */
			size_t have = len - pos;
			for (size_t i = 0; i < have && i < 3; i++)
				if (!is_digit(l[i]))
					return -1;
			if (have >= 4 && l[3] != ' ' && l[3] != '-' && l[3] != '\r')
				return -1;
			return len >= SMTP_REPLY_MAX ? -1 : 0;
		}
		ll = (size_t)(nl - l);
		if (ll > 0 && l[ll - 1] == '\r')
			ll--;
		if (ll < 3 || !is_digit(l[0]) || !is_digit(l[1]) || !is_digit(l[2]))
			return -1;
		if (l[0] < '2' || l[0] > '5')
			return -1;
		c = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
		if (code >= 0 && c != code)
			return -1;
		code = c;
		if (ll > 3 && l[3] != ' ' && l[3] != '-')
			return -1;
		if (ll > 4) {
			text_add(r, &tl, l + 4, ll - 4);
			if (line > 0)
				r->ext |= keyword(l + 4, ll - 4);
		}
		line++;
		pos = (size_t)(nl - buf) + 1;
		if (ll == 3 || l[3] == ' ') {
			r->code = code;
			*used = pos;
			return 1;
		}
	}
}
