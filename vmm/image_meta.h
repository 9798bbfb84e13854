/* What the store knows about an installed image or kernel: the metadata
 * file its installer wrote (image.json / kernel.json, docs/image-catalog.md). */
#ifndef BANGER_IMAGE_META_H
#define BANGER_IMAGE_META_H

#include <stdint.h>

#include "error.h"

struct image_meta {
	char source[1100]; /* "https://…/x.tar.zst", "oci:REF", "" when unknown */
	char sha256[65];   /* of the bundle or the OCI manifest, "" when unknown */
	char kernel[64];   /* images: the kernel it boots by default, "" when unknown */
	int64_t created;   /* unix seconds, 0 when unknown */
	char cmdline[256]; /* images: appended to the kernel command line */
};

/* Reads DIR/NAME/image.json; ENOENT when there is none. */
int image_meta_read(const char *images_dir, const char *image, struct image_meta *ret, bgr_error *err);
/* Reads DIR/NAME/kernel.json; ENOENT when there is none. */
int kernel_meta_read(const char *kernels_dir, const char *kernel, struct image_meta *ret, bgr_error *err);

#endif
