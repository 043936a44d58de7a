/*
 * content_htmlfile.h - what a web page or SVG sent as an attachment does
 * once the recipient opens it in a browser: the credential-phishing and
 * HTML-smuggling attachments of today's campaigns are local pages that
 * ask for a password, decode and run hidden script, assemble a file to
 * download, or send the browser elsewhere.  Read-only substring checks
 * over the bytes (case-insensitive); nothing is rendered or run.  Work is
 * linear in n.
 */
#ifndef MW_CONTENT_CONTENT_HTMLFILE_H
#define MW_CONTENT_CONTENT_HTMLFILE_H

#include <stddef.h>

#define HTMLFILE_LOGIN_FORM 0x1u      /* an <input type=password> */
#define HTMLFILE_DECODE_SCRIPT 0x2u   /* atob/unescape/fromCharCode into write/eval/location */
#define HTMLFILE_SMUGGLING 0x4u       /* a Blob turned into a download */
#define HTMLFILE_REDIRECT 0x8u        /* a refresh or script sending the browser to a URL */

/* 1 when the first bytes of p are markup of a web page or SVG image. */
int content_htmlfile_is(const unsigned char *p, size_t n);

/* The HTMLFILE_* behaviours seen in p. */
unsigned content_htmlfile_scan(const unsigned char *p, size_t n);

#endif
