/*
 * camera.c - the live camera on the loop side.
 *
 * Subscriptions are counted into the capture thread's "wanted"
 * (capture.c), which captures only while that is not zero. Each frame it
 * leaves in the one-frame slot (announced through the eventfd) goes to
 * every subscriber's callback; a subscriber that queues it somewhere
 * takes a reference, so the JPEG bytes are never copied and the frame
 * lives until the last of them lets it go.
 */
#include "config.h"

#include <sys/eventfd.h>
#include <sys/queue.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "camera/camera.h"
#include "camera/camera_int.h"
#include "camera/camsrc.h"
#include "camera/frame.h"
#include "lib/log.h"
#include "lib/mono.h"
#include "lib/xmalloc.h"

struct camera_sub {
	LIST_ENTRY(camera_sub)	 entry;
	struct camera		*cam;
	camera_frame_fn		*fn;
	void			*arg;
};

static const char *state_names[] = {
	"idle", "starting", "live", "stalled", "failed"
};

const char *
camera_state_name(unsigned i)
{
	return i < sizeof state_names / sizeof state_names[0] ?
	    state_names[i] : NULL;
}

static void
want(struct camera *cam, int delta)
{
	pthread_mutex_lock(&cam->lock);
	cam->wanted = (unsigned)((int)cam->wanted + delta);
	pthread_cond_signal(&cam->wake);
	pthread_mutex_unlock(&cam->lock);
}

struct camera_sub *
camera_subscribe(struct camera *cam, camera_frame_fn *fn, void *arg)
{
	struct camera_sub	*sub;

	sub = xcalloc(1, sizeof *sub);
	sub->cam = cam;
	sub->fn = fn;
	sub->arg = arg;
	LIST_INSERT_HEAD(&cam->subs, sub, entry);
	want(cam, 1);
	return sub;
}

void
camera_unsubscribe(struct camera_sub *sub)
{
	if (sub == NULL)
		return;
	LIST_REMOVE(sub, entry);
	want(sub->cam, -1);
	free(sub);
}

static void
deliver(struct camera *cam, struct frame *f)
{
	struct camera_sub	*sub, *next;
	struct timespec		 now;
	double			 dt;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (cam->last_frame.tv_sec != 0) {
		dt = mono_diff_s(&cam->last_frame, &now);
		if (dt > 0)
			cam->fps_seen = cam->fps_seen * 0.9 + 0.1 / dt;
	}
	cam->last_frame = now;

	/* A callback may end its own subscription. */
	for (sub = LIST_FIRST(&cam->subs); sub != NULL; sub = next) {
		next = LIST_NEXT(sub, entry);
		sub->fn(f, sub->arg);
	}
}

static void
readable(evutil_socket_t fd, short what, void *arg)
{
	struct camera	*cam = arg;
	struct frame	*f;
	uint64_t	 n;
	ssize_t		 unused;

	unused = read(cam->efd, &n, sizeof n);	/* clear before taking */
	(void)unused;
	pthread_mutex_lock(&cam->lock);
	f = cam->slot;
	cam->slot = NULL;
	pthread_mutex_unlock(&cam->lock);
	if (f == NULL)
		return;
	deliver(cam, f);
	frame_unref(f);			/* the loop's own reference */
}

void
camera_stats(struct camera *cam, struct camera_stats *st)
{
	memset(st, 0, sizeof *st);
	pthread_mutex_lock(&cam->lock);
	st->source = cam->source;
	st->state = state_names[cam->state];
	snprintf(st->error, sizeof st->error, "%s", cam->error);
	st->format = cam->format;
	st->width = cam->width;
	st->height = cam->height;
	st->fps_wanted = cam->fps;
	st->fps_delivered = cam->wanted > 0 ? cam->fps_seen : 0.0;
	st->quality = cam->quality;
	st->frames_captured = cam->captured;
	st->frames_encoded = cam->encoded;
	st->frames_passed = cam->passed;
	st->frames_placeholder = cam->placeholders;
	st->frames_dropped = cam->replaced;
	st->failures = cam->failures;
	st->encode_ms = cam->encoded > 0 ? (double)cam->encode_ns /
	    (double)cam->encoded / 1e6 : 0.0;
	st->encode_time = cam->encode_time;
	pthread_mutex_unlock(&cam->lock);
}

int
camera_check_source(const char *source, char *err, size_t errlen)
{
	struct camsrc	*src;

	if ((src = camsrc_new(source, -1, err, errlen)) == NULL)
		return -1;
	camsrc_free(src);	/* nothing was opened */
	return 0;
}

struct camera *
camera_new(struct event_base *base, const struct camera_config *cfg,
    char *err, size_t errlen)
{
	struct camera		*cam;
	pthread_condattr_t	 ca;
	int			 error;

	cam = xcalloc(1, sizeof *cam);
	histo_init(&cam->encode_time, histo_frame_s, HISTO_FRAME_N);
	if ((cam->cancel_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		fatal("camera: eventfd");
	if ((cam->src = camsrc_new(cfg->source, cam->cancel_fd, err,
	    errlen)) == NULL) {
		close(cam->cancel_fd);
		free(cam);
		return NULL;
	}
	cam->base = base;
	cam->source = xstrdup(cfg->source);
	cam->quality = cfg->quality;
	camsrc_geometry(cam->src, &cam->width, &cam->height, &cam->fps);
	cam->format = camsrc_format(cam->src);
	LIST_INIT(&cam->subs);
	if ((cam->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		fatal("camera: eventfd");
	cam->ev = event_new(base, cam->efd, EV_READ | EV_PERSIST, readable,
	    cam);
	if (cam->ev == NULL || event_add(cam->ev, NULL) != 0)
		fatalx("camera: cannot watch the wakeup fd");
	if (pthread_mutex_init(&cam->lock, NULL) != 0 ||
	    pthread_condattr_init(&ca) != 0 ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&cam->wake, &ca) != 0)
		fatalx("camera: cannot initialise locks");
	pthread_condattr_destroy(&ca);
	if ((error = pthread_create(&cam->thread, NULL, capture_main,
	    cam)) != 0) {
		errno = error;
		fatal("camera: pthread_create");
	}
	pthread_setname_np(cam->thread, "camera");
	return cam;
}

void
camera_free(struct camera *cam)
{
	uint64_t	one = 1;
	ssize_t		unused;

	if (cam == NULL)
		return;
	while (!LIST_EMPTY(&cam->subs))	/* the HTTP side ended them */
		camera_unsubscribe(LIST_FIRST(&cam->subs));
	pthread_mutex_lock(&cam->lock);
	cam->stopping = 1;
	pthread_cond_signal(&cam->wake);
	pthread_mutex_unlock(&cam->lock);
	unused = write(cam->cancel_fd, &one, sizeof one);  /* a blocked read */
	(void)unused;
	pthread_join(cam->thread, NULL);
	frame_unref(cam->slot);
	camsrc_free(cam->src);
	event_free(cam->ev);
	close(cam->efd);
	close(cam->cancel_fd);
	pthread_cond_destroy(&cam->wake);
	pthread_mutex_destroy(&cam->lock);
	free(cam->source);
	free(cam);
}
