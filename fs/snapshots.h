/* Published contents of page-cached files.
 *
 * The kernel caches a file's size (from getattr/lookup) and its pages (from
 * read) separately. If the content changed between the two, a reader would
 * get a torn value: cut at the old size or padded with NULs. So every
 * cached file has one published snapshot: getattr reports its size and read
 * serves its bytes. A new value is published only once the invalidation
 * queued for the change has reached the kernel; until then readers keep
 * getting the old value, whole. */
#ifndef BANGER_SNAPSHOTS_H
#define BANGER_SNAPSHOTS_H

#include <stddef.h>
#include <stdint.h>

#include "nodes.h"

struct fs;

/* The published content of n (publishing the current one when allowed);
 * valid until the next call for the same inode. */
const char *snapshot_get(struct fs *fs, const struct node *n, struct vm *vm, size_t *ret_len);
/* Records that an invalidation with sequence number seq was queued for ino. */
void snapshot_invalidating(struct fs *fs, uint64_t ino, uint64_t seq);
/* Drops every snapshot of a VM (it was deleted). */
void snapshots_drop_vm(struct fs *fs, int64_t vm_id);
void snapshots_free(struct fs *fs);

#endif
