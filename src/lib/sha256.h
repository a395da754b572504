/*
 * sha256.h - SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104), for keys
 * of caches that must not hold secrets in the clear; and a comparison
 * whose time does not depend on where the bytes differ.
 */
#ifndef SC_SHA256_H
#define SC_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN	32

struct sha256 {
	uint32_t	h[8];
	uint64_t	len;		/* bytes so far */
	unsigned char	buf[64];
	size_t		nbuf;
};

void	sha256_init(struct sha256 *);
void	sha256_update(struct sha256 *, const void *, size_t);
void	sha256_final(struct sha256 *, unsigned char out[SHA256_LEN]);
void	sha256_hmac(const void *key, size_t keylen, const void *msg,
	    size_t msglen, unsigned char out[SHA256_LEN]);
/* 1 if the n bytes of a and b are equal, in time that depends on n only. */
int	sha256_equal(const void *a, const void *b, size_t n);

#endif
