/*
 * content_rtf.c - the OLE objects of an RTF document (RTF 1.9.1, the
 * \object group and its \objclass and \objdata destinations; [MS-OLEDS]
 * 2.2.4 for the OLE1 header at the start of an object's data; the
 * Packager's native data as Windows writes it).
 *
 * One pass over the bytes with a brace depth: no document tree, no text.
 * An object is finished when its group closes (or the document ends, as
 * Word also accepts a document cut short).
 */
#include "content/content_rtf.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/util.h"
#include "content/content_cfb.h"
#include "content/content_int.h"

#define CLASS_MAX 64
#define WORD_MAX 32

/* The object being read. */
struct rtf_obj {
	int open;
	struct buf data;         /* \objdata, decoded */
	int nibble;              /* a hex digit waiting for its pair, or -1 */
	int cut;
	char cls[CLASS_MAX];     /* \objclass */
	size_t cls_len;
};

struct rtf_scan {
	const unsigned char *p;
	size_t n, i;
	long depth, obj_depth, data_depth, class_depth;
	unsigned objects;
	struct rtf_obj o;
	struct content_rtf *out;
};


int content_rtf_is(const unsigned char *p, size_t n)
{
	return n >= 4 && memcmp(p, "{\\rt", 4) == 0;
}

/* What a class name says: "Equation.3" the Equation Editor, "OLE2Link" a
 * link, "Package" the Packager. */
static unsigned class_flags(const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++, n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\r' || s[n - 1] == '\n' || s[n - 1] == ';'))
		n--;
	if (n >= 10 && strncasecmp(s, "equation.3", 10) == 0)
		return RTF_F_EQUATION;
	if (n == 8 && strncasecmp(s, "ole2link", 8) == 0)
		return RTF_F_LINK;
	if (n == 7 && strncasecmp(s, "package", 7) == 0)
		return RTF_F_PACKAGE;
	return 0;
}

/* A length-prefixed ANSI string at d[*at] ([MS-OLEDS] 2.1.4): its bytes
 * without the NUL in *s, *len; 0 when it does not fit. */
static int lp_string(const unsigned char *d, size_t n, size_t *at, const char **s, size_t *len)
{
	if (*at + 4 > n)
		return 0;
	const uint32_t l = archive_le32(d + *at);
	if (l > n - *at - 4)
		return 0;
	*s = (const char *)d + *at + 4;
	*len = l > 0 && d[*at + 4 + l - 1] == 0 ? l - 1 : l;
	*at += 4 + (size_t)l;
	return 1;
}

/* A Packager object's native data: a 2-byte signature, the label shown
 * (the file's name), then the path it came from, both NUL-terminated. */
static void package_name(const unsigned char *d, size_t n, struct content_rtf *out)
{
	if (out->package[0] != '\0' || n < 3)
		return;
	const unsigned char *label = d + 2, *end = d + n;
	const unsigned char *z = memchr(label, 0, (size_t)(end - label));
	if (z == NULL)
		return;
	const unsigned char *name = label;
	size_t len = (size_t)(z - label);
	if (len == 0) {                     /* no label: the path's last part */
		const unsigned char *path = z + 1, *pz = path < end ? memchr(path, 0, (size_t)(end - path)) : NULL;
		if (pz == NULL)
			return;
		name = path;
		for (const unsigned char *q = path; q < pz; q++)
			if (*q == '\\' || *q == '/')
				name = q + 1;
		len = (size_t)(pz - name);
	}
	if (len >= sizeof(out->package))
		len = sizeof(out->package) - 1;
	memcpy(out->package, name, len);
	out->package[len] = '\0';
}

static void obj_finish(struct rtf_scan *r)
{
	struct rtf_obj *o = &r->o;
	if (!o->open)
		return;
	o->open = 0;
	if (r->objects++ >= RTF_MAX_OBJECTS) {
		r->out->flags |= RTF_F_CUT;
		return;
	}
	r->out->flags |= RTF_F_OBJECT | class_flags(o->cls, o->cls_len);
	if (o->cut)
		r->out->flags |= RTF_F_CUT;
	const unsigned char *d = (const unsigned char *)o->data.data;
	const size_t n = o->data.len;
	/* OLE1 header: version, format (1 linked, 2 embedded), class name;
	 * an embedded object then has a topic, an item and its native data. */
	size_t at = 8;
	const char *cls, *topic, *item;
	size_t cl, tl, il;
	if (n >= 8 && lp_string(d, n, &at, &cls, &cl)) {
		const unsigned f = class_flags(cls, cl);
		r->out->flags |= f;
		if (archive_le32(d + 4) == 2 && lp_string(d, n, &at, &topic, &tl) && lp_string(d, n, &at, &item, &il) &&
		    at + 4 <= n && (f & RTF_F_PACKAGE)) {
			const uint32_t ns = archive_le32(d + at);
			at += 4;
			package_name(d + at, ns < n - at ? ns : n - at, r->out);
		}
	}
	/* A compound file in the data (where the OLE1 header puts it, or
	 * anywhere): its root's class id is what Word will load. */
	const unsigned char *cf = n >= 8 ? memmem(d, n, CONTENT_CFB_SIG, 8) : NULL;
	struct content_cfb *c = cf ? content_cfb_open(cf, n - (size_t)(cf - d)) : NULL;
	unsigned char id[16];
	if (c != NULL && content_cfb_root_clsid(c, id)) {
		if (memcmp(id, content_clsid_equation, 16) == 0)
			r->out->flags |= RTF_F_EQUATION;
		else if (memcmp(id, content_clsid_ole_link, 16) == 0)
			r->out->flags |= RTF_F_LINK;
	}
	content_cfb_close(c);
}

static void obj_start(struct rtf_scan *r)
{
	obj_finish(r);
	r->o.open = 1;
	r->o.data.len = 0;
	r->o.nibble = -1;
	r->o.cut = 0;
	r->o.cls_len = 0;
	r->obj_depth = r->depth;
	r->data_depth = r->class_depth = -1;
}

static void data_put(struct rtf_obj *o, const unsigned char *b, size_t k)
{
	if (o->data.len + k > RTF_MAX_OBJECT) {
		o->cut = 1;
		k = RTF_MAX_OBJECT - o->data.len;
	}
	buf_append(&o->data, (const char *)b, k);
}

static void hex_put(struct rtf_obj *o, unsigned char c)
{
	const int v = content_hex_digit(c);
	if (v < 0)
		return;            /* Word skips what is not a hex digit */
	if (o->nibble < 0) {
		o->nibble = v;
		return;
	}
	const unsigned char b = (unsigned char)(o->nibble << 4 | v);
	o->nibble = -1;
	data_put(o, &b, 1);
}

static void class_put(struct rtf_obj *o, unsigned char c)
{
	if (c >= 0x20 && o->cls_len < sizeof(o->cls))
		o->cls[o->cls_len++] = (char)c;
}

/* Past the group whose "{" is just before i ({\*\... } inside object
 * data: an ignorable destination, skipped whole). */
static size_t skip_group(const unsigned char *p, size_t n, size_t i)
{
	for (long lvl = 1; i < n; i++) {
		if (p[i] == '\\')
			i++;
		else if (p[i] == '{')
			lvl++;
		else if (p[i] == '}' && --lvl == 0)
			return i + 1;
	}
	return n;
}

/* A control word or symbol after the backslash at r->i - 1. */
static void control(struct rtf_scan *r)
{
	const unsigned char *p = r->p;
	size_t i = r->i;
	if (i >= r->n)
		return;
	if (!isalpha(p[i])) {
		if (p[i] == '\'' && i + 2 < r->n) {          /* \'hh: a byte */
			const int hi = content_hex_digit(p[i + 1]), lo = content_hex_digit(p[i + 2]);
			if (r->class_depth >= 0 && hi >= 0 && lo >= 0)
				class_put(&r->o, (unsigned char)(hi << 4 | lo));
			r->i = i + 3;
			return;
		}
		if (r->class_depth >= 0 && (p[i] == '\\' || p[i] == '{' || p[i] == '}'))
			class_put(&r->o, p[i]);
		r->i = i + 1;
		return;
	}
	char word[WORD_MAX + 1];
	size_t wl = 0;
	for (; i < r->n && isalpha(p[i]); i++)
		if (wl < WORD_MAX)
			word[wl++] = (char)p[i];
	word[wl] = '\0';
	int neg = 0;
	uint64_t param = 0;
	if (i < r->n && p[i] == '-')
		neg = 1, i++;
	for (; i < r->n && isdigit(p[i]); i++)
		if (param < (1u << 30))
			param = param * 10 + (uint64_t)(p[i] - '0');
	if (i < r->n && p[i] == ' ')
		i++;
	r->i = i;
	if (strcmp(word, "object") == 0) {
		obj_start(r);
	} else if (strcmp(word, "objdata") == 0) {
		if (!r->o.open)
			obj_start(r);
		r->data_depth = r->depth;
	} else if (strcmp(word, "objclass") == 0) {
		if (!r->o.open)
			obj_start(r);
		r->class_depth = r->depth;
	} else if (strcmp(word, "objupdate") == 0) {
		r->out->flags |= RTF_F_AUTO_UPDATE;
	} else if (strcmp(word, "objautlink") == 0) {
		r->out->flags |= RTF_F_LINK;
	} else if (strcmp(word, "bin") == 0 && !neg) {
		/* \binN: N bytes of raw data follow. */
		const size_t k = param < r->n - i ? (size_t)param : r->n - i;
		if (r->data_depth >= 0)
			data_put(&r->o, p + i, k);
		r->i = i + k;
	}
}

void content_rtf_scan(const unsigned char *p, size_t n, struct content_rtf *out)
{
	struct rtf_scan r = { .p = p, .n = n, .obj_depth = -1, .data_depth = -1, .class_depth = -1,
		.out = out };
	memset(out, 0, sizeof(*out));
	r.o.data = (struct buf)BUF_INIT;
	r.o.nibble = -1;
	while (r.i < n) {
		const unsigned char c = p[r.i++];
		if (c == '{') {
			r.depth++;
			if (r.data_depth >= 0 && r.i + 1 < n && p[r.i] == '\\' && p[r.i + 1] == '*') {
				r.i = skip_group(p, n, r.i);
				r.depth--;
			}
		} else if (c == '}') {
			if (r.class_depth == r.depth)
				r.class_depth = -1;
			if (r.data_depth == r.depth)
				r.data_depth = -1;
			if (r.obj_depth == r.depth) {
				obj_finish(&r);
				r.obj_depth = -1;
			}
			r.depth--;
		} else if (c == '\\') {
			control(&r);
		} else if (r.data_depth >= 0) {
			hex_put(&r.o, c);
		} else if (r.class_depth >= 0) {
			class_put(&r.o, c);
		}
	}
	obj_finish(&r);            /* a document cut short */
	buf_free(&r.o.data);
}
