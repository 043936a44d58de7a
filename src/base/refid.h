/*
 * refid.h - reference ids and queue ids.
 *
 * A ref id is what a human reads out over the phone: 8 characters from an
 * alphabet without look-alikes (no 0/O, 1/I/L, U), shown as XXXX-XXXX.
 * A queue id names a spool file: time-ordered, unique per process start
 * (seconds, microseconds, counter, pid), [0-9A-Z] only.
 */
#ifndef MW_BASE_REFID_H
#define MW_BASE_REFID_H

#include <stddef.h>
#include <stdint.h>

#define REFID_LEN 9  /* "XXXX-XXXX" */
#define QID_LEN 20

struct refgen; /* owned by whoever runs a listener; not thread-safe */

struct refgen *refgen_new(void);
void refgen_free(struct refgen *g);
/* out must hold REFID_LEN + 1 bytes. */
void refgen_next_ref(struct refgen *g, char *out);
/* out must hold QID_LEN + 1 bytes. Thread-safe (atomic counter). */
void refgen_next_qid(char *out);
/* 1 if s looks like a ref id (case-insensitive, dash optional). Writes the
 * canonical form into out (REFID_LEN + 1) when out != NULL. */
int refid_parse(const char *s, char *out);

#endif
