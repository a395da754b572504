/*
 * archiver_pack.c - write one batch as an archive, on a packing thread.
 *
 * The batch is written as a gzipped tar (ustar; pax headers only where
 * ustar cannot say it; the gzip is archiver_gz.c's members with
 * libdeflate, else libarchive's zlib filter) under a hidden temporary
 * name, fsynced, renamed to the next free PREFIX-N.tgz without ever
 * replacing a file, and the directory is fsynced; only then are the XML files removed. A file that
 * fails on its own gets its own error and the archive is written again
 * without it; a failure of the archive itself goes to the whole batch.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "lib/log.h"
#include "lib/xmalloc.h"
#include "stock/archiver.h"
#include "stock/archiver_int.h"

#define ARCHIVER_PACK_CHUNK		(64 * 1024)	/* memory stays flat */
#define ARCHIVER_PACK_MAX_ENTRY		255
#define ARCHIVER_PACK_RENAME_TRIES	1000

static char * __attribute__((format(printf, 2, 0)))
archiver_pack_vmessage(int errnum, const char *fmt, va_list ap)
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
archiver_pack_file_error(struct archiver_file *f, int errnum, const char *fmt,
    ...)
{
	va_list	ap;

	va_start(ap, fmt);
	free(f->error);
	f->error = archiver_pack_vmessage(errnum, fmt, ap);
	va_end(ap);
	log_warn("archiver: %s", f->error);
}

/* The archive failed: every file of the batch gets the error. */
static void __attribute__((format(printf, 3, 4)))
archiver_pack_batch_error(struct archiver_batch *b, int errnum, const char *fmt,
    ...)
{
	va_list	ap;

	va_start(ap, fmt);
	free(b->error);
	b->error = archiver_pack_vmessage(errnum, fmt, ap);
	b->errnum = errnum;
	va_end(ap);
	/* Lack of room is logged by the queue, once a stall. */
	if (!archiver_lack_of_room(errnum))
		log_warn("archiver: %s", b->error);
}

static const char *
archiver_pack_aerror(struct archive *a)
{
	const char	*s = archive_error_string(a);

	return s != NULL ? s : "unknown error";
}

/*
 * A relative path of plain components ("42/AAPL.xml"): no empty, "." or
 * ".." component, so nothing extracts outside its directory.
 */
static int
archiver_pack_entry_ok(const char *name)
{
	const char	*p = name, *slash;
	size_t		 len = strlen(name), n;

	if (len == 0 || len > ARCHIVER_PACK_MAX_ENTRY)
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

static int
archiver_pack_name_used(struct archiver_batch *b, const char *name)
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
archiver_pack_unique_name(struct archiver_batch *b, const char *name)
{
	const char	*dot;
	char		*try;
	unsigned	 n;

	if (!archiver_pack_name_used(b, name))
		return xstrdup(name);
	if ((dot = strrchr(name, '.')) == NULL || dot == name)
		dot = name + strlen(name);
	for (n = 2;; n++) {
		xasprintf(&try, "%.*s-%u%s", (int)(dot - name), name, n, dot);
		if (!archiver_pack_name_used(b, try))
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
archiver_pack_file(struct archiver *ar, struct archiver_batch *b,
    struct archive *a, struct archive_entry *ae, struct archiver_file *f)
{
	struct stat	 st;
	off_t		 left;
	ssize_t		 n;
	la_ssize_t	 w;
	int		 fd, r, ret = 0;

	if (!archiver_pack_entry_ok(f->name)) {
		archiver_pack_file_error(f, 0, "%s: bad entry name '%s'",
		    f->path, f->name);
		return 0;
	}
	/* O_NONBLOCK: a FIFO in the way must not hang the thread. */
	fd = open(f->path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 && archiver_lack_of_room(errno)) {
		/* Out of descriptors is the process's state, not the file's. */
		archiver_pack_batch_error(b, errno, "cannot open %s", f->path);
		return -1;
	}
	if (fd < 0) {
		archiver_pack_file_error(f, errno, "cannot open %s", f->path);
		return 0;
	}
	if (fstat(fd, &st) != 0) {
		archiver_pack_file_error(f, errno, "cannot stat %s", f->path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		archiver_pack_file_error(f, 0, "%s: not a regular file",
		    f->path);
		goto out;
	}

	f->used = archiver_pack_unique_name(b, f->name);
	archive_entry_clear(ae);
	archive_entry_set_pathname(ae, f->used);
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, 0644);
	archive_entry_set_size(ae, st.st_size);
	archive_entry_set_mtime(ae, st.st_mtim.tv_sec, 0);
	r = archive_write_header(a, ae);
	if (r == ARCHIVE_FAILED) {	/* this entry only, not the archive */
		archiver_pack_file_error(f, 0, "%s: %s", f->path,
		    archiver_pack_aerror(a));
		free(f->used);
		f->used = NULL;
		goto out;
	}
	if (r < ARCHIVE_WARN) {
		archiver_pack_batch_error(b, archive_errno(a),
		    "cannot write archive in %s: %s", ar->dir,
		    archiver_pack_aerror(a));
		ret = -1;
		goto out;
	}

	for (left = st.st_size; left > 0; left -= n) {
		n = read(fd, b->buf, left < ARCHIVER_PACK_CHUNK ?
		    (size_t)left : ARCHIVER_PACK_CHUNK);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0) {
			if (n == 0)
				archiver_pack_file_error(f, 0,
				    "%s: file shrank while being archived",
				    f->path);
			else
				archiver_pack_file_error(f, errno,
				    "cannot read %s", f->path);
			ret = 1;
			goto out;
		}
		if ((w = archive_write_data(a, b->buf, (size_t)n)) != n) {
			archiver_pack_batch_error(b, archive_errno(a),
			    "cannot write archive in %s: %s", ar->dir,
			    w < 0 ? archiver_pack_aerror(a) : "short write");
			ret = -1;
			goto out;
		}
	}
out:
	close(fd);
	return ret;
}

#ifdef HAVE_LIBDEFLATE
/* libarchive writes the tar; archiver_gz.c compresses and writes it. */
struct archiver_pack_out {
	struct archiver_gz	*gz;
	int			 given_up;	/* no flush at close */
};

static la_ssize_t
archiver_pack_out_write(struct archive *a, void *arg, const void *buf,
    size_t len)
{
	struct archiver_pack_out	*o = arg;
	ssize_t				 n;

	if ((n = archiver_gz_write(o->gz, buf, len)) < 0)
		archive_set_error(a, errno, "Write error");
	return n;
}

static int
archiver_pack_out_close(struct archive *a, void *arg)
{
	struct archiver_pack_out	*o = arg;

	if (o->given_up || archiver_gz_close(o->gz) == 0)
		return ARCHIVE_OK;
	archive_set_error(a, errno, "Write error");
	return ARCHIVE_FATAL;
}

/* Starts the tar on o: 0, or -1 with libarchive's error. */
static int
archiver_pack_open(struct archiver *ar, struct archive *a, int fd,
    struct archiver_pack_out *o)
{
	o->gz = archiver_gz_open(ar, fd);
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open(a, o, NULL, archiver_pack_out_write,
	    archiver_pack_out_close) != ARCHIVE_OK)
		return -1;
	return 0;
}
#else
struct archiver_pack_out {
	int	 given_up;
};

/* Starts the tar, gzipped by libarchive (zlib): 0, or -1. */
static int
archiver_pack_open(struct archiver *ar, struct archive *a, int fd,
    struct archiver_pack_out *o)
{
	char	level[16];

	snprintf(level, sizeof level, "%d", ar->gzip_level);
	if (archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_set_filter_option(a, "gzip", "compression-level",
	    level) != ARCHIVE_OK ||
	    archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_fd(a, fd) != ARCHIVE_OK)
		return -1;
	return 0;
}
#endif

/* Writes the batch's files to fd as a .tgz; returns as archiver_pack_file. */
static int
archiver_pack_write(struct archiver *ar, struct archiver_batch *b, int fd,
    unsigned *nentries)
{
	struct archive		*a;
	struct archive_entry	*ae;
	struct archiver_file	*f;
	struct archiver_pack_out o;
	int			 r = -1;

	memset(&o, 0, sizeof o);
	if ((a = archive_write_new()) == NULL ||
	    (ae = archive_entry_new()) == NULL)
		fatalx("archiver: out of memory");
	if (archiver_pack_open(ar, a, fd, &o) != 0) {
		archiver_pack_batch_error(b, 0, "cannot start an archive: %s",
		    archiver_pack_aerror(a));
		goto out;
	}

	*nentries = 0;
	TAILQ_FOREACH(f, &b->files, entry) {
		if (f->error != NULL)
			continue;
		if ((r = archiver_pack_file(ar, b, a, ae, f)) != 0)
			goto out;
		if (f->used != NULL)
			(*nentries)++;
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		archiver_pack_batch_error(b, archive_errno(a),
		    "cannot write archive in %s: %s", ar->dir,
		    archiver_pack_aerror(a));
		r = -1;
		goto out;
	}
	r = 0;
out:
	o.given_up = r != 0;
	archive_entry_free(ae);
	archive_write_free(a);
#ifdef HAVE_LIBDEFLATE
	archiver_gz_free(o.gz);
#endif
	return r;
}

static int
archiver_pack_rename(int dirfd, const char *from, const char *to)
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
archiver_pack_publish(struct archiver *ar, struct archiver_batch *b,
    const char *tmp, char **final)
{
	uint64_t	seq;
	int		tries;

	for (tries = 0; tries < ARCHIVER_PACK_RENAME_TRIES; tries++) {
		pthread_mutex_lock(&ar->lock);
		seq = ar->next_seq++;
		pthread_mutex_unlock(&ar->lock);
		xasprintf(final, "%s-%06" PRIu64 ".tgz", ar->prefix, seq);
		if (archiver_pack_rename(ar->dirfd, tmp, *final) == 0)
			return 0;
		if (errno != EEXIST) {
			archiver_pack_batch_error(b, errno,
			    "cannot rename %s to %s", tmp, *final);
			break;
		}
		log_warn("archiver: %s appeared in %s, using the next number",
		    *final, ar->dir);
		free(*final);
		*final = NULL;
	}
	if (b->error == NULL)
		archiver_pack_batch_error(b, 0, "no free archive name in %s",
		    ar->dir);
	free(*final);
	*final = NULL;
	return -1;
}

/* Packing thread: the whole life of one archive. */
void
archiver_pack_batch(struct archiver *ar, struct archiver_batch *b)
{
	struct archiver_file	*f;
	struct stat		 st;
	char			*tmp, *final = NULL;
	unsigned		 nentries = 0;
	int			 fd = -1, r;

	xasprintf(&tmp, ".%s-%06" PRIu64 ".tgz.tmp", ar->prefix,
	    b->tmp_serial);
	b->buf = xmalloc(ARCHIVER_PACK_CHUNK);
	for (;;) {
		TAILQ_FOREACH(f, &b->files, entry) {
			free(f->used);
			f->used = NULL;
		}
		fd = openat(ar->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0644);
		if (fd < 0) {
			archiver_pack_batch_error(b, errno,
			    "cannot create %s/%s", ar->dir, tmp);
			goto out;
		}
		if ((r = archiver_pack_write(ar, b, fd, &nentries)) == 0)
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
		archiver_pack_batch_error(b, errno, "cannot sync %s/%s",
		    ar->dir, tmp);
		goto out;
	}
	r = close(fd);
	fd = -1;
	if (r != 0) {
		archiver_pack_batch_error(b, errno, "cannot write %s/%s",
		    ar->dir, tmp);
		goto out;
	}
	if (archiver_pack_publish(ar, b, tmp, &final) != 0)
		goto out;
	if (fsync(ar->dirfd) != 0) {
		/* Not known to be durable: take it back, keep the files. */
		archiver_pack_batch_error(b, errno, "cannot sync %s", ar->dir);
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
