/*
 * archiver_gz.c - an archive's gzip as members, compressed by every
 * packing thread (libdeflate).
 *
 * libdeflate compresses whole buffers, not streams. So the tar stream
 * libarchive writes is cut into slices of ARCHIVER_GZ_SLICE bytes and
 * each slice becomes a gzip member of its own: members written one after
 * the other are one valid gzip file (RFC 1952), which gzip, GNU tar,
 * bsdtar, Python's tarfile and libarchive all read as one stream. Each
 * member starts with an empty dictionary, which costs well under 1% at
 * this slice size.
 *
 * The thread writing the tar queues each full slice on ar->slices and
 * goes on; idle packing threads take queued slices before new batches,
 * so the last archive of a job is compressed by every thread, not one.
 * The members are written in order: when its slices in flight reach
 * ar->nthreads + 1, the writer waits for the oldest (compressing queued
 * slices itself meanwhile) and writes it. Memory is bounded by the
 * thread count, never by the size of an archive.
 */
#include "config.h"

#ifdef HAVE_LIBDEFLATE

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libdeflate.h>

#include "lib/log.h"
#include "lib/xmalloc.h"
#include "stock/archiver_int.h"

enum {
	SLICE_FREE,		/* being filled, or unused */
	SLICE_QUEUED,		/* on ar->slices */
	SLICE_WORKING,		/* a thread compresses it */
	SLICE_DONE		/* out holds its member (outlen 0: failed) */
};

struct archiver_gz {
	struct archiver		*ar;
	int			 fd;
	int			 errnum;	/* first failure, 0 if none */
	unsigned		 nslots;
	unsigned		 head;		/* oldest in flight */
	unsigned		 count;		/* in flight */
	struct archiver_slice	*slots;		/* a ring */
};

/* Each packing thread's own: a libdeflate compressor is not shared. */
static __thread struct libdeflate_compressor *archiver_gz_compressor;

void
archiver_gz_thread_init(int level)
{
	if ((archiver_gz_compressor = libdeflate_alloc_compressor(level)) ==
	    NULL)
		fatalx("archiver: cannot allocate a compressor");
}

void
archiver_gz_thread_done(void)
{
	libdeflate_free_compressor(archiver_gz_compressor);
	archiver_gz_compressor = NULL;
}

/* Lock held, s queued: compresses it with the lock dropped. */
static void
archiver_gz_work(struct archiver *ar, struct archiver_slice *s)
{
	TAILQ_REMOVE(&ar->slices, s, entry);
	s->state = SLICE_WORKING;
	pthread_mutex_unlock(&ar->lock);
	s->outlen = libdeflate_gzip_compress(archiver_gz_compressor, s->in,
	    s->inlen, s->out, s->outcap);
	pthread_mutex_lock(&ar->lock);
	s->state = SLICE_DONE;
	pthread_cond_broadcast(&ar->slice_done);
}

int
archiver_gz_help(struct archiver *ar)
{
	struct archiver_slice	*s = TAILQ_FIRST(&ar->slices);

	if (s == NULL)
		return 0;
	archiver_gz_work(ar, s);
	return 1;
}

/* Lock held: until s is compressed, by this thread or another. */
static void
archiver_gz_wait(struct archiver *ar, struct archiver_slice *s)
{
	while (s->state != SLICE_DONE) {
		if (s->state == SLICE_QUEUED)
			archiver_gz_work(ar, s);
		else if (!archiver_gz_help(ar))
			pthread_cond_wait(&ar->slice_done, &ar->lock);
	}
}

struct archiver_gz *
archiver_gz_open(struct archiver *ar, int fd)
{
	struct archiver_gz	*gz;

	gz = xcalloc(1, sizeof *gz);
	gz->ar = ar;
	gz->fd = fd;
	gz->nslots = ar->nthreads + 1;
	gz->slots = xcalloc(gz->nslots, sizeof *gz->slots);
	return gz;
}

static int
archiver_gz_write_all(int fd, const unsigned char *p, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes the oldest member in flight, once it is compressed. */
static void
archiver_gz_retire(struct archiver_gz *gz)
{
	struct archiver_slice	*s = &gz->slots[gz->head];

	pthread_mutex_lock(&gz->ar->lock);
	archiver_gz_wait(gz->ar, s);
	pthread_mutex_unlock(&gz->ar->lock);
	if (gz->errnum == 0) {
		if (s->outlen == 0)
			gz->errnum = EIO;	/* cannot happen: out is bound */
		else if (archiver_gz_write_all(gz->fd, s->out, s->outlen) != 0)
			gz->errnum = errno;
	}
	s->state = SLICE_FREE;
	s->inlen = 0;
	gz->head = (gz->head + 1) % gz->nslots;
	gz->count--;
}

/* Queues the slice being filled; with every slot in flight, retires one. */
static void
archiver_gz_submit(struct archiver_gz *gz)
{
	struct archiver		*ar = gz->ar;
	struct archiver_slice	*s;

	s = &gz->slots[(gz->head + gz->count) % gz->nslots];
	pthread_mutex_lock(&ar->lock);
	s->state = SLICE_QUEUED;
	TAILQ_INSERT_TAIL(&ar->slices, s, entry);
	pthread_cond_signal(&ar->wake);		/* an idle thread helps */
	pthread_mutex_unlock(&ar->lock);
	if (++gz->count == gz->nslots)
		archiver_gz_retire(gz);
}

ssize_t
archiver_gz_write(struct archiver_gz *gz, const void *data, size_t len)
{
	const unsigned char	*p = data;
	struct archiver_slice	*s;
	size_t			 n, left = len;

	while (left > 0 && gz->errnum == 0) {
		s = &gz->slots[(gz->head + gz->count) % gz->nslots];
		if (s->in == NULL) {
			s->in = xmalloc(ARCHIVER_GZ_SLICE);
			s->outcap = libdeflate_gzip_compress_bound(
			    archiver_gz_compressor, ARCHIVER_GZ_SLICE);
			s->out = xmalloc(s->outcap);
		}
		n = ARCHIVER_GZ_SLICE - s->inlen;
		if (n > left)
			n = left;
		memcpy(s->in + s->inlen, p, n);
		s->inlen += n;
		p += n;
		left -= n;
		if (s->inlen == ARCHIVER_GZ_SLICE)
			archiver_gz_submit(gz);
	}
	if (gz->errnum != 0) {
		errno = gz->errnum;
		return -1;
	}
	return (ssize_t)len;
}

int
archiver_gz_close(struct archiver_gz *gz)
{
	struct archiver_slice	*s;

	if (gz->errnum == 0 && gz->count < gz->nslots) {
		s = &gz->slots[(gz->head + gz->count) % gz->nslots];
		if (s->inlen > 0)
			archiver_gz_submit(gz);
	}
	while (gz->count > 0)
		archiver_gz_retire(gz);
	if (gz->errnum != 0) {
		errno = gz->errnum;
		return -1;
	}
	return 0;
}

void
archiver_gz_free(struct archiver_gz *gz)
{
	struct archiver		*ar;
	struct archiver_slice	*s;
	unsigned		 i;

	if (gz == NULL)
		return;
	/* An archive given up half-way: take its slices back first. */
	ar = gz->ar;
	pthread_mutex_lock(&ar->lock);
	for (i = 0; i < gz->nslots; i++) {
		s = &gz->slots[i];
		if (s->state == SLICE_QUEUED) {
			TAILQ_REMOVE(&ar->slices, s, entry);
			s->state = SLICE_FREE;
		}
		while (s->state == SLICE_WORKING)
			pthread_cond_wait(&ar->slice_done, &ar->lock);
	}
	pthread_mutex_unlock(&ar->lock);
	for (i = 0; i < gz->nslots; i++) {
		free(gz->slots[i].in);
		free(gz->slots[i].out);
	}
	free(gz->slots);
	free(gz);
}

#endif /* HAVE_LIBDEFLATE */
