/*
 * store_memory.c - the store that keeps nothing: jobs live as long as
 * the process. It hands out ids from a counter that starts at 1 and is
 * never reused, and loads nothing.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "jobs/store.h"
#include "jobs/store_int.h"
#include "lib/xmalloc.h"

struct mem {
	uint64_t	next_id;
};

static void *
mem_open(const char *path, enum store_sync sync, char *err, size_t errlen)
{
	struct mem	*m;

	m = xcalloc(1, sizeof *m);
	m->next_id = 1;
	return m;
}

static int
mem_load(void *h, store_job_fn *job_fn, store_item_fn *item_fn, void *arg,
    char *err, size_t errlen)
{
	return 0;
}

static int
mem_commit(void *h, struct store_txn **txns, size_t n)
{
	struct mem	*m = h;
	struct store_op	*op;
	uint64_t	 first = m->next_id;
	size_t		 i;

	for (i = 0; i < n; i++) {
		txns[i]->id = 0;
		STAILQ_FOREACH(op, &txns[i]->ops, entry) {
			if (op->kind == STORE_OP_PUT_JOB && op->job.id == 0)
				txns[i]->id = m->next_id++;
			else if (op->kind == STORE_OP_PUT_ITEM &&
			    op->item.job == 0 && txns[i]->id == 0) {
				/* All or none: these ids were never given. */
				m->next_id = first;
				return -EINVAL;
			}
		}
	}
	return 0;
}

static void
mem_close(void *h)
{
	free(h);
}

const struct store_backend store_memory_backend = {
	.name = "memory",
	.open = mem_open,
	.load = mem_load,
	.commit = mem_commit,
	.close = mem_close,
};
