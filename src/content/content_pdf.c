/*
 * content_pdf.c - active content in a PDF (content_pdf.h), from the names
 * of its dictionaries (ISO 32000-1 7.3.5: a name is '/' and regular
 * characters, any of them writable as "#xx").  Stream data is skipped -
 * page content and fonts are not dictionaries - except the data of an
 * object stream (/Type /ObjStm, 7.5.7), which holds whole objects: it is
 * read in clear or inflated (/FlateDecode) and its names looked at too.
 */
#include "content/content_pdf.h"

#include <string.h>

#include "base/buf.h"
#include "content/content_archive.h"
#include "content/content_int.h"

#define NAME_MAX_LEN 32          /* longer names are none of ours */
#define MAX_OBJSTM_OUT (4u << 20)

static int delim(unsigned char c)
{
	return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ' || c == '(' ||
	    c == ')' || c == '<' || c == '>' || c == '[' || c == ']' || c == '{' || c == '}' ||
	    c == '/' || c == '%';
}

/* The name starting at p[i] (after its '/'), "#xx" undone, into out;
 * returns the index after it. */
static size_t read_name(const unsigned char *p, size_t n, size_t i, char *out, size_t *len)
{
	size_t o = 0;
	while (i < n && !delim(p[i])) {
		unsigned char c = p[i++];
		if (c == '#' && i + 1 < n && content_hex_digit(p[i]) >= 0 && content_hex_digit(p[i + 1]) >= 0) {
			c = (unsigned char)(content_hex_digit(p[i]) << 4 | content_hex_digit(p[i + 1]));
			i += 2;
		}
		if (o < NAME_MAX_LEN)
			out[o] = (char)c;
		o++;
	}
	*len = o <= NAME_MAX_LEN ? o : 0;   /* too long: no name of ours */
	return i;
}

static int name_is(const char *nm, size_t len, const char *w)
{
	return len == strlen(w) && memcmp(nm, w, len) == 0;
}

static int keyword_at(const unsigned char *p, size_t n, size_t i, const char *w)
{
	const size_t wl = strlen(w);
	return i + wl <= n && memcmp(p + i, w, wl) == 0 && (i == 0 || delim(p[i - 1])) &&
	    (i + wl == n || delim(p[i + wl]));
}

static unsigned scan(const unsigned char *p, size_t n, size_t *budget, int inside);

/* The data of an object stream: in clear, or inflated within the budget. */
static unsigned object_stream(const unsigned char *d, size_t len, int flate, int other_filter,
    size_t *budget)
{
	if (other_filter)
		return PDF_F_CUT;            /* LZW, ASCII85 ...: not decoded here */
	if (!flate)
		return scan(d, len, budget, 1);
	const size_t max = *budget < MAX_OBJSTM_OUT ? *budget : MAX_OBJSTM_OUT;
	struct buf out = BUF_INIT;
	const int rc = content_inflate(d, len, 15, max, &out);
	*budget -= out.len;
	unsigned f = scan((const unsigned char *)out.data, out.len, budget, 1);
	if (rc == 1)
		f |= PDF_F_CUT;
	buf_free(&out);
	return f;
}

static unsigned scan(const unsigned char *p, size_t n, size_t *budget, int inside)
{
	unsigned f = 0;
	int objstm = 0, flate = 0, other_filter = 0;   /* since the last "obj" */
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '/') {
			char nm[NAME_MAX_LEN];
			size_t len;
			i = read_name(p, n, i + 1, nm, &len) - 1;
			if (name_is(nm, len, "JavaScript") || name_is(nm, len, "JS"))
				f |= PDF_F_JAVASCRIPT;
			else if (name_is(nm, len, "OpenAction") || name_is(nm, len, "AA"))
				f |= PDF_F_AUTO_ACTION;
			else if (name_is(nm, len, "Launch"))
				f |= PDF_F_LAUNCH;
			else if (name_is(nm, len, "EmbeddedFile") || name_is(nm, len, "EmbeddedFiles"))
				f |= PDF_F_EMBEDDED;
			else if (name_is(nm, len, "Encrypt"))
				f |= PDF_F_ENCRYPTED;
			else if (name_is(nm, len, "ObjStm"))
				objstm = 1;
			else if (name_is(nm, len, "FlateDecode") || name_is(nm, len, "Fl"))
				flate = 1;
			else if (name_is(nm, len, "LZWDecode") || name_is(nm, len, "ASCII85Decode") ||
			    name_is(nm, len, "ASCIIHexDecode") || name_is(nm, len, "RunLengthDecode"))
				other_filter = 1;
			continue;
		}
		if (p[i] == 'o' && keyword_at(p, n, i, "obj")) {
			objstm = flate = other_filter = 0;
			continue;
		}
		if (p[i] != 's' || !keyword_at(p, n, i, "stream"))
			continue;
		/* Stream data: after the keyword's end of line, up to endstream. */
		size_t d = i + 6;
		if (d < n && p[d] == '\r')
			d++;
		if (d < n && p[d] == '\n')
			d++;
		const unsigned char *e = memmem(p + d, n - d, "endstream", 9);
		const size_t len = e ? (size_t)(e - (p + d)) : n - d;
		if (objstm && !inside)
			f |= object_stream(p + d, len, flate, other_filter, budget);
		i = d + len;                     /* then "endstream" is passed over */
		objstm = flate = other_filter = 0;
	}
	return f;
}

unsigned content_pdf_scan(const unsigned char *p, size_t n, size_t *budget)
{
	return scan(p, n, budget, 0);
}
