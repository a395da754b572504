/*
 * fsfree.h - the bytes an unprivileged process may still write on the
 * file system of a directory: what admission (507) and the pipeline's
 * pause both measure against --min-free-space.
 */
#ifndef SC_FSFREE_H
#define SC_FSFREE_H

#include <sys/statvfs.h>
#include <stdint.h>

/* One statvfs; UINT64_MAX when it cannot tell. */
static inline uint64_t
fs_free_bytes(const char *dir)
{
	struct statvfs	sv;

	if (statvfs(dir, &sv) != 0)
		return UINT64_MAX;
	return (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
}

#endif
