/*
 * store.c - the job store's front: the spec, the queue of transactions
 * and the store thread that commits them in groups.
 *
 * The loop fills a transaction with copies of its rows and queues it.
 * The store thread takes everything queued at once and hands it to the
 * backend as one database transaction, so a burst of submissions costs
 * one commit (one fsync with STORE_SYNC_FULL). When a group fails, each
 * of its transactions is tried once more alone, so that one bad
 * transaction (a duplicate idempotency key) does not fail the others.
 * Every transaction then goes back to the loop through the completion
 * queue, in the order it was queued, and its done callback runs there.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "jobs/store.h"
#include "jobs/store_int.h"
#include "lib/compq.h"
#include "lib/log.h"
#include "lib/mono.h"
#include "lib/xmalloc.h"

TAILQ_HEAD(store_txns, store_txn);

struct store {
	const struct store_backend	*be;
	void				*handle;
	struct compq			*cq;

	pthread_mutex_t			 lock;
	pthread_cond_t			 wake;
	struct store_txns		 queue;
	unsigned			 queued;
	int				 stopping;
	pthread_t			 thread;

	/* The store thread's alone. */
	struct store_txn		**group;
	size_t				 groupcap;

	/* Under lock. */
	uint64_t			 commits;
	uint64_t			 txns;
	uint64_t			 failures;
	double				 last_commit_ms;
	struct histo			 commit_time;	/* per group, s */
};

/* What a spec may be, in this build. */
#if defined(HAVE_SQLITE) && defined(HAVE_POSTGRESQL)
#define STORE_SPECS	"memory, sqlite:PATH or postgresql://..."
#elif defined(HAVE_SQLITE)
#define STORE_SPECS	"memory or sqlite:PATH"
#elif defined(HAVE_POSTGRESQL)
#define STORE_SPECS	"memory or postgresql://..."
#else
#define STORE_SPECS	"memory"
#endif

/* Finds the backend a spec names and the path after its "name:". */
static int
store_parse(const char *spec, const struct store_backend **be,
    const char **path, char *err, size_t errlen)
{
	if (spec == NULL)
		spec = "";
	if (strcmp(spec, "memory") == 0) {
		*be = &store_memory_backend;
		*path = NULL;
		return 0;
	}
	if (strncmp(spec, "sqlite:", 7) == 0) {
#ifdef HAVE_SQLITE
		if (spec[7] == '\0') {
			snprintf(err, errlen, "store \"%s\": no path "
			    "(sqlite:PATH, such as sqlite:/var/lib/stockcam/"
			    "jobs.db)", spec);
			return -1;
		}
		*be = &store_sqlite_backend;
		*path = spec + 7;
		return 0;
#else
		snprintf(err, errlen, "store \"%s\": this stockcam was built "
		    "without SQLite (configured --without-sqlite); only "
		    "\"memory\" is available", spec);
		return -1;
#endif
	}
	if (strncmp(spec, "postgresql://", 13) == 0 ||
	    strncmp(spec, "postgres://", 11) == 0) {
#ifdef HAVE_POSTGRESQL
		*be = &store_pg_backend;
		*path = spec;	/* the whole URI, for libpq */
		return 0;
#else
		snprintf(err, errlen, "this stockcam was built without "
		    "PostgreSQL (configured --without-postgresql)");
		return -1;
#endif
	}
	snprintf(err, errlen, "unknown store \"%s\": use %s", spec,
	    STORE_SPECS);
	return -1;
}

char *
store_spec_shown(const char *spec)
{
	const char	*host, *end, *at, *colon, *pw;
	char		*s, *t;
	size_t		 n;

	s = xstrdup(spec);
	/* scheme://user:PASSWORD@host... */
	if ((host = strstr(s, "://")) != NULL) {
		host += 3;
		end = host + strcspn(host, "/?#");
		at = memrchr(host, '@', (size_t)(end - host));
		colon = at != NULL ? memchr(host, ':', (size_t)(at - host)) :
		    NULL;
		if (colon != NULL) {
			xasprintf(&t, "%.*s:***%s", (int)(colon - s), s, at);
			free(s);
			s = t;
		}
	}
	/* ...?password=PASSWORD&... */
	if ((pw = strstr(s, "password=")) != NULL) {
		pw += 9;
		n = strcspn(pw, "&");
		xasprintf(&t, "%.*s***%s", (int)(pw - s), s, pw + n);
		free(s);
		s = t;
	}
	return s;
}

int
store_spec_ok(const char *spec, char *err, size_t errlen)
{
	const struct store_backend	*be;
	const char			*path;

	return store_parse(spec, &be, &path, err, errlen);
}

/* A copy of a string that may be NULL, kept in op->str[slot]. */
static const char *
store_keep(struct store_op *op, int slot, const char *s)
{
	if (s == NULL)
		return NULL;
	return op->str[slot] = xstrdup(s);
}

static void
store_op_free(struct store_op *op)
{
	size_t	i;

	for (i = 0; i < sizeof op->str / sizeof op->str[0]; i++)
		free(op->str[i]);
	free(op);
}

static void
store_ops_clear(struct store_txn *txn)
{
	struct store_op	*op;

	while ((op = STAILQ_FIRST(&txn->ops)) != NULL) {
		STAILQ_REMOVE_HEAD(&txn->ops, entry);
		store_op_free(op);
	}
}

/* Loop thread, from the completion queue: the outcome to its caller. */
static void
store_txn_done(struct compq_item *citem)
{
	struct store_txn	*txn = (struct store_txn *)citem;

	if (txn->done != NULL)
		txn->done(txn->arg, txn->error,
		    txn->error == 0 ? txn->id : 0);
	free(txn);
}

/* Store thread: commits one group, then sends each of it to the loop. */
static void
store_run_group(struct store *s, struct store_txns *group)
{
	struct store_txn	*txn;
	struct timespec		 t0 = mono_now();
	size_t			 n = 0, i;
	uint64_t		 commits = 0, total = 0, failed = 0;
	int			 error;

	TAILQ_FOREACH(txn, group, entry) {
		total++;
		if (txn->error != 0)
			continue;	/* refused when it was filled */
		if (n == s->groupcap) {
			s->groupcap = s->groupcap == 0 ? 64 : s->groupcap * 2;
			s->group = xreallocarray(s->group, s->groupcap,
			    sizeof *s->group);
		}
		s->group[n++] = txn;
	}

	if (n > 0) {
		error = s->be->commit(s->handle, s->group, n);
		if (error == 0)
			commits++;
		else if (n == 1)
			s->group[0]->error = error;
		else {
			for (i = 0; i < n; i++) {
				txn = s->group[i];
				txn->id = 0;
				txn->error = s->be->commit(s->handle, &txn, 1);
				if (txn->error == 0)
					commits++;
			}
		}
	}

	TAILQ_FOREACH(txn, group, entry) {
		if (txn->error != 0) {
			txn->id = 0;
			failed++;
		}
	}
	pthread_mutex_lock(&s->lock);
	s->commits += commits;
	s->txns += total;
	s->failures += failed;
	s->last_commit_ms = (double)mono_since_ns(&t0) / 1e6;
	if (n > 0)
		histo_observe(&s->commit_time, s->last_commit_ms / 1e3);
	pthread_mutex_unlock(&s->lock);

	while ((txn = TAILQ_FIRST(group)) != NULL) {
		TAILQ_REMOVE(group, txn, entry);
		store_ops_clear(txn);
		txn->citem.fn = store_txn_done;
		compq_push(s->cq, &txn->citem);
	}
}

static void *
store_main(void *arg)
{
	struct store		*s = arg;
	struct store_txns	 group;
	sigset_t		 all;

	/* Signals are loop events; keep them away from this thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);

	TAILQ_INIT(&group);
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (TAILQ_EMPTY(&s->queue) && !s->stopping)
			pthread_cond_wait(&s->wake, &s->lock);
		if (TAILQ_EMPTY(&s->queue))
			break;		/* stopping and nothing left */
		TAILQ_CONCAT(&group, &s->queue, entry);
		s->queued = 0;
		pthread_mutex_unlock(&s->lock);

		store_run_group(s, &group);

		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

struct store *
store_open(const struct store_config *cfg, struct compq *cq, char *err,
    size_t errlen)
{
	const struct store_backend	*be;
	const char			*path;
	struct store			*s;
	void				*handle;
	int				 error;

	if (store_parse(cfg->spec, &be, &path, err, errlen) != 0)
		return NULL;
	if ((handle = be->open(path, cfg->sync, err, errlen)) == NULL)
		return NULL;

	s = xcalloc(1, sizeof *s);
	histo_init(&s->commit_time, histo_step_s, HISTO_STEP_N);
	s->be = be;
	s->handle = handle;
	s->cq = cq;
	TAILQ_INIT(&s->queue);
	if (pthread_mutex_init(&s->lock, NULL) != 0 ||
	    pthread_cond_init(&s->wake, NULL) != 0)
		fatalx("store: cannot initialise locks");
	if ((error = pthread_create(&s->thread, NULL, store_main, s)) != 0) {
		errno = error;
		fatal("store: pthread_create");
	}
	pthread_setname_np(s->thread, "store");
	return s;
}

int
store_load(struct store *s, store_job_fn *job_fn, store_item_fn *item_fn,
    void *arg, char *err, size_t errlen)
{
	return s->be->load(s->handle, job_fn, item_fn, arg, err, errlen);
}

struct store_txn *
store_begin(struct store *s)
{
	struct store_txn	*txn;

	txn = xcalloc(1, sizeof *txn);
	txn->store = s;
	STAILQ_INIT(&txn->ops);
	return txn;
}

void
store_put_job(struct store_txn *txn, const struct store_job *job)
{
	struct store_op	*op;

	if (job->type == NULL || (job->spec == NULL && job->id == 0) ||
	    (job->id == 0 && txn->inserts > 0)) {
		txn->error = -EINVAL;
		return;
	}
	if (job->id == 0)
		txn->inserts++;
	op = xcalloc(1, sizeof *op);
	op->kind = STORE_OP_PUT_JOB;
	op->job = *job;
	op->job.type = store_keep(op, 0, job->type);
	op->job.idem_key = store_keep(op, 1, job->idem_key);
	op->job.idem_request = store_keep(op, 2, job->idem_request);
	op->job.spec = store_keep(op, 3, job->spec);
	STAILQ_INSERT_TAIL(&txn->ops, op, entry);
}

void
store_put_item(struct store_txn *txn, const struct store_item *item)
{
	struct store_op	*op;

	if (item->data == NULL) {
		txn->error = -EINVAL;
		return;
	}
	op = xcalloc(1, sizeof *op);
	op->kind = STORE_OP_PUT_ITEM;
	op->item = *item;
	op->item.data = store_keep(op, 0, item->data);
	STAILQ_INSERT_TAIL(&txn->ops, op, entry);
}

void
store_delete_job(struct store_txn *txn, uint64_t id)
{
	struct store_op	*op;

	if (id == 0) {
		txn->error = -EINVAL;
		return;
	}
	op = xcalloc(1, sizeof *op);
	op->kind = STORE_OP_DELETE_JOB;
	op->id = id;
	STAILQ_INSERT_TAIL(&txn->ops, op, entry);
}

void
store_commit(struct store_txn *txn, store_done_fn *done, void *arg)
{
	struct store	*s = txn->store;

	txn->done = done;
	txn->arg = arg;
	txn->store = NULL;
	pthread_mutex_lock(&s->lock);
	TAILQ_INSERT_TAIL(&s->queue, txn, entry);
	s->queued++;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

void
store_get_stats(struct store *s, struct store_stats *st)
{
	memset(st, 0, sizeof *st);
	pthread_mutex_lock(&s->lock);
	st->commits = s->commits;
	st->txns = s->txns;
	st->failures = s->failures;
	st->queued = s->queued;
	st->last_commit_ms = s->last_commit_ms;
	st->commit_time = s->commit_time;
	pthread_mutex_unlock(&s->lock);
}

void
store_close(struct store *s)
{
	int	error;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	if ((error = pthread_join(s->thread, NULL)) != 0) {
		errno = error;
		fatal("store: pthread_join");
	}
	s->be->close(s->handle);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s->group);
	free(s);
}
