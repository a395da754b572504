/*
 * testpattern.c - the default camera source.
 *
 * Everything is drawn straight into YUV planes (the encoder takes YUV,
 * so there is no RGB step). The digits are seven-segment glyphs of
 * solid blocks, big enough to survive JPEG at low quality, which also
 * lets tests read the frame number back out of a decoded frame.
 */
#include "config.h"

#include <string.h>

#include "camera/testpattern.h"

/* Segments a..g of each digit, bit 0 = a (top), clockwise, g middle. */
static const unsigned char segs[10] = {
	0x3f, 0x06, 0x5b, 0x4f, 0x66, 0x6d, 0x7d, 0x07, 0x7f, 0x6f
};

/* Eight colour bars, as Y, U, V. */
static const unsigned char bars[8][3] = {
	{ 235, 128, 128 }, { 210, 16, 146 }, { 170, 166, 16 },
	{ 145, 54, 34 }, { 106, 202, 222 }, { 81, 90, 240 },
	{ 41, 240, 110 }, { 16, 128, 128 },
};

#define DIGITS		10	/* the counter, zero-padded */
#define MARGIN_DIV	16	/* margins are width / 16 */

struct geometry {
	unsigned	x0, y0;		/* top left of the counter */
	unsigned	dw, dh;		/* one digit cell */
	unsigned	t;		/* segment thickness */
};

static void
counter_geometry(unsigned width, unsigned height, struct geometry *g)
{
	g->x0 = width / MARGIN_DIV;
	g->dw = (width - 2 * g->x0) / DIGITS;
	g->dh = g->dw * 2 > height / 3 ? height / 3 : g->dw * 2;
	g->t = g->dw / 6 > 0 ? g->dw / 6 : 1;
	g->y0 = height / 8;
}

static void
fill(unsigned char *y, unsigned width, unsigned x, unsigned yy, unsigned w,
    unsigned h, unsigned char value)
{
	unsigned	r;

	for (r = 0; r < h; r++)
		memset(y + (size_t)(yy + r) * width + x, value, w);
}

/* The rectangle of segment s in a cell at (x, y) of w x h, thickness t. */
static void
segment_rect(unsigned s, unsigned x, unsigned y, unsigned w, unsigned h,
    unsigned t, unsigned r[4])
{
	unsigned	half = h / 2;

	switch (s) {
	case 0: r[0] = x; r[1] = y; r[2] = w; r[3] = t; break;
	case 1: r[0] = x + w - t; r[1] = y; r[2] = t; r[3] = half; break;
	case 2: r[0] = x + w - t; r[1] = y + half; r[2] = t; r[3] = h - half;
		break;
	case 3: r[0] = x; r[1] = y + h - t; r[2] = w; r[3] = t; break;
	case 4: r[0] = x; r[1] = y + half; r[2] = t; r[3] = h - half; break;
	case 5: r[0] = x; r[1] = y; r[2] = t; r[3] = half; break;
	default: r[0] = x; r[1] = y + half - t / 2; r[2] = w; r[3] = t; break;
	}
}

/* Grey behind the digits: chroma to neutral, at half resolution. */
static void
neutral(unsigned char *u, unsigned char *v, unsigned width, unsigned x,
    unsigned yy, unsigned w, unsigned h)
{
	unsigned	cw = (width + 1) / 2;

	fill(u, cw, x / 2, yy / 2, (w + 1) / 2, (h + 1) / 2, 128);
	fill(v, cw, x / 2, yy / 2, (w + 1) / 2, (h + 1) / 2, 128);
}

static void
draw_number(unsigned char *y, unsigned char *u, unsigned char *v,
    unsigned width, const struct geometry *g, unsigned yoff, uint64_t n,
    unsigned ndigits)
{
	unsigned	i, s, d, cx, gap = g->dw / 5, r[4];

	fill(y, width, g->x0, g->y0 + yoff, g->dw * ndigits, g->dh, 16);
	neutral(u, v, width, g->x0, g->y0 + yoff, g->dw * ndigits, g->dh);
	for (i = 0; i < ndigits; i++) {
		d = (unsigned)(n % 10);
		n /= 10;
		cx = g->x0 + (ndigits - 1 - i) * g->dw + gap / 2;
		for (s = 0; s < 7; s++) {
			if (!(segs[d] & (1 << s)))
				continue;
			segment_rect(s, cx, g->y0 + yoff + g->t, g->dw - gap,
			    g->dh - 2 * g->t, g->t, r);
			fill(y, width, r[0], r[1], r[2], r[3], 235);
		}
	}
}

void
testpattern_draw(unsigned char *y, unsigned char *u, unsigned char *v,
    unsigned width, unsigned height, uint64_t seq,
    const struct timespec *now)
{
	struct geometry	 g;
	struct tm	 tm;
	unsigned	 cw = (width + 1) / 2, ch = (height + 1) / 2, x, r, bar;
	unsigned	 row, thick;
	uint64_t	 hms;
	time_t		 t = now->tv_sec;

	/* Sliding bars: chroma at half resolution, luma per pixel. */
	for (x = 0; x < width; x++) {
		bar = (unsigned)(((x + seq * 4) * 8 / width) % 8);
		for (r = 0; r < height; r++)
			y[(size_t)r * width + x] = bars[bar][0];
	}
	for (x = 0; x < cw; x++) {
		bar = (unsigned)(((2 * x + seq * 4) * 8 / width) % 8);
		for (r = 0; r < ch; r++) {
			u[(size_t)r * cw + x] = bars[bar][1];
			v[(size_t)r * cw + x] = bars[bar][2];
		}
	}
	/* A sweeping line, a full turn every 4 seconds at 30 fps. */
	row = (unsigned)((seq * 4) % height);
	thick = height / 60 + 1;
	fill(y, width, 0, row, width, thick < height - row ? thick :
	    height - row, 235);

	counter_geometry(width, height, &g);
	if (g.dw < 6 || g.dh < 8)
		return;			/* too small for digits */
	draw_number(y, u, v, width, &g, 0, seq, DIGITS);
	gmtime_r(&t, &tm);
	hms = (uint64_t)tm.tm_hour * 10000 + (uint64_t)tm.tm_min * 100 +
	    (uint64_t)tm.tm_sec;
	if (g.y0 + 2 * g.dh + g.dh / 4 < height)
		draw_number(y, u, v, width, &g, g.dh + g.dh / 4, hms, 6);
}

/* Is the middle of this rectangle bright? */
static int
lit(const unsigned char *y, unsigned width, const unsigned r[4])
{
	unsigned	cx = r[0] + r[2] / 2, cy = r[1] + r[3] / 2;

	return y[(size_t)cy * width + cx] > 128;
}

int64_t
testpattern_read_counter(const unsigned char *y, unsigned width,
    unsigned height)
{
	struct geometry	 g;
	unsigned	 i, s, d, cx, gap, r[4], mask;
	int64_t		 n = 0;

	counter_geometry(width, height, &g);
	if (g.dw < 6 || g.dh < 8)
		return -1;
	gap = g.dw / 5;
	for (i = 0; i < DIGITS; i++) {
		cx = g.x0 + i * g.dw + gap / 2;
		mask = 0;
		for (s = 0; s < 7; s++) {
			segment_rect(s, cx, g.y0 + g.t, g.dw - gap,
			    g.dh - 2 * g.t, g.t, r);
			if (lit(y, width, r))
				mask |= 1U << s;
		}
		for (d = 0; d < 10 && segs[d] != mask; d++)
			;
		if (d == 10)
			return -1;
		n = n * 10 + d;
	}
	return n;
}
