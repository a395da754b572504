/*
 * main.c - wires the server together, runs the loop, tears down.
 *
 * Start-up order: options, loop, completion queue, pools, routes, HTTP.
 * Shutdown (SIGINT/SIGTERM, delivered as loop events) runs it backwards:
 * stop accepting and close connections, cancel queued work and join the
 * threads, run the last completions, free.
 */
#include "config.h"

#include <sys/resource.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "api/api.h"
#include "api/api_files.h"
#include "api/api_jobs.h"
#include "api/assets.h"
#include "api/synthetic.h"
#include "app.h"
#include "camera/camera.h"
#include "cmd/cmd_csv2xml.h"
#include "http/http.h"
#include "http/router.h"
#include "jobs/jobs.h"
#include "lib/compq.h"
#include "lib/hostport.h"
#include "lib/log.h"
#include "lib/mkpath.h"
#include "lib/pool.h"
#include "lib/xmalloc.h"
#include "options.h"
#include "stock/fetch.h"

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct app	*app = arg;

	log_info("signal %d: shutting down", (int)sig);
	http_server_stop_listening(app->http);
	event_base_loopexit(app->base, NULL);
}

static void
on_request(struct http_request *req, void *arg)
{
	struct app	*app = arg;

	router_dispatch(app->router, req);
}

/* Every connection is an fd: make sure the limit allows the cap. */
static void
raise_fd_limit(unsigned max_connections)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)max_connections + 64 > rl.rlim_cur)
		log_warn("--max-connections %u is close to the open-file limit "
		    "(%llu): raise ulimit -n", max_connections,
		    (unsigned long long)rl.rlim_cur);
}

static struct jobs *
jobs_new_from_options(struct app *app, const struct options *opt)
{
	struct jobs_config	 cfg;
	struct jobs		*jobs;
	const char		*err;

	memset(&cfg, 0, sizeof cfg);
	cfg.data_dir = opt->data_dir;
	cfg.max_symbols = opt->max_symbols;
	cfg.max_pending_symbols = opt->max_pending_symbols;
	cfg.max_jobs = opt->max_jobs;
	cfg.job_ttl_s = opt->job_ttl_s;
	cfg.batch_size = opt->batch_size;
	cfg.gzip_level = (int)opt->gzip_level;
	cfg.archive_threads = opt->convert_workers;	/* gzip: per core */
	cfg.fetch_slots = opt->per_host < opt->fetch_workers ? opt->per_host :
	    opt->fetch_workers;
	cfg.fetch_timeout_ms = opt->fetch_timeout_ms;
	cfg.max_download = opt->max_download;
	cfg.fetch_attempts = opt->fetch_attempts;
	cfg.cpu_workers = opt->cpu_workers;
	jobs = jobs_new(app->base, app->cq, app->fetch_pool,
	    app->convert_pool, app->cpu_pool, &cfg, &err);
	if (jobs == NULL)
		log_error("data directory %s: %s", opt->data_dir, err);
	return jobs;
}

/* The source: the user's, or our own synthetic one on the bound port. */
static void
set_source(struct app *app, const struct options *opt, int port)
{
	const char	*host = opt->listen_host;
	char		*url, authority[INET6_ADDRSTRLEN + 16];

	if (opt->source_url != NULL) {
		jobs_set_source(app->jobs, opt->source_url);
		return;
	}
	if (strcmp(host, "0.0.0.0") == 0)
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		host = "::1";
	hostport_format(authority, sizeof authority, host, (unsigned)port);
	xasprintf(&url, "http://%s/synthetic/{symbol}.csv", authority);
	jobs_set_source(app->jobs, url);
	log_info("source: built-in synthetic prices (not market data), %s",
	    url);
	free(url);
}

int
main(int argc, char **argv)
{
	struct options	 opt;
	struct app	 app;
	struct event	*sigint, *sigterm;
	struct camera_config camcfg;
	struct pool	*io_pool;
	struct api_files *api_files = NULL;
	const char	*why;
	int		 port, rv, status = 0;
	char		 authority[INET6_ADDRSTRLEN + 16];

	if (argc > 1 && strcmp(argv[1], "csv2xml") == 0)
		return cmd_csv2xml_main(argc - 1, argv + 1);
	switch (options_load(&opt, argc, argv)) {
	case OPTIONS_OK:
		break;
	case OPTIONS_EXIT:
		options_free(&opt);
		return 0;
	case OPTIONS_ERROR:
		options_free(&opt);
		return 2;
	}
	log_set_level(opt.log_level);
	/* Options that need more than a parse, checked before any side effect. */
	if (opt.source_url != NULL &&
	    fetch_check_template(opt.source_url, &why) != 0) {
		fprintf(stderr, "stockcam: --source-url: %s\n", why);
		options_free(&opt);
		return 2;
	}
	if (camera_check_source(opt.camera, &why) != 0) {
		fprintf(stderr, "stockcam: --camera %s: %s\n", opt.camera, why);
		options_free(&opt);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit(opt.http.max_connections);
	if ((rv = mkpath(opt.data_dir)) != 0)
		fatalx("data directory %s: %s", opt.data_dir, strerror(-rv));

	if (fetch_global_init() != 0)
		fatalx("libcurl: cannot initialise");
	memset(&app, 0, sizeof app);
	app.opt = &opt;
	clock_gettime(CLOCK_MONOTONIC, &app.started);
	if (evthread_use_pthreads() != 0)
		fatalx("libevent: no thread support");
	if ((app.base = event_base_new()) == NULL)
		fatalx("libevent: event_base_new");

	app.cq = compq_new(app.base);
	app.fetch_pool = pool_new("fetch", opt.fetch_workers,
	    opt.queue_depth, app.cq);
	app.convert_pool = pool_new("convert", opt.convert_workers,
	    opt.queue_depth, app.cq);
	/* Searches keep every core busy for seconds: behind the loop. */
	app.cpu_pool = pool_new_niced("cpu", opt.cpu_workers, opt.queue_depth,
	    app.cq, 10);
	/* Archive reads and listings: never behind the downloads. */
	io_pool = pool_new("io", 2, opt.queue_depth, app.cq);

	if ((app.jobs = jobs_new_from_options(&app, &opt)) == NULL) {
		status = 1;
		goto out;
	}

	app.router = router_new();
	api_register(app.router, &app);
	app.api_jobs = api_jobs_register(app.router, app.base, app.jobs,
	    opt.max_symbols);
	api_files = api_files_register(app.router, app.jobs, io_pool);
	synthetic_register(app.router);
	camcfg.source = opt.camera;
	camcfg.quality = (int)opt.jpeg_quality;
	camcfg.max_viewers = opt.max_viewers;
	if ((app.camera = camera_new(app.base, &camcfg, &why)) == NULL) {
		fprintf(stderr, "stockcam: --camera %s: %s\n", opt.camera, why);
		status = 2;
		goto out;
	}
	camera_register(app.camera, app.router);
	app.assets = assets_register(app.router);

	app.http = http_server_new(app.base, &opt.http, on_request, &app);
	port = http_server_listen(app.http, opt.listen_host, opt.listen_port);
	if (port < 0) {
		status = 1;
		goto out;
	}
	hostport_format(authority, sizeof authority, opt.listen_host,
	    (unsigned)port);
	fprintf(stderr, "stockcam %s listening on http://%s/ (dashboard)\n",
	    PACKAGE_VERSION, authority);
	set_source(&app, &opt, port);

	sigint = evsignal_new(app.base, SIGINT, on_signal, &app);
	sigterm = evsignal_new(app.base, SIGTERM, on_signal, &app);
	if (sigint == NULL || sigterm == NULL || evsignal_add(sigint, NULL) ||
	    evsignal_add(sigterm, NULL))
		fatalx("libevent: cannot watch signals");

	event_base_dispatch(app.base);

	event_free(sigterm);
	event_free(sigint);
out:
	/* Clients first (long-polls end), then work, then the archive. */
	http_server_free(app.http);
	camera_free(app.camera);	/* viewers are gone with their conns */
	if (app.jobs != NULL)
		jobs_shutdown(app.jobs);
	pool_shutdown(app.cpu_pool);
	pool_shutdown(app.convert_pool);
	pool_shutdown(app.fetch_pool);
	pool_shutdown(io_pool);
	compq_drain(app.cq);
	jobs_free(app.jobs);		/* flushes the archiver */
	api_files_free(api_files);
	api_jobs_free(app.api_jobs);
	pool_free(app.cpu_pool);
	pool_free(app.convert_pool);
	pool_free(app.fetch_pool);
	pool_free(io_pool);
	assets_free(app.assets);
	router_free(app.router);
	compq_free(app.cq);
	fetch_global_cleanup();
	event_base_free(app.base);
	libevent_global_shutdown();
	options_free(&opt);
	log_info("stopped");
	return status;
}
