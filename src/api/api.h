/* api.h - the JSON API's server-wide routes: liveness and figures. */
#ifndef SC_API_H
#define SC_API_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

struct api_camera;
struct api_jobs;
struct http_server;
struct jobs;
struct pool;
struct router;
struct stockjob;
struct store;

/* What the figures are read from, at each request; owned by the caller. */
struct api_server {
	struct timespec		 started;	/* CLOCK_MONOTONIC */
	struct http_server	*http;
	struct jobs		*jobs;
	struct api_jobs		*api_jobs;	/* its renderings' figures */
	struct stockjob		*stock;
	struct pool		*fetch_pool;
	struct pool		*convert_pool;
	struct pool		*cpu_pool;
	struct store		*store;		/* NULL: not shown */
	struct api_camera	*api_camera;	/* NULL: not shown */
	unsigned		 max_symbols;	/* for /api/config */
	size_t			 max_body_size;
};

/* GET /api/health, /api/stats and /api/config. */
void	 api_register(struct router *, struct api_server *);
/* The figures of /api/stats. */
json_t	*api_stats_json(const struct api_server *);

#endif
