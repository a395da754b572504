/*
 * archiver_dir.c - archive names, listing and start-up recovery.
 *
 * Final archives are PREFIX-N.tgz, temporary ones .PREFIX-N.tgz.tmp, the
 * lock .PREFIX.lock. At start the directory is opened and locked with
 * flock() (one archiver per directory and prefix, across processes), the
 * highest number found is where numbering continues, and temporary files
 * a killed process left are removed.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xmalloc.h"
#include "stock/archiver.h"
#include "stock/archiver_int.h"

#define ARCHIVER_DIR_MAX_DIGITS	18		/* so numbers never overflow */
#define ARCHIVER_DIR_MAX_SEQ	999999999999999999ULL
#define ARCHIVER_DIR_MAX_PREFIX	128

typedef int	archiver_dir_scan_fn(int, const char *, int, uint64_t, void *);

int
archiver_dir_prefix_ok(const char *prefix)
{
	size_t	len;

	if (prefix == NULL)
		return 0;
	len = strlen(prefix);
	return len > 0 && len <= ARCHIVER_DIR_MAX_PREFIX && prefix[0] != '.' &&
	    strchr(prefix, '/') == NULL;
}

/*
 * Which of ours is `name`? 0: a final archive PREFIX-N.tgz, 1: a
 * temporary .PREFIX-N.tgz.tmp, -1: anything else. *seq gets N.
 */
static int
archiver_dir_parse_name(const char *name, const char *prefix, uint64_t *seq)
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
		if (++ndigits > ARCHIVER_DIR_MAX_DIGITS)
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
archiver_dir_scan(int dirfd, const char *prefix, archiver_dir_scan_fn *fn,
    void *arg)
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
		kind = archiver_dir_parse_name(de->d_name, prefix, &seq);
		if (kind >= 0 && (error = fn(dirfd, de->d_name, kind, seq,
		    arg)) != 0)
			break;
	}
	closedir(d);
	return error;
}

/* At start: note the highest number, remove what a killed run left. */
static int
archiver_dir_start_one(int dirfd, const char *name, int tmp, uint64_t seq,
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

/* Opens, locks and cleans the directory. NULL and *err on failure. */
const char *
archiver_dir_open(struct archiver *ar)
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
	if ((error = archiver_dir_scan(ar->dirfd, ar->prefix,
	    archiver_dir_start_one, &max)) != 0) {
		errno = -error;
		return "cannot scan the archive directory";
	}
	if (max >= ARCHIVER_DIR_MAX_SEQ) {
		errno = ERANGE;
		return "no archive numbers left in the archive directory";
	}
	ar->next_seq = max + 1;
	return NULL;
}

/* --- listing --- */

struct archiver_dir_listed {
	uint64_t		 seq;
	char			*name;
};

struct archiver_dir_listing {
	struct archiver_dir_listed	*v;
	size_t			 n;
	size_t			 cap;
};

static int
archiver_dir_list_one(int dirfd, const char *name, int tmp, uint64_t seq,
    void *arg)
{
	struct archiver_dir_listing	*l = arg;

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
archiver_dir_list_cmp(const void *a, const void *b)
{
	const struct archiver_dir_listed	*x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return strcmp(x->name, y->name);
}

int
archiver_list(const char *dir, const char *prefix, char ***names,
    size_t *count)
{
	struct archiver_dir_listing	 l = { NULL, 0, 0 };
	size_t			 i;
	int			 dirfd, error;

	*names = NULL;
	*count = 0;
	if (!archiver_dir_prefix_ok(prefix))
		return -EINVAL;
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	error = archiver_dir_scan(dirfd, prefix, archiver_dir_list_one, &l);
	close(dirfd);
	if (error == 0 && l.n > 0) {
		qsort(l.v, l.n, sizeof *l.v, archiver_dir_list_cmp);
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
