/*
 * router.c - the routing table.
 *
 * A short list of (methods, pattern, handler) scanned in order. Patterns
 * are split into segments once, when added; a request path is split the
 * same way, each segment percent-decoded, and compared segment by
 * segment. Knowing every route that matches the path, whatever its
 * method, gives 405 and Allow for free.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "http/http_problem.h"
#include "http/router.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

struct route {
	unsigned	 methods;
	char		*pattern;	/* split in place: NULs for slashes */
	char		*label;		/* the pattern, one per distinct one */
	int		 owns_label;
	unsigned	 nsegs;
	char		*segs[ROUTER_MAX_SEGMENTS];
	router_fn	*fn;
	void		*arg;
};

struct router {
	struct route	*routes;
	unsigned	 n;
};

static const struct {
	unsigned	 method;
	const char	*name;
} router_method_names[] = {
	{ HTTP_GET, "GET" }, { HTTP_HEAD, "HEAD" }, { HTTP_POST, "POST" },
	{ HTTP_PUT, "PUT" }, { HTTP_PATCH, "PATCH" },
	{ HTTP_DELETE, "DELETE" }, { HTTP_OPTIONS, "OPTIONS" },
};

/* Splits an absolute path in place; -1 if it has too many segments. */
static int
split_path(char *path, char **segs, unsigned *nsegs)
{
	char	*p = path;

	*nsegs = 0;
	if (*p == '/')
		p++;
	if (*p == '\0')
		return 0;		/* "/" has no segments */
	for (;;) {
		if (*nsegs == ROUTER_MAX_SEGMENTS)
			return -1;
		segs[(*nsegs)++] = p;
		if ((p = strchr(p, '/')) == NULL)
			return 0;
		*p++ = '\0';
	}
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decodes one segment in place (a malformed escape stays as it
 * is); -1 if it decodes to a NUL.
 */
static int
decode_segment(char *s)
{
	char	*out = s;
	int	 hi, lo;

	for (; *s != '\0'; s++) {
		if (*s == '%' && (hi = hexval((unsigned char)s[1])) != -1 &&
		    (lo = hexval((unsigned char)s[2])) != -1) {
			if ((*out++ = (char)(hi << 4 | lo)) == '\0')
				return -1;
			s += 2;
		} else
			*out++ = *s;
	}
	*out = '\0';
	return 0;
}

struct router *
router_new(void)
{
	return xcalloc(1, sizeof(struct router));
}

void
router_free(struct router *r)
{
	unsigned	i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++) {
		free(r->routes[i].pattern);
		if (r->routes[i].owns_label)
			free(r->routes[i].label);
	}
	free(r->routes);
	free(r);
}

void
router_add(struct router *r, unsigned methods, const char *pattern,
    router_fn *fn, void *arg)
{
	struct route	*rt;
	char		*label = NULL;
	unsigned	 i;

	if (pattern[0] != '/')
		fatalx("router: pattern %s is not absolute", pattern);
	/* A pattern routed for several methods has one label: one series. */
	for (i = 0; i < r->n && label == NULL; i++) {
		if (strcmp(r->routes[i].label, pattern) == 0)
			label = r->routes[i].label;
	}
	r->routes = xreallocarray(r->routes, r->n + 1, sizeof *r->routes);
	rt = &r->routes[r->n++];
	memset(rt, 0, sizeof *rt);
	if (methods & HTTP_GET)
		methods |= HTTP_HEAD;
	rt->methods = methods;
	rt->pattern = xstrdup(pattern);
	if (label == NULL) {
		label = xstrdup(pattern);
		rt->owns_label = 1;
	}
	rt->label = label;
	if (split_path(rt->pattern, rt->segs, &rt->nsegs) != 0)
		fatalx("router: pattern %s has too many segments", pattern);
	rt->fn = fn;
	rt->arg = arg;
}

/* Compares one route with split path segments, collecting parameters. */
static int
router_matches(const struct route *rt, char **segs, unsigned nsegs,
    struct router_params *params)
{
	unsigned	i;
	size_t		len;

	if (rt->nsegs != nsegs)
		return 0;
	params->n = 0;
	for (i = 0; i < nsegs; i++) {
		len = strlen(rt->segs[i]);
		if (rt->segs[i][0] == '{' && rt->segs[i][len - 1] == '}') {
			if (segs[i][0] == '\0' ||
			    params->n == ROUTER_MAX_PARAMS)
				return 0;
			params->names[params->n] = rt->segs[i];
			params->values[params->n] = segs[i];
			params->n++;
		} else if (strcmp(rt->segs[i], segs[i]) != 0)
			return 0;
	}
	return 1;
}

/*
 * The route for method and path, or NULL; *allowed as router_match
 * says, and *seen the first route of the path whatever its methods.
 */
static const struct route *
router_find(const struct router *r, enum http_method method,
    const char *path, struct router_params *params, unsigned *allowed,
    const struct route **seen)
{
	struct router_params	 tmp;
	char			*segs[ROUTER_MAX_SEGMENTS];
	unsigned		 nsegs, i;
	size_t			 len = strlen(path);

	*allowed = 0;
	*seen = NULL;
	memset(params, 0, sizeof *params);
	if (len >= sizeof params->buf)
		return NULL;
	memcpy(params->buf, path, len + 1);
	/*
	 * Split first, then decode each segment: "abc%2Fdef" is one
	 * segment holding "abc/def", not two.
	 */
	if (split_path(params->buf, segs, &nsegs) != 0)
		return NULL;
	for (i = 0; i < nsegs; i++) {
		if (decode_segment(segs[i]) != 0)
			return NULL;
	}

	for (i = 0; i < r->n; i++) {
		const struct route *rt = &r->routes[i];

		if (!router_matches(rt, segs, nsegs, &tmp))
			continue;
		*allowed |= rt->methods;
		if (*seen == NULL)
			*seen = rt;
		if (rt->methods & method) {
			params->n = tmp.n;
			memcpy(params->names, tmp.names, sizeof tmp.names);
			memcpy(params->values, tmp.values, sizeof tmp.values);
			return rt;
		}
	}
	return NULL;
}

router_fn *
router_match(const struct router *r, enum http_method method,
    const char *path, struct router_params *params, void **arg,
    unsigned *allowed)
{
	const struct route	*rt, *seen;

	if ((rt = router_find(r, method, path, params, allowed, &seen)) ==
	    NULL)
		return NULL;
	*arg = rt->arg;
	return rt->fn;
}

const char *
router_param(const struct router_params *params, const char *name)
{
	size_t		len = strlen(name);
	unsigned	i;

	/* Stored names keep their braces: "{id}". */
	for (i = 0; i < params->n; i++) {
		if (strncmp(params->names[i] + 1, name, len) == 0 &&
		    params->names[i][len + 1] == '}')
			return params->values[i];
	}
	return NULL;
}

char *
router_allow_string(unsigned methods, char *buf, size_t len)
{
	size_t		off = 0, i, n;

	buf[0] = '\0';
	for (i = 0; i < sizeof router_method_names /
	    sizeof router_method_names[0]; i++) {
		if (!(methods & router_method_names[i].method))
			continue;
		n = strlen(router_method_names[i].name);
		if (off + n + 3 > len)
			break;
		if (off > 0) {
			memcpy(buf + off, ", ", 2);
			off += 2;
		}
		memcpy(buf + off, router_method_names[i].name, n + 1);
		off += n;
	}
	return buf;
}

void
router_dispatch(const struct router *r, struct http_request *req)
{
	struct router_params	 params;
	const struct route	*rt, *seen;
	unsigned		 allowed;
	char			 allow[128], *detail;
	enum http_method	 method = http_request_method(req);

	rt = router_find(r, method, http_request_path(req), &params, &allowed,
	    &seen);
	/* Its figures go under the pattern, a 405 too (a 404 has none). */
	if (seen != NULL)
		http_request_set_route(req, rt != NULL ? rt->label :
		    seen->label);
	if (rt != NULL) {
		rt->fn(req, &params, rt->arg);
		return;
	}
	if (allowed == 0) {
		xasprintf(&detail, "no resource at %s", http_request_path(req));
		http_problem_reply(req, 404, detail);
		free(detail);
		return;
	}
	router_allow_string(allowed | HTTP_OPTIONS, allow, sizeof allow);
	http_reply_header(req, "Allow", allow);
	if (method == HTTP_OPTIONS) {
		http_reply(req, 204, NULL, NULL, 0);
		return;
	}
	xasprintf(&detail, "%s is not allowed on %s; allowed: %s",
	    http_request_method_name(req), http_request_path(req), allow);
	http_problem_reply(req, 405, detail);
	free(detail);
}
