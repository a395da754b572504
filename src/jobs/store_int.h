/*
 * store_int.h - what the store's front (store.c) and its backends
 * (store_memory.c, store_sqlite.c) share: a queued transaction with its
 * own copies of the rows, and the ops table a backend fills in.
 */
#ifndef SC_STORE_INT_H
#define SC_STORE_INT_H

#include <sys/queue.h>

#include "jobs/store.h"
#include "lib/compq.h"

enum store_op_kind {
	STORE_OP_PUT_JOB,
	STORE_OP_PUT_ITEM,
	STORE_OP_DELETE_JOB,
};

/*
 * One change. The strings of job and item point to the op's own copies
 * in str, which are freed with it.
 */
struct store_op {
	STAILQ_ENTRY(store_op)	 entry;
	enum store_op_kind	 kind;
	struct store_job	 job;		/* STORE_OP_PUT_JOB */
	struct store_item	 item;		/* STORE_OP_PUT_ITEM */
	uint64_t		 id;		/* STORE_OP_DELETE_JOB */
	char			*str[4];
};
STAILQ_HEAD(store_ops, store_op);

struct store_txn {
	struct compq_item	 citem;		/* first: the completion */
	TAILQ_ENTRY(store_txn)	 entry;
	struct store		*store;		/* NULL once queued */
	struct store_ops	 ops;
	unsigned		 inserts;	/* jobs of id 0 in ops */
	int			 error;		/* the outcome, or a misuse */
	uint64_t		 id;		/* the job it inserted */
	store_done_fn		*done;
	void			*arg;
};

/*
 * A backend. Its functions run on one thread at a time: open, load and
 * close on the caller's, commit on the store thread.
 */
struct store_backend {
	const char	*name;
	/* The backend's handle for what follows the "name:" of the spec. */
	void		*(*open)(const char *path, enum store_sync,
			    char *err, size_t errlen);
	/* Every row, oldest job first, then the items: 0 or -1 and err. */
	int		 (*load)(void *, store_job_fn *, store_item_fn *,
			    void *arg, char *err, size_t errlen);
	/*
	 * The n transactions in one database transaction, all or none: 0
	 * with each txn->id set to the job it inserted, or a negative
	 * errno with nothing changed.
	 */
	int		 (*commit)(void *, struct store_txn **, size_t n);
	void		 (*close)(void *);
};

/* Keeps no rows. */
extern const struct store_backend store_memory_backend;
#ifdef HAVE_POSTGRESQL
/* A PostgreSQL database. */
extern const struct store_backend store_pg_backend;
#endif
#ifdef HAVE_SQLITE
/* A file of SQLite. */
extern const struct store_backend store_sqlite_backend;
#endif

#endif
