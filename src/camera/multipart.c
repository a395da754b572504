/*
 * multipart.c - part heads for /stream.mjpg.
 *
 * Each part is this head, the JPEG (attached by reference, never copied)
 * and MULTIPART_TAIL. The boundary line opens every part, so a viewer
 * can show a frame as soon as its last byte arrives instead of waiting
 * for the next boundary; browsers and ffmpeg read both forms.
 */
#include "config.h"

#include <stdio.h>

#include "camera/multipart.h"

size_t
multipart_head(char *buf, size_t len, const struct timespec *captured,
    uint64_t seq, int placeholder)
{
	int	n;

	n = snprintf(buf, MULTIPART_HEAD_MAX,
	    "--" MULTIPART_BOUNDARY "\r\n"
	    "Content-Type: image/jpeg\r\n"
	    "Content-Length: %zu\r\n"
	    "X-Timestamp: %lld.%06ld\r\n"
	    "X-Frame: %llu\r\n"
	    "%s"
	    "\r\n",
	    len, (long long)captured->tv_sec, captured->tv_nsec / 1000,
	    (unsigned long long)seq, placeholder ? "X-Placeholder: 1\r\n" : "");
	return n < 0 ? 0 : (size_t)n;
}
