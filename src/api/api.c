/*
 * api.c - server-wide API routes: liveness and figures.
 */
#include "config.h"

#include <time.h>

#include <jansson.h>

#include "api/api.h"
#include "app.h"
#include "http/http.h"
#include "http/reply.h"
#include "http/router.h"
#include "jobs/jobs.h"
#include "lib/mono.h"
#include "lib/pool.h"

double
app_uptime(const struct app *app)
{
	return mono_since_s(&app->started);
}

static void
api_health(struct http_request *req, const struct route_params *params,
    void *arg)
{
	struct app	*app = arg;

	reply_json(req, 200, json_pack("{s:s, s:s, s:f}", "status", "ok",
	    "version", PACKAGE_VERSION, "uptime_s", app_uptime(app)));
}

static json_t *
pool_json(struct pool *pool)
{
	struct pool_stats	st;

	pool_get_stats(pool, &st);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "threads", (json_int_t)st.threads, "busy", (json_int_t)st.busy,
	    "queued", (json_int_t)st.queued,
	    "queue_depth", (json_int_t)st.queue_depth,
	    "completed", (json_int_t)st.completed,
	    "canceled", (json_int_t)st.canceled,
	    "rejected", (json_int_t)st.rejected);
}

static void
api_stats(struct http_request *req, const struct route_params *params,
    void *arg)
{
	struct app		*app = arg;
	struct http_stats	 hs;
	struct jobs_stats	 js;

	http_server_get_stats(app->http, &hs);
	jobs_get_stats(app->jobs, &js);
	reply_json(req, 200, json_pack(
	    "{s:f, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I, s:I, s:I},"
	    " s:{s:o, s:o, s:o},"
	    " s:{s:I, s:I, s:I, s:I, s:I},"
	    " s:{s:I, s:I, s:I, s:I, s:I, s:I}}",
	    "uptime_s", app_uptime(app),
	    "connections",
		"now", (json_int_t)hs.conns_now,
		"total", (json_int_t)hs.conns_total,
		"rejected", (json_int_t)hs.conns_rejected,
	    "requests",
		"total", (json_int_t)hs.requests,
		"1xx", (json_int_t)hs.by_class[1],
		"2xx", (json_int_t)hs.by_class[2],
		"3xx", (json_int_t)hs.by_class[3],
		"4xx", (json_int_t)hs.by_class[4],
		"5xx", (json_int_t)hs.by_class[5],
	    "pools",
		"fetch", pool_json(app->fetch_pool),
		"convert", pool_json(app->convert_pool),
		"cpu", pool_json(app->cpu_pool),
	    "jobs",
		"queued", (json_int_t)js.jobs_by_state[JOB_QUEUED],
		"running", (json_int_t)js.jobs_by_state[JOB_RUNNING],
		"succeeded", (json_int_t)js.jobs_by_state[JOB_SUCCEEDED],
		"failed", (json_int_t)js.jobs_by_state[JOB_FAILED],
		"canceled", (json_int_t)js.jobs_by_state[JOB_CANCELED],
	    "symbols",
		"pending", (json_int_t)js.symbols_pending,
		"fetching", (json_int_t)js.fetching,
		"converting", (json_int_t)js.converting,
		"archiving", (json_int_t)js.archiving,
		"succeeded", (json_int_t)js.symbols_succeeded,
		"failed", (json_int_t)js.symbols_failed));
}

void
api_register(struct router *r, struct app *app)
{
	router_add(r, HTTP_GET, "/api/health", api_health, app);
	router_add(r, HTTP_GET, "/api/stats", api_stats, app);
}
