/*
 * test_pool.c - the bounded pool: many producers, 100,000 tasks, a full
 * queue, cancel, shutdown with work queued, pools sharing one loop.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/compq.h"
#include "lib/pool.h"
#include "tap.h"

static struct event_base	*base;
static struct compq		*cq;

/* --- counting tasks --- */

static atomic_ulong	worked;
static unsigned long	done_ok, done_canceled;	/* loop thread only */
static unsigned long	done_wrong_thread;
static pthread_t	loop_thread;

static void
count_work(void *arg)
{
	atomic_fetch_add(&worked, 1);
}

static void
count_done(void *arg, enum pool_status st)
{
	if (!pthread_equal(pthread_self(), loop_thread))
		done_wrong_thread++;
	if (st == POOL_DONE)
		done_ok++;
	else
		done_canceled++;
}

static void
reset_counts(void)
{
	atomic_store(&worked, 0);
	done_ok = done_canceled = done_wrong_thread = 0;
}

/* Runs the loop until `total` done callbacks have been seen. */
static int
loop_until(unsigned long total)
{
	int	rounds = 0;

	while (done_ok + done_canceled < total && rounds++ < 200000)
		event_base_loop(base, EVLOOP_ONCE);
	return done_ok + done_canceled == total;
}

/* --- a gate that holds a worker until opened --- */

static pthread_mutex_t	gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	gate_cond = PTHREAD_COND_INITIALIZER;
static int		gate_open, gate_entered;	/* workers inside */

static void
gate_work(void *arg)
{
	pthread_mutex_lock(&gate_lock);
	gate_entered++;
	pthread_cond_broadcast(&gate_cond);
	while (!gate_open)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	atomic_fetch_add(&worked, 1);
}

static void
gate_reset(void)
{
	pthread_mutex_lock(&gate_lock);
	gate_open = gate_entered = 0;
	pthread_mutex_unlock(&gate_lock);
}

/* Waits until n workers are held at the gate. */
static void
gate_wait_entered(int n)
{
	pthread_mutex_lock(&gate_lock);
	while (gate_entered < n)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

static void
gate_release(void)
{
	pthread_mutex_lock(&gate_lock);
	gate_open = 1;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

/* --- many producers --- */

#define PRODUCERS	4
#define PER_PRODUCER	25000

static atomic_ulong	refused;

static void *
producer(void *arg)
{
	struct pool	*pool = arg;
	int		 i, error;

	for (i = 0; i < PER_PRODUCER; i++) {
		while ((error = pool_submit(pool, count_work, count_done,
		    NULL, NULL)) == -EAGAIN) {
			atomic_fetch_add(&refused, 1);
			sched_yield();
		}
		if (error != 0)
			abort();
	}
	return NULL;
}

static void
test_many_producers(void)
{
	struct pool		*pool;
	struct pool_stats	 st;
	pthread_t		 th[PRODUCERS];
	int			 i;

	reset_counts();
	pool = pool_new("many", 4, 256, cq);
	for (i = 0; i < PRODUCERS; i++)
		pthread_create(&th[i], NULL, producer, pool);
	ok(loop_until(PRODUCERS * PER_PRODUCER),
	    "100000 tasks from 4 producers all completed");
	for (i = 0; i < PRODUCERS; i++)
		pthread_join(th[i], NULL);
	is_int(atomic_load(&worked), PRODUCERS * PER_PRODUCER,
	    "every task's work ran once");
	is_int(done_ok, PRODUCERS * PER_PRODUCER, "every done saw POOL_DONE");
	is_int(done_wrong_thread, 0, "every done ran on the loop thread");
	pool_get_stats(pool, &st);
	is_int(st.completed, PRODUCERS * PER_PRODUCER, "stats: completed");
	is_int(st.queued + st.busy, 0, "stats: nothing left");
	is_int(st.rejected, atomic_load(&refused),
	    "stats: rejected counts each refusal");
	diag("producers were refused %lu times (queue depth 256)",
	    (unsigned long)atomic_load(&refused));
	pool_shutdown(pool);
	pool_free(pool);
}

static void
test_full_queue(void)
{
	struct pool		*pool;
	struct pool_stats	 st;
	int			 i, accepted = 0, error = 0;

	reset_counts();
	gate_reset();
	pool = pool_new("full", 1, 4, cq);
	ok(pool_submit(pool, gate_work, count_done, NULL, NULL) == 0,
	    "gate task accepted");
	gate_wait_entered(1);
	for (i = 0; i < 10; i++) {
		if ((error = pool_submit(pool, count_work, count_done, NULL,
		    NULL)) != 0)
			break;
		accepted++;
	}
	is_int(accepted, 4, "queue takes exactly its depth");
	is_int(error, -EAGAIN, "then refuses with -EAGAIN at once");
	pool_get_stats(pool, &st);
	ok(st.busy == 1 && st.queued == 4 && st.rejected == 1,
	    "stats: 1 busy, 4 queued, 1 rejected");
	gate_release();
	ok(loop_until(5), "all accepted tasks completed");
	is_int(done_ok, 5, "five done");
	pool_free(pool);
}

static void
test_cancel(void)
{
	struct pool	*pool;
	uint64_t	 ids[10], gate_id;
	int		 i, canceled = 0;

	reset_counts();
	gate_reset();
	pool = pool_new("cancel", 1, 16, cq);
	pool_submit(pool, gate_work, count_done, NULL, &gate_id);
	gate_wait_entered(1);
	for (i = 0; i < 10; i++)
		pool_submit(pool, count_work, count_done, NULL, &ids[i]);
	for (i = 0; i < 10; i += 2)
		canceled += pool_cancel(pool, ids[i]) == 0;
	is_int(canceled, 5, "five queued tasks cancelled");
	is_int(pool_cancel(pool, ids[0]), -ENOENT, "cancel twice: -ENOENT");
	is_int(pool_cancel(pool, gate_id), -ENOENT,
	    "a running task cannot be cancelled");
	is_int(pool_cancel(pool, 999999), -ENOENT, "unknown id: -ENOENT");
	gate_release();
	ok(loop_until(11), "every task reported exactly once");
	is_int(done_canceled, 5, "cancelled tasks report POOL_CANCELED");
	is_int(done_ok, 6, "the rest report POOL_DONE");
	is_int(atomic_load(&worked), 6, "cancelled work never ran");
	pool_free(pool);
}

static void *
release_later(void *arg)
{
	usleep(50000);
	gate_release();
	return NULL;
}

static void
test_shutdown_with_work_queued(void)
{
	struct pool		*pool;
	struct pool_stats	 st;
	pthread_t		 th;
	int			 i;

	reset_counts();
	gate_reset();
	pool = pool_new("shut", 2, 64, cq);
	pool_submit(pool, gate_work, count_done, NULL, NULL);
	pool_submit(pool, gate_work, count_done, NULL, NULL);
	gate_wait_entered(2);	/* both workers busy, so none is queued */
	for (i = 0; i < 50; i++)
		pool_submit(pool, count_work, count_done, NULL, NULL);
	pthread_create(&th, NULL, release_later, NULL);
	pool_shutdown(pool);		/* returns once threads joined */
	pthread_join(th, NULL);
	is_int(pool_submit(pool, count_work, count_done, NULL, NULL),
	    -ESHUTDOWN, "submit after shutdown: -ESHUTDOWN");
	compq_drain(cq);
	is_int(done_ok + done_canceled, 52,
	    "every task reported once after shutdown");
	ok(done_ok == 2 && done_canceled == 50,
	    "running tasks finished, queued ones cancelled (%lu done, %lu "
	    "cancelled)", done_ok, done_canceled);
	is_int(atomic_load(&worked), done_ok, "work ran exactly for DONE");
	pool_get_stats(pool, &st);
	is_int(st.queued + st.busy, 0, "nothing queued or busy");
	pool_free(pool);
}

static void
test_shared_loop(void)
{
	struct pool	*a, *b, *c;
	int		 i;

	reset_counts();
	a = pool_new("a", 1, 1000, cq);
	b = pool_new("b", 2, 1000, cq);
	c = pool_new("c", 1, 1000, cq);
	for (i = 0; i < 900; i++) {
		struct pool *p = i % 3 == 0 ? a : i % 3 == 1 ? b : c;

		if (pool_submit(p, count_work, count_done, NULL, NULL) != 0)
			break;
	}
	ok(loop_until(900), "three pools share one completion queue");
	is_int(done_ok, 900, "all done");
	pool_free(a);
	pool_free(b);
	pool_free(c);
}

int
main(void)
{
	loop_thread = pthread_self();
	base = event_base_new();
	cq = compq_new(base);

	test_many_producers();
	test_full_queue();
	test_cancel();
	test_shutdown_with_work_queued();
	test_shared_loop();

	compq_free(cq);
	event_base_free(base);
	return tap_done();
}
