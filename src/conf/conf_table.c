/*
 * conf_table.c - every configuration key, in one place.
 *
 * This table is the single source of truth: conf.c derives defaults,
 * parsing, bounds checks and docs/config.md from it, so a key added here
 * is documented and validated without touching anything else.  Section
 * and key names are a public interface (files in the field, tests, docs):
 * never rename one without keeping the old name working.
 *
 * CONF_STR keys with `choices` are restricted strings (the value itself is
 * stored); CONF_ENUM stores the index of the choice in an int64_t.
 */
#include "conf/conf.h"

#include <stddef.h>
#include <stdint.h>

#define STR(sec, key, field, def, doc) \
	{ sec, key, CONF_STR, offsetof(struct conf, field), sizeof(((struct conf *)0)->field), \
	  def, 0, 0, NULL, doc }
#define STRCH(sec, key, field, def, choices, doc) \
	{ sec, key, CONF_STR, offsetof(struct conf, field), sizeof(((struct conf *)0)->field), \
	  def, 0, 0, choices, doc }
#define NUM(sec, key, type, field, def, lo, hi, doc) \
	{ sec, key, type, offsetof(struct conf, field), sizeof(int64_t), def, lo, hi, NULL, doc }
#define ENUM(sec, key, field, def, choices, doc) \
	{ sec, key, CONF_ENUM, offsetof(struct conf, field), sizeof(int64_t), def, 0, 0, choices, doc }

#define KiB INT64_C(1024)
#define MiB (KiB * 1024)
#define GiB (MiB * 1024)
#define MINUTE INT64_C(60)
#define HOUR (MINUTE * 60)
#define DAY (HOUR * 24)

const struct conf_key conf_keys[] = {
	/* ---- [smtp] -------------------------------------------------------- */
	STR("smtp", "listen", smtp_listen, "127.0.0.1:2525",
	    "Address and port of the SMTP listener (host:port; [v6]:port for IPv6). "
	    "Production MX service uses port 25."),
	STR("smtp", "hostname", hostname, "mailward.test",
	    "Our name in the 220 greeting, the EHLO reply, Received: headers and DSNs. "
	    "Set it to the host name the MX records point at."),
	NUM("smtp", "max_connections", CONF_INT, max_connections, "1000", 1, 1000000,
	    "Concurrent SMTP connections; further ones get 421 and are closed."),
	NUM("smtp", "max_connections_per_ip", CONF_INT, max_connections_per_ip, "20", 1, 100000,
	    "Concurrent SMTP connections from one client IP address."),
	ENUM("smtp", "bare_lf", bare_lf, "normalize", "reject|normalize",
	    "A bare LF or CR inside DATA: reject the message (554) or turn it into CRLF. "
	    "Either way a bare-LF line can never end DATA (no SMTP smuggling)."),
	NUM("smtp", "require_helo", CONF_BOOL, require_helo, "yes", 0, 1,
	    "Refuse MAIL FROM before HELO/EHLO (RFC 5321 requires the greeting)."),

	/* ---- [limits] ------------------------------------------------------ */
	NUM("limits", "max_message_size", CONF_SIZE, max_message_size, "25M", 64 * KiB, 4 * GiB,
	    "Largest message accepted, announced in the SIZE extension. "
	    "Suffixes k, M, G are binary multiples (1k = 1024)."),
	NUM("limits", "max_recipients", CONF_INT, max_recipients, "1000", 100, 100000,
	    "Recipients per transaction; further RCPTs get 452 (RFC 5321 requires at least 100)."),
	NUM("limits", "max_command_line", CONF_INT, max_command_line, "512", 512, 65536,
	    "Longest command line in octets including CRLF (RFC 5321: at least 512)."),
	NUM("limits", "max_text_line", CONF_INT, max_text_line, "1000", 1000, 1000000,
	    "Longest line of message text in octets including CRLF (RFC 5321: at least 1000)."),
	NUM("limits", "max_header_size", CONF_SIZE, max_header_size, "1M", 4 * KiB, 64 * MiB,
	    "Largest header block of a message."),
	NUM("limits", "max_received", CONF_INT, max_received, "50", 1, 1000,
	    "Most Received headers a message may carry (Postfix's hopcount_limit): with more it is in a mail loop and is refused after DATA with 554 5.4.6."),
	NUM("limits", "max_errors", CONF_INT, max_errors, "20", 1, 10000,
	    "Error replies allowed per session before the server answers 421 and closes."),
	NUM("limits", "max_junk_commands", CONF_INT, max_junk_commands, "100", 1, 1000000,
	    "NOOP, RSET and VRFY commands allowed per session; beyond this each counts as an error."),
	NUM("limits", "idle_timeout", CONF_DURATION, idle_timeout, "5m", 1, DAY,
	    "Time to wait for the next command (RFC 5321 section 4.5.3.2 suggests 5 minutes)."),
	NUM("limits", "data_timeout", CONF_DURATION, data_timeout, "10m", 1, DAY,
	    "Time to wait for the next block of message data."),
	NUM("limits", "session_timeout", CONF_DURATION, session_timeout, "1h", 1, 7 * DAY,
	    "Absolute cap on the length of one SMTP session."),

	/* ---- [tls] --------------------------------------------------------- */
	STR("tls", "cert", tls_cert, "",
	    "PEM certificate chain for STARTTLS. Empty (with key empty): STARTTLS is not offered."),
	STR("tls", "key", tls_key, "",
	    "PEM private key for the certificate."),

	/* ---- [storage] ----------------------------------------------------- */
	STR("storage", "data_dir", data_dir, "./var",
	    "Directory for the spool, queue and database (created mode 0700 if missing)."),
	STRCH("storage", "backend", backend, "sqlite", "sqlite",
	    "Database back end: sqlite keeps everything in data_dir/mailward.db (WAL). "
	    "See docs/storage.md."),
	NUM("storage", "fsync", CONF_BOOL, fsync, "yes", 0, 1,
	    "Flush accepted mail to disk before answering 250. Turning this off loses mail on "
	    "a crash or power failure; only benchmarks that measure the commit cost may do it."),

	/* ---- [queue] ------------------------------------------------------- */
	NUM("queue", "delivery_workers", CONF_INT, delivery_workers, "4", 1, 64,
	    "Delivery threads relaying queued mail downstream."),
	NUM("queue", "max_lifetime", CONF_DURATION, max_queue_lifetime, "5d", 1, 30 * DAY,
	    "How long a message is retried before it is returned to the sender with a DSN."),
	NUM("queue", "retry_min", CONF_DURATION, retry_min, "1m", 1, DAY,
	    "Delay before the first retry; doubled on each further failure."),
	NUM("queue", "retry_max", CONF_DURATION, retry_max, "1h", 1, 7 * DAY,
	    "Cap of the retry delay (must not be below retry_min)."),
	NUM("queue", "delivery_timeout", CONF_DURATION, delivery_timeout, "5m", 1, HOUR,
	    "Timeout of each network operation during delivery."),
	STR("queue", "relayhost", relayhost, "",
	    "smtp://host:port through which DSNs to senders we do not host are sent. "
	    "Empty: look up the sender domain's MX."),

	/* ---- [log] --------------------------------------------------------- */
	NUM("log", "retention", CONF_DURATION, log_retention, "7d", 1, 3650 * DAY,
	    "How long the message-tracking log is kept; older records are purged hourly."),
	STRCH("log", "level", log_level, "info", "debug|info|warn|error",
	    "Lowest level written to the text log."),

	/* ---- [scan] -------------------------------------------------------- */
	NUM("scan", "workers", CONF_INT, scan_workers, "2", 1, 64,
	    "Threads that scan messages (content rules, Bayes) before the end of DATA is "
	    "answered; the SMTP event loop never scans itself."),
	NUM("scan", "queue", CONF_INT, scan_queue, "32", 0, 100000,
	    "Messages that may wait for a free scan thread. When all threads are busy and "
	    "this many wait, DATA is answered 451 4.3.2 (try again later) rather than "
	    "queueing without bound."),
	NUM("scan", "max_size", CONF_SIZE, scan_max_size, "4M", 64 * KiB, GiB,
	    "Bytes of a message given to the scanner; a longer message is scanned on its "
	    "first max_size bytes (symbol SCAN_TRUNCATED) and delivered whole."),
	NUM("scan", "tag", CONF_SCORE, scan_tag, "8", -100000, 100000,
	    "Default score from which a message is possible spam: delivered with "
	    "X-Mailward-Spam: yes. A tenant may set its own (mailward tenant set)."),
	NUM("scan", "probable_spam", CONF_SCORE, scan_probable_spam, "10", -100000, 100000,
	    "Default score from which a message is probable spam: the tenant's action "
	    "applies (reject: 554 5.7.1 with the ref id). A tenant may set its own."),

	/* ---- [bayes] ------------------------------------------------------- */
	NUM("bayes", "max_tokens", CONF_INT, bayes_max_tokens, "10000000", 10000, 1000000000,
	    "Token rows the Bayes store keeps (about 24 bytes each on disk). Checked hourly "
	    "by the server and by mailward train --expire: above it, the least recently "
	    "learned tokens are deleted until 90 % of it is left (docs/bayes.md, Expiry)."),

	/* ---- [reputation] -------------------------------------------------- */
	NUM("reputation", "harvest_window", CONF_DURATION, harvest_window, "1h", 3600, 7 * DAY,
	    "Directory harvest (R9): how far back the recipient verdicts of a client IP are "
	    "counted (whole hours)."),
	NUM("reputation", "harvest_min_invalid", CONF_INT, harvest_min_invalid, "20", 0, 1000000,
	    "Directory harvest: unknown recipients a client IP may send within the window before "
	    "it is refused (together with harvest_ratio); 0: never refuse."),
	NUM("reputation", "harvest_ratio", CONF_INT, harvest_ratio, "50", 1, 100,
	    "Directory harvest: the share (percent) of a client IP's recipients in the window "
	    "that must be unknown before it is refused: 554 5.7.1 for every further recipient, "
	    "valid ones included, unless the recipient allows the sender (docs/policy.md)."),
	NUM("reputation", "harvest_delay", CONF_DURATION, harvest_delay, "2s", 0, 60,
	    "Directory harvest: how long each harvest refusal waits before it is sent, reading "
	    "nothing more from that client meanwhile (a tarpit: a harvester's guesses cost it "
	    "time, the gateway one timer); 0: answer at once."),

	NUM("reputation", "half_life", CONF_DURATION, rep_half_life, "3d", 60, 365 * DAY,
	    "Sender reputation and content fingerprints (R9-R12, docs/reputation.md): every "
	    "counter of evidence (unknown recipients, trap hits, complaints, verdicts) halves "
	    "after this long without new evidence, so a listing nobody renews ends by itself."),
	NUM("reputation", "fingerprints", CONF_INT, rep_fingerprints, "10000", 100, 4000000,
	    "Content fingerprints (R12): how many fingerprints with evidence (trap hits, "
	    "complaints, spam verdicts) of each kind are kept in the in-memory near-duplicate "
	    "index (about 400 bytes each, four kinds)."),
	NUM("reputation", "bulk_recipients", CONF_INT, bulk_recipients, "50", 2, 100000000,
	    "Bulk (R12): a message whose text (a near-duplicate of it) reached this many "
	    "recipients within a day is bulk mail (symbol FP_BULK, the bulk class and the "
	    "tenant's bulk action; no points). Counted in memory over the last "
	    "2 x fingerprints distinct texts."),
	NUM("reputation", "bulk_tenants", CONF_INT, bulk_tenants, "3", 2, 1000,
	    "Bulk (R12): ... or reached this many tenants within a day."),
	NUM("reputation", "signature_history", CONF_INT, sig_history, "100000", 100, 100000000,
	    "Signature blocks (R7, docs/content.md): a message with no signature block of its "
	    "own (no \"-- \" line, no signature-like last paragraph) gets its last paragraph "
	    "as one when the same paragraph ended 3 distinct messages of the same From address "
	    "within 30 days. This many sender and paragraph pairs are remembered, in memory "
	    "(about 64 bytes each); the least recently seen make room."),
	NUM("reputation", "trap_keep", CONF_INT, trap_keep, "1000", 0, 1000000,
	    "Spam traps (R10): how many messages to trap addresses are kept as evidence "
	    "(data_dir/traps/, oldest removed first); 0 keeps only the record."),
	NUM("reputation", "outbound_retention", CONF_DURATION, outbound_retention, "90d", DAY,
	    3650 * DAY,
	    "Replies (R16): how long a Message-ID the tenant sent (mailward outbound record) is "
	    "remembered for recognising replies to it."),

	/* ---- [complaint] --------------------------------------------------- */
	STR("complaint", "address", complaint_address, "",
	    "Complaint intake by SMTP (R11, docs/complaints.md): mail to this address is "
	    "parsed as a complaint report (ARF) and counted against the sender it is about, "
	    "never delivered. Empty: no SMTP intake (mailward complaint import still works)."),

	/* ---- [quarantine] -------------------------------------------------- */
	NUM("quarantine", "retention", CONF_DURATION, quarantine_retention, "14d", 1, 3650 * DAY,
	    "How long a quarantined message is held before it expires (removed, logged). "
	    "Messages live under data_dir/quarantine/."),
	NUM("quarantine", "digest", CONF_DURATION, quarantine_digest, "1d", 0, 30 * DAY,
	    "How often the server mails each user with newly held messages a digest with "
	    "one-click release links (0: never; `mailward quarantine digest` sends now)."),
	NUM("quarantine", "link_lifetime", CONF_DURATION, quarantine_link_lifetime, "7d", 1,
	    90 * DAY, "How long a release link of a digest works (each works once)."),

	/* ---- [admin] ------------------------------------------------------- */
	STR("admin", "listen", admin_listen, "127.0.0.1:8025",
	    "Address and port of the HTTP API, web console and metrics."),
	STR("admin", "url", admin_url, "",
	    "Base URL of the admin listener as users reach it, for the release links in "
	    "digests (e.g. https://mx.example.org:8025). Empty: http:// and [admin] listen."),

	/* ---- [run] --------------------------------------------------------- */
	STR("run", "user", user, "mailward",
	    "Unprivileged user to switch to after binding the listeners. Used only when "
	    "mailward is started as root."),

	{ NULL, NULL, CONF_STR, 0, 0, NULL, 0, 0, NULL, NULL },
};
