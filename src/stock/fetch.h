/* fetch.h - download one CSV over http, https or file, with retries. */
#ifndef SC_FETCH_H
#define SC_FETCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct fetch_request {
	const char	*url;		/* already expanded and escaped */
	const char	*dest;		/* file to write the body to (created/truncated, 0644) */
	long		 connect_timeout_ms;	/* default 3000 */
	long		 timeout_ms;		/* total per attempt, default 30000 */
	long		 low_speed_bytes;	/* abort an attempt slower than this ... */
	long		 low_speed_secs;	/* ... for this long (defaults 1 byte/s for 10 s) */
	uint64_t	 max_bytes;		/* default 64 MiB: larger is "too_large" */
	unsigned	 max_attempts;		/* default 4 */
	unsigned	 backoff_ms;		/* first retry delay, default 250 (doubles, full jitter, cap 8000) */
	unsigned	 max_retry_after_s;	/* cap on Retry-After honoured, default 30 */
	const atomic_int *cancel;		/* non-zero: abort now (checked at least every 20 ms, also during backoff) */
	const char	*pinned_key;		/* "sha256//BASE64": https trusts this key alone, whatever the name or CA */
};
/*
 * A zero connect_timeout_ms, timeout_ms, max_bytes or max_attempts means
 * the default; a zero low_speed_bytes or low_speed_secs turns the speed
 * check off; backoff_ms and max_retry_after_s are taken as they are
 * (0: retry at once). cancel and pinned_key may be NULL.
 */

/* Why an attempt was retried: the retried codes below, then the rest. */
enum fetch_retry_reason {
	FETCH_RETRY_RATE_LIMITED, FETCH_RETRY_UPSTREAM_ERROR,
	FETCH_RETRY_TIMEOUT, FETCH_RETRY_CONNECTION, FETCH_RETRY_TRUNCATED,
	FETCH_RETRY_OTHER, FETCH_RETRY_NREASONS
};
/* Their names: the codes, and "other". */
extern const char *const fetch_retry_reasons[FETCH_RETRY_NREASONS];

struct fetch_result {
	int		 ok;
	int		 http_status;		/* of the last attempt, 0 if none */
	unsigned	 attempts;
	uint64_t	 bytes;			/* body bytes written (last attempt) */
	char		 code[32];		/* "" when ok, else one of the codes below */
	char		 message[256];		/* human, e.g. "HTTP 404 from upstream" */
	unsigned	 retries[FETCH_RETRY_NREASONS];	/* attempts retried, by why */
};
/*
 * Codes. Retried while attempts are left: rate_limited (429 or a rate
 * limit page), upstream_error (5xx), timeout, connection (refused, reset),
 * truncated. Final at once: canceled, too_large, http_<status> (other
 * 4xx, and 3xx after too many redirects), bad_url, connection (DNS),
 * tls, bad_response (the reply is not HTTP, e.g. HTTP/0.9),
 * not_csv_html, not_csv_json, empty, header_only, not_csv,
 * file_error (a file:// source that cannot be read), write_error (dest
 * cannot be written), fetch_error (anything else libcurl reports).
 */

/* Fills req with the defaults listed above. */
void	fetch_request_defaults(struct fetch_request *);
/* Process start-up, before threads: curl_global_init; and the matching cleanup. */
int	fetch_global_init(void);
void	fetch_global_cleanup(void);
/* Blocking. Leaves dest holding the body on success; removes it on failure. */
void	fetch_run(const struct fetch_request *, struct fetch_result *);
/* Escapes a symbol and expands "{symbol}" in the template; NULL if the template is not http/https/file or lacks {symbol}. Caller frees. */
/* (NULL too for an empty symbol. Escaping keeps only A-Z a-z 0-9 - . _ ~; a symbol "." or ".." is escaped whole.) */
char	*fetch_expand_url(const char *template, const char *symbol);
/* Checks a source template at start-up: 0, or -1 with the reason in err. */
int	fetch_check_template(const char *template, char *err,
	    size_t errlen);

#endif
