/* Disks: the root disk of a VM is a qcow2 overlay backed by its image. */
#ifndef BANGER_DISK_H
#define BANGER_DISK_H

#include <stdint.h>

#include "error.h"

/* Path of an image's root file system (raw ext4); ENOENT when absent. */
int disk_image_path(const char *images_dir, const char *image, char **ret, bgr_error *err);
/* Checks a kernel (vmlinuz + initrd.img) exists; returns both paths. */
int disk_kernel_paths(const char *kernels_dir, const char *kernel, char **ret_vmlinuz, char **ret_initrd,
		      bgr_error *err);
/* The per-(image, size) overlay template, made with qemu-img if missing.
 * Safe to call from a worker thread. */
int disk_template(const char *images_dir, const char *image, uint64_t size, char **ret, bgr_error *err);
/* Creates dest: a qcow2 overlay of size bytes over the image. The overlay is
 * copied from a per-(image, size) template made once with qemu-img, so the
 * cost does not depend on the image size. */
/* A qcow2 overlay of the qcow2 backing (a template's disk) at dest, copied
 * from BACKING.overlay-SIZE.qcow2, made once with qemu-img next to it. */
int disk_create_overlay(const char *backing, uint64_t size, const char *dest, bgr_error *err);
int disk_create_root(const char *images_dir, const char *image, uint64_t size, const char *dest, bgr_error *err);

#endif
