/*
 * histo.c - the bucket sets of histo.h.
 */
#include "config.h"

#include <string.h>

#include "lib/histo.h"
#include "lib/log.h"

const double	histo_request_s[HISTO_REQUEST_N] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 10, 30, 60
};
const double	histo_step_s[HISTO_STEP_N] = {
	0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
	0.5, 1, 5, 30
};
const double	histo_frame_s[HISTO_FRAME_N] = {
	0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.033, 0.05, 0.1, 0.25
};
const double	histo_job_s[HISTO_JOB_N] = {
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400
};

void
histo_init(struct histo *h, const double *le, unsigned n)
{
	if (n > HISTO_MAX_BUCKETS)
		fatalx("histo: %u buckets, at most %d", n, HISTO_MAX_BUCKETS);
	memset(h, 0, sizeof *h);
	h->le = le;
	h->n = n;
}
