/*
 * v4l2shim.c - an LD_PRELOAD camera for testing the V4L2 source.
 *
 * A shared object that plays a V4L2 video capture device, so stockcam's
 * V4L2 camera source can be tested without hardware. The device offers
 * YUYV and Motion-JPEG at any even size from 16x16 to 1920x1080 and 1 to
 * 120 frames a second, with streaming I/O on mmap'd buffers. Every frame
 * is the test pattern (src/testpattern.c) with its sequence number drawn
 * in (the buffer's sequence, 0 at VIDIOC_STREAMON), so a test can read
 * back which frame it got with testpattern_read_counter(). A reader too
 * slow for the frame rate gets the newest frame and sees the numbers
 * skip, as from a driver dropping frames. The Motion-JPEG frames
 * are 4:2:2, like a real webcam's and unlike anything stockcam encodes
 * (always 4:2:0), so a test can tell a frame passed through unchanged
 * from one decoded and encoded again.
 *
 * Build:
 *	cc -O2 -Wall -Wextra -fPIC -shared -Isrc -Ibuild -o v4l2shim.so \
 *	    tests/v4l2shim.c src/testpattern.c -lturbojpeg -ldl -lpthread
 * Use:
 *	V4L2SHIM_DEVICE=/dev/videotest LD_PRELOAD=./v4l2shim.so stockcam ...
 *
 * Environment:
 *	V4L2SHIM_DEVICE		the emulated device's path (need not exist).
 *				Unset, the shim passes everything through.
 *	V4L2SHIM_PRESENT	a file: the device exists only while it does.
 *				Removing it unplugs the camera: open fails
 *				with ENOENT, the ioctls of a device already
 *				open with ENODEV and poll reports POLLERR |
 *				POLLHUP on it. Recreating it plugs in a new
 *				camera for the next open; an old fd stays dead.
 *	V4L2SHIM_FROZEN		a file: while it exists the camera hangs,
 *				streaming but delivering no frame (the
 *				timer still ticks; DQBUF finds nothing).
 *	V4L2SHIM_FORMATS	the formats offered, in order: "yuyv,mjpeg"
 *				(the default), "yuyv" or "mjpeg".
 *	V4L2SHIM_DEBUG		1 logs every call on the device to stderr.
 *
 * The open device is a timerfd armed at the frame period while streaming,
 * so it is readable exactly when a frame is due and poll, select and
 * epoll work on it unchanged. The shim intercepts the open family (with
 * the _FORTIFY_SOURCE variants), close, ioctl, mmap, poll and ppoll;
 * everything not on the device goes to the next definition (dlsym
 * RTLD_NEXT). The buffers live in one memfd that
 * the shim maps once to draw into; a caller's mmap maps the same memfd,
 * so its munmap needs no help. One open at a time: a second open while
 * the first is alive fails with EBUSY.
 *
 * Not emulated: stat or access of the path, fstat of the fd (it is a
 * timerfd, not a character device), dup, read() I/O, controls, frame
 * intervals, and libv4l2 (which makes its ioctls as raw syscalls).
 * epoll and select are not told of an unplug; the timer keeps firing, so
 * the next VIDIOC_DQBUF fails with ENODEV.
 *
 * Sanitizers: preloaded, the shim comes before the runtime of an ASan or
 * TSan program, whose interceptors then see what the shim passes on.
 * TSan minds nothing; ASan insists on coming first: run with
 * ASAN_OPTIONS=verify_asan_link_order=0, or put libasan.so before the
 * shim in LD_PRELOAD. The shim may itself be built with -fsanitize (see
 * SHIM_NOSAN). Under valgrind, LD_PRELOAD reaches the program as is.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/*
 * This file defines open, open64, mmap and mmap64 itself: the headers
 * must neither rename them (_FILE_OFFSET_BITS) nor wrap them inline
 * (_FORTIFY_SOURCE).
 */
#undef _FILE_OFFSET_BITS
#undef _FORTIFY_SOURCE

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>

#include <linux/videodev2.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <turbojpeg.h>

#include "camera/testpattern.h"

#define SHIM_MAX_FORMATS	2
#define SHIM_MIN_BUFS		2
#define SHIM_MAX_BUFS		8
#define SHIM_MIN_W		16
#define SHIM_MAX_W		1920
#define SHIM_MIN_H		16
#define SHIM_MAX_H		1080
#define SHIM_MAX_FPS		120
#define SHIM_DEF_FPS		30
#define SHIM_QUALITY		80
/* How often a blocked poll or DQBUF looks whether the device is gone. */
#define SHIM_SLICE_NS		50000000L

/*
 * A sanitizer's runtime calls mmap, open and close by name while it
 * starts up, which lands here before instrumented code may run (TSan's
 * function-entry hook faults then). So if this file is built with
 * -fsanitize, as the sanitizer configurations build everything, none of
 * its functions is instrumented.
 */
#if defined(__has_attribute)
#if __has_attribute(no_sanitize)
#define SHIM_NOSAN	__attribute__((no_sanitize("address", "thread")))
#endif
#endif
#ifndef SHIM_NOSAN
#define SHIM_NOSAN
#endif

/* Does open's third argument exist? (as glibc's __OPEN_NEEDS_MODE) */
#define SHIM_NEEDS_MODE(fl) \
	(((fl) & O_CREAT) != 0 || ((fl) & O_TMPFILE) == O_TMPFILE)

/* The glibc entry points that no public header declares. */
int	__open_2(const char *, int);
int	__open64_2(const char *, int);
int	__openat_2(int, const char *, int);
int	__openat64_2(int, const char *, int);
int	__poll_chk(struct pollfd *, nfds_t, int, size_t);
int	__ppoll_chk(struct pollfd *, nfds_t, const struct timespec *,
	    const sigset_t *, size_t);

/* The next definitions of what the shim intercepts. */
enum shim_real_fn {
	R_OPEN, R_OPEN64, R_OPENAT, R_OPENAT64, R_OPEN_2, R_OPEN64_2,
	R_OPENAT_2, R_OPENAT64_2, R_CLOSE, R_IOCTL, R_MMAP, R_MMAP64,
	R_POLL, R_PPOLL, R_COUNT
};
static const char *const shim_real_names[R_COUNT] = {
	"open", "open64", "openat", "openat64", "__open_2", "__open64_2",
	"__openat_2", "__openat64_2", "close", "ioctl", "mmap", "mmap64",
	"poll", "ppoll"
};
static _Atomic(void *)	shim_real_fns[R_COUNT];

/*
 * Set while this thread is inside dlsym: anything dlsym calls that lands
 * back here (a sanitizer's or malloc's start-up opening a file, say)
 * must not look up again but go straight to the kernel.
 */
static _Thread_local int shim_in_dlsym
    __attribute__((tls_model("initial-exec")));

typedef int	(*open_fn)(const char *, int, ...);
typedef int	(*openat_fn)(int, const char *, int, ...);
typedef int	(*open2_fn)(const char *, int);
typedef int	(*openat2_fn)(int, const char *, int);
typedef int	(*close_fn)(int);
typedef int	(*ioctl_fn)(int, unsigned long, ...);
typedef void	*(*mmap_fn)(void *, size_t, int, int, int, off_t);
typedef int	(*poll_fn)(struct pollfd *, nfds_t, int);
typedef int	(*ppoll_fn)(struct pollfd *, nfds_t, const struct timespec *,
		    const sigset_t *);

struct shim_buf {
	int		 queued;
	int		 mapped;
	uint32_t	 bytesused;
	uint32_t	 sequence;
	struct timeval	 timestamp;	/* CLOCK_MONOTONIC */
};

struct shim_handle {
	LIST_ENTRY(shim_handle)	 entry;
	int			 fd;		/* the timerfd */
	int			 gone;		/* unplugged: dead for good */
	dev_t			 dev;		/* V4L2SHIM_PRESENT at open */
	ino_t			 ino;

	struct v4l2_pix_format	 fmt;
	struct v4l2_fract	 tpf;		/* time per frame */

	int			 streaming;
	uint64_t		 next_seq;	/* of the next period */

	unsigned		 nbufs;
	struct shim_buf		 bufs[SHIM_MAX_BUFS];
	unsigned		 fifo[SHIM_MAX_BUFS];	/* queued, oldest first */
	unsigned		 head, nqueued;
	int			 memfd;
	unsigned char		*map;		/* the shim's own mapping */
	size_t			 stride;	/* buffer i is at i * stride */

	unsigned char		*y, *u, *v;	/* 4:2:0 scratch */
	unsigned char		*u2, *v2;	/* 4:2:2 chroma for MJPEG */
	tjhandle		 tj;
};

static struct {
	const char	*device;
	const char	*present;
	const char	*frozen;
	uint32_t	 formats[SHIM_MAX_FORMATS];
	unsigned	 nformats;
	int		 debug;
} shim_cfg;
static pthread_once_t	shim_cfg_once = PTHREAD_ONCE_INIT;

static pthread_mutex_t	shim_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(, shim_handle) shim_handles =
    LIST_HEAD_INITIALIZER(shim_handles);
/* Handles open, read without the lock so calls with none cost nothing. */
static atomic_uint	shim_nhandles;

static void	shim_log(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

/* --- the real functions --- */

static SHIM_NOSAN void *
shim_real(enum shim_real_fn which)
{
	void	*p;

	p = atomic_load_explicit(&shim_real_fns[which], memory_order_acquire);
	if (p != NULL || shim_in_dlsym)
		return (p);
	shim_in_dlsym = 1;
	p = dlsym(RTLD_NEXT, shim_real_names[which]);
	shim_in_dlsym = 0;
	/* Racing threads find the same answer: storing it twice is fine. */
	if (p != NULL)
		atomic_store_explicit(&shim_real_fns[which], p,
		    memory_order_release);
	return (p);
}

/*
 * The fallbacks, for when there is no next definition yet (the lookup
 * is under way on this thread) or at all, go straight to the kernel.
 */
static SHIM_NOSAN int
shim_real_openat(enum shim_real_fn which, int dirfd, const char *path,
    int flags, mode_t mode)
{
	void	*fn = shim_real(which);

	if (fn == NULL)
		return ((int)syscall(SYS_openat, dirfd, path, flags, mode));
	switch (which) {
	case R_OPEN:
	case R_OPEN64:
		return (((open_fn)fn)(path, flags, mode));
	case R_OPENAT:
	case R_OPENAT64:
		return (((openat_fn)fn)(dirfd, path, flags, mode));
	case R_OPEN_2:
	case R_OPEN64_2:
		return (((open2_fn)fn)(path, flags));
	default:
		return (((openat2_fn)fn)(dirfd, path, flags));
	}
}

static SHIM_NOSAN int
shim_real_close(int fd)
{
	close_fn	fn = (close_fn)shim_real(R_CLOSE);

	if (fn == NULL)
		return ((int)syscall(SYS_close, fd));
	return (fn(fd));
}

static SHIM_NOSAN int
shim_real_ioctl(int fd, unsigned long req, void *arg)
{
	ioctl_fn	fn = (ioctl_fn)shim_real(R_IOCTL);

	if (fn == NULL)
		return ((int)syscall(SYS_ioctl, fd, req, arg));
	return (fn(fd, req, arg));
}

static SHIM_NOSAN void *
shim_real_mmap(enum shim_real_fn which, void *addr, size_t len, int prot,
    int flags, int fd, off_t off)
{
	mmap_fn	fn = (mmap_fn)shim_real(which);

	if (fn == NULL)
		return ((void *)syscall(SYS_mmap, addr, len, prot, flags, fd,
		    off));
	return (fn(addr, len, prot, flags, fd, off));
}

/* The real poll or ppoll; tmo NULL waits for ever. */
static SHIM_NOSAN int
shim_real_poll(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
    const sigset_t *sigmask, int is_ppoll)
{
	struct timespec	 t;
	poll_fn		 pfn;
	ppoll_fn	 ppfn;
	long long	 ms;

	if (is_ppoll) {
		if ((ppfn = (ppoll_fn)shim_real(R_PPOLL)) != NULL)
			return (ppfn(fds, nfds, tmo, sigmask));
	} else if ((pfn = (poll_fn)shim_real(R_POLL)) != NULL) {
		ms = -1;
		if (tmo != NULL) {
			ms = (long long)tmo->tv_sec * 1000 +
			    (tmo->tv_nsec + 999999) / 1000000;
			if (ms > INT_MAX)
				ms = INT_MAX;
		}
		return (pfn(fds, nfds, (int)ms));
	}
	/* The syscall writes the time left back: give it a copy. */
	if (tmo != NULL)
		t = *tmo;
	return ((int)syscall(SYS_ppoll, fds, nfds, tmo != NULL ? &t : NULL,
	    sigmask, (size_t)(_NSIG / 8)));
}

/* --- configuration --- */

static SHIM_NOSAN void
shim_log(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	if (!shim_cfg.debug)
		return;
	va_start(ap, fmt);
	flockfile(stderr);
	fputs("v4l2shim: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	va_end(ap);
	errno = saved;
}

static SHIM_NOSAN void
shim_add_format(uint32_t f)
{
	unsigned	i;

	for (i = 0; i < shim_cfg.nformats; i++) {
		if (shim_cfg.formats[i] == f)
			return;
	}
	if (shim_cfg.nformats < SHIM_MAX_FORMATS)
		shim_cfg.formats[shim_cfg.nformats++] = f;
}

static SHIM_NOSAN void
shim_config_init(void)
{
	const char	*s, *p, *e;
	size_t		 n;

	if ((s = getenv("V4L2SHIM_DEVICE")) != NULL && *s != '\0')
		shim_cfg.device = s;
	if ((s = getenv("V4L2SHIM_PRESENT")) != NULL && *s != '\0')
		shim_cfg.present = s;
	if ((s = getenv("V4L2SHIM_FROZEN")) != NULL && *s != '\0')
		shim_cfg.frozen = s;
	if ((s = getenv("V4L2SHIM_DEBUG")) != NULL && *s != '\0' &&
	    strcmp(s, "0") != 0)
		shim_cfg.debug = 1;

	if ((s = getenv("V4L2SHIM_FORMATS")) == NULL)
		s = "";
	for (p = s; *p != '\0'; p = *e == '\0' ? e : e + 1) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		n = (size_t)(e - p);
		if (n == 4 && strncasecmp(p, "yuyv", n) == 0)
			shim_add_format(V4L2_PIX_FMT_YUYV);
		else if (n == 5 && strncasecmp(p, "mjpeg", n) == 0)
			shim_add_format(V4L2_PIX_FMT_MJPEG);
		else if (n != 0)
			shim_log("V4L2SHIM_FORMATS: ignoring \"%.*s\"", (int)n,
			    p);
	}
	if (shim_cfg.nformats == 0) {
		shim_add_format(V4L2_PIX_FMT_YUYV);
		shim_add_format(V4L2_PIX_FMT_MJPEG);
	}
	if (shim_cfg.device != NULL)
		shim_log("emulating %s (present: %s)", shim_cfg.device,
		    shim_cfg.present != NULL ? shim_cfg.present : "always");
}

static SHIM_NOSAN void
shim_config(void)
{
	pthread_once(&shim_cfg_once, shim_config_init);
}

/* Looks everything up while the process is still single-threaded. */
static SHIM_NOSAN void __attribute__((constructor))
shim_init(void)
{
	int	i;

	shim_config();
	for (i = 0; i < R_COUNT; i++)
		shim_real(i);
}

/* --- the device --- */

static SHIM_NOSAN int
shim_offered(uint32_t f)
{
	unsigned	i;

	for (i = 0; i < shim_cfg.nformats; i++) {
		if (shim_cfg.formats[i] == f)
			return (1);
	}
	return (0);
}

/* Caller holds shim_lock. */
static SHIM_NOSAN struct shim_handle *
shim_find(int fd)
{
	struct shim_handle	*h;

	if (fd < 0)
		return (NULL);
	LIST_FOREACH(h, &shim_handles, entry) {
		if (h->fd == fd)
			return (h);
	}
	return (NULL);
}

/*
 * Is this handle's camera unplugged? The file must still be the one seen
 * at open: removed and made again in between is a new camera too.
 */
static SHIM_NOSAN int
shim_gone(struct shim_handle *h)
{
	struct stat	sb;

	if (shim_cfg.present == NULL || h->gone)
		return (h->gone);
	if (stat(shim_cfg.present, &sb) == -1 || sb.st_dev != h->dev ||
	    sb.st_ino != h->ino) {
		h->gone = 1;
		shim_log("fd %d: device unplugged", h->fd);
	}
	return (h->gone);
}

/* Makes a format one the device can do, as VIDIOC_TRY_FMT does. */
static SHIM_NOSAN void
shim_fmt_adjust(struct v4l2_pix_format *pix)
{
	uint32_t	w = pix->width & ~1U, h = pix->height & ~1U;
	uint32_t	f = pix->pixelformat;
	unsigned long	size;

	w = w < SHIM_MIN_W ? SHIM_MIN_W : w > SHIM_MAX_W ? SHIM_MAX_W : w;
	h = h < SHIM_MIN_H ? SHIM_MIN_H : h > SHIM_MAX_H ? SHIM_MAX_H : h;
	if (!shim_offered(f))
		f = shim_cfg.formats[0];

	memset(pix, 0, sizeof *pix);
	pix->width = w;
	pix->height = h;
	pix->pixelformat = f;
	pix->field = V4L2_FIELD_NONE;
	if (f == V4L2_PIX_FMT_YUYV) {
		pix->bytesperline = 2 * w;
		pix->sizeimage = 2 * w * h;
		pix->colorspace = V4L2_COLORSPACE_SRGB;
	} else {
		/* The most the encoder can ever write, so nothing is cut. */
		size = tjBufSize((int)w, (int)h, TJSAMP_422);
		pix->bytesperline = 0;
		pix->sizeimage = (uint32_t)size;
		pix->colorspace = V4L2_COLORSPACE_JPEG;
	}
}

static SHIM_NOSAN void
shim_timer(struct shim_handle *h, int on)
{
	struct itimerspec	it;
	uint64_t		ns;

	memset(&it, 0, sizeof it);
	if (on) {
		ns = 1000000000ULL * h->tpf.numerator / h->tpf.denominator;
		it.it_interval.tv_sec = (time_t)(ns / 1000000000ULL);
		it.it_interval.tv_nsec = (long)(ns % 1000000000ULL);
		it.it_value = it.it_interval;
	}
	/* Setting the timer also forgets expirations not yet read. */
	if (timerfd_settime(h->fd, 0, &it, NULL) == -1)
		shim_log("fd %d: timerfd_settime: %s", h->fd, strerror(errno));
}

static SHIM_NOSAN void
shim_bufs_free(struct shim_handle *h)
{
	if (h->map != NULL)
		munmap(h->map, h->stride * h->nbufs);
	if (h->memfd != -1)
		shim_real_close(h->memfd);
	free(h->y);
	h->map = NULL;
	h->memfd = -1;
	h->y = h->u = h->v = h->u2 = h->v2 = NULL;
	h->nbufs = h->head = h->nqueued = 0;
	memset(h->bufs, 0, sizeof h->bufs);
}

static SHIM_NOSAN int
shim_bufs_alloc(struct shim_handle *h, unsigned count)
{
	size_t	page = (size_t)sysconf(_SC_PAGESIZE), w, ht, luma, chroma;

	w = h->fmt.width;
	ht = h->fmt.height;
	h->stride = ((size_t)h->fmt.sizeimage + page - 1) / page * page;
	if ((h->memfd = memfd_create("v4l2shim", MFD_CLOEXEC)) == -1)
		return (errno);
	if (ftruncate(h->memfd, (off_t)(h->stride * count)) == -1)
		goto fail;
	h->map = shim_real_mmap(R_MMAP, NULL, h->stride * count,
	    PROT_READ | PROT_WRITE, MAP_SHARED, h->memfd, 0);
	if (h->map == MAP_FAILED) {
		h->map = NULL;
		goto fail;
	}
	h->nbufs = count;

	/* Y, U, V at 4:2:0, then U, V at 4:2:2, in one allocation. */
	luma = w * ht;
	chroma = (w / 2) * (ht / 2);
	if ((h->y = malloc(luma + 2 * chroma + 2 * (w / 2) * ht)) == NULL)
		goto fail;
	h->u = h->y + luma;
	h->v = h->u + chroma;
	h->u2 = h->v + chroma;
	h->v2 = h->u2 + (w / 2) * ht;
	return (0);

fail:
	shim_bufs_free(h);
	return (ENOMEM);
}

static SHIM_NOSAN void
shim_handle_free(struct shim_handle *h)
{
	shim_bufs_free(h);
	if (h->tj != NULL)
		tjDestroy(h->tj);
	free(h);
}

/* Opens the device if path names it; *handled says whether it did. */
static SHIM_NOSAN int
shim_open(int dirfd, const char *path, int flags, int *handled)
{
	struct shim_handle	*h, *old;
	struct stat		 sb;
	int			 fd, error = 0;

	*handled = 0;
	shim_config();
	if (shim_cfg.device == NULL || path == NULL ||
	    strcmp(path, shim_cfg.device) != 0 ||
	    (path[0] != '/' && dirfd != AT_FDCWD))
		return (-1);
	*handled = 1;

	pthread_mutex_lock(&shim_lock);
	memset(&sb, 0, sizeof sb);
	if (shim_cfg.present != NULL && stat(shim_cfg.present, &sb) == -1)
		error = ENOENT;
	LIST_FOREACH(old, &shim_handles, entry) {
		if (error == 0 && !shim_gone(old))
			error = EBUSY;
	}
	if (error != 0) {
		pthread_mutex_unlock(&shim_lock);
		shim_log("open %s = -1 (%s)", path, strerror(error));
		errno = error;
		return (-1);
	}
	if ((h = calloc(1, sizeof *h)) == NULL) {
		pthread_mutex_unlock(&shim_lock);
		errno = ENOMEM;
		return (-1);
	}
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC |
	    ((flags & O_NONBLOCK) ? TFD_NONBLOCK : 0));
	if (fd == -1) {
		error = errno;
		pthread_mutex_unlock(&shim_lock);
		free(h);
		errno = error;
		return (-1);
	}
	h->fd = fd;
	h->memfd = -1;
	h->dev = sb.st_dev;
	h->ino = sb.st_ino;
	h->fmt.width = 640;
	h->fmt.height = 480;
	h->fmt.pixelformat = shim_cfg.formats[0];
	shim_fmt_adjust(&h->fmt);
	h->tpf.numerator = 1;
	h->tpf.denominator = SHIM_DEF_FPS;
	LIST_INSERT_HEAD(&shim_handles, h, entry);
	atomic_fetch_add(&shim_nhandles, 1);
	pthread_mutex_unlock(&shim_lock);

	shim_log("open %s%s = %d", path,
	    (flags & O_NONBLOCK) ? " (nonblocking)" : "", fd);
	return (fd);
}

/* --- ioctls, each with shim_lock held; they return an errno --- */

static SHIM_NOSAN int
shim_querycap(struct v4l2_capability *cap)
{
	memset(cap, 0, sizeof *cap);
	strncpy((char *)cap->driver, "v4l2shim", sizeof cap->driver - 1);
	strncpy((char *)cap->card, "stockcam test camera",
	    sizeof cap->card - 1);
	strncpy((char *)cap->bus_info, "platform:v4l2shim",
	    sizeof cap->bus_info - 1);
	cap->version = (6U << 16) | (1U << 8);
	cap->device_caps = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING;
	cap->capabilities = cap->device_caps | V4L2_CAP_DEVICE_CAPS;
	return (0);
}

static SHIM_NOSAN int
shim_enum_fmt(struct v4l2_fmtdesc *fd)
{
	uint32_t	i = fd->index, f;

	if (fd->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || i >= shim_cfg.nformats)
		return (EINVAL);
	f = shim_cfg.formats[i];
	memset(fd, 0, sizeof *fd);
	fd->index = i;
	fd->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	fd->pixelformat = f;
	if (f == V4L2_PIX_FMT_MJPEG) {
		fd->flags = V4L2_FMT_FLAG_COMPRESSED;
		strncpy((char *)fd->description, "Motion-JPEG",
		    sizeof fd->description - 1);
	} else
		strncpy((char *)fd->description, "YUYV 4:2:2",
		    sizeof fd->description - 1);
	return (0);
}

static SHIM_NOSAN int
shim_fmt(struct shim_handle *h, unsigned long req, struct v4l2_format *f)
{
	if (f->type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
		return (EINVAL);
	if (req == VIDIOC_G_FMT) {
		f->fmt.pix = h->fmt;
		return (0);
	}
	if (req == VIDIOC_S_FMT && h->nbufs != 0)
		return (EBUSY);
	shim_fmt_adjust(&f->fmt.pix);
	if (req == VIDIOC_S_FMT)
		h->fmt = f->fmt.pix;
	return (0);
}

static SHIM_NOSAN int
shim_parm(struct shim_handle *h, unsigned long req, struct v4l2_streamparm *p)
{
	struct v4l2_fract	t;

	if (p->type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
		return (EINVAL);
	if (req == VIDIOC_S_PARM) {
		/* The period is fixed while the timer runs, as with uvc. */
		if (h->streaming)
			return (EBUSY);
		t = p->parm.capture.timeperframe;
		if (t.numerator == 0 || t.denominator == 0) {
			t.numerator = 1;
			t.denominator = SHIM_DEF_FPS;
		} else if ((uint64_t)t.denominator >
		    (uint64_t)t.numerator * SHIM_MAX_FPS) {
			t.numerator = 1;
			t.denominator = SHIM_MAX_FPS;
		} else if (t.denominator < t.numerator) {
			t.numerator = 1;
			t.denominator = 1;
		}
		h->tpf = t;
	}
	memset(&p->parm, 0, sizeof p->parm);
	p->parm.capture.capability = V4L2_CAP_TIMEPERFRAME;
	p->parm.capture.timeperframe = h->tpf;
	return (0);
}

static SHIM_NOSAN int
shim_framesizes(struct v4l2_frmsizeenum *fs)
{
	uint32_t	f = fs->pixel_format;

	if (fs->index != 0 || !shim_offered(f))
		return (EINVAL);
	memset(fs, 0, sizeof *fs);
	fs->pixel_format = f;
	fs->type = V4L2_FRMSIZE_TYPE_STEPWISE;
	fs->stepwise.min_width = SHIM_MIN_W;
	fs->stepwise.max_width = SHIM_MAX_W;
	fs->stepwise.step_width = 2;
	fs->stepwise.min_height = SHIM_MIN_H;
	fs->stepwise.max_height = SHIM_MAX_H;
	fs->stepwise.step_height = 2;
	return (0);
}

static SHIM_NOSAN int
shim_reqbufs(struct shim_handle *h, struct v4l2_requestbuffers *rb)
{
	uint32_t	count = rb->count;
	int		error;

	if (rb->type != V4L2_BUF_TYPE_VIDEO_CAPTURE ||
	    rb->memory != V4L2_MEMORY_MMAP)
		return (EINVAL);
	if (h->streaming)
		return (EBUSY);
	/*
	 * The old buffers go; mappings the caller still has keep the old
	 * memfd alive by themselves and are no longer written to.
	 */
	shim_bufs_free(h);
	if (count != 0) {
		if (count < SHIM_MIN_BUFS)
			count = SHIM_MIN_BUFS;
		if (count > SHIM_MAX_BUFS)
			count = SHIM_MAX_BUFS;
		if ((error = shim_bufs_alloc(h, count)) != 0)
			return (error);
	}
	rb->count = count;
	rb->capabilities = V4L2_BUF_CAP_SUPPORTS_MMAP;
	rb->flags = 0;
	memset(rb->reserved, 0, sizeof rb->reserved);
	return (0);
}

static SHIM_NOSAN void
shim_buf_fill(struct shim_handle *h, unsigned i, struct v4l2_buffer *b)
{
	struct shim_buf	*sb = &h->bufs[i];

	memset(b, 0, sizeof *b);
	b->index = i;
	b->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	b->memory = V4L2_MEMORY_MMAP;
	b->m.offset = (uint32_t)(i * h->stride);
	b->length = h->fmt.sizeimage;
	b->field = V4L2_FIELD_NONE;
	b->bytesused = sb->bytesused;
	b->sequence = sb->sequence;
	b->timestamp = sb->timestamp;
	b->flags = V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
	if (sb->queued)
		b->flags |= V4L2_BUF_FLAG_QUEUED;
	if (sb->mapped)
		b->flags |= V4L2_BUF_FLAG_MAPPED;
}

/* Checks a struct v4l2_buffer from the caller names one of ours. */
static SHIM_NOSAN int
shim_buf_valid(struct shim_handle *h, const struct v4l2_buffer *b)
{
	if (b->type != V4L2_BUF_TYPE_VIDEO_CAPTURE ||
	    b->memory != V4L2_MEMORY_MMAP || b->index >= h->nbufs)
		return (0);
	return (1);
}

static SHIM_NOSAN int
shim_qbuf(struct shim_handle *h, unsigned long req, struct v4l2_buffer *b)
{
	unsigned	i = b->index;

	if (req == VIDIOC_QUERYBUF) {
		if (b->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || i >= h->nbufs)
			return (EINVAL);
		shim_buf_fill(h, i, b);
		return (0);
	}
	if (!shim_buf_valid(h, b) || h->bufs[i].queued)
		return (EINVAL);
	h->bufs[i].queued = 1;
	h->fifo[(h->head + h->nqueued) % SHIM_MAX_BUFS] = i;
	h->nqueued++;
	shim_buf_fill(h, i, b);
	return (0);
}

static SHIM_NOSAN int
shim_stream(struct shim_handle *h, unsigned long req, const int *type)
{
	unsigned	i;

	if (*type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
		return (EINVAL);
	if (req == VIDIOC_STREAMON) {
		if (h->nbufs == 0)
			return (EINVAL);
		if (!h->streaming) {
			h->streaming = 1;
			h->next_seq = 0;
			shim_timer(h, 1);
		}
		return (0);
	}
	if (h->streaming) {
		h->streaming = 0;
		shim_timer(h, 0);
	}
	for (i = 0; i < h->nbufs; i++)
		h->bufs[i].queued = 0;
	h->head = h->nqueued = 0;
	return (0);
}

/* Draws frame seq into buffer i. */
static SHIM_NOSAN int
shim_capture(struct shim_handle *h, unsigned i, uint64_t seq)
{
	struct shim_buf		*sb = &h->bufs[i];
	unsigned char		*out = h->map + i * h->stride, *o;
	const unsigned char	*planes[3], *yr, *ur, *vr;
	unsigned		 w = h->fmt.width, ht = h->fmt.height;
	unsigned		 cw = w / 2, r, x;
	int			 strides[3];
	unsigned long		 size;
	struct timespec		 now;

	clock_gettime(CLOCK_REALTIME, &now);
	testpattern_draw(h->y, h->u, h->v, w, ht, seq, &now);

	if (h->fmt.pixelformat == V4L2_PIX_FMT_YUYV) {
		/* Y0 U Y1 V; the two lines of a 4:2:0 pair share chroma. */
		for (r = 0; r < ht; r++) {
			yr = h->y + (size_t)r * w;
			ur = h->u + (size_t)(r / 2) * cw;
			vr = h->v + (size_t)(r / 2) * cw;
			o = out + (size_t)r * h->fmt.bytesperline;
			for (x = 0; x < cw; x++) {
				*o++ = yr[2 * x];
				*o++ = ur[x];
				*o++ = yr[2 * x + 1];
				*o++ = vr[x];
			}
		}
		sb->bytesused = h->fmt.sizeimage;
	} else {
		for (r = 0; r < ht; r++) {
			memcpy(h->u2 + (size_t)r * cw,
			    h->u + (size_t)(r / 2) * cw, cw);
			memcpy(h->v2 + (size_t)r * cw,
			    h->v + (size_t)(r / 2) * cw, cw);
		}
		if (h->tj == NULL && (h->tj = tjInitCompress()) == NULL)
			return (EIO);
		planes[0] = h->y;
		planes[1] = h->u2;
		planes[2] = h->v2;
		strides[0] = (int)w;
		strides[1] = strides[2] = (int)cw;
		/* sizeimage is tjBufSize(): straight into the buffer. */
		size = h->fmt.sizeimage;
		if (tjCompressFromYUVPlanes(h->tj, planes, (int)w, strides,
		    (int)ht, TJSAMP_422, &out, &size, SHIM_QUALITY,
		    TJFLAG_NOREALLOC) != 0) {
			shim_log("fd %d: tjCompressFromYUVPlanes: %s", h->fd,
			    tjGetErrorStr2(h->tj));
			return (EIO);
		}
		sb->bytesused = (uint32_t)size;
	}

	clock_gettime(CLOCK_MONOTONIC, &now);
	sb->timestamp.tv_sec = now.tv_sec;
	sb->timestamp.tv_usec = now.tv_nsec / 1000;
	sb->sequence = (uint32_t)seq;
	return (0);
}

/*
 * One try at a frame: EAGAIN if none is due or none can be had. Every
 * period since the last try is a frame: all but the newest are dropped,
 * and the sequence numbers skip them, as a driver's would when the
 * application is slow. With nothing queued, all of them are dropped.
 */
static SHIM_NOSAN int
shim_dqbuf_try(struct shim_handle *h, struct v4l2_buffer *b)
{
	struct pollfd	pfd;
	uint64_t	ticks, seq;
	unsigned	i;
	int		error;

	if (b->type != V4L2_BUF_TYPE_VIDEO_CAPTURE ||
	    b->memory != V4L2_MEMORY_MMAP || !h->streaming)
		return (EINVAL);

	/* The timerfd may be blocking: only read it once it has ticked. */
	pfd.fd = h->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (shim_real_poll(&pfd, 1, &(struct timespec){ 0, 0 }, NULL, 0) <= 0)
		return (EAGAIN);
	if (read(h->fd, &ticks, sizeof ticks) != (ssize_t)sizeof ticks ||
	    ticks == 0)
		return (EAGAIN);
	seq = h->next_seq + ticks - 1;
	h->next_seq += ticks;
	if (shim_cfg.frozen != NULL && access(shim_cfg.frozen, F_OK) == 0) {
		shim_log("fd %d: frozen, dropped %llu frame(s)", h->fd,
		    (unsigned long long)ticks);
		return (EAGAIN);
	}
	if (h->nqueued == 0) {
		shim_log("fd %d: no buffer queued, dropped %llu frame(s)",
		    h->fd, (unsigned long long)ticks);
		return (EAGAIN);
	}

	i = h->fifo[h->head];
	h->head = (h->head + 1) % SHIM_MAX_BUFS;
	h->nqueued--;
	h->bufs[i].queued = 0;
	if ((error = shim_capture(h, i, seq)) != 0)
		return (error);
	shim_buf_fill(h, i, b);
	/* vb2 fills in the buffer while it is still DONE, so says so. */
	b->flags |= V4L2_BUF_FLAG_DONE;
	return (0);
}

/*
 * VIDIOC_DQBUF, which alone may wait: the lock is let go while it does,
 * and the handle looked up again after (it may have been closed).
 */
static SHIM_NOSAN int
shim_dqbuf(int fd, struct v4l2_buffer *b)
{
	struct shim_handle	*h;
	struct pollfd		 pfd;
	struct timespec		 slice = { 0, SHIM_SLICE_NS };
	int			 error, fl;

	for (;;) {
		pthread_mutex_lock(&shim_lock);
		if ((h = shim_find(fd)) == NULL)
			error = EBADF;
		else if (shim_gone(h))
			error = ENODEV;
		else
			error = shim_dqbuf_try(h, b);
		pthread_mutex_unlock(&shim_lock);
		if (error != EAGAIN)
			return (error);
		if ((fl = fcntl(fd, F_GETFL)) == -1 || (fl & O_NONBLOCK))
			return (error);
		/* In slices, to see an unplug while waiting. */
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		shim_real_poll(&pfd, 1, &slice, NULL, 0);
	}
}

static SHIM_NOSAN const char *
shim_ioctl_name(unsigned long req)
{
	switch (req) {
	case VIDIOC_QUERYCAP:		return ("VIDIOC_QUERYCAP");
	case VIDIOC_ENUM_FMT:		return ("VIDIOC_ENUM_FMT");
	case VIDIOC_G_FMT:		return ("VIDIOC_G_FMT");
	case VIDIOC_S_FMT:		return ("VIDIOC_S_FMT");
	case VIDIOC_TRY_FMT:		return ("VIDIOC_TRY_FMT");
	case VIDIOC_G_PARM:		return ("VIDIOC_G_PARM");
	case VIDIOC_S_PARM:		return ("VIDIOC_S_PARM");
	case VIDIOC_ENUM_FRAMESIZES:	return ("VIDIOC_ENUM_FRAMESIZES");
	case VIDIOC_REQBUFS:		return ("VIDIOC_REQBUFS");
	case VIDIOC_QUERYBUF:		return ("VIDIOC_QUERYBUF");
	case VIDIOC_QBUF:		return ("VIDIOC_QBUF");
	case VIDIOC_DQBUF:		return ("VIDIOC_DQBUF");
	case VIDIOC_STREAMON:		return ("VIDIOC_STREAMON");
	case VIDIOC_STREAMOFF:		return ("VIDIOC_STREAMOFF");
	default:			return ("unknown");
	}
}

static SHIM_NOSAN int
shim_ioctl_locked(struct shim_handle *h, unsigned long req, void *arg)
{
	if (shim_gone(h))
		return (ENODEV);
	switch (req) {
	case VIDIOC_QUERYCAP:
		return (shim_querycap(arg));
	case VIDIOC_ENUM_FMT:
		return (shim_enum_fmt(arg));
	case VIDIOC_G_FMT:
	case VIDIOC_S_FMT:
	case VIDIOC_TRY_FMT:
		return (shim_fmt(h, req, arg));
	case VIDIOC_G_PARM:
	case VIDIOC_S_PARM:
		return (shim_parm(h, req, arg));
	case VIDIOC_ENUM_FRAMESIZES:
		return (shim_framesizes(arg));
	case VIDIOC_REQBUFS:
		return (shim_reqbufs(h, arg));
	case VIDIOC_QUERYBUF:
	case VIDIOC_QBUF:
		return (shim_qbuf(h, req, arg));
	case VIDIOC_STREAMON:
	case VIDIOC_STREAMOFF:
		return (shim_stream(h, req, arg));
	default:
		return (ENOTTY);
	}
}

/* --- poll --- */

enum shim_scan { SCAN_NONE, SCAN_WATCH, SCAN_GONE };

/* Are any of fds ours, and are any of those unplugged? */
static SHIM_NOSAN enum shim_scan
shim_poll_scan(struct pollfd *fds, nfds_t nfds)
{
	struct shim_handle	*h;
	enum shim_scan		 scan = SCAN_NONE;
	nfds_t			 i;

	pthread_mutex_lock(&shim_lock);
	for (i = 0; i < nfds; i++) {
		if ((h = shim_find(fds[i].fd)) == NULL)
			continue;
		if (shim_gone(h)) {
			scan = SCAN_GONE;
			break;
		}
		/* Only an unplug would need a look before the timer fires. */
		if (shim_cfg.present != NULL)
			scan = SCAN_WATCH;
	}
	pthread_mutex_unlock(&shim_lock);
	return (scan);
}

/* Marks the unplugged devices in fds; returns the entries with events. */
static SHIM_NOSAN int
shim_poll_gone(struct pollfd *fds, nfds_t nfds)
{
	struct shim_handle	*h;
	nfds_t			 i;
	int			 n = 0;

	pthread_mutex_lock(&shim_lock);
	for (i = 0; i < nfds; i++) {
		if ((h = shim_find(fds[i].fd)) != NULL && h->gone) {
			fds[i].revents = POLLERR | POLLHUP;
			shim_log("poll fd %d: POLLERR|POLLHUP", fds[i].fd);
		}
		if (fds[i].revents != 0)
			n++;
	}
	pthread_mutex_unlock(&shim_lock);
	return (n);
}

static SHIM_NOSAN void
ts_sub(struct timespec *r, const struct timespec *a, const struct timespec *b)
{
	r->tv_sec = a->tv_sec - b->tv_sec;
	r->tv_nsec = a->tv_nsec - b->tv_nsec;
	if (r->tv_nsec < 0) {
		r->tv_sec--;
		r->tv_nsec += 1000000000L;
	}
	if (r->tv_sec < 0)
		r->tv_sec = r->tv_nsec = 0;
}

/*
 * poll and ppoll. An unplugged device is reported at once. While the
 * set holds a device that can be unplugged, the wait is cut into slices
 * to notice when it is: a real driver wakes poll on a disconnect, but
 * nothing wakes a timerfd.
 */
static SHIM_NOSAN int
shim_poll(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
    const sigset_t *sigmask, int is_ppoll)
{
	struct timespec	 deadline, now, left, slice;
	struct timespec	 zero = { 0, 0 };
	int		 r;

	if (atomic_load(&shim_nhandles) == 0 || fds == NULL ||
	    (tmo != NULL && (tmo->tv_sec < 0 || tmo->tv_nsec < 0 ||
	    tmo->tv_nsec >= 1000000000L)))
		return (shim_real_poll(fds, nfds, tmo, sigmask, is_ppoll));

	if (tmo != NULL) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += tmo->tv_sec;
		deadline.tv_nsec += tmo->tv_nsec;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
	}
	for (;;) {
		left.tv_sec = INT_MAX;
		left.tv_nsec = 0;
		if (tmo != NULL) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			ts_sub(&left, &deadline, &now);
		}
		switch (shim_poll_scan(fds, nfds)) {
		case SCAN_GONE:
			if (shim_real_poll(fds, nfds, &zero, sigmask,
			    is_ppoll) == -1)
				return (-1);
			return (shim_poll_gone(fds, nfds));
		case SCAN_NONE:
			return (shim_real_poll(fds, nfds,
			    tmo != NULL ? &left : NULL, sigmask, is_ppoll));
		case SCAN_WATCH:
			break;
		}
		slice = left;
		if (slice.tv_sec > 0 || slice.tv_nsec > SHIM_SLICE_NS) {
			slice.tv_sec = 0;
			slice.tv_nsec = SHIM_SLICE_NS;
		}
		if ((r = shim_real_poll(fds, nfds, &slice, sigmask,
		    is_ppoll)) != 0)
			return (r);
		if (tmo != NULL && left.tv_sec == slice.tv_sec &&
		    left.tv_nsec == slice.tv_nsec)
			return (0);
	}
}

/* --- the interceptors --- */

static SHIM_NOSAN int
shim_open_any(enum shim_real_fn which, int dirfd, const char *path,
    int flags, mode_t mode)
{
	int	fd, handled;

	fd = shim_open(dirfd, path, flags, &handled);
	if (handled)
		return (fd);
	return (shim_real_openat(which, dirfd, path, flags, mode));
}

SHIM_NOSAN int
open(const char *path, int flags, ...)
{
	va_list	ap;
	mode_t	mode = 0;

	if (SHIM_NEEDS_MODE(flags)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return (shim_open_any(R_OPEN, AT_FDCWD, path, flags, mode));
}

SHIM_NOSAN int
open64(const char *path, int flags, ...)
{
	va_list	ap;
	mode_t	mode = 0;

	if (SHIM_NEEDS_MODE(flags)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return (shim_open_any(R_OPEN64, AT_FDCWD, path, flags, mode));
}

SHIM_NOSAN int
openat(int dirfd, const char *path, int flags, ...)
{
	va_list	ap;
	mode_t	mode = 0;

	if (SHIM_NEEDS_MODE(flags)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return (shim_open_any(R_OPENAT, dirfd, path, flags, mode));
}

SHIM_NOSAN int
openat64(int dirfd, const char *path, int flags, ...)
{
	va_list	ap;
	mode_t	mode = 0;

	if (SHIM_NEEDS_MODE(flags)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return (shim_open_any(R_OPENAT64, dirfd, path, flags, mode));
}

/* What open and openat become under _FORTIFY_SOURCE. */
SHIM_NOSAN int
__open_2(const char *path, int flags)
{
	return (shim_open_any(R_OPEN_2, AT_FDCWD, path, flags, 0));
}

SHIM_NOSAN int
__open64_2(const char *path, int flags)
{
	return (shim_open_any(R_OPEN64_2, AT_FDCWD, path, flags, 0));
}

SHIM_NOSAN int
__openat_2(int dirfd, const char *path, int flags)
{
	return (shim_open_any(R_OPENAT_2, dirfd, path, flags, 0));
}

SHIM_NOSAN int
__openat64_2(int dirfd, const char *path, int flags)
{
	return (shim_open_any(R_OPENAT64_2, dirfd, path, flags, 0));
}

SHIM_NOSAN int
close(int fd)
{
	struct shim_handle	*h = NULL;

	if (atomic_load(&shim_nhandles) != 0) {
		pthread_mutex_lock(&shim_lock);
		if ((h = shim_find(fd)) != NULL) {
			LIST_REMOVE(h, entry);
			atomic_fetch_sub(&shim_nhandles, 1);
		}
		pthread_mutex_unlock(&shim_lock);
	}
	if (h != NULL) {
		shim_log("close fd %d", fd);
		shim_handle_free(h);
	}
	return (shim_real_close(fd));
}

SHIM_NOSAN int
ioctl(int fd, unsigned long req, ...)
{
	struct shim_handle	*h;
	va_list			 ap;
	void			*arg;
	int			 error = 0, wait = 0;

	/* Every ioctl that takes an argument at all takes a pointer. */
	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);

	if (atomic_load(&shim_nhandles) == 0)
		return (shim_real_ioctl(fd, req, arg));
	pthread_mutex_lock(&shim_lock);
	if ((h = shim_find(fd)) == NULL) {
		pthread_mutex_unlock(&shim_lock);
		return (shim_real_ioctl(fd, req, arg));
	}
	if (arg == NULL)
		error = shim_gone(h) ? ENODEV : EFAULT;
	else if (req == VIDIOC_DQBUF)
		wait = 1;
	else
		error = shim_ioctl_locked(h, req, arg);
	pthread_mutex_unlock(&shim_lock);
	if (wait)
		error = shim_dqbuf(fd, arg);

	if (error == 0 && req == VIDIOC_DQBUF)
		shim_log("ioctl fd %d %s = 0 (buffer %u, frame %u, %u bytes)",
		    fd, shim_ioctl_name(req), ((struct v4l2_buffer *)arg)->index,
		    ((struct v4l2_buffer *)arg)->sequence,
		    ((struct v4l2_buffer *)arg)->bytesused);
	else
		shim_log("ioctl fd %d %s (%#lx) = %s", fd,
		    shim_ioctl_name(req), req, error == 0 ? "0" :
		    strerror(error));
	if (error != 0) {
		errno = error;
		return (-1);
	}
	return (0);
}

static SHIM_NOSAN void *
shim_mmap(enum shim_real_fn which, void *addr, size_t len, int prot,
    int flags, int fd, off_t off)
{
	struct shim_handle	*h;
	void			*p = MAP_FAILED;
	int			 error = 0;
	unsigned		 i;

	if (atomic_load(&shim_nhandles) == 0 || fd < 0)
		return (shim_real_mmap(which, addr, len, prot, flags, fd, off));
	pthread_mutex_lock(&shim_lock);
	if ((h = shim_find(fd)) == NULL) {
		pthread_mutex_unlock(&shim_lock);
		return (shim_real_mmap(which, addr, len, prot, flags, fd, off));
	}

	if (shim_gone(h))
		error = ENODEV;
	else if ((flags & MAP_SHARED) == 0)
		error = EINVAL;		/* as vb2: buffers map shared only */
	else if (h->nbufs == 0 || off < 0 || len == 0 || len > h->stride ||
	    (size_t)off % h->stride != 0 ||
	    (size_t)off / h->stride >= h->nbufs)
		error = EINVAL;
	else {
		i = (unsigned)((size_t)off / h->stride);
		p = shim_real_mmap(which, addr, len, prot, flags, h->memfd,
		    off);
		if (p == MAP_FAILED)
			error = errno;
		else
			h->bufs[i].mapped = 1;
	}
	pthread_mutex_unlock(&shim_lock);

	shim_log("mmap fd %d offset %lld length %zu = %s", fd, (long long)off,
	    len, error == 0 ? "ok" : strerror(error));
	if (error != 0)
		errno = error;
	return (p);
}

SHIM_NOSAN void *
mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return (shim_mmap(R_MMAP, addr, len, prot, flags, fd, off));
}

SHIM_NOSAN void *
mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	return (shim_mmap(R_MMAP64, addr, len, prot, flags, fd, (off_t)off));
}

/* poll's milliseconds as shim_poll's timespec. */
static SHIM_NOSAN int
shim_poll_ms(struct pollfd *fds, nfds_t nfds, int timeout)
{
	struct timespec	tmo;

	if (timeout < 0)
		return (shim_poll(fds, nfds, NULL, NULL, 0));
	tmo.tv_sec = timeout / 1000;
	tmo.tv_nsec = (long)(timeout % 1000) * 1000000L;
	return (shim_poll(fds, nfds, &tmo, NULL, 0));
}

SHIM_NOSAN int
poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	return (shim_poll_ms(fds, nfds, timeout));
}

SHIM_NOSAN int
ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
    const sigset_t *sigmask)
{
	return (shim_poll(fds, nfds, tmo, sigmask, 1));
}

/* What poll and ppoll become under _FORTIFY_SOURCE. */
SHIM_NOSAN int
__poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen)
{
	if (fdslen / sizeof *fds < nfds)
		abort();
	return (shim_poll_ms(fds, nfds, timeout));
}

SHIM_NOSAN int
__ppoll_chk(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
    const sigset_t *sigmask, size_t fdslen)
{
	if (fdslen / sizeof *fds < nfds)
		abort();
	return (shim_poll(fds, nfds, tmo, sigmask, 1));
}
