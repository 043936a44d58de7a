/*
 * smtp_proto.c - SMTP server protocol state machine (see smtp_proto.h).
 *
 * Two readers share one input stream: the command-line assembler (bounded
 * by max_command_line, strict CRLF) and the DATA reader (a byte-level state
 * machine that streams unstuffed content to the data_write hook through a
 * fixed chunk buffer).  Neither ever holds more than a bounded amount of
 * input, whatever the peer sends.
 *
 * Smuggling is closed by construction: the DATA reader only knows one end
 * marker, <CRLF>.<CRLF> with both CRLFs real; every other CR, LF or NUL is
 * content (flagged as bare_lf) and, when normalised, is written out as CRLF
 * *after* unstuffing, so it can never be mistaken for the line start of a
 * dot line here.  Delivery dot-stuffs the content again.
 *
 * Commands are dispatched through one table (smtp_cmds[]); each row's
 * handler checks sequence, then syntax, then asks the hooks (policy), then
 * moves the state.
 */
#include "smtp/smtp_proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/util.h"

#define PROTO_CHUNK 4096       /* content handed to data_write per call (max) */
#define PROTO_REPLY_MAX 512    /* RFC 5321 4.5.3.1.5, incl. CRLF */

/* DATA reader states (position relative to the last real CRLF). */
enum data_pos {
	DP_BOL,    /* at the start of a line that followed CRLF (or the 354) */
	DP_MID,    /* inside a line */
	DP_CR,     /* inside a line, a CR is pending */
	DP_DOT,    /* "." at DP_BOL */
	DP_DOT_CR, /* ".\r" at DP_BOL - one LF away from the end */
};

struct smtp_proto {
	struct smtp_limits lim;
	struct smtp_hooks hooks;
	char hostname[256];
	char ref[32];         /* appended to 4xx/5xx replies (R17); "" = none */
	enum smtp_state state;
	struct buf out;

	/* command-line assembler */
	char *line;           /* max_command_line + 1 bytes */
	size_t line_len;      /* bytes stored (terminator excluded) */
	size_t line_raw;      /* bytes seen in this line, incl. CR */
	int line_cr;          /* last byte was CR */
	int line_bare;        /* bare CR/LF or NUL seen */
	int line_toolong;     /* over max_command_line, already answered */

	/* session and transaction */
	int helo_done;
	int tls_active;
	int txn_utf8;         /* MAIL carried SMTPUTF8 */
	size_t rcpt_count;    /* accepted */
	size_t rcpt_tried;    /* RCPT commands given in this transaction */
	unsigned errors;
	unsigned junk;

	/* DATA reader */
	enum data_pos dpos;
	size_t dline;         /* bytes of the current content line, incl. EOL */
	struct smtp_data_info info;
	int write_failed;
	char *chunk;          /* PROTO_CHUNK bytes */
	size_t chunk_len;
};

/* ---- replies ------------------------------------------------------------ */

/* Queue one reply line; every 4xx/5xx counts against the error budget. */
static void proto_reply(struct smtp_proto *p, int code, const char *fmt, ...) MW_PRINTF(3, 4);

static void proto_reply(struct smtp_proto *p, int code, const char *fmt, ...)
{
	char text[PROTO_REPLY_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text) - 6, fmt, ap); /* "NNN " + CRLF */
	va_end(ap);
	/* Every refusal names the transaction so support can find it (R17). */
	if (code >= 400 && p->ref[0] && strstr(text, "(ref ") == NULL) {
		size_t len = strlen(text);
		if (len + strlen(p->ref) + 8 < sizeof(text) - 6)
			snprintf(text + len, sizeof(text) - 6 - len, " (ref %s)", p->ref);
	}
	buf_printf(&p->out, "%03d %s\r\n", code, text);
	if (code >= 400)
		p->errors++;
	if (p->hooks.replied)
		p->hooks.replied(p->hooks.ctx, code, text);
}

/* Copy peer- or hook-supplied text for a reply: printable ASCII only. */
static void proto_sanitize(char *dst, size_t n, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < n && src[i]; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c < 0x20 || c >= 0x7f) ? ' ' : (char)c;
	}
	dst[i] = '\0';
}

/*
 * A reply decided by a hook: the code must be a real SMTP code and the text
 * must not smuggle CR/LF (a second reply line) or 8-bit into the stream.
 */
static void proto_reply_hook(struct smtp_proto *p, const struct smtp_reply *r)
{
	char text[sizeof(r->text)];

	if (r->code < 200 || r->code > 599) {
		proto_reply(p, 451, "4.3.0 Error: internal error");
		return;
	}
	proto_sanitize(text, sizeof(text), r->text);
	proto_reply(p, r->code, "%s", text);
}

/* The reply for a MAIL/RCPT path the parser refused; 0 when it parsed.
 * bad_addr is the verb's own text for a malformed address. */
static int proto_path_refused(struct smtp_proto *p, enum smtp_path_err e, const char *bad_addr)
{
	switch (e) {
	case SMTP_PATH_OK:
		return 0;
	case SMTP_PATH_EPARAM:
		proto_reply(p, 501, "5.5.4 Error: bad parameter syntax");
		break;
	case SMTP_PATH_E8BIT:
		proto_reply(p, 500, "5.5.2 Error: bad UTF-8 syntax");
		break;
	default:
		proto_reply(p, 501, "%s", bad_addr);
		break;
	}
	return 1;
}

/* ---- transaction -------------------------------------------------------- */

static int proto_in_txn(const struct smtp_proto *p)
{
	return p->state == SMTP_S_MAIL || p->state == SMTP_S_RCPT || p->state == SMTP_S_DATA;
}

static void proto_txn_clear(struct smtp_proto *p)
{
	p->txn_utf8 = 0;
	p->rcpt_count = 0;
	p->rcpt_tried = 0;
	if (p->state == SMTP_S_MAIL || p->state == SMTP_S_RCPT || p->state == SMTP_S_DATA ||
	    p->state == SMTP_S_DATA_END)
		p->state = p->helo_done ? SMTP_S_READY : SMTP_S_CONNECTED;
}

/* Drop the transaction and tell the glue (RSET, HELO, STARTTLS, errors). */
static void proto_txn_drop(struct smtp_proto *p)
{
	proto_txn_clear(p);
	if (p->hooks.txn_reset)
		p->hooks.txn_reset(p->hooks.ctx);
}

static void proto_close(struct smtp_proto *p)
{
	if (proto_in_txn(p))
		proto_txn_drop(p);
	p->state = SMTP_S_CLOSED;
}

static void proto_check_budget(struct smtp_proto *p)
{
	if (p->state != SMTP_S_CLOSED && p->errors > p->lim.max_errors) {
		buf_printf(&p->out, "421 4.7.0 %s Error: too many errors\r\n", p->hostname);
		proto_close(p);
	}
}

/* NOOP, RSET, VRFY, HELP: free up to max_junk, then they cost an error. */
static void proto_junk(struct smtp_proto *p)
{
	if (++p->junk > p->lim.max_junk)
		p->errors++;
}

/* ---- commands ----------------------------------------------------------- */

struct proto_cmd;
typedef void proto_cmd_fn(struct smtp_proto *p, const char *arg, size_t rest);

#define ST(s) (1u << (s))
#define ST_SESSION (ST(SMTP_S_CONNECTED) | ST(SMTP_S_READY) | ST(SMTP_S_MAIL) | ST(SMTP_S_RCPT))

struct proto_cmd {
	const char *name;
	unsigned states;    /* states where the verb is meaningful (else 503) */
	int before_tls;     /* allowed before STARTTLS (all are: no AUTH here) */
	int last_in_group;  /* RFC 2920: nothing may follow it in the same feed */
	proto_cmd_fn *fn;   /* check -> hooks (policy) -> proceed */
};

static int proto_arg_empty(const char *arg)
{
	while (*arg == ' ')
		arg++;
	return *arg == '\0';
}

static void proto_ehlo_reply(struct smtp_proto *p)
{
	char lines[8][64];
	size_t n = 0;

	snprintf(lines[n++], sizeof(lines[0]), "PIPELINING");
	snprintf(lines[n++], sizeof(lines[0]), "SIZE %llu", (unsigned long long)p->lim.max_message_size);
	snprintf(lines[n++], sizeof(lines[0]), "8BITMIME");
	snprintf(lines[n++], sizeof(lines[0]), "ENHANCEDSTATUSCODES");
	snprintf(lines[n++], sizeof(lines[0]), "SMTPUTF8");
	if (p->lim.tls_available && !p->tls_active)
		snprintf(lines[n++], sizeof(lines[0]), "STARTTLS");
	buf_printf(&p->out, "250-%s\r\n", p->hostname);
	for (size_t i = 0; i < n; i++)
		buf_printf(&p->out, "250%c%s\r\n", i + 1 == n ? ' ' : '-', lines[i]);
}

static void proto_helo_common(struct smtp_proto *p, const char *arg, int esmtp)
{
	const char *name = arg, *end;

	while (*name == ' ')
		name++;
	end = name + strlen(name);
	while (end > name && end[-1] == ' ')
		end--;
	if (end == name) {
		proto_reply(p, 501, "5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return;
	}
	if (end - name > 255) {
		proto_reply(p, 501, "5.5.4 Error: %s name too long", esmtp ? "EHLO" : "HELO");
		return;
	}
	for (const char *c = name; c < end; c++)
		if ((unsigned char)*c >= 0x80) {
			proto_reply(p, 501, "5.5.4 Error: invalid %s name", esmtp ? "EHLO" : "HELO");
			return;
		}
	/* A new HELO/EHLO resets the transaction (RFC 5321 4.1.4). */
	proto_txn_drop(p);
	p->helo_done = 1;
	p->state = SMTP_S_READY;
	if (p->hooks.helo) {
		char n2[256];
		memcpy(n2, name, (size_t)(end - name));
		n2[end - name] = '\0';
		p->hooks.helo(p->hooks.ctx, n2, esmtp);
	}
	if (esmtp)
		proto_ehlo_reply(p);
	else
		proto_reply(p, 250, "%s", p->hostname);
}

static void cmd_helo(struct smtp_proto *p, const char *arg, size_t rest)
{
	MW_UNUSED(rest);
	proto_helo_common(p, arg, 0);
}

static void cmd_ehlo(struct smtp_proto *p, const char *arg, size_t rest)
{
	MW_UNUSED(rest);
	proto_helo_common(p, arg, 1);
}

/* "FROM:" / "TO:" prefix, case-insensitive; returns what follows or NULL. */
static const char *proto_arg_prefix(const char *arg, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncasecmp(arg, prefix, n) == 0 ? arg + n : NULL;
}

static void cmd_mail(struct smtp_proto *p, const char *arg, size_t rest)
{
	MW_UNUSED(rest);
	struct smtp_path path;
	struct smtp_reply r;
	const char *a;
	enum smtp_path_err e;
	int utf8 = 0;

	if (p->state == SMTP_S_MAIL || p->state == SMTP_S_RCPT) {
		proto_reply(p, 503, "5.5.1 Error: nested MAIL command");
		return;
	}
	if (!p->helo_done && p->lim.require_helo) {
		proto_reply(p, 503, "5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if ((a = proto_arg_prefix(arg, "FROM:")) == NULL) {
		proto_reply(p, 501, "5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	e = smtp_path_parse(a, 1, &path);
	if (proto_path_refused(p, e, "5.1.7 Bad sender address syntax"))
		return;
	for (size_t i = 0; i < path.n_params; i++) {
		const struct smtp_param *pr = &path.params[i];

		if (strcmp(pr->name, "SIZE") == 0) {
			uint64_t v = 0;
			int overflow = 0;
			const char *c = pr->value;

			if (!pr->has_value || *c == '\0') {
				proto_reply(p, 501, "5.5.4 Error: bad SIZE parameter");
				return;
			}
			for (; *c; c++) {
				if (*c < '0' || *c > '9') {
					proto_reply(p, 501, "5.5.4 Error: bad SIZE parameter");
					return;
				}
				if (v > (UINT64_MAX - 9) / 10)
					overflow = 1; /* huge is still "too big", never wraps */
				else
					v = v * 10 + (uint64_t)(*c - '0');
			}
			if (overflow || v > p->lim.max_message_size) {
				proto_reply(p, 552, "5.3.4 Message size exceeds fixed maximum message size");
				return;
			}
		} else if (strcmp(pr->name, "BODY") == 0) {
			if (!pr->has_value || (strcasecmp(pr->value, "7BIT") != 0 &&
			    strcasecmp(pr->value, "8BITMIME") != 0)) {
				proto_reply(p, 501, "5.5.4 Error: bad BODY parameter");
				return;
			}
		} else if (strcmp(pr->name, "SMTPUTF8") == 0) {
			if (pr->has_value) {
				proto_reply(p, 501, "5.5.4 Error: SMTPUTF8 takes no value");
				return;
			}
			utf8 = 1;
		} else {
			proto_reply(p, 555, "5.5.4 Unsupported parameter");
			return;
		}
	}
	if ((path.flags & SMTP_PATH_UTF8) && !utf8) {
		proto_reply(p, 553, "5.6.7 Must declare SMTPUTF8 to send unicode address");
		return;
	}
	r.code = 250;
	snprintf(r.text, sizeof(r.text), "2.1.0 Ok");
	if (p->hooks.mail)
		p->hooks.mail(p->hooks.ctx, &path, &r);
	proto_reply_hook(p, &r);
	if (r.code >= 200 && r.code < 300) {
		p->state = SMTP_S_MAIL;
		p->txn_utf8 = utf8;
		p->rcpt_count = 0;
		p->rcpt_tried = 0;
	}
}

static void cmd_rcpt(struct smtp_proto *p, const char *arg, size_t rest)
{
	MW_UNUSED(rest);
	struct smtp_path path;
	struct smtp_reply r;
	const char *a;
	enum smtp_path_err e;

	if (p->state != SMTP_S_MAIL && p->state != SMTP_S_RCPT) {
		proto_reply(p, 503, "5.5.1 Error: need MAIL command");
		return;
	}
	p->rcpt_tried++;
	if (p->rcpt_count >= p->lim.max_recipients) {
		proto_reply(p, 452, "4.5.3 Error: too many recipients");
		return;
	}
	if ((a = proto_arg_prefix(arg, "TO:")) == NULL) {
		proto_reply(p, 501, "5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	e = smtp_path_parse(a, 0, &path);
	if (proto_path_refused(p, e, "5.1.3 Bad recipient address syntax"))
		return;
	if (path.n_params > 0) {
		/* No DSN: NOTIFY/ORCPT are refused rather than silently dropped. */
		proto_reply(p, 555, "5.5.4 Unsupported parameter");
		return;
	}
	if ((path.flags & SMTP_PATH_UTF8) && !p->txn_utf8) {
		proto_reply(p, 553, "5.6.7 Must declare SMTPUTF8 to send unicode address");
		return;
	}
	r.code = 250;
	snprintf(r.text, sizeof(r.text), "2.1.5 Ok");
	if (p->hooks.rcpt)
		p->hooks.rcpt(p->hooks.ctx, &path, &r);
	proto_reply_hook(p, &r);
	if (r.code >= 200 && r.code < 300) {
		p->rcpt_count++;
		p->state = SMTP_S_RCPT;
	}
}

static void proto_data_begin(struct smtp_proto *p)
{
	memset(&p->info, 0, sizeof(p->info));
	p->dpos = DP_BOL;
	p->dline = 0;
	p->write_failed = 0;
	p->chunk_len = 0;
	p->state = SMTP_S_DATA;
}

static void cmd_data(struct smtp_proto *p, const char *arg, size_t rest)
{
	struct smtp_reply r;

	if (!proto_arg_empty(arg)) {
		proto_reply(p, 501, "5.5.4 Syntax: DATA");
		return;
	}
	if (p->rcpt_count == 0) {
		if (p->state == SMTP_S_MAIL && p->rcpt_tried > 0)
			proto_reply(p, 554, "5.5.1 Error: no valid recipients");
		else
			proto_reply(p, 503, "5.5.1 Error: need RCPT command");
		return;
	}
	if (rest > 0) {
		/* The client did not wait for 354: content would be read as
		 * commands or vice versa (Postfix smtpd_forbid_unauth_pipelining). */
		buf_printf(&p->out, "554 5.5.0 Error: SMTP protocol synchronization\r\n");
		p->errors++;
		proto_txn_drop(p);
		p->state = SMTP_S_CLOSED;
		return;
	}
	r.code = 354;
	snprintf(r.text, sizeof(r.text), "End data with <CR><LF>.<CR><LF>");
	if (p->hooks.data_start)
		p->hooks.data_start(p->hooks.ctx, &r);
	proto_reply_hook(p, &r);
	if (r.code == 354)
		proto_data_begin(p);
}

static void cmd_rset(struct smtp_proto *p, const char *arg, size_t rest)
{
	MW_UNUSED(arg);
	MW_UNUSED(rest);
	proto_junk(p);
	proto_txn_drop(p);
	proto_reply(p, 250, "2.0.0 Ok");
}

static void cmd_noop(struct smtp_proto *p, const char *arg, size_t rest)
{
	MW_UNUSED(arg);
	MW_UNUSED(rest);
	proto_junk(p);
	proto_reply(p, 250, "2.0.0 Ok");
}

static void cmd_quit(struct smtp_proto *p, const char *arg, size_t rest)
{
	MW_UNUSED(arg);
	MW_UNUSED(rest);
	proto_reply(p, 221, "2.0.0 Bye");
	proto_close(p);
}

static void cmd_vrfy(struct smtp_proto *p, const char *arg, size_t rest)
{
	MW_UNUSED(arg);
	MW_UNUSED(rest);
	/* Never an address oracle (directory harvesting). */
	proto_junk(p);
	proto_reply(p, 252, "2.5.2 Cannot VRFY user, but will accept message and attempt delivery");
}

static void cmd_help(struct smtp_proto *p, const char *arg, size_t rest)
{
	MW_UNUSED(arg);
	MW_UNUSED(rest);
	proto_junk(p);
	proto_reply(p, 214, "2.0.0 See https://www.rfc-editor.org/rfc/rfc5321");
}

static void cmd_not_impl(struct smtp_proto *p, const char *arg, size_t rest)
{
	MW_UNUSED(arg);
	MW_UNUSED(rest);
	proto_reply(p, 502, "5.5.1 Error: command not implemented");
}

static void cmd_starttls(struct smtp_proto *p, const char *arg, size_t rest)
{
	MW_UNUSED(rest);
	if (p->tls_active) {
		proto_reply(p, 503, "5.5.1 Error: TLS already active");
		return;
	}
	if (!p->lim.tls_available) {
		proto_reply(p, 502, "5.5.1 Error: command not implemented");
		return;
	}
	if (!proto_arg_empty(arg)) {
		proto_reply(p, 501, "5.5.4 Syntax: STARTTLS");
		return;
	}
	proto_reply(p, 220, "2.0.0 Ready to start TLS");
	/* Nothing said in plaintext survives the handshake (CVE-2011-0411). */
	proto_txn_drop(p);
	p->helo_done = 0;
	p->state = SMTP_S_TLS;
	if (p->hooks.starttls)
		p->hooks.starttls(p->hooks.ctx);
}

static const struct proto_cmd smtp_cmds[] = {
	{ "HELO", ST_SESSION, 1, 0, cmd_helo },
	{ "EHLO", ST_SESSION, 1, 0, cmd_ehlo },
	{ "MAIL", ST_SESSION, 1, 0, cmd_mail },  /* sequence checked inside: 503 texts */
	{ "RCPT", ST_SESSION, 1, 0, cmd_rcpt },
	{ "DATA", ST_SESSION, 1, 1, cmd_data },
	{ "RSET", ST_SESSION, 1, 0, cmd_rset },
	{ "NOOP", ST_SESSION, 1, 0, cmd_noop },
	{ "QUIT", ST_SESSION, 1, 0, cmd_quit },
	{ "VRFY", ST_SESSION, 1, 0, cmd_vrfy },
	{ "EXPN", ST_SESSION, 1, 0, cmd_not_impl },
	{ "HELP", ST_SESSION, 1, 0, cmd_help },
	{ "STARTTLS", ST_SESSION, 1, 0, cmd_starttls },
	{ "BDAT", ST_SESSION, 1, 0, cmd_not_impl }, /* CHUNKING not announced */
};

/* One complete command line (CRLF stripped, NUL-free); rest = bytes after it. */
static void proto_dispatch(struct smtp_proto *p, const char *line, size_t len, size_t rest)
{
	size_t vl = 0;
	const char *arg;

	if (!smtp_utf8_valid(line, len)) {
		proto_reply(p, 500, "5.5.2 Error: bad UTF-8 syntax");
		return;
	}
	while (vl < len && line[vl] != ' ')
		vl++;
	arg = vl < len ? line + vl + 1 : line + vl;
	for (size_t i = 0; i < MW_ARRAY_LEN(smtp_cmds); i++) {
		const struct proto_cmd *c = &smtp_cmds[i];

		if (strlen(c->name) != vl || strncasecmp(c->name, line, vl) != 0)
			continue;
		if (!(c->states & ST(p->state))) {
			proto_reply(p, 503, "5.5.1 Error: bad sequence of commands");
			return;
		}
		if (!c->before_tls && !p->tls_active) {
			proto_reply(p, 530, "5.7.0 Must issue a STARTTLS command first");
			return;
		}
		c->fn(p, arg, c->last_in_group ? rest : 0);
		return;
	}
	proto_reply(p, 500, "5.5.2 Error: command not recognized");
}

/* ---- command-line assembler --------------------------------------------- */

static void proto_line_reset(struct smtp_proto *p)
{
	p->line_len = 0;
	p->line_raw = 0;
	p->line_cr = 0;
	p->line_bare = 0;
	p->line_toolong = 0;
}

static void proto_line_done(struct smtp_proto *p, size_t rest)
{
	if (p->line_toolong) {
		/* already answered when the limit was crossed */
	} else if (p->line_bare) {
		proto_reply(p, 500, "5.5.2 Error: bare <LF>, <CR> or NUL in command");
	} else {
		p->line[p->line_len] = '\0';
		proto_dispatch(p, p->line, p->line_len, rest);
	}
	proto_line_reset(p);
}

/* Feed command bytes until one line completes; returns bytes consumed. */
static size_t proto_line_feed(struct smtp_proto *p, const char *d, size_t n)
{
	size_t i = 0;

	while (i < n) {
		char c = d[i++];

		if (p->line_cr) {
			p->line_cr = 0;
			if (c == '\n') {
				proto_line_done(p, n - i);
				return i;
			}
			p->line_bare = 1; /* the CR before c was bare */
		}
		p->line_raw++;
		if (c == '\n') {
			p->line_bare = 1;
			proto_line_done(p, n - i);
			return i;
		}
		if (c == '\r')
			p->line_cr = 1;
		else if (c == '\0')
			p->line_bare = 1;
		else if (p->line_len + 2 < p->lim.max_command_line)
			p->line[p->line_len++] = c;
		/* Answer as soon as the limit is crossed (a peer may never send LF);
		 * the rest of the line is discarded up to its LF. */
		if (p->line_raw + (p->line_cr ? 1 : 2) > p->lim.max_command_line && !p->line_toolong) {
			proto_reply(p, 500, "5.5.2 Error: command line too long");
			p->line_toolong = 1;
			proto_check_budget(p);
			if (p->state == SMTP_S_CLOSED)
				return n;
		}
	}
	return i;
}

/* ---- DATA reader -------------------------------------------------------- */

static void proto_chunk_flush(struct smtp_proto *p)
{
	if (p->chunk_len > 0 && !p->write_failed && p->hooks.data_write &&
	    p->hooks.data_write(p->hooks.ctx, p->chunk, p->chunk_len) < 0)
		p->write_failed = 1;
	p->chunk_len = 0;
}

static void proto_content(struct smtp_proto *p, const char *s, size_t n)
{
	if (p->info.size_exceeded || p->info.size + n > p->lim.max_message_size) {
		p->info.size_exceeded = 1;
		p->info.size += n;
		return;
	}
	p->info.size += n;
	if (p->write_failed)
		return;
	for (size_t i = 0; i < n; i++) {
		if (p->chunk_len == PROTO_CHUNK)
			proto_chunk_flush(p);
		p->chunk[p->chunk_len++] = s[i];
	}
}

static void proto_content_line(struct smtp_proto *p, size_t add)
{
	p->dline += add;
	if (p->dline > p->lim.max_text_line)
		p->info.long_line = 1;
}

/* A bare CR, bare LF or NUL: never a line end for the terminator search. */
static void proto_content_bare(struct smtp_proto *p, char c)
{
	p->info.bare_lf = 1;
	if (c == '\0')
		return; /* dropped in both modes */
	/* Written as CRLF in both modes; in reject mode the content is thrown
	 * away at the end anyway. Line accounting treats it as a line end. */
	proto_content_line(p, 2);
	proto_content(p, "\r\n", 2);
	p->dline = 0;
}

static void proto_data_finish(struct smtp_proto *p)
{
	struct smtp_reply r;
	int rc;

	proto_chunk_flush(p);
	if (p->info.size_exceeded) {
		proto_reply(p, 552, "5.3.4 Error: message exceeds fixed maximum message size");
		proto_txn_drop(p);
		return;
	}
	if (p->info.bare_lf && !p->lim.bare_lf_normalize) {
		proto_reply(p, 550, "5.5.2 Error: bare <CR>, <LF> or NUL received in message content");
		proto_txn_drop(p);
		return;
	}
	if (p->info.long_line) {
		proto_reply(p, 550, "5.5.2 Error: message line longer than %zu octets",
		    p->lim.max_text_line);
		proto_txn_drop(p);
		return;
	}
	r.code = 250;
	snprintf(r.text, sizeof(r.text), "2.0.0 Ok");
	rc = p->hooks.data_end ? p->hooks.data_end(p->hooks.ctx, &p->info, &r) : SMTP_HOOK_DONE;
	if (rc == SMTP_HOOK_PENDING) {
		p->state = SMTP_S_DATA_END;
		return;
	}
	proto_reply_hook(p, &r);
	proto_txn_clear(p);
}

/* Feed content bytes; returns bytes consumed (stops after the end marker). */
static size_t proto_data_feed(struct smtp_proto *p, const char *d, size_t n)
{
	size_t i = 0;

	while (i < n) {
		char c = d[i++];

		switch (p->dpos) {
		case DP_BOL:
			if (c == '.') {
				p->dpos = DP_DOT; /* stuffing dot: not content, not counted */
				continue;
			}
			break;
		case DP_DOT:
			if (c == '\r') {
				p->dpos = DP_DOT_CR;
				continue;
			}
			break; /* "." + c: the dot was stuffing, c is content */
		case DP_DOT_CR:
			if (c == '\n') {
				proto_data_finish(p);
				return i;
			}
			proto_content_bare(p, '\r'); /* ".\r" + c: bare CR */
			break;
		case DP_CR:
			if (c == '\n') {
				proto_content_line(p, 2);
				proto_content(p, "\r\n", 2);
				p->dline = 0;
				p->dpos = DP_BOL;
				continue;
			}
			proto_content_bare(p, '\r');
			break;
		case DP_MID:
			break;
		}
		/* c is an ordinary position inside a line */
		if (c == '\r') {
			p->dpos = DP_CR;
			continue;
		}
		p->dpos = DP_MID;
		if (c == '\n' || c == '\0') {
			proto_content_bare(p, c);
			continue;
		}
		proto_content_line(p, 1);
		proto_content(p, &c, 1);
	}
	return i;
}

/* ---- public API --------------------------------------------------------- */

struct smtp_proto *smtp_proto_new(const struct smtp_limits *lim, const struct smtp_hooks *hooks,
    const char *hostname)
{
	struct smtp_proto *p = xcalloc(1, sizeof(*p));
	size_t i;

	p->lim = *lim;
	if (p->lim.max_command_line < 512)
		p->lim.max_command_line = 512;
	if (p->lim.max_text_line < 1000)
		p->lim.max_text_line = 1000;
	p->hooks = *hooks;
	/* The hostname goes into every reply: keep it one printable token. */
	for (i = 0; i + 1 < sizeof(p->hostname) && hostname && hostname[i]; i++) {
		unsigned char c = (unsigned char)hostname[i];
		p->hostname[i] = (c <= 0x20 || c >= 0x7f) ? '_' : (char)c;
	}
	p->hostname[i] = '\0';
	if (i == 0)
		mw_strlcpy(p->hostname, "localhost", sizeof(p->hostname));
	p->tls_active = lim->tls_active;
	p->state = SMTP_S_GREETING;
	buf_init(&p->out);
	p->line = xmalloc(p->lim.max_command_line + 1);
	p->chunk = xmalloc(PROTO_CHUNK);
	return p;
}

void smtp_proto_free(struct smtp_proto *p)
{
	if (!p)
		return;
	buf_free(&p->out);
	free(p->line);
	free(p->chunk);
	free(p);
}

void smtp_proto_greet(struct smtp_proto *p, int code, const char *text)
{
	if (p->state != SMTP_S_GREETING)
		return;
	if (code == 220) {
		buf_printf(&p->out, "220 %s ESMTP mailward\r\n", p->hostname);
		p->state = SMTP_S_CONNECTED;
		return;
	}
	struct smtp_reply r;
	r.code = (code >= 400 && code <= 599) ? code : 554;
	mw_strlcpy(r.text, text ? text : "5.3.2 Service not available", sizeof(r.text));
	proto_reply_hook(p, &r);
	p->state = SMTP_S_CLOSED;
}

size_t smtp_proto_feed(struct smtp_proto *p, const char *data, size_t len)
{
	size_t i = 0;

	switch (p->state) {
	case SMTP_S_GREETING:
		/* Talking before the greeting: a blind pipelining spammer. */
		buf_printf(&p->out, "554 5.5.0 Error: SMTP protocol synchronization\r\n");
		p->errors++;
		p->state = SMTP_S_CLOSED;
		return len;
	case SMTP_S_CLOSED:
	case SMTP_S_TLS:
		return len; /* discard: after close, and plaintext after STARTTLS */
	case SMTP_S_DATA_END:
		return 0;
	default:
		break;
	}
	while (i < len) {
		if (p->state == SMTP_S_DATA) {
			i += proto_data_feed(p, data + i, len - i);
			if (p->state == SMTP_S_DATA) {
				proto_chunk_flush(p); /* stream: never hold content across calls */
				continue;
			}
		} else {
			i += proto_line_feed(p, data + i, len - i);
		}
		proto_check_budget(p);
		if (p->state == SMTP_S_CLOSED)
			return len;
		if (p->state == SMTP_S_TLS || p->state == SMTP_S_DATA_END)
			return i;
	}
	return i;
}

void smtp_proto_resume(struct smtp_proto *p, const struct smtp_reply *r)
{
	if (p->state != SMTP_S_DATA_END)
		return;
	proto_reply_hook(p, r);
	proto_txn_clear(p);
	proto_check_budget(p);
}

void smtp_proto_tls_started(struct smtp_proto *p)
{
	if (p->state != SMTP_S_TLS)
		return;
	p->tls_active = 1;
	p->helo_done = 0;
	proto_line_reset(p);
	p->state = SMTP_S_CONNECTED;
}

void smtp_proto_shutdown(struct smtp_proto *p, const char *text)
{
	if (p->state == SMTP_S_CLOSED)
		return;
	char t[400];

	proto_sanitize(t, sizeof(t), text ? text : "Service shutting down");
	proto_reply(p, 421, "4.3.2 %s %s", p->hostname, t);
	proto_close(p);
}

const char *smtp_proto_output(const struct smtp_proto *p, size_t *len)
{
	*len = p->out.len;
	return p->out.data ? p->out.data : "";
}

void smtp_proto_output_consumed(struct smtp_proto *p, size_t n)
{
	if (n > p->out.len)
		n = p->out.len;
	buf_consume(&p->out, n);
}

void smtp_proto_set_ref(struct smtp_proto *p, const char *ref)
{
	proto_sanitize(p->ref, sizeof(p->ref), ref ? ref : "");
}

enum smtp_state smtp_proto_state(const struct smtp_proto *p)
{
	return p->state;
}

int smtp_proto_paused(const struct smtp_proto *p)
{
	return p->state == SMTP_S_DATA_END || p->state == SMTP_S_TLS;
}

unsigned smtp_proto_errors(const struct smtp_proto *p)
{
	return p->errors;
}

size_t smtp_proto_rcpt_count(const struct smtp_proto *p)
{
	return p->rcpt_count;
}
