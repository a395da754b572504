/* api_jobs.h - the job API: submit, poll, wait, list, cancel. */
#ifndef SC_API_JOBS_H
#define SC_API_JOBS_H

struct api_jobs;
struct event_base;
struct http_request;
struct job;
struct jobs;
struct render_stats;
struct router_params;
struct router;
struct searchjob;
struct stockjob;

/* Adds the routes of /api/jobs. */
struct api_jobs	*api_jobs_register(struct router *, struct event_base *,
		    struct jobs *, struct stockjob *, struct searchjob *,
		    unsigned max_symbols);
/* Frees the waiters still held, then the API. */
void		 api_jobs_free(struct api_jobs *);
/* How job bodies were rendered and shared (for the stats). */
void		 api_jobs_get_render_stats(const struct api_jobs *,
		    struct render_stats *);
/* The job named by the route's {id}; NULL and a 404 made if none. */
struct job	*api_jobs_find(struct jobs *, struct http_request *,
		    const struct router_params *);

#endif
