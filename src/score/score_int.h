/*
 * score_int.h - private to src/score/: the symbol registry, the rule runner,
 * and the bridge from a parsed message to the classifier's input.  Nothing
 * outside src/score/ includes this; the public contract is score.h.
 *
 * Ownership: a struct score_hits owns its symbol array (score_hits_free or
 * handed over to a verdict).  A struct score_binput owns the arrays and the
 * concatenated text it points the bayes_input at, and borrows every other
 * string from the content_msg it was filled from: free the binput before (or
 * together with) the message.
 */
#ifndef MW_SCORE_SCORE_INT_H
#define MW_SCORE_SCORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "base/util.h"
#include "bayes/bayes.h"
#include "score/score.h"

struct content_msg;

/* One row per symbol: the registry is data, docs/scoring.md mirrors it. */
enum score_sym_id {
	SYM_GTUBE,
	SYM_MIME_LIMIT_EXCEEDED,
	SYM_MISSING_DATE,
	SYM_MISSING_MESSAGE_ID,
	SYM_MISSING_FROM,
	SYM_DATE_AFTER_RECEIVED,
	SYM_DATE_BEFORE_RECEIVED,
	SYM_HTML_ONLY,
	SYM_HTML_HIDDEN_TEXT,
	SYM_HTML_IMAGE_ONLY,
	SYM_HTML_LINK_MISMATCH,
	SYM_URL_IP_LITERAL,
	SYM_URL_SHORTENER,
	SYM_URL_USERINFO_HOST,
	SYM_SUBJECT_ALL_CAPS,
	SYM_SUBJECT_PUNCT,
	SYM_UNKNOWN_CHARSET,
	SYM_BAD_CHARSET_DATA,
	SYM_BAD_BASE64,
	SYM_BAD_QP,
	SYM_BAD_ENCODED_WORD,
	SYM_MIME_AMBIGUOUS,
	SYM_MIME_BAD_BOUNDARY,
	SYM_DUPLICATE_HEADER,
	SYM_MALFORMED_HEADER,
	SYM_HEADER_8BIT,
	SYM_NUL_BYTES,
	SYM_EXE_ATTACHMENT,
	SYM_ARCHIVE_UNSCANNABLE,
	SYM_OFFICE_MACRO,
	SYM_HTML_ATTACHMENT_PHISH,
	SYM_PDF_ACTIVE_CONTENT,
	SYM_OLE_EXPLOIT_OBJECT,
	SYM_OFFICE_REMOTE_CONTENT,
	SYM_FROM_DISPLAY_NAME_SPOOF,
	SYM_RATWARE_HEADERS,
	SYM_BULK_LIST_UNSUBSCRIBE,
	SYM_BULK_PRECEDENCE,
	SYM_LIST_DISCUSSION,
	SYM_BAYES_SPAM,
	SYM_BAYES_HAM,
	SYM_BAYES_UNSURE,
	SYM_BAYES_TOP_CLUES,
	SYM_BAYES_UNAVAILABLE,
	SYM_COUNT
};

struct score_sym_def {
	const char *name;
	const char *group;
	double weight;       /* full weight; a rule may add a fraction of it */
	const char *doc;     /* when it fires (docs/scoring.md) */
};

extern const struct score_sym_def score_sym_table[SYM_COUNT];

struct score_hits {
	struct score_symbol *v;
	size_t n, cap;
};

/* Record symbol id with scale * its weight and a printf reason. */
void score_hit(struct score_hits *h, enum score_sym_id id, double scale, const char *fmt, ...)
    MW_PRINTF(4, 5);
void score_hits_free(struct score_hits *h);

/* Every heuristic rule over the parsed message (raw bytes for GTUBE). */
void score_rules_run(const struct content_msg *m, const char *raw, size_t len, struct score_hits *h);
/* RATWARE_HEADERS (score_ratware.c), run by score_rules_run(). */
void score_rule_ratware(const struct content_msg *m, const char *raw, size_t len,
    struct score_hits *h);

/* RFC 5322 date-time ("Tue, 1 Oct 2002 10:00:00 +0100") to unix seconds.
 * Exposed for tests; 0 or -1. */
int score_parse_rfc5322_date(const char *s, int64_t *out);
/* The shape of a Date value that no mail client writes (RATWARE_HEADERS):
 * *no_zone, *two_digit year, *bad_wday; 0, or -1 when it does not parse
 * that far. */
int score_date_shape(const char *s, int *no_zone, int *two_digit, int *bad_wday);

struct score_binput {
	struct bayes_input in;
	const char **names;   /* owned arrays, borrowed strings */
	const char **values;
	const char **urls;
	char *text;           /* owned: text parts joined by newlines */
};

void score_binput_fill(struct score_binput *bi, const struct content_msg *m);

/* score_message_parsed() as if m, learned weight times in class is_spam,
 * were not in the Bayes store: what the store would say of it unseen
 * (reinforcement, score_train.c).  bayes_prob is -1 when Bayes had no
 * opinion (untrained without it).  Unlike a scan, a Bayes storage error
 * returns -1 with nothing in out: a training run must stop on it. */
int score_message_without(struct score_engine *e, const struct content_msg *m, const char *data,
    size_t len, int is_spam, int64_t weight, struct score_verdict *out);
void score_binput_free(struct score_binput *bi);

#endif
