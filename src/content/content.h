/*
 * content.h - content analysis: one message's bytes in, a read-only view out
 * (R7): decoded headers, text parts as UTF-8 (HTML converted to text), HTML
 * features, URLs with registered domains, attachments (name, declared and
 * detected type, size, SHA-256), the signature block, and anomaly flags.
 *
 * Contract:
 *  - content_parse() never fails on bad input.  Malformed, hostile or
 *    truncated messages give a best-effort view plus CONTENT_F_* flags; every
 *    limit in struct content_limits bounds work and memory, and hitting one
 *    sets its flag (the scorer turns LIMIT_* flags into a "limit exceeded"
 *    verdict: quarantine, never "clean").  It returns NULL only when memory
 *    runs out (and x*alloc aborts first, so in practice never).
 *  - The input is borrowed for the duration of the call only; the result
 *    owns copies of everything it exposes.  content_free() releases it.
 *  - Every pointer an accessor returns is owned by the message and valid
 *    until content_free().  Strings are NUL-terminated valid UTF-8 (invalid
 *    input sequences are replaced by U+FFFD); text lengths exclude the NUL.
 *  - Thread-safe: messages share no mutable state; the MIME library is
 *    initialised once per process on first use.
 *  - No MIME-library type appears here (STYLE 7): callers see our structs.
 */
#ifndef MW_CONTENT_CONTENT_H
#define MW_CONTENT_CONTENT_H

#include <stddef.h>
#include <stdint.h>

struct content_limits {
	size_t max_depth;         /* multipart / message/rfc822 nesting (64) */
	size_t max_parts;         /* MIME entities visited (10 000) */
	size_t max_header_bytes;  /* top-level header block, raw (1 MiB) */
	size_t max_decoded_bytes; /* all decoded bodies together (32 MiB) */
	size_t max_text_bytes;    /* UTF-8 text kept per text part (2 MiB) */
	size_t max_urls;          /* distinct URLs kept (2 000) */
};

struct content_limits content_limits_default(void);

/* Anomaly flags (content_flags()).  LIMIT_* mean part of the message was not
 * analysed; the others describe the input. */
enum {
	CONTENT_F_LIMIT_DEPTH = 1u << 0,         /* nesting beyond max_depth */
	CONTENT_F_LIMIT_PARTS = 1u << 1,         /* more than max_parts entities */
	CONTENT_F_LIMIT_HEADERS = 1u << 2,       /* header block > max_header_bytes */
	CONTENT_F_LIMIT_DECODED = 1u << 3,       /* decoded bodies > max_decoded_bytes */
	CONTENT_F_LIMIT_TEXT = 1u << 4,          /* a text part cut at max_text_bytes */
	CONTENT_F_LIMIT_URLS = 1u << 5,          /* more than max_urls distinct URLs */
	CONTENT_F_BAD_BOUNDARY = 1u << 6,        /* multipart without boundary/close/children */
	CONTENT_F_BAD_BASE64 = 1u << 7,          /* non-alphabet bytes, bad padding */
	CONTENT_F_BAD_QP = 1u << 8,              /* invalid =XX escapes */
	CONTENT_F_UNKNOWN_CHARSET = 1u << 9,     /* charset we cannot convert */
	CONTENT_F_BAD_CHARSET_DATA = 1u << 10,   /* sequences invalid in their charset */
	CONTENT_F_MALFORMED_HEADER = 1u << 11,   /* line without colon, bad name, continuation first */
	CONTENT_F_NUL_BYTES = 1u << 12,          /* NUL anywhere in the message */
	CONTENT_F_HTML_ONLY = 1u << 13,          /* HTML text but no text/plain */
	CONTENT_F_MISSING_DATE = 1u << 14,
	CONTENT_F_MISSING_MESSAGE_ID = 1u << 15,
	CONTENT_F_MISSING_FROM = 1u << 16,
	CONTENT_F_BAD_ENCODED_WORD = 1u << 17,   /* invalid RFC 2047 in a header */
	CONTENT_F_CONFLICTING_HEADER = 1u << 18, /* two of a unique top-level header (Content-Type,
						  * Content-Transfer-Encoding, Subject, From, Date, Message-ID) */
	CONTENT_F_TRUNCATED = 1u << 19,          /* message ends inside a part */
	CONTENT_F_8BIT_HEADER = 1u << 20,        /* raw 8-bit bytes in headers */
	CONTENT_F_NO_TEXT = 1u << 21,            /* no text part at all */
	CONTENT_F_AMBIGUOUS_STRUCTURE = 1u << 22, /* an entity with two Content-Type or
						   * Content-Transfer-Encoding headers (M7) */
	CONTENT_F_ARCHIVE_UNSCANNABLE = 1u << 23, /* an archive with encrypted members or
						   * more than its listing keeps, or an
						   * encrypted Office document */
};
/* Name of a single flag bit ("LIMIT_DEPTH"), or NULL for an unknown bit. */
const char *content_flag_name(unsigned bit);

enum content_text_type { CONTENT_TEXT_PLAIN, CONTENT_TEXT_HTML };

struct content_header {
	const char *name;  /* as written */
	const char *value; /* unfolded, RFC 2047 decoded, UTF-8 */
};

struct content_text {
	enum content_text_type type;
	const char *text;    /* UTF-8; for HTML the converted text */
	size_t len;
	const char *charset; /* as declared ("" when none) */
	int truncated;       /* cut at max_text_bytes or the decoded budget */
};

struct content_html_features {
	unsigned parts;          /* text/html parts seen */
	unsigned hidden_text;    /* elements with visible-looking text hidden by CSS/colour */
	unsigned tiny_text;      /* of those, hidden by font-size 0/1px */
	unsigned links;          /* <a href> */
	unsigned link_mismatch;  /* link text is a URL of another registered domain */
	/* The first such link: the registered domain its text shows and the
	 * one its href goes to ("" when link_mismatch is 0). */
	char mismatch_shown[128];
	char mismatch_href[128];
	unsigned images;         /* <img> */
	unsigned forms;          /* <form> */
	size_t text_chars;       /* visible non-space characters */
	int image_only;          /* images and (almost) no visible text */
};

struct content_url {
	const char *url;        /* as found, cut at max 2 KiB */
	const char *scheme;     /* lower case; "http" for bare www. */
	const char *host;       /* lower case, no userinfo/port/trailing dot */
	const char *reg_domain; /* registered domain via the PSL; host when none */
	int is_ip;              /* IPv4/IPv6 literal or numeric host */
	int userinfo_host;      /* a user name that reads like a host before '@':
	                           "http://www.bank.example@evil.example/" */
	int in_href;            /* seen in an HTML href/src attribute */
	unsigned count;         /* occurrences */
};

enum content_ftype {
	CONTENT_FT_UNKNOWN,
	CONTENT_FT_EXE,    /* MZ */
	CONTENT_FT_ELF,
	CONTENT_FT_ZIP,
	CONTENT_FT_RAR,
	CONTENT_FT_7Z,
	CONTENT_FT_GZIP,
	CONTENT_FT_PDF,
	CONTENT_FT_OLE,    /* legacy Office (doc/xls/msi) */
	CONTENT_FT_SCRIPT, /* shebang, or text calling Windows script hosts or shells */
	CONTENT_FT_TEXT,
	CONTENT_FT_TAR,
	CONTENT_FT_ISO,    /* ISO 9660 disk image */
	CONTENT_FT_HTML,   /* a web page or SVG image (content_htmlfile.h) */
	CONTENT_FT_RTF,    /* an RTF document (content_rtf.h), whatever its name */
	CONTENT_FT_LNK,    /* a Windows shell link (shortcut) */
	CONTENT_FT_ONENOTE, /* a OneNote section (content_onenote.h) */
};
const char *content_ftype_name(enum content_ftype t);

struct content_attachment {
	const char *filename;      /* decoded (RFC 2231, encoded words); "" when none */
	const char *declared_type; /* "type/subtype", lower case */
	enum content_ftype detected;
	size_t size;               /* decoded bytes seen */
	char sha256[65];           /* hex of those bytes */
	int truncated;             /* decoded budget ran out inside it */
	/* An archive by content (ZIP - also .docx, .jar -, RAR, 7z, tar, gzip):
	 * what its directory lists, with the members of the archives inside a
	 * ZIP or gzip ("inner.zip/name"), unpacked within the per-message
	 * limits (content_archive.h).  Zero / NULL for anything else. */
	unsigned archive_members;      /* entries listed */
	unsigned archive_encrypted;    /* of those, password-protected (1 when hidden) */
	int archive_hidden;            /* the list itself is encrypted: no names */
	int archive_nested_cut;        /* an archive inside past the limits, unopened */
	int archive_damaged;           /* no readable directory, or longer than was kept */
	int archive_disguised;         /* a ZIP that tools would unpack differently
	                                  (content_archive.h "disguised") */
	int archive_names_cut;         /* more members than names kept, or a 7z
	                                  directory too big to decode */
	const char *const *archive_names; /* UTF-8, the first n_archive_names members */
	size_t n_archive_names;
	/* An Office document: its macros (a VBA project or an Excel 4.0 macro
	 * sheet in an OLE file, a macro part among a ZIP's members) and whether
	 * it is encrypted - CONTENT_OFFICE_* of content_office.h; 0 otherwise. */
	unsigned office;
	/* A web page or SVG image: what it does when opened in a browser
	 * (HTMLFILE_* of content_htmlfile.h); 0 for anything else. */
	unsigned html_file;
	/* A PDF: its active content (PDF_F_* of content_pdf.h); 0 otherwise. */
	unsigned pdf;
	/* An RTF document: its OLE objects (RTF_F_* of content_rtf.h), and
	 * the name of the file a Packager object in it carries (or NULL). */
	unsigned rtf;
	const char *embedded_name;
	/* An Office Open XML package: what it loads from the web when opened
	 * (OOXML_F_* of content_ooxml.h) and the first such address, or NULL. */
	unsigned ooxml;
	const char *ooxml_target;
	/* An Internet shortcut (a text attachment named .url): the URL= it
	 * opens, or NULL. */
	const char *shortcut_url;
	/* A OneNote section: the most dangerous type among its embedded files
	 * (content_onenote.h), CONTENT_FT_UNKNOWN for none. */
	enum content_ftype embedded_type;
};

enum content_sig_method {
	CONTENT_SIG_NONE,
	CONTENT_SIG_DELIMITER, /* after a "-- " line (RFC 3676) */
	CONTENT_SIG_HEURISTIC, /* trailing short block that looks like a signature */
	CONTENT_SIG_REPEATED,  /* the last paragraph, seen ending the sender's other mail */
};

struct content_msg;

struct content_msg *content_parse(const char *data, size_t len, const struct content_limits *lim);
void content_free(struct content_msg *m);
/* The registered domain of host via the Public Suffix List (lower-cased,
 * trailing dot dropped; the host itself for an IP or an unlisted suffix). */
void content_reg_domain(const char *host, char *out, size_t outsz);

unsigned content_flags(const struct content_msg *m);

size_t content_header_count(const struct content_msg *m);
const struct content_header *content_header_at(const struct content_msg *m, size_t i);
/* Value of the index-th header called name (case-insensitive), or NULL. */
const char *content_header(const struct content_msg *m, const char *name, size_t index);

/* Convenience fields from the top-level headers; "" when absent. */
const char *content_from(const struct content_msg *m);      /* decoded header value */
const char *content_from_addr(const struct content_msg *m); /* first mailbox, lower-case domain */
const char *content_subject(const struct content_msg *m);
const char *content_message_id(const struct content_msg *m); /* without <> */
/* Date header as seconds since the epoch; 0 and -1 when absent/unparsable. */
int content_date(const struct content_msg *m, int64_t *out);

size_t content_text_count(const struct content_msg *m);
const struct content_text *content_text_at(const struct content_msg *m, size_t i);
const struct content_html_features *content_html(const struct content_msg *m);

size_t content_url_count(const struct content_msg *m);
const struct content_url *content_url_at(const struct content_msg *m, size_t i);

size_t content_attachment_count(const struct content_msg *m);
const struct content_attachment *content_attachment_at(const struct content_msg *m, size_t i);

/* The signature block of the first text part, or NULL; *method (may be
 * NULL) says how it was found. */
const char *content_signature(const struct content_msg *m, enum content_sig_method *method);

/*
 * R7's second form, "the last short block of a text part that repeats
 * across a sender's messages", takes the sender's history, which the
 * parser does not have.  content_last_block() is the candidate: when no
 * signature block was found, the last paragraph of the same text part (at
 * most 15 lines and 1 KiB, never the whole text, not quoted), else NULL.
 * content_signature_adopt() makes it the signature block
 * (CONTENT_SIG_REPEATED) once the caller has seen it repeat: 0, or -1 when
 * there is a signature block already or no candidate.
 */
const char *content_last_block(const struct content_msg *m);
int content_signature_adopt(struct content_msg *m);

/* Structure counters: entities visited and the deepest nesting seen. */
size_t content_part_count(const struct content_msg *m);
size_t content_max_depth(const struct content_msg *m);

#endif
