/*
 * score_rules.c - the heuristic rules (R8).
 *
 * Each rule is a small function over the parsed message (content.h) that
 * records at most one symbol with a reason naming what it saw.  Weights live
 * in one table, score_sym_table (score_symbols.c); docs/scoring.md lists the
 * same rows; RATWARE_HEADERS has its own file (score_ratware.c).  The
 * rules never look at the wall clock: a message is judged by its own headers
 * (the evaluation corpus is from 2002, and a queued message is scanned late).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "content/content.h"
#include "content/content_archive.h"
#include "content/content_htmlfile.h"
#include "content/content_office.h"
#include "content/content_ooxml.h"
#include "content/content_pdf.h"
#include "content/content_rtf.h"
#include "score/score_int.h"

/* ---- the rules ---------------------------------------------------------------- */

#define GTUBE_STR "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

static void rule_gtube(const struct content_msg *m, const char *raw, size_t len, struct score_hits *h)
{
	const size_t gl = sizeof(GTUBE_STR) - 1;

	/* Raw bytes first (the common, plain case); the decoded texts catch it
	 * inside base64 or quoted-printable bodies. */
	if (memmem(raw, len, GTUBE_STR, gl) != NULL) {
		score_hit(h, SYM_GTUBE, 1.0, "GTUBE test string in the message");
		return;
	}
	for (size_t i = 0; i < content_text_count(m); i++) {
		const struct content_text *t = content_text_at(m, i);
		if (memmem(t->text, t->len, GTUBE_STR, gl) != NULL) {
			score_hit(h, SYM_GTUBE, 1.0, "GTUBE test string in text part %zu", i + 1);
			return;
		}
	}
}

static void rule_flags(const struct content_msg *m, struct score_hits *h)
{
	const unsigned f = content_flags(m);
	const unsigned limits = CONTENT_F_LIMIT_DEPTH | CONTENT_F_LIMIT_PARTS | CONTENT_F_LIMIT_HEADERS |
	    CONTENT_F_LIMIT_DECODED | CONTENT_F_LIMIT_TEXT | CONTENT_F_LIMIT_URLS;

	if (f & limits) {
		char names[160] = "";
		for (unsigned bit = 1; bit != 0 && bit <= limits; bit <<= 1) {
			if ((f & limits & bit) == 0)
				continue;
			if (names[0] != '\0')
				strncat(names, ", ", sizeof(names) - strlen(names) - 1);
			strncat(names, content_flag_name(bit), sizeof(names) - strlen(names) - 1);
		}
		/* Only URLs beyond the limit were dropped: every text was read,
		 * so the cut hides nothing from the classifier.  A long link list
		 * (a ham digest in the training split) is weak evidence, not
		 * "never clean" (score.c does not force the class for it). */
		const int urls_only = (f & limits) == CONTENT_F_LIMIT_URLS;
		score_hit(h, SYM_MIME_LIMIT_EXCEEDED, urls_only ? 0.1 : 1.0,
		    urls_only ? "parsing limit hit (%s): URLs beyond the limit were not analysed" :
		                "parsing limit hit (%s): part of the message was not analysed", names);
	}
	if (f & CONTENT_F_MISSING_DATE)
		score_hit(h, SYM_MISSING_DATE, 1.0, "no Date header");
	if (f & CONTENT_F_MISSING_MESSAGE_ID)
		score_hit(h, SYM_MISSING_MESSAGE_ID, 1.0, "no Message-ID header");
	if (f & CONTENT_F_MISSING_FROM)
		score_hit(h, SYM_MISSING_FROM, 1.0, "no From header");
	if (f & CONTENT_F_HTML_ONLY)
		score_hit(h, SYM_HTML_ONLY, 1.0, "HTML text and no text/plain part");
	if (f & CONTENT_F_BAD_CHARSET_DATA)
		score_hit(h, SYM_BAD_CHARSET_DATA, 1.0, "byte sequences invalid in their declared charset");
	if (f & CONTENT_F_BAD_BASE64)
		score_hit(h, SYM_BAD_BASE64, 1.0, "base64 with bytes outside the alphabet or bad padding");
	if (f & CONTENT_F_BAD_QP)
		score_hit(h, SYM_BAD_QP, 1.0, "quoted-printable with invalid =XX escapes");
	if (f & CONTENT_F_BAD_ENCODED_WORD)
		score_hit(h, SYM_BAD_ENCODED_WORD, 1.0, "invalid RFC 2047 encoded word in a header");
	if (f & CONTENT_F_AMBIGUOUS_STRUCTURE) {
		const int top = content_header(m, "Content-Type", 1) != NULL ||
		    content_header(m, "Content-Transfer-Encoding", 1) != NULL;
		score_hit(h, SYM_MIME_AMBIGUOUS, 1.0, "two readings %s (two Content-Type or "
		    "Content-Transfer-Encoding headers, two boundaries, or a file name with two "
		    "extensions): a mail client may show another structure than the one scanned",
		    top ? "in the message headers" : "in a MIME part");
	}
	if (f & CONTENT_F_BAD_BOUNDARY)
		score_hit(h, SYM_MIME_BAD_BOUNDARY, 1.0, (f & CONTENT_F_TRUNCATED) ?
		    "a multipart ends without its closing boundary" :
		    "a multipart without a boundary parameter, or whose boundary never appears");
	if (f & CONTENT_F_CONFLICTING_HEADER) {
		static const char *const ids[] = { "Subject", "From", "Date", "Message-ID", NULL };
		char names[64] = "";
		for (int i = 0; ids[i]; i++) {
			if (content_header(m, ids[i], 1) == NULL)
				continue;
			if (names[0] != '\0')
				strncat(names, ", ", sizeof(names) - strlen(names) - 1);
			strncat(names, ids[i], sizeof(names) - strlen(names) - 1);
		}
		if (names[0] != '\0')
			score_hit(h, SYM_DUPLICATE_HEADER, 1.0, "more than one %s header", names);
	}
	if (f & CONTENT_F_MALFORMED_HEADER)
		score_hit(h, SYM_MALFORMED_HEADER, 1.0, "a header line without a colon, with a bad "
		    "name, or a continuation line first");
	if (f & CONTENT_F_8BIT_HEADER)
		score_hit(h, SYM_HEADER_8BIT, 1.0, "raw 8-bit bytes in the headers (not RFC 2047 encoded)");
	if (f & CONTENT_F_NUL_BYTES)
		score_hit(h, SYM_NUL_BYTES, 1.0, "NUL bytes in the message");
	if (f & CONTENT_F_UNKNOWN_CHARSET) {
		const char *cs = "";
		for (size_t i = 0; i < content_text_count(m) && cs[0] == '\0'; i++) {
			const struct content_text *t = content_text_at(m, i);
			/* The reason names one charset; any not-obvious one will do. */
			if (t->charset[0] != '\0' && strcasecmp(t->charset, "us-ascii") != 0 &&
			    strcasecmp(t->charset, "utf-8") != 0)
				cs = t->charset;
		}
		score_hit(h, SYM_UNKNOWN_CHARSET, 1.0, "unconvertible charset \"%.64s\"", cs);
	}
}

static void rule_date_received(const struct content_msg *m, struct score_hits *h)
{
	int64_t date, rcvd;
	const char *r = content_header(m, "Received", 0);   /* the top one: added last */

	if (r == NULL || content_date(m, &date) != 0)
		return;
	const char *semi = strrchr(r, ';');
	if (semi == NULL || score_parse_rfc5322_date(semi + 1, &rcvd) != 0)
		return;
	const int64_t d = date - rcvd;
	if (d > 24 * 3600)
		score_hit(h, SYM_DATE_AFTER_RECEIVED, 1.0, "Date is %.1f hours after the top Received date",
		    (double)d / 3600.0);
	else if (d < -4 * 24 * 3600)
		score_hit(h, SYM_DATE_BEFORE_RECEIVED, 1.0, "Date is %.1f days before the top Received date",
		    (double)-d / 86400.0);
}

static void rule_html(const struct content_msg *m, struct score_hits *h)
{
	const struct content_html_features *f = content_html(m);

	if (f->hidden_text > 0)
		score_hit(h, SYM_HTML_HIDDEN_TEXT, 1.0, "%u HTML elements with hidden text (%u by a tiny font)",
		    f->hidden_text, f->tiny_text);
	if (f->image_only)
		score_hit(h, SYM_HTML_IMAGE_ONLY, 1.0, "HTML with %u images and %zu visible characters",
		    f->images, f->text_chars);
	if (f->link_mismatch > 0)
		score_hit(h, SYM_HTML_LINK_MISMATCH, 1.0,
		    "%u links whose text shows another domain than their href (first: text shows %.64s, href goes to %.64s)",
		    f->link_mismatch, f->mismatch_shown, f->mismatch_href);
}

/* Kept in strcmp order: looked up with bsearch. */
static const char *const shorteners[] = {
	"bit.ly", "bitly.com", "buff.ly", "cutt.ly", "goo.gl", "is.gd", "ow.ly", "rb.gy",
	"rebrand.ly", "shorturl.at", "t.co", "t.ly", "tiny.cc", "tinyurl.com", "v.gd", "x.co",
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void rule_urls(const struct content_msg *m, struct score_hits *h)
{
	const char *ip = NULL, *shortener = NULL, *userinfo = NULL;

	for (size_t i = 0; i < content_url_count(m); i++) {
		const struct content_url *u = content_url_at(m, i);
		if (u->is_ip && ip == NULL)
			ip = u->host;
		if (u->userinfo_host && userinfo == NULL)
			userinfo = u->url;
		const char *key = u->reg_domain;
		if (shortener == NULL && bsearch(&key, shorteners, MW_ARRAY_LEN(shorteners),
		    sizeof(shorteners[0]), cmp_str) != NULL)
			shortener = u->url;
	}
	if (ip != NULL)
		score_hit(h, SYM_URL_IP_LITERAL, 1.0, "URL host is an IP address: %.64s", ip);
	if (shortener != NULL)
		score_hit(h, SYM_URL_SHORTENER, 1.0, "shortened URL %.100s", shortener);
	if (userinfo != NULL)
		score_hit(h, SYM_URL_USERINFO_HOST, 1.0,
		    "URL with a host-like user name before '@', going elsewhere: %.100s", userinfo);
}

/* Case of a code point in the scripts spam shouts in: Latin (ASCII,
 * Latin-1, Latin Extended-A), Greek and Cyrillic.  +1 capital, -1 small,
 * 0 no case (or a script not covered: it counts as no letter, so a
 * subject in a caseless script is never "all capitals"). */
static int cp_case(uint32_t c)
{
	if (c < 0x80)
		return isupper((int)c) ? 1 : islower((int)c) ? -1 : 0;
	if (c >= 0xC0 && c <= 0xDE && c != 0xD7)
		return 1;
	if (c >= 0xDF && c <= 0xFF && c != 0xF7)
		return -1;
	if (c >= 0x100 && c <= 0x137)
		return (c & 1) ? -1 : 1;
	if (c >= 0x139 && c <= 0x148)
		return (c & 1) ? 1 : -1;
	if (c >= 0x14A && c <= 0x177)
		return (c & 1) ? -1 : 1;
	if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2)
		return 1;
	if (c >= 0x3AC && c <= 0x3CE)
		return -1;
	if (c >= 0x400 && c <= 0x42F)
		return 1;
	if (c >= 0x430 && c <= 0x45F)
		return -1;
	return 0;
}

/* One UTF-8 sequence at *p (the subject is valid UTF-8 from content);
 * anything malformed reads as one byte of no case. */
static uint32_t utf8_next(const unsigned char **p)
{
	const unsigned char *s = *p;
	if (s[0] < 0x80) {
		*p = s + 1;
		return s[0];
	}
	if ((s[0] & 0xE0) == 0xC0 && (s[1] & 0xC0) == 0x80) {
		*p = s + 2;
		return ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
	}
	if ((s[0] & 0xF0) == 0xE0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
		*p = s + 3;
		return ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
	}
	*p = s + 1;
	return 0xFFFD;
}

static void rule_subject(const struct content_msg *m, struct score_hits *h)
{
	const char *s = content_subject(m);
	size_t letters = 0, upper = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		int c = cp_case(utf8_next(&p));
		if (c != 0) {
			letters++;
			upper += c > 0;
		}
	}
	if (letters >= 10 && upper * 10 >= letters * 9)
		score_hit(h, SYM_SUBJECT_ALL_CAPS, 1.0, "Subject is %zu%% capitals (%zu of %zu letters)",
		    upper * 100 / letters, upper, letters);
	static const char *const runs[] = { "!!!", "???", "$$$" };
	for (size_t i = 0; i < MW_ARRAY_LEN(runs); i++) {
		if (strstr(s, runs[i]) != NULL) {
			score_hit(h, SYM_SUBJECT_PUNCT, 1.0, "Subject contains \"%s\"", runs[i]);
			break;
		}
	}
}

/* Names Windows (and the JVM) run, install, mount or open into running
 * something on a double click: programs and scripts, installers and
 * packages, shortcuts and search connectors, help files and snap-ins,
 * Excel add-ins, disk images - most of Outlook's "Level 1" list of
 * blocked attachments.  Left out of it: source code also mailed by
 * engineers (.vb, .bas, .vhd - VHDL -, .py, .pl), certificates and
 * databases.  These tables are kept in strcmp order: looked up with
 * bsearch. */
static const char *const exe_exts[] = {
	"application", "appref-ms", "bat", "chm", "cmd", "com", "cpl", "diagcab", "exe", "gadget",
	"hlp", "hta", "inf", "ins", "isp", "jar", "jnlp", "js", "jse", "library-ms", "lnk", "msc",
	"msh", "msi", "msp", "mst", "msu", "pif", "ps1", "ps1xml", "psc1", "reg", "scf", "scr", "sct",
	"search-ms", "settingcontent-ms", "shb", "shs", "vbe", "vbs", "vhdx", "ws", "wsb", "wsc",
	"wsf", "wsh", "xbap", "xll", "xnk",
};
/* Of those, names that software archives carry harmlessly (a driver's
 * setup .inf): counted as an attachment's own name, not inside an
 * archive.  Internet shortcuts (.url) are judged by where they point
 * (rule_attachments). */
static const char *const top_only_exts[] = { "inf" };
/* Script-looking content under these names is source text people mail each
 * other (patches, shell scripts on technical lists), not a dropper. */
static const char *const source_exts[] = {
	"c", "diff", "h", "patch", "pl", "pm", "py", "rb", "sh", "txt",
};

static int ext_in(const char *ext, const char *const *tab, size_t n)
{
	char low[24];
	size_t l = strlen(ext);

	if (l == 0 || l >= sizeof(low))
		return 0;
	for (size_t i = 0; i <= l; i++)
		low[i] = (char)tolower((unsigned char)ext[i]);
	const char *key = low;
	return bsearch(&key, tab, n, sizeof(tab[0]), cmp_str) != NULL;
}

/* How a file name asks to be run: 0 not at all, 1 an executable extension,
 * 2 the same behind a second extension ("invoice.pdf.exe": the classic
 * disguise).  *ext points at the last extension. */
static int exe_name(const char *name, const char **ext)
{
	const char *dot = strrchr(name, '.');

	*ext = dot ? dot + 1 : "";
	if (!ext_in(*ext, exe_exts, MW_ARRAY_LEN(exe_exts)))
		return 0;
	const char *prev = NULL;
	for (const char *p = name; p < dot; p++)
		if (*p == '.')
			prev = p;
	return prev != NULL && dot - prev > 1 && dot - prev <= 5 ? 2 : 1;
}

/* Where a shortcut may point without reaching for a share or a handler:
 * the web, mail, news. */
static int web_scheme(const char *u)
{
	static const char *const ok[] = { "http://", "https://", "ftp://", "mailto:", "news:" };
	while (*u == ' ' || *u == '\t')
		u++;
	for (size_t i = 0; i < MW_ARRAY_LEN(ok); i++)
		if (strncasecmp(u, ok[i], strlen(ok[i])) == 0)
			return 1;
	return 0;
}

static int rule_archive(const struct content_attachment *a, struct score_hits *h)
{
	for (size_t k = 0; k < a->n_archive_names; k++) {
		const char *ext;
		const int kind = exe_name(a->archive_names[k], &ext);
		if (kind == 0 || ext_in(ext, top_only_exts, MW_ARRAY_LEN(top_only_exts)))
			continue;
		score_hit(h, SYM_EXE_ATTACHMENT, 1.0, "attachment \"%.80s\" is an archive holding \"%.80s\"%s",
		    a->filename, a->archive_names[k], kind == 2 ? " (a double extension)" : "");
		return 1;
	}
	return 0;
}

static void rule_attachments(const struct content_msg *m, struct score_hits *h)
{
	for (size_t i = 0; i < content_attachment_count(m); i++) {
		const struct content_attachment *a = content_attachment_at(m, i);
		const char *ext;
		const int kind = exe_name(a->filename, &ext);

		/* An Internet shortcut to a web page is a link; one to a file
		 * share (WebDAV, SMB), a local file or a protocol handler
		 * (search-ms:, ms-...:) runs what it points at - the SmartScreen
		 * bypasses of CVE-2023-36025 and CVE-2024-21412. */
		if (a->shortcut_url != NULL && !web_scheme(a->shortcut_url)) {
			score_hit(h, SYM_EXE_ATTACHMENT, 1.0, "attachment \"%.80s\" is a Windows shortcut to %.100s",
			    a->filename, a->shortcut_url);
			return;
		}
		if (a->detected == CONTENT_FT_EXE || a->detected == CONTENT_FT_ELF) {
			score_hit(h, SYM_EXE_ATTACHMENT, 1.0, "attachment \"%.80s\" is a %s binary",
			    a->filename, content_ftype_name(a->detected));
			return;
		}
		if (a->detected == CONTENT_FT_LNK) {
			score_hit(h, SYM_EXE_ATTACHMENT, 1.0, "attachment \"%.80s\" is a Windows shortcut (a shell link)",
			    a->filename);
			return;
		}
		if (a->detected == CONTENT_FT_ONENOTE && a->embedded_type != CONTENT_FT_UNKNOWN) {
			score_hit(h, SYM_EXE_ATTACHMENT, 1.0, "attachment \"%.80s\" is a OneNote section carrying %s",
			    a->filename, a->embedded_type == CONTENT_FT_SCRIPT ? "a script" :
			    a->embedded_type == CONTENT_FT_LNK ? "a Windows shortcut" : "a program");
			return;
		}
		if (kind != 0) {
			if (kind == 2)
				score_hit(h, SYM_EXE_ATTACHMENT, 1.0, "attachment \"%.80s\" has a double extension ending in .%s",
				    a->filename, ext);
			else
				score_hit(h, SYM_EXE_ATTACHMENT, 1.0, "attachment \"%.80s\" has an executable name (.%s)",
				    a->filename, ext);
			return;
		}
		/* A script without any extension is a Unix tool mailed on a
		 * technical list (two ham of the training split); a dropper
		 * needs a name the recipient's system will run or open. */
		if (a->detected == CONTENT_FT_SCRIPT && ext[0] != '\0' &&
		    !ext_in(ext, source_exts, MW_ARRAY_LEN(source_exts))) {
			score_hit(h, SYM_EXE_ATTACHMENT, 1.0, "attachment \"%.80s\" (%s) holds a script",
			    a->filename, a->declared_type);
			return;
		}
		if (rule_archive(a, h))
			return;
		if (a->embedded_name != NULL && exe_name(a->embedded_name, &ext) != 0) {
			score_hit(h, SYM_EXE_ATTACHMENT, 1.0, "attachment \"%.80s\" is a document carrying \"%.80s\" as an object",
			    a->filename, a->embedded_name);
			return;
		}
	}
}

static void join_phrases(char *out, size_t n, const char *const *ph, size_t k);

/* An Office document that carries macros (content_office.h). */
static void rule_office_macro(const struct content_msg *m, struct score_hits *h)
{
	for (size_t i = 0; i < content_attachment_count(m); i++) {
		const struct content_attachment *a = content_attachment_at(m, i);
		const unsigned f = a->office;
		if ((f & CONTENT_OFFICE_MACROS) == 0)
			continue;
		const int package = a->detected != CONTENT_FT_OLE;
		const char *ph[2];
		size_t k = 0;
		if (f & CONTENT_OFFICE_VBA)
			ph[k++] = package ? "a VBA project in its package" : "a VBA project";
		if (f & CONTENT_OFFICE_XLM)
			ph[k++] = package ? "an Excel 4.0 macro sheet in its package" :
			    (f & CONTENT_OFFICE_XLM_HIDDEN) && (f & CONTENT_OFFICE_AUTO_OPEN) ?
			    "a hidden Excel 4.0 macro sheet set to run on opening" :
			    f & CONTENT_OFFICE_XLM_HIDDEN ? "a hidden Excel 4.0 macro sheet" :
			    f & CONTENT_OFFICE_AUTO_OPEN ? "an Excel 4.0 macro sheet set to run on opening" :
			    "an Excel 4.0 macro sheet";
		char what[160];
		join_phrases(what, sizeof(what), ph, k);
		score_hit(h, SYM_OFFICE_MACRO, 1.0, "attachment \"%.80s\" is an Office document with macros (%s)",
		    a->filename, what);
		return;
	}
}

/* A web page or SVG attachment that acts when opened (content_htmlfile.h). */
/* Phrases joined as "a, b and c" into out (n bytes). */
static void join_phrases(char *out, size_t n, const char *const *ph, size_t k)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < k && o < n; i++) {
		const char *sep = i == 0 ? "" : i + 1 == k ? " and " : ", ";
		int w = snprintf(out + o, n - o, "%s%s", sep, ph[i]);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

static void rule_html_attachment(const struct content_msg *m, struct score_hits *h)
{
	for (size_t i = 0; i < content_attachment_count(m); i++) {
		const struct content_attachment *a = content_attachment_at(m, i);
		const unsigned f = a->html_file;
		if (f == 0)
			continue;
		const char *ph[4];
		size_t k = 0;
		if (f & HTMLFILE_LOGIN_FORM)
			ph[k++] = "asks for a password";
		if (f & HTMLFILE_DECODE_SCRIPT)
			ph[k++] = "decodes and runs hidden script";
		if (f & HTMLFILE_SMUGGLING)
			ph[k++] = "assembles a file to download";
		if (f & HTMLFILE_REDIRECT)
			ph[k++] = "sends the browser to a website";
		char what[160];
		join_phrases(what, sizeof(what), ph, k);
		score_hit(h, SYM_HTML_ATTACHMENT_PHISH, 1.0, "attachment \"%.80s\" is a web page that %s",
		    a->filename, what);
		return;
	}
}

/* A PDF that acts when opened (content_pdf.h). */
static void rule_pdf(const struct content_msg *m, struct score_hits *h)
{
	double best = 0.0;
	const struct content_attachment *hit = NULL;
	for (size_t i = 0; i < content_attachment_count(m); i++) {
		const struct content_attachment *a = content_attachment_at(m, i);
		const unsigned f = a->pdf;
		const double w = (f & PDF_F_LAUNCH) ||
		    ((f & PDF_F_JAVASCRIPT) && (f & PDF_F_AUTO_ACTION)) ? 1.0 :
		    f & (PDF_F_JAVASCRIPT | PDF_F_EMBEDDED) ? 0.5 : 0.0;
		if (w > best)
			best = w, hit = a;
	}
	if (hit == NULL)
		return;
	const unsigned f = hit->pdf;
	const char *ph[3];
	size_t k = 0;
	if (f & PDF_F_LAUNCH)
		ph[k++] = "launches a program or file";
	if ((f & PDF_F_JAVASCRIPT) && (f & PDF_F_AUTO_ACTION))
		ph[k++] = "runs JavaScript when opened or on an event";
	else if (f & PDF_F_JAVASCRIPT)
		ph[k++] = "holds JavaScript";
	if (f & PDF_F_EMBEDDED)
		ph[k++] = "carries embedded files";
	char what[160];
	join_phrases(what, sizeof(what), ph, k);
	score_hit(h, SYM_PDF_ACTIVE_CONTENT, best, "attachment \"%.80s\" is a PDF that %s%s",
	    hit->filename, what, f & PDF_F_CUT ? " (not all of its object streams were read)" : "");
}

/* A document whose OLE objects attack on opening: an RTF's (content_rtf.h),
 * an Equation Editor object in a legacy Office file (content_office.h) or
 * in a package (content_ooxml.h). */
static void rule_ole_exploit(const struct content_msg *m, struct score_hits *h)
{
	for (size_t i = 0; i < content_attachment_count(m); i++) {
		const struct content_attachment *a = content_attachment_at(m, i);
		const unsigned f = a->rtf;
		const char *when = f & RTF_F_AUTO_UPDATE ? ", set to load when the document opens" : "";
		if ((a->office & CONTENT_OFFICE_EQUATION) || (a->ooxml & OOXML_F_EQUATION)) {
			score_hit(h, SYM_OLE_EXPLOIT_OBJECT, 1.0,
			    "attachment \"%.80s\" is an Office document with an Equation Editor object (the component of CVE-2017-11882 and CVE-2018-0802)",
			    a->filename);
			return;
		}
		if (f & RTF_F_EQUATION) {
			score_hit(h, SYM_OLE_EXPLOIT_OBJECT, 1.0,
			    "attachment \"%.80s\" is an RTF document with an Equation Editor object (the component of CVE-2017-11882 and CVE-2018-0802)%s",
			    a->filename, when);
			return;
		}
		if (f & RTF_F_LINK) {
			score_hit(h, SYM_OLE_EXPLOIT_OBJECT, 1.0,
			    "attachment \"%.80s\" is an RTF document with a link object that fetches its content when opened (as CVE-2017-0199 does)",
			    a->filename);
			return;
		}
		if ((f & RTF_F_OBJECT) && (f & RTF_F_AUTO_UPDATE)) {
			score_hit(h, SYM_OLE_EXPLOIT_OBJECT, 0.5,
			    "attachment \"%.80s\" is an RTF document with an object set to load when the document opens",
			    a->filename);
			return;
		}
	}
}

/* An Office Open XML document that loads from the web (content_ooxml.h). */
static void rule_office_remote(const struct content_msg *m, struct score_hits *h)
{
	for (size_t i = 0; i < content_attachment_count(m); i++) {
		const struct content_attachment *a = content_attachment_at(m, i);
		const unsigned f = a->ooxml;
		const char *what = f & OOXML_F_OBJECT ? "an OLE object (as CVE-2021-40444 and CVE-2022-30190 do)" :
		    f & OOXML_F_FRAME ? "a frame or sub-document" :
		    f & OOXML_F_TEMPLATE ? "its template (template injection)" : NULL;
		if (what == NULL)
			continue;
		score_hit(h, SYM_OFFICE_REMOTE_CONTENT, f & (OOXML_F_OBJECT | OOXML_F_FRAME) ? 1.0 : 0.75,
		    "attachment \"%.80s\" is an Office document that loads %s from %.100s when opened",
		    a->filename, what, a->ooxml_target ? a->ooxml_target : "the web");
		return;
	}
}

/* An archive whose inside cannot be checked (plan M21). */
static void rule_unscannable(const struct content_msg *m, struct score_hits *h)
{
	for (size_t i = 0; i < content_attachment_count(m); i++) {
		const struct content_attachment *a = content_attachment_at(m, i);
		if (a->archive_hidden) {
			score_hit(h, SYM_ARCHIVE_UNSCANNABLE, 1.0,
			    "attachment \"%.80s\" is a password-protected archive whose list of members is encrypted too: nothing inside can be checked",
			    a->filename);
			return;
		}
		if (a->archive_encrypted > 0) {
			score_hit(h, SYM_ARCHIVE_UNSCANNABLE, 1.0,
			    "attachment \"%.80s\" is a password-protected archive (%u of %u members encrypted): its content cannot be checked",
			    a->filename, a->archive_encrypted, a->archive_members);
			return;
		}
		if (a->archive_disguised) {
			score_hit(h, SYM_ARCHIVE_UNSCANNABLE, 1.0,
			    "attachment \"%.80s\" is a ZIP that tools unpack differently (another archive glued in front of it, or members whose headers name other files): what the recipient's tool shows cannot be known",
			    a->filename);
			return;
		}
		if (a->archive_nested_cut) {
			score_hit(h, SYM_ARCHIVE_UNSCANNABLE, 1.0,
			    "attachment \"%.80s\" holds an archive nested too deep or unpacking to more than the limits (%u levels, %u MiB): what is inside cannot all be checked",
			    a->filename, ARCHIVE_MAX_DEPTH, ARCHIVE_MAX_INNER >> 20);
			return;
		}
		if (a->office & CONTENT_OFFICE_ENCRYPTED) {
			score_hit(h, SYM_ARCHIVE_UNSCANNABLE, 1.0,
			    "attachment \"%.80s\" is an Office document encrypted with a password: its content and macros cannot be checked",
			    a->filename);
			return;
		}
		if (a->archive_names_cut && a->archive_members == 0) {
			score_hit(h, SYM_ARCHIVE_UNSCANNABLE, 1.0,
			    "attachment \"%.80s\" is an archive whose list of members could not be read (too large, or packed in a way not decoded here)",
			    a->filename);
			return;
		}
		if (a->archive_names_cut) {
			score_hit(h, SYM_ARCHIVE_UNSCANNABLE, 1.0,
			    "attachment \"%.80s\" is an archive of %u members, more than can be listed (%zu checked)",
			    a->filename, a->archive_members, a->n_archive_names);
			return;
		}
	}
}

/* The domain of the first addr-spec-looking word in s ("x@a.b" -> "a.b"),
 * lower-cased into out; 0 when there is none. */
static int first_domain(const char *s, const char *end, char *out, size_t n)
{
	const char *at = memchr(s, '@', (size_t)(end - s));
	size_t k = 0;

	if (at == NULL)
		return 0;
	for (const char *p = at + 1; p < end && k + 1 < n; p++) {
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
			break;
		out[k++] = (char)tolower((unsigned char)*p);
	}
	while (k > 0 && out[k - 1] == '.')
		k--;
	out[k] = '\0';
	return k > 0 && strchr(out, '.') != NULL;
}

/* a equals b, or one is a subdomain of the other. */
static int same_org(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la < lb) {
		const char *t = a;
		a = b;
		b = t;
		size_t tl = la;
		la = lb;
		lb = tl;
	}
	return strcmp(a + la - lb, b) == 0 && (la == lb || a[la - lb - 1] == '.');
}

static void rule_from_spoof(const struct content_msg *m, struct score_hits *h)
{
	const char *from = content_from(m), *addr = content_from_addr(m);
	const char *lt = strrchr(from, '<');
	const char *at = strrchr(addr, '@');
	char shown[256];

	if (lt == NULL || at == NULL)
		return;
	if (!first_domain(from, lt, shown, sizeof(shown)))
		return;
	if (!same_org(shown, at + 1))
		score_hit(h, SYM_FROM_DISPLAY_NAME_SPOOF, 1.0, "From display name shows %.64s, address is at %.64s",
		    shown, at + 1);
}

static void rule_bulk(const struct content_msg *m, struct score_hits *h)
{
	const char *lu = content_header(m, "List-Unsubscribe", 0);
	const char *li = content_header(m, "List-Id", 0);
	const char *pr = content_header(m, "Precedence", 0);
	const char *lp = content_header(m, "List-Post", 0);

	/* "List-Post: NO" (RFC 2369) is an announce-only list: a newsletter. */
	const char *to = lp != NULL ? strcasestr(lp, "mailto:") : NULL;
	if (to != NULL) {
		char addr[128];
		size_t k = 0;
		for (to += 7; *to && *to != '>' && *to != '?' && !isspace((unsigned char)*to) &&
		    k + 1 < sizeof(addr); to++)
			addr[k++] = *to;
		addr[k] = '\0';
		if (k > 0) {
			if (li != NULL)
				score_hit(h, SYM_LIST_DISCUSSION, 1.0, "discussion list %.100s: members post to %s", li, addr);
			else
				score_hit(h, SYM_LIST_DISCUSSION, 1.0, "discussion list: members post to %s", addr);
			return;
		}
	}
	if (lu != NULL)
		score_hit(h, SYM_BULK_LIST_UNSUBSCRIBE, 1.0, "List-Unsubscribe header");
	else if (li != NULL)
		score_hit(h, SYM_BULK_LIST_UNSUBSCRIBE, 1.0, "List-Id header: %.100s", li);
	if (pr != NULL) {
		while (*pr == ' ' || *pr == '\t')
			pr++;
		static const char *const kinds[] = { "bulk", "list", "junk" };
		for (size_t i = 0; i < MW_ARRAY_LEN(kinds); i++) {
			if (strncasecmp(pr, kinds[i], strlen(kinds[i])) == 0) {
				score_hit(h, SYM_BULK_PRECEDENCE, 1.0, "Precedence: %s", kinds[i]);
				break;
			}
		}
	}
}

void score_rules_run(const struct content_msg *m, const char *raw, size_t len, struct score_hits *h)
{
	rule_gtube(m, raw, len, h);
	rule_flags(m, h);
	rule_date_received(m, h);
	rule_html(m, h);
	rule_urls(m, h);
	rule_subject(m, h);
	rule_attachments(m, h);
	rule_unscannable(m, h);
	rule_office_macro(m, h);
	rule_html_attachment(m, h);
	rule_pdf(m, h);
	rule_ole_exploit(m, h);
	rule_office_remote(m, h);
	rule_from_spoof(m, h);
	score_rule_ratware(m, raw, len, h);
	rule_bulk(m, h);
}

