/* http.h - the HTTP/1.1 server: connections, limits, requests, replies. */
#ifndef SC_HTTP_H
#define SC_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct event_base;
struct evbuffer;
struct http_server;
struct http_request;

enum http_method {
	HTTP_GET	= 1 << 0,
	HTTP_HEAD	= 1 << 1,
	HTTP_POST	= 1 << 2,
	HTTP_PUT	= 1 << 3,
	HTTP_DELETE	= 1 << 4,
	HTTP_OPTIONS	= 1 << 5,
	HTTP_PATCH	= 1 << 6,
	HTTP_OTHER	= 1 << 7,
};

struct http_limits {
	unsigned	max_connections;
	unsigned	max_conns_per_client;	/* per peer address; 0: none */
	unsigned	fd_reserve;	/* fds no connection may take */
	size_t		max_header_size;
	size_t		max_body_size;
	unsigned	request_timeout_ms;	/* one request's head and body */
	unsigned	keepalive_timeout_ms;	/* idle between requests */
	unsigned	write_timeout_ms;	/* no progress sending a reply */
};

struct http_stats {
	uint64_t	conns_now;
	uint64_t	conns_total;
	uint64_t	conns_rejected;
	uint64_t	requests;
	uint64_t	by_class[6];		/* [1] = 1xx ... [5] = 5xx */
};

/* Called on the loop thread for every complete, well-formed request. */
typedef void	http_handler_fn(struct http_request *, void *arg);
/* The client of a request the handler still holds went away. */
typedef void	http_close_fn(struct http_request *, void *arg);
/* A stream's output has all been sent. */
typedef void	http_drain_fn(struct http_request *, void *arg);

/* A server on base with these limits; listens on nothing yet. */
struct http_server *http_server_new(struct event_base *,
		    const struct http_limits *, http_handler_fn *, void *arg);
/* Binds and listens; returns the bound port, or -1 with a message logged. */
int		 http_server_listen(struct http_server *, const char *host,
		    const char *port);
/*
 * Listens on fd, a bound and listening TCP socket handed over (socket
 * activation), which the server then owns. Returns its port and puts its
 * address in host, or -1 with a message logged.
 */
int		 http_server_listen_fd(struct http_server *, int fd,
		    char *host, size_t hostlen);
/* Closes the listeners; connections already open are served on. */
void		 http_server_stop_listening(struct http_server *);
/*
 * Serves a connected, non-blocking socket, which the server now owns
 * (over the connection limit it gets the canned 503); peer names it in
 * the log.
 */
void		 http_server_adopt(struct http_server *, int fd,
		    const char *peer);
/* Copies the server's counters. */
void		 http_server_get_stats(const struct http_server *,
		    struct http_stats *);
/* The server's figures as Prometheus text (prom.h) appended to b. */
void		 http_metrics_write(const struct http_server *,
		    struct evbuffer *b);
/*
 * HTTPS on every listener (http_tls.c): the certificate chain and key,
 * PEM files. 0, or -1 with the reason in err (also in a build without
 * TLS). Set before listening.
 */
int		 http_tls_set(struct http_server *, const char *cert,
		    const char *key, char *err, size_t errlen);
/*
 * Reads the same files again: new connections get them, open ones keep
 * theirs. 0, or -1 with the reason in err and the old ones still served.
 */
int		 http_tls_reload(struct http_server *, char *err,
		    size_t errlen);
/* The served key as libcurl pins it ("sha256//BASE64"); NULL: no TLS. */
const char	*http_tls_pin(const struct http_server *);
/* When the certificate served expires (Unix time); 0: no TLS. */
time_t		 http_tls_not_after(const struct http_server *);
/* Closes every connection (close callbacks run) and frees the server. */
void		 http_server_free(struct http_server *);

/*
 * The request's parts; the strings stay valid until its reply is sent
 * (or, for a request kept by its handler, until it is freed).
 */
/* The method, HTTP_OTHER never (those get 501 before a handler). */
enum http_method http_request_method(const struct http_request *);
/* The method as sent ("-" before the head is parsed). */
const char	*http_request_method_name(const struct http_request *);
/* The path as sent (still percent-encoded), without the query. */
const char	*http_request_path(const struct http_request *);
/* A query parameter's decoded value, or NULL. */
const char	*http_request_query(const struct http_request *, const char *);
/* A header's value (name matched without case), or NULL. */
const char	*http_request_header(const struct http_request *, const char *);
/* The body, NUL-terminated ("" when none); its length in *len. */
const char	*http_request_body(const struct http_request *, size_t *len);
/* The route the request is counted under: a router pattern, kept. */
void		 http_request_set_route(struct http_request *,
		    const char *route);
/* The client's "host:port", for logs. */
const char	*http_request_peer(const struct http_request *);

/*
 * A handler that does not reply at once keeps the request and replies
 * later. If the client goes away first, the close callback (if one is
 * set) runs and the request is freed when it returns; without one, the
 * request stays valid and the later reply just frees it.
 */
void		 http_request_set_close_cb(struct http_request *,
		    http_close_fn *, void *);

/* Adds a header to the reply still to be sent. */
void		 http_reply_header(struct http_request *, const char *name,
		    const char *value);
/* Sends the whole reply (the body is copied) and finishes the request. */
void		 http_reply(struct http_request *, int status,
		    const char *content_type, const void *body, size_t len);
/* Same, moving the contents out of `body`. */
void		 http_reply_buffer(struct http_request *, int status,
		    const char *content_type, struct evbuffer *body);
/*
 * Same, without copying the body: cleanup runs on the loop once it is
 * sent or dropped, so one rendering can be shared by many replies.
 */
void		 http_reply_ref(struct http_request *, int status,
		    const char *content_type, const void *body, size_t len,
		    void (*cleanup)(const void *, size_t, void *), void *arg);

/*
 * A reply of open length (a live stream): headers now, then writes as
 * they come; the connection closes at the end. The close callback tells
 * the handler the client left (the write timeout drops one that stops
 * reading); the drain callback, that everything written has been sent.
 * 0: streaming; else (the client is gone, or 1 for HEAD: the headers
 * are sent, there is no stream) the caller ends it with http_stream_end.
 */
int		 http_stream_start(struct http_request *, int status,
		    const char *content_type);
/* Queues a copy of the data (nothing once the client is gone). */
void		 http_stream_write(struct http_request *, const void *, size_t);
/*
 * Without copying: cleanup (if not NULL) runs on the loop once the bytes
 * are sent or dropped; data without one must stay valid until then.
 */
int		 http_stream_write_ref(struct http_request *, const void *,
		    size_t, void (*cleanup)(const void *, size_t, void *),
		    void *arg);
/* Bytes queued and not yet sent. */
size_t		 http_stream_pending(const struct http_request *);
/*
 * Caps the kernel's send buffer of the stream's socket (SO_SNDBUF) at
 * about `bytes`: otherwise Linux grows it to megabytes for a client that
 * reads nothing, and http_stream_pending stays 0 while they fill.
 */
void		 http_stream_set_sndbuf(struct http_request *, int bytes);
/* Sets the callback for "everything written has been sent". */
void		 http_stream_set_drain_cb(struct http_request *,
		    http_drain_fn *, void *);
/* Ends the stream: the connection closes once the rest is sent. */
void		 http_stream_end(struct http_request *);
/*
 * Drops the stream now, unsent bytes and all (a client too slow to keep
 * up); the close callback does not run. The request is freed.
 */
void		 http_stream_abort(struct http_request *);

/* The reason phrase for a status ("Unknown" for codes it lacks). */
const char	*http_reply_status_text(int);

#endif
