/* [[file_sync]]: at VM creation, host files and directories are copied onto
 * a work disk (ext4, made with mke2fs -d; no loop mounts) that the guest
 * mounts at /root. */
#ifndef BANGER_FILE_SYNC_H
#define BANGER_FILE_SYNC_H

#include "vmm.h"

#define WORK_DISK_NAME "work.img"

/* Builds vm_dir/work.img from the entries, or does nothing when there are
 * none. A guest path outside ~/ or /root/, a ".." in it, a missing host
 * path, a host path that is a symlink, a symlink under a synced directory
 * that leaves it, or a guest path through a link an earlier entry copied
 * is EINVAL with the entry's config line in the reason. Runs on a
 * worker (several at once are fine); cancel, when given, is polled while
 * cp, mke2fs and debugfs run, and a true answer ends the build with
 * ECANCELED. */
int file_sync_build(const struct vmm_settings *s, const char *vm_dir, bool (*cancel)(void *), void *ctx,
		    bgr_error *err);

#endif
