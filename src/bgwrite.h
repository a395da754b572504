/* bgwrite.h - write-behind: one buffer written by a thread while the
 * caller fills the next. */
#ifndef SC_BGWRITE_H
#define SC_BGWRITE_H

#include <stddef.h>

struct bgwrite;

/* Writes all of buf; 0, or -1 on an error. Runs on the writer thread. */
typedef int	bgwrite_fn(void *ctx, const char *buf, size_t len);

struct bgwrite	*bgwrite_new(bgwrite_fn *, void *ctx);
/*
 * Waits until the buffer submitted before is written, then starts on
 * this one, which the caller must leave alone until the next submit or
 * wait returns. -1 if any write so far failed.
 */
int		 bgwrite_submit(struct bgwrite *, const char *buf, size_t len);
/* Waits until everything submitted is written; -1 if a write failed. */
int		 bgwrite_wait(struct bgwrite *);
/* Waits, then stops the thread. */
void		 bgwrite_free(struct bgwrite *);

#endif
