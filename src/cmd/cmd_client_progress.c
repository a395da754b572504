/*
 * cmd_client_progress.c - a job's progress as one line:
 *
 *   job 42 running [##########----------]  50%  500/1000  failed 2  120/s  ETA 4s
 *
 * Stock jobs count symbols finished (succeeded, failed or canceled) of
 * the total; Armstrong searches count numbers examined. The rate is the
 * mean since the job was first seen, and the ETA what is left at that
 * rate; for stock jobs both count converted symbols still waiting for
 * their archive's batch, which would otherwise make them jump by
 * batches.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cmd/cmd_client_int.h"

#define RATE_MIN_S	0.5	/* seen for less: no rate yet */

static double
num(const json_t *o, const char *key)
{
	return (double)json_integer_value(json_object_get(o, key));
}

/* 1234567 -> "1.2M" */
static void
si(double v, char *buf, size_t len)
{
	static const char	units[] = " kMGTPE";
	int			i = 0;

	while (v >= 1000 && units[i + 1] != '\0') {
		v /= 1000;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.1f%c", v, units[i]);
}

static void
duration(double s, char *buf, size_t len)
{
	long	t = s < 1e9 ? (long)ceil(s) : 999999999;

	if (t < 60)
		snprintf(buf, len, "%lds", t);
	else if (t < 3600)
		snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
	else
		snprintf(buf, len, "%ldh%02ldm", t / 3600, t / 60 % 60);
}

void
cmd_client_progress(const json_t *job, struct client_rate *r, double now,
    int width, char *buf, size_t len)
{
	const json_t	*p = json_object_get(job, "progress");
	const char	*type = cmd_client_str(job, "type", "?");
	const char	*state = cmd_client_str(job, "state", "?");
	double		 total, done, moved, failed = 0, rate = 0;
	char		 bar[128], counts[96], rs[64] = "", eta[64] = "", a[48],
			 b[48];
	int		 i, fill, stock;

	stock = type != NULL && strcmp(type, "stock") == 0;
	total = num(p, "total");
	if (stock) {
		failed = num(p, "failed");
		done = num(p, "succeeded") + failed + num(p, "canceled");
		moved = done + num(p, "archiving");
	} else
		moved = done = num(p, "examined");
	if (r->t0 == 0 || moved < r->done0) {
		r->t0 = now;
		r->done0 = moved;
	}
	r->t = now;
	r->done = moved;
	if (now - r->t0 >= RATE_MIN_S && moved > r->done0)
		rate = (moved - r->done0) / (now - r->t0);
	if (width > (int)sizeof bar - 3)
		width = (int)sizeof bar - 3;
	fill = total > 0 ? (int)(width * (done / total)) : 0;
	bar[0] = '[';
	for (i = 0; i < width; i++)
		bar[i + 1] = i < fill ? '#' : '-';
	bar[width + 1] = ']';
	bar[width + 2] = '\0';
	if (stock) {
		snprintf(counts, sizeof counts, "%.0f/%.0f", done, total);
		if (failed > 0)
			snprintf(counts + strlen(counts), sizeof counts -
			    strlen(counts), "  failed %.0f", failed);
	} else {
		si(done, a, sizeof a);
		si(total, b, sizeof b);
		snprintf(counts, sizeof counts, "%s/%s", a, b);
	}
	if (rate > 0) {
		si(rate, a, sizeof a);
		snprintf(rs, sizeof rs, "  %s/s", a);
		if (total > moved) {
			duration((total - moved) / rate, b, sizeof b);
			snprintf(eta, sizeof eta, "  ETA %s", b);
		}
	}
	snprintf(buf, len, "job %lld %s %s %3.0f%%  %s%s%s",
	    (long long)json_integer_value(json_object_get(job, "id")),
	    state != NULL ? state : "?", bar,
	    total > 0 ? floor(100 * done / total) : 0.0, counts, rs, eta);
}
