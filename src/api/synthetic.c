/*
 * synthetic.c - the default price source: made up, and labelled so.
 *
 * So the server works on a machine with no network, it serves its own
 * daily-price CSVs at /synthetic/{symbol}.csv, and the default source
 * template points there: the pipeline still fetches them with libcurl
 * over real HTTP, exactly as it would a provider's. The prices are a
 * random walk seeded by the symbol's name, so the same symbol always
 * gives the same file. They are not market data.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "api/synthetic.h"
#include "http/http.h"
#include "http/reply.h"
#include "http/router.h"
#include "lib/hash.h"
#include "lib/hostport.h"
#include "lib/xmalloc.h"
#include "stock/names.h"

/* xorshift64*: small, fast, and the same everywhere. */
static uint64_t
next_rand(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545F4914F6CDD1DULL;
}

/* A uniform integer in [-range, range]. */
static int64_t
spread(uint64_t *state, int64_t range)
{
	return (int64_t)(next_rand(state) % (uint64_t)(2 * range + 1)) - range;
}

/* Writes v in decimal, backwards from end; returns the start. */
static char *
put_uint(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return end;
}

/* A price in millionths as "12.345678,"; returns past the comma. */
static char *
put_price(char *o, int64_t micros)
{
	char	tmp[32], *p;
	int	i;

	p = put_uint(tmp + sizeof tmp, (uint64_t)(micros / 1000000));
	memcpy(o, p, (size_t)(tmp + sizeof tmp - p));
	o += tmp + sizeof tmp - p;
	*o++ = '.';
	for (i = 5, micros %= 1000000; i >= 0; i--, micros /= 10)
		o[i] = (char)('0' + micros % 10);
	o[6] = ',';
	return o + 7;
}

/*
 * Prices are kept in millionths (integers, formatted by hand): printf
 * of doubles cost most of the time, and this runs on the loop thread.
 */
void
synthetic_csv(struct evbuffer *out, const char *symbol, unsigned rows)
{
	static const char header[] =
	    "Date,Open,High,Low,Close,Adj Close,Volume\n";
	uint64_t	state = hash_string(symbol) | 1;	/* never 0 */
	struct tm	tm;
	time_t		day;
	int64_t		close, open, high, low;
	unsigned	i;
	char		line[160], *o, *p, num[24];

	memset(&tm, 0, sizeof tm);
	tm.tm_year = 100;
	tm.tm_mon = 0;
	tm.tm_mday = 3;			/* 2000-01-03, a Monday */
	day = timegm(&tm);
	close = 10000000 + (int64_t)(next_rand(&state) % 90000000);
	evbuffer_add(out, header, sizeof header - 1);
	for (i = 0; i < rows; i++) {
		gmtime_r(&day, &tm);
		/* A random walk: up to 1% overnight, 2% in the day. */
		open = close + close * spread(&state, 100) / 10000;
		close = open + open * spread(&state, 200) / 10000;
		if (close < 500000)
			close = 500000;
		high = (open > close ? open : close) + close / 1000 *
		    (int64_t)(next_rand(&state) % 10) / 2;
		low = (open < close ? open : close) - close / 1000 *
		    (int64_t)(next_rand(&state) % 10) / 2;
		o = line + strftime(line, 16, "%Y-%m-%d,", &tm);
		o = put_price(o, open);
		o = put_price(o, high);
		o = put_price(o, low);
		o = put_price(o, close);
		o = put_price(o, close / 100 * 98);
		p = put_uint(num + sizeof num, 100000 + next_rand(&state) %
		    5000000);
		memcpy(o, p, (size_t)(num + sizeof num - p));
		o += num + sizeof num - p;
		*o++ = '\n';
		evbuffer_add(out, line, (size_t)(o - line));
		/* The next weekday. */
		day += 86400 * (tm.tm_wday == 5 ? 3 : 1);
	}
}

static void
synthetic_serve(struct http_request *req, const struct router_params *params,
    void *arg)
{
	const char	*file = router_param(params, "file");
	char		 symbol[NAMES_SYMBOL_MAX + 1];
	size_t		 len = strlen(file);
	struct evbuffer	*buf;

	if (len < 5 || strcmp(file + len - 4, ".csv") != 0) {
		reply_problem(req, 404, "synthetic files are named "
		    "SYMBOL.csv");
		return;
	}
	if (names_symbol_file(file, ".csv", symbol) != 0) {
		reply_problem(req, 404, "'%.*s' is not a valid symbol",
		    (int)(len - 4), file);
		return;
	}
	if ((buf = evbuffer_new()) == NULL)
		fatalx("synthetic: evbuffer_new");
	synthetic_csv(buf, symbol, SYNTHETIC_ROWS);
	http_reply_header(req, "X-Stockcam-Synthetic", "yes: not market data");
	http_reply_buffer(req, 200, "text/csv; charset=utf-8", buf);
	evbuffer_free(buf);
}

void
synthetic_register(struct router *r)
{
	router_add(r, HTTP_GET, "/synthetic/{file}", synthetic_serve, NULL);
}

char *
synthetic_url(const char *host, int port, int tls)
{
	char	*url, authority[INET6_ADDRSTRLEN + 16];

	if (strcmp(host, "0.0.0.0") == 0)
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		host = "::1";
	hostport_format(authority, sizeof authority, host, (unsigned)port);
	xasprintf(&url, "%s://%s/synthetic/{symbol}.csv",
	    tls ? "https" : "http", authority);
	return url;
}
