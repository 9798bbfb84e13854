/* A template's save, during the cold boot that makes it, at the agent's
 * first hello: before banger's key, the ssh check or anything of the
 * user's session is in the guest. On a worker: QMP stop, x-ignore-shared
 * migration of the device state to TEMPLATE/state (RAM stays in the boot's
 * shared memory file), sparse copies of that file and of the root overlay
 * (QEMU flushed and inactivated its disks when the migration completed),
 * cont; then the fsyncs, meta.json and the rename into place, with the
 * guest already running again. */
#include "snapshots.h"
#include "disk.h"
#include "disk_raw.h"
#include "driver.h"
#include "kernel_stub.h"
#include "log.h"
#include "qmp_sync.h"
#include "util.h"
#include "vm.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define QMP_STEP_MS 10000
#define MIGRATE_MAX_MS 120000

int sparse_copy(const char *src, const char *dest)
{
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);

	if (in < 0)
		return -errno;
	return sparse_copy_fd(in, dest);
}

int sparse_copy_fd(int in, const char *dest)
{
	_cleanup_close_ int out = -1;
	static const char zero[4096];
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	off_t pos = 0;

	if (fstat(in, &st) < 0)
		return -errno;
	out = open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	buf = xcalloc(1, 1 << 20);
	while (pos < st.st_size) {
		off_t data = lseek(in, pos, SEEK_DATA), hole;
		if (data < 0)
			break; /* ENXIO: only a hole is left */
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		for (off_t at = data; at < hole;) {
			size_t want = (size_t)(hole - at < (1 << 20) ? hole - at : (1 << 20));
			ssize_t n = pread(in, buf, want, at);
			if (n <= 0)
				return n < 0 ? -errno : -EIO;
			for (ssize_t off = 0; off < n; off += 4096) {
				size_t len = (size_t)(n - off < 4096 ? n - off : 4096);
				if (memcmp(buf + off, zero, len) == 0)
					continue; /* zero pages stay holes */
				if (pwrite(out, buf + off, len, at + off) != (ssize_t)len)
					return -errno;
			}
			at += n;
		}
		pos = hole;
	}
	if (ftruncate(out, st.st_size) < 0 || fsync(out) < 0)
		return -errno;
	return 0;
}

struct save_job {
	struct vmm *m;
	int64_t vm_id;
	unsigned gen;
	struct template *t; /* TPL_SAVING: only the loop touches it */
	/* for the worker */
	char *qmp_sock, *root_disk, *aside, *final, *meta;
	char *kernel; /* its stub goes into the template (QEMU); NULL: none */
	int mem_fd;   /* QEMU: the guest's RAM file, already unlinked; else -1 */
	char *vm_dir; /* the driver's save (Firecracker) writes its plan there */
	uint64_t size;
	long long paused_ms;
	char ssh_host[16]; /* wait for the guest's SSH server first (ssh_up.c) */
	int ssh_port;
	pid_t pid;
	long long wait_ms, waited_ms;
	int waited; /* ssh_up_wait's result */
	int result;
	bgr_error err;
};

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_migrated(struct qmp_sync *q, bgr_error *err)
{
	long long deadline = mono_ms() + MIGRATE_MAX_MS;

	for (;;) {
		cJSON *ret;
		int r = qmp_sync_cmd(q, "{\"execute\":\"query-migrate\"}", -1, &ret, QMP_STEP_MS, err);
		if (r < 0)
			return r;
		cJSON *st = cJSON_GetObjectItemCaseSensitive(ret, "status");
		const char *s = cJSON_IsString(st) ? st->valuestring : "";
		if (!strcmp(s, "completed")) {
			cJSON_Delete(ret);
			return 0;
		}
		if (!strcmp(s, "failed") || !strcmp(s, "cancelled")) {
			cJSON *e = cJSON_GetObjectItemCaseSensitive(ret, "error-desc");
			bgr_fail(err, EIO, "the migration to the state file %s: %s", s,
				 cJSON_IsString(e) ? e->valuestring : "no reason given");
			cJSON_Delete(ret);
			return -EIO;
		}
		cJSON_Delete(ret);
		if (mono_ms() > deadline)
			return bgr_fail(err, ETIMEDOUT, "the migration to the state file did not complete in time");
		usleep(5000);
	}
}

/* The part while the guest is stopped. */
static int save_stopped(struct save_job *j, struct qmp_sync *q)
{
	_cleanup_free_ char *state = xasprintf("%s/" TPL_STATE, j->aside);
	_cleanup_free_ char *mem = xasprintf("%s/" TPL_MEMORY, j->aside);
	_cleanup_free_ char *disk = xasprintf("%s/" TPL_DISK, j->aside);
	_cleanup_close_ int fd = -1;
	int r;

	r = qmp_sync_cmd(q,
			 "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":"
			 "[{\"capability\":\"x-ignore-shared\",\"state\":true}]}}",
			 -1, NULL, QMP_STEP_MS, &j->err);
	if (r < 0)
		return r;
	fd = open(state, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return bgr_fail(&j->err, errno, "cannot create %s: %s", state, strerror(errno));
	r = qmp_sync_cmd(q, "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"bgrsave\"}}", fd, NULL, QMP_STEP_MS,
			 &j->err);
	if (r < 0)
		return r;
	r = qmp_sync_cmd(q, "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"fd:bgrsave\"}}", -1, NULL, QMP_STEP_MS,
			 &j->err);
	if (r < 0)
		return r;
	r = wait_migrated(q, &j->err);
	if (r < 0)
		return r;
	if ((r = sparse_copy_fd(j->mem_fd, mem)) < 0)
		return bgr_fail(&j->err, -r, "cannot copy the guest's memory: %s", strerror(-r));
	if ((r = sparse_copy(j->root_disk, disk)) < 0)
		return bgr_fail(&j->err, -r, "cannot copy the root disk: %s", strerror(-r));
	if (fsync(fd) < 0)
		return bgr_fail(&j->err, errno, "cannot write %s: %s", state, strerror(errno));
	return 0;
}

static uint64_t dir_blocks(const char *dir)
{
	static const char *const names[] = { TPL_MEMORY, TPL_STATE, TPL_DISK, TPL_DISK_RAW };
	uint64_t sum = 0;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, names[i]);
		struct stat st;
		if (stat(p, &st) == 0)
			sum += (uint64_t)st.st_blocks * 512;
	}
	return sum;
}

/* Firecracker (driver.h snap_create): its snapshot API pauses the guest
 * and writes the state and memory files into the template; the raw root
 * disk is copied while the guest is paused; the guest resumes whatever
 * became of the save. */
static void save_by_driver(struct save_job *j)
{
	const struct vm_driver *d = j->m->driver;
	_cleanup_free_ char *state = xasprintf("%s/" TPL_STATE, j->aside);
	_cleanup_free_ char *mem = xasprintf("%s/" TPL_MEMORY, j->aside);
	_cleanup_free_ char *disk = xasprintf("%s/%s", j->aside, d->tpl_disk_name);
	long long t0 = mono_ms();
	bgr_error resume_err;
	bool reflinked;
	int r;

	j->result = d->snap_create(j->vm_dir, j->qmp_sock, state, mem, &j->err);
	if (j->result == 0 && (r = disk_copy_sparse(j->root_disk, disk, &reflinked)) < 0)
		j->result = bgr_fail(&j->err, -r, "cannot copy the root disk: %s", strerror(-r));
	if (d->snap_resume(j->qmp_sock, &resume_err) < 0 && j->result == 0)
		j->result = bgr_fail(&j->err, resume_err.code, "%s", resume_err.msg);
	j->paused_ms = mono_ms() - t0;
}

static bool quitting(void *ctx)
{
	struct vmm *m = ctx;
	return atomic_load(&m->quitting);
}

static void save_work(void *data)
{
	struct save_job *j = data;
	struct qmp_sync q;
	bgr_error cont_err;
	long long t0;
	int r;

	if (j->ssh_port > 0) {
		t0 = mono_ms();
		j->waited = ssh_up_wait(j->ssh_host, j->ssh_port, j->pid, j->wait_ms, quitting, j->m);
		j->waited_ms = mono_ms() - t0;
		if (j->waited == -ECANCELED) {
			j->result = bgr_fail(&j->err, ECANCELED,
					     "the guest or bangerd went away before its SSH server was up");
			return;
		}
	}
	r = mkdir_p(j->aside, 0700);
	if (r < 0) {
		j->result = bgr_fail(&j->err, -r, "cannot create %s: %s", j->aside, strerror(-r));
		return;
	}
	if (j->m->driver->snap_create) {
		save_by_driver(j);
		if (j->result < 0)
			goto fail;
		goto saved;
	}
	if ((j->result = qmp_sync_open(&q, j->qmp_sock, QMP_STEP_MS, &j->err)) < 0)
		goto fail;
	t0 = mono_ms();
	j->result = qmp_sync_cmd(&q, "{\"execute\":\"stop\"}", -1, NULL, QMP_STEP_MS, &j->err);
	if (j->result == 0)
		j->result = save_stopped(j, &q);
	/* always: the guest must go on whatever became of the save */
	if (qmp_sync_cmd(&q, "{\"execute\":\"cont\"}", -1, NULL, QMP_STEP_MS, &cont_err) < 0 && j->result == 0)
		j->result = bgr_fail(&j->err, cont_err.code, "%s", cont_err.msg);
	j->paused_ms = mono_ms() - t0;
	qmp_sync_close(&q);
	if (j->result < 0)
		goto fail;
	if (j->kernel) { /* without it a clone loads the whole kernel */
		_cleanup_free_ char *stub = xasprintf("%s/" TPL_KERNEL_STUB, j->aside);
		bgr_error stub_err;
		if (kernel_stub_write(j->kernel, stub, &stub_err) < 0)
			unlink(stub);
	}
saved:
	j->size = dir_blocks(j->aside);
	FILE *f = fopen(j->meta, "we");
	if (!f) {
		j->result = bgr_fail(&j->err, errno, "cannot write %s: %s", j->meta, strerror(errno));
		goto fail;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "key", j->t->key);
	cJSON_AddStringToObject(o, "source", j->t->source);
	cJSON_AddStringToObject(o, "made_from", j->t->made_from);
	cJSON_AddStringToObject(o, "image", j->t->in.image);
	cJSON_AddStringToObject(o, "kernel", j->t->in.kernel);
	cJSON_AddStringToObject(o, "net_mode", j->t->in.net_mode);
	cJSON_AddNumberToObject(o, "vcpu", j->t->in.vcpu);
	cJSON_AddNumberToObject(o, "memory_mib", j->t->in.memory_mib);
	cJSON_AddNumberToObject(o, "disk_size", (double)j->t->in.disk_size);
	cJSON_AddNumberToObject(o, "created", (double)time(NULL));
	cJSON_AddNumberToObject(o, "size", (double)j->size);
	char *text = cJSON_Print(o);
	cJSON_Delete(o);
	bool ok = fputs(text, f) >= 0 && fflush(f) == 0 && fsync(fileno(f)) == 0;
	free(text);
	if (fclose(f) != 0 || !ok) {
		j->result = bgr_fail(&j->err, EIO, "cannot write %s", j->meta);
		goto fail;
	}
	if (fsync_parent(j->meta) < 0 || rename(j->aside, j->final) < 0 || fsync_parent(j->final) < 0) {
		j->result = bgr_fail(&j->err, errno, "cannot put the template in place: %s", strerror(errno));
		goto fail;
	}
	return;
fail:
	rm_rf(j->aside);
}

static void save_done(void *data)
{
	struct save_job *j = data;
	struct vmm *m = j->m;
	struct vm *vm = vmm_vm_by_id(m, j->vm_id);
	struct template *t = j->t;
	char msg[BGR_ERROR_MAX + 64];

	if (j->result == 0) {
		t->status = TPL_READY;
		t->created = time(NULL);
		t->size = j->size;
		char waited[96] = "";
		if (j->ssh_port > 0)
			snprintf(waited, sizeof(waited), ", %lld ms after the hello%s", j->waited_ms,
				 j->waited == 0 ? ", its SSH server up" : ": its SSH server did not come up");
		snprintf(msg, sizeof(msg), "saved template %s (guest paused %lld ms%s)", t->key, j->paused_ms, waited);
		log_msg("templates: %s from %s", msg, t->made_from);
	} else {
		snprintf(msg, sizeof(msg), "cannot save template %s: %s", t->key, j->err.msg);
		log_msg("templates: %s", msg);
		template_forget(m, t);
	}
	if (vm && vm->boot_gen == j->gen && !atomic_load(&m->quitting))
		m->hooks.template_saved(m, vm, j->result, msg);
	if (m->obs.templates_changed)
		m->obs.templates_changed(m->obs.ctx);
	if (j->result == 0 && !atomic_load(&m->quitting))
		templates_gc(m); /* an older template of the same shape may be stale now */
	free(j->qmp_sock);
	if (j->mem_fd >= 0)
		close(j->mem_fd);
	free(j->root_disk);
	free(j->aside);
	free(j->final);
	free(j->meta);
	free(j->kernel);
	free(j->vm_dir);
	free(j);
}

int snap_save_start(struct vmm *m, struct vm *vm, const char *ssh_host, int ssh_port, long long wait_ms)
{
	_cleanup_free_ char *source = NULL;
	struct tpl_inputs in;
	struct save_job *j;
	struct template *t;
	char key[24];

	if (vm->snap != SNAP_MAKE || (!vm->mem_path && !m->driver->snap_create))
		return 0;
	vm->snap = SNAP_NONE; /* one try per boot */
	template_inputs_of(m, vm, &in);
	if (template_key(m, &in, key, &source) < 0 || strcmp(key, vm->snap_key) != 0) {
		vmm_vm_log(m, vm, "snapshots: the image, kernel or settings changed during the boot: no template");
		return 0;
	}
	if (template_find(m, key))
		return 0; /* another boot made it meanwhile */
	int mem_fd = -1;
	if (vm->mem_path) {
		mem_fd = open(vm->mem_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		/* QEMU has it mapped since long before the hello: the name can go */
		unlink(vm->mem_path);
		free(vm->mem_path);
		vm->mem_path = NULL;
	} else {
		mem_fd = -2; /* the driver saves the memory (Firecracker) */
	}
	if (mem_fd == -1) {
		vmm_vm_log(m, vm, "snapshots: cannot open the guest's RAM file: %s; no template", strerror(errno));
		return 0;
	}
	t = template_add(m, key, source, &in);
	snprintf(t->made_from, sizeof(t->made_from), "%s", vm->rec.name);
	j = xcalloc(1, sizeof(*j));
	j->m = m;
	j->vm_id = vm->rec.id;
	j->gen = vm->boot_gen;
	j->t = t;
	j->qmp_sock = xstrdup(vm->qmp_sock);
	j->mem_fd = mem_fd < 0 ? -1 : mem_fd;
	j->vm_dir = xstrdup(vm->dir);
	j->root_disk = xstrdup(vm->root_disk);
	j->aside = xasprintf("%s/.aside-%s-%d-%" PRId64, m->templates_dir, key, getpid(), t->id);
	j->final = xstrdup(t->dir);
	j->meta = xasprintf("%s/" TPL_META, j->aside);
	if (!m->driver->snap_create) {
		_cleanup_free_ char *initrd = NULL;
		bgr_error kerr;
		if (disk_kernel_paths(m->paths->kernels_dir, vm->rec.kernel, &j->kernel, &initrd, &kerr) < 0)
			j->kernel = NULL;
	}
	snprintf(j->ssh_host, sizeof(j->ssh_host), "%s", ssh_host ? ssh_host : "");
	j->ssh_port = ssh_host ? ssh_port : 0;
	j->pid = vm->rec.pid;
	j->wait_ms = wait_ms;
	vm->saving = true;
	vmm_vm_log(m, vm, "snapshots: saving template %s %s(the guest pauses; nothing of the session is in it yet)",
		   key, j->ssh_port > 0 ? "once its SSH server is up " : "");
	workers_submit(m->workers, save_work, save_done, j);
	return 1;
}
