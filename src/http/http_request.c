/*
 * http_request.c - the request object: set up from a parsed head (target,
 * keep-alive, framing and its limits), read by handlers through accessors,
 * freed when its reply is sent.
 */
#include "config.h"

#include <sys/types.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "http/http.h"
#include "http/http_int.h"
#include "http/http_parse.h"
#include "lib/log.h"
#include "lib/mono.h"
#include "lib/xmalloc.h"

static const struct {
	const char		*name;
	enum http_method	 method;
} request_methods[] = {
	{ "GET", HTTP_GET }, { "HEAD", HTTP_HEAD }, { "POST", HTTP_POST },
	{ "PUT", HTTP_PUT }, { "DELETE", HTTP_DELETE },
	{ "OPTIONS", HTTP_OPTIONS }, { "PATCH", HTTP_PATCH },
};

static enum http_method
request_method_from_name(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof request_methods / sizeof request_methods[0];
	    i++) {
		if (strcmp(request_methods[i].name, name) == 0)
			return request_methods[i].method;
	}
	return HTTP_OTHER;
}

struct http_request *
http_request_new(struct http_conn *conn)
{
	struct http_request	*req;

	req = xcalloc(1, sizeof *req);
	req->conn = conn;
	req->srv = conn->srv;
	req->keepalive = 0;
	req->out_headers = evbuffer_new();
	if (req->out_headers == NULL)
		fatalx("http: evbuffer_new");
	memcpy(req->peer, conn->peer, sizeof req->peer);
	clock_gettime(CLOCK_MONOTONIC, &req->started);
	return req;
}

void
http_request_free(struct http_request *req)
{
	http_metrics_forget(req->srv, req);
	if (req->query != NULL) {
		evhttp_clear_headers(req->query);
		free(req->query);
	}
	evbuffer_free(req->out_headers);
	free(req->head);
	free(req->path);
	free(req->query_string);
	free(req->body);
	free(req);
}

enum http_method
http_request_method(const struct http_request *req)
{
	return req->method;
}

void
http_request_set_route(struct http_request *req, const char *route)
{
	req->route = route;
}

const char *
http_request_method_name(const struct http_request *req)
{
	return req->h.method != NULL ? req->h.method : "-";
}

const char *
http_request_path(const struct http_request *req)
{
	return req->path != NULL ? req->path : "";
}

const char *
http_request_query(const struct http_request *req, const char *key)
{
	struct http_request	*mut = (struct http_request *)(uintptr_t)req;

	if (req->query_string == NULL)
		return NULL;
	if (req->query == NULL) {
		mut->query = xcalloc(1, sizeof *mut->query);
		TAILQ_INIT(mut->query);
		if (evhttp_parse_query_str(req->query_string, mut->query) != 0)
			evhttp_clear_headers(mut->query);
	}
	return evhttp_find_header(req->query, key);
}

const char *
http_request_header(const struct http_request *req, const char *name)
{
	return http_parse_header(&req->h, name);
}

const char *
http_request_body(const struct http_request *req, size_t *len)
{
	if (len != NULL)
		*len = req->body_len;
	return req->body != NULL ? req->body : "";
}

const char *
http_request_peer(const struct http_request *req)
{
	return req->peer;
}

void
http_request_set_close_cb(struct http_request *req, http_close_fn *cb,
    void *arg)
{
	req->close_cb = cb;
	req->close_arg = arg;
}

void
http_request_log(struct http_request *req, int status, size_t len)
{
	int64_t		ns;
	unsigned	us;

	if (!log_enabled(LOG_LEVEL_INFO))
		return;
	ns = mono_since_ns(&req->started);
	us = ns < 0 ? 0 : (unsigned)(ns / 1000);
	log_info("%s \"%s %s HTTP/1.%d\" %d %zu %u.%03ums", req->peer,
	    http_request_method_name(req),
	    req->h.target != NULL ? req->h.target : "-", req->h.minor,
	    status, len, us / 1000, us % 1000);
}

/* Splits the target into its path and query string, both still encoded. */
static int
request_set_target(struct http_request *req, const char **why)
{
	const char	*target = req->h.target, *q;
	char		*decoded;
	size_t		 rawlen, len;

	/*
	 * RFC 9112 3.2.2: a server must accept the absolute form, as a
	 * proxy would send it; route on its path ("" is "/").
	 */
	if (strncasecmp(target, "http://", 7) == 0 ||
	    strncasecmp(target, "https://", 8) == 0) {
		target = strstr(target, "//") + 2;
		target += strcspn(target, "/?");
		if (*target != '/') {
			req->path = xstrdup("/");
			if (*target == '?')
				req->query_string = xstrdup(target + 1);
			return 0;
		}
	}
	if (target[0] != '/') {
		*why = "request target must be an absolute path";
		return 400;
	}
	q = strchr(target, '?');
	rawlen = q != NULL ? (size_t)(q - target) : strlen(target);
	if (q != NULL)
		req->query_string = xstrdup(q + 1);
	/*
	 * The path stays encoded: the router splits it into segments first
	 * and decodes each, so an encoded slash (%2F) stays inside its
	 * segment. Decoding here only rejects an encoded NUL.
	 */
	req->path = xstrndup(target, rawlen);
	decoded = evhttp_uridecode(req->path, 0, &len);
	if (decoded == NULL)
		fatalx("http: evhttp_uridecode");
	rawlen = strlen(decoded);
	free(decoded);
	if (rawlen != len) {
		*why = "NUL byte in request path";
		return 400;
	}
	return 0;
}

/* Applies the head's framing headers; 0, or a status to fail with. */
static int
request_check_framing(struct http_request *req, const char **why)
{
	struct http_conn	*conn = req->conn;
	const struct http_parse_req	*h = &req->h;
	const char		*conn_hdr, *te, *expect, *cl = NULL;
	unsigned long long	 len = 0, other;
	unsigned		 i;

	conn_hdr = http_parse_header(h, "Connection");
	if (h->minor >= 1)
		req->keepalive = conn_hdr == NULL ||
		    !http_parse_token_list_has(conn_hdr, "close");
	else
		req->keepalive = conn_hdr != NULL &&
		    http_parse_token_list_has(conn_hdr, "keep-alive");

	if (h->minor >= 1 && http_parse_header(h, "Host") == NULL) {
		*why = "HTTP/1.1 request without a Host header";
		return 400;
	}
	/* RFC 9112 3.2: more than one Host is a 400. */
	for (i = 0, other = 0; i < h->nheaders; i++) {
		if (strcasecmp(h->headers[i].name, "Host") == 0 &&
		    ++other > 1) {
			*why = "more than one Host header";
			return 400;
		}
	}
	if ((te = http_parse_header(h, "Transfer-Encoding")) != NULL) {
		if (http_parse_token_list_has(te, "chunked")) {
			*why = "chunked request bodies are not accepted; "
			    "send a Content-Length";
			return 411;
		}
		*why = "unsupported Transfer-Encoding";
		return 501;
	}
	for (i = 0; i < h->nheaders; i++) {
		if (strcasecmp(h->headers[i].name, "Content-Length") != 0)
			continue;
		if (http_parse_length(h->headers[i].value, &other) != 0 ||
		    (cl != NULL && other != len)) {
			*why = "invalid Content-Length";
			return 400;
		}
		cl = h->headers[i].value;
		len = other;
	}
	if (len > conn->srv->limits.max_body_size) {
		*why = "request body is larger than the server accepts";
		return 413;
	}
	req->body_len = (size_t)len;

	if ((expect = http_parse_header(h, "Expect")) != NULL) {
		if (strcasecmp(expect, "100-continue") != 0) {
			*why = "unsupported expectation";
			return 417;
		}
		if (h->minor >= 1 && len > 0 && evbuffer_get_length(
		    bufferevent_get_input(conn->bev)) < len)
			bufferevent_write(conn->bev,
			    "HTTP/1.1 100 Continue\r\n\r\n", 25);
	}
	return 0;
}

int
http_request_parse(struct http_request *req, size_t len, const char **why)
{
	int	status;

	if ((status = http_parse_head(req->head, len, &req->h, why)) != 0 ||
	    (status = request_set_target(req, why)) != 0 ||
	    (status = request_check_framing(req, why)) != 0)
		return status;
	req->method = request_method_from_name(req->h.method);
	if (req->method == HTTP_OTHER) {
		*why = "unknown request method";
		return 501;
	}
	return 0;
}
