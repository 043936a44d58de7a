/* fp_recent.c - see fp_recent.h. */
#include "reputation/fp_recent.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "fingerprint/fingerprint_index.h"

struct entry {
	uint64_t id;         /* 0: slot free */
	int64_t first;
	uint64_t rcpts;
	unsigned ntenants;
	uint64_t tenants[FP_RECENT_TENANTS];   /* hashes of tenant names */
};

struct fp_recent {
	pthread_mutex_t mu;
	struct fp_index *ix;
	struct entry *ring;   /* slot = (id - 1) % cap: the oldest entry is the next slot */
	size_t cap;
	uint64_t next_id;
};

struct fp_recent *fp_recent_new(size_t capacity)
{
	if (capacity == 0 || capacity > FP_INDEX_MAX_ENTRIES)
		return NULL;
	struct fp_index *ix = fp_index_new(capacity);
	if (ix == NULL)
		return NULL;
	struct fp_recent *r = xcalloc(1, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	r->ix = ix;
	r->cap = capacity;
	r->ring = xcalloc(capacity, sizeof(*r->ring));
	r->next_id = 1;
	return r;
}

void fp_recent_free(struct fp_recent *r)
{
	if (r == NULL)
		return;
	fp_index_free(r->ix);
	free(r->ring);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static void add_tenant(struct entry *e, const char *tenant)
{
	if (tenant == NULL || *tenant == '\0')
		return;
	uint64_t h = fp_hash64(tenant, strlen(tenant), 0x7e4a47);
	for (unsigned i = 0; i < e->ntenants; i++)
		if (e->tenants[i] == h)
			return;
	if (e->ntenants < FP_RECENT_TENANTS)
		e->tenants[e->ntenants++] = h;
}

void fp_recent_add(struct fp_recent *r, const struct fp_sig *sig, const char *tenant,
    size_t n_rcpts, int64_t now, struct fp_recent_seen *out)
{
	struct fp_match m;
	struct entry *e = NULL;

	pthread_mutex_lock(&r->mu);
	if (fp_index_lookup(r->ix, sig, FP_INDEX_THRESHOLD, &m, 1) > 0)
		e = &r->ring[(m.id - 1) % r->cap];
	if (e != NULL && now - e->first >= FP_RECENT_WINDOW) {
		/* A day has passed since its first copy: count afresh. */
		e->first = now;
		e->rcpts = 0;
		e->ntenants = 0;
	}
	if (e == NULL) {
		uint64_t id = r->next_id++;
		e = &r->ring[(id - 1) % r->cap];
		if (e->id != 0)
			fp_index_remove(r->ix, e->id);   /* the oldest makes room */
		memset(e, 0, sizeof(*e));
		if (fp_index_insert(r->ix, id, sig) == 0)
			e->id = id;
		e->first = now;
	}
	e->rcpts += n_rcpts;
	add_tenant(e, tenant);
	out->rcpts = e->rcpts;
	out->tenants = e->ntenants;
	out->first = e->first;
	pthread_mutex_unlock(&r->mu);
}
