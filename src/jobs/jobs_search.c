/*
 * jobs_search.c - Armstrong-number searches as jobs.
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
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "armstrong/armstrong.h"
#include "jobs/jobs.h"
#include "jobs/jobs_int.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/xmalloc.h"


static void
chunk_found(uint64_t x, void *arg)
{
	struct chunk_task	*t = arg;

	if (t->nfound == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		t->found = xreallocarray(t->found, t->cap, sizeof *t->found);
	}
	t->found[t->nfound++] = x;
}

static void
chunk_work(void *arg)
{
	struct chunk_task	*t = arg;

	armstrong_run(t->chunk, &t->job->search->cancel, chunk_found, t);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
chunk_done(void *arg, enum pool_status status)
{
	struct chunk_task	*t = arg;
	struct job		*job = t->job;
	struct search		*se = job->search;
	struct jobs		*js = job->jobs;

	se->running--;
	js->cpu_running--;
	if (status == POOL_DONE && !job->cancel) {
		se->examined += t->chunk->covers;
		if (t->nfound > 0) {
			se->found = xreallocarray(se->found, se->nfound +
			    t->nfound + 1, sizeof *se->found);
			memcpy(se->found + se->nfound, t->found,
			    t->nfound * sizeof *t->found);
			se->nfound += t->nfound;
			qsort(se->found, se->nfound, sizeof *se->found,
			    cmp_u64);
		}
	}
	free(t->found);
	free(t);
	job_update(job);
	jobs_dispatch(js);
}

/* Starts chunks while the cpu pool has room, round robin over searches. */
void
jobs_search_dispatch(struct jobs *js)
{
	struct chunk_task	*t;
	struct search		*se;
	struct job		*job;

	while (js->cpu_running < js->cpu_slots &&
	    (job = TAILQ_FIRST(&js->searching)) != NULL) {
		se = job->search;
		TAILQ_REMOVE(&js->searching, job, active);
		if (se->next == se->nchunks || job->cancel) {
			job->in_active = 0;
			continue;
		}
		t = xcalloc(1, sizeof *t);
		t->job = job;
		t->chunk = &se->chunks[se->next];
		if (pool_submit(js->cpu_pool, chunk_work, chunk_done, t,
		    NULL) != 0) {
			free(t);
			TAILQ_INSERT_HEAD(&js->searching, job, active);
			break;
		}
		se->next++;
		se->running++;
		js->cpu_running++;
		if (job->state == JOB_QUEUED) {
			job_set_state(job, JOB_RUNNING);
			jobs_now(js, &job->started);
		}
		TAILQ_INSERT_TAIL(&js->searching, job, active);
	}
}

int
jobs_submit_armstrong(struct jobs *js, uint64_t from, uint64_t to,
    struct job **out)
{
	struct job	*job;
	struct search	*se;

	if (js->pending + 1 > js->cfg.max_pending_symbols)
		return -EAGAIN;
	job = job_new(js, KIND_ARMSTRONG);
	se = job->search = xcalloc(1, sizeof *se);
	se->from = from;
	se->to = to;
	atomic_init(&se->cancel, 0);
	se->nchunks = armstrong_plan(from, to, js->cfg.cpu_workers,
	    &se->chunks);
	js->pending++;
	TAILQ_INSERT_TAIL(&js->searching, job, active);
	job->in_active = 1;
	log_info("job %llu: Armstrong numbers in [%llu, %llu), %zu chunks "
	    "by %s", (unsigned long long)job->id, (unsigned long long)from,
	    (unsigned long long)to, se->nchunks,
	    se->chunks[0].method == ARMSTRONG_SCAN ? "scan" : "multisets");
	jobs_dispatch(js);
	*out = job;
	return 0;
}

json_t *
jobs_search_json(const struct job *job, json_t *obj)
{
	const struct search	*se = job->search;
	json_t			*arr;
	size_t			 i;

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
	return obj;
}
