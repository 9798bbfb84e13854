/* Applying image layers (tar, tar+gzip, tar+zstd) to a root directory with
 * libarchive, overlay style: ".wh.NAME" removes NAME of the lower layers,
 * ".wh..wh..opq" empties its directory of them. */
#ifndef BANGER_OCI_LAYERS_H
#define BANGER_OCI_LAYERS_H

#include "error.h"

#include <stdint.h>

/* Applies the layer in file blob on top of the tree in the current
 * directory. *total_bytes counts the unpacked bytes of all layers so far;
 * past max_bytes: EFBIG ("decompression bomb?"). Paths with "..", absolute
 * paths, and anything that would be written through a symlink are refused. */
int oci_layer_apply(const char *blob, uint64_t *total_bytes, uint64_t max_bytes, bgr_error *err);

#endif
