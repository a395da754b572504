/*
 * camera.c - the live camera on the loop side: /stream.mjpg,
 * /snapshot.jpg and /api/camera.
 *
 * Viewers and snapshot waiters are counted into the capture thread's
 * "wanted" (capture.c), which captures only while that is not zero.
 * Each frame it hands over through the eventfd is fanned out to every
 * viewer as a part of a multipart/x-mixed-replace stream, by reference
 * (the JPEG bytes are never copied; a count keeps the frame alive until
 * every viewer's socket has taken it). A viewer still sending the
 * previous frame skips this one, so each holds at most one frame
 * whatever its speed, and one that stops reading is dropped by the HTTP
 * layer's write timeout.
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
#include <jansson.h>

#include "camera/camera.h"
#include "camera/camera_int.h"
#include "camera/camsrc.h"
#include "camera/multipart.h"
#include "http/http.h"
#include "http/reply.h"
#include "http/router.h"
#include "lib/log.h"
#include "lib/mono.h"
#include "lib/xmalloc.h"

struct viewer {
	LIST_ENTRY(viewer)	 entry;
	struct camera		*cam;
	struct http_request	*req;
	uint64_t		 sent, skipped;
	struct timespec		 since;		/* CLOCK_MONOTONIC */
};

struct snap {
	LIST_ENTRY(snap)	 entry;
	struct camera		*cam;
	struct http_request	*req;
};

static const char *state_names[] = {
	"idle", "starting", "live", "stalled", "failed"
};

static void
frame_unref(struct frame *f)
{
	if (--f->refs == 0)
		capture_frame_free(f);
}

/* evbuffer cleanup: a viewer's socket has taken the bytes. */
static void
frame_sent(const void *data, size_t len, void *arg)
{
	frame_unref(arg);
}

static void
camera_want(struct camera *cam, int delta)
{
	pthread_mutex_lock(&cam->lock);
	cam->wanted = (unsigned)((int)cam->wanted + delta);
	pthread_cond_signal(&cam->wake);
	pthread_mutex_unlock(&cam->lock);
}

/* --- the loop side --- */

static void
viewer_free(struct viewer *vw)
{
	struct camera	*cam = vw->cam;

	LIST_REMOVE(vw, entry);
	cam->nviewers--;
	camera_want(cam, -1);
	free(vw);
}

static void
viewer_gone(struct http_request *req, void *arg)
{
	viewer_free(arg);
}

static void
snap_gone(struct http_request *req, void *arg)
{
	struct snap	*sn = arg;

	LIST_REMOVE(sn, entry);
	sn->cam->nsnaps--;
	camera_want(sn->cam, -1);
	free(sn);
}

/* A snapshot asked for while the source fails gets the reason, not
 * the placeholder picture: scripts should not mistake it for a frame. */
static void
snapshot_failed(struct camera *cam, struct http_request *req)
{
	char	why[CAMSRC_ERRLEN];

	pthread_mutex_lock(&cam->lock);
	snprintf(why, sizeof why, "%s", cam->error);
	pthread_mutex_unlock(&cam->lock);
	http_reply_header(req, "Retry-After", "1");
	reply_problem(req, 503, "the camera source is failing: %s", why);
}

static void
camera_deliver(struct camera *cam, struct frame *f)
{
	struct viewer	*vw;
	struct snap	*sn;
	struct timespec	 now;
	double		 dt;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (cam->last_frame.tv_sec != 0) {
		dt = mono_diff_s(&cam->last_frame, &now);
		if (dt > 0)
			cam->fps_seen = cam->fps_seen * 0.9 + 0.1 / dt;
	}
	cam->last_frame = now;
	cam->delivered++;

	LIST_FOREACH(vw, &cam->viewers, entry) {
		/* Still sending the last one: skip to the next frame. */
		if (http_stream_pending(vw->req) > 0) {
			vw->skipped++;
			continue;
		}
		/*
		 * All three pieces by reference: no copy and no buffer
		 * allocation per viewer. The head lives in the frame, which
		 * the JPEG's reference (queued after it) keeps alive.
		 */
		f->refs++;
		if (http_stream_write_ref(vw->req, f->head, f->head_len, NULL,
		    NULL) != 0 || http_stream_write_ref(vw->req, f->jpeg,
		    f->len, frame_sent, f) != 0) {
			f->refs--;
			continue;	/* the connection is going away */
		}
		http_stream_write_ref(vw->req, MULTIPART_TAIL,
		    sizeof MULTIPART_TAIL - 1, NULL, NULL);
		vw->sent++;
	}
	while ((sn = LIST_FIRST(&cam->snaps)) != NULL) {
		LIST_REMOVE(sn, entry);
		cam->nsnaps--;
		camera_want(cam, -1);
		http_request_set_close_cb(sn->req, NULL, NULL);
		if (f->placeholder)
			snapshot_failed(cam, sn->req);
		else {
			http_reply_header(sn->req, "Cache-Control", "no-store");
			http_reply(sn->req, 200, "image/jpeg", f->jpeg, f->len);
		}
		free(sn);
	}
}

static void
camera_readable(evutil_socket_t fd, short what, void *arg)
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
	camera_deliver(cam, f);
	frame_unref(f);			/* the loop's own reference */
}

static void
camera_stream(struct http_request *req, const struct route_params *params,
    void *arg)
{
	struct camera	*cam = arg;
	struct viewer	*vw;

	if (cam->nviewers >= cam->max_viewers) {
		http_reply_header(req, "Retry-After", "5");
		reply_problem(req, 503, "%u viewers already (the limit); try "
		    "again later", cam->nviewers);
		return;
	}
	if (http_request_method(req) == HTTP_HEAD) {
		http_reply(req, 200, MULTIPART_TYPE, NULL, 0);
		return;
	}
	vw = xcalloc(1, sizeof *vw);
	vw->cam = cam;
	vw->req = req;
	clock_gettime(CLOCK_MONOTONIC, &vw->since);
	http_reply_header(req, "Cache-Control", "no-store");
	if (http_stream_start(req, 200, MULTIPART_TYPE) != 0) {
		free(vw);
		return;
	}
	LIST_INSERT_HEAD(&cam->viewers, vw, entry);
	cam->nviewers++;
	cam->viewers_total++;
	http_request_set_close_cb(req, viewer_gone, vw);
	camera_want(cam, 1);
}

static void
camera_snapshot(struct http_request *req, const struct route_params *params,
    void *arg)
{
	struct camera	*cam = arg;
	struct snap	*sn;

	sn = xcalloc(1, sizeof *sn);
	sn->cam = cam;
	sn->req = req;
	LIST_INSERT_HEAD(&cam->snaps, sn, entry);
	cam->nsnaps++;
	http_request_set_close_cb(req, snap_gone, sn);
	camera_want(cam, 1);
}

static void
camera_info(struct http_request *req, const struct route_params *params,
    void *arg)
{
	struct camera	*cam = arg;
	struct viewer	*vw;
	struct timespec	 now;
	json_t		*arr, *o;
	double		 age;

	clock_gettime(CLOCK_MONOTONIC, &now);
	arr = json_array();
	LIST_FOREACH(vw, &cam->viewers, entry) {
		age = mono_diff_s(&vw->since, &now);
		json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:f}",
		    "peer", http_request_peer(vw->req),
		    "frames", (json_int_t)vw->sent,
		    "skipped", (json_int_t)vw->skipped,
		    "fps", age > 0 ? (double)vw->sent / age : 0.0));
	}
	pthread_mutex_lock(&cam->lock);
	o = json_pack("{s:s, s:s, s:s?, s:s, s:I, s:I, s:I, s:f, s:I, s:I, s:I,"
	    " s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
	    "source", cam->source,
	    "state", state_names[cam->state],
	    "error", cam->error[0] != '\0' ? cam->error : NULL,
	    "format", cam->format,
	    "width", (json_int_t)cam->width,
	    "height", (json_int_t)cam->height,
	    "fps_wanted", (json_int_t)cam->fps,
	    "fps_delivered", cam->nviewers + cam->nsnaps > 0 ?
	    cam->fps_seen : 0.0,
	    "quality", (json_int_t)cam->quality,
	    "viewers", (json_int_t)cam->nviewers,
	    "viewers_total", (json_int_t)cam->viewers_total,
	    "frames_captured", (json_int_t)cam->captured,
	    "frames_encoded", (json_int_t)cam->encoded,
	    "frames_passed_through", (json_int_t)cam->passed,
	    "frames_placeholder", (json_int_t)cam->placeholders,
	    "frames_dropped", (json_int_t)cam->replaced,
	    "failures", (json_int_t)cam->failures,
	    "encode_ms", cam->encoded > 0 ? (double)cam->encode_ns /
	    (double)cam->encoded / 1e6 : 0.0);
	pthread_mutex_unlock(&cam->lock);
	if (o == NULL)
		fatalx("camera: cannot build the /api/camera reply");
	json_object_set_new(o, "per_viewer", arr);
	reply_json(req, 200, o);
}

int
camera_check_source(const char *source, const char **err)
{
	static char	 why[CAMSRC_ERRLEN];
	struct camsrc	*src;

	if ((src = camsrc_new(source, -1, why, sizeof why)) == NULL) {
		*err = why;
		return -1;
	}
	camsrc_free(src);	/* nothing was opened */
	return 0;
}

struct camera *
camera_new(struct event_base *base, const struct camera_config *cfg,
    const char **err)
{
	static char		 why[CAMSRC_ERRLEN];
	struct camera		*cam;
	pthread_condattr_t	 ca;
	int			 error;

	cam = xcalloc(1, sizeof *cam);
	if ((cam->cancel_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		fatal("camera: eventfd");
	if ((cam->src = camsrc_new(cfg->source, cam->cancel_fd, why,
	    sizeof why)) == NULL) {
		*err = why;
		close(cam->cancel_fd);
		free(cam);
		return NULL;
	}
	cam->base = base;
	cam->source = xstrdup(cfg->source);
	cam->quality = cfg->quality;
	cam->max_viewers = cfg->max_viewers;
	camsrc_geometry(cam->src, &cam->width, &cam->height, &cam->fps);
	cam->format = camsrc_format(cam->src);
	LIST_INIT(&cam->viewers);
	LIST_INIT(&cam->snaps);
	if ((cam->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		fatal("camera: eventfd");
	cam->ev = event_new(base, cam->efd, EV_READ | EV_PERSIST,
	    camera_readable, cam);
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
camera_register(struct camera *cam, struct router *r)
{
	router_add(r, HTTP_GET, "/stream.mjpg", camera_stream, cam);
	router_add(r, HTTP_GET, "/snapshot.jpg", camera_snapshot, cam);
	router_add(r, HTTP_GET, "/api/camera", camera_info, cam);
}

void
camera_free(struct camera *cam)
{
	uint64_t	one = 1;
	ssize_t		unused;

	if (cam == NULL)
		return;
	pthread_mutex_lock(&cam->lock);
	cam->stopping = 1;
	pthread_cond_signal(&cam->wake);
	pthread_mutex_unlock(&cam->lock);
	unused = write(cam->cancel_fd, &one, sizeof one);  /* a blocked read */
	(void)unused;
	pthread_join(cam->thread, NULL);
	if (cam->slot != NULL)
		capture_frame_free(cam->slot);
	camsrc_free(cam->src);
	event_free(cam->ev);
	close(cam->efd);
	close(cam->cancel_fd);
	pthread_cond_destroy(&cam->wake);
	pthread_mutex_destroy(&cam->lock);
	free(cam->source);
	free(cam);
}
