/*
 * fuzz_config.c - F-config: the configuration loader on arbitrary bytes.
 *
 * The input is handed to conf_load_buffer() as a file's content (copied to
 * a heap block of exactly its size, so ASan flags a read past the end; the
 * loader must not rely on a terminating NUL).  Invariants: it never
 * crashes; it returns 0 or -1; on -1 the message is "fuzz:LINE: reason"
 * with LINE >= 1 and the struct is unchanged; on 0 every numeric key is
 * within its table bounds and every string is terminated inside its field.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf c, before;
	char err[512];
	char *copy = malloc(size ? size : 1);

	memcpy(copy, data, size);
	conf_defaults(&c);
	before = c;
	int rc = conf_load_buffer(&c, "fuzz", copy, size, err, sizeof(err));
	free(copy);
	if (rc != 0) {
		if (rc != -1 || strncmp(err, "fuzz:", 5) != 0 || atoi(err + 5) < 1)
			abort();
		if (memcmp(&c, &before, sizeof(c)) != 0)
			abort();
		return 0;
	}
	for (const struct conf_key *k = conf_keys; k->name != NULL; k++) {
		const char *field = (const char *)&c + k->offset;
		if (k->type == CONF_STR) {
			if (memchr(field, '\0', k->size) == NULL)
				abort();
		} else if (k->type != CONF_ENUM && k->type != CONF_BOOL) {
			int64_t v;
			memcpy(&v, field, sizeof(v));
			if (v < k->min || v > k->max)
				abort();
		}
	}
	return 0;
}
