/* A client of the registry HTTP API v2 (libcurl): manifests into memory,
 * blobs into files, both checked against their digests, with the anonymous
 * bearer-token flow on a 401. Prints "progress DONE TOTAL BYTES_PER_S"
 * lines on stdout while blobs download. */
#ifndef BANGER_OCI_REGISTRY_H
#define BANGER_OCI_REGISTRY_H

#include "error.h"
#include "oci_ref.h"
#include "sha256.h"

#include <stddef.h>
#include <stdint.h>

#define OCI_MANIFEST_MAX_BYTES (4 << 20)

/* Download progress over all blobs of one import. */
struct oci_progress {
	uint64_t done;    /* bytes of finished (or cached) blobs */
	uint64_t total;   /* bytes of all blobs; 0 when unknown */
	uint64_t current; /* bytes of the blob being downloaded */
	long long start_ms, last_ms;
};

struct oci_client {
	struct oci_ref ref;
	char *base; /* "https://registry-1.docker.io" */
	char *auth; /* "Authorization: Bearer TOKEN" once a token was needed */
	struct oci_progress *progress;
};

struct oci_manifest_body {
	char *data; /* NUL terminated */
	size_t len;
	char media_type[128];                /* Content-Type without parameters */
	char digest[7 + SHA256_HEX_LEN + 1]; /* "sha256:HEX" of data */
};

void oci_client_init(struct oci_client *c, const struct oci_ref *ref, struct oci_progress *progress);
void oci_client_free(struct oci_client *c);
/* GET /v2/REPO/manifests/REFERENCE (a tag or "sha256:HEX"; a digest must
 * match the body's). */
int oci_get_manifest(struct oci_client *c, const char *reference, struct oci_manifest_body *ret, bgr_error *err);
void oci_manifest_body_free(struct oci_manifest_body *b);
/* GET /v2/REPO/blobs/DIGEST into dest (through dest.part), at most size
 * bytes; a body whose sha256 differs is deleted and refused. */
int oci_get_blob(struct oci_client *c, const char *digest, uint64_t size, const char *dest, bgr_error *err);
/* Prints a progress line now (forced) or when 0.5 s passed since the last. */
void oci_progress_print(struct oci_progress *p, int force);

#endif
