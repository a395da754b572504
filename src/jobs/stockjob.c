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
#include <sys/stat.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "jobs/jobs_kind.h"
#include "jobs/stockjob_int.h"
#include "jobs/store.h"
#include "lib/compq.h"
#include "lib/histo.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/xmalloc.h"
#include "stock/tgzdir.h"

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
	stockjob_dispatch(sj);		/* resumed jobs waited for it */
}

void
stockjob_set_source_key(struct stockjob *sj, const char *pin)
{
	free(sj->source_key);
	sj->source_key = pin != NULL ? xstrdup(pin) : NULL;
}

/* A stock job's record, every symbol queued. */
static struct stock *
stockjob_record(struct stockjob *sj, const char *const *symbols,
    unsigned n)
{
	struct stock	*sk;
	unsigned	 i;
	size_t		 len;

	sk = xcalloc(1, sizeof *sk);
	sk->engine = sj;
	sk->nsym = n;
	sk->syms = xcalloc(n, sizeof *sk->syms);
	for (i = 0; i < n; i++) {
		/* Not snprintf: it showed in a 100,000-symbol profile. */
		len = strnlen(symbols[i], sizeof sk->syms[i].name - 1);
		memcpy(sk->syms[i].name, symbols[i], len);
		sk->syms[i].name[len] = '\0';
		sk->syms[i].stock = sk;
		sk->syms[i].state = SYM_QUEUED;
	}
	sk->count[SYM_QUEUED] = n;
	return sk;
}

static void
stockjob_record_free(struct stock *sk)
{
	unsigned	i;

	for (i = 0; i < sk->nsym; i++) {
		free(sk->syms[i].archive);
		free(sk->syms[i].entry);
		free(sk->syms[i].err_code);
		free(sk->syms[i].err_msg);
		free(sk->syms[i].xml);
	}
	free(sk->changed);
	free(sk->syms);
	free(sk);
}

/* The job's work may start: into the round robin. */
static void
stockjob_queue(struct stock *sk)
{
	TAILQ_INSERT_TAIL(&sk->engine->active, sk, active);
	sk->in_active = 1;
	stockjob_dispatch(sk->engine);
}


/*
 * The spec a job is stored with, {"symbols":[...]}, written straight
 * out: a symbol has only characters JSON never escapes (names.h), and
 * building 100,000 JSON strings to dump them cost the loop 12 ms more.
 */
static char *
stockjob_spec(const char *const *symbols, unsigned n)
{
	static const char head[] = "{\"symbols\":[", tail[] = "]}";
	size_t		 len = sizeof head + sizeof tail, off, sl;
	unsigned	 i;
	char		*spec;

	for (i = 0; i < n; i++)
		len += strlen(symbols[i]) + 3;		/* "",  */
	spec = xmalloc(len);
	memcpy(spec, head, sizeof head - 1);
	off = sizeof head - 1;
	for (i = 0; i < n; i++) {
		if (i > 0)
			spec[off++] = ',';
		sl = strlen(symbols[i]);
		spec[off++] = '"';
		memcpy(spec + off, symbols[i], sl);
		off += sl;
		spec[off++] = '"';
	}
	memcpy(spec + off, tail, sizeof tail);		/* with its NUL */
	return spec;
}

int
stockjob_submit(struct stockjob *sj, const char *const *symbols,
    unsigned n, const char *idem_key, const char *idem_request,
    job_created_fn *fn, void *arg)
{
	struct stock	*sk;
	char		*spec;
	int		 error;

	spec = stockjob_spec(symbols, n);
	sk = stockjob_record(sj, symbols, n);
	error = job_create(sj->jobs, &stockjob_kind, sk, n, spec, idem_key,
	    idem_request, fn, arg);
	free(spec);
	if (error != 0)
		stockjob_record_free(sk);
	return error;
}

const char *const stockjob_stage_names[STOCKJOB_NSTAGES] = {
	"fetch", "convert", "archive"
};

void
stockjob_get_stats(const struct stockjob *sj, struct stockjob_stats *st)
{
	memset(st, 0, sizeof *st);
	st->fetching = sj->fetching;
	st->converting = sj->converting;
	st->archiving = sj->archiving;
	st->symbols_succeeded = sj->succeeded;
	st->symbols_failed = sj->failed;
	archiver_get_stats(sj->archiver, &st->archiver);
	st->paused = sj->paused;
	memcpy(st->fetch_retries, sj->retries, sizeof st->fetch_retries);
	memcpy(st->stage, sj->stage, sizeof st->stage);
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
	if (sym->state == SYM_ARCHIVING && sym->xml != NULL) {
		*path = xstrdup(sym->xml);
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
				stockjob_unpark(sj, sym, SYM_CANCELED);
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

	/* Converted files wait for a batch: "archiving" tells them apart. */
	progress = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "total", (json_int_t)sk->nsym,
	    "queued", (json_int_t)sk->count[SYM_QUEUED],
	    "running", (json_int_t)(sk->count[SYM_FETCHING] +
	    sk->count[SYM_CONVERTING] + sk->count[SYM_ARCHIVING]),
	    "archiving", (json_int_t)sk->count[SYM_ARCHIVING],
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

static json_t *
stockjob_symbol_item(const struct stock *sk, unsigned i)
{
	json_t	*s = stockjob_symbol_json(&sk->syms[i]);

	json_object_set_new(s, "index", json_integer(i));
	return s;
}

static void
stockjob_changes(struct job *job, json_t *obj)
{
	struct stock	*sk = job->data;
	json_t		*arr;
	unsigned	 i;

	if (sk->nchanged == 0)
		return;
	arr = json_array();
	for (i = 0; i < sk->nchanged; i++) {
		sk->syms[sk->changed[i]].noticed = 0;
		json_array_append_new(arr, stockjob_symbol_item(sk,
		    sk->changed[i]));
	}
	sk->nchanged = 0;
	json_object_set_new(obj, "symbols", arr);
}

static int
stockjob_matches(const struct job *job, const char *q)
{
	const struct stock	*sk = job->data;
	unsigned		 i;

	for (i = 0; i < sk->nsym; i++) {
		if (strcasestr(sk->syms[i].name, q) != NULL)
			return 1;
	}
	return 0;
}

int
stockjob_symbol_state(const char *name)
{
	int	i;

	for (i = 0; i < SYM_NSTATES; i++) {
		if (strcmp(stockjob_sym_states[i], name) == 0)
			return i;
	}
	return -1;
}

static int
stockjob_query_match(const struct symbol *sym, const struct stockjob_query *q)
{
	return (q->state < 0 || (int)sym->state == q->state) &&
	    (q->q == NULL || strcasestr(sym->name, q->q) != NULL);
}

unsigned
stockjob_symbol_count(const struct job *job)
{
	const struct stock	*sk;

	if (strcmp(job_type(job), stockjob_kind.name) != 0)
		return 0;
	sk = job->data;
	return sk->nsym;
}

json_t *
stockjob_symbols_json(const struct job *job, const struct stockjob_query *q)
{
	const struct stock	*sk;
	json_t			*arr;
	size_t			 total = 0;
	unsigned		 pass, i;
	int			 failed;

	if (strcmp(job_type(job), stockjob_kind.name) != 0)
		return NULL;
	sk = job->data;
	arr = json_array();
	/* Failed first: one pass over the failed, one over the rest. */
	for (pass = q->failed_first ? 0 : 1; pass < 2; pass++) {
		for (i = 0; i < sk->nsym; i++) {
			failed = sk->syms[i].state == SYM_FAILED;
			if ((q->failed_first && failed != (pass == 0)) ||
			    !stockjob_query_match(&sk->syms[i], q))
				continue;
			if (total >= q->offset && total - q->offset < q->limit)
				json_array_append_new(arr,
				    stockjob_symbol_item(sk, i));
			total++;
		}
	}
	return json_pack("{s:I, s:o}", "total", (json_int_t)total,
	    "symbols", arr);
}

static void
stockjob_free_job(struct job *job)
{
	struct stock	*sk = job->data;

	stockjob_unqueue(sk);
	stockjob_record_free(sk);
}

static void
stockjob_begin(struct job *job)
{
	struct stock	*sk = job->data;

	sk->job = job;
	log_info("job %llu: %u symbols", (unsigned long long)job->id,
	    sk->nsym);
	stockjob_queue(sk);
}

static void
stockjob_drop(void *data)
{
	stockjob_record_free(data);
}

/* A finished symbol's row: what its JSON shows, and its entry. */
static char *
stockjob_item(const struct symbol *sym)
{
	json_t	*obj;
	char	*s;

	obj = json_pack("{s:s, s:I, s:I, s:I, s:I}",
	    "state", stockjob_sym_states[sym->state],
	    "attempts", (json_int_t)sym->attempts,
	    "http_status", (json_int_t)sym->http_status,
	    "bytes", (json_int_t)sym->bytes, "rows", (json_int_t)sym->rows);
	if (obj == NULL)
		fatalx("stockjob: json_pack item");
	if (sym->archive != NULL) {
		json_object_set_new(obj, "archive", json_string(sym->archive));
		json_object_set_new(obj, "entry", json_string(sym->entry));
	}
	if (sym->err_code != NULL) {
		json_object_set_new(obj, "code", json_string(sym->err_code));
		json_object_set_new(obj, "message",
		    json_string(sym->err_msg));
	}
	if ((s = json_dumps(obj, JSON_COMPACT)) == NULL)
		fatalx("stockjob: json_dumps item");
	json_decref(obj);
	return s;
}

static void
stockjob_save(struct job *job, struct store_txn *txn, int all)
{
	struct stock		*sk = job->data;
	struct symbol		*sym;
	struct store_item	 item;
	char			*data;
	unsigned		 i;

	for (i = 0; i < sk->nsym; i++) {
		sym = &sk->syms[i];
		if (sym->state < SYM_SUCCEEDED || (!sym->dirty && !all))
			continue;
		sym->dirty = 0;
		data = stockjob_item(sym);
		item.job = job->id;
		item.index = i;
		item.data = data;
		store_put_item(txn, &item);
		free(data);
	}
}

static int
stockjob_restore(void *engine, struct job *job, const char *spec,
    char *err, size_t errlen)
{
	struct stockjob	*sj = engine;
	struct stock	*sk;
	const char	**names;
	json_t		*obj, *arr;
	size_t		 i, n;

	obj = json_loads(spec, 0, NULL);
	arr = json_object_get(obj, "symbols");
	n = json_array_size(arr);
	names = xcalloc(n > 0 ? n : 1, sizeof *names);
	for (i = 0; i < n; i++) {
		names[i] = json_string_value(json_array_get(arr, i));
		if (names[i] == NULL || !names_symbol_ok(names[i]))
			break;
	}
	if (n == 0 || i < n) {
		free(names);
		json_decref(obj);
		snprintf(err, errlen, "job %" PRIu64 ": a stock job's "
		    "description cannot be read", job->id);
		return -1;
	}
	sk = stockjob_record(sj, names, (unsigned)n);
	free(names);
	json_decref(obj);
	sk->job = job;
	job->data = sk;
	job->units = job_finished(job) ? 0 : sk->nsym;
	return 0;
}

static int
stockjob_restore_item(struct job *job, uint32_t index, const char *data,
    char *err, size_t errlen)
{
	struct stock	*sk = job->data;
	struct symbol	*sym;
	json_t		*obj;
	const char	*state = NULL, *archive = NULL, *entry = NULL;
	const char	*code = NULL, *message = NULL;
	json_int_t	 attempts = 0, status = 0, bytes = 0, rows = 0;
	int		 st;

	obj = json_loads(data, 0, NULL);
	if (index >= sk->nsym || obj == NULL || json_unpack(obj,
	    "{s:s, s?I, s?I, s?I, s?I, s?s, s?s, s?s, s?s}", "state", &state,
	    "attempts", &attempts, "http_status", &status, "bytes", &bytes,
	    "rows", &rows, "archive", &archive, "entry", &entry,
	    "code", &code, "message", &message) != 0) {
		json_decref(obj);
		snprintf(err, errlen, "job %" PRIu64 ": symbol %u cannot be "
		    "read", job->id, index);
		return -1;
	}
	for (st = SYM_SUCCEEDED; st < SYM_NSTATES; st++) {
		if (strcmp(state, stockjob_sym_states[st]) == 0)
			break;
	}
	sym = &sk->syms[index];
	if (st < SYM_NSTATES) {
		sk->count[sym->state]--;
		sk->count[st]++;
		sym->state = (enum sym_state)st;
		sym->attempts = (unsigned)attempts;
		sym->http_status = (int)status;
		sym->bytes = (uint64_t)bytes;
		sym->rows = (uint64_t)rows;
		free(sym->archive);
		free(sym->entry);
		sym->archive = archive != NULL ? xstrdup(archive) : NULL;
		sym->entry = entry != NULL ? xstrdup(entry) : NULL;
		if (code != NULL) {
			sym->err_code = xstrdup(code);
			sym->err_msg = xstrdup(message != NULL ? message : "");
		}
		if (!job_finished(job))
			job_release(job, 1);
	}
	json_decref(obj);
	return 0;
}

static void
stockjob_resume(struct job *job)
{
	struct stock	*sk = job->data;

	if (job->cancel)
		stockjob_cancel(job);	/* what was queued stays so no more */
	else
		stockjob_queue(sk);
	job_update(job);
}

static const struct job_kind stockjob_kind = {
	.name = "stock",
	.cancel = stockjob_cancel,
	.shutdown = stockjob_shutdown,
	.settled = stockjob_settled,
	.json = stockjob_json,
	.changes = stockjob_changes,
	.matches = stockjob_matches,
	.free = stockjob_free_job,
	.begin = stockjob_begin,
	.drop = stockjob_drop,
	.save = stockjob_save,
	.restore = stockjob_restore,
	.restore_item = stockjob_restore_item,
	.resume = stockjob_resume,
};

void
stockjob_watch_archives(struct stockjob *sj, archiver_packed_fn *fn,
    void *arg)
{
	archiver_watch(sj->archiver, fn, arg);
}

/* --- what an earlier run left --- */

/* The symbol of a stock job an archive entry "JOB/SYMBOL.xml" names. */
static struct symbol *
stockjob_entry_symbol(struct stockjob *sj, const char *entry)
{
	struct job	*job;
	struct stock	*sk;
	char		 sym[NAMES_SYMBOL_MAX + 1];
	const char	*slash;
	char		*end;
	uint64_t	 id;
	unsigned	 i;

	if ((slash = strchr(entry, '/')) == NULL || slash == entry)
		return NULL;
	id = strtoull(entry, &end, 10);
	if (end != slash || names_symbol_file(slash + 1, ".xml", sym) != 0 ||
	    (job = jobs_find(sj->jobs, id)) == NULL ||
	    job->kind != &stockjob_kind)
		return NULL;
	sk = job->data;
	for (i = 0; i < sk->nsym; i++) {
		if (strcmp(sk->syms[i].name, sym) == 0)
			return &sk->syms[i];
	}
	return NULL;
}

/* An entry of an archive written while the store was not told. */
struct stockjob_scan {
	struct stockjob	*sj;
	const char	*archive;
	unsigned	 found;
};

static void
stockjob_scan_entry(const char *entry, void *arg)
{
	struct stockjob_scan	*sc = arg;
	struct symbol		*sym;

	sym = stockjob_entry_symbol(sc->sj, entry);
	if (sym == NULL || sym->state >= SYM_SUCCEEDED)
		return;
	sym->archive = xstrdup(sc->archive);
	sym->entry = xstrdup(entry);
	stockjob_symbol_set(sym, SYM_SUCCEEDED);
	sc->found++;
}

/*
 * A symbol's XML may be in an archive although its job does not know:
 * the process died between the archive's rename and the store's commit.
 * Such archives are no older than the oldest unfinished job; their
 * entries settle the symbols, so none is packed twice.
 */
static void
stockjob_reconcile(struct stockjob *sj)
{
	struct stockjob_scan	 sc = { sj, NULL, 0 };
	struct job		*job;
	struct tgzdir		*td;
	struct stat		 st;
	char			**names, *path;
	size_t			 n, i;
	time_t			 since = 0;

	for (job = jobs_first(sj->jobs, -1, 0); job != NULL;
	    job = jobs_next(sj->jobs, job, -1)) {
		if (job->kind == &stockjob_kind && !job_finished(job))
			since = job->created.tv_sec;	/* the list: newest first */
	}
	if (since == 0 || archiver_list(sj->wd.archive_dir, ARCHIVER_PREFIX,
	    &names, &n) != 0)
		return;
	td = tgzdir_new(sj->wd.archive_dir);
	for (i = 0; i < n; i++) {
		xasprintf(&path, "%s/%s", sj->wd.archive_dir, names[i]);
		/* A minute of slack for a clock set back. */
		if (stat(path, &st) == 0 && st.st_mtime + 60 >= since) {
			sc.archive = names[i];
			if (tgzdir_entries(td, names[i], stockjob_scan_entry,
			    &sc) != 0)
				log_warn("%s: cannot be read to its end", path);
		}
		free(path);
	}
	tgzdir_free(td);
	archiver_list_free(names, n);
	if (sc.found > 0)
		log_info("jobs: %u symbols found in archives the store had "
		    "not heard of", sc.found);
}

static void
stockjob_leftover(const char *path, const char *entry, void *arg)
{
	struct stockjob	*sj = arg;
	struct symbol	*sym;

	sym = stockjob_entry_symbol(sj, entry);
	if (sym != NULL && sym->state >= SYM_SUCCEEDED) {
		unlink(path);	/* archived already, or not wanted */
		return;
	}
	if (sym != NULL) {	/* converted, not archived: archive it */
		stockjob_symbol_set(sym, SYM_ARCHIVING);
		sym->xml = xstrdup(path);
	}
	archiver_add(sj->archiver, path, entry, sym);
	sj->unflushed++;
}

void
stockjob_recover(struct stockjob *sj)
{
	stockjob_reconcile(sj);
	workdir_recover(&sj->wd, stockjob_leftover, sj);
	stockjob_maybe_flush(sj);
}

/* --- life of the pipeline --- */

struct stockjob *
stockjob_new(struct jobs *js, struct compq *cq, struct pool *fetch,
    struct pool *convert, const struct stockjob_config *cfg, char *err,
    size_t errlen)
{
	struct stockjob		*sj;
	struct archiver_options	 ao;
	unsigned		 i;

	sj = xcalloc(1, sizeof *sj);
	for (i = 0; i < STOCKJOB_NSTAGES; i++)
		histo_init(&sj->stage[i], histo_step_s, HISTO_STEP_N);
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
	if ((sj->room_timer = evtimer_new(jobs_base(js), stockjob_room_cb,
	    sj)) == NULL)
		fatalx("jobs: cannot make the room timer");
	jobs_add_kind(js, &stockjob_kind, sj);
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
		stockjob_unpark(sj, sym, SYM_QUEUED);
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
	if (sj->room_timer != NULL)
		event_free(sj->room_timer);
	free(sj->source);
	free(sj->source_key);
	workdir_close(&sj->wd);
	free(sj);
}
