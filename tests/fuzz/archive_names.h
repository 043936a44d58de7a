/*
 * archive_names.h - the check the archive fuzz targets share: two listings
 * of the same bytes name the same members, every name is within
 * ARCHIVE_MAX_NAME bytes and free of control bytes (they become '?').
 * Aborts otherwise; returns the bytes of names, for the caller's own
 * bound.  Header-only: each target includes it once.
 */
#ifndef MW_TESTS_ARCHIVE_NAMES_H
#define MW_TESTS_ARCHIVE_NAMES_H

#include <stdlib.h>
#include <string.h>

#include "content/content_archive.h"

static size_t archive_names_check(const struct content_archive *a, const struct content_archive *b)
{
	size_t bytes = 0;
	if (a->n_names != b->n_names)
		abort();
	for (size_t i = 0; i < a->n_names; i++) {
		const size_t l = strlen(a->names[i]);
		if (l > ARCHIVE_MAX_NAME || strcmp(a->names[i], b->names[i]) != 0)
			abort();
		for (size_t k = 0; k < l; k++)
			if ((unsigned char)a->names[i][k] < 0x20 || a->names[i][k] == 0x7f)
				abort();
		bytes += l;
	}
	return bytes;
}

#endif
