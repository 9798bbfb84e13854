/* Base64 (standard alphabet) for SSH key blobs and fingerprints. */
#include "base64.h"

#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void b64_encode(const uint8_t *in, size_t n, char *out)
{
	uint32_t v;
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*out++ = b64[v >> 18];
		*out++ = b64[(v >> 12) & 63];
		*out++ = b64[(v >> 6) & 63];
		*out++ = b64[v & 63];
	}
	if (n - i == 1) {
		*out++ = b64[in[i] >> 2];
		*out++ = b64[(in[i] & 3) << 4];
	} else if (n - i == 2) {
		v = (uint32_t)in[i] << 8 | in[i + 1];
		*out++ = b64[v >> 10];
		*out++ = b64[(v >> 4) & 63];
		*out++ = b64[(v << 2) & 63];
	}
	*out = '\0';
}

long b64_decode(const char *in, size_t n, uint8_t *out, size_t out_size)
{
	uint32_t acc = 0;
	size_t len = 0;
	int bits = 0;
	const char *c;

	for (size_t i = 0; i < n && in[i] != '='; i++) {
		c = strchr(b64, in[i]);
		if (!c || !in[i])
			return -1;
		acc = acc << 6 | (uint32_t)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (len == out_size)
				return -1;
			out[len++] = (uint8_t)(acc >> bits);
		}
	}
	return (long)len;
}
