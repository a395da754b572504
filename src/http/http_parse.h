/* http_parse.h - parse an HTTP/1.x request head in place. */
#ifndef SC_HTTP_PARSE_H
#define SC_HTTP_PARSE_H

#include <stddef.h>

#define HTTP_PARSE_MAX_HEADERS	64

/* One header line, pointing into the parsed buffer. */
struct http_parse_field {
	const char	*name;
	const char	*value;
};

/* A request head, pointing into the parsed buffer. */
struct http_parse_req {
	const char		*method;
	const char		*target;
	int			 minor;		/* HTTP/1.<minor> */
	unsigned		 nheaders;
	struct http_parse_field	 headers[HTTP_PARSE_MAX_HEADERS];
};

/*
 * Parses the head in buf[0..len), which ends with its empty line, writing
 * NULs into buf. Returns 0, or the HTTP status to answer (400, 431, 505)
 * with *why set to a static explanation.
 */
int		 http_parse_head(char *buf, size_t len, struct http_parse_req *,
		    const char **why);
/* A header's value, name matched without case; NULL when absent. */
const char	*http_parse_header(const struct http_parse_req *,
		    const char *name);
/* Does a comma-separated header value list contain `token`? */
int		 http_parse_token_list_has(const char *list, const char *token);
/* Strict decimal Content-Length: 0 and *out, or -1. */
int		 http_parse_length(const char *, unsigned long long *out);

#endif
