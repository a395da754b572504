/*
 * bgwrite.c - write-behind on a thread of its own.
 *
 * For producers that turn CPU into output bytes (the CSV converter):
 * while the writer thread pushes queued buffers into the kernel, the
 * producer fills free ones, so on a machine with a spare core the
 * conversion costs little more than the write itself. A small ring of
 * buffers absorbs the jitter of either side, so neither waits on every
 * hand-off. A buffer belongs to the producer from bgwrite_buffer until
 * bgwrite_submit, then to the writer until written.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "lib/bgwrite.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

struct bgslot {
	char	*buf;
	size_t	 len;
};

struct bgwrite {
	pthread_mutex_t	 lock;
	pthread_cond_t	 work;		/* the writer waits for a queued buffer */
	pthread_cond_t	 room;		/* the producer waits for a free one */
	pthread_t	 thread;
	bgwrite_fn	*fn;
	void		*ctx;
	unsigned	 count;
	char		**all;		/* every buffer, to free */
	char		**free_bufs;	/* a stack */
	unsigned	 nfree;
	struct bgslot	*queue;		/* a ring, oldest first */
	unsigned	 qhead, qlen;
	int		 writing;
	int		 error;		/* the first write's failure */
	int		 stop;
};

static void *
bgwrite_main(void *arg)
{
	struct bgwrite	*bw = arg;
	struct bgslot	 slot;
	sigset_t	 all;
	int		 rv;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&bw->lock);
	for (;;) {
		while (bw->qlen == 0 && !bw->stop)
			pthread_cond_wait(&bw->work, &bw->lock);
		if (bw->qlen == 0)
			break;
		slot = bw->queue[bw->qhead];
		bw->qhead = (bw->qhead + 1) % bw->count;
		bw->qlen--;
		bw->writing = 1;
		pthread_mutex_unlock(&bw->lock);
		rv = bw->error != 0 ? bw->error :
		    bw->fn(bw->ctx, slot.buf, slot.len);
		pthread_mutex_lock(&bw->lock);
		if (rv != 0 && bw->error == 0)
			bw->error = rv < 0 ? rv : -EIO;
		bw->writing = 0;
		bw->free_bufs[bw->nfree++] = slot.buf;
		pthread_cond_broadcast(&bw->room);
	}
	pthread_mutex_unlock(&bw->lock);
	return NULL;
}

struct bgwrite *
bgwrite_new(bgwrite_fn *fn, void *ctx, unsigned count, size_t size,
    size_t slack)
{
	struct bgwrite	*bw;
	unsigned	 i;
	int		 error;

	bw = xcalloc(1, sizeof *bw);
	bw->fn = fn;
	bw->ctx = ctx;
	bw->count = count;
	bw->all = xcalloc(count, sizeof *bw->all);
	bw->free_bufs = xcalloc(count, sizeof *bw->free_bufs);
	bw->queue = xcalloc(count, sizeof *bw->queue);
	for (i = 0; i < count; i++)
		bw->all[i] = bw->free_bufs[bw->nfree++] = xmalloc(size + slack);
	if (pthread_mutex_init(&bw->lock, NULL) != 0 ||
	    pthread_cond_init(&bw->work, NULL) != 0 ||
	    pthread_cond_init(&bw->room, NULL) != 0)
		fatalx("bgwrite: cannot initialise locks");
	if ((error = pthread_create(&bw->thread, NULL, bgwrite_main,
	    bw)) != 0) {
		errno = error;
		fatal("bgwrite: pthread_create");
	}
	return bw;
}

char *
bgwrite_buffer(struct bgwrite *bw)
{
	char	*buf;

	pthread_mutex_lock(&bw->lock);
	while (bw->nfree == 0)
		pthread_cond_wait(&bw->room, &bw->lock);
	buf = bw->free_bufs[--bw->nfree];
	pthread_mutex_unlock(&bw->lock);
	return buf;
}

void
bgwrite_release(struct bgwrite *bw, char *buf)
{
	pthread_mutex_lock(&bw->lock);
	bw->free_bufs[bw->nfree++] = buf;
	pthread_cond_broadcast(&bw->room);
	pthread_mutex_unlock(&bw->lock);
}

int
bgwrite_submit(struct bgwrite *bw, char *buf, size_t len)
{
	int	error;

	pthread_mutex_lock(&bw->lock);
	error = bw->error;
	if (error != 0 || len == 0) {
		bw->free_bufs[bw->nfree++] = buf;
		pthread_cond_broadcast(&bw->room);
	} else {
		bw->queue[(bw->qhead + bw->qlen) % bw->count] =
		    (struct bgslot){ buf, len };
		bw->qlen++;
		pthread_cond_signal(&bw->work);
	}
	pthread_mutex_unlock(&bw->lock);
	return error;
}

int
bgwrite_wait(struct bgwrite *bw)
{
	int	error;

	pthread_mutex_lock(&bw->lock);
	while (bw->qlen > 0 || bw->writing)
		pthread_cond_wait(&bw->room, &bw->lock);
	error = bw->error;
	pthread_mutex_unlock(&bw->lock);
	return error;
}

void
bgwrite_free(struct bgwrite *bw)
{
	unsigned	i;

	if (bw == NULL)
		return;
	bgwrite_wait(bw);
	pthread_mutex_lock(&bw->lock);
	bw->stop = 1;
	pthread_cond_signal(&bw->work);
	pthread_mutex_unlock(&bw->lock);
	pthread_join(bw->thread, NULL);
	pthread_cond_destroy(&bw->work);
	pthread_cond_destroy(&bw->room);
	pthread_mutex_destroy(&bw->lock);
	for (i = 0; i < bw->count; i++)
		free(bw->all[i]);
	free(bw->all);
	free(bw->free_bufs);
	free(bw->queue);
	free(bw);
}
