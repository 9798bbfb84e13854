/* vms/NAME/ports: the forwarding rules of every VM (port_rule.c parses
 * them), kept in the store and bound by bangerd's relay (relay.c) whenever
 * the rule exists and bangerd runs, so a taken port is refused at write
 * time and the port stays reserved while the VM is stopped. A connection
 * goes to the guest's address (bridge) or to a 127.0.0.1 port QEMU's slirp
 * forwards to the guest (user mode: hostfwd_add through QMP at each boot). */
#ifndef BANGER_PORTS_H
#define BANGER_PORTS_H

#include "vm.h"

/* At start-up, after re-adoption: binds every stored rule (a failure is
 * the rule's state, in the file and logs). */
void ports_load(struct vmm *m);
/* Closes every listener (bangerd stops; the rules stay stored). */
void ports_free(struct vmm *m);
/* The VM is gone: its listeners close (the store dropped its rules). */
void ports_vm_removed(struct vmm *m, int64_t vm_id);
/* A boot of vm is running: user mode asks QEMU for its forwards. */
void ports_vm_running(struct vmm *m, struct vm *vm);
/* Its hypervisor is gone: the connections and flows to it close (a
 * connection to a vanished guest would otherwise wait for TCP's timeout);
 * the listeners stay. */
void ports_vm_down(struct vmm *m, struct vm *vm);

#endif
