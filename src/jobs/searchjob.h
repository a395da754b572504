/* searchjob.h - Armstrong-number searches as jobs, on the cpu pool. */
#ifndef SC_SEARCHJOB_H
#define SC_SEARCHJOB_H

#include <stdint.h>

#include "jobs/jobs.h"

struct job;
struct jobs;
struct pool;

struct searchjob;

/* Searches of the table's, run on `cpu` (which has `workers` threads). */
struct searchjob *searchjob_new(struct jobs *, struct pool *cpu,
		    unsigned workers);
/*
 * A search for Armstrong numbers in [from, to): -EAGAIN at once when the
 * server holds its limit of unfinished work (a search counts as one
 * unit); else 0, and fn runs once it is stored (see job_create).
 */
int		 searchjob_submit(struct searchjob *, uint64_t from,
		    uint64_t to, const char *idem_key,
		    const char *idem_request, job_created_fn *fn,
		    void *arg);
/* After the cpu pool is joined and jobs_free. */
void		 searchjob_free(struct searchjob *);

#endif
