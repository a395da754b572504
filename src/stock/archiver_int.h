/* archiver_int.h - what the files of the archiver share, nothing more. */
#ifndef SC_ARCHIVER_INT_H
#define SC_ARCHIVER_INT_H

#include <sys/queue.h>
#include <sys/types.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "lib/compq.h"
#include "stock/archiver.h"

struct archiver_file {
	TAILQ_ENTRY(archiver_file) entry;
	char		*path;
	char		*name;		/* entry name asked for */
	char		*used;		/* entry name written, NULL if none */
	char		*error;		/* this file's own failure */
	void		*token;
	uint64_t	 seq;		/* order of archiver_add, from 1 */
};
TAILQ_HEAD(archiver_files, archiver_file);

/*
 * A slice of an archive's tar stream, to be one gzip member
 * (archiver_gz.c): queued on ar->slices for any packing thread.
 */
struct archiver_slice {
	TAILQ_ENTRY(archiver_slice) entry;
	unsigned char	*in;
	unsigned char	*out;
	size_t		 inlen;
	size_t		 outcap;
	size_t		 outlen;
	int		 state;		/* under ar->lock */
};
TAILQ_HEAD(archiver_slices, archiver_slice);

/* One batch, packed by the thread, then handed back to the loop. */
struct archiver_batch {
	struct compq_item	 item;		/* first: found from the item */
	struct archiver_files	 files;
	unsigned		 nfiles;
	archiver_done_fn	*done;
	void			*arg;
	archiver_packed_fn	*packed;
	void			*packed_arg;
	char			*archive;	/* final name, NULL if none */
	uint64_t		 tmp_serial;	/* names its temporary file */
	char			*buf;		/* read buffer while packing */
	char			*error;		/* the whole batch failed */
	int			 errnum;	/* its errno, 0 if none */
	int			 deferred;	/* no room at stop: kept */
	uint64_t		 bytes;
};

struct archiver {
	char			*dir;
	char			*prefix;
	unsigned		 batch_size;
	int			 gzip_level;
	int			 dirfd;
	int			 lockfd;
	struct compq		*cq;
	archiver_done_fn	*done;
	void			*arg;
	archiver_packed_fn	*packed;	/* under lock */
	void			*packed_arg;
	pthread_t		*threads;
	unsigned		 nthreads;
	pthread_mutex_t		 lock;
	pthread_cond_t		 wake;		/* a batch or a slice to do */
	pthread_cond_t		 slice_done;
	struct archiver_slices	 slices;	/* under lock: to compress */
	/* Under lock. */
	struct archiver_files	 pending;
	unsigned		 npending;
	unsigned		 packing;
	uint64_t		 added;
	uint64_t		 flush_upto;	/* pack files up to this seq */
	int			 stopping;
	uint64_t		 next_seq;
	uint64_t		 tmp_serial;
	uint64_t		 archives;
	uint64_t		 files;
	uint64_t		 bytes;
	uint64_t		 errors;
	/* Waiting for room: nothing is taken before retry_at. */
	int			 stalled;
	struct timespec		 retry_at;	/* CLOCK_MONOTONIC */
	struct timespec		 stalled_since;
	int64_t			 backoff_ns;
	unsigned		 room_batch;	/* files per try while stalled */
	uint64_t		 retries;
};

/* archiver_dir.c: names, listing and start-up recovery. */

/* 1 if prefix can name archives: 1 to 128 bytes, no '/', no leading '.'. */
int		 archiver_dir_prefix_ok(const char *prefix);
/*
 * Opens, locks and cleans ar->dir (ar->dirfd, ar->lockfd, ar->next_seq
 * set): NULL, or a static message with errno set.
 */
const char	*archiver_dir_open(struct archiver *);

/*
 * An archive failed for want of room or of a descriptor, not because of
 * its files: it is tried again later (archiver.h).
 */
static inline int
archiver_lack_of_room(int errnum)
{
	return errnum == ENOSPC || errnum == EDQUOT || errnum == EMFILE ||
	    errnum == ENFILE;
}

/*
 * archiver_gz.c (with libdeflate): the gzip of one archive, written to fd
 * as members of ARCHIVER_GZ_SLICE bytes of input compressed by any
 * packing thread. Packing threads only; each first calls
 * archiver_gz_thread_init with the level, and archiver_gz_thread_done
 * at its end. write and close return -1 with errno set when the file
 * could not be written; free (always, after open) waits for the slices
 * still being compressed. archiver_gz_help, lock held: compresses one
 * queued slice (the lock dropped meanwhile), 0 if there was none.
 */
#define ARCHIVER_GZ_SLICE	(256 * 1024)

struct archiver_gz;
void		 archiver_gz_thread_init(int level);
void		 archiver_gz_thread_done(void);
struct archiver_gz *archiver_gz_open(struct archiver *, int fd);
ssize_t		 archiver_gz_write(struct archiver_gz *, const void *,
		    size_t);
int		 archiver_gz_close(struct archiver_gz *);
void		 archiver_gz_free(struct archiver_gz *);
int		 archiver_gz_help(struct archiver *);

/* archiver_pack.c: writing one batch, on a packing thread. */

/* The whole life of one archive: write, sync, rename, remove the files. */
void		 archiver_pack_batch(struct archiver *,
		    struct archiver_batch *);

#endif
