/*
 * test_testpattern.c - the test pattern and the JPEG encoder: the frame
 * number drawn into a frame reads back from the planes and from the
 * decoded JPEG at the default quality; frames differ as they move.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <turbojpeg.h>

#include "camera/jpegenc.h"
#include "camera/testpattern.h"
#include "tap.h"

struct planes {
	unsigned char	*y, *u, *v;
	unsigned	 w, h;
};

static void
planes_new(struct planes *p, unsigned w, unsigned h)
{
	size_t	c = (size_t)((w + 1) / 2) * ((h + 1) / 2);

	p->w = w;
	p->h = h;
	p->y = malloc((size_t)w * h);
	p->u = malloc(c);
	p->v = malloc(c);
}

static void
planes_free(struct planes *p)
{
	free(p->y);
	free(p->u);
	free(p->v);
}

/* Decodes a JPEG's luma into a new buffer; checks its size. */
static unsigned char *
decode_luma(const unsigned char *jpg, size_t len, unsigned w, unsigned h)
{
	tjhandle	 tj = tjInitDecompress();
	unsigned char	*gray = malloc((size_t)w * h);
	int		 jw, jh, sub, cs;

	if (tjDecompressHeader3(tj, jpg, len, &jw, &jh, &sub, &cs) != 0 ||
	    jw != (int)w || jh != (int)h || tjDecompress2(tj, jpg, len, gray,
	    (int)w, 0, (int)h, TJPF_GRAY, 0) != 0) {
		free(gray);
		gray = NULL;
	}
	tjDestroy(tj);
	return gray;
}

int
main(void)
{
	static const unsigned sizes[][2] = { { 640, 480 }, { 1280, 720 },
					     { 322, 242 } };
	struct timespec	 now = { 1764000000, 0 };
	struct planes	 p;
	struct jpegenc	*j = jpegenc_new();
	unsigned char	*jpg, *gray, *first;
	char		 err[JPEGENC_ERRLEN] = "";
	size_t		 len, i;
	/* 119: the sweep line reaches the last rows of a 480-line frame. */
	uint64_t	 seqs[] = { 0, 1, 7, 119, 1234567, 9999999999ULL };
	unsigned	 k;
	int		 bad;

	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		planes_new(&p, sizes[i][0], sizes[i][1]);
		bad = 0;
		for (k = 0; k < sizeof seqs / sizeof seqs[0]; k++) {
			testpattern_draw(p.y, p.u, p.v, p.w, p.h, seqs[k], &now);
			if (testpattern_read_counter(p.y, p.w, p.h) !=
			    (int64_t)seqs[k])
				bad++;
		}
		is_int(bad, 0, "%ux%u: the counter reads back from the planes",
		    p.w, p.h);

		testpattern_draw(p.y, p.u, p.v, p.w, p.h, 4242, &now);
		jpg = jpegenc_encode_420(j, p.y, p.u, p.v, p.w, p.h, 40, &len,
		    err, sizeof err);
		ok(jpg != NULL && len > 100, "%ux%u: encodes (%zu bytes)",
		    p.w, p.h, len);
		gray = jpg != NULL ? decode_luma(jpg, len, p.w, p.h) : NULL;
		ok(gray != NULL, "%ux%u: decodes at its size", p.w, p.h);
		is_int(gray ? testpattern_read_counter(gray, p.w, p.h) : -1,
		    4242, "%ux%u: counter survives quality 40", p.w, p.h);
		free(gray);
		jpegenc_data_free(jpg);
		planes_free(&p);
	}

	planes_new(&p, 640, 480);
	testpattern_draw(p.y, p.u, p.v, 640, 480, 10, &now);
	first = malloc(640 * 480);
	memcpy(first, p.y, 640 * 480);
	testpattern_draw(p.y, p.u, p.v, 640, 480, 11, &now);
	ok(memcmp(first, p.y, 640 * 480) != 0, "consecutive frames differ");
	free(first);
	planes_free(&p);

	/* Odd sizes: luma is padded for TurboJPEG, never read past. */
	planes_new(&p, 321, 241);
	testpattern_draw(p.y, p.u, p.v, 321, 241, 3, &now);
	jpg = jpegenc_encode_420(j, p.y, p.u, p.v, 321, 241, 40, &len, err,
	    sizeof err);
	gray = jpg != NULL ? decode_luma(jpg, len, 321, 241) : NULL;
	ok(gray != NULL, "an odd 321x241 frame encodes to a 321x241 JPEG");
	is_int(gray != NULL ? testpattern_read_counter(gray, 321, 241) : -2,
	    3, "and its frame number reads back");
	free(gray);
	jpegenc_data_free(jpg);
	planes_free(&p);

	planes_new(&p, 16, 8);
	testpattern_draw(p.y, p.u, p.v, 16, 8, 5, &now);
	is_int(testpattern_read_counter(p.y, 16, 8), -1,
	    "a frame too small for digits draws none, reads none");
	planes_free(&p);
	jpegenc_free(j);
	return tap_done();
}
