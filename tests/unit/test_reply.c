/*
 * test_reply.c - problem details JSON and the canned reply.
 *
 * The HTTP layer writes problem+json without jansson; jansson here both
 * parses what it wrote and, as the oracle, builds the same object the way
 * the server did before, which must come out byte for byte the same.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http/http.h"
#include "http/http_problem.h"
#include "lib/xmalloc.h"
#include "tap.h"

/* json_string, with the old rule for what is not UTF-8. */
static json_t *
oracle_string(const char *s)
{
	json_t	*j;
	char	*copy, *p;

	if ((j = json_string(s)) != NULL)
		return j;
	copy = xstrdup(s);
	for (p = copy; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

/* The body as jansson made it before the HTTP layer wrote its own. */
static char *
oracle_body(int status, const char *detail, const char *instance)
{
	json_t	*obj;
	char	*s;

	obj = json_pack("{s:s, s:s, s:i, s:o}", "type", "about:blank",
	    "title", http_reply_status_text(status), "status", status,
	    "detail", oracle_string(detail));
	if (instance != NULL && *instance != '\0')
		json_object_set_new(obj, "instance", oracle_string(instance));
	s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	return s;
}

static void
same_as_jansson(int status, const char *detail, const char *instance,
    const char *what)
{
	char	*got, *want;

	got = http_problem_body(status, detail, instance);
	want = oracle_body(status, detail, instance);
	is_str(got, want, "same bytes as jansson: %s", what);
	free(got);
	free(want);
}

static void
oracle_tests(void)
{
	char	all[256];
	int	c;

	for (c = 1; c < 256; c++)
		all[c - 1] = (char)c;
	all[255] = '\0';
	same_as_jansson(400, all, NULL, "every byte (not UTF-8)");
	for (c = 1; c < 128; c++)
		all[c - 1] = (char)c;
	all[127] = '\0';
	same_as_jansson(400, all, NULL, "every ASCII byte");
	same_as_jansson(404, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 /a/b",
	    "/x?y=\"1\"", "valid UTF-8, slashes, instance");
	same_as_jansson(400, "overlong \xc0\xaf", NULL, "overlong 2 bytes");
	same_as_jansson(400, "overlong \xe0\x80\xaf", NULL, "overlong 3");
	same_as_jansson(400, "surrogate \xed\xa0\x80", NULL, "surrogate");
	same_as_jansson(400, "too big \xf4\x90\x80\x80", NULL, "> U+10FFFF");
	same_as_jansson(400, "cut \xe2\x82", "/\xff", "truncated sequence");
	same_as_jansson(400, "max \xf4\x8f\xbf\xbf", NULL, "U+10FFFF");
	same_as_jansson(400, "", "", "empty detail and instance");
	same_as_jansson(599, "unknown status", NULL, "unknown status");
	same_as_jansson(431, "request head is larger than the server accepts",
	    NULL, "431");
}

int
main(void)
{
	json_t		*j;
	json_error_t	 err;
	char		*s, *canned;
	size_t		 len;

	s = http_problem_body(404, "no resource at /x", "/x");
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

	s = http_problem_body(400, "bad \xff\xfe path \"q\"\n", NULL);
	j = json_loads(s, 0, &err);
	ok(j != NULL, "invalid UTF-8 in detail still gives JSON");
	is_str(json_string_value(json_object_get(j, "detail")),
	    "bad ?? path \"q\"\n", "bad bytes replaced, quotes kept");
	ok(json_object_get(j, "instance") == NULL, "no instance when NULL");
	json_decref(j);
	free(s);

	len = http_problem_canned(503, "full", "Retry-After: 1\r\n", &canned);
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
	oracle_tests();
	return tap_done();
}
