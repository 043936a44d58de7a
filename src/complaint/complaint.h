/*
 * complaint.h - a complaint report in, counted against the sender it is
 * about (R11, docs/complaints.md).
 *
 * complaint_ingest() parses the report (arf.h), stores it (store_complaint:
 * malformed ones too, so an administrator can list what arrived), and
 * matches it to the original transaction: our ref id in the embedded
 * headers, else its Message-ID in the message log, else the original's
 * content fingerprints.  A matched complaint counts against the identities
 * of the original transaction (reputation.h: IP, network, domain+network -
 * taken from our own log, never from the report's forgeable headers) and
 * against the original's fingerprints.  A report with the digest of one
 * already stored counts once: the second is recorded as a duplicate and
 * counts nothing.  Feedback type "not-spam" is stored and shown but counts
 * no complaint.  One report counts one complaint (Incidents is the
 * reporter's claim), half of one when only the Message-ID matched (the
 * sender's own choice, often public), and an original never draws more
 * counted complaints than it had recipients here.
 *
 * Used by the scan threads (complaints arriving by SMTP at [complaint]
 * address) and by `mailward complaint import`, each with its own store
 * handle.
 */
#ifndef MW_COMPLAINT_COMPLAINT_H
#define MW_COMPLAINT_COMPLAINT_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct fp_memory;

struct complaint_env {
	struct store *s;
	struct fp_memory *fpm;    /* may be NULL: no fingerprint matching or counting */
	int64_t half_life;        /* [reputation] half_life */
	int64_t now;
	const char *source;       /* "smtp" | "cli" */
	const char *ref;          /* the intake's own ref (SMTP) or NULL */
	int dry_run;              /* parse and match only: nothing stored or counted */
};

/* Why a matched report counted nothing (docs/reputation.md). */
#define COMPLAINT_CAPPED_RECIPIENTS 1   /* as many complaints as recipients */
#define COMPLAINT_CAPPED_MESSAGE_ID 2   /* a Message-ID-only match counted */

struct complaint_result {
	int64_t id;               /* the stored row; 0 when dry_run or duplicate */
	int duplicate;            /* the same report was stored before */
	int counted;              /* counted against the sender and fingerprints */
	int capped;               /* not counted, COMPLAINT_CAPPED_*, else 0 */
	int fingerprints;         /* fingerprint rows counted */
	char kind[16];            /* "arf" "not-arf" "none" */
	char flags[256];
	char feedback_type[64];
	char match[16];           /* "ref" "message-id" "fingerprint" "none" */
	char matched_ref[32];
	char client_ip[64];
	char sender[320];
	char subject[256];
};

/* 0, or -1 on a storage error (nothing counted; message in store_error()). */
int complaint_ingest(const struct complaint_env *env, const char *data, size_t len,
    struct complaint_result *out);

#endif
