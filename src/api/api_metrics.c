/*
 * api_metrics.c - GET /metrics: the server's figures for Prometheus.
 *
 * Read from the same getters as /api/stats at each scrape, so the two
 * agree; the histograms are the modules' own (lib/histo.h). Names follow
 * Prometheus' rules: base units (seconds, bytes), `_total` on counters,
 * labels of few values (route patterns, states, pool names; never ids,
 * symbols or paths). A scrape costs a pass over the routes and pools and
 * one over /proc/self/fd, nothing per job.
 */
#include "config.h"

#include <sys/resource.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>
#include <libxml/xmlversion.h>

#include "api/api.h"
#include "api/api_camera.h"
#include "api/api_jobs.h"
#include "api/api_metrics.h"
#include "api/render.h"
#include "http/http.h"
#include "http/router.h"
#include "jobs/jobs.h"
#include "jobs/stockjob.h"
#include "jobs/store.h"
#include "lib/log.h"
#include "lib/mono.h"
#include "lib/pool.h"
#include "lib/prom.h"
#include "lib/xmalloc.h"

struct api_metrics {
	const struct api_server	*sv;
	double			 start_time;	/* Unix time, seconds */
};

static void
counter(struct evbuffer *b, const char *name, const char *help, uint64_t v)
{
	prom_family(b, name, "counter", help);
	prom_u64(b, name, NULL, v);
}

static void
gauge(struct evbuffer *b, const char *name, const char *help, uint64_t v)
{
	prom_family(b, name, "gauge", help);
	prom_u64(b, name, NULL, v);
}

static void
metrics_build(struct evbuffer *b)
{
	char	labels[512], ev[32], cu[32];

	prom_family(b, "stockcam_build_info", "gauge",
	    "The version of stockcam and of the libraries it runs with.");
	prom_escape(event_get_version(), ev, sizeof ev);
	prom_escape(curl_version_info(CURLVERSION_NOW)->version, cu,
	    sizeof cu);
	snprintf(labels, sizeof labels, "version=\"%s\",libevent=\"%s\","
	    "libcurl=\"%s\",libxml2=\"%s\",libarchive=\"%s\",jansson=\"%s\"",
	    PACKAGE_VERSION, ev, cu, LIBXML_DOTTED_VERSION,
	    ARCHIVE_VERSION_ONLY_STRING, JANSSON_VERSION);
	prom_u64(b, "stockcam_build_info", labels, 1);
}

/* How many fds the process has open, or -1 (none to spare to look). */
static long
metrics_open_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	long		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n - 1;			/* not the directory's own */
}

static void
metrics_process(const struct api_metrics *m, struct evbuffer *b)
{
	struct rusage		 ru;
	struct rlimit		 rl;
	unsigned long		 vsz_pages, rss_pages;
	long			 page = sysconf(_SC_PAGESIZE), fds;
	FILE			*f;

	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		prom_family(b, "process_cpu_seconds_total", "counter",
		    "User and system CPU time spent, in seconds.");
		prom_double(b, "process_cpu_seconds_total", NULL,
		    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	}
	if ((f = fopen("/proc/self/statm", "re")) != NULL) {
		if (fscanf(f, "%lu %lu", &vsz_pages, &rss_pages) == 2) {
			gauge(b, "process_virtual_memory_bytes",
			    "Virtual memory size in bytes.",
			    (uint64_t)vsz_pages * (uint64_t)page);
			gauge(b, "process_resident_memory_bytes",
			    "Resident memory size in bytes.",
			    (uint64_t)rss_pages * (uint64_t)page);
		}
		fclose(f);
	}
	if ((fds = metrics_open_fds()) >= 0)
		gauge(b, "process_open_fds", "Open file descriptors.",
		    (uint64_t)fds);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		gauge(b, "process_max_fds",
		    "The most file descriptors the process may open.",
		    (uint64_t)rl.rlim_cur);
	prom_family(b, "process_start_time_seconds", "gauge",
	    "Start time of the process since the Unix epoch, in seconds.");
	prom_double(b, "process_start_time_seconds", NULL, m->start_time);
}

static void
metrics_jobs(struct evbuffer *b, struct jobs *jobs)
{
	struct jobs_stats	 js;
	const struct jobs_kind_stats *k;
	char			 labels[96];
	unsigned		 i, s;

	jobs_get_stats(jobs, &js);
	prom_family(b, "stockcam_jobs", "gauge",
	    "Jobs in the table, by state.");
	for (s = 0; s < JOB_NSTATES; s++) {
		snprintf(labels, sizeof labels, "state=\"%s\"",
		    job_state_name((int)s));
		prom_u64(b, "stockcam_jobs", labels, js.jobs_by_state[s]);
	}
	counter(b, "stockcam_jobs_created_total",
	    "Jobs created since start (every type).", js.created);
	prom_family(b, "stockcam_jobs_submitted_total", "counter",
	    "Jobs accepted since start, by type.");
	for (i = 0; i < js.nkinds; i++) {
		snprintf(labels, sizeof labels, "type=\"%s\"",
		    js.kinds[i].type);
		prom_u64(b, "stockcam_jobs_submitted_total", labels,
		    js.kinds[i].submitted);
	}
	prom_family(b, "stockcam_jobs_finished_total", "counter",
	    "Jobs that ended since start, by type and outcome.");
	for (i = 0; i < js.nkinds; i++) {
		k = &js.kinds[i];
		for (s = JOB_SUCCEEDED; s < JOB_NSTATES; s++) {
			snprintf(labels, sizeof labels,
			    "type=\"%s\",outcome=\"%s\"", k->type,
			    job_state_name((int)s));
			prom_u64(b, "stockcam_jobs_finished_total", labels,
			    k->finished[s]);
		}
	}
	prom_family(b, "stockcam_job_duration_seconds", "histogram",
	    "Time from a job's creation to its end, by type.");
	for (i = 0; i < js.nkinds; i++) {
		snprintf(labels, sizeof labels, "type=\"%s\"",
		    js.kinds[i].type);
		prom_histo(b, "stockcam_job_duration_seconds", labels,
		    &js.kinds[i].duration);
	}
	gauge(b, "stockcam_work_pending",
	    "Units of work (symbols, ranges) not finished yet.", js.pending);
}

static void
metrics_stock(struct evbuffer *b, struct stockjob *stock)
{
	struct stockjob_stats	 ss;
	char			 labels[64];
	unsigned		 i;

	stockjob_get_stats(stock, &ss);
	prom_family(b, "stockcam_symbols", "gauge",
	    "Symbols of stock jobs at a step now.");
	prom_u64(b, "stockcam_symbols", "step=\"fetch\"", ss.fetching);
	prom_u64(b, "stockcam_symbols", "step=\"convert\"", ss.converting);
	prom_u64(b, "stockcam_symbols", "step=\"archive\"", ss.archiving);
	prom_family(b, "stockcam_symbols_finished_total", "counter",
	    "Symbols that ended since start, by outcome.");
	prom_u64(b, "stockcam_symbols_finished_total", "outcome=\"succeeded\"",
	    ss.symbols_succeeded);
	prom_u64(b, "stockcam_symbols_finished_total", "outcome=\"failed\"",
	    ss.symbols_failed);
	prom_family(b, "stockcam_symbol_step_duration_seconds", "histogram",
	    "Time a symbol spent at a step: download (retries included), "
	    "conversion, and waiting for its archive to be written.");
	for (i = 0; i < STOCKJOB_NSTAGES; i++) {
		snprintf(labels, sizeof labels, "step=\"%s\"",
		    stockjob_stage_names[i]);
		prom_histo(b, "stockcam_symbol_step_duration_seconds", labels,
		    &ss.stage[i]);
	}
	prom_family(b, "stockcam_fetch_retries_total", "counter",
	    "Download attempts tried again, by what went wrong.");
	for (i = 0; i < FETCH_RETRY_NREASONS; i++) {
		snprintf(labels, sizeof labels, "reason=\"%s\"",
		    fetch_retry_reasons[i]);
		prom_u64(b, "stockcam_fetch_retries_total", labels,
		    ss.fetch_retries[i]);
	}
	counter(b, "stockcam_archives_written_total",
	    "Archives written.", ss.archiver.archives);
	counter(b, "stockcam_archive_bytes_total",
	    "Bytes of archives written.", ss.archiver.bytes);
	counter(b, "stockcam_archive_files_total",
	    "XML files packed into archives.", ss.archiver.files);
	gauge(b, "stockcam_archive_pending_files",
	    "XML files waiting for an archive.",
	    ss.archiver.pending + ss.archiver.packing);
	gauge(b, "stockcam_archive_waiting_files",
	    "XML files kept until there is room to archive them.",
	    ss.archiver.waiting);
	counter(b, "stockcam_archive_retries_total",
	    "Archives tried again after running out of room.",
	    ss.archiver.retries);
	gauge(b, "stockcam_downloads_paused",
	    "1 while new downloads wait for room in the data directory.",
	    ss.paused != 0);
}

static void
metrics_pools(struct evbuffer *b, const struct api_server *sv)
{
	static const struct {
		const char	*name, *type, *help;
	} fam[] = {
		{ "stockcam_pool_threads", "gauge", "Threads of a pool." },
		{ "stockcam_pool_busy_threads", "gauge",
		    "Threads of a pool running a task now." },
		{ "stockcam_pool_queued_tasks", "gauge",
		    "Tasks waiting for a thread." },
		{ "stockcam_pool_queue_capacity", "gauge",
		    "Tasks a pool's queue holds at most." },
		{ "stockcam_pool_tasks_completed_total", "counter",
		    "Tasks run to their end." },
		{ "stockcam_pool_tasks_canceled_total", "counter",
		    "Tasks canceled before they started." },
		{ "stockcam_pool_tasks_rejected_total", "counter",
		    "Tasks refused: the queue was full." },
	};
	struct pool		*pools[3];
	struct pool_stats	 st[3];
	uint64_t		 v;
	char			 labels[64];
	unsigned		 f, i;

	pools[0] = sv->fetch_pool;
	pools[1] = sv->convert_pool;
	pools[2] = sv->cpu_pool;
	for (i = 0; i < 3; i++)
		pool_get_stats(pools[i], &st[i]);
	for (f = 0; f < sizeof fam / sizeof fam[0]; f++) {
		prom_family(b, fam[f].name, fam[f].type, fam[f].help);
		for (i = 0; i < 3; i++) {
			switch (f) {
			case 0: v = st[i].threads; break;
			case 1: v = st[i].busy; break;
			case 2: v = st[i].queued; break;
			case 3: v = st[i].queue_depth; break;
			case 4: v = st[i].completed; break;
			case 5: v = st[i].canceled; break;
			default: v = st[i].rejected; break;
			}
			snprintf(labels, sizeof labels, "pool=\"%s\"",
			    pool_name(pools[i]));
			prom_u64(b, fam[f].name, labels, v);
		}
	}
	prom_family(b, "stockcam_pool_queue_wait_seconds", "histogram",
	    "Time a task waited in a pool's queue for a thread.");
	for (i = 0; i < 3; i++) {
		snprintf(labels, sizeof labels, "pool=\"%s\"",
		    pool_name(pools[i]));
		prom_histo(b, "stockcam_pool_queue_wait_seconds", labels,
		    &st[i].wait);
	}
}

static void
metrics_store(struct evbuffer *b, struct store *store)
{
	struct store_stats	st;

	store_get_stats(store, &st);
	counter(b, "stockcam_store_commits_total",
	    "Database transactions committed by the store.", st.commits);
	counter(b, "stockcam_store_changes_total",
	    "Changes (submissions, progress) the store was given.", st.txns);
	counter(b, "stockcam_store_failures_total",
	    "Changes the store could not commit.", st.failures);
	gauge(b, "stockcam_store_queued_changes",
	    "Changes waiting for the next commit.", st.queued);
	prom_family(b, "stockcam_store_commit_duration_seconds", "histogram",
	    "Time to commit one group of changes (one fsync when durable).");
	prom_histo(b, "stockcam_store_commit_duration_seconds", NULL,
	    &st.commit_time);
}

static void
metrics_renders(struct evbuffer *b, struct api_jobs *api_jobs)
{
	struct render_stats	rs = { 0, 0, 0 };

	if (api_jobs != NULL)
		api_jobs_get_render_stats(api_jobs, &rs);
	counter(b, "stockcam_job_renders_total",
	    "Job bodies rendered to JSON.", rs.renders);
	counter(b, "stockcam_job_render_bytes_total",
	    "Bytes of job bodies rendered.", rs.rendered_bytes);
	counter(b, "stockcam_job_render_shared_total",
	    "Replies that reused a rendering (long-polls of one version).",
	    rs.shared);
}

static void
api_metrics_get(struct http_request *req, const struct router_params *params,
    void *arg)
{
	const struct api_metrics	*m = arg;
	const struct api_server		*sv = m->sv;
	struct evbuffer			*b;

	if ((b = evbuffer_new()) == NULL)
		fatalx("api_metrics: evbuffer_new");
	metrics_build(b);
	metrics_process(m, b);
	prom_family(b, "stockcam_uptime_seconds", "gauge",
	    "Seconds since the server started.");
	prom_double(b, "stockcam_uptime_seconds", NULL,
	    mono_since_s(&sv->started));
	http_metrics_write(sv->http, b);
	metrics_jobs(b, sv->jobs);
	metrics_stock(b, sv->stock);
	metrics_pools(b, sv);
	if (sv->store != NULL)
		metrics_store(b, sv->store);
	metrics_renders(b, sv->api_jobs);
	if (sv->api_camera != NULL)
		api_camera_metrics(sv->api_camera, b);
	http_reply_buffer(req, 200, PROM_CONTENT_TYPE, b);
	evbuffer_free(b);
}

struct api_metrics *
api_metrics_register(struct router *r, const struct api_server *sv)
{
	struct api_metrics	*m;
	struct timespec		 now;

	m = xcalloc(1, sizeof *m);
	m->sv = sv;
	clock_gettime(CLOCK_REALTIME, &now);
	m->start_time = (double)now.tv_sec + (double)now.tv_nsec / 1e9 -
	    mono_since_s(&sv->started);
	router_add(r, HTTP_GET, "/metrics", api_metrics_get, m);
	return m;
}

void
api_metrics_free(struct api_metrics *m)
{
	free(m);
}
