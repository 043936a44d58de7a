/*
 * conf.c - defaults, INI loading, validation and documentation, all driven
 * by conf_keys[] (conf_table.c).
 *
 * Parsing uses inih through ini_parse_stream() with our own line reader,
 * for three reasons: (1) inih's handler does not get line numbers in the
 * Debian build, and an operator needs "FILE:LINE: reason"; the reader
 * counts lines, and inih calls the handler while the line just read is
 * current.  (2) Debian's inih has INI_ALLOW_MULTILINE on, which would turn
 * an indented "key = value" into a continuation of the previous value; the
 * reader strips leading blanks so every line stands alone.  (3) inih reads
 * at most INI_MAX_LINE bytes per line and would parse the rest of a long
 * line as a new line; the reader refuses over-long lines instead.
 *
 * A load works on a copy, so a refused file leaves the caller's struct
 * untouched.
 */
#include "conf/conf.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeparse.h"
#include "base/util.h"

/* Largest configuration file read; a real one is a few KiB. */
#define CONF_MAX_FILE (1024 * 1024)

static void seterr(char *err, size_t errlen, const char *fmt, ...) MW_PRINTF(3, 4);
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static size_t conf_nkeys(void)
{
	size_t n = 0;
	while (conf_keys[n].name != NULL)
		n++;
	return n;
}

static const struct conf_key *find_key(const char *section, const char *name, int *section_known)
{
	*section_known = 0;
	for (const struct conf_key *k = conf_keys; k->name != NULL; k++) {
		if (strcmp(k->section, section) != 0)
			continue;
		*section_known = 1;
		if (strcmp(k->name, name) == 0)
			return k;
	}
	return NULL;
}

/* ---- value parsers ---------------------------------------------------- */

/* Optional '-', digits, nothing else; overflow is an error. */
static int parse_int(const char *s, int64_t *out)
{
	int neg = 0;
	uint64_t v = 0;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (*s != '\0' || v > (uint64_t)INT64_MAX)
		return -1;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

static int parse_size(const char *s, int64_t *out)
{
	char num[32];
	size_t n = strlen(s);
	int64_t v, mult = 1;

	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 'k': case 'K': mult = INT64_C(1) << 10; break;
	case 'm': case 'M': mult = INT64_C(1) << 20; break;
	case 'g': case 'G': mult = INT64_C(1) << 30; break;
	default: break;
	}
	if (mult != 1)
		num[n - 1] = '\0';
	if (num[0] == '-' || parse_int(num, &v) < 0 || v > INT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/* "8", "-2.5", "7.25" -> hundredths.  No exponent, at most two decimals:
 * thresholds are written by people, and exactness beats range. */
int conf_parse_score(const char *s, int64_t *out)
{
	char num[32];
	const char *dot = strchr(s, '.');
	size_t ilen = dot ? (size_t)(dot - s) : strlen(s);
	int64_t ip, frac = 0;
	int neg = s[0] == '-';

	if (ilen == 0 || ilen >= sizeof(num) || (neg && ilen == 1))
		return -1;
	memcpy(num, s, ilen);
	num[ilen] = '\0';
	if (parse_int(num, &ip) < 0 || ip > INT64_MAX / 100 || ip < -(INT64_MAX / 100))
		return -1;
	if (dot != NULL) {
		const char *f = dot + 1;
		size_t flen = strlen(f);
		if (flen == 0 || flen > 2 || strspn(f, "0123456789") != flen)
			return -1;
		frac = (f[0] - '0') * 10 + (flen == 2 ? f[1] - '0' : 0);
	}
	*out = neg ? ip * 100 - frac : ip * 100 + frac;
	return 0;
}

static int parse_bool(const char *s, int64_t *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < MW_ARRAY_LEN(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* Index of value in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *value)
{
	size_t vlen = strlen(value);
	int i = 0;

	for (const char *p = choices;; i++) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == vlen && strncmp(p, value, len) == 0)
			return i;
		if (bar == NULL)
			return -1;
		p = bar + 1;
	}
}

void conf_format_score(int64_t v, char *out, size_t n)
{
	int64_t a = v < 0 ? -v : v;

	if (a % 100 == 0)
		snprintf(out, n, "%s%lld", v < 0 ? "-" : "", (long long)(a / 100));
	else if (a % 10 == 0)
		snprintf(out, n, "%s%lld.%lld", v < 0 ? "-" : "", (long long)(a / 100),
		    (long long)(a % 100 / 10));
	else
		snprintf(out, n, "%s%lld.%02lld", v < 0 ? "-" : "", (long long)(a / 100),
		    (long long)(a % 100));
}

/* Render a number the way the operator would write it for this type. */
static void fmt_value(enum conf_type type, int64_t v, char *out, size_t n)
{
	if (type == CONF_DURATION) {
		static const struct { int64_t mult; char unit; } u[] = {
			{ 7 * 86400, 'w' }, { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' },
		};
		for (size_t i = 0; i < MW_ARRAY_LEN(u); i++) {
			/* Weeks only read well for whole multiples beyond one. */
			if (u[i].unit == 'w')
				continue;
			if (v != 0 && v % u[i].mult == 0) {
				snprintf(out, n, "%lld%c", (long long)(v / u[i].mult), u[i].unit);
				return;
			}
		}
		snprintf(out, n, "%llds", (long long)v);
		return;
	}
	if (type == CONF_SIZE) {
		static const struct { int64_t mult; char unit; } u[] = {
			{ INT64_C(1) << 30, 'G' }, { INT64_C(1) << 20, 'M' }, { INT64_C(1) << 10, 'k' },
		};
		for (size_t i = 0; i < MW_ARRAY_LEN(u); i++) {
			if (v != 0 && v % u[i].mult == 0) {
				snprintf(out, n, "%lld%c", (long long)(v / u[i].mult), u[i].unit);
				return;
			}
		}
	}
	if (type == CONF_SCORE) {
		conf_format_score(v, out, n);
		return;
	}
	snprintf(out, n, "%lld", (long long)v);
}

/* host:port or [v6]:port with a port in 1..65535. */
static int check_listen(const char *v)
{
	const char *colon;
	int64_t port;

	if (v[0] == '[') {
		const char *close = strchr(v, ']');
		if (close == NULL || close == v + 1 || close[1] != ':')
			return -1;
		colon = close + 1;
	} else {
		colon = strrchr(v, ':');
		if (colon == NULL || colon == v || memchr(v, ':', (size_t)(colon - v)) != NULL)
			return -1;
	}
	if (parse_int(colon + 1, &port) < 0 || colon[1] == '-' || port < 1 || port > 65535)
		return -1;
	return 0;
}

/* Checks beyond the type for the few keys whose text has a syntax. */
static int check_string(const struct conf_key *k, const char *value, char *err, size_t errlen)
{
	if (strcmp(k->name, "listen") == 0 && check_listen(value) < 0) {
		seterr(err, errlen, "[%s] %s: '%s' is not host:port", k->section, k->name, value);
		return -1;
	}
	if (strcmp(k->name, "relayhost") == 0 && value[0] != '\0' &&
	    (strncmp(value, "smtp://", 7) != 0 || value[7] == '\0')) {
		seterr(err, errlen, "[%s] %s: '%s' is not smtp://host:port", k->section, k->name,
		    value);
		return -1;
	}
	if (strcmp(k->name, "hostname") == 0) {
		/* It goes verbatim into the greeting and Received: headers. */
		if (value[0] == '\0' || strpbrk(value, " \t<>[]()@,;:\\\"") != NULL) {
			seterr(err, errlen, "[%s] %s: '%s' is not a host name", k->section, k->name,
			    value);
			return -1;
		}
	}
	return 0;
}

int conf_set(struct conf *c, const char *section, const char *name, const char *value,
    char *err, size_t errlen)
{
	int section_known;
	const struct conf_key *k = find_key(section, name, &section_known);
	char lo[32], hi[32];
	int64_t v = 0;

	if (k == NULL) {
		if (!section_known)
			seterr(err, errlen, "unknown section [%s]", section);
		else
			seterr(err, errlen, "[%s] unknown key '%s'", section, name);
		return -1;
	}
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			seterr(err, errlen, "[%s] %s: control character in value", section, name);
			return -1;
		}
	}

	switch (k->type) {
	case CONF_STR: {
		size_t len = strlen(value);
		if (len >= k->size) {
			seterr(err, errlen, "[%s] %s: value is too long (%zu bytes, at most %zu)",
			    section, name, len, k->size - 1);
			return -1;
		}
		if (k->choices != NULL && choice_index(k->choices, value) < 0) {
			seterr(err, errlen, "[%s] %s: '%s' is not one of %s", section, name, value,
			    k->choices);
			return -1;
		}
		if (check_string(k, value, err, errlen) < 0)
			return -1;
		memcpy((char *)c + k->offset, value, len + 1);
		return 0;
	}
	case CONF_ENUM: {
		int i = choice_index(k->choices, value);
		if (i < 0) {
			seterr(err, errlen, "[%s] %s: '%s' is not one of %s", section, name, value,
			    k->choices);
			return -1;
		}
		*(int64_t *)(void *)((char *)c + k->offset) = i;
		return 0;
	}
	case CONF_BOOL:
		if (parse_bool(value, &v) < 0) {
			seterr(err, errlen, "[%s] %s: '%s' is not a boolean (yes/no, true/false, "
			    "on/off, 1/0)", section, name, value);
			return -1;
		}
		*(int64_t *)(void *)((char *)c + k->offset) = v;
		return 0;
	case CONF_INT:
		if (parse_int(value, &v) < 0) {
			seterr(err, errlen, "[%s] %s: '%s' is not a whole number", section, name, value);
			return -1;
		}
		break;
	case CONF_SIZE:
		if (parse_size(value, &v) < 0) {
			seterr(err, errlen, "[%s] %s: '%s' is not a size (bytes, or a number with "
			    "suffix k, M or G)", section, name, value);
			return -1;
		}
		break;
	case CONF_SCORE:
		if (conf_parse_score(value, &v) < 0) {
			seterr(err, errlen, "[%s] %s: '%s' is not a score (a decimal number with at "
			    "most two decimals, e.g. 8 or 7.5)", section, name, value);
			return -1;
		}
		break;
	case CONF_DURATION:
		if (timeparse_duration(value, &v) < 0) {
			seterr(err, errlen, "[%s] %s: '%s' is not a duration (seconds, or a number "
			    "with suffix s, m, h or d)", section, name, value);
			return -1;
		}
		break;
	}
	/* Numeric types: bounds. */
	if (v < k->min) {
		fmt_value(k->type, k->min, lo, sizeof(lo));
		seterr(err, errlen, "[%s] %s: %s is below the minimum %s", section, name, value, lo);
		return -1;
	}
	if (v > k->max) {
		fmt_value(k->type, k->max, hi, sizeof(hi));
		seterr(err, errlen, "[%s] %s: %s is above the maximum %s", section, name, value, hi);
		return -1;
	}
	*(int64_t *)(void *)((char *)c + k->offset) = v;
	return 0;
}

void conf_defaults(struct conf *c)
{
	char err[256];

	memset(c, 0, sizeof(*c));
	for (const struct conf_key *k = conf_keys; k->name != NULL; k++) {
		/* A default that does not pass its own key's checks is a bug. */
		if (conf_set(c, k->section, k->name, k->def, err, sizeof(err)) < 0)
			mw_panic("bad default in conf_keys: %s", err);
	}
}

/* ---- loading ------------------------------------------------------------ */

struct load_ctx {
	struct conf *c;
	const char *data;       /* the whole file */
	size_t len, pos;
	int line;               /* line most recently handed to inih */
	int err_line;           /* first error seen by us (0 = none) */
	char err[384];
	int *key_line;          /* per conf_keys[] index: line it was set on, 0 = not set */
};

/*
 * fgets-style reader for inih.  Strips leading blanks (defeats inih's
 * multi-line continuation) and refuses lines longer than inih's buffer
 * (which it would otherwise split into two lines) or containing NUL.
 */
static char *reader(char *str, int num, void *stream)
{
	struct load_ctx *x = stream;
	size_t o = 0, cap = num > 1 ? (size_t)num - 2 : 0; /* room for "\n" and NUL */
	int overlong = 0, nul = 0;

	if (x->pos >= x->len)
		return NULL;
	x->line++;
	while (x->pos < x->len && (x->data[x->pos] == ' ' || x->data[x->pos] == '\t'))
		x->pos++;
	while (x->pos < x->len) {
		char ch = x->data[x->pos++];
		if (ch == '\n')
			break;
		if (ch == '\0')
			nul = 1;
		if (o < cap)
			str[o++] = ch;
		else
			overlong = 1;
	}
	if ((overlong || nul) && x->err_line == 0) {
		x->err_line = x->line;
		if (nul)
			snprintf(x->err, sizeof(x->err), "NUL byte in line");
		else
			snprintf(x->err, sizeof(x->err), "line is too long (at most %d characters)",
			    num - 2);
	}
	if (overlong || nul)
		o = 0; /* hand inih an empty line: the error is already recorded */
	str[o++] = '\n';
	str[o] = '\0';
	return str;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *x = user;
	char err[320];

	if (x->err_line != 0)
		return 1; /* only the first error is reported; skip the rest */
	if (conf_set(x->c, section, name, value, err, sizeof(err)) < 0) {
		x->err_line = x->line;
		snprintf(x->err, sizeof(x->err), "%s", err);
		return 0;
	}
	int known;
	size_t idx = (size_t)(find_key(section, name, &known) - conf_keys);
	if (x->key_line[idx] != 0) {
		x->err_line = x->line;
		snprintf(x->err, sizeof(x->err), "[%s] %s: set twice (first on line %d)", section,
		    name, x->key_line[idx]);
		return 0;
	}
	x->key_line[idx] = x->line;
	return 1;
}

static int key_line_of(const struct load_ctx *x, const char *section, const char *name)
{
	int known;
	const struct conf_key *k = find_key(section, name, &known);
	return k ? x->key_line[k - conf_keys] : 0;
}

/* Rules that involve two keys; reported at the later key's line. */
static int check_combined(struct load_ctx *x)
{
	int l1, l2;

	if (x->c->retry_min > x->c->retry_max) {
		l1 = key_line_of(x, "queue", "retry_min");
		l2 = key_line_of(x, "queue", "retry_max");
		x->err_line = l1 > l2 ? l1 : l2;
		snprintf(x->err, sizeof(x->err), "[queue] retry_min (%llds) is above retry_max (%llds)",
		    (long long)x->c->retry_min, (long long)x->c->retry_max);
		return -1;
	}
	if (x->c->scan_tag > x->c->scan_probable_spam) {
		char a[32], b[32];
		l1 = key_line_of(x, "scan", "tag");
		l2 = key_line_of(x, "scan", "probable_spam");
		x->err_line = l1 > l2 ? l1 : l2;
		conf_format_score(x->c->scan_tag, a, sizeof(a));
		conf_format_score(x->c->scan_probable_spam, b, sizeof(b));
		snprintf(x->err, sizeof(x->err), "[scan] tag (%s) is above probable_spam (%s)", a, b);
		return -1;
	}
	if ((x->c->tls_cert[0] == '\0') != (x->c->tls_key[0] == '\0')) {
		l1 = key_line_of(x, "tls", "cert");
		l2 = key_line_of(x, "tls", "key");
		x->err_line = l1 > l2 ? l1 : l2;
		snprintf(x->err, sizeof(x->err), "[tls] cert and key must be set together");
		return -1;
	}
	return 0;
}

int conf_load_buffer(struct conf *c, const char *name, const char *data, size_t len,
    char *err, size_t errlen)
{
	struct conf tmp = *c;
	struct load_ctx x = { .c = &tmp, .data = data, .len = len };
	int rc;

	x.key_line = xcalloc(conf_nkeys(), sizeof(int));
	rc = ini_parse_stream(reader, &x, handler, &x);
	if (rc == -2) {
		seterr(err, errlen, "%s: out of memory", name);
		free(x.key_line);
		return -1;
	}
	/* inih reports syntax errors (no '=', unclosed '[') only as a line. */
	if (rc > 0 && (x.err_line == 0 || rc < x.err_line)) {
		x.err_line = rc;
		snprintf(x.err, sizeof(x.err), "syntax error (expected [section] or key = value)");
	}
	if (x.err_line == 0 && check_combined(&x) < 0) {
		/* Both keys at their defaults cannot conflict, so a line is known;
		 * the fallback only keeps the message well-formed. */
		if (x.err_line == 0)
			x.err_line = 1;
	}
	free(x.key_line);
	if (x.err_line != 0) {
		seterr(err, errlen, "%s:%d: %s", name, x.err_line, x.err);
		return -1;
	}
	*c = tmp;
	return 0;
}

int conf_load(struct conf *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *data;
	size_t len;
	int rc;

	if (f == NULL) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	data = xmalloc(CONF_MAX_FILE + 1);
	len = fread(data, 1, CONF_MAX_FILE + 1, f);
	if (ferror(f)) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	} else if (len > CONF_MAX_FILE) {
		seterr(err, errlen, "%s: file is larger than %d bytes", path, CONF_MAX_FILE);
		rc = -1;
	} else {
		rc = conf_load_buffer(c, path, data, len, err, errlen);
	}
	free(data);
	fclose(f);
	return rc;
}

/* ---- documentation ------------------------------------------------------ */

static const char *type_name(enum conf_type t)
{
	switch (t) {
	case CONF_STR: return "string";
	case CONF_INT: return "integer";
	case CONF_BOOL: return "bool";
	case CONF_SIZE: return "size";
	case CONF_DURATION: return "duration";
	case CONF_ENUM: return "enum";
	case CONF_SCORE: return "score";
	}
	return "?";
}

/* Markdown table cells: a '|' would end the cell. */
static void md_cell(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", out);
		else
			fputc(*s, out);
	}
}

static void md_choices(FILE *out, const char *choices)
{
	const char *p = choices;

	fputs("one of ", out);
	for (;;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		fprintf(out, "`%.*s`", (int)len, p);
		if (bar == NULL)
			break;
		fputs(", ", out);
		p = bar + 1;
	}
}

static void md_key(FILE *out, const struct conf_key *k)
{
	char lo[32], hi[32];

	fprintf(out, "| `%s` | ", k->name);
	if (k->choices != NULL)
		md_choices(out, k->choices);
	else
		fputs(type_name(k->type), out);
	fputs(" | ", out);
	if (k->def[0] == '\0') {
		fputs("(empty)", out);
	} else {
		fputc('`', out);
		md_cell(out, k->def);
		fputc('`', out);
	}
	fputs(" | ", out);
	switch (k->type) {
	case CONF_INT:
	case CONF_SIZE:
	case CONF_DURATION:
	case CONF_SCORE:
		fmt_value(k->type, k->min, lo, sizeof(lo));
		fmt_value(k->type, k->max, hi, sizeof(hi));
		fprintf(out, "%s .. %s", lo, hi);
		break;
	case CONF_STR:
		fprintf(out, "at most %zu bytes", k->size - 1);
		break;
	case CONF_BOOL:
	case CONF_ENUM:
		break;
	}
	fputs(" | ", out);
	md_cell(out, k->doc);
	fputs(" |\n", out);
}

void conf_write_markdown(FILE *out)
{
	const char *prev = NULL;

	fputs("# mailward configuration\n\n"
	    "<!-- Generated from src/conf/conf_table.c by `mailward config-doc`; "
	    "edit the table and run `make docs`. -->\n\n"
	    "`mailward serve -c FILE` reads one INI file: `[section]` lines, then "
	    "`key = value` lines; `;` or `#` at the start of a line begins a comment, "
	    "and ` ;` after a value begins one too. Every key is optional; the defaults "
	    "below run the demo. An unknown section or key, a key set twice, or a bad "
	    "value stops start-up with `FILE:LINE: reason`.\n\n"
	    "Value types:\n\n"
	    "- **string**: the text after `=`, blanks around it removed.\n"
	    "- **integer**: a whole decimal number.\n"
	    "- **bool**: `yes`/`no`, `true`/`false`, `on`/`off`, `1`/`0`.\n"
	    "- **size**: bytes, or a number with suffix `k`, `M` or `G` "
	    "(binary: `1k` = 1024, `25M` = 26214400).\n"
	    "- **duration**: seconds, or a number with suffix `s`, `m`, `h`, `d` "
	    "(`30s`, `5m`, `2h`, `5d`).\n"
	    "- **score**: a decimal number with at most two decimals (`8`, `7.5`, `-2.25`).\n"
	    "- **one of**: exactly one of the listed words.\n", out);
	for (const struct conf_key *k = conf_keys; k->name != NULL; k++) {
		if (prev == NULL || strcmp(prev, k->section) != 0) {
			fprintf(out, "\n## [%s]\n\n", k->section);
			fputs("| Key | Type | Default | Bounds | Description |\n", out);
			fputs("|---|---|---|---|---|\n", out);
			prev = k->section;
		}
		md_key(out, k);
	}
}

void conf_path(const struct conf *c, const char *rel, char *out, size_t n)
{
	size_t dl = strlen(c->data_dir);
	int slash = dl > 0 && c->data_dir[dl - 1] == '/';

	snprintf(out, n, "%s%s%s", c->data_dir, slash ? "" : "/", rel);
}
