/* frame.h - one JPEG frame of the live camera, reference counted. */
#ifndef SC_FRAME_H
#define SC_FRAME_H

#include <stddef.h>
#include <time.h>

#include "camera/multipart.h"

/*
 * A frame belongs to one thread at a time (the capture thread until it
 * hands it over, then the loop), so its count needs no lock.
 */
struct frame {
	int		 refs;
	unsigned char	*jpeg;		/* from jpegenc, freed with it */
	size_t		 len;
	int		 placeholder;	/* the "no signal" picture */
	struct timespec	 captured;	/* CLOCK_REALTIME */
	char		 head[MULTIPART_HEAD_MAX];	/* its part head */
	size_t		 head_len;
};

/* An empty frame with one reference. */
struct frame	*frame_new(void);
/* Takes one more reference; returns the frame. */
struct frame	*frame_ref(struct frame *);
/* Drops a reference; the last one frees the frame and its JPEG. */
void		 frame_unref(struct frame *);

#endif
