/* options.h - command-line options and their environment twins. */
#ifndef SC_OPTIONS_H
#define SC_OPTIONS_H

#include "http/http.h"
#include "jobs/store.h"
#include "lib/log.h"

struct options {
	char		*listen_host;
	char		 listen_port[8];
	char		*data_dir;
	unsigned	 fetch_workers;
	unsigned	 convert_workers;
	unsigned	 cpu_workers;
	unsigned	 queue_depth;
	char		*source_url;	/* NULL: the built-in synthetic source */
	unsigned	 max_symbols;
	unsigned	 max_pending_symbols;
	unsigned	 batch_size;
	unsigned	 gzip_level;
	unsigned	 job_ttl_s;
	unsigned	 max_jobs;
	unsigned	 fetch_timeout_ms;
	unsigned	 max_download;
	unsigned long	 min_free_space;	/* bytes; 0: no check */
	unsigned	 fetch_attempts;
	unsigned	 per_host;
	char		*camera;
	unsigned	 jpeg_quality;
	unsigned	 max_viewers;
	char		*store;		/* NULL: sqlite:DATA-DIR/stockcam.db */
	char		*auth_file;	/* NULL: no login */
	int		 open_health, open_metrics;	/* under --auth */
	char		*allow_origin;	/* NULL: no CORS */
	char		*tls_cert;	/* NULL: plain HTTP */
	char		*tls_key;	/* set with tls_cert */
	enum store_sync	 sync;
	struct http_limits http;
	enum log_level	 log_level;
};

enum options_result {
	OPTIONS_OK,		/* run the server */
	OPTIONS_EXIT,		/* --help or --version printed: exit 0 */
	OPTIONS_ERROR,		/* message printed: exit 2 */
};

struct access_config;
struct camera_config;
struct jobs_config;
struct stockjob_config;

enum options_result options_load(struct options *, int argc, char **argv);
void		   options_free(struct options *);
/* "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT"; 0 or -1. */
int		   options_parse_listen(const char *, char **host,
		       char *port, size_t portlen);
/* Each part's configuration, as the options say. */
void		   options_jobs_config(const struct options *,
		       struct jobs_config *);
void		   options_stockjob_config(const struct options *,
		       struct stockjob_config *);
void		   options_camera_config(const struct options *,
		       struct camera_config *);
void		   options_access_config(const struct options *,
		       struct access_config *);
void		   options_store_config(const struct options *,
		       struct store_config *);

#endif
