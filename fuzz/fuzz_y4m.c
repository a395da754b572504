/*
 * fuzz_y4m.c - libFuzzer harness for the YUV4MPEG2 parser.
 *
 * Each input is parsed twice: in one piece, and cut into chunks whose
 * sizes come from the input's first byte. Both runs must agree on the
 * frames delivered (count and a hash of their bytes), on success or
 * failure and on the error message; every frame's planes must match the
 * geometry in the info, and every failure must say why.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "camera/y4m.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct run {
	int		rv;
	uint64_t	frames;		/* callbacks */
	uint64_t	hash;		/* FNV-1a over every plane byte */
	char		err[256];
};

static void
on_frame(const struct y4m_info *in, const unsigned char *const planes[3],
    void *arg)
{
	struct run	*r = arg;
	size_t		 i, total = 0;
	int		 p;

	for (p = 0; p < 3; p++) {
		if ((planes[p] == NULL) != (in->plane_size[p] == 0) ||
		    in->plane_size[p] != (size_t)in->plane_width[p] *
		    in->plane_height[p])
			abort();
		if (p > 0 && planes[p] != NULL &&
		    planes[p] != planes[0] + total)
			abort();	/* planes are contiguous */
		for (i = 0; i < in->plane_size[p]; i++)
			r->hash = (r->hash ^ planes[p][i]) * 0x100000001b3ULL;
		total += in->plane_size[p];
	}
	if (total != in->frame_size || in->width == 0 || in->height == 0 ||
	    in->width > Y4M_MAX_DIM || in->height > Y4M_MAX_DIM)
		abort();
	r->frames++;
}

static void
parse(const uint8_t *data, size_t size, size_t chunk, struct run *r)
{
	struct y4m	*y;
	size_t		 off, n;
	char		 again[sizeof r->err];

	memset(r, 0, sizeof *r);
	r->hash = 0xcbf29ce484222325ULL;
	y = y4m_new(on_frame, r);
	for (off = 0; off < size && r->rv == 0; off += n) {
		n = size - off < chunk ? size - off : chunk;
		r->rv = y4m_feed(y, data + off, n, r->err, sizeof r->err);
	}
	if (r->rv != 0 && (r->err[0] == '\0' ||
	    y4m_feed(y, "", 0, again, sizeof again) != -1 ||
	    strcmp(again, r->err) != 0))
		abort();		/* a failure says why, and stays */
	if (r->frames != y4m_frames(y))
		abort();
	y4m_free(y);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run	whole, pieces;
	size_t		chunk;

	chunk = size > 0 ? (size_t)data[0] % 7 + 1 : 1;
	parse(data, size, size > 0 ? size : 1, &whole);
	parse(data, size, chunk, &pieces);
	if (whole.rv != pieces.rv || whole.frames != pieces.frames ||
	    whole.hash != pieces.hash || strcmp(whole.err, pieces.err) != 0)
		abort();
	return 0;
}
