/*
 * content_ooxml.c - external relationships of an Office Open XML package
 * (ECMA-376 Part 2, 9.3: <Relationship Id Type Target TargetMode/>).
 *
 * The XML is not parsed as a tree: each <Relationship ...> element's
 * attributes are read in place, names matched whole, values in single or
 * double quotes.  Relationship parts are small (a few KiB); a package
 * with more of them, or bigger, than the limits is noted as cut.
 */
#include "content/content_ooxml.h"

#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "content/content_archive.h"
#include "content/content_cfb.h"
#include "content/content_int.h"

int content_ooxml_marker(const char *member)
{
	return strcasecmp(member, "[Content_Types].xml") == 0;
}

/* "word/embeddings/oleObject1.bin", "xl/embeddings/oleObject2.bin" ... */
static int embedded_object(const char *name)
{
	const char *e = strstr(name, "embeddings/");
	const size_t l = strlen(name);
	return e != NULL && l >= 4 && strcasecmp(name + l - 4, ".bin") == 0 &&
	    strncasecmp(e + 11, "oleObject", 9) == 0;
}

static int equation_object(const struct buf *x)
{
	struct content_cfb *c = content_cfb_open((const unsigned char *)x->data, x->len);
	unsigned char id[16];
	const int r = c != NULL && content_cfb_root_clsid(c, id) && memcmp(id, content_clsid_equation, 16) == 0;
	content_cfb_close(c);
	return r;
}

static int rels_part(const char *name)
{
	const size_t l = strlen(name);
	return l >= 5 && strcasecmp(name + l - 5, ".rels") == 0;
}

/* The value of attribute name in the element el[0..n): *v, *vl; 0 when absent. */
static int attr(const char *el, size_t n, const char *name, const char **v, size_t *vl)
{
	const size_t nl = strlen(name);
	for (size_t i = 1; i + nl < n; i++) {
		const char b = el[i - 1];
		if ((b != ' ' && b != '\t' && b != '\r' && b != '\n') || memcmp(el + i, name, nl) != 0)
			continue;
		size_t j = i + nl;
		while (j < n && (el[j] == ' ' || el[j] == '\t' || el[j] == '\r' || el[j] == '\n'))
			j++;
		if (j >= n || el[j] != '=')
			continue;                    /* "Target" inside "TargetMode" */
		j++;
		while (j < n && (el[j] == ' ' || el[j] == '\t' || el[j] == '\r' || el[j] == '\n'))
			j++;
		if (j >= n || (el[j] != '"' && el[j] != '\''))
			return 0;
		const char *q = memchr(el + j + 1, el[j], n - j - 1);
		if (q == NULL)
			return 0;
		*v = el + j + 1;
		*vl = (size_t)(q - *v);
		return 1;
	}
	return 0;
}

static int ends_with(const char *s, size_t n, const char *w)
{
	const size_t l = strlen(w);
	return n >= l && strncasecmp(s + n - l, w, l) == 0 && (n == l || s[n - l - 1] == '/');
}

/* An address a document would fetch over the network, not from a disk
 * or a file share. */
static int web_target(const char *t, size_t n)
{
	while (n > 0 && (*t == ' ' || *t == '\t'))
		t++, n--;
	static const char *const schemes[] = { "http:", "https:", "ftp:", "mhtml:" };
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		const size_t l = strlen(schemes[i]);
		if (n >= l && strncasecmp(t, schemes[i], l) == 0)
			return 1;
	}
	return 0;
}

static void rels_scan(const char *x, size_t n, struct content_ooxml *out)
{
	const char *p = x, *end = x + n;
	while ((p = memmem(p, (size_t)(end - p), "Relationship", 12)) != NULL) {
		const char *el = p + 12;
		const int open = p > x && (p[-1] == '<' || p[-1] == ':');
		p = el;
		if (!open || el >= end || (*el != ' ' && *el != '\t' && *el != '\r' && *el != '\n'))
			continue;              /* <Relationships>, or not an element */
		const char *gt = memchr(el, '>', (size_t)(end - el));
		const size_t len = gt ? (size_t)(gt - el) : (size_t)(end - el);
		const char *type, *target, *mode;
		size_t tyl, tl, ml;
		if (!attr(el - 1, len + 1, "TargetMode", &mode, &ml) || ml != 8 ||
		    strncasecmp(mode, "External", 8) != 0 || !attr(el - 1, len + 1, "Type", &type, &tyl) ||
		    !attr(el - 1, len + 1, "Target", &target, &tl) || !web_target(target, tl))
			continue;
		unsigned f = 0;
		if (ends_with(type, tyl, "attachedTemplate"))
			f = OOXML_F_TEMPLATE;
		else if (ends_with(type, tyl, "oleObject"))
			f = OOXML_F_OBJECT;
		else if (ends_with(type, tyl, "frame") || ends_with(type, tyl, "subDocument"))
			f = OOXML_F_FRAME;
		if (f == 0)
			continue;
		out->flags |= f;
		if (out->target[0] == '\0') {
			size_t k = 0;
			for (size_t i = 0; i < tl && k + 1 < sizeof(out->target); i++)
				out->target[k++] = (unsigned char)target[i] < 0x20 ? '?' : target[i];
			out->target[k] = '\0';
		}
	}
}

void content_ooxml_scan(const unsigned char *p, size_t n, size_t *budget, struct content_ooxml *out)
{
	struct content_archive z;
	memset(out, 0, sizeof(*out));
	if (content_zip_read(p, n, &z) != 0 || z.entries == NULL) {
		content_archive_free(&z);
		return;
	}
	unsigned parts = 0;
	struct buf x = BUF_INIT;
	for (size_t i = 0; i < z.n_names; i++) {
		const int object = embedded_object(z.names[i]);
		if (!object && !rels_part(z.names[i]))
			continue;
		if (parts++ >= OOXML_MAX_PARTS || *budget == 0) {
			out->flags |= OOXML_F_CUT;
			break;
		}
		const size_t max = *budget < OOXML_MAX_PART ? *budget : OOXML_MAX_PART;
		x.len = 0;
		const int r = content_zip_member(p, n, &z.entries[i], max, &x);
		*budget -= x.len < *budget ? x.len : *budget;
		if (object) {
			/* The directory may be anywhere in the object: a cut one
			 * is read as far as it goes. */
			if (equation_object(&x))
				out->flags |= OOXML_F_EQUATION;
			continue;
		}
		if (r != 0)
			out->flags |= OOXML_F_CUT;
		rels_scan(x.data ? x.data : "", x.len, out);
	}
	if (z.names_cut)
		out->flags |= OOXML_F_CUT;
	buf_free(&x);
	content_archive_free(&z);
}
