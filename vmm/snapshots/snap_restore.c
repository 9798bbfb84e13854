/* A clone's restore, on a worker: its QEMU was spawned with the template's
 * arguments and -incoming defer (lifecycle.c); here, over QMP:
 * x-ignore-shared, the template's device state from TEMPLATE/state (passed
 * as a descriptor: the sandbox forbids exec:), wait for the migration's end,
 * cont, then the work disk's hot-plug (blockdev-add + device_add into the
 * root port) when the VM has one. The verdict goes to hooks.restore_done on
 * the loop, which opens the channels or falls back to a cold boot. */
#include "snapshots.h"
#include "driver.h"
#include "qmp_sync.h"
#include "ssh_helper.h"
#include "util.h"
#include "vm.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define QMP_STEP_MS 10000
#define RESTORE_MAX_MS 120000

struct restore_job {
	struct vmm *m;
	int64_t vm_id;
	unsigned gen;
	char *qmp_sock, *state, *work_disk;
	char *vm_dir; /* Firecracker (driver.h snap_load): its plan is there */
	pid_t pid;
	bool net;     /* bridge mode: its NIC (net0)'s link is down until the identity is set */
	bool link_up; /* this job only brings the link up (snap_link_up_start) */
	int result;
	bgr_error err;
	char *host_key, *host_key_priv; /* the clone's SSH host key (identify.c) */
	bgr_error key_err;
};

#define LINK_DOWN "{\"execute\":\"set_link\",\"arguments\":{\"name\":\"net0\",\"up\":false}}"
#define LINK_UP "{\"execute\":\"set_link\",\"arguments\":{\"name\":\"net0\",\"up\":true}}"

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The run state QEMU reports ("inmigrate", "paused", "running", ...). */
static int run_state(struct qmp_sync *q, char *out, size_t size, bgr_error *err)
{
	cJSON *ret;
	int r = qmp_sync_cmd(q, "{\"execute\":\"query-status\"}", -1, &ret, QMP_STEP_MS, err);

	if (r < 0)
		return r;
	cJSON *s = cJSON_GetObjectItemCaseSensitive(ret, "status");
	snprintf(out, size, "%s", cJSON_IsString(s) ? s->valuestring : "");
	cJSON_Delete(ret);
	return 0;
}

static int migration_failed(struct qmp_sync *q, bgr_error *err)
{
	cJSON *ret;

	if (qmp_sync_cmd(q, "{\"execute\":\"query-migrate\"}", -1, &ret, QMP_STEP_MS, err) < 0)
		return -err->code;
	cJSON *s = cJSON_GetObjectItemCaseSensitive(ret, "status");
	int r = 0;
	if (cJSON_IsString(s) && (!strcmp(s->valuestring, "failed") || !strcmp(s->valuestring, "cancelled"))) {
		cJSON *e = cJSON_GetObjectItemCaseSensitive(ret, "error-desc");
		r = bgr_fail(err, EIO, "loading the template's state failed: %s",
			     cJSON_IsString(e) ? e->valuestring : "no reason given");
	}
	cJSON_Delete(ret);
	return r;
}

static int restore(struct restore_job *j, struct qmp_sync *q)
{
	long long deadline = mono_ms() + RESTORE_MAX_MS;
	_cleanup_close_ int fd = open(j->state, O_RDONLY | O_CLOEXEC);
	char state[32];
	int r;

	if (fd < 0)
		return bgr_fail(&j->err, errno, "cannot open %s: %s", j->state, strerror(errno));
	r = qmp_sync_cmd(q,
			 "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":"
			 "[{\"capability\":\"x-ignore-shared\",\"state\":true}]}}",
			 -1, NULL, QMP_STEP_MS, &j->err);
	if (r < 0)
		return r;
	r = qmp_sync_cmd(q, "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"bgrload\"}}", fd, NULL, QMP_STEP_MS,
			 &j->err);
	if (r < 0)
		return r;
	r = qmp_sync_cmd(q, "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"fd:bgrload\"}}", -1, NULL,
			 QMP_STEP_MS, &j->err);
	if (r < 0)
		return r;
	for (;;) {
		if ((r = run_state(q, state, sizeof(state), &j->err)) < 0)
			return r;
		if (!strcmp(state, "paused") || !strcmp(state, "running"))
			break;
		if ((r = migration_failed(q, &j->err)) < 0)
			return r;
		if (strcmp(state, "inmigrate") != 0)
			return bgr_fail(&j->err, EIO, "QEMU is '%s' after loading the template's state", state);
		if (mono_ms() > deadline)
			return bgr_fail(&j->err, ETIMEDOUT, "loading the template's state did not end in time");
		usleep(5000);
	}
	/* until it has its own MAC and address, the clone is the template's
	 * twin: no frame of it may reach the network (the link comes up once
	 * the agent acked its identity) */
	if (j->net && (r = qmp_sync_cmd(q, LINK_DOWN, -1, NULL, QMP_STEP_MS, &j->err)) < 0)
		return r;
	if (!strcmp(state, "paused") &&
	    (r = qmp_sync_cmd(q, "{\"execute\":\"cont\"}", -1, NULL, QMP_STEP_MS, &j->err)) < 0)
		return r;
	if (j->work_disk) {
		cJSON *o = cJSON_CreateObject(), *a = cJSON_AddObjectToObject(o, "arguments"), *file;
		cJSON_AddStringToObject(o, "execute", "blockdev-add");
		cJSON_AddStringToObject(a, "driver", "raw");
		cJSON_AddStringToObject(a, "node-name", "work");
		cJSON_AddStringToObject(a, "discard", "unmap");
		file = cJSON_AddObjectToObject(a, "file");
		cJSON_AddStringToObject(file, "driver", "file");
		cJSON_AddStringToObject(file, "filename", j->work_disk);
		char *text = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
		r = qmp_sync_cmd(q, text, -1, NULL, QMP_STEP_MS, &j->err);
		free(text);
		if (r < 0)
			return r;
		r = qmp_sync_cmd(q,
				 "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-blk-pci\","
				 "\"drive\":\"work\",\"id\":\"workdisk\",\"bus\":\"" QEMU_HOTPLUG_PORT "\"}}",
				 -1, NULL, QMP_STEP_MS, &j->err);
		if (r < 0)
			return bgr_wrap(&j->err, "hot-plugging the work disk");
	}
	return 0;
}

/* The restore itself: Firecracker's /snapshot/load (+ resume) in the
 * fresh process, or QEMU's incoming migration over QMP. */
static void restore_vm(struct restore_job *j)
{
	struct qmp_sync q;

	if (j->m->driver->snap_load) {
		j->result = j->m->driver->snap_load(j->vm_dir, j->qmp_sock, j->pid, &j->err);
		return;
	}
	j->result = qmp_sync_open(&q, j->qmp_sock, QMP_STEP_MS, &j->err);
	if (j->result < 0)
		return;
	j->result = restore(j, &q);
	qmp_sync_close(&q);
}

static void restore_work(void *data)
{
	struct restore_job *j = data;
	struct host_key_gen gen;
	struct pubkey pub;
	struct qmp_sync q;

	if (j->link_up) {
		/* Firecracker's API has no NIC link to bring up: nothing to do */
		if (j->m->driver->snap_load)
			return;
		j->result = qmp_sync_open(&q, j->qmp_sock, QMP_STEP_MS, &j->err);
		if (j->result == 0) {
			j->result = qmp_sync_cmd(&q, LINK_UP, -1, NULL, QMP_STEP_MS, &j->err);
			qmp_sync_close(&q);
		}
		return;
	}
	/* the clone's own SSH host key, made by banger-ssh while the
	 * hypervisor loads the state, so the guest need not make one (slow
	 * under TCG); without one the guest makes its own */
	bool key_started = ssh_helper_host_key_begin(&gen, &j->key_err) == 0;
	restore_vm(j);
	if (key_started && ssh_helper_host_key_end(&gen, &pub, &j->host_key_priv, &j->key_err) == 0)
		j->host_key = xasprintf("%s:%s", pub.type, pub.b64);
	if (j->result == -EIO && strstr(j->err.msg, "closed the monitor"))
		bgr_fail(&j->err, EIO,
			 "QEMU exited while loading the template's state (its own message is in these logs)");
}

static void restore_done(void *data)
{
	struct restore_job *j = data;
	/* bangerd stopping: the next one re-adopts (and kills an unfinished clone) */
	struct vm *vm = atomic_load(&j->m->quitting) ? NULL : vmm_vm_by_id(j->m, j->vm_id);

	if (vm && vm->boot_gen == j->gen && j->link_up) {
		j->m->hooks.clone_online(j->m, vm, j->result, j->err.msg);
	} else if (vm && vm->boot_gen == j->gen) {
		identify_key_forget(vm);
		if (j->host_key) {
			vm->host_key = steal_ptr(&j->host_key);
			vm->host_key_priv = steal_ptr(&j->host_key_priv);
		} else if (j->result == 0) {
			vmm_vm_log(j->m, vm, "snapshots: no host-made SSH host key (%s): the guest makes its own",
				   j->key_err.msg);
		}
		j->m->hooks.restore_done(j->m, vm, j->result, j->err.msg);
	}
	if (j->host_key_priv)
		explicit_bzero(j->host_key_priv, strlen(j->host_key_priv));
	free(j->host_key_priv);
	free(j->host_key);
	free(j->qmp_sock);
	free(j->state);
	free(j->work_disk);
	free(j->vm_dir);
	free(j);
}

void snap_restore_start(struct vmm *m, struct vm *vm, const char *work_disk)
{
	struct template *t = template_find(m, vm->snap_key);
	struct restore_job *j = xcalloc(1, sizeof(*j));

	j->m = m;
	j->vm_id = vm->rec.id;
	j->gen = vm->boot_gen;
	j->qmp_sock = xstrdup(vm->qmp_sock);
	j->state = t ? xasprintf("%s/" TPL_STATE, t->dir) : xstrdup("/nonexistent/template");
	j->work_disk = work_disk ? xstrdup(work_disk) : NULL;
	j->vm_dir = xstrdup(vm->dir);
	j->pid = vm->rec.pid;
	/* user mode: its slirp is its own, no frame of it reaches another */
	j->net = strcmp(vm->rec.net_mode, "bridge") == 0;
	workers_submit(m->workers, restore_work, restore_done, j);
}

void snap_link_up_start(struct vmm *m, struct vm *vm)
{
	struct restore_job *j = xcalloc(1, sizeof(*j));

	j->m = m;
	j->vm_id = vm->rec.id;
	j->gen = vm->boot_gen;
	j->qmp_sock = xstrdup(vm->qmp_sock);
	j->link_up = true;
	workers_submit(m->workers, restore_work, restore_done, j);
}
