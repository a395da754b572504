/*
 * jobs.c - stock jobs and their pipeline.
 *
 * The loop thread owns every record here. A symbol moves
 *
 *   queued -> fetching -> converting -> archiving -> succeeded
 *                 \            \             \----> failed
 *                  \------------\-----------------> failed | canceled
 *
 * Downloads run on the fetch pool, conversions on the convert pool, and
 * packing on the archiver's thread; each hands its result back through
 * the completion queue, so the functions below never block and never
 * race. Work is admitted in small amounts: at most `fetch_slots`
 * downloads exist at a time (taken round-robin across jobs), so memory
 * holds the symbols' small records and little else however many are
 * waiting. When nothing is downloading or converting, the archiver is
 * flushed, so a finished job never waits for a batch to fill.
 *
 * The table of jobs (ids, listing, waiters, expiry) serves every kind;
 * Armstrong searches run in jobs_search.c over the same records.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "jobs/jobs.h"
#include "jobs/jobs_int.h"
#include "lib/compq.h"
#include "lib/log.h"
#include "lib/mkpath.h"
#include "lib/pool.h"
#include "lib/xmalloc.h"
#include "stock/archiver.h"
#include "stock/csv2xml.h"
#include "stock/fetch.h"

static const char *const sym_state_names[SYM_NSTATES] = {
	"queued", "fetching", "converting", "archiving", "succeeded",
	"failed", "canceled"
};
static const char *const job_state_names[JOB_NSTATES] = {
	"queued", "running", "succeeded", "failed", "canceled"
};

static void	symbol_set(struct symbol *, enum sym_state);

/* --- small things --- */

void
jobs_now(struct jobs *js, struct timeval *tv)
{
	event_base_gettimeofday_cached(js->base, tv);
}

json_t *
jobs_time_json(const struct timeval *tv)
{
	struct tm	tm;
	char		buf[40];
	time_t		t = tv->tv_sec;

	if (tv->tv_sec == 0)
		return json_null();
	gmtime_r(&t, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + 19, sizeof buf - 19, ".%03ldZ",
	    (long)(tv->tv_usec / 1000));
	return json_string(buf);
}

int
jobs_symbol_ok(const char *s)
{
	size_t	i;

	/* A letter, a digit, or '^' for an index ("^GSPC"), first. */
	if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') ||
	    (s[0] >= '0' && s[0] <= '9') || s[0] == '^'))
		return 0;
	for (i = 1; s[i] != '\0'; i++) {
		if (i >= 32)
			return 0;
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    strchr("._^=-", s[i]) != NULL))
			return 0;
	}
	return 1;
}

const char *
job_state_name(int st)
{
	return st >= 0 && st < JOB_NSTATES ? job_state_names[st] : "?";
}

int
job_state_parse(const char *name)
{
	int	i;

	for (i = 0; i < JOB_NSTATES; i++) {
		if (strcmp(name, job_state_names[i]) == 0)
			return i;
	}
	return -1;
}

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
jobs_archive_dir(const struct jobs *js)
{
	return js->archive_dir;
}

static void
work_path(struct jobs *js, const struct symbol *sym, const char *dir,
    const char *ext, char **out)
{
	xasprintf(out, "%s/%s-%llu-%s.%s", dir, js->run,
	    (unsigned long long)sym->job->id, sym->name, ext);
}

/* --- job life --- */

/* Every change: a new version, and the waiters are told. */
static void
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

static void
job_free(struct job *job)
{
	struct jobs		*js = job->jobs;
	struct job_waiter	*w;
	unsigned		 i;

	while ((w = LIST_FIRST(&job->waiters)) != NULL) {
		LIST_REMOVE(w, entry);
		free(w);
	}
	TAILQ_REMOVE(&js->all, job, all);
	if (job->in_active)
		TAILQ_REMOVE(job->kind == KIND_ARMSTRONG ? &js->searching :
		    &js->active, job, active);
	if (job_finished(job))
		TAILQ_REMOVE(&js->done, job, done);
	LIST_REMOVE(job, bucket);
	js->njobs[job->state]--;
	for (i = 0; i < job->nsym; i++) {
		free(job->syms[i].archive);
		free(job->syms[i].entry);
		free(job->syms[i].err_code);
		free(job->syms[i].err_msg);
	}
	free(job->syms);
	if (job->search != NULL) {
		free(job->search->chunks);
		free(job->search->found);
		free(job->search);
	}
	free(job->idem_key);
	free(job->idem_request);
	free(job);
}

void
job_set_state(struct job *job, enum job_state st)
{
	struct jobs	*js = job->jobs;

	js->njobs[job->state]--;
	js->njobs[st]++;
	job->state = st;
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

/* Nothing of the job is left to run or to come back. */
static int
job_settled(const struct job *job)
{
	const struct search	*se = job->search;

	if (job->kind == KIND_ARMSTRONG)
		return se->running == 0 &&
		    (se->next == se->nchunks || job->cancel);
	return job->count[SYM_QUEUED] + job->count[SYM_FETCHING] +
	    job->count[SYM_CONVERTING] + job->count[SYM_ARCHIVING] == 0;
}

/* After a change: is the job over? */
void
job_update(struct job *job)
{
	struct jobs	*js = job->jobs;
	enum job_state	 st;

	if (!job_finished(job) && job_settled(job)) {
		if (job->cancel)
			st = JOB_CANCELED;
		else if (job->count[SYM_FAILED] > 0)
			st = JOB_FAILED;
		else
			st = JOB_SUCCEEDED;
		job_set_state(job, st);
		jobs_now(js, &job->finished);
		if (job->kind == KIND_ARMSTRONG)
			js->pending--;		/* a search counts as one */
		TAILQ_INSERT_TAIL(&js->done, job, done);
		log_info("job %llu: %s (%u succeeded, %u failed, %u canceled)",
		    (unsigned long long)job->id, job_state_names[st],
		    job->count[SYM_SUCCEEDED], job->count[SYM_FAILED],
		    job->count[SYM_CANCELED]);
	}
	job_changed(job);
	if (job_finished(job))
		jobs_expire(js);
}

static void
symbol_set(struct symbol *sym, enum sym_state st)
{
	struct job	*job = sym->job;
	struct jobs	*js = job->jobs;

	if (sym->state == SYM_FETCHING)
		js->fetching--;
	else if (sym->state == SYM_CONVERTING)
		js->converting--;
	else if (sym->state == SYM_ARCHIVING)
		js->archiving--;
	if (st == SYM_FETCHING)
		js->fetching++;
	else if (st == SYM_CONVERTING)
		js->converting++;
	else if (st == SYM_ARCHIVING)
		js->archiving++;
	if (sym->state < SYM_SUCCEEDED && st >= SYM_SUCCEEDED) {
		js->pending--;
		if (st == SYM_SUCCEEDED)
			js->succeeded++;
		else if (st == SYM_FAILED)
			js->failed++;
	}
	job->count[sym->state]--;
	job->count[st]++;
	sym->state = st;
	if (st == SYM_FETCHING && job->state == JOB_QUEUED) {
		job_set_state(job, JOB_RUNNING);
		jobs_now(js, &job->started);
	}
}

static void
symbol_fail(struct symbol *sym, const char *code, const char *msg)
{
	free(sym->err_code);
	free(sym->err_msg);
	sym->err_code = xstrdup(code);
	sym->err_msg = xstrdup(msg);
	symbol_set(sym, SYM_FAILED);
	log_info("job %llu: %s failed: %s (%s)",
	    (unsigned long long)sym->job->id, sym->name, msg, code);
}

/* Nothing downloading or converting: pack what waits for a batch. */
static void
jobs_maybe_flush(struct jobs *js)
{
	if (js->fetching == 0 && js->converting == 0 &&
	    TAILQ_EMPTY(&js->active) && js->unflushed > 0) {
		archiver_flush(js->archiver);
		js->unflushed = 0;
	}
}

/* --- archiving --- */

static void
archived(const struct archiver_result *r, void *arg)
{
	struct symbol	*sym = r->token;

	if (sym == NULL) {
		/* A file left by an earlier run, now safely archived. */
		if (r->error != NULL)
			log_warn("leftover %s: %s", r->entry, r->error);
		return;
	}
	if (r->error != NULL)
		symbol_fail(sym, "archive", r->error);
	else {
		sym->archive = xstrdup(r->archive);
		sym->entry = xstrdup(r->entry);
		symbol_set(sym, SYM_SUCCEEDED);
	}
	job_update(sym->job);
}

/* --- converting --- */

static void
convert_work(void *arg)
{
	struct convert_task	*t = arg;

	/* The pool already has a thread per core: no write-behind thread. */
	t->rv = csv2xml_file(t->csv, t->xml, NULL, 0, &t->st, t->err,
	    sizeof t->err);
}

static void
convert_task_free(struct convert_task *t)
{
	unlink(t->csv);
	free(t->csv);
	free(t->xml);
	free(t);
}

static void
convert_done(void *arg, enum pool_status status)
{
	struct convert_task	*t = arg;
	struct symbol		*sym = t->sym;
	struct jobs		*js = t->jobs;
	char			*entry;

	sym->convert = NULL;
	if (status == POOL_CANCELED || sym->job->cancel) {
		/* Not finished when the job was cancelled: not kept. */
		unlink(t->xml);
		symbol_set(sym, SYM_CANCELED);
	} else if (t->rv != 0) {
		symbol_fail(sym, "bad_csv", t->err);
	} else {
		sym->rows = t->st.rows;
		xasprintf(&entry, "%llu/%s.xml",
		    (unsigned long long)sym->job->id, sym->name);
		archiver_add(js->archiver, t->xml, entry, sym);
		free(entry);
		js->unflushed++;
		symbol_set(sym, SYM_ARCHIVING);
	}
	convert_task_free(t);
	job_update(sym->job);
	jobs_dispatch(js);
	jobs_maybe_flush(js);
}

/* Hands a downloaded symbol's CSV to the convert pool. */
static int
convert_start(struct jobs *js, struct symbol *sym, char *csv)
{
	struct convert_task	*t;
	int			 error;

	t = xcalloc(1, sizeof *t);
	t->sym = sym;
	t->jobs = js;
	t->csv = csv;
	work_path(js, sym, js->xml_dir, "xml", &t->xml);
	error = pool_submit(js->convert_pool, convert_work, convert_done, t,
	    &t->pool_id);
	if (error != 0) {
		free(t->xml);
		free(t);
		return error;
	}
	sym->convert = t;
	return 0;
}

/* A parked symbol will not be converted: its CSV goes. */
static void
symbol_unpark(struct jobs *js, struct symbol *sym)
{
	TAILQ_REMOVE(&js->backlog, sym, backlog);
	unlink(sym->parked);
	free(sym->parked);
	sym->parked = NULL;
	symbol_set(sym, SYM_CANCELED);
}

/* --- fetching --- */

static void
fetch_work(void *arg)
{
	struct fetch_task	*t = arg;

	fetch_run(&t->req, &t->res);
}

static void
fetch_done(void *arg, enum pool_status status)
{
	struct fetch_task	*t = arg;
	struct symbol		*sym = t->sym;
	struct jobs		*js = t->jobs;

	sym->fetch = NULL;
	sym->attempts = t->res.attempts;
	sym->http_status = t->res.http_status;
	sym->bytes = t->res.bytes;
	if (status == POOL_CANCELED || sym->job->cancel ||
	    strcmp(t->res.code, "canceled") == 0) {
		unlink(t->csv);
		free(t->csv);
		symbol_set(sym, SYM_CANCELED);
	} else if (!t->res.ok) {
		unlink(t->csv);
		free(t->csv);
		symbol_fail(sym, t->res.code, t->res.message);
	} else {
		symbol_set(sym, SYM_CONVERTING);
		if (convert_start(js, sym, t->csv) != 0) {
			/* The convert pool is full: wait for room. */
			sym->parked = t->csv;
			TAILQ_INSERT_TAIL(&js->backlog, sym, backlog);
		}
	}
	free(t->url);
	free(t);
	job_update(sym->job);
	jobs_dispatch(js);
	jobs_maybe_flush(js);
}

static int
fetch_start(struct jobs *js, struct symbol *sym)
{
	struct fetch_task	*t;
	int			 error;

	t = xcalloc(1, sizeof *t);
	t->sym = sym;
	t->jobs = js;
	atomic_init(&t->cancel, 0);
	t->url = fetch_expand_url(js->source, sym->name);
	if (t->url == NULL)
		fatalx("jobs: source %s cannot be expanded", js->source);
	work_path(js, sym, js->csv_dir, "csv", &t->csv);
	fetch_request_defaults(&t->req);
	t->req.url = t->url;
	t->req.dest = t->csv;
	t->req.timeout_ms = (long)js->cfg.fetch_timeout_ms;
	t->req.max_bytes = js->cfg.max_download;
	t->req.max_attempts = js->cfg.fetch_attempts;
	t->req.cancel = &t->cancel;
	error = pool_submit(js->fetch_pool, fetch_work, fetch_done, t,
	    &t->pool_id);
	if (error != 0) {
		free(t->url);
		free(t->csv);
		free(t);
		return error;
	}
	sym->fetch = t;
	symbol_set(sym, SYM_FETCHING);
	return 0;
}

/* Moves parked conversions, then downloads, into their pools. */
void
jobs_dispatch(struct jobs *js)
{
	struct symbol	*sym;
	struct job	*job;

	if (js->stopping)
		return;
	jobs_search_dispatch(js);
	while ((sym = TAILQ_FIRST(&js->backlog)) != NULL) {
		if (convert_start(js, sym, sym->parked) != 0)
			break;
		sym->parked = NULL;
		TAILQ_REMOVE(&js->backlog, sym, backlog);
	}
	while (js->fetching < js->cfg.fetch_slots &&
	    (job = TAILQ_FIRST(&js->active)) != NULL) {
		while (job->next < job->nsym &&
		    job->syms[job->next].state != SYM_QUEUED)
			job->next++;
		TAILQ_REMOVE(&js->active, job, active);
		if (job->next == job->nsym) {
			job->in_active = 0;
			continue;
		}
		if (fetch_start(js, &job->syms[job->next]) != 0) {
			TAILQ_INSERT_HEAD(&js->active, job, active);
			break;
		}
		job->next++;
		TAILQ_INSERT_TAIL(&js->active, job, active);	/* round robin */
		job_changed(job);
	}
}

/* --- the interface --- */

void
jobs_set_source(struct jobs *js, const char *source)
{
	free(js->source);
	js->source = xstrdup(source);
}

struct job *
job_new(struct jobs *js, enum job_kind kind)
{
	struct job	*job;

	job = xcalloc(1, sizeof *job);
	job->jobs = js;
	job->kind = kind;
	job->id = js->next_id++;
	job->version = 1;
	job->state = JOB_QUEUED;
	js->njobs[JOB_QUEUED]++;
	LIST_INIT(&job->waiters);
	jobs_now(js, &job->created);
	TAILQ_INSERT_HEAD(&js->all, job, all);
	LIST_INSERT_HEAD(&js->buckets[job->id % JOBS_BUCKETS], job, bucket);
	return job;
}

int
jobs_submit(struct jobs *js, const char *const *symbols, unsigned n,
    struct job **out)
{
	struct job	*job;
	unsigned	 i;

	if (js->pending + n > js->cfg.max_pending_symbols)
		return -EAGAIN;
	job = job_new(js, KIND_STOCK);
	job->nsym = n;
	job->syms = xcalloc(n, sizeof *job->syms);
	for (i = 0; i < n; i++) {
		job->syms[i].job = job;
		snprintf(job->syms[i].name, sizeof job->syms[i].name, "%s",
		    symbols[i]);
		job->syms[i].state = SYM_QUEUED;
	}
	job->count[SYM_QUEUED] = n;
	js->pending += n;
	TAILQ_INSERT_TAIL(&js->active, job, active);
	job->in_active = 1;
	log_info("job %llu: %u symbols", (unsigned long long)job->id, n);
	jobs_dispatch(js);
	*out = job;
	return 0;
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
	struct symbol	*sym;
	unsigned	 i;

	if (job_finished(job) || job->cancel)
		return;
	job->cancel = 1;
	if (job->in_active) {		/* nothing more to start */
		TAILQ_REMOVE(job->kind == KIND_ARMSTRONG ? &js->searching :
		    &js->active, job, active);
		job->in_active = 0;
	}
	if (job->kind == KIND_ARMSTRONG) {
		/* Running chunks see the flag within a few microseconds. */
		atomic_store(&job->search->cancel, 1);
		log_info("job %llu: cancelled", (unsigned long long)job->id);
		job_update(job);
		return;
	}
	for (i = 0; i < job->nsym; i++) {
		sym = &job->syms[i];
		switch (sym->state) {
		case SYM_QUEUED:
			symbol_set(sym, SYM_CANCELED);
			break;
		case SYM_FETCHING:
			/* Queued in the pool: never starts; running: aborts. */
			atomic_store(&sym->fetch->cancel, 1);
			pool_cancel(js->fetch_pool, sym->fetch->pool_id);
			break;
		case SYM_CONVERTING:
			if (sym->convert != NULL)
				pool_cancel(js->convert_pool,
				    sym->convert->pool_id);
			else		/* parked in the backlog */
				symbol_unpark(js, sym);
			break;
		default:
			break;		/* archiving or done: kept */
		}
	}
	log_info("job %llu: cancelled", (unsigned long long)job->id);
	job_update(job);
	jobs_maybe_flush(js);
}

json_t *
job_json(const struct job *job, int with_symbols)
{
	const struct symbol	*sym;
	json_t			*obj, *arr, *s, *err;
	unsigned		 i;

	if (job->kind == KIND_ARMSTRONG)
		return jobs_search_json(job, json_pack("{s:I, s:s, s:s, s:I, s:o, "
		    "s:o, s:o}", "id", (json_int_t)job->id, "type", "armstrong",
		    "state", job_state_names[job->state],
		    "version", (json_int_t)job->version,
		    "created_at", jobs_time_json(&job->created),
		    "started_at", jobs_time_json(&job->started),
		    "finished_at", jobs_time_json(&job->finished)));
	obj = json_pack("{s:I, s:s, s:s, s:I, s:o, s:o, s:o,"
	    " s:{s:I, s:I, s:I, s:I, s:I, s:I}}",
	    "id", (json_int_t)job->id, "type", "stock",
	    "state", job_state_names[job->state],
	    "version", (json_int_t)job->version,
	    "created_at", jobs_time_json(&job->created),
	    "started_at", jobs_time_json(&job->started),
	    "finished_at", jobs_time_json(&job->finished),
	    "progress",
		"total", (json_int_t)job->nsym,
		"queued", (json_int_t)job->count[SYM_QUEUED],
		"running", (json_int_t)(job->count[SYM_FETCHING] +
		    job->count[SYM_CONVERTING] + job->count[SYM_ARCHIVING]),
		"succeeded", (json_int_t)job->count[SYM_SUCCEEDED],
		"failed", (json_int_t)job->count[SYM_FAILED],
		"canceled", (json_int_t)job->count[SYM_CANCELED]);
	if (obj == NULL)
		fatalx("jobs: json_pack");
	if (!with_symbols)
		return obj;
	arr = json_array();
	for (i = 0; i < job->nsym; i++) {
		sym = &job->syms[i];
		err = sym->state == SYM_FAILED ? json_pack("{s:s, s:s}",
		    "code", sym->err_code, "message", sym->err_msg) :
		    json_null();
		s = json_pack("{s:s, s:s, s:I, s:o, s:I, s:I, s:o, s:o}",
		    "symbol", sym->name, "state", sym_state_names[sym->state],
		    "attempts", (json_int_t)sym->attempts,
		    "http_status", sym->http_status > 0 ?
		    json_integer(sym->http_status) : json_null(),
		    "bytes", (json_int_t)sym->bytes,
		    "rows", (json_int_t)sym->rows,
		    "archive", sym->archive != NULL ?
		    json_string(sym->archive) : json_null(),
		    "error", err);
		if (s == NULL)
			fatalx("jobs: json_pack symbol");
		json_array_append_new(arr, s);
	}
	json_object_set_new(obj, "symbols", arr);
	return obj;
}

int
job_symbol_xml(const struct job *job, const char *symbol, const char **path,
    const char **archive, const char **entry)
{
	static char	 buf[4096];
	const struct symbol *sym = NULL;
	unsigned	 i;

	*path = *archive = *entry = NULL;
	for (i = 0; i < job->nsym; i++) {
		if (strcmp(job->syms[i].name, symbol) == 0)
			sym = &job->syms[i];
	}
	if (sym == NULL)
		return -1;
	if (sym->state == SYM_SUCCEEDED) {
		*archive = sym->archive;
		*entry = sym->entry;
		return 0;
	}
	if (sym->state == SYM_ARCHIVING) {
		snprintf(buf, sizeof buf, "%s/%s-%llu-%s.xml",
		    job->jobs->xml_dir, job->jobs->run,
		    (unsigned long long)job->id, sym->name);
		*path = buf;
		return 0;
	}
	return -1;
}

void
job_set_idempotency(struct job *job, const char *key, const char *request)
{
	job->idem_key = xstrdup(key);
	job->idem_request = xstrdup(request);
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
	st->symbols_pending = js->pending;
	st->fetching = js->fetching;
	st->converting = js->converting;
	st->archiving = js->archiving;
	st->symbols_succeeded = js->succeeded;
	st->symbols_failed = js->failed;
}

/* Work files of an earlier run: CSVs go, XMLs get archived. */
static void
jobs_recover(struct jobs *js)
{
	DIR		*d;
	struct dirent	*de;
	char		*path, *entry, *p, *q;

	if ((d = opendir(js->csv_dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			xasprintf(&path, "%s/%s", js->csv_dir, de->d_name);
			unlink(path);
			free(path);
		}
		closedir(d);
	}
	if ((d = opendir(js->xml_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		/* RUN-JOBID-SYMBOL.xml -> JOBID/SYMBOL.xml */
		if (de->d_name[0] == '.' ||
		    (p = strchr(de->d_name, '-')) == NULL ||
		    (q = strchr(p + 1, '-')) == NULL)
			continue;
		xasprintf(&path, "%s/%s", js->xml_dir, de->d_name);
		xasprintf(&entry, "%.*s/%s", (int)(q - p - 1), p + 1, q + 1);
		log_info("archiving %s left by an earlier run", de->d_name);
		archiver_add(js->archiver, path, entry, NULL);
		js->unflushed++;
		free(path);
		free(entry);
	}
	closedir(d);
	jobs_maybe_flush(js);
}

struct jobs *
jobs_new(struct event_base *base, struct compq *cq, struct pool *fetch,
    struct pool *convert, struct pool *cpu, const struct jobs_config *cfg,
    const char **err)
{
	struct jobs		*js;
	struct archiver_options	 ao;
	struct timeval		 tv = { 1, 0 };
	unsigned		 i;

	js = xcalloc(1, sizeof *js);
	js->base = base;
	js->cq = cq;
	js->fetch_pool = fetch;
	js->convert_pool = convert;
	js->cpu_pool = cpu;
	/* Two chunks per worker: one running, one ready to go. */
	js->cpu_slots = 2 * (cfg->cpu_workers > 0 ? cfg->cpu_workers : 1);
	js->cfg = *cfg;
	js->next_id = 1;
	TAILQ_INIT(&js->all);
	TAILQ_INIT(&js->active);
	TAILQ_INIT(&js->done);
	TAILQ_INIT(&js->backlog);
	TAILQ_INIT(&js->searching);
	for (i = 0; i < JOBS_BUCKETS; i++)
		LIST_INIT(&js->buckets[i]);
	snprintf(js->run, sizeof js->run, "%llx",
	    (unsigned long long)time(NULL));
	xasprintf(&js->csv_dir, "%s/csv", cfg->data_dir);
	xasprintf(&js->xml_dir, "%s/xml", cfg->data_dir);
	xasprintf(&js->archive_dir, "%s/archives", cfg->data_dir);
	if (mkpath(js->csv_dir) != 0 || mkpath(js->xml_dir) != 0 ||
	    mkpath(js->archive_dir) != 0) {
		*err = "cannot create the data directory's csv/, xml/ and "
		    "archives/";
		goto fail;
	}
	ao.dir = js->archive_dir;
	ao.prefix = "stockcam";
	ao.batch_size = cfg->batch_size;
	ao.gzip_level = cfg->gzip_level;
	ao.threads = cfg->archive_threads;
	if ((js->archiver = archiver_new(&ao, cq, archived, js, err)) == NULL)
		goto fail;
	js->expiry = event_new(base, -1, EV_PERSIST, jobs_expiry_cb, js);
	if (js->expiry == NULL || event_add(js->expiry, &tv) != 0)
		fatalx("jobs: cannot start the expiry timer");
	jobs_recover(js);
	return js;
fail:
	free(js->csv_dir);
	free(js->xml_dir);
	free(js->archive_dir);
	free(js);
	return NULL;
}

void
jobs_shutdown(struct jobs *js)
{
	struct job	*job;
	unsigned	 i;

	js->stopping = 1;
	TAILQ_FOREACH(job, &js->all, all) {
		if (job->kind == KIND_ARMSTRONG) {
			atomic_store(&job->search->cancel, 1);
			continue;
		}
		for (i = 0; i < job->nsym; i++) {
			if (job->syms[i].state == SYM_FETCHING)
				atomic_store(&job->syms[i].fetch->cancel, 1);
		}
	}
}

void
jobs_free(struct jobs *js)
{
	struct job	*job;
	struct symbol	*sym;

	if (js == NULL)
		return;
	/* Conversions parked for lack of room will not happen now. */
	while ((sym = TAILQ_FIRST(&js->backlog)) != NULL)
		symbol_unpark(js, sym);
	/* Every converted file goes into an archive before we leave. */
	archiver_free(js->archiver);
	compq_drain(js->cq);
	while ((job = TAILQ_FIRST(&js->all)) != NULL)
		job_free(job);
	event_free(js->expiry);
	free(js->source);
	free(js->csv_dir);
	free(js->xml_dir);
	free(js->archive_dir);
	free(js);
}
