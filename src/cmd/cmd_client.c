/*
 * cmd_client.c - the command-line client: `stockcam submit`, `armstrong`,
 * `jobs`, `get`, `cancel`, `watch`, `fetch` and `health`, talking to a
 * running server over its HTTP API.
 *
 * The server is --server, else STOCKCAM_SERVER, else
 * http://127.0.0.1:8080; a bearer token comes from STOCKCAM_TOKEN, a user
 * and password from --user. Every error is one line on standard error
 * (with the server's problem detail when it gave one). Exit status: 0,
 * 1 the job failed (or was canceled), 2 usage, 3 the server could not be
 * reached or refused the request, 130 interrupted.
 */
#include "config.h"

#include <sys/stat.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cmd/cmd_client.h"
#include "cmd/cmd_client_int.h"
#include "lib/xmalloc.h"

#define CLIENT_DEFAULT_SERVER	"http://127.0.0.1:8080"
#define CANCEL_WAITS		6	/* of at most 5 s each */

volatile sig_atomic_t cmd_client_interrupted;

static const struct {
	const char	*name;
	const char	*args;
} client_commands[] = {
	{ "submit", "[--wait [--detach]] [--json] [--idempotency-key K] "
	    "SYMBOL... | --file FILE | -" },
	{ "armstrong", "[--wait [--detach]] [--json] FROM TO" },
	{ "jobs", "[--state STATE] [--limit N] [--json]" },
	{ "get", "ID [--symbols] [--json]" },
	{ "cancel", "ID" },
	{ "watch", "ID" },
	{ "fetch", "ID [--out DIR] [--xml]" },
	{ "health", "" },
};

int
cmd_client_is_command(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof client_commands / sizeof client_commands[0];
	    i++) {
		if (strcmp(name, client_commands[i].name) == 0)
			return 1;
	}
	return 0;
}

static int
usage(const char *cmd)
{
	size_t	i;

	for (i = 0; i < sizeof client_commands / sizeof client_commands[0];
	    i++) {
		if (cmd == NULL || strcmp(cmd, client_commands[i].name) == 0)
			fprintf(stderr, "usage: stockcam %s [--server URL] "
			    "[--user NAME:PASSWORD] [--cacert FILE] %s\n",
			    client_commands[i].name, client_commands[i].args);
	}
	return CLIENT_USAGE;
}

static void
on_sigint(int sig)
{
	(void)sig;
	cmd_client_interrupted = 1;
}

static int
parse_u64(const char *s, uint64_t *v)
{
	char			*end;
	unsigned long long	 n;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (*end != '\0' || errno != 0)
		return -1;
	*v = n;
	return 0;
}

/* --- what the commands print --- */

/* Seconds since an ISO 8601 UTC time the server gave; -1 if none. */
static double
age_s(const json_t *t)
{
	const char	*s = json_string_value(t);
	struct tm	 tm;

	if (s == NULL)
		return -1;
	memset(&tm, 0, sizeof tm);
	if (strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
		return -1;
	return difftime(time(NULL), timegm(&tm));
}

static void
age_text(double s, char *buf, size_t len)
{
	if (s < 0)
		snprintf(buf, len, "-");
	else if (s < 120)
		snprintf(buf, len, "%.0fs", s);
	else if (s < 7200)
		snprintf(buf, len, "%.0fm", s / 60);
	else if (s < 172800)
		snprintf(buf, len, "%.0fh", s / 3600);
	else
		snprintf(buf, len, "%.0fd", s / 86400);
}

static json_int_t
field(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static void
progress_text(const json_t *job, char *buf, size_t len)
{
	const json_t	*p = json_object_get(job, "progress");
	const char	*type = cmd_client_str(job, "type", "?");
	json_int_t	 total = field(p, "total"), failed = field(p, "failed");

	if (type == NULL || strcmp(type, "stock") != 0) {
		snprintf(buf, len, "%.0f%%", total > 0 ? 100.0 *
		    (double)field(p, "examined") / (double)total : 0.0);
		return;
	}
	snprintf(buf, len, "%lld/%lld", (long long)(field(p, "succeeded") +
	    failed + field(p, "canceled")), (long long)total);
	if (failed > 0)
		snprintf(buf + strlen(buf), len - strlen(buf), " (%lld failed)",
		    (long long)failed);
}

static void
print_json(const json_t *j)
{
	char	*s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s != NULL) {
		printf("%s\n", s);
		free(s);
	}
}

/* One call that must answer `want`; CLIENT_OK with r filled, or the exit
 * status with the reason told. */
static int
call_expect(const struct client *cl, const char *what, const char *method,
    const char *path, const char *body, const char *const *headers,
    long want, long also, struct client_reply *r)
{
	if (cmd_client_call(cl, method, path, body, headers, r) != 0)
		return CLIENT_UNREACHABLE;
	if ((r->status != want && r->status != also) || r->json == NULL) {
		cmd_client_refused(what, r);
		cmd_client_reply_free(r);
		return CLIENT_UNREACHABLE;
	}
	return CLIENT_OK;
}

/* --- submit and armstrong --- */

/* Symbols from text: separated by white space or commas. */
static void
add_symbols(json_t *arr, char *text)
{
	char	*tok, *save = NULL;

	for (tok = strtok_r(text, " \t\r\n,", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t\r\n,", &save))
		json_array_append_new(arr, json_string(tok));
}

static int
read_symbols(json_t *arr, const char *file)
{
	FILE	*f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	char	*line = NULL;
	size_t	 cap = 0;

	if (f == NULL) {
		fprintf(stderr, "stockcam: %s: %s\n", file, strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, f) != -1)
		add_symbols(arr, line);
	free(line);
	if (f != stdin)
		fclose(f);
	return 0;
}

/* POSTs the job and follows it (or prints its id). */
static int
submit_job(const struct client *cl, json_t *body, const char *key, int wait,
    int detach)
{
	struct client_reply	 r;
	const char		*headers[2] = { NULL, NULL };
	char			*text, *hdr = NULL;
	uint64_t		 id;
	int			 rv;

	if (key != NULL) {
		xasprintf(&hdr, "Idempotency-Key: %s", key);
		headers[0] = hdr;
	}
	text = json_dumps(body, JSON_COMPACT);
	rv = call_expect(cl, "submit", "POST", "/api/jobs", text, headers, 202,
	    200, &r);
	free(text);
	free(hdr);
	if (rv != CLIENT_OK)
		return rv;
	id = (uint64_t)json_integer_value(json_object_get(r.json, "id"));
	if (cl->json)
		print_json(r.json);
	else
		printf("%" PRIu64 "\n", id);
	fflush(stdout);
	cmd_client_reply_free(&r);
	return wait ? cmd_client_watch(cl, id, !detach) : CLIENT_OK;
}

/* --- the commands --- */

struct cmd_args {
	struct client	 cl;
	int		 wait, detach, symbols, xml;
	const char	*key, *file, *state, *limit, *out;
	int		 argc;
	char		**argv;		/* the operands */
};

static int
cmd_submit(struct cmd_args *a)
{
	json_t	*syms = json_array(), *body;
	char	*copy;
	int	 i, rv;

	for (i = 0; i < a->argc; i++) {
		if (strcmp(a->argv[i], "-") == 0) {
			if (read_symbols(syms, "-") != 0)
				goto usage;
			continue;
		}
		copy = xstrdup(a->argv[i]);
		add_symbols(syms, copy);
		free(copy);
	}
	if (a->file != NULL && read_symbols(syms, a->file) != 0) {
		json_decref(syms);
		return CLIENT_USAGE;
	}
	if (json_array_size(syms) == 0) {
		fprintf(stderr, "stockcam: submit: no symbols given\n");
		goto usage;
	}
	body = json_pack("{s:o}", "symbols", syms);
	rv = submit_job(&a->cl, body, a->key, a->wait, a->detach);
	json_decref(body);
	return rv;
usage:
	json_decref(syms);
	return usage("submit");
}

static int
cmd_armstrong(struct cmd_args *a)
{
	uint64_t	 from, to;
	json_t		*body;
	int		 rv;

	if (a->argc != 2 || parse_u64(a->argv[0], &from) != 0 ||
	    parse_u64(a->argv[1], &to) != 0)
		return usage("armstrong");
	body = json_pack("{s:s, s:I, s:I}", "type", "armstrong",
	    "from", (json_int_t)from, "to", (json_int_t)to);
	rv = submit_job(&a->cl, body, a->key, a->wait, a->detach);
	json_decref(body);
	return rv;
}

/*
 * --state and --limit go into the URL as they are: checked here, so a
 * typo is a usage error (exit 2) and nothing else rides in the query.
 */
static int
jobs_args_ok(const struct cmd_args *a)
{
	static const char *const states[] = { "queued", "running",
	    "succeeded", "failed", "canceled" };
	size_t			 i;

	if (a->state != NULL) {
		for (i = 0; i < sizeof states / sizeof states[0]; i++) {
			if (strcmp(a->state, states[i]) == 0)
				break;
		}
		if (i == sizeof states / sizeof states[0]) {
			fprintf(stderr, "stockcam jobs: --state %s: not one of "
			    "queued, running, succeeded, failed, canceled\n",
			    a->state);
			return 0;
		}
	}
	if (a->limit != NULL && (a->limit[0] < '1' || a->limit[0] > '9' ||
	    strspn(a->limit, "0123456789") != strlen(a->limit) ||
	    strlen(a->limit) > 6)) {
		fprintf(stderr, "stockcam jobs: --limit %s: not a count of "
		    "jobs\n", a->limit);
		return 0;
	}
	return 1;
}

static int
cmd_jobs(struct cmd_args *a)
{
	struct client_reply	 r;
	json_t			*job;
	size_t			 i;
	char			 path[256], prog[64], age[16];
	int			 rv;

	if (!jobs_args_ok(a))
		return CLIENT_USAGE;
	snprintf(path, sizeof path, "/api/jobs?limit=%s%s%s",
	    a->limit != NULL ? a->limit : "20",
	    a->state != NULL ? "&state=" : "", a->state != NULL ? a->state : "");
	if ((rv = call_expect(&a->cl, "jobs", "GET", path, NULL, NULL, 200, 200,
	    &r)) != CLIENT_OK)
		return rv;
	if (a->cl.json)
		print_json(r.json);
	else {
		printf("%-8s %-10s %-10s %-20s %s\n", "ID", "TYPE", "STATE",
		    "PROGRESS", "AGE");
		json_array_foreach(json_object_get(r.json, "jobs"), i, job) {
			progress_text(job, prog, sizeof prog);
			age_text(age_s(json_object_get(job, "created_at")), age,
			    sizeof age);
			printf("%-8lld %-10s %-10s %-20s %s\n",
			    (long long)json_integer_value(json_object_get(job,
			    "id")),
			    cmd_client_str(job, "type", "?"),
			    cmd_client_str(job, "state", "?"),
			    prog, age);
		}
	}
	cmd_client_reply_free(&r);
	return CLIENT_OK;
}

static int
job_id_arg(struct cmd_args *a, const char *cmd, uint64_t *id)
{
	if (a->argc != 1 || parse_u64(a->argv[0], id) != 0 || *id == 0) {
		if (a->argc == 1)
			fprintf(stderr, "stockcam: %s: '%s' is not a job id\n",
			    cmd, a->argv[0]);
		return usage(cmd);
	}
	return CLIENT_OK;
}

static void
print_symbols(const struct client *cl, uint64_t id)
{
	struct client_reply	 r;
	json_t			*s, *err;
	size_t			 i, offset = 0, total = 1;
	char			 path[128];

	printf("%-12s %-11s %8s %5s %8s %10s  %s\n", "SYMBOL", "STATE",
	    "ATTEMPTS", "HTTP", "ROWS", "BYTES", "ERROR");
	while (offset < total) {
		snprintf(path, sizeof path, "/api/jobs/%" PRIu64 "/symbols?"
		    "limit=1000&offset=%zu", id, offset);
		if (call_expect(cl, "get", "GET", path, NULL, NULL, 200, 200,
		    &r) != CLIENT_OK)
			return;
		total = (size_t)json_integer_value(json_object_get(r.json,
		    "total"));
		if (json_array_size(json_object_get(r.json, "symbols")) == 0)
			total = offset;
		json_array_foreach(json_object_get(r.json, "symbols"), i, s) {
			err = json_object_get(s, "error");
			printf("%-12s %-11s %8lld %5lld %8lld %10lld  %s%s%s%s\n",
			    cmd_client_str(s, "symbol", "?"),
			    cmd_client_str(s, "state", "?"),
			    (long long)json_integer_value(json_object_get(s,
			    "attempts")),
			    (long long)json_integer_value(json_object_get(s,
			    "http_status")),
			    (long long)json_integer_value(json_object_get(s,
			    "rows")),
			    (long long)json_integer_value(json_object_get(s,
			    "bytes")),
			    err != NULL && json_is_object(err) ?
			    cmd_client_str(err, "code", "?") : "",
			    json_is_object(err) ? ": " : "",
			    json_is_object(err) ? cmd_client_str(err, "message",
			    "?") : "", "");
			offset++;
		}
		cmd_client_reply_free(&r);
	}
}

static int
cmd_get(struct cmd_args *a)
{
	struct client_reply	 r;
	const char		*key;
	json_t			*v;
	char			 path[96], *s;
	uint64_t		 id;
	int			 rv;

	if ((rv = job_id_arg(a, "get", &id)) != CLIENT_OK)
		return rv;
	snprintf(path, sizeof path, "/api/jobs/%" PRIu64 "%s", id,
	    a->cl.json && a->symbols ? "" : "?view=summary");
	if ((rv = call_expect(&a->cl, "get", "GET", path, NULL, NULL, 200, 200,
	    &r)) != CLIENT_OK)
		return rv;
	if (a->cl.json) {
		print_json(r.json);
		cmd_client_reply_free(&r);
		return CLIENT_OK;
	}
	json_object_foreach(r.json, key, v) {
		if (strcmp(key, "progress") == 0) {
			progress_text(r.json, path, sizeof path);
			s = xstrdup(path);
		} else if (json_is_string(v))
			s = xstrdup(json_string_value(v));
		else
			s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		printf("%-12s %s\n", key, s != NULL ? s : "");
		free(s);
	}
	if (a->symbols &&
	    strcmp(cmd_client_str(r.json, "type", "?"), "stock") == 0) {
		printf("\n");
		print_symbols(&a->cl, id);
	}
	cmd_client_reply_free(&r);
	return CLIENT_OK;
}

static int
cmd_cancel(struct cmd_args *a)
{
	struct client_reply	 r;
	char			 path[96];
	uint64_t		 id;
	int			 i, rv;

	if ((rv = job_id_arg(a, "cancel", &id)) != CLIENT_OK)
		return rv;
	snprintf(path, sizeof path, "/api/jobs/%" PRIu64, id);
	if ((rv = call_expect(&a->cl, "cancel", "DELETE", path, NULL, NULL, 200,
	    200, &r)) != CLIENT_OK)
		return rv;
	/* Running work takes a moment to stop: wait for the end a while. */
	for (i = 0; i < CANCEL_WAITS && !cmd_client_interrupted &&
	    strcmp(cmd_client_str(r.json, "state", "?"),
	    "running") == 0; i++) {
		snprintf(path, sizeof path, "/api/jobs/%" PRIu64 "?view=summary&"
		    "wait=5&version=%lld", id, (long long)json_integer_value(
		    json_object_get(r.json, "version")));
		cmd_client_reply_free(&r);
		if ((rv = call_expect(&a->cl, "cancel", "GET", path, NULL, NULL,
		    200, 200, &r)) != CLIENT_OK)
			return rv;
	}
	printf("job %" PRIu64 ": %s\n", id,
	    cmd_client_str(r.json, "state", "?"));
	cmd_client_reply_free(&r);
	return CLIENT_OK;
}

static int
cmd_watch(struct cmd_args *a)
{
	uint64_t	id;
	int		rv;

	if ((rv = job_id_arg(a, "watch", &id)) != CLIENT_OK)
		return rv;
	return cmd_client_watch(&a->cl, id, 0);
}

/* A symbol in a URL path: ^ and the like percent-encoded. */
static void
path_escape(const char *s, char *buf, size_t len)
{
	size_t	n = 0;

	for (; *s != '\0' && n + 4 < len; s++) {
		if (isalnum((unsigned char)*s) || strchr("._-=", *s) != NULL)
			buf[n++] = *s;
		else
			n += (size_t)snprintf(buf + n, len - n, "%%%02X",
			    (unsigned char)*s);
	}
	buf[n] = '\0';
}

static int
cmd_fetch(struct cmd_args *a)
{
	struct client_reply	 r;
	const char		*dir = a->out != NULL ? a->out : ".";
	const char		*name, *state;
	json_t			*s, *seen;
	char			 path[160], esc[128], *to;
	uint64_t		 id;
	size_t			 i, n = 0;
	int			 rv, worst = CLIENT_OK;

	if ((rv = job_id_arg(a, "fetch", &id)) != CLIENT_OK)
		return rv;
	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "stockcam: %s: %s\n", dir, strerror(errno));
		return CLIENT_JOB_FAILED;
	}
	snprintf(path, sizeof path, "/api/jobs/%" PRIu64, id);
	if ((rv = call_expect(&a->cl, "fetch", "GET", path, NULL, NULL, 200,
	    200, &r)) != CLIENT_OK)
		return rv;
	seen = json_object();
	json_array_foreach(json_object_get(r.json, "symbols"), i, s) {
		name = cmd_client_str(s, "symbol", "?");
		state = cmd_client_str(s, "state", "?");
		if (a->xml) {
			if (strcmp(state, "succeeded") != 0)
				continue;
			path_escape(name, esc, sizeof esc);
			snprintf(path, sizeof path, "/api/jobs/%" PRIu64
			    "/files/%s.xml", id, esc);
			xasprintf(&to, "%s/%s.xml", dir, name);
		} else {
			name = cmd_client_str(s, "archive", NULL);
			if (name == NULL || json_object_get(seen, name) != NULL)
				continue;
			json_object_set_new(seen, name, json_true());
			snprintf(path, sizeof path, "/archives/%s", name);
			xasprintf(&to, "%s/%s", dir, name);
		}
		if ((rv = cmd_client_download(&a->cl, path, to)) == CLIENT_OK) {
			printf("%s\n", to);
			n++;
		} else if (rv > worst)
			worst = rv;
		free(to);
		if (cmd_client_interrupted) {
			worst = CLIENT_INTERRUPTED;
			break;
		}
	}
	json_decref(seen);
	cmd_client_reply_free(&r);
	if (n == 0 && worst == CLIENT_OK) {
		fprintf(stderr, "stockcam: job %" PRIu64 " has no %s yet\n", id,
		    a->xml ? "converted files" : "archives");
		return CLIENT_JOB_FAILED;
	}
	return worst;
}

static int
cmd_health(struct cmd_args *a)
{
	struct client_reply	r;
	int			rv;

	if (a->argc != 0)
		return usage("health");
	if ((rv = call_expect(&a->cl, "health", "GET", "/api/health", NULL,
	    NULL, 200, 200, &r)) != CLIENT_OK)
		return rv;
	if (a->cl.json)
		print_json(r.json);
	else
		printf("%s: %s, version %s, up %.0f s\n", a->cl.server,
		    cmd_client_str(r.json, "status", "?"),
		    cmd_client_str(r.json, "version", "?"),
		    json_real_value(json_object_get(r.json, "uptime_s")));
	cmd_client_reply_free(&r);
	return CLIENT_OK;
}

static const struct {
	const char	*name;
	int		(*fn)(struct cmd_args *);
} client_fns[] = {
	{ "submit", cmd_submit }, { "armstrong", cmd_armstrong },
	{ "jobs", cmd_jobs }, { "get", cmd_get }, { "cancel", cmd_cancel },
	{ "watch", cmd_watch }, { "fetch", cmd_fetch },
	{ "health", cmd_health },
};

int
cmd_client_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "user", required_argument, NULL, 'u' },
		{ "cacert", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "wait", no_argument, NULL, 'w' },
		{ "detach", no_argument, NULL, 'd' },
		{ "idempotency-key", required_argument, NULL, 'k' },
		{ "file", required_argument, NULL, 'f' },
		{ "state", required_argument, NULL, 'S' },
		{ "limit", required_argument, NULL, 'l' },
		{ "symbols", no_argument, NULL, 'y' },
		{ "out", required_argument, NULL, 'o' },
		{ "xml", no_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_args		 a;
	struct sigaction	 sa;
	const char		*cmd = argv[0], *server;
	size_t			 i, len;
	int			 c, rv = CLIENT_USAGE;

	memset(&a, 0, sizeof a);
	server = getenv("STOCKCAM_SERVER");
	a.cl.token = getenv("STOCKCAM_TOKEN");
	if (a.cl.token != NULL && *a.cl.token == '\0')
		a.cl.token = NULL;
	a.cl.cacert = getenv("STOCKCAM_CACERT");
	if (a.cl.cacert != NULL && *a.cl.cacert == '\0')
		a.cl.cacert = NULL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': server = optarg; break;
		case 'u': a.cl.user = optarg; break;
		case 'c': a.cl.cacert = optarg; break;
		case 'j': a.cl.json = 1; break;
		case 'w': a.wait = 1; break;
		case 'd': a.detach = 1; break;
		case 'k': a.key = optarg; break;
		case 'f': a.file = optarg; break;
		case 'S': a.state = optarg; break;
		case 'l': a.limit = optarg; break;
		case 'y': a.symbols = 1; break;
		case 'o': a.out = optarg; break;
		case 'x': a.xml = 1; break;
		case 'h':
			usage(NULL);
			fprintf(stderr, "The server: --server, else "
			    "STOCKCAM_SERVER, else %s;\na bearer token from "
			    "STOCKCAM_TOKEN; --cacert FILE (or STOCKCAM_CACERT) "
			    "trusts the\ncertificates in FILE for https://. "
			    "Exit status: 0 done, 1 the job "
			    "failed\nor was canceled, 2 usage, 3 the server "
			    "could not be reached or refused,\n130 "
			    "interrupted (submit --wait cancels the job first, "
			    "unless --detach).\n", CLIENT_DEFAULT_SERVER);
			return CLIENT_OK;
		default:
			return usage(cmd);
		}
	}
	a.argc = argc - optind;
	a.argv = argv + optind;
	if (server == NULL || *server == '\0')
		server = CLIENT_DEFAULT_SERVER;
	if (strncmp(server, "http://", 7) != 0 &&
	    strncmp(server, "https://", 8) != 0) {
		fprintf(stderr, "stockcam: --server %s: not an http:// or "
		    "https:// URL\n", server);
		return CLIENT_USAGE;
	}
	if (a.cl.cacert != NULL && access(a.cl.cacert, R_OK) != 0) {
		fprintf(stderr, "stockcam: --cacert %s: %s\n", a.cl.cacert,
		    strerror(errno));
		return CLIENT_USAGE;
	}
	a.cl.server = xstrdup(server);
	len = strlen(a.cl.server);
	while (len > 0 && a.cl.server[len - 1] == '/')
		a.cl.server[--len] = '\0';
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (i = 0; i < sizeof client_fns / sizeof client_fns[0]; i++) {
		if (strcmp(cmd, client_fns[i].name) == 0) {
			rv = client_fns[i].fn(&a);
			break;
		}
	}
	/* Ctrl-C ended a transfer (client_progress): say so, exit 130. */
	if (cmd_client_interrupted && rv != CLIENT_OK) {
		if (rv != CLIENT_INTERRUPTED)
			fprintf(stderr, "stockcam: interrupted\n");
		rv = CLIENT_INTERRUPTED;
	}
	curl_global_cleanup();
	free(a.cl.server);
	return rv;
}
