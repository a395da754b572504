/* api_jobs.h - the job API: submit, poll, wait, list, cancel. */
#ifndef SC_API_JOBS_H
#define SC_API_JOBS_H

#include <stddef.h>
#include <stdint.h>

struct api_jobs;
struct event_base;
struct http_request;
struct job;
struct jobs;
struct json_t;
struct render_stats;
struct router_params;
struct router;
struct searchjob;
struct stockjob;

/* Adds the routes of /api/jobs. */
struct api_jobs	*api_jobs_register(struct router *, struct event_base *,
		    struct jobs *, struct stockjob *, struct searchjob *,
		    unsigned max_symbols);
/*
 * A POST /api/jobs body checked, with no request: 0 and what it asks
 * for, or -1 and `error`, the detail of the 400. Either way obj (which
 * symbols points into) and error are freed with api_jobs_check_free.
 */
struct api_jobs_check {
	struct json_t	*obj;
	const char	*type;		/* "stock" or "armstrong" */
	struct json_t	*symbols;	/* stock: the array; else NULL */
	uint64_t	 from, to;	/* armstrong */
	char		*error;
};
int		 api_jobs_check(const char *body, size_t len,
		    unsigned max_symbols, struct api_jobs_check *);
void		 api_jobs_check_free(struct api_jobs_check *);
/* Stock jobs get 507 while dir has fewer than `bytes` free (0: never). */
void		 api_jobs_set_disk_reserve(struct api_jobs *, const char *dir,
		    uint64_t bytes);
/* Frees the waiters still held, then the API. */
void		 api_jobs_free(struct api_jobs *);
/* How job bodies were rendered and shared (for the stats). */
void		 api_jobs_get_render_stats(const struct api_jobs *,
		    struct render_stats *);
/* The job named by the route's {id}; NULL and a 404 made if none. */
struct job	*api_jobs_find(struct jobs *, struct http_request *,
		    const struct router_params *);

#endif
