/* reply.h - JSON replies and RFC 9457 problem details. */
#ifndef SC_REPLY_H
#define SC_REPLY_H

#include <stddef.h>

#include "lib/log.h"

#include <jansson.h>

struct http_request;

#define PROBLEM_CONTENT_TYPE	"application/problem+json"

/* Replies with the object as compact JSON; steals the reference. */
void	reply_json(struct http_request *, int status, json_t *);
/* Replies `status` with a problem+json body whose detail is the format. */
void	reply_problem(struct http_request *, int status, const char *fmt, ...)
	    PRINTFLIKE(3, 4);
/* The problem object as a JSON string (caller frees). */
char	*reply_problem_body(int status, const char *detail, const char *instance);
/*
 * A complete HTTP/1.1 response with Connection: close, for places that
 * answer before any request is read. Returns its length; *out is freed
 * by the caller.
 */
size_t	 reply_canned(int status, const char *detail,
	    const char *extra_headers, char **out);

#endif
