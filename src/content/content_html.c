/*
 * content_html.c - a small, bounded HTML-to-text converter that also counts
 * the features spam hides in HTML: invisible text (CSS display/visibility,
 * zero or 1px fonts, text coloured like its background), links whose visible
 * text names another registered domain than their href, images, forms.
 *
 * It is a single forward pass with an explicit element stack of fixed depth
 * (deeper elements inherit the top's state), so hostile nesting costs
 * nothing extra.  It does not build a DOM and ignores external CSS.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "base/unicode.h"
#include "base/util.h"
#include "content/content_int.h"

#define STACK_MAX 256
#define ATTR_MAX 2048   /* longest attribute value kept (URLs are cut anyway) */
#define ANCHOR_MAX 512  /* visible anchor text kept for the mismatch test */

enum { HID_CSS = 1, HID_TINY = 2, HID_COLOR = 4 };

struct elem {
	char name[12];
	unsigned hidden; /* HID_* of this element or an ancestor */
	int color, bg;   /* 0xRRGGBB or -1 when unknown/inherited none */
	int counted;     /* its hidden text was counted already */
};

struct attrs {
	char style[ATTR_MAX], href[ATTR_MAX], src[ATTR_MAX], color[32], bgcolor[32];
	int hidden;
};

struct html_state {
	struct content_msg *m;
	struct attrs attrs; /* scratch for the tag being parsed */
	struct buf *out;
	size_t max;
	int cut;
	struct elem stack[STACK_MAX];
	size_t depth;
	int ws;          /* last byte emitted was white space */
	int in_anchor;
	char anchor_rd[256];
	char anchor_text[ANCHOR_MAX];
	size_t anchor_len;
};

static const struct elem root = { "", 0, -1, 0xFFFFFF, 0 };

static const struct elem *top(const struct html_state *h)
{
	return h->depth ? &h->stack[h->depth - 1] : &root;
}

/* ---- colours and CSS ---------------------------------------------------- */

/* Parse a colour at s (lower case, no spaces): #rgb, #rrggbb, rgb(r,g,b),
 * a few names.  -1 when unknown. */
static int parse_color(const char *s)
{
	static const struct { const char *n; int v; } names[] = {
		{ "white", 0xFFFFFF }, { "black", 0 }, { "red", 0xFF0000 }, { "green", 0x008000 },
		{ "blue", 0x0000FF }, { "yellow", 0xFFFF00 }, { "gray", 0x808080 },
		{ "grey", 0x808080 }, { "silver", 0xC0C0C0 }, { "snow", 0xFFFAFA },
		{ "ivory", 0xFFFFF0 }, { "whitesmoke", 0xF5F5F5 },
	};
	if (s[0] == '#') {
		int v[6], n = 0;
		while (n < 6 && content_hex_digit((unsigned char)s[1 + n]) >= 0) {
			v[n] = content_hex_digit((unsigned char)s[1 + n]);
			n++;
		}
		if (n == 6)
			return (v[0] << 20) | (v[1] << 16) | (v[2] << 12) | (v[3] << 8) | (v[4] << 4) | v[5];
		if (n == 3)
			return (v[0] * 17 << 16) | (v[1] * 17 << 8) | (v[2] * 17);
		return -1;
	}
	if (strncmp(s, "rgb(", 4) == 0) {
		int c[3] = { 0, 0, 0 };
		const char *p = s + 4;
		for (int i = 0; i < 3; i++) {
			int v = 0, any = 0;
			while (isdigit((unsigned char)*p) && v < 1000) {
				v = v * 10 + (*p++ - '0');
				any = 1;
			}
			if (!any)
				return -1;
			c[i] = v > 255 ? 255 : v;
			if (i < 2 && *p++ != ',')
				return -1;
		}
		return (c[0] << 16) | (c[1] << 8) | c[2];
	}
	for (size_t i = 0; i < MW_ARRAY_LEN(names); i++) {
		size_t n = strlen(names[i].n);
		if (strncmp(s, names[i].n, n) == 0 && !isalpha((unsigned char)s[n]))
			return names[i].v;
	}
	return -1;
}

static int color_close(int a, int b)
{
	int d = 0;
	for (int sh = 0; sh <= 16; sh += 8) {
		int x = ((a >> sh) & 0xFF) - ((b >> sh) & 0xFF);
		d += x < 0 ? -x : x;
	}
	return d < 40;
}

/* Find "key" in a space-stripped lower-case declaration list where it starts
 * a declaration (so "color:" does not match "background-color:"). */
static const char *css_find(const char *css, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = strstr(css, key); p != NULL; p = strstr(p + 1, key))
		if (p == css || p[-1] == ';' || p[-1] == '{' || p[-1] == '"')
			return p + kl;
	return NULL;
}

static void apply_style(struct elem *e, const char *style)
{
	char css[1024];
	size_t n = 0;
	for (const char *p = style; *p && n + 1 < sizeof(css); p++)
		if (!isspace((unsigned char)*p))
			css[n++] = (char)tolower((unsigned char)*p);
	css[n] = '\0';
	const char *v;
	if ((v = css_find(css, "display:")) && strncmp(v, "none", 4) == 0)
		e->hidden |= HID_CSS;
	if ((v = css_find(css, "visibility:")) && strncmp(v, "hidden", 6) == 0)
		e->hidden |= HID_CSS;
	if ((v = css_find(css, "opacity:")) && v[0] == '0' && !(v[1] == '.' && v[2] > '0'))
		e->hidden |= HID_CSS;
	if ((v = css_find(css, "font-size:")) && (v[0] == '0' || (v[0] == '1' && !isdigit((unsigned char)v[1]) && v[1] != '.' && strncmp(v + 1, "em", 2) != 0 && strncmp(v + 1, "rem", 3) != 0)))
		e->hidden |= HID_TINY;
	if ((v = css_find(css, "max-height:")) && v[0] == '0' && (v[1] == ';' || v[1] == 'p' || v[1] == '\0') &&
		strstr(css, "overflow:hidden") != NULL)
		e->hidden |= HID_CSS;
	if ((v = css_find(css, "color:")) && parse_color(v) >= 0)
		e->color = parse_color(v);
	if ((v = css_find(css, "background-color:")) && parse_color(v) >= 0)
		e->bg = parse_color(v);
	else if ((v = css_find(css, "background:")) && parse_color(v) >= 0)
		e->bg = parse_color(v);
}

/* ---- output --------------------------------------------------------------- */

static void emit(struct html_state *h, const char *s, size_t n)
{
	if (h->cut)
		return;
	if (h->out->len + n > h->max) {
		h->cut = 1;
		return;
	}
	buf_append(h->out, s, n);
	h->ws = n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n');
}

static void emit_newline(struct html_state *h)
{
	size_t l = h->out->len;
	/* At most one blank line; none at the start. */
	if (l == 0 || (l >= 2 && h->out->data[l - 1] == '\n' && h->out->data[l - 2] == '\n'))
		return;
	while (h->out->len > 0 && h->out->data[h->out->len - 1] == ' ')
		h->out->len--;
	emit(h, "\n", 1);
}

static void anchor_add(struct html_state *h, const char *s, size_t n)
{
	if (!h->in_anchor)
		return;
	if (n > ANCHOR_MAX - 1 - h->anchor_len)
		n = ANCHOR_MAX - 1 - h->anchor_len;
	memcpy(h->anchor_text + h->anchor_len, s, n);
	h->anchor_len += n;
}

/* Visible or hidden text of one run (already entity-decoded). */
static void text_run(struct html_state *h, const char *s, size_t n)
{
	size_t vis = 0;
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			vis++;
	const struct elem *t = top(h);
	int hidden = t->hidden != 0 || (t->color >= 0 && color_close(t->color, t->bg));
	if (hidden) {
		if (vis > 0 && h->depth > 0 && !h->stack[h->depth - 1].counted) {
			h->stack[h->depth - 1].counted = 1;
			h->m->html.hidden_text++;
			if (t->hidden & HID_TINY)
				h->m->html.tiny_text++;
		}
		return;
	}
	h->m->html.text_chars += vis;
	anchor_add(h, s, n);
	/* Collapse white space runs to one space. */
	size_t i = 0;
	while (i < n) {
		if (isspace((unsigned char)s[i])) {
			while (i < n && isspace((unsigned char)s[i]))
				i++;
			if (!h->ws && h->out->len > 0)
				emit(h, " ", 1);
			continue;
		}
		size_t j = i;
		while (j < n && !isspace((unsigned char)s[j]))
			j++;
		emit(h, s + i, j - i);
		i = j;
	}
}

/* ---- entities ----------------------------------------------------------- */

/* Decode the entity at s ('&' first); writes UTF-8 to o (>= 4 bytes) and
 * returns the bytes consumed, or 0 when it is not an entity. */
static size_t entity(const char *s, size_t n, char *o, size_t *olen)
{
	static const struct { const char *n; uint32_t c; } ents[] = {
		{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' },
		{ "nbsp", ' ' }, { "copy", 0xA9 }, { "reg", 0xAE }, { "euro", 0x20AC },
		{ "mdash", 0x2014 }, { "ndash", 0x2013 }, { "hellip", 0x2026 }, { "laquo", 0xAB },
		{ "raquo", 0xBB }, { "lsquo", 0x2018 }, { "rsquo", 0x2019 }, { "ldquo", 0x201C },
		{ "rdquo", 0x201D }, { "bull", 0x2022 }, { "middot", 0xB7 }, { "trade", 0x2122 },
		{ "zwnj", 0x200C }, { "zwj", 0x200D }, { "shy", 0xAD }, { "pound", 0xA3 },
		{ "yen", 0xA5 }, { "cent", 0xA2 }, { "times", 0xD7 }, { "deg", 0xB0 },
	};
	if (n < 3)
		return 0;
	if (s[1] == '#') {
		size_t i = 2;
		unsigned long c = 0;
		int hex = i < n && (s[i] == 'x' || s[i] == 'X');
		if (hex)
			i++;
		size_t d0 = i;
		while (i < n && i < d0 + 8 && (hex ? content_hex_digit((unsigned char)s[i]) >= 0 : isdigit((unsigned char)s[i]))) {
			c = c * (hex ? 16 : 10) + (unsigned long)(hex ? content_hex_digit((unsigned char)s[i]) : s[i] - '0');
			i++;
		}
		if (i == d0)
			return 0;
		if (i < n && s[i] == ';')
			i++;
		*olen = unicode_utf8_put((uint32_t)c, o);
		return i;
	}
	size_t i = 1;
	while (i < n && i < 10 && isalnum((unsigned char)s[i]))
		i++;
	size_t nl = i - 1;
	for (size_t k = 0; k < MW_ARRAY_LEN(ents); k++)
		if (strlen(ents[k].n) == nl && strncasecmp(s + 1, ents[k].n, nl) == 0) {
			*olen = unicode_utf8_put(ents[k].c, o);
			return i < n && s[i] == ';' ? i + 1 : i;
		}
	return 0;
}

/* Text between tags: decode entities, then hand on. */
static void text_segment(struct html_state *h, const char *s, size_t n)
{
	struct buf t = BUF_INIT;
	const char *amp = memchr(s, '&', n);
	if (amp == NULL) {
		text_run(h, s, n);
		return;
	}
	size_t i = 0;
	while (i < n) {
		if (s[i] == '&') {
			char o[4];
			size_t ol = 0, used = entity(s + i, n - i, o, &ol);
			if (used > 0) {
				buf_append(&t, o, ol);
				i += used;
				continue;
			}
		}
		buf_append_char(&t, s[i]);
		i++;
	}
	text_run(h, t.data, t.len);
	buf_free(&t);
}

/* ---- tags ----------------------------------------------------------------- */

enum { TAG_BLOCK = 1, TAG_VOID = 2, TAG_CELL = 4 };

/* Sorted for bsearch: tag classes are looked up for every tag. */
static const struct tag_class { const char *name; unsigned cls; } tag_classes[] = {
	{ "address", TAG_BLOCK }, { "area", TAG_VOID }, { "article", TAG_BLOCK },
	{ "base", TAG_VOID }, { "blockquote", TAG_BLOCK }, { "br", TAG_BLOCK | TAG_VOID },
	{ "center", TAG_BLOCK }, { "col", TAG_VOID }, { "dd", TAG_BLOCK }, { "div", TAG_BLOCK },
	{ "dt", TAG_BLOCK }, { "embed", TAG_VOID }, { "footer", TAG_BLOCK }, { "form", TAG_BLOCK },
	{ "h1", TAG_BLOCK }, { "h2", TAG_BLOCK }, { "h3", TAG_BLOCK }, { "h4", TAG_BLOCK },
	{ "h5", TAG_BLOCK }, { "h6", TAG_BLOCK }, { "header", TAG_BLOCK },
	{ "hr", TAG_BLOCK | TAG_VOID }, { "img", TAG_VOID }, { "input", TAG_VOID },
	{ "li", TAG_BLOCK }, { "link", TAG_VOID }, { "meta", TAG_VOID }, { "ol", TAG_BLOCK },
	{ "p", TAG_BLOCK }, { "param", TAG_VOID }, { "pre", TAG_BLOCK }, { "section", TAG_BLOCK },
	{ "source", TAG_VOID }, { "table", TAG_BLOCK }, { "td", TAG_CELL }, { "th", TAG_CELL },
	{ "title", TAG_BLOCK }, { "tr", TAG_BLOCK }, { "track", TAG_VOID }, { "ul", TAG_BLOCK },
	{ "wbr", TAG_VOID },
};

static int tag_cmp(const void *k, const void *e)
{
	return strcmp(k, ((const struct tag_class *)e)->name);
}

static unsigned tag_class(const char *name)
{
	const struct tag_class *t = bsearch(name, tag_classes, MW_ARRAY_LEN(tag_classes),
		sizeof(tag_classes[0]), tag_cmp);
	return t ? t->cls : 0;
}

static void anchor_end(struct html_state *h)
{
	if (!h->in_anchor)
		return;
	char rd[256];
	if (h->anchor_rd[0] != '\0' && url_text_regdomain(h->m, h->anchor_text, h->anchor_len, rd, sizeof(rd)) &&
		strcasecmp(rd, h->anchor_rd) != 0) {
		struct content_html_features *f = &h->m->html;
		if (f->link_mismatch++ == 0) {
			mw_strlcpy(f->mismatch_shown, rd, sizeof(f->mismatch_shown));
			mw_strlcpy(f->mismatch_href, h->anchor_rd, sizeof(f->mismatch_href));
		}
	}
	h->in_anchor = 0;
}

/* Parse attributes in [p, e) (inside the tag, after its name). */
static void parse_attrs(const char *p, const char *e, struct attrs *a)
{
	while (p < e) {
		while (p < e && (isspace((unsigned char)*p) || *p == '/'))
			p++;
		const char *ns = p;
		while (p < e && !isspace((unsigned char)*p) && *p != '=' && *p != '/')
			p++;
		size_t nl = (size_t)(p - ns);
		while (p < e && isspace((unsigned char)*p))
			p++;
		const char *vs = NULL;
		size_t vl = 0;
		if (p < e && *p == '=') {
			p++;
			while (p < e && isspace((unsigned char)*p))
				p++;
			if (p < e && (*p == '"' || *p == '\'')) {
				char q = *p++;
				vs = p;
				while (p < e && *p != q)
					p++;
				vl = (size_t)(p - vs);
				if (p < e)
					p++;
			} else {
				vs = p;
				while (p < e && !isspace((unsigned char)*p))
					p++;
				vl = (size_t)(p - vs);
			}
		}
		if (nl == 0) {
			if (p < e && vs == NULL)
				p++;
			continue;
		}
		char *dst = NULL;
		size_t dsz = 0;
		if (nl == 5 && strncasecmp(ns, "style", 5) == 0) {
			dst = a->style;
			dsz = sizeof(a->style);
		} else if (nl == 4 && strncasecmp(ns, "href", 4) == 0) {
			dst = a->href;
			dsz = sizeof(a->href);
		} else if ((nl == 3 && strncasecmp(ns, "src", 3) == 0) ||
			(nl == 6 && strncasecmp(ns, "action", 6) == 0)) {
			dst = a->src;
			dsz = sizeof(a->src);
		} else if (nl == 5 && strncasecmp(ns, "color", 5) == 0) {
			dst = a->color;
			dsz = sizeof(a->color);
		} else if (nl == 7 && strncasecmp(ns, "bgcolor", 7) == 0) {
			dst = a->bgcolor;
			dsz = sizeof(a->bgcolor);
		} else if (nl == 6 && strncasecmp(ns, "hidden", 6) == 0) {
			a->hidden = 1;
		}
		if (dst != NULL && vs != NULL) {
			size_t n = vl < dsz - 1 ? vl : dsz - 1;
			memcpy(dst, vs, n);
			dst[n] = '\0';
		}
	}
}

static void lower_in_place(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* Decode &amp; in attribute URLs (the only entity that matters there). */
static size_t unescape_amp(char *s)
{
	char *w = s;
	for (const char *r = s; *r;) {
		if (strncmp(r, "&amp;", 5) == 0) {
			*w++ = '&';
			r += 5;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

static void open_tag(struct html_state *h, const char *name, const char *p, const char *e)
{
	struct content_msg *m = h->m;
	/* Attribute scratch lives in the heap-allocated state (worker stacks
	 * stay small); clearing the first bytes is enough to reset it. */
	struct attrs *a = &h->attrs;
	a->style[0] = a->href[0] = a->src[0] = a->color[0] = a->bgcolor[0] = '\0';
	a->hidden = 0;
	parse_attrs(p, e, a);
	int selfclose = e > p && e[-1] == '/';

	if (strcmp(name, "a") == 0) {
		anchor_end(h);
		if (a->href[0] != '\0') {
			size_t n = unescape_amp(a->href);
			m->html.links++;
			url_add(m, a->href, n, 1);
			h->in_anchor = 1;
			h->anchor_len = 0;
			if (!url_regdomain(m, a->href, n, h->anchor_rd, sizeof(h->anchor_rd)))
				h->anchor_rd[0] = '\0';
		}
	} else if (strcmp(name, "img") == 0) {
		m->html.images++;
	} else if (strcmp(name, "form") == 0) {
		m->html.forms++;
	}
	if (a->src[0] != '\0') {
		size_t n = unescape_amp(a->src);
		url_add(m, a->src, n, 1);
	}
	unsigned cls = tag_class(name);
	if (cls & TAG_BLOCK)
		emit_newline(h);
	else if ((cls & TAG_CELL) && !h->ws)
		emit(h, " ", 1);

	if (!selfclose && !(cls & TAG_VOID) && h->depth < STACK_MAX) {
		struct elem *el = &h->stack[h->depth];
		*el = *top(h);
		mw_strlcpy(el->name, name, sizeof(el->name));
		el->counted = 0;
		if (a->hidden)
			el->hidden |= HID_CSS;
		if (a->color[0]) {
			lower_in_place(a->color);
			int c = parse_color(a->color);
			if (c >= 0)
				el->color = c;
		}
		if (a->bgcolor[0]) {
			lower_in_place(a->bgcolor);
			int c = parse_color(a->bgcolor);
			if (c >= 0)
				el->bg = c;
		}
		if (a->style[0])
			apply_style(el, a->style);
		/* A new background without a text colour of its own resets the
		 * comparison (text colour is then the UA default, unknown). */
		if ((a->bgcolor[0] || strstr(a->style, "background")) && !a->color[0] &&
			strstr(a->style, "color:") == NULL)
			el->color = -1;
		h->depth++;
	}
}

static void close_tag(struct html_state *h, const char *name)
{
	if (strcmp(name, "a") == 0)
		anchor_end(h);
	if (tag_class(name) & TAG_BLOCK)
		emit_newline(h);
	for (size_t i = h->depth; i > 0; i--)
		if (strcmp(h->stack[i - 1].name, name) == 0) {
			h->depth = i - 1;
			break;
		}
}

/* Skip raw text up to "</name" (script, style...); returns the position. */
static const char *skip_raw(const char *p, const char *e, const char *name)
{
	size_t nl = strlen(name);
	while (p < e) {
		const char *lt = memchr(p, '<', (size_t)(e - p));
		if (lt == NULL)
			return e;
		if ((size_t)(e - lt) > nl + 1 && lt[1] == '/' && strncasecmp(lt + 2, name, nl) == 0)
			return lt;
		p = lt + 1;
	}
	return e;
}

int html_to_text(struct content_msg *m, const char *html, size_t len, struct buf *out, size_t max)
{
	struct html_state *h = xcalloc(1, sizeof(*h));
	h->m = m;
	h->out = out;
	h->max = max;
	h->ws = 1;
	m->html.parts++;
	const char *p = html, *e = html + len;
	while (p < e) {
		const char *lt = memchr(p, '<', (size_t)(e - p));
		const char *te = lt ? lt : e;
		if (te > p)
			text_segment(h, p, (size_t)(te - p));
		if (lt == NULL)
			break;
		p = lt;
		if (e - p >= 4 && memcmp(p, "<!--", 4) == 0) {
			const char *c = memmem(p + 4, (size_t)(e - p - 4), "-->", 3);
			p = c ? c + 3 : e;
			continue;
		}
		int closing = p + 1 < e && p[1] == '/';
		const char *ns = p + 1 + closing;
		if (ns >= e || !(isalpha((unsigned char)*ns) || *ns == '!' || *ns == '?')) {
			/* A lone '<' is text. */
			text_segment(h, p, 1);
			p++;
			continue;
		}
		/* Tag end: the first '>' outside quotes. */
		const char *q = ns;
		char quote = 0;
		while (q < e && (quote || *q != '>')) {
			if (quote && *q == quote)
				quote = 0;
			else if (!quote && (*q == '"' || *q == '\'') && q > ns && (q[-1] == '=' || isspace((unsigned char)q[-1])))
				quote = *q;
			q++;
		}
		if (*ns == '!' || *ns == '?') {
			p = q < e ? q + 1 : e;
			continue;
		}
		char name[12];
		size_t nl = 0;
		const char *a = ns;
		while (a < q && (isalnum((unsigned char)*a) || *a == '-' || *a == ':')) {
			if (nl + 1 < sizeof(name))
				name[nl++] = (char)tolower((unsigned char)*a);
			a++;
		}
		name[nl] = '\0';
		p = q < e ? q + 1 : e;
		if (closing) {
			close_tag(h, name);
			continue;
		}
		open_tag(h, name, a, q);
		if (strcmp(name, "script") == 0 || strcmp(name, "style") == 0 ||
			strcmp(name, "title") == 0) {
			p = skip_raw(p, e, name);
		}
	}
	anchor_end(h);
	/* Trim trailing white space. */
	while (out->len > 0 && isspace((unsigned char)out->data[out->len - 1]))
		out->len--;
	if (out->data)
		out->data[out->len] = '\0';
	int cut = h->cut;
	free(h);
	return cut;
}
