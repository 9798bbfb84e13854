/* What the vmm reports, turned into cache invalidations and stream wake-ups. */
#include "fs.h"

static void on_vm_changed(void *ctx, struct vm *vm)
{
	struct fs *fs = ctx;
	int64_t id = vm_record(vm)->id;

	for (int k = VMF_DIR + 1; k < VMF_END; k++) {
		uint64_t ino = vm_ino(id, (enum vm_file)k);
		if (!(vm_nodes[k].flags & NODE_STREAM))
			snapshot_invalidating(fs, ino, notify_inval_inode(fs->notifier, ino));
	}
	streams_wake(fs, id); /* a stopped VM's console ends */
}

static void on_vm_output(void *ctx, struct vm *vm, enum vmm_output which)
{
	struct fs *fs = ctx;
	int64_t id = vm_record(vm)->id;

	if (which == VMM_OUT_LOGS)
		notify_inval_inode(fs->notifier, vm_ino(id, VMF_LOGS));
	else
		streams_wake(fs, id);
}

static void on_vm_removed(void *ctx, struct vm *vm)
{
	snapshots_drop_vm(ctx, vm_record(vm)->id);
	fs_sessions_changed(ctx, vm, 0, 0); /* its sessions' waits end */
	streams_wake(ctx, vm_record(vm)->id);
}

static void on_event(void *ctx)
{
	streams_wake(ctx, 0);
}

/* Drops the kernel's cached listing of images/ or kernels/. */
static void on_art_listing_changed(void *ctx, enum art_kind kind)
{
	struct fs *fs = ctx;

	notify_inval_inode(fs->notifier, kind == ART_IMAGE ? INO_IMAGES : INO_KERNELS);
}

/* Drops the kernel's cached listing of templates/. */
static void on_templates_changed(void *ctx)
{
	struct fs *fs = ctx;

	notify_inval_inode(fs->notifier, INO_TEMPLATES);
}

static void on_session_changed(void *ctx, struct vm *vm, int64_t id, unsigned what)
{
	fs_sessions_changed(ctx, vm, id, what);
}

const struct vmm_observer fs_observer_template = {
	.session_changed = on_session_changed,
	.templates_changed = on_templates_changed,
	.art_listing_changed = on_art_listing_changed,
	.vm_changed = on_vm_changed,
	.vm_output = on_vm_output,
	.vm_removed = on_vm_removed,
	.event = on_event,
};
