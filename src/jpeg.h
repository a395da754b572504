/* jpeg.h - JPEG encoding of planar YUV with TurboJPEG. */
#ifndef SC_JPEG_H
#define SC_JPEG_H

#include <stddef.h>

struct jpeg;

/* One encoder per thread (TurboJPEG handles are not shared). */
struct jpeg	*jpeg_new(void);
void		 jpeg_free(struct jpeg *);
/*
 * Encodes 4:2:0 planes (even width and height) at quality 1..100. Returns a malloc'd JPEG (free
 * with jpeg_data_free) and its size in *len, or NULL with a message.
 */
unsigned char	*jpeg_encode_420(struct jpeg *, const unsigned char *y,
		    const unsigned char *u, const unsigned char *v,
		    unsigned width, unsigned height, int quality, size_t *len,
		    const char **err);
void		 jpeg_data_free(unsigned char *);

#endif
