/*
 * cmd_client_http.c - the client's requests: libcurl, blocking, one at a
 * time; every failure one line on stderr.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cmd/cmd_client_int.h"
#include "lib/xmalloc.h"

#define CLIENT_CONNECT_TIMEOUT_S	5
#define CLIENT_MAX_BODY			(64 * 1024 * 1024)

char *
cmd_client_url(const struct client *cl, const char *path)
{
	char	*url;

	xasprintf(&url, "%s%s", cl->server, path);
	return url;
}

/* Ctrl-C ends a transfer at once, unless it is the one that cleans up. */
static int
client_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	const struct client	*cl = arg;

	return cmd_client_interrupted && !cl->finishing;
}

void
cmd_client_setup(const struct client *cl, void *curl)
{
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, client_progress);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, cl);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT,
	    (long)CLIENT_CONNECT_TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "stockcam/" PACKAGE_VERSION);
	/* Here, so every request has it: calls, downloads, the watch. */
	if (cl->cacert != NULL)
		curl_easy_setopt(curl, CURLOPT_CAINFO, cl->cacert);
	if (cl->user != NULL) {
		curl_easy_setopt(curl, CURLOPT_USERPWD, cl->user);
		curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	} else if (cl->token != NULL) {
		curl_easy_setopt(curl, CURLOPT_XOAUTH2_BEARER, cl->token);
		curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
	}
}

struct sink {
	char	*buf;
	size_t	 len, cap;
};

static size_t
sink_write(char *data, size_t size, size_t n, void *arg)
{
	struct sink	*s = arg;
	size_t		 len = size * n;

	if (s->len + len > CLIENT_MAX_BODY)
		return 0;
	if (s->len + len + 1 > s->cap) {
		s->cap = (s->len + len + 1) * 2;
		s->buf = xreallocarray(s->buf, s->cap, 1);
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	s->buf[s->len] = '\0';
	return len;
}

static struct curl_slist *
client_headers(const char *body, const char *const *extra)
{
	struct curl_slist	*h = NULL;

	if (body != NULL)
		h = curl_slist_append(h, "Content-Type: application/json");
	for (; extra != NULL && *extra != NULL; extra++)
		h = curl_slist_append(h, *extra);
	return h;
}

int
cmd_client_call(const struct client *cl, const char *method, const char *path,
    const char *body, const char *const *headers, struct client_reply *r)
{
	struct sink		 s = { NULL, 0, 0 };
	struct curl_slist	*h;
	CURL			*curl;
	CURLcode		 rc;
	char			*url, errbuf[CURL_ERROR_SIZE] = "";

	memset(r, 0, sizeof *r);
	if ((curl = curl_easy_init()) == NULL) {
		fprintf(stderr, "stockcam: libcurl cannot start\n");
		return -1;
	}
	url = cmd_client_url(cl, path);
	h = client_headers(body, headers);
	cmd_client_setup(cl, curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL)
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
		r->body = s.buf != NULL ? s.buf : xstrdup("");
		r->len = s.len;
		r->json = json_loadb(r->body, r->len, 0, NULL);
	} else {
		if (rc != CURLE_ABORTED_BY_CALLBACK)	/* Ctrl-C: said once */
			fprintf(stderr, "stockcam: %s: %s\n", cl->server,
			    errbuf[0] != '\0' ? errbuf :
			    curl_easy_strerror(rc));
		free(s.buf);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(curl);
	free(url);
	return rc == CURLE_OK ? 0 : -1;
}

void
cmd_client_reply_free(struct client_reply *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof *r);
}

int
cmd_client_refused(const char *what, const struct client_reply *r)
{
	const char	*detail = NULL;
	json_t		*d;

	if (r->json != NULL && (d = json_object_get(r->json, "detail")) != NULL)
		detail = json_string_value(d);
	if (detail != NULL)
		fprintf(stderr, "stockcam: %s: %s (HTTP %ld)\n", what, detail,
		    r->status);
	else
		fprintf(stderr, "stockcam: %s: HTTP %ld from the server\n",
		    what, r->status);
	return CLIENT_UNREACHABLE;
}

int
cmd_client_download(const struct client *cl, const char *path,
    const char *to)
{
	CURL		*curl;
	CURLcode	 rc;
	FILE		*f;
	char		*url, *tmp, errbuf[CURL_ERROR_SIZE] = "";
	long		 status = 0;
	int		 ok;

	if ((curl = curl_easy_init()) == NULL)
		return CLIENT_UNREACHABLE;
	xasprintf(&tmp, "%s.part", to);
	if ((f = fopen(tmp, "wb")) == NULL) {
		fprintf(stderr, "stockcam: %s: %s\n", tmp, strerror(errno));
		curl_easy_cleanup(curl);
		free(tmp);
		return CLIENT_JOB_FAILED;
	}
	url = cmd_client_url(cl, path);
	cmd_client_setup(cl, curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	ok = fclose(f) == 0 && rc == CURLE_OK && status == 200;
	if (rc != CURLE_OK && rc != CURLE_ABORTED_BY_CALLBACK)
		fprintf(stderr, "stockcam: %s: %s\n", url, errbuf[0] != '\0' ?
		    errbuf : curl_easy_strerror(rc));
	else if (status != 200)
		fprintf(stderr, "stockcam: %s: HTTP %ld\n", url, status);
	if (ok && rename(tmp, to) != 0) {
		fprintf(stderr, "stockcam: %s: %s\n", to, strerror(errno));
		ok = 0;
	}
	if (!ok)
		unlink(tmp);
	curl_easy_cleanup(curl);
	free(url);
	free(tmp);
	if (ok)
		return CLIENT_OK;
	return rc != CURLE_OK || status != 200 ? CLIENT_UNREACHABLE :
	    CLIENT_JOB_FAILED;
}
