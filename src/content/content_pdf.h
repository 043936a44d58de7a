/*
 * content_pdf.h - what a PDF attachment would do when opened: run
 * JavaScript (on opening, or on some other event), launch a program, or
 * carry files of its own.  The names a PDF's dictionaries use for them
 * (/JavaScript, /JS, /OpenAction, /AA, /Launch, /EmbeddedFile) are looked
 * for, with "#xx" escapes undone, in the file and in its compressed object
 * streams (inflated with zlib within *budget bytes), where PDF malware
 * hides them.  Nothing is rendered or run.  Work is linear in n plus the
 * bytes inflated.
 */
#ifndef MW_CONTENT_CONTENT_PDF_H
#define MW_CONTENT_CONTENT_PDF_H

#include <stddef.h>

#define PDF_F_JAVASCRIPT 0x01u   /* /JavaScript or /JS */
#define PDF_F_AUTO_ACTION 0x02u  /* /OpenAction or /AA: something runs on an event */
#define PDF_F_LAUNCH 0x04u       /* /Launch: start a program or open a file */
#define PDF_F_EMBEDDED 0x08u     /* /EmbeddedFile(s): files inside */
#define PDF_F_ENCRYPTED 0x10u    /* /Encrypt: strings and streams encrypted */
#define PDF_F_CUT 0x20u          /* object streams past the budget, unread */

/* The PDF_F_* seen in p; *budget (bytes to inflate) is lowered. */
unsigned content_pdf_scan(const unsigned char *p, size_t n, size_t *budget);

#endif
