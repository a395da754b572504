/*
 * assets.c - serving the embedded dashboard.
 *
 * The files of web/ are compiled into the binary, so it runs from any
 * directory with nothing installed beside it. Each file gets a strong
 * ETag (a hash of its bytes, computed once) and Cache-Control: no-cache:
 * browsers keep their copy but revalidate, and a new build is never
 * hidden behind a stale cache.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/assets.h"
#include "http/http.h"
#include "http/reply.h"
#include "http/router.h"
#include "lib/hash.h"
#include "lib/xmalloc.h"

struct asset_route {
	const struct asset	*asset;
	const char		*type;
	char			 etag[24];
};

struct assets {
	struct asset_route	*routes;
};

static const struct {
	const char	*ext;
	const char	*type;
} asset_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".json", "application/json" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
	{ ".txt", "text/plain; charset=utf-8" },
};

const char *
assets_content_type(const char *path)
{
	const char	*dot = strrchr(path, '.');
	size_t		 i;

	for (i = 0; dot != NULL && i < sizeof asset_types /
	    sizeof asset_types[0]; i++) {
		if (strcmp(dot, asset_types[i].ext) == 0)
			return asset_types[i].type;
	}
	return "application/octet-stream";
}

/* Does an If-None-Match value name this ETag (or "*")? */
static int
etag_matches(const char *header, const char *etag)
{
	return strcmp(header, "*") == 0 || strstr(header, etag) != NULL;
}

static void
assets_serve(struct http_request *req, const struct router_params *params,
    void *arg)
{
	const struct asset_route	*ar = arg;
	const char			*inm;

	http_reply_header(req, "ETag", ar->etag);
	http_reply_header(req, "Cache-Control", "no-cache");
	inm = http_request_header(req, "If-None-Match");
	if (inm != NULL && etag_matches(inm, ar->etag)) {
		http_reply(req, 304, NULL, NULL, 0);
		return;
	}
	http_reply(req, 200, ar->type, ar->asset->data, ar->asset->len);
}

struct assets *
assets_register(struct router *r)
{
	struct assets		*as;
	struct asset_route	*ar;
	size_t			 i;

	as = xcalloc(1, sizeof *as);
	as->routes = xcalloc(assets_count, sizeof *as->routes);
	for (i = 0; i < assets_count; i++) {
		ar = &as->routes[i];
		ar->asset = &assets_table[i];
		ar->type = assets_content_type(ar->asset->path);
		snprintf(ar->etag, sizeof ar->etag, "\"%016llx\"",
		    (unsigned long long)hash_bytes(ar->asset->data,
		    ar->asset->len));
		router_add(r, HTTP_GET, ar->asset->path, assets_serve, ar);
		if (strcmp(ar->asset->path, "/index.html") == 0)
			router_add(r, HTTP_GET, "/", assets_serve, ar);
	}
	return as;
}

void
assets_free(struct assets *as)
{
	if (as == NULL)
		return;
	free(as->routes);
	free(as);
}
