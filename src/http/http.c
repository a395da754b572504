/*
 * http.c - the HTTP/1.1 server.
 *
 * Connections are libevent bufferevents owned by the loop thread. Each
 * connection runs one request at a time (pipelined requests wait in the
 * input buffer) through the states below, and every limit is enforced
 * here, before a handler sees anything:
 *
 *   IDLE --byte--> HEAD --head--> [BODY] --> HANDLING --reply--> WRITING
 *     ^                                                            |
 *     +------------------- drained, keep-alive --------------------+
 *                          drained, close -------------> LINGER -> closed
 *
 * - a connection over --max-connections gets a canned 503 at accept time;
 * - one deadline covers a request's head and body (slow-header clients);
 * - heads over the header limit get 431, bodies over the body limit 413,
 *   decided from Content-Length before any of the body is read;
 * - a connection closed after an error first shuts down its write side
 *   and reads what the client still sends, so the client sees the error
 *   reply rather than a reset.
 *
 * Every reply the layer makes itself is application/problem+json, like the
 * handlers' own errors.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "http/http.h"
#include "http/http_parse.h"
#include "http/http_problem.h"
#include "lib/hostport.h"
#include "lib/log.h"
#include "lib/mono.h"
#include "lib/xmalloc.h"

#define HTTP_MAX_LISTENERS	8
#define HTTP_LINGER_MS		2000	/* reading leftovers before close */
#define HTTP_MAX_REJECTS	256	/* rejected sockets lingering at once */
#define HTTP_ACCEPT_PAUSE_MS	100	/* after EMFILE and friends */
#define HTTP_STREAM_MAX_WRITE	(1024 * 1024)	/* bytes per send, streams */

enum conn_state {
	CONN_IDLE,
	CONN_HEAD,
	CONN_BODY,
	CONN_HANDLING,
	CONN_WRITING,
	CONN_STREAMING,		/* a handler writes a reply of open length */
	CONN_LINGER,
};

struct http_conn;

struct http_request {
	struct http_conn	*conn;		/* NULL once the client is gone */
	struct http_server	*srv;
	char			*head;		/* the parsed head, NULs inside */
	struct http_head	 h;
	enum http_method	 method;
	char			*path;
	char			*query_string;
	struct evkeyvalq	*query;		/* parsed on first use */
	char			*body;
	size_t			 body_len;
	int			 keepalive;
	struct evbuffer		*out_headers;
	http_close_fn		*close_cb;
	void			*close_arg;
	http_drain_fn		*drain_cb;	/* streaming: output drained */
	void			*drain_arg;
	struct timespec		 started;
	char			 peer[INET6_ADDRSTRLEN + 8];
};

struct http_conn {
	TAILQ_ENTRY(http_conn)	 entry;
	struct http_server	*srv;
	struct bufferevent	*bev;
	struct event		*timer;
	enum conn_state		 state;
	size_t			 scanned;	/* head bytes searched so far */
	int			 close_after;	/* close once the reply drains */
	int			 read_eof;
	struct http_request	*req;		/* while BODY or HANDLING */
	char			 peer[INET6_ADDRSTRLEN + 8];
};
TAILQ_HEAD(http_conns, http_conn);

/* A socket refused at accept: it gets the canned 503 and is drained. */
struct http_reject {
	LIST_ENTRY(http_reject)	 entry;
	struct http_server	*srv;
	int			 fd;
	struct event		*ev;
};
LIST_HEAD(http_rejects, http_reject);

struct http_server {
	struct event_base	*base;
	struct http_limits	 limits;
	http_handler_fn		*handler;
	void			*handler_arg;

	struct evconnlistener	*listeners[HTTP_MAX_LISTENERS];
	unsigned		 nlisteners;
	struct event		*accept_pause;

	struct http_conns	 conns;
	struct http_rejects	 rejects;
	unsigned		 nrejects;
	char			*reject_reply;
	size_t			 reject_len;

	const struct timeval	*request_tv;	/* common timeouts */
	const struct timeval	*keepalive_tv;
	const struct timeval	*linger_tv;
	struct timeval		 write_tv;

	time_t			 date_sec;
	char			 date[64];

	struct http_stats	 stats;
};

static void	conn_read_cb(struct bufferevent *, void *);
static void	conn_write_cb(struct bufferevent *, void *);
static void	conn_event_cb(struct bufferevent *, short, void *);
static void	conn_timer_cb(evutil_socket_t, short, void *);
static void	conn_process(struct http_conn *);
static void	conn_free(struct http_conn *);

static const struct {
	int		 code;
	const char	*text;
} http_statuses[] = {
	{ 100, "Continue" }, { 200, "OK" }, { 201, "Created" },
	{ 202, "Accepted" }, { 204, "No Content" },
	{ 301, "Moved Permanently" }, { 302, "Found" }, { 303, "See Other" },
	{ 304, "Not Modified" }, { 307, "Temporary Redirect" },
	{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" },
	{ 404, "Not Found" }, { 405, "Method Not Allowed" },
	{ 406, "Not Acceptable" }, { 408, "Request Timeout" },
	{ 409, "Conflict" }, { 410, "Gone" }, { 411, "Length Required" },
	{ 412, "Precondition Failed" }, { 413, "Content Too Large" },
	{ 414, "URI Too Long" }, { 415, "Unsupported Media Type" },
	{ 416, "Range Not Satisfiable" }, { 417, "Expectation Failed" },
	{ 422, "Unprocessable Content" }, { 428, "Precondition Required" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
	{ 502, "Bad Gateway" }, { 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" }, { 505, "HTTP Version Not Supported" },
};

const char *
http_status_text(int code)
{
	size_t	i;

	for (i = 0; i < sizeof http_statuses / sizeof http_statuses[0]; i++) {
		if (http_statuses[i].code == code)
			return http_statuses[i].text;
	}
	return "Unknown";
}

static const struct {
	const char		*name;
	enum http_method	 method;
} http_methods[] = {
	{ "GET", HTTP_GET }, { "HEAD", HTTP_HEAD }, { "POST", HTTP_POST },
	{ "PUT", HTTP_PUT }, { "DELETE", HTTP_DELETE },
	{ "OPTIONS", HTTP_OPTIONS }, { "PATCH", HTTP_PATCH },
};

static enum http_method
method_from_name(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof http_methods / sizeof http_methods[0]; i++) {
		if (strcmp(http_methods[i].name, name) == 0)
			return http_methods[i].method;
	}
	return HTTP_OTHER;
}

static const char *
http_date(struct http_server *srv)
{
	struct timeval	tv;
	struct tm	tm;

	event_base_gettimeofday_cached(srv->base, &tv);
	if (tv.tv_sec != srv->date_sec) {
		srv->date_sec = tv.tv_sec;
		gmtime_r(&srv->date_sec, &tm);
		strftime(srv->date, sizeof srv->date,
		    "%a, %d %b %Y %H:%M:%S GMT", &tm);
	}
	return srv->date;
}

static void
timeval_from_ms(struct timeval *tv, unsigned ms)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

/* --- requests --- */

static struct http_request *
request_new(struct http_conn *conn)
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

static void
request_free(struct http_request *req)
{
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
	return http_head_get(&req->h, name);
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
http_reply_header(struct http_request *req, const char *name,
    const char *value)
{
	evbuffer_add_printf(req->out_headers, "%s: %s\r\n", name, value);
}

static void
request_log(struct http_request *req, int status, size_t len)
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

void
http_reply_buffer(struct http_request *req, int status,
    const char *content_type, struct evbuffer *body)
{
	struct http_conn	*conn = req->conn;
	struct http_server	*srv = req->srv;
	struct evbuffer		*out;
	size_t			 len = evbuffer_get_length(body);
	int			 no_body;

	srv->stats.requests++;
	if (status >= 100 && status < 600)
		srv->stats.by_class[status / 100]++;
	request_log(req, status, len);

	if (conn == NULL) {		/* the client left first */
		request_free(req);
		return;
	}

	out = bufferevent_get_output(conn->bev);
	no_body = req->method == HTTP_HEAD || status == 204 || status == 304;
	if (!req->keepalive)
		conn->close_after = 1;

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n",
	    status, http_status_text(status), http_date(srv));
	if (status != 204 && status != 304)
		evbuffer_add_printf(out, "Content-Length: %zu\r\n", len);
	if (content_type != NULL && !(no_body && len == 0))
		evbuffer_add_printf(out, "Content-Type: %s\r\n", content_type);
	if (conn->close_after)
		evbuffer_add(out, "Connection: close\r\n", 19);
	else if (req->h.minor == 0)
		evbuffer_add(out, "Connection: keep-alive\r\n", 24);
	evbuffer_add_buffer(out, req->out_headers);
	evbuffer_add(out, "\r\n", 2);
	if (!no_body)
		evbuffer_add_buffer(out, body);

	conn->req = NULL;
	request_free(req);
	conn->state = CONN_WRITING;
	/* The write callback fires once the reply has fully drained. */
	bufferevent_enable(conn->bev, EV_WRITE);
}

void
http_reply(struct http_request *req, int status, const char *content_type,
    const void *body, size_t len)
{
	struct evbuffer	*buf;

	if ((buf = evbuffer_new()) == NULL)
		fatalx("http: evbuffer_new");
	if (len > 0 && evbuffer_add(buf, body, len) != 0)
		fatalx("http: evbuffer_add");
	http_reply_buffer(req, status, content_type, buf);
	evbuffer_free(buf);
}

/* --- streamed replies --- */

int
http_stream_start(struct http_request *req, int status,
    const char *content_type)
{
	struct http_conn	*conn = req->conn;
	struct http_server	*srv = req->srv;
	struct evbuffer		*out;

	srv->stats.requests++;
	srv->stats.by_class[status / 100]++;
	request_log(req, status, 0);
	if (conn == NULL)
		return -1;
	out = bufferevent_get_output(conn->bev);
	/* No length: the body ends when the connection does. */
	conn->close_after = 1;
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n"
	    "Content-Type: %s\r\nConnection: close\r\n", status,
	    http_status_text(status), http_date(srv), content_type);
	evbuffer_add_buffer(out, req->out_headers);
	evbuffer_add(out, "\r\n", 2);
	conn->state = CONN_STREAMING;
	/*
	 * libevent sends at most 16 KiB per socket per loop pass: a 25 KB
	 * frame to 200 viewers would take two passes over all of them.
	 */
	bufferevent_set_max_single_write(conn->bev, HTTP_STREAM_MAX_WRITE);
	bufferevent_enable(conn->bev, EV_WRITE);
	return 0;
}

void
http_stream_write(struct http_request *req, const void *data, size_t len)
{
	if (req->conn != NULL)
		bufferevent_write(req->conn->bev, data, len);
}

int
http_stream_write_ref(struct http_request *req, const void *data,
    size_t len, void (*cleanup)(const void *, size_t, void *), void *arg)
{
	if (req->conn == NULL)
		return -1;
	return evbuffer_add_reference(bufferevent_get_output(req->conn->bev),
	    data, len, cleanup, arg);
}

size_t
http_stream_pending(const struct http_request *req)
{
	if (req->conn == NULL)
		return 0;
	return evbuffer_get_length(bufferevent_get_output(req->conn->bev));
}

void
http_stream_set_drain_cb(struct http_request *req, http_drain_fn *cb,
    void *arg)
{
	req->drain_cb = cb;
	req->drain_arg = arg;
}

void
http_stream_end(struct http_request *req)
{
	struct http_conn	*conn = req->conn;

	if (conn != NULL) {
		conn->req = NULL;
		conn->state = CONN_WRITING;	/* drain, then close */
		if (evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0)
			conn_write_cb(conn->bev, conn);
	}
	request_free(req);
}

/* --- connections --- */

static void
conn_arm(struct http_conn *conn, const struct timeval *tv)
{
	evtimer_add(conn->timer, tv);
}

/* An error of the layer's own: reply problem+json and close afterwards. */
static void
conn_fail(struct http_conn *conn, int status, const char *detail)
{
	struct http_request	*req = conn->req;

	if (req == NULL)
		req = request_new(conn);
	conn->req = req;
	req->keepalive = 0;
	evtimer_del(conn->timer);
	conn->state = CONN_HANDLING;
	log_debug("http: %s: %d %s", conn->peer, status, detail);
	http_problem_reply(req, status, detail);
}

static void
conn_dispatch(struct http_conn *conn)
{
	struct http_request	*req = conn->req;

	evtimer_del(conn->timer);
	conn->state = CONN_HANDLING;
	conn->srv->handler(req, conn->srv->handler_arg);
}

static void
conn_read_body(struct http_conn *conn)
{
	struct evbuffer		*in = bufferevent_get_input(conn->bev);
	struct http_request	*req = conn->req;

	if (evbuffer_get_length(in) < req->body_len)
		return;
	req->body = xmalloc(req->body_len + 1);
	if (evbuffer_remove(in, req->body, req->body_len) !=
	    (ev_ssize_t)req->body_len)
		fatalx("http: evbuffer_remove");
	req->body[req->body_len] = '\0';
	conn_dispatch(conn);
}

/* Finds the end of the head (just past its empty line), or 0. */
static size_t
head_end(const char *data, size_t len, size_t from)
{
	const char	*p = data + from, *end = data + len;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (p + 1 < end && p[1] == '\n')
			return (size_t)(p + 2 - data);
		if (p + 2 < end && p[1] == '\r' && p[2] == '\n')
			return (size_t)(p + 3 - data);
		p++;
	}
	return 0;
}

/* Splits the target into a decoded path and a raw query string. */
static int
request_set_target(struct http_request *req, const char **why)
{
	const char	*target = req->h.target, *q;
	char		*decoded;
	size_t		 rawlen, len;

	if (target[0] != '/') {
		*why = "request target must be an absolute path";
		return 400;
	}
	q = strchr(target, '?');
	rawlen = q != NULL ? (size_t)(q - target) : strlen(target);
	if (q != NULL)
		req->query_string = xstrdup(q + 1);
	req->path = xstrndup(target, rawlen);
	decoded = evhttp_uridecode(req->path, 0, &len);
	if (decoded == NULL)
		fatalx("http: evhttp_uridecode");
	free(req->path);
	req->path = decoded;
	if (strlen(decoded) != len) {
		*why = "NUL byte in request path";
		return 400;
	}
	return 0;
}

/* Applies the head's framing headers; 0, or a status to fail with. */
static int
request_check_framing(struct http_conn *conn, struct http_request *req,
    const char **why)
{
	const struct http_head	*h = &req->h;
	const char		*conn_hdr, *te, *expect, *cl = NULL;
	unsigned long long	 len = 0, other;
	unsigned		 i;

	conn_hdr = http_head_get(h, "Connection");
	if (h->minor >= 1)
		req->keepalive = conn_hdr == NULL ||
		    !http_token_list_has(conn_hdr, "close");
	else
		req->keepalive = conn_hdr != NULL &&
		    http_token_list_has(conn_hdr, "keep-alive");

	if (h->minor >= 1 && http_head_get(h, "Host") == NULL) {
		*why = "HTTP/1.1 request without a Host header";
		return 400;
	}
	if ((te = http_head_get(h, "Transfer-Encoding")) != NULL) {
		if (http_token_list_has(te, "chunked")) {
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

	if ((expect = http_head_get(h, "Expect")) != NULL) {
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

static void
conn_read_head(struct http_conn *conn)
{
	struct evbuffer		*in = bufferevent_get_input(conn->bev);
	struct http_request	*req;
	size_t			 len, avail, end, limit;
	const char		*data, *why = NULL;
	int			 status;

	limit = conn->srv->limits.max_header_size;
	len = evbuffer_get_length(in);
	avail = len < limit ? len : limit;
	data = (const char *)evbuffer_pullup(in, (ev_ssize_t)avail);
	if (data == NULL)
		return;
	end = head_end(data, avail, conn->scanned > 2 ? conn->scanned - 2 : 0);
	if (end == 0) {
		conn->scanned = avail;
		if (len >= limit)
			conn_fail(conn, 431, "request head is larger than "
			    "the server accepts");
		return;
	}

	req = conn->req = request_new(conn);
	req->head = xmalloc(end + 1);
	if (evbuffer_remove(in, req->head, end) != (ev_ssize_t)end)
		fatalx("http: evbuffer_remove");
	req->head[end] = '\0';
	conn->scanned = 0;

	if ((status = http_parse_head(req->head, end, &req->h, &why)) != 0 ||
	    (status = request_set_target(req, &why)) != 0 ||
	    (status = request_check_framing(conn, req, &why)) != 0) {
		conn_fail(conn, status, why);
		return;
	}
	req->method = method_from_name(req->h.method);
	if (req->method == HTTP_OTHER) {
		conn_fail(conn, 501, "unknown request method");
		return;
	}
	if (req->body_len > 0) {
		conn->state = CONN_BODY;
		conn_read_body(conn);
	} else
		conn_dispatch(conn);
}

static void
conn_process(struct http_conn *conn)
{
	struct evbuffer	*in = bufferevent_get_input(conn->bev);

	switch (conn->state) {
	case CONN_IDLE:
		if (evbuffer_get_length(in) == 0)
			return;
		conn->state = CONN_HEAD;
		conn_arm(conn, conn->srv->request_tv);
		/* FALLTHROUGH */
	case CONN_HEAD:
		conn_read_head(conn);
		break;
	case CONN_BODY:
		conn_read_body(conn);
		break;
	case CONN_LINGER:
		evbuffer_drain(in, evbuffer_get_length(in));
		break;
	case CONN_HANDLING:
	case CONN_WRITING:
	case CONN_STREAMING:
		break;		/* pipelined input waits its turn */
	}
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	conn_process(arg);
}

static void
conn_linger(struct http_conn *conn)
{
	if (conn->read_eof) {
		conn_free(conn);
		return;
	}
	shutdown(bufferevent_getfd(conn->bev), SHUT_WR);
	bufferevent_disable(conn->bev, EV_WRITE);
	conn->state = CONN_LINGER;
	conn_arm(conn, conn->srv->linger_tv);
	conn_process(conn);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn	*conn = arg;
	struct http_request	*req = conn->req;

	if (conn->state == CONN_STREAMING) {
		if (req->drain_cb != NULL)
			req->drain_cb(req, req->drain_arg);
		return;
	}
	if (conn->state != CONN_WRITING)
		return;
	if (conn->close_after) {
		conn_linger(conn);
		return;
	}
	conn->state = CONN_IDLE;
	conn_arm(conn, conn->srv->keepalive_tv);
	conn_process(conn);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn	*conn = arg;

	if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING)) {
		conn->read_eof = 1;
		if (conn->state == CONN_WRITING) {
			/* A half-closed client still gets its reply. */
			conn->close_after = 1;
			return;
		}
	}
	if (what & BEV_EVENT_ERROR)
		log_debug("http: %s: %s", conn->peer,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	conn_free(conn);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn	*conn = arg;

	switch (conn->state) {
	case CONN_HEAD:
	case CONN_BODY:
		conn_fail(conn, 408, "the request was not received in time");
		break;
	default:
		conn_free(conn);
		break;
	}
}

static void
conn_free(struct http_conn *conn)
{
	struct http_server	*srv = conn->srv;
	struct http_request	*req = conn->req;

	if (req != NULL) {
		req->conn = NULL;
		if (conn->state == CONN_HANDLING ||
		    conn->state == CONN_STREAMING) {
			/* The handler still owns it: tell it, or orphan it. */
			if (req->close_cb != NULL) {
				req->close_cb(req, req->close_arg);
				request_free(req);
			}
		} else
			request_free(req);
	}
	TAILQ_REMOVE(&srv->conns, conn, entry);
	srv->stats.conns_now--;
	event_free(conn->timer);
	bufferevent_free(conn->bev);
	free(conn);
}

static void
format_peer(const struct sockaddr *sa, char *buf, size_t len)
{
	char	host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		hostport_format(buf, len, host, ntohs(in6->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in4 = (const void *)sa;
		inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host);
		hostport_format(buf, len, host, ntohs(in4->sin_port));
	} else
		snprintf(buf, len, "local");
}

/* --- refused connections --- */

static void
reject_free(struct http_reject *rj)
{
	LIST_REMOVE(rj, entry);
	rj->srv->nrejects--;
	event_free(rj->ev);
	close(rj->fd);
	free(rj);
}

static void
reject_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_reject	*rj = arg;
	char			 buf[4096];
	ssize_t			 n;

	if (what & EV_READ) {
		while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
			;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
	}
	reject_free(rj);
}

static void
reject_conn(struct http_server *srv, int fd)
{
	struct http_reject	*rj;
	ssize_t			 unused;

	srv->stats.conns_rejected++;
	srv->stats.requests++;
	srv->stats.by_class[5]++;
	unused = send(fd, srv->reject_reply, srv->reject_len,
	    MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)unused;	/* a full socket buffer just means no reply */
	if (srv->nrejects >= HTTP_MAX_REJECTS) {
		close(fd);
		return;
	}
	shutdown(fd, SHUT_WR);
	rj = xcalloc(1, sizeof *rj);
	rj->srv = srv;
	rj->fd = fd;
	rj->ev = event_new(srv->base, fd, EV_READ | EV_PERSIST, reject_cb, rj);
	if (rj->ev == NULL)
		fatalx("http: event_new");
	event_add(rj->ev, srv->linger_tv);
	LIST_INSERT_HEAD(&srv->rejects, rj, entry);
	srv->nrejects++;
}

/* --- accepting --- */

void
http_server_adopt(struct http_server *srv, int fd, const char *peer)
{
	struct http_conn	*conn;

	if (srv->stats.conns_now >= srv->limits.max_connections) {
		reject_conn(srv, fd);
		return;
	}
	conn = xcalloc(1, sizeof *conn);
	conn->srv = srv;
	snprintf(conn->peer, sizeof conn->peer, "%s", peer);
	conn->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	conn->timer = evtimer_new(srv->base, conn_timer_cb, conn);
	if (conn->bev == NULL || conn->timer == NULL)
		fatalx("http: cannot set up a connection");
	bufferevent_setcb(conn->bev, conn_read_cb, conn_write_cb,
	    conn_event_cb, conn);
	/* Stop reading once a whole request's worth is buffered. */
	bufferevent_setwatermark(conn->bev, EV_READ, 0,
	    srv->limits.max_header_size + srv->limits.max_body_size + 1);
	bufferevent_set_timeouts(conn->bev, NULL, &srv->write_tv);
	bufferevent_enable(conn->bev, EV_READ);
	conn->state = CONN_IDLE;
	conn_arm(conn, srv->request_tv);

	TAILQ_INSERT_TAIL(&srv->conns, conn, entry);
	srv->stats.conns_now++;
	srv->stats.conns_total++;
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct http_server	*srv = arg;
	char			 peer[INET6_ADDRSTRLEN + 8];
	int			 one = 1;

	if (srv->stats.conns_now < srv->limits.max_connections)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	format_peer(sa, peer, sizeof peer);
	http_server_adopt(srv, fd, peer);
}

static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_server	*srv = arg;
	unsigned		 i;

	for (i = 0; i < srv->nlisteners; i++)
		evconnlistener_enable(srv->listeners[i]);
}

/* Out of fds (or similar): pause accepting instead of spinning. */
static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct http_server	*srv = arg;
	struct timeval		 tv;
	unsigned		 i;

	log_warn("http: accept: %s",
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	for (i = 0; i < srv->nlisteners; i++)
		evconnlistener_disable(srv->listeners[i]);
	timeval_from_ms(&tv, HTTP_ACCEPT_PAUSE_MS);
	evtimer_add(srv->accept_pause, &tv);
}

int
http_server_listen(struct http_server *srv, const char *host,
    const char *port)
{
	struct addrinfo		 hints, *res, *ai;
	struct evconnlistener	*l;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof ss;
	int			 error, bound = -1;
	unsigned		 flags;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((error = getaddrinfo(host, port, &hints, &res)) != 0) {
		log_error("listen %s:%s: %s", host, port, gai_strerror(error));
		return -1;
	}
	flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
	    LEV_OPT_CLOSE_ON_EXEC;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (srv->nlisteners == HTTP_MAX_LISTENERS)
			break;
		if (bound > 0 && ai->ai_family == AF_INET6)
			((struct sockaddr_in6 *)ai->ai_addr)->sin6_port =
			    htons((uint16_t)bound);
		else if (bound > 0 && ai->ai_family == AF_INET)
			((struct sockaddr_in *)ai->ai_addr)->sin_port =
			    htons((uint16_t)bound);
		l = evconnlistener_new_bind(srv->base, accept_cb, srv, flags,
		    SOMAXCONN, ai->ai_addr, (int)ai->ai_addrlen);
		if (l == NULL) {
			log_error("listen %s:%s: %s", host, port, strerror(errno));
			bound = -1;
			break;
		}
		evconnlistener_set_error_cb(l, accept_error_cb);
		srv->listeners[srv->nlisteners++] = l;
		if (bound <= 0 && getsockname(evconnlistener_get_fd(l),
		    (struct sockaddr *)&ss, &sslen) == 0)
			bound = ntohs(ss.ss_family == AF_INET6 ?
			    ((struct sockaddr_in6 *)&ss)->sin6_port :
			    ((struct sockaddr_in *)&ss)->sin_port);
	}
	freeaddrinfo(res);
	return bound;
}

void
http_server_stop_listening(struct http_server *srv)
{
	unsigned	i;

	for (i = 0; i < srv->nlisteners; i++)
		evconnlistener_free(srv->listeners[i]);
	srv->nlisteners = 0;
	evtimer_del(srv->accept_pause);
}

struct http_server *
http_server_new(struct event_base *base, const struct http_limits *limits,
    http_handler_fn *handler, void *arg)
{
	struct http_server	*srv;
	struct timeval		 tv;

	srv = xcalloc(1, sizeof *srv);
	srv->base = base;
	srv->limits = *limits;
	srv->handler = handler;
	srv->handler_arg = arg;
	TAILQ_INIT(&srv->conns);
	LIST_INIT(&srv->rejects);

	timeval_from_ms(&tv, limits->request_timeout_ms);
	srv->request_tv = event_base_init_common_timeout(base, &tv);
	timeval_from_ms(&tv, limits->keepalive_timeout_ms);
	srv->keepalive_tv = event_base_init_common_timeout(base, &tv);
	timeval_from_ms(&tv, HTTP_LINGER_MS);
	srv->linger_tv = event_base_init_common_timeout(base, &tv);
	timeval_from_ms(&srv->write_tv, limits->write_timeout_ms);
	if (srv->request_tv == NULL || srv->keepalive_tv == NULL ||
	    srv->linger_tv == NULL)
		fatalx("http: cannot set up timeouts");

	srv->accept_pause = evtimer_new(base, accept_resume_cb, srv);
	if (srv->accept_pause == NULL)
		fatalx("http: evtimer_new");
	srv->reject_len = http_problem_canned(503, "the server is at its "
	    "connection limit; try again shortly", "Retry-After: 1\r\n",
	    &srv->reject_reply);
	return srv;
}

void
http_server_get_stats(const struct http_server *srv, struct http_stats *st)
{
	*st = srv->stats;
}

void
http_server_free(struct http_server *srv)
{
	struct http_conn	*conn;
	struct http_reject	*rj;

	if (srv == NULL)
		return;
	http_server_stop_listening(srv);
	while ((conn = TAILQ_FIRST(&srv->conns)) != NULL)
		conn_free(conn);
	while ((rj = LIST_FIRST(&srv->rejects)) != NULL)
		reject_free(rj);
	event_free(srv->accept_pause);
	free(srv->reject_reply);
	free(srv);
}
