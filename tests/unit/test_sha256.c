/*
 * test_sha256.c - SHA-256 against FIPS 180-4's examples, byte-at-a-time
 * updates, and HMAC-SHA-256 against RFC 4231's test cases 1, 2 and 6.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "lib/sha256.h"
#include "tap.h"

static void
hex(const unsigned char *d, char *out)
{
	int	i;

	for (i = 0; i < SHA256_LEN; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void
digest_is(const char *msg, size_t len, size_t step, const char *want,
    const char *name)
{
	struct sha256	s;
	unsigned char	d[SHA256_LEN];
	char		got[2 * SHA256_LEN + 1];
	size_t		i, n;

	sha256_init(&s);
	for (i = 0; i < len; i += n) {
		n = len - i < step ? len - i : step;
		sha256_update(&s, msg + i, n);
	}
	sha256_final(&s, d);
	hex(d, got);
	is_str(got, want, "%s", name);
}

static void
hmac_is(const void *key, size_t klen, const char *msg, const char *want,
    const char *name)
{
	unsigned char	d[SHA256_LEN];
	char		got[2 * SHA256_LEN + 1];

	sha256_hmac(key, klen, msg, strlen(msg), d);
	hex(d, got);
	is_str(got, want, "%s", name);
}

int
main(void)
{
	static char	million[1000000];
	unsigned char	key[131];
	const char	*two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	digest_is("", 0, 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "empty");
	digest_is("abc", 3, 64, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "abc");
	digest_is(two, strlen(two), 64, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "two blocks");
	digest_is(two, strlen(two), 1, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "two blocks, a byte at a time");
	memset(million, 'a', sizeof million);
	digest_is(million, sizeof million, 4093, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", "a million a's");

	memset(key, 0x0b, 20);
	hmac_is(key, 20, "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", "HMAC RFC 4231 case 1");
	hmac_is("Jefe", 4, "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", "HMAC RFC 4231 case 2");
	memset(key, 0xaa, sizeof key);
	hmac_is(key, sizeof key, "Test Using Larger Than Block-Size Key - Hash Key First", "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", "HMAC RFC 4231 case 6 (long key)");

	ok(sha256_equal("abcd", "abcd", 4), "equal bytes compare equal");
	ok(!sha256_equal("abcd", "abce", 4), "the last byte differing is seen");
	ok(!sha256_equal("xbcd", "abcd", 4), "the first byte differing is seen");
	return tap_done();
}
