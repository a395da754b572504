/*
 * test_fetch.c - the fetcher against the fixture upstream (tests/upstream,
 * or $STOCKCAM_UPSTREAM): every fault it plays, retries and Retry-After,
 * cancel during a transfer and during a backoff (timed), the size cap,
 * timeouts, many fetches at once; the content checks on file:// bodies;
 * URL templates. The destination file must exist exactly when the fetch
 * succeeded.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "lib/log.h"
#include "lib/xmalloc.h"
#include "stock/fetch.h"
#include "stock/fetch_int.h"
#include "tap.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER	1
#endif
#endif

#define BIG_BYTES	67108866ULL	/* what the upstream's big- sends */
#define CANCEL_MS	100		/* cancel must be seen this fast */

static char	 top[] = "/tmp/test_fetch.XXXXXX";
static int	 top_made;
static char	 base[128];		/* http://127.0.0.1:PORT/ */
static char	*tmpl;			/* base + "csv/{symbol}" */
static pid_t	 upstream_pid = -1;

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
bail(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("%s%s\n", saved ? ": " : "", saved ? strerror(saved) : "");
	if (upstream_pid > 0)
		kill(upstream_pid, SIGKILL);
	if (top_made)
		nftw(top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	exit(1);
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_ms(long ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static char *
path_of(const char *name)
{
	char	*p;

	xasprintf(&p, "%s/%s", top, name);
	return p;
}

static int
exists(const char *path)
{
	struct stat	st;

	return lstat(path, &st) == 0;
}

static long long
file_size(const char *path)
{
	struct stat	st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static void
put_file(const char *path, const void *data, size_t len)
{
	const char	*p = data;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
		bail("open %s", path);
	for (; len > 0; p += n, len -= (size_t)n) {
		if ((n = write(fd, p, len)) <= 0)
			bail("write %s", path);
	}
	if (close(fd) != 0)
		bail("close %s", path);
}

/* The whole file, NUL-terminated; *len gets its size. */
static char *
slurp(const char *path, size_t *len)
{
	long long	 size = file_size(path);
	char		*buf;
	FILE		*f;

	if (size < 0 || (f = fopen(path, "rb")) == NULL)
		return NULL;
	buf = xmalloc((size_t)size + 1);
	*len = fread(buf, 1, (size_t)size, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* --- the fixture upstream --- */

static void
start_upstream(void)
{
	const char	*bin = getenv("STOCKCAM_UPSTREAM");
	char		*logpath = path_of("upstream.log"), *buf, *p;
	size_t		 len;
	double		 end;
	int		 fd;

	if (bin == NULL || *bin == '\0')
		bin = "tests/upstream";
	if (access(bin, X_OK) != 0)
		bail("the fixture upstream %s is missing (build it, or set "
		    "STOCKCAM_UPSTREAM)", bin);
	fflush(stdout);
	if ((upstream_pid = fork()) < 0)
		bail("fork");
	if (upstream_pid == 0) {
		if ((fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC,
		    0644)) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		if ((fd = open("/dev/null", O_WRONLY)) < 0 || dup2(fd, 1) < 0)
			_exit(127);
		execl(bin, bin, "--listen", "127.0.0.1:0", (char *)NULL);
		_exit(127);
	}
	/* It says where it listens on stderr once it is ready. */
	for (end = now() + 10;; sleep_ms(10)) {
		if ((buf = slurp(logpath, &len)) != NULL &&
		    (p = strstr(buf, "listening on ")) != NULL &&
		    strchr(p, '\n') != NULL) {
			p += strlen("listening on ");
			p[strcspn(p, "\n")] = '\0';
			snprintf(base, sizeof base, "%s", p);
			free(buf);
			break;
		}
		free(buf);
		if (waitpid(upstream_pid, NULL, WNOHANG) == upstream_pid) {
			upstream_pid = -1;
			errno = 0;
			bail("%s exited at start (see %s)", bin, logpath);
		}
		if (now() > end) {
			errno = 0;
			bail("%s did not say where it listens", bin);
		}
	}
	xasprintf(&tmpl, "%scsv/{symbol}", base);
	diag("upstream %s at %s", bin, base);
	free(logpath);
}

static void
stop_upstream(void)
{
	int	status;

	if (upstream_pid <= 0)
		return;
	kill(upstream_pid, SIGTERM);
	if (waitpid(upstream_pid, &status, 0) != upstream_pid)
		bail("waitpid");
	upstream_pid = -1;
}

struct membuf {
	char	buf[16384];
	size_t	len;
};

static size_t
membuf_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct membuf	*m = arg;
	size_t		 n = size * nmemb;

	if (n > sizeof m->buf - 1 - m->len)
		return 0;
	memcpy(m->buf + m->len, p, n);
	m->len += n;
	m->buf[m->len] = '\0';
	return n;
}

/* A request to the upstream's control paths (/stats, /reset). */
static void
control(const char *path, int post, struct membuf *m)
{
	CURL		*e;
	CURLcode	 rc;
	char		*url;

	m->len = 0;
	m->buf[0] = '\0';
	xasprintf(&url, "%s%s", base, path);
	if ((e = curl_easy_init()) == NULL)
		bail("curl_easy_init");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, membuf_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, m);
	if (post)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
	if ((rc = curl_easy_perform(e)) != CURLE_OK) {
		errno = 0;
		bail("%s: %s", url, curl_easy_strerror(rc));
	}
	curl_easy_cleanup(e);
	free(url);
}

/* How many requests the upstream saw for sym. */
static long
requests(const char *sym)
{
	struct membuf	 m;
	char		 key[64], *p;

	control("stats", 0, &m);
	snprintf(key, sizeof key, "\"%s\": ", sym);
	if ((p = strstr(m.buf, key)) == NULL)
		return 0;
	return strtol(p + strlen(key), NULL, 10);
}

/* --- fetching --- */

/* Small delays so the whole file runs in seconds. */
static void
quick(struct fetch_request *rq)
{
	fetch_request_defaults(rq);
	rq->backoff_ms = 5;
	rq->max_retry_after_s = 0;
	rq->timeout_ms = 10000;
}

/* Fetches sym from the upstream into TOP/NAME.csv; the time taken. */
static double
get(const char *sym, struct fetch_request *rq, struct fetch_result *r,
    char **dest)
{
	char	*url, name[80];
	double	 t0;

	if ((url = fetch_expand_url(tmpl, sym)) == NULL)
		bail("fetch_expand_url %s", sym);
	snprintf(name, sizeof name, "%s.csv", sym);
	*dest = path_of(name);
	rq->url = url;
	rq->dest = *dest;
	t0 = now();
	fetch_run(rq, r);
	t0 = now() - t0;
	free(url);
	rq->url = rq->dest = NULL;
	return t0;
}

/* ok, code, attempts and status as wanted; the file there iff ok. */
static void
expect(const char *what, const struct fetch_result *r, const char *dest,
    int want_ok, const char *code, unsigned attempts, int status)
{
	int	good = r->ok == want_ok && strcmp(r->code, code) == 0 &&
		    r->attempts == attempts && r->http_status == status &&
		    exists(dest) == want_ok && (want_ok ? r->message[0] ==
		    '\0' : r->message[0] != '\0');

	ok(good, "%s: %s, %u attempt%s, HTTP %d%s%s", what,
	    want_ok ? "ok" : code, attempts, attempts == 1 ? "" : "s", status,
	    r->message[0] != '\0' ? ": " : "", r->message);
	if (!good)
		diag("got ok %d code '%s' attempts %u status %d bytes %llu "
		    "file %s message '%s'", r->ok, r->code, r->attempts,
		    r->http_status, (unsigned long long)r->bytes,
		    exists(dest) ? "present" : "absent", r->message);
}

/* One fetch of sym with quick settings and an attempt cap, checked. */
static void
check(const char *sym, unsigned max_attempts, int want_ok, const char *code,
    unsigned attempts, int status)
{
	struct fetch_request	rq;
	struct fetch_result	r;
	char			*dest;

	quick(&rq);
	rq.max_attempts = max_attempts;
	get(sym, &rq, &r, &dest);
	expect(sym, &r, dest, want_ok, code, attempts, status);
	unlink(dest);
	free(dest);
}

/* --- the tests --- */

static void
test_templates(void)
{
	char	*u;

	u = fetch_expand_url("http://h/q?s={symbol}", "^GSPC");
	is_str(u, "http://h/q?s=%5EGSPC", "^GSPC is escaped as %%5EGSPC");
	free(u);
	u = fetch_expand_url("https://h/{symbol}/x?s={symbol}&k=1",
	    "000001.sz");
	is_str(u, "https://h/000001.sz/x?s=000001.sz&k=1",
	    "{symbol} twice; unreserved characters kept");
	free(u);
	u = fetch_expand_url("http://h/{symbol}", "a b/c&d=e%f\xc3\xa9");
	is_str(u, "http://h/a%20b%2Fc%26d%3De%25f%C3%A9",
	    "space, /, &, =, %% and UTF-8 are escaped");
	free(u);
	u = fetch_expand_url("http://h/{symbol}", "..");
	is_str(u, "http://h/%2E%2E", "a symbol '..' is no dot segment");
	free(u);
	u = fetch_expand_url("FILE:///data/{symbol}.csv", "BRK-B");
	is_str(u, "FILE:///data/BRK-B.csv", "file:// (any case) is fine");
	free(u);
	ok(fetch_expand_url("ftp://h/{symbol}", "A") == NULL,
	    "ftp:// refused");
	ok(fetch_expand_url("gopher://h/{symbol}", "A") == NULL,
	    "gopher:// refused");
	ok(fetch_expand_url("http://h/csv", "A") == NULL,
	    "a template without {symbol} refused");
	ok(fetch_expand_url("http://h/{symbol}", "") == NULL,
	    "an empty symbol refused");

}

static void
test_check_template(void)
{
	static const char *const bad[] = { "ftp://h/{symbol}", "http://h/csv",
	    "http://:80/csv/{symbol}", "http://h:99999/{symbol}",
	    "http://exa mple/{symbol}", "file://host/{symbol}", "" };
	static const char *const good[] = {
	    "https://h.example/csv/{symbol}?key=K",
	    "HTTP://127.0.0.1:8080/q?s={symbol}&f=csv",
	    "file:///srv/{symbol}.csv" };
	char		 why[256];
	size_t		 i;
	int		 r;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		snprintf(why, sizeof why, "not set");
		r = fetch_check_template(good[i], why, sizeof why);
		ok(r == 0 && strcmp(why, "not set") == 0,
		    "template %s passes", good[i]);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why[0] = '\0';
		r = fetch_check_template(bad[i], why, sizeof why);
		ok(r == -1 && why[0] != '\0', "template '%s' refused: %s",
		    bad[i], why[0] ? why : "(no reason)");
	}
}

static void
test_good(void)
{
	struct fetch_request	 rq;
	struct fetch_result	 r1, r2;
	char			*d1, *d2, *b1, *b2;
	size_t			 l1 = 0, l2 = 0;

	quick(&rq);
	get("AAPL", &rq, &r1, &d1);
	expect("good symbol", &r1, d1, 1, "", 1, 200);
	is_int(r1.bytes, file_size(d1), "bytes is the file's size (%llu)",
	    (unsigned long long)r1.bytes);
	b1 = slurp(d1, &l1);
	ok(b1 != NULL && strncmp(b1, "Date,Open,High,Low,Close,Adj Close,"
	    "Volume\n", 42) == 0, "the file starts with the CSV header");
	if (rename(d1, d2 = path_of("AAPL.first")) != 0)
		bail("rename");
	free(d1);
	quick(&rq);
	get("AAPL", &rq, &r2, &d1);
	b2 = slurp(d1, &l2);
	ok(r2.ok && b1 != NULL && b2 != NULL && l1 == l2 && l1 > 0 &&
	    memcmp(b1, b2, l1) == 0, "a second download is the same %zu "
	    "bytes", l1);
	free(b1);
	free(b2);
	unlink(d1);
	unlink(d2);
	free(d1);
	free(d2);

	check("BRK-B", 4, 1, "", 1, 200);
	check("X^Y=Z", 4, 1, "", 1, 200);	/* sent as X%5EY%3DZ */
	check("badcsv-a", 4, 1, "", 1, 200);	/* rows are the converter's */
}

static void
test_http_errors(void)
{
	struct fetch_request	 rq;
	struct fetch_result	 r;
	char			*dest;

	quick(&rq);
	get("e404-a", &rq, &r, &dest);
	expect("404", &r, dest, 0, "http_404", 1, 404);
	is_str(r.message, "HTTP 404 from upstream", "404 message");
	is_int(requests("e404-a"), 1, "404 is not retried");
	free(dest);

	quick(&rq);
	get("e503always-a", &rq, &r, &dest);
	expect("503 always", &r, dest, 0, "upstream_error", 4, 503);
	is_str(r.message, "HTTP 503 from upstream after 4 attempts",
	    "503 message names the attempts");
	is_int(requests("e503always-a"), 4, "the upstream saw 4 requests");
	free(dest);

	check("e500-a", 4, 1, "", 2, 200);
	is_int(requests("e500-a"), 2, "500 then CSV: 2 requests");
	check("e500-b", 1, 0, "upstream_error", 1, 500);
}

static void
test_rate_limits(void)
{
	struct fetch_request	 rq;
	struct fetch_result	 r;
	char			*dest;
	double			 took;

	quick(&rq);
	rq.max_retry_after_s = 30;
	took = get("e429-a", &rq, &r, &dest);
	expect("429 with Retry-After: 1", &r, dest, 1, "", 2, 200);
	ok(took >= 0.95 && took < 2.5, "Retry-After: 1 honoured (%.0f ms)",
	    took * 1e3);
	unlink(dest);
	free(dest);

	quick(&rq);
	rq.max_retry_after_s = 0;
	took = get("e429-b", &rq, &r, &dest);
	expect("429, Retry-After capped at 0", &r, dest, 1, "", 2, 200);
	ok(took < 0.5, "the cap holds (%.0f ms)", took * 1e3);
	unlink(dest);
	free(dest);

	check("e429-c", 1, 0, "rate_limited", 1, 429);
	check("ratelimit-a", 4, 1, "", 2, 200);
	is_int(requests("ratelimit-a"), 2, "rate-limit page retried once");

	quick(&rq);
	rq.max_attempts = 1;
	get("ratelimit-b", &rq, &r, &dest);
	expect("rate-limit page, one attempt", &r, dest, 0, "rate_limited", 1,
	    200);
	free(dest);
}

static void
test_broken(void)
{
	struct fetch_request	 rq;
	struct fetch_result	 r;
	struct sockaddr_in	 sin;
	socklen_t		 slen = sizeof sin;
	char			*dest, *url;
	double			 took;
	int			 s;

	check("trunc-a", 3, 0, "truncated", 3, 200);
	is_int(requests("trunc-a"), 3, "truncated bodies retried");
	check("reset-a", 3, 0, "connection", 3, 0);
	is_int(requests("reset-a"), 3, "resets retried");

	/* Backoff 100 ms, full jitter: at most 100 + 200 + 400 ms. */
	quick(&rq);
	rq.backoff_ms = 100;
	took = get("reset-b", &rq, &r, &dest);
	expect("reset, backoff 100 ms", &r, dest, 0, "connection", 4, 0);
	ok(took < 0.7 + 0.3, "three jittered backoffs took %.0f ms, at most "
	    "700", took * 1e3);
	free(dest);

	/* A port nobody listens on. */
	if ((s = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		bail("socket");
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    getsockname(s, (struct sockaddr *)&sin, &slen) != 0)
		bail("bind");
	close(s);
	xasprintf(&url, "http://127.0.0.1:%u/csv/A", ntohs(sin.sin_port));
	quick(&rq);
	rq.max_attempts = 2;
	rq.url = url;
	rq.dest = dest = path_of("refused.csv");
	fetch_run(&rq, &r);
	expect("connection refused", &r, dest, 0, "connection", 2, 0);
	free(url);
	free(dest);
}

static void
test_content(void)
{
	check("html-a", 4, 0, "not_csv_html", 1, 200);
	check("htmlcsv-a", 4, 0, "not_csv_html", 1, 200);
	check("json-a", 4, 0, "not_csv_json", 1, 200);
	check("jsoncsv-a", 4, 0, "not_csv_json", 1, 200);
	check("empty-a", 4, 0, "empty", 1, 200);
	check("hdronly-a", 4, 0, "header_only", 1, 200);
	check("notcsv-a", 4, 0, "not_csv", 1, 200);
}

/* A 64 MiB body: about the limits, not speed, on any machine. */
#define BIG_TIMEOUT_MS	300000

static void
test_limits(void)
{
	struct fetch_request	 rq;
	struct fetch_result	 r;
	struct rusage		 ru0, ru1;
	char			*dest;
	double			 took;

	/* First, while the peak RSS is still low. */
	getrusage(RUSAGE_SELF, &ru0);
	quick(&rq);
	rq.max_bytes = 128ULL << 20;
	/* 64 MiB under TSan beside two busy loops took over 10 s. */
	rq.timeout_ms = BIG_TIMEOUT_MS;
	took = get("big-a", &rq, &r, &dest);
	expect("64 MiB body under a 128 MiB cap", &r, dest, 1, "", 1, 200);
	is_int(r.bytes, BIG_BYTES, "all of it written");
	is_int(file_size(dest), BIG_BYTES, "and on disk");
	getrusage(RUSAGE_SELF, &ru1);
	diag("64 MiB in %.0f ms; peak RSS %ld -> %ld KiB", took * 1e3,
	    ru0.ru_maxrss, ru1.ru_maxrss);
#ifdef UNDER_SANITIZER
	ok(1, "# SKIP peak RSS is not meaningful under a sanitizer");
#else
	ok(ru1.ru_maxrss - ru0.ru_maxrss < 8 * 1024,
	    "peak RSS grew by less than 8 MiB");
#endif
	unlink(dest);
	free(dest);

	quick(&rq);
	rq.timeout_ms = BIG_TIMEOUT_MS;
	get("big-b", &rq, &r, &dest);
	expect("64 MiB + 2 bytes under the default cap", &r, dest, 0,
	    "too_large", 1, 200);
	free(dest);

	quick(&rq);
	rq.max_bytes = 1 << 20;
	get("big-c", &rq, &r, &dest);
	expect("big body, 1 MiB cap", &r, dest, 0, "too_large", 1, 200);
	is_str(r.message, "body larger than 1048576 bytes", "too_large "
	    "message");
	free(dest);

	quick(&rq);
	rq.max_bytes = 1 << 20;
	took = get("endless-a", &rq, &r, &dest);
	expect("endless chunked body, 1 MiB cap", &r, dest, 0, "too_large", 1,
	    200);
	ok(r.bytes > 900000 && r.bytes <= 1 << 20, "stopped at the cap "
	    "(%llu bytes, %.0f ms)", (unsigned long long)r.bytes, took * 1e3);
	is_int(requests("endless-a"), 1, "too_large is not retried");
	free(dest);
}

static void
test_timeouts(void)
{
	struct fetch_request	 rq;
	struct fetch_result	 r;
	char			*dest;
	double			 took;

	quick(&rq);
	rq.timeout_ms = 3000;
	took = get("slow-300-a", &rq, &r, &dest);
	expect("300 ms late, 3 s allowed", &r, dest, 1, "", 1, 200);
	unlink(dest);
	free(dest);

	quick(&rq);
	rq.timeout_ms = 300;
	rq.max_attempts = 2;
	took = get("slow-3000-a", &rq, &r, &dest);
	expect("3 s late, 300 ms allowed", &r, dest, 0, "timeout", 2, 0);
	ok(took > 0.55 && took < 1.5, "two attempts of 300 ms took %.0f ms",
	    took * 1e3);
	free(dest);

	quick(&rq);
	rq.timeout_ms = 30000;
	rq.low_speed_bytes = 1000;
	rq.low_speed_secs = 1;
	rq.max_attempts = 1;
	took = get("stall-a", &rq, &r, &dest);
	expect("stalled body, 1000 B/s for 1 s", &r, dest, 0, "timeout", 1,
	    200);
	ok(took > 0.9 && took < 3.5, "the low-speed limit stopped it after "
	    "%.0f ms", took * 1e3);
	free(dest);
}

struct bg {
	struct fetch_request	 rq;
	struct fetch_result	 r;
	char			*url;
	char			*dest;
	atomic_int		 cancel;
	double			 returned;
	pthread_t		 thread;
};

static void *
bg_main(void *arg)
{
	struct bg	*b = arg;

	fetch_run(&b->rq, &b->r);
	b->returned = now();
	return NULL;
}

static void
bg_start(struct bg *b, const char *sym)
{
	char	name[80];

	b->rq.url = b->url = fetch_expand_url(tmpl, sym);
	snprintf(name, sizeof name, "%s.csv", sym);
	b->dest = path_of(name);
	b->rq.dest = b->dest;
	atomic_init(&b->cancel, 0);
	b->rq.cancel = &b->cancel;
	if (b->rq.url == NULL || pthread_create(&b->thread, NULL, bg_main,
	    b) != 0)
		bail("bg_start %s", sym);
}

/* Sets the flag; how long fetch_run took to return, in ms. */
static double
bg_cancel(struct bg *b)
{
	double	t;

	t = now();
	atomic_store(&b->cancel, 1);
	if (pthread_join(b->thread, NULL) != 0)
		bail("pthread_join");
	free(b->url);
	return (b->returned - t) * 1e3;
}

static void
test_cancel(void)
{
	static const struct {
		const char	*sym;
		const char	*what;
	} t[] = {
		{ "stall-b", "a stalled body" },
		{ "slow-5000-b", "a server that has not answered" },
		{ "e429-d", "the Retry-After wait" },
	};
	struct bg		 b;
	struct fetch_request	 rq;
	struct fetch_result	 r;
	atomic_int		 flag;
	char			*dest;
	double			 ms;
	size_t			 i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		memset(&b, 0, sizeof b);
		fetch_request_defaults(&b.rq);
		bg_start(&b, t[i].sym);
		sleep_ms(300);
		ms = bg_cancel(&b);
		expect(t[i].what, &b.r, b.dest, 0, "canceled", 1,
		    i == 0 ? 200 : i == 2 ? 429 : 0);
		ok(ms < CANCEL_MS, "cancel during %s seen in %.1f ms", t[i].what,
		    ms);
		free(b.dest);
	}
	sleep_ms(50);
	is_int(requests("e429-d"), 1, "no attempt after a canceled backoff");

	/* A jittered backoff: 5 s base, so almost surely still waiting. */
	memset(&b, 0, sizeof b);
	fetch_request_defaults(&b.rq);
	b.rq.backoff_ms = 5000;
	bg_start(&b, "reset-c");
	sleep_ms(300);
	ms = bg_cancel(&b);
	ok(!b.r.ok && strcmp(b.r.code, "canceled") == 0 &&
	    b.r.attempts >= 1 && !exists(b.dest), "backoff after a reset: "
	    "canceled after %u attempt(s): %s", b.r.attempts, b.r.message);
	ok(ms < CANCEL_MS, "cancel during a backoff seen in %.1f ms", ms);
	free(b.dest);

	quick(&rq);
	atomic_init(&flag, 1);
	rq.cancel = &flag;
	get("AAPL", &rq, &r, &dest);
	expect("canceled before the start", &r, dest, 0, "canceled", 0, 0);
	free(dest);
}

static void
test_files(void)
{
	static const struct {
		const char	*what;
		const char	*body;
		size_t		 len;
		const char	*code;
	} t[] = {
#define B(s)	s, sizeof s - 1
		{ "plain CSV", B("Date,Close\n2024-01-02,1.5\n"), "" },
		{ "BOM and CRLF", B("\xef\xbb\xbf" "Date,Close\r\n1,2\r\n"), "" },
		{ "no final newline", B("Date,Close\n1,2"), "" },
		{ "blank lines first", B("\n\r\nDate,Close\n1,2\n"), "" },
		{ "HTML", B("  \n<!doctype html><p>hi</p>\n"), "not_csv_html" },
		{ "rate-limit HTML (file: not retried)",
		    B("<html>Too Many Requests</html>\n"), "not_csv_html" },
		{ "JSON object", B("{\"a\":1}\n"), "not_csv_json" },
		{ "JSON array after a BOM", B("\xef\xbb\xbf[1,2]"),
		    "not_csv_json" },
		{ "empty", B(""), "empty" },
		{ "only blank space", B(" \r\n\n\t"), "empty" },
		{ "only a BOM", B("\xef\xbb\xbf"), "empty" },
		{ "header, no newline", B("Date,Close"), "header_only" },
		{ "header and blank lines", B("Date,Close\r\n\r\n \n"),
		    "header_only" },
		{ "no comma", B("hello\nworld\n"), "not_csv" },
		{ "control character", B("Date,\x01Close\n1,2\n"), "not_csv" },
		{ "NUL", B("Date,Cl\0se\n1,2\n"), "not_csv" },
#undef B
	};
	struct fetch_request	 rq;
	struct fetch_result	 r;
	char			*src = path_of("src.csv"), *dest, *url;
	char			 big[3000];
	size_t			 i;
	int			 want;

	dest = path_of("out.csv");
	xasprintf(&url, "file://%s", src);
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		put_file(src, t[i].body, t[i].len);
		quick(&rq);
		rq.url = url;
		rq.dest = dest;
		fetch_run(&rq, &r);
		want = t[i].code[0] == '\0';
		expect(t[i].what, &r, dest, want, t[i].code, 1, 0);
		if (want)
			is_int(file_size(dest), t[i].len, "%s: %zu bytes",
			    t[i].what, t[i].len);
		unlink(dest);
	}

	/* A long header line: the check looks at its first KiB. */
	memset(big, 'x', sizeof big);
	big[10] = ',';
	big[2000] = '\n';
	big[2001] = '1';
	big[sizeof big - 1] = '\n';
	put_file(src, big, sizeof big);
	quick(&rq);
	rq.url = url;
	rq.dest = dest;
	fetch_run(&rq, &r);
	expect("2000-byte header line", &r, dest, 1, "", 1, 0);
	unlink(dest);
	quick(&rq);
	rq.url = url;
	rq.dest = dest;
	rq.max_bytes = 1000;
	fetch_run(&rq, &r);
	expect("file larger than max_bytes", &r, dest, 0, "too_large", 1, 0);

	unlink(src);
	quick(&rq);
	rq.url = url;
	rq.dest = dest;
	fetch_run(&rq, &r);
	expect("missing file", &r, dest, 0, "file_error", 1, 0);
	free(url);
	free(src);
	free(dest);
}

static void
test_bad_requests(void)
{
	static const char *const urls[] = { "ftp://127.0.0.1/x.csv",
	    "gopher://127.0.0.1/x", "dict://127.0.0.1/x", "http://[::1" };
	struct fetch_request	 rq;
	struct fetch_result	 r;
	char			*dest = path_of("bad.csv"), *nodir;
	size_t			 i;

	for (i = 0; i < sizeof urls / sizeof urls[0]; i++) {
		quick(&rq);
		rq.url = urls[i];
		rq.dest = dest;
		fetch_run(&rq, &r);
		expect(urls[i], &r, dest, 0, "bad_url", 1, 0);
	}
	quick(&rq);
	rq.dest = dest;
	fetch_run(&rq, &r);
	expect("no URL", &r, dest, 0, "bad_url", 0, 0);

	nodir = path_of("no/such/dir.csv");
	quick(&rq);
	rq.url = "file:///dev/null";
	rq.dest = nodir;
	fetch_run(&rq, &r);
	expect("destination in a missing directory", &r, nodir, 0,
	    "write_error", 0, 0);
	free(nodir);
	free(dest);
}

/* --- a canned server: fixed replies, one per connection --- */

#define CANNED_PARTS	4

/* Each part is written on its own, 30 ms after the one before. */
struct canned {
	char		*part[CANNED_PARTS];
};

struct canned_server {
	int		 fd;
	unsigned	 port;
	struct canned	*replies;
	size_t		 n;
	atomic_int	 served;
	pthread_t	 thread;
};

static void
write_all(int fd, const char *p, size_t len)
{
	ssize_t	n;

	for (; len > 0; p += n, len -= (size_t)n) {
		if ((n = write(fd, p, len)) <= 0)
			return;		/* the client went away */
	}
}

static void *
canned_main(void *arg)
{
	struct canned_server	*cs = arg;
	char			 req[8192];
	size_t			 i, k, len;
	ssize_t			 n;
	int			 c;

	for (i = 0; i < cs->n; i++) {
		if ((c = accept(cs->fd, NULL, NULL)) < 0)
			break;
		for (len = 0; len < sizeof req - 1; len += (size_t)n) {
			if ((n = read(c, req + len, sizeof req - 1 - len)) <= 0)
				break;
			req[len + (size_t)n] = '\0';
			if (strstr(req, "\r\n\r\n") != NULL)
				break;
		}
		for (k = 0; k < CANNED_PARTS && cs->replies[i].part[k]; k++) {
			if (k > 0)
				sleep_ms(30);
			write_all(c, cs->replies[i].part[k],
			    strlen(cs->replies[i].part[k]));
		}
		close(c);
		atomic_fetch_add(&cs->served, 1);
	}
	return NULL;
}

static void
canned_start(struct canned_server *cs, struct canned *replies, size_t n)
{
	struct sockaddr_in	sin;
	socklen_t		slen = sizeof sin;

	memset(cs, 0, sizeof *cs);
	if ((cs->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		bail("socket");
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(cs->fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    listen(cs->fd, 8) != 0 ||
	    getsockname(cs->fd, (struct sockaddr *)&sin, &slen) != 0)
		bail("canned server");
	cs->port = ntohs(sin.sin_port);
	cs->replies = replies;
	cs->n = n;
	atomic_init(&cs->served, 0);
	if (pthread_create(&cs->thread, NULL, canned_main, cs) != 0)
		bail("pthread_create");
}

/* Stops the server (it may still wait in accept) and frees the replies. */
static int
canned_stop(struct canned_server *cs)
{
	size_t	i, k;

	shutdown(cs->fd, SHUT_RDWR);
	if (pthread_join(cs->thread, NULL) != 0)
		bail("pthread_join");
	close(cs->fd);
	for (i = 0; i < cs->n; i++) {
		for (k = 0; k < CANNED_PARTS; k++)
			free(cs->replies[i].part[k]);
	}
	return atomic_load(&cs->served);
}

static char *
reply_head(int status, const char *extra, const char *ctype, size_t len)
{
	char	*s;

	xasprintf(&s, "HTTP/1.1 %d X\r\nConnection: close\r\n%s%s"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", status,
	    extra, *extra ? "\r\n" : "", ctype, len);
	return s;
}

static void
reply_csv(struct canned *r)
{
	static const char	csv[] = "Date,Close\n2024-01-02,1.5\n";

	r->part[0] = reply_head(200, "", "text/csv", sizeof csv - 1);
	r->part[1] = xstrdup(csv);
}

/* A Retry-After: HTTP-date `secs` from now. */
static char *
retry_at(long secs)
{
	struct tm	tm;
	time_t		t = time(NULL) + secs;
	char		buf[64], *s;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	xasprintf(&s, "Retry-After: %s", buf);
	return s;
}

/* Runs one fetch against replies; how many connections were served. */
static int
canned_fetch(struct canned *replies, size_t n, struct fetch_request *rq,
    struct fetch_result *r, char **dest, double *took)
{
	struct canned_server	cs;
	char			*url;
	double			 t0;

	canned_start(&cs, replies, n);
	xasprintf(&url, "http://127.0.0.1:%u/csv/A", cs.port);
	*dest = path_of("canned.csv");
	rq->url = url;
	rq->dest = *dest;
	t0 = now();
	fetch_run(rq, r);
	*took = now() - t0;
	free(url);
	return canned_stop(&cs);
}

/* The Retry-After parse on its own: delta-seconds, dates, junk. */
static void
test_retry_after_parse(void)
{
	time_t	t = 1700000000;

	is_int(fetch_retry_after_parse("0", t), 0, "Retry-After: 0");
	is_int(fetch_retry_after_parse("120", t), 120, "Retry-After: 120");
	is_int(fetch_retry_after_parse("86401", t), FETCH_RETRY_AFTER_MAX,
	    "a day and a second: the maximum");
	is_int(fetch_retry_after_parse("99999999999999999999", t),
	    FETCH_RETRY_AFTER_MAX, "20 digits (beyond a long long): the maximum");
	is_int(fetch_retry_after_parse("9223372036854775808", t),
	    FETCH_RETRY_AFTER_MAX, "LLONG_MAX + 1: the maximum");
	is_int(fetch_retry_after_parse("00000000000000000000000000005", t), 5,
	    "leading zeros");
	is_int(fetch_retry_after_parse("5s", t), -1, "digits then junk: none");
	is_int(fetch_retry_after_parse("99999999999999999999x", t), -1,
	    "many digits then junk: none");
	is_int(fetch_retry_after_parse("soon", t), -1, "a word: none");
	is_int(fetch_retry_after_parse("", t), -1, "empty: none");
	is_int(fetch_retry_after_parse("Tue, 14 Nov 2023 22:13:20 GMT", t), 0,
	    "an HTTP-date 0 s ahead");
	is_int(fetch_retry_after_parse("Tue, 14 Nov 2023 22:14:20 GMT", t), 60,
	    "an HTTP-date 60 s ahead");
	is_int(fetch_retry_after_parse("Mon, 13 Nov 2023 22:13:20 GMT", t), 0,
	    "an HTTP-date in the past: 0");
}

static void
test_canned(void)
{
	struct canned		 c[5];
	struct fetch_request	 rq;
	struct fetch_result	 r;
	char			*dest, *filler, *date;
	double			 took;
	size_t			 i, len;
	int			 served;

	/* A rate-limit page whose phrase comes after 4 KiB, split in two. */
	memset(c, 0, sizeof c);
	filler = xmalloc(4096 + 1);
	memset(filler, ' ', 4096);
	filler[4096] = '\0';
	xasprintf(&c[0].part[1], "<html><head>%s", filler);
	c[0].part[2] = xstrdup("<p>Too Many Re");	/* a write ends here */
	c[0].part[3] = xstrdup("quests</p></html>\n");
	len = strlen(c[0].part[1]) + strlen(c[0].part[2]) +
	    strlen(c[0].part[3]);
	c[0].part[0] = reply_head(200, "", "text/html", len);
	free(filler);
	reply_csv(&c[1]);
	quick(&rq);
	served = canned_fetch(c, 2, &rq, &r, &dest, &took);
	expect("rate-limit phrase after 4 KiB, across two writes", &r, dest,
	    1, "", 2, 200);
	is_int(served, 2, "two requests served");
	unlink(dest);
	free(dest);

	/* Retry-After as an HTTP-date, 2 s ahead: waits 1 to 2 s. */
	memset(c, 0, sizeof c);
	date = retry_at(2);
	c[0].part[0] = reply_head(429, date, "text/plain", 0);
	free(date);
	reply_csv(&c[1]);
	quick(&rq);
	rq.max_retry_after_s = 30;
	canned_fetch(c, 2, &rq, &r, &dest, &took);
	expect("429 with an HTTP-date Retry-After", &r, dest, 1, "", 2, 200);
	ok(took > 0.9 && took < 2.8, "the date was honoured (%.0f ms)",
	    took * 1e3);
	unlink(dest);
	free(dest);

	/*
	 * Delta-seconds too large for a long long: the cap, not the (here
	 * immediate) backoff as when the overflowing value was dropped.
	 */
	memset(c, 0, sizeof c);
	c[0].part[0] = reply_head(429, "Retry-After: 99999999999999999999",
	    "text/plain", 0);
	reply_csv(&c[1]);
	quick(&rq);
	rq.max_retry_after_s = 2;
	rq.backoff_ms = 0;
	canned_fetch(c, 2, &rq, &r, &dest, &took);
	expect("429 with a 20-digit Retry-After", &r, dest, 1, "", 2, 200);
	ok(took > 1.8 && took < 4.5, "waited the cap, 2 s (%.0f ms)",
	    took * 1e3);
	unlink(dest);
	free(dest);

	/* A date in the past: retry at once. */
	memset(c, 0, sizeof c);
	date = retry_at(-60);
	c[0].part[0] = reply_head(503, date, "text/plain", 0);
	free(date);
	reply_csv(&c[1]);
	quick(&rq);
	rq.max_retry_after_s = 30;
	rq.backoff_ms = 5000;
	canned_fetch(c, 2, &rq, &r, &dest, &took);
	expect("503 with a past Retry-After date", &r, dest, 1, "", 2, 200);
	ok(took < 0.5, "retried at once (%.0f ms)", took * 1e3);
	unlink(dest);
	free(dest);

	/* A redirect to a local file is refused. */
	memset(c, 0, sizeof c);
	c[0].part[0] = reply_head(302, "Location: file:///etc/passwd",
	    "text/plain", 0);
	quick(&rq);
	served = canned_fetch(c, 1, &rq, &r, &dest, &took);
	expect("redirect to file:///etc/passwd", &r, dest, 0, "bad_url", 1,
	    302);
	free(dest);

	/* Redirects are followed, three at most. */
	memset(c, 0, sizeof c);
	for (i = 0; i < 2; i++)
		c[i].part[0] = reply_head(301, "Location: /csv/B", "text/plain",
		    0);
	reply_csv(&c[2]);
	quick(&rq);
	served = canned_fetch(c, 3, &rq, &r, &dest, &took);
	expect("two redirects, then CSV", &r, dest, 1, "", 1, 200);
	unlink(dest);
	free(dest);
	memset(c, 0, sizeof c);
	for (i = 0; i < 5; i++)
		c[i].part[0] = reply_head(302, "Location: /csv/A", "text/plain",
		    0);
	quick(&rq);
	served = canned_fetch(c, 5, &rq, &r, &dest, &took);
	expect("a redirect loop", &r, dest, 0, "http_302", 1, 302);
	is_int(served, 4, "stopped after 3 redirects");
	free(dest);
}

/* Many fetches at once, each on its own thread (for TSan). */
static void
test_threads(void)
{
	static const struct {
		const char	*sym;
		const char	*code;
		int		 status;
	} t[] = {
		{ "T1", "", 200 }, { "T2", "", 200 }, { "T3.x", "", 200 },
		{ "e500-t", "", 200 }, { "e429-t", "", 200 },
		{ "ratelimit-t", "", 200 }, { "html-t", "not_csv_html", 200 },
		{ "e404-t", "http_404", 404 }, { "trunc-t", "truncated", 200 },
		{ "reset-t", "connection", 0 }, { "json-t", "not_csv_json", 200 },
		{ "slow-200-t", "", 200 },
	};
	struct bg	b[sizeof t / sizeof t[0]];
	size_t		i;
	int		bad = 0;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		memset(&b[i], 0, sizeof b[i]);
		quick(&b[i].rq);
		b[i].rq.max_attempts = 3;
		bg_start(&b[i], t[i].sym);
	}
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		if (pthread_join(b[i].thread, NULL) != 0)
			bail("pthread_join");
		if (b[i].r.ok != (t[i].code[0] == '\0') ||
		    strcmp(b[i].r.code, t[i].code) != 0 ||
		    b[i].r.http_status != t[i].status ||
		    exists(b[i].dest) != b[i].r.ok) {
			diag("%s: ok %d code '%s' status %d: %s", t[i].sym,
			    b[i].r.ok, b[i].r.code, b[i].r.http_status,
			    b[i].r.message);
			bad++;
		}
		unlink(b[i].dest);
		free(b[i].dest);
		free(b[i].url);
	}
	is_int(bad, 0, "%zu fetches at once, each with its own result",
	    sizeof t / sizeof t[0]);
}

int
main(void)
{
	struct membuf	m;
	double		t0 = now();
	const char	*s;

	/* The upstream is on 127.0.0.1: no proxy in the way. */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	signal(SIGPIPE, SIG_IGN);
	log_set_level((s = getenv("TEST_FETCH_DEBUG")) != NULL && *s != '\0' ?
	    LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
	if (mkdtemp(top) == NULL)
		bail("mkdtemp");
	top_made = 1;
	if (fetch_global_init() != 0)
		bail("fetch_global_init");

	test_templates();
	test_retry_after_parse();
	test_check_template();
	test_files();
	test_bad_requests();
	start_upstream();
	control("reset", 1, &m);
	test_limits();		/* first: the peak RSS is still low */
	test_good();
	test_http_errors();
	test_rate_limits();
	test_broken();
	test_content();
	test_timeouts();
	test_cancel();
	test_threads();
	stop_upstream();
	test_canned();

	fetch_global_cleanup();
	free(tmpl);
	if (nftw(top, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		diag("cannot remove %s: %s", top, strerror(errno));
	diag("%.1f s", now() - t0);
	return tap_done();
}
