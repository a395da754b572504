/*
 * test_y4m.c - the YUV4MPEG2 parser on streams built in memory: plane
 * geometry for each colorspace, the exact bytes of every frame, every
 * rejection with its message, and the same result however the input is
 * cut into chunks.
 */
#include "config.h"

#include <stdlib.h>

#include "camera/y4m.h"
#include "lib/xmalloc.h"
#include "tap.h"

struct rec {
	uint64_t	frames;		/* callbacks seen */
	unsigned	bad;		/* planes with a wrong byte or shape */
};

struct result {
	int		rv;
	char		err[256];
	uint64_t	frames;
	struct rec	rec;
	struct y4m_info	info;
	int		have_info;
};

/* Plane p of frame f is all (f * 3 + p + 1) & 0xff. */
static unsigned char
fill_byte(uint64_t f, int p)
{
	return (unsigned char)((f * 3 + (uint64_t)p + 1) & 0xff);
}

static void
on_frame(const struct y4m_info *in, const unsigned char *const planes[3],
    void *arg)
{
	struct rec	*r = arg;
	size_t		 i;
	int		 p;

	for (p = 0; p < 3; p++) {
		if ((planes[p] == NULL) != (in->plane_size[p] == 0)) {
			r->bad++;
			continue;
		}
		for (i = 0; i < in->plane_size[p]; i++) {
			if (planes[p][i] != fill_byte(r->frames, p)) {
				r->bad++;
				break;
			}
		}
	}
	r->frames++;
}

/* A stream: the header, then n frames of the given plane sizes. */
static unsigned char *
make(const char *header, const char *frameline, unsigned n,
    const size_t ps[3], size_t *len)
{
	size_t		 hl = strlen(header), fl = strlen(frameline), off;
	size_t		 fs = ps[0] + ps[1] + ps[2];
	unsigned char	*s = xmalloc(hl + n * (fl + fs) + 1);
	unsigned	 f;
	int		 p;

	memcpy(s, header, hl);
	off = hl;
	for (f = 0; f < n; f++) {
		memcpy(s + off, frameline, fl);
		off += fl;
		for (p = 0; p < 3; p++) {
			memset(s + off, fill_byte(f, p), ps[p]);
			off += ps[p];
		}
	}
	*len = off;
	return s;
}

/* Feeds in chunks of `chunk` bytes (0: all at once). */
static void
run(const unsigned char *in, size_t len, size_t chunk, struct result *r)
{
	struct y4m	*y;
	size_t		 off, n;

	memset(r, 0, sizeof *r);
	y = y4m_new(on_frame, &r->rec);
	if (chunk == 0)
		chunk = len > 0 ? len : 1;
	for (off = 0; off < len && r->rv == 0; off += n) {
		n = len - off < chunk ? len - off : chunk;
		r->rv = y4m_feed(y, in + off, n, r->err, sizeof r->err);
	}
	r->frames = y4m_frames(y);
	if (y4m_info(y) != NULL) {
		r->info = *y4m_info(y);
		r->have_info = 1;
	}
	y4m_free(y);
}

static void
check_stream(const char *header, const char *frameline, unsigned w,
    unsigned h, enum y4m_chroma chroma, const size_t ps[3], const char *name)
{
	struct result	 r;
	unsigned char	*s;
	size_t		 len;
	int		 p, shape = 1;

	s = make(header, frameline, 3, ps, &len);
	run(s, len, 0, &r);
	if (!ok(r.rv == 0, "%s: parses", name))
		diag("error: %s", r.err);
	is_int(r.info.width, w, "%s: width", name);
	is_int(r.info.height, h, "%s: height", name);
	is_int(r.info.chroma, chroma, "%s: chroma", name);
	for (p = 0; p < 3; p++)
		shape &= r.info.plane_size[p] == ps[p] &&
		    (size_t)r.info.plane_width[p] * r.info.plane_height[p] ==
		    ps[p];
	ok(shape, "%s: plane sizes", name);
	is_int(r.info.frame_size, ps[0] + ps[1] + ps[2], "%s: frame size",
	    name);
	is_int(r.frames, 3, "%s: three frames", name);
	is_int(r.rec.frames, 3, "%s: three callbacks", name);
	is_int(r.rec.bad, 0, "%s: every plane holds its bytes", name);
	free(s);
}

static void
test_colorspaces(void)
{
	static const size_t	 p420[] = { 9, 4, 4 }, p422[] = { 9, 6, 6 },
				 p444[] = { 9, 9, 9 }, pmono[] = { 9, 0, 0 },
				 p5x4[] = { 20, 6, 6 }, p4x2[] = { 8, 2, 2 },
				 p1[] = { 1, 1, 1 }, p5x3_422[] = { 15, 9, 9 };

	check_stream("YUV4MPEG2 W3 H3 F25:1 Ip A1:1 C420jpeg\n", "FRAME\n",
	    3, 3, Y4M_420, p420, "3x3 420jpeg");
	check_stream("YUV4MPEG2 W3 H3 F25:1 C420\n", "FRAME\n", 3, 3, Y4M_420,
	    p420, "3x3 420");
	check_stream("YUV4MPEG2 W3 H3 F25:1 C420paldv\n", "FRAME\n", 3, 3,
	    Y4M_420, p420, "3x3 420paldv");
	check_stream("YUV4MPEG2 W3 H3 F25:1 C420mpeg2\n", "FRAME\n", 3, 3,
	    Y4M_420, p420, "3x3 420mpeg2");
	check_stream("YUV4MPEG2 W3 H3 F25:1\n", "FRAME\n", 3, 3, Y4M_420, p420,
	    "no C: 420jpeg");
	check_stream("YUV4MPEG2 W3 H3 F25:1 C422\n", "FRAME\n", 3, 3, Y4M_422,
	    p422, "3x3 422");
	check_stream("YUV4MPEG2 W5 H3 C422\n", "FRAME\n", 5, 3, Y4M_422,
	    p5x3_422, "5x3 422");
	check_stream("YUV4MPEG2 W3 H3 F25:1 C444\n", "FRAME\n", 3, 3, Y4M_444,
	    p444, "3x3 444");
	check_stream("YUV4MPEG2 W3 H3 F25:1 Cmono\n", "FRAME\n", 3, 3,
	    Y4M_MONO, pmono, "3x3 mono");
	check_stream("YUV4MPEG2 W5 H4 F25:1 C420jpeg\n", "FRAME\n", 5, 4,
	    Y4M_420, p5x4, "5x4 420");
	check_stream("YUV4MPEG2 W4 H2 F25:1 C420jpeg\n", "FRAME\n", 4, 2,
	    Y4M_420, p4x2, "4x2 420");
	check_stream("YUV4MPEG2 W1 H1 F25:1 C420jpeg\n", "FRAME\n", 1, 1,
	    Y4M_420, p1, "1x1 420");
	check_stream("YUV4MPEG2 C444 XYSCSS=444 F30000:1001 H3 A0:0 W3 I? "
	    "Xcolorrange=FULL\n", "FRAME\n", 3, 3, Y4M_444, p444,
	    "params in any order, X ignored");
	check_stream("YUV4MPEG2  W3   H3 C420jpeg \n", "FRAME\n", 3, 3,
	    Y4M_420, p420, "extra spaces");
	check_stream("YUV4MPEG2 W3 H3 C420jpeg\n", "FRAME Ip Xfoo=bar A1:1\n",
	    3, 3, Y4M_420, p420, "FRAME params ignored");
}

static void
test_info(void)
{
	static const char	 hdr[] = "YUV4MPEG2 W8192 H1 F30000:1001 Cmono\n";
	struct y4m		*y = y4m_new(NULL, NULL);
	const struct y4m_info	*in;
	char			 err[Y4M_ERRLEN] = "";

	ok(y4m_info(y) == NULL, "no info before any input");
	is_int(y4m_feed(y, hdr, 0, err, sizeof err), 0,
	    "an empty feed is fine");
	is_int(y4m_feed(y, hdr, sizeof hdr - 2, err, sizeof err), 0,
	    "header without its LF");
	ok(y4m_info(y) == NULL, "no info before the header's LF");
	is_int(y4m_feed(y, hdr + sizeof hdr - 2, 1, err, sizeof err), 0,
	    "the LF");
	in = y4m_info(y);
	if (ok(in != NULL, "info once the header is parsed")) {
		is_int(in->width, 8192, "largest width accepted");
		is_int(in->fps_num, 30000, "fps num");
		is_int(in->fps_den, 1001, "fps den");
		is_int(in->frame_size, 8192, "mono frame size");
	}
	is_str(err, "", "no error");
	is_int(y4m_frames(y), 0, "no frames yet");
	y4m_free(y);

	y = y4m_new(NULL, NULL);
	is_int(y4m_feed(y, "YUV4MPEG2 W2 H2\n", 16, err, sizeof err), 0, "no F");
	in = y4m_info(y);
	ok(in != NULL && in->fps_num == 0 && in->fps_den == 0,
	    "no F: rate 0:0 (unknown)");
	y4m_free(y);
	y4m_free(NULL);
}

static void
check_err(const char *in, size_t len, const char *want, const char *name)
{
	struct result	r;
	size_t		chunk;
	int		same = 1;

	run((const unsigned char *)in, len, 0, &r);
	ok(r.rv == -1, "%s: fails", name);
	is_str(r.err, want, "%s: message", name);
	for (chunk = 1; chunk < len; chunk++) {
		run((const unsigned char *)in, len, chunk, &r);
		same &= r.rv == -1 && strcmp(r.err, want) == 0;
	}
	ok(same, "%s: same in every chunk size", name);
}

static void
test_errors(void)
{
	char		 big[1200], err[Y4M_ERRLEN];
	struct y4m	*y;

	check_err("YUV4MPEG2 H3 F25:1\n", 19, "header: no width (W)",
	    "missing W");
	check_err("YUV4MPEG2 W3 F25:1\n", 19, "header: no height (H)",
	    "missing H");
	check_err("YUV4MPEG2 W0 H3\n", 16,
	    "header: width must be 1 to 8192, not W0", "W0");
	check_err("YUV4MPEG2 W3 H0\n", 16,
	    "header: height must be 1 to 8192, not H0", "H0");
	check_err("YUV4MPEG2 W8193 H3\n", 19,
	    "header: width must be 1 to 8192, not W8193", "W too big");
	check_err("YUV4MPEG2 W3 H99999999999999999999\n", 35,
	    "header: height must be 1 to 8192, not H99999999999999999999",
	    "H overflowing");
	check_err("YUV4MPEG2 W-3 H3\n", 17,
	    "header: width must be 1 to 8192, not W-3", "W negative");
	check_err("YUV4MPEG2 W3x H3\n", 17,
	    "header: width must be 1 to 8192, not W3x", "W with junk");
	check_err("YUV4MPEG2 W3 H3 C411\n", 21, "header: unsupported "
	    "colorspace C411 (420, 420jpeg, 420paldv, 420mpeg2, 422, 444 or "
	    "mono)", "unknown colorspace");
	check_err("YUV4MPEG2 W3 H3 C420p10\n", 24, "header: unsupported "
	    "colorspace C420p10 (420, 420jpeg, 420paldv, 420mpeg2, 422, 444 "
	    "or mono)", "10-bit colorspace");
	check_err("YUV4MPEG2 W3 H3 It\n", 19, "header: interlaced streams (It) "
	    "are not supported, only progressive (Ip)", "It");
	check_err("YUV4MPEG2 W3 H3 Ib\n", 19, "header: interlaced streams (Ib) "
	    "are not supported, only progressive (Ip)", "Ib");
	check_err("YUV4MPEG2 W3 H3 Im\n", 19, "header: interlaced streams (Im) "
	    "are not supported, only progressive (Ip)", "Im");
	check_err("YUV4MPEG2 W3 H3 Ix\n", 19, "header: unknown interlacing Ix",
	    "Ix");
	check_err("YUV4MPEG2 W3 H3 F25:0\n", 22,
	    "header: frame rate F25:0 has a zero part", "F25:0");
	check_err("YUV4MPEG2 W3 H3 F0:1\n", 21,
	    "header: frame rate F0:1 has a zero part", "F0:1");
	check_err("YUV4MPEG2 W3 H3 F25\n", 20,
	    "header: frame rate F25 is not num:den", "F without colon");
	check_err("YUV4MPEG2 W3 H3 F:1\n", 20,
	    "header: frame rate F:1 is not num:den", "F empty num");
	check_err("YUV4MPEG1 W3 H3\n", 16, "header: not a YUV4MPEG2 stream "
	    "(it must start with \"YUV4MPEG2 \")", "wrong magic");
	check_err("\x89PNG\r\n", 6, "header: not a YUV4MPEG2 stream "
	    "(it must start with \"YUV4MPEG2 \")", "a PNG");
	check_err("YUV4MPEG2\n", 10, "header: not a YUV4MPEG2 stream "
	    "(it must start with \"YUV4MPEG2 \")", "magic without space");
	check_err("YUV4MPEG2 W2 H2 Cmono\nFRAMX\n", 28,
	    "frame 1: the line before the frame must start with \"FRAME\"",
	    "bad frame line");
	check_err("YUV4MPEG2 W2 H2 Cmono\nFRAMES\n", 29,
	    "frame 1: the line before the frame must start with \"FRAME\"",
	    "FRAMES is not FRAME");
	check_err("YUV4MPEG2 W2 H2 Cmono\nFRAM\n", 27,
	    "frame 1: the line before the frame must start with \"FRAME\"",
	    "short frame line");
	check_err("YUV4MPEG2 W2 H2 Cmono\nFRAME\nabcdeFRAME\n", 39,
	    "frame 2: the line before the frame must start with \"FRAME\"",
	    "frame longer than the header says");

	/* A header of exactly the limit passes; one byte more does not. */
	memset(big, 'X', sizeof big);
	memcpy(big, "YUV4MPEG2 W1 H1 Cmono ", 22);
	big[1024] = '\n';
	big[1025] = 'F';
	y = y4m_new(NULL, NULL);
	is_int(y4m_feed(y, big, 1026, err, sizeof err), 0, "a 1024-byte header line parses");
	y4m_free(y);
	big[1024] = 'X';
	big[1025] = '\n';
	check_err(big, 1026, "header: the line is longer than 1024 bytes",
	    "a 1025-byte header line");
	check_err(big, 1025, "header: the line is longer than 1024 bytes",
	    "1025 bytes and no LF yet");
	memset(big, 'X', sizeof big);
	memcpy(big, "YUV4MPEG2 W1 H1 Cmono\nFRAME ", 28);
	big[1100] = '\n';
	check_err(big, 1101, "frame 1: the FRAME line is longer than 1024 "
	    "bytes", "a long FRAME line");

	/* After an error every call fails, even with good input. */
	y = y4m_new(NULL, NULL);
	ok(y4m_feed(y, "YUV4MPEG2 W3 H3 It\n", 19, err, sizeof err) == -1,
	    "error");
	ok(y4m_feed(y, "YUV4MPEG2 W3 H3\n", 16, err, sizeof err) == -1,
	    "then it stays");
	ok(y4m_feed(y, "", 0, err, sizeof err) == -1,
	    "even for an empty feed");
	ok(y4m_info(y) == NULL, "and no info");
	y4m_free(y);
}

static void
test_truncated(void)
{
	static const size_t	 ps[] = { 9, 4, 4 };
	struct result		 r;
	unsigned char		*s;
	size_t			 len;

	s = make("YUV4MPEG2 W3 H3 F25:1\n", "FRAME\n", 3, ps, &len);
	run(s, len - 1, 0, &r);
	is_int(r.rv, 0, "truncated: not an error");
	is_int(r.frames, 2, "truncated: two complete frames counted");
	is_int(r.rec.frames, 2, "truncated: the last is not delivered");
	is_int(r.rec.bad, 0, "truncated: the two are right");
	run(s, len - 17 - 3, 1, &r);
	is_int(r.frames, 2, "cut inside a FRAME line: two frames");
	free(s);
}

/* Every chunk size and every cut in two give the same frames. */
static void
test_chunking(void)
{
	static const size_t	 p420[] = { 20, 6, 6 }, pmono[] = { 9, 0, 0 };
	struct result		 r;
	unsigned char		*s[2];
	size_t			 len[2], chunk, cut;
	unsigned		 bad = 0, i;
	char			 err[Y4M_ERRLEN];
	struct y4m		*y;
	struct rec		 rec;

	s[0] = make("YUV4MPEG2 W5 H4 F25:1 C420jpeg XYSCSS=420JPEG\n",
	    "FRAME Xa\n", 5, p420, &len[0]);
	s[1] = make("YUV4MPEG2 W3 H3 Cmono\n", "FRAME\n", 4, pmono, &len[1]);
	for (i = 0; i < 2; i++) {
		for (chunk = 1; chunk <= len[i]; chunk++) {
			run(s[i], len[i], chunk, &r);
			if (r.rv != 0 || r.rec.frames != (i == 0 ? 5 : 4) ||
			    r.frames != r.rec.frames || r.rec.bad != 0)
				bad++;
		}
		for (cut = 1; cut < len[i]; cut++) {
			memset(&rec, 0, sizeof rec);
			y = y4m_new(on_frame, &rec);
			if (y4m_feed(y, s[i], cut, err, sizeof err) != 0 ||
			    y4m_feed(y, s[i] + cut, len[i] - cut, err,
			    sizeof err) != 0 ||
			    rec.frames != (i == 0 ? 5 : 4) || rec.bad != 0)
				bad++;
			y4m_free(y);
		}
		free(s[i]);
	}
	is_int(bad, 0, "frames do not depend on chunking");
}

int
main(void)
{
	test_colorspaces();
	test_info();
	test_errors();
	test_truncated();
	test_chunking();
	return tap_done();
}
