/* compq.h - completion queue: worker threads hand results to the loop. */
#ifndef SC_COMPQ_H
#define SC_COMPQ_H

struct event_base;
struct compq;

/*
 * An item embeds this header. `fn` runs on the loop thread once the item
 * has been taken off the queue; it owns the item from then on.
 */
struct compq_item {
	struct compq_item	*next;
	void			(*fn)(struct compq_item *);
};

struct compq	*compq_new(struct event_base *);
void		 compq_free(struct compq *);
/* Any thread. Never blocks on the loop. */
void		 compq_push(struct compq *, struct compq_item *);
/* Loop thread: run every item queued now. Returns how many ran. */
unsigned	 compq_drain(struct compq *);

#endif
