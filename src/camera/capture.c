/*
 * capture.c - the camera's capture thread.
 *
 * It runs while the camera has subscribers (camera.c keeps the count):
 * opens the source, takes a frame (pacing files and the pattern to their
 * rate; devices pace themselves), encodes it once with TurboJPEG, or
 * copies a device's own JPEG as it is, and leaves it in the camera's
 * one-frame slot, writing the eventfd when the slot was empty. A frame
 * the loop has not taken yet is replaced, not queued.
 *
 * A source that fails is closed and opened again every RETRY_MS; until
 * it works, and while a source stays silent for STALL_MS, viewers get a
 * "no signal" frame with the reason about once a second. A device (which
 * paces itself) silent for HUNG_MS is taken for hung and opened again;
 * a pipe is only waited for, its producer may just be slow.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "camera/camera_int.h"
#include "camera/camsrc.h"
#include "camera/frame.h"
#include "camera/jpegenc.h"
#include "camera/multipart.h"
#include "camera/placeholder.h"
#include "lib/log.h"
#include "lib/mono.h"
#include "lib/xmalloc.h"

#define RETRY_MS	1000	/* between attempts to reopen a source */
#define WAIT_MS		500	/* longest wait in the source for a frame */
#define STALL_MS	2000	/* no frame this long: show the placeholder */
#define HUNG_MS		5000	/* no frame from a device this long: reopen */

/* What the capture thread keeps between frames. */
struct capture {
	struct camera	*cam;
	struct jpegenc	*jp;
	struct timespec	 next;		/* when a paced frame is due */
	struct timespec	 last_good;	/* last frame from the source */
	struct timespec	 last_shown;	/* last placeholder */
	unsigned char	*py, *pu, *pv;	/* placeholder planes */
	unsigned	 pw, ph;
};

/* Hands a frame to the loop (called without the lock). */
static void
publish(struct camera *cam, struct frame *f)
{
	struct frame	*old;
	uint64_t	 one = 1;
	ssize_t		 unused;

	pthread_mutex_lock(&cam->lock);
	f->head_len = multipart_head(f->head, f->len, &f->captured,
	    cam->published++, f->placeholder);
	old = cam->slot;
	cam->slot = f;
	if (old != NULL)
		cam->replaced++;
	pthread_mutex_unlock(&cam->lock);
	if (old != NULL)
		frame_unref(old);	/* never seen by the loop */
	else {
		unused = write(cam->efd, &one, sizeof one);
		(void)unused;		/* EAGAIN: already readable */
	}
}

static void
set_state(struct camera *cam, enum camera_state st, const char *why)
{
	enum camera_state	old;

	pthread_mutex_lock(&cam->lock);
	old = cam->state;
	cam->state = st;
	if (st == CAMERA_FAILED && old != CAMERA_FAILED)
		cam->failures++;
	/* The last failure stays on show while idle: nothing has fixed it. */
	if (why != NULL)
		snprintf(cam->error, sizeof cam->error, "%s", why);
	else if (st == CAMERA_LIVE)
		cam->error[0] = '\0';
	pthread_mutex_unlock(&cam->lock);
	if (st == CAMERA_FAILED && old != CAMERA_FAILED)
		log_warn("camera: %s; retrying every %d ms", why, RETRY_MS);
	else if (st == CAMERA_STALLED && old != CAMERA_STALLED)
		log_warn("camera: %s", why);
	else if (st == CAMERA_LIVE && (old == CAMERA_FAILED ||
	    old == CAMERA_STALLED))
		log_info("camera: %s delivers frames again", cam->source);
}

/*
 * Encodes planes into f; on failure logs it (as "camera: what: why"),
 * drops f and returns -1.
 */
static int
encode(struct capture *cap, struct frame *f, enum jpegenc_samp samp,
    const unsigned char *const planes[3], const unsigned strides[3],
    unsigned w, unsigned h, const char *what)
{
	char		 err[JPEGENC_ERRLEN];

	f->jpeg = jpegenc_encode_yuv(cap->jp, samp, planes, strides, w, h,
	    cap->cam->quality, &f->len, err, sizeof err);
	if (f->jpeg != NULL)
		return 0;
	log_warn("camera: %s: %s", what, err);
	frame_unref(f);
	return -1;
}

/* Sends the "no signal" frame, at most about once a second. */
static void
show_placeholder(struct capture *cap, const char *why)
{
	struct camera	*cam = cap->cam;
	struct frame	*f;
	struct timespec	 now;
	const unsigned char *planes[3];
	unsigned	 strides[3], w, h, fps;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (cap->last_shown.tv_sec != 0 &&
	    mono_diff_s(&cap->last_shown, &now) < 0.9)
		return;
	cap->last_shown = now;

	/* The size viewers already have, made even and not too small. */
	camsrc_geometry(cam->src, &w, &h, &fps);
	w = w < 160 ? 160 : w & ~1U;
	h = h < 120 ? 120 : h & ~1U;
	if (w != cap->pw || h != cap->ph) {
		free(cap->py);
		free(cap->pu);
		free(cap->pv);
		cap->py = xmalloc((size_t)w * h);
		cap->pu = xmalloc((size_t)(w / 2) * (h / 2));
		cap->pv = xmalloc((size_t)(w / 2) * (h / 2));
		cap->pw = w;
		cap->ph = h;
	}
	f = frame_new();
	f->placeholder = 1;
	clock_gettime(CLOCK_REALTIME, &f->captured);
	placeholder_draw(cap->py, cap->pu, cap->pv, w, h, why, &f->captured);
	planes[0] = cap->py;
	planes[1] = cap->pu;
	planes[2] = cap->pv;
	strides[0] = w;
	strides[1] = strides[2] = w / 2;
	if (encode(cap, f, JPEGENC_420, planes, strides, w, h,
	    "placeholder") != 0)
		return;
	pthread_mutex_lock(&cam->lock);
	cam->placeholders++;
	pthread_mutex_unlock(&cam->lock);
	publish(cam, f);
}

static const enum jpegenc_samp layout_samp[] = {
	[CAMSRC_YUV420] = JPEGENC_420, [CAMSRC_YUV422] = JPEGENC_422,
	[CAMSRC_YUV444] = JPEGENC_444, [CAMSRC_GRAY] = JPEGENC_GRAY,
};

/* Encodes (or copies, for a device's own JPEG) and publishes a frame. */
static void
deliver_frame(struct capture *cap, const struct camsrc_frame *sf)
{
	struct camera	*cam = cap->cam;
	struct frame	*f;
	struct timespec	 t0, t1;
	unsigned	 fps;
	double		 age;
	int		 rv = 0;

	f = frame_new();
	clock_gettime(CLOCK_REALTIME, &f->captured);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* A device says when it took the frame: date the frame by that. */
	age = mono_diff_s(&sf->taken, &t0);
	if (sf->taken.tv_sec != 0 && age > 0 && age < 1)
		mono_add_ns(&f->captured, -(long)(age * 1e9));
	if (sf->layout == CAMSRC_JPEG) {
		f->jpeg = jpegenc_data_copy(sf->jpeg, sf->jpeg_len);
		f->len = sf->jpeg_len;
	} else
		rv = encode(cap, f, layout_samp[sf->layout], sf->planes,
		    sf->strides, sf->width, sf->height, "encode");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cap->last_good = t1;
	if (rv != 0)
		return;
	pthread_mutex_lock(&cam->lock);
	cam->captured++;
	if (sf->layout == CAMSRC_JPEG)
		cam->passed++;
	else {
		cam->encoded++;
		cam->encode_ns += (uint64_t)(mono_diff_s(&t0, &t1) * 1e9);
		histo_observe(&cam->encode_time, mono_diff_s(&t0, &t1));
	}
	camsrc_geometry(cam->src, &cam->width, &cam->height, &fps);
	cam->fps = fps;
	cam->format = camsrc_format(cam->src);
	pthread_mutex_unlock(&cam->lock);
	publish(cam, f);
}

static int
stopping(struct camera *cam)
{
	int	stop;

	pthread_mutex_lock(&cam->lock);
	stop = cam->stopping;
	pthread_mutex_unlock(&cam->lock);
	return stop;
}

/* Waits ms on the condition (viewers leaving or shutdown end it early). */
static void
nap(struct camera *cam, long ms)
{
	struct timespec	until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	mono_add_ns(&until, ms * 1000000L);
	pthread_mutex_lock(&cam->lock);
	while (cam->wanted > 0 && !cam->stopping &&
	    pthread_cond_timedwait(&cam->wake, &cam->lock, &until) == 0)
		;
	pthread_mutex_unlock(&cam->lock);
}

/* Sleeps until the next frame is due; after a stall, does not catch up. */
static void
pace(struct capture *cap)
{
	struct timespec	now;
	unsigned	w, h, fps;
	long		period;

	camsrc_geometry(cap->cam->src, &w, &h, &fps);
	period = 1000000000L / (long)(fps > 0 ? fps : 1);
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &cap->next, NULL);
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (mono_diff_s(&cap->next, &now) > (double)period / 1e9)
		cap->next = now;
	mono_add_ns(&cap->next, period);
}

/* One round: open if needed, then one frame, a wait, or a failure. */
static void
capture_once(struct capture *cap)
{
	struct camera		*cam = cap->cam;
	struct camsrc_frame	 sf;
	struct timespec		 now;
	char			 err[CAMSRC_ERRLEN], why[CAMSRC_ERRLEN + 64];
	double			 quiet;

	if (!cam->src->is_open) {
		if (camsrc_open(cam->src, err, sizeof err) != 0) {
			set_state(cam, CAMERA_FAILED, err);
			show_placeholder(cap, err);
			nap(cam, RETRY_MS);
			return;
		}
		clock_gettime(CLOCK_MONOTONIC, &cap->last_good);
		cap->next = cap->last_good;
	}
	if (camsrc_self_paced(cam->src))
		pace(cap);
	switch (camsrc_next(cam->src, &sf, WAIT_MS, err, sizeof err)) {
	case CAMSRC_FRAME:
		deliver_frame(cap, &sf);
		set_state(cam, CAMERA_LIVE, NULL);
		break;
	case CAMSRC_AGAIN:
		clock_gettime(CLOCK_MONOTONIC, &now);
		quiet = mono_diff_s(&cap->last_good, &now);
		if (quiet * 1000 >= HUNG_MS && !camsrc_self_paced(cam->src)) {
			snprintf(why, sizeof why, "the device sent no frame "
			    "for %.0f s", quiet);
			camsrc_close(cam->src);
			set_state(cam, CAMERA_FAILED, why);
			show_placeholder(cap, why);
		} else if (quiet * 1000 >= STALL_MS) {
			snprintf(why, sizeof why, "no frame from the source "
			    "for %.0f s", quiet);
			set_state(cam, CAMERA_STALLED, why);
			show_placeholder(cap, why);
		}
		break;
	case CAMSRC_FAILED:
		camsrc_close(cam->src);
		if (stopping(cam))	/* the wait was cancelled: no failure */
			break;
		set_state(cam, CAMERA_FAILED, err);
		show_placeholder(cap, err);
		nap(cam, RETRY_MS);
		break;
	}
}

void *
capture_main(void *arg)
{
	struct capture	 cap;
	struct camera	*cam = arg;
	sigset_t	 all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	memset(&cap, 0, sizeof cap);
	cap.cam = cam;
	cap.jp = jpegenc_new();

	pthread_mutex_lock(&cam->lock);
	for (;;) {
		if (cam->wanted == 0 && !cam->stopping) {
			/* Nobody watches: let the device or file go. */
			pthread_mutex_unlock(&cam->lock);
			camsrc_close(cam->src);
			set_state(cam, CAMERA_IDLE, NULL);
			cap.last_shown.tv_sec = 0;
			pthread_mutex_lock(&cam->lock);
			while (cam->wanted == 0 && !cam->stopping)
				pthread_cond_wait(&cam->wake, &cam->lock);
			if (cam->state == CAMERA_IDLE)
				cam->state = CAMERA_STARTING;
		}
		if (cam->stopping)
			break;
		pthread_mutex_unlock(&cam->lock);
		capture_once(&cap);
		pthread_mutex_lock(&cam->lock);
	}
	pthread_mutex_unlock(&cam->lock);
	camsrc_close(cam->src);
	jpegenc_free(cap.jp);
	free(cap.py);
	free(cap.pu);
	free(cap.pv);
	return NULL;
}
