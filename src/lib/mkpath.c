/* mkpath.c - mkdir -p. */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>

#include "lib/mkpath.h"

static int
mkpath_one(const char *path)
{
	struct stat	st;

	if (mkdir(path, 0755) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	/* EEXIST: fine if it is a directory (or a link to one). */
	if (stat(path, &st) != 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int
mkpath(const char *path)
{
	char	buf[PATH_MAX], *p;
	int	rv;

	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
		return -ENAMETOOLONG;
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		rv = mkpath_one(buf);
		*p = '/';
		if (rv != 0)
			return rv;
	}
	return mkpath_one(buf);
}
