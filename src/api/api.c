/*
 * api.c - server-wide API routes: liveness and figures.
 */
#include "config.h"

#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "api/api.h"
#include "api/api_jobs.h"
#include "api/render.h"
#include "http/http.h"
#include "http/reply.h"
#include "http/router.h"
#include "jobs/jobs.h"
#include "jobs/stockjob.h"
#include "lib/log.h"
#include "lib/mono.h"
#include "lib/pool.h"
#include "stock/names.h"


static void
api_health(struct http_request *req, const struct router_params *params,
    void *arg)
{
	const struct api_server	*sv = arg;

	reply_json(req, 200, json_pack("{s:s, s:s, s:f}", "status", "ok",
	    "version", PACKAGE_VERSION, "uptime_s", mono_since_s(&sv->started)));
}

static json_t *
api_pool_json(struct pool *pool)
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

json_t *
api_stats_json(const struct api_server *sv)
{
	struct http_stats	 hs;
	struct jobs_stats	 js;
	struct stockjob_stats	 ss;
	struct render_stats	 rs = { 0, 0, 0 };
	json_t			*obj;

	if (sv->api_jobs != NULL)
		api_jobs_get_render_stats(sv->api_jobs, &rs);
	http_server_get_stats(sv->http, &hs);
	jobs_get_stats(sv->jobs, &js);
	stockjob_get_stats(sv->stock, &ss);
	obj = json_pack(
	    "{s:f, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I, s:I, s:I},"
	    " s:{s:o, s:o, s:o},"
	    " s:{s:I, s:I, s:I, s:I, s:I, s:I},"
	    " s:{s:I, s:I, s:I, s:I, s:I, s:I}}",
	    "uptime_s", mono_since_s(&sv->started),
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
		"fetch", api_pool_json(sv->fetch_pool),
		"convert", api_pool_json(sv->convert_pool),
		"cpu", api_pool_json(sv->cpu_pool),
	    "jobs",
		"queued", (json_int_t)js.jobs_by_state[JOB_QUEUED],
		"running", (json_int_t)js.jobs_by_state[JOB_RUNNING],
		"succeeded", (json_int_t)js.jobs_by_state[JOB_SUCCEEDED],
		"failed", (json_int_t)js.jobs_by_state[JOB_FAILED],
		"canceled", (json_int_t)js.jobs_by_state[JOB_CANCELED],
		"created", (json_int_t)js.created,
	    "symbols",
		"pending", (json_int_t)js.pending,
		"fetching", (json_int_t)ss.fetching,
		"converting", (json_int_t)ss.converting,
		"archiving", (json_int_t)ss.archiving,
		"succeeded", (json_int_t)ss.symbols_succeeded,
		"failed", (json_int_t)ss.symbols_failed);
	if (obj == NULL)
		fatalx("api: json_pack stats");
	/*
	 * waiting > 0: archives cannot be written for now (no room);
	 * downloads_paused: new downloads wait for room (stockjob_pipe.c).
	 */
	json_object_set_new(obj, "archiver", json_pack(
	    "{s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:b}",
	    "archives", (json_int_t)ss.archiver.archives,
	    "files", (json_int_t)ss.archiver.files,
	    "bytes", (json_int_t)ss.archiver.bytes,
	    "pending", (json_int_t)(ss.archiver.pending +
		ss.archiver.packing),
	    "waiting", (json_int_t)ss.archiver.waiting,
	    "retries", (json_int_t)ss.archiver.retries,
	    "stalled_s", ss.archiver.stalled_s,
	    "downloads_paused", ss.paused));
	/* Job bodies rendered, and replies that shared one (long-polls). */
	json_object_set_new(obj, "renders", json_pack("{s:I, s:I, s:I}",
	    "jobs", (json_int_t)rs.renders,
	    "bytes", (json_int_t)rs.rendered_bytes,
	    "shared", (json_int_t)rs.shared));
	return obj;
}

static void
api_stats(struct http_request *req, const struct router_params *params,
    void *arg)
{
	reply_json(req, 200, api_stats_json(arg));
}

/* What a client needs to check a job before it is sent. */
static void
api_config(struct http_request *req, const struct router_params *params,
    void *arg)
{
	const struct api_server	*sv = arg;
	char			 pattern[80];

	snprintf(pattern, sizeof pattern,
	    "^[A-Za-z0-9^][A-Za-z0-9._^=-]{0,%d}$", NAMES_SYMBOL_MAX - 1);
	reply_json(req, 200, json_pack("{s:I, s:I, s:s, s:I}",
	    "max_symbols", (json_int_t)sv->max_symbols,
	    "symbol_max_len", (json_int_t)NAMES_SYMBOL_MAX,
	    "symbol_pattern", pattern,
	    "max_body_size", (json_int_t)sv->max_body_size));
}

void
api_register(struct router *r, struct api_server *sv)
{
	router_add(r, HTTP_GET, "/api/health", api_health, sv);
	router_add(r, HTTP_GET, "/api/stats", api_stats, sv);
	router_add(r, HTTP_GET, "/api/config", api_config, sv);
}
