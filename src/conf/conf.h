/*
 * conf.h - the configuration: one declarative table of keys drives defaults,
 * parsing (INI via inih), validation, and docs/config.md.
 *
 * A struct conf is filled once at start-up and then only read; it is passed
 * by const pointer to whoever needs it (no global configuration).  Unknown
 * sections/keys and bad values are refused with "FILE:LINE: reason".
 */
#ifndef MW_CONF_CONF_H
#define MW_CONF_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum bare_lf_policy { BARE_LF_REJECT = 0, BARE_LF_NORMALIZE = 1 };

struct conf {
	/* [smtp] */
	char smtp_listen[128];       /* host:port */
	char hostname[256];          /* our name in greeting, Received, DSN */
	int64_t max_connections;
	int64_t max_connections_per_ip;
	int64_t bare_lf;             /* enum bare_lf_policy */
	int64_t require_helo;        /* bool */
	/* [limits] */
	int64_t max_message_size;    /* bytes, announced in SIZE */
	int64_t max_recipients;      /* per transaction */
	int64_t max_command_line;    /* octets incl. CRLF (RFC 5321: 512) */
	int64_t max_text_line;       /* octets incl. CRLF in DATA (RFC: 1000) */
	int64_t max_header_size;     /* bytes of the header block */
	int64_t max_received;        /* Received headers before a message is a loop */
	int64_t max_errors;          /* error budget per session, then 421 */
	int64_t max_junk_commands;   /* NOOP/RSET/VRFY beyond this count as errors */
	int64_t idle_timeout;        /* seconds waiting for a command */
	int64_t data_timeout;        /* seconds between data blocks */
	int64_t session_timeout;     /* absolute cap on a session, seconds */
	/* [tls] */
	char tls_cert[512];
	char tls_key[512];
	/* [storage] */
	char data_dir[512];
	char backend[32];            /* "sqlite" */
	int64_t fsync;               /* bool; only tests of the benchmark kind may turn it off */
	/* [queue] */
	int64_t delivery_workers;
	int64_t max_queue_lifetime;  /* seconds */
	int64_t retry_min;           /* first retry delay, seconds */
	int64_t retry_max;           /* cap of the backoff, seconds */
	int64_t delivery_timeout;    /* per network operation, seconds */
	char relayhost[256];         /* smtp://host:port for DSNs to non-hosted senders; empty = MX lookup */
	/* [log] */
	int64_t log_retention;       /* seconds the message log is kept */
	char log_level[16];
	/* [scan] */
	int64_t scan_workers;        /* threads scanning messages before DATA is answered */
	int64_t scan_queue;          /* messages waiting for a scan thread before 451 */
	int64_t scan_max_size;       /* bytes of a message handed to the scanner */
	int64_t scan_tag;            /* default tag threshold, hundredths of a point */
	int64_t scan_probable_spam;  /* default probable-spam threshold, hundredths */
	/* [bayes] */
	int64_t bayes_max_tokens;    /* token rows kept; above it the least recently learned go */
	/* [reputation] */
	int64_t harvest_window;      /* seconds of recipient verdicts looked at (whole hours) */
	int64_t harvest_min_invalid; /* unknown recipients from one IP before it is refused */
	int64_t harvest_ratio;       /* ... and their share of its recipients, percent */
	int64_t harvest_delay;       /* seconds a harvest refusal waits before it is sent */
	int64_t rep_half_life;       /* seconds for reputation and fingerprint counters to halve */
	int64_t rep_fingerprints;    /* fingerprints with evidence indexed in memory, per kind */
	int64_t bulk_recipients;     /* recipients of one text in a day that make it bulk */
	int64_t bulk_tenants;        /* ... or tenants */
	int64_t sig_history;         /* sender/closing-paragraph pairs remembered (R7) */
	int64_t trap_keep;           /* trap hits kept as evidence (messages under data_dir/traps) */
	int64_t outbound_retention;  /* seconds a recorded outbound Message-ID is remembered */
	/* [complaint] */
	char complaint_address[320]; /* complaints by SMTP go here; "" = no SMTP intake */
	/* [quarantine] */
	int64_t quarantine_retention; /* seconds a held message is kept */
	int64_t quarantine_digest;    /* seconds between digests; 0 = no digest from the server */
	int64_t quarantine_link_lifetime; /* seconds a release link works */
	/* [admin] */
	char admin_listen[128];
	char admin_url[256];         /* base of links in digests; "" = http://<listen> */
	/* [run] */
	char user[64];               /* drop privileges to this user when started as root */
};

/* CONF_SCORE: a decimal with at most two fractional digits ("8", "7.5"),
 * stored in hundredths so that every type stays an exact int64_t. */
enum conf_type { CONF_STR, CONF_INT, CONF_BOOL, CONF_SIZE, CONF_DURATION, CONF_ENUM, CONF_SCORE };

struct conf_key {
	const char *section;
	const char *name;
	enum conf_type type;
	size_t offset;        /* into struct conf */
	size_t size;          /* for CONF_STR: buffer size */
	const char *def;      /* default, as written in the file */
	int64_t min, max;     /* for numeric types */
	const char *choices;  /* for CONF_ENUM: "reject|normalize" (value = index) */
	const char *doc;
};

/* The table (NULL-name terminated). */
extern const struct conf_key conf_keys[];

/* Fill c with the defaults of the table. */
void conf_defaults(struct conf *c);
/* Load path over the defaults.  0, or -1 with "path:line: reason" in err. */
int conf_load(struct conf *c, const char *path, char *err, size_t errlen);
/* Same as conf_load, from memory (len bytes, need not be NUL-terminated);
 * name is used in messages in place of the path.  For the fuzzer and tests. */
int conf_load_buffer(struct conf *c, const char *name, const char *data, size_t len,
    char *err, size_t errlen);
/* Set one key from text (used by the loader and by tests). 0 or -1 + reason. */
int conf_set(struct conf *c, const char *section, const char *name, const char *value,
    char *err, size_t errlen);
/* Write docs/config.md content. */
void conf_write_markdown(FILE *out);
/* The score type's text form (shared with the CLI's tenant thresholds):
 * parse gives hundredths (0 or -1); format writes the shortest exact form. */
int conf_parse_score(const char *s, int64_t *out);
void conf_format_score(int64_t v, char *out, size_t n);
/* Derived paths under data_dir. */
void conf_path(const struct conf *c, const char *rel, char *out, size_t n);

#endif
