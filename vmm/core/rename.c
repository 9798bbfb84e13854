/* mv vms/OLD vms/NEW: a stopped VM takes a new name. Its files, disks and
 * address are keyed by its id and stay; what carries the name follows: the
 * record (one save), the .vm DNS name and the ssh_config Host blocks (both
 * read the record), the log's tag. Pins for OLD.vm, and any left for
 * NEW.vm by an earlier VM, are dropped on a worker first (the address's
 * stay: the VM's keys are the same; its next start pins NEW.vm from the
 * agent, as a first start does). Meanwhile the new name is taken and the
 * VM is busy (a start or a change of it is EBUSY). */
#include "vm.h"
#include "log.h"
#include "pins_cache.h"
#include "ssh_helper.h"
#include "util.h"

#include <errno.h>
#include <string.h>

struct rename_op {
	struct vmm *m;
	int64_t vm_id;
	char from[VM_NAME_MAX + 1], to[VM_NAME_MAX + 1];
	char hosts[2][VM_NAME_MAX + 8];
	char *known_hosts;
	struct vmm_waiter *waiters;
	/* the worker's result */
	bool dropped;
	int result;
	bgr_error err;
};

static void op_free(struct rename_op *op)
{
	free(op->known_hosts);
	free(op);
}

static void drop_work(void *data)
{
	struct rename_op *op = data;
	const char *list[2] = { op->hosts[0], op->hosts[1] };

	if (!pins_may_hold(op->known_hosts, list, 2))
		return;
	op->result = ssh_helper_drop(op->known_hosts, list, 2, &op->err);
	op->dropped = op->result == 0;
}

static void pins_read(void *ctx, int result)
{
	struct rename_op *op = ctx;

	(void)result; /* the copy catches up with the file either way */
	waiters_complete(&op->waiters, 0);
	op_free(op);
}

/* 0 done; -errno (the record unchanged). */
static int commit(struct vmm *m, struct vm *vm, struct rename_op *op, bgr_error *err)
{
	struct vm_record before = vm->rec;
	char what[VM_NAME_MAX + 16];

	snprintf(vm->rec.name, sizeof(vm->rec.name), "%s", op->to);
	if (vm_save(m, vm, err) < 0) {
		vm->rec = before;
		vm_changed(m, vm);
		return -err->code;
	}
	vmm_vm_log(m, vm, "renamed from %s", op->from);
	snprintf(what, sizeof(what), "renamed from %s", op->from);
	vmm_event_line(m, op->to, what);
	ssh_config_refresh(m);
	return 0;
}

/* On the loop, the pins dealt with: the name changes, or nothing does. */
static void drop_done(void *data)
{
	struct rename_op *op = data;
	struct vmm *m = op->m;
	struct vm *vm = vmm_vm_by_id(m, op->vm_id);
	bgr_error err = { 0 };
	int r = op->result;

	if (vm) {
		free(vm->renaming_to);
		vm->renaming_to = NULL;
		vm->applying = false;
	}
	if (!vm) {
		r = -ENOENT;
	} else if (atomic_load(&m->quitting)) {
		r = -ESHUTDOWN;
	} else if (r < 0) {
		log_msg("rename vms/%s to %s: cannot drop the pins of the names: %s", op->from, op->to, op->err.msg);
	} else if ((r = commit(m, vm, op, &err)) < 0) {
		log_msg("rename vms/%s to %s: %s", op->from, op->to, err.msg);
	} else if (op->dropped) {
		/* answered once the copy of the pins is read again */
		struct vmm_waiter *ignore = NULL;
		vmm_pins_refresh(m, pins_read, op, &ignore);
		return;
	}
	if (op->dropped)
		vmm_pins_refresh(m, NULL, NULL, NULL);
	waiters_complete(&op->waiters, r);
	op_free(op);
}

int vmm_vm_rename(struct vmm *m, struct vm *vm, const char *name, vmm_done_fn fn, void *ctx,
		  struct vmm_waiter **ret_waiter, bgr_error *err)
{
	struct rename_op *op;
	int r = vm_name_check(name, err);

	if (r < 0)
		return r;
	if (strcmp(name, vm->rec.name) == 0)
		return 0;
	if (vmm_vm_by_name(m, name) || vm_create_reserved(m, name) || vm_renaming_to(m, name))
		return bgr_fail(err, EEXIST, "a VM named '%s' already exists", name);
	if (!vmm_vm_is_down(vm))
		return bgr_fail(err, EBUSY, "vms/%s is %s: stop it first (its guest runs under that name)",
				vm->rec.name, vm_state_name(vm->rec.state));
	if (vm->applying || vm->making_disk || vm->awaiting_pull)
		return bgr_fail(err, EBUSY, "a change of vms/%s is being applied; rename it once that returned",
				vm->rec.name);
	op = xcalloc(1, sizeof(*op));
	op->m = m;
	op->vm_id = vm->rec.id;
	snprintf(op->from, sizeof(op->from), "%s", vm->rec.name);
	snprintf(op->to, sizeof(op->to), "%s", name);
	snprintf(op->hosts[0], sizeof(op->hosts[0]), "%s.vm", op->from);
	snprintf(op->hosts[1], sizeof(op->hosts[1]), "%s.vm", op->to);
	op->known_hosts = xstrdup(m->paths->known_hosts);
	vm->renaming_to = xstrdup(name);
	vm->applying = true;
	*ret_waiter = waiter_add(&op->waiters, fn, ctx);
	workers_submit(m->workers, drop_work, drop_done, op);
	return 1;
}
