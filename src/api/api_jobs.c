/*
 * api_jobs.c - the job API over HTTP.
 *
 *   POST   /api/jobs                      submit (Idempotency-Key aware)
 *   GET    /api/jobs                      list, newest first
 *   GET    /api/jobs/{id}[?wait=S]        the future; long-poll
 *   DELETE /api/jobs/{id}                 cancel
 *
 * Validation is strict and every refusal names the field. A long-poll
 * holds its request in a waiter that ends in exactly one of three ways:
 * the job changes, the wait times out, or the client goes away. The
 * converted files and the archives are served by api_files.c.
 */
#include "config.h"

#include <sys/queue.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "api/api_jobs.h"
#include "api/render.h"
#include "http/http.h"
#include "http/reply.h"
#include "http/router.h"
#include "jobs/job_json.h"
#include "jobs/jobs.h"
#include "jobs/searchjob.h"
#include "jobs/stockjob.h"
#include "lib/fsfree.h"
#include "lib/log.h"
#include "lib/strset.h"
#include "lib/xmalloc.h"
#include "stock/names.h"

#define WAIT_MAX_S	60
#define LIST_DEFAULT	20
#define LIST_MAX	100
#define SYMBOLS_DEFAULT	100
#define SYMBOLS_MAX	1000

struct waiter {
	LIST_ENTRY(waiter)	 entry;
	struct api_jobs		*api;
	struct http_request	*req;
	struct job_waiter	*jw;
	struct event		*timer;
	uint64_t		 id;
};

struct api_jobs {
	struct jobs		*jobs;
	struct stockjob		*stock;
	struct searchjob	*search;
	struct event_base	*base;
	unsigned		 max_symbols;
	LIST_HEAD(, waiter)	 waiters;
	struct render_cache	*render;	/* job bodies, shared */
	char			*disk_dir;	/* its free space is checked */
	uint64_t		 disk_reserve;	/* bytes; 0: no check */
};

/* --- helpers --- */

static int
parse_id(const char *s, uint64_t *id)
{
	char			*end;
	unsigned long long	 v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s < '1' || *s > '9' || *end != '\0' || errno != 0)
		return -1;
	*id = v;
	return 0;
}

struct job *
api_jobs_find(struct jobs *jobs, struct http_request *req,
    const struct router_params *params)
{
	const char	*s = router_param(params, "id");
	struct job	*job;
	uint64_t	 id;

	if (parse_id(s, &id) != 0 || (job = jobs_find(jobs, id)) == NULL) {
		reply_problem(req, 404, "no job %s (finished jobs are kept for "
		    "a while, then forgotten)", s);
		return NULL;
	}
	return job;
}

static struct job *
find_job(struct api_jobs *api, struct http_request *req,
    const struct router_params *params)
{
	return api_jobs_find(api->jobs, req, params);
}

/*
 * Replies wait for the store: what a client reads of a job is committed
 * first, so a restart never takes back what it saw (jobs_sync).
 */
struct deferred {
	struct api_jobs		*api;
	struct http_request	*req;		/* NULL once the client left */
	uint64_t		 id;		/* the job, 0 for a list */
	int			 status;
	int			 location;	/* with Location: the job */
	int			 state;		/* a list: its query */
	long			 limit;
	uint64_t		 before;
	const char		*q;		/* the request's, or NULL */
	int			 symbols;	/* a page of the job's symbols */
	struct stockjob_query	 sq;
};

static void	api_jobs_list_reply(struct deferred *);
static void	api_jobs_symbols_reply(struct deferred *, struct job *);

/*
 * Whether a reply of the job shows its items. ?view=summary or full
 * says; without it a GET does, and so does the reply to a POST up to
 * SYMBOLS_MAX symbols. A bigger job is answered with its summary: its
 * client has just sent the symbols, and rendering 100,000 of them
 * (11 MB) held the loop for 0.3 s.
 */
static int
detail_view(struct http_request *req, const struct job *job)
{
	const char	*v = http_request_query(req, "view");

	if (v != NULL)
		return strcmp(v, "summary") != 0;
	return http_request_method(req) != HTTP_POST ||
	    stockjob_symbol_count(job) <= SYMBOLS_MAX;
}

/* 1, and the 400 sent, if ?view= is neither summary nor full. */
static int
bad_view(struct http_request *req)
{
	const char	*v = http_request_query(req, "view");

	if (v == NULL || strcmp(v, "summary") == 0 || strcmp(v, "full") == 0)
		return 0;
	reply_problem(req, 400, "view: '%s' is not summary or full", v);
	return 1;
}

static void
deferred_gone(struct http_request *req, void *arg)
{
	struct deferred	*d = arg;

	d->req = NULL;
}

static void
deferred_synced(void *arg)
{
	struct deferred	*d = arg;
	struct job	*job;
	char		 loc[64];

	if (d->req != NULL) {
		http_request_set_close_cb(d->req, NULL, NULL);
		if (d->id == 0)
			api_jobs_list_reply(d);
		else if ((job = jobs_find(d->api->jobs, d->id)) == NULL)
			reply_problem(d->req, 404, "no job %" PRIu64 " (finished "
			    "jobs are kept for a while, then forgotten)", d->id);
		else {
			if (d->location) {
				snprintf(loc, sizeof loc, "/api/jobs/%" PRIu64,
				    d->id);
				http_reply_header(d->req, "Location", loc);
			}
			if (d->symbols)
				api_jobs_symbols_reply(d, job);
			else
				render_reply_job(d->api->render, d->req,
				    d->status, job, detail_view(d->req, job));
		}
	}
	free(d);
}

static struct deferred *
deferred_new(struct api_jobs *api, struct http_request *req)
{
	struct deferred	*d;

	d = xcalloc(1, sizeof *d);
	d->api = api;
	d->req = req;
	http_request_set_close_cb(req, deferred_gone, d);
	return d;
}

static void
api_jobs_reply(struct api_jobs *api, struct http_request *req, int status,
    struct job *job)
{
	struct deferred	*d = deferred_new(api, req);

	d->id = job_id(job);
	d->status = status;
	d->location = status == 202;
	jobs_sync(api->jobs, deferred_synced, d);
}

/* --- POST /api/jobs --- */

/*
 * Below the free-space reserve a stock job is refused before it starts
 * (507) rather than fail symbol by symbol on a full disk. One statvfs
 * per submission: a syscall, not a scan.
 */
static int
disk_short(struct api_jobs *api, struct http_request *req)
{
	uint64_t	avail;

	if (api->disk_reserve == 0 || api->disk_dir == NULL)
		return 0;
	avail = fs_free_bytes(api->disk_dir);	/* unknown: UINT64_MAX */
	if (avail >= api->disk_reserve)
		return 0;
	http_reply_header(req, "Retry-After", "30");
	reply_problem(req, 507, "the data directory has %" PRIu64 " bytes "
	    "free, under the %" PRIu64 " kept free (--min-free-space); "
	    "try again once there is room", avail, api->disk_reserve);
	return 1;
}

void
api_jobs_set_disk_reserve(struct api_jobs *api, const char *dir,
    uint64_t bytes)
{
	free(api->disk_dir);
	api->disk_dir = xstrdup(dir);
	api->disk_reserve = bytes;
}

/* Notes why a submission is refused (the first reason only). */
static void __attribute__((format(printf, 2, 3)))
check_fail(struct api_jobs_check *ck, const char *fmt, ...)
{
	va_list	ap;

	if (ck->error != NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&ck->error, fmt, ap) == -1)
		fatalx("api: vasprintf");
	va_end(ap);
}

/* The job type: "stock" when absent; NULL (and ck->error) if bad. */
static const char *
submit_type(struct api_jobs_check *ck, json_t *body)
{
	json_t		*v;
	const char	*type;

	if (!json_is_object(body)) {
		check_fail(ck, "the body must be a JSON object");
		return NULL;
	}
	if ((v = json_object_get(body, "type")) == NULL)
		return "stock";
	if (!json_is_string(v) || strlen(json_string_value(v)) !=
	    json_string_length(v)) {
		check_fail(ck, "type: must be a string");
		return NULL;
	}
	type = json_string_value(v);
	if (strcmp(type, "stock") != 0 && strcmp(type, "armstrong") != 0) {
		check_fail(ck, "type: unknown job type '%s' (stock or "
		    "armstrong)", type);
		return NULL;
	}
	return type;
}

/* Every field is one of `allowed`; else ck->error naming the stranger. */
static int
known_fields(struct api_jobs_check *ck, json_t *body, const char *const *allowed,
    const char *what)
{
	const char	*key;
	json_t		*v;
	size_t		 i;

	json_object_foreach(body, key, v) {
		for (i = 0; allowed[i] != NULL; i++) {
			if (strcmp(key, allowed[i]) == 0)
				break;
		}
		if (allowed[i] == NULL) {
			check_fail(ck, "%s: unknown field (%s)", key,
			    what);
			return -1;
		}
	}
	return 0;
}

/* from and to of an Armstrong search; -1 and ck->error if bad. */
static int
validate_armstrong(struct api_jobs_check *ck, json_t *body, uint64_t *from,
    uint64_t *to)
{
	static const char *const fields[] = { "type", "from", "to", NULL };
	const char	*names[2] = { "from", "to" };
	json_t		*v;
	uint64_t	*out[2] = { from, to };
	int		 i;

	if (known_fields(ck, body, fields, "an armstrong job has \"type\", "
	    "\"from\" and \"to\"") != 0)
		return -1;
	for (i = 0; i < 2; i++) {
		v = json_object_get(body, names[i]);
		if (v == NULL || !json_is_integer(v) ||
		    json_integer_value(v) < 0) {
			check_fail(ck, "%s: %s; it must be an integer "
			    "from 0 to 9223372036854775807", names[i],
			    v == NULL ? "missing" : "not a whole number >= 0");
			return -1;
		}
		*out[i] = (uint64_t)json_integer_value(v);
	}
	if (*from >= *to) {
		check_fail(ck, "to: must be greater than from (the "
		    "range is [from, to))");
		return -1;
	}
	return 0;
}

/* Checks a stock job's body; NULL and ck->error, or the symbols. */
static json_t *
validate_submit(unsigned max_symbols, struct api_jobs_check *ck,
    json_t *body)
{
	static const char *const fields[] = { "type", "symbols", NULL };
	json_t		*v, *symbols;
	struct strset	*seen;
	size_t		 i, n;

	if (known_fields(ck, body, fields, "a stock job has \"symbols\" "
	    "and an optional \"type\"") != 0)
		return NULL;
	symbols = json_object_get(body, "symbols");
	if (symbols == NULL) {
		check_fail(ck, "symbols: missing");
		return NULL;
	}
	if (!json_is_array(symbols)) {
		check_fail(ck, "symbols: must be an array of strings");
		return NULL;
	}
	n = json_array_size(symbols);
	if (n == 0 || n > max_symbols) {
		check_fail(ck, "symbols: %zu given; a job takes 1 to "
		    "%u", n, max_symbols);
		return NULL;
	}
	seen = strset_new(n);
	for (i = 0; i < n; i++) {
		v = json_array_get(symbols, i);
		if (!json_is_string(v)) {
			check_fail(ck, "symbols[%zu]: must be a "
			    "string", i);
			goto fail;
		}
		if (strlen(json_string_value(v)) != json_string_length(v) ||
		    !names_symbol_ok(json_string_value(v))) {
			check_fail(ck, "symbols[%zu]: '%s' is not a "
			    "symbol (1 to 32 of A-Z a-z 0-9 . _ ^ = -, "
			    "starting with a letter, a digit or ^)", i,
			    json_string_value(v));
			goto fail;
		}
		/* A set, not a scan of the ones before: this runs on the loop. */
		if (strset_add(seen, json_string_value(v)) == 0) {
			check_fail(ck, "symbols[%zu]: '%s' is listed "
			    "twice", i, json_string_value(v));
			goto fail;
		}
	}
	strset_free(seen);
	return symbols;

fail:
	strset_free(seen);
	return NULL;
}

int
api_jobs_check(const char *body, size_t len, unsigned max_symbols,
    struct api_jobs_check *ck)
{
	json_error_t	 jerr;

	memset(ck, 0, sizeof *ck);
	/* NULs are let through the parser so the field check can name them. */
	ck->obj = json_loadb(body, len, JSON_REJECT_DUPLICATES |
	    JSON_ALLOW_NUL, &jerr);
	if (ck->obj == NULL && strstr(jerr.text, "too big") != NULL) {
		check_fail(ck, "a number is too big: from and to are "
		    "integers from 0 to 9223372036854775807");
		return -1;
	}
	if (ck->obj == NULL) {
		check_fail(ck, "the body is not JSON: %s (line %d, "
		    "column %d)", jerr.text, jerr.line, jerr.column);
		return -1;
	}
	if ((ck->type = submit_type(ck, ck->obj)) == NULL)
		return -1;
	if (strcmp(ck->type, "armstrong") == 0)
		return validate_armstrong(ck, ck->obj, &ck->from, &ck->to);
	if ((ck->symbols = validate_submit(max_symbols, ck, ck->obj)) == NULL)
		return -1;
	return 0;
}

void
api_jobs_check_free(struct api_jobs_check *ck)
{
	json_decref(ck->obj);
	free(ck->error);
	memset(ck, 0, sizeof *ck);
}

/*
 * A repeated key: 0 with the reply made (the same job, or 422 for another
 * request), -1 if the key is new.
 */
static int
api_jobs_idempotent(struct api_jobs *api, struct http_request *req,
    const char *key, const char *canon)
{
	const char	*prior;
	struct job	*job;

	if ((job = jobs_find_idempotent(api->jobs, key, &prior)) == NULL)
		return -1;
	if (strcmp(prior, canon) != 0)
		reply_problem(req, 422, "Idempotency-Key '%s' was used for a "
		    "different request", key);
	else
		api_jobs_reply(api, req, 200, job);
	return 0;
}

/* A POST whose job is on its way into the store. */
struct submission {
	struct api_jobs		*api;
	struct http_request	*req;		/* NULL once the client left */
	char			*key, *canon;
};

static void
submission_free(struct submission *sub)
{
	free(sub->key);
	free(sub->canon);
	free(sub);
}

static void
submission_gone(struct http_request *req, void *arg)
{
	struct submission	*sub = arg;

	sub->req = NULL;	/* the job is made all the same */
}

static void
submission_stored(struct job *job, int error, void *arg)
{
	struct submission	*sub = arg;
	struct http_request	*req = sub->req;

	if (req == NULL) {
		submission_free(sub);
		return;
	}
	http_request_set_close_cb(req, NULL, NULL);
	if (job != NULL)
		api_jobs_reply(sub->api, req, 202, job);
	else if (error == -EEXIST && sub->key != NULL &&
	    api_jobs_idempotent(sub->api, req, sub->key, sub->canon) == 0)
		;	/* a request with the same key came first */
	else {
		http_reply_header(req, "Retry-After", "5");
		reply_problem(req, 503, "the job could not be stored (%s); "
		    "nothing was accepted: try again shortly",
		    strerror(-error));
	}
	submission_free(sub);
}

static void
api_jobs_post(struct http_request *req, const struct router_params *params,
    void *arg)
{
	struct api_jobs	*api = arg;
	struct submission *sub;
	const char	*ctype, *key, **names = NULL;
	const char	*body;
	uint64_t	 from = 0, to = 0;
	char		*canon = NULL;
	struct api_jobs_check ck;
	json_t		*obj = NULL, *symbols;
	size_t		 len, i, n;
	int		 error;

	ctype = http_request_header(req, "Content-Type");
	/* "application/json", any case, perhaps with parameters. */
	if (ctype != NULL && (strncasecmp(ctype, "application/json", 16) != 0 ||
	    strchr(";\t ", ctype[16]) == NULL)) {
		reply_problem(req, 415, "send the job as application/json");
		return;
	}
	if (bad_view(req))
		return;
	key = http_request_header(req, "Idempotency-Key");
	if (key != NULL && *key == '\0') {
		reply_problem(req, 400, "Idempotency-Key is empty; send a "
		    "non-empty key or none");
		return;
	}
	body = http_request_body(req, &len);
	if (api_jobs_check(body, len, api->max_symbols, &ck) != 0) {
		reply_problem(req, 400, "%s", ck.error);
		goto out;
	}
	obj = ck.obj;
	symbols = ck.symbols;
	from = ck.from;
	to = ck.to;

	key = http_request_header(req, "Idempotency-Key");
	if (key != NULL) {
		canon = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
		if (canon == NULL)
			fatalx("api: json_dumps");
		if (api_jobs_idempotent(api, req, key, canon) == 0)
			goto out;
	}

	if (symbols != NULL && disk_short(api, req))
		goto out;

	sub = xcalloc(1, sizeof *sub);
	sub->api = api;
	sub->req = req;
	sub->key = key != NULL ? xstrdup(key) : NULL;
	sub->canon = canon;
	canon = NULL;
	http_request_set_close_cb(req, submission_gone, sub);
	if (symbols == NULL)
		error = searchjob_submit(api->search, from, to, sub->key,
		    sub->canon, submission_stored, sub);
	else {
		n = json_array_size(symbols);
		names = xcalloc(n, sizeof *names);
		for (i = 0; i < n; i++)
			names[i] = json_string_value(json_array_get(symbols,
			    i));
		error = stockjob_submit(api->stock, names, (unsigned)n,
		    sub->key, sub->canon, submission_stored, sub);
	}
	if (error != 0) {
		http_request_set_close_cb(req, NULL, NULL);
		submission_free(sub);
		http_reply_header(req, "Retry-After", "5");
		reply_problem(req, 429, "the server holds its limit of "
		    "unfinished symbols; try again shortly");
		goto out;
	}
	/* The reply comes once the store has the job: submission_stored. */
out:
	free(names);
	free(canon);
	api_jobs_check_free(&ck);
}

/* --- GET /api/jobs/{id}, long-poll --- */

static void
waiter_free(struct waiter *w)
{
	LIST_REMOVE(w, entry);
	event_free(w->timer);
	free(w);
}

static void
waiter_changed(struct job *job, void *arg)
{
	struct waiter	*w = arg;

	w->jw = NULL;			/* one-shot: already gone */
	http_request_set_close_cb(w->req, NULL, NULL);
	api_jobs_reply(w->api, w->req, 200, job);
	waiter_free(w);
}

static void
waiter_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct waiter	*w = arg;
	struct job	*job = jobs_find(w->api->jobs, w->id);

	job_unwait(w->jw);
	http_request_set_close_cb(w->req, NULL, NULL);
	api_jobs_reply(w->api, w->req, 200, job);
	waiter_free(w);
}

static void
waiter_gone(struct http_request *req, void *arg)
{
	struct waiter	*w = arg;

	job_unwait(w->jw);
	waiter_free(w);
}

static void
api_jobs_get(struct http_request *req, const struct router_params *params,
    void *arg)
{
	struct api_jobs	*api = arg;
	struct job	*job;
	struct waiter	*w;
	struct timeval	 tv;
	const char	*ws, *vs;
	char		*end;
	double		 wait;
	uint64_t	 version;

	if ((job = find_job(api, req, params)) == NULL)
		return;
	if (bad_view(req))
		return;
	if ((ws = http_request_query(req, "wait")) == NULL) {
		api_jobs_reply(api, req, 200, job);
		return;
	}
	errno = 0;
	wait = strtod(ws, &end);
	if (*ws == '\0' || *end != '\0' || errno != 0 || !isfinite(wait) ||
	    wait <= 0 || wait > WAIT_MAX_S) {
		reply_problem(req, 400, "wait: '%s' is not a number of seconds "
		    "above 0 and at most %d", ws, WAIT_MAX_S);
		return;
	}
	if ((vs = http_request_query(req, "version")) != NULL) {
		if (parse_id(vs, &version) != 0) {
			reply_problem(req, 400, "version: '%s' is not a job "
			    "version", vs);
			return;
		}
		if (version != job_version(job)) {
			api_jobs_reply(api, req, 200, job);
			return;
		}
	}
	if (job_finished(job)) {
		api_jobs_reply(api, req, 200, job);
		return;
	}
	w = xcalloc(1, sizeof *w);
	w->api = api;
	w->req = req;
	w->id = job_id(job);
	w->jw = job_wait(job, waiter_changed, w);
	w->timer = evtimer_new(api->base, waiter_timeout, w);
	if (w->timer == NULL)
		fatalx("api: evtimer_new");
	tv.tv_sec = (time_t)wait;
	tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6);
	evtimer_add(w->timer, &tv);
	LIST_INSERT_HEAD(&api->waiters, w, entry);
	http_request_set_close_cb(req, waiter_gone, w);
}

/* --- DELETE /api/jobs/{id} --- */

static void
api_jobs_delete(struct http_request *req, const struct router_params *params,
    void *arg)
{
	struct api_jobs	*api = arg;
	struct job	*job;

	if ((job = find_job(api, req, params)) == NULL)
		return;
	jobs_cancel(api->jobs, job);
	api_jobs_reply(api, req, 200, job);
}

/* --- GET /api/jobs --- */

static void
api_jobs_list(struct http_request *req, const struct router_params *params,
    void *arg)
{
	struct api_jobs	*api = arg;
	struct deferred	*d;
	const char	*s;
	char		*end;
	long		 limit = LIST_DEFAULT;
	uint64_t	 before = 0;
	int		 state = -1;

	if ((s = http_request_query(req, "state")) != NULL &&
	    (state = job_state_parse(s)) < 0) {
		reply_problem(req, 400, "state: '%s' is not one of queued, "
		    "running, succeeded, failed, canceled", s);
		return;
	}
	if ((s = http_request_query(req, "limit")) != NULL) {
		errno = 0;
		limit = strtol(s, &end, 10);
		if (*s == '\0' || *end != '\0' || errno != 0 || limit < 1 ||
		    limit > LIST_MAX) {
			reply_problem(req, 400, "limit: '%s' is not from 1 to "
			    "%d", s, LIST_MAX);
			return;
		}
	}
	if ((s = http_request_query(req, "cursor")) != NULL &&
	    parse_id(s, &before) != 0) {
		reply_problem(req, 400, "cursor: '%s' is not a cursor from "
		    "next_cursor", s);
		return;
	}
	if ((s = http_request_query(req, "q")) != NULL && *s == '\0')
		s = NULL;
	d = deferred_new(api, req);
	d->state = state;
	d->limit = limit;
	d->before = before;
	d->q = s;
	jobs_sync(api->jobs, deferred_synced, d);
}

/* A count from a query: 0 with *v, or -1 with a reply made. */
static int
query_count(struct http_request *req, const char *name, size_t min,
    size_t max, size_t *v)
{
	const char		*s = http_request_query(req, name);
	char			*end;
	unsigned long long	 n;

	if (s == NULL)
		return 0;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || n < min ||
	    n > max) {
		reply_problem(req, 400, "%s: '%s' is not a whole number from "
		    "%zu to %zu", name, s, min, max);
		return -1;
	}
	*v = (size_t)n;
	return 0;
}

/* --- GET /api/jobs/{id}/symbols --- */

static void
api_jobs_symbols(struct http_request *req, const struct router_params *params,
    void *arg)
{
	struct api_jobs		*api = arg;
	struct stockjob_query	 sq = { 0, SYMBOLS_DEFAULT, -1, NULL, 0 };
	struct deferred		*d;
	struct job		*job;
	const char		*s;

	if ((job = find_job(api, req, params)) == NULL)
		return;
	if (strcmp(job_type(job), "stock") != 0) {
		reply_problem(req, 404, "job %" PRIu64 " is a %s job: it has "
		    "no symbols", job_id(job), job_type(job));
		return;
	}
	if (query_count(req, "offset", 0, SIZE_MAX / 2, &sq.offset) != 0 ||
	    query_count(req, "limit", 1, SYMBOLS_MAX, &sq.limit) != 0)
		return;
	if ((s = http_request_query(req, "state")) != NULL &&
	    (sq.state = stockjob_symbol_state(s)) < 0) {
		reply_problem(req, 400, "state: '%s' is not one of queued, "
		    "fetching, converting, archiving, succeeded, failed, "
		    "canceled", s);
		return;
	}
	if ((s = http_request_query(req, "order")) != NULL) {
		if (strcmp(s, "failed") != 0 && strcmp(s, "index") != 0) {
			reply_problem(req, 400, "order: '%s' is not index or "
			    "failed (failed symbols first)", s);
			return;
		}
		sq.failed_first = strcmp(s, "failed") == 0;
	}
	if ((s = http_request_query(req, "q")) != NULL && *s != '\0')
		sq.q = s;
	d = deferred_new(api, req);
	d->id = job_id(job);
	d->status = 200;
	d->symbols = 1;
	d->sq = sq;
	jobs_sync(api->jobs, deferred_synced, d);
}

static void
api_jobs_symbols_reply(struct deferred *d, struct job *job)
{
	json_t	*page;

	if ((page = stockjob_symbols_json(job, &d->sq)) == NULL) {
		reply_problem(d->req, 404, "job %" PRIu64 " has no symbols",
		    job_id(job));
		return;
	}
	json_object_set_new(page, "id", json_integer((json_int_t)job_id(job)));
	json_object_set_new(page, "version",
	    json_integer((json_int_t)job_version(job)));
	json_object_set_new(page, "offset", json_integer((json_int_t)
	    d->sq.offset));
	json_object_set_new(page, "limit", json_integer((json_int_t)
	    d->sq.limit));
	reply_json(d->req, 200, page);
}

static void
api_jobs_list_reply(struct deferred *d)
{
	struct jobs	*jobs = d->api->jobs;
	struct job	*job, *last = NULL;
	json_t		*arr;
	char		 cursor[32];
	long		 n = 0;

	arr = json_array();
	for (job = jobs_first(jobs, d->state, d->before); job != NULL &&
	    n < d->limit; job = jobs_next(jobs, job, d->state)) {
		if (d->q != NULL && !job_matches(job, d->q))
			continue;
		json_array_append_new(arr, job_json(job, 0));
		last = job;
		n++;
	}
	/* With a search, more left only if another job matches. */
	while (d->q != NULL && job != NULL && !job_matches(job, d->q))
		job = jobs_next(jobs, job, d->state);
	/* More left: the next page starts below the last id shown. */
	if (job != NULL)
		snprintf(cursor, sizeof cursor, "%" PRIu64, job_id(last));
	reply_json(d->req, 200, json_pack("{s:o, s:o}", "jobs", arr,
	    "next_cursor", job != NULL ? json_string(cursor) : json_null()));
}

struct api_jobs *
api_jobs_register(struct router *r, struct event_base *base,
    struct jobs *jobs, struct stockjob *stock, struct searchjob *search,
    unsigned max_symbols)
{
	struct api_jobs	*api;

	api = xcalloc(1, sizeof *api);
	api->jobs = jobs;
	api->stock = stock;
	api->search = search;
	api->max_symbols = max_symbols;
	LIST_INIT(&api->waiters);
	api->base = base;
	api->render = render_cache_new(base);
	router_add(r, HTTP_POST, "/api/jobs", api_jobs_post, api);
	router_add(r, HTTP_GET, "/api/jobs", api_jobs_list, api);
	router_add(r, HTTP_GET, "/api/jobs/{id}", api_jobs_get, api);
	router_add(r, HTTP_GET, "/api/jobs/{id}/symbols", api_jobs_symbols,
	    api);
	router_add(r, HTTP_DELETE, "/api/jobs/{id}", api_jobs_delete, api);
	return api;
}

void
api_jobs_free(struct api_jobs *api)
{
	struct waiter	*w;

	if (api == NULL)
		return;
	while ((w = LIST_FIRST(&api->waiters)) != NULL) {
		job_unwait(w->jw);
		waiter_free(w);
	}
	render_cache_free(api->render);
	free(api->disk_dir);
	free(api);
}

void
api_jobs_get_render_stats(const struct api_jobs *api, struct render_stats *st)
{
	render_cache_get_stats(api->render, st);
}
