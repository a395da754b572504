/*
 * test_compq.c - no lost wakeups: producers push bursts and single items
 * at random moments while the loop drains; every item must arrive.
 */
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/compq.h"
#include "tap.h"

#define PRODUCERS	3
#define ITEMS		100000

struct item {
	struct compq_item	 base;
	int			 producer;
	int			 seq;
};

static struct compq	*cq;
static long		 received;
static int		 last_seq[PRODUCERS];
static int		 out_of_order;

static void
item_fn(struct compq_item *ci)
{
	struct item	*it = (struct item *)ci;

	if (it->seq != last_seq[it->producer] + 1)
		out_of_order++;
	last_seq[it->producer] = it->seq;
	received++;
	free(it);
}

static void *
producer(void *arg)
{
	int		 id = (int)(long)arg, i;
	struct item	*it;

	for (i = 1; i <= ITEMS; i++) {
		it = calloc(1, sizeof *it);
		it->base.fn = item_fn;
		it->producer = id;
		it->seq = i;
		compq_push(cq, &it->base);
		if (i % 1000 == 0)
			usleep(100);	/* let the queue run empty */
	}
	return NULL;
}

int
main(void)
{
	struct event_base	*base = event_base_new();
	pthread_t		 th[PRODUCERS];
	struct timeval		 tv = { 0, 100000 };
	long			 i, rounds = 0;

	cq = compq_new(base);
	for (i = 0; i < PRODUCERS; i++)
		pthread_create(&th[i], NULL, producer, (void *)i);
	/*
	 * Only the fd wakes the loop; the timeout bounds a lost wakeup so
	 * the test fails instead of hanging.
	 */
	while (received < PRODUCERS * ITEMS && rounds < 100000) {
		event_base_loopexit(base, &tv);
		event_base_loop(base, EVLOOP_ONCE);
		rounds++;
	}
	for (i = 0; i < PRODUCERS; i++)
		pthread_join(th[i], NULL);
	is_int(received, PRODUCERS * ITEMS, "every pushed item arrived");
	is_int(out_of_order, 0, "each producer's items arrive in order");
	diag("%ld loop rounds for %d items", rounds, PRODUCERS * ITEMS);
	ok(rounds < PRODUCERS * ITEMS, "bursts are batched per wakeup");

	is_int(compq_drain(cq), 0, "nothing left over");
	compq_free(cq);
	event_base_free(base);
	return tap_done();
}
