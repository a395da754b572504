/*
 * hello_evhttp.c - bare libevent 2.1 evhttp server, used as a baseline.
 *
 * bench/http.sh runs this side by side with stockcam and compares the
 * requests/s of stockcam's GET /api/health against this program.  It does
 * the least an evhttp server can do: every request, whatever its method or
 * path, gets 200, Content-Type: application/json and the body
 * {"status":"ok"} (about the size of stockcam's health reply).  Whatever
 * stockcam loses against it is the cost of stockcam's own code.
 *
 * Usage: hello_evhttp HOST PORT    (PORT may be 0: the kernel picks one)
 *
 * Once listening it prints exactly one line to stderr:
 *     listening on http://HOST:PORT/
 * with the real port.  SIGINT or SIGTERM make it exit cleanly.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

static const char	hello_body[] = "{\"status\":\"ok\"}";

static void	hello_request(struct evhttp_request *, void *);
static void	hello_signal(evutil_socket_t, short, void *);
static int	hello_port(const char *, unsigned short *);
static int	hello_bound_port(struct evhttp_bound_socket *, unsigned short *);

static void
hello_request(struct evhttp_request *req, void *arg)
{
	struct evkeyvalq	*headers;
	struct evbuffer		*out;

	(void)arg;

	headers = evhttp_request_get_output_headers(req);
	if (evhttp_add_header(headers, "Content-Type",
	    "application/json") != 0) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}

	out = evhttp_request_get_output_buffer(req);
	if (evbuffer_add_reference(out, hello_body, sizeof hello_body - 1,
	    NULL, NULL) != 0) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evhttp_send_reply(req, HTTP_OK, "OK", NULL);
}

static void
hello_signal(evutil_socket_t sig, short events, void *arg)
{
	struct event_base	*base = arg;

	(void)sig;
	(void)events;

	event_base_loopexit(base, NULL);
}

/* Parse a TCP port (0..65535). */
static int
hello_port(const char *s, unsigned short *port)
{
	char	*end;
	long	 l;

	if (*s == '\0')
		return (-1);
	errno = 0;
	l = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || l < 0 || l > 65535)
		return (-1);
	*port = (unsigned short)l;
	return (0);
}

/* Find the port the kernel gave a bound socket (for PORT 0). */
static int
hello_bound_port(struct evhttp_bound_socket *bound, unsigned short *port)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof ss;
	evutil_socket_t		 fd;

	fd = evhttp_bound_socket_get_fd(bound);
	if (fd < 0)
		return (-1);
	memset(&ss, 0, sizeof ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0)
		return (-1);

	switch (ss.ss_family) {
	case AF_INET:
		*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		return (0);
	case AF_INET6:
		*port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		return (0);
	}
	return (-1);
}

int
main(int argc, char **argv)
{
	struct event_base		*base = NULL;
	struct evhttp			*http = NULL;
	struct evhttp_bound_socket	*bound;
	struct event			*ev_int = NULL, *ev_term = NULL;
	const char			*host;
	unsigned short			 port;
	int				 status = 1;

	if (argc != 3) {
		fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
		return (2);
	}
	host = argv[1];
	if (hello_port(argv[2], &port) != 0) {
		fprintf(stderr, "%s: bad port: %s\n", argv[0], argv[2]);
		return (2);
	}

	/* A client that goes away mid-reply must not kill us. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		perror("signal");
		return (1);
	}

	if ((base = event_base_new()) == NULL) {
		fprintf(stderr, "%s: event_base_new failed\n", argv[0]);
		goto out;
	}
	if ((http = evhttp_new(base)) == NULL) {
		fprintf(stderr, "%s: evhttp_new failed\n", argv[0]);
		goto out;
	}
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(http, hello_request, NULL);

	ev_int = evsignal_new(base, SIGINT, hello_signal, base);
	ev_term = evsignal_new(base, SIGTERM, hello_signal, base);
	if (ev_int == NULL || ev_term == NULL ||
	    evsignal_add(ev_int, NULL) != 0 ||
	    evsignal_add(ev_term, NULL) != 0) {
		fprintf(stderr, "%s: cannot set up signal events\n", argv[0]);
		goto out;
	}

	bound = evhttp_bind_socket_with_handle(http, host, port);
	if (bound == NULL) {
		fprintf(stderr, "%s: cannot listen on %s port %s\n", argv[0],
		    host, argv[2]);
		goto out;
	}
	if (hello_bound_port(bound, &port) != 0) {
		perror("getsockname");
		goto out;
	}

	/* An IPv6 literal needs brackets in a URL. */
	if (strchr(host, ':') != NULL)
		fprintf(stderr, "listening on http://[%s]:%u/\n", host,
		    (unsigned)port);
	else
		fprintf(stderr, "listening on http://%s:%u/\n", host,
		    (unsigned)port);
	fflush(stderr);

	if (event_base_dispatch(base) == -1) {
		fprintf(stderr, "%s: event_base_dispatch failed\n", argv[0]);
		goto out;
	}
	status = 0;

out:
	if (ev_term != NULL)
		event_free(ev_term);
	if (ev_int != NULL)
		event_free(ev_int);
	if (http != NULL)
		evhttp_free(http);	/* also closes the bound socket */
	if (base != NULL)
		event_base_free(base);
	return (status);
}
