/* y4m.h - push parser for YUV4MPEG2 streams (ffmpeg -f yuv4mpegpipe). */
#ifndef SC_Y4M_H
#define SC_Y4M_H

#include <stddef.h>
#include <stdint.h>

#define Y4M_MAX_DIM	8192	/* largest width or height */
#define Y4M_ERRLEN	256	/* enough for any reason y4m_feed gives */
#define Y4M_MAX_LINE	1024	/* bytes in a header or FRAME line, no LF */

enum y4m_chroma { Y4M_420, Y4M_422, Y4M_444, Y4M_MONO };

/* Absent planes (mono's U and V) have size, width and height 0. */
struct y4m_info {
	unsigned	width, height;
	unsigned	fps_num, fps_den;	/* 0:0 when the header has no F */
	enum y4m_chroma	chroma;
	size_t		frame_size;
	size_t		plane_size[3];
	unsigned	plane_width[3], plane_height[3];
};

struct y4m;

/*
 * on_frame gets the three planes (NULL for absent chroma) of one
 * complete frame; they are valid during the call only. The callback must
 * not feed or free the parser; y4m_frames() already counts this frame.
 */
typedef void y4m_frame_fn(const struct y4m_info *,
		    const unsigned char *const planes[3], void *arg);

/* fn may be NULL (frames are only counted). Free with y4m_free. */
struct y4m	*y4m_new(y4m_frame_fn *fn, void *arg);
/*
 * 0, or -1 with the reason in err ("header: no width (W)"); after an
 * error every call fails with the same reason.
 */
int		 y4m_feed(struct y4m *, const void *, size_t, char *err,
		    size_t errlen);
/* NULL until the header is parsed; then valid until y4m_free. */
const struct y4m_info *y4m_info(const struct y4m *);
/* Complete frames delivered; a truncated last frame is not counted. */
uint64_t	 y4m_frames(const struct y4m *);
/* Frees the parser (NULL is fine). */
void		 y4m_free(struct y4m *);

#endif
