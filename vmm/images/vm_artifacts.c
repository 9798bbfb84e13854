/* What a VM needs before it boots: its image and kernel installed (pulled
 * from the catalog when missing, the seed's auto-pull) and its root disk
 * made from the image. */
#include "art.h"
#include "disk.h"
#include "disk_raw.h"
#include "snapshots.h"
#include "util.h"
#include "vm.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#define PROGRESS_LOG_EVERY_MS 5000

struct catalog_wait {
	struct vmm *m;
	int64_t vm_id;
};

/* The catalog's first copy came (or its fetch failed): a start that
 * waited for it looks its image up now. */
static void catalog_waited(void *ctx, int result)
{
	struct catalog_wait *w = ctx;
	struct vmm *m = w->m;
	struct vm *vm = vmm_vm_by_id(m, w->vm_id);

	(void)result;
	free(w);
	if (!atomic_load(&m->quitting) && vm && vm->awaiting_pull)
		m->hooks.start_waited(m, vm, 0, NULL);
}

/* 0 installed, 1 being pulled (started now if need be) or waiting for the
 * catalog, -errno when it can be had from nowhere. */
static int need(struct vmm *m, struct vm *vm, enum art_kind kind, const char *name, bgr_error *err)
{
	struct catalog_wait *w;
	struct vmm_waiter *waiter;
	struct artifact *a;
	int r;

	if (art_installed(m, kind, name))
		return 0;
	a = vmm_art_by_name(m, kind, name);
	if (a && a->state == ART_PULLING)
		return 1;
	w = xcalloc(1, sizeof(*w));
	*w = (struct catalog_wait){ m, vm->rec.id };
	r = vmm_art_pull(m, kind, name, catalog_waited, w, &waiter, &a, err);
	if (r == 1) {
		vmm_vm_log(m, vm, "%s %s is not installed: fetching the catalog first", art_kind_word(kind), name);
		return 1;
	}
	free(w);
	if (r < 0)
		return bgr_wrap(err, "%s '%s' is not installed", art_kind_word(kind), name);
	vmm_vm_log(m, vm, "%s %s is not installed: pulling it", art_kind_word(kind), name);
	return 1;
}

/* The image's size rounded up to 1 MiB: the least a root disk can hold. */
uint64_t vm_image_min_disk(struct vmm *m, const char *image)
{
	_cleanup_free_ char *base = NULL;
	struct stat st;

	if (disk_image_path(m->paths->images_dir, image, &base, NULL) < 0 || stat(base, &st) < 0)
		return 0;
	return ((uint64_t)st.st_size + (1 << 20) - 1) & ~((uint64_t)(1 << 20) - 1);
}

/* A root disk holds the whole image: a disk_size that came from the
 * defaults grows to the image's size; one written on this VM is refused. */
int vm_disk_fit_image(struct vmm *m, struct vm *vm, const char *image, bgr_error *err)
{
	uint64_t min = vm_image_min_disk(m, image);
	char have[32], need[32];

	if (min <= vm->rec.disk_size)
		return 0;
	size_format(vm->rec.disk_size, have, sizeof(have));
	size_format(min, need, sizeof(need));
	if (vm->rec.user_set & VM_SET_DISK)
		return bgr_fail(err, EINVAL,
				"disk_size %s (set on this VM) is smaller than image '%s' (%s): write a larger "
				"disk_size first",
				have, image, need);
	vmm_vm_log(m, vm, "disk_size grows from %s (the default) to %s to hold image %s", have, need, image);
	vm->rec.disk_size = min;
	return 0;
}

/* The root disk of a VM whose image came after its mkdir, made on a
 * worker (a raw copy may take long): built aside, then renamed in. */
struct disk_job {
	struct vmm *m;
	int64_t vm_id;
	char *images_dir, *image, *dest, *tmp;
	char *backing; /* a clone's: the template's disk, NULL for a disk of the image */
	char key[24];
	uint64_t size;
	bool raw;
	int result;
	bgr_error err;
};

static void disk_work(void *data)
{
	struct disk_job *j = data;

	unlink(j->tmp);
	if (j->backing && j->raw) { /* Firecracker: a reflink or sparse copy of the template's raw disk */
		bool reflinked;
		int r = disk_copy_sparse(j->backing, j->tmp, &reflinked);
		j->result = r < 0 ? bgr_fail(&j->err, -r, "cannot copy %s: %s", j->backing, strerror(-r)) : 0;
	} else if (j->backing)
		j->result = disk_create_overlay(j->backing, j->size, j->tmp, &j->err);
	else
		j->result = j->raw ? disk_create_raw_root(j->images_dir, j->image, j->size, j->tmp, NULL, NULL, &j->err)
				   : disk_create_root(j->images_dir, j->image, j->size, j->tmp, &j->err);
	if (j->result == 0 && rename(j->tmp, j->dest) < 0) {
		j->result = bgr_fail(&j->err, errno, "cannot create root disk %s: %s", j->dest, strerror(errno));
		unlink(j->tmp);
	}
}

static void disk_done(void *data)
{
	struct disk_job *j = data;
	struct vm *vm = vmm_vm_by_id(j->m, j->vm_id);
	bgr_error ignore;

	if (vm && j->backing) {
		vm->making_disk = false;
		if (j->result == 0) {
			snprintf(vm->rec.template_key, sizeof(vm->rec.template_key), "%s", j->key);
			vm_save(j->m, vm, &ignore);
		} else {
			/* the fresh disk of the image is still there: boot it cold */
			vmm_vm_log(j->m, vm, "snapshots: cannot make the clone's disk (%s); booting cold", j->err.msg);
			vm->snap = SNAP_NONE;
		}
		if (vm->awaiting_pull && !atomic_load(&j->m->quitting))
			j->m->hooks.start_waited(j->m, vm, 0, "");
	} else if (vm) {
		vm->making_disk = false;
		if (j->result == 0) {
			vm->rec.disk_size = j->size;
			vm_save(j->m, vm, &ignore);
		}
		/* a start that was cancelled meanwhile leaves the disk for the next */
		if (vm->awaiting_pull && !atomic_load(&j->m->quitting))
			j->m->hooks.start_waited(j->m, vm, j->result, j->err.msg);
	}
	free(j->images_dir);
	free(j->image);
	free(j->dest);
	free(j->tmp);
	free(j->backing);
	free(j);
}

/* A fresh VM's start that restores template t: its root disk becomes an
 * overlay on t's disk (made on a worker, renamed over the fresh one). */
static int make_clone_disk(struct vmm *m, struct vm *vm, const struct template *t)
{
	struct disk_job *j = xcalloc(1, sizeof(*j));

	j->m = m;
	j->vm_id = vm->rec.id;
	j->dest = xstrdup(vm->root_disk);
	j->tmp = xasprintf("%s.new", vm->root_disk);
	j->size = t->in.disk_size;
	j->backing = xasprintf("%s/%s", t->dir, m->driver->tpl_disk_name ? m->driver->tpl_disk_name : TPL_DISK);
	j->raw = m->driver->raw_disks;
	snprintf(j->key, sizeof(j->key), "%s", t->key);
	vm->making_disk = true;
	workers_submit(m->workers, disk_work, disk_done, j);
	return 1;
}

/* Decides once per start whether it restores a template (a fresh VM
 * only: a booted disk has a life of its own), makes one, or neither. */
static int plan_snapshot(struct vmm *m, struct vm *vm)
{
	struct template *t;
	char why[256];

	if (vm->snap_planned)
		return 0;
	vm->snap_planned = true;
	vm->snap = SNAP_NONE;
	if (vm->rec.booted)
		return 0;
	vm->snap = templates_plan(m, vm, &t, why, sizeof(why));
	if (why[0])
		vmm_vm_log(m, vm, "snapshots: %s", why);
	if (vm->snap == SNAP_CLONE)
		return make_clone_disk(m, vm, t);
	return 0;
}

/* 1: the disk is being made (a start waits for it like for a pull), or
 * -errno when disk_size cannot hold the image. */
static int make_root_disk(struct vmm *m, struct vm *vm, bgr_error *err)
{
	struct disk_job *j;
	int r;

	if (vm->making_disk)
		return 1;
	r = vm_disk_fit_image(m, vm, vm->rec.image, err); /* saved once the disk is made */
	if (r < 0)
		return r;
	j = xcalloc(1, sizeof(*j));
	j->m = m;
	j->vm_id = vm->rec.id;
	j->images_dir = xstrdup(m->paths->images_dir);
	j->image = xstrdup(vm->rec.image);
	j->dest = xstrdup(vm->root_disk);
	j->tmp = xasprintf("%s.new", vm->root_disk);
	j->size = vm->rec.disk_size;
	j->raw = m->driver->raw_disks;
	vm->making_disk = true;
	workers_submit(m->workers, disk_work, disk_done, j);
	return 1;
}

int vm_prepare_artifacts(struct vmm *m, struct vm *vm, bgr_error *err)
{
	int r = need(m, vm, ART_IMAGE, vm->rec.image, err);

	/* one at a time: an image's bundle often brings its kernel along */
	if (r != 0)
		return r;
	r = need(m, vm, ART_KERNEL, vm->rec.kernel, err);
	if (r != 0)
		return r;
	if (vm->making_disk)
		return 1;
	if (access(vm->root_disk, F_OK) == 0)
		return plan_snapshot(m, vm);
	return make_root_disk(m, vm, err);
}

bool vm_waits_for_artifact(const struct vm *vm, enum art_kind kind, const char *name)
{
	return vm->awaiting_pull && !strcmp(kind == ART_IMAGE ? vm->rec.image : vm->rec.kernel, name);
}

void vm_artifact_progress(struct vmm *m, enum art_kind kind, const char *name)
{
	struct artifact *a = vmm_art_by_name(m, kind, name);
	long long now = now_mono_ms();
	char status[160];

	if (!a)
		return;
	vmm_art_status(a, status, sizeof(status));
	for (size_t i = 0; i < m->n_vms; i++) {
		struct vm *vm = m->vms[i];
		if (!vm_waits_for_artifact(vm, kind, name) || now - vm->pull_logged_ms < PROGRESS_LOG_EVERY_MS)
			continue;
		vm->pull_logged_ms = now;
		vmm_vm_log(m, vm, "%s %s: %s", art_kind_word(kind), name, status);
	}
}

void vm_cancel_pull_wait(struct vmm *m, struct vm *vm)
{
	if (!vm->awaiting_pull)
		return;
	vm->awaiting_pull = false;
	vmm_vm_log(m, vm, "start cancelled while pulling");
	waiters_complete(&vm->start_waiters, -ECANCELED);
}

/* An image that is installed, being pulled, or listed in a catalog. */
int vm_image_available(struct vmm *m, const char *image, char kernel[64], bgr_error *err)
{
	struct artifact *a;
	struct catalog_entry e;
	struct image_meta meta;
	bgr_error ignore;

	kernel[0] = '\0';
	if (art_installed(m, ART_IMAGE, image)) {
		if (image_meta_read(m->paths->images_dir, image, &meta, &ignore) == 0 && meta.kernel[0])
			snprintf(kernel, 64, "%s", meta.kernel);
		return 0;
	}
	a = vmm_art_by_name(m, ART_IMAGE, image);
	if (a && a->state == ART_PULLING)
		return 0;
	if (art_catalog_find(m, ART_IMAGE, image, &e, err) < 0)
		return bgr_fail(err, err->code, "image '%s' is not installed and %s (tools/mkimage builds tiny)", image,
				err->code == ENOENT ? "no catalog lists it" : err->msg);
	snprintf(kernel, 64, "%s", e.kernel);
	return 0;
}
