/*
 * jobs_int.h - the job records, shared by the modules that run jobs
 * (jobs.c: the table, stock jobs; jobs_search.c: Armstrong searches).
 * Loop thread only, like everything they hold.
 */
#ifndef SC_JOBS_INT_H
#define SC_JOBS_INT_H

#include <sys/queue.h>
#include <sys/time.h>
#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

#include "armstrong/armstrong.h"
#include "jobs/jobs.h"
#include "stock/archiver.h"
#include "stock/csv2xml.h"
#include "stock/fetch.h"

#define JOBS_BUCKETS	1024

enum sym_state {
	SYM_QUEUED, SYM_FETCHING, SYM_CONVERTING, SYM_ARCHIVING,
	SYM_SUCCEEDED, SYM_FAILED, SYM_CANCELED, SYM_NSTATES
};

enum job_kind { KIND_STOCK, KIND_ARMSTRONG };

/* An Armstrong search: chunks run on the cpu pool, results gathered. */
struct search {
	uint64_t		 from, to;
	struct armstrong_chunk	*chunks;
	size_t			 nchunks;
	size_t			 next;		/* first chunk not started */
	unsigned		 running;
	uint64_t		 examined;	/* numbers settled */
	uint64_t		*found;		/* sorted */
	size_t			 nfound;
	atomic_int		 cancel;	/* read by the chunks */
};

struct chunk_task {
	struct job		*job;
	const struct armstrong_chunk *chunk;
	uint64_t		*found;
	size_t			 nfound, cap;
};

struct symbol {
	struct job		*job;
	char			 name[33];
	enum sym_state		 state;
	unsigned		 attempts;
	int			 http_status;
	uint64_t		 bytes;
	uint64_t		 rows;
	char			*archive;
	char			*entry;
	char			*err_code;
	char			*err_msg;
	struct fetch_task	*fetch;		/* while fetching */
	struct convert_task	*convert;	/* while converting */
	char			*parked;	/* downloaded CSV waiting for */
	TAILQ_ENTRY(symbol)	 backlog;	/* room in the convert pool */
};

struct job_waiter {
	LIST_ENTRY(job_waiter)	 entry;
	struct job		*job;
	job_change_fn		*fn;
	void			*arg;
};

struct job {
	TAILQ_ENTRY(job)	 all;		/* newest first */
	TAILQ_ENTRY(job)	 active;	/* has queued symbols */
	TAILQ_ENTRY(job)	 done;		/* finished, oldest first */
	LIST_ENTRY(job)		 bucket;
	LIST_HEAD(, job_waiter)	 waiters;
	struct jobs		*jobs;
	enum job_kind		 kind;
	struct search		*search;	/* KIND_ARMSTRONG */
	uint64_t		 id;
	uint64_t		 version;
	enum job_state		 state;
	int			 cancel;
	int			 in_active;
	struct timeval		 created, started, finished;
	unsigned		 nsym;
	struct symbol		*syms;
	unsigned		 next;		/* first possibly queued symbol */
	unsigned		 count[SYM_NSTATES];
	char			*idem_key;
	char			*idem_request;
};

struct fetch_task {
	struct symbol		*sym;		/* NULL once abandoned */
	struct jobs		*jobs;
	uint64_t		 pool_id;
	atomic_int		 cancel;
	struct fetch_request	 req;
	struct fetch_result	 res;
	char			*url;
	char			*csv;
};

struct convert_task {
	struct symbol		*sym;
	struct jobs		*jobs;
	uint64_t		 pool_id;
	char			*csv;
	char			*xml;
	int			 rv;
	struct csv2xml_stats	 st;
	char			 err[256];
};

TAILQ_HEAD(job_list, job);

struct jobs {
	struct event_base	*base;
	struct compq		*cq;
	struct pool		*fetch_pool;
	struct pool		*convert_pool;
	struct pool		*cpu_pool;
	unsigned		 cpu_slots;	/* chunks in flight at most */
	unsigned		 cpu_running;
	struct job_list		 searching;	/* searches with chunks left */
	struct archiver		*archiver;
	struct jobs_config	 cfg;
	char			*source;
	char			*csv_dir, *xml_dir, *archive_dir;
	char			 run[24];	/* names this run's work files */

	struct job_list		 all;
	struct job_list		 active;
	struct job_list		 done;
	LIST_HEAD(, job)	 buckets[JOBS_BUCKETS];
	TAILQ_HEAD(, symbol)	 backlog;
	uint64_t		 next_id;
	unsigned		 pending;	/* symbols not finished */
	unsigned		 njobs[JOB_NSTATES];
	unsigned		 fetching, converting, archiving;
	unsigned		 unflushed;
	uint64_t		 succeeded, failed;
	int			 stopping;
	struct event		*expiry;
};

struct job	*job_new(struct jobs *, enum job_kind);
/* After any change: a new version, waiters told, and the end noticed. */
void		 job_update(struct job *);
void		 job_set_state(struct job *, enum job_state);
/* Starts whatever work the pools have room for. */
void		 jobs_dispatch(struct jobs *);
void		 jobs_now(struct jobs *, struct timeval *);
json_t		*jobs_time_json(const struct timeval *);
void		 jobs_search_dispatch(struct jobs *);
json_t		*jobs_search_json(const struct job *, json_t *);

#endif
