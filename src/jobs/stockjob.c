/*
 * stockjob.c - stock jobs, a kind of job: the pipeline.
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
 */
#include "config.h"

#include <sys/queue.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "jobs/jobs_kind.h"
#include "jobs/stockjob.h"
#include "lib/compq.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/xmalloc.h"
#include "stock/archiver.h"
#include "stock/csv2xml.h"
#include "stock/fetch.h"
#include "stock/names.h"
#include "stock/workdir.h"

enum sym_state {
	SYM_QUEUED, SYM_FETCHING, SYM_CONVERTING, SYM_ARCHIVING,
	SYM_SUCCEEDED, SYM_FAILED, SYM_CANCELED, SYM_NSTATES
};

static const char *const stockjob_sym_states[SYM_NSTATES] = {
	"queued", "fetching", "converting", "archiving", "succeeded",
	"failed", "canceled"
};

struct fetch_task;
struct convert_task;

struct symbol {
	struct stock		*stock;
	char			 name[NAMES_SYMBOL_MAX + 1];
	enum sym_state		 state;
	unsigned		 attempts;
	int			 http_status;
	uint64_t		 bytes;
	uint64_t		 rows;
	char			*archive;
	char			*entry;
	char			*err_code;
	char			*err_msg;
	struct fetch_task	*fetch;		/* while fetching */
	struct convert_task	*convert;	/* while converting */
	char			*parked;	/* downloaded CSV waiting for */
	TAILQ_ENTRY(symbol)	 backlog;	/* room in the convert pool */
};

/* One stock job: the job's record of its kind. */
struct stock {
	struct job		*job;
	struct stockjob		*engine;
	TAILQ_ENTRY(stock)	 active;	/* has queued symbols */
	int			 in_active;
	unsigned		 nsym;
	struct symbol		*syms;
	unsigned		 next;		/* first possibly queued symbol */
	unsigned		 count[SYM_NSTATES];
};

struct fetch_task {
	struct symbol		*sym;
	uint64_t		 pool_id;
	atomic_int		 cancel;
	struct fetch_request	 req;
	struct fetch_result	 res;
	char			*url;
	char			*csv;
};

struct convert_task {
	struct symbol		*sym;
	uint64_t		 pool_id;
	char			*csv;
	char			*xml;
	int			 rv;
	struct csv2xml_stats	 st;
	char			 err[256];
};

struct stockjob {
	struct jobs		*jobs;
	struct compq		*cq;
	struct pool		*fetch_pool;
	struct pool		*convert_pool;
	struct archiver		*archiver;
	struct stockjob_config	 cfg;
	char			*source;
	struct workdir		 wd;
	TAILQ_HEAD(, stock)	 active;
	TAILQ_HEAD(, symbol)	 backlog;
	unsigned		 fetching, converting, archiving;
	unsigned		 unflushed;
	uint64_t		 succeeded, failed;
};

static const struct job_kind stockjob_kind;

static void	stockjob_dispatch(struct stockjob *);

static void
stockjob_symbol_set(struct symbol *sym, enum sym_state st)
{
	struct stock	*sk = sym->stock;
	struct stockjob	*sj = sk->engine;

	if (sym->state == SYM_FETCHING)
		sj->fetching--;
	else if (sym->state == SYM_CONVERTING)
		sj->converting--;
	else if (sym->state == SYM_ARCHIVING)
		sj->archiving--;
	if (st == SYM_FETCHING)
		sj->fetching++;
	else if (st == SYM_CONVERTING)
		sj->converting++;
	else if (st == SYM_ARCHIVING)
		sj->archiving++;
	if (sym->state < SYM_SUCCEEDED && st >= SYM_SUCCEEDED) {
		job_release(sk->job, 1);
		if (st == SYM_SUCCEEDED)
			sj->succeeded++;
		else if (st == SYM_FAILED)
			sj->failed++;
	}
	sk->count[sym->state]--;
	sk->count[st]++;
	sym->state = st;
	if (st == SYM_FETCHING)
		job_start(sk->job);
}

static void
stockjob_symbol_fail(struct symbol *sym, const char *code, const char *msg)
{
	free(sym->err_code);
	free(sym->err_msg);
	sym->err_code = xstrdup(code);
	sym->err_msg = xstrdup(msg);
	stockjob_symbol_set(sym, SYM_FAILED);
	log_info("job %llu: %s failed: %s (%s)",
	    (unsigned long long)job_id(sym->stock->job), sym->name, msg, code);
}

/* Nothing downloading or converting: pack what waits for a batch. */
static void
stockjob_maybe_flush(struct stockjob *sj)
{
	if (sj->fetching == 0 && sj->converting == 0 &&
	    TAILQ_EMPTY(&sj->active) && sj->unflushed > 0) {
		archiver_flush(sj->archiver);
		sj->unflushed = 0;
	}
}

/* After a step of a symbol ended: the job, then more work. */
static void
stockjob_stepped(struct stockjob *sj, struct stock *sk)
{
	job_update(sk->job);
	stockjob_dispatch(sj);
	stockjob_maybe_flush(sj);
}

/* --- archiving --- */

static void
stockjob_archived(const struct archiver_result *r, void *arg)
{
	struct symbol	*sym = r->token;

	if (sym == NULL) {
		/* A file left by an earlier run, now safely archived. */
		if (r->error != NULL)
			log_warn("leftover %s: %s", r->entry, r->error);
		return;
	}
	if (r->error != NULL)
		stockjob_symbol_fail(sym, "archive", r->error);
	else {
		sym->archive = xstrdup(r->archive);
		sym->entry = xstrdup(r->entry);
		stockjob_symbol_set(sym, SYM_SUCCEEDED);
	}
	job_update(sym->stock->job);
}

/* --- converting --- */

static void
stockjob_convert_work(void *arg)
{
	struct convert_task	*t = arg;

	/* The pool already has a thread per core: no write-behind thread. */
	t->rv = csv2xml_file(t->csv, t->xml, NULL, 0, &t->st, t->err,
	    sizeof t->err);
}

static void
stockjob_convert_done(void *arg, enum pool_status status)
{
	struct convert_task	*t = arg;
	struct symbol		*sym = t->sym;
	struct stock		*sk = sym->stock;
	struct stockjob		*sj = sk->engine;
	char			*entry;

	sym->convert = NULL;
	if (status == POOL_CANCELED || sk->job->cancel) {
		/* Not finished when the job was cancelled: not kept. */
		unlink(t->xml);
		stockjob_symbol_set(sym, SYM_CANCELED);
	} else if (t->rv != 0) {
		stockjob_symbol_fail(sym, "bad_csv", t->err);
	} else {
		sym->rows = t->st.rows;
		entry = names_entry(job_id(sk->job), sym->name);
		archiver_add(sj->archiver, t->xml, entry, sym);
		free(entry);
		sj->unflushed++;
		stockjob_symbol_set(sym, SYM_ARCHIVING);
	}
	unlink(t->csv);
	free(t->csv);
	free(t->xml);
	free(t);
	stockjob_stepped(sj, sk);
}

/* Hands a downloaded symbol's CSV to the convert pool. */
static int
stockjob_convert_start(struct stockjob *sj, struct symbol *sym, char *csv)
{
	struct convert_task	*t;
	int			 error;

	t = xcalloc(1, sizeof *t);
	t->sym = sym;
	t->csv = csv;
	t->xml = workdir_xml(&sj->wd, job_id(sym->stock->job), sym->name);
	error = pool_submit(sj->convert_pool, stockjob_convert_work,
	    stockjob_convert_done, t, &t->pool_id);
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
stockjob_unpark(struct stockjob *sj, struct symbol *sym)
{
	TAILQ_REMOVE(&sj->backlog, sym, backlog);
	unlink(sym->parked);
	free(sym->parked);
	sym->parked = NULL;
	stockjob_symbol_set(sym, SYM_CANCELED);
}

/* --- fetching --- */

static void
stockjob_fetch_work(void *arg)
{
	struct fetch_task	*t = arg;

	fetch_run(&t->req, &t->res);
}

static void
stockjob_fetch_done(void *arg, enum pool_status status)
{
	struct fetch_task	*t = arg;
	struct symbol		*sym = t->sym;
	struct stock		*sk = sym->stock;
	struct stockjob		*sj = sk->engine;

	sym->fetch = NULL;
	sym->attempts = t->res.attempts;
	sym->http_status = t->res.http_status;
	sym->bytes = t->res.bytes;
	if (status == POOL_CANCELED || sk->job->cancel ||
	    strcmp(t->res.code, "canceled") == 0) {
		unlink(t->csv);
		free(t->csv);
		stockjob_symbol_set(sym, SYM_CANCELED);
	} else if (!t->res.ok) {
		unlink(t->csv);
		free(t->csv);
		stockjob_symbol_fail(sym, t->res.code, t->res.message);
	} else {
		stockjob_symbol_set(sym, SYM_CONVERTING);
		if (stockjob_convert_start(sj, sym, t->csv) != 0) {
			/* The convert pool is full: wait for room. */
			sym->parked = t->csv;
			TAILQ_INSERT_TAIL(&sj->backlog, sym, backlog);
		}
	}
	free(t->url);
	free(t);
	stockjob_stepped(sj, sk);
}

static int
stockjob_fetch_start(struct stockjob *sj, struct symbol *sym)
{
	struct fetch_task	*t;
	int			 error;

	t = xcalloc(1, sizeof *t);
	t->sym = sym;
	atomic_init(&t->cancel, 0);
	t->url = fetch_expand_url(sj->source, sym->name);
	if (t->url == NULL)
		fatalx("jobs: source %s cannot be expanded", sj->source);
	t->csv = workdir_csv(&sj->wd, job_id(sym->stock->job), sym->name);
	fetch_request_defaults(&t->req);
	t->req.url = t->url;
	t->req.dest = t->csv;
	t->req.timeout_ms = (long)sj->cfg.fetch_timeout_ms;
	t->req.max_bytes = sj->cfg.max_download;
	t->req.max_attempts = sj->cfg.fetch_attempts;
	t->req.cancel = &t->cancel;
	error = pool_submit(sj->fetch_pool, stockjob_fetch_work,
	    stockjob_fetch_done, t, &t->pool_id);
	if (error != 0) {
		free(t->url);
		free(t->csv);
		free(t);
		return error;
	}
	sym->fetch = t;
	stockjob_symbol_set(sym, SYM_FETCHING);
	return 0;
}

static void
stockjob_unqueue(struct stock *sk)
{
	if (sk->in_active) {
		TAILQ_REMOVE(&sk->engine->active, sk, active);
		sk->in_active = 0;
	}
}

/* Moves parked conversions, then downloads, into their pools. */
static void
stockjob_dispatch(struct stockjob *sj)
{
	struct symbol	*sym;
	struct stock	*sk;

	if (jobs_stopping(sj->jobs))
		return;
	while ((sym = TAILQ_FIRST(&sj->backlog)) != NULL) {
		if (stockjob_convert_start(sj, sym, sym->parked) != 0)
			break;
		sym->parked = NULL;
		TAILQ_REMOVE(&sj->backlog, sym, backlog);
	}
	while (sj->fetching < sj->cfg.fetch_slots &&
	    (sk = TAILQ_FIRST(&sj->active)) != NULL) {
		while (sk->next < sk->nsym &&
		    sk->syms[sk->next].state != SYM_QUEUED)
			sk->next++;
		if (sk->next == sk->nsym) {
			stockjob_unqueue(sk);
			continue;
		}
		if (stockjob_fetch_start(sj, &sk->syms[sk->next]) != 0)
			break;
		sk->next++;
		TAILQ_REMOVE(&sj->active, sk, active);	/* round robin */
		TAILQ_INSERT_TAIL(&sj->active, sk, active);
		job_changed(sk->job);
	}
}

/* --- the interface --- */

void
stockjob_set_source(struct stockjob *sj, const char *source)
{
	free(sj->source);
	sj->source = xstrdup(source);
}

int
stockjob_submit(struct stockjob *sj, const char *const *symbols,
    unsigned n, struct job **out)
{
	struct stock	*sk;
	unsigned	 i;
	int		 error;

	if ((error = jobs_admit(sj->jobs, n)) != 0)
		return error;
	sk = xcalloc(1, sizeof *sk);
	sk->engine = sj;
	sk->nsym = n;
	sk->syms = xcalloc(n, sizeof *sk->syms);
	for (i = 0; i < n; i++) {
		sk->syms[i].stock = sk;
		snprintf(sk->syms[i].name, sizeof sk->syms[i].name, "%s",
		    symbols[i]);
		sk->syms[i].state = SYM_QUEUED;
	}
	sk->count[SYM_QUEUED] = n;
	sk->job = job_new(sj->jobs, &stockjob_kind, sk, n);
	TAILQ_INSERT_TAIL(&sj->active, sk, active);
	sk->in_active = 1;
	log_info("job %llu: %u symbols", (unsigned long long)job_id(sk->job),
	    n);
	stockjob_dispatch(sj);
	*out = sk->job;
	return 0;
}

void
stockjob_get_stats(const struct stockjob *sj, struct stockjob_stats *st)
{
	memset(st, 0, sizeof *st);
	st->fetching = sj->fetching;
	st->converting = sj->converting;
	st->archiving = sj->archiving;
	st->symbols_succeeded = sj->succeeded;
	st->symbols_failed = sj->failed;
}

const char *
stockjob_archive_dir(const struct stockjob *sj)
{
	return sj->wd.archive_dir;
}

int
stockjob_symbol_xml(const struct job *job, const char *symbol, char **path,
    const char **archive, const char **entry)
{
	const struct stock	*sk = job->data;
	const struct symbol	*sym = NULL;
	unsigned		 i;

	*path = NULL;
	*archive = *entry = NULL;
	if (job->kind != &stockjob_kind)
		return -1;
	for (i = 0; i < sk->nsym; i++) {
		if (strcmp(sk->syms[i].name, symbol) == 0)
			sym = &sk->syms[i];
	}
	if (sym == NULL)
		return -1;
	if (sym->state == SYM_SUCCEEDED) {
		*archive = sym->archive;
		*entry = sym->entry;
		return 0;
	}
	if (sym->state == SYM_ARCHIVING) {
		*path = workdir_xml(&sk->engine->wd, job->id, sym->name);
		return 0;
	}
	return -1;
}

/* --- the kind's ops --- */

static void
stockjob_cancel(struct job *job)
{
	struct stock	*sk = job->data;
	struct stockjob	*sj = sk->engine;
	struct symbol	*sym;
	unsigned	 i;

	stockjob_unqueue(sk);		/* nothing more to start */
	for (i = 0; i < sk->nsym; i++) {
		sym = &sk->syms[i];
		switch (sym->state) {
		case SYM_QUEUED:
			stockjob_symbol_set(sym, SYM_CANCELED);
			break;
		case SYM_FETCHING:
			/* Queued in the pool: never starts; running: aborts. */
			atomic_store(&sym->fetch->cancel, 1);
			pool_cancel(sj->fetch_pool, sym->fetch->pool_id);
			break;
		case SYM_CONVERTING:
			if (sym->convert != NULL)
				pool_cancel(sj->convert_pool,
				    sym->convert->pool_id);
			else		/* parked in the backlog */
				stockjob_unpark(sj, sym);
			break;
		default:
			break;		/* archiving or done: kept */
		}
	}
	stockjob_maybe_flush(sj);
}

static void
stockjob_shutdown(struct job *job)
{
	struct stock	*sk = job->data;
	unsigned	 i;

	for (i = 0; i < sk->nsym; i++) {
		if (sk->syms[i].state == SYM_FETCHING)
			atomic_store(&sk->syms[i].fetch->cancel, 1);
	}
}

static enum job_state
stockjob_settled(const struct job *job)
{
	const struct stock	*sk = job->data;

	if (sk->count[SYM_QUEUED] + sk->count[SYM_FETCHING] +
	    sk->count[SYM_CONVERTING] + sk->count[SYM_ARCHIVING] > 0)
		return 0;
	return sk->count[SYM_FAILED] > 0 ? JOB_FAILED : JOB_SUCCEEDED;
}

static json_t *
stockjob_symbol_json(const struct symbol *sym)
{
	json_t	*s, *err;

	err = sym->state == SYM_FAILED ? json_pack("{s:s, s:s}",
	    "code", sym->err_code, "message", sym->err_msg) : json_null();
	s = json_pack("{s:s, s:s, s:I, s:o, s:I, s:I, s:o, s:o}",
	    "symbol", sym->name, "state", stockjob_sym_states[sym->state],
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
	return s;
}

static void
stockjob_json(const struct job *job, json_t *obj, int detail)
{
	const struct stock	*sk = job->data;
	json_t			*arr, *progress;
	unsigned		 i;

	progress = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
	    "total", (json_int_t)sk->nsym,
	    "queued", (json_int_t)sk->count[SYM_QUEUED],
	    "running", (json_int_t)(sk->count[SYM_FETCHING] +
	    sk->count[SYM_CONVERTING] + sk->count[SYM_ARCHIVING]),
	    "succeeded", (json_int_t)sk->count[SYM_SUCCEEDED],
	    "failed", (json_int_t)sk->count[SYM_FAILED],
	    "canceled", (json_int_t)sk->count[SYM_CANCELED]);
	if (progress == NULL)
		fatalx("jobs: json_pack progress");
	json_object_set_new(obj, "progress", progress);
	if (!detail)
		return;
	arr = json_array();
	for (i = 0; i < sk->nsym; i++)
		json_array_append_new(arr, stockjob_symbol_json(&sk->syms[i]));
	json_object_set_new(obj, "symbols", arr);
}

static void
stockjob_free_job(struct job *job)
{
	struct stock	*sk = job->data;
	unsigned	 i;

	stockjob_unqueue(sk);
	for (i = 0; i < sk->nsym; i++) {
		free(sk->syms[i].archive);
		free(sk->syms[i].entry);
		free(sk->syms[i].err_code);
		free(sk->syms[i].err_msg);
	}
	free(sk->syms);
	free(sk);
}

static const struct job_kind stockjob_kind = {
	.name = "stock",
	.cancel = stockjob_cancel,
	.shutdown = stockjob_shutdown,
	.settled = stockjob_settled,
	.json = stockjob_json,
	.free = stockjob_free_job,
};

/* --- life of the pipeline --- */

static void
stockjob_leftover(const char *path, const char *entry, void *arg)
{
	struct stockjob	*sj = arg;

	archiver_add(sj->archiver, path, entry, NULL);
	sj->unflushed++;
}

struct stockjob *
stockjob_new(struct jobs *js, struct compq *cq, struct pool *fetch,
    struct pool *convert, const struct stockjob_config *cfg, char *err,
    size_t errlen)
{
	struct stockjob		*sj;
	struct archiver_options	 ao;

	sj = xcalloc(1, sizeof *sj);
	sj->jobs = js;
	sj->cq = cq;
	sj->fetch_pool = fetch;
	sj->convert_pool = convert;
	sj->cfg = *cfg;
	TAILQ_INIT(&sj->active);
	TAILQ_INIT(&sj->backlog);
	if (workdir_open(&sj->wd, cfg->data_dir) != 0) {
		snprintf(err, errlen, "cannot create the data directory's "
		    "csv/, xml/ and archives/");
		free(sj);
		return NULL;
	}
	ao.dir = sj->wd.archive_dir;
	ao.prefix = ARCHIVER_PREFIX;
	ao.batch_size = cfg->batch_size;
	ao.gzip_level = cfg->gzip_level;
	ao.threads = cfg->archive_threads;
	sj->archiver = archiver_new(&ao, cq, stockjob_archived, sj, err,
	    errlen);
	if (sj->archiver == NULL) {
		workdir_close(&sj->wd);
		free(sj);
		return NULL;
	}
	workdir_recover(&sj->wd, stockjob_leftover, sj);
	stockjob_maybe_flush(sj);
	return sj;
}

void
stockjob_finish(struct stockjob *sj)
{
	struct symbol	*sym;

	if (sj == NULL)
		return;
	/* Conversions parked for lack of room will not happen now. */
	while ((sym = TAILQ_FIRST(&sj->backlog)) != NULL)
		stockjob_unpark(sj, sym);
	/* Every converted file goes into an archive before we leave. */
	archiver_free(sj->archiver);
	sj->archiver = NULL;
	compq_drain(sj->cq);		/* their results, to their symbols */
}

void
stockjob_free(struct stockjob *sj)
{
	if (sj == NULL)
		return;
	free(sj->source);
	workdir_close(&sj->wd);
	free(sj);
}
