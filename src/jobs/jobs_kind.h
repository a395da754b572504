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
	/* Frees job->data. */
	void		(*free)(struct job *);
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
};

/* 0 if `units` more pending work fits under max_pending, else -EAGAIN. */
int		 jobs_admit(struct jobs *, unsigned units);
/* A new queued job holding `units` of pending work (admitted first). */
struct job	*job_new(struct jobs *, const struct job_kind *, void *data,
		    unsigned units);
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
/* The loop's cached wall-clock time. */
void		 jobs_now(struct jobs *, struct timeval *);

#endif
