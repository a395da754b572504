/*
 * searchjob.c - Armstrong-number searches as a kind of job.
 *
 * A search is planned into chunks (armstrong.c) when it is submitted;
 * at most a couple of chunks per cpu-pool thread are in flight at once,
 * taken round-robin across searches. Each chunk gathers its finds
 * locally and hands them back with its completion; the loop merges them
 * into the job's sorted result. Cancel sets the flag every running
 * chunk polls, and the queued ones are never started.
 *
 * In the store a search is its range and the thread count it was
 * planned for (so the same plan comes back after a restart), and an item
 * for each finished chunk with what it found: a restarted search runs
 * only the chunks that had not finished.
 */
#include "config.h"

#include <sys/queue.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "armstrong/armstrong.h"
#include "jobs/jobs_kind.h"
#include "jobs/searchjob.h"
#include "jobs/store.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/xmalloc.h"

/* What a chunk found, once it finished. */
struct search_done {
	int			 done;
	int			 dirty;		/* to be saved */
	uint64_t		*found;
	size_t			 nfound;
};

/* One search: the job's record of its kind. */
struct search {
	struct job		*job;
	struct searchjob	*engine;
	TAILQ_ENTRY(search)	 entry;		/* in engine->waiting */
	int			 waiting;	/* has chunks left to start */
	uint64_t		 from, to;
	unsigned		 workers;	/* the plan was made for */
	struct armstrong_chunk	*chunks;
	struct search_done	*dones;		/* one per chunk */
	size_t			 nchunks;
	size_t			 next;		/* no chunk below is to start */
	size_t			 ndone;
	unsigned		 running;
	uint64_t		 examined;	/* numbers settled */
	uint64_t		*found;		/* sorted */
	size_t			 nfound;
	atomic_int		 cancel;	/* read by the chunks */
};

/* A chunk on its way through the cpu pool. */
struct search_chunk {
	struct search		*search;
	size_t			 index;
	uint64_t		*found;
	size_t			 nfound, cap;
};

struct searchjob {
	struct jobs		*jobs;
	struct pool		*cpu_pool;
	unsigned		 workers;
	unsigned		 slots;		/* chunks in flight at most */
	unsigned		 running;
	TAILQ_HEAD(, search)	 waiting;	/* searches with chunks left */
};

static const struct job_kind searchjob_kind;

static void	searchjob_dispatch(struct searchjob *);

static void
searchjob_found(uint64_t x, void *arg)
{
	struct search_chunk	*t = arg;

	if (t->nfound == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		t->found = xreallocarray(t->found, t->cap, sizeof *t->found);
	}
	t->found[t->nfound++] = x;
}

static void
searchjob_work(void *arg)
{
	struct search_chunk	*t = arg;

	armstrong_run(&t->search->chunks[t->index], &t->search->cancel,
	    searchjob_found, t);
}

static int
searchjob_cmp(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Chunk i finished with what it found (taken over): into the result. */
static void
searchjob_merge(struct search *se, size_t i, uint64_t *found, size_t n)
{
	struct search_done	*d = &se->dones[i];

	d->done = 1;
	d->found = found;
	d->nfound = n;
	se->ndone++;
	se->examined += se->chunks[i].covers;
	if (n > 0) {
		se->found = xreallocarray(se->found, se->nfound + n + 1,
		    sizeof *se->found);
		memcpy(se->found + se->nfound, found, n * sizeof *found);
		se->nfound += n;
		qsort(se->found, se->nfound, sizeof *se->found,
		    searchjob_cmp);
	}
}

static void
searchjob_done(void *arg, enum pool_status status)
{
	struct search_chunk	*t = arg;
	struct search		*se = t->search;
	struct searchjob	*sj = se->engine;

	se->running--;
	sj->running--;
	if (status == POOL_DONE && atomic_load(&se->cancel) == 0) {
		searchjob_merge(se, t->index, t->found, t->nfound);
		se->dones[t->index].dirty = 1;
		t->found = NULL;
	} else if (t->index < se->next)
		se->next = t->index;	/* stopped early: to run again */
	free(t->found);
	free(t);
	job_update(se->job);
	searchjob_dispatch(sj);
}

static void
searchjob_unqueue(struct search *se)
{
	if (se->waiting) {
		TAILQ_REMOVE(&se->engine->waiting, se, entry);
		se->waiting = 0;
	}
}

/* The next chunk to start, or nchunks. */
static size_t
searchjob_next(struct search *se)
{
	while (se->next < se->nchunks && se->dones[se->next].done)
		se->next++;
	return se->next;
}

/* Starts chunks while the cpu pool has room, round robin over searches. */
static void
searchjob_dispatch(struct searchjob *sj)
{
	struct search_chunk	*t;
	struct search		*se;
	size_t			 i;

	if (jobs_stopping(sj->jobs))
		return;
	while (sj->running < sj->slots &&
	    (se = TAILQ_FIRST(&sj->waiting)) != NULL) {
		if ((i = searchjob_next(se)) == se->nchunks ||
		    se->job->cancel) {
			searchjob_unqueue(se);
			continue;
		}
		t = xcalloc(1, sizeof *t);
		t->search = se;
		t->index = i;
		if (pool_submit(sj->cpu_pool, searchjob_work, searchjob_done,
		    t, NULL) != 0) {
			free(t);
			break;
		}
		se->next++;
		se->running++;
		sj->running++;
		job_start(se->job);
		TAILQ_REMOVE(&sj->waiting, se, entry);	/* round robin */
		TAILQ_INSERT_TAIL(&sj->waiting, se, entry);
	}
}

/* A search's record for [from, to), planned for `workers` threads. */
static struct search *
searchjob_plan(struct searchjob *sj, uint64_t from, uint64_t to,
    unsigned workers)
{
	struct search	*se;

	se = xcalloc(1, sizeof *se);
	se->engine = sj;
	se->from = from;
	se->to = to;
	se->workers = workers;
	atomic_init(&se->cancel, 0);
	se->nchunks = armstrong_plan(from, to, workers, &se->chunks);
	se->dones = xcalloc(se->nchunks, sizeof *se->dones);
	return se;
}

static void
searchjob_queue(struct search *se)
{
	TAILQ_INSERT_TAIL(&se->engine->waiting, se, entry);
	se->waiting = 1;
	searchjob_dispatch(se->engine);
}

/* Frees a search's record (its job, if any, is the table's). */
static void
searchjob_record_free(struct search *se)
{
	size_t	i;

	for (i = 0; i < se->nchunks; i++)
		free(se->dones[i].found);
	free(se->dones);
	free(se->chunks);
	free(se->found);
	free(se);
}

int
searchjob_submit(struct searchjob *sj, uint64_t from, uint64_t to,
    const char *idem_key, const char *idem_request,
    job_created_fn *fn, void *arg)
{
	struct search	*se;
	char		 spec[96];
	int		 error;

	se = searchjob_plan(sj, from, to, sj->workers);
	snprintf(spec, sizeof spec, "{\"from\":%" PRIu64 ",\"to\":%" PRIu64
	    ",\"workers\":%u}", from, to, sj->workers);
	/*
	 * No units: max_pending bounds unfinished stock symbols (their
	 * files and fetches); a search holds neither, so a full stock
	 * backlog must not refuse it.
	 */
	error = job_create(sj->jobs, &searchjob_kind, se, 0, spec, idem_key,
	    idem_request, fn, arg);
	if (error != 0)
		searchjob_record_free(se);
	return error;
}

/* --- the kind's ops --- */

static void
searchjob_cancel(struct job *job)
{
	struct search	*se = job->data;

	searchjob_unqueue(se);
	/* Running chunks see the flag within a few microseconds. */
	atomic_store(&se->cancel, 1);
}

static void
searchjob_shutdown(struct job *job)
{
	struct search	*se = job->data;

	atomic_store(&se->cancel, 1);
}

static enum job_state
searchjob_settled(const struct job *job)
{
	const struct search	*se = job->data;

	if (se->running > 0 || (se->ndone < se->nchunks && !job->cancel))
		return 0;
	return JOB_SUCCEEDED;
}

static void
searchjob_json(const struct job *job, json_t *obj, int detail)
{
	const struct search	*se = job->data;
	json_t			*arr;
	size_t			 i;

	(void)detail;		/* the result is the job's answer: always */
	arr = json_array();
	for (i = 0; i < se->nfound; i++)
		json_array_append_new(arr, json_integer((json_int_t)
		    se->found[i]));
	json_object_set_new(obj, "from", json_integer((json_int_t)se->from));
	json_object_set_new(obj, "to", json_integer((json_int_t)se->to));
	json_object_set_new(obj, "method", json_string(
	    se->chunks[0].method == ARMSTRONG_SCAN ? "scan" : "multisets"));
	json_object_set_new(obj, "progress", json_pack("{s:I, s:I, s:I, s:I}",
	    "total", (json_int_t)(se->to - se->from),
	    "examined", (json_int_t)se->examined,
	    "chunks", (json_int_t)se->nchunks,
	    "chunks_done", (json_int_t)se->ndone));
	json_object_set_new(obj, "result", arr);
}

static void
searchjob_free_job(struct job *job)
{
	struct search	*se = job->data;

	searchjob_unqueue(se);
	searchjob_record_free(se);
}

static void
searchjob_begin(struct job *job)
{
	struct search	*se = job->data;

	se->job = job;
	log_info("job %" PRIu64 ": Armstrong numbers in [%" PRIu64 ", %"
	    PRIu64 "), %zu chunks by %s", job->id, se->from, se->to,
	    se->nchunks, se->chunks[0].method == ARMSTRONG_SCAN ? "scan" :
	    "multisets");
	searchjob_queue(se);
}

static void
searchjob_drop(void *data)
{
	searchjob_record_free(data);
}

static void
searchjob_save(struct job *job, struct store_txn *txn, int all)
{
	struct search		*se = job->data;
	struct store_item	 item;
	json_t			*arr;
	size_t			 i, k;
	char			*data;

	for (i = 0; i < se->nchunks; i++) {
		if (!se->dones[i].done || (!se->dones[i].dirty && !all))
			continue;
		se->dones[i].dirty = 0;
		arr = json_array();
		for (k = 0; k < se->dones[i].nfound; k++)
			json_array_append_new(arr, json_integer((json_int_t)
			    se->dones[i].found[k]));
		if ((data = json_dumps(arr, JSON_COMPACT)) == NULL)
			fatalx("searchjob: json_dumps");
		json_decref(arr);
		item.job = job->id;
		item.index = (uint32_t)i;
		item.data = data;
		store_put_item(txn, &item);
		free(data);
	}
}

static int
searchjob_restore(void *engine, struct job *job, const char *spec,
    char *err, size_t errlen)
{
	struct searchjob	*sj = engine;
	struct search		*se;
	json_t			*obj;
	json_int_t		 from, to, workers;

	obj = json_loads(spec, 0, NULL);
	if (obj == NULL || json_unpack(obj, "{s:I, s:I, s:I}", "from", &from,
	    "to", &to, "workers", &workers) != 0 || from < 0 || to <= from ||
	    workers < 1 || workers > 1024) {
		json_decref(obj);
		snprintf(err, errlen, "job %" PRIu64 ": a search's "
		    "description cannot be read", job->id);
		return -1;
	}
	json_decref(obj);
	se = searchjob_plan(sj, (uint64_t)from, (uint64_t)to,
	    (unsigned)workers);
	se->job = job;
	job->data = se;
	job->units = 0;		/* see searchjob_submit */
	return 0;
}

static int
searchjob_restore_item(struct job *job, uint32_t index, const char *data,
    char *err, size_t errlen)
{
	struct search	*se = job->data;
	json_t		*arr;
	uint64_t	*found = NULL;
	size_t		 i, n;

	arr = json_loads(data, 0, NULL);
	if (index >= se->nchunks || se->dones[index].done ||
	    !json_is_array(arr)) {
		json_decref(arr);
		snprintf(err, errlen, "job %" PRIu64 ": chunk %u cannot be "
		    "read", job->id, index);
		return -1;
	}
	n = json_array_size(arr);
	if (n > 0)
		found = xcalloc(n, sizeof *found);
	for (i = 0; i < n; i++)
		found[i] = (uint64_t)json_integer_value(json_array_get(arr,
		    i));
	json_decref(arr);
	searchjob_merge(se, index, found, n);
	return 0;
}

static void
searchjob_resume(struct job *job)
{
	struct search	*se = job->data;

	if (job->cancel) {
		job_update(job);	/* nothing runs: it ends canceled */
		return;
	}
	job_changed(job);
	searchjob_queue(se);
	job_update(job);		/* every chunk may be done already */
}

static const struct job_kind searchjob_kind = {
	.name = "armstrong",
	.cancel = searchjob_cancel,
	.shutdown = searchjob_shutdown,
	.settled = searchjob_settled,
	.json = searchjob_json,
	.free = searchjob_free_job,
	.begin = searchjob_begin,
	.drop = searchjob_drop,
	.save = searchjob_save,
	.restore = searchjob_restore,
	.restore_item = searchjob_restore_item,
	.resume = searchjob_resume,
};

struct searchjob *
searchjob_new(struct jobs *js, struct pool *cpu, unsigned workers)
{
	struct searchjob	*sj;

	sj = xcalloc(1, sizeof *sj);
	sj->jobs = js;
	sj->cpu_pool = cpu;
	sj->workers = workers > 0 ? workers : 1;
	/* Two chunks per worker: one running, one ready to go. */
	sj->slots = 2 * sj->workers;
	TAILQ_INIT(&sj->waiting);
	jobs_add_kind(js, &searchjob_kind, sj);
	return sj;
}

void
searchjob_free(struct searchjob *sj)
{
	free(sj);
}
