/*
 * stockjob.h - stock jobs: for each symbol, download its price history,
 * convert it to XML and pack it into an archive.
 */
#ifndef SC_STOCKJOB_H
#define SC_STOCKJOB_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "jobs/jobs.h"
#include "lib/histo.h"
#include "stock/archiver.h"
#include "stock/fetch.h"

struct compq;
struct job;
struct jobs;
struct pool;
struct stockjob;

struct stockjob_config {
	const char	*data_dir;
	unsigned	 batch_size;		/* files per archive */
	int		 gzip_level;
	unsigned	 archive_threads;	/* packing archives at once */
	unsigned	 fetch_slots;		/* downloads at once (per host) */
	unsigned	 fetch_timeout_ms;
	uint64_t	 max_download;
	unsigned	 fetch_attempts;
	uint64_t	 min_free_space;	/* bytes; downloads keep half */
};

/* A symbol's steps, each timed from its start to the next step. */
enum stockjob_stage {
	STOCKJOB_FETCH, STOCKJOB_CONVERT, STOCKJOB_ARCHIVE, STOCKJOB_NSTAGES
};
/* "fetch", "convert", "archive". */
extern const char *const stockjob_stage_names[STOCKJOB_NSTAGES];

struct stockjob_stats {
	unsigned	fetching, converting, archiving;
	uint64_t	symbols_succeeded, symbols_failed;
	struct archiver_stats archiver;
	int		paused;		/* downloads wait for room */
	uint64_t	fetch_retries[FETCH_RETRY_NREASONS];
	struct histo	stage[STOCKJOB_NSTAGES];	/* seconds */
};

/*
 * The pipeline, its work folders and archiver. NULL with the reason in
 * err if the data directory is unusable.
 */
struct stockjob	*stockjob_new(struct jobs *, struct compq *,
		    struct pool *fetch, struct pool *convert,
		    const struct stockjob_config *, char *err, size_t errlen);
/* The URL template ("...{symbol}..."); set before the first job. */
void		 stockjob_set_source(struct stockjob *, const char *);
/*
 * The only key an https source is trusted by ("sha256//BASE64", libcurl's
 * pin), NULL for the usual CA and name checks. Downloads started later
 * use it.
 */
void		 stockjob_set_source_key(struct stockjob *, const char *);
/*
 * A job for n symbols (already validated and distinct): -EAGAIN at once
 * when the server holds its limit of unfinished symbols; else 0, and fn
 * runs once the job is stored (see job_create).
 */
int		 stockjob_submit(struct stockjob *, const char *const *symbols,
		    unsigned n, const char *idem_key, const char *idem_request,
		    job_created_fn *fn, void *arg);
/*
 * Start-up, after jobs_load and before jobs_resume: symbols found in
 * archives the store did not hear of are settled, converted files an
 * earlier run left are archived for their symbols (or as they are),
 * downloads it left are removed.
 */
void		 stockjob_recover(struct stockjob *);
void		 stockjob_get_stats(const struct stockjob *,
		    struct stockjob_stats *);
const char	*stockjob_archive_dir(const struct stockjob *);
/*
 * Where a symbol's XML is: 0 with *path (allocated: on disk, not
 * archived yet) or with *archive and *entry (inside an archive, valid
 * while the job is); -1 if it has none (or the job is of another kind).
 */
int		 stockjob_symbol_xml(const struct job *, const char *symbol,
		    char **path, const char **archive, const char **entry);
/* fn hears of every archive written from now on (archiver.h). */
void		 stockjob_watch_archives(struct stockjob *,
		    archiver_packed_fn *fn, void *arg);

/* The number of symbols of a stock job; 0 for a job of another kind. */
unsigned	 stockjob_symbol_count(const struct job *);

/* Which of a stock job's symbols stockjob_symbols_json lists. */
struct stockjob_query {
	size_t		 offset, limit;
	int		 state;		/* a symbol state's name, or -1 */
	const char	*q;		/* in the symbol, any case; or NULL */
	int		 failed_first;
};
/*
 * A page of the job's symbols, each with its "index":
 * {"total": matching, "symbols": [...]}; NULL for a job of another kind.
 * -1 from stockjob_symbol_state for a name that is no symbol state.
 */
json_t		*stockjob_symbols_json(const struct job *,
		    const struct stockjob_query *);
int		 stockjob_symbol_state(const char *name);

/*
 * After the pools are joined: parked conversions are dropped, and what
 * was converted is packed before this returns. Before jobs_free.
 */
void		 stockjob_finish(struct stockjob *);
/* After jobs_free. */
void		 stockjob_free(struct stockjob *);

#endif
