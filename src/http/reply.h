/* reply.h - JSON replies (jansson) and formatted problem details. */
#ifndef SC_REPLY_H
#define SC_REPLY_H

#include <stddef.h>

#include "lib/log.h"

#include <jansson.h>

struct http_request;

/* Replies with the object as compact JSON; steals the reference. */
void	reply_json(struct http_request *, int status, json_t *);
/* Replies `status` with a problem+json body whose detail is the format. */
void	reply_problem(struct http_request *, int status, const char *fmt, ...)
	    PRINTFLIKE(3, 4);

#endif
