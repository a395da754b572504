/*
 * camsrc_y4m.c - YUV4MPEG2 from a file (looped) or a pipe ("-", stdin,
 * or a FIFO), so anything ffmpeg decodes can be streamed:
 *
 *	ffmpeg -i clip.mp4 -f yuv4mpegpipe - | stockcam --camera y4m:-
 *
 * Bytes are read in large chunks and pushed into the y4m parser a frame's
 * worth at most at a time, so each call yields at most one frame, which
 * is copied out of the parser (its planes live only during the callback).
 * The capture thread paces frames to the header's rate; a faster
 * producer is simply held back by the full pipe.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "camera/camsrc.h"
#include "camera/y4m.h"
#include "lib/xmalloc.h"

#define READ_SIZE	(256 * 1024)

struct y4msrc {
	char		*path;		/* "-" for stdin */
	const char	*name;		/* the path, as messages show it */
	int		 fd;
	int		 seekable;	/* a regular file: loop it */
	struct y4m	*parser;
	unsigned char	*rbuf;
	size_t		 roff, rlen;
	int		 eof;
	uint64_t	 seq;

	/* The frame handed out, copied from the parser's callback. */
	unsigned char	*frame;
	size_t		 frame_cap;
	int		 have_frame;
	struct y4m_info	 info;
};

static void
on_frame(const struct y4m_info *info, const unsigned char *const planes[3],
    void *arg)
{
	struct y4msrc	*ys = arg;
	size_t		 off = 0;
	int		 i;

	if (ys->frame_cap < info->frame_size) {
		free(ys->frame);
		ys->frame = xmalloc(info->frame_size);
		ys->frame_cap = info->frame_size;
	}
	for (i = 0; i < 3; i++) {
		if (planes[i] == NULL)
			continue;
		memcpy(ys->frame + off, planes[i], info->plane_size[i]);
		off += info->plane_size[i];
	}
	ys->info = *info;
	ys->have_frame = 1;
}

static int
y4msrc_open_fd(struct camsrc *src, char *err, size_t errlen)
{
	struct y4msrc	*ys = src->priv;
	struct stat	 st;

	if (strcmp(ys->path, "-") == 0)
		ys->fd = STDIN_FILENO;
	else if ((ys->fd = open(ys->path, O_RDONLY | O_CLOEXEC |
	    O_NONBLOCK)) < 0) {
		snprintf(err, errlen, "%s: %s", ys->name, strerror(errno));
		return -1;
	}
	ys->seekable = fstat(ys->fd, &st) == 0 && S_ISREG(st.st_mode);
	return 0;
}

static int
y4msrc_open(struct camsrc *src, char *err, size_t errlen)
{
	struct y4msrc	*ys = src->priv;

	/* stdin stays open between viewers: it cannot be opened again. */
	if (ys->fd < 0 && y4msrc_open_fd(src, err, errlen) != 0)
		return -1;
	if (ys->parser == NULL)
		ys->parser = y4m_new(on_frame, ys);
	return 0;
}

/* Starts the file over from its first byte, with a fresh parser. */
static void
rewind_file(struct y4msrc *ys)
{
	lseek(ys->fd, 0, SEEK_SET);
	y4m_free(ys->parser);
	ys->parser = y4m_new(on_frame, ys);
	ys->roff = ys->rlen = 0;
	ys->eof = 0;
}

static void
y4msrc_close(struct camsrc *src)
{
	struct y4msrc	*ys = src->priv;

	if (ys->fd >= 0 && ys->fd != STDIN_FILENO) {
		close(ys->fd);
		ys->fd = -1;
		y4m_free(ys->parser);
		ys->parser = NULL;
		ys->roff = ys->rlen = 0;
		ys->eof = 0;
	}
}

/*
 * Reads more input: 1 got bytes, 0 end of input or timeout, -1 error.
 * Pipes are polled first (stdin may be blocking, and a blocked read
 * could not be cancelled); files are read straight away.
 */
static int
fill(struct camsrc *src, int timeout_ms, char *err, size_t errlen)
{
	struct y4msrc	*ys = src->priv;
	ssize_t		 n;
	short		 rev;
	int		 w;

	for (;;) {
		if (!ys->seekable) {
			w = camsrc_wait(src, ys->fd, POLLIN, timeout_ms, &rev);
			if (w < 0) {
				snprintf(err, errlen, "cancelled");
				return -1;
			}
			if (w == 0)
				return 0;
		}
		n = read(ys->fd, ys->rbuf, READ_SIZE);
		if (n > 0) {
			ys->roff = 0;
			ys->rlen = (size_t)n;
			return 1;
		}
		if (n == 0) {
			ys->eof = 1;
			return 0;
		}
		if (errno == EINTR || (errno == EAGAIN && !ys->seekable))
			continue;
		snprintf(err, errlen, "%s: read: %s", ys->name,
		    strerror(errno));
		return -1;
	}
}

/* Pushes buffered bytes, never past the end of one more frame. */
static int
push(struct y4msrc *ys, char *err, size_t errlen)
{
	const struct y4m_info	*info = y4m_info(ys->parser);
	const unsigned char	*p = ys->rbuf + ys->roff, *nl;
	size_t			 n = ys->rlen - ys->roff;

	if (info != NULL) {
		/* A frame and its shortest FRAME line: one end at most. */
		if (n > info->frame_size + 6)
			n = info->frame_size + 6;
	} else if ((nl = memchr(p, '\n', n)) != NULL)
		n = (size_t)(nl - p) + 1;	/* the header line alone */
	ys->roff += n;
	return y4m_feed(ys->parser, p, n, err, errlen);
}

static enum camsrc_status
y4msrc_next(struct camsrc *src, struct camsrc_frame *f, int timeout_ms,
    char *err, size_t errlen)
{
	struct y4msrc	*ys = src->priv;
	const struct y4m_info *in;
	int		 r, rewound = 0;
	size_t		 off;
	char		 why[Y4M_ERRLEN];

	ys->have_frame = 0;
	while (!ys->have_frame) {
		if (ys->roff == ys->rlen) {
			if ((r = fill(src, timeout_ms, err, errlen)) < 0)
				return CAMSRC_FAILED;
			if (r == 0 && !ys->eof)
				return CAMSRC_AGAIN;
			if (r == 0 && ys->seekable && !rewound &&
			    y4m_frames(ys->parser) > 0) {
				rewind_file(ys);	/* loop the file */
				rewound = 1;
				continue;
			}
			if (r == 0) {
				snprintf(err, errlen, "%s: %s", ys->name,
				    ys->seekable ? "no complete frame" :
				    "end of input (the pipe was closed)");
				return CAMSRC_FAILED;
			}
		}
		if (push(ys, why, sizeof why) != 0) {
			snprintf(err, errlen, "%s: %s", ys->name, why);
			return CAMSRC_FAILED;
		}
	}

	in = &ys->info;
	f->width = in->width;
	f->height = in->height;
	switch (in->chroma) {
	case Y4M_420:
		f->layout = CAMSRC_YUV420;
		break;
	case Y4M_422:
		f->layout = CAMSRC_YUV422;
		break;
	case Y4M_444:
		f->layout = CAMSRC_YUV444;
		break;
	case Y4M_MONO:
		f->layout = CAMSRC_GRAY;
		break;
	}
	for (r = 0, off = 0; r < 3; r++) {
		if (in->plane_size[r] == 0)
			continue;
		f->planes[r] = ys->frame + off;
		f->strides[r] = in->plane_width[r];
		off += in->plane_size[r];
	}
	f->seq = ys->seq++;
	src->width = in->width;
	src->height = in->height;
	if (in->fps_num > 0 && in->fps_den > 0) {
		src->fps = (in->fps_num + in->fps_den / 2) / in->fps_den;
		if (src->fps < 1)
			src->fps = 1;
		if (src->fps > 240)
			src->fps = 240;
	}
	src->format = in->chroma == Y4M_420 ? "y4m 4:2:0" :
	    in->chroma == Y4M_422 ? "y4m 4:2:2" :
	    in->chroma == Y4M_444 ? "y4m 4:4:4" : "y4m mono";
	return CAMSRC_FRAME;
}

static void
y4msrc_free(struct camsrc *src)
{
	struct y4msrc	*ys = src->priv;

	y4m_free(ys->parser);
	free(ys->path);
	free(ys->rbuf);
	free(ys->frame);
	free(ys);
}

static const struct camsrc_ops y4msrc_ops = {
	"y4m", y4msrc_open, y4msrc_close, y4msrc_next, y4msrc_free
};

int
camsrc_y4m_init(struct camsrc *src, const char *args, char *err,
    size_t errlen)
{
	struct y4msrc	*ys;

	if (*args == '\0') {
		snprintf(err, errlen, "y4m:PATH needs a path (or - for "
		    "standard input)");
		return -1;
	}
	ys = xcalloc(1, sizeof *ys);
	ys->path = xstrdup(args);
	ys->name = strcmp(args, "-") == 0 ? "standard input" : ys->path;
	ys->fd = -1;
	ys->rbuf = xmalloc(READ_SIZE);
	src->ops = &y4msrc_ops;
	src->priv = ys;
	src->self_paced = 1;
	src->format = "y4m";
	return 0;
}
