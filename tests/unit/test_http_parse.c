/* test_http_parse.c - the request-head parser, case by case. */
#include "config.h"

#include <stdlib.h>

#include "http/http_parse.h"
#include "tap.h"

static int
parse(const char *text, struct http_parse_req *h, const char **why)
{
	static char	buf[16384];
	size_t		len = strlen(text);

	memcpy(buf, text, len + 1);
	return http_parse_head(buf, len, h, why);
}

static void
test_valid(void)
{
	struct http_parse_req	 h;
	const char		*why;

	is_int(parse("GET /api/health?x=1 HTTP/1.1\r\nHost: a\r\n"
	    "X-Thing:  spaced value \t\r\n\r\n", &h, &why), 0, "valid head");
	is_str(h.method, "GET", "method");
	is_str(h.target, "/api/health?x=1", "target");
	is_int(h.minor, 1, "HTTP/1.1");
	is_int(h.nheaders, 2, "two headers");
	is_str(http_parse_header(&h, "host"), "a", "header lookup ignores case");
	is_str(http_parse_header(&h, "X-THING"), "spaced value",
	    "value trimmed of surrounding whitespace");
	ok(http_parse_header(&h, "Missing") == NULL, "absent header is NULL");

	is_int(parse("POST /x HTTP/1.0\n\n", &h, &why), 0, "bare LF lines");
	is_int(h.minor, 0, "HTTP/1.0");
	is_int(parse("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", &h, &why), 0,
	    "leading empty line ignored");
	is_int(parse("GET / HTTP/1.1\r\nEmpty:\r\n\r\n", &h, &why), 0,
	    "empty header value");
	is_str(http_parse_header(&h, "Empty"), "", "empty value kept");
}

static void
test_invalid(void)
{
	struct http_parse_req	 h;
	const char		*why;
	char			*big;
	size_t			 off;
	int			 i;

	is_int(parse("GARBAGE\r\n\r\n", &h, &why), 400, "no target");
	is_int(parse("GET  / HTTP/1.1\r\n\r\n", &h, &why), 400,
	    "double space");
	is_int(parse("GET / HTTP/1.1 \r\n\r\n", &h, &why), 400,
	    "trailing space");
	is_int(parse("G(T / HTTP/1.1\r\n\r\n", &h, &why), 400,
	    "method not a token");
	is_int(parse("GET / HTTP/2.0\r\n\r\n", &h, &why), 505, "HTTP/2.0");
	is_int(parse("GET / HTTP/0.9\r\n\r\n", &h, &why), 505, "HTTP/0.9");
	is_int(parse("GET / HTTX/1.1\r\n\r\n", &h, &why), 400, "not HTTP");
	is_int(parse("GET / HTTP/1.10\r\n\r\n", &h, &why), 400,
	    "two-digit minor");
	is_int(parse("GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", &h, &why), 400,
	    "obsolete line folding");
	is_int(parse("GET / HTTP/1.1\r\nA : b\r\n\r\n", &h, &why), 400,
	    "space before colon");
	is_int(parse("GET / HTTP/1.1\r\nNoColon\r\n\r\n", &h, &why), 400,
	    "header without colon");
	is_int(parse("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", &h, &why), 400,
	    "bare CR in a value");
	is_int(parse("GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", &h, &why), 400,
	    "control character in a value");
	is_int(parse("GET /\x7f HTTP/1.1\r\n\r\n", &h, &why), 400,
	    "DEL in target");
	is_int(parse("GET / HTTP/1.1\r\nA: b\r\n", &h, &why), 400,
	    "no final empty line");
	is_int(parse("", &h, &why), 400, "empty input");

	{
		char	withnul[] = "GET / HTTP/1.1\r\nA: x\0y\r\n\r\n";

		is_int(http_parse_head(withnul, sizeof withnul - 1, &h, &why),
		    400, "NUL byte");
	}

	big = malloc(16384);
	off = (size_t)snprintf(big, 16384, "GET / HTTP/1.1\r\n");
	for (i = 0; i < HTTP_PARSE_MAX_HEADERS + 1; i++)
		off += (size_t)snprintf(big + off, 16384 - off, "H%d: v\r\n", i);
	snprintf(big + off, 16384 - off, "\r\n");
	is_int(parse(big, &h, &why), 431, "too many headers");
	ok(why != NULL && strstr(why, "header") != NULL, "why: %s", why);
	free(big);
}

static void
test_helpers(void)
{
	unsigned long long	v = 0;

	ok(http_parse_token_list_has("keep-alive, Upgrade", "upgrade"),
	    "token list, second, any case");
	ok(http_parse_token_list_has("close", "close"), "token list, single");
	ok(!http_parse_token_list_has("closed, x", "close"), "no prefix match");
	ok(!http_parse_token_list_has("", "close"), "empty list");
	ok(http_parse_token_list_has("gzip ,chunked", "chunked"),
	    "spaces around commas");

	ok(http_parse_length("0", &v) == 0 && v == 0, "length 0");
	ok(http_parse_length("1048576", &v) == 0 && v == 1048576,
	    "length 1048576");
	ok(http_parse_length("", &v) == -1, "empty length");
	ok(http_parse_length("-1", &v) == -1, "negative length");
	ok(http_parse_length("12a", &v) == -1, "trailing junk");
	ok(http_parse_length("+5", &v) == -1, "sign");
	ok(http_parse_length("99999999999999999999999", &v) == -1,
	    "overflow");
}

int
main(void)
{
	test_valid();
	test_invalid();
	test_helpers();
	return tap_done();
}
