/*
 * fingerprint_index.c - the LSH index of fingerprint_index.h.
 *
 * Layout (all arrays sized for max_entries at creation, never grown):
 *  - per entry: its signature, its id, a meta word (live bit, and the bands
 *    whose bucket chain it is in) and one chain link per band;
 *  - per band: an open-addressing table (linear probing, load <= 1/2) of
 *    32-bit words: an 8-bit tag from the band hash and the 24-bit slot + 1
 *    of the newest entry of that bucket; the bucket's key is the head's own
 *    rows, so the table stores no key (an 8-bit tag filters 255/256 of the
 *    wrong probes before the rows are compared);
 *  - an id table (same scheme) from id to slot.
 * Deletion in both tables shifts the following run back (no tombstones), so
 * probe lengths stay short however long the index has been churning.
 */
#include <string.h>

#include "base/util.h"
#include "fingerprint/fingerprint_index.h"

_Static_assert(FP_INDEX_BANDS * FP_INDEX_ROWS == FP_K, "bands x rows must cover the signature");
_Static_assert(FP_INDEX_BANDS <= 16, "the meta word holds 16 band bits");

#define LIVE (1u << 31)
#define SLOT_MASK 0xFFFFFFu

struct fp_index {
	size_t cap, count, hwm;
	uint32_t free_head;   /* slot + 1 of a free slot (chained by next[.][0]), 0 none */
	struct fp_sig *sigs;
	uint64_t *ids;
	uint32_t *meta;       /* LIVE | band bits */
	uint32_t *next;       /* [slot * BANDS + band]: slot + 1 of the next older entry, 0 end */
	uint32_t *band_tab;   /* [band * band_size + pos] */
	size_t band_size, band_mask;
	uint32_t *id_tab;
	size_t id_mask;
	size_t bytes;
};

static inline uint64_t mum(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline const uint32_t *rows_of(const struct fp_sig *s, unsigned b)
{
	return s->v + b * FP_INDEX_ROWS;
}

static inline uint64_t band_hash(const uint32_t *r, unsigned b)
{
	uint64_t x = (uint64_t)r[0] << 32 | r[1], y = (uint64_t)r[2] << 32 | r[3];
	return mum(mum(x ^ 0xa0761d6478bd642full ^ b, 0xe7037ed1a0b428dbull) ^ y, 0x8ebc6af09c88c6e3ull);
}

static inline uint64_t id_hash(uint64_t id)
{
	return mum(id ^ 0x589965cc75374cc3ull, 0xe7037ed1a0b428dbull);
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 16;
	while (p < n)
		p <<= 1;
	return p;
}

struct fp_index *fp_index_new(size_t max_entries)
{
	if (max_entries == 0 || max_entries > FP_INDEX_MAX_ENTRIES)
		return NULL;
	struct fp_index *ix = xcalloc(1, sizeof(*ix));
	ix->cap = max_entries;
	ix->band_size = pow2_at_least(2 * max_entries);
	ix->band_mask = ix->band_size - 1;
	size_t id_size = pow2_at_least(2 * max_entries);
	ix->id_mask = id_size - 1;
	ix->sigs = xmalloc(max_entries * sizeof(*ix->sigs));
	ix->ids = xmalloc(max_entries * sizeof(*ix->ids));
	ix->meta = xcalloc(max_entries, sizeof(*ix->meta));
	ix->next = xmalloc(max_entries * FP_INDEX_BANDS * sizeof(*ix->next));
	/* calloc: untouched pages of a big, mostly empty index cost nothing. */
	ix->band_tab = xcalloc(FP_INDEX_BANDS * ix->band_size, sizeof(*ix->band_tab));
	ix->id_tab = xcalloc(id_size, sizeof(*ix->id_tab));
	ix->bytes = sizeof(*ix) +
		    max_entries * (sizeof(struct fp_sig) + sizeof(uint64_t) + sizeof(uint32_t) +
				   FP_INDEX_BANDS * sizeof(uint32_t)) +
		    (FP_INDEX_BANDS * ix->band_size + id_size) * sizeof(uint32_t);
	return ix;
}

void fp_index_free(struct fp_index *ix)
{
	if (ix == NULL)
		return;
	free(ix->sigs);
	free(ix->ids);
	free(ix->meta);
	free(ix->next);
	free(ix->band_tab);
	free(ix->id_tab);
	free(ix);
}

size_t fp_index_count(const struct fp_index *ix)
{
	return ix->count;
}

size_t fp_index_bytes(const struct fp_index *ix)
{
	return ix->bytes;
}

/* ---- id table ------------------------------------------------------------ */

/* Position of id (*found = 1) or of the empty word where it would go. */
static size_t id_find(const struct fp_index *ix, uint64_t id, int *found)
{
	size_t pos = id_hash(id) & ix->id_mask;
	for (;;) {
		uint32_t v = ix->id_tab[pos];
		if (v == 0) {
			*found = 0;
			return pos;
		}
		if (ix->ids[v - 1] == id) {
			*found = 1;
			return pos;
		}
		pos = (pos + 1) & ix->id_mask;
	}
}

/* Is k cyclically in (i, j]?  Then the word at j may stay where it is. */
static inline int in_run(size_t i, size_t k, size_t j)
{
	return i <= j ? (i < k && k <= j) : (i < k || k <= j);
}

static void id_delete(struct fp_index *ix, size_t i)
{
	for (size_t j = i;;) {
		j = (j + 1) & ix->id_mask;
		uint32_t v = ix->id_tab[j];
		if (v == 0)
			break;
		if (in_run(i, id_hash(ix->ids[v - 1]) & ix->id_mask, j))
			continue;
		ix->id_tab[i] = v;
		i = j;
	}
	ix->id_tab[i] = 0;
}

/* ---- band tables --------------------------------------------------------- */

static size_t band_find(const struct fp_index *ix, unsigned b, const uint32_t *rows, uint64_t h,
			int *found)
{
	const uint32_t *tab = ix->band_tab + b * ix->band_size;
	uint32_t tag = (uint32_t)(h >> 56);
	size_t pos = h & ix->band_mask;
	for (;;) {
		uint32_t v = tab[pos];
		if (v == 0) {
			*found = 0;
			return pos;
		}
		if ((v >> 24) == tag &&
		    memcmp(rows_of(&ix->sigs[(v & SLOT_MASK) - 1], b), rows, FP_INDEX_ROWS * sizeof(uint32_t)) == 0) {
			*found = 1;
			return pos;
		}
		pos = (pos + 1) & ix->band_mask;
	}
}

static void band_delete(struct fp_index *ix, unsigned b, size_t i)
{
	uint32_t *tab = ix->band_tab + b * ix->band_size;
	for (size_t j = i;;) {
		j = (j + 1) & ix->band_mask;
		uint32_t v = tab[j];
		if (v == 0)
			break;
		uint64_t h = band_hash(rows_of(&ix->sigs[(v & SLOT_MASK) - 1], b), b);
		if (in_run(i, h & ix->band_mask, j))
			continue;
		tab[i] = v;
		i = j;
	}
	tab[i] = 0;
}

static inline uint32_t *link_of(const struct fp_index *ix, size_t slot, unsigned b)
{
	return &ix->next[slot * FP_INDEX_BANDS + b];
}

/* ---- operations ------------------------------------------------------------ */

int fp_index_insert(struct fp_index *ix, uint64_t id, const struct fp_sig *sig)
{
	int found;
	if (ix->count >= ix->cap)
		return -1;
	size_t ipos = id_find(ix, id, &found);
	if (found)
		return -1;
	size_t slot;
	if (ix->free_head != 0) {
		slot = ix->free_head - 1;
		ix->free_head = *link_of(ix, slot, 0);
	} else {
		slot = ix->hwm++;
	}
	ix->sigs[slot] = *sig;
	ix->ids[slot] = id;
	ix->id_tab[ipos] = (uint32_t)slot + 1;
	uint32_t meta = LIVE;
	for (unsigned b = 0; b < FP_INDEX_BANDS; b++) {
		const uint32_t *rows = rows_of(sig, b);
		uint64_t h = band_hash(rows, b);
		uint32_t *tab = ix->band_tab + b * ix->band_size;
		size_t pos = band_find(ix, b, rows, h, &found);
		uint32_t head = 0;
		if (found) {
			head = tab[pos] & SLOT_MASK;
			size_t len = 0;
			for (uint32_t c = head; c != 0 && len < FP_INDEX_BUCKET_MAX; c = *link_of(ix, c - 1, b))
				len++;
			if (len >= FP_INDEX_BUCKET_MAX) {
				*link_of(ix, slot, b) = 0;
				continue;
			}
		}
		*link_of(ix, slot, b) = head;
		tab[pos] = (uint32_t)(h >> 56) << 24 | ((uint32_t)slot + 1);
		meta |= 1u << b;
	}
	ix->meta[slot] = meta;
	ix->count++;
	return 0;
}

int fp_index_insert_encoded(struct fp_index *ix, uint64_t id, const uint8_t *bytes, size_t len)
{
	struct fp_sig s;
	if (fp_sig_decode(bytes, len, &s, NULL) < 0)
		return -1;
	return fp_index_insert(ix, id, &s);
}

int fp_index_remove(struct fp_index *ix, uint64_t id)
{
	int found;
	size_t ipos = id_find(ix, id, &found);
	if (!found)
		return -1;
	size_t slot = ix->id_tab[ipos] - 1;
	id_delete(ix, ipos);
	const struct fp_sig *sig = &ix->sigs[slot];
	for (unsigned b = 0; b < FP_INDEX_BANDS; b++) {
		if (!(ix->meta[slot] & (1u << b)))
			continue;
		const uint32_t *rows = rows_of(sig, b);
		uint64_t h = band_hash(rows, b);
		uint32_t *tab = ix->band_tab + b * ix->band_size;
		size_t pos = band_find(ix, b, rows, h, &found);
		if (!found)
			mw_panic("fingerprint index: entry %zu missing from band %u", slot, b);
		uint32_t head = tab[pos] & SLOT_MASK, after = *link_of(ix, slot, b);
		if (head == slot + 1) {
			if (after != 0)
				tab[pos] = (tab[pos] & ~SLOT_MASK) | after;
			else
				band_delete(ix, b, pos);
			continue;
		}
		uint32_t c = head;
		while (*link_of(ix, c - 1, b) != slot + 1) {
			c = *link_of(ix, c - 1, b);
			if (c == 0)
				mw_panic("fingerprint index: entry %zu missing from its chain in band %u", slot, b);
		}
		*link_of(ix, c - 1, b) = after;
	}
	ix->meta[slot] = 0;
	*link_of(ix, slot, 0) = ix->free_head;
	ix->free_head = (uint32_t)slot + 1;
	ix->count--;
	return 0;
}

/* Keeps out[0..*n) sorted best first, at most max. */
static void top_insert(struct fp_match *out, size_t *n, size_t max, uint64_t id, double sim)
{
	size_t i = *n;
	if (i == max) {
		if (max == 0)
			return;
		const struct fp_match *w = &out[max - 1];
		if (sim < w->similarity || (sim == w->similarity && id > w->id))
			return;
		i = max - 1;
	} else {
		(*n)++;
	}
	while (i > 0 && (out[i - 1].similarity < sim || (out[i - 1].similarity == sim && out[i - 1].id > id))) {
		out[i] = out[i - 1];
		i--;
	}
	out[i].id = id;
	out[i].similarity = sim;
}

size_t fp_index_lookup(const struct fp_index *ix, const struct fp_sig *sig, double min_similarity,
		       struct fp_match *out, size_t max_out)
{
	size_t total = 0, nout = 0;
	for (unsigned b = 0; b < FP_INDEX_BANDS; b++) {
		const uint32_t *rows = rows_of(sig, b);
		int found;
		size_t pos = band_find(ix, b, rows, band_hash(rows, b), &found);
		if (!found)
			continue;
		for (uint32_t c = ix->band_tab[b * ix->band_size + pos] & SLOT_MASK; c != 0;
		     c = *link_of(ix, c - 1, b)) {
			size_t s = c - 1;
			/* Seen already through an earlier band it is chained in?
			 * Asking the signatures keeps lookups free of scratch
			 * state, so readers can share the index. */
			uint32_t earlier = ix->meta[s] & ((1u << b) - 1);
			int seen = 0;
			while (earlier != 0 && !seen) {
				unsigned e = (unsigned)__builtin_ctz(earlier);
				earlier &= earlier - 1;
				seen = memcmp(rows_of(&ix->sigs[s], e), rows_of(sig, e),
					      FP_INDEX_ROWS * sizeof(uint32_t)) == 0;
			}
			if (seen)
				continue;
			double sim = fp_sig_similarity(&ix->sigs[s], sig);
			if (sim < min_similarity)
				continue;
			total++;
			top_insert(out, &nout, max_out, ix->ids[s], sim);
		}
	}
	return total;
}

int fp_index_get(const struct fp_index *ix, uint64_t id, struct fp_sig *out)
{
	int found;
	size_t ipos = id_find(ix, id, &found);
	if (!found)
		return -1;
	*out = ix->sigs[ix->id_tab[ipos] - 1];
	return 0;
}

int fp_index_each(const struct fp_index *ix, int (*fn)(void *ctx, uint64_t id, const struct fp_sig *sig),
		  void *ctx)
{
	for (size_t s = 0; s < ix->hwm; s++) {
		if (!(ix->meta[s] & LIVE))
			continue;
		int rc = fn(ctx, ix->ids[s], &ix->sigs[s]);
		if (rc != 0)
			return rc;
	}
	return 0;
}
