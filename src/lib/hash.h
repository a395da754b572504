/* hash.h - FNV-1a, 64 bits: small and good enough for ETags, tables and
 * seeds (not against an adversary). */
#ifndef SC_HASH_H
#define SC_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV_OFFSET	0xcbf29ce484222325ULL
#define HASH_FNV_PRIME	0x100000001b3ULL

static inline uint64_t
hash_bytes(const void *p, size_t len)
{
	const unsigned char	*s = p;
	uint64_t		 h = HASH_FNV_OFFSET;

	while (len-- > 0) {
		h ^= *s++;
		h *= HASH_FNV_PRIME;
	}
	return h;
}

static inline uint64_t
hash_string(const char *s)
{
	uint64_t	h = HASH_FNV_OFFSET;

	while (*s != '\0') {
		h ^= (unsigned char)*s++;
		h *= HASH_FNV_PRIME;
	}
	return h;
}

#endif
