/*
 * cmd_client_int.h - what the files of the command-line client share:
 * the connection to the server, calls and replies, watching a job.
 */
#ifndef SC_CMD_CLIENT_INT_H
#define SC_CMD_CLIENT_INT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Exit statuses, as the man page gives them. */
#define CLIENT_OK		0
#define CLIENT_JOB_FAILED	1
#define CLIENT_USAGE		2
#define CLIENT_UNREACHABLE	3	/* or the server refused */
#define CLIENT_INTERRUPTED	130

struct client {
	char		*server;	/* base URL, no trailing '/' */
	const char	*token;		/* STOCKCAM_TOKEN: a bearer token */
	const char	*user;		/* --user NAME:PASSWORD */
	const char	*cacert;	/* --cacert FILE: trust for https:// */
	int		 json;		/* --json: print what the server says */
	int		 finishing;	/* Ctrl-C does not abort (a cancel) */
};

/* A reply: the status and the body (NUL-terminated), parsed if JSON. */
struct client_reply {
	long		 status;
	char		*body;
	size_t		 len;
	json_t		*json;
};

/*
 * obj's string member `key`, or dflt when obj is NULL or the member is
 * missing or no string: a reply from another version (or a proxy) must
 * not crash the client.
 */
static inline const char *
cmd_client_str(const json_t *obj, const char *key, const char *dflt)
{
	const char	*s = json_string_value(json_object_get(obj, key));

	return s != NULL ? s : dflt;
}

/* Set by SIGINT; the loops look at it. */
extern volatile sig_atomic_t cmd_client_interrupted;

/*
 * A request to the server (path from its root; body JSON or NULL):
 * 0 with the reply whatever its status, or -1 with one line on stderr
 * when the server cannot be reached.
 */
int	cmd_client_call(const struct client *, const char *method,
	    const char *path, const char *body, const char *const *headers,
	    struct client_reply *);
/* Downloads path into the file `to` (written whole, then renamed). */
int	cmd_client_download(const struct client *, const char *path,
	    const char *to);
void	cmd_client_reply_free(struct client_reply *);
/*
 * A reply that is not what was wanted: one line on stderr with the
 * server's problem detail; returns CLIENT_UNREACHABLE.
 */
int	cmd_client_refused(const char *what, const struct client_reply *);
/* The URL of a path on the server (allocated). */
char	*cmd_client_url(const struct client *, const char *path);
/* The curl options every request takes (auth, timeouts). */
void	cmd_client_setup(const struct client *, void *curl);

/*
 * Follows job `id` until it ends, with a progress line on stderr (redrawn
 * in place on a terminal, plain lines every few seconds otherwise).
 * Ctrl-C: cancels the job first when cancel_on_int. Returns the exit
 * status: 0 succeeded, 1 failed or canceled (failed symbols listed),
 * 3 unreachable, 130 interrupted.
 */
int	cmd_client_watch(const struct client *, uint64_t id,
	    int cancel_on_int);

/* The progress of a job's summary as one line (no newline). */
struct client_rate {
	double		 t0, done0;	/* first sight */
	double		 t, done;	/* last sight */
};
void	cmd_client_progress(const json_t *job, struct client_rate *,
	    double now, int width, char *buf, size_t len);

#endif
