/*
 * http_stream.c - replies of open length (live streams): headers first,
 * then data as the handler has it, ended by closing the connection.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "http/http.h"
#include "http/http_int.h"
#include "lib/log.h"

int
http_stream_start(struct http_request *req, int status,
    const char *content_type)
{
	struct http_conn	*conn = req->conn;
	struct http_server	*srv = req->srv;
	struct evbuffer		*out;

	http_metrics_count(srv, req, status);
	http_request_log(req, status, 0);
	if (conn == NULL)
		return -1;
	out = bufferevent_get_output(conn->bev);
	/* No length: the body ends when the connection does. */
	conn->close_after = 1;
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n"
	    "Content-Type: %s\r\nConnection: close\r\n", status,
	    http_reply_status_text(status), http_server_date(srv),
	    content_type);
	evbuffer_add_buffer(out, req->out_headers);
	evbuffer_add(out, "\r\n", 2);
	if (req->method == HTTP_HEAD) {	/* GET's headers, and no stream */
		bufferevent_enable(conn->bev, EV_WRITE);
		return 1;
	}
	conn->state = HTTP_CONN_STREAMING;
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
http_stream_set_sndbuf(struct http_request *req, int bytes)
{
	if (req->conn == NULL)
		return;
	/* Best effort: a stream without its cap still works. */
	if (setsockopt(bufferevent_getfd(req->conn->bev), SOL_SOCKET,
	    SO_SNDBUF, &bytes, sizeof bytes) != 0)
		log_debug("http: %s: SO_SNDBUF: %s", req->conn->peer,
		    strerror(errno));
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
		conn->state = HTTP_CONN_WRITING;	/* drain, then close */
		if (evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0)
			http_conn_sent(conn);
	}
	http_request_free(req);
}

void
http_stream_abort(struct http_request *req)
{
	struct http_conn	*conn = req->conn;

	if (conn != NULL) {
		conn->req = NULL;
		req->conn = NULL;
		http_conn_free(conn);
	}
	http_request_free(req);
}
