/*
 * http_parse.c - the request-head parser.
 *
 * Pure functions over a buffer, kept apart from the connection code so
 * they can be unit-tested and fuzzed on their own. The grammar is RFC
 * 9112's, applied strictly where leniency is a known smuggling risk
 * (obsolete line folding, whitespace before the colon, bare CR, odd
 * Content-Length values) and leniently where it is harmless (a bare LF
 * ending a line).
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "http/http_parse.h"

/* RFC 9110 tchar: the characters of a token (method, header name). */
static int
is_tchar(unsigned char c)
{
	if (isalnum(c))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Visible characters, space and tab: what a header value may hold. */
static int
is_field_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Cuts the next line off *cursor, NUL-terminates it; NULL at the end. */
static char *
next_line(char **cursor, char *end)
{
	char	*line = *cursor, *nl;

	if (line >= end)
		return NULL;
	nl = memchr(line, '\n', (size_t)(end - line));
	if (nl == NULL)
		return NULL;
	*cursor = nl + 1;
	if (nl > line && nl[-1] == '\r')
		nl--;
	*nl = '\0';
	return line;
}

static int
parse_request_line(char *line, struct http_parse_req *h, const char **why)
{
	char	*sp1, *sp2, *p;

	for (p = line; is_tchar((unsigned char)*p); p++)
		;
	if (p == line || *p != ' ') {
		*why = "malformed request line";
		return 400;
	}
	sp1 = p;
	*sp1 = '\0';
	h->method = line;

	h->target = sp1 + 1;
	for (p = sp1 + 1; *p != '\0' && *p != ' '; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
			*why = "control character in request target";
			return 400;
		}
	}
	if (p == sp1 + 1 || *p != ' ') {
		*why = "malformed request line";
		return 400;
	}
	sp2 = p;
	*sp2 = '\0';

	p = sp2 + 1;
	if (strncmp(p, "HTTP/", 5) != 0 || !isdigit((unsigned char)p[5]) ||
	    p[6] != '.' || !isdigit((unsigned char)p[7]) || p[8] != '\0') {
		*why = "malformed HTTP version";
		return 400;
	}
	if (p[5] != '1') {
		*why = "only HTTP/1.0 and HTTP/1.1 are supported";
		return 505;
	}
	h->minor = p[7] - '0';
	return 0;
}

static int
parse_header_line(char *line, struct http_parse_req *h, const char **why)
{
	char	*p, *value, *end;

	if (*line == ' ' || *line == '\t') {
		*why = "obsolete header line folding";
		return 400;
	}
	for (p = line; is_tchar((unsigned char)*p); p++)
		;
	if (p == line || *p != ':') {
		*why = "malformed header line";
		return 400;
	}
	*p++ = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	value = p;
	for (end = p; *end != '\0'; end++) {
		if (!is_field_char((unsigned char)*end)) {
			*why = "control character in header value";
			return 400;
		}
	}
	while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';

	if (h->nheaders == HTTP_PARSE_MAX_HEADERS) {
		*why = "too many header lines";
		return 431;
	}
	h->headers[h->nheaders].name = line;
	h->headers[h->nheaders].value = value;
	h->nheaders++;
	return 0;
}

int
http_parse_head(char *buf, size_t len, struct http_parse_req *h,
    const char **why)
{
	char	*cursor = buf, *end = buf + len, *line;
	int	 status;

	memset(h, 0, sizeof *h);
	*why = "malformed request";
	if (memchr(buf, '\0', len) != NULL) {
		*why = "NUL byte in request head";
		return 400;
	}

	/* RFC 9112 2.2: ignore empty lines before the request line. */
	while ((line = next_line(&cursor, end)) != NULL && *line == '\0')
		;
	if (line == NULL)
		return 400;
	if ((status = parse_request_line(line, h, why)) != 0)
		return status;

	while ((line = next_line(&cursor, end)) != NULL) {
		if (*line == '\0')
			return 0;		/* the empty line: done */
		if (strchr(line, '\r') != NULL) {
			*why = "bare CR in request head";
			return 400;
		}
		if ((status = parse_header_line(line, h, why)) != 0)
			return status;
	}
	*why = "request head does not end with an empty line";
	return 400;
}

const char *
http_parse_header(const struct http_parse_req *h, const char *name)
{
	unsigned	i;

	for (i = 0; i < h->nheaders; i++) {
		if (strcasecmp(h->headers[i].name, name) == 0)
			return h->headers[i].value;
	}
	return NULL;
}

int
http_parse_token_list_has(const char *list, const char *token)
{
	size_t		 tlen = strlen(token), n;
	const char	*p = list;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		n = strcspn(p, ", \t");
		if (n == tlen && strncasecmp(p, token, tlen) == 0)
			return 1;
		p += n;
		while (*p != '\0' && *p != ',')
			p++;
	}
	return 0;
}

int
http_parse_length(const char *s, unsigned long long *out)
{
	unsigned long long	v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	*out = v;
	return 0;
}
