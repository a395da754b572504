/* api_events.h - GET /api/events: what happens, as Server-Sent Events. */
#ifndef SC_API_EVENTS_H
#define SC_API_EVENTS_H

struct api_camera;
struct api_events;
struct api_server;
struct event_base;
struct router;

/*
 * Watches the job table, the archives and the camera of sv (which stay
 * the caller's) and serves the stream. cam may be NULL.
 */
struct api_events *api_events_register(struct router *, struct event_base *,
		    const struct api_server *sv, struct api_camera *cam);
/* Stops watching the camera (freed before the jobs are done with). */
void		 api_events_forget_camera(struct api_events *);
/* After the HTTP server (its close callbacks end the clients) and after
 * the jobs and the archiver are freed. */
void		 api_events_free(struct api_events *);

#endif
