/* The guest kit: what banger adds to an imported image under /.banger so
 * that it boots and is pinnable like the tiny image, whatever its own
 * userland (docs/oci-import.md). tools/mkimage tiny writes it to
 * $state/kit/. */
#ifndef BANGER_OCI_KIT_H
#define BANGER_OCI_KIT_H

#include "error.h"

#define OCI_KIT_PREFIX ".banger"
#define OCI_KIT_CMDLINE "init=/" OCI_KIT_PREFIX "/init"

/* ENOENT "guest kit missing at DIR: run tools/mkimage tiny" unless kit
 * holds every file the guest needs. */
int oci_kit_check(const char *kit, bgr_error *err);
/* Replaces root/.banger with a copy of kit and makes the directories the
 * boot needs (dev proc sys run tmp root etc) where the image has none. */
int oci_kit_install(const char *kit, const char *root, bgr_error *err);

#endif
