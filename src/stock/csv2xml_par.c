/*
 * csv2xml_par.c - one large conversion on every core.
 *
 * The input is read in segments of 256 KiB cut after a line feed, and
 * workers (the calling thread and the threads it was given) convert several
 * segments at once, each as if it began between records: the guess
 * holds for nearly every line feed of a CSV file, since only a quoted
 * field can hold one. Each worker reads, converts and then writes its
 * own segment, so the bytes stay in one core's cache; the reads are
 * taken in input order under one lock, and the writes wait their turn
 * so they go out in the same order.
 *
 * At its turn a segment is kept when the text before it did end
 * between records (the guess was right) and its own conversion went
 * through to the end of a record; otherwise (a quoted line break across
 * the cut, an error, a last line without its LF) the segment is fed to
 * the one real converter, so the output, the errors and their line and
 * column are exactly those of a serial run.
 *
 * Memory: a segment's input and output per worker (the output about
 * three times the input for price histories; past 4 MiB the guess is
 * dropped and the segment is converted in the ordinary way).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xmalloc.h"
#include "stock/csv2xml.h"
#include "stock/csv2xml_int.h"

#define PAR_SEGMENT	(256 * 1024)
#define PAR_OUT_CAP	(16 * PAR_SEGMENT)	/* a segment's output */
#define PAR_MAX_WORKERS	8

struct par;

struct worker {
	struct par	*par;
	pthread_t	 thread;
	char		*buf;		/* PAR_SEGMENT bytes */
	struct csv2xml	*spec;
};

struct par {
	struct csv2xml	*c;		/* the real converter: at one's turn */
	pthread_mutex_t	 lock;
	pthread_cond_t	 turn;		/* next_write moved, or failed */
	uint64_t	 next_write;	/* the segment whose turn it is */
	int		 failed;	/* err says why */
	char		*err;
	size_t		 errlen;

	/* Under read_lock. */
	pthread_mutex_t	 read_lock;
	int		 fd;
	int		 at_end;	/* read(2) said so */
	uint64_t	 next_read;	/* segments read */
	uint64_t	 offset;
	char		*carry;		/* read past the last cut */
	size_t		 carry_len;
};

/*
 * Reads the next segment into buf: what the last cut left over, then
 * input up to PAR_SEGMENT bytes, cut after the last LF (unless there is
 * none, or the input ended). 0 with *len (0 at the end), or -1 with
 * errno. Under read_lock, or before the workers start.
 */
static int
par_read(struct par *p, char *buf, size_t *len, uint64_t *base)
{
	size_t	 have = p->carry_len, keep;
	ssize_t	 n;
	char	*lf;

	memcpy(buf, p->carry, have);
	p->carry_len = 0;
	while (have < PAR_SEGMENT && !p->at_end) {
		n = read(p->fd, buf + have, PAR_SEGMENT - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			p->at_end = 1;
		have += (size_t)n;
	}
	if (!p->at_end && (lf = memrchr(buf, '\n', have)) != NULL) {
		keep = (size_t)(lf + 1 - buf);
		p->carry_len = have - keep;
		memcpy(p->carry, lf + 1, p->carry_len);
		have = keep;
	}
	*len = have;
	*base = p->offset;
	p->offset += have;
	return 0;
}

/* Records the first failure and wakes every worker to stop. */
static void
par_fail(struct par *p, const char *msg)
{
	pthread_mutex_lock(&p->lock);
	if (!p->failed) {
		p->failed = 1;
		snprintf(p->err, p->errlen, "%s", msg);
	}
	pthread_cond_broadcast(&p->turn);
	pthread_mutex_unlock(&p->lock);
}

static void *
par_worker(void *arg)
{
	struct worker	*w = arg;
	struct par	*p = w->par;
	char		 err[512];
	size_t		 len;
	uint64_t	 base, seq;
	int		 rv, ok;

	for (;;) {
		pthread_mutex_lock(&p->read_lock);
		if (p->at_end) {
			pthread_mutex_unlock(&p->read_lock);
			break;
		}
		seq = p->next_read++;
		rv = par_read(p, w->buf, &len, &base);
		if (rv != 0)
			p->at_end = 1;	/* nothing is read after a failure */
		pthread_mutex_unlock(&p->read_lock);
		if (rv != 0) {
			snprintf(err, sizeof err, "read: %s", strerror(errno));
			par_fail(p, err);
			break;
		}
		if (len == 0)
			break;
		ok = csv2xml_spec_run(w->spec, w->buf, len, base) == 0;

		pthread_mutex_lock(&p->lock);
		while (p->next_write != seq && !p->failed)
			pthread_cond_wait(&p->turn, &p->lock);
		pthread_mutex_unlock(&p->lock);
		if (p->failed)
			break;
		/* Our turn: c is ours until next_write moves on. */
		if (ok && csv2xml_clean(p->c))
			rv = csv2xml_adopt(p->c, w->spec, len, err, sizeof err);
		else
			rv = csv2xml_redo(p->c, w->buf, len, err, sizeof err);
		if (rv != 0) {
			par_fail(p, err);
			break;
		}
		pthread_mutex_lock(&p->lock);
		p->next_write++;
		pthread_cond_broadcast(&p->turn);
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
}

/* The workers but the calling thread block signals: it keeps them. */
static void *
par_thread(void *arg)
{
	sigset_t	all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	return par_worker(arg);
}

int
csv2xml_par_feed(struct csv2xml *c, int fd, unsigned threads, char *err,
    size_t errlen)
{
	struct par	 p;
	struct worker	*w;
	struct csv2xml	*probe;
	char		*buf;
	size_t		 len;
	uint64_t	 base;
	unsigned	 i, n;
	int		 error, rv = 0;

	memset(&p, 0, sizeof p);
	p.fd = fd;
	p.carry = xmalloc(PAR_SEGMENT);
	buf = xmalloc(PAR_SEGMENT);
	/* Until the header is in, and with one thread, the plain way. */
	for (;;) {
		if (par_read(&p, buf, &len, &base) != 0) {
			snprintf(err, errlen, "read: %s", strerror(errno));
			rv = -1;
			break;
		}
		if (len == 0)
			break;
		if (csv2xml_feed(c, buf, len, err, errlen) != 0) {
			rv = -1;
			break;
		}
		if (p.at_end)
			break;
		if (threads > 1 && (probe = csv2xml_spec_new(c, 0)) != NULL) {
			csv2xml_free(probe);
			break;
		}
	}
	if (rv != 0 || p.at_end) {
		free(buf);
		free(p.carry);
		return rv;
	}

	p.c = c;
	p.err = err;
	p.errlen = errlen;
	if (pthread_mutex_init(&p.lock, NULL) != 0 ||
	    pthread_mutex_init(&p.read_lock, NULL) != 0 ||
	    pthread_cond_init(&p.turn, NULL) != 0)
		fatalx("csv2xml: cannot initialise locks");
	n = threads > PAR_MAX_WORKERS ? PAR_MAX_WORKERS : threads;
	w = xcalloc(n, sizeof *w);
	for (i = 0; i < n; i++) {
		w[i].par = &p;
		w[i].buf = i == 0 ? buf : xmalloc(PAR_SEGMENT);
		w[i].spec = csv2xml_spec_new(c, PAR_OUT_CAP);
	}
	for (i = 1; i < n; i++)
		if ((error = pthread_create(&w[i].thread, NULL, par_thread,
		    &w[i])) != 0) {
			errno = error;
			fatal("csv2xml: pthread_create");
		}
	par_worker(&w[0]);
	for (i = 1; i < n; i++)
		pthread_join(w[i].thread, NULL);
	for (i = 0; i < n; i++) {
		free(w[i].buf);
		csv2xml_free(w[i].spec);
	}
	free(w);
	free(p.carry);
	pthread_cond_destroy(&p.turn);
	pthread_mutex_destroy(&p.lock);
	pthread_mutex_destroy(&p.read_lock);
	return p.failed ? -1 : 0;
}
