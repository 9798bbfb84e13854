/* sha256 with libcrypto, for the download helpers (banger-pull, banger-oci):
 * streaming contexts, whole files, and the "64 lowercase hex digits" form. */
#ifndef BANGER_SHA256_H
#define BANGER_SHA256_H

#include "error.h"
#include "validate.h" /* sha256_valid */

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

#define SHA256_HEX_LEN 64

static inline void evp_md_ctx_freep(EVP_MD_CTX **c)
{
	EVP_MD_CTX_free(*c);
}
#define _cleanup_md_ __attribute__((cleanup(evp_md_ctx_freep)))

/* A fresh sha256 context (aborts on out-of-memory). */
EVP_MD_CTX *sha256_new(void);
/* Finishes c into 64 hex digits + NUL. */
void sha256_hex(EVP_MD_CTX *c, char out[SHA256_HEX_LEN + 1]);
/* Hashes n zero bytes (the holes of sparse entries). */
void sha256_zeros(EVP_MD_CTX *c, uint64_t n);
int sha256_file(const char *path, char out[SHA256_HEX_LEN + 1], bgr_error *err);

#endif
