#include "hv_requests.h"
#include "util.h"
#include "workers.h"

#include <stdlib.h>

struct hv_job {
	struct vmm *m;
	int64_t vm_id;
	pid_t pid;
	enum hv_request what;
	char *dir, *control_sock;
	hv_failed_fn failed; /* configure only */
	int result;
	bgr_error err;
};

static struct hv_job *job_new(struct vmm *m, struct vm *vm)
{
	struct hv_job *j = xcalloc(1, sizeof(*j));

	j->m = m;
	j->vm_id = vm->rec.id;
	j->pid = vm->rec.pid;
	j->dir = xstrdup(vm->dir);
	j->control_sock = xstrdup(vm->qmp_sock);
	return j;
}

static void job_free(struct hv_job *j)
{
	free(j->dir);
	free(j->control_sock);
	free(j);
}

/* The VM the job was made for, if it still runs that process. */
static struct vm *job_vm(struct hv_job *j)
{
	struct vm *vm = vmm_vm_by_id(j->m, j->vm_id);

	return vm && vm->rec.pid == j->pid ? vm : NULL;
}

static int request(struct vmm *m, enum hv_request what, const char *control_sock, bgr_error *err)
{
	const struct vm_driver *d = m->driver;

	switch (what) {
	case HV_STOP:
		return d->stop(m->loop, control_sock, err);
	case HV_QUIT:
		return d->quit(m->loop, control_sock, err);
	case HV_ADOPT:
		return d->adopt(m->loop, control_sock, err);
	}
	return 0;
}

static void answered(struct vmm *m, struct vm *vm, enum hv_request what, int result, const bgr_error *err)
{
	if (what == HV_ADOPT && result == 1)
		vmm_vm_log(m, vm,
			   "re-adopt: the guest was paused (a template's save that bangerd did not live to "
			   "end): resumed");
	if (result >= 0)
		return;
	switch (what) {
	case HV_STOP:
		if (vm->stop_phase != STOP_POWERDOWN)
			return; /* the stop has moved on (quit, kill) or ended */
		if (m->driver->stop_by_hypervisor_first && vm_agent_send(vm, "shutdown\n") == 0)
			return;
		vmm_vm_log(m, vm, "clean shutdown request failed: %s", err->msg);
		return;
	case HV_QUIT:
		vmm_vm_log(m, vm, "%s", err->msg);
		return;
	case HV_ADOPT:
		vmm_vm_log(m, vm, "re-adopt: %s", err->msg);
		return;
	}
}

static void request_work(void *data)
{
	struct hv_job *j = data;

	bgr_error_clear(&j->err);
	j->result = request(j->m, j->what, j->control_sock, &j->err);
}

static void request_done(void *data)
{
	struct hv_job *j = data;
	struct vm *vm = job_vm(j);

	if (vm)
		answered(j->m, vm, j->what, j->result, &j->err);
	job_free(j);
}

void hv_request(struct vmm *m, struct vm *vm, enum hv_request what)
{
	struct hv_job *j;
	bgr_error err;
	int r;

	if (!m->driver->requests_block) {
		bgr_error_clear(&err);
		r = request(m, what, vm->qmp_sock, &err);
		answered(m, vm, what, r, &err);
		return;
	}
	j = job_new(m, vm);
	j->what = what;
	workers_submit(m->workers, request_work, request_done, j);
}

static void configure_work(void *data)
{
	struct hv_job *j = data;

	bgr_error_clear(&j->err);
	j->result = j->m->driver->configure(j->dir, j->control_sock, j->pid, &j->err);
}

static void configure_done(void *data)
{
	struct hv_job *j = data;
	struct vm *vm = job_vm(j);

	if (vm && j->result < 0 && vm->rec.state == VM_STARTING)
		j->failed(j->m, vm, j->err.msg);
	job_free(j);
}

void hv_configure(struct vmm *m, struct vm *vm, hv_failed_fn failed)
{
	struct hv_job *j;

	if (!m->driver->configure)
		return;
	j = job_new(m, vm);
	j->failed = failed;
	workers_submit(m->workers, configure_work, configure_done, j);
}
