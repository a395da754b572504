/*
 * http_reply.c - a whole reply of known length: status line, Date,
 * Content-Length and the handler's headers, written straight into the
 * connection's output buffer.
 */
#include "config.h"

#include <sys/types.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "http/http.h"
#include "http/http_int.h"
#include "lib/log.h"

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
	{ 507, "Insufficient Storage" },
};

const char *
http_reply_status_text(int code)
{
	size_t	i;

	for (i = 0; i < sizeof http_statuses / sizeof http_statuses[0]; i++) {
		if (http_statuses[i].code == code)
			return http_statuses[i].text;
	}
	return "Unknown";
}

void
http_reply_header(struct http_request *req, const char *name,
    const char *value)
{
	evbuffer_add_printf(req->out_headers, "%s: %s\r\n", name, value);
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

	http_metrics_count(srv, req, status);
	http_request_log(req, status, len);

	if (conn == NULL) {		/* the client left first */
		http_request_free(req);
		return;
	}

	out = bufferevent_get_output(conn->bev);
	no_body = req->method == HTTP_HEAD || status == 204 || status == 304;
	if (!req->keepalive)
		conn->close_after = 1;

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n",
	    status, http_reply_status_text(status), http_server_date(srv));
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
	/*
	 * OpenSSL makes one record, and one write(2), of each chain it is
	 * handed: a small reply in one chain is one record, not three.
	 */
	if (srv->tls != NULL && evbuffer_get_length(out) <= HTTP_TLS_RECORD)
		evbuffer_pullup(out, -1);

	conn->req = NULL;
	http_request_free(req);
	conn->state = HTTP_CONN_WRITING;
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

void
http_reply_ref(struct http_request *req, int status, const char *content_type,
    const void *body, size_t len,
    void (*cleanup)(const void *, size_t, void *), void *arg)
{
	struct evbuffer	*buf;

	if ((buf = evbuffer_new()) == NULL)
		fatalx("http: evbuffer_new");
	/* The chain moves to the socket as it is; freeing it runs cleanup. */
	if (evbuffer_add_reference(buf, body, len, cleanup, arg) != 0)
		fatalx("http: evbuffer_add_reference");
	http_reply_buffer(req, status, content_type, buf);
	evbuffer_free(buf);
}
