/* The manager's low-level services, which every other part of the core
 * calls and which call nothing above them: lookups, waiter lists, saving a
 * record, telling the front, the per-VM log, the error field and the event
 * ring. Nothing here starts, stops or removes a VM. */
#include "vm.h"
#include "log.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct vm *vmm_vm_at(struct vmm *m, size_t i)
{
	return i < m->n_vms ? m->vms[i] : NULL;
}
const struct vm_record *vm_record(const struct vm *vm)
{
	return &vm->rec;
}
const char *vm_console_log(const struct vm *vm)
{
	return vm->console_log;
}
const char *vm_log_path(const struct vm *vm)
{
	return vm->log_path;
}
const char *vm_agent_hello(const struct vm *vm)
{
	return vm->hello ? vm->hello : "";
}

bool vm_renaming_to(struct vmm *m, const char *name)
{
	for (size_t i = 0; i < m->n_vms; i++)
		if (m->vms[i]->renaming_to && strcmp(m->vms[i]->renaming_to, name) == 0)
			return true;
	return false;
}

bool vmm_vm_is_down(const struct vm *vm)
{
	return (vm->rec.state == VM_STOPPED || vm->rec.state == VM_ERROR) && vm->pidfd < 0;
}

struct vm *vmm_vm_by_name(struct vmm *m, const char *name)
{
	for (size_t i = 0; i < m->n_vms; i++)
		if (strcmp(m->vms[i]->rec.name, name) == 0)
			return m->vms[i];
	return NULL;
}

struct vm *vmm_vm_by_id(struct vmm *m, int64_t id)
{
	/* ids only grow and vms stays in id order: binary search */
	size_t lo = 0, hi = m->n_vms;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (m->vms[mid]->rec.id == id)
			return m->vms[mid];
		if (m->vms[mid]->rec.id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct vmm_waiter *waiter_add(struct vmm_waiter **list, vmm_done_fn fn, void *ctx)
{
	struct vmm_waiter *w = xcalloc(1, sizeof(*w)), **tail = list;

	w->fn = fn;
	w->ctx = ctx;
	while (*tail)
		tail = &(*tail)->next;
	*tail = w;
	return w;
}

void waiters_complete(struct vmm_waiter **list, int result)
{
	struct vmm_waiter *w = *list;

	*list = NULL;
	while (w) {
		struct vmm_waiter *next = w->next;
		if (w->fn)
			w->fn(w->ctx, result);
		free(w);
		w = next;
	}
}

void vmm_waiter_cancel(struct vmm_waiter *w)
{
	if (w)
		w->fn = NULL;
}

void vm_changed(struct vmm *m, struct vm *vm)
{
	if (m->obs.vm_changed)
		m->obs.vm_changed(m->obs.ctx, vm);
}

int vm_save(struct vmm *m, struct vm *vm, bgr_error *err)
{
	int r = store_vm_update(m->store, &vm->rec, err);

	if (r < 0)
		log_msg("%s: %s", vm->rec.name, err->msg);
	vm_changed(m, vm);
	return r;
}

void vmm_vm_log(struct vmm *m, struct vm *vm, const char *fmt, ...)
{
	char line[BGR_ERROR_MAX + 64];
	_cleanup_free_ char *tag = xasprintf("%s: ", vm->rec.name);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_to_file(vm->log_path, tag, line);
	if (m->obs.vm_output)
		m->obs.vm_output(m->obs.ctx, vm, VMM_OUT_LOGS);
}

void vm_set_error(struct vmm *m, struct vm *vm, enum vm_error_of of, const char *fmt, ...)
{
	bgr_error e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	text_one_line(e.msg);
	snprintf(vm->rec.error, sizeof(vm->rec.error), "%s", e.msg);
	vm->rec.error_of = of;
	vm->error_seq++;
	vmm_vm_log(m, vm, "error: %s", e.msg);
}

void vmm_vm_fail(struct vmm *m, struct vm *vm, enum vm_error_of of, const bgr_error *err)
{
	bgr_error save_err;

	vm_set_error(m, vm, of, "%s", err->msg);
	/* the error stays in memory (the error file) even when the store fails */
	if (vm_save(m, vm, &save_err) < 0)
		vmm_vm_log(m, vm, "cannot save the VM's record: %s", save_err.msg);
}

void vm_forget_error(struct vm *vm, enum vm_error_of of)
{
	if (vm->rec.error_of != of)
		return;
	vm->rec.error[0] = '\0';
	vm->rec.error_of = VM_ERR_NONE;
}

void vm_clear_error(struct vmm *m, struct vm *vm, enum vm_error_of of)
{
	bgr_error err;

	if (!vm->rec.error[0] || vm->rec.error_of != of)
		return;
	vm_forget_error(vm, of);
	/* an error that comes back after a restart of bangerd is only stale */
	if (vm_save(m, vm, &err) < 0)
		vmm_vm_log(m, vm, "cannot save the VM's record: %s", err.msg);
}

void vmm_event_line(struct vmm *m, const char *subject, const char *what)
{
	char line[256], ts[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(line, sizeof(line), "%s %s %s", ts, subject, what);
	events_append(&m->events, line);
	if (m->obs.event)
		m->obs.event(m->obs.ctx);
}

void vm_event(struct vmm *m, struct vm *vm, const char *what)
{
	vmm_event_line(m, vm->rec.name, what);
}

uint64_t vmm_events_oldest(struct vmm *m)
{
	return m->events.start;
}
uint64_t vmm_events_end(struct vmm *m)
{
	return m->events.end;
}

size_t vmm_events_read(struct vmm *m, uint64_t *pos, char *buf, size_t size)
{
	return events_read(&m->events, pos, buf, size);
}
