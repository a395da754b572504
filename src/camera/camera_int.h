/*
 * camera_int.h - the camera as the loop side (camera.c) and the capture
 * thread (capture.c) share it.
 */
#ifndef SC_CAMERA_INT_H
#define SC_CAMERA_INT_H

#include <sys/queue.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "camera/camsrc.h"
#include "lib/histo.h"

struct frame;
struct camera_sub;

enum camera_state {
	CAMERA_IDLE, CAMERA_STARTING, CAMERA_LIVE, CAMERA_STALLED,
	CAMERA_FAILED
};

struct camera {
	struct event_base	*base;
	char			*source;
	int			 quality;
	struct camsrc		*src;		/* capture thread only */

	pthread_t		 thread;
	pthread_mutex_t		 lock;
	pthread_cond_t		 wake;		/* on CLOCK_MONOTONIC */
	int			 cancel_fd;	/* breaks waits in the source */
	/* Under lock. */
	unsigned		 wanted;	/* subscriptions */
	int			 stopping;
	struct frame		*slot;
	enum camera_state	 state;
	char			 error[CAMSRC_ERRLEN];
	const char		*format;
	unsigned		 width, height, fps;
	uint64_t		 captured, encoded, passed, placeholders;
	uint64_t		 replaced, failures, published;
	uint64_t		 encode_ns;
	struct histo		 encode_time;	/* seconds per frame */

	int			 efd;		/* wakes the loop: a frame */
	struct event		*ev;

	/* Loop thread. */
	LIST_HEAD(, camera_sub)	 subs;
	struct timespec		 last_frame;
	double			 fps_seen;	/* smoothed */
};

/* The capture thread's body; arg is the camera. */
void	*capture_main(void *);

#endif
