/*
 * api_jobs.c - the job API over HTTP.
 *
 *   POST   /api/jobs                      submit (Idempotency-Key aware)
 *   GET    /api/jobs                      list, newest first
 *   GET    /api/jobs/{id}[?wait=S]        the future; long-poll
 *   DELETE /api/jobs/{id}                 cancel
 *   GET    /api/jobs/{id}/files/{symbol}.xml
 *   GET    /api/archives, /archives/{name}
 *
 * Validation is strict and every refusal names the field. A long-poll
 * holds its request in a waiter that ends in exactly one of three ways:
 * the job changes, the wait times out, or the client goes away. Reading
 * an XML file out of an archive (decompression, blocking) runs on a
 * worker and the reply is made back on the loop.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "api/api_jobs.h"
#include "http/http.h"
#include "http/reply.h"
#include "http/router.h"
#include "jobs/job_json.h"
#include "jobs/jobs.h"
#include "jobs/searchjob.h"
#include "jobs/stockjob.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/xmalloc.h"
#include "stock/archiver.h"
#include "stock/names.h"

#define WAIT_MAX_S	60
#define LIST_DEFAULT	20
#define LIST_MAX	100

struct waiter {
	LIST_ENTRY(waiter)	 entry;
	struct api_jobs		*api;
	struct http_request	*req;
	struct job_waiter	*jw;
	struct event		*timer;
	uint64_t		 id;
};

struct archive_count {
	char		*name;
	long long	 entries;
};

struct api_jobs {
	struct jobs		*jobs;
	struct stockjob		*stock;
	struct searchjob	*search;
	struct pool		*io;
	struct event_base	*base;
	unsigned		 max_symbols;
	LIST_HEAD(, waiter)	 waiters;
	struct archive_count	*counts;	/* entries per archive, cached */
	size_t			 ncounts;
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

static struct job *
find_job(struct api_jobs *api, struct http_request *req,
    const struct route_params *params)
{
	const char	*s = route_param(params, "id");
	struct job	*job;
	uint64_t	 id;

	if (parse_id(s, &id) != 0 || (job = jobs_find(api->jobs, id)) == NULL) {
		reply_problem(req, 404, "no job %s (finished jobs are kept for "
		    "a while, then forgotten)", s);
		return NULL;
	}
	return job;
}

static void
reply_job(struct http_request *req, int status, struct job *job)
{
	reply_json(req, status, job_json(job, 1));
}

/* --- POST /api/jobs --- */

/* The job type: "stock" when absent; NULL (and a reply made) if bad. */
static const char *
submit_type(struct http_request *req, json_t *body)
{
	json_t		*v;
	const char	*type;

	if (!json_is_object(body)) {
		reply_problem(req, 400, "the body must be a JSON object");
		return NULL;
	}
	if ((v = json_object_get(body, "type")) == NULL)
		return "stock";
	if (!json_is_string(v) || strlen(json_string_value(v)) !=
	    json_string_length(v)) {
		reply_problem(req, 400, "type: must be a string");
		return NULL;
	}
	type = json_string_value(v);
	if (strcmp(type, "stock") != 0 && strcmp(type, "armstrong") != 0) {
		reply_problem(req, 400, "type: unknown job type '%s' (stock or "
		    "armstrong)", type);
		return NULL;
	}
	return type;
}

/* Every field is one of `allowed`; else a reply naming the stranger. */
static int
known_fields(struct http_request *req, json_t *body, const char *const *allowed,
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
			reply_problem(req, 400, "%s: unknown field (%s)", key,
			    what);
			return -1;
		}
	}
	return 0;
}

/* from and to of an Armstrong search; -1 and a reply if bad. */
static int
validate_armstrong(struct http_request *req, json_t *body, uint64_t *from,
    uint64_t *to)
{
	static const char *const fields[] = { "type", "from", "to", NULL };
	const char	*names[2] = { "from", "to" };
	json_t		*v;
	uint64_t	*out[2] = { from, to };
	int		 i;

	if (known_fields(req, body, fields, "an armstrong job has \"type\", "
	    "\"from\" and \"to\"") != 0)
		return -1;
	for (i = 0; i < 2; i++) {
		v = json_object_get(body, names[i]);
		if (v == NULL || !json_is_integer(v) ||
		    json_integer_value(v) < 0) {
			reply_problem(req, 400, "%s: %s; it must be an integer "
			    "from 0 to 9223372036854775807", names[i],
			    v == NULL ? "missing" : "not a whole number >= 0");
			return -1;
		}
		*out[i] = (uint64_t)json_integer_value(v);
	}
	if (*from >= *to) {
		reply_problem(req, 400, "to: must be greater than from (the "
		    "range is [from, to))");
		return -1;
	}
	return 0;
}

/* Checks a stock job's body; NULL and a reply made, or the symbols. */
static json_t *
validate_submit(struct api_jobs *api, struct http_request *req, json_t *body)
{
	static const char *const fields[] = { "type", "symbols", NULL };
	json_t		*v, *symbols;
	size_t		 i, j, n;

	if (known_fields(req, body, fields, "a stock job has \"symbols\" "
	    "and an optional \"type\"") != 0)
		return NULL;
	symbols = json_object_get(body, "symbols");
	if (symbols == NULL) {
		reply_problem(req, 400, "symbols: missing");
		return NULL;
	}
	if (!json_is_array(symbols)) {
		reply_problem(req, 400, "symbols: must be an array of strings");
		return NULL;
	}
	n = json_array_size(symbols);
	if (n == 0 || n > api->max_symbols) {
		reply_problem(req, 400, "symbols: %zu given; a job takes 1 to "
		    "%u", n, api->max_symbols);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		v = json_array_get(symbols, i);
		if (!json_is_string(v)) {
			reply_problem(req, 400, "symbols[%zu]: must be a "
			    "string", i);
			return NULL;
		}
		if (strlen(json_string_value(v)) != json_string_length(v) ||
		    !names_symbol_ok(json_string_value(v))) {
			reply_problem(req, 400, "symbols[%zu]: '%s' is not a "
			    "symbol (1 to 32 of A-Z a-z 0-9 . _ ^ = -, "
			    "starting with a letter, a digit or ^)", i,
			    json_string_value(v));
			return NULL;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(json_string_value(v), json_string_value(
			    json_array_get(symbols, j))) == 0) {
				reply_problem(req, 400, "symbols[%zu]: '%s' "
				    "is listed twice", i, json_string_value(v));
				return NULL;
			}
		}
	}
	return symbols;
}

static void
api_submit(struct http_request *req, const struct route_params *params,
    void *arg)
{
	struct api_jobs	*api = arg;
	const char	*ctype, *key, *prior, **names = NULL;
	const char	*body, *type;
	uint64_t	 from = 0, to = 0;
	char		*canon = NULL, loc[64];
	json_t		*obj = NULL, *symbols;
	json_error_t	 jerr;
	struct job	*job;
	size_t		 len, i, n;
	int		 error;

	ctype = http_request_header(req, "Content-Type");
	if (ctype != NULL && strncasecmp(ctype, "application/json", 16) != 0) {
		reply_problem(req, 415, "send the job as application/json");
		return;
	}
	body = http_request_body(req, &len);
	/* NULs are let through the parser so the field check can name them. */
	obj = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
	    &jerr);
	if (obj == NULL && strstr(jerr.text, "too big") != NULL) {
		reply_problem(req, 400, "a number is too big: from and to are "
		    "integers from 0 to 9223372036854775807");
		return;
	}
	if (obj == NULL) {
		reply_problem(req, 400, "the body is not JSON: %s (line %d, "
		    "column %d)", jerr.text, jerr.line, jerr.column);
		return;
	}
	if ((type = submit_type(req, obj)) == NULL)
		goto out;
	if (strcmp(type, "armstrong") == 0) {
		if (validate_armstrong(req, obj, &from, &to) != 0)
			goto out;
		symbols = NULL;
	} else if ((symbols = validate_submit(api, req, obj)) == NULL)
		goto out;

	key = http_request_header(req, "Idempotency-Key");
	if (key != NULL) {
		canon = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
		if (canon == NULL)
			fatalx("api: json_dumps");
		if ((job = jobs_find_idempotent(api->jobs, key, &prior)) !=
		    NULL) {
			if (strcmp(prior, canon) != 0)
				reply_problem(req, 422, "Idempotency-Key '%s' "
				    "was used for a different request", key);
			else
				reply_job(req, 200, job);
			goto out;
		}
	}

	if (symbols == NULL)
		error = searchjob_submit(api->search, from, to, &job);
	else {
		n = json_array_size(symbols);
		names = xcalloc(n, sizeof *names);
		for (i = 0; i < n; i++)
			names[i] = json_string_value(json_array_get(symbols,
			    i));
		error = stockjob_submit(api->stock, names, (unsigned)n, &job);
	}
	if (error != 0) {
		http_reply_header(req, "Retry-After", "5");
		reply_problem(req, 429, "the server holds its limit of "
		    "unfinished symbols; try again shortly");
		goto out;
	}
	if (key != NULL)
		job_set_idempotency(job, key, canon);
	snprintf(loc, sizeof loc, "/api/jobs/%" PRIu64, job_id(job));
	http_reply_header(req, "Location", loc);
	reply_job(req, 202, job);
out:
	free(names);
	free(canon);
	json_decref(obj);
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
	reply_job(w->req, 200, job);
	waiter_free(w);
}

static void
waiter_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct waiter	*w = arg;
	struct job	*job = jobs_find(w->api->jobs, w->id);

	job_unwait(w->jw);
	http_request_set_close_cb(w->req, NULL, NULL);
	reply_job(w->req, 200, job);
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
api_get(struct http_request *req, const struct route_params *params,
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
	if ((ws = http_request_query(req, "wait")) == NULL) {
		reply_job(req, 200, job);
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
			reply_job(req, 200, job);
			return;
		}
	}
	if (job_finished(job)) {
		reply_job(req, 200, job);
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
api_cancel(struct http_request *req, const struct route_params *params,
    void *arg)
{
	struct api_jobs	*api = arg;
	struct job	*job;

	if ((job = find_job(api, req, params)) == NULL)
		return;
	jobs_cancel(api->jobs, job);
	reply_job(req, 200, job);
}

/* --- GET /api/jobs --- */

static void
api_list(struct http_request *req, const struct route_params *params,
    void *arg)
{
	struct api_jobs	*api = arg;
	struct job	*job, *last = NULL;
	const char	*s;
	json_t		*arr;
	char		*end, cursor[32];
	long		 limit = LIST_DEFAULT;
	uint64_t	 before = 0;
	int		 state = -1, n = 0;

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
	arr = json_array();
	for (job = jobs_first(api->jobs, state, before); job != NULL &&
	    n < limit; job = jobs_next(api->jobs, job, state), n++) {
		json_array_append_new(arr, job_json(job, 0));
		last = job;
	}
	/* More left: the next page starts below the last id shown. */
	if (job != NULL)
		snprintf(cursor, sizeof cursor, "%" PRIu64, job_id(last));
	reply_json(req, 200, json_pack("{s:o, s:o}", "jobs", arr,
	    "next_cursor", job != NULL ? json_string(cursor) : json_null()));
}

/* --- files and archives --- */

struct read_task {
	struct http_request	*req;		/* NULL if the client left */
	char			*archive;
	char			*entry;
	struct evbuffer		*data;
	char			 err[256];
	int			 found;
};

static void
read_task_free(struct read_task *t)
{
	evbuffer_free(t->data);
	free(t->archive);
	free(t->entry);
	free(t);
}

static void
read_gone(struct http_request *req, void *arg)
{
	struct read_task	*t = arg;

	t->req = NULL;
}

/* Worker: the entry's bytes, straight out of the .tgz. */
static void
read_work(void *arg)
{
	struct read_task	*t = arg;
	struct archive		*a;
	struct archive_entry	*e;
	char			 buf[65536];
	la_ssize_t		 n;

	a = archive_read_new();
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, t->archive, 65536) != ARCHIVE_OK) {
		snprintf(t->err, sizeof t->err, "%s", archive_error_string(a));
		goto out;
	}
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		if (strcmp(archive_entry_pathname(e), t->entry) != 0)
			continue;
		t->found = 1;
		while ((n = archive_read_data(a, buf, sizeof buf)) > 0)
			evbuffer_add(t->data, buf, (size_t)n);
		if (n < 0) {
			snprintf(t->err, sizeof t->err, "%s",
			    archive_error_string(a));
			t->found = 0;
		}
		break;
	}
out:
	archive_read_free(a);
}

static void
read_done(void *arg, enum pool_status status)
{
	struct read_task	*t = arg;

	if (t->req != NULL) {
		http_request_set_close_cb(t->req, NULL, NULL);
		if (status == POOL_DONE && t->found)
			http_reply_buffer(t->req, 200,
			    "application/xml; charset=utf-8", t->data);
		else if (status == POOL_DONE)
			reply_problem(t->req, 500, "cannot read %s from its "
			    "archive: %s", t->entry, t->err[0] ? t->err :
			    "entry missing");
		else
			reply_problem(t->req, 503, "shutting down");
	}
	read_task_free(t);
}

static int
add_file(struct evbuffer *buf, const char *path)
{
	struct stat	st;
	int		fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    evbuffer_add_file(buf, fd, 0, st.st_size) != 0) {
		close(fd);
		return -1;
	}
	return 0;		/* the evbuffer closes fd when done */
}

static void
api_file(struct http_request *req, const struct route_params *params,
    void *arg)
{
	struct api_jobs		*api = arg;
	struct read_task	*t;
	struct job		*job;
	struct evbuffer		*buf;
	const char		*file = route_param(params, "file");
	const char		*archive, *entry;
	char			*path, symbol[64];
	size_t			 len = strlen(file);

	if ((job = find_job(api, req, params)) == NULL)
		return;
	if (len < 5 || len - 4 >= sizeof symbol ||
	    strcmp(file + len - 4, ".xml") != 0) {
		reply_problem(req, 404, "files are named SYMBOL.xml");
		return;
	}
	memcpy(symbol, file, len - 4);
	symbol[len - 4] = '\0';
	if (stockjob_symbol_xml(job, symbol, &path, &archive, &entry) != 0) {
		reply_problem(req, 404, "job %" PRIu64 " has no converted file "
		    "for '%s'", job_id(job), symbol);
		return;
	}
	if (path != NULL) {
		if ((buf = evbuffer_new()) == NULL)
			fatalx("api: evbuffer_new");
		if (add_file(buf, path) == 0)
			http_reply_buffer(req, 200,
			    "application/xml; charset=utf-8", buf);
		else		/* archived just now: the caller may retry */
			reply_problem(req, 503, "the file is being archived; "
			    "try again");
		evbuffer_free(buf);
		free(path);
		return;
	}
	t = xcalloc(1, sizeof *t);
	t->req = req;
	xasprintf(&t->archive, "%s/%s", stockjob_archive_dir(api->stock), archive);
	t->entry = xstrdup(entry);
	if ((t->data = evbuffer_new()) == NULL)
		fatalx("api: evbuffer_new");
	if (pool_submit(api->io, read_work, read_done, t, NULL) != 0) {
		http_reply_header(req, "Retry-After", "1");
		reply_problem(req, 503, "too busy to read archives now");
		read_task_free(t);
		return;
	}
	http_request_set_close_cb(req, read_gone, t);
}

/* Entries in an archive: read its headers (on a worker). */
static long long
count_entries(const char *path)
{
	struct archive		*a;
	struct archive_entry	*e;
	long long		 n = 0;

	a = archive_read_new();
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK)
		n = -1;
	else {
		while (archive_read_next_header(a, &e) == ARCHIVE_OK)
			n++;
	}
	archive_read_free(a);
	return n;
}

struct list_task {
	struct http_request	*req;
	struct api_jobs		*api;
	char			*dir;
	char			**names;
	size_t			 count;
	long long		*entries;	/* -2: known from the cache */
	long long		*bytes;
};

static void
list_task_free(struct list_task *t)
{
	archiver_list_free(t->names, t->count);
	free(t->entries);
	free(t->bytes);
	free(t->dir);
	free(t);
}

static void
list_gone(struct http_request *req, void *arg)
{
	struct list_task	*t = arg;

	t->req = NULL;
}

static void
list_work(void *arg)
{
	struct list_task	*t = arg;
	struct stat		 st;
	char			*path;
	size_t			 i;

	for (i = 0; i < t->count; i++) {
		xasprintf(&path, "%s/%s", t->dir, t->names[i]);
		t->bytes[i] = stat(path, &st) == 0 ? (long long)st.st_size : -1;
		if (t->entries[i] != -2)
			t->entries[i] = count_entries(path);
		free(path);
	}
}

static long long
cached_count(struct api_jobs *api, const char *name)
{
	size_t	i;

	for (i = 0; i < api->ncounts; i++) {
		if (strcmp(api->counts[i].name, name) == 0)
			return api->counts[i].entries;
	}
	return -1;
}

static void
list_done(void *arg, enum pool_status status)
{
	struct list_task	*t = arg;
	struct api_jobs		*api = t->api;
	json_t			*arr;
	long long		 n;
	size_t			 i;

	arr = json_array();
	for (i = 0; i < t->count; i++) {
		if (t->entries[i] == -2)
			n = cached_count(api, t->names[i]);
		else {
			n = t->entries[i];
			if (n >= 0) {	/* archives never change: keep it */
				api->counts = xreallocarray(api->counts,
				    api->ncounts + 1, sizeof *api->counts);
				api->counts[api->ncounts].name =
				    xstrdup(t->names[i]);
				api->counts[api->ncounts++].entries = n;
			}
		}
		if (t->bytes[i] < 0)
			continue;	/* vanished meanwhile */
		json_array_append_new(arr, json_pack("{s:s, s:I, s:I}",
		    "name", t->names[i], "bytes", (json_int_t)t->bytes[i],
		    "entries", (json_int_t)n));
	}
	if (t->req != NULL) {
		http_request_set_close_cb(t->req, NULL, NULL);
		if (status == POOL_DONE)
			reply_json(t->req, 200, json_pack("{s:o}", "archives",
			    arr));
		else {
			json_decref(arr);
			reply_problem(t->req, 503, "shutting down");
		}
	} else
		json_decref(arr);
	list_task_free(t);
}

static void
api_archives(struct http_request *req, const struct route_params *params,
    void *arg)
{
	struct api_jobs		*api = arg;
	struct list_task	*t;
	size_t			 i;
	int			 error;

	t = xcalloc(1, sizeof *t);
	t->req = req;
	t->api = api;
	t->dir = xstrdup(stockjob_archive_dir(api->stock));
	if ((error = archiver_list(t->dir, "stockcam", &t->names,
	    &t->count)) != 0) {
		reply_problem(req, 500, "cannot list archives: %s",
		    strerror(-error));
		free(t->dir);
		free(t);
		return;
	}
	t->entries = xcalloc(t->count + 1, sizeof *t->entries);
	t->bytes = xcalloc(t->count + 1, sizeof *t->bytes);
	for (i = 0; i < t->count; i++)
		t->entries[i] = cached_count(api, t->names[i]) >= 0 ? -2 : -1;
	if (pool_submit(api->io, list_work, list_done, t, NULL) != 0) {
		http_reply_header(req, "Retry-After", "1");
		reply_problem(req, 503, "too busy to list archives now");
		list_task_free(t);
		return;
	}
	http_request_set_close_cb(req, list_gone, t);
}

/* Archive names are PREFIX-DIGITS.tgz: nothing else is served. */
static int
archive_name_ok(const char *name)
{
	const char	*p;

	if (strncmp(name, "stockcam-", 9) != 0)
		return 0;
	for (p = name + 9; *p >= '0' && *p <= '9'; p++)
		;
	return p > name + 9 && strcmp(p, ".tgz") == 0;
}

static void
api_download(struct http_request *req, const struct route_params *params,
    void *arg)
{
	struct api_jobs	*api = arg;
	const char	*name = route_param(params, "name");
	struct evbuffer	*buf;
	char		*path, disp[128];

	if (!archive_name_ok(name)) {
		reply_problem(req, 404, "no archive named '%s'", name);
		return;
	}
	xasprintf(&path, "%s/%s", stockjob_archive_dir(api->stock), name);
	if ((buf = evbuffer_new()) == NULL)
		fatalx("api: evbuffer_new");
	if (add_file(buf, path) != 0)
		reply_problem(req, 404, "no archive named '%s'", name);
	else {
		snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", name);
		http_reply_header(req, "Content-Disposition", disp);
		http_reply_buffer(req, 200, "application/gzip", buf);
	}
	evbuffer_free(buf);
	free(path);
}

struct api_jobs *
api_jobs_register(struct router *r, struct event_base *base,
    struct jobs *jobs, struct stockjob *stock, struct searchjob *search,
    struct pool *io, unsigned max_symbols)
{
	struct api_jobs	*api;

	api = xcalloc(1, sizeof *api);
	api->jobs = jobs;
	api->stock = stock;
	api->search = search;
	api->io = io;
	api->max_symbols = max_symbols;
	LIST_INIT(&api->waiters);
	api->base = base;
	router_add(r, HTTP_POST, "/api/jobs", api_submit, api);
	router_add(r, HTTP_GET, "/api/jobs", api_list, api);
	router_add(r, HTTP_GET, "/api/jobs/{id}", api_get, api);
	router_add(r, HTTP_DELETE, "/api/jobs/{id}", api_cancel, api);
	router_add(r, HTTP_GET, "/api/jobs/{id}/files/{file}", api_file, api);
	router_add(r, HTTP_GET, "/api/archives", api_archives, api);
	router_add(r, HTTP_GET, "/archives/{name}", api_download, api);
	return api;
}

void
api_jobs_free(struct api_jobs *api)
{
	struct waiter	*w;
	size_t		 i;

	if (api == NULL)
		return;
	while ((w = LIST_FIRST(&api->waiters)) != NULL) {
		job_unwait(w->jw);
		waiter_free(w);
	}
	for (i = 0; i < api->ncounts; i++)
		free(api->counts[i].name);
	free(api->counts);
	free(api);
}
