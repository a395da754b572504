/*
 * upstream.c - the fixture upstream for the end-to-end tests.
 *
 * A small HTTP/1.1 server on libevent bufferevents that plays a CSV price
 * provider, with a fault chosen by the symbol's prefix so the tests can
 * drive every error path of stockcam's fetcher without a network:
 *
 *   GET /csv/{symbol}[?rows=N]   a deterministic Yahoo-style daily CSV
 *                                (or the fault named by the prefix below)
 *   GET /stats                   {"requests":{sym:count,...},"total":N,
 *                                 "open":N,"csv_open":N}
 *   POST /reset                  clears the counters
 *
 * Prefixes: slow-<MS>-, e404-, e429-, e500-, e503always-, html-,
 * htmlcsv-, json-, jsoncsv-, ratelimit-, trunc-, reset-, endless-, big-,
 * stall-, empty-, hdronly-, notcsv-, badcsv-, http09- (the CSV with no
 * status line nor headers, as HTTP/0.9; see upstream_faults[]).
 * "First request" faults (e429, e500, ratelimit) count per exact symbol
 * since start-up or the last POST /reset.
 *
 * Every row has the same width (prices 100.000000..999.999999, volumes of
 * seven digits), so the length of any body is known before it is made and
 * the 64 MiB body of big- is generated on the fly.  Every reply carries
 * Connection: close: "open" is then the number of requests in flight
 * (not counting the /stats request itself), "csv_open" those for /csv.
 *
 * Usage: upstream [--listen HOST:PORT] [--rows N] [--seed S]
 * Prints "listening on http://HOST:PORT/" on stderr once ready; SIGINT or
 * SIGTERM make it exit 0 after freeing everything.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#define UP_MAX_HEAD		16384
#define UP_MAX_SYMBOL		32
#define UP_MAX_ROWS		10000000L
#define UP_HEAD_TIMEOUT		10		/* seconds for a request head */
#define UP_BIG_BYTES		(64L * 1024 * 1024)
#define UP_ROW_LEN		74		/* see gen_row() */
#define UP_STALL_BYTES		1000
#define UP_ENDLESS_ROWS		256		/* rows per chunk of endless- */
#define UP_ENDLESS_MAX_OUT	(1024 * 1024)
#define UP_FILL_LOW		(256 * 1024)
#define UP_FILL_HIGH		(512 * 1024)
#define UP_PRICE_MIN		100000000LL	/* micro-units: 100.000000 */
#define UP_PRICE_MAX		999999999LL	/* 999.999999 */

static const char up_csv_header[] =
    "Date,Open,High,Low,Close,Adj Close,Volume\n";

enum up_fault {
	F_NONE, F_SLOW, F_E404, F_E429, F_E500, F_E503ALWAYS, F_HTML,
	F_HTMLCSV, F_JSON, F_JSONCSV, F_RATELIMIT, F_TRUNC, F_RESET,
	F_ENDLESS, F_BIG, F_STALL, F_EMPTY, F_HDRONLY, F_NOTCSV, F_BADCSV,
	F_HTTP09
};

static const struct {
	const char	*prefix;
	enum up_fault	 fault;
} upstream_faults[] = {
	{ "slow-", F_SLOW },		{ "e404-", F_E404 },
	{ "e429-", F_E429 },		{ "e500-", F_E500 },
	{ "e503always-", F_E503ALWAYS },	{ "html-", F_HTML },
	{ "htmlcsv-", F_HTMLCSV },	{ "json-", F_JSON },
	{ "jsoncsv-", F_JSONCSV },	{ "ratelimit-", F_RATELIMIT },
	{ "trunc-", F_TRUNC },		{ "reset-", F_RESET },
	{ "endless-", F_ENDLESS },	{ "big-", F_BIG },
	{ "stall-", F_STALL },		{ "empty-", F_EMPTY },
	{ "hdronly-", F_HDRONLY },	{ "notcsv-", F_NOTCSV },
	{ "badcsv-", F_BADCSV },	{ "http09-", F_HTTP09 },
};

static const char up_html_page[] =
    "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n"
    "<body><h1>Please sign in</h1><p>This page needs a session.</p>"
    "</body></html>\n";
static const char up_ratelimit_page[] =
    "<!DOCTYPE html>\n<html><head><title>429 Too Many Requests</title>"
    "</head>\n<body><h1>Too Many Requests</h1><p>You have hit our rate "
    "limit. Please wait a minute and try again.</p></body></html>\n";
static const char up_json_body[] = "{\"error\":\"Invalid API key\"}";
static const char up_notcsv_body[] = "hello world\nthis is not csv\n";
static const char up_badcsv_body[] =
    "Date,Open,High,Low,Close,Adj Close,Volume\n"
    "2000-01-03,101.000000,102.000000,100.500000,101.500000,101.000000,"
    "1234567,999,extra\n";

/* The deterministic row generator. */
struct gen {
	uint64_t	rng;
	int64_t		close;
	int		y, m, d, dow;	/* dow: 0 = Sunday */
};

struct counter {
	char		sym[UP_MAX_SYMBOL + 1];
	unsigned long	n;
};

enum conn_state { C_HEAD, C_WAIT, C_STREAM, C_FINAL };

struct conn {
	struct conn		*prev, *next;
	struct bufferevent	*bev;
	struct event		*timer;
	enum conn_state		 state;
	enum up_fault		 fault;
	int			 is_csv;
	long			 rows;
	char			 sym[UP_MAX_SYMBOL + 1];
	struct gen		 gen;
	int64_t			 left;	/* body bytes still to make (big-) */
};

static struct event_base	*up_base;
static struct conn		*up_conns;
static unsigned long		 up_nconns, up_ncsv;
static struct counter		*up_counts;
static size_t			 up_ncounts, up_capcounts;
static unsigned long		 up_total;
static long			 up_rows = 2500;
static uint64_t			 up_seed;

static void	conn_free(struct conn *);
static void	conn_read(struct bufferevent *, void *);
static void	conn_event(struct bufferevent *, short, void *);
static void	conn_close_when_done(struct bufferevent *, void *);
static void	conn_big_fill(struct bufferevent *, void *);
static void	conn_timer(evutil_socket_t, short, void *);

static void *
up_xrealloc(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size) {
		fprintf(stderr, "upstream: allocation overflow\n");
		exit(1);
	}
	if ((p = realloc(p, n * size)) == NULL) {
		fprintf(stderr, "upstream: out of memory\n");
		exit(1);
	}
	return (p);
}

/* --- rows --- */

static uint64_t
gen_next(struct gen *g)
{
	uint64_t	z;

	z = (g->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

static void
gen_init(struct gen *g, const char *sym)
{
	uint64_t	h = 0xcbf29ce484222325ULL;	/* FNV-1a */
	const char	*p;

	for (p = sym; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	g->rng = h ^ (up_seed * 0x9e3779b97f4a7c15ULL);
	g->close = 200000000LL + (int64_t)(gen_next(g) % 600000000ULL);
	g->y = 2000;
	g->m = 1;
	g->d = 3;
	g->dow = 1;
}

static int64_t
gen_clamp(int64_t v)
{
	if (v < UP_PRICE_MIN)
		return (UP_PRICE_MIN);
	if (v > UP_PRICE_MAX)
		return (UP_PRICE_MAX);
	return (v);
}

static int64_t
gen_step(struct gen *g, uint64_t range)
{
	return ((int64_t)(gen_next(g) % (2 * range + 1)) - (int64_t)range);
}

static void
gen_advance_date(struct gen *g)
{
	static const int	mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31,
				    30, 31, 30, 31 };
	int			dim;

	do {
		dim = mdays[g->m - 1];
		if (g->m == 2 && ((g->y % 4 == 0 && g->y % 100 != 0) ||
		    g->y % 400 == 0))
			dim = 29;
		if (++g->d > dim) {
			g->d = 1;
			if (++g->m > 12) {
				g->m = 1;
				g->y++;
			}
		}
		g->dow = (g->dow + 1) % 7;
	} while (g->dow == 0 || g->dow == 6);
}

/* Append one row of exactly UP_ROW_LEN bytes (while the year has 4 digits). */
static int
gen_row(struct gen *g, struct evbuffer *out)
{
	int64_t	o, c, hi, lo, adj, v[5];
	char	buf[160];
	int	n, i, len;

	o = gen_clamp(g->close + gen_step(g, 1000000));
	c = gen_clamp(o + gen_step(g, 5000000));
	hi = gen_clamp((o > c ? o : c) + (int64_t)(gen_next(g) % 2000001));
	lo = gen_clamp((o < c ? o : c) - (int64_t)(gen_next(g) % 2000001));
	adj = gen_clamp(c - c / 50);
	v[0] = o; v[1] = hi; v[2] = lo; v[3] = c; v[4] = adj;

	n = snprintf(buf, sizeof buf, "%04d-%02d-%02d", g->y, g->m, g->d);
	if (n < 0 || (size_t)n >= sizeof buf)
		return (-1);
	len = n;
	for (i = 0; i < 5; i++) {
		n = snprintf(buf + len, sizeof buf - (size_t)len,
		    ",%" PRId64 ".%06" PRId64, v[i] / 1000000, v[i] % 1000000);
		if (n < 0 || (size_t)n >= sizeof buf - (size_t)len)
			return (-1);
		len += n;
	}
	n = snprintf(buf + len, sizeof buf - (size_t)len, ",%" PRIu64 "\n",
	    1000000 + gen_next(g) % 9000000);
	if (n < 0 || (size_t)n >= sizeof buf - (size_t)len)
		return (-1);
	len += n;
	g->close = c;
	gen_advance_date(g);
	return (evbuffer_add(out, buf, (size_t)len));
}

static int64_t
csv_length(long rows)
{
	return ((int64_t)(sizeof up_csv_header - 1) +
	    (int64_t)rows * UP_ROW_LEN);
}

/* The whole CSV of `rows` rows for `sym`. */
static int
csv_make(const char *sym, long rows, struct evbuffer *out)
{
	struct gen	g;
	long		i;

	gen_init(&g, sym);
	if (evbuffer_add(out, up_csv_header, sizeof up_csv_header - 1) != 0)
		return (-1);
	for (i = 0; i < rows; i++)
		if (gen_row(&g, out) != 0)
			return (-1);
	return (0);
}

/* --- counters --- */

/* Count a /csv request; returns the count before this one. */
static unsigned long
count_request(const char *sym)
{
	size_t	i;

	up_total++;
	for (i = 0; i < up_ncounts; i++)
		if (strcmp(up_counts[i].sym, sym) == 0)
			return (up_counts[i].n++);
	if (up_ncounts == up_capcounts) {
		up_capcounts = up_capcounts == 0 ? 64 : up_capcounts * 2;
		up_counts = up_xrealloc(up_counts, up_capcounts,
		    sizeof *up_counts);
	}
	memcpy(up_counts[up_ncounts].sym, sym, strlen(sym) + 1);
	up_counts[up_ncounts].n = 1;
	up_ncounts++;
	return (0);
}

/* --- replies --- */

static const char *
status_reason(int status)
{
	switch (status) {
	case 200: return ("OK");
	case 400: return ("Bad Request");
	case 404: return ("Not Found");
	case 405: return ("Method Not Allowed");
	case 429: return ("Too Many Requests");
	case 500: return ("Internal Server Error");
	case 503: return ("Service Unavailable");
	}
	return ("Unknown");
}

/*
 * Queue a status line and headers. clen < 0: chunked. extra is one more
 * header line (without CRLF) or NULL.
 */
static int
reply_head(struct conn *c, int status, const char *ctype, int64_t clen,
    const char *extra)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	if (evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nServer: upstream\r\n"
	    "Connection: close\r\n", status, status_reason(status)) < 0)
		return (-1);
	if (ctype != NULL &&
	    evbuffer_add_printf(out, "Content-Type: %s\r\n", ctype) < 0)
		return (-1);
	if (extra != NULL && evbuffer_add_printf(out, "%s\r\n", extra) < 0)
		return (-1);
	if (clen < 0) {
		if (evbuffer_add_printf(out,
		    "Transfer-Encoding: chunked\r\n\r\n") < 0)
			return (-1);
	} else if (evbuffer_add_printf(out, "Content-Length: %" PRId64
	    "\r\n\r\n", clen) < 0)
		return (-1);
	return (0);
}

/* A complete reply; the connection closes once it is sent. */
static int
reply_simple(struct conn *c, int status, const char *ctype,
    const char *extra, const void *body, size_t len)
{
	if (reply_head(c, status, ctype, (int64_t)len, extra) != 0 ||
	    evbuffer_add(bufferevent_get_output(c->bev), body, len) != 0)
		return (-1);
	c->state = C_FINAL;
	bufferevent_setcb(c->bev, conn_read, conn_close_when_done, conn_event,
	    c);
	return (0);
}

/* The body alone, no status line nor headers: an HTTP/0.9 reply. */
static int
reply_http09(struct conn *c)
{
	if (csv_make(c->sym, c->rows, bufferevent_get_output(c->bev)) != 0)
		return (-1);
	c->state = C_FINAL;
	bufferevent_setcb(c->bev, conn_read, conn_close_when_done, conn_event,
	    c);
	return (0);
}

static int
reply_text(struct conn *c, int status, const char *text)
{
	return (reply_simple(c, status, "text/plain", NULL, text,
	    strlen(text)));
}

static int
reply_csv(struct conn *c)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	if (reply_head(c, 200, "text/csv", csv_length(c->rows), NULL) != 0 ||
	    csv_make(c->sym, c->rows, out) != 0)
		return (-1);
	c->state = C_FINAL;
	bufferevent_setcb(c->bev, conn_read, conn_close_when_done, conn_event,
	    c);
	return (0);
}

/* Headers for the whole CSV, then only `part` bytes of it. */
static int
reply_partial(struct conn *c, size_t part, int then_close)
{
	struct evbuffer	*tmp;
	int		 rv = -1;

	if ((tmp = evbuffer_new()) == NULL)
		return (-1);
	if (csv_make(c->sym, c->rows, tmp) != 0 ||
	    reply_head(c, 200, "text/csv", csv_length(c->rows), NULL) != 0)
		goto out;
	if (part > evbuffer_get_length(tmp))
		part = evbuffer_get_length(tmp);
	if (evbuffer_remove_buffer(tmp, bufferevent_get_output(c->bev),
	    part) < 0)
		goto out;
	if (then_close) {
		c->state = C_FINAL;
		bufferevent_setcb(c->bev, conn_read, conn_close_when_done,
		    conn_event, c);
	} else
		c->state = C_STREAM;
	rv = 0;
out:
	evbuffer_free(tmp);
	return (rv);
}

static void
reply_reset(struct conn *c)
{
	struct linger	lg = { 1, 0 };
	evutil_socket_t	fd = bufferevent_getfd(c->bev);

	if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg,
	    sizeof lg) != 0)
		perror("upstream: setsockopt SO_LINGER");
	conn_free(c);
}

static int
reply_endless_chunk(struct conn *c, int first)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	struct evbuffer	*tmp;
	int		 i, rv = -1;

	if ((tmp = evbuffer_new()) == NULL)
		return (-1);
	if (first && evbuffer_add(tmp, up_csv_header,
	    sizeof up_csv_header - 1) != 0)
		goto out;
	for (i = 0; i < UP_ENDLESS_ROWS; i++)
		if (gen_row(&c->gen, tmp) != 0)
			goto out;
	if (evbuffer_add_printf(out, "%zx\r\n", evbuffer_get_length(tmp)) < 0 ||
	    evbuffer_add_buffer(out, tmp) != 0 ||
	    evbuffer_add(out, "\r\n", 2) != 0)
		goto out;
	rv = 0;
out:
	evbuffer_free(tmp);
	return (rv);
}

static int
conn_arm_timer(struct conn *c, long ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (c->timer == NULL &&
	    (c->timer = evtimer_new(up_base, conn_timer, c)) == NULL)
		return (-1);
	return (evtimer_add(c->timer, &tv));
}

static int
reply_stats(struct conn *c)
{
	struct evbuffer	*body;
	size_t		 i;
	int		 rv = -1;

	if ((body = evbuffer_new()) == NULL)
		return (-1);
	if (evbuffer_add_printf(body, "{\"requests\": {") < 0)
		goto out;
	/* Symbols are validated: nothing in them needs JSON escaping. */
	for (i = 0; i < up_ncounts; i++)
		if (evbuffer_add_printf(body, "%s\"%s\": %lu", i ? ", " : "",
		    up_counts[i].sym, up_counts[i].n) < 0)
			goto out;
	if (evbuffer_add_printf(body, "}, \"total\": %lu, \"open\": %lu, "
	    "\"csv_open\": %lu}\n", up_total, up_nconns - 1, up_ncsv) < 0)
		goto out;
	if (reply_head(c, 200, "application/json",
	    (int64_t)evbuffer_get_length(body), NULL) != 0 ||
	    evbuffer_add_buffer(bufferevent_get_output(c->bev), body) != 0)
		goto out;
	c->state = C_FINAL;
	bufferevent_setcb(c->bev, conn_read, conn_close_when_done, conn_event,
	    c);
	rv = 0;
out:
	evbuffer_free(body);
	return (rv);
}

/* --- routing --- */

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return (ch - '0');
	if (ch >= 'a' && ch <= 'f')
		return (ch - 'a' + 10);
	if (ch >= 'A' && ch <= 'F')
		return (ch - 'A' + 10);
	return (-1);
}

/* Percent-decode and validate a symbol: ^[A-Za-z0-9][A-Za-z0-9._^=-]{0,31}$ */
static int
symbol_decode(const char *s, size_t len, char *out)
{
	size_t	i, n = 0;
	int	ch, hi, lo;

	for (i = 0; i < len; i++) {
		ch = (unsigned char)s[i];
		if (ch == '%') {
			if (i + 2 >= len)
				return (-1);
			if ((hi = hexval(s[i + 1])) < 0 ||
			    (lo = hexval(s[i + 2])) < 0)
				return (-1);
			ch = hi * 16 + lo;
			i += 2;
		}
		if (n == UP_MAX_SYMBOL)
			return (-1);
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '^' || (n > 0 &&
		    (ch == '.' || ch == '_' || ch == '=' || ch == '-'))))
			return (-1);
		out[n++] = (char)ch;
	}
	out[n] = '\0';
	return (n == 0 ? -1 : 0);
}

/* ?rows=N anywhere in the query; other parameters are ignored. */
static int
query_rows(const char *q, long *rows)
{
	const char	*p = q;
	char		*end;
	long		 l;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, "rows=", 5) == 0) {
			errno = 0;
			l = strtol(p + 5, &end, 10);
			if (errno != 0 || end == p + 5 ||
			    (*end != '\0' && *end != '&') || l < 0 ||
			    l > UP_MAX_ROWS)
				return (-1);
			*rows = l;
		}
		if ((p = strchr(p, '&')) != NULL)
			p++;
	}
	return (0);
}

static enum up_fault
fault_of(const char *sym, long *ms)
{
	const char	*p;
	char		*end;
	size_t		 i, n;

	for (i = 0; i < sizeof upstream_faults / sizeof upstream_faults[0];
	    i++) {
		n = strlen(upstream_faults[i].prefix);
		if (strncasecmp(sym, upstream_faults[i].prefix, n) != 0)
			continue;
		if (upstream_faults[i].fault != F_SLOW)
			return (upstream_faults[i].fault);
		p = sym + n;
		errno = 0;
		*ms = strtol(p, &end, 10);
		if (errno != 0 || end == p || (*end != '-' && *end != '\0') ||
		    *ms < 0 || *ms > 3600000)
			return (F_NONE);
		return (F_SLOW);
	}
	return (F_NONE);
}

/* The normal answer, or the fault's, for a /csv request (c->sym set). */
static int
route_csv(struct conn *c)
{
	unsigned long	before;
	long		ms = 0;

	c->is_csv = 1;
	up_ncsv++;
	before = count_request(c->sym);
	c->fault = fault_of(c->sym, &ms);
	switch (c->fault) {
	case F_NONE:
		return (reply_csv(c));
	case F_SLOW:
		c->state = C_WAIT;
		return (conn_arm_timer(c, ms));
	case F_E404:
		return (reply_text(c, 404, "no such symbol\n"));
	case F_E429:
		if (before == 0)
			return (reply_simple(c, 429, "text/plain",
			    "Retry-After: 1", "slow down\n",
			    strlen("slow down\n")));
		return (reply_csv(c));
	case F_E500:
		if (before == 0)
			return (reply_text(c, 500, "internal error\n"));
		return (reply_csv(c));
	case F_E503ALWAYS:
		return (reply_simple(c, 503, "text/plain", "Retry-After: 1",
		    "unavailable\n", strlen("unavailable\n")));
	case F_HTML:
		return (reply_simple(c, 200, "text/html; charset=utf-8", NULL,
		    up_html_page, sizeof up_html_page - 1));
	case F_HTMLCSV:
		return (reply_simple(c, 200, "text/csv", NULL, up_html_page,
		    sizeof up_html_page - 1));
	case F_JSON:
		return (reply_simple(c, 200, "application/json", NULL,
		    up_json_body, sizeof up_json_body - 1));
	case F_JSONCSV:
		return (reply_simple(c, 200, "text/csv", NULL, up_json_body,
		    sizeof up_json_body - 1));
	case F_RATELIMIT:
		if (before == 0)
			return (reply_simple(c, 200, "text/html", NULL,
			    up_ratelimit_page, sizeof up_ratelimit_page - 1));
		return (reply_csv(c));
	case F_TRUNC:
		return (reply_partial(c, (size_t)(csv_length(c->rows) / 2), 1));
	case F_RESET:
		reply_reset(c);
		return (1);
	case F_ENDLESS:
		gen_init(&c->gen, c->sym);
		if (reply_head(c, 200, "text/csv", -1, NULL) != 0 ||
		    reply_endless_chunk(c, 1) != 0)
			return (-1);
		c->state = C_STREAM;
		return (conn_arm_timer(c, 10));
	case F_BIG:
		gen_init(&c->gen, c->sym);
		c->left = (UP_BIG_BYTES - (int64_t)(sizeof up_csv_header - 1) +
		    UP_ROW_LEN - 1) / UP_ROW_LEN * UP_ROW_LEN;
		if (reply_head(c, 200, "text/csv", c->left +
		    (int64_t)(sizeof up_csv_header - 1), NULL) != 0 ||
		    evbuffer_add(bufferevent_get_output(c->bev), up_csv_header,
		    sizeof up_csv_header - 1) != 0)
			return (-1);
		c->state = C_STREAM;
		bufferevent_setwatermark(c->bev, EV_WRITE, UP_FILL_LOW, 0);
		bufferevent_setcb(c->bev, conn_read, conn_big_fill, conn_event,
		    c);
		conn_big_fill(c->bev, c);
		return (1);
	case F_STALL:
		return (reply_partial(c, UP_STALL_BYTES, 0));
	case F_EMPTY:
		return (reply_simple(c, 200, "text/csv", NULL, "", 0));
	case F_HDRONLY:
		return (reply_simple(c, 200, "text/csv", NULL, up_csv_header,
		    sizeof up_csv_header - 1));
	case F_NOTCSV:
		return (reply_simple(c, 200, "text/plain", NULL,
		    up_notcsv_body, sizeof up_notcsv_body - 1));
	case F_BADCSV:
		return (reply_simple(c, 200, "text/csv", NULL, up_badcsv_body,
		    sizeof up_badcsv_body - 1));
	case F_HTTP09:
		return (reply_http09(c));
	}
	return (-1);
}

/*
 * Parse the request line of a complete head and answer. Returns 0 when a
 * reply is under way, 1 when the connection is already gone, -1 on error.
 */
static int
route(struct conn *c, char *head)
{
	char	*method, *target, *version, *eol, *q;
	size_t	 plen;

	if ((eol = strstr(head, "\r\n")) != NULL)
		*eol = '\0';
	method = head;
	if ((target = strchr(method, ' ')) == NULL)
		return (reply_text(c, 400, "bad request line\n"));
	*target++ = '\0';
	if ((version = strchr(target, ' ')) == NULL ||
	    strncmp(version + 1, "HTTP/1.", 7) != 0)
		return (reply_text(c, 400, "bad request line\n"));
	*version = '\0';
	if ((q = strchr(target, '?')) != NULL)
		*q++ = '\0';
	plen = strlen(target);

	if (strcmp(target, "/stats") == 0) {
		if (strcmp(method, "GET") != 0)
			return (reply_text(c, 405, "GET only\n"));
		return (reply_stats(c));
	}
	if (strcmp(target, "/reset") == 0) {
		if (strcmp(method, "POST") != 0)
			return (reply_text(c, 405, "POST only\n"));
		up_ncounts = 0;
		up_total = 0;
		return (reply_simple(c, 200, "application/json", NULL,
		    "{\"reset\": true}\n", strlen("{\"reset\": true}\n")));
	}
	if (plen > 5 && strncmp(target, "/csv/", 5) == 0) {
		if (strcmp(method, "GET") != 0)
			return (reply_text(c, 405, "GET only\n"));
		c->rows = up_rows;
		if (symbol_decode(target + 5, plen - 5, c->sym) != 0)
			return (reply_text(c, 400, "bad symbol\n"));
		if (q != NULL && query_rows(q, &c->rows) != 0)
			return (reply_text(c, 400, "bad rows\n"));
		return (route_csv(c));
	}
	return (reply_text(c, 404, "not found\n"));
}

/* --- connections --- */

static void
conn_free(struct conn *c)
{
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->is_csv)
		up_ncsv--;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		up_conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	up_nconns--;
	free(c);
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	struct conn		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 p;
	char			*head;
	size_t			 len;
	int			 rv;

	if (c->state != C_HEAD) {
		/* Anything after the request is ignored. */
		(void)evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (p.pos < 0) {
		if (evbuffer_get_length(in) > UP_MAX_HEAD)
			conn_free(c);
		return;
	}
	len = (size_t)p.pos;
	head = up_xrealloc(NULL, len + 1, 1);
	if (evbuffer_remove(in, head, len) != (int)len) {
		free(head);
		conn_free(c);
		return;
	}
	head[len] = '\0';
	(void)evbuffer_drain(in, evbuffer_get_length(in));
	c->state = C_FINAL;	/* route() moves it on */
	/* The client may now be as slow as it likes. */
	(void)bufferevent_set_timeouts(bev, NULL, NULL);
	rv = route(c, head);
	free(head);
	if (rv < 0)
		conn_free(c);
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	/* EOF, error or head timeout: the client is gone or too slow. */
	conn_free(arg);
}

static void
conn_close_when_done(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free(arg);
}

/* Keep the output of big- between the watermarks until all is made. */
static void
conn_big_fill(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*out = bufferevent_get_output(bev);

	while (c->left > 0 && evbuffer_get_length(out) < UP_FILL_HIGH) {
		if (gen_row(&c->gen, out) != 0) {
			conn_free(c);
			return;
		}
		c->left -= UP_ROW_LEN;
	}
	if (c->left <= 0) {
		c->state = C_FINAL;
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		bufferevent_setcb(bev, conn_read, conn_close_when_done,
		    conn_event, c);
	}
}

static void
conn_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)what;
	if (c->fault == F_SLOW) {
		c->fault = F_NONE;
		if (reply_csv(c) != 0)
			conn_free(c);
		return;
	}
	/* endless-: a chunk every 10 ms unless the client is not reading. */
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) <
	    UP_ENDLESS_MAX_OUT && reply_endless_chunk(c, 0) != 0) {
		conn_free(c);
		return;
	}
	if (conn_arm_timer(c, 10) != 0)
		conn_free(c);
}

static void
up_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct conn	*c;
	struct timeval	 tv = { UP_HEAD_TIMEOUT, 0 };

	(void)l;
	(void)sa;
	(void)salen;
	(void)arg;
	c = up_xrealloc(NULL, 1, sizeof *c);
	memset(c, 0, sizeof *c);
	c->bev = bufferevent_socket_new(up_base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	c->state = C_HEAD;
	c->next = up_conns;
	if (up_conns != NULL)
		up_conns->prev = c;
	up_conns = c;
	up_nconns++;
	bufferevent_setcb(c->bev, conn_read, NULL, conn_event, c);
	if (bufferevent_set_timeouts(c->bev, &tv, NULL) != 0 ||
	    bufferevent_enable(c->bev, EV_READ | EV_WRITE) != 0)
		conn_free(c);
}

static void
up_signal(evutil_socket_t sig, short events, void *arg)
{
	(void)sig;
	(void)events;
	event_base_loopexit(arg, NULL);
}

static int
parse_long(const char *s, long min, long max, long *out)
{
	char	*end;
	long	 l;

	errno = 0;
	l = strtol(s, &end, 10);
	if (*s == '\0' || errno != 0 || *end != '\0' || l < min || l > max)
		return (-1);
	*out = l;
	return (0);
}

/* HOST:PORT or [V6HOST]:PORT, numeric; PORT may be 0. */
static int
parse_listen(const char *s, struct sockaddr_storage *ss, int *sslen)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	const char		*colon;
	char			 host[INET6_ADDRSTRLEN];
	size_t			 hlen;
	long			 port;

	if ((colon = strrchr(s, ':')) == NULL ||
	    parse_long(colon + 1, 0, 65535, &port) != 0)
		return (-1);
	hlen = (size_t)(colon - s);
	if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
		s++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof host)
		return (-1);
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	memset(ss, 0, sizeof *ss);
	if (evutil_inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)port);
		*sslen = (int)sizeof *sin;
		return (0);
	}
	if (evutil_inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((unsigned short)port);
		*sslen = (int)sizeof *sin6;
		return (0);
	}
	return (-1);
}

static void
usage(const char *prog)
{
	fprintf(stderr, "usage: %s [--listen HOST:PORT] [--rows N] "
	    "[--seed S]\n", prog);
}

int
main(int argc, char **argv)
{
	struct sockaddr_storage	 ss;
	int			 sslen = (int)sizeof ss;
	socklen_t		 blen;
	struct evconnlistener	*lis = NULL;
	struct event		*ev_int = NULL, *ev_term = NULL;
	const char		*listen_at = "127.0.0.1:0";
	char			 addr[INET6_ADDRSTRLEN];
	const void		*ap;
	unsigned		 port;
	long			 l;
	int			 i, status = 1;

	for (i = 1; i < argc; i++) {
		if (i + 1 >= argc) {
			usage(argv[0]);
			return (2);
		}
		if (strcmp(argv[i], "--listen") == 0)
			listen_at = argv[++i];
		else if (strcmp(argv[i], "--rows") == 0) {
			if (parse_long(argv[++i], 0, UP_MAX_ROWS,
			    &up_rows) != 0) {
				usage(argv[0]);
				return (2);
			}
		} else if (strcmp(argv[i], "--seed") == 0) {
			if (parse_long(argv[++i], 0, LONG_MAX, &l) != 0) {
				usage(argv[0]);
				return (2);
			}
			up_seed = (uint64_t)l;
		} else {
			usage(argv[0]);
			return (2);
		}
	}
	if (parse_listen(listen_at, &ss, &sslen) != 0) {
		fprintf(stderr, "%s: bad --listen %s\n", argv[0], listen_at);
		return (2);
	}
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		perror("signal");
		return (1);
	}
	if ((up_base = event_base_new()) == NULL) {
		fprintf(stderr, "%s: event_base_new failed\n", argv[0]);
		goto out;
	}
	ev_int = evsignal_new(up_base, SIGINT, up_signal, up_base);
	ev_term = evsignal_new(up_base, SIGTERM, up_signal, up_base);
	if (ev_int == NULL || ev_term == NULL ||
	    evsignal_add(ev_int, NULL) != 0 ||
	    evsignal_add(ev_term, NULL) != 0) {
		fprintf(stderr, "%s: cannot set up signal events\n", argv[0]);
		goto out;
	}
	lis = evconnlistener_new_bind(up_base, up_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 128,
	    (struct sockaddr *)&ss, sslen);
	if (lis == NULL) {
		fprintf(stderr, "%s: cannot listen on %s: %s\n", argv[0],
		    listen_at, strerror(errno));
		goto out;
	}
	blen = sizeof ss;
	if (getsockname(evconnlistener_get_fd(lis), (struct sockaddr *)&ss,
	    &blen) != 0) {
		perror("getsockname");
		goto out;
	}
	if (ss.ss_family == AF_INET6) {
		ap = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	} else {
		ap = &((struct sockaddr_in *)&ss)->sin_addr;
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	if (evutil_inet_ntop(ss.ss_family, ap, addr, sizeof addr) == NULL) {
		perror("inet_ntop");
		goto out;
	}
	fprintf(stderr, ss.ss_family == AF_INET6 ?
	    "listening on http://[%s]:%u/\n" : "listening on http://%s:%u/\n",
	    addr, port);
	fflush(stderr);

	if (event_base_dispatch(up_base) == -1) {
		fprintf(stderr, "%s: event_base_dispatch failed\n", argv[0]);
		goto out;
	}
	status = 0;
out:
	while (up_conns != NULL)
		conn_free(up_conns);
	if (lis != NULL)
		evconnlistener_free(lis);
	if (ev_term != NULL)
		event_free(ev_term);
	if (ev_int != NULL)
		event_free(ev_int);
	if (up_base != NULL)
		event_base_free(up_base);
	free(up_counts);
	return (status);
}
