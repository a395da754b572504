/* camsrc.h - where camera frames come from: test pattern, y4m, V4L2. */
#ifndef SC_CAMSRC_H
#define SC_CAMSRC_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CAMSRC_ERRLEN	256

/* How a frame's pixels are laid out. */
enum camsrc_layout {
	CAMSRC_YUV420,		/* planar Y, U, V; chroma halved both ways */
	CAMSRC_YUV422,		/* chroma halved across */
	CAMSRC_YUV444,
	CAMSRC_GRAY,		/* Y only */
	CAMSRC_JPEG,		/* a complete JPEG from the device */
};

/*
 * One frame, valid until the next call into the source. Planar frames
 * have planes and strides (unused planes NULL); JPEG frames have jpeg
 * and jpeg_len. Width and height are the frame's own (a y4m file or a
 * device may not give what was asked for).
 */
struct camsrc_frame {
	enum camsrc_layout	 layout;
	unsigned		 width, height;
	const unsigned char	*planes[3];
	unsigned		 strides[3];
	const unsigned char	*jpeg;
	size_t			 jpeg_len;
	uint64_t		 seq;		/* the source's frame number */
	struct timespec		 taken;		/* by a device, CLOCK_MONOTONIC;
						   0 when not known */
};

/* What camsrc_next() says. */
enum camsrc_status {
	CAMSRC_FRAME,		/* *frame is filled in */
	CAMSRC_AGAIN,		/* nothing within the timeout; call again */
	CAMSRC_FAILED,		/* broken: close, report, retry later */
};

struct camsrc;

/*
 * Parses --camera ("testpattern[:WxH[@FPS]]", "y4m:PATH",
 * "v4l2:DEVICE[:WxH][@FPS][:yuyv|:mjpeg]"); NULL with a message in err.
 * Nothing is opened yet. cancel_fd is polled beside the source's own fd
 * so that a blocked read gives up when it becomes readable.
 */
struct camsrc	*camsrc_new(const char *spec, int cancel_fd, char *err,
		    size_t errlen);
/* Closes the source if open and frees it (NULL is fine). */
void		 camsrc_free(struct camsrc *);

/* 0, or -1 with a message; opening an open source is a no-op. */
int		 camsrc_open(struct camsrc *, char *err, size_t errlen);
/* Releases the device or file; the next open starts over. */
void		 camsrc_close(struct camsrc *);
/* Waits up to timeout_ms for the next frame. */
enum camsrc_status camsrc_next(struct camsrc *, struct camsrc_frame *,
		    int timeout_ms, char *err, size_t errlen);

/* Size and rate: what was asked for until the source is open. */
void		 camsrc_geometry(const struct camsrc *, unsigned *width,
		    unsigned *height, unsigned *fps);
/* 1 if the capture thread must pace frames itself (files, patterns). */
int		 camsrc_self_paced(const struct camsrc *);
/* "yuv420", "yuyv", "mjpeg", ...: the format now delivered. */
const char	*camsrc_format(const struct camsrc *);

/*
 * The sources, behind one table of operations. Each keeps its state in
 * the camsrc's private pointer.
 */
struct camsrc_ops {
	const char	*name;
	int		 (*open)(struct camsrc *, char *, size_t);
	void		 (*close)(struct camsrc *);
	enum camsrc_status (*next)(struct camsrc *, struct camsrc_frame *,
			     int, char *, size_t);
	void		 (*free)(struct camsrc *);
};

struct camsrc {
	const struct camsrc_ops	*ops;
	void			*priv;
	int			 cancel_fd;
	int			 is_open;
	int			 self_paced;
	unsigned		 width, height, fps;
	const char		*format;
};

/* Constructors for camsrc_new: 0 or -1 with a message. */
int	camsrc_testpattern_init(struct camsrc *, const char *args, char *,
	    size_t);
int	camsrc_y4m_init(struct camsrc *, const char *args, char *, size_t);
int	camsrc_v4l2_init(struct camsrc *, const char *args, char *, size_t);

/* Parses "WxH" and/or "@FPS" at *s, advancing it; 0 or -1. */
int	camsrc_parse_size(const char **s, unsigned *w, unsigned *h,
	    unsigned *fps);
/* Waits for fd (events) or the cancel fd: 1 ready, 0 timeout, -1 cancel. */
int	camsrc_wait(const struct camsrc *, int fd, short events,
	    int timeout_ms, short *revents);

#endif
