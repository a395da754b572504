/*
 * armstrong.c - searching for Armstrong numbers.
 *
 * Two methods, chosen by cost:
 *
 * - A scan keeps the number's digits and the sum of their k-th powers,
 *   and steps by one: the last digit changes, the sum changes by one
 *   table difference, and a carry touches a few more digits now and
 *   then. No division per number; a couple of nanoseconds each.
 *
 * - For large ranges, no number is visited. A k-digit Armstrong number
 *   is fixed by its multiset of digits: the power sum depends only on
 *   how many of each digit there are. So every multiset (choose counts
 *   c9..c0 adding up to k; C(k+9, 9) of them, 20 million for k = 1..19)
 *   has its sum computed once, and the sum is kept if it has k digits
 *   and exactly those digit counts. Sums are 128-bit: 19 * 9^19 does
 *   not fit in 64 bits.
 *
 * Both check *cancel every few thousand steps so a cancelled job stops
 * at once.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "armstrong/armstrong.h"
#include "lib/xmalloc.h"

#define MAX_DIGITS	20	/* 2^64 - 1 has 20 */
#define CANCEL_EVERY	16384
#define SCAN_NS		2	/* rough cost of one scanned number */
#define MULTISET_NS	40	/* ... and of one multiset */

typedef unsigned __int128 u128;

/* pow_table[k][d] = d^k */
static u128
ipow(unsigned d, unsigned k)
{
	u128	r = 1;

	while (k-- > 0)
		r *= d;
	return r;
}

static unsigned
digit_count(uint64_t n)
{
	unsigned	k = 1;

	while (n >= 10) {
		n /= 10;
		k++;
	}
	return k;
}

static uint64_t
pow10u(unsigned k)
{
	uint64_t	r = 1;

	while (k-- > 0)
		r *= 10;
	return r;
}

uint64_t
armstrong_scan(uint64_t lo, uint64_t hi, const atomic_int *cancel,
    armstrong_found_fn *found, void *arg)
{
	u128		pw[10], sum;
	unsigned	dig[MAX_DIGITS], k, i;
	uint64_t	x = lo, next_len, stop, examined = 0;

	while (x < hi) {
		/* Set up for the run of numbers of this length. */
		k = digit_count(x);
		for (i = 0; i < 10; i++)
			pw[i] = ipow(i, k);
		sum = 0;
		for (i = 0, stop = x; i < k; i++, stop /= 10) {
			dig[i] = (unsigned)(stop % 10);
			sum += pw[dig[i]];
		}
		next_len = k >= 20 ? UINT64_MAX : pow10u(k);
		stop = hi < next_len ? hi : next_len;
		while (x < stop) {
			if (sum == x)
				found(x, arg);
			examined++;
			if ((examined & (CANCEL_EVERY - 1)) == 0 &&
			    atomic_load_explicit(cancel, memory_order_relaxed))
				return examined;
			x++;
			/* The next number: one digit up, carries rarely. */
			for (i = 0; i < k; i++) {
				if (dig[i] < 9) {
					sum += pw[dig[i] + 1] - pw[dig[i]];
					dig[i]++;
					break;
				}
				sum -= pw[9];	/* 9 -> 0, carry on */
				dig[i] = 0;
			}
			if (x == 0)
				return examined;	/* wrapped at 2^64 */
		}
	}
	return examined;
}

struct ms {
	unsigned		 k;
	u128			 pw[10];
	unsigned		 count[10];
	uint64_t		 lo, hi, low_k, high_k;
	const atomic_int	*cancel;
	armstrong_found_fn	*found;
	void			*arg;
	uint64_t		 steps;
	int			 stopped;
};

/* Does s have exactly the chosen digit counts (and k digits)? */
static void
ms_check(struct ms *m, u128 s)
{
	unsigned	seen[10] = { 0 }, n = 0, i;
	uint64_t	v;

	if (s < m->low_k || s > m->high_k)
		return;
	v = (uint64_t)s;
	do {
		seen[v % 10]++;
		v /= 10;
		n++;
	} while (v != 0);
	if (n != m->k)
		return;
	for (i = 0; i < 10; i++) {
		if (seen[i] != m->count[i])
			return;
	}
	if ((uint64_t)s >= m->lo && (uint64_t)s < m->hi)
		m->found((uint64_t)s, m->arg);
}

/* Chooses counts for digits d, d-1, ..., 0 with `left` places to fill. */
static void
ms_walk(struct ms *m, int d, unsigned left, u128 sum)
{
	unsigned	c;

	if (m->stopped)
		return;
	if (d == 0) {
		m->count[0] = left;
		ms_check(m, sum);
		if ((++m->steps & (CANCEL_EVERY - 1)) == 0 &&
		    atomic_load_explicit(m->cancel, memory_order_relaxed))
			m->stopped = 1;
		return;
	}
	for (c = 0; c <= left; c++) {
		m->count[d] = c;
		/* Sums only grow: past the largest k-digit number, stop. */
		if (sum + m->pw[d] * c > m->high_k)
			break;
		ms_walk(m, d - 1, left - c, sum + m->pw[d] * c);
	}
}

void
armstrong_multiset(unsigned digits, unsigned nines, uint64_t lo, uint64_t hi,
    const atomic_int *cancel, armstrong_found_fn *found, void *arg)
{
	struct ms	m;
	unsigned	i;

	if (nines > digits)
		return;
	memset(&m, 0, sizeof m);
	m.k = digits;
	for (i = 0; i < 10; i++)
		m.pw[i] = ipow(i, digits);
	m.lo = lo;
	m.hi = hi;
	m.low_k = digits == 1 ? 0 : pow10u(digits - 1);
	m.high_k = digits >= 20 ? UINT64_MAX : pow10u(digits) - 1;
	m.cancel = cancel;
	m.found = found;
	m.arg = arg;
	m.count[9] = nines;
	if (m.pw[9] * nines > m.high_k)
		return;
	ms_walk(&m, 8, digits - nines, m.pw[9] * nines);
}

/* Multisets of k digits: C(k + 9, 9). */
static double
multisets(unsigned k)
{
	double		r = 1;
	unsigned	i;

	for (i = 1; i <= 9; i++)
		r = r * (k + i) / i;
	return r;
}

size_t
armstrong_plan(uint64_t lo, uint64_t hi, unsigned workers,
    struct armstrong_chunk **out)
{
	struct armstrong_chunk	*c;
	uint64_t		 len = hi - lo, size, at, first, last;
	unsigned		 k, klo, khi, n9;
	double			 scan_cost, ms_cost = 0;
	size_t			 n = 0, cap;

	klo = digit_count(lo);
	khi = digit_count(hi - 1);
	for (k = klo; k <= khi; k++)
		ms_cost += multisets(k) * MULTISET_NS;
	scan_cost = (double)len * SCAN_NS;

	if (scan_cost <= ms_cost) {
		/* A few chunks per worker, so they balance. */
		size = len / ((uint64_t)workers * 8) + 1;
		if (size < 65536)
			size = 65536;
		cap = (size_t)(len / size) + 2;
		c = xcalloc(cap, sizeof *c);
		for (at = lo; at < hi; at += size) {
			c[n].method = ARMSTRONG_SCAN;
			c[n].lo = at;
			c[n].hi = hi - at > size ? at + size : hi;
			c[n].covers = c[n].hi - c[n].lo;
			n++;
			if (hi - at <= size)
				break;
		}
		*out = c;
		return n;
	}

	/* One chunk per (length, count of nines): balanced enough. */
	cap = 0;
	for (k = klo; k <= khi; k++)
		cap += k + 1;
	c = xcalloc(cap, sizeof *c);
	for (k = klo; k <= khi; k++) {
		first = k == 1 ? 0 : pow10u(k - 1);
		last = k >= 20 ? UINT64_MAX : pow10u(k) - 1;
		/* Numbers of this length within the range, for progress. */
		first = first > lo ? first : lo;
		last = last < hi - 1 ? last : hi - 1;
		for (n9 = 0; n9 <= k; n9++) {
			c[n].method = ARMSTRONG_MULTISET;
			c[n].lo = lo;
			c[n].hi = hi;
			c[n].digits = k;
			c[n].nines = n9;
			/* Share the length's numbers out among its chunks. */
			c[n].covers = (last - first + 1) / (k + 1) +
			    (n9 == k ? (last - first + 1) % (k + 1) : 0);
			n++;
		}
	}
	*out = c;
	return n;
}

void
armstrong_run(const struct armstrong_chunk *c, const atomic_int *cancel,
    armstrong_found_fn *found, void *arg)
{
	if (c->method == ARMSTRONG_SCAN)
		armstrong_scan(c->lo, c->hi, cancel, found, arg);
	else
		armstrong_multiset(c->digits, c->nines, c->lo, c->hi, cancel,
		    found, arg);
}
