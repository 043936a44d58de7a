/* log.c - see log.h. */
#include "log/log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>


/* Process settings, written once by main() before any thread starts. */
static enum log_level log_min = LOG_INFO;
static int log_fd = 2;

static const char *const level_names[] = { "debug", "info", "warn", "error", "fatal" };

void log_init(enum log_level min, int fd)
{
	log_min = min;
	log_fd = fd;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < MW_ARRAY_LEN(level_names); i++)
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}

void log_msg(enum log_level lvl, const char *ref, const char *fmt, ...)
{
	if (lvl < log_min)
		return;
	char line[2048];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    ts.tv_nsec / 1000000, level_names[lvl]);
	if (ref && *ref && n > 0 && (size_t)n < sizeof(line))
		n += snprintf(line + n, sizeof(line) - (size_t)n, "ref=%s ", ref);
	if (n > 0 && (size_t)n < sizeof(line)) {
		va_list ap;
		va_start(ap, fmt);
		int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
		va_end(ap);
		if (m > 0)
			n += m;
	}
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	/* The format may carry peer text that escaped escaping: a line stays a line. */
	for (int i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	ssize_t w = write(log_fd, line, (size_t)n);
	(void)w;
}

const char *log_escape(const char *s, char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t j = 0;
	int quote = s[0] == '\0' || strpbrk(s, " \t=\"") != NULL;
	if (n < 8) {
		if (n)
			out[0] = '\0';
		return out;
	}
	if (quote)
		out[j++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (j + 6 >= n) {
			out[j++] = '.';
			out[j++] = '.';
			break;
		}
		if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\') {
			out[j++] = '\\';
			out[j++] = 'x';
			out[j++] = hex[*p >> 4];
			out[j++] = hex[*p & 15];
		} else {
			out[j++] = (char)*p;
		}
	}
	if (quote)
		out[j++] = '"';
	out[j] = '\0';
	return out;
}
