/*
 * camera.c - one capture thread, one encode per frame, many viewers.
 *
 * The capture thread runs only while someone watches or waits for a
 * snapshot. It paces itself to the wanted frame rate, draws (or reads)
 * a frame, encodes it once with TurboJPEG and leaves it in a one-frame
 * slot, waking the loop through an eventfd when the slot was empty. A
 * frame the loop has not taken yet is replaced, not queued: memory holds
 * at most one frame in hand-off however slow the loop.
 *
 * The loop fans each frame out to every viewer as a part of a
 * multipart/x-mixed-replace stream, by reference (the JPEG bytes are
 * never copied; a count keeps the frame alive until every viewer's
 * socket has taken it). A viewer still sending the previous frame skips
 * this one, so each holds at most one frame whatever its speed, and one
 * that stops reading is dropped by the HTTP layer's write timeout.
 */
#include "config.h"

#include <sys/eventfd.h>
#include <sys/queue.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "camera.h"
#include "http.h"
#include "jpeg.h"
#include "log.h"
#include "reply.h"
#include "router.h"
#include "testpattern.h"
#include "xmalloc.h"

#define BOUNDARY	"stockcamframe"

struct frame {
	int		 refs;		/* loop thread only */
	unsigned char	*jpeg;
	size_t		 len;
	uint64_t	 seq;
	struct timespec	 captured;	/* CLOCK_REALTIME */
	char		 head[192];	/* this frame's part header */
	size_t		 head_len;
};

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

struct camera {
	struct event_base	*base;
	char			*source;
	unsigned		 width, height, fps;
	int			 quality;
	unsigned		 max_viewers;

	pthread_t		 thread;
	pthread_mutex_t		 lock;
	pthread_cond_t		 wake;
	/* Under lock. */
	unsigned		 wanted;	/* viewers + snapshot waiters */
	int			 stopping;
	struct frame		*slot;
	uint64_t		 captured, encoded, replaced;
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

static double
ts_diff(const struct timespec *a, const struct timespec *b)
{
	return (double)(a->tv_sec - b->tv_sec) +
	    (double)(a->tv_nsec - b->tv_nsec) / 1e9;
}

static void
frame_unref(struct frame *f)
{
	if (--f->refs > 0)
		return;
	jpeg_data_free(f->jpeg);
	free(f);
}

/* evbuffer cleanup: a viewer's socket has taken the bytes. */
static void
frame_sent(const void *data, size_t len, void *arg)
{
	frame_unref(arg);
}

/* --- the capture thread --- */

static void
camera_want(struct camera *cam, int delta)
{
	pthread_mutex_lock(&cam->lock);
	cam->wanted = (unsigned)((int)cam->wanted + delta);
	pthread_cond_signal(&cam->wake);
	pthread_mutex_unlock(&cam->lock);
}

static void *
camera_main(void *arg)
{
	struct camera	*cam = arg;
	struct jpeg	*jp = jpeg_new();
	struct frame	*f, *old;
	struct timespec	 next, now, t0, t1;
	unsigned char	*y, *u, *v;
	size_t		 csize = (size_t)((cam->width + 1) / 2) *
			    ((cam->height + 1) / 2);
	uint64_t	 seq = 0, one = 1;
	long		 period = 1000000000L / (long)cam->fps;
	const char	*err;
	sigset_t	 all;
	int		 was_empty;
	ssize_t		 unused;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	y = xmalloc((size_t)cam->width * cam->height);
	u = xmalloc(csize);
	v = xmalloc(csize);
	clock_gettime(CLOCK_MONOTONIC, &next);

	pthread_mutex_lock(&cam->lock);
	for (;;) {
		while (cam->wanted == 0 && !cam->stopping) {
			pthread_cond_wait(&cam->wake, &cam->lock);
			clock_gettime(CLOCK_MONOTONIC, &next);
		}
		if (cam->stopping)
			break;
		pthread_mutex_unlock(&cam->lock);

		/* Pace to the frame rate; after a stall, do not catch up. */
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (ts_diff(&now, &next) > (double)period / 1e9)
			next = now;
		next.tv_nsec += period;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}

		f = xcalloc(1, sizeof *f);
		f->refs = 1;
		f->seq = seq++;
		clock_gettime(CLOCK_REALTIME, &f->captured);
		testpattern_draw(y, u, v, cam->width, cam->height, f->seq,
		    &f->captured);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		f->jpeg = jpeg_encode_420(jp, y, u, v, cam->width, cam->height,
		    cam->quality, &f->len, &err);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (f->jpeg == NULL) {
			log_warn("camera: encode: %s", err);
			free(f);
			pthread_mutex_lock(&cam->lock);
			continue;
		}
		f->head_len = (size_t)snprintf(f->head, sizeof f->head,
		    "--" BOUNDARY "\r\nContent-Type: image/jpeg\r\n"
		    "Content-Length: %zu\r\nX-Timestamp: %lld.%06ld\r\n"
		    "X-Frame: %llu\r\n\r\n", f->len,
		    (long long)f->captured.tv_sec, f->captured.tv_nsec / 1000,
		    (unsigned long long)f->seq);

		pthread_mutex_lock(&cam->lock);
		cam->captured++;
		cam->encoded++;
		cam->encode_ns += (uint64_t)(ts_diff(&t1, &t0) * 1e9);
		old = cam->slot;
		cam->slot = f;
		was_empty = old == NULL;
		if (old != NULL)
			cam->replaced++;
		pthread_mutex_unlock(&cam->lock);
		if (old != NULL) {
			/* Never seen by the loop: nobody else holds it. */
			jpeg_data_free(old->jpeg);
			free(old);
		}
		if (was_empty)
			unused = write(cam->efd, &one, sizeof one);
		(void)unused;	/* EAGAIN: already readable */
		pthread_mutex_lock(&cam->lock);
	}
	pthread_mutex_unlock(&cam->lock);
	jpeg_free(jp);
	free(y);
	free(u);
	free(v);
	return NULL;
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

static void
camera_deliver(struct camera *cam, struct frame *f)
{
	struct viewer	*vw;
	struct snap	*sn;
	struct timespec	 now;
	double		 dt;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (cam->last_frame.tv_sec != 0) {
		dt = ts_diff(&now, &cam->last_frame);
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
		http_stream_write(vw->req, f->head, f->head_len);
		f->refs++;
		if (http_stream_write_ref(vw->req, f->jpeg, f->len, frame_sent,
		    f) != 0)
			f->refs--;
		http_stream_write(vw->req, "\r\n", 2);
		vw->sent++;
	}
	while ((sn = LIST_FIRST(&cam->snaps)) != NULL) {
		LIST_REMOVE(sn, entry);
		cam->nsnaps--;
		camera_want(cam, -1);
		http_request_set_close_cb(sn->req, NULL, NULL);
		http_reply_header(sn->req, "Cache-Control", "no-store");
		http_reply(sn->req, 200, "image/jpeg", f->jpeg, f->len);
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
		http_reply(req, 200, "multipart/x-mixed-replace;boundary="
		    BOUNDARY, NULL, 0);
		return;
	}
	vw = xcalloc(1, sizeof *vw);
	vw->cam = cam;
	vw->req = req;
	clock_gettime(CLOCK_MONOTONIC, &vw->since);
	http_reply_header(req, "Cache-Control", "no-store");
	if (http_stream_start(req, 200, "multipart/x-mixed-replace;boundary="
	    BOUNDARY) != 0) {
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
	json_t		*arr;
	uint64_t	 captured, encoded, replaced, enc_ns;
	double		 age;

	pthread_mutex_lock(&cam->lock);
	captured = cam->captured;
	encoded = cam->encoded;
	replaced = cam->replaced;
	enc_ns = cam->encode_ns;
	pthread_mutex_unlock(&cam->lock);
	clock_gettime(CLOCK_MONOTONIC, &now);
	arr = json_array();
	LIST_FOREACH(vw, &cam->viewers, entry) {
		age = ts_diff(&now, &vw->since);
		json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:f}",
		    "peer", http_request_peer(vw->req),
		    "frames", (json_int_t)vw->sent,
		    "skipped", (json_int_t)vw->skipped,
		    "fps", age > 0 ? (double)vw->sent / age : 0.0));
	}
	reply_json(req, 200, json_pack("{s:s, s:I, s:I, s:I, s:f, s:I, s:I,"
	    " s:I, s:I, s:I, s:I, s:f, s:o}",
	    "source", cam->source, "width", (json_int_t)cam->width,
	    "height", (json_int_t)cam->height,
	    "fps_wanted", (json_int_t)cam->fps,
	    "fps_delivered", cam->nviewers + cam->nsnaps > 0 ?
	    cam->fps_seen : 0.0,
	    "quality", (json_int_t)cam->quality,
	    "viewers", (json_int_t)cam->nviewers,
	    "viewers_total", (json_int_t)cam->viewers_total,
	    "frames_captured", (json_int_t)captured,
	    "frames_encoded", (json_int_t)encoded,
	    "frames_dropped", (json_int_t)replaced,
	    "encode_ms", encoded > 0 ? (double)enc_ns / (double)encoded /
	    1e6 : 0.0,
	    "per_viewer", arr));
}

/* "testpattern", "testpattern:640x480", "testpattern:640x480@30". */
static int
parse_source(struct camera *cam, const char *s)
{
	unsigned	w = 640, h = 480, fps = 30;
	int		n = 0;

	if (strncmp(s, "testpattern", 11) != 0)
		return -1;
	s += 11;
	if (*s == ':') {
		if (sscanf(s, ":%ux%u%n", &w, &h, &n) != 2)
			return -1;
		s += n;
		if (*s == '@') {
			if (sscanf(s, "@%u%n", &fps, &n) != 1)
				return -1;
			s += n;
		}
	}
	if (*s != '\0' || w < 16 || h < 16 || w > 7680 || h > 4320 ||
	    w % 2 != 0 || h % 2 != 0 || fps < 1 || fps > 240)
		return -1;
	cam->width = w;
	cam->height = h;
	cam->fps = fps;
	return 0;
}

struct camera *
camera_new(struct event_base *base, const struct camera_config *cfg,
    const char **err)
{
	struct camera	*cam;
	int		 error;

	cam = xcalloc(1, sizeof *cam);
	if (parse_source(cam, cfg->source) != 0) {
		*err = "unknown camera source (this build has "
		    "testpattern[:WxH[@FPS]], even W and H)";
		free(cam);
		return NULL;
	}
	cam->base = base;
	cam->source = xstrdup(cfg->source);
	cam->quality = cfg->quality;
	cam->max_viewers = cfg->max_viewers;
	LIST_INIT(&cam->viewers);
	LIST_INIT(&cam->snaps);
	if ((cam->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		fatal("camera: eventfd");
	cam->ev = event_new(base, cam->efd, EV_READ | EV_PERSIST,
	    camera_readable, cam);
	if (cam->ev == NULL || event_add(cam->ev, NULL) != 0)
		fatalx("camera: cannot watch the wakeup fd");
	if (pthread_mutex_init(&cam->lock, NULL) != 0 ||
	    pthread_cond_init(&cam->wake, NULL) != 0)
		fatalx("camera: cannot initialise locks");
	if ((error = pthread_create(&cam->thread, NULL, camera_main,
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
	if (cam == NULL)
		return;
	pthread_mutex_lock(&cam->lock);
	cam->stopping = 1;
	pthread_cond_signal(&cam->wake);
	pthread_mutex_unlock(&cam->lock);
	pthread_join(cam->thread, NULL);
	if (cam->slot != NULL) {
		jpeg_data_free(cam->slot->jpeg);
		free(cam->slot);
	}
	event_free(cam->ev);
	close(cam->efd);
	pthread_cond_destroy(&cam->wake);
	pthread_mutex_destroy(&cam->lock);
	free(cam->source);
	free(cam);
}
