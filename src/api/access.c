/*
 * access.c - authentication, roles and CORS in front of the router.
 *
 * The --auth file holds one user a line, NAME:HASH:ROLE, HASH a crypt(3)
 * hash (yescrypt "$y$", SHA-512 "$6$", SHA-256 "$5$": what mkpasswd,
 * `openssl passwd -6` and `stockcam passwd` print). A request carries
 * HTTP Basic credentials (NAME and password) or a Bearer token
 * NAME.SECRET, checked like the password of NAME's line: programs get
 * lines of their own with long random secrets.
 *
 * crypt(3) is slow on purpose (milliseconds), so the check runs on a
 * worker pool while the request waits; a credential that passed is then
 * remembered for a few minutes under its HMAC (with a key made at start,
 * never the secret itself), and later requests cost a hash and a
 * constant-time compare. A user unknown to the file costs the same as a
 * wrong password (a hash of the first user is checked). Each failure is
 * answered after a delay, and an address with too many failures in a
 * while is refused (429) without a check until the while is over.
 *
 * viewer may GET (and HEAD) everything, the camera included; operator
 * may also POST and DELETE. CORS preflights are answered here without
 * credentials, as browsers send them.
 */
#include "config.h"

#include <sys/random.h>
#include <sys/queue.h>
#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "api/access.h"
#include "http/http.h"
#include "http/reply.h"
#include "http/router.h"
#include "lib/log.h"
#include "lib/mono.h"
#include "lib/pool.h"
#include "lib/sha256.h"
#include "lib/xmalloc.h"

#define ACCESS_NAME_MAX		64
#define ACCESS_SECRET_MAX	256
#define ACCESS_CACHE		64	/* credentials remembered */
#define ACCESS_CACHE_S		300
#define ACCESS_FAIL_SLOTS	1024	/* addresses with failures */
#define ACCESS_FAIL_WINDOW_S	600
#define ACCESS_FAIL_MAX		10	/* then 429 for the rest of it */
#define ACCESS_REALM		"stockcam"

enum access_role { ROLE_VIEWER, ROLE_OPERATOR };

struct access_user {
	char			 name[ACCESS_NAME_MAX + 1];
	char			*hash;
	enum access_role	 role;
};

struct access_cached {
	unsigned char	key[SHA256_LEN];	/* HMAC of the header */
	int		user;			/* -1: free */
	time_t		expires;		/* monotonic seconds */
};

struct access_fail {
	char		addr[48];
	unsigned	n;
	time_t		since;			/* first of the window */
};

/* A check on the pool, and then perhaps a delayed 401. */
struct access_check {
	TAILQ_ENTRY(access_check) entry;
	struct access		*a;
	struct http_request	*req;	/* NULL once the client left */
	int			 user;	/* -1: no such name */
	char			*secret;
	const char		*hash;
	unsigned char		 key[SHA256_LEN];
	char			 addr[48];
	int			 verified;
	uint64_t		 pool_id;
	struct event		*delay;
};
TAILQ_HEAD(access_checks, access_check);

struct access {
	struct event_base	*base;
	const struct router	*router;
	struct pool		*pool;
	struct access_config	 cfg;
	char			*origins;	/* copy of allow_origin */
	struct access_user	*users;		/* NULL: no --auth */
	size_t			 nusers;
	unsigned char		 hmac_key[32];
	struct access_cached	 cache[ACCESS_CACHE];
	struct access_fail	 fails[ACCESS_FAIL_SLOTS];
	struct access_checks	 checks;	/* on the pool or delayed */
};

static const char *role_names[] = { "viewer", "operator" };

/* --- the users file --- */

static int
name_ok(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > ACCESS_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' &&
		    s[i] != '-')
			return 0;
	}
	return 1;
}

/*
 * A hash of a method crypt(3) has and that is still strong: yescrypt,
 * scrypt, bcrypt, SHA-512 and SHA-256 crypt (libxcrypt calls the SHA
 * ones legacy, but they are what `openssl passwd` makes); not MD5 or DES.
 */
static int
hash_ok(const char *hash)
{
	static const char *const prefixes[] = {
		"$y$", "$gy$", "$7$", "$2b$", "$2y$", "$6$", "$5$"
	};
	size_t	i;
	int	rv = crypt_checksalt(hash);

	if (rv != CRYPT_SALT_OK && rv != CRYPT_SALT_METHOD_LEGACY)
		return 0;
	for (i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		if (strncmp(hash, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	}
	return 0;
}

static int
access_parse_line(struct access *a, char *line, const char *file,
    unsigned lineno, char *err, size_t errlen)
{
	char			*name = line, *hash, *role;
	struct access_user	*u;
	size_t			 i;

	if ((hash = strchr(name, ':')) == NULL ||
	    (role = strrchr(hash + 1, ':')) == NULL) {
		snprintf(err, errlen, "%s:%u: not NAME:HASH:ROLE", file,
		    lineno);
		return -1;
	}
	*hash++ = '\0';
	*role++ = '\0';
	if (!name_ok(name, strlen(name))) {
		snprintf(err, errlen, "%s:%u: the name must be 1 to %d "
		    "letters, digits, _ or -", file, lineno, ACCESS_NAME_MAX);
		return -1;
	}
	if (!hash_ok(hash)) {
		snprintf(err, errlen, "%s:%u: %s: the hash is not a crypt(3) hash "
		    "of yescrypt ($y$), scrypt, bcrypt, SHA-512 ($6$) or "
		    "SHA-256 ($5$)", file,
		    lineno, name);
		return -1;
	}
	for (i = 0; i < a->nusers; i++) {
		if (strcmp(a->users[i].name, name) == 0) {
			snprintf(err, errlen, "%s:%u: %s is listed twice",
			    file, lineno, name);
			return -1;
		}
	}
	a->users = xreallocarray(a->users, a->nusers + 1, sizeof *a->users);
	u = &a->users[a->nusers];
	snprintf(u->name, sizeof u->name, "%s", name);
	if (strcmp(role, "viewer") == 0)
		u->role = ROLE_VIEWER;
	else if (strcmp(role, "operator") == 0)
		u->role = ROLE_OPERATOR;
	else {
		snprintf(err, errlen, "%s:%u: %s: role '%s' is not viewer or "
		    "operator", file, lineno, name, role);
		return -1;
	}
	u->hash = xstrdup(hash);
	a->nusers++;
	return 0;
}

static int
access_load(struct access *a, const char *file, char *err, size_t errlen)
{
	FILE		*f;
	char		*line = NULL, *p;
	size_t		 cap = 0, len;
	unsigned	 lineno = 0;
	int		 rv = 0;

	if ((f = fopen(file, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	while (rv == 0 && getline(&line, &cap, f) != -1) {
		lineno++;
		len = strcspn(line, "\r\n");
		line[len] = '\0';
		for (p = line; isspace((unsigned char)*p); p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		rv = access_parse_line(a, p, file, lineno, err, errlen);
	}
	if (rv == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		rv = -1;
	}
	free(line);
	fclose(f);
	if (rv == 0 && a->nusers == 0) {
		snprintf(err, errlen, "%s: no users (one a line: NAME:HASH:ROLE)",
		    file);
		rv = -1;
	}
	return rv;
}

/* --- credentials --- */

/* Standard base64 into out (NUL-terminated); its length, or -1. */
static ssize_t
base64_decode(const char *in, char *out, size_t outlen)
{
	static const char	 abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const char		*c;
	uint32_t		 acc = 0;
	size_t			 n = 0, bits = 0, pad = 0;

	for (; *in != '\0'; in++) {
		if (*in == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (c = strchr(abc, *in)) == NULL)
			return -1;
		acc = acc << 6 | (uint32_t)(c - abc);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n + 1 >= outlen)
				return -1;
			out[n++] = (char)(acc >> bits & 0xff);
		}
	}
	if (pad > 2)
		return -1;
	out[n] = '\0';
	return (ssize_t)n;
}

/*
 * The name and secret of an Authorization value: Basic base64(NAME:PW)
 * or Bearer NAME.SECRET. 0, or -1 if it is neither.
 */
static int
access_credentials(const char *value, char *name, char *secret)
{
	char		 buf[ACCESS_NAME_MAX + ACCESS_SECRET_MAX + 4];
	const char	*sep;
	char		 delim;
	size_t		 nlen;

	if (strncasecmp(value, "Basic ", 6) == 0) {
		for (value += 6; *value == ' '; value++)
			;
		if (base64_decode(value, buf, sizeof buf) < 0)
			return -1;
		delim = ':';
	} else if (strncasecmp(value, "Bearer ", 7) == 0) {
		for (value += 7; *value == ' '; value++)
			;
		if (strlen(value) >= sizeof buf)
			return -1;
		snprintf(buf, sizeof buf, "%s", value);
		delim = '.';
	} else
		return -1;
	if ((sep = strchr(buf, delim)) == NULL)
		return -1;
	nlen = (size_t)(sep - buf);
	if (!name_ok(buf, nlen) || strlen(sep + 1) > ACCESS_SECRET_MAX ||
	    sep[1] == '\0')
		return -1;
	memcpy(name, buf, nlen);
	name[nlen] = '\0';
	snprintf(secret, ACCESS_SECRET_MAX + 1, "%s", sep + 1);
	explicit_bzero(buf, sizeof buf);
	return 0;
}

static int
access_find_user(const struct access *a, const char *name)
{
	size_t	i;

	for (i = 0; i < a->nusers; i++) {
		if (strcmp(a->users[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

static int
access_cache_find(struct access *a, const unsigned char *key)
{
	time_t		now = (time_t)mono_now().tv_sec;
	unsigned	i;
	int		found = -1;

	/* Every slot is compared, so the time says nothing of a hit. */
	for (i = 0; i < ACCESS_CACHE; i++) {
		if (a->cache[i].user >= 0 && a->cache[i].expires > now &&
		    sha256_equal(a->cache[i].key, key, SHA256_LEN))
			found = a->cache[i].user;
	}
	return found;
}

static void
access_cache_add(struct access *a, const unsigned char *key, int user)
{
	unsigned	i, oldest = 0;

	for (i = 0; i < ACCESS_CACHE; i++) {
		if (a->cache[i].user < 0) {
			oldest = i;
			break;
		}
		if (a->cache[i].expires < a->cache[oldest].expires)
			oldest = i;
	}
	memcpy(a->cache[oldest].key, key, SHA256_LEN);
	a->cache[oldest].user = user;
	a->cache[oldest].expires = (time_t)mono_now().tv_sec + ACCESS_CACHE_S;
}

/* --- failures by address --- */

/* The address of a "host:port" or "[v6]:port" peer. */
static void
peer_addr(const char *peer, char *addr, size_t len)
{
	const char	*colon = strrchr(peer, ':');
	size_t		 n = colon != NULL ? (size_t)(colon - peer) : strlen(peer);

	if (peer[0] == '[' && n >= 2) {
		peer++;
		n -= 2;
	}
	snprintf(addr, len, "%.*s", (int)n, peer);
}

static struct access_fail *
access_fails(struct access *a, const char *addr, int create)
{
	time_t		 now = (time_t)mono_now().tv_sec;
	struct access_fail *f, *victim = &a->fails[0];
	unsigned	 i;

	for (i = 0; i < ACCESS_FAIL_SLOTS; i++) {
		f = &a->fails[i];
		if (f->n > 0 && now - f->since >= ACCESS_FAIL_WINDOW_S)
			f->n = 0;	/* the window is over */
		if (f->n > 0 && strcmp(f->addr, addr) == 0)
			return f;
		if (f->n == 0 || f->since < victim->since)
			victim = f;
	}
	if (!create)
		return NULL;
	/* Full: the oldest window goes (an attacker's many addresses
	 * cost each other their counts, not the server its memory). */
	memset(victim, 0, sizeof *victim);
	snprintf(victim->addr, sizeof victim->addr, "%s", addr);
	victim->since = now;
	return victim;
}

/* --- replies --- */

static void
access_challenge(struct http_request *req, const char *why)
{
	http_reply_header(req, "WWW-Authenticate", "Basic realm=\""
	    ACCESS_REALM "\", charset=\"UTF-8\"");
	http_reply_header(req, "WWW-Authenticate", "Bearer realm=\""
	    ACCESS_REALM "\"");
	reply_problem(req, 401, "%s", why);
}

static void
access_allowed(struct access *a, struct http_request *req, int user)
{
	const struct access_user	*u = &a->users[user];
	enum http_method		 m = http_request_method(req);

	if (u->role != ROLE_OPERATOR && m != HTTP_GET && m != HTTP_HEAD &&
	    m != HTTP_OPTIONS) {
		reply_problem(req, 403, "%s is a %s: it may read and watch, "
		    "not %s (that takes an operator)", u->name,
		    role_names[u->role], http_request_method_name(req));
		return;
	}
	router_dispatch(a->router, req);
}

/* --- the check on the pool --- */

static void
check_free(struct access_check *c)
{
	TAILQ_REMOVE(&c->a->checks, c, entry);
	if (c->delay != NULL)
		event_free(c->delay);
	if (c->secret != NULL) {
		explicit_bzero(c->secret, strlen(c->secret));
		free(c->secret);
	}
	free(c);
}

static void
check_gone(struct http_request *req, void *arg)
{
	struct access_check	*c = arg;

	c->req = NULL;
	if (c->delay != NULL)		/* waiting to say 401: nothing to */
		check_free(c);		/* wait for now */
}

/* Worker thread: only the check's own fields. */
static void
check_work(void *arg)
{
	struct access_check	*c = arg;
	struct crypt_data	*cd;
	const char		*out;

	cd = xcalloc(1, sizeof *cd);
	out = crypt_rn(c->secret, c->hash, cd, sizeof *cd);
	c->verified = c->user >= 0 && out != NULL &&
	    strlen(out) == strlen(c->hash) &&
	    sha256_equal(out, c->hash, strlen(c->hash));
	explicit_bzero(cd, sizeof *cd);
	free(cd);
}

static void
check_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct access_check	*c = arg;

	http_request_set_close_cb(c->req, NULL, NULL);
	access_challenge(c->req, "wrong name or password");
	check_free(c);
}

static void
check_done(void *arg, enum pool_status status)
{
	struct access_check	*c = arg;
	struct access		*a = c->a;
	struct access_fail	*f;
	struct timeval		 tv;

	explicit_bzero(c->secret, strlen(c->secret));
	if (c->req == NULL) {		/* the client left */
		check_free(c);
		return;
	}
	if (status == POOL_CANCELED) {	/* the server stops */
		http_request_set_close_cb(c->req, NULL, NULL);
		http_reply_header(c->req, "Retry-After", "1");
		reply_problem(c->req, 503, "the server is stopping");
		check_free(c);
		return;
	}
	if (c->verified) {
		if ((f = access_fails(a, c->addr, 0)) != NULL)
			f->n = 0;
		access_cache_add(a, c->key, c->user);
		http_request_set_close_cb(c->req, NULL, NULL);
		access_allowed(a, c->req, c->user);
		check_free(c);
		return;
	}
	f = access_fails(a, c->addr, 1);
	f->n++;
	log_warn("access: %s: failed login as %s (%u in %d s)", c->addr,
	    c->user >= 0 ? a->users[c->user].name : "an unknown user", f->n,
	    ACCESS_FAIL_WINDOW_S);
	/* The client keeps waiting: guessing costs time, not our CPU. */
	if ((c->delay = evtimer_new(a->base, check_delay_cb, c)) == NULL)
		fatalx("access: evtimer_new");
	tv.tv_sec = a->cfg.fail_delay_ms / 1000;
	tv.tv_usec = (suseconds_t)(a->cfg.fail_delay_ms % 1000) * 1000;
	evtimer_add(c->delay, &tv);
}

static void
access_verify(struct access *a, struct http_request *req, const char *name,
    const char *secret, const unsigned char *key, const char *addr)
{
	struct access_check	*c;

	c = xcalloc(1, sizeof *c);
	c->a = a;
	c->req = req;
	c->user = access_find_user(a, name);
	/* An unknown name costs what a wrong password does. */
	c->hash = a->users[c->user >= 0 ? c->user : 0].hash;
	c->secret = xstrdup(secret);
	memcpy(c->key, key, SHA256_LEN);
	snprintf(c->addr, sizeof c->addr, "%s", addr);
	TAILQ_INSERT_TAIL(&a->checks, c, entry);
	if (pool_submit(a->pool, check_work, check_done, c, &c->pool_id) != 0) {
		check_free(c);
		http_reply_header(req, "Retry-After", "1");
		reply_problem(req, 503, "too many logins are being checked; "
		    "try again shortly");
		return;
	}
	http_request_set_close_cb(req, check_gone, c);
}

/* --- CORS --- */

/*
 * The request's Origin if --allow-origin lets it in, else NULL; *any
 * when it is let in by "*" (then without credentials: any site could
 * otherwise act with a visitor's).
 */
static const char *
cors_origin(const struct access *a, struct http_request *req, int *any)
{
	const char	*origin = http_request_header(req, "Origin");
	const char	*p, *e;
	size_t		 len;

	*any = 0;
	if (a->origins == NULL || origin == NULL)
		return NULL;
	len = strlen(origin);
	for (p = a->origins;; p = e + 1) {
		e = p + strcspn(p, ",");
		if (e - p == 1 && *p == '*') {
			*any = 1;
			return origin;
		}
		if ((size_t)(e - p) == len && strncmp(p, origin, len) == 0)
			return origin;
		if (*e == '\0')
			return NULL;
	}
}

/* CORS headers for an allowed origin; 1 if the request was a preflight
 * and has been answered. */
static int
cors(struct access *a, struct http_request *req)
{
	const char	*origin;
	int		 any;

	if (a->origins != NULL)
		http_reply_header(req, "Vary", "Origin");
	if ((origin = cors_origin(a, req, &any)) == NULL)
		return 0;
	if (any)
		http_reply_header(req, "Access-Control-Allow-Origin", "*");
	else {
		http_reply_header(req, "Access-Control-Allow-Origin", origin);
		http_reply_header(req, "Access-Control-Allow-Credentials",
		    "true");
	}
	http_reply_header(req, "Access-Control-Expose-Headers",
	    "Location, Retry-After, ETag");
	if (http_request_method(req) != HTTP_OPTIONS ||
	    http_request_header(req, "Access-Control-Request-Method") == NULL)
		return 0;
	http_reply_header(req, "Access-Control-Allow-Methods",
	    "GET, HEAD, POST, DELETE");
	http_reply_header(req, "Access-Control-Allow-Headers",
	    "Authorization, Content-Type, Idempotency-Key, Last-Event-ID");
	http_reply_header(req, "Access-Control-Max-Age", "600");
	http_reply(req, 204, NULL, NULL, 0);
	return 1;
}

/* --- the gate --- */

static int
access_open_path(const struct access *a, struct http_request *req)
{
	const char	*path = http_request_path(req);

	if (http_request_method(req) == HTTP_OPTIONS)
		return 1;	/* what a path allows is no secret */
	/* Made-up prices, which the server downloads from itself. */
	if (strncmp(path, "/synthetic/", 11) == 0)
		return 1;
	return (a->cfg.open_health && strcmp(path, "/api/health") == 0) ||
	    (a->cfg.open_metrics && strcmp(path, "/metrics") == 0);
}

void
access_dispatch(struct access *a, struct http_request *req)
{
	struct access_fail	*f;
	const char		*value;
	char			 name[ACCESS_NAME_MAX + 1];
	char			 secret[ACCESS_SECRET_MAX + 1];
	char			 addr[48], retry[24];
	unsigned char		 key[SHA256_LEN];
	int			 user;

	if (cors(a, req))
		return;
	if (a->users == NULL || access_open_path(a, req)) {
		router_dispatch(a->router, req);
		return;
	}
	if ((value = http_request_header(req, "Authorization")) == NULL) {
		access_challenge(req, "this server needs a name and "
		    "password (HTTP Basic) or a token (Bearer NAME.SECRET)");
		return;
	}
	sha256_hmac(a->hmac_key, sizeof a->hmac_key, value, strlen(value),
	    key);
	if ((user = access_cache_find(a, key)) >= 0) {
		access_allowed(a, req, user);
		return;
	}
	peer_addr(http_request_peer(req), addr, sizeof addr);
	if ((f = access_fails(a, addr, 0)) != NULL &&
	    f->n >= ACCESS_FAIL_MAX) {
		snprintf(retry, sizeof retry, "%lld", (long long)
		    (f->since + ACCESS_FAIL_WINDOW_S - mono_now().tv_sec));
		http_reply_header(req, "Retry-After", retry);
		reply_problem(req, 429, "%u failed logins from %s: no more "
		    "are checked for %s seconds", f->n, addr, retry);
		return;
	}
	if (access_credentials(value, name, secret) != 0) {
		access_challenge(req, "the Authorization header is "
		    "neither Basic NAME:PASSWORD (base64) nor Bearer "
		    "NAME.SECRET");
		return;
	}
	access_verify(a, req, name, secret, key, addr);
	explicit_bzero(secret, sizeof secret);
}

int
access_enabled(const struct access *a)
{
	return a->users != NULL;
}

struct access *
access_new(struct event_base *base, const struct access_config *cfg,
    struct pool *verify, const struct router *router, char *err,
    size_t errlen)
{
	struct access	*a;
	unsigned	 i;

	a = xcalloc(1, sizeof *a);
	a->base = base;
	a->router = router;
	a->pool = verify;
	a->cfg = *cfg;
	if (a->cfg.fail_delay_ms == 0)
		a->cfg.fail_delay_ms = 1000;
	TAILQ_INIT(&a->checks);
	for (i = 0; i < ACCESS_CACHE; i++)
		a->cache[i].user = -1;
	if (cfg->allow_origin != NULL)
		a->origins = xstrdup(cfg->allow_origin);
	if (getrandom(a->hmac_key, sizeof a->hmac_key, 0) !=
	    (ssize_t)sizeof a->hmac_key)
		fatal("access: getrandom");
	if (cfg->auth_file != NULL &&
	    access_load(a, cfg->auth_file, err, errlen) != 0) {
		access_free(a);
		return NULL;
	}
	a->cfg.auth_file = NULL;	/* the caller's string */
	a->cfg.allow_origin = NULL;
	return a;
}

void
access_free(struct access *a)
{
	size_t	i;

	if (a == NULL)
		return;
	while (!TAILQ_EMPTY(&a->checks))
		check_free(TAILQ_FIRST(&a->checks));
	for (i = 0; i < a->nusers; i++)
		free(a->users[i].hash);
	free(a->users);
	free(a->origins);
	explicit_bzero(a, sizeof *a);
	free(a);
}
