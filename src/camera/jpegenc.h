/* jpegenc.h - JPEG encoding of planar YUV with TurboJPEG. */
#ifndef SC_JPEGENC_H
#define SC_JPEGENC_H

#include <stddef.h>

struct jpegenc;

/* Enough for any reason the encoder gives (TurboJPEG's are <= 200). */
#define JPEGENC_ERRLEN	200

enum jpegenc_samp { JPEGENC_420, JPEGENC_422, JPEGENC_444, JPEGENC_GRAY };

/* One encoder per thread (TurboJPEG handles are not shared). */
struct jpegenc	*jpegenc_new(void);
/* Frees the encoder (NULL is fine). */
void		 jpegenc_free(struct jpegenc *);

/*
 * Encodes planar YUV at quality 1..100 in the planes' own subsampling
 * (grey: planes[0] only); any width and height. Chroma planes are
 * ceil(width / 2) wide where halved across, ceil(height / 2) high where
 * halved down. Returns a JPEG to free with jpegenc_data_free and its size
 * in *len, or NULL with the reason in err.
 */
unsigned char	*jpegenc_encode_yuv(struct jpegenc *, enum jpegenc_samp,
		    const unsigned char *const planes[3],
		    const unsigned strides[3], unsigned width, unsigned height,
		    int quality, size_t *len, char *err, size_t errlen);
/* The same for 4:2:0 planes with no row padding. */
unsigned char	*jpegenc_encode_420(struct jpegenc *, const unsigned char *y,
		    const unsigned char *u, const unsigned char *v,
		    unsigned width, unsigned height, int quality, size_t *len,
		    char *err, size_t errlen);
/* A copy of a JPEG (from a device) that jpegenc_data_free frees. */
unsigned char	*jpegenc_data_copy(const void *, size_t);
/* Frees a JPEG from this module (NULL is fine). */
void		 jpegenc_data_free(unsigned char *);

#endif
