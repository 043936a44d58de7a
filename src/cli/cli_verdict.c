/*
 * cli_verdict.c - the stored symbol lines of a verdict ("NAME TAB score TAB
 * reason", one per line: score_symbols_text()) as the CLI shows them, for
 * `log search` and `quarantine show` alike.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/util.h"
#include "cli/cli.h"

/* The next line of *p split into its three fields (a heap copy in *line,
 * freed by the caller); 0 at the end.  A line without both tabs is skipped
 * by the callers (*reason NULL). */
static int next_symbol(const char **p, char **line, char **score, char **reason)
{
	if (**p == '\0')
		return 0;
	const char *eol = strchr(*p, '\n');
	size_t n = eol ? (size_t)(eol - *p) : strlen(*p);
	*line = xmalloc(n + 1);
	memcpy(*line, *p, n);
	(*line)[n] = '\0';
	*p = eol ? eol + 1 : *p + n;
	*score = strchr(*line, '\t');
	*reason = *score ? strchr(*score + 1, '\t') : NULL;
	if (*reason) {
		*(*score)++ = '\0';
		*(*reason)++ = '\0';
	}
	return 1;
}

void cli_symbols_print(const char *symbols)
{
	const char *p = symbols ? symbols : "";
	char *line, *score, *reason;

	while (next_symbol(&p, &line, &score, &reason)) {
		if (reason) {
			printf("  %7s  %-24s ", score, line);
			cli_print_safe(reason);
			fputc('\n', stdout);
		}
		free(line);
	}
}

void *cli_symbols_json(const char *symbols)
{
	json_t *a = json_array();
	const char *p = symbols ? symbols : "";
	char *line, *score, *reason;

	while (next_symbol(&p, &line, &score, &reason)) {
		if (reason) {
			json_t *o = json_object();
			json_object_set_new(o, "name", cli_json_str(line));
			json_object_set_new(o, "score", json_real(strtod(score, NULL)));
			json_object_set_new(o, "reason", cli_json_str(reason));
			json_array_append_new(a, o);
		}
		free(line);
	}
	return a;
}
