/* SHA-256 (FIPS 180-4), just enough for SSH host key fingerprints. */
#ifndef BANGER_AGENT_SHA256_H
#define BANGER_AGENT_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
	size_t n;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const uint8_t *p, size_t len);
void sha256_final(struct sha256 *s, uint8_t out[32]);

#endif
