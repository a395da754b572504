/*
 * test_armstrong.c - both search methods against the published list of
 * base-10 narcissistic numbers (OEIS A005188, with 0), over many ranges.
 */
#include "config.h"

#include <stdlib.h>
#include <time.h>

#include "armstrong/armstrong.h"
#include "tap.h"

/* A005188, every term below 2^63, and 0 (0^1 = 0). */
static const uint64_t known[] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 153, 370, 371, 407, 1634, 8208, 9474,
	54748, 92727, 93084, 548834, 1741725, 4210818, 9800817, 9926315,
	24678050, 24678051, 88593477, 146511208, 472335975, 534494836,
	912985153, 4679307774ULL, 32164049650ULL, 32164049651ULL,
	40028394225ULL, 42678290603ULL, 44708635679ULL, 49388550606ULL,
	82693916578ULL, 94204591914ULL, 28116440335967ULL,
	4338281769391370ULL, 4338281769391371ULL, 21897142587612075ULL,
	35641594208964132ULL, 35875699062250035ULL, 1517841543307505039ULL,
	3289582984443187032ULL, 4498128791164624869ULL,
	4929273885928088826ULL,
};
#define NKNOWN	(sizeof known / sizeof known[0])
#define MAX63	9223372036854775807ULL

struct found {
	uint64_t	v[128];
	size_t		n;
};

static void
collect(uint64_t x, void *arg)
{
	struct found	*f = arg;

	if (f->n < 128)
		f->v[f->n++] = x;
}

static int
cmp(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The known terms in [lo, hi). */
static size_t
expected(uint64_t lo, uint64_t hi, uint64_t *out)
{
	size_t	i, n = 0;

	for (i = 0; i < NKNOWN; i++) {
		if (known[i] >= lo && known[i] < hi)
			out[n++] = known[i];
	}
	return n;
}

static int
same(struct found *f, uint64_t lo, uint64_t hi)
{
	uint64_t	want[128];
	size_t		n = expected(lo, hi, want), i;

	qsort(f->v, f->n, sizeof f->v[0], cmp);
	if (n != f->n) {
		diag("[%llu, %llu): %zu found, %zu known",
		    (unsigned long long)lo, (unsigned long long)hi, f->n, n);
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (f->v[i] != want[i])
			return 0;
	}
	return 1;
}

/* Through the planner, as a job runs it. */
static int
planned(uint64_t lo, uint64_t hi, int *method)
{
	struct armstrong_chunk	*c;
	struct found		 f = { .n = 0 };
	atomic_int		 cancel = 0;
	size_t			 n, i;
	uint64_t		 covered = 0;

	n = armstrong_plan(lo, hi, 2, &c);
	*method = c[0].method;
	for (i = 0; i < n; i++) {
		armstrong_run(&c[i], &cancel, collect, &f);
		covered += c[i].covers;
	}
	free(c);
	if (covered != hi - lo)
		diag("[%llu, %llu): chunks cover %llu",
		    (unsigned long long)lo, (unsigned long long)hi,
		    (unsigned long long)covered);
	return same(&f, lo, hi) && covered == hi - lo;
}

int
main(void)
{
	static const uint64_t ranges[][2] = {
		{ 0, 1 }, { 0, 10 }, { 1, 10 }, { 9, 10 }, { 10, 153 },
		{ 153, 154 }, { 154, 371 }, { 0, 1000 }, { 100, 1000 },
		{ 999, 1001 }, { 9999, 10000 }, { 1634, 1635 }, { 1635, 8208 },
		{ 0, 100000000 }, { 20000000, 30000000 }, { 24678050, 24678052 },
		{ 99999999, 100000001 }, { 999999999, 1000000000 },
		{ 32164049650ULL, 32164049652ULL },
		{ 1000000000ULL, 100000000000ULL },
		{ 4338281769391370ULL, 4338281769391372ULL },
		{ 1000000000000000000ULL, MAX63 }, { 0, MAX63 },
		{ MAX63 - 1000, MAX63 },
	};
	struct found	 f;
	atomic_int	 cancel = 0;
	size_t		 i;
	int		 method = -1, good, scans = 0, sets = 0;
	clock_t		 t0;

	for (i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
		good = planned(ranges[i][0], ranges[i][1], &method);
		ok(good, "[%llu, %llu) by %s", (unsigned long long)ranges[i][0],
		    (unsigned long long)ranges[i][1],
		    method == ARMSTRONG_SCAN ? "scan" : "multisets");
		scans += method == ARMSTRONG_SCAN;
		sets += method == ARMSTRONG_MULTISET;
	}
	ok(scans > 0 && sets > 0, "both methods chosen (%d scans, %d by "
	    "multisets)", scans, sets);

	/* The scan on its own over ranges the planner gives multisets. */
	f.n = 0;
	armstrong_scan(0, 10000000, &cancel, collect, &f);
	ok(same(&f, 0, 10000000), "scan [0, 10^7) alone");
	f.n = 0;
	armstrong_scan(MAX63 - 100000, MAX63, &cancel, collect, &f);
	ok(same(&f, MAX63 - 100000, MAX63), "scan near 2^63 (no overflow)");
	f.n = 0;
	armstrong_scan(4929273885928088800ULL, 4929273885928088900ULL,
	    &cancel, collect, &f);
	ok(same(&f, 4929273885928088800ULL, 4929273885928088900ULL),
	    "scan around a 19-digit term");

	/* Cancel stops both at once. */
	atomic_store(&cancel, 1);
	t0 = clock();
	ok(armstrong_scan(0, MAX63, &cancel, collect, &f) <= 16384,
	    "scan stops within one check interval when cancelled");
	f.n = 0;
	armstrong_multiset(19, 0, 0, MAX63, &cancel, collect, &f);
	ok((double)(clock() - t0) / CLOCKS_PER_SEC < 0.05,
	    "cancelled searches return at once");
	return tap_done();
}
