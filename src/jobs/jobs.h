/*
 * jobs.h - the job table: every job's id, state, times and future,
 * whatever its kind (stockjob.h, searchjob.h make and run them).
 */
#ifndef SC_JOBS_H
#define SC_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/histo.h"

struct event_base;
struct job;
struct job_waiter;
struct jobs;
struct store;

enum job_state {
	JOB_QUEUED, JOB_RUNNING, JOB_SUCCEEDED, JOB_FAILED, JOB_CANCELED,
	JOB_NSTATES
};

struct jobs_config {
	unsigned	 max_pending;	/* unfinished stock symbols, server-wide */
	unsigned	 max_jobs;	/* finished jobs kept */
	unsigned	 job_ttl_s;	/* ... and for how long */
};

#define JOBS_KINDS	4

/* Since start, of one kind of job. */
struct jobs_kind_stats {
	const char	*type;		/* "stock", "armstrong" */
	uint64_t	 submitted;
	uint64_t	 finished[JOB_NSTATES];	/* by end state */
	struct histo	 duration;	/* created to finished, seconds */
};

struct jobs_stats {
	unsigned	jobs_by_state[JOB_NSTATES];
	unsigned	pending;	/* units of work not yet finished */
	uint64_t	created;	/* jobs created since start */
	unsigned	nkinds;
	struct jobs_kind_stats kinds[JOBS_KINDS];
};

/* The table on a store, with a timer that expires finished jobs. */
struct jobs	*jobs_new(struct event_base *, const struct jobs_config *,
		    struct store *);
/*
 * Start-up, once every kind's engine is made: the jobs in the store.
 * 0, or -1 with the reason in err.
 */
int		 jobs_load(struct jobs *, char *err, size_t errlen);
/* Then, once the kinds have looked at what is on disk: work resumes. */
void		 jobs_resume(struct jobs *);
/* fn runs once everything changed so far is committed to the store. */
typedef void	jobs_synced_fn(void *arg);
void		 jobs_sync(struct jobs *, jobs_synced_fn *, void *arg);
/* Queues every change not yet written (the last, at shutdown). */
void		 jobs_flush(struct jobs *);
struct job	*jobs_find(struct jobs *, uint64_t id);
/* Cancels: queued work never starts, running work aborts. */
void		 jobs_cancel(struct jobs *, struct job *);
void		 jobs_get_stats(struct jobs *, struct jobs_stats *);
/* Newest first; state < 0 for any; ids below `before` (0: from the top). */
struct job	*jobs_first(struct jobs *, int state, uint64_t before);
struct job	*jobs_next(struct jobs *, struct job *, int state);
/* Stop starting work, tell what runs to stop; pools are then shut down. */
void		 jobs_shutdown(struct jobs *);
/* Last, after the kinds: frees every job. */
void		 jobs_free(struct jobs *);
/* Idempotency: the job made by a request with this key, and its request. */
struct job	*jobs_find_idempotent(struct jobs *, const char *key,
		    const char **request);

uint64_t	 job_id(const struct job *);
uint64_t	 job_version(const struct job *);
int		 job_finished(const struct job *);
/* The job's kind, as its JSON "type" says it ("stock", "armstrong"). */
const char	*job_type(const struct job *);
const char	*job_state_name(int);
/* A state's number from its name, or -1. */
int		 job_state_parse(const char *);

/* What jobs_watch reports of a job: bits. */
#define JOB_EV_CREATED	0x1
#define JOB_EV_CHANGED	0x2
#define JOB_EV_FINISHED	0x4
#define JOB_EV_REMOVED	0x8
/*
 * Watching the whole table (one watcher): fn gets each job that was
 * created, changed or finished, at most once every `ms` for each, with
 * the bits of what happened since; and a job about to be removed
 * (expired) at once, while it can still be read. Jobs loaded at start
 * are not reported.
 */
typedef void	jobs_watch_fn(struct job *, unsigned events, void *arg);
void		 jobs_watch(struct jobs *, unsigned ms, jobs_watch_fn *,
		    void *arg);
/*
 * 1 if the job's id is q (decimal) or, for kinds with items, one of its
 * items' names contains q, ignoring case.
 */
int		 job_matches(const struct job *, const char *q);

/* A new job, or NULL and a negative errno, once the store has it. */
typedef void	job_created_fn(struct job *, int error, void *arg);

/* One-shot: fn runs at the job's next change (or finish). */
typedef void	job_change_fn(struct job *, void *arg);
struct job_waiter *job_wait(struct job *, job_change_fn *, void *arg);
void		 job_unwait(struct job_waiter *);

#endif
