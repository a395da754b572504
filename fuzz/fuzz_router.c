/*
 * fuzz_router.c - libFuzzer harness for the router: the server's route
 * patterns, a method from the first byte, the rest a path. A match must
 * give at most ROUTER_MAX_PARAMS parameters, each a NUL-terminated value
 * in the parameters' buffer; no match must still say which methods the
 * path accepts, and the Allow string must fit.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/router.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct router	*rt;
static int		 marks[8];

static void
handler(struct http_request *req, const struct router_params *p, void *arg)
{
	(void)req;
	(void)p;
	(void)arg;
}

static void
setup(void)
{
	static const struct {
		unsigned	 methods;
		const char	*pattern;
	} routes[] = {
		{ HTTP_GET, "/api/health" },
		{ HTTP_POST, "/api/jobs" },
		{ HTTP_GET, "/api/jobs" },
		{ HTTP_GET, "/api/jobs/{id}" },
		{ HTTP_DELETE, "/api/jobs/{id}" },
		{ HTTP_GET, "/api/jobs/{id}/symbols" },
		{ HTTP_GET, "/api/jobs/{id}/files/{name}" },
		{ HTTP_GET, "/synthetic/{symbol}" },
	};
	size_t	i;

	rt = router_new();
	for (i = 0; i < sizeof routes / sizeof routes[0]; i++)
		router_add(rt, routes[i].methods, routes[i].pattern, handler,
		    &marks[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum http_method methods[] = { HTTP_GET, HTTP_HEAD,
	    HTTP_POST, HTTP_DELETE, HTTP_PUT, HTTP_OPTIONS };
	struct router_params	 p;
	enum http_method	 m;
	router_fn		*fn;
	void			*arg = NULL;
	unsigned		 allowed = 0, i;
	char			*path, allow[128];

	if (rt == NULL)
		setup();
	if (size < 1 || size > 4096)
		return 0;
	m = methods[data[0] % (sizeof methods / sizeof methods[0])];
	path = malloc(size);
	memcpy(path, data + 1, size - 1);
	path[size - 1] = '\0';

	memset(&p, 0, sizeof p);
	fn = router_match(rt, m, path, &p, &arg, &allowed);
	if (fn != NULL) {
		if (fn != handler || p.n > ROUTER_MAX_PARAMS ||
		    arg < (void *)&marks[0] || arg > (void *)&marks[7])
			abort();
		for (i = 0; i < p.n; i++) {
			if (p.names[i] == NULL || p.values[i] == NULL ||
			    p.values[i] < p.buf ||
			    p.values[i] >= p.buf + sizeof p.buf ||
			    strlen(p.values[i]) >= sizeof p.buf)
				abort();
			if (p.names[i][0] != '{')
				abort();	/* stored with braces */
		}
		(void)router_param(&p, "id");
		(void)router_param(&p, "name");
	} else {
		router_allow_string(allowed, allow, sizeof allow);
		if (strlen(allow) >= sizeof allow)
			abort();
	}
	free(path);
	return 0;
}
