/*
 * camtool.c - the camera-side helper for the end-to-end tests.
 *
 * Makes the inputs stockcam reads and checks the JPEGs it writes, with
 * the project's own test pattern, so a test can tell which frame a JPEG
 * came from by the number drawn into it:
 *
 *   camtool y4m WIDTHxHEIGHT FRAMES [FPS [CHROMA]]
 *	Writes a YUV4MPEG2 stream to stdout: the header
 *	"YUV4MPEG2 W<w> H<h> F<fps>:1 Ip A1:1 C<chroma>", then FRAMES
 *	frames, frame i being test-pattern frame i at a fixed time, so the
 *	output is the same on every run. FPS is 1..1000 (default 30);
 *	CHROMA is 420jpeg (the default), 420paldv, 420mpeg2, 420, 422, 444
 *	or mono. 4:2:2 and 4:4:4 chroma repeat the 4:2:0 samples; mono has
 *	only the Y plane. FRAMES 0 is endless and paced to FPS in real
 *	time, a live source for pipe tests. A reader that goes away
 *	(EPIPE) ends the stream quietly with status 0.
 *
 *   camtool decode
 *	Reads records from stdin, each an ASCII decimal length, "\n", and
 *	that many bytes of JPEG, and prints one line for each (flushed at
 *	once):
 *	    ok WIDTH HEIGHT SUBSAMP COUNTER
 *	with SUBSAMP one of 444, 422, 420, 440, 411 or gray and COUNTER the
 *	frame number read back from the decoded luma (-1 if unreadable), or
 *	    bad REASON
 *	if the JPEG does not decode cleanly: TurboJPEG warnings (corrupt
 *	data, a premature end) count as failures. REASON is TurboJPEG's
 *	message, for people: tests should match on "bad" only. A bad
 *	record does not stop the loop. Exits 0 at the end of the input (or
 *	when the reader of stdout goes away), 1 if the framing itself is
 *	broken (a bad length line or a short last record).
 *
 *   camtool jpeg WIDTHxHEIGHT SEQ QUALITY SUBSAMP
 *	Writes to stdout one JPEG of test-pattern frame SEQ at QUALITY
 *	(1..100) with SUBSAMP 420, 422, 444 or gray.
 *
 * Sizes are 1..16384 on each side; the frame number is drawn (and read
 * back) only from 68x24 up. Bad arguments and other errors go to stderr
 * with exit status 1.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <turbojpeg.h>

#include "camera/testpattern.h"

#define CT_MAX_SIDE	16384
#define CT_MAX_FPS	1000
#define CT_DEFAULT_FPS	30
#define CT_FIXED_TIME	1000000000	/* 2001-09-09 01:46:40 UTC */
#define CT_MAX_RECORD	(64UL * 1024 * 1024)
#define CT_MAX_PIXELS	(64ULL * 1024 * 1024)
#define CT_LEN_DIGITS	10
#define CT_NS		1000000000ULL

enum chroma {
	CHROMA_420,
	CHROMA_422,
	CHROMA_444,
	CHROMA_MONO
};

static const struct {
	const char	*name;
	enum chroma	 chroma;
} y4m_chromas[] = {
	{ "420jpeg", CHROMA_420 },
	{ "420paldv", CHROMA_420 },
	{ "420mpeg2", CHROMA_420 },
	{ "420", CHROMA_420 },
	{ "422", CHROMA_422 },
	{ "444", CHROMA_444 },
	{ "mono", CHROMA_MONO },
};

static const struct {
	const char	*name;
	enum chroma	 chroma;
	int		 samp;
} jpeg_samps[] = {
	{ "420", CHROMA_420, TJSAMP_420 },
	{ "422", CHROMA_422, TJSAMP_422 },
	{ "444", CHROMA_444, TJSAMP_444 },
	{ "gray", CHROMA_MONO, TJSAMP_GRAY },
};

/* One test-pattern frame in 4:2:0, as testpattern_draw() makes it. */
struct frame {
	unsigned	 w, h;
	unsigned	 cw, ch;
	unsigned char	*y, *u, *v;
};

static void	usage(void) __attribute__((noreturn));
static void	die(const char *, ...)
		    __attribute__((noreturn, format(printf, 1, 2)));

static void
usage(void)
{
	fprintf(stderr,
	    "usage: camtool y4m WIDTHxHEIGHT FRAMES [FPS [CHROMA]]\n"
	    "       camtool decode\n"
	    "       camtool jpeg WIDTHxHEIGHT SEQ QUALITY SUBSAMP\n");
	exit(1);
}

static void
die(const char *fmt, ...)
{
	va_list	ap;

	fputs("camtool: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *
xmalloc(size_t size)
{
	void	*p;

	if ((p = malloc(size == 0 ? 1 : size)) == NULL)
		die("out of memory (%zu bytes)", size);
	return p;
}

/* A plain decimal number in [min, max]: no sign, no spaces. */
static int
parse_number(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long	 n;
	char			*end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

static void
parse_size(const char *s, unsigned *w, unsigned *h)
{
	const char	*x;
	char		 buf[32];
	uint64_t	 n;

	if ((x = strchr(s, 'x')) == NULL || (size_t)(x - s) >= sizeof buf)
		die("bad size %s (WIDTHxHEIGHT)", s);
	memcpy(buf, s, x - s);
	buf[x - s] = '\0';
	if (parse_number(buf, 1, CT_MAX_SIDE, &n) == -1)
		die("bad width in %s (1..%d)", s, CT_MAX_SIDE);
	*w = (unsigned)n;
	if (parse_number(x + 1, 1, CT_MAX_SIDE, &n) == -1)
		die("bad height in %s (1..%d)", s, CT_MAX_SIDE);
	*h = (unsigned)n;
}

static void
frame_init(struct frame *f, unsigned w, unsigned h)
{
	f->w = w;
	f->h = h;
	f->cw = (w + 1) / 2;
	f->ch = (h + 1) / 2;
	f->y = xmalloc((size_t)w * h);
	f->u = xmalloc((size_t)f->cw * f->ch);
	f->v = xmalloc((size_t)f->cw * f->ch);
}

static void
frame_free(struct frame *f)
{
	free(f->y);
	free(f->u);
	free(f->v);
}

static void
frame_draw(struct frame *f, uint64_t seq)
{
	const struct timespec	now = { CT_FIXED_TIME, 0 };

	testpattern_draw(f->y, f->u, f->v, f->w, f->h, seq, &now);
}

/* The size of one chroma plane in layout c (0 x 0 for mono). */
static void
chroma_size(const struct frame *f, enum chroma c, unsigned *cw, unsigned *ch)
{
	switch (c) {
	case CHROMA_420:
		*cw = f->cw;
		*ch = f->ch;
		break;
	case CHROMA_422:
		*cw = f->cw;
		*ch = f->h;
		break;
	case CHROMA_444:
		*cw = f->w;
		*ch = f->h;
		break;
	default:
		*cw = *ch = 0;
		break;
	}
}

/*
 * Copies a 4:2:0 chroma plane of f into dst in layout c, repeating
 * samples: a 4:2:0 row serves two rows, and for 4:4:4 a sample two
 * columns too. Returns the bytes written.
 */
static size_t
chroma_expand(const struct frame *f, const unsigned char *src, enum chroma c,
    unsigned char *dst)
{
	const unsigned char	*row;
	unsigned		 cw, ch, r, x;

	chroma_size(f, c, &cw, &ch);
	for (r = 0; r < ch; r++) {
		row = src + (size_t)(c == CHROMA_420 ? r : r / 2) * f->cw;
		if (c != CHROMA_444) {
			memcpy(dst + (size_t)r * cw, row, cw);
			continue;
		}
		for (x = 0; x < cw; x++)
			dst[(size_t)r * cw + x] = row[x / 2];
	}
	return (size_t)cw * ch;
}

/* Writes all of buf to fd; -1 with errno set on failure. */
static int
write_all(int fd, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	ssize_t			 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes to stdout; a reader that went away ends the program with 0. */
static void
out(const void *buf, size_t len)
{
	if (write_all(STDOUT_FILENO, buf, len) == 0)
		return;
	if (errno == EPIPE)
		exit(0);
	die("write: %s", strerror(errno));
}

static uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * CT_NS + (uint64_t)ts.tv_nsec;
}

/*
 * Sleeps until frame n (counted from *start) is due. A writer that fell
 * more than a frame behind (the reader stalled) restarts the clock
 * rather than catching up in a burst, as a live camera would.
 */
static void
pace(uint64_t *start, uint64_t *n, unsigned fps)
{
	struct timespec	due;
	uint64_t	at, now;

	(*n)++;
	at = *start + *n * CT_NS / fps;
	now = now_ns();
	if (now > at + CT_NS / fps) {
		*start = now;
		*n = 0;
		return;
	}
	due.tv_sec = (time_t)(at / CT_NS);
	due.tv_nsec = (long)(at % CT_NS);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due,
	    NULL) == EINTR)
		;
}

static int
cmd_y4m(int argc, char **argv)
{
	struct frame	 f;
	enum chroma	 c = CHROMA_420;
	const char	*cname = "420jpeg";
	char		 head[128];
	unsigned char	*buf, *p;
	unsigned	 w, h, fps = CT_DEFAULT_FPS, cw, ch;
	uint64_t	 frames, n, seq, start = 0, tick = 0;
	size_t		 i, len;
	int		 hlen;

	if (argc < 3 || argc > 5)
		usage();
	parse_size(argv[1], &w, &h);
	if (parse_number(argv[2], 0, UINT64_MAX, &frames) == -1)
		die("bad frame count %s", argv[2]);
	if (argc > 3) {
		if (parse_number(argv[3], 1, CT_MAX_FPS, &n) == -1)
			die("bad fps %s (1..%d)", argv[3], CT_MAX_FPS);
		fps = (unsigned)n;
	}
	if (argc > 4) {
		for (i = 0; i < sizeof y4m_chromas / sizeof y4m_chromas[0];
		    i++) {
			if (strcmp(argv[4], y4m_chromas[i].name) == 0)
				break;
		}
		if (i == sizeof y4m_chromas / sizeof y4m_chromas[0])
			die("bad chroma %s (420jpeg, 422, 444 or mono)",
			    argv[4]);
		c = y4m_chromas[i].chroma;
		cname = y4m_chromas[i].name;
	}

	hlen = snprintf(head, sizeof head,
	    "YUV4MPEG2 W%u H%u F%u:1 Ip A1:1 C%s\n", w, h, fps, cname);
	out(head, (size_t)hlen);

	frame_init(&f, w, h);
	chroma_size(&f, c, &cw, &ch);
	len = 6 + (size_t)w * h + 2 * (size_t)cw * ch;
	buf = xmalloc(len);
	memcpy(buf, "FRAME\n", 6);
	if (frames == 0)
		start = now_ns();
	for (seq = 0; frames == 0 || seq < frames; seq++) {
		frame_draw(&f, seq);
		p = buf + 6;
		memcpy(p, f.y, (size_t)w * h);
		p += (size_t)w * h;
		if (c != CHROMA_MONO) {
			p += chroma_expand(&f, f.u, c, p);
			chroma_expand(&f, f.v, c, p);
		}
		out(buf, len);
		if (frames == 0)
			pace(&start, &tick, fps);
	}
	free(buf);
	frame_free(&f);
	return 0;
}

/*
 * Reads a record's length line. Returns 1 with *len set, 0 at a clean
 * end of input, and dies on a broken one.
 */
static int
read_length(FILE *fp, size_t *len)
{
	char		buf[CT_LEN_DIGITS + 1];
	size_t		i = 0;
	uint64_t	n;
	int		ch;

	for (;;) {
		if ((ch = getc(fp)) == EOF) {
			if (ferror(fp))
				die("decode: read: %s", strerror(errno));
			if (i == 0)
				return 0;
			die("decode: end of input in a length line");
		}
		if (ch == '\n')
			break;
		if (ch < '0' || ch > '9' || i == CT_LEN_DIGITS)
			die("decode: bad length line");
		buf[i++] = (char)ch;
	}
	buf[i] = '\0';
	if (parse_number(buf, 0, CT_MAX_RECORD, &n) == -1)
		die("decode: bad record length %s (0..%lu)", buf,
		    CT_MAX_RECORD);
	*len = (size_t)n;
	return 1;
}

static const char *
samp_name(int samp)
{
	switch (samp) {
	case TJSAMP_444:
		return "444";
	case TJSAMP_422:
		return "422";
	case TJSAMP_420:
		return "420";
	case TJSAMP_GRAY:
		return "gray";
	case TJSAMP_440:
		return "440";
	case TJSAMP_411:
		return "411";
	default:
		return NULL;
	}
}

/* A TurboJPEG error as the reason of a "bad" line, on one line. */
static void
print_bad(tjhandle tj, const char *stage)
{
	const char	*s;
	int		 warning;

	warning = tjGetErrorCode(tj) == TJERR_WARNING;
	printf("bad %s%s: ", stage, warning ? " warning" : "");
	for (s = tjGetErrorStr2(tj); *s != '\0'; s++)
		putchar(*s < ' ' || *s == 0x7f ? ' ' : *s);
	putchar('\n');
}

static void
decode_one(tjhandle tj, const unsigned char *jpeg, size_t len)
{
	unsigned char	*planes[3] = { NULL, NULL, NULL };
	const char	*name;
	unsigned long	 size;
	int		 w, h, samp, cs, strides[3], i, np, r;
	int		 flags = 0;

#ifdef TJFLAG_STOPONWARNING
	flags |= TJFLAG_STOPONWARNING;
#endif
	if (tjDecompressHeader3(tj, jpeg, (unsigned long)len, &w, &h, &samp,
	    &cs) != 0) {
		print_bad(tj, "header");
		return;
	}
	if ((name = samp_name(samp)) == NULL) {
		printf("bad unsupported subsampling %d\n", samp);
		return;
	}
	if (w <= 0 || h <= 0 || (uint64_t)w * (uint64_t)h > CT_MAX_PIXELS) {
		printf("bad size %dx%d\n", w, h);
		return;
	}
	np = samp == TJSAMP_GRAY ? 1 : 3;
	for (i = 0; i < np; i++) {
		strides[i] = tjPlaneWidth(i, w, samp);
		size = tjPlaneSizeYUV(i, w, strides[i], h, samp);
		if (strides[i] <= 0 || size == (unsigned long)-1) {
			printf("bad plane %d of %dx%d %s\n", i, w, h, name);
			goto out;
		}
		planes[i] = xmalloc(size);
	}
	if (tjDecompressToYUVPlanes(tj, jpeg, (unsigned long)len, planes, w,
	    strides, h, flags) != 0) {
		print_bad(tj, "decode");
		goto out;
	}
	/* The counter reader wants rows of exactly w: drop the padding. */
	if (strides[0] != w) {
		for (r = 1; r < h; r++)
			memmove(planes[0] + (size_t)r * w,
			    planes[0] + (size_t)r * strides[0], (size_t)w);
	}
	printf("ok %d %d %s %" PRId64 "\n", w, h, name,
	    testpattern_read_counter(planes[0], (unsigned)w, (unsigned)h));
out:
	for (i = 0; i < 3; i++)
		free(planes[i]);
}

static int
cmd_decode(int argc)
{
	tjhandle	 tj;
	unsigned char	*buf;
	size_t		 len;

	if (argc != 1)
		usage();
	while (read_length(stdin, &len)) {
		buf = xmalloc(len);
		if (fread(buf, 1, len, stdin) != len) {
			if (ferror(stdin))
				die("decode: read: %s", strerror(errno));
			die("decode: end of input in a %zu-byte record", len);
		}
		/*
		 * A fresh decompressor for every record: a failed header
		 * read leaves a TurboJPEG handle half-way through the
		 * markers, and the next header would be read from there.
		 */
		if ((tj = tjInitDecompress()) == NULL)
			die("tjInitDecompress: %s", tjGetErrorStr2(NULL));
		decode_one(tj, buf, len);
		tjDestroy(tj);
		free(buf);
		if (fflush(stdout) == EOF) {
			if (errno == EPIPE)
				break;
			die("decode: write: %s", strerror(errno));
		}
	}
	return 0;
}

static int
cmd_jpeg(int argc, char **argv)
{
	struct frame		 f;
	tjhandle		 tj;
	const unsigned char	*planes[3];
	unsigned char		*y, *u = NULL, *v = NULL, *jpeg = NULL;
	unsigned long		 size = 0;
	unsigned		 w, h, cw, ch, r;
	uint64_t		 seq, quality;
	size_t			 i;
	int			 strides[3], pw, ph;

	if (argc != 5)
		usage();
	parse_size(argv[1], &w, &h);
	if (parse_number(argv[2], 0, UINT64_MAX, &seq) == -1)
		die("bad frame number %s", argv[2]);
	if (parse_number(argv[3], 1, 100, &quality) == -1)
		die("bad quality %s (1..100)", argv[3]);
	for (i = 0; i < sizeof jpeg_samps / sizeof jpeg_samps[0]; i++) {
		if (strcmp(argv[4], jpeg_samps[i].name) == 0)
			break;
	}
	if (i == sizeof jpeg_samps / sizeof jpeg_samps[0])
		die("bad subsampling %s (420, 422, 444 or gray)", argv[4]);

	frame_init(&f, w, h);
	frame_draw(&f, seq);

	/*
	 * TurboJPEG reads whole luma planes, padded to the MCU for odd
	 * sizes: copy into a plane of that size, repeating the edges.
	 */
	pw = tjPlaneWidth(0, (int)w, jpeg_samps[i].samp);
	ph = tjPlaneHeight(0, (int)h, jpeg_samps[i].samp);
	if (pw <= 0 || ph <= 0)
		die("jpeg: tjPlaneWidth: %s", tjGetErrorStr2(NULL));
	y = xmalloc((size_t)pw * (size_t)ph);
	for (r = 0; r < (unsigned)ph; r++) {
		memcpy(y + (size_t)r * pw,
		    f.y + (size_t)(r < h ? r : h - 1) * w, w);
		memset(y + (size_t)r * pw + w, y[(size_t)r * pw + w - 1],
		    (size_t)pw - w);
	}
	planes[0] = y;
	strides[0] = pw;
	chroma_size(&f, jpeg_samps[i].chroma, &cw, &ch);
	if (jpeg_samps[i].chroma != CHROMA_MONO) {
		u = xmalloc((size_t)cw * ch);
		v = xmalloc((size_t)cw * ch);
		chroma_expand(&f, f.u, jpeg_samps[i].chroma, u);
		chroma_expand(&f, f.v, jpeg_samps[i].chroma, v);
	}
	planes[1] = u;
	planes[2] = v;
	strides[1] = strides[2] = (int)cw;

	if ((tj = tjInitCompress()) == NULL)
		die("tjInitCompress: %s", tjGetErrorStr2(NULL));
	if (tjCompressFromYUVPlanes(tj, planes, (int)w, strides, (int)h,
	    jpeg_samps[i].samp, &jpeg, &size, (int)quality, 0) != 0)
		die("jpeg: %s", tjGetErrorStr2(tj));
	tjDestroy(tj);
	out(jpeg, size);

	tjFree(jpeg);
	free(y);
	free(u);
	free(v);
	frame_free(&f);
	return 0;
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "y4m") == 0)
		return cmd_y4m(argc - 1, argv + 1);
	if (strcmp(argv[1], "decode") == 0)
		return cmd_decode(argc - 1);
	if (strcmp(argv[1], "jpeg") == 0)
		return cmd_jpeg(argc - 1, argv + 1);
	usage();
}
