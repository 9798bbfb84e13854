/* The ssh step of a boot, after the agent's hello: pin the host keys the
 * agent reported (or, for agents that report none, the key ssh shows on
 * first contact), then check with libssh that sshd answers with a pinned
 * key and lets banger's key in. Runs on a worker; the verdict comes back to
 * the loop through vm_ssh_verified (lifecycle.c). */
#ifndef BANGER_SSH_VERIFY_H
#define BANGER_SSH_VERIFY_H

#include "pins.h"
#include "vm.h"

/* Parses the hostkey= fields of a hello line into keys (bad ones are
 * skipped and counted in *bad). */
void hello_host_keys(const char *hello, struct pinset *keys, int *bad);

/* Queues the check for vm's current boot. */
void vm_ssh_verify(struct vmm *m, struct vm *vm, const struct pinset *agent_keys);

#endif
