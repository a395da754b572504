/*
 * compq.c - the completion queue.
 *
 * A mutex-protected list plus one wakeup fd (an eventfd, or a
 * non-blocking pipe where there is none) watched by the loop. Producers
 * append and write the fd only when the list goes from empty to
 * non-empty. The consumer drains the fd first and only then takes the
 * whole list: an item pushed after the take finds the list empty and
 * writes the fd again, so no wakeup is ever lost, and a burst of pushes
 * costs one write and one read.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef HAVE_SYS_EVENTFD_H
#include <sys/eventfd.h>
#endif

#include <event2/event.h>

#include "lib/compq.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

struct compq {
	pthread_mutex_t		 lock;
	struct compq_item	*head;
	struct compq_item	*tail;
	int			 rfd;	/* read end; == wfd for an eventfd */
	int			 wfd;
	struct event		*ev;
};

static void
compq_wake(struct compq *q)
{
	uint64_t	one = 1;
	ssize_t		n;

	do
		n = write(q->wfd, &one, q->rfd == q->wfd ? sizeof one : 1);
	while (n < 0 && errno == EINTR);
	/* EAGAIN: the fd is already readable, which is all that matters. */
	if (n < 0 && errno != EAGAIN)
		fatal("compq: wakeup write");
}

static void
compq_clear_wakeup(struct compq *q)
{
	char	buf[64];
	ssize_t	n;

	for (;;) {
		n = read(q->rfd, buf, sizeof buf);
		if (n > 0 && q->rfd != q->wfd)
			continue;	/* a pipe may hold more bytes */
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			fatal("compq: wakeup read");
		return;
	}
}

unsigned
compq_drain(struct compq *q)
{
	struct compq_item	*item, *next;
	unsigned		 count = 0;

	compq_clear_wakeup(q);

	pthread_mutex_lock(&q->lock);
	item = q->head;
	q->head = q->tail = NULL;
	pthread_mutex_unlock(&q->lock);

	for (; item != NULL; item = next) {
		next = item->next;
		item->next = NULL;
		item->fn(item);
		count++;
	}
	return count;
}

static void
compq_readable(evutil_socket_t fd, short what, void *arg)
{
	compq_drain(arg);
}

static void
compq_open_fds(struct compq *q)
{
#ifdef HAVE_SYS_EVENTFD_H
	q->rfd = q->wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->rfd >= 0)
		return;
#endif
	int	fds[2];

	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
		fatal("compq: pipe");
	q->rfd = fds[0];
	q->wfd = fds[1];
}

struct compq *
compq_new(struct event_base *base)
{
	struct compq	*q;

	q = xcalloc(1, sizeof *q);
	if (pthread_mutex_init(&q->lock, NULL) != 0)
		fatalx("compq: mutex init");
	compq_open_fds(q);
	q->ev = event_new(base, q->rfd, EV_READ | EV_PERSIST, compq_readable,
	    q);
	if (q->ev == NULL || event_add(q->ev, NULL) != 0)
		fatalx("compq: cannot watch the wakeup fd");
	return q;
}

void
compq_push(struct compq *q, struct compq_item *item)
{
	int	was_empty;

	item->next = NULL;
	pthread_mutex_lock(&q->lock);
	was_empty = q->head == NULL;
	if (was_empty)
		q->head = item;
	else
		q->tail->next = item;
	q->tail = item;
	pthread_mutex_unlock(&q->lock);

	if (was_empty)
		compq_wake(q);
}

void
compq_free(struct compq *q)
{
	if (q == NULL)
		return;
	compq_drain(q);
	event_free(q->ev);
	close(q->rfd);
	if (q->wfd != q->rfd)
		close(q->wfd);
	pthread_mutex_destroy(&q->lock);
	free(q);
}
