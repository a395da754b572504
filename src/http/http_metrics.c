/*
 * http_metrics.c - the HTTP server's figures: every reply counted once,
 * by method, route and status, with its duration by route.
 *
 * The route is the router's pattern ("/api/jobs/{id}"), never the path,
 * so the label's values are as few as the routes: a request that matched
 * none (a 404, a malformed request, a connection refused at accept) is
 * counted under "none". The routes are looked up in a short array: the
 * router has a few dozen, and comparing that many pointers costs less
 * than hashing one path.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "http/http.h"
#include "http/http_int.h"
#include "lib/histo.h"
#include "lib/mono.h"
#include "lib/prom.h"
#include "lib/xmalloc.h"

#define HTTP_NMETHODS	9		/* the 8 bits of enum http_method, none */
#define HTTP_ROUTE_NONE	"none"

static const char *http_method_labels[HTTP_NMETHODS] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "other",
	"none"
};

struct http_code_count {
	uint16_t	status;
	uint8_t		method;		/* index in http_method_labels */
	uint64_t	n;
};

struct http_route_metrics {
	const char		*key;	/* the router's string, compared */
	char			*name;	/* a copy, for the writer */
	struct histo		 duration;
	struct http_code_count	*codes;
	unsigned		 ncodes, codes_room;
};

struct http_metrics {
	struct http_route_metrics	*routes;
	unsigned			 n, room;
};

static const char http_route_none[] = HTTP_ROUTE_NONE;

static unsigned
http_method_index(const struct http_request *req)
{
	if (req == NULL || req->method == 0)
		return HTTP_NMETHODS - 1;	/* before a method was read */
	return (unsigned)__builtin_ctz((unsigned)req->method);
}

static struct http_route_metrics *
http_route_find(struct http_server *srv, const char *key)
{
	struct http_metrics		*m = srv->metrics;
	struct http_route_metrics	*r;
	unsigned			 i;

	for (i = 0; i < m->n; i++) {
		if (m->routes[i].key == key)
			return &m->routes[i];
	}
	if (m->n == m->room) {
		m->room = m->room > 0 ? m->room * 2 : 32;
		m->routes = xreallocarray(m->routes, m->room,
		    sizeof *m->routes);
	}
	r = &m->routes[m->n++];
	memset(r, 0, sizeof *r);
	r->key = key;
	r->name = xstrdup(key);
	histo_init(&r->duration, histo_request_s, HISTO_REQUEST_N);
	return r;
}

static void
http_route_count(struct http_route_metrics *r, unsigned method, int status)
{
	struct http_code_count	*c;
	unsigned		 i;

	for (i = 0; i < r->ncodes; i++) {
		c = &r->codes[i];
		if (c->status == status && c->method == method) {
			c->n++;
			return;
		}
	}
	if (r->ncodes == r->codes_room) {
		r->codes_room = r->codes_room > 0 ? r->codes_room * 2 : 4;
		r->codes = xreallocarray(r->codes, r->codes_room,
		    sizeof *r->codes);
	}
	c = &r->codes[r->ncodes++];
	c->status = (uint16_t)status;
	c->method = (uint8_t)method;
	c->n = 1;
}

void
http_metrics_count(struct http_server *srv, struct http_request *req,
    int status)
{
	struct http_route_metrics	*r;

	srv->stats.requests++;
	if (status >= 100 && status < 600)
		srv->stats.by_class[status / 100]++;
	r = http_route_find(srv, req != NULL && req->route != NULL ?
	    req->route : http_route_none);
	http_route_count(r, http_method_index(req), status);
	if (req == NULL)
		return;			/* refused at accept: no request */
	histo_observe(&r->duration, (double)mono_since_ns(&req->started) /
	    1e9);
	if (req->inflight) {
		req->inflight = 0;
		srv->inflight--;
	}
}

void
http_metrics_dispatched(struct http_server *srv, struct http_request *req)
{
	req->inflight = 1;
	srv->inflight++;
}

void
http_metrics_forget(struct http_server *srv, struct http_request *req)
{
	if (req->inflight) {
		req->inflight = 0;
		srv->inflight--;
	}
}

void
http_metrics_init(struct http_server *srv)
{
	srv->metrics = xcalloc(1, sizeof *srv->metrics);
	http_route_find(srv, http_route_none);	/* listed from the start */
}

void
http_metrics_free(struct http_server *srv)
{
	struct http_metrics	*m = srv->metrics;
	unsigned		 i;

	for (i = 0; i < m->n; i++) {
		free(m->routes[i].name);
		free(m->routes[i].codes);
	}
	free(m->routes);
	free(m);
}

void
http_metrics_write(const struct http_server *srv, struct evbuffer *b)
{
	const struct http_metrics	*m = srv->metrics;
	const struct http_route_metrics	*r;
	const struct http_code_count	*c;
	char				 labels[256];
	unsigned			 i, j;

	prom_family(b, "stockcam_http_requests_total", "counter",
	    "HTTP requests answered, by method, route and status code.");
	for (i = 0; i < m->n; i++) {
		r = &m->routes[i];
		for (j = 0; j < r->ncodes; j++) {
			c = &r->codes[j];
			snprintf(labels, sizeof labels,
			    "method=\"%s\",route=\"%s\",code=\"%u\"",
			    http_method_labels[c->method], r->name,
			    (unsigned)c->status);
			prom_u64(b, "stockcam_http_requests_total", labels,
			    c->n);
		}
	}
	prom_family(b, "stockcam_http_request_duration_seconds", "histogram",
	    "Time from a request's first byte to its reply (for streams, "
	    "their headers), by route.");
	for (i = 0; i < m->n; i++) {
		r = &m->routes[i];
		snprintf(labels, sizeof labels, "route=\"%s\"", r->name);
		prom_histo(b, "stockcam_http_request_duration_seconds",
		    labels, &r->duration);
	}
	prom_family(b, "stockcam_http_requests_in_flight", "gauge",
	    "Requests handed to a handler and not answered yet (long-polls "
	    "included).");
	prom_u64(b, "stockcam_http_requests_in_flight", NULL, srv->inflight);
	prom_family(b, "stockcam_http_connections", "gauge",
	    "Client connections open now.");
	prom_u64(b, "stockcam_http_connections", NULL, srv->stats.conns_now);
	prom_family(b, "stockcam_http_connections_accepted_total", "counter",
	    "Client connections accepted and served.");
	prom_u64(b, "stockcam_http_connections_accepted_total", NULL,
	    srv->stats.conns_total);
	prom_family(b, "stockcam_http_connections_refused_total", "counter",
	    "Connections refused at accept (a 503, or under TLS a close): "
	    "over a connection cap or out of file descriptors.");
	prom_u64(b, "stockcam_http_connections_refused_total", NULL,
	    srv->stats.conns_rejected);
	http_tls_metrics_write(srv, b);
}
