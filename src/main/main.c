/*
 * main.c - the one `mailward` program.
 *
 *   mailward [-c FILE] serve            run the gateway in the foreground
 *   mailward [-c FILE] config-doc       print docs/config.md
 *   mailward [-c FILE] COMMAND ...      administration (src/cli/)
 *
 * -c may also follow the sub-command name.  Without -c the built-in
 * defaults apply (SMTP 127.0.0.1:2525, data in ./var).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "log/log.h"
#include "server/server.h"

static void usage(FILE *out)
{
	fprintf(out,
	    "usage: mailward [-c FILE] COMMAND [ARGS...]\n"
	    "  serve                         run the gateway in the foreground\n"
	    "  tenant|domain|user ...        hosted tenants, domains and valid recipients\n"
	    "  log search|purge ...          the message log\n"
	    "  queue list|show|flush|delete  the delivery queue\n"
	    "  scan [--json] [--explain] FILE|DIR...  score messages offline\n"
	    "  train --spam|--ham FILE|DIR...         teach the Bayesian classifier\n"
	    "  config-doc                    print the configuration reference (Markdown)\n"
	    "  help                          this text; `mailward help COMMAND` for more\n");
}

int main(int argc, char **argv)
{
	const char *conf_file = NULL;
	char *args[256];
	int nargs = 0;

	/* Pull -c FILE out wherever it stands; keep the rest in order. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "mailward: %s needs a file name\n", argv[i]);
				return 2;
			}
			conf_file = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			conf_file = argv[i] + 9;
		} else if (nargs < (int)(sizeof(args) / sizeof(args[0])) - 1) {
			args[nargs++] = argv[i];
		} else {
			fprintf(stderr, "mailward: too many arguments\n");
			return 2;
		}
	}
	args[nargs] = NULL;
	if (nargs == 0) {
		usage(stderr);
		return 2;
	}
	if (strcmp(args[0], "help") == 0 && nargs == 1) {
		usage(stdout);
		return 0;
	}
	if (strcmp(args[0], "--help") == 0 || strcmp(args[0], "-h") == 0) {
		usage(stdout);
		return 0;
	}

	static struct conf conf;  /* main's own; passed down by const pointer */
	char err[1024];
	conf_defaults(&conf);
	if (conf_file && conf_load(&conf, conf_file, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailward: %s\n", err);
		return 2;
	}
	enum log_level lvl = LOG_INFO;
	log_level_parse(conf.log_level, &lvl);
	log_init(lvl, 2);

	if (strcmp(args[0], "serve") == 0) {
		if (nargs != 1) {
			fprintf(stderr, "mailward: serve takes no arguments besides -c FILE\n");
			return 2;
		}
		return server_run(&conf);
	}
	if (strcmp(args[0], "config-doc") == 0) {
		conf_write_markdown(stdout);
		return 0;
	}
	return cli_main(&conf, nargs, args);
}
