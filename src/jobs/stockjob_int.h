/*
 * stockjob_int.h - what the files of stock jobs share: the records of a
 * stock job and its symbols, and the pipeline's steps. Loop thread only.
 */
#ifndef SC_STOCKJOB_INT_H
#define SC_STOCKJOB_INT_H

#include <sys/queue.h>
#include <stdatomic.h>
#include <stdint.h>

#include <event2/event.h>

#include "jobs/stockjob.h"
#include "stock/archiver.h"
#include "stock/csv2xml.h"
#include "stock/fetch.h"
#include "stock/names.h"
#include "stock/workdir.h"

enum sym_state {
	SYM_QUEUED, SYM_FETCHING, SYM_CONVERTING, SYM_ARCHIVING,
	SYM_SUCCEEDED, SYM_FAILED, SYM_CANCELED, SYM_NSTATES
};

struct fetch_task;
struct convert_task;

struct symbol {
	struct stock		*stock;
	char			 name[NAMES_SYMBOL_MAX + 1];
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
	char			*xml;		/* while archiving: its file */
	int			 dirty;		/* finished, row not written */
	int			 noticed;	/* in stock->changed */
	struct timespec		 stage_since;	/* its step began (monotonic) */
};

/* One stock job: the job's record of its kind. */
struct stock {
	struct job		*job;
	struct stockjob		*engine;
	TAILQ_ENTRY(stock)	 active;	/* has queued symbols */
	int			 in_active;
	unsigned		 nsym;
	struct symbol		*syms;
	unsigned		 next;		/* first possibly queued symbol */
	unsigned		 count[SYM_NSTATES];
	unsigned		*changed;	/* symbols changed since the */
	unsigned		 nchanged;	/* last event, by index */
};

struct fetch_task {
	struct symbol		*sym;
	uint64_t		 pool_id;
	atomic_int		 cancel;
	struct fetch_request	 req;
	struct fetch_result	 res;
	char			*url;
	char			*csv;
	char			*key;		/* the pinned key, or NULL */
};

struct convert_task {
	struct symbol		*sym;
	uint64_t		 pool_id;
	char			*csv;
	char			*xml;
	int			 rv;
	int			 csv_gone;	/* the worker removed csv */
	struct csv2xml_stats	 st;
	char			 err[256];
};

struct stockjob {
	struct jobs		*jobs;
	struct compq		*cq;
	struct pool		*fetch_pool;
	struct pool		*convert_pool;
	struct archiver		*archiver;
	struct stockjob_config	 cfg;
	char			*source;
	char			*source_key;	/* pinned, or NULL */
	struct workdir		 wd;
	TAILQ_HEAD(, stock)	 active;
	TAILQ_HEAD(, symbol)	 backlog;
	unsigned		 fetching, converting, archiving;
	unsigned		 unflushed;
	uint64_t		 succeeded, failed;
	uint64_t		 retries[FETCH_RETRY_NREASONS];
	struct histo		 stage[STOCKJOB_NSTAGES];
	/* Downloads wait for room: dispatch again on this timer. */
	int			 paused;
	struct event		*room_timer;
};

/* stockjob_pipe.c: the steps of a symbol, on the loop thread. */

/* Moves a symbol to a new state, keeping every count. */
void	stockjob_symbol_set(struct symbol *, enum sym_state);
/* Moves parked conversions, then downloads, into their pools. */
void	stockjob_dispatch(struct stockjob *);
/* The room timer's callback: dispatch again. */
void	stockjob_room_cb(evutil_socket_t, short, void *arg);
/* Nothing downloading or converting: pack what waits for a batch. */
void	stockjob_maybe_flush(struct stockjob *);
/* A parked symbol will not be converted now: its CSV goes, and it is
 * canceled (or queued again, when the server stops). */
void	stockjob_unpark(struct stockjob *, struct symbol *, enum sym_state);
/* The job has nothing more to start. */
void	stockjob_unqueue(struct stock *);
/* The archiver's report on a file (archiver_done_fn). */
void	stockjob_archived(const struct archiver_result *, void *arg);

#endif
