/*
 * cmd_client_watch.c - following a job to its end: `stockcam watch` and
 * `submit --wait`.
 *
 * The job's news comes from GET /api/events (one stream; the job's
 * events carry its summary). Once the stream is open, the summary is
 * read once with GET, which closes the gap between the last look and the
 * stream; again after a `reset` event. Both run on one libcurl multi
 * handle, polled at most PROGRESS_TICK_MS at a time so the progress line
 * moves and Ctrl-C is noticed. A stream that ends (the server restarted)
 * is opened again with Last-Event-ID every second, for up to
 * WATCH_OUTAGE_S: jobs are durable, so a restart is no reason to give up.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cmd/cmd_client_int.h"
#include "lib/xmalloc.h"

#define PROGRESS_TICK_MS	200	/* redraw on a terminal at most */
#define PLAIN_EVERY_S		2.0	/* a plain line when not a terminal */
#define WATCH_OUTAGE_S		60.0
#define SSE_LINE_MAX		(4 * 1024 * 1024)

struct watch {
	const struct client	*cl;
	uint64_t		 id;
	CURLM			*multi;
	CURL			*sse, *get;
	struct curl_slist	*sse_headers;
	char			*line;		/* the SSE line being read */
	size_t			 llen, lcap;
	char			 ev_type[64];
	char			 ev_id[64];
	char			 last_id[64];	/* for Last-Event-ID */
	char			*ev_data;
	size_t			 dlen;
	char			*get_body;
	size_t			 get_len;
	int			 need_get;
	double			 get_at;	/* not before */
	int			 gone;		/* 404: the job is no more */
	json_t			*job;		/* newest summary seen */
	double			 down_since;	/* stream lost at, or 0 */
	double			 retry_at;
};

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int64_t
job_version(const json_t *job)
{
	return json_integer_value(json_object_get(job, "version"));
}

static const char *
job_state(const json_t *job)
{
	return cmd_client_str(job, "state", "?");
}

static int
job_done(const json_t *job)
{
	const char	*s = job_state(job);

	return job != NULL && (strcmp(s, "succeeded") == 0 ||
	    strcmp(s, "failed") == 0 || strcmp(s, "canceled") == 0);
}

/* A newer summary replaces the one held. Steals j. */
static void
watch_update(struct watch *w, json_t *j)
{
	if (!json_is_object(j) || json_integer_value(json_object_get(j,
	    "id")) != (json_int_t)w->id) {
		json_decref(j);
		return;
	}
	if (w->job == NULL || job_version(j) >= job_version(w->job)) {
		json_decref(w->job);
		w->job = j;
	} else
		json_decref(j);
}

/* --- the event stream --- */

static void
sse_dispatch(struct watch *w)
{
	if (w->ev_id[0] != '\0')
		snprintf(w->last_id, sizeof w->last_id, "%s", w->ev_id);
	if (strcmp(w->ev_type, "reset") == 0)
		w->need_get = 1;
	else if (strncmp(w->ev_type, "job.", 4) == 0 && w->ev_data != NULL)
		watch_update(w, json_loadb(w->ev_data, w->dlen, 0, NULL));
	w->ev_type[0] = w->ev_id[0] = '\0';
	free(w->ev_data);
	w->ev_data = NULL;
	w->dlen = 0;
}

static void
sse_line(struct watch *w, const char *ln, size_t len)
{
	const char	*v;
	size_t		 nlen, vlen;

	if (len == 0) {
		sse_dispatch(w);
		return;
	}
	if (ln[0] == ':')
		return;			/* a comment */
	if ((v = memchr(ln, ':', len)) == NULL)
		return;
	nlen = (size_t)(v - ln);	/* "name: value" */
	vlen = len - nlen - 1;
	v++;
	if (vlen > 0 && *v == ' ') {
		v++;
		vlen--;
	}
	if (nlen == 5 && strncmp(ln, "event", 5) == 0)
		snprintf(w->ev_type, sizeof w->ev_type, "%.*s", (int)vlen, v);
	else if (nlen == 2 && strncmp(ln, "id", 2) == 0)
		snprintf(w->ev_id, sizeof w->ev_id, "%.*s", (int)vlen, v);
	else if (nlen == 4 && strncmp(ln, "data", 4) == 0) {
		w->ev_data = xreallocarray(w->ev_data, w->dlen + vlen + 2, 1);
		if (w->dlen > 0)
			w->ev_data[w->dlen++] = '\n';
		memcpy(w->ev_data + w->dlen, v, vlen);
		w->dlen += vlen;
		w->ev_data[w->dlen] = '\0';
	}
}

static size_t
sse_write(char *data, size_t size, size_t n, void *arg)
{
	struct watch	*w = arg;
	size_t		 len = size * n, i;
	long		 status = 0;

	curl_easy_getinfo(w->sse, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200)
		return 0;		/* not a stream: give up on it */
	if (w->down_since != 0 || w->job == NULL)
		w->need_get = 1;	/* the stream is open: catch up */
	w->down_since = 0;
	for (i = 0; i < len; i++) {
		if (data[i] == '\n') {
			if (w->llen > 0 && w->line[w->llen - 1] == '\r')
				w->llen--;
			sse_line(w, w->line != NULL ? w->line : "", w->llen);
			w->llen = 0;
			continue;
		}
		if (w->llen + 1 >= w->lcap) {
			if (w->lcap >= SSE_LINE_MAX)
				return 0;
			w->lcap = w->lcap ? w->lcap * 2 : 4096;
			w->line = xreallocarray(w->line, w->lcap, 1);
		}
		w->line[w->llen++] = data[i];
	}
	return len;
}

static void
sse_open(struct watch *w)
{
	char	*url, hdr[96];

	url = cmd_client_url(w->cl, "/api/events");
	w->sse = curl_easy_init();
	cmd_client_setup(w->cl, w->sse);
	curl_slist_free_all(w->sse_headers);
	w->sse_headers = NULL;
	if (w->last_id[0] != '\0') {
		snprintf(hdr, sizeof hdr, "Last-Event-ID: %s", w->last_id);
		w->sse_headers = curl_slist_append(NULL, hdr);
	}
	curl_easy_setopt(w->sse, CURLOPT_URL, url);
	curl_easy_setopt(w->sse, CURLOPT_HTTPHEADER, w->sse_headers);
	curl_easy_setopt(w->sse, CURLOPT_WRITEFUNCTION, sse_write);
	curl_easy_setopt(w->sse, CURLOPT_WRITEDATA, w);
	/* A stream quiet for longer than the heartbeat's 15 s is dead. */
	curl_easy_setopt(w->sse, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(w->sse, CURLOPT_LOW_SPEED_TIME, 40L);
	curl_multi_add_handle(w->multi, w->sse);
	w->llen = 0;
	free(url);
}

/* --- the summary --- */

static size_t
get_write(char *data, size_t size, size_t n, void *arg)
{
	struct watch	*w = arg;
	size_t		 len = size * n;

	w->get_body = xreallocarray(w->get_body, w->get_len + len + 1, 1);
	memcpy(w->get_body + w->get_len, data, len);
	w->get_len += len;
	w->get_body[w->get_len] = '\0';
	return len;
}

static void
get_open(struct watch *w)
{
	char	 path[64], *url;

	snprintf(path, sizeof path, "/api/jobs/%" PRIu64 "?view=summary",
	    w->id);
	url = cmd_client_url(w->cl, path);
	w->get = curl_easy_init();
	cmd_client_setup(w->cl, w->get);
	curl_easy_setopt(w->get, CURLOPT_URL, url);
	curl_easy_setopt(w->get, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(w->get, CURLOPT_WRITEFUNCTION, get_write);
	curl_easy_setopt(w->get, CURLOPT_WRITEDATA, w);
	curl_multi_add_handle(w->multi, w->get);
	w->need_get = 0;
	w->get_len = 0;
	free(url);
}

static void
get_done(struct watch *w, CURLcode rc)
{
	long	status = 0;

	curl_easy_getinfo(w->get, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_OK && status == 200)
		watch_update(w, json_loadb(w->get_body, w->get_len, 0, NULL));
	else if (rc == CURLE_OK && status == 404)
		w->gone = 1;
	else {
		w->need_get = 1;	/* again, in a second */
		w->get_at = now_s() + 1.0;
	}
	curl_multi_remove_handle(w->multi, w->get);
	curl_easy_cleanup(w->get);
	w->get = NULL;
}

/* --- the progress line --- */

struct progress {
	int			 tty;
	struct client_rate	 rate;
	double			 last_plain;
	char			 line[256];
};

static void
progress_show(struct progress *p, const json_t *job, int final)
{
	double	t = now_s();

	if (job == NULL)
		return;
	cmd_client_progress(job, &p->rate, t, 24, p->line, sizeof p->line);
	if (p->tty) {
		/* Redrawn in place: carriage return, clear to the end. */
		fprintf(stderr, "\r\033[K%s%s", p->line, final ? "\n" : "");
	} else if (final || t - p->last_plain >= PLAIN_EVERY_S) {
		fprintf(stderr, "%s\n", p->line);
		p->last_plain = t;
	}
	fflush(stderr);
}

/* --- the end --- */

/* Each failed symbol with its code and message, a page at a time. */
static void
list_failed(const struct client *cl, uint64_t id)
{
	struct client_reply	 r;
	json_t			*s, *err;
	size_t			 i, offset = 0, total = 1;
	char			 path[128];

	while (offset < total) {
		snprintf(path, sizeof path, "/api/jobs/%" PRIu64 "/symbols?"
		    "state=failed&limit=1000&offset=%zu", id, offset);
		if (cmd_client_call(cl, "GET", path, NULL, NULL, &r) != 0)
			return;
		if (r.status != 200 || r.json == NULL) {
			cmd_client_reply_free(&r);
			return;
		}
		total = (size_t)json_integer_value(json_object_get(r.json,
		    "total"));
		json_array_foreach(json_object_get(r.json, "symbols"), i, s) {
			err = json_object_get(s, "error");
			fprintf(stderr, "  %s: %s (%s)\n",
			    cmd_client_str(s, "symbol", "?"),
			    cmd_client_str(err, "message", "?"),
			    cmd_client_str(err, "code", "?"));
			offset++;
		}
		if (json_array_size(json_object_get(r.json, "symbols")) == 0)
			offset = total;
		cmd_client_reply_free(&r);
	}
}

static void
cancel_job(const struct client *cl, uint64_t id)
{
	struct client_reply	r;
	struct client		c = *cl;
	char			path[64];

	c.finishing = 1;		/* after Ctrl-C: this one must go out */
	snprintf(path, sizeof path, "/api/jobs/%" PRIu64, id);
	if (cmd_client_call(&c, "DELETE", path, NULL, NULL, &r) == 0) {
		if (r.status == 200)
			fprintf(stderr, "stockcam: job %" PRIu64 " canceled\n",
			    id);
		else
			cmd_client_refused("cancel", &r);
		cmd_client_reply_free(&r);
	}
}

static int
watch_result(struct watch *w)
{
	const char	*st = job_state(w->job);

	if (strcmp(st, "succeeded") == 0)
		return CLIENT_OK;
	if (strcmp(st, "failed") == 0) {
		fprintf(stderr, "stockcam: job %" PRIu64 " failed\n", w->id);
		list_failed(w->cl, w->id);
	} else
		fprintf(stderr, "stockcam: job %" PRIu64 " was canceled\n",
		    w->id);
	return CLIENT_JOB_FAILED;
}

/* The job as it is now, before the stream opens. */
static int
first_look(struct watch *w)
{
	struct client_reply	r;
	char			path[64];

	snprintf(path, sizeof path, "/api/jobs/%" PRIu64 "?view=summary",
	    w->id);
	if (cmd_client_call(w->cl, "GET", path, NULL, NULL, &r) != 0)
		return CLIENT_UNREACHABLE;
	if (r.status != 200 || r.json == NULL) {
		cmd_client_refused("watch", &r);
		cmd_client_reply_free(&r);
		return CLIENT_UNREACHABLE;
	}
	watch_update(w, json_incref(r.json));
	cmd_client_reply_free(&r);
	return CLIENT_OK;
}

/* Runs the stream and the summary until the job ends. */
static int
watch_loop(struct watch *w, struct progress *p, int cancel_on_int)
{
	struct CURLMsg	*msg;
	double		 t, last_draw = 0;
	int		 running, left;

	for (;;) {
		if (cmd_client_interrupted) {
			if (p->tty)
				fputc('\n', stderr);
			if (cancel_on_int)
				cancel_job(w->cl, w->id);
			return CLIENT_INTERRUPTED;
		}
		if (w->gone) {
			fprintf(stderr, "stockcam: job %" PRIu64 " is no longer "
			    "kept by the server\n", w->id);
			return CLIENT_UNREACHABLE;
		}
		t = now_s();
		if (w->sse == NULL && t >= w->retry_at)
			sse_open(w);
		if (w->need_get && w->get == NULL && t >= w->get_at)
			get_open(w);
		curl_multi_perform(w->multi, &running);
		while ((msg = curl_multi_info_read(w->multi, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			if (msg->easy_handle == w->get) {
				get_done(w, msg->data.result);
				continue;
			}
			/* The stream ended: again in a second. */
			curl_multi_remove_handle(w->multi, w->sse);
			curl_easy_cleanup(w->sse);
			w->sse = NULL;
			if (w->down_since == 0)
				w->down_since = t;
			w->retry_at = t + 1.0;
		}
		if (job_done(w->job)) {
			progress_show(p, w->job, 1);
			return watch_result(w);
		}
		if (w->down_since != 0 && t - w->down_since > WATCH_OUTAGE_S) {
			if (p->tty)
				fputc('\n', stderr);
			fprintf(stderr, "stockcam: %s: no answer for %.0f s\n",
			    w->cl->server, WATCH_OUTAGE_S);
			return CLIENT_UNREACHABLE;
		}
		if (t - last_draw >= PROGRESS_TICK_MS / 1000.0) {
			progress_show(p, w->job, 0);
			last_draw = t;
		}
		curl_multi_poll(w->multi, NULL, 0, PROGRESS_TICK_MS, NULL);
	}
}

int
cmd_client_watch(const struct client *cl, uint64_t id, int cancel_on_int)
{
	struct watch	w;
	struct progress	p;
	int		rv;

	memset(&w, 0, sizeof w);
	memset(&p, 0, sizeof p);
	w.cl = cl;
	w.id = id;
	if ((rv = first_look(&w)) != CLIENT_OK) {
		/* Ctrl-C ended the first look: the job is canceled all the
		 * same. */
		if (cmd_client_interrupted && cancel_on_int)
			cancel_job(cl, id);
		return rv;
	}
	w.down_since = now_s();		/* until the stream first opens */
	p.tty = isatty(STDERR_FILENO);
	p.last_plain = -PLAIN_EVERY_S;
	if ((w.multi = curl_multi_init()) == NULL) {
		fprintf(stderr, "stockcam: libcurl cannot start\n");
		return CLIENT_UNREACHABLE;
	}
	rv = watch_loop(&w, &p, cancel_on_int);
	if (w.sse != NULL) {
		curl_multi_remove_handle(w.multi, w.sse);
		curl_easy_cleanup(w.sse);
	}
	if (w.get != NULL) {
		curl_multi_remove_handle(w.multi, w.get);
		curl_easy_cleanup(w.get);
	}
	curl_multi_cleanup(w.multi);
	curl_slist_free_all(w.sse_headers);
	json_decref(w.job);
	free(w.line);
	free(w.ev_data);
	free(w.get_body);
	return rv;
}
