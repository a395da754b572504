/*
 * archiver.c - pack finished XML files into numbered .tgz archives.
 *
 * The loop thread queues files; packing threads take them in batches
 * (batch_size files, or fewer after a flush and at shutdown) and writes
 * each batch as a gzipped tar (ustar; pax headers only where ustar cannot
 * say it) under a hidden temporary name, .PREFIX-N.tgz.tmp. The file is
 * fsynced, renamed to PREFIX-N.tgz without ever replacing an existing
 * file, and the directory is fsynced; only then are the XML files removed
 * and the results posted to the completion queue. A process killed at any
 * moment leaves complete archives under final names, at most one
 * temporary file (removed at the next start) and every XML file that is
 * not yet safely archived.
 *
 * Numbers continue after the highest archive found in the directory at
 * start; each is taken only when an archive is ready to be renamed, so
 * with several packing threads (gzip is the costly part: one per core
 * keeps them busy; with libdeflate idle threads also help compress the
 * others' archives, archiver_gz.c) the numbers still run without gaps
 * in the order the archives become safe. A lock file, .PREFIX.lock,
 * held with flock() keeps a second archiver (another process) off the
 * same names and temporary files.
 *
 * An archive that fails for lack of room (or of descriptors) fails no
 * file: the batch goes back to the head of the queue and every thread
 * waits out a backoff before taking more, so a full disk costs retries,
 * not symbols, and the archives are written by themselves once there is
 * room. Stopped while still stalled, the files are reported deferred and
 * stay on disk for the next start.
 *
 * This file is the queue and the threads; archiver_pack.c writes one
 * batch, archiver_dir.c knows the names, lists them and cleans up at
 * start.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/queue.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/compq.h"
#include "lib/log.h"
#include "lib/mono.h"
#include "lib/xmalloc.h"
#include "stock/archiver.h"
#include "stock/archiver_int.h"

#define ARCHIVER_NICE		10	/* below the loop: see archiver_main */
#define ARCHIVER_BACKOFF_MIN_NS	(250 * 1000000LL)
#define ARCHIVER_BACKOFF_MAX_NS	(8 * 1000000000LL)

static void
archiver_file_free(struct archiver_file *f)
{
	free(f->path);
	free(f->name);
	free(f->used);
	free(f->error);
	free(f);
}

/* Loop thread: one result per file, then the batch is gone. */
static void
archiver_batch_done(struct compq_item *item)
{
	struct archiver_batch	*b = (struct archiver_batch *)item;
	struct archiver_file	*f;
	struct archiver_result	 r;
	struct archiver_archive	 a;

	if (b->archive != NULL && b->packed != NULL) {
		a.name = b->archive;
		a.bytes = b->bytes;
		a.entries = 0;
		TAILQ_FOREACH(f, &b->files, entry)
			a.entries += f->error == NULL;
		b->packed(&a, b->packed_arg);
	}
	while ((f = TAILQ_FIRST(&b->files)) != NULL) {
		TAILQ_REMOVE(&b->files, f, entry);
		r.token = f->token;
		r.error = f->error != NULL ? f->error : b->error;
		r.archive = r.error == NULL ? b->archive : NULL;
		r.entry = r.error == NULL ? f->used : f->name;
		r.deferred = r.error != NULL && f->error == NULL &&
		    b->deferred;
		b->done(&r, b->arg);
		archiver_file_free(f);
	}
	free(b->archive);
	free(b->error);
	free(b);
}

static int
archiver_before(const struct timespec *a, const struct timespec *b)
{
	return mono_diff_ns(b, a) < 0;
}

/* Called with the lock held. */
static int
archiver_ready(struct archiver *ar)
{
	struct archiver_file	*f = TAILQ_FIRST(&ar->pending);
	struct timespec		 now;

	if (!TAILQ_EMPTY(&ar->slices))
		return 1;	/* help compress another thread's archive */
	if (f == NULL)
		return ar->stopping;
	if (ar->stalled && !ar->stopping) {
		now = mono_now();
		if (archiver_before(&now, &ar->retry_at))
			return 0;
	}
	return ar->npending >= ar->batch_size || ar->stopping ||
	    f->seq <= ar->flush_upto;
}

/*
 * Called with the lock held: until archiver_ready. A retry not yet due
 * is waited for with a deadline; once it is due (or with nothing to
 * retry) only a signal can make the queue ready, and a deadline in the
 * past would spin.
 */
static void
archiver_wait(struct archiver *ar)
{
	struct timespec	now;

	while (!archiver_ready(ar)) {
		now = mono_now();
		if (ar->stalled && !ar->stopping &&
		    archiver_before(&now, &ar->retry_at))
			pthread_cond_timedwait(&ar->wake, &ar->lock,
			    &ar->retry_at);
		else
			pthread_cond_wait(&ar->wake, &ar->lock);
	}
}

/*
 * Called with the lock held, after b failed for lack of room. Its files
 * go back to the head of the queue in their order (those that failed on
 * their own stay, to be reported), and the queue waits: the backoff
 * doubles only for a failure after the retry was due, so threads failing
 * together count once. The next try takes half as many files: a smaller
 * archive may fit where the batch did not, and every archive written
 * frees its XML, about five times its size, for the next.
 */
static void
archiver_put_back(struct archiver *ar, struct archiver_batch *b)
{
	struct archiver_file	*f, *prev;
	struct timespec		 now = mono_now();
	unsigned		 n = 0;

	for (f = TAILQ_LAST(&b->files, archiver_files); f != NULL; f = prev) {
		prev = TAILQ_PREV(f, archiver_files, entry);
		if (f->error != NULL)
			continue;
		TAILQ_REMOVE(&b->files, f, entry);
		b->nfiles--;
		free(f->used);
		f->used = NULL;
		TAILQ_INSERT_HEAD(&ar->pending, f, entry);
		ar->npending++;
		n++;
	}
	free(b->error);
	b->error = NULL;
	ar->retries++;
	ar->room_batch = n > 1 ? n / 2 : 1;

	if (!ar->stalled) {
		ar->stalled = 1;
		ar->stalled_since = now;
		ar->backoff_ns = ARCHIVER_BACKOFF_MIN_NS;
		log_warn("archiver: no room for an archive in %s (%s); %u "
		    "files wait and are tried again until there is",
		    ar->dir, strerror(b->errnum), ar->npending);
	} else if (!archiver_before(&now, &ar->retry_at)) {
		ar->backoff_ns *= 2;
		if (ar->backoff_ns > ARCHIVER_BACKOFF_MAX_NS)
			ar->backoff_ns = ARCHIVER_BACKOFF_MAX_NS;
	} else
		return;		/* another thread set the next try */
	ar->retry_at = now;
	mono_add_ns(&ar->retry_at, ar->backoff_ns);
}

/*
 * Called with the lock held: an archive was written. After a stall the
 * batches grow back by doubling, as room is freed by each archive: a
 * full batch at once would mostly fail again.
 */
static void
archiver_unstall(struct archiver *ar)
{
	if (TAILQ_EMPTY(&ar->pending) || ar->room_batch > ar->batch_size / 2)
		ar->room_batch = ar->batch_size;
	else
		ar->room_batch *= 2;
	if (!ar->stalled)
		return;
	ar->stalled = 0;
	log_info("archiver: room again in %s after %.1f s and %" PRIu64
	    " retries", ar->dir, mono_since_s(&ar->stalled_since),
	    ar->retries);
	pthread_cond_broadcast(&ar->wake);
}

/* Called with the lock held: up to batch_size files, oldest first. */
static struct archiver_batch *
archiver_take(struct archiver *ar)
{
	struct archiver_batch	*b;
	struct archiver_file	*f;
	unsigned		 max;

	b = xcalloc(1, sizeof *b);
	b->item.fn = archiver_batch_done;
	b->done = ar->done;
	b->arg = ar->arg;
	b->packed = ar->packed;
	b->packed_arg = ar->packed_arg;
	TAILQ_INIT(&b->files);
	b->tmp_serial = ++ar->tmp_serial;
	max = ar->room_batch < ar->batch_size ? ar->room_batch :
	    ar->batch_size;
	while (b->nfiles < max &&
	    (f = TAILQ_FIRST(&ar->pending)) != NULL) {
		TAILQ_REMOVE(&ar->pending, f, entry);
		ar->npending--;
		TAILQ_INSERT_TAIL(&b->files, f, entry);
		b->nfiles++;
	}
	return b;
}

static void *
archiver_main(void *arg)
{
	struct archiver		*ar = arg;
	struct archiver_batch	*b;
	struct archiver_file	*f;
	sigset_t		 all;

	/* Signals are loop events; keep them away from this thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	/*
	 * Compression can take every core for seconds; a lower priority
	 * (Linux sets it per thread) keeps the loop's replies prompt.
	 */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), ARCHIVER_NICE) != 0)
		log_debug("archiver: setpriority: %s", strerror(errno));

#ifdef HAVE_LIBDEFLATE
	archiver_gz_thread_init(ar->gzip_level);
#endif
	pthread_mutex_lock(&ar->lock);
	for (;;) {
		archiver_wait(ar);
#ifdef HAVE_LIBDEFLATE
		/* Slices first: they are older work, and hold memory. */
		if (archiver_gz_help(ar))
			continue;
#endif
		if (TAILQ_EMPTY(&ar->pending))
			break;		/* stopping and nothing left */
		b = archiver_take(ar);
		ar->packing += b->nfiles;
		if (archiver_ready(ar) && !TAILQ_EMPTY(&ar->pending))
			pthread_cond_signal(&ar->wake);	/* more for another */
		pthread_mutex_unlock(&ar->lock);

		archiver_pack_batch(ar, b);

		pthread_mutex_lock(&ar->lock);
		ar->packing -= b->nfiles;
		if (b->archive != NULL) {
			ar->archives++;
			ar->bytes += b->bytes;
			archiver_unstall(ar);
		} else if (b->error != NULL &&
		    archiver_lack_of_room(b->errnum)) {
			if (!ar->stopping) {
				archiver_put_back(ar, b);
				if (b->nfiles == 0) {
					free(b);
					continue;
				}
			} else {
				b->deferred = 1;
				log_warn("archiver: stopping with no room in "
				    "%s: %u files stay for the next start",
				    ar->dir, b->nfiles);
			}
		}
		TAILQ_FOREACH(f, &b->files, entry) {
			if (f->error == NULL && b->error == NULL)
				ar->files++;
			else if (f->error != NULL || !b->deferred)
				ar->errors++;
		}
		compq_push(ar->cq, &b->item);
	}
	pthread_mutex_unlock(&ar->lock);
#ifdef HAVE_LIBDEFLATE
	archiver_gz_thread_done();
#endif
	return NULL;
}

static void
archiver_release(struct archiver *ar)
{
	if (ar->dirfd >= 0)
		close(ar->dirfd);
	if (ar->lockfd >= 0)
		close(ar->lockfd);	/* drops the flock */
	free(ar->threads);
	free(ar->dir);
	free(ar->prefix);
	free(ar);
}

struct archiver *
archiver_new(const struct archiver_options *opt, struct compq *cq,
    archiver_done_fn *done, void *arg, char *err, size_t errlen)
{
	struct archiver		*ar;
	pthread_condattr_t	 ca;
	const char		*why = NULL;
	unsigned		 i;
	int			 error, saved;

	if (opt->dir == NULL || *opt->dir == '\0')
		why = "no archive directory";
	else if (!archiver_dir_prefix_ok(opt->prefix))
		why = "bad archive prefix (empty, too long, or with a '/' or "
		    "a leading '.')";
	else if (opt->batch_size == 0)
		why = "the archive batch size must be at least 1";
	else if (opt->gzip_level < 1 || opt->gzip_level > ARCHIVER_GZIP_MAX)
		why = ARCHIVER_GZIP_MAX == 9 ? "the gzip level must be 1 to 9" :
		    "the gzip level must be 1 to 12";
	if (why != NULL) {
		snprintf(err, errlen, "%s", why);
		errno = EINVAL;
		return NULL;
	}

	ar = xcalloc(1, sizeof *ar);
	ar->dirfd = ar->lockfd = -1;
	ar->dir = xstrdup(opt->dir);
	ar->prefix = xstrdup(opt->prefix);
	if ((why = archiver_dir_open(ar)) != NULL) {
		saved = errno;
		snprintf(err, errlen, "%s", why);
		archiver_release(ar);
		errno = saved;
		return NULL;
	}
	ar->batch_size = ar->room_batch = opt->batch_size;
	ar->gzip_level = opt->gzip_level;
	ar->cq = cq;
	ar->done = done;
	ar->arg = arg;
	TAILQ_INIT(&ar->pending);
	TAILQ_INIT(&ar->slices);
	/* The retry deadline is on the monotonic clock. */
	if (pthread_mutex_init(&ar->lock, NULL) != 0 ||
	    pthread_condattr_init(&ca) != 0 ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&ar->wake, &ca) != 0 ||
	    pthread_cond_init(&ar->slice_done, NULL) != 0)
		fatalx("archiver: cannot initialise locks");
	pthread_condattr_destroy(&ca);
	ar->nthreads = opt->threads > 0 ? opt->threads : 1;
	ar->threads = xcalloc(ar->nthreads, sizeof *ar->threads);
	for (i = 0; i < ar->nthreads; i++) {
		if ((error = pthread_create(&ar->threads[i], NULL,
		    archiver_main, ar)) != 0) {
			errno = error;
			fatal("archiver: pthread_create");
		}
		pthread_setname_np(ar->threads[i], "archiver");
	}
	log_debug("archiver: %s/%s-*.tgz, next %06" PRIu64 ", %u per archive",
	    ar->dir, ar->prefix, ar->next_seq, ar->batch_size);
	return ar;
}

void
archiver_add(struct archiver *ar, const char *path, const char *entry,
    void *token)
{
	struct archiver_file	*f;

	f = xcalloc(1, sizeof *f);
	f->path = xstrdup(path);
	f->name = xstrdup(entry);
	f->token = token;

	pthread_mutex_lock(&ar->lock);
	f->seq = ++ar->added;
	TAILQ_INSERT_TAIL(&ar->pending, f, entry);
	if (++ar->npending >= ar->batch_size)
		pthread_cond_signal(&ar->wake);
	pthread_mutex_unlock(&ar->lock);
}

void
archiver_watch(struct archiver *ar, archiver_packed_fn *fn, void *arg)
{
	pthread_mutex_lock(&ar->lock);
	ar->packed = fn;
	ar->packed_arg = arg;
	pthread_mutex_unlock(&ar->lock);
}

void
archiver_flush(struct archiver *ar)
{
	pthread_mutex_lock(&ar->lock);
	ar->flush_upto = ar->added;
	if (ar->npending > 0)
		pthread_cond_signal(&ar->wake);
	pthread_mutex_unlock(&ar->lock);
}

int
archiver_short_of_room(struct archiver *ar)
{
	int	short_of_room;

	/* Smaller batches with nothing queued hold nothing back. */
	pthread_mutex_lock(&ar->lock);
	short_of_room = ar->stalled || (ar->room_batch < ar->batch_size &&
	    ar->npending + ar->packing > 0);
	pthread_mutex_unlock(&ar->lock);
	return short_of_room;
}

void
archiver_get_stats(struct archiver *ar, struct archiver_stats *st)
{
	pthread_mutex_lock(&ar->lock);
	st->archives = ar->archives;
	st->files = ar->files;
	st->bytes = ar->bytes;
	st->pending = ar->npending;
	st->packing = ar->packing;
	st->errors = ar->errors;
	st->next_seq = ar->next_seq;
	st->waiting = ar->stalled ? ar->npending + ar->packing : 0;
	st->retries = ar->retries;
	st->stalled_s = ar->stalled ? mono_since_s(&ar->stalled_since) : 0;
	pthread_mutex_unlock(&ar->lock);
}

void
archiver_free(struct archiver *ar)
{
	unsigned	i;

	if (ar == NULL)
		return;
	pthread_mutex_lock(&ar->lock);
	ar->stopping = 1;
	pthread_cond_broadcast(&ar->wake);
	pthread_mutex_unlock(&ar->lock);
	for (i = 0; i < ar->nthreads; i++)
		pthread_join(ar->threads[i], NULL);

	pthread_cond_destroy(&ar->slice_done);
	pthread_cond_destroy(&ar->wake);
	pthread_mutex_destroy(&ar->lock);
	archiver_release(ar);
}
