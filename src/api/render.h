/*
 * render.h - a job's JSON rendered once and shared by reference.
 *
 * A change wakes every long-poll on the job at once, and each reply
 * would render the same version again: 900 waiters on a 1000-symbol job
 * meant 900 renderings of 120 KB per version. Here a version is rendered
 * once and every reply of it sends the same bytes, by reference; they
 * are freed when the last reply is sent and nobody asked for a second.
 */
#ifndef SC_RENDER_H
#define SC_RENDER_H

#include <stdint.h>

struct event_base;
struct http_request;
struct job;
struct render_cache;

struct render_stats {
	uint64_t	 renders;	/* job bodies rendered */
	uint64_t	 rendered_bytes;
	uint64_t	 shared;	/* replies that reused a rendering */
};

struct render_cache *render_cache_new(struct event_base *);
void		 render_cache_free(struct render_cache *);
/* Replies `status` with the job (its items too if detail). */
void		 render_reply_job(struct render_cache *, struct http_request *,
		    int status, const struct job *, int detail);
void		 render_cache_get_stats(const struct render_cache *,
		    struct render_stats *);

#endif
