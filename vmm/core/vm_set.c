/* Changing a stopped VM's sizing, image and kernel. vcpu and memory_mib
 * change at once; what touches the root disk (a disk_size that grows it
 * with qemu-img resize, an image that replaces it) runs on a worker, and
 * an image or kernel that only the http(s) catalog may list waits for
 * that catalog's first copy. Meanwhile the write is parked and the VM is
 * "applying": another change or a start is EBUSY. */
#include "vm.h"
#include "art.h"
#include "disk.h"
#include "disk_raw.h"
#include "proc.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

static const char *const field_names[] = { "vcpu", "memory_mib", "disk_size", "image", "kernel" };

/* The control file a field is written through, whose error it sets or clears. */
static enum vm_error_of field_file(enum vm_field field)
{
	switch (field) {
	case VM_FIELD_VCPU:
		return VM_ERR_VCPU;
	case VM_FIELD_MEMORY:
		return VM_ERR_MEMORY;
	case VM_FIELD_DISK:
		return VM_ERR_DISK;
	case VM_FIELD_IMAGE:
		return VM_ERR_IMAGE;
	case VM_FIELD_KERNEL:
		return VM_ERR_KERNEL;
	}
	return VM_ERR_NONE;
}

/* A change that waits: for the catalog, then maybe for a disk job. */
struct set_op {
	struct vmm *m;
	int64_t vm_id;
	enum vm_field field;
	char value[VM_NAME_MAX + 1];       /* a name (checked) or a size (parsed) */
	struct vmm_waiter *waiters;        /* the front's */
	struct vmm_waiter *catalog_waiter; /* while waiting for the catalog */
	/* the disk job */
	bool resize; /* qemu-img resize (or truncate) to size; else a new disk from image */
	uint64_t size;
	char *disk, *images_dir;
	char image[VM_NAME_MAX + 1], kernel[64];
	bool raw_disks;
	int result;
	bgr_error err;
};

static int resize_disk(const char *disk, bool raw, uint64_t size, bgr_error *err)
{
	_cleanup_free_ char *arg = xasprintf("%" PRIu64, size);
	char *argv[] = { "qemu-img", "resize", "-q", "-f", "qcow2", (char *)disk, arg, NULL };

	if (raw) /* sparse: growing the file is enough, the guest grows its fs */
		return truncate(disk, (off_t)size) < 0
			       ? bgr_fail(err, errno, "cannot grow %s: %s", disk, strerror(errno))
			       : 0;
	if (proc_run(argv, -1) != 0)
		return bgr_fail(err, EIO, "qemu-img resize of %s failed", disk);
	return 0;
}

/* A disk_size written on the VM must hold its (installed) image whole. */
static int disk_holds_image(struct vmm *m, struct vm *vm, uint64_t size, bgr_error *err)
{
	uint64_t min = vm_image_min_disk(m, vm->rec.image);
	char need[32];

	if (size >= min)
		return 0;
	size_format(min, need, sizeof(need));
	return bgr_fail(err, EINVAL, "disk_size is smaller than image '%s' (%s)", vm->rec.image, need);
}

/* A new image means a new root disk: build it aside, then swap it in. */
static int replace_root_disk(struct set_op *op, bgr_error *err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.new", op->disk);
	int r;

	unlink(tmp);
	r = op->raw_disks ? disk_create_raw_root(op->images_dir, op->image, op->size, tmp, NULL, NULL, err)
			  : disk_create_root(op->images_dir, op->image, op->size, tmp, err);
	if (r < 0)
		return r;
	if (rename(tmp, op->disk) < 0) {
		unlink(tmp);
		return bgr_fail(err, errno, "cannot replace the root disk: %s", strerror(errno));
	}
	return 0;
}

static void op_free(struct set_op *op)
{
	free(op->disk);
	free(op->images_dir);
	free(op);
}

/* The end of a change: saved and logged (an error of its file cleared), or
 * recorded as the VM's error. */
static void op_finish(struct set_op *op, int r, const bgr_error *err)
{
	struct vmm *m = op->m;
	struct vm *vm = vmm_vm_by_id(m, op->vm_id);

	if (vm) {
		vm->applying = false;
		if (r == 0) {
			vmm_vm_log(m, vm, "%s set to %s", field_names[op->field], op->value);
			vm_clear_error(m, vm, field_file(op->field));
		} else if (r != -ESHUTDOWN) {
			vmm_vm_fail(m, vm, field_file(op->field), err);
		}
	}
	waiters_complete(&op->waiters, vm ? r : -ENOENT);
	op_free(op);
}

static void disk_work(void *data)
{
	struct set_op *op = data;

	op->result =
		op->resize ? resize_disk(op->disk, op->raw_disks, op->size, &op->err) : replace_root_disk(op, &op->err);
}

static void disk_done(void *data)
{
	struct set_op *op = data;
	struct vm *vm = vmm_vm_by_id(op->m, op->vm_id);
	struct vm_record before;
	int r = op->result;

	if (r == 0 && vm) {
		before = vm->rec;
		if (op->resize) {
			vm->rec.disk_size = op->size;
			vm->rec.user_set |= VM_SET_DISK;
		} else {
			snprintf(vm->rec.image, sizeof(vm->rec.image), "%s", op->image);
			vm->rec.user_set |= VM_SET_IMAGE;
			vm->rec.booted = 0; /* a fresh disk: its next start may restore a template */
			vm->rec.template_key[0] = '\0';
			if (op->kernel[0] && !(vm->rec.user_set & VM_SET_KERNEL))
				snprintf(vm->rec.kernel, sizeof(vm->rec.kernel), "%s", op->kernel);
		}
		r = vm_save(op->m, vm, &op->err);
		if (r < 0)
			vm->rec = before;
	}
	op_finish(op, r, &op->err);
}

/* Runs the disk job; the record changes when it is done. */
static int start_disk_job(struct set_op *op, struct vm *vm)
{
	struct vmm *m = op->m;

	op->disk = xstrdup(vm->root_disk);
	op->images_dir = xstrdup(m->paths->images_dir);
	op->raw_disks = m->driver->raw_disks;
	if (!op->resize)
		op->size = vm->rec.disk_size;
	workers_submit(m->workers, disk_work, disk_done, op);
	return 1;
}

/* image or kernel, once the catalog can answer: 0 done, 1 a disk job
 * runs, -errno. */
static int set_artifact(struct set_op *op, struct vm *vm, bgr_error *err)
{
	struct vmm *m = op->m;
	const char *value = op->value;
	char kernel[64];
	int r;

	if (op->field == VM_FIELD_KERNEL) {
		r = 0;
		if (!art_installed(m, ART_KERNEL, value) &&
		    !(vmm_art_by_name(m, ART_KERNEL, value) &&
		      vmm_art_by_name(m, ART_KERNEL, value)->state == ART_PULLING)) {
			struct catalog_entry e;
			r = art_catalog_find(m, ART_KERNEL, value, &e, err);
			if (r < 0)
				r = bgr_fail(err, err->code, "kernel '%s' is not installed and %s", value,
					     err->code == ENOENT ? "no catalog lists it" : err->msg);
		}
		if (r == 0) {
			snprintf(vm->rec.kernel, sizeof(vm->rec.kernel), "%s", value);
			vm->rec.user_set |= VM_SET_KERNEL;
		}
		return r;
	}
	r = vm_image_available(m, value, kernel, err);
	if (r < 0 || strcmp(value, vm->rec.image) == 0)
		goto out;
	if (art_installed(m, ART_IMAGE, value)) {
		r = vm_disk_fit_image(m, vm, value, err); /* may grow a default disk_size */
		if (r < 0)
			goto out;
		snprintf(op->image, sizeof(op->image), "%s", value);
		snprintf(op->kernel, sizeof(op->kernel), "%s", kernel);
		return start_disk_job(op, vm);
	}
	if (unlink(vm->root_disk) < 0 && errno != ENOENT) /* made from the image once it is pulled, at start */
		r = bgr_fail(err, errno, "cannot remove the old root disk: %s", strerror(errno));
	if (r == 0 && kernel[0] && !(vm->rec.user_set & VM_SET_KERNEL))
		snprintf(vm->rec.kernel, sizeof(vm->rec.kernel), "%s", kernel);
out:
	if (r == 0) {
		snprintf(vm->rec.image, sizeof(vm->rec.image), "%s", value);
		vm->rec.user_set |= VM_SET_IMAGE;
		vm->rec.booted = 0;
		vm->rec.template_key[0] = '\0';
	}
	return r;
}

/* 0 saved, 1 a disk job runs, -errno (the record unchanged). */
static int apply_artifact(struct set_op *op, struct vm *vm, bgr_error *err)
{
	struct vm_record before = vm->rec;
	int r = set_artifact(op, vm, err);

	if (r == 0)
		r = vm_save(op->m, vm, err);
	if (r < 0)
		vm->rec = before;
	return r;
}

static void catalog_ready(void *ctx, int result)
{
	struct set_op *op = ctx;
	struct vm *vm = vmm_vm_by_id(op->m, op->vm_id);
	bgr_error err = { 0 };
	int r;

	(void)result; /* the lookup tells what a failed fetch means */
	op->catalog_waiter = NULL;
	if (atomic_load(&op->m->quitting) || !vm) {
		op_finish(op, vm ? -ESHUTDOWN : -ENOENT, &err);
		return;
	}
	r = apply_artifact(op, vm, &err);
	if (r != 1)
		op_finish(op, r, &err);
}

static struct set_op *op_new(struct vmm *m, struct vm *vm, enum vm_field field, const char *value)
{
	struct set_op *op = xcalloc(1, sizeof(*op));

	op->m = m;
	op->vm_id = vm->rec.id;
	op->field = field;
	snprintf(op->value, sizeof(op->value), "%s", value);
	return op;
}

/* Whether a lookup of the image or kernel may need the http(s) catalog. */
static bool needs_catalog(struct vmm *m, enum vm_field field, const char *value)
{
	enum art_kind kind = field == VM_FIELD_IMAGE ? ART_IMAGE : ART_KERNEL;
	struct artifact *a = vmm_art_by_name(m, kind, value);

	return !art_installed(m, kind, value) && !(a && a->state == ART_PULLING);
}

static int set(struct vmm *m, struct vm *vm, enum vm_field field, const char *value, vmm_done_fn fn, void *ctx,
	       struct vmm_waiter **ret_waiter, bgr_error *err)
{
	struct vm_record before = vm->rec;
	struct set_op *op;
	uint64_t size;
	int r;

	if (vm->rec.state != VM_STOPPED && vm->rec.state != VM_ERROR)
		return bgr_fail(err, EBUSY, "cannot change settings while the VM is %s; stop it first",
				vm_state_name(vm->rec.state));
	if (vm->renaming_to)
		return bgr_fail(err, EBUSY, "the VM is being renamed to %s; try again once that returned",
				vm->renaming_to);
	if (vm->applying || vm->making_disk)
		return bgr_fail(err, EBUSY, "another change of this VM is being applied; try again once it returned");
	switch (field) {
	case VM_FIELD_VCPU:
		r = parse_vcpu(value, host_cpus(), &vm->rec.vcpu, err);
		vm->rec.user_set |= VM_SET_VCPU;
		break;
	case VM_FIELD_MEMORY:
		r = parse_memory_mib(value, host_ram_mib(), &vm->rec.memory_mib, err);
		vm->rec.user_set |= VM_SET_MEMORY;
		break;
	case VM_FIELD_DISK:
		r = parse_disk_size(value, &size, err);
		if (r == 0)
			r = disk_holds_image(m, vm, size, err);
		if (r < 0 || size == vm->rec.disk_size || access(vm->root_disk, F_OK) < 0) {
			/* no disk yet: it is made at the first start, at this size */
			if (r == 0)
				vm->rec.disk_size = size;
			vm->rec.user_set |= VM_SET_DISK;
			break;
		}
		if (size < vm->rec.disk_size) {
			r = bgr_fail(err, EINVAL, "disk_size cannot shrink (now %" PRIu64 " bytes)", vm->rec.disk_size);
			break;
		}
		op = op_new(m, vm, field, value);
		op->resize = true;
		op->size = size;
		vm->applying = true;
		*ret_waiter = waiter_add(&op->waiters, fn, ctx);
		return start_disk_job(op, vm);
	default:
		r = artifact_name_check(field == VM_FIELD_IMAGE ? "image" : "kernel", value, err);
		if (r < 0)
			break;
		op = op_new(m, vm, field, value);
		if (needs_catalog(m, field, value) &&
		    art_catalog_ready(m, catalog_ready, op, &op->catalog_waiter) == 1) {
			vm->applying = true;
			*ret_waiter = waiter_add(&op->waiters, fn, ctx);
			return 1;
		}
		r = apply_artifact(op, vm, err);
		if (r == 1) {
			vm->applying = true;
			*ret_waiter = waiter_add(&op->waiters, fn, ctx);
			return 1;
		}
		op_free(op);
		if (r < 0)
			return r;
		vmm_vm_log(m, vm, "%s set to %s", field_names[field], value);
		return 0;
	}
	if (r == 0)
		r = vm_save(m, vm, err);
	if (r < 0) {
		vm->rec = before;
		return r;
	}
	vmm_vm_log(m, vm, "%s set to %s", field_names[field], value);
	return 0;
}

/* A write to a sizing file: a refusal is the VM's error, a success clears
 * an error of the same file (a parked one does both in op_finish). */
int vmm_vm_set(struct vmm *m, struct vm *vm, enum vm_field field, const char *value, vmm_done_fn fn, void *ctx,
	       struct vmm_waiter **ret_waiter, bgr_error *err)
{
	int r = set(m, vm, field, value, fn, ctx, ret_waiter, err);

	if (r < 0)
		vmm_vm_fail(m, vm, field_file(field), err);
	else if (r == 0)
		vm_clear_error(m, vm, field_file(field));
	return r;
}
