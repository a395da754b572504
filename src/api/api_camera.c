/*
 * api_camera.c - the camera's viewers over HTTP: /stream.mjpg,
 * /snapshot.jpg and /api/camera.
 *
 * Each viewer and each snapshot waiter is a subscription to the camera,
 * which captures while there is any. Every frame goes to every viewer as
 * a part of a multipart/x-mixed-replace stream, by reference (head, JPEG
 * and tail are attached to the socket's buffer, never copied; the
 * frame's count keeps it alive until the socket has taken the bytes). A
 * viewer still sending the previous frame skips this one, so each holds
 * at most one frame whatever its speed, and one that stops reading is
 * dropped by the HTTP layer's write timeout.
 */
#include "config.h"

#include <sys/queue.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api/api_camera.h"
#include "camera/camera.h"
#include "camera/frame.h"
#include "camera/multipart.h"
#include "http/http.h"
#include "http/reply.h"
#include "http/router.h"
#include "lib/log.h"
#include "lib/mono.h"
#include "lib/prom.h"
#include "lib/xmalloc.h"

struct api_camera {
	struct camera		*cam;
	unsigned		 max_viewers;
	LIST_HEAD(, viewer)	 viewers;
	unsigned		 nviewers;
	uint64_t		 viewers_total;
	uint64_t		 frames_sent;	/* to all viewers, ever */
	uint64_t		 frames_skipped;
};

struct viewer {
	LIST_ENTRY(viewer)	 entry;
	struct api_camera	*api;
	struct http_request	*req;
	struct camera_sub	*sub;
	uint64_t		 sent, skipped;
	struct timespec		 since;		/* CLOCK_MONOTONIC */
};

struct snap {
	struct api_camera	*api;
	struct http_request	*req;
	struct camera_sub	*sub;
};

/* evbuffer cleanup: a viewer's socket has taken the bytes. */
static void
viewer_sent(const void *data, size_t len, void *arg)
{
	frame_unref(arg);
}

static void
viewer_frame(struct frame *f, void *arg)
{
	struct viewer	*vw = arg;

	/* Still sending the last one: skip to the next frame. */
	if (http_stream_pending(vw->req) > 0) {
		vw->skipped++;
		vw->api->frames_skipped++;
		return;
	}
	/*
	 * All three pieces by reference: no copy and no buffer allocation
	 * per viewer. The head lives in the frame, which the JPEG's
	 * reference (queued after it) keeps alive.
	 */
	frame_ref(f);
	if (http_stream_write_ref(vw->req, f->head, f->head_len, NULL,
	    NULL) != 0 || http_stream_write_ref(vw->req, f->jpeg, f->len,
	    viewer_sent, f) != 0) {
		frame_unref(f);
		return;		/* the connection is going away */
	}
	http_stream_write_ref(vw->req, MULTIPART_TAIL,
	    sizeof MULTIPART_TAIL - 1, NULL, NULL);
	vw->sent++;
	vw->api->frames_sent++;
}

static void
viewer_free(struct viewer *vw)
{
	LIST_REMOVE(vw, entry);
	vw->api->nviewers--;
	camera_unsubscribe(vw->sub);
	free(vw);
}

static void
viewer_gone(struct http_request *req, void *arg)
{
	viewer_free(arg);
}

/* A snapshot asked for while the source fails gets the reason, not
 * the placeholder picture: scripts should not mistake it for a frame. */
static void
snap_failed(struct api_camera *api, struct http_request *req)
{
	struct camera_stats	st;

	camera_stats(api->cam, &st);
	http_reply_header(req, "Retry-After", "1");
	reply_problem(req, 503, "the camera source is failing: %s", st.error);
}

static void
snap_frame(struct frame *f, void *arg)
{
	struct snap	*sn = arg;

	camera_unsubscribe(sn->sub);
	http_request_set_close_cb(sn->req, NULL, NULL);
	if (f->placeholder)
		snap_failed(sn->api, sn->req);
	else {
		http_reply_header(sn->req, "Cache-Control", "no-store");
		http_reply(sn->req, 200, "image/jpeg", f->jpeg, f->len);
	}
	free(sn);
}

static void
snap_gone(struct http_request *req, void *arg)
{
	struct snap	*sn = arg;

	camera_unsubscribe(sn->sub);
	free(sn);
}

static void
api_camera_stream(struct http_request *req, const struct router_params *params,
    void *arg)
{
	struct api_camera	*api = arg;
	struct viewer		*vw;

	if (api->nviewers >= api->max_viewers) {
		http_reply_header(req, "Retry-After", "5");
		reply_problem(req, 503, "%u viewers already (the limit); try "
		    "again later", api->nviewers);
		return;
	}
	vw = xcalloc(1, sizeof *vw);
	vw->api = api;
	vw->req = req;
	clock_gettime(CLOCK_MONOTONIC, &vw->since);
	http_reply_header(req, "Cache-Control", "no-store");
	if (http_stream_start(req, 200, MULTIPART_TYPE) != 0) {
		free(vw);
		http_stream_end(req);	/* HEAD, or the client left */
		return;
	}
	LIST_INSERT_HEAD(&api->viewers, vw, entry);
	api->nviewers++;
	api->viewers_total++;
	http_request_set_close_cb(req, viewer_gone, vw);
	vw->sub = camera_subscribe(api->cam, viewer_frame, vw);
}

static void
api_camera_snapshot(struct http_request *req,
    const struct router_params *params, void *arg)
{
	struct api_camera	*api = arg;
	struct snap		*sn;

	sn = xcalloc(1, sizeof *sn);
	sn->api = api;
	sn->req = req;
	http_request_set_close_cb(req, snap_gone, sn);
	sn->sub = camera_subscribe(api->cam, snap_frame, sn);
}

json_t *
api_camera_json(struct api_camera *api)
{
	struct camera_stats	 st;
	json_t			*o;

	camera_stats(api->cam, &st);
	o = json_pack("{s:s, s:s, s:s?, s:s, s:I, s:I, s:I, s:f, s:I, s:I, s:I,"
	    " s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
	    "source", st.source,
	    "state", st.state,
	    "error", st.error[0] != '\0' ? st.error : NULL,
	    "format", st.format,
	    "width", (json_int_t)st.width,
	    "height", (json_int_t)st.height,
	    "fps_wanted", (json_int_t)st.fps_wanted,
	    "fps_delivered", st.fps_delivered,
	    "quality", (json_int_t)st.quality,
	    "viewers", (json_int_t)api->nviewers,
	    "viewers_total", (json_int_t)api->viewers_total,
	    "frames_captured", (json_int_t)st.frames_captured,
	    "frames_encoded", (json_int_t)st.frames_encoded,
	    "frames_passed_through", (json_int_t)st.frames_passed,
	    "frames_placeholder", (json_int_t)st.frames_placeholder,
	    "frames_dropped", (json_int_t)st.frames_dropped,
	    "failures", (json_int_t)st.failures,
	    "encode_ms", st.encode_ms);
	if (o == NULL)
		fatalx("api_camera: cannot build the /api/camera reply");
	return o;
}

void
api_camera_metrics(struct api_camera *api, struct evbuffer *b)
{
	struct camera_stats	 st;
	const char		*name;
	char			 labels[64];
	unsigned		 i;

	camera_stats(api->cam, &st);
	prom_family(b, "stockcam_camera_viewers", "gauge",
	    "Viewers of the MJPEG stream now.");
	prom_u64(b, "stockcam_camera_viewers", NULL, api->nviewers);
	prom_family(b, "stockcam_camera_viewers_total", "counter",
	    "Viewers that started watching.");
	prom_u64(b, "stockcam_camera_viewers_total", NULL,
	    api->viewers_total);
	prom_family(b, "stockcam_camera_frames_captured_total", "counter",
	    "Frames taken from the source.");
	prom_u64(b, "stockcam_camera_frames_captured_total", NULL,
	    st.frames_captured);
	prom_family(b, "stockcam_camera_frames_encoded_total", "counter",
	    "Frames encoded to JPEG (the rest came as JPEG already).");
	prom_u64(b, "stockcam_camera_frames_encoded_total", NULL,
	    st.frames_encoded);
	prom_family(b, "stockcam_camera_frames_sent_total", "counter",
	    "Frames queued to viewers, summed over viewers.");
	prom_u64(b, "stockcam_camera_frames_sent_total", NULL,
	    api->frames_sent);
	prom_family(b, "stockcam_camera_frames_skipped_total", "counter",
	    "Frames a viewer skipped, still sending the one before.");
	prom_u64(b, "stockcam_camera_frames_skipped_total", NULL,
	    api->frames_skipped);
	prom_family(b, "stockcam_camera_frames_dropped_total", "counter",
	    "Frames replaced before the loop took them.");
	prom_u64(b, "stockcam_camera_frames_dropped_total", NULL,
	    st.frames_dropped);
	prom_family(b, "stockcam_camera_source_failures_total", "counter",
	    "Times the source failed.");
	prom_u64(b, "stockcam_camera_source_failures_total", NULL,
	    st.failures);
	prom_family(b, "stockcam_camera_encode_duration_seconds",
	    "histogram", "Time to encode one frame to JPEG.");
	prom_histo(b, "stockcam_camera_encode_duration_seconds", NULL,
	    &st.encode_time);
	prom_family(b, "stockcam_camera_source_state", "gauge",
	    "The source's state: 1 for the one it is in.");
	for (i = 0; (name = camera_state_name(i)) != NULL; i++) {
		snprintf(labels, sizeof labels, "state=\"%s\"", name);
		prom_u64(b, "stockcam_camera_source_state", labels,
		    strcmp(name, st.state) == 0);
	}
}

static void
api_camera_info(struct http_request *req, const struct router_params *params,
    void *arg)
{
	struct api_camera	*api = arg;
	struct viewer		*vw;
	struct timespec		 now;
	json_t			*arr, *o;
	double			 age;

	clock_gettime(CLOCK_MONOTONIC, &now);
	arr = json_array();
	LIST_FOREACH(vw, &api->viewers, entry) {
		age = mono_diff_s(&vw->since, &now);
		json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:f}",
		    "peer", http_request_peer(vw->req),
		    "frames", (json_int_t)vw->sent,
		    "skipped", (json_int_t)vw->skipped,
		    "fps", age > 0 ? (double)vw->sent / age : 0.0));
	}
	o = api_camera_json(api);
	json_object_set_new(o, "per_viewer", arr);
	reply_json(req, 200, o);
}

struct api_camera *
api_camera_register(struct router *r, struct camera *cam,
    unsigned max_viewers)
{
	struct api_camera	*api;

	api = xcalloc(1, sizeof *api);
	api->cam = cam;
	api->max_viewers = max_viewers;
	LIST_INIT(&api->viewers);
	router_add(r, HTTP_GET, "/stream.mjpg", api_camera_stream, api);
	router_add(r, HTTP_GET, "/snapshot.jpg", api_camera_snapshot, api);
	router_add(r, HTTP_GET, "/api/camera", api_camera_info, api);
	return api;
}

void
api_camera_free(struct api_camera *api)
{
	if (api == NULL)
		return;
	while (!LIST_EMPTY(&api->viewers))	/* the server closed them */
		viewer_free(LIST_FIRST(&api->viewers));
	free(api);
}
