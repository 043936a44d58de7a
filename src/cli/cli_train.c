/*
 * cli_train.c - `mailward train --spam|--ham FILE|DIR...`: teach the Bayes
 * classifier from messages on disk (R8, R20; docs/bayes.md); and
 * `mailward train --untrain FILE|DIR...`: forget messages learned before; and
 * `mailward train --reinforce FILE|DIR...`: after a training run, make the
 * learned messages that the store without them would misjudge count three
 * times (docs/bayes.md, "Reinforcement").  --status and --expire are in
 * cli_train_store.c.
 *
 * Messages go to the engine's trainer, which learns them in batches of one
 * store transaction each: a training run over thousands of messages pays a
 * few commits, not one per message.  A message already learned in the same
 * class is recognised by its digest and changes nothing ("already known"),
 * so running the same training twice is harmless; one learned in the other
 * class is moved.  The store is the server's (<data_dir>/mailward.db), so
 * training works while the server runs.
 *
 * Untraining takes each message out in its own transaction (it is for
 * correcting a few mistakes, not for bulk work); a message that was never
 * learned is named on stderr and counted, and changes nothing.
 *
 * Reinforcement checks every message against one state of the store and
 * applies what it found at the end, in one transaction per 500 messages.
 *
 * Exit status: 0 done, 1 (untrain) at least one message was not learned,
 * 2 bad usage, 3 a file could not be read (the others are processed) or a
 * storage error (the batch in progress is not learned).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "bayes/bayes_snapshot.h"
#include "cli/cli.h"
#include "conf/conf.h"
#include "score/score.h"
#include "store/store.h"

/* Messages per flush.  docs/bayes.md: a few hundred per transaction is
 * where the commit cost stops mattering.  Not above the trainer's own batch
 * (500), so after a storage error `pending` is exactly the lost batch. */
#define TRAIN_BATCH 500

struct train {
	struct score_trainer *t;
	int is_spam;
	size_t added;       /* messages handed to the trainer */
	size_t pending;     /* ... since the last flush */
	size_t learned;     /* newly learned (flush results) */
	size_t forgotten;   /* untrain: taken out */
	size_t not_learned; /* untrain, reinforce: were not in the store */
	size_t checked;     /* reinforce: learned messages checked */
	size_t before;      /* reinforce: counted more than once already */
	size_t untrained;   /* reinforce: no Bayes opinion without the message */
	size_t queued[2];   /* reinforce: queued ham, spam */
	int store_failed;
};

/* After a run that changed the counts: the token snapshot written next to
 * the store, which the next scan or server start maps instead of scanning
 * the store (bayes_snapshot.h).  It is a cache: failing to write it costs
 * only that speed, so it is a warning. */
void
cli_train_snapshot(const struct conf *c, struct store *st)
{
	char path[1024], err[256];
	struct bayes_snapshot *snap = NULL;

	conf_path(c, "bayes.snapshot", path, sizeof(path));
	if (bayes_snapshot_load(st, &snap, err, sizeof(err)) != 0 ||
	    bayes_snapshot_save(snap, path, err, sizeof(err)) != 0)
		fprintf(stderr, "mailward: warning: Bayes snapshot file not written: %s\n", err);
	bayes_snapshot_unref(snap);
}

/* The store and a trainer on it, for any of the three modes; NULL after
 * saying why. */
static struct store *
train_open(const struct conf *c, struct train *tr)
{
	struct store *st;

	memset(tr, 0, sizeof(*tr));
	if ((st = cli_store_open(c)) == NULL)
		return NULL;
	if ((tr->t = score_trainer_new(st)) == NULL) {
		cli_err("cannot set up the trainer");
		store_close(st);
		return NULL;
	}
	return st;
}

static int
train_flush(struct train *tr)
{
	int r = score_trainer_flush(tr->t);

	if (r < 0) {
		tr->store_failed = 1;
		return -1;
	}
	tr->learned += (size_t)r;
	tr->pending = 0;
	return 0;
}

static int
train_one(void *arg, const char *path, const char *data, size_t len)
{
	struct train *tr = arg;

	/* the trainer parses now (content.h: the input is borrowed for the
	 * call only), so the walker's buffer may be reused for the next file.
	 * It also flushes by itself when its own batch fills: a positive
	 * return is what that flush learned. */
	int r = score_trainer_add(tr->t, data, len, tr->is_spam);

	if (r < 0) {
		tr->store_failed = 1;
		return -1;
	}
	tr->learned += (size_t)r;
	tr->added++;
	if (++tr->pending >= TRAIN_BATCH)
		return train_flush(tr);
	return 0;
}

static int
untrain_one(void *arg, const char *path, const char *data, size_t len)
{
	struct train *tr = arg;
	int r = score_trainer_forget(tr->t, data, len);

	if (r < 0) {
		tr->store_failed = 1;
		return -1;
	}
	if (r == 1) {
		fprintf(stderr, "mailward: warning: %s: not learned, nothing to forget\n", path);
		tr->not_learned++;
	} else {
		tr->forgotten++;
	}
	return 0;
}

static int
reinforce_one(void *arg, const char *path, const char *data, size_t len)
{
	struct train *tr = arg;
	struct score_check ck;

	if (score_trainer_check(tr->t, data, len, &ck) < 0) {
		tr->store_failed = 1;
		return -1;
	}
	if (!ck.learned) {
		fprintf(stderr, "mailward: warning: %s: not learned, nothing to reinforce\n", path);
		tr->not_learned++;
		return 0;
	}
	tr->checked++;
	if (ck.weight > 1)
		tr->before++;
	else if (ck.untrained)
		tr->untrained++;
	else if (ck.queued)
		tr->queued[ck.is_spam != 0]++;
	return 0;
}

static int
cli_reinforce(const struct conf *c, char **paths, size_t npaths)
{
	struct train tr;
	struct store *st;
	int raised = 0;

	if ((st = train_open(c, &tr)) == NULL)
		return CLI_FAIL;
	struct cli_msg_walk w = { .message = reinforce_one, .unreadable = NULL, .arg = &tr };
	size_t unreadable = cli_msg_walk(&w, paths, npaths, NULL);
	int rc = CLI_OK;
	/* a storage error while checking: nothing is applied, the run can be
	 * repeated as a whole */
	if (!tr.store_failed && (raised = score_trainer_reinforce(tr.t)) < 0)
		tr.store_failed = 1;
	if (tr.store_failed) {
		cli_store_fail(st, "reinforcing");
		rc = CLI_FAIL;
		raised = 0;
	}
	printf("checked %zu, reinforced %d (%zu spam, %zu ham), %zu reinforced before, "
	    "%zu not learned", tr.checked, raised, tr.queued[1], tr.queued[0], tr.before, tr.not_learned);
	if (tr.untrained > 0)
		printf(", %zu without a Bayes opinion", tr.untrained);
	if (unreadable > 0) {
		printf(", %zu unreadable", unreadable);
		rc = CLI_FAIL;
	}
	fputc('\n', stdout);
	score_trainer_free(tr.t);
	if (raised > 0)
		cli_train_snapshot(c, st);
	store_close(st);
	return rc;
}

static int
cli_untrain(const struct conf *c, char **paths, size_t npaths)
{
	struct train tr;
	struct store *st;

	if ((st = train_open(c, &tr)) == NULL)
		return CLI_FAIL;
	struct cli_msg_walk w = { .message = untrain_one, .unreadable = NULL, .arg = &tr };
	size_t unreadable = cli_msg_walk(&w, paths, npaths, NULL);
	int rc = tr.not_learned > 0 ? CLI_NOTFOUND : CLI_OK;
	if (tr.store_failed) {
		cli_store_fail(st, "untraining");
		rc = CLI_FAIL;
	}
	printf("forgot %zu, %zu not learned", tr.forgotten, tr.not_learned);
	if (unreadable > 0) {
		printf(", %zu unreadable", unreadable);
		rc = CLI_FAIL;
	}
	fputc('\n', stdout);
	score_trainer_free(tr.t);   /* nothing pending: forget commits each message */
	if (tr.forgotten > 0)
		cli_train_snapshot(c, st);
	store_close(st);
	return rc;
}

int
cli_train(const struct conf *c, int argc, char **argv)
{
	static const char *const flags[] = { "--spam", "--ham", "--untrain", "--reinforce", NULL };
	enum { F_SPAM, F_HAM, F_UNTRAIN, F_REINFORCE };
	int set[4] = { 0, 0, 0, 0 };
	char **paths = NULL;
	size_t npaths = 0, unreadable;
	struct store *st;
	struct train tr;
	int r;

	/* --status and --expire are about the store, not messages */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--status") == 0 || strcmp(argv[i], "--expire") == 0)
			return cli_train_store(c, argc, argv);
	r = cli_msg_args(argc, argv, flags, set, &paths, &npaths);
	if (r != 0) {
		free(paths);
		if (r > 0) {
			cli_usage_group("train");
			return CLI_OK;
		}
		return CLI_USAGE;
	}
	int nset = set[F_SPAM] + set[F_HAM] + set[F_UNTRAIN] + set[F_REINFORCE];
	if (nset != 1 || npaths == 0) {
		free(paths);
		cli_err(nset > 1 ? "train: give one of --spam, --ham, --untrain and --reinforce" :
		    "usage: train --spam|--ham|--untrain|--reinforce FILE|DIR...");
		return CLI_USAGE;
	}
	if (set[F_REINFORCE]) {
		int rrc = cli_reinforce(c, paths, npaths);
		free(paths);
		return rrc;
	}
	if (set[F_UNTRAIN]) {
		int urc = cli_untrain(c, paths, npaths);
		free(paths);
		return urc;
	}
	if ((st = train_open(c, &tr)) == NULL) {
		free(paths);
		return CLI_FAIL;
	}
	tr.is_spam = set[F_SPAM];

	struct cli_msg_walk w = { .message = train_one, .unreadable = NULL, .arg = &tr };
	unreadable = cli_msg_walk(&w, paths, npaths, NULL);
	if (!tr.store_failed && tr.pending > 0)
		train_flush(&tr);

	int rc = CLI_OK;
	if (tr.store_failed) {
		/* batches are all or nothing: what was flushed before stays */
		cli_store_fail(st, "training");
		rc = CLI_FAIL;
	}
	/* learned + already known = what the trainer took; a failed batch is
	 * neither, so it is left out of both counts */
	size_t committed = tr.added - tr.pending;
	printf("learned %zu %s, %zu already known", tr.learned, tr.is_spam ? "spam" : "ham",
	    committed >= tr.learned ? committed - tr.learned : 0);
	if (unreadable > 0)
		printf(", %zu unreadable", unreadable);
	fputc('\n', stdout);
	if (unreadable > 0)
		rc = CLI_FAIL;
	/* the trainer flushes on free: nothing is pending here (flushed above,
	 * or the store failed and there is nothing more to commit) */
	score_trainer_free(tr.t);
	if (tr.learned > 0 && !tr.store_failed)
		cli_train_snapshot(c, st);
	store_close(st);
	free(paths);
	return rc;
}
