/*
 * frame.c - the camera's frames: allocation and reference counting.
 *
 * The capture thread makes each frame with one reference and hands it
 * to the loop, which takes one more per viewer whose socket it is queued
 * on; the evbuffer drops that reference once the bytes are sent.
 */
#include "config.h"

#include <stdlib.h>

#include "camera/frame.h"
#include "camera/jpegenc.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

struct frame *
frame_new(void)
{
	struct frame	*f;

	f = xcalloc(1, sizeof *f);
	f->refs = 1;
	return f;
}

struct frame *
frame_ref(struct frame *f)
{
	f->refs++;
	return f;
}

void
frame_unref(struct frame *f)
{
	if (f == NULL)
		return;
	if (f->refs <= 0)
		fatalx("frame: unref of a frame with %d references", f->refs);
	if (--f->refs > 0)
		return;
	jpegenc_data_free(f->jpeg);
	free(f);
}
