/*
 * fetch_verdict.c - what one download attempt came to.
 *
 * Sorts an attempt into ok, retry or fail with a code and a message for
 * people: by the size and write checks first, then the HTTP status, then
 * libcurl's result, and for a whole 2xx body by what fetch_body.c noted
 * of it (empty, HTML, JSON, not CSV, a header and no rows).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "stock/fetch.h"
#include "stock/fetch_int.h"

enum fetch_verdict
fetch_verdict_set(struct fetch_result *res, enum fetch_verdict v,
    const char *code, const char *fmt, ...)
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
fetch_verdict_header(const struct fetch_attempt *a)
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
fetch_verdict_body(const struct fetch_attempt *a, long status,
    struct fetch_result *res)
{
	const char	*why;

	if (a->text_start == FETCH_NONE)
		return fetch_verdict_set(res, FETCH_FAIL, "empty",
		    "upstream sent %s", a->bytes == 0 ? "an empty body" :
		    "only blank space");
	if (a->ctype == FETCH_CT_HTML || a->first == '<') {
		if (a->phrase && status != 0)
			return fetch_verdict_set(res, FETCH_RETRY,
			    "rate_limited", "upstream sent a rate-limit page "
			    "(HTTP %ld)", status);
		return fetch_verdict_set(res, FETCH_FAIL, "not_csv_html",
		    "upstream sent HTML, not CSV");
	}
	if (a->ctype == FETCH_CT_JSON || a->first == '{' || a->first == '[')
		return fetch_verdict_set(res, FETCH_FAIL, "not_csv_json",
		    "upstream sent JSON, not CSV");
	if ((why = fetch_verdict_header(a)) != NULL)
		return fetch_verdict_set(res, FETCH_FAIL, "not_csv",
		    "upstream sent something that is not CSV (%s)", why);
	if (a->header_end == FETCH_NONE || a->text_end <= a->header_end)
		return fetch_verdict_set(res, FETCH_FAIL, "header_only",
		    "upstream sent only a header line, no rows");
	return fetch_verdict_set(res, FETCH_OK, "", "%s", "");
}

/* 1 if the attempt sent a request, so a reply was being read. */
static int
fetch_verdict_sent(const struct fetch_attempt *a)
{
	long	sent = 0;

	if (a->easy == NULL || curl_easy_getinfo(a->easy,
	    CURLINFO_REQUEST_SIZE, &sent) != CURLE_OK)
		return 0;
	return sent > 0;
}

/* What one attempt came to: res->code and res->message are set. */
const char *
fetch_write_code(int error)
{
	return error == ENOSPC || error == EDQUOT ? "disk_full" :
	    "write_error";
}

enum fetch_verdict
fetch_verdict_of(const struct fetch_attempt *a, CURLcode rc, long status,
    const char *errbuf, struct fetch_result *res)
{
	const char	*why = *errbuf != '\0' ? errbuf : curl_easy_strerror(rc);
	char		 ebuf[128], http[32];

	snprintf(http, sizeof http, "http_%ld", status);

	if (a->too_large || rc == CURLE_FILESIZE_EXCEEDED)
		return fetch_verdict_set(res, FETCH_FAIL, "too_large",
		    "body larger than %" PRIu64 " bytes", a->max_bytes);
	if (a->write_errno != 0)
		return fetch_verdict_set(res, FETCH_FAIL,
		    fetch_write_code(a->write_errno),
		    "cannot write the download: %s",
		    strerror_r(a->write_errno, ebuf, sizeof ebuf));
	if (status != 0 && (status < 200 || status > 299) &&
	    (rc == CURLE_OK || a->not_2xx)) {
		if (status == 429)
			return fetch_verdict_set(res, FETCH_RETRY,
			    "rate_limited", "HTTP 429 (rate limited) from "
			    "upstream");
		if (status >= 500 && status <= 599)
			return fetch_verdict_set(res, FETCH_RETRY,
			    "upstream_error", "HTTP %ld from upstream", status);
		return fetch_verdict_set(res, FETCH_FAIL, http,
		    "HTTP %ld from upstream", status);
	}
	switch (rc) {
	case CURLE_OK:
		return fetch_verdict_body(a, status, res);
	case CURLE_OPERATION_TIMEDOUT:
		return fetch_verdict_set(res, FETCH_RETRY, "timeout",
		    "upstream timed out (%s)", why);
	case CURLE_COULDNT_CONNECT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return fetch_verdict_set(res, FETCH_RETRY, "connection",
		    "connection to upstream failed (%s)", why);
	case CURLE_PARTIAL_FILE:
		return fetch_verdict_set(res, FETCH_RETRY, "truncated",
		    "upstream body truncated (%s)", why);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return fetch_verdict_set(res, FETCH_FAIL, "connection",
		    "cannot resolve the upstream host (%s)", why);
	case CURLE_WEIRD_SERVER_REPLY:
		return fetch_verdict_set(res, FETCH_FAIL, "bad_response",
		    "upstream reply is not HTTP (%s)", why);
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		/*
		 * libcurl says "unsupported protocol" for an HTTP/0.9 reply
		 * too (bytes with no status line): a request went out, so
		 * it is the reply that is wrong, not our URL.
		 */
		if (rc == CURLE_UNSUPPORTED_PROTOCOL && status == 0 &&
		    fetch_verdict_sent(a))
			return fetch_verdict_set(res, FETCH_FAIL,
			    "bad_response", "upstream reply is not HTTP (%s)",
			    why);
		if (status >= 300 && status <= 399)
			return fetch_verdict_set(res, FETCH_FAIL, "bad_url",
			    "upstream redirected to a URL not allowed (%s)",
			    why);
		return fetch_verdict_set(res, FETCH_FAIL, "bad_url",
		    "bad URL (%s)", why);
	case CURLE_TOO_MANY_REDIRECTS:
		return fetch_verdict_set(res, FETCH_FAIL, status != 0 ? http :
		    "fetch_error", "too many redirects (more than %ld, the "
		    "last HTTP %ld)", FETCH_MAX_REDIRS, status);
	case CURLE_FILE_COULDNT_READ_FILE:
	case CURLE_READ_ERROR:
		return fetch_verdict_set(res, FETCH_FAIL, "file_error",
		    "cannot read the source file (%s)", why);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return fetch_verdict_set(res, FETCH_FAIL, "tls",
		    "TLS with upstream failed (%s)", why);
	default:
		return fetch_verdict_set(res, FETCH_FAIL, "fetch_error",
		    "download failed (%s)", why);
	}
}
