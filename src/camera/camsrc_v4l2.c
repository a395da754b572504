/*
 * camsrc_v4l2.c - a V4L2 camera with mmap streaming.
 *
 * YUYV frames are repacked to planar 4:2:0 (chroma of each pair of rows
 * averaged) for the encoder; MJPEG frames are passed through as they
 * come, with no decode or re-encode. The device paces frames itself. A
 * frame handed out stays in its driver buffer until the next call, which
 * gives the buffer back, so pass-through costs the one copy into the
 * frame the viewers share.
 *
 * An unplugged device shows up as POLLERR or ENODEV; the capture thread
 * then closes us and opens the device again once a second.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/videodev2.h>

#include "camera/camsrc.h"
#include "lib/xmalloc.h"

#define NBUFFERS	4

enum want_format { WANT_ANY, WANT_YUYV, WANT_MJPEG };

struct v4l2buf {
	void		*start;
	size_t		 length;
};

struct v4l2src {
	char		*device;
	enum want_format want;
	unsigned	 req_width, req_height, req_fps;

	int		 fd;
	uint32_t	 pixfmt;
	unsigned	 bytesperline;
	struct v4l2buf	 bufs[NBUFFERS];
	unsigned	 nbufs;
	int		 streaming;
	int		 held;		/* buffer lent out with a frame, or -1 */

	unsigned char	*y, *u, *v;	/* the 4:2:0 repack of YUYV */
};

static int
xioctl(int fd, unsigned long req, void *arg)
{
	int	r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	return r;
}

static void
fourcc(uint32_t f, char out[5])
{
	int	i;

	for (i = 0; i < 4; i++) {
		out[i] = (char)((f >> (8 * i)) & 0xff);
		if (out[i] < 32 || out[i] > 126)
			out[i] = '?';
	}
	out[4] = '\0';
}

/* Picks YUYV or MJPEG among what the device offers. */
static int
choose_format(struct v4l2src *vs, char *err, size_t errlen)
{
	struct v4l2_fmtdesc	 d;
	int			 yuyv = 0, mjpeg = 0;
	char			 seen[128] = "", cc[5];
	size_t			 used = 0;

	memset(&d, 0, sizeof d);
	d.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	for (d.index = 0; xioctl(vs->fd, VIDIOC_ENUM_FMT, &d) == 0;
	    d.index++) {
		if (d.pixelformat == V4L2_PIX_FMT_YUYV)
			yuyv = 1;
		else if (d.pixelformat == V4L2_PIX_FMT_MJPEG ||
		    d.pixelformat == V4L2_PIX_FMT_JPEG)
			mjpeg = 1;
		fourcc(d.pixelformat, cc);
		if (used + 6 < sizeof seen)
			used += (size_t)snprintf(seen + used,
			    sizeof seen - used, "%s%s", used ? " " : "", cc);
	}
	if (vs->want != WANT_MJPEG && yuyv)
		vs->pixfmt = V4L2_PIX_FMT_YUYV;
	else if (vs->want != WANT_YUYV && mjpeg)
		vs->pixfmt = V4L2_PIX_FMT_MJPEG;
	else {
		snprintf(err, errlen, "%s offers no %s (it has: %s)",
		    vs->device, vs->want == WANT_YUYV ? "YUYV" :
		    vs->want == WANT_MJPEG ? "MJPEG" : "YUYV or MJPEG",
		    *seen != '\0' ? seen : "nothing");
		return -1;
	}
	return 0;
}

static int
set_format(struct camsrc *src, struct v4l2src *vs, char *err,
    size_t errlen)
{
	struct v4l2_format	fmt;
	struct v4l2_streamparm	parm;

	memset(&fmt, 0, sizeof fmt);
	fmt.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	fmt.fmt.pix.width = vs->req_width;
	fmt.fmt.pix.height = vs->req_height;
	fmt.fmt.pix.pixelformat = vs->pixfmt;
	fmt.fmt.pix.field = V4L2_FIELD_NONE;
	if (xioctl(vs->fd, VIDIOC_S_FMT, &fmt) != 0) {
		snprintf(err, errlen, "%s: VIDIOC_S_FMT: %s", vs->device,
		    strerror(errno));
		return -1;
	}
	/* Drivers adjust what they cannot do; take what they say. */
	if (fmt.fmt.pix.pixelformat != vs->pixfmt ||
	    fmt.fmt.pix.width < 16 || fmt.fmt.pix.height < 16 ||
	    fmt.fmt.pix.width > 7680 || fmt.fmt.pix.height > 4320) {
		snprintf(err, errlen, "%s: the device would not set %ux%u",
		    vs->device, vs->req_width, vs->req_height);
		return -1;
	}
	src->width = fmt.fmt.pix.width;
	src->height = fmt.fmt.pix.height;
	vs->bytesperline = fmt.fmt.pix.bytesperline;
	if (vs->pixfmt == V4L2_PIX_FMT_YUYV &&
	    vs->bytesperline < 2 * src->width)
		vs->bytesperline = 2 * src->width;

	memset(&parm, 0, sizeof parm);
	parm.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	parm.parm.capture.timeperframe.numerator = 1;
	parm.parm.capture.timeperframe.denominator = vs->req_fps;
	(void)xioctl(vs->fd, VIDIOC_S_PARM, &parm);	/* optional */
	if (xioctl(vs->fd, VIDIOC_G_PARM, &parm) == 0 &&
	    parm.parm.capture.timeperframe.numerator > 0 &&
	    parm.parm.capture.timeperframe.denominator > 0)
		src->fps = parm.parm.capture.timeperframe.denominator /
		    parm.parm.capture.timeperframe.numerator;
	else
		src->fps = vs->req_fps;
	if (src->fps < 1)
		src->fps = 1;
	return 0;
}

static int
start_streaming(struct v4l2src *vs, char *err, size_t errlen)
{
	struct v4l2_requestbuffers	 rb;
	struct v4l2_buffer		 b;
	enum v4l2_buf_type		 type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	unsigned			 i;

	memset(&rb, 0, sizeof rb);
	rb.count = NBUFFERS;
	rb.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	rb.memory = V4L2_MEMORY_MMAP;
	if (xioctl(vs->fd, VIDIOC_REQBUFS, &rb) != 0 || rb.count < 2) {
		snprintf(err, errlen, "%s: VIDIOC_REQBUFS: %s", vs->device,
		    rb.count < 2 ? "too few buffers" : strerror(errno));
		return -1;
	}
	vs->nbufs = rb.count > NBUFFERS ? NBUFFERS : rb.count;
	for (i = 0; i < vs->nbufs; i++) {
		memset(&b, 0, sizeof b);
		b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		b.memory = V4L2_MEMORY_MMAP;
		b.index = i;
		if (xioctl(vs->fd, VIDIOC_QUERYBUF, &b) != 0) {
			snprintf(err, errlen, "%s: VIDIOC_QUERYBUF: %s",
			    vs->device, strerror(errno));
			return -1;
		}
		vs->bufs[i].start = mmap(NULL, b.length, PROT_READ |
		    PROT_WRITE, MAP_SHARED, vs->fd, b.m.offset);
		if (vs->bufs[i].start == MAP_FAILED) {
			vs->bufs[i].start = NULL;
			snprintf(err, errlen, "%s: mmap: %s", vs->device,
			    strerror(errno));
			return -1;
		}
		vs->bufs[i].length = b.length;
		if (xioctl(vs->fd, VIDIOC_QBUF, &b) != 0) {
			snprintf(err, errlen, "%s: VIDIOC_QBUF: %s",
			    vs->device, strerror(errno));
			return -1;
		}
	}
	if (xioctl(vs->fd, VIDIOC_STREAMON, &type) != 0) {
		snprintf(err, errlen, "%s: VIDIOC_STREAMON: %s", vs->device,
		    strerror(errno));
		return -1;
	}
	vs->streaming = 1;
	return 0;
}

static void
v4l2src_close(struct camsrc *src)
{
	struct v4l2src			*vs = src->priv;
	struct v4l2_requestbuffers	 rb;
	enum v4l2_buf_type		 type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	unsigned			 i;

	if (vs->fd < 0)
		return;
	if (vs->streaming)
		(void)xioctl(vs->fd, VIDIOC_STREAMOFF, &type);
	for (i = 0; i < NBUFFERS; i++) {
		if (vs->bufs[i].start != NULL)
			munmap(vs->bufs[i].start, vs->bufs[i].length);
		vs->bufs[i].start = NULL;
	}
	memset(&rb, 0, sizeof rb);
	rb.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	rb.memory = V4L2_MEMORY_MMAP;
	(void)xioctl(vs->fd, VIDIOC_REQBUFS, &rb);	/* count 0: free */
	close(vs->fd);
	vs->fd = -1;
	vs->nbufs = 0;
	vs->streaming = 0;
	vs->held = -1;
	free(vs->y);
	free(vs->u);
	free(vs->v);
	vs->y = vs->u = vs->v = NULL;
}

static int
v4l2src_open(struct camsrc *src, char *err, size_t errlen)
{
	struct v4l2src		*vs = src->priv;
	struct v4l2_capability	 cap;
	uint32_t		 caps;
	size_t			 csize;

	if ((vs->fd = open(vs->device, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", vs->device, strerror(errno));
		return -1;
	}
	memset(&cap, 0, sizeof cap);
	if (xioctl(vs->fd, VIDIOC_QUERYCAP, &cap) != 0) {
		snprintf(err, errlen, "%s: not a V4L2 device (%s)",
		    vs->device, strerror(errno));
		goto fail;
	}
	caps = (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps :
	    cap.capabilities;
	if (!(caps & V4L2_CAP_VIDEO_CAPTURE) || !(caps & V4L2_CAP_STREAMING)) {
		snprintf(err, errlen, "%s: cannot capture video by streaming",
		    vs->device);
		goto fail;
	}
	if (choose_format(vs, err, errlen) != 0 ||
	    set_format(src, vs, err, errlen) != 0 ||
	    start_streaming(vs, err, errlen) != 0)
		goto fail;
	if (vs->pixfmt == V4L2_PIX_FMT_YUYV) {
		csize = (size_t)((src->width + 1) / 2) *
		    ((src->height + 1) / 2);
		vs->y = xmalloc((size_t)src->width * src->height);
		vs->u = xmalloc(csize);
		vs->v = xmalloc(csize);
		src->format = "yuyv";
	} else
		src->format = "mjpeg";
	return 0;
fail:
	v4l2src_close(src);
	return -1;
}

/* YUYV rows to 4:2:0 planes; each chroma sample averages two rows. */
static void
yuyv_to_420(const unsigned char *in, unsigned stride, unsigned w,
    unsigned h, unsigned char *y, unsigned char *u, unsigned char *v)
{
	const unsigned char	*r0, *r1;
	unsigned		 row, x, cw = (w + 1) / 2;

	for (row = 0; row < h; row += 2) {
		r0 = in + (size_t)row * stride;
		r1 = row + 1 < h ? r0 + stride : r0;
		for (x = 0; x < w; x++)
			y[(size_t)row * w + x] = r0[2 * x];
		if (row + 1 < h)
			for (x = 0; x < w; x++)
				y[(size_t)(row + 1) * w + x] = r1[2 * x];
		for (x = 0; x < w / 2; x++) {
			u[(size_t)(row / 2) * cw + x] = (unsigned char)
			    ((r0[4 * x + 1] + r1[4 * x + 1] + 1) / 2);
			v[(size_t)(row / 2) * cw + x] = (unsigned char)
			    ((r0[4 * x + 3] + r1[4 * x + 3] + 1) / 2);
		}
	}
}

static void
give_back(struct v4l2src *vs)
{
	struct v4l2_buffer	b;

	if (vs->held < 0)
		return;
	memset(&b, 0, sizeof b);
	b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	b.memory = V4L2_MEMORY_MMAP;
	b.index = (unsigned)vs->held;
	vs->held = -1;
	(void)xioctl(vs->fd, VIDIOC_QBUF, &b);	/* a failure shows at DQBUF */
}

static enum camsrc_status
v4l2src_next(struct camsrc *src, struct camsrc_frame *f, int timeout_ms,
    char *err, size_t errlen)
{
	struct v4l2src		*vs = src->priv;
	struct v4l2_buffer	 b;
	const unsigned char	*data;
	short			 rev = 0;
	int			 w;

	give_back(vs);
	w = camsrc_wait(src, vs->fd, POLLIN, timeout_ms, &rev);
	if (w < 0) {
		snprintf(err, errlen, "cancelled");
		return CAMSRC_FAILED;
	}
	if (w == 0)
		return CAMSRC_AGAIN;
	if (rev & (POLLERR | POLLHUP | POLLNVAL)) {
		snprintf(err, errlen, "%s: the device is gone", vs->device);
		return CAMSRC_FAILED;
	}
	memset(&b, 0, sizeof b);
	b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	b.memory = V4L2_MEMORY_MMAP;
	if (xioctl(vs->fd, VIDIOC_DQBUF, &b) != 0) {
		if (errno == EAGAIN)
			return CAMSRC_AGAIN;
		snprintf(err, errlen, "%s: VIDIOC_DQBUF: %s", vs->device,
		    errno == ENODEV ? "the device is gone" : strerror(errno));
		return CAMSRC_FAILED;
	}
	if (b.index >= vs->nbufs) {
		snprintf(err, errlen, "%s: buffer %u out of range",
		    vs->device, b.index);
		return CAMSRC_FAILED;
	}
	vs->held = (int)b.index;
	data = vs->bufs[b.index].start;
	f->seq = b.sequence;
	if ((b.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) ==
	    V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC) {
		f->taken.tv_sec = b.timestamp.tv_sec;
		f->taken.tv_nsec = b.timestamp.tv_usec * 1000;
	}
	f->width = src->width;
	f->height = src->height;
	if (vs->pixfmt == V4L2_PIX_FMT_MJPEG) {
		/* A damaged or empty frame is dropped, not sent on. */
		if ((b.flags & V4L2_BUF_FLAG_ERROR) || b.bytesused < 4 ||
		    b.bytesused > vs->bufs[b.index].length ||
		    data[0] != 0xff || data[1] != 0xd8)
			return CAMSRC_AGAIN;
		f->layout = CAMSRC_JPEG;
		f->jpeg = data;
		f->jpeg_len = b.bytesused;
		return CAMSRC_FRAME;
	}
	if ((b.flags & V4L2_BUF_FLAG_ERROR) ||
	    (size_t)vs->bytesperline * (src->height - 1) + 2 * src->width >
	    vs->bufs[b.index].length)
		return CAMSRC_AGAIN;
	yuyv_to_420(data, vs->bytesperline, src->width, src->height, vs->y,
	    vs->u, vs->v);
	give_back(vs);
	f->layout = CAMSRC_YUV420;
	f->planes[0] = vs->y;
	f->planes[1] = vs->u;
	f->planes[2] = vs->v;
	f->strides[0] = src->width;
	f->strides[1] = f->strides[2] = (src->width + 1) / 2;
	return CAMSRC_FRAME;
}

static void
v4l2src_free(struct camsrc *src)
{
	struct v4l2src	*vs = src->priv;

	free(vs->device);
	free(vs);
}

static const struct camsrc_ops v4l2src_ops = {
	"v4l2", v4l2src_open, v4l2src_close, v4l2src_next, v4l2src_free
};

/* "DEVICE[:WxH][@FPS][:yuyv|:mjpeg]", the parts after DEVICE in any order. */
int
camsrc_v4l2_init(struct camsrc *src, const char *args, char *err,
    size_t errlen)
{
	struct v4l2src	*vs;
	const char	*p = strchr(args, ':'), *tok;
	size_t		 len;

	len = p != NULL ? (size_t)(p - args) : strlen(args);
	if (len == 0) {
		snprintf(err, errlen, "v4l2:DEVICE needs a device, such as "
		    "/dev/video0");
		return -1;
	}
	vs = xcalloc(1, sizeof *vs);
	vs->device = xstrndup(args, len);
	vs->fd = -1;
	vs->held = -1;
	vs->want = WANT_ANY;
	while (p != NULL) {
		tok = p + 1;
		p = strchr(tok, ':');
		len = p != NULL ? (size_t)(p - tok) : strlen(tok);
		if (len == 4 && strncmp(tok, "yuyv", 4) == 0)
			vs->want = WANT_YUYV;
		else if (len == 5 && strncmp(tok, "mjpeg", 5) == 0)
			vs->want = WANT_MJPEG;
		else if (camsrc_parse_size(&tok, &src->width, &src->height,
		    &src->fps) != 0 || (*tok != '\0' && *tok != ':')) {
			snprintf(err, errlen, "v4l2:DEVICE[:WxH][@FPS]"
			    "[:yuyv|:mjpeg], even W and H");
			free(vs->device);
			free(vs);
			return -1;
		}
	}
	vs->req_width = src->width;
	vs->req_height = src->height;
	vs->req_fps = src->fps;
	src->ops = &v4l2src_ops;
	src->priv = vs;
	src->self_paced = 0;
	src->format = vs->want == WANT_MJPEG ? "mjpeg" : "yuyv";
	return 0;
}
