/* archiver.h - pack finished XML files into numbered .tgz archives. */
#ifndef SC_ARCHIVER_H
#define SC_ARCHIVER_H

#include <stddef.h>
#include <stdint.h>

struct compq;
struct archiver;

/*
 * The gzip levels: libdeflate's, else zlib's. libdeflate's 4 is the
 * default as the fastest level whose archives are no larger than zlib's
 * 6 (the default before libdeflate): on the pipeline's XML 3% smaller,
 * and the whole job 2.7 times as fast (bench/jobs.sh); 5 and 6 are 7%
 * and 9% smaller again, at 1.4 and 1.7 times the job's time.
 */
#ifdef HAVE_LIBDEFLATE
#define ARCHIVER_GZIP_MAX	12
#define ARCHIVER_GZIP_DEFAULT	4
#define ARCHIVER_GZIP_HELP	"archive compression, 1 fast to 12 small (4)"
#else
#define ARCHIVER_GZIP_MAX	9
#define ARCHIVER_GZIP_DEFAULT	6
#define ARCHIVER_GZIP_HELP	"archive compression, 1 fast to 9 small (6)"
#endif

/* The prefix of stockcam's archives: stockcam-000001.tgz. */
#define ARCHIVER_PREFIX		"stockcam"

struct archiver_options {
	const char	*dir;		/* where archives go (must exist) */
	const char	*prefix;	/* "stockcam" -> stockcam-000001.tgz */
	unsigned	 batch_size;	/* files per archive, >= 1 */
	int		 gzip_level;	/* 1..ARCHIVER_GZIP_MAX */
	unsigned	 threads;	/* packing threads; 0 means 1 */
};

/*
 * Delivered on the loop thread (through the compq), once per added file.
 * On error, `entry` is the name asked for and the file is left in place.
 * `deferred` marks an error that is not the file's: the archiver was
 * stopped while the disk had no room (or no file descriptor) for the
 * archive; the file is intact and may be added again by a later run.
 */
struct archiver_result {
	void		*token;		/* the caller's, from archiver_add */
	const char	*archive;	/* archive basename, NULL on error */
	const char	*entry;		/* entry name used inside the archive */
	const char	*error;		/* NULL on success, else a message */
	int		 deferred;	/* error: the file waits for a run */
};
typedef void	archiver_done_fn(const struct archiver_result *, void *arg);

/* An archive now safely on disk, told before its files' results. */
struct archiver_archive {
	const char	*name;		/* basename */
	uint64_t	 bytes;
	unsigned	 entries;
};
typedef void	archiver_packed_fn(const struct archiver_archive *,
		    void *arg);

struct archiver_stats {
	uint64_t	archives;	/* archives written */
	uint64_t	files;		/* files archived */
	uint64_t	bytes;		/* bytes of archives written */
	unsigned	pending;	/* files waiting for a batch */
	unsigned	packing;	/* files in the batch being packed */
	uint64_t	errors;		/* files reported with an error */
	uint64_t	next_seq;	/* number of the next archive */
	unsigned	waiting;	/* files kept until there is room */
	uint64_t	retries;	/* archives tried again for room */
	double		stalled_s;	/* seconds without room so far, 0 */
};

/*
 * Takes the directory (one archiver per dir and prefix: a second is
 * refused), removes temporary files a killed process left, and starts the
 * packing thread. Returns NULL with the reason in err (and errno set
 * when a system call failed) if the directory is unusable or the
 * options are wrong.
 */
struct archiver	*archiver_new(const struct archiver_options *, struct compq *,
		    archiver_done_fn *, void *arg, char *err, size_t errlen);
/*
 * Loop thread. Queues `path` (a finished XML file) to be stored as
 * `entry` (a relative path such as "42/AAPL.xml": no empty, "." or ".."
 * component). Copies both strings. Never waits for
 * packing. The file is removed once its archive is safely on disk.
 */
void		 archiver_add(struct archiver *, const char *path,
		    const char *entry, void *token);
/* Loop thread: fn hears of every archive written from now on. */
void		 archiver_watch(struct archiver *, archiver_packed_fn *,
		    void *arg);
/* Pack whatever is pending now, even a partial batch. Asynchronous. */
void		 archiver_flush(struct archiver *);
/*
 * Counters so far, read under the lock.
 *
 * An archive that cannot be written for lack of room (ENOSPC, EDQUOT)
 * or of file descriptors (EMFILE, ENFILE) fails no file: its partial
 * temporary is removed, its files go back to the head of the queue and
 * are tried again after a backoff (0.25 s doubling to 8 s), in batches
 * halved at each failure and doubled back at each success, so the
 * archives get written by themselves once room returns.
 */
void		 archiver_get_stats(struct archiver *, struct archiver_stats *);
/*
 * 1 while archives cannot be written for lack of room, or the batches
 * still grow back after it (above): more files would only fill the disk.
 */
int		 archiver_short_of_room(struct archiver *);
/*
 * Packs what is pending and joins the thread. The done callbacks for
 * those files are pushed to the compq: run compq_drain() after this and
 * before compq_free().
 */
void		 archiver_free(struct archiver *);

/*
 * Final archive names in `dir` in sequence order. 0 with *names (NULL
 * when *count is 0) to release with archiver_list_free; else -errno.
 */
int		 archiver_list(const char *dir, const char *prefix,
		    char ***names, size_t *count);
/* Frees what archiver_list returned. */
void		 archiver_list_free(char **names, size_t count);

#endif
