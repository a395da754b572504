/*
 * http_problem.c - RFC 9457 problem details for every error reply.
 *
 * Every 4xx and 5xx the server sends, whether from the HTTP layer or a
 * handler, is a JSON object with type, title, status and detail, so
 * clients have one error format to parse. The HTTP layer writes these
 * bodies itself: it needs no JSON library, and the bytes are the ones
 * jansson's compact dump gives for the same object.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "http/http_problem.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

/* Length of the valid UTF-8 sequence at s (as jansson judges), or 0. */
static size_t
problem_utf8_seq(const unsigned char *s)
{
	unsigned	c = s[0], v;
	size_t		n, i;

	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0;	/* continuation, overlong lead or too big */
	if (c < 0xe0) {
		n = 2;
		v = c & 0x1f;
	} else if (c < 0xf0) {
		n = 3;
		v = c & 0x0f;
	} else {
		n = 4;
		v = c & 0x07;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) ||
	    v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	return n;
}

static int
problem_utf8_valid(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n;

	while (*p != '\0') {
		if ((n = problem_utf8_seq(p)) == 0)
			return 0;
		p += n;
	}
	return 1;
}

/*
 * Writes s as a JSON string with its quotes into out (when not NULL) and
 * returns the length. Details may quote what a client sent: when s is
 * not UTF-8, every byte over 0x7f is shown as '?' rather than failing.
 */
static size_t
problem_escape(char *out, const char *s)
{
	const unsigned char	*p;
	char			 esc[8];
	const char		*e;
	size_t			 len = 0, n;
	int			 lossy = !problem_utf8_valid(s);

	if (out != NULL)
		out[len] = '"';
	len++;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		e = NULL;
		switch (*p) {
		case '"':	e = "\\\""; break;
		case '\\':	e = "\\\\"; break;
		case '\b':	e = "\\b"; break;
		case '\f':	e = "\\f"; break;
		case '\n':	e = "\\n"; break;
		case '\r':	e = "\\r"; break;
		case '\t':	e = "\\t"; break;
		default:
			if (*p < 0x20) {
				snprintf(esc, sizeof esc, "\\u%04X", *p);
				e = esc;
			}
			break;
		}
		if (e != NULL) {
			n = strlen(e);
			if (out != NULL)
				memcpy(out + len, e, n);
			len += n;
			continue;
		}
		if (out != NULL)
			out[len] = (lossy && *p >= 0x80) ? '?' : (char)*p;
		len++;
	}
	if (out != NULL)
		out[len] = '"';
	len++;
	return len;
}

/* Copies the literal s to out + *off (when out is not NULL). */
static void
problem_put(char *out, size_t *off, const char *s)
{
	size_t	n = strlen(s);

	if (out != NULL)
		memcpy(out + *off, s, n);
	*off += n;
}

/*
 * {"type":"about:blank","title":T,"status":N,"detail":D[,"instance":I]}
 * into out (when not NULL); returns the length.
 */
static size_t
problem_write(char *out, const char *title, const char *status,
    const char *detail, const char *instance)
{
	size_t	off = 0;

	problem_put(out, &off, "{\"type\":\"about:blank\",\"title\":");
	off += problem_escape(out != NULL ? out + off : NULL, title);
	problem_put(out, &off, ",\"status\":");
	problem_put(out, &off, status);
	problem_put(out, &off, ",\"detail\":");
	off += problem_escape(out != NULL ? out + off : NULL, detail);
	if (instance != NULL) {
		problem_put(out, &off, ",\"instance\":");
		off += problem_escape(out != NULL ? out + off : NULL, instance);
	}
	problem_put(out, &off, "}");
	return off;
}

char *
http_problem_body(int status, const char *detail, const char *instance)
{
	const char	*title = http_reply_status_text(status);
	char		 code[16];
	char		*s;
	size_t		 len;

	if (instance != NULL && *instance == '\0')
		instance = NULL;
	snprintf(code, sizeof code, "%d", status);
	len = problem_write(NULL, title, code, detail, instance);
	s = xmalloc(len + 1);
	problem_write(s, title, code, detail, instance);
	s[len] = '\0';
	return s;
}

void
http_problem_reply(struct http_request *req, int status, const char *detail)
{
	char	*body;

	body = http_problem_body(status, detail, NULL);
	http_reply(req, status, HTTP_PROBLEM_CONTENT_TYPE, body, strlen(body));
	free(body);
}

size_t
http_problem_canned(int status, const char *detail,
    const char *extra_headers, char **out)
{
	char	*body;
	int	 n;

	body = http_problem_body(status, detail, NULL);
	n = xasprintf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n%sConnection: close\r\n\r\n%s",
	    status, http_reply_status_text(status), HTTP_PROBLEM_CONTENT_TYPE,
	    strlen(body), extra_headers != NULL ? extra_headers : "", body);
	free(body);
	return (size_t)n;
}
