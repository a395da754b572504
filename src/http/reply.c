/*
 * reply.c - JSON replies and RFC 9457 problem details.
 *
 * Every 4xx and 5xx the server sends, whether from the HTTP layer or a
 * handler, is a JSON object with type, title, status and detail, so
 * clients have one error format to parse.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http/http.h"
#include "http/reply.h"
#include "lib/xmalloc.h"

/*
 * Details may quote what a client sent; JSON strings must be UTF-8, so
 * bytes that are not are shown as '?' rather than failing the reply.
 */
static json_t *
json_string_lossy(const char *s)
{
	json_t	*j;
	char	*copy, *p;

	if ((j = json_string(s)) != NULL)
		return j;
	copy = xstrdup(s);
	for (p = copy; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	}
	j = json_string(copy);
	free(copy);
	if (j == NULL)
		fatalx("reply: json_string");
	return j;
}

char *
reply_problem_body(int status, const char *detail, const char *instance)
{
	json_t	*obj;
	char	*s;

	obj = json_pack("{s:s, s:s, s:i, s:o}", "type", "about:blank",
	    "title", http_status_text(status), "status", status,
	    "detail", json_string_lossy(detail));
	if (obj == NULL)
		fatalx("reply: json_pack");
	if (instance != NULL && *instance != '\0')
		json_object_set_new(obj, "instance", json_string_lossy(instance));
	if ((s = json_dumps(obj, JSON_COMPACT)) == NULL)
		fatalx("reply: json_dumps");
	json_decref(obj);
	return s;
}

void
reply_problem(struct http_request *req, int status, const char *fmt, ...)
{
	va_list	 ap;
	char	*detail, *body;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&detail, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("reply: vasprintf");
	body = reply_problem_body(status, detail, NULL);
	http_reply(req, status, PROBLEM_CONTENT_TYPE, body, strlen(body));
	free(body);
	free(detail);
}

size_t
reply_canned(int status, const char *detail,
    const char *extra_headers, char **out)
{
	char	*body;
	int	 n;

	body = reply_problem_body(status, detail, NULL);
	n = xasprintf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n%sConnection: close\r\n\r\n%s",
	    status, http_status_text(status), PROBLEM_CONTENT_TYPE,
	    strlen(body), extra_headers != NULL ? extra_headers : "", body);
	free(body);
	return (size_t)n;
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
