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
#include <sys/stat.h>
#include <netinet/in.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "api/api.h"
#include "api/access.h"
#include "api/api_camera.h"
#include "api/api_events.h"
#include "api/api_files.h"
#include "api/api_jobs.h"
#include "api/api_metrics.h"
#include "api/assets.h"
#include "api/synthetic.h"
#include "camera/camera.h"
#include "cmd/cmd_client.h"
#include "cmd/cmd_csv2xml.h"
#include "http/http.h"
#include "http/router.h"
#include "jobs/jobs.h"
#include "jobs/searchjob.h"
#include "jobs/stockjob.h"
#include "jobs/store.h"
#include "lib/compq.h"
#include "lib/hostport.h"
#include "lib/log.h"
#include "lib/mkpath.h"
#include "lib/mono.h"
#include "lib/pool.h"
#include "lib/systemd.h"
#include "lib/xmalloc.h"
#include "options.h"
#include "stock/csv2xml.h"
#include "stock/fetch.h"

/* The objects main() wires together. */
struct app {
	struct event_base	*base;
	struct compq		*cq;
	struct pool		*fetch_pool;
	struct pool		*convert_pool;
	struct pool		*cpu_pool;
	struct router		*router;
	struct assets		*assets;
	struct access		*access;
	struct pool		*auth_pool;	/* checks passwords */
	struct store		*store;
	struct jobs		*jobs;
	struct stockjob		*stock;
	struct searchjob	*search;
	struct pool		*io_pool;
	struct api_jobs		*api_jobs;
	struct api_files	*api_files;
	struct camera		*camera;
	struct api_camera	*api_camera;
	struct api_events	*api_events;
	struct api_metrics	*api_metrics;
	struct http_server	*http;
	struct api_server	 figures;
	int			 own_source;	/* the synthetic one, ours */
};

/* Says when the certificate expires, louder when it is soon. */
static void
log_tls_expiry(const struct http_server *http)
{
	time_t		 t = http_tls_not_after(http), now = time(NULL);
	struct tm	 tm;
	char		 when[32];

	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
	if (t <= now)
		log_warn("TLS certificate expired %s: clients will refuse it",
		    when);
	else if (t - now < 14 * 86400)
		log_warn("TLS certificate expires %s, in %lld day(s)", when,
		    (long long)((t - now) / 86400));
	else
		log_info("TLS certificate expires %s", when);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct app	*app = arg;

	log_info("signal %d: shutting down", (int)sig);
	if (app->http != NULL)
		http_server_stop_listening(app->http);
	event_base_loopexit(app->base, NULL);
}

/*
 * SIGHUP: the certificate and key again, for new connections (open ones
 * keep theirs); the synthetic source, fetched from this server, trusts
 * the new key from its next download. Without TLS there is nothing to
 * reload, and a daemon does not die of a hangup.
 */
static void
on_hangup(evutil_socket_t sig, short what, void *arg)
{
	struct app	*app = arg;
	char		 err[1024];

	if (app->http == NULL || http_tls_pin(app->http) == NULL) {
		log_info("SIGHUP: nothing to reload (no --tls-cert)");
		return;
	}
	if (http_tls_reload(app->http, err, sizeof err) != 0) {
		log_error("SIGHUP: TLS not reloaded, the old certificate "
		    "stays: %s", err);
		return;
	}
	if (app->own_source)
		stockjob_set_source_key(app->stock, http_tls_pin(app->http));
	log_info("SIGHUP: TLS certificate and key reloaded");
	log_tls_expiry(app->http);
}

static void
on_request(struct http_request *req, void *arg)
{
	struct app	*app = arg;

	access_dispatch(app->access, req);
}

/* 1 for an address only this host can reach. */
static int
is_loopback(const char *host)
{
	return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
	    strcmp(host, "localhost") == 0;
}

/*
 * Every connection is an fd: raise the soft limit to the hard one, and if
 * the cap still does not fit beside what the work needs (the store, the
 * downloads, archives, the camera, the spare fd), lower the cap rather
 * than run out of fds under load.
 */
static void
fit_fd_limit(struct options *opt)
{
	struct rlimit	rl;
	rlim_t		reserve, fit;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	/* Downloads (a socket, a file, the resolver's pair), conversions,
	 * archives, the store and the pools' wakeups, with room to spare. */
	reserve = 64 + (rlim_t)opt->fetch_workers * 2 + opt->per_host;
	opt->http.fd_reserve = (unsigned)reserve;
	if (rl.rlim_cur == RLIM_INFINITY)
		return;
	if ((rlim_t)opt->http.max_connections + reserve <= rl.rlim_cur)
		return;
	fit = rl.rlim_cur > reserve + 16 ? rl.rlim_cur - reserve : 16;
	if (fit >= opt->http.max_connections)
		return;
	log_warn("--max-connections lowered from %u to %u: the open-file "
	    "limit is %llu (ulimit -n) and %llu are kept for the work",
	    opt->http.max_connections, (unsigned)fit,
	    (unsigned long long)rl.rlim_cur, (unsigned long long)reserve);
	opt->http.max_connections = (unsigned)fit;
}

/*
 * Listens on the sockets systemd passed (nfds of them: --listen is then
 * not used) or on --listen. Returns the first one's port, its address in
 * host; or -1.
 */
static int
app_listen(struct app *app, const struct options *opt, int nfds, char *host,
    size_t hostlen)
{
	char	other[INET6_ADDRSTRLEN];
	int	i, p, port = -1;

	if (nfds == 0) {
		snprintf(host, hostlen, "%s", opt->listen_host);
		return http_server_listen(app->http, opt->listen_host,
		    opt->listen_port);
	}
	for (i = 0; i < nfds; i++) {
		p = http_server_listen_fd(app->http,
		    SYSTEMD_LISTEN_FDS_START + i, i == 0 ? host : other,
		    i == 0 ? hostlen : sizeof other);
		if (p < 0)
			return -1;
		if (i == 0)
			port = p;
	}
	log_info("listening on %d socket%s from systemd (not --listen)",
	    nfds, nfds > 1 ? "s" : "");
	return port;
}

/* A --store that failed, its password (if any) not shown. */
static void
store_failed(const char *spec, const char *err)
{
	char	*shown = store_spec_shown(spec);

	fprintf(stderr, "stockcam: --store %s: %s\n", shown, err);
	free(shown);
}

int
main(int argc, char **argv)
{
	struct options	 opt;
	struct app	 app;
	struct event	*sigint, *sigterm, *sighup;
	struct camera_config camcfg;
	struct jobs_config jobs_cfg;
	struct stockjob_config stock_cfg;
	struct store_config store_cfg;
	struct access_config access_cfg;
	char		 err[CAMERA_ERRLEN];
	char		*url;
	int		 port, rv, status = 0;
	char		 authority[INET6_ADDRSTRLEN + 16];
	char		 host[INET6_ADDRSTRLEN];
	int		 app_nfds;

	if (argc > 1 && strcmp(argv[1], "csv2xml") == 0)
		return cmd_csv2xml_main(argc - 1, argv + 1);
	if (argc > 1 && cmd_client_is_command(argv[1]))
		return cmd_client_main(argc - 1, argv + 1);
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
	/* Taken at once: the variables must not reach a child. */
	app_nfds = systemd_listen_fds();
	/* Options that need more than a parse, checked before any side effect. */
	if (opt.source_url != NULL &&
	    fetch_check_template(opt.source_url, err, sizeof err) != 0) {
		fprintf(stderr, "stockcam: --source-url: %s\n", err);
		options_free(&opt);
		return 2;
	}
	if (camera_check_source(opt.camera, err, sizeof err) != 0) {
		fprintf(stderr, "stockcam: --camera %s: %s\n", opt.camera,
		    err);
		options_free(&opt);
		return 2;
	}
	if (store_spec_ok(opt.store, err, sizeof err) != 0) {
		store_failed(opt.store, err);
		options_free(&opt);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	fit_fd_limit(&opt);
	if ((rv = mkpath(opt.data_dir)) != 0)
		fatalx("data directory %s: %s", opt.data_dir, strerror(-rv));

	if (fetch_global_init() != 0)
		fatalx("libcurl: cannot initialise");
	csv2xml_global_init();		/* before any thread */
	memset(&app, 0, sizeof app);
	app.figures.started = mono_now();
	if (evthread_use_pthreads() != 0)
		fatalx("libevent: no thread support");
	if ((app.base = event_base_new()) == NULL)
		fatalx("libevent: event_base_new");
	/*
	 * Caught from now on: a SIGTERM that comes while starting (a
	 * supervisor that saw the listening line) is a clean stop once the
	 * loop runs, not a kill.
	 */
	sigint = evsignal_new(app.base, SIGINT, on_signal, &app);
	sigterm = evsignal_new(app.base, SIGTERM, on_signal, &app);
	sighup = evsignal_new(app.base, SIGHUP, on_hangup, &app);
	if (sigint == NULL || sigterm == NULL || sighup == NULL ||
	    evsignal_add(sigint, NULL) || evsignal_add(sigterm, NULL) ||
	    evsignal_add(sighup, NULL))
		fatalx("libevent: cannot watch signals");

	app.cq = compq_new(app.base);
	/*
	 * Downloads, conversions, searches and archives (the archiver nices
	 * its own threads) keep every core busy for seconds: behind the
	 * loop, so a request waits for no worker's time slice.
	 */
	app.fetch_pool = pool_new_niced("fetch", opt.fetch_workers,
	    opt.queue_depth, app.cq, 10);
	app.convert_pool = pool_new_niced("convert", opt.convert_workers,
	    opt.queue_depth, app.cq, 10);
	app.cpu_pool = pool_new_niced("cpu", opt.cpu_workers, opt.queue_depth,
	    app.cq, 10);
	/* Archive reads and listings: never behind the downloads. */
	app.io_pool = pool_new("io", 2, opt.queue_depth, app.cq);

	/* Jobs: the store, the table, the kinds, then what the store has. */
	options_store_config(&opt, &store_cfg);
	if ((app.store = store_open(&store_cfg, app.cq, err,
	    sizeof err)) == NULL) {
		store_failed(opt.store, err);
		status = 1;
		goto out;
	}
	options_jobs_config(&opt, &jobs_cfg);
	app.jobs = jobs_new(app.base, &jobs_cfg, app.store);
	options_stockjob_config(&opt, &stock_cfg);
	app.stock = stockjob_new(app.jobs, app.cq, app.fetch_pool,
	    app.convert_pool, &stock_cfg, err, sizeof err);
	if (app.stock == NULL) {
		log_error("data directory %s: %s", opt.data_dir, err);
		status = 1;
		goto out;
	}
	app.search = searchjob_new(app.jobs, app.cpu_pool, opt.cpu_workers);
	if (jobs_load(app.jobs, err, sizeof err) != 0) {
		store_failed(opt.store, err);
		status = 1;
		goto out;
	}
	stockjob_recover(app.stock);
	jobs_resume(app.jobs);

	app.router = router_new();
	app.figures.fetch_pool = app.fetch_pool;
	app.figures.convert_pool = app.convert_pool;
	app.figures.cpu_pool = app.cpu_pool;
	app.figures.jobs = app.jobs;
	app.figures.stock = app.stock;
	app.figures.store = app.store;
	app.figures.max_symbols = opt.max_symbols;
	app.figures.max_body_size = opt.http.max_body_size;
	api_register(app.router, &app.figures);
	app.api_metrics = api_metrics_register(app.router, &app.figures);
	app.api_jobs = api_jobs_register(app.router, app.base, app.jobs,
	    app.stock, app.search, opt.max_symbols);
	app.figures.api_jobs = app.api_jobs;
	api_jobs_set_disk_reserve(app.api_jobs, opt.data_dir,
	    opt.min_free_space);
	app.api_files = api_files_register(app.router, app.jobs, app.stock,
	    app.io_pool);
	synthetic_register(app.router);
	options_camera_config(&opt, &camcfg);
	if ((app.camera = camera_new(app.base, &camcfg, err,
	    sizeof err)) == NULL) {
		fprintf(stderr, "stockcam: --camera %s: %s\n", opt.camera,
		    err);
		status = 2;
		goto out;
	}
	app.api_camera = api_camera_register(app.router, app.camera,
	    opt.max_viewers);
	app.figures.api_camera = app.api_camera;
	app.api_events = api_events_register(app.router, app.base,
	    &app.figures, app.api_camera);
	app.assets = assets_register(app.router);
	options_access_config(&opt, &access_cfg);
	if (opt.auth_file != NULL)
		app.auth_pool = pool_new("auth", 1, 64, app.cq);
	if ((app.access = access_new(app.base, &access_cfg, app.auth_pool,
	    app.router, err, sizeof err)) == NULL) {
		fprintf(stderr, "stockcam: --auth: %s\n", err);
		status = 2;
		goto out;
	}

	app.http = http_server_new(app.base, &opt.http, on_request, &app);
	app.figures.http = app.http;
	if (opt.tls_cert != NULL) {
		if (http_tls_set(app.http, opt.tls_cert, opt.tls_key, err,
		    sizeof err) != 0) {
			fprintf(stderr, "stockcam: --tls-cert: %s\n", err);
			status = 2;
			goto out;
		}
		log_tls_expiry(app.http);
	}
	if ((port = app_listen(&app, &opt, app_nfds, host, sizeof host)) < 0) {
		status = 1;
		goto out;
	}
	hostport_format(authority, sizeof authority, host, (unsigned)port);
	fprintf(stderr, "stockcam %s listening on %s://%s/ (dashboard)\n",
	    PACKAGE_VERSION, opt.tls_cert != NULL ? "https" : "http",
	    authority);
	if (!access_enabled(app.access) && !is_loopback(host))
		log_warn("serving %s without --auth: anyone who can reach it "
		    "may submit and cancel jobs and watch the camera",
		    authority);
	if (opt.source_url != NULL)
		stockjob_set_source(app.stock, opt.source_url);
	else {
		/* Our own synthetic prices, served on the port just bound. */
		url = synthetic_url(host, port, opt.tls_cert != NULL);
		/* Our own certificate may be for other names: its key it is. */
		app.own_source = 1;
		stockjob_set_source_key(app.stock, http_tls_pin(app.http));
		stockjob_set_source(app.stock, url);
		log_info("source: built-in synthetic prices (not market data), "
		    "%s", url);
		free(url);
	}

	/* Serving: jobs resumed, the port bound (Type=notify units). */
	if (systemd_notify("READY=1\nSTATUS=serving") < 0)
		log_warn("sd_notify READY: %s", strerror(errno));
	event_base_dispatch(app.base);
	systemd_notify("STOPPING=1\nSTATUS=stopping");
out:
	event_free(sighup);
	event_free(sigterm);
	event_free(sigint);
	/* Clients first (long-polls end), then work, then the archive. */
	http_server_free(app.http);
	api_events_forget_camera(app.api_events);
	app.figures.api_camera = NULL;
	api_camera_free(app.api_camera);	/* its viewers are closed */
	camera_free(app.camera);
	if (app.jobs != NULL)
		jobs_shutdown(app.jobs);
	pool_shutdown(app.cpu_pool);
	pool_shutdown(app.convert_pool);
	pool_shutdown(app.fetch_pool);
	pool_shutdown(app.io_pool);
	if (app.auth_pool != NULL)
		pool_shutdown(app.auth_pool);
	compq_drain(app.cq);
	stockjob_finish(app.stock);	/* packs what was converted */
	if (app.jobs != NULL)
		jobs_flush(app.jobs);	/* the last changes, to the store */
	store_close(app.store);
	compq_drain(app.cq);		/* ... and their callbacks */
	jobs_free(app.jobs);
	searchjob_free(app.search);
	stockjob_free(app.stock);
	api_events_free(app.api_events);	/* after what it watches */
	api_files_free(app.api_files);
	api_metrics_free(app.api_metrics);
	api_jobs_free(app.api_jobs);
	pool_free(app.cpu_pool);
	pool_free(app.convert_pool);
	pool_free(app.fetch_pool);
	pool_free(app.io_pool);
	if (app.auth_pool != NULL)
		pool_free(app.auth_pool);
	access_free(app.access);
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
