/*
 * stockjob.c - stock jobs, a kind of job: submitting, the kind's ops,
 * JSON, and the life of the pipeline (stockjob_pipe.c has its steps).
 *
 * The loop thread owns every record here. Work is admitted in small
 * amounts: a job holds its symbols' small records, and at most
 * `fetch_slots` downloads exist at a time, so memory does not grow with
 * the number of waiting symbols. When nothing is downloading or
 * converting, the archiver is flushed, so a finished job never waits for
 * a batch to fill.
 */
#include "config.h"

#include <sys/queue.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jobs/jobs_kind.h"
#include "jobs/stockjob_int.h"
#include "lib/compq.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/xmalloc.h"

static const char *const stockjob_sym_states[SYM_NSTATES] = {
	"queued", "fetching", "converting", "archiving", "succeeded",
	"failed", "canceled"
};

static const struct job_kind stockjob_kind;

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
