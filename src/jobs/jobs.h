/* jobs.h - stock jobs: records, the pipeline, and their futures. */
#ifndef SC_JOBS_H
#define SC_JOBS_H

#include <stdint.h>

#include <jansson.h>

struct archiver;
struct compq;
struct event_base;
struct job;
struct jobs;
struct pool;

enum job_state {
	JOB_QUEUED, JOB_RUNNING, JOB_SUCCEEDED, JOB_FAILED, JOB_CANCELED,
	JOB_NSTATES
};

struct jobs_config {
	const char	*data_dir;
	unsigned	 max_symbols;		/* per job */
	unsigned	 max_pending_symbols;	/* unfinished, server-wide */
	unsigned	 max_jobs;		/* finished jobs kept */
	unsigned	 job_ttl_s;		/* ... and for how long */
	unsigned	 batch_size;		/* files per archive */
	int		 gzip_level;
	unsigned	 archive_threads;	/* packing archives at once */
	unsigned	 fetch_slots;		/* downloads at once (per host) */
	unsigned	 fetch_timeout_ms;
	uint64_t	 max_download;
	unsigned	 fetch_attempts;
	unsigned	 cpu_workers;		/* threads of the cpu pool */
};

struct jobs_stats {
	unsigned	jobs_by_state[JOB_NSTATES];
	unsigned	symbols_pending;	/* not yet finished */
	unsigned	fetching, converting, archiving;
	uint64_t	symbols_succeeded, symbols_failed;
};

/* NULL with *err (a static message) if the data directory is unusable. */
struct jobs	*jobs_new(struct event_base *, struct compq *,
		    struct pool *fetch, struct pool *convert, struct pool *cpu,
		    const struct jobs_config *, const char **err);
/* The URL template ("...{symbol}..."); set before the first job. */
void		 jobs_set_source(struct jobs *, const char *);
/* Symbols: 1 to 32 of [A-Za-z0-9._^=-], the first a letter, digit or ^. */
int		 jobs_symbol_ok(const char *);
/*
 * Creates a job for n symbols (already validated and distinct).
 * -EAGAIN when the server holds its limit of unfinished symbols.
 */
int		 jobs_submit(struct jobs *, const char *const *symbols,
		    unsigned n, struct job **);
/* A search for Armstrong numbers in [from, to) on the cpu pool. */
int		 jobs_submit_armstrong(struct jobs *, uint64_t from,
		    uint64_t to, struct job **);
struct job	*jobs_find(struct jobs *, uint64_t id);
/* Cancels: queued symbols never start, downloads abort. */
void		 jobs_cancel(struct jobs *, struct job *);
void		 jobs_get_stats(struct jobs *, struct jobs_stats *);
/* Newest first; state < 0 for any; ids below `before` (0: from the top). */
struct job	*jobs_first(struct jobs *, int state, uint64_t before);
struct job	*jobs_next(struct jobs *, struct job *, int state);
/* Stop starting work, cancel what runs; pools are then shut down. */
void		 jobs_shutdown(struct jobs *);
/* After the pools are joined and drained: packs what is left, frees. */
void		 jobs_free(struct jobs *);
const char	*jobs_archive_dir(const struct jobs *);

uint64_t	 job_id(const struct job *);
uint64_t	 job_version(const struct job *);
int		 job_finished(const struct job *);
const char	*job_state_name(int);
int		 job_state_parse(const char *);
/* The future as JSON; with or without the per-symbol list. */
json_t		*job_json(const struct job *, int with_symbols);
/* Idempotency: the key and the canonical request it was created by. */
void		 job_set_idempotency(struct job *, const char *key,
		    const char *request);
struct job	*jobs_find_idempotent(struct jobs *, const char *key,
		    const char **request);

/*
 * Where a symbol's XML is: 0 with *path (on disk, not archived yet) or
 * with *archive and *entry (inside an archive); -1 if it has none.
 */
int		 job_symbol_xml(const struct job *, const char *symbol,
		    const char **path, const char **archive,
		    const char **entry);

/* One-shot: fn runs at the job's next change (or finish). */
struct job_waiter;
typedef void	job_change_fn(struct job *, void *arg);
struct job_waiter *job_wait(struct job *, job_change_fn *, void *arg);
void		 job_unwait(struct job_waiter *);

#endif
