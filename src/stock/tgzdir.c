/*
 * tgzdir.c - read the archive directory: names, listing, one entry.
 *
 * The reading side of what the archiver writes: which names are
 * archives, what each holds, and the bytes of one entry. Everything
 * here blocks (directory scans, decompression) and is meant for a
 * worker thread; the only shared state, the cache of entry counts, is
 * under a mutex. Archives are never rewritten once they have their
 * final name, so a count, once read, stays true.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "lib/log.h"
#include "lib/xmalloc.h"
#include "stock/archiver.h"
#include "stock/tgzdir.h"

#define TGZDIR_BLOCK	65536		/* libarchive read block */

struct tgzdir_count {
	char		*name;
	long long	 entries;
};

struct tgzdir {
	char			*dir;
	pthread_mutex_t		 lock;
	struct tgzdir_count	*counts;	/* under lock */
	size_t			 ncounts;
};

struct tgzdir *
tgzdir_new(const char *dir)
{
	struct tgzdir	*td;

	td = xcalloc(1, sizeof *td);
	td->dir = xstrdup(dir);
	if (pthread_mutex_init(&td->lock, NULL) != 0)
		fatalx("tgzdir: cannot initialise a lock");
	return td;
}

void
tgzdir_free(struct tgzdir *td)
{
	size_t	i;

	if (td == NULL)
		return;
	for (i = 0; i < td->ncounts; i++)
		free(td->counts[i].name);
	free(td->counts);
	pthread_mutex_destroy(&td->lock);
	free(td->dir);
	free(td);
}

int
tgzdir_name_ok(const char *name)
{
	const char	*p;
	size_t		 plen = sizeof ARCHIVER_PREFIX - 1;

	if (strncmp(name, ARCHIVER_PREFIX "-", plen + 1) != 0)
		return 0;
	for (p = name + plen + 1; *p >= '0' && *p <= '9'; p++)
		;
	return p > name + plen + 1 && strcmp(p, ".tgz") == 0;
}

static const char *
tgzdir_aerror(struct archive *a)
{
	const char	*s = archive_error_string(a);

	return s != NULL ? s : "unknown error";
}

/* A reader of gzipped tar for `name` in the directory; NULL and err. */
static struct archive *
tgzdir_open_archive(struct tgzdir *td, const char *name, char *err,
    size_t errlen)
{
	struct archive	*a;
	char		*path;

	if ((a = archive_read_new()) == NULL)
		fatalx("tgzdir: archive_read_new: out of memory");
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	xasprintf(&path, "%s/%s", td->dir, name);
	if (archive_read_open_filename(a, path, TGZDIR_BLOCK) != ARCHIVE_OK) {
		snprintf(err, errlen, "%s", tgzdir_aerror(a));
		archive_read_free(a);
		a = NULL;
	}
	free(path);
	return a;
}

/* Entries in the archive (its headers are read): the count, or -1. */
static long long
tgzdir_count_entries(struct tgzdir *td, const char *name)
{
	struct archive		*a;
	struct archive_entry	*e;
	char			 err[256];
	long long		 n = 0;

	if ((a = tgzdir_open_archive(td, name, err, sizeof err)) == NULL)
		return -1;
	while (archive_read_next_header(a, &e) == ARCHIVE_OK)
		n++;
	archive_read_free(a);
	return n;
}

int
tgzdir_entries(struct tgzdir *td, const char *name, tgzdir_entry_fn *fn,
    void *arg)
{
	struct archive		*a;
	struct archive_entry	*e;
	char			 err[256];
	int			 rc;

	if ((a = tgzdir_open_archive(td, name, err, sizeof err)) == NULL)
		return -EIO;
	while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK)
		fn(archive_entry_pathname(e), arg);
	archive_read_free(a);
	return rc == ARCHIVE_EOF ? 0 : -EIO;
}

/* The cached count of `name`, or -1. */
static long long
tgzdir_cached(struct tgzdir *td, const char *name)
{
	long long	n = -1;
	size_t		i;

	pthread_mutex_lock(&td->lock);
	for (i = 0; i < td->ncounts; i++) {
		if (strcmp(td->counts[i].name, name) == 0) {
			n = td->counts[i].entries;
			break;
		}
	}
	pthread_mutex_unlock(&td->lock);
	return n;
}

static void
tgzdir_cache(struct tgzdir *td, const char *name, long long entries)
{
	size_t	i;

	pthread_mutex_lock(&td->lock);
	for (i = 0; i < td->ncounts; i++) {
		if (strcmp(td->counts[i].name, name) == 0)
			break;
	}
	if (i == td->ncounts) {
		td->counts = xreallocarray(td->counts, td->ncounts + 1,
		    sizeof *td->counts);
		td->counts[td->ncounts].name = xstrdup(name);
		td->counts[td->ncounts++].entries = entries;
	}
	pthread_mutex_unlock(&td->lock);
}

int
tgzdir_list(struct tgzdir *td, struct tgzdir_item **items, size_t *count)
{
	struct tgzdir_item	*v;
	struct stat		 st;
	char			**names, *path;
	size_t			 n, i, k = 0;
	long long		 entries;
	int			 error;

	*items = NULL;
	*count = 0;
	if ((error = archiver_list(td->dir, ARCHIVER_PREFIX, &names, &n)) != 0)
		return error;
	v = xcalloc(n + 1, sizeof *v);
	for (i = 0; i < n; i++) {
		if ((entries = tgzdir_cached(td, names[i])) < 0 &&
		    (entries = tgzdir_count_entries(td, names[i])) >= 0)
			tgzdir_cache(td, names[i], entries);
		xasprintf(&path, "%s/%s", td->dir, names[i]);
		if (stat(path, &st) == 0) {
			v[k].name = names[i];
			names[i] = NULL;
			v[k].bytes = (long long)st.st_size;
			v[k].mtime = st.st_mtim;
			v[k++].entries = entries;
		}			/* else vanished meanwhile */
		free(path);
	}
	archiver_list_free(names, n);
	*items = v;
	*count = k;
	return 0;
}

void
tgzdir_list_free(struct tgzdir_item *items, size_t count)
{
	size_t	i;

	for (i = 0; i < count; i++)
		free(items[i].name);
	free(items);
}

/* Appends the current entry's data to *data; 0, -EFBIG or -EIO. */
static int
tgzdir_slurp(struct archive *a, struct archive_entry *e, size_t max,
    char **data, size_t *len, char *err, size_t errlen)
{
	size_t		 cap;
	la_ssize_t	 n;

	cap = TGZDIR_BLOCK;
	if (archive_entry_size_is_set(e) && archive_entry_size(e) >= 0 &&
	    (uint64_t)archive_entry_size(e) < max)
		cap = (size_t)archive_entry_size(e) + 1;
	*data = xmalloc(cap);
	*len = 0;
	for (;;) {
		if (*len == cap) {
			cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
			*data = xreallocarray(*data, cap, 1);
		}
		if ((n = archive_read_data(a, *data + *len, cap - *len)) <= 0)
			break;
		if ((size_t)n > max - *len) {
			snprintf(err, errlen, "entry larger than %zu bytes",
			    max);
			return -EFBIG;
		}
		*len += (size_t)n;
	}
	if (n < 0) {
		snprintf(err, errlen, "%s", tgzdir_aerror(a));
		return -EIO;
	}
	return 0;
}

int
tgzdir_read(struct tgzdir *td, const char *archive, const char *entry,
    size_t max, char **data, size_t *len, char *err, size_t errlen)
{
	struct archive		*a;
	struct archive_entry	*e;
	int			 error = -ENOENT;

	*data = NULL;
	*len = 0;
	snprintf(err, errlen, "entry missing");
	if ((a = tgzdir_open_archive(td, archive, err, errlen)) == NULL)
		return -EIO;
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		if (strcmp(archive_entry_pathname(e), entry) == 0) {
			error = tgzdir_slurp(a, e, max, data, len, err,
			    errlen);
			break;
		}
	}
	archive_read_free(a);
	if (error != 0) {
		free(*data);
		*data = NULL;
		*len = 0;
	} else
		err[0] = '\0';
	return error;
}

int
tgzdir_open(struct tgzdir *td, const char *name, int *fd, off_t *size)
{
	struct stat	 st;
	char		*path;

	*fd = -1;
	*size = 0;
	if (!tgzdir_name_ok(name))
		return -ENOENT;
	xasprintf(&path, "%s/%s", td->dir, name);
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (*fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;
	if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(*fd);
		*fd = -1;
		return -ENOENT;
	}
	*size = st.st_size;
	return 0;
}
