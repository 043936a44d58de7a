/*
 * content_office.h - whether an Office document carries macros: VBA in a
 * legacy OLE file (.doc, .xls, .ppt: the compound file's directory names
 * a "VBA" or "Macros" storage or a "_VBA_PROJECT" stream) or in an Office
 * Open XML / OpenDocument package, whose member list says it
 * (word/vbaProject.bin, xl/macrosheets/, Basic/).  Macros are how most
 * Office malware runs; Office blocks them in mail from outside since 2022.
 * Nothing is decompressed or executed; work is linear in n.
 */
#ifndef MW_CONTENT_CONTENT_OFFICE_H
#define MW_CONTENT_CONTENT_OFFICE_H

#include <stddef.h>

/* 1 when p, an OLE compound file, has a directory entry for VBA code. */
int content_ole_has_macros(const unsigned char *p, size_t n);

/* 1 when a ZIP member's name is a package part that holds macros. */
int content_package_macro_part(const char *member);

#endif
