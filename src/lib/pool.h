/* pool.h - bounded worker-thread pool reporting to the loop. */
#ifndef SC_POOL_H
#define SC_POOL_H

#include <stdint.h>

#include "lib/histo.h"

struct compq;
struct pool;

enum pool_status {
	POOL_DONE,		/* work ran to its end */
	POOL_CANCELED,		/* work never started */
};

/* Runs on a worker thread. Must not touch loop-owned state. */
typedef void	pool_work_fn(void *arg);
/* Runs on the loop thread, exactly once for every accepted task. */
typedef void	pool_done_fn(void *arg, enum pool_status);

struct pool_stats {
	unsigned	threads;
	unsigned	busy;
	unsigned	queued;
	unsigned	queue_depth;
	uint64_t	completed;
	uint64_t	canceled;
	uint64_t	rejected;
	struct histo	wait;		/* from submit to a thread's start */
};

struct pool	*pool_new(const char *name, unsigned threads, unsigned depth,
		    struct compq *);
/* The same, its threads at a niceness above the loop's (long CPU work). */
struct pool	*pool_new_niced(const char *name, unsigned threads,
		    unsigned depth, struct compq *, int nice);
/* 0 and *id set; -EAGAIN when the queue is full; -ESHUTDOWN after shutdown. */
int		 pool_submit(struct pool *, pool_work_fn *, pool_done_fn *,
		    void *arg, uint64_t *id);
/* 0 if the task had not started (its done will see POOL_CANCELED), else -ENOENT. */
int		 pool_cancel(struct pool *, uint64_t id);
void		 pool_get_stats(struct pool *, struct pool_stats *);
const char	*pool_name(const struct pool *);
/* Cancels queued tasks, lets running ones finish, joins the threads. */
void		 pool_shutdown(struct pool *);
/* After pool_shutdown and a final compq_drain. */
void		 pool_free(struct pool *);

#endif
