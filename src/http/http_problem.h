/* http_problem.h - RFC 9457 problem+json bodies, written without jansson. */
#ifndef SC_HTTP_PROBLEM_H
#define SC_HTTP_PROBLEM_H

#include <stddef.h>

struct http_request;

#define HTTP_PROBLEM_CONTENT_TYPE	"application/problem+json"

/* The problem object for status and detail as compact JSON (caller frees). */
char	*http_problem_body(int status, const char *detail,
	    const char *instance);
/* Replies `status` with a problem+json body and finishes the request. */
void	 http_problem_reply(struct http_request *, int status,
	    const char *detail);
/*
 * A complete HTTP/1.1 response with Connection: close, for places that
 * answer before any request is read. Returns its length; *out is freed
 * by the caller.
 */
size_t	 http_problem_canned(int status, const char *detail,
	    const char *extra_headers, char **out);

#endif
