/*
 * api_files.c - converted files and archives over HTTP.
 *
 *   GET /api/jobs/{id}/files/{symbol}.xml   one converted file
 *   GET /api/archives                       the archives, with sizes
 *   GET /archives/{name}                    one archive, as it is
 *
 * A file not archived yet and a whole archive are sent from their fd.
 * Reading inside archives (decompression, directory scans) blocks, so it
 * runs on the io pool, never on the fetch pool where it would queue
 * behind downloads; the reply is made back on the loop. A full pool is
 * a 503 with Retry-After, as is a shutdown before the work ran.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "api/api_files.h"
#include "api/api_jobs.h"
#include "http/http.h"
#include "http/reply.h"
#include "http/router.h"
#include "jobs/job_json.h"
#include "jobs/jobs.h"
#include "jobs/stockjob.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/xmalloc.h"
#include "stock/names.h"
#include "stock/tgzdir.h"

/* No limit of our own: an XML file is as large as its download allows. */
#define FILES_MAX_XML	SIZE_MAX

struct api_files {
	struct jobs	*jobs;
	struct pool	*io;
	struct tgzdir	*dir;
};

struct files_task;
/* Worker thread: the blocking part. */
typedef void	files_work_fn(struct files_task *);
/* Loop thread: the reply, the client still being there. */
typedef void	files_reply_fn(struct files_task *, struct http_request *);

/* One read or listing on the io pool. */
struct files_task {
	struct http_request	*req;		/* NULL if the client left */
	struct tgzdir		*dir;
	files_work_fn		*work;
	files_reply_fn		*reply;
	int			 error;
	char			 err[256];
	/* GET /api/jobs/{id}/files/{symbol}.xml */
	char			*archive;
	char			*entry;
	char			*data;
	size_t			 len;
	/* GET /api/archives */
	struct tgzdir_item	*items;
	size_t			 count;
};

/* --- the task scaffolding --- */

static void
files_task_free(struct files_task *t)
{
	free(t->archive);
	free(t->entry);
	free(t->data);
	tgzdir_list_free(t->items, t->count);
	free(t);
}

static void
files_task_gone(struct http_request *req, void *arg)
{
	struct files_task	*t = arg;

	t->req = NULL;
}

static void
files_task_work(void *arg)
{
	struct files_task	*t = arg;

	t->work(t);
}

static void
files_task_done(void *arg, enum pool_status status)
{
	struct files_task	*t = arg;

	if (t->req != NULL) {
		http_request_set_close_cb(t->req, NULL, NULL);
		if (status == POOL_DONE)
			t->reply(t, t->req);
		else
			reply_problem(t->req, 503, "shutting down");
	}
	files_task_free(t);
}

/* Runs t on the io pool; if it is full, a 503 saying `busy`. */
static void
files_task_submit(struct api_files *api, struct http_request *req,
    struct files_task *t, const char *busy)
{
	t->req = req;
	t->dir = api->dir;
	if (pool_submit(api->io, files_task_work, files_task_done, t,
	    NULL) != 0) {
		http_reply_header(req, "Retry-After", "1");
		reply_problem(req, 503, "%s", busy);
		files_task_free(t);
		return;
	}
	http_request_set_close_cb(req, files_task_gone, t);
}

/* A body of fd's size bytes (closed with the buffer); NULL, fd closed. */
static struct evbuffer *
files_fd_buffer(int fd, off_t size)
{
	struct evbuffer	*buf;

	if ((buf = evbuffer_new()) == NULL)
		fatalx("api: evbuffer_new");
	if (evbuffer_add_file(buf, fd, 0, size) != 0) {
		close(fd);
		evbuffer_free(buf);
		return NULL;
	}
	return buf;
}

/* A regular file: 0 with *fd and *size, or -1. */
static int
files_open(const char *path, int *fd, off_t *size)
{
	struct stat	st;

	if ((*fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(*fd);
		*fd = -1;
		return -1;
	}
	*size = st.st_size;
	return 0;
}

/* --- GET /api/jobs/{id}/files/{symbol}.xml --- */

static void
files_read_work(struct files_task *t)
{
	t->error = tgzdir_read(t->dir, t->archive, t->entry, FILES_MAX_XML,
	    &t->data, &t->len, t->err, sizeof t->err);
}

static void
files_read_reply(struct files_task *t, struct http_request *req)
{
	struct evbuffer	*buf;

	if (t->error != 0) {
		reply_problem(req, 500, "cannot read %s from its archive: %s",
		    t->entry, t->err);
		return;
	}
	if ((buf = evbuffer_new()) == NULL ||
	    evbuffer_add(buf, t->data, t->len) != 0)
		fatalx("api: evbuffer_add");
	http_reply_buffer(req, 200, "application/xml; charset=utf-8", buf);
	evbuffer_free(buf);
}

static void
files_get(struct http_request *req, const struct router_params *params,
    void *arg)
{
	struct api_files	*api = arg;
	struct files_task	*t;
	struct job		*job;
	struct evbuffer		*buf;
	const char		*file = router_param(params, "file");
	const char		*archive, *entry;
	char			*path, symbol[NAMES_SYMBOL_MAX + 1];
	size_t			 len = strlen(file);
	off_t			 size;
	int			 fd;

	if ((job = api_jobs_find(api->jobs, req, params)) == NULL)
		return;
	if (len < 5 || strcmp(file + len - 4, ".xml") != 0) {
		reply_problem(req, 404, "files are named SYMBOL.xml");
		return;
	}
	if (names_symbol_file(file, ".xml", symbol) != 0 ||
	    stockjob_symbol_xml(job, symbol, &path, &archive, &entry) != 0) {
		reply_problem(req, 404, "job %" PRIu64 " has no converted file "
		    "for '%.*s'", job_id(job), (int)(len - 4), file);
		return;
	}
	if (path != NULL) {
		if (files_open(path, &fd, &size) == 0 &&
		    (buf = files_fd_buffer(fd, size)) != NULL) {
			http_reply_buffer(req, 200,
			    "application/xml; charset=utf-8", buf);
			evbuffer_free(buf);
		} else		/* archived just now: the caller may retry */
			reply_problem(req, 503, "the file is being archived; "
			    "try again");
		free(path);
		return;
	}
	t = xcalloc(1, sizeof *t);
	t->work = files_read_work;
	t->reply = files_read_reply;
	t->archive = xstrdup(archive);
	t->entry = xstrdup(entry);
	files_task_submit(api, req, t, "too busy to read archives now");
}

/* --- GET /api/archives --- */

static void
files_list_work(struct files_task *t)
{
	t->error = tgzdir_list(t->dir, &t->items, &t->count);
}

static json_t *
api_files_time(const struct timespec *ts)
{
	struct timeval	tv;

	tv.tv_sec = ts->tv_sec;
	tv.tv_usec = (suseconds_t)(ts->tv_nsec / 1000);
	return job_json_time(&tv);
}

static void
files_list_reply(struct files_task *t, struct http_request *req)
{
	json_t	*arr;
	size_t	 i;

	if (t->error != 0) {
		reply_problem(req, 500, "cannot list archives: %s",
		    strerror(-t->error));
		return;
	}
	arr = json_array();
	for (i = 0; i < t->count; i++)
		json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:o}",
		    "name", t->items[i].name,
		    "bytes", (json_int_t)t->items[i].bytes,
		    "entries", (json_int_t)t->items[i].entries,
		    "mtime", api_files_time(&t->items[i].mtime)));
	reply_json(req, 200, json_pack("{s:o}", "archives", arr));
}

static void
files_archives(struct http_request *req, const struct router_params *params,
    void *arg)
{
	struct api_files	*api = arg;
	struct files_task	*t;

	t = xcalloc(1, sizeof *t);
	t->work = files_list_work;
	t->reply = files_list_reply;
	files_task_submit(api, req, t, "too busy to list archives now");
}

/* --- GET /archives/{name} --- */

static void
files_download(struct http_request *req, const struct router_params *params,
    void *arg)
{
	struct api_files	*api = arg;
	const char		*name = router_param(params, "name");
	struct evbuffer		*buf;
	char			 disp[128];
	off_t			 size;
	int			 fd, rv;

	if ((rv = tgzdir_open(api->dir, name, &fd, &size)) == -EMFILE ||
	    rv == -ENFILE || rv == -ENOMEM) {
		/* Not missing: the server is short of fds, so try later. */
		http_reply_header(req, "Retry-After", "1");
		reply_problem(req, 503, "archive '%s' cannot be opened now: %s",
		    name, strerror(-rv));
		return;
	}
	if (rv != 0 || (buf = files_fd_buffer(fd, size)) == NULL) {
		reply_problem(req, 404, "no archive named '%s'", name);
		return;
	}
	snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", name);
	http_reply_header(req, "Content-Disposition", disp);
	http_reply_buffer(req, 200, "application/gzip", buf);
	evbuffer_free(buf);
}

struct api_files *
api_files_register(struct router *r, struct jobs *jobs,
    struct stockjob *stock, struct pool *io)
{
	struct api_files	*api;

	api = xcalloc(1, sizeof *api);
	api->jobs = jobs;
	api->io = io;
	api->dir = tgzdir_new(stockjob_archive_dir(stock));
	router_add(r, HTTP_GET, "/api/jobs/{id}/files/{file}", files_get, api);
	router_add(r, HTTP_GET, "/api/archives", files_archives, api);
	router_add(r, HTTP_GET, "/archives/{name}", files_download, api);
	return api;
}

void
api_files_free(struct api_files *api)
{
	if (api == NULL)
		return;
	tgzdir_free(api->dir);
	free(api);
}
