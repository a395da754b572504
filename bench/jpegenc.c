/*
 * jpegenc.c - what one camera frame costs TurboJPEG, without the server.
 *
 * Usage: jpegenc WIDTH HEIGHT QUALITY FRAMES [FPS]
 *
 * Draws frames 0, 1, 2, ... of the test pattern (testpattern_draw from
 * libstockcam.a, 4:2:0 planes, the time of the draw stamped in, as the
 * camera thread does) and compresses each with
 * tjCompressFromYUVPlanes(..., TJSAMP_420, ..., QUALITY, TJFLAG_FASTDCT)
 * on one tjhandle, letting TurboJPEG allocate the output as the server
 * does (src/camera/jpegenc.c; called here directly, not through jpegenc_encode_420).
 * Only the compress call is timed (CLOCK_MONOTONIC), as the server's
 * encode_ms is; the output is freed after the clock stops.  WARMUP
 * frames are encoded untimed first.  Each frame is encoded right after
 * it is drawn (so its planes are in cache, as in the server).  Without
 * FPS frames go back to back: the best case, caches and branch
 * predictors warm from the frame before.  With FPS the loop sleeps until
 * each frame is due, as the camera thread does (clock_nanosleep to an
 * absolute time): the same encode after 1/FPS s idle, which is what the
 * server's every frame costs.
 *
 * Prints one line:
 *	frames=300 encode_ms_median=0.61 encode_ms_mean=0.63
 *	encode_ms_min=0.58 encode_ms_p99=0.80 draw_ms_mean=0.20
 *	bytes_median=21888 cpu_ms_per_frame=0.84 cpu_ms_total=290
 * (cpu_ms_per_frame: the process CPU time over the timed frames, draw
 * included, per frame; cpu_ms_total: all of its CPU time, warm-up and
 * set-up included, for telling it apart from the rest of the machine).  Exit status 0, or 2 on bad usage or a failed
 * encode.
 *
 * Build: gcc -O2 -Wall -Wextra -Isrc -Ibuild -o jpegenc bench/jpegenc.c \
 *	      build/libstockcam.a -lturbojpeg -lm
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <turbojpeg.h>

#include "camera/testpattern.h"

#define WARMUP	20

static const char	*prog = "jpegenc";

static void
usage(void)
{
	fprintf(stderr, "usage: %s WIDTH HEIGHT QUALITY FRAMES [FPS]\n",
	    prog);
	exit(2);
}

static unsigned long
arg(const char *s, const char *what, unsigned long lo, unsigned long hi)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] < '0' ||
	    s[0] > '9' || v < lo || v > hi) {
		fprintf(stderr, "%s: %s must be a whole number from %lu to "
		    "%lu: %s\n", prog, what, lo, hi, s);
		usage();
	}
	return v;
}

static double
secs(clockid_t clk)
{
	struct timespec	ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_dbl(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(const double *v, size_t n)
{
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
main(int argc, char *argv[])
{
	const unsigned char	*planes[3];
	unsigned char		*y, *u, *v, *out;
	unsigned long		 size;
	unsigned		 width, height;
	int			 quality, strides[3];
	size_t			 frames, i, csize, r;
	double			*enc, *bytes, t0, t1, draw = 0, sum = 0;
	double			 cpu0, cpu1;
	struct timespec		 now, due;
	tjhandle		 tj;
	uint64_t		 seq = 0;
	long			 period = 0;

	if (argc != 5 && argc != 6)
		usage();
	width = (unsigned)arg(argv[1], "WIDTH", 16, 7680);
	height = (unsigned)arg(argv[2], "HEIGHT", 16, 4320);
	quality = (int)arg(argv[3], "QUALITY", 1, 100);
	frames = arg(argv[4], "FRAMES", 1, 10000000);
	if (argc == 6)
		period = 1000000000L / (long)arg(argv[5], "FPS", 1, 1000);
	if (width % 2 != 0 || height % 2 != 0) {
		fprintf(stderr, "%s: WIDTH and HEIGHT must be even for "
		    "4:2:0\n", prog);
		usage();
	}

	csize = (size_t)((width + 1) / 2) * ((height + 1) / 2);
	y = malloc((size_t)width * height);
	u = malloc(csize);
	v = malloc(csize);
	enc = malloc(frames * sizeof *enc);
	bytes = malloc(frames * sizeof *bytes);
	if (y == NULL || u == NULL || v == NULL || enc == NULL ||
	    bytes == NULL) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 2;
	}
	planes[0] = y;
	planes[1] = u;
	planes[2] = v;
	strides[0] = (int)width;
	strides[1] = strides[2] = (int)((width + 1) / 2);

	/* A fresh handle, as the camera thread makes one (jpegenc_new). */
	if ((tj = tjInitCompress()) == NULL) {
		fprintf(stderr, "%s: tjInitCompress: %s\n", prog,
		    tjGetErrorStr2(NULL));
		return 2;
	}

	cpu0 = 0;
	clock_gettime(CLOCK_MONOTONIC, &due);
	for (r = 0; r < WARMUP + frames; r++) {
		if (period > 0) {
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due,
			    NULL);
			due.tv_nsec += period;
			if (due.tv_nsec >= 1000000000L) {
				due.tv_sec++;
				due.tv_nsec -= 1000000000L;
			}
		}
		if (r == WARMUP)
			cpu0 = secs(CLOCK_PROCESS_CPUTIME_ID);
		i = r - WARMUP;			/* meaningful once r >= WARMUP */
		t0 = secs(CLOCK_MONOTONIC);
		clock_gettime(CLOCK_REALTIME, &now);
		testpattern_draw(y, u, v, width, height, seq++, &now);
		t1 = secs(CLOCK_MONOTONIC);
		if (r >= WARMUP)
			draw += t1 - t0;

		out = NULL;
		size = 0;
		t0 = secs(CLOCK_MONOTONIC);
		if (tjCompressFromYUVPlanes(tj, planes, (int)width, strides,
		    (int)height, TJSAMP_420, &out, &size, quality,
		    TJFLAG_FASTDCT) != 0) {
			fprintf(stderr, "%s: tjCompressFromYUVPlanes: %s\n",
			    prog, tjGetErrorStr2(tj));
			tjFree(out);
			return 2;
		}
		t1 = secs(CLOCK_MONOTONIC);
		tjFree(out);
		if (r >= WARMUP) {
			enc[i] = (t1 - t0) * 1000.0;
			bytes[i] = (double)size;
			sum += enc[i];
		}
	}
	cpu1 = secs(CLOCK_PROCESS_CPUTIME_ID);
	tjDestroy(tj);

	qsort(enc, frames, sizeof *enc, cmp_dbl);
	qsort(bytes, frames, sizeof *bytes, cmp_dbl);
	i = (size_t)(0.99 * (double)frames + 0.999999999);
	if (i < 1)
		i = 1;
	printf("frames=%zu encode_ms_median=%.4f encode_ms_mean=%.4f "
	    "encode_ms_min=%.4f encode_ms_p99=%.4f draw_ms_mean=%.4f "
	    "bytes_median=%.0f cpu_ms_per_frame=%.4f cpu_ms_total=%.1f\n",
	    frames,
	    median(enc, frames), sum / (double)frames, enc[0],
	    enc[(i > frames ? frames : i) - 1],
	    draw * 1000.0 / (double)frames, median(bytes, frames),
	    (cpu1 - cpu0) * 1000.0 / (double)frames,
	    secs(CLOCK_PROCESS_CPUTIME_ID) * 1000.0);
	free(enc);
	free(bytes);
	free(y);
	free(u);
	free(v);
	return 0;
}
