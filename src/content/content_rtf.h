/*
 * content_rtf.h - the OLE objects an RTF document carries.  RTF is how the
 * Equation Editor exploits (CVE-2017-11882, CVE-2018-0802) and the
 * OLE2Link one (CVE-2017-0199) are still mailed: Word opens an RTF under
 * any name (.doc too) and loads its objects, some without a click
 * (\objupdate).  Each object's class name (\objclass, and the OLE1
 * header of its \objdata) and, when its data holds a compound file, that
 * file's class id and streams say what it is; a Packager object's label
 * names the file it carries.  Hex data is read the way Word reads it:
 * whitespace, control words and ignorable groups inside it are skipped,
 * \binN data taken raw.  Nothing is run.  Work is linear in n; at most
 * RTF_MAX_OBJECTS objects of RTF_MAX_OBJECT decoded bytes each are
 * looked at.
 */
#ifndef MW_CONTENT_CONTENT_RTF_H
#define MW_CONTENT_CONTENT_RTF_H

#include <stddef.h>

#define RTF_F_OBJECT 0x01u       /* an embedded or linked OLE object */
#define RTF_F_AUTO_UPDATE 0x02u  /* \objupdate: refreshed (so loaded) when opened */
#define RTF_F_EQUATION 0x04u     /* an Equation Editor 3.0 object */
#define RTF_F_LINK 0x08u         /* a link object (OLE2Link, \objautlink) */
#define RTF_F_PACKAGE 0x10u      /* a Packager object: a file inside */
#define RTF_F_CUT 0x20u          /* more objects, or more data, than looked at */

#define RTF_MAX_OBJECTS 64
#define RTF_MAX_OBJECT (4u << 20)

struct content_rtf {
	unsigned flags;          /* RTF_F_* */
	char package[256];       /* the first Packager object's file name, "" if none */
};

/* 1 when p starts like an RTF document ("{\rt", as Word accepts it). */
int content_rtf_is(const unsigned char *p, size_t n);

/* What p's objects are, into *out. */
void content_rtf_scan(const unsigned char *p, size_t n, struct content_rtf *out);

#endif
