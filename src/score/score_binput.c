/*
 * score_binput.c - the classifier's input from a parsed message: decoded
 * headers, the body text with HTML converted, and the URLs, borrowed from
 * the message (docs/bayes.md, "Input").
 */
#include <string.h>

#include "base/buf.h"
#include "content/content.h"
#include "score/score_int.h"

/* ---- classifier input ------------------------------------------------------------ */

void score_binput_fill(struct score_binput *bi, const struct content_msg *m)
{
	const size_t nh = content_header_count(m), nu = content_url_count(m);
	struct buf text = BUF_INIT;

	memset(bi, 0, sizeof(*bi));
	bi->names = xcalloc(nh + 1, sizeof(*bi->names));
	bi->values = xcalloc(nh + 1, sizeof(*bi->values));
	for (size_t i = 0; i < nh; i++) {
		const struct content_header *hd = content_header_at(m, i);
		bi->names[i] = hd->name;
		bi->values[i] = hd->value;
	}
	bi->urls = xcalloc(nu + 1, sizeof(*bi->urls));
	for (size_t i = 0; i < nu; i++)
		bi->urls[i] = content_url_at(m, i)->url;
	/* The tokenizer reads at most BAYES_MAX_TEXT_BYTES: copy no more. */
	for (size_t i = 0; i < content_text_count(m) && text.len < BAYES_MAX_TEXT_BYTES; i++) {
		const struct content_text *t = content_text_at(m, i);
		size_t room = BAYES_MAX_TEXT_BYTES - text.len;
		if (text.len > 0)
			buf_append_char(&text, '\n');
		buf_append(&text, t->text, t->len < room ? t->len : room);
	}
	/* The buf's storage (always NUL-terminated) changes owner. */
	bi->text = text.data != NULL ? text.data : xstrdup("");
	bi->in.subject = content_subject(m);
	bi->in.from = content_from(m);
	bi->in.header_names = bi->names;
	bi->in.header_values = bi->values;
	bi->in.n_headers = nh;
	bi->in.text = bi->text;
	bi->in.urls = bi->urls;
	bi->in.n_urls = nu;
}

void score_binput_free(struct score_binput *bi)
{
	free(bi->names);
	free(bi->values);
	free(bi->urls);
	free(bi->text);
	memset(bi, 0, sizeof(*bi));
}
