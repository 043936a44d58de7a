/*
 * content_htmlfile.c - behaviours of an HTML or SVG attachment
 * (content_htmlfile.h).  Each check is a case-insensitive search for the
 * few tokens a page needs to do that thing; spacing and quoting variants
 * are allowed where a page can vary them without changing what it does.
 */
#include "content/content_htmlfile.h"

#include <string.h>
#include <strings.h>

#include "content/content_int.h"

#define HEAD_LOOK 1024u        /* where the first tag must be */
#define TAG_MAX 2048u          /* the longest <input ...> looked into */

static int has(const unsigned char *p, size_t n, const char *w)
{
	return content_find_ci(p, n, w) != NULL;
}

static int has_any(const unsigned char *p, size_t n, const char *const *w)
{
	for (; *w; w++)
		if (has(p, n, *w))
			return 1;
	return 0;
}

int content_htmlfile_is(const unsigned char *p, size_t n)
{
	size_t i = 0;
	if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		i = 3;                          /* a UTF-8 byte order mark */
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	if (i >= n || p[i] != '<')
		return 0;
	static const char *const tags[] = { "<html", "<!doctype html", "<head", "<body", "<svg",
		"<script", "<form", "<meta", "<iframe", NULL };
	const size_t look = n - i < HEAD_LOOK ? n - i : HEAD_LOOK;
	return has_any(p + i, look, tags);
}

/* An <input> whose type is password ("type=password", quoted or not). */
static int password_input(const unsigned char *p, size_t n)
{
	const unsigned char *q = p, *end = p + n;
	while ((q = content_find_ci(q, (size_t)(end - q), "<input")) != NULL) {
		const size_t room = (size_t)(end - q) < TAG_MAX ? (size_t)(end - q) : TAG_MAX;
		const unsigned char *gt = memchr(q, '>', room);
		const size_t len = gt ? (size_t)(gt - q) : room;
		const unsigned char *t = content_find_ci(q, len, "type");
		if (t != NULL) {
			const unsigned char *v = t + 4;
			while (v < q + len && (*v == ' ' || *v == '=' || *v == '"' || *v == '\''))
				v++;
			if ((size_t)(q + len - v) >= 8 && strncasecmp((const char *)v, "password", 8) == 0)
				return 1;
		}
		q += 6;
	}
	return 0;
}

unsigned content_htmlfile_scan(const unsigned char *p, size_t n)
{
	static const char *const decoders[] = { "atob(", "unescape(", "fromcharcode(",
		"decodeuricomponent(", NULL };
	static const char *const sinks[] = { "document.write", "eval(", ".innerhtml", "location.",
		"location=", "location =", "window.open(", NULL };
	static const char *const saves[] = { ".download", "mssaveoropenblob", "mssaveblob", NULL };
	static const char *const moves[] = { "location.href", "location.replace(", "location.assign(",
		"window.location=", "window.location =", NULL };
	unsigned f = 0;

	if (password_input(p, n))
		f |= HTMLFILE_LOGIN_FORM;
	if (has_any(p, n, decoders) && has_any(p, n, sinks))
		f |= HTMLFILE_DECODE_SCRIPT;
	if ((has(p, n, "new blob(") || has(p, n, "createobjecturl(")) && has_any(p, n, saves))
		f |= HTMLFILE_SMUGGLING;
	const unsigned char *r = content_find_ci(p, n, "http-equiv");
	if (r != NULL) {
		const size_t room = (size_t)(p + n - r) < TAG_MAX ? (size_t)(p + n - r) : TAG_MAX;
		if (has(r, room, "refresh") && has(r, room, "url="))
			f |= HTMLFILE_REDIRECT;
	}
	if (has_any(p, n, moves))
		f |= HTMLFILE_REDIRECT;
	return f;
}
