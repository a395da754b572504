/* mkpath.h - mkdir -p. */
#ifndef SC_MKPATH_H
#define SC_MKPATH_H

/*
 * Makes path and every missing parent (mode 0755); a directory that is
 * already there is fine. Returns 0 or a negative errno.
 */
int	mkpath(const char *path);

#endif
