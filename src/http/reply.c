/*
 * reply.c - JSON replies for the handlers, on top of the HTTP server.
 *
 * reply_json() dumps a jansson object; reply_problem() formats a detail
 * and hands it to the server's own problem+json writer (http_problem.c),
 * so handler errors and the server's errors are byte for byte alike.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http/http.h"
#include "http/http_problem.h"
#include "http/reply.h"
#include "lib/log.h"

void
reply_problem(struct http_request *req, int status, const char *fmt, ...)
{
	va_list	 ap;
	char	*detail;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&detail, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("reply: vasprintf");
	http_problem_reply(req, status, detail);
	free(detail);
}

void
reply_json(struct http_request *req, int status, json_t *obj)
{
	char	*s;

	if ((s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(9))) == NULL)
		fatalx("reply: json_dumps");
	json_decref(obj);
	http_reply(req, status, "application/json", s, strlen(s));
	free(s);
}
