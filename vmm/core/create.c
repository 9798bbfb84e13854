/* mkdir vms/NAME, off the loop. The name is reserved at once; what takes
 * time (the catalog's first fetch, the pins of an earlier VM of that name
 * or address, the root disk, the file_sync work disk) runs on a worker or
 * waits for a helper process the loop reads, and the record and its
 * directory appear together, in one step on the loop, when it is done. A
 * create that is cancelled (Ctrl-C) or fails leaves nothing: the
 * directory is built under a temporary name and removed, and the record
 * only exists once everything else does. */
#include "art.h"
#include "vm.h"
#include "disk.h"
#include "disk_raw.h"
#include "file_sync.h"
#include "log.h"
#include "network.h"
#include "pins_cache.h"
#include "ssh_helper.h"
#include "util.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

struct vm *vm_alloc(struct vmm *m, const struct vm_record *rec)
{
	struct vm *vm = xcalloc(1, sizeof(*vm));

	vm->m = m;
	vm->rec = *rec;
	vm->pidfd = vm->agent_fd = vm->console_fd = vm->inotify_wd = -1;
	vm->dir = xasprintf("%s/%lld", m->paths->vms_dir, (long long)rec->id);
	vm->console_log = xasprintf("%s/console.log", vm->dir);
	vm->log_path = xasprintf("%s/vm.log", vm->dir);
	vm->root_disk = xasprintf("%s/%s", vm->dir, m->driver->root_disk_name);
	vm->qmp_sock = xasprintf("%s/%s", vm->dir, m->driver->control_sock_name);
	vm->console_sock = xasprintf("%s/%s", vm->dir, m->driver->console_name);
	vm->agent_sock = xasprintf("%s/agent.sock", vm->dir);
	return vm;
}

void vms_append(struct vmm *m, struct vm *vm)
{
	if (m->n_vms == m->cap_vms) {
		m->cap_vms = m->cap_vms ? m->cap_vms * 2 : 16;
		m->vms = realloc(m->vms, m->cap_vms * sizeof(*m->vms));
		if (!m->vms)
			abort();
	}
	m->vms[m->n_vms++] = vm;
}

/* The default disk holds at least the whole image (rounded up to 1 MiB). */
uint64_t default_disk_size(struct vmm *m, const char *image)
{
	uint64_t min = vm_image_min_disk(m, image);

	return min > m->settings.disk_size ? min : m->settings.disk_size;
}

void init_record(struct vmm *m, const char *name, struct vm_record *rec)
{
	const struct vmm_settings *s = &m->settings;

	memset(rec, 0, sizeof(*rec));
	snprintf(rec->name, sizeof(rec->name), "%s", name);
	rec->state = VM_STOPPED;
	rec->vcpu = s->vcpu;
	rec->memory_mib = s->memory_mib;
	snprintf(rec->image, sizeof(rec->image), "%s", s->image);
	rec->disk_size = default_disk_size(m, rec->image);
	snprintf(rec->kernel, sizeof(rec->kernel), "%s", s->kernel);
	rec->created = time(NULL);
}

struct vmm_create {
	struct vmm *m;
	struct vm_record rec;
	vmm_create_fn fn;
	void *ctx;
	struct vmm_waiter *catalog_waiter; /* waiting for the catalog's first copy */
	atomic_bool cancelled;
	/* the worker's job: what it reads */
	char *tmp;  /* vms_dir/.new-NAME.SEQ, renamed to vms_dir/ID at the end */
	char *disk; /* the root disk to make; NULL while the image is still to be pulled */
	char *images_dir;
	bool raw_disks;
	const struct vmm_settings *settings; /* read-only once loaded */
	char *known_hosts;
	char hosts[3][96];
	int n_hosts;
	/* ... and what it leaves */
	int result;
	bgr_error err;
	bool dropped_pins;
	struct vmm_create *next;
};

static unsigned long long tmp_seq;

bool vm_create_reserved(struct vmm *m, const char *name)
{
	for (struct vmm_create *c = m->creates; c; c = c->next)
		if (strcmp(c->rec.name, name) == 0)
			return true;
	return false;
}

void vm_creates_each_ip(struct vmm *m, void (*fn)(void *ctx, const char *ip), void *ctx)
{
	for (struct vmm_create *c = m->creates; c; c = c->next)
		if (c->rec.ip[0])
			fn(ctx, c->rec.ip);
}

static void create_free(struct vmm_create *c)
{
	free(c->tmp);
	free(c->disk);
	free(c->images_dir);
	free(c->known_hosts);
	free(c);
}

/* Takes c off the list and tells the front; c is gone afterwards. */
static void finish(struct vmm_create *c, struct vm *vm, const bgr_error *err)
{
	struct vmm *m = c->m;
	bgr_error stopping;

	if (!vm && atomic_load(&m->quitting) && err->code == ECANCELED) {
		bgr_fail(&stopping, ESHUTDOWN, "bangerd is stopping");
		err = &stopping;
	}
	for (struct vmm_create **pp = &m->creates; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	c->fn(c->ctx, vm, err);
	create_free(c);
}

static void finish_err(struct vmm_create *c, int code, const char *why)
{
	bgr_error e;

	bgr_fail(&e, code, "%s", why);
	finish(c, NULL, &e);
}

static bool job_cancelled(void *data)
{
	struct vmm_create *c = data;

	return atomic_load(&c->cancelled) || atomic_load(&c->m->quitting);
}

/* On a worker: everything slow; touches only files and c. */
static void create_work(void *data)
{
	struct vmm_create *c = data;
	const char *list[3];
	int r = 0;

	for (int i = 0; i < c->n_hosts; i++)
		list[i] = c->hosts[i];
	/* the pins of an earlier VM with this name or address go first */
	if (pins_may_hold(c->known_hosts, list, (size_t)c->n_hosts)) {
		r = ssh_helper_drop(c->known_hosts, list, (size_t)c->n_hosts, &c->err);
		c->dropped_pins = r == 0;
	}
	if (r == 0 && job_cancelled(c))
		r = bgr_fail(&c->err, ECANCELED, "cancelled");
	if (r == 0 && mkdir(c->tmp, 0700) < 0)
		r = bgr_fail(&c->err, errno, "cannot create %s: %s", c->tmp, strerror(errno));
	if (r == 0 && c->disk)
		r = c->raw_disks ? disk_create_raw_root(c->images_dir, c->rec.image, c->rec.disk_size, c->disk,
							job_cancelled, c, &c->err)
				 : disk_create_root(c->images_dir, c->rec.image, c->rec.disk_size, c->disk, &c->err);
	if (r == 0)
		r = file_sync_build(c->settings, c->tmp, job_cancelled, c, &c->err);
	if (r == 0 && job_cancelled(c))
		r = bgr_fail(&c->err, ECANCELED, "cancelled");
	if (r < 0) {
		if (job_cancelled(c))
			bgr_fail(&c->err, ECANCELED, "cancelled");
		rm_rf(c->tmp);
	}
	c->result = r;
}

static void removed_aside(void *data)
{
	struct vmm_create *c = data;

	finish_err(c, ECANCELED, "cancelled");
}

static void rm_path_job(void *path)
{
	rm_rf(path);
}

static void rm_tmp_job(void *data)
{
	struct vmm_create *c = data;

	rm_rf(c->tmp);
}

/* The record is inserted and the directory renamed to its id in one
 * transaction: a crash leaves at most a directory without a record,
 * which start-up sweeps. */
static int commit(struct vmm_create *c, bgr_error *err)
{
	struct vmm *m = c->m;
	_cleanup_free_ char *final = NULL;
	int r = store_begin(m->store, err);

	if (r < 0)
		return r;
	r = store_vm_insert(m->store, &c->rec, err);
	if (r < 0)
		goto rollback;
	final = xasprintf("%s/%lld", m->paths->vms_dir, (long long)c->rec.id);
	if (rename(c->tmp, final) < 0) {
		r = bgr_fail(err, errno, "cannot create %s: %s", final, strerror(errno));
		goto rollback;
	}
	r = store_commit(m->store, err);
	if (r < 0)
		rename(final, c->tmp);
	return r;
rollback:
	store_rollback(m->store);
	return r;
}

static void create_done(void *data)
{
	struct vmm_create *c = data;
	struct vmm *m = c->m;
	struct vm *vm;
	bgr_error err;

	if (c->dropped_pins)
		vmm_pins_refresh(m, NULL, NULL, NULL);
	if (c->result < 0) {
		finish(c, NULL, &c->err);
		return;
	}
	if (job_cancelled(c)) {
		/* cancelled after the job's last look: its files go first */
		if (atomic_load(&m->quitting)) {
			rm_rf(c->tmp); /* the workers are stopping */
			finish_err(c, ECANCELED, "cancelled");
		} else {
			workers_submit(m->workers, rm_tmp_job, removed_aside, c);
		}
		return;
	}
	if (commit(c, &err) < 0) {
		if (atomic_load(&m->quitting))
			rm_rf(c->tmp);
		else
			workers_submit(m->workers, rm_path_job, free, xstrdup(c->tmp));
		finish(c, NULL, &err);
		return;
	}
	vm = vm_alloc(m, &c->rec);
	vms_append(m, vm);
	vmm_vm_log(m, vm, "created (vcpu %u, memory %u MiB, image %s, address %s)", c->rec.vcpu, c->rec.memory_mib,
		   c->rec.image, c->rec.ip);
	vm_event(m, vm, "created");
	finish(c, vm, NULL);
}

/* After the catalog (if it was needed): the image's kernel, an address,
 * then the worker. */
static int go_on(struct vmm_create *c, bgr_error *err)
{
	struct vmm *m = c->m;
	char kernel[64];
	int r = vm_image_available(m, c->rec.image, kernel, err);

	if (r < 0)
		return r;
	if (kernel[0])
		snprintf(c->rec.kernel, sizeof(c->rec.kernel), "%s", kernel);
	r = network_assign(m, &c->rec, err);
	if (r < 0)
		return r;
	c->n_hosts = network_all_pin_hosts(&c->rec, c->hosts);
	c->known_hosts = xstrdup(m->paths->known_hosts);
	c->tmp = xasprintf("%s/.new-%s.%llu", m->paths->vms_dir, c->rec.name, ++tmp_seq);
	/* an image still to be pulled gets its disk at the first start */
	if (art_installed(m, ART_IMAGE, c->rec.image))
		c->disk = xasprintf("%s/%s", c->tmp, m->driver->root_disk_name);
	c->images_dir = xstrdup(m->paths->images_dir);
	c->raw_disks = m->driver->raw_disks;
	c->settings = &m->settings;
	workers_submit(m->workers, create_work, create_done, c);
	return 0;
}

static void catalog_ready(void *ctx, int result)
{
	struct vmm_create *c = ctx;
	bgr_error err;

	(void)result; /* the lookup says what a failed fetch means */
	c->catalog_waiter = NULL;
	if (atomic_load(&c->m->quitting)) {
		finish_err(c, ESHUTDOWN, "bangerd is stopping");
		return;
	}
	if (go_on(c, &err) < 0)
		finish(c, NULL, &err);
}

int vmm_vm_create(struct vmm *m, const char *name, vmm_create_fn fn, void *ctx, struct vmm_create **ret, bgr_error *err)
{
	struct vmm_create *c;
	struct artifact *a;
	int r = vm_name_check(name, err);

	if (r < 0)
		return r;
	if (vmm_vm_by_name(m, name) || vm_create_reserved(m, name) || vm_renaming_to(m, name))
		return bgr_fail(err, EEXIST, "a VM named '%s' already exists", name);
	c = xcalloc(1, sizeof(*c));
	c->m = m;
	c->fn = fn;
	c->ctx = ctx;
	init_record(m, name, &c->rec);
	c->next = m->creates;
	m->creates = c; /* the name is taken from here on */
	a = vmm_art_by_name(m, ART_IMAGE, c->rec.image);
	if (!art_installed(m, ART_IMAGE, c->rec.image) && !(a && a->state == ART_PULLING) &&
	    art_catalog_ready(m, catalog_ready, c, &c->catalog_waiter) == 1) {
		*ret = c;
		return 1;
	}
	r = go_on(c, err);
	if (r < 0) {
		m->creates = c->next;
		create_free(c);
		return r;
	}
	*ret = c;
	return 1;
}

void vmm_vm_create_cancel(struct vmm_create *c)
{
	if (c->catalog_waiter) {
		vmm_waiter_cancel(c->catalog_waiter);
		c->catalog_waiter = NULL;
		finish_err(c, ECANCELED, "cancelled");
		return;
	}
	atomic_store(&c->cancelled, true); /* create_done finishes it */
}
