/* The root file system image of an imported image: ext4 made with
 * mke2fs -d from the staging tree (no loop mounts). */
#ifndef BANGER_OCI_ROOTFS_H
#define BANGER_OCI_ROOTFS_H

#include "error.h"

#include <stdint.h>

#define OCI_ROOTFS_LABEL "banger-root"

/* Writes out (a new file) holding the ext4 of tree root: size
 * max(min_size, used bytes x 1.3 + 64 MiB) rounded up to MiB. log is a
 * file for mke2fs's output. *ret_size: the size chosen. */
int oci_rootfs_make(const char *root, const char *out, uint64_t min_size, const char *log, uint64_t *ret_size,
		    bgr_error *err);

#endif
