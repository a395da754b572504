/* api_jobs.h - the job API: submit, poll, wait, list, cancel, results. */
#ifndef SC_API_JOBS_H
#define SC_API_JOBS_H

struct api_jobs;
struct event_base;
struct jobs;
struct pool;
struct router;
struct searchjob;
struct stockjob;

/* `io` runs the blocking reads of archives. */
struct api_jobs	*api_jobs_register(struct router *, struct event_base *,
		    struct jobs *, struct stockjob *, struct searchjob *,
		    struct pool *io, unsigned max_symbols);
void		 api_jobs_free(struct api_jobs *);

#endif
