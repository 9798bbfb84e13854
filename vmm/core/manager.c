/* The VM manager: the in-memory set of VMs, mirrored by the store. */
#include "art.h"
#include "vm.h"
#include "disk.h"
#include "log.h"
#include "settings.h"
#include "network.h"
#include "ports.h"
#include "ssh_helper.h"
#include "pins_cache.h"
#include "proc.h"
#include "snapshots.h"
#include "session.h"
#include "util.h"
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>

static void vm_free(struct vm *vm)
{
	free(vm->dir);
	free(vm->console_log);
	free(vm->log_path);
	free(vm->root_disk);
	free(vm->qmp_sock);
	free(vm->console_sock);
	free(vm->agent_sock);
	free(vm->agent_buf);
	free(vm->hello);
	identify_key_forget(vm);
	free(vm->mem_path);
	free(vm->net_args);
	free(vm->renaming_to);
	sessions_free(vm);
	free(vm);
}

static int load_one(void *ctx, const struct vm_record *rec)
{
	struct vmm *m = ctx;
	vms_append(m, vm_alloc(m, rec));
	return 0;
}

/* Removes what an interrupted create or delete left in vms/: directories
 * with no record. */
static void sweep_orphans(struct vmm *m)
{
	_cleanup_closedir_ DIR *d = opendir(m->paths->vms_dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		long long id;

		if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		id = strtoll(de->d_name, &end, 10);
		if (*end || !vmm_vm_by_id(m, id)) {
			_cleanup_free_ char *p = xasprintf("%s/%s", m->paths->vms_dir, de->d_name);
			log_msg("removing leftover %s", p);
			rm_rf(p);
		}
	}
}

struct template_job {
	char *images_dir, *image;
	uint64_t size;
};

static void warm_template(void *data)
{
	struct template_job *j = data;
	_cleanup_free_ char *path = NULL;
	bgr_error err;

	if (disk_template(j->images_dir, j->image, j->size, &path, &err) < 0)
		log_msg("overlay template for image '%s' not made: %s", j->image, err.msg);
}

static void free_template_job(void *data)
{
	struct template_job *j = data;

	free(j->images_dir);
	free(j->image);
	free(j);
}

/* Makes the first mkdir as cheap as the others: the default image's
 * overlay template is built on a worker at start-up. */
static void warm_default_template(struct vmm *m)
{
	struct template_job *j = xcalloc(1, sizeof(*j));

	j->images_dir = xstrdup(m->paths->images_dir);
	j->image = xstrdup(m->settings.image);
	j->size = default_disk_size(m, m->settings.image);
	workers_submit(m->workers, warm_template, free_template_job, j);
}

/* Snapshots' start-up: the hypervisor's version (part of every template's
 * key), the runtime directory for template boots' RAM files (a tmpfs: guest
 * RAM is never written back to the state disk), the templates. */
static int snapshots_init(struct vmm *m, bgr_error *err)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char hash[24];
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const char *p = m->paths->state_dir; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	snprintf(hash, sizeof(hash), "%016" PRIx64, h);
	if (m->driver->version) /* before the loop runs, like the driver's prepare */
		m->qemu_version = m->driver->version();
	if (!m->settings.snapshots || m->driver != &qemu_driver)
		return templates_load(m, err);
	m->runtime_dir = xdg && xdg[0] == '/' ? xasprintf("%s/banger-%s", xdg, hash)
					      : xasprintf("/dev/shm/banger-%u-%s", (unsigned)getuid(), hash);
	if (mkdir_p(m->runtime_dir, 0700) == 0) {
		/* RAM files of boots a previous bangerd left: QEMU has them
		 * mapped already (or is gone), and no save can follow an adoption */
		DIR *d = opendir(m->runtime_dir);
		struct dirent *de;
		while (d && (de = readdir(d)))
			if (!strncmp(de->d_name, "vm-", 3))
				unlinkat(dirfd(d), de->d_name, 0);
		if (d)
			closedir(d);
	} else {
		log_msg("warning: cannot create %s (%s): no templates are made", m->runtime_dir, strerror(errno));
		free(m->runtime_dir);
		m->runtime_dir = NULL;
	}
	return templates_load(m, err);
}

static const struct vm_driver *driver_for_test;

void vmm_set_driver_for_test(const struct vm_driver *driver)
{
	driver_for_test = driver;
}

int vmm_new(struct loop *loop, struct bgr_paths *paths, const struct vmm_observer *obs, struct vmm **ret,
	    bgr_error *err)
{
	struct vmm *m = xcalloc(1, sizeof(*m));
	int r;

	m->loop = loop;
	m->paths = paths;
	m->obs = *obs;
	m->bridge_lock_fd = -1;
	m->hooks = (struct vm_hooks){
		.hello_received = vm_hello_received,
		.authorize_result = vm_agent_authorize_result,
		.ssh_verified = vm_ssh_verified,
		.artifact_ready = vm_artifact_ready,
		.artifact_progress = vm_artifact_progress,
		.start_waited = vm_start_waited,
		.creates_each_ip = vm_creates_each_ip,
		.stopped_for_delete = vm_remove,
		.template_saved = vm_template_saved,
		.restore_done = vm_restore_done,
		.clone_online = vm_clone_online,
		.agent_connected = vm_agent_connected,
		.identify_result = vm_identify_result,
		.session_line = sessions_agent_line,
		.channels_closed = sessions_channels_closed,
	};
	r = settings_load(&m->settings, paths, err);
	if (r < 0)
		goto fail_early;
	m->driver = strcmp(m->settings.vmm, "firecracker") == 0 ? &firecracker_driver : &qemu_driver;
	if (driver_for_test)
		m->driver = driver_for_test;
	firecracker_set_binary(m->settings.firecracker_bin);
	chmod(paths->ssh_state_dir, 0700);
	r = ssh_helper_key(paths->ssh_key, &m->ssh_pub, err);
	if (r < 0)
		goto fail_early;
	if (m->driver->prepare(err) < 0)
		log_msg("warning: %s; VMs cannot start until it is installed", err->msg);
	bgr_error_clear(err);
	events_init(&m->events);
	m->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (m->inotify_fd < 0 || loop_add_fd(loop, m->inotify_fd, EPOLLIN, vmm_inotify_event, m) < 0) {
		r = bgr_fail(err, errno, "cannot set up inotify: %s", strerror(errno));
		goto fail;
	}
	if (workers_new(loop, 4, &m->workers) < 0) {
		r = bgr_fail(err, EAGAIN, "cannot start worker threads");
		goto fail;
	}
	r = store_open(paths->db, &m->store, err);
	if (r < 0)
		goto fail;
	r = store_vm_each(m->store, load_one, m, err);
	if (r < 0)
		goto fail;
	sweep_orphans(m);
	art_sweep(m);
	vmm_art_rescan(m, ART_IMAGE);
	vmm_art_rescan(m, ART_KERNEL);
	r = network_up(m, err);
	if (r < 0)
		goto fail;
	r = snapshots_init(m, err);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < m->n_vms; i++)
		vm_adopt(m, m->vms[i]);
	ports_load(m);
	sessions_load_all(m);
	templates_gc(m);
	ssh_config_refresh(m);
	log_msg("loaded %zu VMs; accel %s (%s)", m->n_vms, m->settings.accel.accel, m->settings.accel.why);
	if (!m->driver->raw_disks)
		warm_default_template(m);
	*ret = m;
	return 0;
fail:
	vmm_free(m);
	return r;
fail_early:
	settings_free(&m->settings);
	free(m);
	return r;
}

void vmm_free(struct vmm *m)
{
	if (!m)
		return;
	atomic_store(&m->quitting, true);
	workers_free(m->workers); /* finishes deletes in progress */
	templates_free(m);
	free(m->templates_dir);
	/* when empty and no hypervisor outlives us: a QEMU just spawned may not
	 * have created its RAM file in it yet (and would fail without it) */
	bool hypervisors = false;
	for (size_t i = 0; i < m->n_vms; i++)
		hypervisors |= m->vms[i]->rec.pid != 0;
	if (m->runtime_dir && !hypervisors)
		rmdir(m->runtime_dir);
	free(m->runtime_dir);
	free(m->qemu_version);
	pins_cache_free(m);
	art_free_all(m);
	ports_free(m);
	for (size_t i = 0; i < m->n_vms; i++) {
		struct vm *vm = m->vms[i];
		vm_channels_close(m, vm);
		loop_timer_cancel(m->loop, vm->boot_timer);
		loop_timer_cancel(m->loop, vm->stop_timer);
		if (vm->pidfd >= 0) {
			loop_del_fd(m->loop, vm->pidfd);
			close(vm->pidfd);
		}
		waiters_complete(&vm->start_waiters, -ESHUTDOWN);
		waiters_complete(&vm->stop_waiters, -ESHUTDOWN);
		vm_free(vm);
	}
	free(m->vms);
	if (m->inotify_fd >= 0) {
		loop_del_fd(m->loop, m->inotify_fd);
		close(m->inotify_fd);
	}
	network_down(m);
	settings_free(&m->settings);
	store_close(m->store);
	events_free(&m->events);
	free(m);
}

const struct vmm_settings *vmm_settings(struct vmm *m)
{
	return &m->settings;
}
const struct bgr_paths *vmm_paths(struct vmm *m)
{
	return m->paths;
}
size_t vmm_vm_count(struct vmm *m)
{
	return m->n_vms;
}
/* Removes every pin the VM's names or addresses may have; a new VM that
 * reuses them starts clean. Skips the rewrite when none is in the file. */
/* A deleted VM's pins (its names and addresses), dropped on a worker after
 * the VM is gone: the helper is a child process the loop must not wait for.
 * A failure leaves only pins for a name no VM has; the next create of that
 * name or address drops them before it pins anything. */
struct pin_drop_job {
	struct vmm *m;
	char *known_hosts;
	char hosts[3][96];
	int n_hosts;
	int result;
	bgr_error err;
};

static void pin_drop_work(void *data)
{
	struct pin_drop_job *j = data;
	const char *list[3];

	for (int i = 0; i < j->n_hosts; i++)
		list[i] = j->hosts[i];
	if (pins_may_hold(j->known_hosts, list, (size_t)j->n_hosts))
		j->result = ssh_helper_drop(j->known_hosts, list, (size_t)j->n_hosts, &j->err);
}

static void pin_drop_done(void *data)
{
	struct pin_drop_job *j = data;

	if (j->result < 0)
		log_msg("%s: its pins were not removed (the next VM of that name drops them): %s", j->hosts[0],
			j->err.msg);
	else if (!atomic_load(&j->m->quitting))
		vmm_pins_refresh(j->m, NULL, NULL, NULL);
	free(j->known_hosts);
	free(j);
}

static void drop_pins_later(struct vmm *m, const struct vm_record *rec)
{
	struct pin_drop_job *j = xcalloc(1, sizeof(*j));

	j->m = m;
	j->known_hosts = xstrdup(m->paths->known_hosts);
	j->n_hosts = network_all_pin_hosts(rec, j->hosts);
	workers_submit(m->workers, pin_drop_work, pin_drop_done, j);
}
static void rm_rf_job(void *path)
{
	rm_rf(path);
}

/* The directory is renamed aside at once (its name may be reused by the
 * next create) and removed on a worker; a crash in between leaves a
 * leftover that start-up sweeps. */
static void remove_files(struct vmm *m, struct vm *vm)
{
	char *aside = xasprintf("%s/.del-%lld", m->paths->vms_dir, (long long)vm->rec.id);

	if (rename(vm->dir, aside) < 0) {
		rm_rf(vm->dir);
		free(aside);
		return;
	}
	workers_submit(m->workers, rm_rf_job, free, aside);
}

/* Drops vm from the store, the disk and memory. Completes every waiter. */
void vm_remove(struct vmm *m, struct vm *vm)
{
	bgr_error err;
	size_t i;

	if (store_vm_delete(m->store, vm->rec.id, &err) < 0) {
		/* keep it: a record without its files would be worse */
		vm_set_error(m, vm, VM_ERR_STATE, "delete failed: %s", err.msg);
		waiters_complete(&vm->stop_waiters, -EIO);
		return;
	}
	remove_files(m, vm);
	ports_vm_removed(m, vm->rec.id);
	drop_pins_later(m, &vm->rec);
	log_msg("%s: deleted", vm->rec.name);
	vm_event(m, vm, "deleted");
	for (i = 0; i < m->n_vms && m->vms[i] != vm; i++)
		;
	memmove(&m->vms[i], &m->vms[i + 1], (m->n_vms - i - 1) * sizeof(*m->vms));
	m->n_vms--;
	if (m->obs.vm_removed)
		m->obs.vm_removed(m->obs.ctx, vm);
	waiters_complete(&vm->start_waiters, -ENOENT);
	waiters_complete(&vm->stop_waiters, 0);
	bool had_endpoint = vm->rec.net_mode[0] && strcmp(vm->rec.net_mode, "none") != 0;
	bool had_template = vm->rec.template_key[0] != '\0';
	vm_free(vm);
	if (had_template)
		templates_gc(m); /* a stale template that was kept for it goes now */
	if (had_endpoint)
		ssh_config_refresh(m);
}

int vmm_vm_delete(struct vmm *m, struct vm *vm, vmm_done_fn fn, void *ctx, struct vmm_waiter **ret_waiter,
		  bgr_error *err)
{
	(void)err;
	if (vm->rec.state == VM_STOPPED || vm->rec.state == VM_ERROR) {
		if (vm->pidfd < 0) {
			vm_remove(m, vm);
			return 0;
		}
	}
	/* The disk is about to go: a clean shutdown would be wasted time. */
	vm_cancel_restart(m, vm, "rmdir");
	vm->after_stop = AFTER_DELETE;
	*ret_waiter = waiter_add(&vm->stop_waiters, fn, ctx);
	vm_kill(m, vm);
	return 1;
}
