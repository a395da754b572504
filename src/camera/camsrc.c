/*
 * camsrc.c - the camera source front: --camera parsing, the calls the
 * capture thread makes, and the test pattern source.
 *
 * A source is opened when someone starts watching and closed when the
 * last one leaves (or when it fails: the capture thread then retries).
 * Sources that block (pipes, devices) wait with camsrc_wait(), which
 * also watches the camera's cancel fd, so shutting down never hangs on
 * a silent producer.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "camera/camsrc.h"
#include "camera/testpattern.h"
#include "lib/xmalloc.h"

#define MIN_SIDE	16
#define MAX_WIDTH	7680
#define MAX_HEIGHT	4320
#define MAX_FPS		240

static const struct {
	const char	*prefix;
	int		 (*init)(struct camsrc *, const char *, char *, size_t);
} kinds[] = {
	{ "testpattern", camsrc_testpattern_init },
	{ "y4m", camsrc_y4m_init },
	{ "v4l2", camsrc_v4l2_init },
};

static unsigned
parse_num(const char **s)
{
	unsigned long	n = 0;

	while (**s >= '0' && **s <= '9' && n < 100000) {
		n = n * 10 + (unsigned long)(**s - '0');
		(*s)++;
	}
	return (unsigned)n;
}

int
camsrc_parse_size(const char **s, unsigned *w, unsigned *h, unsigned *fps)
{
	const char	*p = *s;

	if (*p >= '0' && *p <= '9') {
		*w = parse_num(&p);
		if (*p++ != 'x' || *p < '0' || *p > '9')
			return -1;
		*h = parse_num(&p);
		if (*w < MIN_SIDE || *h < MIN_SIDE || *w > MAX_WIDTH ||
		    *h > MAX_HEIGHT || *w % 2 != 0 || *h % 2 != 0)
			return -1;
	}
	if (*p == '@') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		*fps = parse_num(&p);
		if (*fps < 1 || *fps > MAX_FPS)
			return -1;
	}
	if (p == *s)
		return -1;
	*s = p;
	return 0;
}

struct camsrc *
camsrc_new(const char *spec, int cancel_fd, char *err, size_t errlen)
{
	struct camsrc	*src;
	size_t		 i, n;

	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		n = strlen(kinds[i].prefix);
		if (strncmp(spec, kinds[i].prefix, n) == 0 &&
		    (spec[n] == '\0' || spec[n] == ':'))
			break;
	}
	if (i == sizeof kinds / sizeof kinds[0]) {
		snprintf(err, errlen, "unknown source (testpattern[:WxH[@FPS]]"
		    ", y4m:PATH or v4l2:DEVICE[:WxH][@FPS][:yuyv|:mjpeg])");
		return NULL;
	}
	src = xcalloc(1, sizeof *src);
	src->cancel_fd = cancel_fd;
	src->width = 640;
	src->height = 480;
	src->fps = 30;
	spec += n;
	if (*spec == ':')
		spec++;
	if (kinds[i].init(src, spec, err, errlen) != 0) {
		free(src);
		return NULL;
	}
	return src;
}

void
camsrc_free(struct camsrc *src)
{
	if (src == NULL)
		return;
	camsrc_close(src);
	src->ops->free(src);
	free(src);
}

int
camsrc_open(struct camsrc *src, char *err, size_t errlen)
{
	if (src->is_open)
		return 0;
	if (src->ops->open(src, err, errlen) != 0)
		return -1;
	src->is_open = 1;
	return 0;
}

void
camsrc_close(struct camsrc *src)
{
	if (!src->is_open)
		return;
	src->ops->close(src);
	src->is_open = 0;
}

enum camsrc_status
camsrc_next(struct camsrc *src, struct camsrc_frame *f, int timeout_ms,
    char *err, size_t errlen)
{
	if (!src->is_open) {
		snprintf(err, errlen, "not open");
		return CAMSRC_FAILED;
	}
	memset(f, 0, sizeof *f);
	return src->ops->next(src, f, timeout_ms, err, errlen);
}

void
camsrc_geometry(const struct camsrc *src, unsigned *width, unsigned *height,
    unsigned *fps)
{
	*width = src->width;
	*height = src->height;
	*fps = src->fps;
}

int
camsrc_self_paced(const struct camsrc *src)
{
	return src->self_paced;
}

const char *
camsrc_format(const struct camsrc *src)
{
	return src->format;
}

int
camsrc_wait(const struct camsrc *src, int fd, short events, int timeout_ms,
    short *revents)
{
	struct pollfd	pfd[2];
	int		n;

	pfd[0].fd = fd;
	pfd[0].events = events;
	pfd[1].fd = src->cancel_fd;
	pfd[1].events = POLLIN;
	do
		n = poll(pfd, 2, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0 || pfd[1].revents != 0)
		return -1;
	if (n == 0)
		return 0;
	*revents = pfd[0].revents;
	return 1;
}

/* --- the test pattern --- */

struct pattern {
	unsigned char	*y, *u, *v;
	uint64_t	 seq;
};

static int
pattern_open(struct camsrc *src, char *err, size_t errlen)
{
	struct pattern	*p = src->priv;
	size_t		 csize = (size_t)(src->width / 2) * (src->height / 2);

	p->y = xmalloc((size_t)src->width * src->height);
	p->u = xmalloc(csize);
	p->v = xmalloc(csize);
	return 0;
}

static void
pattern_close(struct camsrc *src)
{
	struct pattern	*p = src->priv;

	free(p->y);
	free(p->u);
	free(p->v);
	p->y = p->u = p->v = NULL;
}

static enum camsrc_status
pattern_next(struct camsrc *src, struct camsrc_frame *f, int timeout_ms,
    char *err, size_t errlen)
{
	struct pattern	*p = src->priv;
	struct timespec	 now;

	clock_gettime(CLOCK_REALTIME, &now);
	f->seq = p->seq++;	/* counts on across pauses: a cut shows */
	testpattern_draw(p->y, p->u, p->v, src->width, src->height, f->seq,
	    &now);
	f->layout = CAMSRC_YUV420;
	f->width = src->width;
	f->height = src->height;
	f->planes[0] = p->y;
	f->planes[1] = p->u;
	f->planes[2] = p->v;
	f->strides[0] = src->width;
	f->strides[1] = f->strides[2] = src->width / 2;
	return CAMSRC_FRAME;
}

static void
pattern_free(struct camsrc *src)
{
	free(src->priv);
}

static const struct camsrc_ops pattern_ops = {
	"testpattern", pattern_open, pattern_close, pattern_next,
	pattern_free
};

int
camsrc_testpattern_init(struct camsrc *src, const char *args, char *err,
    size_t errlen)
{
	if (*args != '\0' && (camsrc_parse_size(&args, &src->width,
	    &src->height, &src->fps) != 0 || *args != '\0')) {
		snprintf(err, errlen, "testpattern[:WxH[@FPS]] with even W "
		    "and H of %u to %ux%u, FPS 1 to %u", MIN_SIDE, MAX_WIDTH,
		    MAX_HEIGHT, MAX_FPS);
		return -1;
	}
	src->ops = &pattern_ops;
	src->priv = xcalloc(1, sizeof (struct pattern));
	src->self_paced = 1;
	src->format = "yuv420";
	return 0;
}
