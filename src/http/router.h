/* router.h - method + path pattern -> handler. */
#ifndef SC_ROUTER_H
#define SC_ROUTER_H

#include "http/http.h"

#define ROUTER_MAX_PARAMS	4
#define ROUTER_MAX_SEGMENTS	16

struct router;

struct router_params {
	unsigned	 n;
	const char	*names[ROUTER_MAX_PARAMS];
	const char	*values[ROUTER_MAX_PARAMS];
	char		 buf[512];	/* holds the values */
};

typedef void	router_fn(struct http_request *, const struct router_params *,
		    void *arg);

/* An empty routing table. */
struct router	*router_new(void);
/* Frees the table (not the handlers' args). */
void		 router_free(struct router *);
/*
 * Patterns are absolute paths whose segments are literal or {name}, which
 * matches one non-empty segment. `methods` is a mask of enum http_method;
 * a GET route answers HEAD too.
 */
void		 router_add(struct router *, unsigned methods,
		    const char *pattern, router_fn *, void *arg);
/*
 * Finds the route for method and path. NULL when none matches; then
 * *allowed is the mask of methods the path does accept (0: no such path).
 */
router_fn	*router_match(const struct router *, enum http_method,
		    const char *path, struct router_params *, void **arg,
		    unsigned *allowed);
/* Runs the matching route, or answers 404 / 405 (with Allow) / OPTIONS. */
void		 router_dispatch(const struct router *, struct http_request *);
/* The value of the {name} parameter, or NULL. */
const char	*router_param(const struct router_params *, const char *name);
/* "GET, HEAD, POST" for a mask; returns buf. */
char		*router_allow_string(unsigned methods, char *buf, size_t len);

#endif
