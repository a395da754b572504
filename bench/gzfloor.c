/*
 * gzfloor.c - the floor of packing: libdeflate compressing a file held in
 * memory, cut into slices as the archiver cuts its tar stream, on every
 * core, each slice one gzip member.
 *
 * usage: bench/gzfloor [-l LEVEL] [-t THREADS] [-r ROUNDS] FILE
 *   LEVEL 1-12 (6), THREADS (the cores), ROUNDS timed passes (5).
 * Prints one line per round and a last line
 *   gzfloor: LEVEL THREADS IN_BYTES OUT_BYTES MEDIAN_S
 * for scripts. The slice size is the archiver's (ARCHIVER_GZ_SLICE).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libdeflate.h>

#include "stock/archiver_int.h"

#define MAX_ROUNDS	99

struct work {
	const unsigned char	*in;
	size_t			 len;
	size_t			 nslices;
	int			 level;
	atomic_size_t		 next;
	atomic_size_t		 out;
};

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
worker(void *arg)
{
	struct work			*w = arg;
	struct libdeflate_compressor	*c;
	unsigned char			*out;
	size_t				 i, off, n, cap, got;

	if ((c = libdeflate_alloc_compressor(w->level)) == NULL) {
		fprintf(stderr, "gzfloor: cannot allocate a compressor\n");
		exit(2);
	}
	cap = libdeflate_gzip_compress_bound(c, ARCHIVER_GZ_SLICE);
	if ((out = malloc(cap)) == NULL) {
		fprintf(stderr, "gzfloor: out of memory\n");
		exit(2);
	}
	while ((i = atomic_fetch_add(&w->next, 1)) < w->nslices) {
		off = i * ARCHIVER_GZ_SLICE;
		n = w->len - off < ARCHIVER_GZ_SLICE ? w->len - off :
		    ARCHIVER_GZ_SLICE;
		got = libdeflate_gzip_compress(c, w->in + off, n, out, cap);
		atomic_fetch_add(&w->out, got);
	}
	free(out);
	libdeflate_free_compressor(c);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct work	 w;
	struct stat	 st;
	pthread_t	*th;
	unsigned char	*in;
	double		 t[MAX_ROUNDS], t0;
	long		 threads = sysconf(_SC_NPROCESSORS_ONLN);
	int		 c, fd, rounds = 5, r;
	long		 i;
	ssize_t		 n;
	size_t		 got;

	memset(&w, 0, sizeof w);
	w.level = 6;
	while ((c = getopt(argc, argv, "l:t:r:")) != -1) {
		switch (c) {
		case 'l': w.level = atoi(optarg); break;
		case 't': threads = atol(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (optind != argc - 1 || w.level < 1 || w.level > 12 ||
	    threads < 1 || threads > 256 || rounds < 1 ||
	    rounds > MAX_ROUNDS)
		goto usage;
	if ((fd = open(argv[optind], O_RDONLY)) < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "gzfloor: %s: %s\n", argv[optind],
		    strerror(errno));
		return 2;
	}
	if ((in = malloc((size_t)st.st_size + 1)) == NULL) {
		fprintf(stderr, "gzfloor: out of memory\n");
		return 2;
	}
	for (got = 0; got < (size_t)st.st_size; got += (size_t)n) {
		if ((n = read(fd, in + got, (size_t)st.st_size - got)) <= 0) {
			fprintf(stderr, "gzfloor: cannot read %s\n",
			    argv[optind]);
			return 2;
		}
	}
	close(fd);
	w.in = in;
	w.len = got;
	w.nslices = (got + ARCHIVER_GZ_SLICE - 1) / ARCHIVER_GZ_SLICE;
	if ((th = calloc((size_t)threads, sizeof *th)) == NULL)
		return 2;

	for (r = 0; r < rounds; r++) {
		atomic_store(&w.next, 0);
		atomic_store(&w.out, 0);
		t0 = now();
		for (i = 0; i < threads; i++)
			pthread_create(&th[i], NULL, worker, &w);
		for (i = 0; i < threads; i++)
			pthread_join(th[i], NULL);
		t[r] = now() - t0;
		printf("round %d: %zu -> %zu bytes in %.3f s (%.0f MB/s)\n",
		    r + 1, w.len, atomic_load(&w.out), t[r],
		    (double)w.len / 1e6 / t[r]);
	}
	qsort(t, (size_t)rounds, sizeof t[0], cmp_double);
	printf("gzfloor: %d %ld %zu %zu %.4f\n", w.level, threads, w.len,
	    atomic_load(&w.out), t[rounds / 2]);
	free(th);
	free(in);
	return 0;
usage:
	fprintf(stderr, "usage: gzfloor [-l LEVEL] [-t THREADS] [-r ROUNDS] "
	    "FILE\n");
	return 2;
}
