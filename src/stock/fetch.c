/*
 * fetch.c - download one CSV over http, https or file, with retries.
 *
 * fetch_run() is blocking and runs on a fetch-pool worker thread. It owns
 * one easy handle and one multi handle for the whole call: the transfer
 * is driven through curl_multi_poll() in 20 ms slices so that the cancel
 * flag is seen quickly even while a server says nothing, and backoff
 * delays are slept in the same slices. The body streams straight to the
 * destination file; only its first KiB and a few offsets are kept to
 * tell CSV from an error page, so memory does not grow with the body.
 *
 * What is retried: 429, 5xx, timeouts, refused or reset connections,
 * truncated bodies, and a rate-limit page sent as HTTP 200. The delay is
 * the server's Retry-After (capped) or an exponential backoff with full
 * jitter. Everything else fails at once with its own code.
 */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "lib/log.h"
#include "lib/mono.h"
#include "lib/xmalloc.h"
#include "stock/fetch.h"

#define FETCH_HEAD		1024	/* body bytes kept for the checks */
#define FETCH_SEAM		32	/* kept across chunks for phrase search */
#define FETCH_SLICE_MS		20	/* cancel is checked this often */
#define FETCH_BACKOFF_CAP_MS	8000
#define FETCH_MAX_REDIRS	3L
#define FETCH_NONE		UINT64_MAX
#define FETCH_USER_AGENT	"stockcam/" VERSION
#define FETCH_PLACEHOLDER	"{symbol}"

enum fetch_verdict {
	FETCH_OK,
	FETCH_RETRY,
	FETCH_FAIL,
};

enum fetch_ctype {
	FETCH_CT_OTHER,
	FETCH_CT_HTML,
	FETCH_CT_JSON,
};

/* One attempt, as the callbacks see it. Reset before every attempt. */
struct fetch_attempt {
	CURL		*easy;
	int		 fd;
	uint64_t	 max_bytes;
	uint64_t	 bytes;		/* written to fd */
	int		 started;	/* the first body bytes were seen */
	enum fetch_ctype ctype;
	int		 too_large;
	int		 not_2xx;	/* stopped: an error status, not a body */
	int		 write_errno;
	long		 retry_after;	/* seconds, -1 if none */

	char		 head[FETCH_HEAD];
	size_t		 head_len;
	uint64_t	 text_start;	/* first byte not blank (nor BOM) */
	uint64_t	 header_end;	/* the '\n' ending the first line */
	uint64_t	 text_end;	/* one past the last byte not blank */
	int		 first;		/* the byte at text_start */
	int		 phrase;	/* an HTML body names a rate limit */
	char		 seam[FETCH_SEAM];
	size_t		 seam_len;
};

static const unsigned char	fetch_bom[3] = { 0xef, 0xbb, 0xbf };
static const char *const	fetch_phrases[] = { "rate limit",
    "too many requests" };

/* --- small helpers --- */

static int
fetch_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	    c == '\f' || c == '\v';
}

static int
fetch_canceled(const atomic_int *cancel)
{
	return cancel != NULL && atomic_load(cancel) != 0;
}

/* Sleeps ms in slices, watching cancel: 0, or -1 if canceled. */
static int
fetch_sleep(unsigned ms, const atomic_int *cancel)
{
	struct timespec	t0, ts;
	long		left;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (fetch_canceled(cancel))
			return -1;
		if ((left = (long)ms - (long)(mono_since_ns(&t0) / 1000000)) <= 0)
			return 0;
		if (left > FETCH_SLICE_MS)
			left = FETCH_SLICE_MS;
		ts.tv_sec = 0;
		ts.tv_nsec = left * 1000000L;
		nanosleep(&ts, NULL);	/* EINTR: the loop sleeps again */
	}
}

/* xorshift64*, seeded per call: jitter needs no shared state. */
static uint64_t
fetch_random(uint64_t *state)
{
	uint64_t	x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static uint64_t
fetch_seed(void)
{
	struct timespec	ts;
	uint64_t	s;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
	    (uint64_t)(uintptr_t)&ts ^ ((uint64_t)getpid() << 16);
	return s != 0 ? s : 0x9e3779b97f4a7c15ULL;
}

/* Case-insensitive search for the rate-limit phrases. */
static int
fetch_has_phrase(const char *p, size_t n)
{
	size_t	i, k, len;

	for (k = 0; k < sizeof fetch_phrases / sizeof fetch_phrases[0]; k++) {
		len = strlen(fetch_phrases[k]);
		for (i = 0; i + len <= n; i++) {
			if (strncasecmp(p + i, fetch_phrases[k], len) == 0)
				return 1;
		}
	}
	return 0;
}

static enum fetch_ctype
fetch_ctype_of(const char *ct)
{
	size_t	len;

	if (ct == NULL)
		return FETCH_CT_OTHER;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	len = strcspn(ct, "; \t");
	if ((len == 9 && strncasecmp(ct, "text/html", 9) == 0) ||
	    (len == 21 && strncasecmp(ct, "application/xhtml+xml", 21) == 0))
		return FETCH_CT_HTML;
	if ((len == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
	    (len == 9 && strncasecmp(ct, "text/json", 9) == 0) ||
	    (len > 5 && strncasecmp(ct + len - 5, "+json", 5) == 0))
		return FETCH_CT_JSON;
	return FETCH_CT_OTHER;
}

/* --- libcurl callbacks (on the calling thread) --- */

/* Notes a Retry-After (delta-seconds or HTTP-date) of the last response. */
static size_t
fetch_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct fetch_attempt	*a = arg;
	size_t			 total = size * nmemb, n = total;
	size_t			 skip = sizeof "Retry-After:" - 1;
	char			 v[128], *end;
	long long		 secs;
	time_t			 date;

	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0)
		a->retry_after = -1;	/* a new response (redirects) */
	if (n <= skip || strncasecmp(p, "Retry-After:", skip) != 0)
		return total;
	for (p += skip, n -= skip; n > 0 && (*p == ' ' || *p == '\t'); n--)
		p++;
	while (n > 0 && fetch_blank((unsigned char)p[n - 1]))
		n--;
	if (n == 0 || n >= sizeof v)
		return total;
	memcpy(v, p, n);
	v[n] = '\0';
	if (v[0] >= '0' && v[0] <= '9') {
		errno = 0;
		secs = strtoll(v, &end, 10);
		if (*end == '\0' && errno == 0)
			a->retry_after = secs > 86400 ? 86400 : (long)secs;
	} else if ((date = curl_getdate(v, NULL)) != -1) {
		secs = (long long)date - (long long)time(NULL);
		a->retry_after = secs < 0 ? 0 : secs > 86400 ? 86400 :
		    (long)secs;
	}
	return total;
}

/* First call: is this a body for us at all? 0 if not. */
static int
fetch_body_start(struct fetch_attempt *a)
{
	const char	*ct = NULL;
	long		 status = 0;

	a->started = 1;
	if (curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &status) ==
	    CURLE_OK && status != 0 && (status < 200 || status > 299)) {
		a->not_2xx = 1;		/* classified by its status */
		return 0;
	}
	if (curl_easy_getinfo(a->easy, CURLINFO_CONTENT_TYPE, &ct) ==
	    CURLE_OK)
		a->ctype = fetch_ctype_of(ct);
	return 1;
}

/* Follows an HTML body for a rate-limit phrase, across chunk seams. */
static void
fetch_scan(struct fetch_attempt *a, const char *p, size_t n)
{
	char	buf[2 * FETCH_SEAM];
	size_t	k = n < FETCH_SEAM ? n : FETCH_SEAM, keep = FETCH_SEAM - 1;

	if (a->phrase)
		return;
	memcpy(buf, a->seam, a->seam_len);
	memcpy(buf + a->seam_len, p, k);
	if (fetch_has_phrase(buf, a->seam_len + k) || fetch_has_phrase(p, n)) {
		a->phrase = 1;
		return;
	}
	if (n >= keep) {
		memcpy(a->seam, p + n - keep, keep);
		a->seam_len = keep;
	} else {
		k = a->seam_len + n;	/* buf holds seam and all of p */
		a->seam_len = k < keep ? k : keep;
		memcpy(a->seam, buf + k - a->seam_len, a->seam_len);
	}
}

/* Notes what the content checks need; base is the chunk's offset. */
static void
fetch_note(struct fetch_attempt *a, const char *p, size_t n, uint64_t base)
{
	const char	*nl;
	size_t		 i, from = 0;
	unsigned char	 c;

	if (a->head_len < FETCH_HEAD) {
		i = n < FETCH_HEAD - a->head_len ? n : FETCH_HEAD - a->head_len;
		memcpy(a->head + a->head_len, p, i);
		a->head_len += i;
	}
	for (i = 0; a->text_start == FETCH_NONE && i < n; i++) {
		c = (unsigned char)p[i];
		if (fetch_blank(c) || (base + i < sizeof fetch_bom &&
		    memcmp(a->head, fetch_bom, base + i + 1) == 0))
			continue;	/* the head holds bytes 0 to base + i */
		a->text_start = base + i;
		a->first = c;
	}
	if (a->text_start == FETCH_NONE)
		return;
	if (a->text_start > base)
		from = (size_t)(a->text_start - base);
	if (a->header_end == FETCH_NONE &&
	    (nl = memchr(p + from, '\n', n - from)) != NULL)
		a->header_end = base + (uint64_t)(nl - p);
	for (i = n; i > from; i--) {
		if (!fetch_blank((unsigned char)p[i - 1])) {
			a->text_end = base + i;
			break;
		}
	}
	if (a->ctype == FETCH_CT_HTML || a->first == '<')
		fetch_scan(a, p + from, n - from);
}

static size_t
fetch_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct fetch_attempt	*a = arg;
	size_t			 n = size * nmemb, done;
	ssize_t			 w;

	if (!a->started && !fetch_body_start(a))
		return 0;
	if (n > a->max_bytes - a->bytes) {
		a->too_large = 1;
		return 0;
	}
	fetch_note(a, p, n, a->bytes);
	for (done = 0; done < n; done += (size_t)w) {
		w = pwrite(a->fd, p + done, n - done,
		    (off_t)(a->bytes + done));
		if (w < 0 && errno == EINTR) {
			w = 0;
			continue;
		}
		if (w <= 0) {
			a->write_errno = w < 0 ? errno : EIO;
			a->bytes += done;
			return 0;
		}
	}
	a->bytes += n;
	return n;
}

/* --- one attempt --- */

static void
fetch_attempt_reset(struct fetch_attempt *a)
{
	CURL		*easy = a->easy;
	uint64_t	 max_bytes = a->max_bytes;
	int		 fd = a->fd;

	memset(a, 0, sizeof *a);
	a->easy = easy;
	a->fd = fd;
	a->max_bytes = max_bytes;
	a->retry_after = -1;
	a->text_start = a->header_end = FETCH_NONE;
	a->first = -1;
}

/*
 * Drives the transfer through the multi handle, looking at cancel between
 * polls. The transfer's result, or CURLE_ABORTED_BY_CALLBACK if canceled.
 */
static CURLcode
fetch_perform(CURLM *m, CURL *e, const atomic_int *cancel, char *errbuf)
{
	CURLMsg		*msg;
	CURLMcode	 mc;
	CURLcode	 rc = CURLE_FAILED_INIT;
	int		 running = 1, left;

	if ((mc = curl_multi_add_handle(m, e)) != CURLM_OK) {
		snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_multi_strerror(mc));
		return CURLE_FAILED_INIT;
	}
	for (;;) {
		if ((mc = curl_multi_perform(m, &running)) != CURLM_OK ||
		    running == 0)
			break;
		if (fetch_canceled(cancel)) {
			rc = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		if ((mc = curl_multi_poll(m, NULL, 0, FETCH_SLICE_MS,
		    NULL)) != CURLM_OK)
			break;
	}
	if (mc != CURLM_OK)
		snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_multi_strerror(mc));
	while ((msg = curl_multi_info_read(m, &left)) != NULL) {
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == e)
			rc = msg->data.result;
	}
	curl_multi_remove_handle(m, e);
	return rc;
}

static enum fetch_verdict __attribute__((format(printf, 4, 5)))
fetch_set(struct fetch_result *res, enum fetch_verdict v, const char *code,
    const char *fmt, ...)
{
	va_list	ap;

	snprintf(res->code, sizeof res->code, "%s", code);
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof res->message, fmt, ap);
	va_end(ap);
	return v;
}

/* The first line of a body is a CSV header: NULL, or what is wrong. */
static const char *
fetch_header_problem(const struct fetch_attempt *a)
{
	size_t	i, end = a->head_len;
	int	comma = 0;

	if (a->text_start >= a->head_len)
		return "no first line in its first KiB";
	if (a->header_end < end)
		end = (size_t)a->header_end;
	if (end > a->text_start && a->head[end - 1] == '\r' &&
	    a->header_end < a->head_len)
		end--;
	for (i = (size_t)a->text_start; i < end; i++) {
		if ((unsigned char)a->head[i] < 0x20 ||
		    (unsigned char)a->head[i] == 0x7f)
			return "a control character in its first line";
		comma |= a->head[i] == ',';
	}
	return comma ? NULL : "no comma in its first line";
}

/* A whole 2xx body (or a file): is it CSV with rows? */
static enum fetch_verdict
fetch_check_body(const struct fetch_attempt *a, long status,
    struct fetch_result *res)
{
	const char	*why;

	if (a->text_start == FETCH_NONE)
		return fetch_set(res, FETCH_FAIL, "empty", "upstream sent %s",
		    a->bytes == 0 ? "an empty body" : "only blank space");
	if (a->ctype == FETCH_CT_HTML || a->first == '<') {
		if (a->phrase && status != 0)
			return fetch_set(res, FETCH_RETRY, "rate_limited",
			    "upstream sent a rate-limit page (HTTP %ld)",
			    status);
		return fetch_set(res, FETCH_FAIL, "not_csv_html",
		    "upstream sent HTML, not CSV");
	}
	if (a->ctype == FETCH_CT_JSON || a->first == '{' || a->first == '[')
		return fetch_set(res, FETCH_FAIL, "not_csv_json",
		    "upstream sent JSON, not CSV");
	if ((why = fetch_header_problem(a)) != NULL)
		return fetch_set(res, FETCH_FAIL, "not_csv",
		    "upstream sent something that is not CSV (%s)", why);
	if (a->header_end == FETCH_NONE || a->text_end <= a->header_end)
		return fetch_set(res, FETCH_FAIL, "header_only",
		    "upstream sent only a header line, no rows");
	return fetch_set(res, FETCH_OK, "", "%s", "");
}

/* What one attempt came to: res->code and res->message are set. */
static enum fetch_verdict
fetch_verdict_of(const struct fetch_attempt *a, CURLcode rc, long status,
    const char *errbuf, struct fetch_result *res)
{
	const char	*why = *errbuf != '\0' ? errbuf : curl_easy_strerror(rc);
	char		 ebuf[128], http[32];

	snprintf(http, sizeof http, "http_%ld", status);

	if (a->too_large || rc == CURLE_FILESIZE_EXCEEDED)
		return fetch_set(res, FETCH_FAIL, "too_large",
		    "body larger than %" PRIu64 " bytes", a->max_bytes);
	if (a->write_errno != 0)
		return fetch_set(res, FETCH_FAIL, "write_error",
		    "cannot write the download: %s",
		    strerror_r(a->write_errno, ebuf, sizeof ebuf));
	if (status != 0 && (status < 200 || status > 299) &&
	    (rc == CURLE_OK || a->not_2xx)) {
		if (status == 429)
			return fetch_set(res, FETCH_RETRY, "rate_limited",
			    "HTTP 429 (rate limited) from upstream");
		if (status >= 500 && status <= 599)
			return fetch_set(res, FETCH_RETRY, "upstream_error",
			    "HTTP %ld from upstream", status);
		return fetch_set(res, FETCH_FAIL, http,
		    "HTTP %ld from upstream", status);
	}
	switch (rc) {
	case CURLE_OK:
		return fetch_check_body(a, status, res);
	case CURLE_OPERATION_TIMEDOUT:
		return fetch_set(res, FETCH_RETRY, "timeout",
		    "upstream timed out (%s)", why);
	case CURLE_COULDNT_CONNECT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return fetch_set(res, FETCH_RETRY, "connection",
		    "connection to upstream failed (%s)", why);
	case CURLE_PARTIAL_FILE:
		return fetch_set(res, FETCH_RETRY, "truncated",
		    "upstream body truncated (%s)", why);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return fetch_set(res, FETCH_FAIL, "connection",
		    "cannot resolve the upstream host (%s)", why);
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		if (status >= 300 && status <= 399)
			return fetch_set(res, FETCH_FAIL, "bad_url",
			    "upstream redirected to a URL not allowed (%s)",
			    why);
		return fetch_set(res, FETCH_FAIL, "bad_url", "bad URL (%s)",
		    why);
	case CURLE_TOO_MANY_REDIRECTS:
		return fetch_set(res, FETCH_FAIL, status != 0 ? http :
		    "fetch_error", "too many redirects (more than %ld, the "
		    "last HTTP %ld)", FETCH_MAX_REDIRS, status);
	case CURLE_FILE_COULDNT_READ_FILE:
	case CURLE_READ_ERROR:
		return fetch_set(res, FETCH_FAIL, "file_error",
		    "cannot read the source file (%s)", why);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return fetch_set(res, FETCH_FAIL, "tls",
		    "TLS with upstream failed (%s)", why);
	default:
		return fetch_set(res, FETCH_FAIL, "fetch_error",
		    "download failed (%s)", why);
	}
}

/* --- set-up --- */

struct fetch_opts {
	long		 connect_timeout_ms;
	long		 timeout_ms;
	long		 low_speed_bytes;
	long		 low_speed_secs;
	uint64_t	 max_bytes;
	unsigned	 max_attempts;
	unsigned	 backoff_ms;
	unsigned	 max_retry_after_s;
};

static void
fetch_opts_of(const struct fetch_request *req, struct fetch_opts *o)
{
	struct fetch_request	d;

	fetch_request_defaults(&d);
	o->connect_timeout_ms = req->connect_timeout_ms > 0 ?
	    req->connect_timeout_ms : d.connect_timeout_ms;
	o->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : d.timeout_ms;
	o->low_speed_bytes = req->low_speed_bytes > 0 &&
	    req->low_speed_secs > 0 ? req->low_speed_bytes : 0;
	o->low_speed_secs = o->low_speed_bytes > 0 ? req->low_speed_secs : 0;
	o->max_bytes = req->max_bytes > 0 ? req->max_bytes : d.max_bytes;
	o->max_attempts = req->max_attempts > 0 ? req->max_attempts :
	    d.max_attempts;
	o->backoff_ms = req->backoff_ms;
	o->max_retry_after_s = req->max_retry_after_s;
}

static CURLcode
fetch_setup(CURL *e, const struct fetch_opts *o, struct curl_slist *hdrs,
    struct fetch_attempt *a, char *errbuf)
{
	curl_off_t	maxfs = o->max_bytes > (uint64_t)INT64_MAX ?
			    (curl_off_t)INT64_MAX : (curl_off_t)o->max_bytes;
	CURLcode	rc;

	/* Protocols: a server must not redirect us to a local file. */
#if LIBCURL_VERSION_NUM >= 0x075500
	if ((rc = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR,
	    "http,https,file")) != CURLE_OK ||
	    (rc = curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR,
	    "http,https")) != CURLE_OK)
		return rc;
#else
	if ((rc = curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP |
	    CURLPROTO_HTTPS | CURLPROTO_FILE))) != CURLE_OK ||
	    (rc = curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS))) != CURLE_OK)
		return rc;
#endif
	if ((rc = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
	    (rc = curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf)) !=
	    CURLE_OK ||
	    (rc = curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L)) !=
	    CURLE_OK ||
	    (rc = curl_easy_setopt(e, CURLOPT_MAXREDIRS, FETCH_MAX_REDIRS)) !=
	    CURLE_OK ||
	    (rc = curl_easy_setopt(e, CURLOPT_USERAGENT, FETCH_USER_AGENT)) !=
	    CURLE_OK ||
	    (rc = curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs)) != CURLE_OK ||
	    (rc = curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "")) !=
	    CURLE_OK ||
	    (rc = curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	    o->connect_timeout_ms)) != CURLE_OK ||
	    (rc = curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms)) !=
	    CURLE_OK ||
	    (rc = curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT,
	    o->low_speed_bytes)) != CURLE_OK ||
	    (rc = curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
	    o->low_speed_secs)) != CURLE_OK ||
	    (rc = curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, maxfs)) !=
	    CURLE_OK ||
	    (rc = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, fetch_write)) !=
	    CURLE_OK ||
	    (rc = curl_easy_setopt(e, CURLOPT_WRITEDATA, a)) != CURLE_OK ||
	    (rc = curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, fetch_header)) !=
	    CURLE_OK ||
	    (rc = curl_easy_setopt(e, CURLOPT_HEADERDATA, a)) != CURLE_OK)
		return rc;
	return CURLE_OK;
}

/* How long to wait before attempt `next` (2, 3, ...). */
static unsigned
fetch_delay_ms(const struct fetch_opts *o, const struct fetch_attempt *a,
    unsigned next, uint64_t *rng)
{
	uint64_t	cap = o->backoff_ms, top;
	unsigned	i;

	if (a->retry_after >= 0)
		return (unsigned)(a->retry_after < (long)o->max_retry_after_s ?
		    a->retry_after : (long)o->max_retry_after_s) * 1000;
	top = cap > FETCH_BACKOFF_CAP_MS ? cap : FETCH_BACKOFF_CAP_MS;
	for (i = 2; i < next && cap < top; i++)
		cap *= 2;
	if (cap > top)
		cap = top;
	return cap == 0 ? 0 : (unsigned)(fetch_random(rng) % (cap + 1));
}

/* A query parameter whose name looks like it holds a secret. */
static int
fetch_secret_name(const char *name, size_t n)
{
	static const char *const words[] = { "key", "token", "secret", "pass",
	    "sig", "auth" };
	size_t	i, k, len;

	for (k = 0; k < sizeof words / sizeof words[0]; k++) {
		len = strlen(words[k]);
		for (i = 0; i + len <= n; i++) {
			if (strncasecmp(name + i, words[k], len) == 0)
				return 1;
		}
	}
	return 0;
}

/* Appends n bytes of s to out (size bytes, *off used), truncating. */
static void
fetch_emit(char *out, size_t size, size_t *off, const char *s, size_t n)
{
	if (n > size - 1 - *off)
		n = size - 1 - *off;
	memcpy(out + *off, s, n);
	*off += n;
	out[*off] = '\0';
}

/*
 * For logs: the URL with its password and the values of secret-looking
 * query parameters (key, token, secret, pass, sig, auth) as "***".
 */
static void
fetch_redact(const char *url, char *out, size_t size)
{
	const char	*p, *auth, *at, *colon, *name, *eq;
	size_t		 off = 0, len;

	out[0] = '\0';
	p = (p = strstr(url, "://")) != NULL ? p + 3 : url;
	fetch_emit(out, size, &off, url, (size_t)(p - url));
	auth = p;
	p += strcspn(p, "/?#");
	if ((at = memchr(auth, '@', (size_t)(p - auth))) != NULL &&
	    (colon = memchr(auth, ':', (size_t)(at - auth))) != NULL) {
		fetch_emit(out, size, &off, auth, (size_t)(colon - auth) + 1);
		fetch_emit(out, size, &off, "***", 3);
		auth = at;
	}
	fetch_emit(out, size, &off, auth, (size_t)(p - auth));
	len = strcspn(p, "?#");
	fetch_emit(out, size, &off, p, len);
	for (p += len; *p == '?' || *p == '&';) {
		fetch_emit(out, size, &off, p, 1);
		name = ++p;
		p += strcspn(p, "&#");
		eq = memchr(name, '=', (size_t)(p - name));
		if (eq != NULL && fetch_secret_name(name, (size_t)(eq - name))) {
			fetch_emit(out, size, &off, name,
			    (size_t)(eq - name) + 1);
			fetch_emit(out, size, &off, "***", 3);
		} else
			fetch_emit(out, size, &off, name, (size_t)(p - name));
	}
	fetch_emit(out, size, &off, p, strlen(p));
}

/* --- the API --- */

void
fetch_request_defaults(struct fetch_request *req)
{
	memset(req, 0, sizeof *req);
	req->connect_timeout_ms = 3000;
	req->timeout_ms = 30000;
	req->low_speed_bytes = 1;
	req->low_speed_secs = 10;
	req->max_bytes = 64ULL << 20;
	req->max_attempts = 4;
	req->backoff_ms = 250;
	req->max_retry_after_s = 30;
}

int
fetch_global_init(void)
{
	const curl_version_info_data	*v;
	CURLcode			 rc;

	if ((rc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK) {
		log_error("fetch: curl_global_init: %s",
		    curl_easy_strerror(rc));
		return -1;
	}
	v = curl_version_info(CURLVERSION_NOW);
	log_debug("fetch: libcurl %s%s", v->version,
	    (v->features & CURL_VERSION_ASYNCHDNS) ? "" :
	    " (no asynchronous DNS: cancel waits for name look-ups)");
	return 0;
}

void
fetch_global_cleanup(void)
{
	curl_global_cleanup();
}

void
fetch_run(const struct fetch_request *req, struct fetch_result *res)
{
	struct fetch_opts	 o;
	struct fetch_attempt	 a;
	struct timespec		 t0;
	struct curl_slist	*hdrs = NULL;
	CURLM			*m = NULL;
	CURL			*e = NULL;
	CURLcode		 rc;
	enum fetch_verdict	 v = FETCH_FAIL;
	char			 errbuf[CURL_ERROR_SIZE], logurl[512];
	char			 ebuf[128];
	uint64_t		 rng = fetch_seed();
	unsigned		 delay = 0;
	long			 status;
	size_t			 len;

	memset(res, 0, sizeof *res);
	memset(&a, 0, sizeof a);
	a.fd = -1;
	fetch_opts_of(req, &o);
	a.max_bytes = o.max_bytes;
	errbuf[0] = '\0';
	if (log_enabled(LOG_LEVEL_DEBUG) && req->url != NULL)
		fetch_redact(req->url, logurl, sizeof logurl);
	else
		logurl[0] = '\0';

	if (req->url == NULL || *req->url == '\0') {
		v = fetch_set(res, FETCH_FAIL, "bad_url", "no URL");
		goto out;
	}
	if (req->dest == NULL || (a.fd = open(req->dest, O_WRONLY | O_CREAT |
	    O_TRUNC | O_NOCTTY | O_CLOEXEC, 0644)) < 0) {
		v = fetch_set(res, FETCH_FAIL, "write_error",
		    "cannot create %s: %s", req->dest ? req->dest : "(null)",
		    req->dest ? strerror_r(errno, ebuf, sizeof ebuf) :
		    "no file name");
		goto out;
	}
	if ((e = curl_easy_init()) == NULL || (m = curl_multi_init()) == NULL ||
	    (hdrs = curl_slist_append(NULL, "Accept: text/csv")) == NULL)
		fatalx("fetch: cannot set up libcurl: out of memory");
	a.easy = e;
	if ((rc = fetch_setup(e, &o, hdrs, &a, errbuf)) != CURLE_OK) {
		v = fetch_set(res, FETCH_FAIL, "fetch_error",
		    "cannot set up libcurl: %s", curl_easy_strerror(rc));
		goto out;
	}
	if ((rc = curl_easy_setopt(e, CURLOPT_URL, req->url)) != CURLE_OK) {
		v = fetch_set(res, FETCH_FAIL, "bad_url", "bad URL (%s)",
		    curl_easy_strerror(rc));
		goto out;
	}

	for (;;) {
		if (fetch_canceled(req->cancel)) {
			v = fetch_set(res, FETCH_FAIL, "canceled", "canceled");
			break;
		}
		res->attempts++;
		fetch_attempt_reset(&a);
		errbuf[0] = '\0';
		if (ftruncate(a.fd, 0) != 0) {
			v = fetch_set(res, FETCH_FAIL, "write_error",
			    "cannot truncate %s: %s", req->dest,
			    strerror_r(errno, ebuf, sizeof ebuf));
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		rc = fetch_perform(m, e, req->cancel, errbuf);
		status = 0;
		if (curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status) !=
		    CURLE_OK)
			status = 0;
		res->http_status = (int)status;
		res->bytes = a.bytes;
		if (rc == CURLE_ABORTED_BY_CALLBACK)
			v = fetch_set(res, FETCH_FAIL, "canceled", "canceled");
		else
			v = fetch_verdict_of(&a, rc, status, errbuf, res);
		if (v == FETCH_RETRY && res->attempts < o.max_attempts)
			delay = fetch_delay_ms(&o, &a, res->attempts + 1, &rng);
		log_debug("fetch: %s: attempt %u of %u: HTTP %ld, %" PRIu64
		    " bytes, %ld ms: %s%s", logurl, res->attempts,
		    o.max_attempts, status, a.bytes, (long)(mono_since_ns(&t0) / 1000000),
		    v == FETCH_OK ? "ok" : res->message,
		    v == FETCH_RETRY && res->attempts < o.max_attempts ?
		    ", retrying" : "");
		if (v != FETCH_RETRY || res->attempts >= o.max_attempts)
			break;
		if (fetch_sleep(delay, req->cancel) != 0) {
			v = fetch_set(res, FETCH_FAIL, "canceled",
			    "canceled while waiting to retry");
			break;
		}
	}
	if (v != FETCH_OK && res->attempts > 1) {
		len = strlen(res->message);
		snprintf(res->message + len, sizeof res->message - len,
		    " after %u attempts", res->attempts);
	}
out:
	if (a.fd >= 0 && close(a.fd) != 0 && v == FETCH_OK)
		v = fetch_set(res, FETCH_FAIL, "write_error",
		    "cannot write %s: %s", req->dest,
		    strerror_r(errno, ebuf, sizeof ebuf));
	res->ok = v == FETCH_OK;
	if (!res->ok) {
		if (a.fd >= 0 && unlink(req->dest) != 0 && errno != ENOENT)
			log_warn("fetch: cannot remove %s: %s", req->dest,
			    strerror_r(errno, ebuf, sizeof ebuf));
	} else {
		res->code[0] = '\0';
		res->message[0] = '\0';
	}
	if (m != NULL)
		curl_multi_cleanup(m);
	if (e != NULL)
		curl_easy_cleanup(e);
	curl_slist_free_all(hdrs);
}

/* --- URL templates --- */

static int
fetch_scheme_ok(const char *url)
{
	return strncasecmp(url, "http://", 7) == 0 ||
	    strncasecmp(url, "https://", 8) == 0 ||
	    strncasecmp(url, "file://", 7) == 0;
}

/* RFC 3986 percent-encoding of all but the unreserved characters. */
static char *
fetch_escape(const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p;
	char			*out, *q;
	int			 dots = strspn(s, ".") == strlen(s);

	out = q = xreallocarray(NULL, strlen(s) + 1, 3);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		/* "." and ".." would be dot segments: escape them too. */
		if (((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		    *p == '~' || *p == '.') && !dots) {
			*q++ = (char)*p;
			continue;
		}
		*q++ = '%';
		*q++ = hex[*p >> 4];
		*q++ = hex[*p & 0xf];
	}
	*q = '\0';
	return out;
}

char *
fetch_expand_url(const char *template, const char *symbol)
{
	const char	*p, *hit;
	char		*esc, *out;
	size_t		 plen = sizeof FETCH_PLACEHOLDER - 1, tlen, elen, n = 0;
	size_t		 off = 0;

	if (template == NULL || symbol == NULL || *symbol == '\0' ||
	    !fetch_scheme_ok(template) ||
	    strstr(template, FETCH_PLACEHOLDER) == NULL)
		return NULL;
	esc = fetch_escape(symbol);
	elen = strlen(esc);
	tlen = strlen(template);
	for (p = template; (hit = strstr(p, FETCH_PLACEHOLDER)) != NULL;
	    p = hit + plen)
		n++;
	if (elen > plen && n > (SIZE_MAX - tlen - 1) / (elen - plen))
		fatalx("fetch: URL too long");
	out = xmalloc(tlen - n * plen + n * elen + 1);
	for (p = template; (hit = strstr(p, FETCH_PLACEHOLDER)) != NULL;
	    p = hit + plen) {
		memcpy(out + off, p, (size_t)(hit - p));
		off += (size_t)(hit - p);
		memcpy(out + off, esc, elen);
		off += elen;
	}
	memcpy(out + off, p, strlen(p) + 1);
	free(esc);
	return out;
}

int
fetch_check_template(const char *template, const char **why)
{
	const curl_version_info_data	*v;
	const char *const		*proto;
	CURLU				*u;
	CURLUcode			 uc;
	char				*url, *host = NULL;
	int				 https = 0;

	*why = NULL;
	if (template == NULL || *template == '\0')
		*why = "the source URL is empty";
	else if (!fetch_scheme_ok(template))
		*why = "the source URL must start with http://, https:// or "
		    "file://";
	else if (strstr(template, FETCH_PLACEHOLDER) == NULL)
		*why = "the source URL has no " FETCH_PLACEHOLDER;
	if (*why != NULL)
		return -1;

	if (strncasecmp(template, "https://", 8) == 0) {
		v = curl_version_info(CURLVERSION_NOW);
		for (proto = v->protocols; *proto != NULL && !https; proto++)
			https = strcmp(*proto, "https") == 0;
		if (!https) {
			*why = "this libcurl cannot do https";
			return -1;
		}
	}
	url = fetch_expand_url(template, "TEST");
	if ((u = curl_url()) == NULL)
		fatalx("fetch: curl_url: out of memory");
	uc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (uc == CURLUE_OK && strncasecmp(template, "file://", 7) != 0 &&
	    (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    host == NULL || *host == '\0'))
		uc = CURLUE_NO_HOST;
	if (uc == CURLUE_NO_HOST)
		*why = "the source URL has no host";
	else if (uc == CURLUE_BAD_PORT_NUMBER)
		*why = "the source URL has a bad port number";
	else if (uc != CURLUE_OK)
		*why = "the source URL is not a valid URL";
	curl_free(host);
	curl_url_cleanup(u);
	free(url);
	return *why != NULL ? -1 : 0;
}
