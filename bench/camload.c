/*
 * camload.c - many MJPEG viewers of GET /stream.mjpg from one thread.
 *
 * Usage: camload HOST PORT VIEWERS WARMUP_S MEASURE_S
 *
 * Opens VIEWERS connections to HOST:PORT at once (non-blocking, one
 * epoll set, one thread), sends each "GET /stream.mjpg HTTP/1.1" and
 * parses the reply incrementally: the response head (status 200 and a
 * multipart/x-mixed-replace Content-Type with a boundary), then part
 * after part:
 *
 *	--BOUNDARY\r\n
 *	Content-Type: image/jpeg\r\n
 *	Content-Length: N\r\n
 *	X-Timestamp: SECONDS.USEC\r\n		(CLOCK_REALTIME at capture)
 *	X-Frame: SEQ\r\n			(optional)
 *	\r\n
 *	N bytes of JPEG\r\n
 *
 * Each recv takes up to 256 KiB into one shared buffer; part heads are
 * gathered per connection (they may straddle two reads), JPEG bodies are
 * only counted down, never copied.  A frame is complete at the recv that
 * brings its last JPEG byte; its delay is CLOCK_REALTIME taken right
 * after that recv minus its X-Timestamp.
 *
 * Once every viewer has its response head (or has failed; at most
 * CONNECT_TIMEOUT_S), it lets WARMUP_S pass, prints "measuring" on
 * stdout (flushed: a script can sample the server's CPU on seeing it)
 * and counts for exactly MEASURE_S seconds (CLOCK_MONOTONIC) the frames
 * each viewer completes and their delays.  At the end of the window it
 * prints one line and exits:
 *
 *	viewers=200 window_s=10.000 fps_median=30.00 fps_min=29.60
 *	fps_max=30.10 delay_median_ms=1.234 delay_p99_ms=4.000
 *	delay_max_ms=9.000 frames=60000 seq_gaps=0 jpeg_bytes_mean=21888
 *	cpu_pct=8.1 errors=0
 *
 * and then goes on reading every stream for LINGER_S more before it
 * closes them and exits, so that a script sampling the server's CPU on
 * seeing that line does not count the server's work of seeing 200
 * viewers hang up.
 * fps of a viewer = frames it completed in the window / MEASURE_S;
 * failed viewers stay in with what they completed (a viewer lost before
 * the window has 0).  seq_gaps: frames the server skipped for a viewer
 * (jumps in X-Frame) inside the window.  cpu_pct: camload's own CPU time
 * (user + system) over the window, in % of one core.  errors: connections
 * that failed
 * (connect error or timeout, non-200, a parse failure, the server
 * closing; in the window or before it); a failed connection is not
 * retried.  Percentiles are nearest
 * rank.  The first few errors are described on stderr.
 *
 * Exit status: 0 when the window was measured (even with errors), 2 on
 * bad usage or when it cannot set up (address, fd limit, memory).
 *
 * Build: gcc -O2 -Wall -Wextra -o camload bench/camload.c
 */
#define _GNU_SOURCE

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define RECV_BUF		(256 * 1024)	/* shared by all connections */
#define HEAD_MAX		4096	/* response head or one part head */
#define BOUNDARY_MAX		70	/* RFC 2046 */
#define MAX_EVENTS		512
#define MAX_VIEWERS		100000
#define CONNECT_TIMEOUT_S	10.0	/* all heads in by then */
#define LINGER_S		0.5	/* reading on after the result */
#define MAX_PART_LEN		(64ULL * 1024 * 1024)
#define ERRORS_SHOWN		5

enum state {
	S_CONNECTING,		/* waiting for connect() to finish */
	S_SENDING,		/* request not all sent yet */
	S_HEAD,			/* response head */
	S_PART_HEAD,		/* --boundary line and part headers */
	S_BODY,			/* counting the JPEG down */
	S_CRLF,			/* the CRLF after the JPEG */
	S_DEAD
};

struct viewer {
	int		 fd;
	enum state	 state;
	size_t		 sent;			/* request bytes sent */
	char		 head[HEAD_MAX];	/* head being gathered */
	size_t		 head_len;
	char		 boundary[BOUNDARY_MAX + 1];
	size_t		 crlf;			/* CRLF bytes seen (S_CRLF) */
	uint64_t	 left;			/* JPEG bytes still to come */
	uint64_t	 part_len;
	int64_t		 ts_us;			/* X-Timestamp of this part */
	int64_t		 seq;			/* X-Frame, -1 if none */
	int64_t		 last_seq;		/* last in-window frame's */
	uint64_t	 frames;		/* completed in the window */
	uint64_t	 frames_all;		/* completed at all */
};

static const char	*prog = "camload";
static char		 request[512];
static size_t		 request_len;
static int		 epfd = -1;
static unsigned		 nviewers;
static unsigned		 pending;	/* viewers without a head yet */
static unsigned		 errors;

/* The window and what it collects. */
static int		 measuring;
static double		 win_start, win_end;	/* CLOCK_MONOTONIC, s */
static int64_t		*delays;		/* us */
static size_t		 ndelays, delays_cap;
static uint64_t		 win_bytes, seq_gaps;

/* Time of the current recv, taken right after it returned. */
static double		 now_mono;
static int64_t		 now_real_us;

static double
secs(clockid_t clk)
{
	struct timespec	ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
mono(void)
{
	return secs(CLOCK_MONOTONIC);
}

static int64_t
real_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void __attribute__((format(printf, 1, 2), noreturn))
die(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void
usage(void)
{
	fprintf(stderr, "usage: %s HOST PORT VIEWERS WARMUP_S MEASURE_S\n",
	    prog);
	exit(2);
}

/* A connection has failed: count it, say why (the first few), close it. */
static void __attribute__((format(printf, 3, 4)))
fail(struct viewer *v, unsigned idx, const char *fmt, ...)
{
	va_list	ap;

	if (v->state == S_DEAD)
		return;
	if (v->state <= S_HEAD)
		pending--;
	if (errors < ERRORS_SHOWN) {
		fprintf(stderr, "%s: viewer %u: ", prog, idx);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	} else if (errors == ERRORS_SHOWN)
		fprintf(stderr, "%s: (further errors not shown)\n", prog);
	errors++;
	v->state = S_DEAD;
	close(v->fd);		/* also leaves the epoll set */
	v->fd = -1;
}

static void
record_delay(int64_t us)
{
	if (ndelays == delays_cap) {
		delays_cap = delays_cap ? delays_cap * 2 : 65536;
		delays = realloc(delays, delays_cap * sizeof *delays);
		if (delays == NULL)
			die("out of memory for %zu delays", delays_cap);
	}
	delays[ndelays++] = us;
}

/*
 * Finds the end of a head ("\r\n\r\n") in p[0..n), gathering the bytes
 * into v->head.  Returns how many bytes it took; *done is set when the
 * head is complete.  -1 when the head is too long.
 */
static ssize_t
gather(struct viewer *v, const char *p, size_t n, int *done)
{
	size_t	i;

	*done = 0;
	for (i = 0; i < n; i++) {
		if (v->head_len == HEAD_MAX - 1)
			return -1;
		v->head[v->head_len++] = p[i];
		if (p[i] == '\n' && v->head_len >= 4 &&
		    memcmp(v->head + v->head_len - 4, "\r\n\r\n", 4) == 0) {
			v->head[v->head_len] = '\0';
			*done = 1;
			return (ssize_t)i + 1;
		}
	}
	return (ssize_t)n;
}

/* Next CRLF-ended line of a gathered head; NULL past the end. */
static char *
next_line(char **cursor)
{
	char	*line = *cursor, *e;

	if ((e = strstr(line, "\r\n")) == NULL)
		return NULL;
	*e = '\0';
	*cursor = e + 2;
	return line;
}

/* "Name:" (any case) at the start of line: the value, blanks skipped. */
static const char *
header_value(const char *line, const char *name)
{
	size_t	len = strlen(name);

	if (strncasecmp(line, name, len) != 0 || line[len] != ':')
		return NULL;
	line += len + 1;
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}

/* A whole non-negative decimal number, nothing after it but blanks. */
static int
parse_u64(const char *s, uint64_t *out)
{
	uint64_t	n = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '\0')
		return -1;
	*out = n;
	return 0;
}

/* "SECONDS[.FRACTION]" to microseconds. */
static int
parse_timestamp(const char *s, int64_t *us)
{
	int64_t	sec = 0, frac = 0;
	int	digits = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		if (sec > INT64_MAX / 10000000)
			return -1;
		sec = sec * 10 + (*s - '0');
	}
	if (*s == '.') {
		for (s++; isdigit((unsigned char)*s); s++, digits++)
			if (digits < 6)
				frac = frac * 10 + (*s - '0');
		if (digits == 0)
			return -1;
		for (; digits < 6; digits++)
			frac *= 10;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '\0')
		return -1;
	*us = sec * 1000000 + frac;
	return 0;
}

/* The response head: 200 and a multipart boundary.  -1 with *why. */
static int
parse_response_head(struct viewer *v, const char **why)
{
	static char	 msg[160];
	char		*cur = v->head, *line;
	const char	*val, *b;
	size_t		 blen;
	int		 status = 0, multipart = 0;

	if ((line = next_line(&cur)) == NULL ||
	    strncmp(line, "HTTP/1.", 7) != 0 ||
	    !isdigit((unsigned char)line[7]) || line[8] != ' ' ||
	    sscanf(line + 9, "%3d", &status) != 1) {
		*why = "no HTTP/1.x status line";
		return -1;
	}
	if (status != 200) {
		snprintf(msg, sizeof msg, "HTTP %d, not 200: %.100s", status,
		    line);
		*why = msg;
		return -1;
	}
	while ((line = next_line(&cur)) != NULL && *line != '\0') {
		if ((val = header_value(line, "Content-Type")) == NULL)
			continue;
		if (strncasecmp(val, "multipart/x-mixed-replace", 25) != 0)
			break;
		multipart = 1;
		if ((b = strcasestr(val, "boundary=")) == NULL)
			break;
		b += 9;
		if (*b == '"')
			b++;
		blen = strcspn(b, "\";, \t");
		if (blen == 0 || blen > BOUNDARY_MAX)
			break;
		memcpy(v->boundary, b, blen);
		v->boundary[blen] = '\0';
	}
	if (!multipart) {
		*why = "Content-Type is not multipart/x-mixed-replace";
		return -1;
	}
	if (v->boundary[0] == '\0') {
		*why = "no usable boundary in the Content-Type";
		return -1;
	}
	return 0;
}

/* One part head: the delimiter line and the headers.  -1 with *why. */
static int
parse_part_head(struct viewer *v, const char **why)
{
	char		*cur = v->head, *line;
	const char	*val;
	uint64_t	 n;
	int		 have_len = 0, have_ts = 0, jpeg = 0;

	line = next_line(&cur);
	if (line == NULL || line[0] != '-' || line[1] != '-' ||
	    strcmp(line + 2, v->boundary) != 0) {
		if (line != NULL && line[0] == '-' && line[1] == '-' &&
		    strncmp(line + 2, v->boundary, strlen(v->boundary)) == 0 &&
		    strcmp(line + 2 + strlen(v->boundary), "--") == 0)
			*why = "the stream ended (closing delimiter)";
		else
			*why = "a part does not start with --BOUNDARY";
		return -1;
	}
	v->seq = -1;
	while ((line = next_line(&cur)) != NULL && *line != '\0') {
		if ((val = header_value(line, "Content-Length")) != NULL) {
			if (parse_u64(val, &n) != 0 || n == 0 ||
			    n > MAX_PART_LEN) {
				*why = "bad Content-Length in a part";
				return -1;
			}
			v->part_len = n;
			have_len = 1;
		} else if ((val = header_value(line, "X-Timestamp")) != NULL) {
			if (parse_timestamp(val, &v->ts_us) != 0) {
				*why = "bad X-Timestamp in a part";
				return -1;
			}
			have_ts = 1;
		} else if ((val = header_value(line, "X-Frame")) != NULL) {
			if (parse_u64(val, &n) != 0 || n > INT64_MAX) {
				*why = "bad X-Frame in a part";
				return -1;
			}
			v->seq = (int64_t)n;
		} else if ((val = header_value(line, "Content-Type")) != NULL) {
			if (strncasecmp(val, "image/jpeg", 10) != 0) {
				*why = "a part is not image/jpeg";
				return -1;
			}
			jpeg = 1;
		}
	}
	if (!have_len || !have_ts || !jpeg) {
		*why = !have_len ? "a part without Content-Length" :
		    !have_ts ? "a part without X-Timestamp" :
		    "a part without Content-Type: image/jpeg";
		return -1;
	}
	v->left = v->part_len;
	return 0;
}

/* The last JPEG byte of the part has arrived, in the current recv. */
static void
frame_done(struct viewer *v)
{
	v->frames_all++;
	if (!measuring || now_mono < win_start || now_mono >= win_end)
		return;
	v->frames++;
	win_bytes += v->part_len;
	record_delay(now_real_us - v->ts_us);
	if (v->seq >= 0) {
		if (v->last_seq >= 0 && v->seq > v->last_seq + 1)
			seq_gaps += (uint64_t)(v->seq - v->last_seq - 1);
		v->last_seq = v->seq;
	}
}

/* Feeds n received bytes to the parser; fails the viewer on bad input. */
static void
consume(struct viewer *v, unsigned idx, const char *p, size_t n)
{
	const char	*why;
	ssize_t		 took;
	uint64_t	 k;
	int		 done;

	while (n > 0 && v->state != S_DEAD) {
		switch (v->state) {
		case S_HEAD:
		case S_PART_HEAD:
			if ((took = gather(v, p, n, &done)) < 0) {
				fail(v, idx, "%s longer than %d bytes",
				    v->state == S_HEAD ? "response head" :
				    "part head", HEAD_MAX - 1);
				return;
			}
			p += took;
			n -= (size_t)took;
			if (!done)
				break;
			if (v->state == S_HEAD) {
				if (parse_response_head(v, &why) != 0) {
					fail(v, idx, "%s", why);
					return;
				}
				pending--;
				v->state = S_PART_HEAD;
			} else {
				if (parse_part_head(v, &why) != 0) {
					fail(v, idx, "%s", why);
					return;
				}
				v->state = S_BODY;
			}
			v->head_len = 0;
			break;
		case S_BODY:
			k = v->left < n ? v->left : n;
			v->left -= k;
			p += k;
			n -= (size_t)k;
			if (v->left == 0) {
				frame_done(v);
				v->state = S_CRLF;
				v->crlf = 0;
			}
			break;
		case S_CRLF:
			if (*p != "\r\n"[v->crlf]) {
				fail(v, idx, "no CRLF after a part's %llu "
				    "bytes", (unsigned long long)v->part_len);
				return;
			}
			p++;
			n--;
			if (++v->crlf == 2)
				v->state = S_PART_HEAD;
			break;
		default:
			fail(v, idx, "data before the request was sent");
			return;
		}
	}
}

static void
send_request(struct viewer *v, unsigned idx)
{
	struct epoll_event	ev;
	ssize_t			n;

	while (v->sent < request_len) {
		n = send(v->fd, request + v->sent, request_len - v->sent,
		    MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				v->state = S_SENDING;
				return;		/* EPOLLOUT stays on */
			}
			fail(v, idx, "send: %s", strerror(errno));
			return;
		}
		v->sent += (size_t)n;
	}
	v->state = S_HEAD;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.u32 = idx;
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, v->fd, &ev) != 0)
		fail(v, idx, "epoll_ctl: %s", strerror(errno));
}

static void
on_event(struct viewer *v, unsigned idx, uint32_t events, char *buf)
{
	socklen_t	len;
	ssize_t		n;
	int		err;

	if (v->state == S_CONNECTING) {
		err = 0;
		len = sizeof err;
		if (getsockopt(v->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err != 0) {
			fail(v, idx, "connect: %s", strerror(err));
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		send_request(v, idx);
		return;
	}
	if (v->state == S_SENDING) {
		if (events & (EPOLLERR | EPOLLHUP)) {
			fail(v, idx, "connection lost while sending");
			return;
		}
		send_request(v, idx);
		return;
	}
	n = recv(v->fd, buf, RECV_BUF, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		fail(v, idx, "recv: %s", strerror(errno));
		return;
	}
	if (n == 0) {
		fail(v, idx, "the server closed the connection (%s)",
		    v->state == S_HEAD ? "no response head" :
		    v->state == S_BODY ? "inside a JPEG" : "between parts");
		return;
	}
	now_mono = mono();
	now_real_us = real_us();
	consume(v, idx, buf, (size_t)n);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int
cmp_dbl(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest rank: the smallest value with at least q of them at or below. */
static size_t
rank(size_t n, double q)
{
	size_t	r = (size_t)(q * (double)n + 0.999999999);

	if (r < 1)
		r = 1;
	return (r > n ? n : r) - 1;
}

/* The window is over: the numbers, on one line. */
static void
report(struct viewer *vs, double *fps, double measure, double cpu_pct)
{
	double		fps_sum = 0;
	unsigned	i;

	for (i = 0; i < nviewers; i++) {
		fps[i] = (double)vs[i].frames / measure;
		fps_sum += fps[i];
	}
	qsort(fps, nviewers, sizeof *fps, cmp_dbl);
	qsort(delays, ndelays, sizeof *delays, cmp_i64);
	printf("viewers=%u window_s=%.3f fps_median=%.2f fps_min=%.2f "
	    "fps_max=%.2f fps_mean=%.2f", nviewers, measure,
	    nviewers % 2 ? fps[nviewers / 2] :
	    (fps[nviewers / 2 - 1] + fps[nviewers / 2]) / 2,
	    fps[0], fps[nviewers - 1], fps_sum / nviewers);
	if (ndelays > 0)
		printf(" delay_median_ms=%.3f delay_p99_ms=%.3f "
		    "delay_max_ms=%.3f",
		    (ndelays % 2 ? (double)delays[ndelays / 2] :
		    ((double)delays[ndelays / 2 - 1] +
		    (double)delays[ndelays / 2]) / 2) / 1000.0,
		    (double)delays[rank(ndelays, 0.99)] / 1000.0,
		    (double)delays[ndelays - 1] / 1000.0);
	else
		printf(" delay_median_ms=nan delay_p99_ms=nan delay_max_ms=nan");
	printf(" frames=%zu seq_gaps=%llu jpeg_bytes_mean=%.0f cpu_pct=%.1f "
	    "errors=%u\n", ndelays, (unsigned long long)seq_gaps,
	    ndelays ? (double)win_bytes / (double)ndelays : 0.0, cpu_pct,
	    errors);
	fflush(stdout);
}

static double
number_arg(const char *s, const char *what, double lo, double hi)
{
	char	*end;
	double	 d;

	errno = 0;
	d = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(d >= lo && d <= hi)) {
		fprintf(stderr, "%s: %s must be a number from %g to %g: %s\n",
		    prog, what, lo, hi, s);
		usage();
	}
	return d;
}

int
main(int argc, char *argv[])
{
	static char		 buf[RECV_BUF];
	struct epoll_event	 evs[MAX_EVENTS], ev;
	struct addrinfo		 hints, *ai;
	struct rlimit		 rl;
	struct viewer		*vs;
	const char		*host, *port;
	double			 warmup, measure, t, deadline, *fps;
	double			 cpu0 = 0, cpu1;
	unsigned		 i;
	int			 rc, n, k, timeout_ms, phase;
	rlim_t			 need;
	char			*end;
	unsigned long		 ul;

	if (argc != 6)
		usage();
	host = argv[1];
	port = argv[2];
	errno = 0;
	ul = strtoul(argv[2], &end, 10);
	if (errno != 0 || *end != '\0' || ul < 1 || ul > 65535 ||
	    !isdigit((unsigned char)argv[2][0])) {
		fprintf(stderr, "%s: PORT must be 1-65535: %s\n", prog,
		    argv[2]);
		usage();
	}
	errno = 0;
	ul = strtoul(argv[3], &end, 10);
	if (errno != 0 || *end != '\0' || ul < 1 || ul > MAX_VIEWERS ||
	    !isdigit((unsigned char)argv[3][0])) {
		fprintf(stderr, "%s: VIEWERS must be 1-%d: %s\n", prog,
		    MAX_VIEWERS, argv[3]);
		usage();
	}
	nviewers = (unsigned)ul;
	warmup = number_arg(argv[4], "WARMUP_S", 0, 86400);
	measure = number_arg(argv[5], "MEASURE_S", 0.001, 86400);

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0)
		die("%s port %s: %s", host, port, gai_strerror(rc));
	request_len = (size_t)snprintf(request, sizeof request,
	    "GET /stream.mjpg HTTP/1.1\r\nHost: %s%s%s:%s\r\n"
	    "User-Agent: stockcam-camload\r\nAccept: */*\r\n\r\n",
	    strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
	    port);
	if (request_len >= sizeof request)
		die("host name too long");

	/* One fd a viewer, plus stdio, the epoll fd and some slack. */
	need = (rlim_t)nviewers + 16;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		die("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
			die("%u viewers need %llu fds; the hard limit is %llu",
			    nviewers, (unsigned long long)need,
			    (unsigned long long)rl.rlim_max);
		rl.rlim_cur = need;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			die("setrlimit RLIMIT_NOFILE %llu: %s",
			    (unsigned long long)need, strerror(errno));
	}

	if ((vs = calloc(nviewers, sizeof *vs)) == NULL ||
	    (fps = calloc(nviewers, sizeof *fps)) == NULL)
		die("out of memory for %u viewers", nviewers);
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1: %s", strerror(errno));

	/* Every connect at once. */
	pending = nviewers;
	for (i = 0; i < nviewers; i++) {
		struct viewer	*v = &vs[i];

		v->last_seq = -1;
		v->state = S_CONNECTING;
		v->fd = socket(ai->ai_family, ai->ai_socktype |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (v->fd < 0)
			die("socket: %s", strerror(errno));
		if (connect(v->fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
		    errno != EINPROGRESS) {
			fail(v, i, "connect: %s", strerror(errno));
			continue;
		}
		memset(&ev, 0, sizeof ev);
		ev.events = EPOLLOUT;
		ev.data.u32 = i;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, v->fd, &ev) != 0)
			die("epoll_ctl: %s", strerror(errno));
	}
	freeaddrinfo(ai);

	/*
	 * phase 0: connecting (until every head is in, or the timeout);
	 * 1: warm-up; 2: the window; 3: lingering after the result.
	 */
	phase = 0;
	deadline = mono() + CONNECT_TIMEOUT_S;
	for (;;) {
		t = mono();
		if (phase == 0 && (pending == 0 || t >= deadline)) {
			for (i = 0; pending > 0 && i < nviewers; i++)
				if (vs[i].state <= S_HEAD)
					fail(&vs[i], i, "no response head "
					    "within %.0f s", CONNECT_TIMEOUT_S);
			phase = 1;
			deadline = t + warmup;
		}
		if (phase == 1 && t >= deadline) {
			phase = 2;
			measuring = 1;
			win_start = mono();
			win_end = win_start + measure;
			deadline = win_end;
			printf("measuring\n");
			fflush(stdout);
			cpu0 = secs(CLOCK_PROCESS_CPUTIME_ID);
			t = win_start;
		}
		if (phase == 2 && t >= deadline) {
			cpu1 = secs(CLOCK_PROCESS_CPUTIME_ID);
			measuring = 0;
			report(vs, fps, measure, (cpu1 - cpu0) / measure * 100);
			phase = 3;
			deadline = mono() + LINGER_S;
		}
		if (phase == 3 && t >= deadline)
			break;
		/* Round up: waking early would only spin. */
		timeout_ms = (int)((deadline - t) * 1000.0) + 1;
		n = epoll_wait(epfd, evs, MAX_EVENTS, timeout_ms);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait: %s", strerror(errno));
		}
		for (k = 0; k < n; k++) {
			i = evs[k].data.u32;
			if (vs[i].state != S_DEAD)
				on_event(&vs[i], i, evs[k].events, buf);
		}
	}
	return 0;
}
