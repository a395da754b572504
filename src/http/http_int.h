/*
 * http_int.h - what the HTTP server's own files share; not for callers.
 *
 * http_server.c owns the server, its listeners and the connection cap;
 * http_conn.c each connection's state machine; http_request.c the request
 * object; http_reply.c and http_stream.c the two ways of answering.
 */
#ifndef SC_HTTP_INT_H
#define SC_HTTP_INT_H

#include <sys/queue.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <stddef.h>
#include <time.h>

#include "http/http.h"
#include "http/http_parse.h"

#define HTTP_MAX_LISTENERS	8
#define HTTP_LINGER_MS		2000	/* reading leftovers before close */
#define HTTP_MAX_REJECTS	256	/* rejected sockets lingering at once */
#define HTTP_ACCEPT_PAUSE_MS	100	/* after EMFILE and friends */
#define HTTP_MAX_BLANK_LINES	8	/* empty lines before a request line */
#define HTTP_STREAM_MAX_WRITE	(1024 * 1024)	/* bytes per send, streams */
#define HTTP_TLS_RECORD	16384		/* most plaintext one TLS record holds */

struct bufferevent;
struct event;
struct evconnlistener;
struct evkeyvalq;
struct http_metrics;
struct http_tls;

enum http_conn_state {
	HTTP_CONN_IDLE,
	HTTP_CONN_HEAD,
	HTTP_CONN_BODY,
	HTTP_CONN_HANDLING,
	HTTP_CONN_WRITING,
	HTTP_CONN_STREAMING,	/* a handler writes a reply of open length */
	HTTP_CONN_LINGER,
};

/* One request; the handler owns it from dispatch until its reply. */
struct http_request {
	struct http_conn	*conn;		/* NULL once the client is gone */
	struct http_server	*srv;
	char			*head;		/* the parsed head, NULs inside */
	struct http_parse_req	 h;
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
	const char		*route;		/* its router pattern, or NULL */
	int			 inflight;	/* counted in srv->inflight */
	char			 peer[INET6_ADDRSTRLEN + 8];
};

/* One client connection, serving one request at a time. */
struct http_conn {
	TAILQ_ENTRY(http_conn)	 entry;
	struct http_server	*srv;
	struct bufferevent	*bev;
	struct event		*timer;
	enum http_conn_state	 state;
	size_t			 scanned;	/* head bytes searched so far */
	unsigned		 blank_lines;	/* skipped before this head */
	int			 close_after;	/* close once the reply drains */
	int			 read_eof;
	int			 tls_handshaking; /* accepted, not yet up */
	unsigned		 served;	/* requests answered */
	struct http_request	*req;		/* while BODY or HANDLING */
	char			 peer[INET6_ADDRSTRLEN + 8];
	char			 addr[INET6_ADDRSTRLEN]; /* "": not counted */
};
TAILQ_HEAD(http_conns, http_conn);

struct http_reject;
LIST_HEAD(http_rejects, http_reject);

/* Opaque to callers (http.h). */
struct http_server {
	struct event_base	*base;
	struct http_limits	 limits;
	http_handler_fn		*handler;
	void			*handler_arg;

	struct evconnlistener	*listeners[HTTP_MAX_LISTENERS];
	unsigned		 nlisteners;
	struct event		*accept_pause;
	int			 spare_fd;	/* /dev/null, given up at EMFILE */
	time_t			 fd_warned;

	struct http_conns	 conns;
	struct http_rejects	 rejects;
	unsigned		 nrejects;
	char			*reject_reply;
	size_t			 reject_len;
	char			*client_reply;	/* over the per-client cap */
	size_t			 client_len;

	const struct timeval	*request_tv;	/* common timeouts */
	const struct timeval	*keepalive_tv;
	const struct timeval	*linger_tv;
	int			 fd_ceiling;	/* accepted fds from here: 503 */
	struct timeval		 write_tv;

	time_t			 date_sec;
	char			 date[64];

	struct http_stats	 stats;
	uint64_t		 inflight;	/* dispatched, not answered */
	struct http_metrics	*metrics;	/* http_metrics.c */
	struct http_tls		*tls;		/* http_tls.c; NULL: plain */
};

/* Sets up a connection on fd (which it then owns) and starts reading. */
void		 http_conn_new(struct http_server *, int fd, const char *peer,
		    const char *addr);
/* Closes the connection; a request its handler still owns is told. */
void		 http_conn_free(struct http_conn *);
/* The output drained: next request, linger and close, or drain callback. */
void		 http_conn_sent(struct http_conn *);

/* A request on conn, empty until its head is read into ->head. */
struct http_request *http_request_new(struct http_conn *);
/* Frees the request and everything it holds. */
void		 http_request_free(struct http_request *);
/*
 * Parses the head of len bytes in ->head and applies its target and
 * framing. Returns 0, or the status to fail with and *why its detail.
 */
int		 http_request_parse(struct http_request *, size_t len,
		    const char **why);
/* Logs the request's access line with the reply's status and length. */
void		 http_request_log(struct http_request *, int status,
		    size_t len);

/*
 * http_metrics.c: every reply is counted once, req NULL for a connection
 * refused at accept; a request handed to its handler is in flight until
 * its reply or, when it is freed unanswered, until forgotten.
 */
void		 http_metrics_init(struct http_server *);
void		 http_metrics_free(struct http_server *);
void		 http_metrics_count(struct http_server *, struct http_request *,
		    int status);
void		 http_metrics_dispatched(struct http_server *,
		    struct http_request *);
void		 http_metrics_forget(struct http_server *, struct http_request *);

/*
 * http_tls.c, with srv->tls set: a bufferevent doing the server side of
 * a handshake on fd (NULL: out of memory); the handshake's end, counted;
 * a close_notify once the output has drained; the reason a TLS
 * connection failed (NULL when it was not TLS's); the TLS families of
 * /metrics (nothing without TLS); freeing it all.
 */
struct bufferevent *http_tls_bufferevent(struct http_server *, int fd);
void		 http_tls_handshake(struct http_server *, int ok);
void		 http_tls_close_notify(struct bufferevent *);
const char	*http_tls_strerror(struct bufferevent *, char *buf,
		    size_t len);
void		 http_tls_metrics_write(const struct http_server *,
		    struct evbuffer *);
void		 http_tls_free(struct http_server *);

/* The Date header value, formatted once a second. */
const char	*http_server_date(struct http_server *);

#endif
