/* The hypervisor requests of a stop and of a re-adoption, and what a start
 * still needs once its process runs (the driver's configure), made where
 * they may be: at once on the loop when the driver's requests return at
 * once (QEMU's one-shot QMP calls), on a worker when they block
 * (Firecracker's banger-fc). An answer counts only for the process it was
 * made for: a VM deleted, stopped or booted again meanwhile ignores it. */
#ifndef BANGER_HV_REQUESTS_H
#define BANGER_HV_REQUESTS_H

#include "vm.h"

enum hv_request { HV_STOP, HV_QUIT, HV_ADOPT };

/* HV_STOP asks the guest to power off through the hypervisor; when that
 * fails and the driver asks the hypervisor first, the agent is asked
 * instead. HV_QUIT asks the hypervisor to exit, HV_ADOPT whether its
 * control socket answers. Failures are logged; the stop's escalation
 * timers do the rest. */
void hv_request(struct vmm *m, struct vm *vm, enum hv_request what);

typedef void (*hv_failed_fn)(struct vmm *m, struct vm *vm, const char *msg);
/* Runs the driver's configure for vm's new process on a worker, when the
 * driver has one; failed(m, vm, reason) when it fails and the VM is still
 * starting on that process. */
void hv_configure(struct vmm *m, struct vm *vm, hv_failed_fn failed);

#endif
