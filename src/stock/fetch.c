/*
 * fetch.c - download one CSV over http, https or file, with retries.
 *
 * fetch_run() is blocking and runs on a fetch-pool worker thread. It owns
 * one easy handle and one multi handle for the whole call: the transfer
 * is driven through curl_multi_poll() in 20 ms slices so that the cancel
 * flag is seen quickly even while a server says nothing, and backoff
 * delays are slept in the same slices. The body streams straight to the
 * destination file; only its first KiB and a few offsets are kept to
 * tell CSV from an error page (fetch_body.c), so memory does not grow
 * with the body. fetch_verdict.c judges each attempt; fetch_url.c
 * expands source templates and redacts URLs for the logs.
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
#include "stock/fetch_int.h"

#define FETCH_SLICE_MS		20	/* cancel is checked this often */
#define FETCH_BACKOFF_CAP_MS	8000
#define FETCH_USER_AGENT	"stockcam/" VERSION

/* --- small helpers --- */

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

/* --- libcurl callbacks (on the calling thread) --- */

/*
 * A Retry-After value: seconds from `now`, at most FETCH_RETRY_AFTER_MAX,
 * or -1 if it is neither delta-seconds nor an HTTP-date. Digits too many
 * for a long long still mean "a long time", so they give the maximum
 * (the caller's cap then applies) rather than being ignored.
 */
long
fetch_retry_after_parse(const char *v, time_t now)
{
	const char	*p;
	long long	 secs;
	time_t		 date;

	if (v[0] >= '0' && v[0] <= '9') {
		secs = 0;
		for (p = v; *p >= '0' && *p <= '9'; p++) {
			if (secs < FETCH_RETRY_AFTER_MAX)
				secs = secs * 10 + (*p - '0');
		}
		if (*p != '\0')
			return -1;
		return secs > FETCH_RETRY_AFTER_MAX ? FETCH_RETRY_AFTER_MAX :
		    (long)secs;
	}
	if ((date = curl_getdate(v, NULL)) == -1)
		return -1;
	secs = (long long)date - (long long)now;
	return secs < 0 ? 0 : secs > FETCH_RETRY_AFTER_MAX ?
	    FETCH_RETRY_AFTER_MAX : (long)secs;
}

/* Notes a Retry-After (delta-seconds or HTTP-date) of the last response. */
static size_t
fetch_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct fetch_attempt	*a = arg;
	size_t			 total = size * nmemb, n = total;
	size_t			 skip = sizeof "Retry-After:" - 1;
	char			 v[128];
	long			 secs;

	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0)
		a->retry_after = -1;	/* a new response (redirects) */
	if (n <= skip || strncasecmp(p, "Retry-After:", skip) != 0)
		return total;
	for (p += skip, n -= skip; n > 0 && (*p == ' ' || *p == '\t'); n--)
		p++;
	while (n > 0 && fetch_body_blank((unsigned char)p[n - 1]))
		n--;
	if (n == 0 || n >= sizeof v)
		return total;
	memcpy(v, p, n);
	v[n] = '\0';
	if ((secs = fetch_retry_after_parse(v, time(NULL))) != -1)
		a->retry_after = secs;
	return total;
}

/* First call: is this a body for us at all? 0 if not. */
static int
fetch_start_body(struct fetch_attempt *a)
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
		a->ctype = fetch_body_ctype(ct);
	return 1;
}

static size_t
fetch_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct fetch_attempt	*a = arg;
	size_t			 n = size * nmemb, done;
	ssize_t			 w;

	if (!a->started && !fetch_start_body(a))
		return 0;
	if (n > a->max_bytes - a->bytes) {
		a->too_large = 1;
		return 0;
	}
	fetch_body_note(a, p, n, a->bytes);
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

const char *const fetch_retry_reasons[FETCH_RETRY_NREASONS] = {
	"rate_limited", "upstream_error", "timeout", "connection", "truncated",
	"other"
};

/* The retry reason of an attempt's code. */
static enum fetch_retry_reason
fetch_retry_reason(const char *code)
{
	unsigned	i;

	for (i = 0; i < FETCH_RETRY_OTHER; i++) {
		if (strcmp(code, fetch_retry_reasons[i]) == 0)
			return (enum fetch_retry_reason)i;
	}
	return FETCH_RETRY_OTHER;
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
		fetch_url_redact(req->url, logurl, sizeof logurl);
	else
		logurl[0] = '\0';

	if (req->url == NULL || *req->url == '\0') {
		v = fetch_verdict_set(res, FETCH_FAIL, "bad_url", "no URL");
		goto out;
	}
	if (req->dest == NULL || (a.fd = open(req->dest, O_WRONLY | O_CREAT |
	    O_TRUNC | O_NOCTTY | O_CLOEXEC, 0644)) < 0) {
		v = fetch_verdict_set(res, FETCH_FAIL, req->dest == NULL ?
		    "write_error" : fetch_write_code(errno),
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
		v = fetch_verdict_set(res, FETCH_FAIL, "fetch_error",
		    "cannot set up libcurl: %s", curl_easy_strerror(rc));
		goto out;
	}
	/*
	 * A pinned key is the whole check: the server is the one holding
	 * that key (our own, serving the synthetic source over HTTPS, with
	 * a certificate made for other names or by a private CA).
	 */
	if (req->pinned_key != NULL &&
	    ((rc = curl_easy_setopt(e, CURLOPT_PINNEDPUBLICKEY,
	    req->pinned_key)) != CURLE_OK ||
	    (rc = curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L)) !=
	    CURLE_OK ||
	    (rc = curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L)) !=
	    CURLE_OK)) {
		v = fetch_verdict_set(res, FETCH_FAIL, "fetch_error",
		    "cannot pin the source's key: %s", curl_easy_strerror(rc));
		goto out;
	}
	if ((rc = curl_easy_setopt(e, CURLOPT_URL, req->url)) != CURLE_OK) {
		v = fetch_verdict_set(res, FETCH_FAIL, "bad_url",
		    "bad URL (%s)", curl_easy_strerror(rc));
		goto out;
	}

	for (;;) {
		if (fetch_canceled(req->cancel)) {
			v = fetch_verdict_set(res, FETCH_FAIL, "canceled",
			    "canceled");
			break;
		}
		res->attempts++;
		fetch_attempt_reset(&a);
		errbuf[0] = '\0';
		if (ftruncate(a.fd, 0) != 0) {
			v = fetch_verdict_set(res, FETCH_FAIL, "write_error",
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
			v = fetch_verdict_set(res, FETCH_FAIL, "canceled",
			    "canceled");
		else
			v = fetch_verdict_of(&a, rc, status, errbuf, res);
		if (v == FETCH_RETRY && res->attempts < o.max_attempts) {
			delay = fetch_delay_ms(&o, &a, res->attempts + 1, &rng);
			res->retries[fetch_retry_reason(res->code)]++;
		}
		log_debug("fetch: %s: attempt %u of %u: HTTP %ld, %" PRIu64
		    " bytes, %ld ms: %s%s", logurl, res->attempts,
		    o.max_attempts, status, a.bytes, (long)(mono_since_ns(&t0) / 1000000),
		    v == FETCH_OK ? "ok" : res->message,
		    v == FETCH_RETRY && res->attempts < o.max_attempts ?
		    ", retrying" : "");
		if (v != FETCH_RETRY || res->attempts >= o.max_attempts)
			break;
		if (fetch_sleep(delay, req->cancel) != 0) {
			v = fetch_verdict_set(res, FETCH_FAIL, "canceled",
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
		v = fetch_verdict_set(res, FETCH_FAIL, fetch_write_code(errno),
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
