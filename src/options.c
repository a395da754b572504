/*
 * options.c - command-line options and their environment twins.
 *
 * One table describes every option: its long name, the environment
 * variable that sets it too, its kind and range. Defaults come first,
 * then the environment, then the command line, so a flag always wins.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/access.h"
#include "camera/camera.h"
#include "jobs/jobs.h"
#include "jobs/stockjob.h"
#include "lib/xmalloc.h"
#include "options.h"

/* What --version lists as built in: configure's optional parts. */
#ifdef HAVE_SQLITE
#define OPTIONS_FEATURE_SQLITE	" sqlite"
#else
#define OPTIONS_FEATURE_SQLITE	""
#endif
#ifdef HAVE_TLS
#define OPTIONS_FEATURE_TLS	" tls"
#else
#define OPTIONS_FEATURE_TLS	""
#endif
#ifdef HAVE_POSTGRESQL
#define OPTIONS_FEATURE_PG	" postgresql"
#else
#define OPTIONS_FEATURE_PG	""
#endif
#ifdef HAVE_LIBDEFLATE
#define OPTIONS_FEATURE_DEFLATE	" libdeflate"
#else
#define OPTIONS_FEATURE_DEFLATE	""
#endif
#define OPTIONS_FEATURES	OPTIONS_FEATURE_SQLITE OPTIONS_FEATURE_PG \
				OPTIONS_FEATURE_TLS OPTIONS_FEATURE_DEFLATE

enum opt_kind { OPT_UINT, OPT_SECONDS, OPT_STRING, OPT_LISTEN, OPT_LEVEL };

struct optdef {
	const char	*name;
	const char	*env;
	enum opt_kind	 kind;
	unsigned long	 min, max;	/* OPT_UINT; OPT_SECONDS in ms */
	const char	*arg;		/* for --help */
	const char	*help;
};

enum {
	O_LISTEN, O_DATA_DIR, O_FETCH, O_CONVERT, O_CPU, O_QUEUE, O_MAXCONN,
	O_MAXCONNCLIENT,
	O_MAXHDR, O_MAXBODY, O_REQTMO, O_KATMO, O_WRTMO, O_LEVEL,
	O_SOURCE, O_MAXSYM, O_MAXPEND, O_BATCH, O_GZIP, O_TTL, O_MAXJOBS,
	O_FETCHTMO, O_MAXDL, O_ATTEMPTS, O_PERHOST, O_CAMERA, O_QUALITY,
	O_VIEWERS, O_STORE, O_SYNC, O_MINFREE, O_AUTH, O_AUTHOPEN, O_ORIGIN,
	O_TLSCERT, O_TLSKEY, O_COUNT
};

static const struct optdef opts[O_COUNT] = {
	[O_LISTEN] = { "listen", "STOCKCAM_LISTEN", OPT_LISTEN, 0, 0,
	    "HOST:PORT", "address to serve on (127.0.0.1:8080)" },
	[O_DATA_DIR] = { "data-dir", "STOCKCAM_DATA_DIR", OPT_STRING, 0, 0,
	    "DIR", "where XML files and archives go (./stockcam-data)" },
	[O_FETCH] = { "fetch-workers", "STOCKCAM_FETCH_WORKERS", OPT_UINT,
	    1, 256, "N", "download threads (8)" },
	[O_CONVERT] = { "convert-workers", "STOCKCAM_CONVERT_WORKERS",
	    OPT_UINT, 1, 256, "N", "CSV to XML threads (one per core)" },
	[O_CPU] = { "cpu-workers", "STOCKCAM_CPU_WORKERS", OPT_UINT, 1, 256,
	    "N", "compute threads (one per core)" },
	[O_QUEUE] = { "queue-depth", "STOCKCAM_QUEUE_DEPTH", OPT_UINT, 1,
	    1000000, "N", "tasks each pool queues before refusing (1024)" },
	[O_MAXCONN] = { "max-connections", "STOCKCAM_MAX_CONNECTIONS",
	    OPT_UINT, 1, 1000000, "N",
	    "open connections; idle keep-alive ones are closed to make "
	    "room, else more get 503 (1024)" },
	[O_MAXCONNCLIENT] = { "max-connections-per-client",
	    "STOCKCAM_MAX_CONNECTIONS_PER_CLIENT", OPT_UINT, 0, 1000000, "N",
	    "connections from one address, more get 503; 127.0.0.1 "
	    "and ::1 are exempt; 0: no cap (64)" },
	[O_MAXHDR] = { "max-header-size", "STOCKCAM_MAX_HEADER_SIZE",
	    OPT_UINT, 256, 1 << 20, "BYTES",
	    "request head limit; larger gets 431 (8192)" },
	[O_MAXBODY] = { "max-body-size", "STOCKCAM_MAX_BODY_SIZE", OPT_UINT,
	    0, 1UL << 30, "BYTES",
	    "request body limit; larger gets 413 (1048576)" },
	[O_REQTMO] = { "request-timeout", "STOCKCAM_REQUEST_TIMEOUT",
	    OPT_SECONDS, 50, 3600000, "SECONDS",
	    "time to receive one request, head and body (10)" },
	[O_KATMO] = { "keepalive-timeout", "STOCKCAM_KEEPALIVE_TIMEOUT",
	    OPT_SECONDS, 50, 3600000, "SECONDS",
	    "idle time between requests on a connection (30)" },
	[O_WRTMO] = { "write-timeout", "STOCKCAM_WRITE_TIMEOUT", OPT_SECONDS,
	    50, 3600000, "SECONDS",
	    "time a client may stall reading a reply (30)" },
	[O_LEVEL] = { "log-level", "STOCKCAM_LOG_LEVEL", OPT_LEVEL, 0, 0,
	    "LEVEL", "error, warn, info (each request) or debug (info)" },
	[O_SOURCE] = { "source-url", "STOCKCAM_SOURCE_URL", OPT_STRING, 0, 0,
	    "URL", "CSV source, {symbol} replaced (default: the built-in "
	    "SYNTHETIC source, made-up prices served at /synthetic/)" },
	[O_MAXSYM] = { "max-symbols", "STOCKCAM_MAX_SYMBOLS", OPT_UINT, 1,
	    100000, "N", "symbols in one job (1000)" },
	[O_MAXPEND] = { "max-pending-symbols", "STOCKCAM_MAX_PENDING_SYMBOLS",
	    OPT_UINT, 1, 10000000, "N",
	    "unfinished stock symbols held; more gets 429 (10000)" },
	[O_BATCH] = { "batch-size", "STOCKCAM_BATCH_SIZE", OPT_UINT, 1,
	    100000, "N", "XML files per archive (100)" },
	[O_GZIP] = { "gzip-level", "STOCKCAM_GZIP_LEVEL", OPT_UINT, 1,
	    ARCHIVER_GZIP_MAX, "N", ARCHIVER_GZIP_HELP },
	[O_TTL] = { "job-ttl", "STOCKCAM_JOB_TTL", OPT_UINT, 1, 31536000,
	    "SECONDS", "how long finished jobs are kept (3600)" },
	[O_MAXJOBS] = { "max-jobs", "STOCKCAM_MAX_JOBS", OPT_UINT, 1,
	    1000000, "N", "finished jobs kept at most (1000)" },
	[O_FETCHTMO] = { "fetch-timeout", "STOCKCAM_FETCH_TIMEOUT",
	    OPT_SECONDS, 100, 3600000, "SECONDS",
	    "time for one download attempt (30)" },
	[O_MAXDL] = { "max-download-size", "STOCKCAM_MAX_DOWNLOAD_SIZE",
	    OPT_UINT, 1024, 1UL << 31, "BYTES",
	    "largest CSV accepted (67108864)" },
	[O_MINFREE] = { "min-free-space", "STOCKCAM_MIN_FREE_SPACE",
	    OPT_UINT, 0, 1UL << 50, "BYTES",
	    "free space kept in the data dir: below it stock jobs get 507 "
	    "(67108864; 0: none)" },
	[O_ATTEMPTS] = { "fetch-attempts", "STOCKCAM_FETCH_ATTEMPTS",
	    OPT_UINT, 1, 20, "N", "tries per download, retries included (4)" },
	[O_PERHOST] = { "per-host-connections", "STOCKCAM_PER_HOST_CONNECTIONS",
	    OPT_UINT, 1, 256, "N",
	    "downloads from the source at once (6; at most --fetch-workers)" },
	[O_CAMERA] = { "camera", "STOCKCAM_CAMERA", OPT_STRING, 0, 0,
	    "SOURCE", "testpattern[:WxH[@FPS]], y4m:PATH (- for stdin) or "
	    "v4l2:DEVICE[:WxH][@FPS][:yuyv|:mjpeg] (testpattern)" },
	[O_QUALITY] = { "jpeg-quality", "STOCKCAM_JPEG_QUALITY", OPT_UINT, 1,
	    100, "N", "camera JPEG quality (40)" },
	[O_STORE] = { "store", "STOCKCAM_STORE", OPT_STRING, 0, 0,
	    "SPEC", "where jobs are kept: sqlite:PATH, postgresql://... "
	    "(a libpq URI) or memory (sqlite:DATA-DIR/stockcam.db)" },
	[O_SYNC] = { "sync", "STOCKCAM_SYNC", OPT_STRING, 0, 0,
	    "normal|full", "normal: no accepted job is lost if the process "
	    "dies; full: nor on power loss (normal)" },
	[O_AUTH] = { "auth", "STOCKCAM_AUTH", OPT_STRING, 0, 0, "FILE",
	    "users, one a line NAME:HASH:ROLE (crypt(3) hash; viewer or "
	    "operator); HTTP Basic or Bearer NAME.SECRET (none: no login)" },
	[O_AUTHOPEN] = { "auth-open", "STOCKCAM_AUTH_OPEN", OPT_STRING, 0, 0,
	    "LIST", "health, metrics or both (comma-separated): served "
	    "without login under --auth (none)" },
	[O_ORIGIN] = { "allow-origin", "STOCKCAM_ALLOW_ORIGIN", OPT_STRING,
	    0, 0, "LIST", "origins whose pages may call the API (CORS), "
	    "comma-separated, or * (none)" },
	[O_TLSCERT] = { "tls-cert", "STOCKCAM_TLS_CERT", OPT_STRING, 0, 0,
	    "FILE", "serve HTTPS with this certificate (PEM, chain after "
	    "it); needs --tls-key; SIGHUP reloads both (none: HTTP)" },
	[O_TLSKEY] = { "tls-key", "STOCKCAM_TLS_KEY", OPT_STRING, 0, 0,
	    "FILE", "the certificate's private key (PEM, not encrypted)" },
	[O_VIEWERS] = { "max-viewers", "STOCKCAM_MAX_VIEWERS", OPT_UINT, 1,
	    100000, "N", "camera streams at once; more get 503 (100)" },
};

static void
usage(FILE *f)
{
	char	left[64];
	int	i;

	fprintf(f, "usage: stockcam [OPTION]...\n"
	    "       stockcam csv2xml [OPTION]... [IN.csv|-] [OUT.xml|-]\n"
	    "       stockcam submit|armstrong|jobs|get|cancel|watch|fetch|"
	    "health [--server URL] ...\n"
	    "Serves stock-history jobs, a live camera and a dashboard over "
	    "HTTP;\nstockcam csv2xml converts one CSV file to XML (see "
	    "stockcam csv2xml --help);\nthe other commands are a client of "
	    "a running server (see stockcam jobs --help).\n\n");
	for (i = 0; i < O_COUNT; i++) {
		snprintf(left, sizeof left, "--%s %s", opts[i].name,
		    opts[i].arg);
		if (strlen(left) > 28)
			fprintf(f, "  %s\n  %-28s %s\n", left, "", opts[i].help);
		else
			fprintf(f, "  %-28s %s\n", left, opts[i].help);
		fprintf(f, "  %-28s   env %s\n", "", opts[i].env);
	}
	fprintf(f, "  %-28s %s\n  %-28s %s\n", "-h, --help",
	    "show this help and exit", "-V, --version",
	    "show the version and exit");
}

int
options_parse_listen(const char *s, char **host, char *port, size_t portlen)
{
	const char	*colon, *p;
	char		*end;
	unsigned long	 n;

	*host = NULL;
	if (s[0] == '[') {
		if ((p = strchr(s, ']')) == NULL || p[1] != ':')
			return -1;
		*host = xstrndup(s + 1, (size_t)(p - s - 1));
		colon = p + 1;
	} else if ((colon = strrchr(s, ':')) != NULL) {
		if (strchr(s, ':') != colon)
			return -1;	/* bare IPv6 needs brackets */
		*host = colon == s ? xstrdup("0.0.0.0") :
		    xstrndup(s, (size_t)(colon - s));
	} else {
		*host = xstrdup("127.0.0.1");
		colon = s - 1;
	}
	p = colon + 1;
	errno = 0;
	n = strtoul(p, &end, 10);
	if (*p == '\0' || *end != '\0' || errno != 0 || n > 65535 ||
	    **host == '\0' || strchr(p, '-') != NULL) {
		free(*host);
		*host = NULL;
		return -1;
	}
	snprintf(port, portlen, "%lu", n);
	return 0;
}

/* --auth-open: "health", "metrics", both; 0 or -1. */
static int
options_auth_open(struct options *opt, const char *value)
{
	const char	*p, *e;
	size_t		 n;

	opt->open_health = opt->open_metrics = 0;
	for (p = value;; p = e + 1) {
		e = p + strcspn(p, ",");
		n = (size_t)(e - p);
		if (n == 6 && strncmp(p, "health", 6) == 0)
			opt->open_health = 1;
		else if (n == 7 && strncmp(p, "metrics", 7) == 0)
			opt->open_metrics = 1;
		else
			return -1;
		if (*e == '\0')
			return 0;
	}
}

/* Sets one option from text; -1 with a message on stderr. */
static int
options_set(struct options *opt, int which, const char *value,
    const char *source)
{
	const struct optdef	*o = &opts[which];
	unsigned long		 n = 0;
	double			 d;
	char			*end;

	switch (o->kind) {
	case OPT_UINT:
		errno = 0;
		n = strtoul(value, &end, 10);
		if (*value == '\0' || *end != '\0' || errno != 0 ||
		    strchr(value, '-') != NULL || n < o->min || n > o->max) {
			fprintf(stderr, "stockcam: %s: '%s' is not a whole "
			    "number from %lu to %lu\n", source, value, o->min,
			    o->max);
			return -1;
		}
		break;
	case OPT_SECONDS:
		errno = 0;
		d = strtod(value, &end);
		if (*value == '\0' || *end != '\0' || errno != 0 ||
		    !isfinite(d) || d * 1000 < o->min || d * 1000 > o->max) {
			fprintf(stderr, "stockcam: %s: '%s' is not a number "
			    "of seconds from %.2f to %.0f\n", source, value,
			    o->min / 1000.0, o->max / 1000.0);
			return -1;
		}
		n = (unsigned long)(d * 1000 + 0.5);
		break;
	case OPT_LISTEN: {
		char	*host;

		if (options_parse_listen(value, &host, opt->listen_port,
		    sizeof opt->listen_port) != 0) {
			fprintf(stderr, "stockcam: %s: '%s' is not HOST:PORT\n",
			    source, value);
			return -1;
		}
		free(opt->listen_host);
		opt->listen_host = host;
		return 0;
	}
	case OPT_LEVEL:
		if (log_parse_level(value, &opt->log_level) != 0) {
			fprintf(stderr, "stockcam: %s: unknown log level '%s' "
			    "(error, warn, info, debug)\n", source, value);
			return -1;
		}
		return 0;
	case OPT_STRING:
		if (*value == '\0') {
			fprintf(stderr, "stockcam: %s: empty value\n", source);
			return -1;
		}
		if (which == O_SOURCE) {
			free(opt->source_url);
			opt->source_url = xstrdup(value);
		} else if (which == O_CAMERA) {
			free(opt->camera);
			opt->camera = xstrdup(value);
		} else if (which == O_AUTH) {
			free(opt->auth_file);
			opt->auth_file = xstrdup(value);
		} else if (which == O_AUTHOPEN) {
			if (options_auth_open(opt, value) != 0) {
				fprintf(stderr, "stockcam: %s: '%s' is not a "
				    "list of health and metrics\n", source,
				    value);
				return -1;
			}
		} else if (which == O_ORIGIN) {
			free(opt->allow_origin);
			opt->allow_origin = xstrdup(value);
		} else if (which == O_TLSCERT) {
			free(opt->tls_cert);
			opt->tls_cert = xstrdup(value);
		} else if (which == O_TLSKEY) {
			free(opt->tls_key);
			opt->tls_key = xstrdup(value);
		} else if (which == O_STORE) {
			free(opt->store);
			opt->store = xstrdup(value);
		} else if (which == O_SYNC) {
			if (strcmp(value, "normal") == 0)
				opt->sync = STORE_SYNC_NORMAL;
			else if (strcmp(value, "full") == 0)
				opt->sync = STORE_SYNC_FULL;
			else {
				fprintf(stderr, "stockcam: %s: '%s' is not "
				    "normal or full\n", source, value);
				return -1;
			}
		} else {
			free(opt->data_dir);
			opt->data_dir = xstrdup(value);
		}
		return 0;
	}

	switch (which) {
	case O_FETCH:	opt->fetch_workers = (unsigned)n; break;
	case O_CONVERT:	opt->convert_workers = (unsigned)n; break;
	case O_CPU:	opt->cpu_workers = (unsigned)n; break;
	case O_QUEUE:	opt->queue_depth = (unsigned)n; break;
	case O_MAXCONN:	opt->http.max_connections = (unsigned)n; break;
	case O_MAXCONNCLIENT:
		opt->http.max_conns_per_client = (unsigned)n;
		break;
	case O_MAXHDR:	opt->http.max_header_size = n; break;
	case O_MAXBODY:	opt->http.max_body_size = n; break;
	case O_REQTMO:	opt->http.request_timeout_ms = (unsigned)n; break;
	case O_KATMO:	opt->http.keepalive_timeout_ms = (unsigned)n; break;
	case O_WRTMO:	opt->http.write_timeout_ms = (unsigned)n; break;
	case O_MAXSYM:	opt->max_symbols = (unsigned)n; break;
	case O_MAXPEND:	opt->max_pending_symbols = (unsigned)n; break;
	case O_BATCH:	opt->batch_size = (unsigned)n; break;
	case O_GZIP:	opt->gzip_level = (unsigned)n; break;
	case O_TTL:	opt->job_ttl_s = (unsigned)n; break;
	case O_MAXJOBS:	opt->max_jobs = (unsigned)n; break;
	case O_FETCHTMO: opt->fetch_timeout_ms = (unsigned)n; break;
	case O_MAXDL:	opt->max_download = (unsigned)n; break;
	case O_MINFREE:	opt->min_free_space = n; break;
	case O_ATTEMPTS: opt->fetch_attempts = (unsigned)n; break;
	case O_PERHOST:	opt->per_host = (unsigned)n; break;
	case O_QUALITY:	opt->jpeg_quality = (unsigned)n; break;
	case O_VIEWERS:	opt->max_viewers = (unsigned)n; break;
	}
	return 0;
}

static void
options_defaults(struct options *opt)
{
	long	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned cores = ncpu > 0 && ncpu <= 256 ? (unsigned)ncpu : 1;

	memset(opt, 0, sizeof *opt);
	opt->listen_host = xstrdup("127.0.0.1");
	snprintf(opt->listen_port, sizeof opt->listen_port, "8080");
	opt->data_dir = xstrdup("./stockcam-data");
	opt->fetch_workers = 8;
	opt->convert_workers = cores;
	opt->cpu_workers = cores;
	opt->queue_depth = 1024;
	opt->http.max_connections = 1024;
	opt->http.max_conns_per_client = 64;
	opt->http.max_header_size = 8192;
	opt->http.max_body_size = 1 << 20;
	opt->http.request_timeout_ms = 10000;
	opt->http.keepalive_timeout_ms = 30000;
	opt->http.write_timeout_ms = 30000;
	opt->log_level = LOG_LEVEL_INFO;
	opt->max_symbols = 1000;
	opt->max_pending_symbols = 10000;
	opt->batch_size = 100;
	opt->gzip_level = ARCHIVER_GZIP_DEFAULT;
	opt->job_ttl_s = 3600;
	opt->max_jobs = 1000;
	opt->fetch_timeout_ms = 30000;
	opt->max_download = 64 << 20;
	opt->min_free_space = 64 << 20;
	opt->fetch_attempts = 4;
	opt->per_host = 6;
	opt->camera = xstrdup("testpattern");
	opt->jpeg_quality = 40;
	opt->max_viewers = 100;
}

enum options_result
options_load(struct options *opt, int argc, char **argv)
{
	struct option	 longopts[O_COUNT + 3];
	const char	*v;
	char		 source[64];
	int		 i, c;

	options_defaults(opt);
	for (i = 0; i < O_COUNT; i++) {
		if ((v = getenv(opts[i].env)) == NULL)
			continue;
		if (options_set(opt, i, v, opts[i].env) != 0)
			return OPTIONS_ERROR;
	}

	memset(longopts, 0, sizeof longopts);
	for (i = 0; i < O_COUNT; i++) {
		longopts[i].name = opts[i].name;
		longopts[i].has_arg = required_argument;
		longopts[i].val = 256 + i;
	}
	longopts[O_COUNT] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[O_COUNT + 1] =
	    (struct option){ "version", no_argument, NULL, 'V' };

	optind = 1;
	while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return OPTIONS_EXIT;
		case 'V':
			printf("stockcam %s\nfeatures:%s\n", PACKAGE_VERSION,
			    OPTIONS_FEATURES);
			return OPTIONS_EXIT;
		default:
			if (c < 256 || c >= 256 + O_COUNT) {
				usage(stderr);
				return OPTIONS_ERROR;
			}
			snprintf(source, sizeof source, "--%s",
			    opts[c - 256].name);
			if (options_set(opt, c - 256, optarg, source) != 0)
				return OPTIONS_ERROR;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "stockcam: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		return OPTIONS_ERROR;
	}
#ifndef HAVE_TLS
	if (opt->tls_cert != NULL || opt->tls_key != NULL) {
		fprintf(stderr, "stockcam: --tls-cert: this stockcam was "
		    "built without TLS (configure --without-tls)\n");
		return OPTIONS_ERROR;
	}
#endif
	if ((opt->tls_cert == NULL) != (opt->tls_key == NULL)) {
		fprintf(stderr, "stockcam: --tls-cert and --tls-key go "
		    "together: give both, or neither for plain HTTP\n");
		return OPTIONS_ERROR;
	}
	if (opt->store == NULL)
		xasprintf(&opt->store, "sqlite:%s/stockcam.db", opt->data_dir);
	return OPTIONS_OK;
}

void
options_free(struct options *opt)
{
	free(opt->listen_host);
	free(opt->data_dir);
	free(opt->source_url);
	free(opt->camera);
	free(opt->store);
	free(opt->auth_file);
	free(opt->allow_origin);
	free(opt->tls_cert);
	free(opt->tls_key);
}

void
options_access_config(const struct options *opt, struct access_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->auth_file = opt->auth_file;
	cfg->open_health = opt->open_health;
	cfg->open_metrics = opt->open_metrics;
	cfg->allow_origin = opt->allow_origin;
}

void
options_store_config(const struct options *opt, struct store_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->spec = opt->store;
	cfg->sync = opt->sync;
}

void
options_jobs_config(const struct options *opt, struct jobs_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->max_pending = opt->max_pending_symbols;
	cfg->max_jobs = opt->max_jobs;
	cfg->job_ttl_s = opt->job_ttl_s;
}

void
options_stockjob_config(const struct options *opt,
    struct stockjob_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->data_dir = opt->data_dir;
	cfg->batch_size = opt->batch_size;
	cfg->gzip_level = (int)opt->gzip_level;
	cfg->archive_threads = opt->convert_workers;	/* gzip: per core */
	cfg->fetch_slots = opt->per_host < opt->fetch_workers ?
	    opt->per_host : opt->fetch_workers;
	cfg->fetch_timeout_ms = opt->fetch_timeout_ms;
	cfg->max_download = opt->max_download;
	cfg->fetch_attempts = opt->fetch_attempts;
	cfg->min_free_space = opt->min_free_space;
}

void
options_camera_config(const struct options *opt, struct camera_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->source = opt->camera;
	cfg->quality = (int)opt->jpeg_quality;
}
