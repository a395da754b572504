/*
 * camera.h - the live camera: a capture thread that runs while someone
 * subscribes, and the frames it hands to the subscribers on the loop.
 */
#ifndef SC_CAMERA_H
#define SC_CAMERA_H

#include <stddef.h>
#include <stdint.h>

#include "camera/camsrc.h"
#include "lib/histo.h"

struct camera;
struct camera_sub;
struct event_base;
struct frame;

/* Enough for any reason camera_check_source or camera_new gives. */
#define CAMERA_ERRLEN	CAMSRC_ERRLEN

struct camera_config {
	const char	*source;	/* --camera, see camsrc.h */
	int		 quality;	/* JPEG 1..100 */
};

/* What /api/camera shows of the camera (a copy taken under its lock). */
struct camera_stats {
	const char	*source;	/* the camera's own, while it lives */
	const char	*state;		/* "idle", "starting", "live", ... */
	char		 error[CAMERA_ERRLEN];	/* "" if none */
	const char	*format;
	unsigned	 width, height, fps_wanted;
	double		 fps_delivered;	/* smoothed; 0 without subscribers */
	int		 quality;
	uint64_t	 frames_captured, frames_encoded, frames_passed;
	uint64_t	 frames_placeholder, frames_dropped, failures;
	double		 encode_ms;	/* mean per encoded frame */
	struct histo	 encode_time;	/* seconds per encoded frame */
};

/*
 * Gets each new frame on the loop thread, valid during the call; a
 * subscriber that keeps it takes a reference (frame_ref). The callback
 * may unsubscribe its own subscription, no other.
 */
typedef void	camera_frame_fn(struct frame *, void *arg);

/* 0 if source names a source camera_new accepts, else -1 and err. */
int		 camera_check_source(const char *source, char *err,
		    size_t errlen);
/* NULL with the reason in err for a source it cannot open. */
struct camera	*camera_new(struct event_base *, const struct camera_config *,
		    char *err, size_t errlen);
/* Frames to fn from now on; the camera captures while it has any. */
struct camera_sub *camera_subscribe(struct camera *, camera_frame_fn *fn,
		    void *arg);
/* Ends (and frees) a subscription; NULL is fine. */
void		 camera_unsubscribe(struct camera_sub *);
/* Fills *st with the camera's figures. */
void		 camera_stats(struct camera *, struct camera_stats *st);
/* The names camera_stats gives its state: 0, 1, ... until NULL. */
const char	*camera_state_name(unsigned);
/* Stops the thread and ends what subscriptions are left. */
void		 camera_free(struct camera *);

#endif
