/*
 * fuzz_fetch_content.c - libFuzzer harness for the fetcher's content
 * checks and its Retry-After parse, without a transfer.
 *
 * Input: byte 0 picks the Content-Type, byte 1 the chunk size; up to the
 * first NUL after that is a Retry-After value, the rest a body fed to
 * fetch_body_note in chunks as libcurl would, then classified as a 200.
 * The parse must give -1 or 0..FETCH_RETRY_AFTER_MAX; the verdict must
 * be OK, or a failure with a code and a message.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stock/fetch.h"
#include "stock/fetch_int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ctypes[] = { "text/csv", "text/html",
	    "application/json", "text/plain; charset=utf-8",
	    "TEXT/HTML;charset=x", "application/problem+json", "", NULL };
	struct fetch_attempt	 a;
	struct fetch_result	 res;
	enum fetch_verdict	 v;
	const uint8_t		*nul;
	char			*ra;
	size_t			 chunk, off, n, ralen;
	long			 secs;

	if (size < 2 || size > 65536)
		return 0;
	memset(&a, 0, sizeof a);
	a.fd = -1;
	a.max_bytes = UINT64_MAX;
	a.retry_after = -1;
	a.text_start = a.header_end = FETCH_NONE;
	a.first = -1;
	a.started = 1;
	a.ctype = fetch_body_ctype(ctypes[data[0] % 8]);
	chunk = data[1] == 0 ? 1 : data[1];
	data += 2;
	size -= 2;

	nul = memchr(data, '\0', size);
	ralen = nul != NULL ? (size_t)(nul - data) : size;
	ra = malloc(ralen + 1);
	memcpy(ra, data, ralen);
	ra[ralen] = '\0';
	secs = fetch_retry_after_parse(ra, 1700000000);
	if (secs < -1 || secs > FETCH_RETRY_AFTER_MAX)
		abort();
	(void)fetch_body_ctype(ra);
	free(ra);
	if (nul == NULL)
		return 0;
	data += ralen + 1;
	size -= ralen + 1;

	for (off = 0; off < size; off += n) {
		n = size - off < chunk ? size - off : chunk;
		fetch_body_note(&a, (const char *)data + off, n, off);
		a.bytes += n;
	}
	memset(&res, 0, sizeof res);
	v = fetch_verdict_of(&a, CURLE_OK, 200, "", &res);
	if (v != FETCH_OK && (res.code[0] == '\0' || res.message[0] == '\0'))
		abort();
	return 0;
}
