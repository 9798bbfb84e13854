/* Base64 (standard alphabet) for SSH key blobs and fingerprints. */
#ifndef BANGER_AGENT_BASE64_H
#define BANGER_AGENT_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Unpadded, as OpenSSH prints SHA256 fingerprints. out needs
 * 4 * ((n + 2) / 3) + 1 bytes. */
void b64_encode(const uint8_t *in, size_t n, char *out);

/* Decodes n characters of in, stopping at the first '='. Returns the
 * decoded length, or -1 on a bad character or overflow. */
long b64_decode(const char *in, size_t n, uint8_t *out, size_t out_size);

#endif
