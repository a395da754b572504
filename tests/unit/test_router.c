/* test_router.c - route matching, parameters, 405 and Allow. */
#include "config.h"

#include "http/router.h"
#include "tap.h"

static void
fn_a(struct http_request *req, const struct router_params *p, void *arg)
{
}

static void
fn_b(struct http_request *req, const struct router_params *p, void *arg)
{
}

int
main(void)
{
	struct router		*r = router_new();
	struct router_params	 p;
	void			*arg = NULL;
	unsigned		 allowed;
	char			 buf[128];
	int			 tag_a, tag_b, tag_c;

	router_add(r, HTTP_GET, "/api/health", fn_a, &tag_a);
	router_add(r, HTTP_GET | HTTP_POST, "/api/jobs", fn_b, &tag_b);
	router_add(r, HTTP_GET, "/api/jobs/{id}", fn_a, &tag_c);
	router_add(r, HTTP_DELETE, "/api/jobs/{id}", fn_b, &tag_b);
	router_add(r, HTTP_GET, "/api/jobs/{id}/files/{file}", fn_b, &tag_c);
	router_add(r, HTTP_GET, "/", fn_a, &tag_a);

	ok(router_match(r, HTTP_GET, "/api/health", &p, &arg, &allowed) ==
	    fn_a && arg == &tag_a, "literal route");
	ok(router_match(r, HTTP_HEAD, "/api/health", &p, &arg, &allowed) ==
	    fn_a, "HEAD answered by a GET route");
	ok(router_match(r, HTTP_POST, "/api/health", &p, &arg, &allowed) ==
	    NULL, "POST on a GET route does not match");
	is_int(allowed, HTTP_GET | HTTP_HEAD, "allowed: GET and HEAD");
	ok(router_match(r, HTTP_GET, "/api/nothing", &p, &arg, &allowed) ==
	    NULL && allowed == 0, "unknown path: nothing allowed");
	ok(router_match(r, HTTP_GET, "/api/health/", &p, &arg, &allowed) ==
	    NULL, "trailing slash is another path");
	ok(router_match(r, HTTP_GET, "/", &p, &arg, &allowed) == fn_a,
	    "root");

	ok(router_match(r, HTTP_GET, "/api/jobs/42", &p, &arg, &allowed) ==
	    fn_a && arg == &tag_c, "parameter route, GET");
	is_str(router_param(&p, "id"), "42", "parameter value");
	ok(router_param(&p, "i") == NULL, "no partial parameter name");
	ok(router_match(r, HTTP_DELETE, "/api/jobs/42", &p, &arg,
	    &allowed) == fn_b, "same pattern, other method, other handler");
	ok(router_match(r, HTTP_PUT, "/api/jobs/42", &p, &arg,
	    &allowed) == NULL, "PUT not routed");
	is_int(allowed, HTTP_GET | HTTP_HEAD | HTTP_DELETE,
	    "allowed collects every matching route");
	ok(router_match(r, HTTP_GET, "/api/jobs/", &p, &arg, &allowed) ==
	    NULL, "empty segment does not fill a parameter");

	ok(router_match(r, HTTP_GET, "/api/jobs/7/files/AAPL.xml", &p, &arg,
	    &allowed) == fn_b, "two parameters");
	is_str(router_param(&p, "id"), "7", "first parameter");
	is_str(router_param(&p, "file"), "AAPL.xml", "second parameter");

	/* Split on the raw path, then decode each segment. */
	ok(router_match(r, HTTP_GET, "/api/jobs/abc%2Fdef", &p, &arg,
	    &allowed) == fn_a && arg == &tag_c,
	    "%2F stays inside its segment: the {id} route");
	is_str(router_param(&p, "id"), "abc/def", "parameter decoded");
	ok(router_match(r, HTTP_GET, "/api/jobs/7/files/A%20B%2f.xml", &p,
	    &arg, &allowed) == fn_b, "encoded file name: two parameters");
	is_str(router_param(&p, "file"), "A B/.xml", "second one decoded");
	ok(router_match(r, HTTP_GET, "/api/%68ealth", &p, &arg, &allowed) ==
	    fn_a, "a literal segment matches once decoded");
	ok(router_match(r, HTTP_GET, "/api/jobs/50%", &p, &arg, &allowed) ==
	    fn_a, "a malformed escape is kept as it is");
	is_str(router_param(&p, "id"), "50%", "kept literally");
	ok(router_match(r, HTTP_GET, "/api/jobs/a%00b", &p, &arg, &allowed) ==
	    NULL && allowed == 0, "an encoded NUL matches nothing");

	ok(router_match(r, HTTP_GET, "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r",
	    &p, &arg, &allowed) == NULL && allowed == 0,
	    "too many segments: no match");

	is_str(router_allow_string(HTTP_GET | HTTP_HEAD | HTTP_DELETE, buf,
	    sizeof buf), "GET, HEAD, DELETE", "Allow string");
	is_str(router_allow_string(0, buf, sizeof buf), "", "empty Allow");

	router_free(r);
	return tap_done();
}
