/* testpattern.h - the default camera: a moving picture that shows it moves. */
#ifndef SC_TESTPATTERN_H
#define SC_TESTPATTERN_H

#include <stdint.h>
#include <time.h>

/*
 * Draws frame `seq` into planar YUV 4:2:0 planes of width x height
 * (y: width * height; u and v: ceil(w/2) * ceil(h/2)): colour bars that
 * slide one step a frame, a bar that sweeps top to bottom, and the frame
 * number and the UTC time of `now` in large digits, so a frozen or
 * stuttering stream shows at a glance.
 */
void	testpattern_draw(unsigned char *y, unsigned char *u, unsigned char *v,
	    unsigned width, unsigned height, uint64_t seq,
	    const struct timespec *now);
/* Reads back the frame number drawn into a Y plane; -1 if unreadable. */
int64_t	testpattern_read_counter(const unsigned char *y, unsigned width,
	    unsigned height);

#endif
