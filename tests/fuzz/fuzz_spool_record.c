/*
 * fuzz_spool_record - the spool reader used by recovery and delivery
 * (reliability plan F6).  Arbitrary bytes, and mutations of valid files
 * from the seeds (truncations, bit flips, NUL tails), must be classified
 * valid/corrupt without a crash or an over-read.  The same bytes go through
 * the file reader (pread path) via a temp file, and both must agree; a valid
 * file must also yield its message bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log/log.h"
#include "spool/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char scratch[] = "/tmp/fuzz_spool_record-XXXXXX";

static void scratch_unlink(void)
{
	unlink(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One scratch file per process, rewritten for every input (a memfd
	 * would need /proc/self/fd, a symlink the reader refuses to follow). */
	static int fd = -1;
	const char *path = scratch;
	char err[128];
	struct spool_file *f = NULL;

	if (fd < 0) {
		log_init(LOG_FATAL, 2);
		fd = mkstemp(scratch);
		if (fd < 0)
			abort();
		atexit(scratch_unlink);
	}
	int mem_rc = spool_verify_bytes(data, size);

	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	int file_rc = spool_file_open_path(path, &f, err, sizeof(err));
	if ((mem_rc == 0) != (file_rc == 0))
		abort(); /* the two readers disagree */
	if (f != NULL) {
		char *msg;
		size_t n;
		if (spool_file_read_data(f, &msg, &n) < 0 || (int64_t)n != f->data_len)
			abort(); /* verified file whose data cannot be read back */
		free(msg);
		spool_file_attr(f, "dsn");
		spool_file_close(f);
	}
	return 0;
}
