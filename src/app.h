/* app.h - the objects main() wires together, shared with the API. */
#ifndef SC_APP_H
#define SC_APP_H

#include <time.h>

struct api_jobs;
struct assets;
struct camera;
struct compq;
struct event_base;
struct http_server;
struct jobs;
struct options;
struct pool;
struct router;

struct app {
	struct event_base	*base;
	const struct options	*opt;
	struct compq		*cq;
	struct pool		*fetch_pool;
	struct pool		*convert_pool;
	struct pool		*cpu_pool;
	struct router		*router;
	struct assets		*assets;
	struct jobs		*jobs;
	struct api_jobs		*api_jobs;
	struct camera		*camera;
	struct http_server	*http;
	struct timespec		 started;	/* CLOCK_MONOTONIC */
};

/* Seconds since start-up. */
double	app_uptime(const struct app *);

#endif
