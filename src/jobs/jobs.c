/*
 * jobs.c - the job table.
 *
 * Every job, whatever its kind, has a record here: its id (never given
 * twice in a run), state, version and times, the clients waiting for
 * its next change, and its idempotency key. Finished jobs are kept for
 * --job-ttl, at most --max-jobs of them, then dropped. What a job does
 * is its kind's business (jobs_kind.h): the table calls the kind's ops to
 * cancel, stop, judge and free it, and knows nothing else of it.
 *
 * The loop thread owns all of it; nothing here blocks.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/time.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "jobs/jobs.h"
#include "jobs/jobs_kind.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

#define JOBS_BUCKETS	1024

static const char *const jobs_state_names[JOB_NSTATES] = {
	"queued", "running", "succeeded", "failed", "canceled"
};

struct job_waiter {
	LIST_ENTRY(job_waiter)	 entry;
	struct job		*job;
	job_change_fn		*fn;
	void			*arg;
};

TAILQ_HEAD(job_list, job);

struct jobs {
	struct event_base	*base;
	struct jobs_config	 cfg;
	struct job_list		 all;		/* newest first */
	struct job_list		 done;		/* finished, oldest first */
	LIST_HEAD(, job)	 buckets[JOBS_BUCKETS];
	uint64_t		 next_id;
	unsigned		 pending;	/* units held by unfinished jobs */
	unsigned		 njobs[JOB_NSTATES];
	int			 stopping;
	struct event		*expiry;
};

/* --- one job --- */

uint64_t
job_id(const struct job *job)
{
	return job->id;
}

uint64_t
job_version(const struct job *job)
{
	return job->version;
}

int
job_finished(const struct job *job)
{
	return job->state >= JOB_SUCCEEDED;
}

const char *
job_type(const struct job *job)
{
	return job->kind->name;
}

const char *
job_state_name(int st)
{
	return st >= 0 && st < JOB_NSTATES ? jobs_state_names[st] : "?";
}

int
job_state_parse(const char *name)
{
	int	i;

	for (i = 0; i < JOB_NSTATES; i++) {
		if (strcmp(name, jobs_state_names[i]) == 0)
			return i;
	}
	return -1;
}

void
job_set_idempotency(struct job *job, const char *key, const char *request)
{
	job->idem_key = xstrdup(key);
	job->idem_request = xstrdup(request);
}

static void
job_set_state(struct job *job, enum job_state st)
{
	job->jobs->njobs[job->state]--;
	job->jobs->njobs[st]++;
	job->state = st;
}

struct job *
job_new(struct jobs *js, const struct job_kind *kind, void *data,
    unsigned units)
{
	struct job	*job;

	job = xcalloc(1, sizeof *job);
	job->jobs = js;
	job->kind = kind;
	job->data = data;
	job->id = js->next_id++;
	job->version = 1;
	job->state = JOB_QUEUED;
	job->units = units;
	js->pending += units;
	js->njobs[JOB_QUEUED]++;
	LIST_INIT(&job->waiters);
	jobs_now(js, &job->created);
	TAILQ_INSERT_HEAD(&js->all, job, all);
	LIST_INSERT_HEAD(&js->buckets[job->id % JOBS_BUCKETS], job, bucket);
	return job;
}

static void
job_free(struct job *job)
{
	struct jobs		*js = job->jobs;
	struct job_waiter	*w;

	while ((w = LIST_FIRST(&job->waiters)) != NULL) {
		LIST_REMOVE(w, entry);
		free(w);
	}
	TAILQ_REMOVE(&js->all, job, all);
	if (job_finished(job))
		TAILQ_REMOVE(&js->done, job, done);
	LIST_REMOVE(job, bucket);
	js->njobs[job->state]--;
	js->pending -= job->units;
	job->kind->free(job);
	free(job->idem_key);
	free(job->idem_request);
	free(job);
}

void
job_start(struct job *job)
{
	if (job->state == JOB_QUEUED) {
		job_set_state(job, JOB_RUNNING);
		jobs_now(job->jobs, &job->started);
	}
}

void
job_release(struct job *job, unsigned n)
{
	if (n > job->units)
		fatalx("job %llu: releases more than it holds",
		    (unsigned long long)job->id);
	job->units -= n;
	job->jobs->pending -= n;
}

void
job_changed(struct job *job)
{
	struct job_waiter	*w;

	job->version++;
	while ((w = LIST_FIRST(&job->waiters)) != NULL) {
		LIST_REMOVE(w, entry);
		w->fn(job, w->arg);
		free(w);
	}
}

struct job_waiter *
job_wait(struct job *job, job_change_fn *fn, void *arg)
{
	struct job_waiter	*w;

	w = xcalloc(1, sizeof *w);
	w->job = job;
	w->fn = fn;
	w->arg = arg;
	LIST_INSERT_HEAD(&job->waiters, w, entry);
	return w;
}

void
job_unwait(struct job_waiter *w)
{
	LIST_REMOVE(w, entry);
	free(w);
}

/* --- the table --- */

void
jobs_now(struct jobs *js, struct timeval *tv)
{
	event_base_gettimeofday_cached(js->base, tv);
}

int
jobs_stopping(const struct jobs *js)
{
	return js->stopping;
}

int
jobs_admit(struct jobs *js, unsigned units)
{
	return js->pending + units > js->cfg.max_pending ? -EAGAIN : 0;
}

/* Drops finished jobs past their time or beyond the count kept. */
static void
jobs_expire(struct jobs *js)
{
	struct job	*job;
	struct timeval	 now;

	jobs_now(js, &now);
	while ((job = TAILQ_FIRST(&js->done)) != NULL) {
		if (js->njobs[JOB_SUCCEEDED] + js->njobs[JOB_FAILED] +
		    js->njobs[JOB_CANCELED] <= js->cfg.max_jobs &&
		    now.tv_sec - job->finished.tv_sec < (time_t)js->cfg.job_ttl_s)
			break;
		if (!LIST_EMPTY(&job->waiters))
			break;		/* someone is about to be told */
		log_debug("job %llu: expired", (unsigned long long)job->id);
		job_free(job);
	}
}

static void
jobs_expiry_cb(evutil_socket_t fd, short what, void *arg)
{
	jobs_expire(arg);
}

void
job_update(struct job *job)
{
	struct jobs	*js = job->jobs;
	enum job_state	 st;

	if (!job_finished(job) && (st = job->kind->settled(job)) != 0) {
		if (job->cancel)
			st = JOB_CANCELED;
		job_set_state(job, st);
		jobs_now(js, &job->finished);
		job_release(job, job->units);
		TAILQ_INSERT_TAIL(&js->done, job, done);
		log_info("job %llu: %s", (unsigned long long)job->id,
		    jobs_state_names[st]);
	}
	job_changed(job);
	if (job_finished(job))
		jobs_expire(js);
}

struct jobs *
jobs_new(struct event_base *base, const struct jobs_config *cfg)
{
	struct jobs	*js;
	struct timeval	 tv = { 1, 0 };
	unsigned	 i;

	js = xcalloc(1, sizeof *js);
	js->base = base;
	js->cfg = *cfg;
	js->next_id = 1;
	TAILQ_INIT(&js->all);
	TAILQ_INIT(&js->done);
	for (i = 0; i < JOBS_BUCKETS; i++)
		LIST_INIT(&js->buckets[i]);
	js->expiry = event_new(base, -1, EV_PERSIST, jobs_expiry_cb, js);
	if (js->expiry == NULL || event_add(js->expiry, &tv) != 0)
		fatalx("jobs: cannot start the expiry timer");
	return js;
}

struct job *
jobs_find(struct jobs *js, uint64_t id)
{
	struct job	*job;

	LIST_FOREACH(job, &js->buckets[id % JOBS_BUCKETS], bucket) {
		if (job->id == id)
			return job;
	}
	return NULL;
}

void
jobs_cancel(struct jobs *js, struct job *job)
{
	if (job_finished(job) || job->cancel)
		return;
	job->cancel = 1;
	job->kind->cancel(job);
	log_info("job %llu: cancelled", (unsigned long long)job->id);
	job_update(job);
}

struct job *
jobs_find_idempotent(struct jobs *js, const char *key, const char **request)
{
	struct job	*job;

	TAILQ_FOREACH(job, &js->all, all) {
		if (job->idem_key != NULL && strcmp(job->idem_key, key) == 0) {
			*request = job->idem_request;
			return job;
		}
	}
	return NULL;
}

struct job *
jobs_first(struct jobs *js, int state, uint64_t before)
{
	struct job	*job;

	TAILQ_FOREACH(job, &js->all, all) {
		if ((before == 0 || job->id < before) &&
		    (state < 0 || (int)job->state == state))
			return job;
	}
	return NULL;
}

struct job *
jobs_next(struct jobs *js, struct job *job, int state)
{
	while ((job = TAILQ_NEXT(job, all)) != NULL) {
		if (state < 0 || (int)job->state == state)
			return job;
	}
	return NULL;
}

void
jobs_get_stats(struct jobs *js, struct jobs_stats *st)
{
	memset(st, 0, sizeof *st);
	memcpy(st->jobs_by_state, js->njobs, sizeof st->jobs_by_state);
	st->pending = js->pending;
}

void
jobs_shutdown(struct jobs *js)
{
	struct job	*job;

	js->stopping = 1;
	TAILQ_FOREACH(job, &js->all, all) {
		if (!job_finished(job))
			job->kind->shutdown(job);
	}
}

void
jobs_free(struct jobs *js)
{
	struct job	*job;

	if (js == NULL)
		return;
	while ((job = TAILQ_FIRST(&js->all)) != NULL)
		job_free(job);
	event_free(js->expiry);
	free(js);
}
