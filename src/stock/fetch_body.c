/*
 * fetch_body.c - what a downloaded body looks like, noted as it streams.
 *
 * The body goes straight to its file; only its first KiB, a few offsets
 * (first and last byte that is not blank, end of the first line) and,
 * for HTML, whether it names a rate limit are kept, so that
 * fetch_verdict.c can tell CSV from an error page without the body in
 * memory. The phrase search keeps a seam across chunk boundaries.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "stock/fetch.h"
#include "stock/fetch_int.h"

static const unsigned char	fetch_body_bom[3] = { 0xef, 0xbb, 0xbf };
static const char *const	fetch_body_phrases[] = { "rate limit",
    "too many requests", NULL };

int
fetch_body_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	    c == '\f' || c == '\v';
}

int
fetch_body_has_word(const char *p, size_t n, const char *const *words)
{
	size_t	i, len;

	for (; *words != NULL; words++) {
		len = strlen(*words);
		for (i = 0; i + len <= n; i++) {
			if (strncasecmp(p + i, *words, len) == 0)
				return 1;
		}
	}
	return 0;
}

enum fetch_ctype
fetch_body_ctype(const char *ct)
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

/* Follows an HTML body for a rate-limit phrase, across chunk seams. */
static void
fetch_body_scan(struct fetch_attempt *a, const char *p, size_t n)
{
	char	buf[2 * FETCH_SEAM];
	size_t	k = n < FETCH_SEAM ? n : FETCH_SEAM, keep = FETCH_SEAM - 1;

	if (a->phrase)
		return;
	memcpy(buf, a->seam, a->seam_len);
	memcpy(buf + a->seam_len, p, k);
	if (fetch_body_has_word(buf, a->seam_len + k, fetch_body_phrases) ||
	    fetch_body_has_word(p, n, fetch_body_phrases)) {
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
void
fetch_body_note(struct fetch_attempt *a, const char *p, size_t n, uint64_t base)
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
		if (fetch_body_blank(c) || (base + i < sizeof fetch_body_bom &&
		    memcmp(a->head, fetch_body_bom, base + i + 1) == 0))
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
		if (!fetch_body_blank((unsigned char)p[i - 1])) {
			a->text_end = base + i;
			break;
		}
	}
	if (a->ctype == FETCH_CT_HTML || a->first == '<')
		fetch_body_scan(a, p + from, n - from);
}
