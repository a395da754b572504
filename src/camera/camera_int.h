/*
 * camera_int.h - what the loop side (camera.c) and the capture thread
 * (capture.c) share: the camera itself and its frames.
 */
#ifndef SC_CAMERA_INT_H
#define SC_CAMERA_INT_H

#include <sys/queue.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "camera/camsrc.h"
#include "camera/multipart.h"

struct frame {
	int		 refs;		/* loop thread only */
	unsigned char	*jpeg;
	size_t		 len;
	int		 placeholder;
	struct timespec	 captured;	/* CLOCK_REALTIME */
	char		 head[MULTIPART_HEAD_MAX];
	size_t		 head_len;
};

enum cam_state { CAM_IDLE, CAM_STARTING, CAM_LIVE, CAM_STALLED, CAM_FAILED };

struct viewer;
struct snap;

struct camera {
	struct event_base	*base;
	char			*source;
	int			 quality;
	unsigned		 max_viewers;
	struct camsrc		*src;		/* capture thread only */

	pthread_t		 thread;
	pthread_mutex_t		 lock;
	pthread_cond_t		 wake;		/* on CLOCK_MONOTONIC */
	int			 cancel_fd;	/* breaks waits in the source */
	/* Under lock. */
	unsigned		 wanted;	/* viewers + snapshot waiters */
	int			 stopping;
	struct frame		*slot;
	enum cam_state		 state;
	char			 error[CAMSRC_ERRLEN];
	const char		*format;
	unsigned		 width, height, fps;
	uint64_t		 captured, encoded, passed, placeholders;
	uint64_t		 replaced, failures, published;
	uint64_t		 encode_ns;

	int			 efd;
	struct event		*ev;

	/* Loop thread. */
	LIST_HEAD(, viewer)	 viewers;
	LIST_HEAD(, snap)	 snaps;
	unsigned		 nviewers, nsnaps;
	uint64_t		 viewers_total;
	uint64_t		 delivered;
	struct timespec		 last_frame;
	double			 fps_seen;	/* smoothed */
};

/* The capture thread's body; arg is the camera. */
void	*capture_main(void *);
/* Frees a frame nobody references any more. */
void	 capture_frame_free(struct frame *);

#endif
