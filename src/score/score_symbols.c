/*
 * score_symbols.c - the symbol registry (R8): every symbol's name, group,
 * weight and what it means, in one table (docs/scoring.md lists the same
 * rows), and how a rule records a hit with its reason.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "score/score_int.h"

const struct score_sym_def score_sym_table[SYM_COUNT] = {
	[SYM_GTUBE] = { "GTUBE", "test", 1000.0,
		"the GTUBE test string is in the message: forces probable spam" },
	[SYM_MIME_LIMIT_EXCEEDED] = { "MIME_LIMIT_EXCEEDED", "mime", 10.0,
		"a parsing limit cut the analysis (depth, parts, sizes, URLs): part of the message was not examined; never clean" },
	[SYM_MISSING_DATE] = { "MISSING_DATE", "header", 1.0, "no Date header" },
	[SYM_MISSING_MESSAGE_ID] = { "MISSING_MESSAGE_ID", "header", 0.5, "no Message-ID header" },
	[SYM_MISSING_FROM] = { "MISSING_FROM", "header", 1.0, "no From header" },
	[SYM_DATE_AFTER_RECEIVED] = { "DATE_AFTER_RECEIVED", "header", 1.5,
		"Date is more than 24 hours after the top Received header's date (forged future date)" },
	/* 0.3: on the training split it fires on 93 spam and 49 ham (old
	 * mail resent, digests) - weak evidence. */
	[SYM_DATE_BEFORE_RECEIVED] = { "DATE_BEFORE_RECEIVED", "header", 0.3,
		"Date is more than 4 days before the top Received header's date (stale or forged date)" },
	[SYM_HTML_ONLY] = { "HTML_ONLY", "html", 0.7, "HTML text without a text/plain alternative" },
	[SYM_HTML_HIDDEN_TEXT] = { "HTML_HIDDEN_TEXT", "html", 1.5,
		"HTML text hidden by CSS, colour or a tiny font (Bayes poisoning, filter evasion)" },
	[SYM_HTML_IMAGE_ONLY] = { "HTML_IMAGE_ONLY", "html", 1.5,
		"HTML made of images with (almost) no visible text" },
	/* 0.5: newsletters link their text to click-tracking hosts, so on the
	 * training split it fires on as many ham as spam (14 each). */
	[SYM_HTML_LINK_MISMATCH] = { "HTML_LINK_MISMATCH", "url", 0.5,
		"a link's visible text is a URL of another registered domain than its href (phishing)" },
	[SYM_URL_IP_LITERAL] = { "URL_IP_LITERAL", "url", 1.5, "a URL whose host is an IP address" },
	/* 0.2: in the training split only ham (4) used a shortener. */
	[SYM_URL_SHORTENER] = { "URL_SHORTENER", "url", 0.2,
		"a URL on a link shortener (bit.ly, tinyurl.com, ...): the destination is hidden" },
	/* 3: the oldest disguise of a link's destination; in the training
	 * split 2 spam, no ham. */
	[SYM_URL_USERINFO_HOST] = { "URL_USERINFO_HOST", "url", 3.0,
		"a URL whose user name before '@' reads like a host (http://www.bank.example@evil.example/): the browser goes to the host after the '@'" },
	[SYM_SUBJECT_ALL_CAPS] = { "SUBJECT_ALL_CAPS", "header", 1.5,
		"Subject has at least 10 letters, 90% or more of them capitals" },
	[SYM_SUBJECT_PUNCT] = { "SUBJECT_PUNCT", "header", 1.0, "Subject contains !!!, ??? or $$$" },
	[SYM_UNKNOWN_CHARSET] = { "UNKNOWN_CHARSET", "mime", 0.5,
		"a text part declares a charset we cannot convert" },
	[SYM_BAD_CHARSET_DATA] = { "BAD_CHARSET_DATA", "mime", 0.3,
		"byte sequences invalid in their declared charset" },
	[SYM_BAD_BASE64] = { "BAD_BASE64", "mime", 1.0,
		"base64 body with bytes outside the alphabet or bad padding (filter evasion)" },
	[SYM_BAD_QP] = { "BAD_QP", "mime", 0.3, "quoted-printable body with invalid =XX escapes" },
	[SYM_BAD_ENCODED_WORD] = { "BAD_ENCODED_WORD", "mime", 0.5, "invalid RFC 2047 encoded word in a header" },
	/* 10, and never clean: what we scanned may not be what the
	 * recipient's client shows (M7).  No message of the corpus has it. */
	[SYM_MIME_AMBIGUOUS] = { "MIME_AMBIGUOUS", "mime", 10.0,
		"an entity with two Content-Type or Content-Transfer-Encoding headers: a mail client may show another structure or decoding than the one scanned; never clean" },
	/* 0.5: 41 spam, 1 ham of the training split, and Bayes already has
	 * those spam (cross-validation: no gain at 0.5-3 points). */
	[SYM_MIME_BAD_BOUNDARY] = { "MIME_BAD_BOUNDARY", "mime", 0.5,
		"a multipart whose boundary is missing, never found, or never closed: its parts were read as best we could" },
	[SYM_DUPLICATE_HEADER] = { "DUPLICATE_HEADER", "header", 2.0,
		"two Subject, From, Date or Message-ID headers: clients show one, filters may read the other" },
	[SYM_MALFORMED_HEADER] = { "MALFORMED_HEADER", "header", 1.0,
		"a header line without a colon or with a bad name, or a header block that starts with a continuation line" },
	/* 1.0: 27 spam, 4 ham of the training split (cross-validation: +0.1
	 * points at 1 ham, none at 3). */
	[SYM_HEADER_8BIT] = { "HEADER_8BIT", "header", 1.0,
		"raw 8-bit bytes in the headers instead of RFC 2047 encoded words" },
	[SYM_NUL_BYTES] = { "NUL_BYTES", "mime", 1.0, "NUL bytes in the message (no mail client writes them)" },
	[SYM_EXE_ATTACHMENT] = { "EXE_ATTACHMENT", "attachment", 8.0,
		"an executable attachment: Windows/ELF binary by content, a script by content under a non-source name, or an executable name (.exe, .scr, .js, .vbs, .bat, .cmd, .jar, double extensions like .pdf.exe), also as a member of a ZIP, RAR, 7z, tar or gzip attachment" },
	/* 4, and never clean (at least possible spam): malware hides in
	 * password-protected archives with the password in the text, and
	 * nothing inside can be checked (plan M21).  No corpus message has
	 * one. */
	[SYM_ARCHIVE_UNSCANNABLE] = { "ARCHIVE_UNSCANNABLE", "attachment", 4.0,
		"an archive attachment (ZIP, RAR, 7z) with password-protected members or an encrypted member list, or a member list that cannot be read whole, or an Office document encrypted with a password: what is inside cannot be checked; never clean (at least possible spam)" },
	/* 4: Office malware runs as macros (Office itself blocks them in mail
	 * from outside since 2022); alone it does not tag, as finance and
	 * engineering still mail macro workbooks.  No corpus message has one. */
	[SYM_OFFICE_MACRO] = { "OFFICE_MACRO", "attachment", 4.0,
		"an Office document with macros: a VBA project in a .doc/.xls/.ppt (OLE) file or an Excel 4.0 macro sheet in a legacy workbook, or a VBA project, Excel 4.0 macro sheet or Basic module in an Office Open XML or OpenDocument package (also inside a ZIP)" },
	/* 6: a page mailed as a file that asks for a password, decodes and
	 * runs hidden script, assembles a download or redirects is how
	 * credential phishing and HTML smuggling arrive; a receipt or report
	 * sent as HTML does none of it.  No corpus message has one. */
	[SYM_HTML_ATTACHMENT_PHISH] = { "HTML_ATTACHMENT_PHISH", "attachment", 6.0,
		"an HTML or SVG attachment that, opened in a browser, asks for a password, decodes and runs hidden script, assembles a file to download (HTML smuggling) or sends the browser to a website" },
	/* 3 for a PDF that launches a program or runs JavaScript when opened,
	 * half for JavaScript on other events (forms that compute fields do)
	 * or embedded files: PDF malware acts through these, and alone none
	 * tags.  No corpus message has one. */
	[SYM_PDF_ACTIVE_CONTENT] = { "PDF_ACTIVE_CONTENT", "attachment", 3.0,
		"a PDF attachment that launches a program (/Launch) or runs JavaScript when opened (/OpenAction or /AA with /JavaScript) - half for JavaScript alone or embedded files; names hidden with #xx escapes or in compressed object streams are found too" },
	/* 8, as an executable: an RTF or Office document with an Equation
	 * Editor object, or an RTF with a link object, is an exploit carrier -
	 * that component was removed from Office in 2018 for CVE-2017-11882
	 * and CVE-2018-0802, and an auto-fetched link is CVE-2017-0199; half
	 * for another RTF object set to load without a click (\objupdate).
	 * Embedded charts, pictures and MathType equations are quiet.  No
	 * corpus message has one. */
	[SYM_OLE_EXPLOIT_OBJECT] = { "OLE_EXPLOIT_OBJECT", "attachment", 8.0,
		"an RTF attachment (under any name) or an Office document (.doc, .xls, .docx, .xlsx ...) with an Equation Editor object, or an RTF with a link object that fetches its content when opened - half for another RTF object set to load when the document opens (\\objupdate)" },
	/* 8 for a document that loads an OLE object, a frame or a
	 * sub-document from the web when opened - how CVE-2021-40444 and
	 * CVE-2022-30190 run code without a macro, so it weighs as an
	 * executable; 6 for a template (template injection brings macros into
	 * a file that has none, and those still have to be enabled).
	 * Corporate templates live on disks and file shares, which do not
	 * count.  No corpus message has one. */
	[SYM_OFFICE_REMOTE_CONTENT] = { "OFFICE_REMOTE_CONTENT", "attachment", 8.0,
		"an Office Open XML document (.docx, .xlsx, .pptx ...) whose relationships load an OLE object, a frame or a sub-document from an http(s), ftp or mhtml address when it is opened - 6 points for a template (template injection)" },
	/* 1.0: 4 spam, 2 ham on the training split (mail sent "on behalf of"). */
	[SYM_FROM_DISPLAY_NAME_SPOOF] = { "FROM_DISPLAY_NAME_SPOOF", "header", 1.0,
		"the From display name contains an address of another domain than the real From address" },
	/* 3.0: header shapes no mail client writes (docs/scoring.md "Rules,
	 * fourth round"): on the training split 500+ spam, 1 ham. */
	[SYM_RATWARE_HEADERS] = { "RATWARE_HEADERS", "header", 3.0,
		"headers no mail client writes: Date without zone, with a two-digit year or the wrong weekday; multipart without MIME-Version; Message-ID without @; Subject padded with spaces before a tag; a freemail HELO from outside the provider; a malformed X-Mailer" },
	/* Bulk markers weigh nothing: they say "list mail", not "spam" (75% of
	 * the corpus's ham carries them, 17% of its spam); their job is the
	 * bulk class. */
	[SYM_BULK_LIST_UNSUBSCRIBE] = { "BULK_LIST_UNSUBSCRIBE", "bulk", 0.0,
		"List-Unsubscribe or List-Id header: list or bulk mail (defines the bulk class)" },
	[SYM_BULK_PRECEDENCE] = { "BULK_PRECEDENCE", "bulk", 0.0,
		"Precedence: bulk, list or junk (defines the bulk class)" },
	/* A list whose members post (RFC 2369 List-Post with a mailto:) is
	 * people talking, not a newsletter: it keeps mail out of the bulk
	 * class, so a tenant's bulk action never holds its discussion lists. */
	[SYM_LIST_DISCUSSION] = { "LIST_DISCUSSION", "list", 0.0,
		"List-Post with a mailto: address: a discussion list, not bulk mail" },
	[SYM_BAYES_SPAM] = { "BAYES_SPAM", "bayes", 12.0,
		"geometric-mean indicator g over every Bayes clue > 0.5: 30 (g - 0.5) points, the full 12 from g = 0.9" },
	[SYM_BAYES_HAM] = { "BAYES_HAM", "bayes", -4.0,
		"g < 0.5: 30 (g - 0.5) points, the full -4 from g = 0.367" },
	[SYM_BAYES_UNSURE] = { "BAYES_UNSURE", "bayes", 0.0,
		"g = 0.5 (no clue): no opinion" },
	/* The same clues as BAYES_SPAM/HAM, only the 35 strongest combined:
	 * Robinson's geometric mean over every clue drifts with hundreds of
	 * weak clues (a newsletter), the 35 strongest still lean the way the
	 * message does; docs/scoring.md "Bayes mapping", docs/bayes.md
	 * "Tuning, third round". */
	[SYM_BAYES_TOP_CLUES] = { "BAYES_TOP_CLUES", "bayes", 8.0,
		"the 35 strongest Bayes clues' geometric-mean indicator g35: 100 (g35 - 0.5) points, from -8 to +8" },
	[SYM_BAYES_UNAVAILABLE] = { "BAYES_UNAVAILABLE", "bayes", 0.0,
		"no Bayes opinion: too little training, a storage error, or no store" },
};

void score_hit(struct score_hits *h, enum score_sym_id id, double scale, const char *fmt, ...)
{
	const struct score_sym_def *d = &score_sym_table[id];
	va_list ap;

	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 16;
		h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
	}
	struct score_symbol *s = &h->v[h->n++];
	memset(s, 0, sizeof(*s));
	mw_strlcpy(s->name, d->name, sizeof(s->name));
	mw_strlcpy(s->group, d->group, sizeof(s->group));
	s->score = d->weight * scale;
	va_start(ap, fmt);
	/* A long reason is cut: it is a one-line explanation, not a record. */
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
}

void score_hits_free(struct score_hits *h)
{
	free(h->v);
	memset(h, 0, sizeof(*h));
}
