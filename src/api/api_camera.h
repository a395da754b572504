/* api_camera.h - the camera over HTTP: stream, snapshot, figures. */
#ifndef SC_API_CAMERA_H
#define SC_API_CAMERA_H

#include <jansson.h>

struct api_camera;
struct evbuffer;
struct camera;
struct router;

/* Routes to cam; over max_viewers, /stream.mjpg answers 503. */
struct api_camera *api_camera_register(struct router *, struct camera *cam,
		    unsigned max_viewers);
/* The figures of /api/camera, without the list of viewers. */
json_t		*api_camera_json(struct api_camera *);
/* The camera's figures as Prometheus text, appended to b. */
void		 api_camera_metrics(struct api_camera *, struct evbuffer *b);
/* After the HTTP server is gone (its close callbacks end the viewers). */
void		 api_camera_free(struct api_camera *);

#endif
