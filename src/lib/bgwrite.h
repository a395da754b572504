/* bgwrite.h - write-behind: buffers written by a thread of their own
 * while the caller fills the next. */
#ifndef SC_BGWRITE_H
#define SC_BGWRITE_H

#include <stddef.h>

struct bgwrite;

/* Writes all of buf: 0, or a negative errno. Runs on the writer thread. */
typedef int	bgwrite_fn(void *ctx, const char *buf, size_t len);

/* `count` buffers of `size` bytes (plus `slack` writable bytes). */
struct bgwrite	*bgwrite_new(bgwrite_fn *, void *ctx, unsigned count,
		    size_t size, size_t slack);
/* A free buffer to fill; waits while every buffer is queued. */
char		*bgwrite_buffer(struct bgwrite *);
/* Queues a buffer from bgwrite_buffer; the first failure of a write so
 * far (a negative errno), or 0. */
int		 bgwrite_submit(struct bgwrite *, char *buf, size_t len);
/* Returns a buffer unused. */
void		 bgwrite_release(struct bgwrite *, char *buf);
/* Waits until everything queued is written; 0, or the first failure. */
int		 bgwrite_wait(struct bgwrite *);
/* Waits, stops the thread, frees the buffers. */
void		 bgwrite_free(struct bgwrite *);

#endif
