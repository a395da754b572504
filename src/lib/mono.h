/*
 * mono.h - time on the monotonic clock: now, differences, sums.
 *
 * One place for the arithmetic on struct timespec that several modules
 * need (elapsed times, deadlines), so none of them redoes the carry.
 */
#ifndef SC_MONO_H
#define SC_MONO_H

#include <stdint.h>
#include <time.h>

/* The monotonic clock now. */
static inline struct timespec
mono_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

/* b - a in nanoseconds (negative when b is earlier). */
static inline int64_t
mono_diff_ns(const struct timespec *a, const struct timespec *b)
{
	return (int64_t)(b->tv_sec - a->tv_sec) * 1000000000 +
	    (b->tv_nsec - a->tv_nsec);
}

/* b - a in seconds. */
static inline double
mono_diff_s(const struct timespec *a, const struct timespec *b)
{
	return (double)mono_diff_ns(a, b) / 1e9;
}

/* Nanoseconds from t0 to now. */
static inline int64_t
mono_since_ns(const struct timespec *t0)
{
	struct timespec	now = mono_now();

	return mono_diff_ns(t0, &now);
}

/* Seconds from t0 to now. */
static inline double
mono_since_s(const struct timespec *t0)
{
	return (double)mono_since_ns(t0) / 1e9;
}

/* Adds ns (of any sign) to ts, keeping tv_nsec in [0, 1e9). */
static inline void
mono_add_ns(struct timespec *ts, int64_t ns)
{
	int64_t	n = ts->tv_nsec + ns;
	time_t	s = (time_t)(n / 1000000000);

	n %= 1000000000;
	if (n < 0) {
		n += 1000000000;
		s--;
	}
	ts->tv_sec += s;
	ts->tv_nsec = (long)n;
}

#endif
