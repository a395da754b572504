/* assets.h - the dashboard's files, embedded at build time. */
#ifndef SC_ASSETS_H
#define SC_ASSETS_H

#include <stddef.h>

struct router;
struct assets;

struct asset {
	const char		*path;		/* "/index.html" */
	const unsigned char	*data;		/* NUL-terminated copy */
	size_t			 len;
};

/* Generated from web/ (see build-aux/embed.sh). */
extern const struct asset	assets_table[];
extern const size_t		assets_count;

/* Serves every asset at its path, and /index.html at "/" too. */
struct assets	*assets_register(struct router *);
void		 assets_free(struct assets *);
const char	*assets_content_type(const char *path);

#endif
