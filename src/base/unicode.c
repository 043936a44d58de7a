/* unicode.c - see unicode.h. */
#include "base/unicode.h"

int unicode_is_unspaced(uint32_t c)
{
	if (c < 0x0e01)   /* ASCII and the alphabets before Thai: the common case */
		return 0;
	return (c >= 0x3040 && c <= 0x30ff) || (c >= 0x31f0 && c <= 0x31ff) ||
	    (c >= 0x3400 && c <= 0x4dbf) || (c >= 0x4e00 && c <= 0x9fff) ||
	    (c >= 0xf900 && c <= 0xfaff) || (c >= 0xff66 && c <= 0xff9f) ||
	    (c >= 0x0e01 && c <= 0x0e5b) || (c >= 0x20000 && c <= 0x2fa1f);
}
