/*
 * test_multipart.c - the MJPEG part writer: exact head bytes, and a
 * stream of parts (head, body, tail) read back by an independent
 * parser that finds every body whole and in order, with its timestamp
 * and frame number, however large the numbers get.
 */
#include "config.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "camera/multipart.h"
#include "tap.h"

struct part {
	size_t		len;
	long long	sec;
	long		usec;
	uint64_t	seq;
	int		placeholder;
	const unsigned char *body;
};

/* Reads the part at *p: a boundary line, headers, body, CRLF. */
static int
parse_part(const unsigned char **p, const unsigned char *end,
    struct part *out)
{
	const char	*s = (const char *)*p, *eol, *hend;
	char		 line[256];
	size_t		 n;
	int		 have_len = 0, have_ts = 0, have_seq = 0, have_type = 0;

	memset(out, 0, sizeof *out);
	hend = memmem(s, (size_t)(end - *p), "\r\n\r\n", 4);
	if (hend == NULL || strncmp(s, "--" MULTIPART_BOUNDARY "\r\n",
	    sizeof MULTIPART_BOUNDARY + 3) != 0)
		return -1;
	s += sizeof MULTIPART_BOUNDARY + 3;
	while (s < hend + 2) {
		eol = memmem(s, (size_t)(hend + 2 - s), "\r\n", 2);
		n = (size_t)(eol - s);
		if (n >= sizeof line)
			return -1;
		memcpy(line, s, n);
		line[n] = '\0';
		if (strcmp(line, "Content-Type: image/jpeg") == 0)
			have_type = 1;
		else if (sscanf(line, "Content-Length: %zu", &out->len) == 1)
			have_len = 1;
		else if (sscanf(line, "X-Timestamp: %lld.%ld", &out->sec,
		    &out->usec) == 2 && strlen(strchr(line, '.')) == 7)
			have_ts = 1;
		else if (sscanf(line, "X-Frame: %" SCNu64, &out->seq) == 1)
			have_seq = 1;
		else if (strcmp(line, "X-Placeholder: 1") == 0)
			out->placeholder = 1;
		else
			return -1;
		s = eol + 2;
	}
	if (!have_type || !have_len || !have_ts || !have_seq)
		return -1;
	*p = (const unsigned char *)hend + 4;
	if ((size_t)(end - *p) < out->len + 2 ||
	    memcmp(*p + out->len, MULTIPART_TAIL, 2) != 0)
		return -1;
	out->body = *p;
	*p += out->len + 2;
	return 0;
}

int
main(void)
{
	static const char want[] = "--stockcamframe\r\n"
	    "Content-Type: image/jpeg\r\n"
	    "Content-Length: 12345\r\n"
	    "X-Timestamp: 1764000000.000007\r\n"
	    "X-Frame: 42\r\n"
	    "\r\n";
	struct timespec	 ts = { 1764000000, 7999 };
	char		 head[MULTIPART_HEAD_MAX];
	unsigned char	*stream, body[700];
	const unsigned char *p, *end;
	struct part	 pt;
	size_t		 n, used = 0, cap = 1 << 20;
	unsigned	 i, good = 0;

	n = multipart_head(head, 12345, &ts, 42, 0);
	ok(n == sizeof want - 1 && memcmp(head, want, n) == 0,
	    "a part head, byte for byte (microseconds zero-padded)");
	n = multipart_head(head, 1, &ts, 1, 1);
	ok(memmem(head, n, "X-Placeholder: 1\r\n\r\n", 20) != NULL,
	    "a placeholder part says so");

	/* The longest head fits. */
	ts.tv_sec = INT64_MAX;
	ts.tv_nsec = 999999999;
	n = multipart_head(head, SIZE_MAX, &ts, UINT64_MAX, 1);
	ok(n > 0 && n < MULTIPART_HEAD_MAX && memcmp(head + n - 4,
	    "\r\n\r\n", 4) == 0, "largest numbers: %zu bytes, complete", n);

	/*
	 * Parts of sizes 0..699 with bodies that contain the boundary and
	 * CRLFs themselves: the reader must go by Content-Length.
	 */
	stream = malloc(cap);
	for (i = 0; i < 700; i++) {
		memset(body, 'x', sizeof body);
		if (i > 20)
			memcpy(body + i / 2 - 10, "\r\n--stockcamframe\r\n", 19);
		ts.tv_sec = 1764000000 + i;
		ts.tv_nsec = (long)i * 1000;
		n = multipart_head(head, i, &ts, i, i % 7 == 0);
		memcpy(stream + used, head, n);
		used += n;
		memcpy(stream + used, body, i);
		used += i;
		memcpy(stream + used, MULTIPART_TAIL, 2);
		used += 2;
	}
	p = stream;
	end = stream + used;
	for (i = 0; p < end; i++) {
		if (parse_part(&p, end, &pt) != 0)
			break;
		memset(body, 'x', sizeof body);
		if (i > 20)
			memcpy(body + i / 2 - 10, "\r\n--stockcamframe\r\n", 19);
		if (pt.len == i && pt.seq == i && pt.sec == 1764000000 + i &&
		    pt.usec == (long)i && pt.placeholder == (i % 7 == 0) &&
		    memcmp(pt.body, body, i) == 0)
			good++;
	}
	is_int(i, 700, "700 parts read back in order");
	is_int(good, 700, "each with its body, length, time and number");
	ok(p == end, "nothing left over");
	free(stream);
	return tap_done();
}
