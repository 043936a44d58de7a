/* sender_list.c - see sender_list.h. */
#include "policy/sender_list.h"

#include <string.h>

#include "base/util.h"

static size_t labels(const char *d)
{
	size_t n = 1;
	for (; *d; d++)
		n += *d == '.';
	return n;
}

int sender_list_specificity(const char *pattern, const char *sender)
{
	const char *at = strrchr(sender, '@');
	const char *dom = at ? at + 1 : NULL;

	if (sender[0] == '\0' || dom == NULL || dom[0] == '\0')
		return 0;          /* the null sender (bounces) is never listed */
	if (strchr(pattern, '@') != NULL)
		return strcmp(pattern, sender) == 0 ? 1000 : 0;
	if (pattern[0] != '.')
		return strcmp(pattern, dom) == 0 ? 900 : 0;
	/* ".example.org": example.org itself or anything ending ".example.org". */
	size_t pl = strlen(pattern), dl = strlen(dom);
	if (strcmp(pattern + 1, dom) == 0 ||
	    (dl > pl && strcmp(dom + dl - pl, pattern) == 0))
		return 100 + (int)labels(pattern + 1);
	return 0;
}

void sender_list_decide(const struct store_list_entry *e, size_t n, const char *rcpt,
    const char *sender, int authenticated, struct list_match *out)
{
	int best_level = -1, best_spec = 0, best_block = 0;
	const struct store_list_entry *best = NULL;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		int level = e[i].user[0] != '\0';
		if (level && strcmp(e[i].user, rcpt) != 0)
			continue;      /* another user's own entry */
		int spec = sender_list_specificity(e[i].pattern, sender);
		if (spec == 0)
			continue;
		int block = strcmp(e[i].kind, "block") == 0;
		if (level > best_level || (level == best_level && (spec > best_spec ||
		    (spec == best_spec && block > best_block)))) {
			best = &e[i];
			best_level = level;
			best_spec = spec;
			best_block = block;
		}
	}
	if (best == NULL)
		return;
	out->verdict = best_block ? LIST_BLOCK :
	    (authenticated || best->no_auth) ? LIST_ALLOW : LIST_ALLOW_UNAUTH;
	out->user_level = best_level;
	out->id = best->id;
	mw_strlcpy(out->pattern, best->pattern, sizeof(out->pattern));
}

int sender_list_authenticated(const char *sender, const char *client_ip)
{
	MW_UNUSED(sender);
	MW_UNUSED(client_ip);
	return 0;
}

const char *sender_list_verdict_name(enum list_verdict v)
{
	switch (v) {
	case LIST_NONE: return "none";
	case LIST_ALLOW: return "allow";
	case LIST_ALLOW_UNAUTH: return "allow-unauthenticated";
	case LIST_BLOCK: return "block";
	}
	return "?";
}
