/*
 * searchjob.c - Armstrong-number searches as a kind of job.
 *
 * A search is planned into chunks (armstrong.c) when it is submitted;
 * at most a couple of chunks per cpu-pool thread are in flight at once,
 * taken round-robin across searches. Each chunk gathers its finds
 * locally and hands them back with its completion; the loop merges them
 * into the job's sorted result. Cancel sets the flag every running
 * chunk polls, and the queued ones are never started.
 */
#include "config.h"

#include <sys/queue.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "armstrong/armstrong.h"
#include "jobs/jobs_kind.h"
#include "jobs/searchjob.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/xmalloc.h"

/* One search: the job's record of its kind. */
struct search {
	struct job		*job;
	struct searchjob	*engine;
	TAILQ_ENTRY(search)	 entry;		/* in engine->waiting */
	int			 waiting;	/* has chunks left to start */
	uint64_t		 from, to;
	struct armstrong_chunk	*chunks;
	size_t			 nchunks;
	size_t			 next;		/* first chunk not started */
	unsigned		 running;
	uint64_t		 examined;	/* numbers settled */
	uint64_t		*found;		/* sorted */
	size_t			 nfound;
	atomic_int		 cancel;	/* read by the chunks */
};

/* A chunk on its way through the cpu pool. */
struct search_chunk {
	struct search		*search;
	const struct armstrong_chunk *chunk;
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

	armstrong_run(t->chunk, &t->search->cancel, searchjob_found, t);
}

static int
searchjob_cmp(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
searchjob_done(void *arg, enum pool_status status)
{
	struct search_chunk	*t = arg;
	struct search		*se = t->search;
	struct searchjob	*sj = se->engine;

	se->running--;
	sj->running--;
	if (status == POOL_DONE && !se->job->cancel) {
		se->examined += t->chunk->covers;
		if (t->nfound > 0) {
			se->found = xreallocarray(se->found, se->nfound +
			    t->nfound + 1, sizeof *se->found);
			memcpy(se->found + se->nfound, t->found,
			    t->nfound * sizeof *t->found);
			se->nfound += t->nfound;
			qsort(se->found, se->nfound, sizeof *se->found,
			    searchjob_cmp);
		}
	}
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

/* Starts chunks while the cpu pool has room, round robin over searches. */
static void
searchjob_dispatch(struct searchjob *sj)
{
	struct search_chunk	*t;
	struct search		*se;

	if (jobs_stopping(sj->jobs))
		return;
	while (sj->running < sj->slots &&
	    (se = TAILQ_FIRST(&sj->waiting)) != NULL) {
		if (se->next == se->nchunks || se->job->cancel) {
			searchjob_unqueue(se);
			continue;
		}
		t = xcalloc(1, sizeof *t);
		t->search = se;
		t->chunk = &se->chunks[se->next];
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

int
searchjob_submit(struct searchjob *sj, uint64_t from, uint64_t to,
    struct job **out)
{
	struct search	*se;
	int		 error;

	if ((error = jobs_admit(sj->jobs, 1)) != 0)
		return error;
	se = xcalloc(1, sizeof *se);
	se->engine = sj;
	se->from = from;
	se->to = to;
	atomic_init(&se->cancel, 0);
	se->nchunks = armstrong_plan(from, to, sj->workers, &se->chunks);
	se->job = job_new(sj->jobs, &searchjob_kind, se, 1);
	TAILQ_INSERT_TAIL(&sj->waiting, se, entry);
	se->waiting = 1;
	log_info("job %llu: Armstrong numbers in [%llu, %llu), %zu chunks "
	    "by %s", (unsigned long long)job_id(se->job),
	    (unsigned long long)from, (unsigned long long)to, se->nchunks,
	    se->chunks[0].method == ARMSTRONG_SCAN ? "scan" : "multisets");
	searchjob_dispatch(sj);
	*out = se->job;
	return 0;
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

	if (se->running > 0 || (se->next < se->nchunks && !job->cancel))
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
	    "chunks_done", (json_int_t)(se->next - se->running)));
	json_object_set_new(obj, "result", arr);
}

static void
searchjob_free_job(struct job *job)
{
	struct search	*se = job->data;

	searchjob_unqueue(se);
	free(se->chunks);
	free(se->found);
	free(se);
}

static const struct job_kind searchjob_kind = {
	.name = "armstrong",
	.cancel = searchjob_cancel,
	.shutdown = searchjob_shutdown,
	.settled = searchjob_settled,
	.json = searchjob_json,
	.free = searchjob_free_job,
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
	return sj;
}

void
searchjob_free(struct searchjob *sj)
{
	free(sj);
}
