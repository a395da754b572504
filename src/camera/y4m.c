/*
 * y4m.c - push parser for YUV4MPEG2 streams.
 *
 * The stream is a header line, "YUV4MPEG2 " and space-separated tagged
 * parameters (W H F I A C X), then frames: a line starting with "FRAME"
 * and exactly frame_size bytes of planar YUV. Bytes come in chunks cut
 * anywhere. Lines are gathered into a fixed buffer (at most Y4M_MAX_LINE
 * bytes); the magic is checked as its bytes arrive, so a pipe carrying
 * something else fails at once. A frame that lies whole in one chunk is
 * handed to the callback in place; otherwise it is copied into the one
 * frame buffer, allocated when the header is parsed.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "camera/y4m.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

#define MAGIC		"YUV4MPEG2 "
#define MAGIC_LEN	(sizeof MAGIC - 1)
#define FRAME_TAG	"FRAME"
#define FRAME_TAG_LEN	(sizeof FRAME_TAG - 1)

enum y4m_state {
	ST_HEADER,	/* in the stream header line */
	ST_FRAMELINE,	/* in a FRAME line */
	ST_DATA,	/* in a frame's bytes */
};

struct y4m {
	y4m_frame_fn	*fn;
	void		*arg;
	enum y4m_state	 st;
	char		 line[Y4M_MAX_LINE];
	size_t		 linelen;
	struct y4m_info	 info;
	int		 have_info;
	unsigned char	*frame;		/* frame_size bytes */
	size_t		 fill;
	uint64_t	 frames;
	int		 failed;
	char		 err[Y4M_ERRLEN];
};

static const struct {
	const char	*name;
	enum y4m_chroma	 chroma;
} colorspaces[] = {
	{ "420jpeg", Y4M_420 },
	{ "420paldv", Y4M_420 },
	{ "420mpeg2", Y4M_420 },
	{ "420", Y4M_420 },
	{ "422", Y4M_422 },
	{ "444", Y4M_444 },
	{ "mono", Y4M_MONO },
};

static int PRINTFLIKE(2, 3)
fail(struct y4m *y, const char *fmt, ...)
{
	va_list	ap;

	if (!y->failed) {
		va_start(ap, fmt);
		vsnprintf(y->err, sizeof y->err, fmt, ap);
		va_end(ap);
		y->failed = 1;
	}
	return -1;
}

/* A parameter as it can be shown in a message: short, printable. */
static const char *
shown(const char *s, size_t len, char *out, size_t outlen)
{
	size_t	i, n = len < outlen - 4 ? len : outlen - 4;

	for (i = 0; i < n; i++)
		out[i] = s[i] > 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (n < len)
		out[n++] = '.', out[n++] = '.', out[n++] = '.';
	out[n] = '\0';
	return out;
}

/* Decimal digits only, at least one, no more than max. */
static int
parse_uint(const char *s, size_t len, unsigned max, unsigned *out)
{
	uint64_t	v = 0;
	size_t		i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
		if (v > max)
			return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int
parse_param(struct y4m *y, const char *tok, size_t len, int *seen_w,
    int *seen_h, int *seen_c)
{
	const char	*v = tok + 1, *colon;
	size_t		 vlen = len - 1, i;
	char		 buf[40];

	switch (tok[0]) {
	case 'W':
	case 'H':
		if (parse_uint(v, vlen, Y4M_MAX_DIM, tok[0] == 'W' ?
		    &y->info.width : &y->info.height) == -1 ||
		    (tok[0] == 'W' ? y->info.width : y->info.height) == 0)
			return fail(y, "header: %s must be 1 to %d, not %s",
			    tok[0] == 'W' ? "width" : "height", Y4M_MAX_DIM,
			    shown(tok, len, buf, sizeof buf));
		*(tok[0] == 'W' ? seen_w : seen_h) = 1;
		return 0;
	case 'F':
		colon = memchr(v, ':', vlen);
		if (colon == NULL || parse_uint(v, (size_t)(colon - v),
		    UINT32_MAX, &y->info.fps_num) == -1 ||
		    parse_uint(colon + 1, vlen - (size_t)(colon - v) - 1,
		    UINT32_MAX, &y->info.fps_den) == -1)
			return fail(y, "header: frame rate %s is not num:den",
			    shown(tok, len, buf, sizeof buf));
		if (y->info.fps_num == 0 || y->info.fps_den == 0)
			return fail(y, "header: frame rate %s has a zero part",
			    shown(tok, len, buf, sizeof buf));
		return 0;
	case 'I':
		if (vlen == 1 && (v[0] == 'p' || v[0] == '?'))
			return 0;
		if (vlen == 1 && (v[0] == 't' || v[0] == 'b' || v[0] == 'm'))
			return fail(y, "header: interlaced streams (%s) are "
			    "not supported, only progressive (Ip)",
			    shown(tok, len, buf, sizeof buf));
		return fail(y, "header: unknown interlacing %s",
		    shown(tok, len, buf, sizeof buf));
	case 'C':
		for (i = 0; i < sizeof colorspaces / sizeof colorspaces[0];
		    i++) {
			if (strlen(colorspaces[i].name) == vlen &&
			    memcmp(colorspaces[i].name, v, vlen) == 0) {
				y->info.chroma = colorspaces[i].chroma;
				*seen_c = 1;
				return 0;
			}
		}
		return fail(y, "header: unsupported colorspace %s (420, "
		    "420jpeg, 420paldv, 420mpeg2, 422, 444 or mono)",
		    shown(tok, len, buf, sizeof buf));
	default:
		return 0;	/* A (aspect), X (extensions), future tags */
	}
}

static int
parse_header(struct y4m *y)
{
	struct y4m_info	*in = &y->info;
	size_t		 i = MAGIC_LEN, start, cw, ch;
	int		 seen_w = 0, seen_h = 0, seen_c = 0, p;

	while (i < y->linelen) {
		if (y->line[i] == ' ') {
			i++;
			continue;
		}
		start = i;
		while (i < y->linelen && y->line[i] != ' ')
			i++;
		if (parse_param(y, y->line + start, i - start, &seen_w,
		    &seen_h, &seen_c) == -1)
			return -1;
	}
	if (!seen_w || !seen_h)
		return fail(y, "header: no %s (%c)", seen_w ? "height" :
		    "width", seen_w ? 'H' : 'W');
	if (!seen_c)
		in->chroma = Y4M_420;	/* the spec's default, 420jpeg */

	switch (in->chroma) {
	case Y4M_420:
		cw = (in->width + 1) / 2;
		ch = (in->height + 1) / 2;
		break;
	case Y4M_422:
		cw = (in->width + 1) / 2;
		ch = in->height;
		break;
	case Y4M_444:
		cw = in->width;
		ch = in->height;
		break;
	default:
		cw = ch = 0;
		break;
	}
	in->plane_width[0] = in->width;
	in->plane_height[0] = in->height;
	in->plane_width[1] = in->plane_width[2] = (unsigned)cw;
	in->plane_height[1] = in->plane_height[2] = (unsigned)ch;
	in->frame_size = 0;
	for (p = 0; p < 3; p++) {
		in->plane_size[p] = (size_t)in->plane_width[p] *
		    in->plane_height[p];
		in->frame_size += in->plane_size[p];
	}
	y->frame = xmalloc(in->frame_size);
	y->have_info = 1;
	return 0;
}

/* Gathers a header or FRAME line; at its LF, parses it. */
static int
line_bytes(struct y4m *y, const unsigned char **pp, const unsigned char *end)
{
	const unsigned char	*p = *pp, *nl;
	const char		*tag = y->st == ST_HEADER ? MAGIC : FRAME_TAG;
	size_t			 taglen = y->st == ST_HEADER ? MAGIC_LEN :
				    FRAME_TAG_LEN, n, c, m;

	nl = memchr(p, '\n', (size_t)(end - p));
	n = (size_t)((nl != NULL ? nl : end) - p);
	/* The tag first, so the error is the same however bytes come. */
	c = n < Y4M_MAX_LINE - y->linelen ? n : Y4M_MAX_LINE - y->linelen;
	memcpy(y->line + y->linelen, p, c);
	y->linelen += c;

	m = y->linelen < taglen ? y->linelen : taglen;
	if (memcmp(y->line, tag, m) != 0 || (nl != NULL && m < taglen) ||
	    (y->st == ST_FRAMELINE && y->linelen > taglen &&
	    y->line[taglen] != ' ')) {
		if (y->st == ST_HEADER)
			return fail(y, "header: not a YUV4MPEG2 stream (it "
			    "must start with \"YUV4MPEG2 \")");
		return fail(y, "frame %llu: the line before the frame "
		    "must start with \"FRAME\"",
		    (unsigned long long)y->frames + 1);
	}
	if (c < n)
		return y->st == ST_HEADER ?
		    fail(y, "header: the line is longer than %d bytes",
		    Y4M_MAX_LINE) :
		    fail(y, "frame %llu: the FRAME line is longer than %d "
		    "bytes", (unsigned long long)y->frames + 1, Y4M_MAX_LINE);
	if (nl == NULL) {
		*pp = end;
		return 0;
	}
	*pp = nl + 1;
	if (y->st == ST_HEADER && parse_header(y) == -1)
		return -1;
	y->linelen = 0;
	/* After the header a FRAME line; after it (params ignored), data. */
	y->st = y->st == ST_HEADER ? ST_FRAMELINE : ST_DATA;
	return 0;
}

static void
deliver(struct y4m *y, const unsigned char *base)
{
	const unsigned char	*planes[3];
	const struct y4m_info	*in = &y->info;

	planes[0] = base;
	planes[1] = in->plane_size[1] > 0 ? base + in->plane_size[0] : NULL;
	planes[2] = in->plane_size[2] > 0 ? base + in->plane_size[0] +
	    in->plane_size[1] : NULL;
	y->frames++;
	y->st = ST_FRAMELINE;
	if (y->fn != NULL)
		y->fn(in, planes, y->arg);
}

static void
data_bytes(struct y4m *y, const unsigned char **pp, const unsigned char *end)
{
	size_t	avail = (size_t)(end - *pp), fs = y->info.frame_size, n;

	if (y->fill == 0 && avail >= fs) {
		deliver(y, *pp);	/* whole in this chunk: no copy */
		*pp += fs;
		return;
	}
	n = fs - y->fill < avail ? fs - y->fill : avail;
	memcpy(y->frame + y->fill, *pp, n);
	y->fill += n;
	*pp += n;
	if (y->fill == fs) {
		y->fill = 0;
		deliver(y, y->frame);
	}
}

struct y4m *
y4m_new(y4m_frame_fn *fn, void *arg)
{
	struct y4m	*y;

	y = xcalloc(1, sizeof *y);
	y->fn = fn;
	y->arg = arg;
	y->st = ST_HEADER;
	return y;
}

int
y4m_feed(struct y4m *y, const void *buf, size_t len, char *err,
    size_t errlen)
{
	const unsigned char	*p = buf, *end;

	if (y->failed)
		goto fail;
	end = p + len;
	while (p < end) {
		if (y->st == ST_DATA)
			data_bytes(y, &p, end);
		else if (line_bytes(y, &p, end) == -1)
			goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "%s", y->err);
	return -1;
}

const struct y4m_info *
y4m_info(const struct y4m *y)
{
	return y->have_info ? &y->info : NULL;
}


uint64_t
y4m_frames(const struct y4m *y)
{
	return y->frames;
}

void
y4m_free(struct y4m *y)
{
	if (y == NULL)
		return;
	free(y->frame);
	free(y);
}
