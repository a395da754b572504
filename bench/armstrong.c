/*
 * bench/armstrong.c - how fast the Armstrong search is, in process.
 *
 * (a) Scan throughput: armstrong_scan over one fixed block of numbers
 *     (COUNT numbers from START, all of the same length so the per-length
 *     setup does not enter) on 1 thread, on 2 and on N threads (each
 *     thread its own equal slice of the same block), ROUNDS rounds with
 *     the order of the thread counts rotating from round to round.
 *     Prints numbers/s per round and the medians, and the scaling ratios
 *     (median numbers/s on T threads / on 1).  Each thread also times its
 *     own CPU (CLOCK_THREAD_CPUTIME_ID), which splits a scaling shortfall
 *     in two: CPU ns per number above the 1-thread figure means each core
 *     delivered less while all were busy (a shared physical core, host
 *     contention or steal on a VM); threads' CPU / (threads x wall) below
 *     1 means a thread waited for a CPU or the slices finished unevenly.
 *
 * (b) Whole searches as the server runs them: armstrong_plan(lo, hi, N)
 *     then the chunks on N threads, each taking the next chunk from a
 *     shared atomic index, the results gathered and sorted.  The wall
 *     time covers all of it (plan, threads, merge).  For [20000000,
 *     30000000) and for [0, 2^63 - 1), ROUNDS rounds alternating, medians.
 *     The results are checked: 2 and 51 numbers (24678050 and 24678051
 *     for the small range), each verified by plain digit arithmetic.
 *
 * After each of (a) and (b) it prints the CPU seconds used by this
 * process and by every other process on the machine (/proc/stat less
 * its own), and warns when the others took more than 5% of the CPUs:
 * the numbers are then not to be trusted.
 *
 * Usage: bench/armstrong [-r ROUNDS] [-t THREADS] [-n COUNT] [-s START]
 *   ROUNDS   timed rounds of each measurement      (default 5)
 *   THREADS  N, the "all cores" count          (default: online CPUs)
 *   COUNT    numbers in the scan block             (default 200000000)
 *   START    first number of the scan block        (default 10^12)
 *
 * The last line is machine-readable, for bench/armstrong.sh:
 *   RESULT key=value ...
 * Exit status: 0 measured, 2 could not run or a search gave wrong
 * results.  There is no verdict here; bench/armstrong.sh gives it.
 */
#include <errno.h>
#include <inttypes.h>
#include <sys/resource.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "armstrong/armstrong.h"

#define MAX_THREADS	1024
#define MAX_ROUNDS	999
#define WHOLE_HI	UINT64_C(9223372036854775807)	/* 2^63 - 1 */
#define SMALL_LO	UINT64_C(20000000)
#define SMALL_HI	UINT64_C(30000000)
#define WHOLE_FOUND	51

static const atomic_int	no_cancel = 0;

static void die(const char *, ...)
    __attribute__((noreturn, format(printf, 1, 2)));

static void
die(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "armstrong: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static double
now_s(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		die("clock_gettime: %s", strerror(errno));
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
median(const double *v, unsigned n)
{
	double	s[MAX_ROUNDS];

	memcpy(s, v, n * sizeof *v);
	qsort(s, n, sizeof *s, cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static uint64_t
parse_u64(const char *s, const char *what)
{
	char			*end;
	unsigned long long	 v;

	errno = 0;
	if (*s < '0' || *s > '9')
		die("bad %s", what);
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		die("bad %s", what);
	return v;
}

/* Is n an Armstrong number?  Plain digit arithmetic, nothing shared. */
static int
is_armstrong(uint64_t n)
{
	unsigned __int128	sum = 0, p;
	unsigned		k = 0, i, d;
	uint64_t		v;

	for (v = n; ; v /= 10) {
		k++;
		if (v < 10)
			break;
	}
	for (v = n; k > 0; ) {
		d = (unsigned)(v % 10);
		for (p = 1, i = 0; i < k; i++)
			p *= d;
		sum += p;
		v /= 10;
		if (v == 0)
			break;
	}
	return sum == n;
}

/*
 * CPU used by everything on the machine (from /proc/stat) and by this
 * process, so that other load during a phase shows: the numbers are not
 * to be trusted when something else was busy.
 */
struct cpu_mark {
	double	wall, machine, self;	/* seconds; machine < 0: unknown */
};

static void
cpu_mark(struct cpu_mark *m)
{
	unsigned long long	v[8] = { 0 };
	struct rusage		ru;
	FILE			*f;
	long			tck = sysconf(_SC_CLK_TCK);

	m->machine = -1;
	if ((f = fopen("/proc/stat", "r")) != NULL) {
		/* user nice system idle iowait irq softirq steal */
		if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
		    &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
		    &v[7]) == 8 && tck > 0)
			m->machine = (double)(v[0] + v[1] + v[2] + v[5] +
			    v[6] + v[7]) / (double)tck;
		fclose(f);
	}
	getrusage(RUSAGE_SELF, &ru);
	m->self = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	m->wall = now_s();
}

/* Prints this process's and the others' CPU since `a`; returns others'
 * share of the machine (0..1), or -1 if unknown. */
static double
cpu_report(const char *phase, const struct cpu_mark *a, unsigned ncpu)
{
	struct cpu_mark	b;
	double		others, share;

	cpu_mark(&b);
	if (a->machine < 0 || b.machine < 0) {
		printf("%s: %.2f s wall, %.2f CPU-s here (machine load "
		    "unknown)\n", phase, b.wall - a->wall, b.self - a->self);
		return -1;
	}
	others = (b.machine - a->machine) - (b.self - a->self);
	if (others < 0)
		others = 0;
	share = others / ((b.wall - a->wall) * ncpu);
	printf("%s: %.2f s wall, %.2f CPU-s here, %.2f CPU-s by other "
	    "processes (%.0f%% of %u CPUs)\n", phase, b.wall - a->wall,
	    b.self - a->self, others, share * 100, ncpu);
	if (share > 0.05)
		printf("warning: other processes were busy during %s; "
		    "its numbers are suspect\n", phase);
	return share;
}

/* --- (a) scan throughput --- */

struct scan_arg {
	pthread_t	tid;
	uint64_t	lo, hi;
	uint64_t	examined;
	uint64_t	found;
	double		wall, cpu;	/* this thread's seconds */
};

/* What one scan_block took. */
struct scan_time {
	double	secs;		/* wall, threads created to all joined */
	double	thread_max;	/* the longest thread's own wall */
	double	cpu;		/* CPU seconds of all the threads */
};

static double
thread_cpu_s(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
count_found(uint64_t x, void *arg)
{
	(void)x;
	((struct scan_arg *)arg)->found++;
}

static void *
scan_main(void *p)
{
	struct scan_arg	*a = p;
	double		 t0 = now_s(), c0 = thread_cpu_s();

	a->examined = armstrong_scan(a->lo, a->hi, &no_cancel, count_found, a);
	a->cpu = thread_cpu_s() - c0;
	a->wall = now_s() - t0;
	return NULL;
}

/* Scans [start, start + count) on `threads` threads, timed. */
static void
scan_block(uint64_t start, uint64_t count, unsigned threads,
    uint64_t *found, struct scan_time *st)
{
	struct scan_arg	a[MAX_THREADS];
	uint64_t	examined = 0;
	unsigned	i;
	double		t0, t1;
	int		e;

	memset(a, 0, threads * sizeof *a);
	for (i = 0; i < threads; i++) {
		a[i].lo = start + count / threads * i;
		a[i].hi = i == threads - 1 ? start + count :
		    start + count / threads * (i + 1);
	}
	t0 = now_s();
	for (i = 0; i < threads; i++) {
		if ((e = pthread_create(&a[i].tid, NULL, scan_main, &a[i])) != 0)
			die("pthread_create: %s", strerror(e));
	}
	for (i = 0; i < threads; i++)
		pthread_join(a[i].tid, NULL);
	t1 = now_s();
	*found = 0;
	st->secs = t1 - t0;
	st->thread_max = st->cpu = 0;
	for (i = 0; i < threads; i++) {
		examined += a[i].examined;
		*found += a[i].found;
		st->cpu += a[i].cpu;
		if (a[i].wall > st->thread_max)
			st->thread_max = a[i].wall;
	}
	if (examined != count) {
		fprintf(stderr, "armstrong: scan examined %" PRIu64 " numbers, "
		    "not %" PRIu64 "\n", examined, count);
		exit(2);
	}
}

/* --- (b) whole searches --- */

struct search {
	struct armstrong_chunk	*chunks;
	size_t			 nchunks;
	atomic_size_t		 next;
};

struct worker {
	pthread_t	 tid;
	struct search	*se;
	uint64_t	*found;
	size_t		 nfound, cap;
};

static void
keep_found(uint64_t x, void *arg)
{
	struct worker	*w = arg;

	if (w->nfound == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		w->found = realloc(w->found, w->cap * sizeof *w->found);
		if (w->found == NULL)
			die("out of memory");
	}
	w->found[w->nfound++] = x;
}

static void *
worker_main(void *p)
{
	struct worker	*w = p;
	size_t		 i;

	while ((i = atomic_fetch_add(&w->se->next, 1)) < w->se->nchunks)
		armstrong_run(&w->se->chunks[i], &no_cancel, keep_found, w);
	return NULL;
}

struct outcome {
	double		 secs;
	const char	*method;
	size_t		 nchunks;
	uint64_t	*found;		/* sorted, malloc'd */
	size_t		 nfound;
};

/* Plans [lo, hi) for `threads` workers and runs it, timed. */
static void
search(uint64_t lo, uint64_t hi, unsigned threads, struct outcome *o)
{
	struct worker	w[MAX_THREADS];
	struct search	se;
	size_t		n = 0;
	unsigned	i;
	double		t0, t1;
	int		e;

	memset(w, 0, threads * sizeof *w);
	t0 = now_s();
	se.nchunks = armstrong_plan(lo, hi, threads, &se.chunks);
	atomic_init(&se.next, 0);
	for (i = 0; i < threads; i++) {
		w[i].se = &se;
		if ((e = pthread_create(&w[i].tid, NULL, worker_main, &w[i])) != 0)
			die("pthread_create: %s", strerror(e));
	}
	for (i = 0; i < threads; i++) {
		pthread_join(w[i].tid, NULL);
		n += w[i].nfound;
	}
	o->found = malloc((n + 1) * sizeof *o->found);
	if (o->found == NULL)
		die("out of memory");
	o->nfound = 0;
	for (i = 0; i < threads; i++) {
		if (w[i].nfound > 0)
			memcpy(o->found + o->nfound, w[i].found,
			    w[i].nfound * sizeof *w[i].found);
		o->nfound += w[i].nfound;
	}
	qsort(o->found, o->nfound, sizeof *o->found, cmp_u64);
	t1 = now_s();
	o->secs = t1 - t0;
	o->nchunks = se.nchunks;
	o->method = se.nchunks == 0 ? "none" :
	    se.chunks[0].method == ARMSTRONG_SCAN ? "scan" : "multisets";
	for (i = 0; i < threads; i++)
		free(w[i].found);
	free(se.chunks);
}

/* Exits 2 unless o holds `want` distinct Armstrong numbers in [lo, hi). */
static void
check(const char *name, const struct outcome *o, uint64_t lo, uint64_t hi,
    size_t want, const uint64_t *exact)
{
	size_t	i;
	int	bad = 0;

	if (o->nfound != want) {
		fprintf(stderr, "armstrong: %s: %zu numbers found, expected "
		    "%zu\n", name, o->nfound, want);
		bad = 1;
	}
	for (i = 0; i < o->nfound; i++) {
		if (o->found[i] < lo || o->found[i] >= hi ||
		    !is_armstrong(o->found[i]) ||
		    (i > 0 && o->found[i] == o->found[i - 1]) ||
		    (exact != NULL && i < want && o->found[i] != exact[i])) {
			fprintf(stderr, "armstrong: %s: wrong result %" PRIu64
			    "\n", name, o->found[i]);
			bad = 1;
		}
	}
	if (bad)
		exit(2);
}

static void
usage(void)
{
	fprintf(stderr, "usage: armstrong [-r ROUNDS] [-t THREADS] "
	    "[-n COUNT] [-s START]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const uint64_t	small_want[] = { 24678050, 24678051 };
	uint64_t		start = UINT64_C(1000000000000);
	uint64_t		count = UINT64_C(200000000), found, found1 = 0, v;
	unsigned		rounds = 5, nthreads, tc[3], ntc = 0, r, j, q;
	unsigned		ncpu;
	struct cpu_mark		mark;
	double			others_a, others_b;
	long			online;
	int			ch;

	online = sysconf(_SC_NPROCESSORS_ONLN);
	nthreads = ncpu = online > 0 ? (unsigned)online : 1;
	while ((ch = getopt(argc, argv, "r:t:n:s:")) != -1) {
		switch (ch) {
		case 'r':
			v = parse_u64(optarg, "-r");
			if (v < 1 || v > MAX_ROUNDS)
				die("-r must be 1..%d", MAX_ROUNDS);
			rounds = (unsigned)v;
			break;
		case 't':
			v = parse_u64(optarg, "-t");
			if (v < 1 || v > MAX_THREADS)
				die("-t must be 1..%d", MAX_THREADS);
			nthreads = (unsigned)v;
			break;
		case 'n': count = parse_u64(optarg, "-n"); break;
		case 's': start = parse_u64(optarg, "-s"); break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (count < 1000 || start + count < start)
		die("-n must be at least 1000, and START + COUNT below 2^64");
	{
		/* All of one length, or the setup per length enters. */
		uint64_t	p = 1;

		while (p <= start / 10)
			p *= 10;
		if (p <= UINT64_MAX / 10 && start + count - 1 >= p * 10)
			fprintf(stderr, "armstrong: warning: the scan block "
			    "crosses a power of 10\n");
	}

	/* Thread counts: 1, 2 (the check), N (all cores). */
	tc[ntc++] = 1;
	if (nthreads >= 2)
		tc[ntc++] = 2;
	if (nthreads > 2)
		tc[ntc++] = nthreads;

	static double	scan_s[3][MAX_ROUNDS], scan_nps[3][MAX_ROUNDS];
	static double	scan_cpu[3][MAX_ROUNDS], scan_util[3][MAX_ROUNDS];
	double		med_nps[3], med_cpu[3];
	struct scan_time st;

	printf("Armstrong search benchmark: %u online CPUs, N = %u threads, "
	    "%u rounds\n\n", online > 0 ? (unsigned)online : 0, nthreads,
	    rounds);

	/* (a) */
	printf("(a) armstrong_scan of [%" PRIu64 ", %" PRIu64 "), %" PRIu64
	    " numbers, split evenly over the threads\n", start, start + count,
	    count);
	for (j = 0; j < ntc; j++)	/* warm-up: a tenth of the block */
		scan_block(start, count / 10, tc[j], &found, &st);
	cpu_mark(&mark);
	printf("%-6s %8s %10s %12s %12s %12s\n", "round", "threads",
	    "seconds", "numbers/s", "slowest_thr", "cpu_ns/num");
	for (r = 0; r < rounds; r++) {
		for (q = 0; q < ntc; q++) {
			j = (q + r) % ntc;	/* rotate the order */
			scan_block(start, count, tc[j], &found, &st);
			scan_s[j][r] = st.secs;
			scan_nps[j][r] = (double)count / st.secs;
			scan_cpu[j][r] = st.cpu / (double)count * 1e9;
			scan_util[j][r] = st.cpu / (st.secs * tc[j]);
			if (r == 0 && j == 0)
				found1 = found;
			else if (found != found1) {
				fprintf(stderr, "armstrong: scan found %" PRIu64
				    " numbers on %u threads, %" PRIu64 " on 1\n",
				    found, tc[j], found1);
				return 2;
			}
			printf("%-6u %8u %10.4f %12.4g %12.4f %12.3f\n", r + 1,
			    tc[j], st.secs, scan_nps[j][r], st.thread_max,
			    scan_cpu[j][r]);
		}
	}
	printf("\n%-6s %8s %10s %12s %9s %12s %8s\n", "median", "threads",
	    "seconds", "numbers/s", "scaling", "cpu_ns/num", "thr_busy");
	for (j = 0; j < ntc; j++) {
		med_nps[j] = median(scan_nps[j], rounds);
		med_cpu[j] = median(scan_cpu[j], rounds);
		printf("%-6s %8u %10.4f %12.4g %8.3fx %12.3f %8.2f\n", "", tc[j],
		    median(scan_s[j], rounds), med_nps[j],
		    med_nps[j] / med_nps[0], med_cpu[j],
		    median(scan_util[j], rounds));
	}
	printf("(%.3g ns per number on 1 thread; %" PRIu64 " Armstrong numbers "
	    "in the block)\n", 1e9 / med_nps[0], found1);
	printf("(cpu_ns/num: the threads' CPU time per number: above the "
	    "1-thread figure, each\n core delivered less while all were busy; "
	    "thr_busy: the threads' CPU time / (threads\n x wall), below 1 "
	    "when a thread waited for a CPU or finished early.\n scaling "
	    "~= threads x (1-thread cpu_ns / cpu_ns) x thr_busy)\n");
	others_a = cpu_report("(a)", &mark, ncpu);
	printf("\n");

	/* (b) */
	struct outcome	o;
	static double	small_s[MAX_ROUNDS], whole_s[MAX_ROUNDS];
	const char	*small_method = "none", *whole_method = "none";
	size_t		small_chunks = 0, whole_chunks = 0;

	printf("(b) whole searches: armstrong_plan(lo, hi, %u), chunks on %u "
	    "threads from a shared index\n", nthreads, nthreads);
	search(SMALL_LO, SMALL_HI, nthreads, &o);	/* warm-up, checked */
	check("[20000000, 30000000)", &o, SMALL_LO, SMALL_HI, 2, small_want);
	free(o.found);
	cpu_mark(&mark);
	printf("%-6s %-28s %10s %8s %7s %12s\n", "round", "range", "method",
	    "chunks", "found", "wall_ms");
	for (r = 0; r < rounds; r++) {
		for (q = 0; q < 2; q++) {
			int	whole = (q + r) % 2;

			if (whole) {
				search(0, WHOLE_HI, nthreads, &o);
				check("[0, 2^63-1)", &o, 0, WHOLE_HI,
				    WHOLE_FOUND, NULL);
				whole_s[r] = o.secs;
				whole_method = o.method;
				whole_chunks = o.nchunks;
			} else {
				search(SMALL_LO, SMALL_HI, nthreads, &o);
				check("[20000000, 30000000)", &o, SMALL_LO,
				    SMALL_HI, 2, small_want);
				small_s[r] = o.secs;
				small_method = o.method;
				small_chunks = o.nchunks;
			}
			printf("%-6u %-28s %10s %8zu %7zu %12.3f\n", r + 1,
			    whole ? "[0, 9223372036854775807)" :
			    "[20000000, 30000000)", o.method, o.nchunks,
			    o.nfound, o.secs * 1e3);
			free(o.found);
		}
	}
	double	small_med = median(small_s, rounds);
	double	whole_med = median(whole_s, rounds);

	others_b = cpu_report("(b)", &mark, ncpu);

	printf("\n%-6s %-28s %10s %8zu %7d %12.3f\n", "median",
	    "[20000000, 30000000)", small_method, small_chunks, 2,
	    small_med * 1e3);
	printf("%-6s %-28s %10s %8zu %7d %12.3f\n\n", "median",
	    "[0, 9223372036854775807)", whole_method, whole_chunks,
	    WHOLE_FOUND, whole_med * 1e3);

	printf("%-22s %.4g numbers/s\n", "scan, 1 thread:", med_nps[0]);
	for (j = 1; j < ntc; j++) {
		char	label[32];

		snprintf(label, sizeof label, "scan, %u threads:", tc[j]);
		printf("%-22s %.4g numbers/s   scaling %.3fx\n", label,
		    med_nps[j], med_nps[j] / med_nps[0]);
	}
	printf("%-22s %.3f ms (%s)\n", "[2e7, 3e7) wall:", small_med * 1e3,
	    small_method);
	printf("%-22s %.3f s (%s)\n", "whole 2^63-1 wall:", whole_med,
	    whole_method);

	printf("RESULT threads=%u scan1_nps=%.6g scan2_nps=%.6g scanN_nps=%.6g "
	    "scaling2=%.4f scalingN=%.4f small_ms=%.4f small_method=%s "
	    "small_found=2 whole_s=%.4f whole_method=%s whole_found=%d "
	    "others_a=%.3f others_b=%.3f cpu1_ns=%.4f cpu2_ns=%.4f\n",
	    nthreads, med_nps[0], ntc > 1 ? med_nps[1] : 0.0,
	    med_nps[ntc - 1], ntc > 1 ? med_nps[1] / med_nps[0] : 0.0,
	    med_nps[ntc - 1] / med_nps[0], small_med * 1e3, small_method,
	    whole_med, whole_method, WHOLE_FOUND, others_a, others_b,
	    med_cpu[0], ntc > 1 ? med_cpu[1] : 0.0);
	return 0;
}
