/*
 * http_tls.c - HTTPS: OpenSSL under the server's bufferevents.
 *
 * With a certificate and key set, every connection the server accepts is
 * a libevent OpenSSL bufferevent in the accepting state; the rest of the
 * layer (http_conn.c) sees decrypted bytes and does not know the
 * difference. The limits hold as they are: the request deadline armed at
 * accept covers the handshake, the write timeout covers a client that
 * stops reading, and the connection cap counts TLS connections like any.
 *
 * TLS 1.2 and later, renegotiation refused, ALPN "http/1.1" only. The
 * context (certificate, key, session cache) is built whole from the files
 * and swapped in by http_tls_reload: connections open keep the context
 * they began with (each SSL holds a reference to it), new ones get the
 * new one, so a reload drops nothing. A reload that fails leaves the old
 * context serving.
 *
 * Stream data handed over by reference (http_stream_write_ref) stays by
 * reference until OpenSSL encrypts it: the one copy TLS must make is its
 * own, into the record it sends.
 */
#include "config.h"

#include <sys/types.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "http/http.h"
#include "http/http_int.h"
#include "lib/prom.h"
#include "lib/xmalloc.h"

#ifdef HAVE_TLS

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <event2/bufferevent_ssl.h>

/* "sha256//" and the base64 of a SHA-256: libcurl's pinned-key form. */
#define TLS_PIN_LEN	(8 + 44)

struct http_tls {
	char		*cert_file;
	char		*key_file;
	SSL_CTX		*ctx;
	char		 pin[TLS_PIN_LEN + 1];
	time_t		 not_after;
	uint64_t	 handshakes_ok;
	uint64_t	 handshakes_failed;
	uint64_t	 reloads_ok;
	uint64_t	 reloads_failed;
};

/*
 * The first OpenSSL error's reason (the cause; what follows it are the
 * callers giving up) into err after what, the queue emptied.
 */
static void
tls_error(char *err, size_t errlen, const char *what)
{
	unsigned long	e, first = 0;
	const char	*reason;

	while ((e = ERR_get_error()) != 0)
		if (first == 0)
			first = e;
	reason = first != 0 ? ERR_reason_error_string(first) : NULL;
	snprintf(err, errlen, "%s%s%s", what, reason != NULL ? ": " : "",
	    reason != NULL ? reason : "");
}

/* Never prompt on the terminal for a passphrase: a locked key fails. */
static int
tls_no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	return 0;
}

/* HTTP/1.1 is all this server speaks; a client offering only h2 is told
 * nothing and may fall back. */
static int
tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char	 http11[] = "\x08http/1.1";
	unsigned char			*sel;

	if (SSL_select_next_proto(&sel, outlen, http11, sizeof http11 - 1,
	    in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* The certificate's public key as "sha256//BASE64", and when it expires. */
static int
tls_describe_cert(SSL_CTX *ctx, char pin[TLS_PIN_LEN + 1], time_t *not_after)
{
	X509		*x = SSL_CTX_get0_certificate(ctx);
	unsigned char	*der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	struct tm	 tm;
	int		 len, ok;

	if (x == NULL)
		return -1;
	if ((len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der)) <= 0)
		return -1;
	ok = EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL);
	OPENSSL_free(der);
	if (!ok || mdlen != 32)
		return -1;
	memcpy(pin, "sha256//", 8);
	EVP_EncodeBlock((unsigned char *)pin + 8, md, 32);
	*not_after = 0;
	memset(&tm, 0, sizeof tm);
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
		*not_after = timegm(&tm);
	return 0;
}

/* A server context from the files; NULL with the reason in err. */
static SSL_CTX *
tls_context(const char *cert, const char *key, char pin[TLS_PIN_LEN + 1],
    time_t *not_after, char *err, size_t errlen)
{
	SSL_CTX		*ctx;
	char		 what[1024];	/* what failed; cut if long */
	const char	*bad;
	uint64_t	 opts;

	/* OpenSSL says "system library" for these; say what it was. */
	if ((bad = cert, access(cert, R_OK) != 0) ||
	    (bad = key, access(key, R_OK) != 0)) {
		snprintf(err, errlen, "%s: %s", bad, strerror(errno));
		return NULL;
	}
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_error(err, errlen, "SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	opts = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE;
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* A client that closes without close_notify is at EOF, as with
	 * OpenSSL 1.1 (libevent then reports EOF, not an error). */
	opts |= SSL_OP_IGNORE_UNEXPECTED_EOF;
#endif
	SSL_CTX_set_options(ctx, opts);
	/* Idle keep-alive connections give their buffers back. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_default_passwd_cb(ctx, tls_no_passphrase);
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_select, NULL);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"stockcam",
	    8);

	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(what, sizeof what, "certificate %s", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		snprintf(what, sizeof what, "key %s", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(what, sizeof what, "key %s does not match certificate "
		    "%s", key, cert);
		goto fail;
	}
	if (tls_describe_cert(ctx, pin, not_after) != 0) {
		snprintf(what, sizeof what, "certificate %s: cannot read its "
		    "public key", cert);
		goto fail;
	}
	return ctx;
fail:
	tls_error(err, errlen, what);
	SSL_CTX_free(ctx);
	return NULL;
}

int
http_tls_set(struct http_server *srv, const char *cert, const char *key,
    char *err, size_t errlen)
{
	struct http_tls	*tls;
	SSL_CTX		*ctx;
	char		 pin[TLS_PIN_LEN + 1];
	time_t		 not_after;

	if (srv->tls != NULL) {
		snprintf(err, errlen, "TLS is set already");
		return -1;
	}
	if ((ctx = tls_context(cert, key, pin, &not_after, err,
	    errlen)) == NULL)
		return -1;
	tls = xcalloc(1, sizeof *tls);
	tls->cert_file = xstrdup(cert);
	tls->key_file = xstrdup(key);
	tls->ctx = ctx;
	memcpy(tls->pin, pin, sizeof tls->pin);
	tls->not_after = not_after;
	srv->tls = tls;
	return 0;
}

int
http_tls_reload(struct http_server *srv, char *err, size_t errlen)
{
	struct http_tls	*tls = srv->tls;
	SSL_CTX		*ctx;
	char		 pin[TLS_PIN_LEN + 1];
	time_t		 not_after;

	if (tls == NULL) {
		snprintf(err, errlen, "no TLS to reload");
		return -1;
	}
	if ((ctx = tls_context(tls->cert_file, tls->key_file, pin, &not_after,
	    err, errlen)) == NULL) {
		tls->reloads_failed++;
		return -1;
	}
	SSL_CTX_free(tls->ctx);		/* open connections hold their own */
	tls->ctx = ctx;
	memcpy(tls->pin, pin, sizeof tls->pin);
	tls->not_after = not_after;
	tls->reloads_ok++;
	return 0;
}

const char *
http_tls_pin(const struct http_server *srv)
{
	return srv->tls != NULL ? srv->tls->pin : NULL;
}

time_t
http_tls_not_after(const struct http_server *srv)
{
	return srv->tls != NULL ? srv->tls->not_after : 0;
}

struct bufferevent *
http_tls_bufferevent(struct http_server *srv, int fd)
{
	struct bufferevent	*bev;
	SSL			*ssl;

	if ((ssl = SSL_new(srv->tls->ctx)) == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(srv->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	/* A client's close without close_notify is its EOF, not an error:
	 * HTTP frames its messages itself. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

void
http_tls_handshake(struct http_server *srv, int ok)
{
	if (ok)
		srv->tls->handshakes_ok++;
	else
		srv->tls->handshakes_failed++;
}

void
http_tls_close_notify(struct bufferevent *bev)
{
	SSL	*ssl = bufferevent_openssl_get_ssl(bev);

	/* Straight to the socket: the output has drained already. */
	if (ssl != NULL && SSL_is_init_finished(ssl))
		(void)SSL_shutdown(ssl);
	ERR_clear_error();	/* a full socket buffer just means none */
}

const char *
http_tls_strerror(struct bufferevent *bev, char *buf, size_t len)
{
	unsigned long	e, cause = 0;

	/*
	 * Newest first: OpenSSL's queue, then SSL_get_error's code (no
	 * library in it), which libevent put there before them.
	 */
	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (cause == 0 && ERR_GET_LIB(e) != 0)
			cause = e;
	if (cause == 0)
		return NULL;
	ERR_error_string_n(cause, buf, len);
	return buf;
}

void
http_tls_metrics_write(const struct http_server *srv, struct evbuffer *b)
{
	const struct http_tls	*tls = srv->tls;

	if (tls == NULL)
		return;
	prom_family(b, "stockcam_tls_handshakes_total", "counter",
	    "TLS handshakes by result; failed counts connections closed "
	    "before theirs completed.");
	prom_u64(b, "stockcam_tls_handshakes_total", "result=\"ok\"",
	    tls->handshakes_ok);
	prom_u64(b, "stockcam_tls_handshakes_total", "result=\"failed\"",
	    tls->handshakes_failed);
	prom_family(b, "stockcam_tls_reloads_total", "counter",
	    "Certificate and key reloads (SIGHUP) by result.");
	prom_u64(b, "stockcam_tls_reloads_total", "result=\"ok\"",
	    tls->reloads_ok);
	prom_u64(b, "stockcam_tls_reloads_total", "result=\"failed\"",
	    tls->reloads_failed);
	prom_family(b, "stockcam_tls_certificate_expiry_timestamp_seconds",
	    "gauge", "When the certificate served now expires (Unix time).");
	prom_u64(b, "stockcam_tls_certificate_expiry_timestamp_seconds", NULL,
	    (uint64_t)(tls->not_after > 0 ? tls->not_after : 0));
}

void
http_tls_free(struct http_server *srv)
{
	struct http_tls	*tls = srv->tls;

	if (tls == NULL)
		return;
	SSL_CTX_free(tls->ctx);
	free(tls->cert_file);
	free(tls->key_file);
	free(tls);
	srv->tls = NULL;
}

#else /* !HAVE_TLS */

int
http_tls_set(struct http_server *srv, const char *cert, const char *key,
    char *err, size_t errlen)
{
	snprintf(err, errlen, "this stockcam was built without TLS "
	    "(configure --without-tls)");
	return -1;
}

int
http_tls_reload(struct http_server *srv, char *err, size_t errlen)
{
	snprintf(err, errlen, "no TLS to reload");
	return -1;
}

const char *
http_tls_pin(const struct http_server *srv)
{
	return NULL;
}

time_t
http_tls_not_after(const struct http_server *srv)
{
	return 0;
}

struct bufferevent *
http_tls_bufferevent(struct http_server *srv, int fd)
{
	return NULL;
}

void
http_tls_handshake(struct http_server *srv, int ok)
{
}

void
http_tls_close_notify(struct bufferevent *bev)
{
}

const char *
http_tls_strerror(struct bufferevent *bev, char *buf, size_t len)
{
	return NULL;
}

void
http_tls_metrics_write(const struct http_server *srv, struct evbuffer *b)
{
}

void
http_tls_free(struct http_server *srv)
{
}

#endif /* HAVE_TLS */
