/* Raw root disks, for hypervisors that take no qcow2 (Firecracker): a
 * reflink of the image where the file system supports it, else a sparse
 * copy (only the data extents, found with SEEK_DATA/SEEK_HOLE), never a byte
 * copy of holes. */
#ifndef BANGER_DISK_RAW_H
#define BANGER_DISK_RAW_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/* Copies src to the new file dest (0600); *reflinked says which way.
 * Returns 0 or -errno (dest removed on failure). */
int disk_copy_sparse(const char *src, const char *dest, bool *reflinked);

/* dest = a copy of image's rootfs grown (sparsely) to size bytes. cancel,
 * when given, is asked between 64 MiB chunks of a copy (ECANCELED). */
int disk_create_raw_root(const char *images_dir, const char *image, uint64_t size, const char *dest,
			 bool (*cancel)(void *), void *ctx, bgr_error *err);

#endif
