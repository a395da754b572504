/*
 * fuzz_http_parse.c - libFuzzer harness for the HTTP request head parser.
 *
 * The input, given its empty line if it lacks one, is parsed in a copy
 * of exactly its size (ASan sees any read past the end). A success must
 * point into the buffer, a refusal must be 400, 431 or 505 and say why;
 * then every header value goes through the helpers that read values.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
inside(const char *p, const char *buf, size_t len)
{
	return p >= buf && p < buf + len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_parse_req	 req;
	const char		*why = NULL, *v;
	unsigned long long	 n;
	char			*buf;
	size_t			 len = size;
	unsigned		 i;
	int			 rv;

	if (size > 65536)
		return 0;
	/* The caller hands over a head up to and with its empty line. */
	if (size < 4 || memcmp(data + size - 4, "\r\n\r\n", 4) != 0)
		len += 4;
	buf = malloc(len);
	memcpy(buf, data, size);
	if (len != size)
		memcpy(buf + size, "\r\n\r\n", 4);

	memset(&req, 0, sizeof req);
	rv = http_parse_head(buf, len, &req, &why);
	if (rv != 0) {
		if ((rv != 400 && rv != 431 && rv != 505) || why == NULL ||
		    *why == '\0')
			abort();
		free(buf);
		return 0;
	}
	if (req.method == NULL || req.target == NULL ||
	    !inside(req.method, buf, len) || !inside(req.target, buf, len) ||
	    req.nheaders > HTTP_PARSE_MAX_HEADERS)
		abort();
	for (i = 0; i < req.nheaders; i++) {
		if (!inside(req.headers[i].name, buf, len) ||
		    !inside(req.headers[i].value, buf, len))
			abort();
		(void)strlen(req.headers[i].name);
		v = req.headers[i].value;
		(void)http_parse_token_list_has(v, "close");
		(void)http_parse_token_list_has(v, "chunked");
		if (http_parse_length(v, &n) == 0 && n == 0 && v[0] != '0')
			abort();	/* a length is digits */
		if (http_parse_header(&req, req.headers[i].name) == NULL)
			abort();	/* its own name finds a value */
	}
	(void)http_parse_header(&req, "Host");
	free(buf);
	return 0;
}
