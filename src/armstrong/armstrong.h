/* armstrong.h - Armstrong (narcissistic) numbers: n with k digits equal
 * to the sum of the k-th powers of its digits. */
#ifndef SC_ARMSTRONG_H
#define SC_ARMSTRONG_H

#include <stdatomic.h>
#include <stdint.h>

typedef void	armstrong_found_fn(uint64_t, void *arg);

enum armstrong_method {
	ARMSTRONG_SCAN,		/* every number, digit arithmetic kept */
	ARMSTRONG_MULTISET,	/* each digit multiset once */
};

/* One piece of a search, for one worker. */
struct armstrong_chunk {
	enum armstrong_method	method;
	uint64_t		lo, hi;		/* [lo, hi) */
	unsigned		digits;		/* MULTISET: length k */
	unsigned		nines;		/* MULTISET: count of digit 9 */
	uint64_t		covers;		/* numbers of the range it settles */
};

/*
 * Scans [lo, hi), calling found for each Armstrong number in order.
 * Stops early when *cancel becomes non-zero. Returns numbers examined.
 */
uint64_t	armstrong_scan(uint64_t lo, uint64_t hi, const atomic_int *cancel,
		    armstrong_found_fn *, void *arg);
/*
 * Every Armstrong number of exactly `digits` digits within [lo, hi) whose
 * digit 9 appears `nines` times, found by enumerating digit multisets.
 */
void		armstrong_multiset(unsigned digits, unsigned nines, uint64_t lo,
		    uint64_t hi, const atomic_int *cancel,
		    armstrong_found_fn *, void *arg);
/*
 * Splits [lo, hi) into chunks, choosing the method by its estimated
 * cost. Returns the chunk count (*out is malloc'd).
 */
size_t		armstrong_plan(uint64_t lo, uint64_t hi, unsigned workers,
		    struct armstrong_chunk **out);
/* Runs one chunk. */
void		armstrong_run(const struct armstrong_chunk *,
		    const atomic_int *cancel, armstrong_found_fn *, void *arg);

#endif
