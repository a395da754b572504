/* test_reply.c - problem details JSON and the canned reply. */
#include "config.h"

#include <stdlib.h>

#include <jansson.h>

#include "http/reply.h"
#include "tap.h"

int
main(void)
{
	json_t		*j;
	json_error_t	 err;
	char		*s, *canned;
	size_t		 len;

	s = reply_problem_body(404, "no resource at /x", "/x");
	j = json_loads(s, 0, &err);
	ok(j != NULL, "problem body is JSON");
	is_str(json_string_value(json_object_get(j, "type")), "about:blank",
	    "type");
	is_str(json_string_value(json_object_get(j, "title")), "Not Found",
	    "title is the status text");
	is_int(json_integer_value(json_object_get(j, "status")), 404,
	    "status");
	is_str(json_string_value(json_object_get(j, "detail")),
	    "no resource at /x", "detail");
	is_str(json_string_value(json_object_get(j, "instance")), "/x",
	    "instance");
	json_decref(j);
	free(s);

	s = reply_problem_body(400, "bad \xff\xfe path \"q\"\n", NULL);
	j = json_loads(s, 0, &err);
	ok(j != NULL, "invalid UTF-8 in detail still gives JSON");
	is_str(json_string_value(json_object_get(j, "detail")),
	    "bad ?? path \"q\"\n", "bad bytes replaced, quotes kept");
	ok(json_object_get(j, "instance") == NULL, "no instance when NULL");
	json_decref(j);
	free(s);

	len = reply_canned(503, "full", "Retry-After: 1\r\n", &canned);
	is_int(len, strlen(canned), "canned length");
	ok(strncmp(canned, "HTTP/1.1 503 Service Unavailable\r\n",
	    strlen("HTTP/1.1 503 Service Unavailable\r\n")) == 0,
	    "status line");
	ok(strstr(canned, "\r\nRetry-After: 1\r\n") != NULL, "extra header");
	ok(strstr(canned, "\r\nConnection: close\r\n") != NULL,
	    "Connection: close");
	ok(strstr(canned, "Content-Type: application/problem+json\r\n") !=
	    NULL, "problem content type");
	s = strstr(canned, "\r\n\r\n");
	ok(s != NULL && (j = json_loads(s + 4, 0, &err)) != NULL,
	    "canned body is JSON");
	if (j != NULL) {
		is_int(json_integer_value(json_object_get(j, "status")), 503,
		    "canned status field");
		json_decref(j);
	}
	free(canned);
	return tap_done();
}
