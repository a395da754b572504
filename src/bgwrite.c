/*
 * bgwrite.c - write-behind on a thread of its own.
 *
 * Double buffering for producers that turn CPU into output bytes (the
 * CSV converter): while the writer thread pushes one buffer into the
 * kernel, the producer fills the other, so on a machine with a spare
 * core the conversion costs little more than the write itself. One
 * buffer is in flight at a time; ownership passes with submit.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "bgwrite.h"
#include "log.h"
#include "xmalloc.h"

struct bgwrite {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	pthread_t	 thread;
	bgwrite_fn	*fn;
	void		*ctx;
	const char	*buf;		/* in flight, or NULL */
	size_t		 len;
	int		 failed;
	int		 stop;
};

static void *
bgwrite_main(void *arg)
{
	struct bgwrite	*bw = arg;
	sigset_t	 all;
	int		 rv;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&bw->lock);
	for (;;) {
		while (bw->buf == NULL && !bw->stop)
			pthread_cond_wait(&bw->cond, &bw->lock);
		if (bw->buf == NULL)
			break;
		pthread_mutex_unlock(&bw->lock);
		rv = bw->failed ? -1 : bw->fn(bw->ctx, bw->buf, bw->len);
		pthread_mutex_lock(&bw->lock);
		if (rv != 0)
			bw->failed = 1;
		bw->buf = NULL;
		pthread_cond_broadcast(&bw->cond);
	}
	pthread_mutex_unlock(&bw->lock);
	return NULL;
}

struct bgwrite *
bgwrite_new(bgwrite_fn *fn, void *ctx)
{
	struct bgwrite	*bw;
	int		 error;

	bw = xcalloc(1, sizeof *bw);
	bw->fn = fn;
	bw->ctx = ctx;
	if (pthread_mutex_init(&bw->lock, NULL) != 0 ||
	    pthread_cond_init(&bw->cond, NULL) != 0)
		fatalx("bgwrite: cannot initialise locks");
	if ((error = pthread_create(&bw->thread, NULL, bgwrite_main,
	    bw)) != 0) {
		errno = error;
		fatal("bgwrite: pthread_create");
	}
	return bw;
}

int
bgwrite_wait(struct bgwrite *bw)
{
	int	failed;

	pthread_mutex_lock(&bw->lock);
	while (bw->buf != NULL)
		pthread_cond_wait(&bw->cond, &bw->lock);
	failed = bw->failed;
	pthread_mutex_unlock(&bw->lock);
	return failed ? -1 : 0;
}

int
bgwrite_submit(struct bgwrite *bw, const char *buf, size_t len)
{
	int	failed;

	pthread_mutex_lock(&bw->lock);
	while (bw->buf != NULL)
		pthread_cond_wait(&bw->cond, &bw->lock);
	failed = bw->failed;
	if (!failed && len > 0) {
		bw->buf = buf;
		bw->len = len;
		pthread_cond_broadcast(&bw->cond);
	}
	pthread_mutex_unlock(&bw->lock);
	return failed ? -1 : 0;
}

void
bgwrite_free(struct bgwrite *bw)
{
	if (bw == NULL)
		return;
	pthread_mutex_lock(&bw->lock);
	while (bw->buf != NULL)
		pthread_cond_wait(&bw->cond, &bw->lock);
	bw->stop = 1;
	pthread_cond_broadcast(&bw->cond);
	pthread_mutex_unlock(&bw->lock);
	pthread_join(bw->thread, NULL);
	pthread_cond_destroy(&bw->cond);
	pthread_mutex_destroy(&bw->lock);
	free(bw);
}
