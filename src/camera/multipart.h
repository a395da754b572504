/* multipart.h - the parts of an MJPEG multipart/x-mixed-replace stream. */
#ifndef SC_MULTIPART_H
#define SC_MULTIPART_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MULTIPART_BOUNDARY	"stockcamframe"
#define MULTIPART_TYPE		"multipart/x-mixed-replace;boundary=" \
				MULTIPART_BOUNDARY
/* Enough for any part head multipart_head writes. */
#define MULTIPART_HEAD_MAX	256
/* What follows each part's body. */
#define MULTIPART_TAIL		"\r\n"

/*
 * Writes the head of one part carrying a JPEG of len bytes: the
 * boundary line, Content-Type, Content-Length, X-Timestamp (capture time,
 * seconds.microseconds since the epoch), X-Frame (seq) and, for a frame
 * drawn while the source is failing, X-Placeholder: 1. Returns its length;
 * buf must hold MULTIPART_HEAD_MAX bytes.
 */
size_t	multipart_head(char *buf, size_t len, const struct timespec *captured,
	    uint64_t seq, int placeholder);

#endif
