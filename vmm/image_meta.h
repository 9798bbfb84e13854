/* images/NAME/image.json and kernels/NAME/kernel.json: what an installed
 * image or kernel says about itself (written by banger-pull and banger-oci;
 * docs/image-catalog.md, docs/oci-import.md). */
#ifndef BANGER_IMAGE_META_H
#define BANGER_IMAGE_META_H

#include "error.h"

#include <stdint.h>

struct image_meta {
	char source[1100]; /* the bundle's URL, "oci:REF" */
	char sha256[65];   /* the bundle's sha256 or the manifest digest, hex */
	char kernel[64];   /* the kernel the image boots by default */
	int64_t created;   /* unix seconds */
	char cmdline[512]; /* appended to the kernel command line */
};

/* Reads images_dir/image/image.json. -ENOENT (no reason recorded) when
 * there is none; -EINVAL with a reason when it is not what we wrote.
 * Missing fields stay empty; ret is untouched on failure. */
int image_meta_read(const char *images_dir, const char *image, struct image_meta *ret, bgr_error *err);
/* The same for kernels_dir/kernel/kernel.json (no kernel or cmdline). */
int kernel_meta_read(const char *kernels_dir, const char *kernel, struct image_meta *ret, bgr_error *err);

#endif
