/* strset.h - a fixed-size set of borrowed strings, to find repeats in
 * linear time. */
#ifndef SC_STRSET_H
#define SC_STRSET_H

#include <stddef.h>

struct strset;

/* Room for `n` strings (a bounded count: the table is 2n to 4n slots). */
struct strset	*strset_new(size_t n);
void		 strset_free(struct strset *);
/*
 * Adds `s`, which is borrowed and must outlive the set: 1 if it was new,
 * 0 if it was there already, -1 if the set is full.
 */
int		 strset_add(struct strset *, const char *s);

#endif
