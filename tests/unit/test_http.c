/*
 * test_http.c - the HTTP server over a socketpair, inside a libevent loop.
 *
 * Each case adopts one end of a fresh socketpair into a real http_server,
 * writes raw request bytes into the other end and runs the loop until the
 * expected replies (or the close) arrive.
 */
#include "config.h"

#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>

#include "http/http.h"
#include "tap.h"

#define CLIENT_WAIT_MS	3000

struct client {
	struct event_base	*base;
	int			 fd;
	char			 buf[16384];
	size_t			 len;
	int			 eof;
	int			 timed_out;
	unsigned		 want;		/* complete replies to wait for */
};

/* GET answers with the path, POST with the body. */
static void
handler(struct http_request *req, void *arg)
{
	const char	*s;
	size_t		 len;

	if (http_request_method(req) == HTTP_POST)
		s = http_request_body(req, &len);
	else {
		s = http_request_path(req);
		len = strlen(s);
	}
	http_reply(req, 200, "text/plain", s, len);
}

/* Complete replies at the start of buf (100 Continue counts). */
static unsigned
count_replies(const char *buf, size_t len)
{
	const char		*p = buf, *end = buf + len, *eoh, *cl;
	unsigned long		 body;
	unsigned		 n = 0;

	while (p < end) {
		eoh = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		if (eoh == NULL)
			break;
		eoh += 4;
		body = 0;
		cl = memmem(p, (size_t)(eoh - p), "Content-Length: ", 16);
		if (cl != NULL)
			body = strtoul(cl + 16, NULL, 10);
		if ((size_t)(end - eoh) < body)
			break;
		p = eoh + body;
		n++;
	}
	return n;
}

static void
client_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client	*c = arg;
	ssize_t		 n;

	n = read(fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
	if (n > 0) {
		c->len += (size_t)n;
		c->buf[c->len] = '\0';
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR))
		c->eof = 1;
	if (c->eof || (c->want > 0 && count_replies(c->buf, c->len) >= c->want))
		event_base_loopbreak(c->base);
}

static void
client_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client	*c = arg;

	c->timed_out = 1;
	event_base_loopbreak(c->base);
}

static void
client_open(struct client *c, struct event_base *base,
    struct http_server *srv)
{
	int	sv[2];

	memset(c, 0, sizeof *c);
	c->base = base;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
		perror("socketpair");
		exit(1);
	}
	evutil_make_socket_nonblocking(sv[0]);
	evutil_make_socket_nonblocking(sv[1]);
	c->fd = sv[0];
	http_server_adopt(srv, sv[1], "test");
}

static void
client_send(struct client *c, const char *data, size_t len)
{
	if (write(c->fd, data, len) != (ssize_t)len) {
		perror("write");
		exit(1);
	}
}

/* Runs the loop until `want` replies are in (0: until EOF) or time is up. */
static void
client_wait(struct client *c, unsigned want)
{
	struct event	*rd, *tm;
	struct timeval	 tv = { CLIENT_WAIT_MS / 1000, 0 };

	c->want = want;
	c->timed_out = 0;
	if (c->eof || (want > 0 && count_replies(c->buf, c->len) >= want))
		return;
	rd = event_new(c->base, c->fd, EV_READ | EV_PERSIST, client_read_cb, c);
	tm = evtimer_new(c->base, client_timeout_cb, c);
	event_add(rd, NULL);
	evtimer_add(tm, &tv);
	event_base_dispatch(c->base);
	event_free(rd);
	event_free(tm);
}

static void
client_close(struct client *c)
{
	close(c->fd);
	/* Let the server see the close and free its side. */
	event_base_loop(c->base, EVLOOP_NONBLOCK);
}

static int
has(const struct client *c, const char *s)
{
	return strstr(c->buf, s) != NULL;
}

static void
test_get(struct event_base *base, struct http_server *srv)
{
	struct client	c;
	static const char req[] = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";

	client_open(&c, base, srv);
	client_send(&c, req, sizeof req - 1);
	client_wait(&c, 1);
	ok(strncmp(c.buf, "HTTP/1.1 200 OK\r\n", 17) == 0, "GET: 200");
	ok(has(&c, "\r\nContent-Length: 6\r\n"), "GET: Content-Length");
	ok(has(&c, "\r\nContent-Type: text/plain\r\n"), "GET: Content-Type");
	ok(c.len >= 6 && memcmp(c.buf + c.len - 10, "\r\n\r\n/hello", 10) == 0,
	    "GET: the body ends the reply");
	ok(!has(&c, "Connection: close"), "GET: HTTP/1.1 stays open");
	client_close(&c);
}

static void
test_pipelined(struct event_base *base, struct http_server *srv)
{
	struct client	 c;
	const char	*one, *two;
	static const char req[] = "GET /one HTTP/1.1\r\nHost: t\r\n\r\n"
	    "GET /two HTTP/1.1\r\nHost: t\r\n\r\n";

	client_open(&c, base, srv);
	client_send(&c, req, sizeof req - 1);
	client_wait(&c, 2);
	is_int(count_replies(c.buf, c.len), 2, "pipelined: two replies");
	one = strstr(c.buf, "\r\n\r\n/one");
	two = strstr(c.buf, "\r\n\r\n/two");
	ok(one != NULL && two != NULL && one < two,
	    "pipelined: served in order");
	ok(!c.eof, "pipelined: connection kept alive");
	client_close(&c);
}

/* Sends req and expects one problem+json reply with `status`, then EOF. */
static void
expect_problem(struct event_base *base, struct http_server *srv,
    const char *req, size_t len, const char *status_line, const char *what)
{
	struct client	c;

	client_open(&c, base, srv);
	client_send(&c, req, len);
	client_wait(&c, 0);
	ok(strncmp(c.buf, status_line, strlen(status_line)) == 0,
	    "%s: status", what);
	if (strncmp(c.buf, status_line, strlen(status_line)) != 0)
		diag("got: %.60s", c.buf);
	ok(has(&c, "\r\nContent-Type: application/problem+json\r\n"),
	    "%s: problem+json", what);
	ok(has(&c, "\r\nConnection: close\r\n"), "%s: Connection: close", what);
	ok(has(&c, "\r\n\r\n{\"type\":\"about:blank\",\"title\":"),
	    "%s: problem body", what);
	ok(c.eof && !c.timed_out, "%s: connection closed", what);
	client_close(&c);
}

static void
test_errors(struct event_base *base, struct http_server *srv)
{
	static const char bad[] = "GARBAGE\r\n\r\n";
	static const char big_body[] = "POST /echo HTTP/1.1\r\nHost: t\r\n"
	    "Content-Length: 1000\r\n\r\n";
	char	 big_head[4096];
	int	 n;

	expect_problem(base, srv, bad, sizeof bad - 1,
	    "HTTP/1.1 400 Bad Request\r\n", "malformed request line");

	n = snprintf(big_head, sizeof big_head, "GET / HTTP/1.1\r\nHost: t\r\n"
	    "X-Big: %02000d\r\n\r\n", 0);
	expect_problem(base, srv, big_head, (size_t)n,
	    "HTTP/1.1 431 Request Header Fields Too Large\r\n",
	    "oversized head");

	expect_problem(base, srv, big_body, sizeof big_body - 1,
	    "HTTP/1.1 413 Content Too Large\r\n", "body over the limit");

	/* Half a head, then nothing: the request deadline answers. */
	expect_problem(base, srv, "GET / HTTP/1.1\r\n", 16,
	    "HTTP/1.1 408 Request Timeout\r\n", "request not finished in time");
}

static void
test_continue(struct event_base *base, struct http_server *srv)
{
	struct client	c;
	static const char req[] = "POST /echo HTTP/1.1\r\nHost: t\r\n"
	    "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n";
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	client_open(&c, base, srv);
	client_send(&c, req, sizeof req - 1);
	client_wait(&c, 1);
	ok(c.len == sizeof cont - 1 && memcmp(c.buf, cont, c.len) == 0,
	    "Expect: 100-continue gets 100 Continue before the body");
	client_send(&c, "hello", 5);
	client_wait(&c, 2);
	ok(has(&c, "\r\n\r\nHTTP/1.1 200 OK\r\n"), "then the final 200");
	ok(c.len >= 5 && memcmp(c.buf + c.len - 5, "hello", 5) == 0,
	    "with the body that was sent");
	client_close(&c);
}

static void
test_stats(struct http_server *srv)
{
	struct http_stats	st;

	http_server_get_stats(srv, &st);
	is_int(st.conns_now, 0, "every connection closed");
	is_int(st.conns_total, 7, "seven connections served");
	is_int(st.by_class[4], 4, "four 4xx replies counted");
}

int
main(void)
{
	struct event_base	*base;
	struct http_server	*srv;
	struct http_limits	 limits = {
		.max_connections = 16,
		.max_header_size = 1024,
		.max_body_size = 100,
		.request_timeout_ms = 300,
		.keepalive_timeout_ms = 5000,
		.write_timeout_ms = 5000,
	};

	if ((base = event_base_new()) == NULL)
		return 1;
	srv = http_server_new(base, &limits, handler, NULL);
	test_get(base, srv);
	test_pipelined(base, srv);
	test_errors(base, srv);
	test_continue(base, srv);
	test_stats(srv);
	http_server_free(srv);
	event_base_free(base);
	return tap_done();
}
