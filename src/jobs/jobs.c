/*
 * jobs.c - the job table.
 *
 * Every job, whatever its kind, has a record here: its id (given by the
 * store, never twice), state, version and times, the clients waiting for
 * its next change, and its idempotency key. Finished jobs are kept for
 * --job-ttl, at most --max-jobs of them, then dropped. What a job does
 * is its kind's business (jobs_kind.h): the table calls the kind's ops to
 * cancel, stop, judge, save, restore and free it, and knows nothing else
 * of it.
 *
 * Durability: a job exists only once the store has committed it. Each
 * change marks the job dirty; once per pass of the loop the dirty jobs
 * (their rows and the items their kinds say changed) go to the store in
 * one transaction, and jobs_sync lets a reply wait until everything
 * changed so far is committed, so what a client reads is never forgotten
 * by a restart. A save that fails (a full disk) is tried again, whole,
 * every second until it succeeds.
 *
 * Watching (the live events): each change also puts the job on a list
 * that a timer hands to the one watcher, so a job changing a thousand
 * times a second is reported a few times a second, with the bits of what
 * happened since.
 *
 * The loop thread owns all of it; nothing here blocks.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/time.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "jobs/jobs.h"
#include "jobs/jobs_kind.h"
#include "jobs/store.h"
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

/* A job on its way into the store. */
struct job_creation {
	struct jobs		*jobs;
	const struct job_kind	*kind;
	void			*data;
	unsigned		 units;
	char			*idem_key, *idem_request;
	struct timeval		 created;
	job_created_fn		*fn;
	void			*arg;
};

/* A save on its way: the jobs in it, by id (they may expire meanwhile). */
struct jobs_save {
	struct jobs		*jobs;
	uint64_t		*ids;
	size_t			 n;
};

/* A reply waiting for what changed before it to be committed. */
struct jobs_barrier {
	jobs_synced_fn		*fn;
	void			*arg;
};

struct jobs {
	struct event_base	*base;
	struct jobs_config	 cfg;
	struct store		*store;
	struct {
		const struct job_kind	*kind;
		void			*engine;
		struct jobs_kind_stats	 stats;
	}			 kinds[JOBS_KINDS];
	unsigned		 nkinds;
	struct job_list		 all;		/* newest first */
	struct job_list		 done;		/* finished, oldest first */
	struct job_list		 dirty;		/* rows to write */
	struct job_list		 watched;	/* events not yet reported */
	LIST_HEAD(, job)	 buckets[JOBS_BUCKETS];
	unsigned		 pending;	/* units held by unfinished jobs */
	unsigned		 njobs[JOB_NSTATES];
	int			 stopping;
	int			 retry;		/* a save failed: again soon */
	struct event		*expiry;
	struct event		*flush;		/* the dirty jobs, this pass */
	uint64_t		 created;
	jobs_watch_fn		*watch_fn;
	void			*watch_arg;
	struct timeval		 watch_tv;
	struct event		*watch_timer;
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

/* The figures of a kind, NULL for one never added (tests). */
static struct jobs_kind_stats *
jobs_kind_stats(struct jobs *js, const struct job_kind *kind)
{
	unsigned	i;

	for (i = 0; i < js->nkinds; i++) {
		if (js->kinds[i].kind == kind)
			return &js->kinds[i].stats;
	}
	return NULL;
}

static void
job_set_state(struct job *job, enum job_state st)
{
	job->jobs->njobs[job->state]--;
	job->jobs->njobs[st]++;
	job->state = st;
}

/* A record for the table, of a job the store has: units already held. */
static struct job *
job_new(struct jobs *js, const struct job_kind *kind, uint64_t id,
    enum job_state state)
{
	struct job	*job;

	job = xcalloc(1, sizeof *job);
	job->jobs = js;
	job->kind = kind;
	job->id = id;
	job->version = 1;
	job->state = state;
	js->njobs[state]++;
	LIST_INIT(&job->waiters);
	TAILQ_INSERT_HEAD(&js->all, job, all);
	LIST_INSERT_HEAD(&js->buckets[job->id % JOBS_BUCKETS], job, bucket);
	return job;
}

/* Something happened to the job: the watcher hears of it soon. */
static void
job_notice(struct job *job, unsigned events)
{
	struct jobs	*js = job->jobs;

	if (js->watch_fn == NULL)
		return;
	if (job->watch_events == 0)
		TAILQ_INSERT_TAIL(&js->watched, job, watch_entry);
	job->watch_events |= events;
	if (!evtimer_pending(js->watch_timer, NULL))
		evtimer_add(js->watch_timer, &js->watch_tv);
}

static void
jobs_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct jobs	*js = arg;
	struct job	*job;
	unsigned	 events;

	while ((job = TAILQ_FIRST(&js->watched)) != NULL) {
		TAILQ_REMOVE(&js->watched, job, watch_entry);
		events = job->watch_events;
		job->watch_events = 0;
		js->watch_fn(job, events, js->watch_arg);
	}
}

void
jobs_watch(struct jobs *js, unsigned ms, jobs_watch_fn *fn, void *arg)
{
	js->watch_fn = fn;
	js->watch_arg = arg;
	js->watch_tv.tv_sec = ms / 1000;
	js->watch_tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

int
job_matches(const struct job *job, const char *q)
{
	char	id[24];

	snprintf(id, sizeof id, "%" PRIu64, job->id);
	if (strcmp(id, q) == 0)
		return 1;
	return job->kind->matches != NULL && job->kind->matches(job, q);
}

static void
job_free(struct job *job)
{
	struct jobs		*js = job->jobs;
	struct job_waiter	*w;

	if (job->watch_events != 0)
		TAILQ_REMOVE(&js->watched, job, watch_entry);
	if (js->watch_fn != NULL)
		js->watch_fn(job, JOB_EV_REMOVED, js->watch_arg);
	while ((w = LIST_FIRST(&job->waiters)) != NULL) {
		LIST_REMOVE(w, entry);
		free(w);
	}
	TAILQ_REMOVE(&js->all, job, all);
	if (job_finished(job))
		TAILQ_REMOVE(&js->done, job, done);
	if (job->dirty)
		TAILQ_REMOVE(&js->dirty, job, dirty_entry);
	LIST_REMOVE(job, bucket);
	js->njobs[job->state]--;
	js->pending -= job->units;
	if (job->data != NULL)
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
		job_dirty(job);
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
	job_dirty(job);
	job_notice(job, JOB_EV_CHANGED);
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

/* --- the store --- */

static int64_t
jobs_ms(const struct timeval *tv)
{
	return (int64_t)tv->tv_sec * 1000 + tv->tv_usec / 1000;
}

static void
jobs_tv(struct timeval *tv, int64_t ms)
{
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

/* The job's row as the store keeps it (spec NULL: an update). */
static void
jobs_row(const struct job *job, struct store_job *row)
{
	memset(row, 0, sizeof *row);
	row->id = job->id;
	row->type = job->kind->name;
	row->state = (int)job->state;
	row->cancel = job->cancel;
	row->created_ms = jobs_ms(&job->created);
	row->started_ms = jobs_ms(&job->started);
	row->finished_ms = jobs_ms(&job->finished);
	row->idem_key = job->idem_key;
	row->idem_request = job->idem_request;
	row->version = job->version;
}

void
job_dirty(struct job *job)
{
	struct jobs	*js = job->jobs;

	if (job->dirty)
		return;
	job->dirty = 1;
	TAILQ_INSERT_TAIL(&js->dirty, job, dirty_entry);
	if (TAILQ_FIRST(&js->dirty) == job && !js->retry)
		event_active(js->flush, EV_TIMEOUT, 0);
}

static void
jobs_saved(void *arg, int error, uint64_t id)
{
	struct jobs_save	*sv = arg;
	struct jobs		*js = sv->jobs;
	struct job		*job;
	size_t			 i;

	if (error != 0) {
		if (!js->retry)
			log_warn("jobs: saving %zu job%s failed (%s); trying "
			    "again every second", sv->n, sv->n == 1 ? "" : "s",
			    strerror(-error));
		js->retry = 1;
		for (i = 0; i < sv->n; i++) {
			if ((job = jobs_find(js, sv->ids[i])) != NULL) {
				job->save_all = 1;
				job_dirty(job);
			}
		}
	}
	free(sv->ids);
	free(sv);
}

/* Writes every dirty job's row and changed items in one transaction. */
void
jobs_flush(struct jobs *js)
{
	struct store_txn	*txn;
	struct jobs_save	*sv;
	struct store_job	 row;
	struct job		*job;
	size_t			 n = 0;

	if (TAILQ_EMPTY(&js->dirty))
		return;
	TAILQ_FOREACH(job, &js->dirty, dirty_entry)
		n++;
	sv = xcalloc(1, sizeof *sv);
	sv->jobs = js;
	sv->ids = xcalloc(n, sizeof *sv->ids);
	txn = store_begin(js->store);
	while ((job = TAILQ_FIRST(&js->dirty)) != NULL) {
		TAILQ_REMOVE(&js->dirty, job, dirty_entry);
		job->dirty = 0;
		jobs_row(job, &row);
		store_put_job(txn, &row);
		job->kind->save(job, txn, job->save_all);
		job->save_all = 0;
		sv->ids[sv->n++] = job->id;
	}
	store_commit(txn, jobs_saved, sv);
}

static void
jobs_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct jobs	*js = arg;

	if (!js->retry)
		jobs_flush(js);
}

static void
jobs_synced(void *arg, int error, uint64_t id)
{
	struct jobs_barrier	*b = arg;

	b->fn(b->arg);
	free(b);
}

void
jobs_sync(struct jobs *js, jobs_synced_fn *fn, void *arg)
{
	struct jobs_barrier	*b;

	if (!js->retry)
		jobs_flush(js);
	b = xcalloc(1, sizeof *b);
	b->fn = fn;
	b->arg = arg;
	/* Completions come in order: this one after every earlier save. */
	store_commit(store_begin(js->store), jobs_synced, b);
}

static void
jobs_created(void *arg, int error, uint64_t id)
{
	struct job_creation	*c = arg;
	struct jobs		*js = c->jobs;
	struct job		*job = NULL;
	struct jobs_kind_stats	*ks;

	if (error != 0) {
		js->pending -= c->units;
		log_info("jobs: a new job was not stored: %s",
		    strerror(-error));
		c->kind->drop(c->data);
	} else {
		job = job_new(js, c->kind, id, JOB_QUEUED);
		job->data = c->data;
		job->units = c->units;
		job->created = c->created;
		job->idem_key = c->idem_key;
		job->idem_request = c->idem_request;
		c->idem_key = c->idem_request = NULL;
		js->created++;
		if ((ks = jobs_kind_stats(js, job->kind)) != NULL)
			ks->submitted++;
		job->kind->begin(job);
		job_notice(job, JOB_EV_CREATED);
	}
	c->fn(job, error, c->arg);
	free(c->idem_key);
	free(c->idem_request);
	free(c);
}

int
job_create(struct jobs *js, const struct job_kind *kind, void *data,
    unsigned units, const char *spec, const char *idem_key,
    const char *idem_request, job_created_fn *fn, void *arg)
{
	struct job_creation	*c;
	struct store_txn	*txn;
	struct store_job	 row;

	if (js->pending + units > js->cfg.max_pending)
		return -EAGAIN;
	js->pending += units;		/* held while it is being stored */
	c = xcalloc(1, sizeof *c);
	c->jobs = js;
	c->kind = kind;
	c->data = data;
	c->units = units;
	c->idem_key = idem_key != NULL ? xstrdup(idem_key) : NULL;
	c->idem_request = idem_request != NULL ? xstrdup(idem_request) : NULL;
	c->fn = fn;
	c->arg = arg;
	jobs_now(js, &c->created);
	memset(&row, 0, sizeof row);
	row.type = kind->name;
	row.state = JOB_QUEUED;
	row.created_ms = jobs_ms(&c->created);
	row.idem_key = idem_key;
	row.idem_request = idem_request;
	row.spec = spec;
	row.version = 1;
	txn = store_begin(js->store);
	store_put_job(txn, &row);
	store_commit(txn, jobs_created, c);
	return 0;
}

void
jobs_add_kind(struct jobs *js, const struct job_kind *kind, void *engine)
{
	if (js->nkinds == JOBS_KINDS)
		fatalx("jobs: too many kinds");
	js->kinds[js->nkinds].kind = kind;
	js->kinds[js->nkinds].engine = engine;
	js->kinds[js->nkinds].stats.type = kind->name;
	histo_init(&js->kinds[js->nkinds].stats.duration, histo_job_s,
	    HISTO_JOB_N);
	js->nkinds++;
}

struct jobs_load {
	struct jobs	*jobs;
	size_t		 njobs, nitems;
};

static int
jobs_load_job(const struct store_job *row, void *arg, char *err,
    size_t errlen)
{
	struct jobs_load	*ld = arg;
	struct jobs		*js = ld->jobs;
	struct job		*job;
	unsigned		 i;

	for (i = 0; i < js->nkinds; i++) {
		if (strcmp(js->kinds[i].kind->name, row->type) == 0)
			break;
	}
	if (i == js->nkinds || row->state < 0 || row->state >= JOB_NSTATES) {
		snprintf(err, errlen, "job %" PRIu64 ": a job of type '%s' "
		    "and state %d is nothing this stockcam knows", row->id,
		    row->type, row->state);
		return -1;
	}
	job = job_new(js, js->kinds[i].kind, row->id,
	    (enum job_state)row->state);
	job->version = row->version > 0 ? row->version : 1;
	job->cancel = row->cancel;
	jobs_tv(&job->created, row->created_ms);
	jobs_tv(&job->started, row->started_ms);
	jobs_tv(&job->finished, row->finished_ms);
	if (row->idem_key != NULL) {
		job->idem_key = xstrdup(row->idem_key);
		job->idem_request = xstrdup(row->idem_request != NULL ?
		    row->idem_request : "");
	}
	if (job->kind->restore(js->kinds[i].engine, job, row->spec, err,
	    errlen) != 0)
		return -1;
	js->pending += job->units;
	if (job_finished(job))
		TAILQ_INSERT_TAIL(&js->done, job, done);
	ld->njobs++;
	return 0;
}

static int
jobs_load_item(const struct store_item *item, void *arg, char *err,
    size_t errlen)
{
	struct jobs_load	*ld = arg;
	struct job		*job;

	if ((job = jobs_find(ld->jobs, item->job)) == NULL)
		return 0;	/* not ours to know: ignored */
	ld->nitems++;
	return job->kind->restore_item(job, item->index, item->data, err,
	    errlen);
}

int
jobs_load(struct jobs *js, char *err, size_t errlen)
{
	struct jobs_load	ld = { js, 0, 0 };

	if (store_load(js->store, jobs_load_job, jobs_load_item, &ld, err,
	    errlen) != 0)
		return -1;
	if (ld.njobs > 0)
		log_info("jobs: %zu jobs (%zu items) from the store",
		    ld.njobs, ld.nitems);
	return 0;
}

void
jobs_resume(struct jobs *js)
{
	struct job	*job, *next;

	/* Oldest first, as they came. */
	for (job = TAILQ_LAST(&js->all, job_list); job != NULL; job = next) {
		next = TAILQ_PREV(job, job_list, all);
		if (!job_finished(job))
			job->kind->resume(job);
	}
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

struct event_base *
jobs_base(const struct jobs *js)
{
	return js->base;
}

/* Drops finished jobs past their time or beyond the count kept. */
static void
jobs_expire(struct jobs *js)
{
	struct store_txn *txn;
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
		txn = store_begin(js->store);
		store_delete_job(txn, job->id);
		store_commit(txn, NULL, NULL);
		job_free(job);
	}
}

static void
jobs_expiry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct jobs	*js = arg;

	jobs_expire(js);
	if (js->retry) {	/* a save failed a second ago: again */
		js->retry = 0;
		jobs_flush(js);
	}
}

void
job_update(struct job *job)
{
	struct jobs		*js = job->jobs;
	struct jobs_kind_stats	*ks;
	enum job_state		 st;

	/* Stopping: what the stop interrupted is not an end; it resumes. */
	if (!job_finished(job) && !js->stopping &&
	    (st = job->kind->settled(job)) != 0) {
		if (job->cancel)
			st = JOB_CANCELED;
		job_set_state(job, st);
		jobs_now(js, &job->finished);
		if ((ks = jobs_kind_stats(js, job->kind)) != NULL) {
			ks->finished[st]++;
			histo_observe(&ks->duration, (double)(job->finished.tv_sec -
			    job->created.tv_sec) + (double)(job->finished.tv_usec -
			    job->created.tv_usec) / 1e6);
		}
		job_release(job, job->units);
		TAILQ_INSERT_TAIL(&js->done, job, done);
		job_notice(job, JOB_EV_FINISHED);
		log_info("job %llu: %s", (unsigned long long)job->id,
		    jobs_state_names[st]);
	}
	job_changed(job);
	if (job_finished(job))
		jobs_expire(js);
}

struct jobs *
jobs_new(struct event_base *base, const struct jobs_config *cfg,
    struct store *store)
{
	struct jobs	*js;
	struct timeval	 tv = { 1, 0 };
	unsigned	 i;

	js = xcalloc(1, sizeof *js);
	js->base = base;
	js->cfg = *cfg;
	js->store = store;
	TAILQ_INIT(&js->all);
	TAILQ_INIT(&js->done);
	TAILQ_INIT(&js->dirty);
	TAILQ_INIT(&js->watched);
	for (i = 0; i < JOBS_BUCKETS; i++)
		LIST_INIT(&js->buckets[i]);
	js->expiry = event_new(base, -1, EV_PERSIST, jobs_expiry_cb, js);
	if (js->expiry == NULL || event_add(js->expiry, &tv) != 0)
		fatalx("jobs: cannot start the expiry timer");
	if ((js->flush = event_new(base, -1, 0, jobs_flush_cb, js)) == NULL)
		fatalx("jobs: cannot make the flush event");
	if ((js->watch_timer = evtimer_new(base, jobs_watch_cb, js)) == NULL)
		fatalx("jobs: cannot make the watch timer");
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
	job_dirty(job);
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
	unsigned	i;

	memset(st, 0, sizeof *st);
	memcpy(st->jobs_by_state, js->njobs, sizeof st->jobs_by_state);
	st->pending = js->pending;
	st->created = js->created;
	st->nkinds = js->nkinds;
	for (i = 0; i < js->nkinds; i++)
		st->kinds[i] = js->kinds[i].stats;
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
	js->watch_fn = NULL;		/* nobody is left to tell */
	while ((job = TAILQ_FIRST(&js->all)) != NULL)
		job_free(job);
	event_free(js->watch_timer);
	event_free(js->flush);
	event_free(js->expiry);
	free(js);
}
