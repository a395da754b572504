/*
 * workdir.c - the work folders of the data directory, and recovery of
 * what an earlier run left in them.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/mkpath.h"
#include "lib/xmalloc.h"
#include "stock/names.h"
#include "stock/workdir.h"

int
workdir_open(struct workdir *wd, const char *data_dir)
{
	int	rv;

	memset(wd, 0, sizeof *wd);
	snprintf(wd->run, sizeof wd->run, "%llx",
	    (unsigned long long)time(NULL));
	xasprintf(&wd->csv_dir, "%s/csv", data_dir);
	xasprintf(&wd->xml_dir, "%s/xml", data_dir);
	xasprintf(&wd->archive_dir, "%s/archives", data_dir);
	if ((rv = mkpath(wd->csv_dir)) != 0 ||
	    (rv = mkpath(wd->xml_dir)) != 0 ||
	    (rv = mkpath(wd->archive_dir)) != 0) {
		workdir_close(wd);
		return rv;
	}
	return 0;
}

void
workdir_close(struct workdir *wd)
{
	free(wd->csv_dir);
	free(wd->xml_dir);
	free(wd->archive_dir);
	wd->csv_dir = wd->xml_dir = wd->archive_dir = NULL;
}

char *
workdir_csv(const struct workdir *wd, uint64_t job, const char *symbol)
{
	return names_work_file(wd->csv_dir, wd->run, job, symbol, "csv");
}

char *
workdir_xml(const struct workdir *wd, uint64_t job, const char *symbol)
{
	return names_work_file(wd->xml_dir, wd->run, job, symbol, "xml");
}

void
workdir_recover(const struct workdir *wd, workdir_leftover_fn *fn,
    void *arg)
{
	DIR		*d;
	struct dirent	*de;
	char		*path, *entry;
	unsigned	 ntemp = 0;

	/*
	 * Every download is stale after a restart, hidden partial ones
	 * (a converter's dot-temp next to its input) included.
	 */
	if ((d = opendir(wd->csv_dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			xasprintf(&path, "%s/%s", wd->csv_dir, de->d_name);
			if (unlink(path) == 0 && de->d_name[0] == '.')
				ntemp++;
			free(path);
		}
		closedir(d);
	}
	if ((d = opendir(wd->xml_dir)) == NULL) {
		log_info("removed %u temporary files left by an earlier "
		    "run", ntemp);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' && strstr(de->d_name, ".tmp-") !=
		    NULL) {
			/* A conversion the earlier run did not finish. */
			xasprintf(&path, "%s/%s", wd->xml_dir, de->d_name);
			if (unlink(path) == 0)
				ntemp++;
			free(path);
			continue;
		}
		if ((entry = names_entry_of_work_file(de->d_name)) == NULL)
			continue;
		xasprintf(&path, "%s/%s", wd->xml_dir, de->d_name);
		log_info("archiving %s left by an earlier run", de->d_name);
		fn(path, entry, arg);
		free(path);
		free(entry);
	}
	closedir(d);
	/* Partial archives are removed by the archiver when it opens. */
	log_info("removed %u temporary files left by an earlier run", ntemp);
}
