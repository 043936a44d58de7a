/* sig_history.c - see sig_history.h. */
#include "reputation/sig_history.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"
#include "fingerprint/fingerprint.h"

#define PROBES 16       /* slots looked at per key: the neighbourhood */
#define DIGESTS 3       /* texts remembered per entry, to count each once */

struct entry {
	uint64_t key;     /* 0: slot free */
	int64_t last;     /* last sighting */
	uint32_t count;   /* distinct messages in the window */
	uint32_t next;    /* where the next digest goes in msgs */
	uint64_t msgs[DIGESTS];
};

struct sig_history {
	pthread_mutex_t mu;
	struct entry *slots;
	size_t cap;
	size_t min_words;
	struct fp_limits lim;
};

struct sig_history *sig_history_new(size_t capacity)
{
	if (capacity == 0 || capacity > SIG_HISTORY_MAX_ENTRIES)
		return NULL;
	struct sig_history *h = xcalloc(1, sizeof(*h));
	struct fp_params p = fp_params_default();
	pthread_mutex_init(&h->mu, NULL);
	h->slots = xcalloc(capacity, sizeof(*h->slots));
	h->cap = capacity;
	/* Fewer words give no signature fingerprint: nothing to find then. */
	h->min_words = p.sig_min_shingles + p.sig_width - 1;
	h->lim = p.lim;
	return h;
}

void sig_history_free(struct sig_history *h)
{
	if (h == NULL)
		return;
	free(h->slots);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

/* The entry's key: the sender (case-folded) and the normalised block. */
static uint64_t key_of(const char *sender, const char *norm, size_t nlen)
{
	char folded[320];
	size_t n = strlen(sender);
	if (n > sizeof(folded))
		n = sizeof(folded);
	for (size_t i = 0; i < n; i++)
		folded[i] = (char)tolower((unsigned char)sender[i]);
	uint64_t k = fp_hash64(norm, nlen, fp_hash64(folded, n, 0x5167a11));
	return k != 0 ? k : 1;
}

unsigned sig_history_add(struct sig_history *h, const char *sender, const char *block,
    uint64_t msg, int64_t now)
{
	if (sender == NULL || *sender == '\0' || block == NULL)
		return 0;
	/* Normalised as the signature fingerprint is (numbers and addresses
	 * kept), so what counts as "the same block" is what would match. */
	struct buf norm = BUF_INIT;
	size_t words = fp_normalize(block, strlen(block), FP_NORM_KEEP_NUMBERS |
	    FP_NORM_KEEP_ADDRESSES, &h->lim, &norm, NULL);
	if (words < h->min_words) {
		buf_free(&norm);
		return 0;
	}
	uint64_t key = key_of(sender, norm.data, norm.len);
	buf_free(&norm);

	pthread_mutex_lock(&h->mu);
	struct entry *e = NULL, *free_slot = NULL, *oldest = &h->slots[key % h->cap];
	size_t probes = h->cap < PROBES ? h->cap : PROBES;
	for (size_t i = 0; i < probes && e == NULL; i++) {
		struct entry *s = &h->slots[(key + i) % h->cap];
		if (s->key == key)
			e = s;
		else if (s->key == 0 && free_slot == NULL)
			free_slot = s;
		else if (s->key != 0 && s->last < oldest->last)
			oldest = s;
	}
	if (e == NULL) {
		e = free_slot != NULL ? free_slot : oldest;   /* the stalest makes room */
		memset(e, 0, sizeof(*e));
		e->key = key;
	} else if (now - e->last > SIG_HISTORY_WINDOW) {
		/* Not seen for the whole window: count afresh. */
		memset(e, 0, sizeof(*e));
		e->key = key;
	}
	int seen = 0;
	for (unsigned i = 0; i < DIGESTS && i < e->count; i++)
		if (e->msgs[i] == msg)
			seen = 1;
	if (!seen) {
		e->msgs[e->next] = msg;
		e->next = (e->next + 1) % DIGESTS;
		if (e->count < UINT32_MAX)
			e->count++;
	}
	e->last = now;
	unsigned n = e->count;
	pthread_mutex_unlock(&h->mu);
	return n;
}
