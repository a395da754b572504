/*
 * http_conn.c - one connection of the HTTP/1.1 server.
 *
 * Connections are libevent bufferevents owned by the loop thread. Each
 * connection runs one request at a time (pipelined requests wait in the
 * input buffer) through the states below, and every limit on a request
 * is enforced here, before a handler sees anything:
 *
 *   IDLE --byte--> HEAD --head--> [BODY] --> HANDLING --reply--> WRITING
 *     ^                                                            |
 *     +------------------- drained, keep-alive --------------------+
 *                          drained, close -------------> LINGER -> closed
 *
 * - (a connection over --max-connections never gets here: http_server.c
 *   answers it with a canned 503 at accept time);
 * - one deadline covers a request's head and body (slow-header clients);
 * - heads over the header limit get 431, bodies over the body limit 413,
 *   decided from Content-Length before any of the body is read;
 * - a connection closed after an error first shuts down its write side
 *   and reads what the client still sends, so the client sees the error
 *   reply rather than a reset.
 *
 * Every reply the layer makes itself is application/problem+json, like the
 * handlers' own errors (http_problem.c).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "http/http.h"
#include "http/http_int.h"
#include "http/http_problem.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

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
		req = http_request_new(conn);
	conn->req = req;
	req->keepalive = 0;
	evtimer_del(conn->timer);
	conn->state = HTTP_CONN_HANDLING;
	log_debug("http: %s: %d %s", conn->peer, status, detail);
	http_problem_reply(req, status, detail);
}

static void
conn_dispatch(struct http_conn *conn)
{
	struct http_request	*req = conn->req;

	evtimer_del(conn->timer);
	conn->state = HTTP_CONN_HANDLING;
	http_metrics_dispatched(conn->srv, req);
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

/*
 * RFC 9112 2.2: empty lines before a request line are ignored (some
 * clients send a CRLF after a body). Drops them, a few at most; -1 when
 * there are too many, 1 while a lone CR waits for its LF, else 0.
 */
static int
conn_skip_blank_lines(struct http_conn *conn, struct evbuffer *in)
{
	unsigned char	*p;
	size_t		 n;

	for (;;) {
		if ((n = evbuffer_get_length(in)) == 0)
			return 1;
		p = evbuffer_pullup(in, n < 2 ? (ev_ssize_t)n : 2);
		if (p[0] == '\n')
			n = 1;
		else if (p[0] == '\r' && n == 1)
			return 1;
		else if (p[0] == '\r' && p[1] == '\n')
			n = 2;
		else
			return 0;
		if (++conn->blank_lines > HTTP_MAX_BLANK_LINES)
			return -1;
		evbuffer_drain(in, n);
	}
}

static void
conn_read_head(struct http_conn *conn)
{
	struct evbuffer		*in = bufferevent_get_input(conn->bev);
	struct http_request	*req;
	size_t			 len, avail, end, limit;
	const char		*data, *why = NULL;
	int			 status;

	if (conn->scanned == 0 &&
	    (status = conn_skip_blank_lines(conn, in)) != 0) {
		if (status == -1)
			conn_fail(conn, 400, "too many empty lines before "
			    "the request line");
		return;
	}
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

	req = conn->req = http_request_new(conn);
	req->head = xmalloc(end + 1);
	if (evbuffer_remove(in, req->head, end) != (ev_ssize_t)end)
		fatalx("http: evbuffer_remove");
	req->head[end] = '\0';
	conn->scanned = 0;
	conn->blank_lines = 0;

	if ((status = http_request_parse(req, end, &why)) != 0) {
		conn_fail(conn, status, why);
		return;
	}
	if (req->body_len > 0) {
		conn->state = HTTP_CONN_BODY;
		conn_read_body(conn);
	} else
		conn_dispatch(conn);
}

static void
conn_process(struct http_conn *conn)
{
	struct evbuffer	*in = bufferevent_get_input(conn->bev);

	switch (conn->state) {
	case HTTP_CONN_IDLE:
		if (evbuffer_get_length(in) == 0)
			return;
		conn->state = HTTP_CONN_HEAD;
		conn_arm(conn, conn->srv->request_tv);
		/* FALLTHROUGH */
	case HTTP_CONN_HEAD:
		conn_read_head(conn);
		break;
	case HTTP_CONN_BODY:
		conn_read_body(conn);
		break;
	case HTTP_CONN_LINGER:
		evbuffer_drain(in, evbuffer_get_length(in));
		break;
	case HTTP_CONN_HANDLING:
	case HTTP_CONN_WRITING:
	case HTTP_CONN_STREAMING:
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
		http_conn_free(conn);
		return;
	}
	if (conn->srv->tls != NULL)
		http_tls_close_notify(conn->bev);
	shutdown(bufferevent_getfd(conn->bev), SHUT_WR);
	bufferevent_disable(conn->bev, EV_WRITE);
	conn->state = HTTP_CONN_LINGER;
	conn_arm(conn, conn->srv->linger_tv);
	conn_process(conn);
}

void
http_conn_sent(struct http_conn *conn)
{
	struct http_request	*req = conn->req;

	if (conn->state == HTTP_CONN_STREAMING) {
		if (req->drain_cb != NULL)
			req->drain_cb(req, req->drain_arg);
		return;
	}
	if (conn->state != HTTP_CONN_WRITING)
		return;
	if (conn->close_after) {
		conn_linger(conn);
		return;
	}
	conn->state = HTTP_CONN_IDLE;
	conn->served++;
	conn_arm(conn, conn->srv->keepalive_tv);
	conn_process(conn);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	http_conn_sent(arg);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn	*conn = arg;
	char			 why[256];
	const char		*tls_why;

	if (what & BEV_EVENT_CONNECTED) {	/* a TLS handshake is done */
		conn->tls_handshaking = 0;
		http_tls_handshake(conn->srv, 1);
		return;
	}
	if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING)) {
		conn->read_eof = 1;
		if (conn->state == HTTP_CONN_WRITING) {
			/* A half-closed client still gets its reply. */
			conn->close_after = 1;
			return;
		}
	}
	if ((what & BEV_EVENT_ERROR) && conn->srv->tls != NULL &&
	    (tls_why = http_tls_strerror(bev, why, sizeof why)) != NULL)
		log_debug("http: %s: TLS: %s", conn->peer, tls_why);
	else if (what & BEV_EVENT_ERROR)
		log_debug("http: %s: %s", conn->peer,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	http_conn_free(conn);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn	*conn = arg;

	switch (conn->state) {
	case HTTP_CONN_HEAD:
	case HTTP_CONN_BODY:
		conn_fail(conn, 408, "the request was not received in time");
		break;
	default:
		http_conn_free(conn);
		break;
	}
}

void
http_conn_free(struct http_conn *conn)
{
	struct http_server	*srv = conn->srv;
	struct http_request	*req = conn->req;

	if (req != NULL) {
		req->conn = NULL;
		if (conn->state == HTTP_CONN_HANDLING ||
		    conn->state == HTTP_CONN_STREAMING) {
			/* The handler still owns it: tell it, or orphan it. */
			if (req->close_cb != NULL) {
				req->close_cb(req, req->close_arg);
				http_request_free(req);
			}
		} else
			http_request_free(req);
	}
	if (conn->tls_handshaking)
		http_tls_handshake(srv, 0);
	TAILQ_REMOVE(&srv->conns, conn, entry);
	srv->stats.conns_now--;
	event_free(conn->timer);
	bufferevent_free(conn->bev);
	free(conn);
}

void
http_conn_new(struct http_server *srv, int fd, const char *peer,
    const char *addr)
{
	struct http_conn	*conn;

	conn = xcalloc(1, sizeof *conn);
	conn->srv = srv;
	snprintf(conn->peer, sizeof conn->peer, "%s", peer);
	snprintf(conn->addr, sizeof conn->addr, "%s", addr);
	if (srv->tls != NULL) {
		conn->bev = http_tls_bufferevent(srv, fd);
		conn->tls_handshaking = 1;
	} else
		conn->bev = bufferevent_socket_new(srv->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
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
	conn->state = HTTP_CONN_IDLE;
	conn_arm(conn, srv->request_tv);

	TAILQ_INSERT_TAIL(&srv->conns, conn, entry);
	srv->stats.conns_now++;
	srv->stats.conns_total++;
}

