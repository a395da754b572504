/* fetch_int.h - what the files of the fetch module share, nothing more. */
#ifndef SC_FETCH_INT_H
#define SC_FETCH_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <curl/curl.h>

struct fetch_result;

#define FETCH_HEAD		1024	/* body bytes kept for the checks */
#define FETCH_SEAM		32	/* kept across chunks for phrase search */
#define FETCH_NONE		UINT64_MAX
#define FETCH_MAX_REDIRS	3L
#define FETCH_RETRY_AFTER_MAX	86400L	/* seconds; callers cap lower */

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

/* fetch.c: a Retry-After value in seconds from `now`, or -1. */
long		 fetch_retry_after_parse(const char *, time_t);

/* fetch_body.c: what a body looks like, noted as it streams by. */

/* Space, tab, CR, LF, FF or VT. */
int		 fetch_body_blank(int c);
/* 1 if one of the NULL-terminated `words` is in p[0..n), any case. */
int		 fetch_body_has_word(const char *p, size_t n,
		    const char *const *words);
/* The kind of a Content-Type value (NULL: other). */
enum fetch_ctype fetch_body_ctype(const char *ct);
/* Notes what the content checks need of a chunk at offset base. */
void		 fetch_body_note(struct fetch_attempt *, const char *p,
		    size_t n, uint64_t base);

/* fetch_verdict.c: what an attempt came to. */

/* Sets res->code and res->message; returns v. */
enum fetch_verdict fetch_verdict_set(struct fetch_result *,
		    enum fetch_verdict v, const char *code, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));
/* "disk_full" for ENOSPC and EDQUOT, else "write_error". */
const char	*fetch_write_code(int error);
/* Classifies one attempt; res->code and res->message are set. */
enum fetch_verdict fetch_verdict_of(const struct fetch_attempt *,
		    CURLcode rc, long status, const char *errbuf,
		    struct fetch_result *);

/* fetch_url.c: URL templates and their redaction for logs. */

/* The URL with its password and secret-looking query values as "***". */
void		 fetch_url_redact(const char *url, char *out, size_t size);

#endif
