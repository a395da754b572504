/* camera.h - the live camera: capture thread, JPEG, MJPEG fan-out. */
#ifndef SC_CAMERA_H
#define SC_CAMERA_H

struct camera;
struct event_base;
struct router;

struct camera_config {
	const char	*source;	/* --camera, see camsrc.h */
	int		 quality;	/* JPEG 1..100 */
	unsigned	 max_viewers;
};

/* 0 if --camera names a source camera_new accepts, else -1 and *err. */
int		 camera_check_source(const char *, const char **err);
/* NULL with *err (static) for a source it cannot open. */
struct camera	*camera_new(struct event_base *, const struct camera_config *,
		    const char **err);
/* GET /stream.mjpg, /snapshot.jpg, /api/camera. */
void		 camera_register(struct camera *, struct router *);
/* After the HTTP server is gone (its close callbacks touch the camera). */
void		 camera_free(struct camera *);

#endif
