/*
 * render.c - job replies rendered once per loop turn, sent by reference.
 *
 * A few slots, each one rendering (job, version, detail) with a count of
 * its holders: the slot and every reply still being sent. The version
 * is the key because every change of a job's JSON ends in job_changed,
 * which bumps it before it wakes anyone. A slot unused for a second is
 * emptied, so a big job's body is not held for nothing.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "api/render.h"
#include "http/http.h"
#include "jobs/job_json.h"
#include "jobs/jobs.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

#define RENDER_SLOTS	8

struct rendering {
	unsigned	 refs;
	size_t		 len;
	char		*text;
};

struct render_slot {
	uint64_t		 id;
	uint64_t		 version;
	int			 detail;
	int			 used;		/* since the last sweep */
	struct rendering	*r;
};

struct render_cache {
	struct event		*sweep;
	struct render_slot	 slots[RENDER_SLOTS];
	unsigned		 next;		/* the slot to reuse */
	struct render_stats	 stats;
};

static void
rendering_unref(struct rendering *r)
{
	if (--r->refs > 0)
		return;
	free(r->text);
	free(r);
}

/* evbuffer cleanup: one reply has been sent or dropped. */
static void
rendering_sent(const void *data, size_t len, void *arg)
{
	rendering_unref(arg);
}

static void
render_drop(struct render_slot *s)
{
	if (s->r != NULL)
		rendering_unref(s->r);
	s->r = NULL;
}

/* Once a second while anything is kept: drops what went unused. */
static void
render_sweep(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval	 second = { 1, 0 };
	struct render_cache		*rc = arg;
	struct render_slot		*s;
	unsigned			 i, kept = 0;

	for (i = 0; i < RENDER_SLOTS; i++) {
		s = &rc->slots[i];
		if (!s->used)
			render_drop(s);
		s->used = 0;
		kept += s->r != NULL;
	}
	if (kept > 0)
		evtimer_add(rc->sweep, &second);
}

struct render_cache *
render_cache_new(struct event_base *base)
{
	struct render_cache	*rc = xcalloc(1, sizeof *rc);

	if ((rc->sweep = evtimer_new(base, render_sweep, rc)) == NULL)
		fatalx("render: evtimer_new");
	return rc;
}

void
render_cache_free(struct render_cache *rc)
{
	unsigned	i;

	if (rc == NULL)
		return;
	for (i = 0; i < RENDER_SLOTS; i++)
		render_drop(&rc->slots[i]);
	event_free(rc->sweep);
	free(rc);
}

static struct rendering *
render_find(struct render_cache *rc, const struct job *job, int detail)
{
	struct render_slot	*s;
	unsigned		 i;

	for (i = 0; i < RENDER_SLOTS; i++) {
		s = &rc->slots[i];
		if (s->r != NULL && s->id == job_id(job) &&
		    s->version == job_version(job) && s->detail == detail) {
			s->used = 1;
			return s->r;
		}
	}
	return NULL;
}

static struct rendering *
render_new(struct render_cache *rc, const struct job *job, int detail)
{
	static const struct timeval	 second = { 1, 0 };
	struct render_slot		*s = &rc->slots[rc->next];
	struct rendering		*r;
	json_t				*obj = job_json(job, detail);

	r = xcalloc(1, sizeof *r);
	r->text = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(9));
	if (r->text == NULL)
		fatalx("render: json_dumps");
	json_decref(obj);
	r->len = strlen(r->text);
	r->refs = 1;			/* the slot's */
	rc->stats.renders++;
	rc->stats.rendered_bytes += r->len;

	render_drop(s);
	s->id = job_id(job);
	s->version = job_version(job);
	s->detail = detail;
	s->used = 1;
	s->r = r;
	rc->next = (rc->next + 1) % RENDER_SLOTS;
	if (!evtimer_pending(rc->sweep, NULL))
		evtimer_add(rc->sweep, &second);
	return r;
}

void
render_reply_job(struct render_cache *rc, struct http_request *req,
    int status, const struct job *job, int detail)
{
	struct rendering	*r;

	if ((r = render_find(rc, job, detail)) != NULL)
		rc->stats.shared++;
	else
		r = render_new(rc, job, detail);
	r->refs++;			/* the reply's, until it is sent */
	http_reply_ref(req, status, "application/json", r->text, r->len,
	    rendering_sent, r);
}

void
render_cache_get_stats(const struct render_cache *rc, struct render_stats *st)
{
	*st = rc->stats;
}
