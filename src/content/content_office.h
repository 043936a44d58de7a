/*
 * content_office.h - whether an Office document carries macros, or is
 * encrypted so that nobody can tell: VBA in a
 * legacy OLE file (.doc, .xls, .ppt: the compound file's directory names
 * a "VBA" or "Macros" storage or a "_VBA_PROJECT" stream), Excel 4.0
 * (XLM) macro sheets in a legacy workbook's sheet list, or either in an
 * Office Open XML / OpenDocument package, whose member list says it
 * (word/vbaProject.bin, xl/macrosheets/, Basic/).  Macros are how most
 * Office malware runs; Office blocks them in mail from outside since 2022.
 * A document encrypted with a password (an encrypted workbook, an
 * encrypted Word file, an Office Open XML package inside an
 * "EncryptedPackage" stream) hides all of that, as an encrypted archive
 * does.  An embedded object of the Equation Editor (the storage's class
 * id), removed from Office in 2018 for CVE-2017-11882 and CVE-2018-0802,
 * is an exploit carrier.  Nothing is decrypted, decompressed or executed;
 * work is linear in n.
 */
#ifndef MW_CONTENT_CONTENT_OFFICE_H
#define MW_CONTENT_CONTENT_OFFICE_H

#include <stddef.h>

/* What content_ole_scan() and content_package_macro_part() find. */
enum content_office_bits {
	CONTENT_OFFICE_VBA = 1,         /* a VBA project */
	CONTENT_OFFICE_XLM = 2,         /* an Excel 4.0 macro sheet */
	CONTENT_OFFICE_XLM_HIDDEN = 4,  /* ... that the workbook hides from its tabs */
	CONTENT_OFFICE_AUTO_OPEN = 8,   /* ... and a name that runs it on opening */
	CONTENT_OFFICE_ENCRYPTED = 16,  /* encrypted with a password: not readable */
	CONTENT_OFFICE_EQUATION = 32,   /* an embedded Equation Editor 3.0 object */
};
#define CONTENT_OFFICE_MACROS (CONTENT_OFFICE_VBA | CONTENT_OFFICE_XLM)

/* The CONTENT_OFFICE_* bits of p, an OLE compound file; 0 for none. */
unsigned content_ole_scan(const unsigned char *p, size_t n);

/* The CONTENT_OFFICE_* bit of a ZIP member's name when it is a package
 * part that holds macros, else 0. */
unsigned content_package_macro_part(const char *member);

#endif
