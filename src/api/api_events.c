/*
 * api_events.c - GET /api/events: what happens, as Server-Sent Events.
 *
 * Jobs created, changed (with just the symbols that changed) and
 * finished, jobs removed, archives written and camera state changes are
 * events with an id, "RUN-SEQ": RUN names this run of the server, SEQ
 * counts from 1. The last EVENTS_BACKLOG of them are kept, so a client
 * that reconnects with Last-Event-ID (or ?last_event_id=) gets what it
 * missed; one that asks for more than is kept (EVENTS_BACKLOG events of
 * at most EVENTS_BACKLOG_BYTES), more than half of what a client may
 * have unsent (it would be dropped before it caught up), or another
 * run's events, gets a `reset` event instead and reloads what it shows. The
 * server's figures go out once a second as `stats`, without an id (they
 * are not replayed: the next one says it all), and a comment every 15 s
 * keeps proxies and idle clients from closing the stream. A client
 * first gets `history`, the chart figures of the last EVENTS_HISTORY
 * seconds, so a page opened (or reloaded) now draws five minutes at once.
 *
 * Each event is rendered once into a counted buffer and attached to
 * every client's socket by reference; the last socket to send it frees
 * it. A client with more than EVENTS_CLIENT_MAX bytes still unsent is not
 * reading: it is dropped at once, as the write timeout drops one whose
 * socket takes nothing at all. Each stream is an HTTP connection, so it
 * counts against --max-connections like any other.
 *
 * Job events are coalesced by the job table (jobs_watch): at most one
 * per job every EVENTS_COALESCE_MS, so the cost of a busy job is bounded
 * whatever its size and the number of clients.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/time.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "api/api.h"
#include "api/api_camera.h"
#include "api/api_events.h"
#include "http/http.h"
#include "http/router.h"
#include "jobs/job_json.h"
#include "jobs/jobs.h"
#include "jobs/stockjob.h"
#include "lib/log.h"
#include "lib/mono.h"
#include "lib/pool.h"
#include "lib/xmalloc.h"
#include "stock/archiver.h"

#define EVENTS_BACKLOG		1024	/* events kept for Last-Event-ID */
#define EVENTS_BACKLOG_BYTES	(8 * 1024 * 1024)	/* and their bytes */
#define EVENTS_CLIENT_MAX	(1024 * 1024)	/* unsent: then dropped */
#define EVENTS_SNDBUF		(64 * 1024)	/* each client's socket */
#define EVENTS_COALESCE_MS	100
#define EVENTS_HEARTBEAT_S	15
#define EVENTS_RETRY_MS		2000	/* the browser's reconnect delay */
#define EVENTS_HISTORY		300	/* seconds of figures for charts */

static const char events_ping[] = ": ping\n\n";

/* One rendered event, shared by every client it is queued for. */
struct ev_msg {
	unsigned	 refs;
	uint64_t	 seq;		/* in the ring, or 0 */
	size_t		 len;
	char		 text[];
};

/* What the charts draw, once a second. */
struct ev_sample {
	double		 uptime_s;
	uint64_t	 jobs_created, symbols_done;
	unsigned	 queued[3];	/* fetch, convert, cpu */
};

struct ev_client {
	LIST_ENTRY(ev_client)	 entry;
	struct api_events	*ev;
	struct http_request	*req;
};

struct api_events {
	const struct api_server	*sv;
	struct api_camera	*cam;
	char			 run[24];
	uint64_t		 seq;		/* the last event's */
	struct ev_msg		*ring[EVENTS_BACKLOG];
	unsigned		 oldest, count;	/* in ring */
	size_t			 ring_bytes;
	LIST_HEAD(, ev_client)	 clients;
	unsigned		 nclients;
	uint64_t		 dropped;	/* clients too slow */
	struct ev_sample	 history[EVENTS_HISTORY];
	unsigned		 hist_next, hist_count;
	char			 cam_state[32];
	char			*cam_error;
	struct event		*tick, *heartbeat;
};

/* --- events --- */

static void
ev_msg_unref(struct ev_msg *m)
{
	if (--m->refs == 0)
		free(m);
}

/* evbuffer cleanup: a socket has sent (or dropped) the bytes. */
static void
ev_msg_sent(const void *data, size_t len, void *arg)
{
	ev_msg_unref(arg);
}

/*
 * "id: RUN-SEQ\nevent: TYPE\ndata: JSON\n\n" (no id line when with_id
 * is 0); steals data.
 */
static struct ev_msg *
ev_msg_new(struct api_events *ev, const char *type, json_t *data,
    uint64_t seq, int with_id)
{
	struct ev_msg	*m;
	char		*json, id[64] = "";
	size_t		 cap;

	if ((json = json_dumps(data, JSON_COMPACT)) == NULL)
		fatalx("events: cannot render a %s event", type);
	json_decref(data);
	if (with_id)
		snprintf(id, sizeof id, "id: %s-%" PRIu64 "\n", ev->run, seq);
	cap = strlen(id) + strlen(type) + strlen(json) + 32;
	m = xmalloc(sizeof *m + cap);
	m->refs = 1;
	m->seq = seq;
	m->len = (size_t)snprintf(m->text, cap, "%sevent: %s\ndata: %s\n\n",
	    id, type, json);
	free(json);
	return m;
}

static void
ev_client_free(struct ev_client *c)
{
	LIST_REMOVE(c, entry);
	c->ev->nclients--;
	free(c);
}

static void
ev_client_gone(struct http_request *req, void *arg)
{
	ev_client_free(arg);
}

/* Queues bytes for one client: 0, or -1 when it was dropped. */
static int
ev_client_write(struct ev_client *c, const char *text, size_t len,
    struct ev_msg *m)
{
	struct api_events	*ev = c->ev;
	int			 rv;

	if (http_stream_pending(c->req) > EVENTS_CLIENT_MAX) {
		log_info("events: %s is not reading; dropped",
		    http_request_peer(c->req));
		ev->dropped++;
		http_stream_abort(c->req);
		ev_client_free(c);
		return -1;
	}
	if (m == NULL)
		return http_stream_write_ref(c->req, text, len, NULL, NULL);
	m->refs++;
	if ((rv = http_stream_write_ref(c->req, m->text, m->len, ev_msg_sent,
	    m)) != 0)
		m->refs--;
	return rv;
}

static void
ev_broadcast(struct api_events *ev, struct ev_msg *m)
{
	struct ev_client	*c, *next;

	for (c = LIST_FIRST(&ev->clients); c != NULL; c = next) {
		next = LIST_NEXT(c, entry);
		ev_client_write(c, NULL, 0, m);
	}
}

/* A new event with an id: kept for resuming, sent to every client. */
static void
ev_emit(struct api_events *ev, const char *type, json_t *data)
{
	struct ev_msg	*m = ev_msg_new(ev, type, data, ++ev->seq, 1);

	while (ev->count == EVENTS_BACKLOG || (ev->count > 0 &&
	    ev->ring_bytes + m->len > EVENTS_BACKLOG_BYTES)) {
		ev->ring_bytes -= ev->ring[ev->oldest]->len;
		ev_msg_unref(ev->ring[ev->oldest]);
		ev->oldest = (ev->oldest + 1) % EVENTS_BACKLOG;
		ev->count--;
	}
	ev->ring[(ev->oldest + ev->count) % EVENTS_BACKLOG] = m;
	ev->count++;			/* the ring's reference */
	ev->ring_bytes += m->len;
	ev_broadcast(ev, m);
}

/* --- what is watched --- */

static void
ev_job(struct job *job, unsigned events, void *arg)
{
	struct api_events	*ev = arg;

	if (events & JOB_EV_REMOVED) {
		ev_emit(ev, "job.removed", json_pack("{s:I}", "id",
		    (json_int_t)job_id(job)));
		return;
	}
	if (events & JOB_EV_CREATED) {
		ev_emit(ev, "job.created", job_json_changes(job));
		if (events & JOB_EV_FINISHED)
			ev_emit(ev, "job.finished", job_json(job, 0));
	} else if (events & JOB_EV_FINISHED)
		ev_emit(ev, "job.finished", job_json_changes(job));
	else
		ev_emit(ev, "job.changed", job_json_changes(job));
}

static void
ev_archive(const struct archiver_archive *a, void *arg)
{
	struct api_events	*ev = arg;
	struct timeval		 now;

	gettimeofday(&now, NULL);
	ev_emit(ev, "archive", json_pack("{s:s, s:I, s:I, s:o}",
	    "name", a->name, "bytes", (json_int_t)a->bytes,
	    "entries", (json_int_t)a->entries, "mtime", job_json_time(&now)));
}

/* Remembers the camera's state and error: 1 if they changed. */
static int
ev_camera_changed(struct api_events *ev, json_t *cam)
{
	const char	*state, *error;

	state = json_string_value(json_object_get(cam, "state"));
	error = json_string_value(json_object_get(cam, "error"));
	if (state == NULL)
		state = "";
	if (strcmp(state, ev->cam_state) == 0 &&
	    (error == NULL) == (ev->cam_error == NULL) &&
	    (error == NULL || strcmp(error, ev->cam_error) == 0))
		return 0;
	snprintf(ev->cam_state, sizeof ev->cam_state, "%s", state);
	free(ev->cam_error);
	ev->cam_error = error != NULL ? xstrdup(error) : NULL;
	return 1;
}

static void
ev_sample(struct api_events *ev)
{
	struct ev_sample	*s = &ev->history[ev->hist_next];
	struct jobs_stats	 js;
	struct stockjob_stats	 ss;
	struct pool		*pools[3] = { ev->sv->fetch_pool,
				    ev->sv->convert_pool, ev->sv->cpu_pool };
	struct pool_stats	 ps;
	unsigned		 i;

	jobs_get_stats(ev->sv->jobs, &js);
	stockjob_get_stats(ev->sv->stock, &ss);
	s->uptime_s = mono_since_s(&ev->sv->started);
	s->jobs_created = js.created;
	s->symbols_done = ss.symbols_succeeded + ss.symbols_failed;
	for (i = 0; i < 3; i++) {
		pool_get_stats(pools[i], &ps);
		s->queued[i] = ps.queued;
	}
	ev->hist_next = (ev->hist_next + 1) % EVENTS_HISTORY;
	if (ev->hist_count < EVENTS_HISTORY)
		ev->hist_count++;
}

/* The `history` event: the samples, oldest first, as rows. */
static struct ev_msg *
ev_history(struct api_events *ev)
{
	const struct ev_sample	*s;
	json_t			*rows;
	unsigned		 i;

	rows = json_array();
	for (i = 0; i < ev->hist_count; i++) {
		s = &ev->history[(ev->hist_next + EVENTS_HISTORY -
		    ev->hist_count + i) % EVENTS_HISTORY];
		json_array_append_new(rows, json_pack("[f, I, I, I, I, I]",
		    s->uptime_s, (json_int_t)s->jobs_created,
		    (json_int_t)s->symbols_done, (json_int_t)s->queued[0],
		    (json_int_t)s->queued[1], (json_int_t)s->queued[2]));
	}
	return ev_msg_new(ev, "history", json_pack("{s:i, s:[s, s, s, s, s, s],"
	    " s:o}", "interval_s", 1, "columns", "uptime_s", "jobs_created",
	    "symbols_done", "fetch_queued", "convert_queued", "cpu_queued",
	    "samples", rows), 0, 0);
}

static void
ev_tick(evutil_socket_t fd, short what, void *arg)
{
	struct api_events	*ev = arg;
	struct ev_msg		*m;
	json_t			*st, *cam = NULL;

	ev_sample(ev);
	if (ev->cam != NULL) {
		cam = api_camera_json(ev->cam);
		if (ev_camera_changed(ev, cam))
			ev_emit(ev, "camera", json_incref(cam));
	}
	if (ev->nclients == 0) {
		json_decref(cam);
		return;
	}
	st = api_stats_json(ev->sv);
	if (cam != NULL)
		json_object_set_new(st, "camera", cam);
	json_object_set_new(st, "events", json_pack("{s:I, s:I, s:I}",
	    "clients", (json_int_t)ev->nclients,
	    "dropped", (json_int_t)ev->dropped,
	    "last_id", (json_int_t)ev->seq));
	m = ev_msg_new(ev, "stats", st, 0, 0);
	ev_broadcast(ev, m);
	ev_msg_unref(m);
}

static void
ev_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct api_events	*ev = arg;
	struct ev_client	*c, *next;

	for (c = LIST_FIRST(&ev->clients); c != NULL; c = next) {
		next = LIST_NEXT(c, entry);
		ev_client_write(c, events_ping, sizeof events_ping - 1, NULL);
	}
}

/* --- GET /api/events --- */

/*
 * Where a client that saw `id` resumes: the first kept event after it
 * (ev->count when it is up to date), or -1 when what it missed is gone
 * or too much to send before the client would be dropped for it.
 */
static long
ev_resume_at(const struct api_events *ev, const char *id)
{
	size_t		 rl = strlen(ev->run), bytes = 0;
	uint64_t	 seq, first;
	unsigned	 i;
	char		*end;

	if (strncmp(id, ev->run, rl) != 0 || id[rl] != '-' ||
	    id[rl + 1] < '0' || id[rl + 1] > '9')
		return -1;
	seq = strtoull(id + rl + 1, &end, 10);
	if (*end != '\0' || seq > ev->seq)
		return -1;
	first = ev->count > 0 ? ev->ring[ev->oldest]->seq : ev->seq + 1;
	if (seq + 1 < first)
		return -1;
	for (i = (unsigned)(seq + 1 - first); i < ev->count; i++) {
		bytes += ev->ring[(ev->oldest + i) % EVENTS_BACKLOG]->len;
		if (bytes > EVENTS_CLIENT_MAX / 2)
			return -1;
	}
	return (long)(seq + 1 - first);
}

static void
ev_stream(struct http_request *req, const struct router_params *params,
    void *arg)
{
	struct api_events	*ev = arg;
	struct ev_client	*c;
	struct ev_msg		*m;
	const char		*last;
	char			 hello[160];
	long			 at;
	unsigned		 i;

	last = http_request_header(req, "Last-Event-ID");
	if (last == NULL)
		last = http_request_query(req, "last_event_id");
	http_reply_header(req, "Cache-Control", "no-store");
	http_reply_header(req, "X-Accel-Buffering", "no");
	if (http_stream_start(req, 200, "text/event-stream; charset=utf-8") !=
	    0) {
		http_stream_end(req);
		return;
	}
	/* Events are small: what a client has not read waits here, counted
	 * against EVENTS_CLIENT_MAX, not in megabytes of kernel buffer. */
	http_stream_set_sndbuf(req, EVENTS_SNDBUF);
	c = xcalloc(1, sizeof *c);
	c->ev = ev;
	c->req = req;
	LIST_INSERT_HEAD(&ev->clients, c, entry);
	ev->nclients++;
	http_request_set_close_cb(req, ev_client_gone, c);
	snprintf(hello, sizeof hello, "retry: %d\n: stockcam events, this run "
	    "%s, last id %s-%" PRIu64 "\n\n", EVENTS_RETRY_MS, ev->run,
	    ev->run, ev->seq);
	http_stream_write(req, hello, strlen(hello));
	m = ev_history(ev);
	ev_client_write(c, NULL, 0, m);	/* the first write: never a drop */
	ev_msg_unref(m);
	if (last == NULL || *last == '\0')
		return;
	if ((at = ev_resume_at(ev, last)) < 0) {
		/* Its id, the last event's, moves the client to now. */
		m = ev_msg_new(ev, "reset", json_pack("{s:s}", "reason",
		    "the events after that id are no longer kept, are too "
		    "many to send, or the server restarted: reload"),
		    ev->seq, 1);
		ev_client_write(c, NULL, 0, m);
		ev_msg_unref(m);
		return;
	}
	for (i = (unsigned)at; i < ev->count; i++) {
		if (ev_client_write(c, NULL, 0, ev->ring[(ev->oldest + i) %
		    EVENTS_BACKLOG]) != 0)
			return;
	}
}

/* --- life --- */

struct api_events *
api_events_register(struct router *r, struct event_base *base,
    const struct api_server *sv, struct api_camera *cam)
{
	struct api_events	*ev;
	struct timeval		 tick = { 1, 0 }, beat = { EVENTS_HEARTBEAT_S, 0 };
	struct timeval		 now;
	json_t			*camjs;

	ev = xcalloc(1, sizeof *ev);
	ev->sv = sv;
	ev->cam = cam;
	if (cam != NULL) {		/* where changes are told from */
		camjs = api_camera_json(cam);
		ev_camera_changed(ev, camjs);
		json_decref(camjs);
	}
	LIST_INIT(&ev->clients);
	/* Distinct for each run: ids of an earlier run never resume here. */
	gettimeofday(&now, NULL);
	snprintf(ev->run, sizeof ev->run, "%llx", (unsigned long long)
	    now.tv_sec * 1000 + (unsigned long long)now.tv_usec / 1000);
	ev->tick = event_new(base, -1, EV_PERSIST, ev_tick, ev);
	ev->heartbeat = event_new(base, -1, EV_PERSIST, ev_heartbeat, ev);
	if (ev->tick == NULL || ev->heartbeat == NULL ||
	    event_add(ev->tick, &tick) != 0 ||
	    event_add(ev->heartbeat, &beat) != 0)
		fatalx("events: cannot start the timers");
	jobs_watch(sv->jobs, EVENTS_COALESCE_MS, ev_job, ev);
	stockjob_watch_archives(sv->stock, ev_archive, ev);
	router_add(r, HTTP_GET, "/api/events", ev_stream, ev);
	return ev;
}

void
api_events_forget_camera(struct api_events *ev)
{
	if (ev != NULL)
		ev->cam = NULL;
}

void
api_events_free(struct api_events *ev)
{
	unsigned	i;

	if (ev == NULL)
		return;
	while (!LIST_EMPTY(&ev->clients))	/* the server closed them */
		ev_client_free(LIST_FIRST(&ev->clients));
	for (i = 0; i < ev->count; i++)
		ev_msg_unref(ev->ring[(ev->oldest + i) % EVENTS_BACKLOG]);
	event_free(ev->tick);
	event_free(ev->heartbeat);
	free(ev->cam_error);
	free(ev);
}
