/*
 * pool.c - a fixed set of threads working through a bounded queue.
 *
 * submit() never blocks: a full queue is refused at once so the caller
 * can answer "try later" instead of piling up memory. Finished (and
 * cancelled) tasks travel back through the shared completion queue, so
 * every `done` callback runs on the loop thread and several pools can
 * share one loop.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <sys/queue.h>

#include "lib/compq.h"
#include "lib/histo.h"
#include "lib/log.h"
#include "lib/mono.h"
#include "lib/pool.h"
#include "lib/xmalloc.h"

struct pool_task {
	struct compq_item	 item;		/* first: recovered from the item */
	TAILQ_ENTRY(pool_task)	 entry;
	uint64_t		 id;
	pool_work_fn		*work;
	pool_done_fn		*done;
	void			*arg;
	enum pool_status	 status;
	struct pool		*pool;
	struct timespec		 queued_at;	/* CLOCK_MONOTONIC */
};
TAILQ_HEAD(pool_tasks, pool_task);

struct pool {
	char			 name[16];
	struct compq		*cq;
	pthread_mutex_t		 lock;
	pthread_cond_t		 wake;
	struct pool_tasks	 queue;
	unsigned		 queued;
	unsigned		 depth;
	unsigned		 busy;
	int			 stopping;
	uint64_t		 next_id;
	uint64_t		 completed;
	uint64_t		 canceled;
	uint64_t		 rejected;
	struct histo		 wait;		/* queued to started, seconds */
	unsigned		 nthreads;
	int			 nice;
	pthread_t		*threads;
};

static void
pool_task_finished(struct compq_item *item)
{
	struct pool_task	*task = (struct pool_task *)item;

	task->done(task->arg, task->status);
	free(task);
}

static void *
pool_worker(void *arg)
{
	struct pool		*pool = arg;
	struct pool_task	*task;
	sigset_t		 all;

	/* Signals are loop events; keep them away from workers. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	/* Linux sets niceness per thread: the loop stays ahead of us. */
	if (pool->nice != 0 &&
	    setpriority(PRIO_PROCESS, (id_t)gettid(), pool->nice) != 0)
		log_debug("pool %s: setpriority: %s", pool->name,
		    strerror(errno));

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (TAILQ_EMPTY(&pool->queue) && !pool->stopping)
			pthread_cond_wait(&pool->wake, &pool->lock);
		if ((task = TAILQ_FIRST(&pool->queue)) == NULL)
			break;		/* stopping and nothing left */
		TAILQ_REMOVE(&pool->queue, task, entry);
		pool->queued--;
		pool->busy++;
		histo_observe(&pool->wait,
		    (double)mono_since_ns(&task->queued_at) / 1e9);
		pthread_mutex_unlock(&pool->lock);

		task->work(task->arg);
		task->status = POOL_DONE;

		pthread_mutex_lock(&pool->lock);
		pool->busy--;
		pool->completed++;
		compq_push(pool->cq, &task->item);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

struct pool *
pool_new(const char *name, unsigned nthreads, unsigned depth,
    struct compq *cq)
{
	return pool_new_niced(name, nthreads, depth, cq, 0);
}

struct pool *
pool_new_niced(const char *name, unsigned nthreads, unsigned depth,
    struct compq *cq, int nice)
{
	struct pool	*pool;
	char		 tname[32];
	unsigned	 i;
	int		 error;

	if (nthreads == 0 || depth == 0)
		fatalx("pool %s: needs at least one thread and queue slot",
		    name);
	pool = xcalloc(1, sizeof *pool);
	snprintf(pool->name, sizeof pool->name, "%s", name);
	pool->cq = cq;
	pool->depth = depth;
	pool->next_id = 1;
	pool->nice = nice;
	TAILQ_INIT(&pool->queue);
	histo_init(&pool->wait, histo_step_s, HISTO_STEP_N);
	if (pthread_mutex_init(&pool->lock, NULL) != 0 ||
	    pthread_cond_init(&pool->wake, NULL) != 0)
		fatalx("pool %s: cannot initialise locks", name);

	pool->threads = xcalloc(nthreads, sizeof *pool->threads);
	for (i = 0; i < nthreads; i++) {
		error = pthread_create(&pool->threads[i], NULL, pool_worker,
		    pool);
		if (error != 0) {
			errno = error;
			fatal("pool %s: pthread_create", name);
		}
		pool->nthreads++;
		snprintf(tname, sizeof tname, "%.8s-%u", name, i);
		tname[15] = '\0';	/* the kernel's limit for thread names */
		pthread_setname_np(pool->threads[i], tname);
	}
	return pool;
}

int
pool_submit(struct pool *pool, pool_work_fn *work, pool_done_fn *done,
    void *arg, uint64_t *id)
{
	struct pool_task	*task;
	int			 error = 0;

	task = xmalloc(sizeof *task);
	task->item.fn = pool_task_finished;
	task->work = work;
	task->done = done;
	task->arg = arg;
	task->pool = pool;
	task->queued_at = mono_now();	/* outside the lock: a vDSO call */

	pthread_mutex_lock(&pool->lock);
	if (pool->stopping)
		error = -ESHUTDOWN;
	else if (pool->queued >= pool->depth) {
		error = -EAGAIN;
		pool->rejected++;
	} else {
		task->id = pool->next_id++;
		TAILQ_INSERT_TAIL(&pool->queue, task, entry);
		pool->queued++;
		pthread_cond_signal(&pool->wake);
		if (id != NULL)
			*id = task->id;
	}
	pthread_mutex_unlock(&pool->lock);

	if (error != 0)
		free(task);
	return error;
}

/* Called with the lock held: hand a never-started task back as cancelled. */
static void
pool_cancel_task(struct pool *pool, struct pool_task *task)
{
	TAILQ_REMOVE(&pool->queue, task, entry);
	pool->queued--;
	pool->canceled++;
	task->status = POOL_CANCELED;
	compq_push(pool->cq, &task->item);
}

int
pool_cancel(struct pool *pool, uint64_t id)
{
	struct pool_task	*task;
	int			 error = -ENOENT;

	pthread_mutex_lock(&pool->lock);
	TAILQ_FOREACH(task, &pool->queue, entry) {
		if (task->id == id) {
			pool_cancel_task(pool, task);
			error = 0;
			break;
		}
	}
	pthread_mutex_unlock(&pool->lock);
	return error;
}

void
pool_get_stats(struct pool *pool, struct pool_stats *st)
{
	pthread_mutex_lock(&pool->lock);
	st->threads = pool->nthreads;
	st->busy = pool->busy;
	st->queued = pool->queued;
	st->queue_depth = pool->depth;
	st->completed = pool->completed;
	st->canceled = pool->canceled;
	st->rejected = pool->rejected;
	st->wait = pool->wait;
	pthread_mutex_unlock(&pool->lock);
}

const char *
pool_name(const struct pool *pool)
{
	return pool->name;
}

void
pool_shutdown(struct pool *pool)
{
	struct pool_task	*task;
	unsigned		 i;

	pthread_mutex_lock(&pool->lock);
	if (pool->stopping) {
		pthread_mutex_unlock(&pool->lock);
		return;
	}
	pool->stopping = 1;
	while ((task = TAILQ_FIRST(&pool->queue)) != NULL)
		pool_cancel_task(pool, task);
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);

	for (i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	log_debug("pool %s: stopped", pool->name);
}

void
pool_free(struct pool *pool)
{
	if (pool == NULL)
		return;
	pool_shutdown(pool);
	pthread_cond_destroy(&pool->wake);
	pthread_mutex_destroy(&pool->lock);
	free(pool->threads);
	free(pool);
}
