/* Image indexes (manifest lists) and image manifests, OCI and Docker v2
 * schema 2, parsed with cJSON. */
#ifndef BANGER_OCI_MANIFEST_H
#define BANGER_OCI_MANIFEST_H

#include "error.h"
#include "sha256.h"

#include <stddef.h>
#include <stdint.h>

#define OCI_LAYERS_MAX 256
#define OCI_DIGEST_SIZE (7 + SHA256_HEX_LEN + 1)

struct oci_descriptor {
	char media_type[128];
	char digest[OCI_DIGEST_SIZE]; /* "sha256:HEX" */
	uint64_t size;
};

struct oci_image_manifest {
	struct oci_descriptor config;
	struct oci_descriptor layers[OCI_LAYERS_MAX];
	size_t n_layers;
};

/* 1 when json is an index / manifest list, 0 when an image manifest
 * (decided by its mediaType, else the Content-Type, else its shape). */
int oci_manifest_is_index(const char *json, size_t len, const char *content_type, bgr_error *err);
/* The digest of the os/arch manifest of an index; ENOENT naming the
 * platforms it has when there is none. */
int oci_index_pick(const char *json, size_t len, const char *os, const char *arch, char ret[OCI_DIGEST_SIZE],
		   bgr_error *err);
/* An image manifest: its config and layers (each of a media type we can unpack). */
int oci_manifest_parse(const char *json, size_t len, struct oci_image_manifest *ret, bgr_error *err);

#endif
