/*
 * workdir.h - the data directory's work folders: csv/ for downloads,
 * xml/ for converted files waiting for their archive, archives/; and
 * what an earlier run left in them.
 */
#ifndef SC_WORKDIR_H
#define SC_WORKDIR_H

#include <stdint.h>

struct workdir {
	char	*csv_dir;
	char	*xml_dir;
	char	*archive_dir;
	char	 run[24];	/* tags this run's work files */
};

/* Makes the folders under data_dir. 0, or a negative errno. */
int	 workdir_open(struct workdir *, const char *data_dir);
void	 workdir_close(struct workdir *);
/* Allocated paths of a symbol's download and its XML in this run. */
char	*workdir_csv(const struct workdir *, uint64_t job, const char *symbol);
char	*workdir_xml(const struct workdir *, uint64_t job, const char *symbol);
/*
 * What an earlier run left: downloads are removed, and fn is called
 * for each converted file with its path and archive entry name.
 */
typedef void	workdir_leftover_fn(const char *path, const char *entry,
		    void *arg);
void	 workdir_recover(const struct workdir *, workdir_leftover_fn *,
	    void *arg);

#endif
