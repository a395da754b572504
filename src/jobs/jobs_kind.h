/*
 * jobs_kind.h - what a kind of job (stock symbols, Armstrong searches)
 * is to the job table, and the table's side of it.
 *
 * The table (jobs.c) keeps ids, states, times, listing, waiters, expiry
 * and idempotency for every job, and knows no kind: each job points to
 * its kind's ops table and keeps the kind's own record behind job->data.
 * Only the files of src/jobs/ include this; the rest see jobs.h.
 */
#ifndef SC_JOBS_KIND_H
#define SC_JOBS_KIND_H

#include <sys/queue.h>
#include <sys/time.h>
#include <stdint.h>

#include <jansson.h>

#include "jobs/jobs.h"

struct job_waiter;
struct store_txn;

struct job_kind {
	const char	*name;		/* the job's "type" in its JSON */
	/* The job was canceled: queued work never starts, running aborts. */
	void		(*cancel)(struct job *);
	/* The server stops: tell the job's running work to give up. */
	void		(*shutdown)(struct job *);
	/*
	 * 0 while work of the job is left to run or to come back; else the
	 * state it ends in, JOB_SUCCEEDED or JOB_FAILED (a canceled job
	 * ends canceled whatever this says).
	 */
	enum job_state	(*settled)(const struct job *);
	/* Adds the kind's fields to the job's JSON (detail: every item). */
	void		(*json)(const struct job *, json_t *obj, int detail);
	/*
	 * Adds to obj the items that changed since the last call (stock:
	 * "symbols") and forgets them; NULL for kinds without items.
	 */
	void		(*changes)(struct job *, json_t *obj);
	/* 1 if an item's name contains q, ignoring case; NULL: none. */
	int		(*matches)(const struct job *, const char *q);
	/* Frees job->data. */
	void		(*free)(struct job *);
	/* The new job is stored (job->id is known): its work may start. */
	void		(*begin)(struct job *);
	/* A record given to job_create whose job was never stored. */
	void		(*drop)(void *data);
	/*
	 * Writes the rows of the job's items that changed since the last
	 * save (all of them with all set, after a failed save) into txn.
	 */
	void		(*save)(struct job *, struct store_txn *, int all);
	/*
	 * Start-up: job->data from the spec the job was created with, then
	 * each item row written for it. 0, or -1 with the reason in err.
	 */
	int		(*restore)(void *engine, struct job *, const char *spec,
			    char *err, size_t errlen);
	int		(*restore_item)(struct job *, uint32_t index,
			    const char *data, char *err, size_t errlen);
	/* After every job is loaded: an unfinished job takes up its work. */
	void		(*resume)(struct job *);
};

/* The record every job has, whatever its kind. Loop thread only. */
struct job {
	TAILQ_ENTRY(job)	 all;		/* newest first */
	TAILQ_ENTRY(job)	 done;		/* finished, oldest first */
	LIST_ENTRY(job)		 bucket;
	LIST_HEAD(, job_waiter)	 waiters;
	struct jobs		*jobs;
	const struct job_kind	*kind;
	void			*data;		/* the kind's record */
	uint64_t		 id;
	uint64_t		 version;
	enum job_state		 state;
	int			 cancel;
	unsigned		 units;		/* still held of max_pending */
	struct timeval		 created, started, finished;
	char			*idem_key;
	char			*idem_request;
	TAILQ_ENTRY(job)	 dirty_entry;	/* in jobs->dirty */
	int			 dirty;		/* its row is to be written */
	int			 save_all;	/* a save failed: write it all */
	TAILQ_ENTRY(job)	 watch_entry;	/* in jobs->watched */
	unsigned		 watch_events;	/* JOB_EV_* not yet reported */
};


/* The kind's engine, for jobs of its type found in the store at start. */
void		 jobs_add_kind(struct jobs *, const struct job_kind *,
		    void *engine);
/*
 * A new queued job of `units` pending work, `data` its kind's record and
 * `spec` the description it is restored from: -EAGAIN at once when the
 * server holds its limit of pending work; else 0, and fn gets the job
 * (with its id, after the kind's begin) once the store has committed it
 * with its idempotency key (NULL: none), or NULL and the store's error
 * (-EEXIST: the key is taken; data then went to the kind's drop). On
 * -EAGAIN data is still the caller's.
 */
int		 job_create(struct jobs *, const struct job_kind *, void *data,
		    unsigned units, const char *spec, const char *idem_key,
		    const char *idem_request, job_created_fn *fn, void *arg);
/* The job's row is to be written (with its changed items) soon. */
void		 job_dirty(struct job *);
/* After any change: a new version, waiters told, and the end noticed. */
void		 job_update(struct job *);
/* A new version, waiters told, nothing else (progress inside a step). */
void		 job_changed(struct job *);
/* The first piece of work began: queued -> running. */
void		 job_start(struct job *);
/* Gives back n units of pending work (the rest goes when it ends). */
void		 job_release(struct job *, unsigned n);
/* After jobs_shutdown: no new work may start. */
int		 jobs_stopping(const struct jobs *);
/* The loop the table runs on, for an engine's own timers. */
struct event_base *jobs_base(const struct jobs *);
/* The loop's cached wall-clock time. */
void		 jobs_now(struct jobs *, struct timeval *);

#endif
