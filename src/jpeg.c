/*
 * jpeg.c - TurboJPEG, from YUV planes straight to JPEG.
 *
 * Sources hand us planar YUV (the test pattern, y4m, V4L2's YUYV after
 * a repack), so frames are compressed from the planes with no colour
 * conversion at all: the cheapest encode TurboJPEG offers.
 */
#include "config.h"

#include <stdlib.h>

#include <turbojpeg.h>

#include "jpeg.h"
#include "log.h"
#include "xmalloc.h"

struct jpeg {
	tjhandle	tj;
};

struct jpeg *
jpeg_new(void)
{
	struct jpeg	*j;

	j = xcalloc(1, sizeof *j);
	if ((j->tj = tjInitCompress()) == NULL)
		fatalx("jpeg: tjInitCompress: %s", tjGetErrorStr2(NULL));
	return j;
}

void
jpeg_free(struct jpeg *j)
{
	if (j == NULL)
		return;
	tjDestroy(j->tj);
	free(j);
}

unsigned char *
jpeg_encode_420(struct jpeg *j, const unsigned char *y, const unsigned char *u,
    const unsigned char *v, unsigned width, unsigned height, int quality,
    size_t *len, const char **err)
{
	const unsigned char	*planes[3] = { y, u, v };
	int			 strides[3];
	unsigned char		*out = NULL;
	unsigned long		 size = 0;

	/* TurboJPEG reads 4:2:0 luma in pairs of rows and columns. */
	if (width % 2 != 0 || height % 2 != 0) {
		*err = "width and height must be even for 4:2:0";
		return NULL;
	}
	strides[0] = (int)width;
	strides[1] = strides[2] = (int)((width + 1) / 2);
	if (tjCompressFromYUVPlanes(j->tj, planes, (int)width, strides,
	    (int)height, TJSAMP_420, &out, &size, quality,
	    TJFLAG_FASTDCT) != 0) {
		*err = tjGetErrorStr2(j->tj);
		tjFree(out);
		return NULL;
	}
	*len = size;
	return out;
}

void
jpeg_data_free(unsigned char *p)
{
	tjFree(p);
}
