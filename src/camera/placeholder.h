/* placeholder.h - the "no signal" frame shown while the source fails. */
#ifndef SC_PLACEHOLDER_H
#define SC_PLACEHOLDER_H

#include <time.h>

/*
 * Draws into 4:2:0 planes of an even width x height (at least 32x32):
 * stripes, "NO SIGNAL", the reason (wrapped) and the time.
 */
void	placeholder_draw(unsigned char *y, unsigned char *u, unsigned char *v,
	    unsigned width, unsigned height, const char *why,
	    const struct timespec *now);

#endif
