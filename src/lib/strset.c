/* strset.c - open addressing with linear probing, kept at most half full
 * so probes stay short whatever the input. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hash.h"
#include "lib/strset.h"
#include "lib/xmalloc.h"

struct strset {
	const char	**slot;
	size_t		  mask;		/* slots - 1, a power of two */
	size_t		  len, max;
};

struct strset *
strset_new(size_t n)
{
	struct strset	*set;
	size_t		 size = 16;

	while (size / 2 < n)
		size *= 2;
	set = xcalloc(1, sizeof(*set));
	set->slot = xcalloc(size, sizeof(*set->slot));
	set->mask = size - 1;
	set->max = n;
	return set;
}

void
strset_free(struct strset *set)
{
	if (set == NULL)
		return;
	free(set->slot);
	free(set);
}

int
strset_add(struct strset *set, const char *s)
{
	size_t	i;

	i = (size_t)hash_string(s) & set->mask;
	while (set->slot[i] != NULL) {
		if (strcmp(set->slot[i], s) == 0)
			return 0;
		i = (i + 1) & set->mask;
	}
	if (set->len == set->max)
		return -1;
	set->slot[i] = s;
	set->len++;
	return 1;
}
