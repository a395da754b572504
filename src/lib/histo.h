/*
 * histo.h - a histogram of fixed buckets, as Prometheus exposes one.
 *
 * Counts are kept per bucket (not cumulative) so an observation touches
 * one counter; the writer sums them. Not locked: the owner of the figures
 * it belongs to guards it as it guards the rest (the loop thread, or the
 * lock a worker already holds to update its counters).
 */
#ifndef SC_HISTO_H
#define SC_HISTO_H

#include <stdint.h>

#define HISTO_MAX_BUCKETS	16

struct histo {
	const double	*le;		/* upper bounds, ascending */
	unsigned	 n;		/* how many (<= HISTO_MAX_BUCKETS) */
	uint64_t	 count[HISTO_MAX_BUCKETS + 1];	/* [n]: above all */
	uint64_t	 total;
	double		 sum;
};

/* Bucket sets, in seconds, of the server's histograms. */
/* HTTP requests: a millisecond to a long-poll's minute. */
extern const double	histo_request_s[];
#define HISTO_REQUEST_N	15
/* A step of work: a symbol's download, a commit, a pool's queue wait. */
extern const double	histo_step_s[];
#define HISTO_STEP_N	14
/* A frame's encoding: under a millisecond to a tenth of a second. */
extern const double	histo_frame_s[];
#define HISTO_FRAME_N	10
/* A whole job: a tenth of a second to hours. */
extern const double	histo_job_s[];
#define HISTO_JOB_N	13

void	histo_init(struct histo *, const double *le, unsigned n);

static inline void
histo_observe(struct histo *h, double v)
{
	unsigned	i = 0;

	/* At most 16 compares: cheaper than a search at these sizes. */
	while (i < h->n && v > h->le[i])
		i++;
	h->count[i]++;
	h->total++;
	h->sum += v;
}

#endif
