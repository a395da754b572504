/*
 * http_server.c - the server: listening sockets, accepting, the
 * connection cap and what it owns for all its connections (timeouts,
 * the Date cache, statistics).
 *
 * At --max-connections the oldest idle keep-alive connection (one that
 * has been answered and waits for its next request) is closed to make
 * room; when there is none, the newcomer gets a canned 503 at accept time
 * and is drained for a moment before it is closed, so the client reads
 * the reply rather than a reset. A peer address holding
 * --max-connections-per-client connections gets the same treatment, so
 * one client cannot take every slot; the host's own 127.0.0.1 and ::1
 * are not counted (a local reverse proxy speaks for many clients). When
 * accept fails for want of fds, a spare fd kept open for the purpose is
 * closed so the waiting client can be accepted, told 503 and closed (it
 * would otherwise hang in the backlog); only if that fails too do the
 * listeners pause briefly instead of spinning. Under TLS there is no
 * canned reply (a TLS client would read it as garbage, and a full server
 * has no handshake to spare): the refused connection is only drained
 * and closed.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "http/http.h"
#include "http/http_int.h"
#include "http/http_problem.h"
#include "lib/hostport.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

/* A socket refused at accept: it gets the canned 503 (not under TLS)
 * and is drained. */
struct http_reject {
	LIST_ENTRY(http_reject)	 entry;
	struct http_server	*srv;
	int			 fd;
	struct event		*ev;
};

const char *
http_server_date(struct http_server *srv)
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

/* "host:port" for the log into buf; the bare address into host. */
static void
format_peer(const struct sockaddr *sa, char *buf, size_t len,
    char host[INET6_ADDRSTRLEN])
{
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, INET6_ADDRSTRLEN);
		hostport_format(buf, len, host, ntohs(in6->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in4 = (const void *)sa;
		inet_ntop(AF_INET, &in4->sin_addr, host, INET6_ADDRSTRLEN);
		hostport_format(buf, len, host, ntohs(in4->sin_port));
	} else {
		host[0] = '\0';
		snprintf(buf, len, "local");
	}
}

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
reject_conn(struct http_server *srv, int fd, const char *reply, size_t len)
{
	struct http_reject	*rj;
	ssize_t			 unused;

	srv->stats.conns_rejected++;
	http_metrics_count(srv, NULL, 503);
	/*
	 * An HTTPS client would read the plain reply as garbage, and a
	 * handshake is what a full server cannot spend: it just gets the
	 * close, after the drain.
	 */
	if (srv->tls == NULL) {
		unused = send(fd, reply, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)unused;	/* a full socket buffer means no reply */
	}
	if (srv->nrejects >= HTTP_MAX_REJECTS || fd >= srv->fd_ceiling) {
		close(fd);	/* no fd to spare for lingering */
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

/* Is addr over its per-client cap? The local host's own is never. */
static int
client_over_cap(struct http_server *srv, const char *addr)
{
	struct http_conn	*conn;
	unsigned		 n = 0;

	if (srv->limits.max_conns_per_client == 0 || *addr == '\0' ||
	    strcmp(addr, "127.0.0.1") == 0 || strcmp(addr, "::1") == 0 ||
	    strcmp(addr, "::ffff:127.0.0.1") == 0)
		return 0;
	/* A scan: the list is at most --max-connections long. */
	TAILQ_FOREACH(conn, &srv->conns, entry) {
		if (strcmp(conn->addr, addr) == 0 &&
		    ++n >= srv->limits.max_conns_per_client)
			return 1;
	}
	return 0;
}

/* Closes the oldest idle keep-alive connection; 0 if there is none. */
static int
evict_idle(struct http_server *srv)
{
	struct http_conn	*conn;

	TAILQ_FOREACH(conn, &srv->conns, entry) {
		if (conn->state == HTTP_CONN_IDLE && conn->served > 0) {
			log_debug("http: %s: idle, closed to make room",
			    conn->peer);
			http_conn_free(conn);
			return 1;
		}
	}
	return 0;
}

static void
server_adopt(struct http_server *srv, int fd, const char *peer,
    const char *addr)
{
	if (client_over_cap(srv, addr)) {
		log_debug("http: %s: over --max-connections-per-client",
		    peer);
		reject_conn(srv, fd, srv->client_reply, srv->client_len);
		return;
	}
	/*
	 * Fds are handed out lowest first, so an fd at the ceiling means the
	 * reserve is all that is left: it is the accepted work's (downloads,
	 * conversions, archives), not another connection's.
	 */
	if (fd >= srv->fd_ceiling && !evict_idle(srv)) {
		if (time(NULL) != srv->fd_warned) {	/* once a second */
			srv->fd_warned = time(NULL);
			log_warn("http: out of fds for connections (%u kept for "
			    "the work): answering 503", srv->limits.fd_reserve);
		}
		reject_conn(srv, fd, srv->reject_reply, srv->reject_len);
		return;
	}
	if (srv->stats.conns_now >= srv->limits.max_connections &&
	    !evict_idle(srv)) {
		reject_conn(srv, fd, srv->reject_reply, srv->reject_len);
		return;
	}
	http_conn_new(srv, fd, peer, addr);
}

void
http_server_adopt(struct http_server *srv, int fd, const char *peer)
{
	server_adopt(srv, fd, peer, "");
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct http_server	*srv = arg;
	char			 peer[INET6_ADDRSTRLEN + 8];
	char			 addr[INET6_ADDRSTRLEN];
	int			 one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	format_peer(sa, peer, sizeof peer, addr);
	server_adopt(srv, fd, peer, addr);
}

static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_server	*srv = arg;
	unsigned		 i;

	for (i = 0; i < srv->nlisteners; i++)
		evconnlistener_enable(srv->listeners[i]);
}

static void
spare_open(struct http_server *srv)
{
	if (srv->spare_fd == -1)
		srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/*
 * Out of fds: give up the spare, accept what waits on the listener with
 * it, one by one, answer each the canned 503 and close it, then take the
 * spare back. Returns how many were answered.
 */
static unsigned
accept_with_spare(struct http_server *srv, struct evconnlistener *l)
{
	char		buf[512];
	unsigned	n;
	ssize_t		unused;
	int		fd;

	for (n = 0; n < 64 && srv->spare_fd != -1; n++) {
		close(srv->spare_fd);
		srv->spare_fd = -1;
		fd = accept4(evconnlistener_get_fd(l), NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1) {
			srv->stats.conns_rejected++;
			http_metrics_count(srv, NULL, 503);
			unused = srv->tls != NULL ? 0 : send(fd,
			    srv->reject_reply, srv->reject_len,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
			/*
			 * No fd to linger with: read what has come, so the
			 * close sends a FIN after the reply, not a reset.
			 */
			shutdown(fd, SHUT_WR);
			while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
				;
			(void)unused;
			close(fd);
		}
		spare_open(srv);
		if (fd == -1)
			break;
	}
	return n;
}

/* Out of fds (or similar): 503 with the spare fd, else pause accepting. */
static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct http_server	*srv = arg;
	struct timeval		 tv;
	unsigned		 i, n;
	int			 err = EVUTIL_SOCKET_ERROR();
	time_t			 now = time(NULL);

	if ((err == EMFILE || err == ENFILE) && srv->spare_fd != -1) {
		n = accept_with_spare(srv, l);
		if (now != srv->fd_warned) {	/* once a second at most */
			srv->fd_warned = now;
			log_warn("http: accept: %s; answered %u connection(s) "
			    "503 with the spare fd", strerror(err), n);
		}
		if (srv->spare_fd != -1)
			return;
	}
	log_warn("http: accept: %s", evutil_socket_error_to_string(err));
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

/* 1 if fd is a listening TCP socket, its address in *ss. */
static int
is_tcp_listener(int fd, struct sockaddr_storage *ss)
{
	socklen_t	len = sizeof *ss, optlen;
	int		listening = 0, type = 0;

	optlen = sizeof listening;
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
	    &optlen) != 0 || !listening)
		return 0;
	optlen = sizeof type;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &optlen) != 0 ||
	    type != SOCK_STREAM)
		return 0;
	if (getsockname(fd, (struct sockaddr *)ss, &len) != 0)
		return 0;
	return ss->ss_family == AF_INET || ss->ss_family == AF_INET6;
}

int
http_server_listen_fd(struct http_server *srv, int fd, char *host,
    size_t hostlen)
{
	struct evconnlistener	*l;
	struct sockaddr_storage	 ss;
	int			 port;

	if (srv->nlisteners == HTTP_MAX_LISTENERS) {
		log_error("listen fd %d: more than %d listeners", fd,
		    HTTP_MAX_LISTENERS);
		return -1;
	}
	if (!is_tcp_listener(fd, &ss)) {
		log_error("listen fd %d: not a listening TCP socket", fd);
		return -1;
	}
	if (evutil_make_socket_nonblocking(fd) != 0) {
		log_error("listen fd %d: %s", fd, strerror(errno));
		return -1;
	}
	/* Backlog -1: it listens already, with the backlog it was given. */
	l = evconnlistener_new(srv->base, accept_cb, srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (l == NULL) {
		log_error("listen fd %d: %s", fd, strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(l, accept_error_cb);
	srv->listeners[srv->nlisteners++] = l;
	if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
		    host, (socklen_t)hostlen);
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
		    host, (socklen_t)hostlen);
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	return port;
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
	struct rlimit		 rl;

	srv = xcalloc(1, sizeof *srv);
	srv->base = base;
	srv->limits = *limits;
	srv->handler = handler;
	srv->handler_arg = arg;
	TAILQ_INIT(&srv->conns);
	LIST_INIT(&srv->rejects);
	http_metrics_init(srv);

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

	srv->fd_ceiling = INT_MAX;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur > limits->fd_reserve && rl.rlim_cur < INT_MAX)
		srv->fd_ceiling = (int)(rl.rlim_cur - limits->fd_reserve);
	srv->spare_fd = -1;
	spare_open(srv);
	srv->accept_pause = evtimer_new(base, accept_resume_cb, srv);
	if (srv->accept_pause == NULL)
		fatalx("http: evtimer_new");
	srv->reject_len = http_problem_canned(503, "the server is at its "
	    "connection limit; try again shortly", "Retry-After: 1\r\n",
	    &srv->reject_reply);
	srv->client_len = http_problem_canned(503, "this address holds as "
	    "many connections as the server allows one client; close some, "
	    "or reuse them", "Retry-After: 1\r\n", &srv->client_reply);
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
		http_conn_free(conn);
	while ((rj = LIST_FIRST(&srv->rejects)) != NULL)
		reject_free(rj);
	event_free(srv->accept_pause);
	if (srv->spare_fd != -1)
		close(srv->spare_fd);
	free(srv->reject_reply);
	free(srv->client_reply);
	http_tls_free(srv);
	http_metrics_free(srv);
	free(srv);
}

