/*
 * stockjob_pipe.c - the steps of a stock job's symbols.
 *
 *   queued -> fetching -> converting -> archiving -> succeeded
 *                 \            \             \----> failed
 *                  \------------\-----------------> failed | canceled
 *
 * Downloads run on the fetch pool, conversions on the convert pool, and
 * packing on the archiver's threads; each hands its result back through
 * the completion queue, so the functions below never block and never
 * race. At most `fetch_slots` downloads exist at a time, taken
 * round-robin across jobs.
 */
#include "config.h"

#include <sys/queue.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include "jobs/jobs_kind.h"
#include "jobs/stockjob_int.h"
#include "lib/fsfree.h"
#include "lib/histo.h"
#include "lib/log.h"
#include "lib/mono.h"
#include "lib/pool.h"
#include "lib/xmalloc.h"

void
stockjob_symbol_set(struct symbol *sym, enum sym_state st)
{
	struct stock	*sk = sym->stock;
	struct stockjob	*sj = sk->engine;

	/*
	 * A step's time, unless a cancel or a stop cut it short, or the
	 * step began before a restart (restored with no start time).
	 */
	if (sym->state >= SYM_FETCHING && sym->state <= SYM_ARCHIVING &&
	    st != SYM_CANCELED && st != SYM_QUEUED &&
	    (sym->stage_since.tv_sec != 0 || sym->stage_since.tv_nsec != 0))
		histo_observe(&sj->stage[sym->state - SYM_FETCHING],
		    mono_since_s(&sym->stage_since));
	if (st >= SYM_FETCHING && st <= SYM_ARCHIVING)
		sym->stage_since = mono_now();
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
	if (st >= SYM_SUCCEEDED) {
		sym->dirty = 1;		/* its row goes to the store */
		job_dirty(sk->job);
	}
	if (st == SYM_FETCHING)
		job_start(sk->job);
	if (!sym->noticed) {		/* for the job's next event */
		if (sk->changed == NULL)
			sk->changed = xcalloc(sk->nsym, sizeof *sk->changed);
		sym->noticed = 1;
		sk->changed[sk->nchanged++] = (unsigned)(sym - sk->syms);
	}
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
	/* Packing what waits for a batch frees its XML for the rest. */
	if (strcmp(code, "disk_full") == 0)
		archiver_flush(sym->stock->engine->archiver);
}

/* Nothing downloading or converting: pack what waits for a batch. */
void
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

void
stockjob_archived(const struct archiver_result *r, void *arg)
{
	struct stockjob	*sj = arg;
	struct symbol	*sym = r->token;

	/* An archive written: if downloads waited for room, they go on. */
	if (r->error == NULL)
		stockjob_dispatch(sj);
	if (sym == NULL) {
		/* A file left by an earlier run, now safely archived. */
		if (r->error != NULL)
			log_warn("leftover %s: %s", r->entry, r->error);
		return;
	}
	if (r->deferred) {
		/* Stopped with no room for its archive: the XML stays and
		 * the next start archives it (stockjob_recover). */
		log_info("job %llu: %s stays converted: %s",
		    (unsigned long long)job_id(sym->stock->job), sym->name,
		    r->error);
		return;
	}
	free(sym->xml);
	sym->xml = NULL;
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

	/* The pool already has a thread per core: one thread a file. */
	t->rv = csv2xml_file(t->csv, t->xml, NULL, 1, &t->st, t->err,
	    sizeof t->err);
	/*
	 * Read, the CSV is done with either way. Removed here, not on the
	 * loop: an unlink gives back the file's page cache, in time that
	 * grows with its size, under the lock of a directory the other
	 * workers are writing to. (Were the process to die now, the symbol
	 * is not done, and is fetched again.)
	 */
	if (unlink(t->csv) == 0 || errno == ENOENT)
		t->csv_gone = 1;
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
		/* Not finished when the job was cancelled: not kept. A stop
		 * of the server is no cancel: the symbol is done again. */
		unlink(t->xml);
		stockjob_symbol_set(sym, jobs_stopping(sj->jobs) &&
		    !sk->job->cancel ? SYM_QUEUED : SYM_CANCELED);
	} else if (t->rv != 0) {
		/* The disk, not the upstream, when the XML could not be
		 * written (what was written is gone: csv2xml_file). */
		stockjob_symbol_fail(sym, t->st.out_errno == ENOSPC ||
		    t->st.out_errno == EDQUOT ? "disk_full" : "bad_csv",
		    t->err);
	} else {
		sym->rows = t->st.rows;
		entry = names_entry(job_id(sk->job), sym->name);
		archiver_add(sj->archiver, t->xml, entry, sym);
		sym->xml = t->xml;
		t->xml = NULL;
		free(entry);
		sj->unflushed++;
		stockjob_symbol_set(sym, SYM_ARCHIVING);
	}
	if (!t->csv_gone)	/* canceled before it ran */
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
void
stockjob_unpark(struct stockjob *sj, struct symbol *sym, enum sym_state to)
{
	TAILQ_REMOVE(&sj->backlog, sym, backlog);
	unlink(sym->parked);
	free(sym->parked);
	sym->parked = NULL;
	stockjob_symbol_set(sym, to);
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
	unsigned		 i;

	sym->fetch = NULL;
	for (i = 0; i < FETCH_RETRY_NREASONS; i++)
		sj->retries[i] += t->res.retries[i];
	sym->attempts = t->res.attempts;
	sym->http_status = t->res.http_status;
	sym->bytes = t->res.bytes;
	if (status == POOL_CANCELED || sk->job->cancel ||
	    strcmp(t->res.code, "canceled") == 0) {
		unlink(t->csv);
		free(t->csv);
		/* A stop of the server is no cancel: fetched again later. */
		stockjob_symbol_set(sym, jobs_stopping(sj->jobs) &&
		    !sk->job->cancel ? SYM_QUEUED : SYM_CANCELED);
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
	free(t->key);
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
	if (sj->source_key != NULL)	/* a copy: a reload may change it */
		t->req.pinned_key = t->key = xstrdup(sj->source_key);
	error = pool_submit(sj->fetch_pool, stockjob_fetch_work,
	    stockjob_fetch_done, t, &t->pool_id);
	if (error != 0) {
		free(t->url);
		free(t->csv);
		free(t->key);
		free(t);
		return error;
	}
	sym->fetch = t;
	stockjob_symbol_set(sym, SYM_FETCHING);
	return 0;
}

void
stockjob_unqueue(struct stock *sk)
{
	if (sk->in_active) {
		TAILQ_REMOVE(&sk->engine->active, sk, active);
		sk->in_active = 0;
	}
}

/*
 * 1 if new work may write to the data directory: the archiver has room
 * and more than half of --min-free-space is free (the other half is kept
 * for the archives of what is converted already). One statvfs.
 */
static int
stockjob_has_room(struct stockjob *sj, uint64_t *avail)
{
	/* Unknown (UINT64_MAX): the archiver will tell. */
	*avail = fs_free_bytes(sj->wd.archive_dir);
	if (archiver_short_of_room(sj->archiver))
		return 0;
	return *avail >= sj->cfg.min_free_space / 2;
}

void
stockjob_room_cb(evutil_socket_t fd, short what, void *arg)
{
	stockjob_dispatch(arg);
}

/*
 * Work waits while there is no room (stockjob_has_room): a download now
 * would only fail as disk_full. What is converted is packed, freeing its
 * XML, and the check comes back every second and after each archive
 * (stockjob_archived). 0 if work may start.
 */
static int
stockjob_wait_for_room(struct stockjob *sj)
{
	static const struct timeval	 again = { 1, 0 };
	uint64_t			 avail;

	if (TAILQ_EMPTY(&sj->backlog) && TAILQ_EMPTY(&sj->active))
		return 0;		/* nothing would start */
	if (stockjob_has_room(sj, &avail)) {
		if (sj->paused)
			log_info("jobs: room again in %s: downloads go on",
			    sj->wd.archive_dir);
		sj->paused = 0;
		return 0;
	}
	if (!sj->paused)
		log_warn("jobs: downloads wait for room in %s (%llu bytes "
		    "free, %s)", sj->wd.archive_dir, (unsigned long long)avail,
		    archiver_short_of_room(sj->archiver) ? "archives cannot "
		    "be written" : "under half of --min-free-space");
	sj->paused = 1;
	archiver_flush(sj->archiver);
	if (!evtimer_pending(sj->room_timer, NULL))
		evtimer_add(sj->room_timer, &again);
	return -1;
}

/* Moves parked conversions, then downloads, into their pools. */
void
stockjob_dispatch(struct stockjob *sj)
{
	struct symbol	*sym;
	struct stock	*sk;

	/* No source yet: resumed jobs wait for stockjob_set_source. */
	if (jobs_stopping(sj->jobs) || sj->source == NULL ||
	    stockjob_wait_for_room(sj) != 0)
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

