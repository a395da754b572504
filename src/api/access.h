/*
 * access.h - who may do what: users and tokens from an --auth file
 * (HTTP Basic and Bearer), the viewer and operator roles, and CORS.
 */
#ifndef SC_ACCESS_H
#define SC_ACCESS_H

#include <stddef.h>

struct access;
struct event_base;
struct http_request;
struct pool;
struct router;

struct access_config {
	const char	*auth_file;	/* NULL: everyone may do everything */
	int		 open_health;	/* /api/health without credentials */
	int		 open_metrics;	/* /metrics without credentials */
	const char	*allow_origin;	/* "*" or origins, comma-separated */
	unsigned	 fail_delay_ms;	/* a failed login's 401 waits (1000) */
};

/*
 * Reads the users file. Password hashes are checked on `verify` (a pool:
 * crypt(3) takes milliseconds by design, too long for the loop). NULL
 * with the reason in err.
 */
struct access	*access_new(struct event_base *,
		    const struct access_config *, struct pool *verify,
		    const struct router *, char *err, size_t errlen);
/* Checks the request, then routes it or answers 401, 403 or 429. */
void		 access_dispatch(struct access *, struct http_request *);
/* 1 when requests must authenticate. */
int		 access_enabled(const struct access *);
/* After the HTTP server and the verify pool are gone. */
void		 access_free(struct access *);

#endif
