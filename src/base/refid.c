/* refid.c - see refid.h. */
#include "base/refid.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/util.h"

/* 30 symbols: no 0/O, 1/I/L, U (U reads as V on the phone). */
static const char ref_alphabet[] = "23456789ABCDEFGHJKMNPQRSTVWXYZ";
#define REF_ALPHA_N 30

struct refgen {
	uint64_t state[2];  /* xorshift128+; seeded from getrandom() */
};

static uint64_t refgen_rand(struct refgen *g)
{
	uint64_t s1 = g->state[0];
	const uint64_t s0 = g->state[1];
	g->state[0] = s0;
	s1 ^= s1 << 23;
	g->state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
	return g->state[1] + s0;
}

struct refgen *refgen_new(void)
{
	struct refgen *g = xcalloc(1, sizeof(*g));
	if (getrandom(g->state, sizeof(g->state), 0) != (ssize_t)sizeof(g->state)) {
		struct timeval tv;
		gettimeofday(&tv, NULL);
		g->state[0] = (uint64_t)tv.tv_sec * 1000003u ^ (uint64_t)tv.tv_usec;
		g->state[1] = (uint64_t)getpid() * 2654435761u;
	}
	if (g->state[0] == 0 && g->state[1] == 0)
		g->state[1] = 1;
	return g;
}

void refgen_free(struct refgen *g)
{
	free(g);
}

void refgen_next_ref(struct refgen *g, char *out)
{
	uint64_t r = refgen_rand(g);
	for (int i = 0, j = 0; i < 8; i++) {
		if (i == 4)
			out[j++] = '-';
		out[j++] = ref_alphabet[r % REF_ALPHA_N];
		r /= REF_ALPHA_N;
	}
	out[REFID_LEN] = '\0';
}

/* Queue ids sort by arrival: 7 base-36 digits of seconds, 4 of
 * microseconds, then a process-wide counter and the pid so two processes
 * (the server and a CLI) can never collide. */
static atomic_uint_fast64_t qid_counter;

static void b36(char *out, uint64_t v, int width)
{
	static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	for (int i = width - 1; i >= 0; i--) {
		out[i] = digits[v % 36];
		v /= 36;
	}
}

void refgen_next_qid(char *out)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	uint64_t c = atomic_fetch_add(&qid_counter, 1);
	b36(out, (uint64_t)tv.tv_sec, 7);
	b36(out + 7, (uint64_t)tv.tv_usec, 4);
	b36(out + 11, c, 5);
	b36(out + 16, (uint64_t)getpid(), 4);
	out[QID_LEN] = '\0';
}

int refid_parse(const char *s, char *out)
{
	char tmp[REFID_LEN + 1];
	int n = 0;
	for (const char *p = s; *p; p++) {
		char ch = *p;
		if (ch == '-' && n == 4 && p[1] != '\0')
			continue;
		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		if (n >= 8 || strchr(ref_alphabet, ch) == NULL || ch == '\0')
			return 0;
		tmp[n < 4 ? n : n + 1] = ch;
		n++;
	}
	if (n != 8)
		return 0;
	tmp[4] = '-';
	tmp[REFID_LEN] = '\0';
	if (out)
		memcpy(out, tmp, REFID_LEN + 1);
	return 1;
}
