/*
 * content_ooxml.h - what an Office Open XML document (.docx, .xlsx, .pptx
 * and their macro and template variants) fetches from the web when it is
 * opened.  Its relationship parts (the ".rels" members in "_rels" folders, ECMA-376
 * Part 2 9.3) name every other part it uses; one whose TargetMode is
 * External points outside the file.  A hyperlink does that harmlessly; a
 * template (attachedTemplate: "template injection", which brings macros
 * into a document that has none), an OLE object (oleObject: how
 * CVE-2021-40444 and CVE-2022-30190 "Follina" start), a frame or a
 * sub-document loaded from an http(s), ftp or mhtml address is an attack
 * on whoever opens it.  A template on the local disk or a file share
 * (corporate templates) is not counted.  An embedded OLE object
 * ("embeddings/oleObject1.bin", a compound file) whose class is the
 * Equation Editor is noted too: the RTF exploits of CVE-2017-11882 are
 * also mailed inside .docx and .xlsx files.  The parts are inflated from
 * the ZIP within the caller's byte budget; nothing is fetched.
 */
#ifndef MW_CONTENT_CONTENT_OOXML_H
#define MW_CONTENT_CONTENT_OOXML_H

#include <stddef.h>

#define OOXML_F_TEMPLATE 0x01u   /* a template from the web */
#define OOXML_F_OBJECT 0x02u     /* an OLE object from the web */
#define OOXML_F_FRAME 0x04u      /* a frame or sub-document from the web */
#define OOXML_F_CUT 0x08u        /* parts past the limits, unread */
#define OOXML_F_EQUATION 0x10u   /* an embedded Equation Editor 3.0 object */

#define OOXML_MAX_PARTS 256            /* relationship parts read */
#define OOXML_MAX_PART (1u << 20)      /* bytes of each */

struct content_ooxml {
	unsigned flags;          /* OOXML_F_* */
	char target[160];        /* the first such address, cut, "" if none */
};

/* 1 when a ZIP member's name says the ZIP is an Office Open XML package. */
int content_ooxml_marker(const char *member);

/* The external relationships of p, a ZIP, into *out; *budget (bytes to
 * inflate) is lowered by what was read. */
void content_ooxml_scan(const unsigned char *p, size_t n, size_t *budget, struct content_ooxml *out);

#endif
