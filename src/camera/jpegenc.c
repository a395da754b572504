/*
 * jpegenc.c - TurboJPEG, from YUV planes straight to JPEG.
 *
 * Sources hand us planar YUV (the test pattern, y4m, V4L2's YUYV after
 * a repack), so frames are compressed from the planes with no colour
 * conversion at all: the cheapest encode TurboJPEG offers. 4:2:2, 4:4:4
 * and grey (from y4m files) are encoded in their own subsampling.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <turbojpeg.h>

#include "camera/jpegenc.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

struct jpegenc {
	tjhandle	 tj;
	unsigned char	*pad;		/* luma padded for odd sizes */
	size_t		 padsize;
};

struct jpegenc *
jpegenc_new(void)
{
	struct jpegenc	*j;

	j = xcalloc(1, sizeof *j);
	if ((j->tj = tjInitCompress()) == NULL)
		fatalx("jpegenc: tjInitCompress: %s", tjGetErrorStr2(NULL));
	return j;
}

void
jpegenc_free(struct jpegenc *j)
{
	if (j == NULL)
		return;
	tjDestroy(j->tj);
	free(j->pad);
	free(j);
}

static const int samp_tj[] = {
	[JPEGENC_420] = TJSAMP_420, [JPEGENC_422] = TJSAMP_422,
	[JPEGENC_444] = TJSAMP_444, [JPEGENC_GRAY] = TJSAMP_GRAY,
};

/*
 * TurboJPEG reads luma padded to whole chroma blocks (an odd 4:2:0 frame
 * is read as one column and one row larger). Copies luma into a padded
 * plane, repeating the last column and row, when the frame is odd.
 */
static const unsigned char *
pad_luma(struct jpegenc *j, const unsigned char *y, unsigned stride,
    unsigned width, unsigned height, int samp, int *out_stride)
{
	unsigned	pw, ph, r;
	unsigned char	*row;

	pw = (unsigned)tjPlaneWidth(0, (int)width, samp);
	ph = (unsigned)tjPlaneHeight(0, (int)height, samp);
	*out_stride = (int)stride;
	if (pw == width && ph == height)
		return y;
	if (j->padsize < (size_t)pw * ph) {
		free(j->pad);
		j->padsize = (size_t)pw * ph;
		j->pad = xmalloc(j->padsize);
	}
	for (r = 0; r < ph; r++) {
		row = j->pad + (size_t)r * pw;
		memcpy(row, y + (size_t)(r < height ? r : height - 1) * stride,
		    width);
		memset(row + width, row[width - 1], pw - width);
	}
	*out_stride = (int)pw;
	return j->pad;
}

unsigned char *
jpegenc_encode_yuv(struct jpegenc *j, enum jpegenc_samp samp,
    const unsigned char *const planes[3], const unsigned strides[3],
    unsigned width, unsigned height, int quality, size_t *len, char *err,
    size_t errlen)
{
	const unsigned char	*in[3];
	int			 st[3], ts = samp_tj[samp], i;
	unsigned char		*out = NULL;
	unsigned long		 size = 0;

	if (width == 0 || height == 0) {
		snprintf(err, errlen, "empty frame");
		return NULL;
	}
	in[0] = pad_luma(j, planes[0], strides[0], width, height, ts, &st[0]);
	for (i = 1; i < 3; i++) {
		in[i] = samp == JPEGENC_GRAY ? NULL : planes[i];
		st[i] = samp == JPEGENC_GRAY ? 0 : (int)strides[i];
	}
	if (tjCompressFromYUVPlanes(j->tj, in, (int)width, st, (int)height,
	    ts, &out, &size, quality, TJFLAG_FASTDCT) != 0) {
		snprintf(err, errlen, "%s", tjGetErrorStr2(j->tj));
		tjFree(out);
		return NULL;
	}
	*len = size;
	return out;
}

unsigned char *
jpegenc_encode_420(struct jpegenc *j, const unsigned char *y,
    const unsigned char *u, const unsigned char *v, unsigned width,
    unsigned height, int quality, size_t *len, char *err, size_t errlen)
{
	const unsigned char	*planes[3] = { y, u, v };
	unsigned		 strides[3];

	strides[0] = width;
	strides[1] = strides[2] = (width + 1) / 2;
	return jpegenc_encode_yuv(j, JPEGENC_420, planes, strides, width,
	    height, quality, len, err, errlen);
}

unsigned char *
jpegenc_data_copy(const void *data, size_t len)
{
	unsigned char	*p;

	if ((p = tjAlloc((int)len)) == NULL)
		fatalx("jpegenc: out of memory for %zu bytes", len);
	memcpy(p, data, len);
	return p;
}

void
jpegenc_data_free(unsigned char *p)
{
	tjFree(p);
}
