/* Changing a stopped VM's sizing, image and kernel. */
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

static int resize_disk(struct vm *vm, uint64_t size, bgr_error *err)
{
	_cleanup_free_ char *arg = xasprintf("%" PRIu64, size);
	char *argv[] = { "qemu-img", "resize", "-q", "-f", "qcow2", vm->root_disk, arg, NULL };

	if (access(vm->root_disk, F_OK) < 0) /* made at the first start, at this size */
		return 0;
	if (size < vm->rec.disk_size)
		return bgr_fail(err, EINVAL, "disk_size cannot shrink (now %" PRIu64 " bytes)", vm->rec.disk_size);
	if (vm->m->driver->raw_disks) /* sparse: growing the file is enough, the guest grows its fs */
		return truncate(vm->root_disk, (off_t)size) < 0
			       ? bgr_fail(err, errno, "cannot grow %s: %s", vm->root_disk, strerror(errno))
			       : 0;
	if (proc_run(argv, -1) != 0)
		return bgr_fail(err, EIO, "qemu-img resize of %s failed", vm->root_disk);
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
static int replace_root_disk(struct vmm *m, struct vm *vm, const char *image, bgr_error *err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.new", vm->root_disk);
	int r;

	unlink(tmp);
	r = m->driver->raw_disks ? disk_create_raw_root(m->paths->images_dir, image, vm->rec.disk_size, tmp, err)
				 : disk_create_root(m->paths->images_dir, image, vm->rec.disk_size, tmp, err);
	if (r < 0)
		return r;
	if (rename(tmp, vm->root_disk) < 0) {
		unlink(tmp);
		return bgr_fail(err, errno, "cannot replace the root disk: %s", strerror(errno));
	}
	return 0;
}

static int set_artifact(struct vmm *m, struct vm *vm, enum vm_field field, const char *value, bgr_error *err)
{
	char kernel[64];
	int r;

	if (field == VM_FIELD_KERNEL) {
		r = artifact_name_check("kernel", value, err);
		if (r == 0 && !art_installed(m, ART_KERNEL, value) &&
		    !(vmm_art_by_name(m, ART_KERNEL, value) && vmm_art_by_name(m, ART_KERNEL, value)->state == ART_PULLING)) {
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
	r = artifact_name_check("image", value, err);
	if (r == 0)
		r = vm_image_available(m, value, kernel, err);
	if (r < 0 || strcmp(value, vm->rec.image) == 0)
		goto out;
	if (art_installed(m, ART_IMAGE, value)) {
		r = vm_disk_fit_image(m, vm, value, err);
		if (r == 0)
			r = replace_root_disk(m, vm, value, err);
	} else if (unlink(vm->root_disk) < 0 && errno != ENOENT) {
		/* the disk is made from the image once it is pulled, at start */
		r = bgr_fail(err, errno, "cannot remove the old root disk: %s", strerror(errno));
	}
	if (r == 0 && kernel[0] && !(vm->rec.user_set & VM_SET_KERNEL))
		snprintf(vm->rec.kernel, sizeof(vm->rec.kernel), "%s", kernel);
out:
	if (r == 0) {
		snprintf(vm->rec.image, sizeof(vm->rec.image), "%s", value);
		vm->rec.user_set |= VM_SET_IMAGE;
	}
	return r;
}

int vmm_vm_set(struct vmm *m, struct vm *vm, enum vm_field field, const char *value, bgr_error *err)
{
	struct vm_record before = vm->rec;
	uint64_t size;
	int r;

	if (vm->rec.state != VM_STOPPED && vm->rec.state != VM_ERROR)
		return bgr_fail(err, EBUSY, "cannot change settings while the VM is %s; stop it first",
				vm_state_name(vm->rec.state));
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
		if (r == 0 && size != vm->rec.disk_size)
			r = resize_disk(vm, size, err);
		if (r == 0)
			vm->rec.disk_size = size;
		vm->rec.user_set |= VM_SET_DISK;
		break;
	default:
		r = set_artifact(m, vm, field, value, err);
		break;
	}
	if (r == 0)
		r = vm_save(m, vm, err);
	if (r < 0) {
		vm->rec = before;
		return r;
	}
	static const char *const names[] = { "vcpu", "memory_mib", "disk_size", "image", "kernel" };
	vmm_vm_log(m, vm, "%s set to %s", names[field], value);
	return 0;
}
