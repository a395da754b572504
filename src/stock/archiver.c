/*
 * archiver.c - pack finished XML files into numbered .tgz archives.
 *
 * The loop thread queues files; packing threads take them in batches
 * (batch_size files, or fewer after a flush and at shutdown) and writes
 * each batch as a gzipped tar (ustar; pax headers only where ustar cannot
 * say it) under a hidden temporary name, .PREFIX-N.tgz.tmp. The file is
 * fsynced, renamed to PREFIX-N.tgz without ever replacing an existing
 * file, and the directory is fsynced; only then are the XML files removed
 * and the results posted to the completion queue. A process killed at any
 * moment leaves complete archives under final names, at most one
 * temporary file (removed at the next start) and every XML file that is
 * not yet safely archived.
 *
 * Numbers continue after the highest archive found in the directory at
 * start; each is taken only when an archive is ready to be renamed, so
 * with several packing threads (gzip is the costly part: one per core
 * keeps them busy) the numbers still run without gaps in the order the
 * archives become safe. A lock file, .PREFIX.lock, held with flock() keeps a second
 * archiver (another process) off the same names and temporary files.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "lib/compq.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "stock/archiver.h"

#define ARCHIVER_CHUNK		(64 * 1024)	/* reads: memory stays flat */
#define ARCHIVER_MAX_DIGITS	18		/* so numbers never overflow */
#define ARCHIVER_MAX_SEQ	999999999999999999ULL
#define ARCHIVER_MAX_PREFIX	128
#define ARCHIVER_MAX_ENTRY	255
#define ARCHIVER_RENAME_TRIES	1000
#define ARCHIVER_NICE		10	/* below the loop: see archiver_main */

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

/* One batch, packed by the thread, then handed back to the loop. */
struct archiver_batch {
	struct compq_item	 item;		/* first: found from the item */
	struct archiver_files	 files;
	unsigned		 nfiles;
	archiver_done_fn	*done;
	void			*arg;
	char			*archive;	/* final name, NULL if none */
	uint64_t		 tmp_serial;	/* names its temporary file */
	char			*buf;		/* read buffer while packing */
	char			*error;		/* the whole batch failed */
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
	pthread_t		*threads;
	unsigned		 nthreads;
	pthread_mutex_t		 lock;
	pthread_cond_t		 wake;
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
};

typedef int	archiver_scan_fn(int, const char *, int, uint64_t, void *);

static char * __attribute__((format(printf, 2, 0)))
archiver_vmessage(int errnum, const char *fmt, va_list ap)
{
	char	msg[1024], ebuf[128];
	size_t	len;

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (errnum != 0) {
		len = strlen(msg);
		snprintf(msg + len, sizeof msg - len, ": %s",
		    strerror_r(errnum, ebuf, sizeof ebuf));
	}
	return xstrdup(msg);
}

/* One file failed: it alone gets an error; errnum 0 adds no errno text. */
static void __attribute__((format(printf, 3, 4)))
archiver_file_error(struct archiver_file *f, int errnum, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	free(f->error);
	f->error = archiver_vmessage(errnum, fmt, ap);
	va_end(ap);
	log_warn("archiver: %s", f->error);
}

/* The archive failed: every file of the batch gets the error. */
static void __attribute__((format(printf, 3, 4)))
archiver_batch_error(struct archiver_batch *b, int errnum, const char *fmt,
    ...)
{
	va_list	ap;

	va_start(ap, fmt);
	free(b->error);
	b->error = archiver_vmessage(errnum, fmt, ap);
	va_end(ap);
	log_warn("archiver: %s", b->error);
}

static const char *
archiver_aerror(struct archive *a)
{
	const char	*s = archive_error_string(a);

	return s != NULL ? s : "unknown error";
}

static int
archiver_prefix_ok(const char *prefix)
{
	size_t	len;

	if (prefix == NULL)
		return 0;
	len = strlen(prefix);
	return len > 0 && len <= ARCHIVER_MAX_PREFIX && prefix[0] != '.' &&
	    strchr(prefix, '/') == NULL;
}

/*
 * A relative path of plain components ("42/AAPL.xml"): no empty, "." or
 * ".." component, so nothing extracts outside its directory.
 */
static int
archiver_entry_ok(const char *name)
{
	const char	*p = name, *slash;
	size_t		 len = strlen(name), n;

	if (len == 0 || len > ARCHIVER_MAX_ENTRY)
		return 0;
	for (;;) {
		slash = strchr(p, '/');
		n = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (slash == NULL)
			return 1;
		p = slash + 1;
	}
}

/*
 * Which of ours is `name`? 0: a final archive PREFIX-N.tgz, 1: a
 * temporary .PREFIX-N.tgz.tmp, -1: anything else. *seq gets N.
 */
static int
archiver_parse_name(const char *name, const char *prefix, uint64_t *seq)
{
	const char	*p = name;
	size_t		 plen = strlen(prefix), ndigits = 0;
	uint64_t	 n = 0;
	int		 tmp = 0;

	if (*p == '.') {
		tmp = 1;
		p++;
	}
	if (strncmp(p, prefix, plen) != 0 || p[plen] != '-')
		return -1;
	for (p += plen + 1; *p >= '0' && *p <= '9'; p++) {
		if (++ndigits > ARCHIVER_MAX_DIGITS)
			return -1;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (ndigits == 0 || strcmp(p, tmp ? ".tgz.tmp" : ".tgz") != 0)
		return -1;
	*seq = n;
	return tmp;
}

/* Calls fn for each archive or temporary file of `prefix`. 0 or -errno. */
static int
archiver_scan(int dirfd, const char *prefix, archiver_scan_fn *fn, void *arg)
{
	DIR		*d;
	struct dirent	*de;
	uint64_t	 seq;
	int		 fd, kind, error = 0;

	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	if ((d = fdopendir(fd)) == NULL) {
		error = -errno;
		close(fd);
		return error;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			error = -errno;
			break;
		}
		kind = archiver_parse_name(de->d_name, prefix, &seq);
		if (kind >= 0 && (error = fn(dirfd, de->d_name, kind, seq,
		    arg)) != 0)
			break;
	}
	closedir(d);
	return error;
}

/* At start: note the highest number, remove what a killed run left. */
static int
archiver_start_one(int dirfd, const char *name, int tmp, uint64_t seq,
    void *arg)
{
	uint64_t	*max = arg;

	if (!tmp) {
		if (seq > *max)
			*max = seq;
		return 0;
	}
	if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT)
		return -errno;
	log_info("archiver: removed stale temporary file %s", name);
	return 0;
}

static void
archiver_file_free(struct archiver_file *f)
{
	free(f->path);
	free(f->name);
	free(f->used);
	free(f->error);
	free(f);
}

/* Loop thread: one result per file, then the batch is gone. */
static void
archiver_batch_done(struct compq_item *item)
{
	struct archiver_batch	*b = (struct archiver_batch *)item;
	struct archiver_file	*f;
	struct archiver_result	 r;

	while ((f = TAILQ_FIRST(&b->files)) != NULL) {
		TAILQ_REMOVE(&b->files, f, entry);
		r.token = f->token;
		r.error = f->error != NULL ? f->error : b->error;
		r.archive = r.error == NULL ? b->archive : NULL;
		r.entry = r.error == NULL ? f->used : f->name;
		b->done(&r, b->arg);
		archiver_file_free(f);
	}
	free(b->archive);
	free(b->error);
	free(b);
}

static int
archiver_name_used(struct archiver_batch *b, const char *name)
{
	struct archiver_file	*f;

	TAILQ_FOREACH(f, &b->files, entry) {
		if (f->used != NULL && strcmp(f->used, name) == 0)
			return 1;
	}
	return 0;
}

/* NAME if free in this archive, else STEM-2.EXT, STEM-3.EXT, ... */
static char *
archiver_unique_name(struct archiver_batch *b, const char *name)
{
	const char	*dot;
	char		*try;
	unsigned	 n;

	if (!archiver_name_used(b, name))
		return xstrdup(name);
	if ((dot = strrchr(name, '.')) == NULL || dot == name)
		dot = name + strlen(name);
	for (n = 2;; n++) {
		xasprintf(&try, "%.*s-%u%s", (int)(dot - name), name, n, dot);
		if (!archiver_name_used(b, try))
			return try;
		free(try);
	}
}

/*
 * Streams one file into the archive. 0: written, or skipped with its own
 * error before anything went out; 1: it failed after its header was
 * written (marked; the archive must be written again without it); -1: the
 * archive itself failed (b->error set).
 */
static int
archiver_write_file(struct archiver *ar, struct archiver_batch *b,
    struct archive *a, struct archive_entry *ae, struct archiver_file *f)
{
	struct stat	 st;
	off_t		 left;
	ssize_t		 n;
	la_ssize_t	 w;
	int		 fd, r, ret = 0;

	if (!archiver_entry_ok(f->name)) {
		archiver_file_error(f, 0, "%s: bad entry name '%s'", f->path,
		    f->name);
		return 0;
	}
	/* O_NONBLOCK: a FIFO in the way must not hang the thread. */
	fd = open(f->path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		archiver_file_error(f, errno, "cannot open %s", f->path);
		return 0;
	}
	if (fstat(fd, &st) != 0) {
		archiver_file_error(f, errno, "cannot stat %s", f->path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		archiver_file_error(f, 0, "%s: not a regular file", f->path);
		goto out;
	}

	f->used = archiver_unique_name(b, f->name);
	archive_entry_clear(ae);
	archive_entry_set_pathname(ae, f->used);
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, 0644);
	archive_entry_set_size(ae, st.st_size);
	archive_entry_set_mtime(ae, st.st_mtim.tv_sec, 0);
	r = archive_write_header(a, ae);
	if (r == ARCHIVE_FAILED) {	/* this entry only, not the archive */
		archiver_file_error(f, 0, "%s: %s", f->path,
		    archiver_aerror(a));
		free(f->used);
		f->used = NULL;
		goto out;
	}
	if (r < ARCHIVE_WARN) {
		archiver_batch_error(b, archive_errno(a),
		    "cannot write archive in %s: %s", ar->dir,
		    archiver_aerror(a));
		ret = -1;
		goto out;
	}

	for (left = st.st_size; left > 0; left -= n) {
		n = read(fd, b->buf, left < ARCHIVER_CHUNK ?
		    (size_t)left : ARCHIVER_CHUNK);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0) {
			if (n == 0)
				archiver_file_error(f, 0,
				    "%s: file shrank while being archived",
				    f->path);
			else
				archiver_file_error(f, errno, "cannot read %s",
				    f->path);
			ret = 1;
			goto out;
		}
		if ((w = archive_write_data(a, b->buf, (size_t)n)) != n) {
			archiver_batch_error(b, archive_errno(a),
			    "cannot write archive in %s: %s", ar->dir,
			    w < 0 ? archiver_aerror(a) : "short write");
			ret = -1;
			goto out;
		}
	}
out:
	close(fd);
	return ret;
}

/* Writes the batch's files to fd as a .tgz; returns as archiver_write_file. */
static int
archiver_write(struct archiver *ar, struct archiver_batch *b, int fd,
    unsigned *nentries)
{
	struct archive		*a;
	struct archive_entry	*ae;
	struct archiver_file	*f;
	char			 level[16];
	int			 r = -1;

	if ((a = archive_write_new()) == NULL ||
	    (ae = archive_entry_new()) == NULL)
		fatalx("archiver: out of memory");
	snprintf(level, sizeof level, "%d", ar->gzip_level);
	if (archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_set_filter_option(a, "gzip", "compression-level",
	    level) != ARCHIVE_OK ||
	    archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		archiver_batch_error(b, 0, "cannot start an archive: %s",
		    archiver_aerror(a));
		goto out;
	}

	*nentries = 0;
	TAILQ_FOREACH(f, &b->files, entry) {
		if (f->error != NULL)
			continue;
		if ((r = archiver_write_file(ar, b, a, ae, f)) != 0)
			goto out;
		if (f->used != NULL)
			(*nentries)++;
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		archiver_batch_error(b, archive_errno(a),
		    "cannot write archive in %s: %s", ar->dir,
		    archiver_aerror(a));
		r = -1;
		goto out;
	}
	r = 0;
out:
	archive_entry_free(ae);
	archive_write_free(a);
	return r;
}

static int
archiver_rename_noreplace(int dirfd, const char *from, const char *to)
{
#ifdef RENAME_NOREPLACE
	if (renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return -1;
#endif
	/* No renameat2 here or in this file system; link() never replaces. */
	if (linkat(dirfd, from, dirfd, to, 0) != 0)
		return -1;
	if (unlinkat(dirfd, from, 0) != 0)
		log_warn("archiver: cannot remove %s (removed at next start)",
		    from);
	return 0;
}

/*
 * Gives tmp the next free final name; an existing file is never replaced.
 * The number is taken under the lock, so packing threads never race for
 * one.
 */
static int
archiver_publish(struct archiver *ar, struct archiver_batch *b,
    const char *tmp, char **final)
{
	uint64_t	seq;
	int		tries;

	for (tries = 0; tries < ARCHIVER_RENAME_TRIES; tries++) {
		pthread_mutex_lock(&ar->lock);
		seq = ar->next_seq++;
		pthread_mutex_unlock(&ar->lock);
		xasprintf(final, "%s-%06" PRIu64 ".tgz", ar->prefix, seq);
		if (archiver_rename_noreplace(ar->dirfd, tmp, *final) == 0)
			return 0;
		if (errno != EEXIST) {
			archiver_batch_error(b, errno, "cannot rename %s to %s",
			    tmp, *final);
			break;
		}
		log_warn("archiver: %s appeared in %s, using the next number",
		    *final, ar->dir);
		free(*final);
		*final = NULL;
	}
	if (b->error == NULL)
		archiver_batch_error(b, 0, "no free archive name in %s",
		    ar->dir);
	free(*final);
	*final = NULL;
	return -1;
}

/* Packing thread: the whole life of one archive. */
static void
archiver_pack(struct archiver *ar, struct archiver_batch *b)
{
	struct archiver_file	*f;
	struct stat		 st;
	char			*tmp, *final = NULL;
	unsigned		 nentries = 0;
	int			 fd = -1, r;

	xasprintf(&tmp, ".%s-%06" PRIu64 ".tgz.tmp", ar->prefix,
	    b->tmp_serial);
	b->buf = xmalloc(ARCHIVER_CHUNK);
	for (;;) {
		TAILQ_FOREACH(f, &b->files, entry) {
			free(f->used);
			f->used = NULL;
		}
		fd = openat(ar->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0644);
		if (fd < 0) {
			archiver_batch_error(b, errno, "cannot create %s/%s",
			    ar->dir, tmp);
			goto out;
		}
		if ((r = archiver_write(ar, b, fd, &nentries)) == 0)
			break;
		close(fd);
		fd = -1;
		if (r < 0)
			goto out;
		/* A file failed half-way: write again without it. */
	}
	if (nentries == 0)
		goto out;	/* every file failed on its own */

	if (fsync(fd) != 0 || fstat(fd, &st) != 0) {
		archiver_batch_error(b, errno, "cannot sync %s/%s", ar->dir,
		    tmp);
		goto out;
	}
	r = close(fd);
	fd = -1;
	if (r != 0) {
		archiver_batch_error(b, errno, "cannot write %s/%s", ar->dir,
		    tmp);
		goto out;
	}
	if (archiver_publish(ar, b, tmp, &final) != 0)
		goto out;
	if (fsync(ar->dirfd) != 0) {
		/* Not known to be durable: take it back, keep the files. */
		archiver_batch_error(b, errno, "cannot sync %s", ar->dir);
		if (unlinkat(ar->dirfd, final, 0) != 0)
			log_warn("archiver: cannot remove %s/%s", ar->dir,
			    final);
		goto out;
	}

	b->archive = final;
	final = NULL;
	b->bytes = (uint64_t)st.st_size;
	TAILQ_FOREACH(f, &b->files, entry) {
		if (f->error == NULL && unlink(f->path) != 0 &&
		    errno != ENOENT)
			log_warn("archiver: cannot remove %s (archived in %s)",
			    f->path, b->archive);
	}
	log_info("archiver: wrote %s (%u files, %" PRIu64 " bytes)",
	    b->archive, nentries, b->bytes);
out:
	if (fd >= 0)
		close(fd);
	if (unlinkat(ar->dirfd, tmp, 0) != 0 && errno != ENOENT)
		log_warn("archiver: cannot remove %s/%s", ar->dir, tmp);
	free(final);
	free(tmp);
	free(b->buf);
	b->buf = NULL;
}

/* Called with the lock held. */
static int
archiver_ready(struct archiver *ar)
{
	struct archiver_file	*f = TAILQ_FIRST(&ar->pending);

	if (f == NULL)
		return ar->stopping;
	return ar->npending >= ar->batch_size || ar->stopping ||
	    f->seq <= ar->flush_upto;
}

/* Called with the lock held: up to batch_size files, oldest first. */
static struct archiver_batch *
archiver_take(struct archiver *ar)
{
	struct archiver_batch	*b;
	struct archiver_file	*f;

	b = xcalloc(1, sizeof *b);
	b->item.fn = archiver_batch_done;
	b->done = ar->done;
	b->arg = ar->arg;
	TAILQ_INIT(&b->files);
	b->tmp_serial = ++ar->tmp_serial;
	while (b->nfiles < ar->batch_size &&
	    (f = TAILQ_FIRST(&ar->pending)) != NULL) {
		TAILQ_REMOVE(&ar->pending, f, entry);
		ar->npending--;
		TAILQ_INSERT_TAIL(&b->files, f, entry);
		b->nfiles++;
	}
	return b;
}

static void *
archiver_main(void *arg)
{
	struct archiver		*ar = arg;
	struct archiver_batch	*b;
	struct archiver_file	*f;
	sigset_t		 all;

	/* Signals are loop events; keep them away from this thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	/*
	 * Compression can take every core for seconds; a lower priority
	 * (Linux sets it per thread) keeps the loop's replies prompt.
	 */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), ARCHIVER_NICE) != 0)
		log_debug("archiver: setpriority: %s", strerror(errno));

	pthread_mutex_lock(&ar->lock);
	for (;;) {
		while (!archiver_ready(ar))
			pthread_cond_wait(&ar->wake, &ar->lock);
		if (TAILQ_EMPTY(&ar->pending))
			break;		/* stopping and nothing left */
		b = archiver_take(ar);
		ar->packing += b->nfiles;
		if (archiver_ready(ar) && !TAILQ_EMPTY(&ar->pending))
			pthread_cond_signal(&ar->wake);	/* more for another */
		pthread_mutex_unlock(&ar->lock);

		archiver_pack(ar, b);

		pthread_mutex_lock(&ar->lock);
		ar->packing -= b->nfiles;
		if (b->archive != NULL) {
			ar->archives++;
			ar->bytes += b->bytes;
		}
		TAILQ_FOREACH(f, &b->files, entry) {
			if (f->error == NULL && b->error == NULL)
				ar->files++;
			else
				ar->errors++;
		}
		compq_push(ar->cq, &b->item);
	}
	pthread_mutex_unlock(&ar->lock);
	return NULL;
}

static void
archiver_release(struct archiver *ar)
{
	if (ar->dirfd >= 0)
		close(ar->dirfd);
	if (ar->lockfd >= 0)
		close(ar->lockfd);	/* drops the flock */
	free(ar->threads);
	free(ar->dir);
	free(ar->prefix);
	free(ar);
}

/* Opens, locks and cleans the directory. NULL and *err on failure. */
static const char *
archiver_open_dir(struct archiver *ar)
{
	char		*lockname;
	uint64_t	 max = 0;
	int		 error;

	ar->dirfd = open(ar->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ar->dirfd < 0)
		return "cannot open the archive directory";
	if (faccessat(ar->dirfd, ".", W_OK | X_OK, AT_EACCESS) != 0)
		return "the archive directory is not writable";
	xasprintf(&lockname, ".%s.lock", ar->prefix);
	ar->lockfd = openat(ar->dirfd, lockname, O_RDWR | O_CREAT |
	    O_NOFOLLOW | O_CLOEXEC, 0644);
	free(lockname);
	if (ar->lockfd < 0)
		return "cannot create the lock file in the archive directory";
	if (flock(ar->lockfd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			return "the archive directory is in use by another "
			    "archiver";
		return "cannot lock the archive directory";
	}
	if ((error = archiver_scan(ar->dirfd, ar->prefix, archiver_start_one,
	    &max)) != 0) {
		errno = -error;
		return "cannot scan the archive directory";
	}
	if (max >= ARCHIVER_MAX_SEQ) {
		errno = ERANGE;
		return "no archive numbers left in the archive directory";
	}
	ar->next_seq = max + 1;
	return NULL;
}

struct archiver *
archiver_new(const struct archiver_options *opt, struct compq *cq,
    archiver_done_fn *done, void *arg, const char **err)
{
	struct archiver	*ar;
	unsigned	 i;
	int		 error, saved;

	*err = NULL;
	if (opt->dir == NULL || *opt->dir == '\0')
		*err = "no archive directory";
	else if (!archiver_prefix_ok(opt->prefix))
		*err = "bad archive prefix (empty, too long, or with a '/' or "
		    "a leading '.')";
	else if (opt->batch_size == 0)
		*err = "the archive batch size must be at least 1";
	else if (opt->gzip_level < 1 || opt->gzip_level > 9)
		*err = "the gzip level must be 1 to 9";
	if (*err != NULL) {
		errno = EINVAL;
		return NULL;
	}

	ar = xcalloc(1, sizeof *ar);
	ar->dirfd = ar->lockfd = -1;
	ar->dir = xstrdup(opt->dir);
	ar->prefix = xstrdup(opt->prefix);
	if ((*err = archiver_open_dir(ar)) != NULL) {
		saved = errno;
		archiver_release(ar);
		errno = saved;
		return NULL;
	}
	ar->batch_size = opt->batch_size;
	ar->gzip_level = opt->gzip_level;
	ar->cq = cq;
	ar->done = done;
	ar->arg = arg;
	TAILQ_INIT(&ar->pending);
	if (pthread_mutex_init(&ar->lock, NULL) != 0 ||
	    pthread_cond_init(&ar->wake, NULL) != 0)
		fatalx("archiver: cannot initialise locks");
	ar->nthreads = opt->threads > 0 ? opt->threads : 1;
	ar->threads = xcalloc(ar->nthreads, sizeof *ar->threads);
	for (i = 0; i < ar->nthreads; i++) {
		if ((error = pthread_create(&ar->threads[i], NULL,
		    archiver_main, ar)) != 0) {
			errno = error;
			fatal("archiver: pthread_create");
		}
		pthread_setname_np(ar->threads[i], "archiver");
	}
	log_debug("archiver: %s/%s-*.tgz, next %06" PRIu64 ", %u per archive",
	    ar->dir, ar->prefix, ar->next_seq, ar->batch_size);
	return ar;
}

void
archiver_add(struct archiver *ar, const char *path, const char *entry,
    void *token)
{
	struct archiver_file	*f;

	f = xcalloc(1, sizeof *f);
	f->path = xstrdup(path);
	f->name = xstrdup(entry);
	f->token = token;

	pthread_mutex_lock(&ar->lock);
	f->seq = ++ar->added;
	TAILQ_INSERT_TAIL(&ar->pending, f, entry);
	if (++ar->npending >= ar->batch_size)
		pthread_cond_signal(&ar->wake);
	pthread_mutex_unlock(&ar->lock);
}

void
archiver_flush(struct archiver *ar)
{
	pthread_mutex_lock(&ar->lock);
	ar->flush_upto = ar->added;
	if (ar->npending > 0)
		pthread_cond_signal(&ar->wake);
	pthread_mutex_unlock(&ar->lock);
}

void
archiver_get_stats(struct archiver *ar, struct archiver_stats *st)
{
	pthread_mutex_lock(&ar->lock);
	st->archives = ar->archives;
	st->files = ar->files;
	st->bytes = ar->bytes;
	st->pending = ar->npending;
	st->packing = ar->packing;
	st->errors = ar->errors;
	st->next_seq = ar->next_seq;
	pthread_mutex_unlock(&ar->lock);
}

void
archiver_free(struct archiver *ar)
{
	unsigned	i;

	if (ar == NULL)
		return;
	pthread_mutex_lock(&ar->lock);
	ar->stopping = 1;
	pthread_cond_broadcast(&ar->wake);
	pthread_mutex_unlock(&ar->lock);
	for (i = 0; i < ar->nthreads; i++)
		pthread_join(ar->threads[i], NULL);

	pthread_cond_destroy(&ar->wake);
	pthread_mutex_destroy(&ar->lock);
	archiver_release(ar);
}

/* --- listing --- */

struct archiver_listed {
	uint64_t		 seq;
	char			*name;
};

struct archiver_listing {
	struct archiver_listed	*v;
	size_t			 n;
	size_t			 cap;
};

static int
archiver_list_one(int dirfd, const char *name, int tmp, uint64_t seq,
    void *arg)
{
	struct archiver_listing	*l = arg;

	if (tmp)
		return 0;
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 16 : l->cap * 2;
		l->v = xreallocarray(l->v, l->cap, sizeof *l->v);
	}
	l->v[l->n].seq = seq;
	l->v[l->n].name = xstrdup(name);
	l->n++;
	return 0;
}

static int
archiver_list_cmp(const void *a, const void *b)
{
	const struct archiver_listed	*x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return strcmp(x->name, y->name);
}

int
archiver_list(const char *dir, const char *prefix, char ***names,
    size_t *count)
{
	struct archiver_listing	 l = { NULL, 0, 0 };
	size_t			 i;
	int			 dirfd, error;

	*names = NULL;
	*count = 0;
	if (!archiver_prefix_ok(prefix))
		return -EINVAL;
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	error = archiver_scan(dirfd, prefix, archiver_list_one, &l);
	close(dirfd);
	if (error == 0 && l.n > 0) {
		qsort(l.v, l.n, sizeof *l.v, archiver_list_cmp);
		*names = xcalloc(l.n, sizeof **names);
		for (i = 0; i < l.n; i++)
			(*names)[i] = l.v[i].name;
		*count = l.n;
	} else {
		for (i = 0; i < l.n; i++)
			free(l.v[i].name);
	}
	free(l.v);
	return error;
}

void
archiver_list_free(char **names, size_t count)
{
	size_t	i;

	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
}
