/* jpeg.h - JPEG encoding of planar YUV with TurboJPEG. */
#ifndef SC_JPEG_H
#define SC_JPEG_H

#include <stddef.h>

struct jpeg;

enum jpeg_samp { JPEG_420, JPEG_422, JPEG_444, JPEG_GRAY };

/* One encoder per thread (TurboJPEG handles are not shared). */
struct jpeg	*jpeg_new(void);
void		 jpeg_free(struct jpeg *);

/*
 * Encodes planar YUV at quality 1..100 in the planes' own subsampling
 * (grey: planes[0] only); any width and height. Chroma planes are
 * ceil(width / 2) wide where halved across, ceil(height / 2) high where
 * halved down. Returns a JPEG to free with jpeg_data_free and its size
 * in *len, or NULL with a message.
 */
unsigned char	*jpeg_encode_yuv(struct jpeg *, enum jpeg_samp,
		    const unsigned char *const planes[3],
		    const unsigned strides[3], unsigned width, unsigned height,
		    int quality, size_t *len, const char **err);
/* The same for 4:2:0 planes with no row padding. */
unsigned char	*jpeg_encode_420(struct jpeg *, const unsigned char *y,
		    const unsigned char *u, const unsigned char *v,
		    unsigned width, unsigned height, int quality, size_t *len,
		    const char **err);
/* A copy of a JPEG (from a device) that jpeg_data_free frees. */
unsigned char	*jpeg_data_copy(const void *, size_t);
void		 jpeg_data_free(unsigned char *);

#endif
