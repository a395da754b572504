/*
 * fetch_url.c - source URL templates, and URLs made fit for logs.
 *
 * A template is an http, https or file URL with "{symbol}" in it; the
 * symbol goes in percent-encoded, so it can never add a path segment or
 * a query. Redaction hides passwords and secret-looking query values
 * before a URL reaches a log.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "lib/log.h"
#include "lib/xmalloc.h"
#include "stock/fetch.h"
#include "stock/fetch_int.h"

#define FETCH_PLACEHOLDER	"{symbol}"

/* A query parameter whose name looks like it holds a secret. */
static int
fetch_url_secret(const char *name, size_t n)
{
	static const char *const words[] = { "key", "token", "secret", "pass",
	    "sig", "auth", NULL };

	return fetch_body_has_word(name, n, words);
}

/* Appends n bytes of s to out (size bytes, *off used), truncating. */
static void
fetch_url_emit(char *out, size_t size, size_t *off, const char *s, size_t n)
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
void
fetch_url_redact(const char *url, char *out, size_t size)
{
	const char	*p, *auth, *at, *colon, *name, *eq;
	size_t		 off = 0, len;

	out[0] = '\0';
	p = (p = strstr(url, "://")) != NULL ? p + 3 : url;
	fetch_url_emit(out, size, &off, url, (size_t)(p - url));
	auth = p;
	p += strcspn(p, "/?#");
	if ((at = memchr(auth, '@', (size_t)(p - auth))) != NULL &&
	    (colon = memchr(auth, ':', (size_t)(at - auth))) != NULL) {
		fetch_url_emit(out, size, &off, auth,
		    (size_t)(colon - auth) + 1);
		fetch_url_emit(out, size, &off, "***", 3);
		auth = at;
	}
	fetch_url_emit(out, size, &off, auth, (size_t)(p - auth));
	len = strcspn(p, "?#");
	fetch_url_emit(out, size, &off, p, len);
	for (p += len; *p == '?' || *p == '&';) {
		fetch_url_emit(out, size, &off, p, 1);
		name = ++p;
		p += strcspn(p, "&#");
		eq = memchr(name, '=', (size_t)(p - name));
		if (eq != NULL && fetch_url_secret(name, (size_t)(eq - name))) {
			fetch_url_emit(out, size, &off, name,
			    (size_t)(eq - name) + 1);
			fetch_url_emit(out, size, &off, "***", 3);
		} else
			fetch_url_emit(out, size, &off, name,
			    (size_t)(p - name));
	}
	fetch_url_emit(out, size, &off, p, strlen(p));
}

static int
fetch_url_scheme_ok(const char *url)
{
	return strncasecmp(url, "http://", 7) == 0 ||
	    strncasecmp(url, "https://", 8) == 0 ||
	    strncasecmp(url, "file://", 7) == 0;
}

/* RFC 3986 percent-encoding of all but the unreserved characters. */
static char *
fetch_url_escape(const char *s)
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
	    !fetch_url_scheme_ok(template) ||
	    strstr(template, FETCH_PLACEHOLDER) == NULL)
		return NULL;
	esc = fetch_url_escape(symbol);
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

/* Why the template cannot be a source, or NULL if it can. */
static const char *
fetch_url_why(const char *template)
{
	const curl_version_info_data	*v;
	const char *const		*proto;
	CURLU				*u;
	CURLUcode			 uc;
	char				*url, *host = NULL;
	const char			*why = NULL;
	int				 https = 0;

	if (template == NULL || *template == '\0')
		why = "the source URL is empty";
	else if (!fetch_url_scheme_ok(template))
		why = "the source URL must start with http://, https:// or "
		    "file://";
	else if (strstr(template, FETCH_PLACEHOLDER) == NULL)
		why = "the source URL has no " FETCH_PLACEHOLDER;
	if (why != NULL)
		return why;

	if (strncasecmp(template, "https://", 8) == 0) {
		v = curl_version_info(CURLVERSION_NOW);
		for (proto = v->protocols; *proto != NULL && !https; proto++)
			https = strcmp(*proto, "https") == 0;
		if (!https)
			return "this libcurl cannot do https";
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
		why = "the source URL has no host";
	else if (uc == CURLUE_BAD_PORT_NUMBER)
		why = "the source URL has a bad port number";
	else if (uc != CURLUE_OK)
		why = "the source URL is not a valid URL";
	curl_free(host);
	curl_url_cleanup(u);
	free(url);
	return why;
}

int
fetch_check_template(const char *template, char *err, size_t errlen)
{
	const char	*why = fetch_url_why(template);

	if (why == NULL)
		return 0;
	snprintf(err, errlen, "%s", why);
	return -1;
}
