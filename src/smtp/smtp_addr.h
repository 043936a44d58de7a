/*
 * smtp_addr.h - RFC 5321 path and ESMTP parameter parsing (pure).
 *
 * smtp_path_parse() takes the argument of MAIL FROM:/RCPT TO: (everything
 * after the colon) and splits it into the path and its parameters.  It only
 * judges syntax; what is acceptable as a relay target is the policy's
 * business, so the parser reports the tricks it saw (source route, quoted
 * local part, '%' or '!' in the local part, address literal) as flags.
 */
#ifndef MW_SMTP_ADDR_H
#define MW_SMTP_ADDR_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_PATH_MAX 256     /* RFC 5321 4.5.3.1.3, including < > */
#define SMTP_LOCAL_MAX 64
#define SMTP_DOMAIN_MAX 255
#define SMTP_MAX_PARAMS 16

enum smtp_path_flag {
	SMTP_PATH_NULL = 1 << 0,         /* <> */
	SMTP_PATH_SOURCE_ROUTE = 1 << 1, /* <@a,@b:user@c> (route dropped) */
	SMTP_PATH_QUOTED = 1 << 2,       /* "local part" */
	SMTP_PATH_PERCENT = 1 << 3,      /* '%' in the local part */
	SMTP_PATH_BANG = 1 << 4,         /* '!' in the local part */
	SMTP_PATH_LITERAL = 1 << 5,      /* domain is [address literal] */
	SMTP_PATH_UTF8 = 1 << 6,         /* non-ASCII bytes present (valid UTF-8) */
	SMTP_PATH_AT_IN_LOCAL = 1 << 7,  /* '@' inside a quoted local part */
	SMTP_PATH_POSTMASTER = 1 << 8,   /* <postmaster> without domain */
};

struct smtp_param {
	char name[32];    /* upper-cased */
	char value[256];  /* raw (xtext not decoded), "" when absent */
	int has_value;
};

struct smtp_path {
	char local[SMTP_LOCAL_MAX * 2 + 3];  /* as written (quotes removed, escapes resolved) */
	char domain[SMTP_DOMAIN_MAX + 1];    /* lower-cased; "[...]" kept for literals */
	char addr[SMTP_PATH_MAX + 1];        /* "local@domain" with domain lower-cased; "" for <> */
	unsigned flags;
	struct smtp_param params[SMTP_MAX_PARAMS];
	size_t n_params;
};

enum smtp_path_err {
	SMTP_PATH_OK = 0,
	SMTP_PATH_ESYNTAX,    /* 501 5.1.7/5.1.3 bad address syntax */
	SMTP_PATH_ETOOLONG,   /* 501 5.1.3 path too long */
	SMTP_PATH_ELOCAL,     /* local part too long */
	SMTP_PATH_EDOMAIN,    /* bad or too long domain */
	SMTP_PATH_EPARAM,     /* 501 5.5.4 bad parameter syntax */
	SMTP_PATH_E8BIT,      /* invalid UTF-8 in the path */
};

/* arg: bytes after "MAIL FROM:" / "RCPT TO:" (leading spaces allowed), NUL-free.
 * is_mail: 1 for MAIL (allows <>). */
enum smtp_path_err smtp_path_parse(const char *arg, int is_mail, struct smtp_path *out);
const char *smtp_path_strerror(enum smtp_path_err e);
/* 1 if s[0..n) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int smtp_utf8_valid(const char *s, size_t n);
/* Find parameter by upper-case name, NULL if absent. */
const struct smtp_param *smtp_path_param(const struct smtp_path *p, const char *name);

#endif
