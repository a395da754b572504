/* tgzdir.h - read the archive directory: names, listing, one entry. */
#ifndef SC_TGZDIR_H
#define SC_TGZDIR_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct tgzdir;

/* One archive as listed: entries is -1 when the archive cannot be read. */
struct tgzdir_item {
	char		*name;		/* PREFIX-NNNNNN.tgz */
	long long	 bytes;
	long long	 entries;
	struct timespec	 mtime;		/* written at */
};

/* The directory `dir` holding ARCHIVER_PREFIX archives; nothing is opened. */
struct tgzdir	*tgzdir_new(const char *dir);
void		 tgzdir_free(struct tgzdir *);
/* 1 if `name` is PREFIX-DIGITS.tgz, the only names ever served. */
int		 tgzdir_name_ok(const char *name);
/*
 * Any thread (blocking). The archives in sequence order with their size
 * and entry count (counts are cached: archives never change); archives
 * that vanish meanwhile are left out. 0 with *items (release with
 * tgzdir_list_free), or -errno.
 */
int		 tgzdir_list(struct tgzdir *, struct tgzdir_item **items,
		    size_t *count);
/* Releases what tgzdir_list returned. */
void		 tgzdir_list_free(struct tgzdir_item *, size_t count);
/*
 * Any thread (blocking). Reads `entry` out of the archive named
 * `archive`, at most `max` bytes. 0 with *data (malloc'd, caller frees)
 * and *len; else -ENOENT (no such entry), -EFBIG (over max) or -EIO, with
 * the reason in err (errlen bytes).
 */
int		 tgzdir_read(struct tgzdir *, const char *archive,
		    const char *entry, size_t max, char **data, size_t *len,
		    char *err, size_t errlen);
/*
 * Any thread (blocking). fn for the name of every entry of the archive
 * `name`, in order: 0, or -EIO when it cannot be read to its end.
 */
typedef void	tgzdir_entry_fn(const char *entry, void *arg);
int		 tgzdir_entries(struct tgzdir *, const char *name,
		    tgzdir_entry_fn *fn, void *arg);
/*
 * Opens the archive `name` (checked with tgzdir_name_ok) for sending: 0
 * with *fd (caller closes) and *size, -ENOENT if there is none, or
 * another -errno (out of fds, say) if it could not be opened now.
 */
int		 tgzdir_open(struct tgzdir *, const char *name, int *fd,
		    off_t *size);

#endif
