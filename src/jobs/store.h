/*
 * store.h - where jobs outlive the process: a small interface over a
 * backend ("memory"; "sqlite:PATH"; "postgresql://...").
 *
 * The loop thread never waits on the disk. It fills a transaction (a job
 * row, item rows, deletions), queues it, and goes on; a store thread of
 * its own commits whatever is queued in one database transaction (group
 * commit: many submissions and state changes per commit) and each
 * transaction's done callback then runs on the loop, through the
 * completion queue. Loading happens once, at start-up, before the loop.
 *
 * Rows are kind-neutral: a job is its id, type, state, times, cancel
 * flag, idempotency key and the kind's own description (`spec`, JSON
 * text); an item is one unit of its work (a symbol, a chunk) with the
 * kind's state of it (`data`, JSON text). The store never reads spec or
 * data; nothing here is particular to SQLite.
 */
#ifndef SC_STORE_H
#define SC_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/histo.h"

struct compq;
struct store;
struct store_txn;

/* A job's row. Strings are copied by store_put_job. */
struct store_job {
	uint64_t	 id;		/* 0: a new job, the store gives its id */
	const char	*type;		/* "stock", "armstrong" */
	int		 state;		/* enum job_state */
	int		 cancel;
	int64_t		 created_ms;	/* wall clock, ms since the epoch; */
	int64_t		 started_ms;	/* 0: not yet */
	int64_t		 finished_ms;
	const char	*idem_key;	/* NULL: none */
	const char	*idem_request;
	const char	*spec;		/* the kind's description; NULL when
					 * updating a job: type and spec kept */
	uint64_t	 version;	/* the job's version when written */
};

/* One unit of a job's work. Strings are copied by store_put_item. */
struct store_item {
	uint64_t	 job;		/* 0: the job this transaction inserts */
	uint32_t	 index;		/* 0.. within the job */
	const char	*data;		/* the kind's state of it, never NULL */
};

enum store_sync {
	STORE_SYNC_NORMAL,	/* nothing committed is lost if the process dies */
	STORE_SYNC_FULL,	/* ... nor on power loss */
};

struct store_config {
	const char	*spec;		/* "memory" or "sqlite:PATH" */
	enum store_sync	 sync;
};

struct store_stats {
	uint64_t	commits;	/* database transactions committed */
	uint64_t	txns;		/* transactions of the loop handled */
	uint64_t	failures;	/* transactions that failed */
	unsigned	queued;		/* waiting for the next commit */
	double		last_commit_ms;	/* the last group, retries included */
	struct histo	commit_time;	/* per group committed, seconds */
};

/*
 * Called once per job at load, oldest first, then once per item of
 * every job (all jobs before all items, items by job and index). The
 * row's strings live only during the call. Return 0 to go on, or -1
 * with a reason in err to stop the load (store_load then fails with
 * that reason: err is store_load's own buffer).
 */
typedef int	store_job_fn(const struct store_job *, void *arg, char *err,
		    size_t errlen);
typedef int	store_item_fn(const struct store_item *, void *arg, char *err,
		    size_t errlen);
/*
 * Loop thread, after the commit: error is 0 or a negative errno
 * (-ENOSPC for a full disk, -EIO, -EBUSY when another writer held the
 * database too long, -EEXIST for a duplicate idempotency key, -EINVAL
 * for a transaction that makes no sense, such as an item of job 0 with
 * no job inserted), id the id of the job the transaction inserted (0
 * if none, or on error).
 */
typedef void	store_done_fn(void *arg, int error, uint64_t id);

/* 0 if spec names a backend this build has ("memory", "sqlite:PATH"), else
 * -1 with the reason in err. */
int		 store_spec_ok(const char *spec, char *err, size_t errlen);
/* The spec as it may be shown (logs, messages): a password in it is
 * replaced by ***. Free it. */
char		*store_spec_shown(const char *spec);
/*
 * Opens the store, creating it or migrating its schema forward, and
 * starts its thread. NULL with the reason in err when it cannot be
 * opened, is not a database or is corrupt, has a newer schema than this
 * build knows, or is in use by another running process.
 */
struct store	*store_open(const struct store_config *, struct compq *,
		    char *err, size_t errlen);
/*
 * Start-up, before the loop runs and before any store_commit: every job
 * and item. 0, or -1 and err.
 */
int		 store_load(struct store *, store_job_fn *, store_item_fn *,
		    void *arg, char *err, size_t errlen);

/* Loop thread: a new, empty transaction. */
struct store_txn *store_begin(struct store *);
/*
 * Inserts (id 0, at most one a transaction: a second fails the
 * transaction with -EINVAL) or replaces a job's row; with spec NULL,
 * updates an existing job's state, times, cancel, idempotency and
 * version, keeping its type and spec.
 */
void		 store_put_job(struct store_txn *, const struct store_job *);
/* Inserts or replaces an item's row. */
void		 store_put_item(struct store_txn *, const struct store_item *);
/* Deletes a job and its items. */
void		 store_delete_job(struct store_txn *, uint64_t id);
/*
 * Queues the transaction for the next group commit; done (may be NULL)
 * runs on the loop once it is committed or has failed. The transaction
 * is the store's from here on.
 */
void		 store_commit(struct store_txn *, store_done_fn *, void *arg);
/* Any thread: the figures so far. */
void		 store_get_stats(struct store *, struct store_stats *);
/*
 * Loop thread: commits what is queued, stops the thread and closes. The
 * last done callbacks are pushed to the completion queue and run only
 * when the caller drains it (compq_drain) after this returns; they
 * must not use the store. NULL is ignored.
 */
void		 store_close(struct store *);

#endif
