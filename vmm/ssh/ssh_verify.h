/* The ssh step of a boot, after the agent's hello: on a worker, banger-ssh
 * pins the host keys the agent reported (or checks them against the pins),
 * then checks with libssh that sshd answers with a pinned key and lets
 * banger's key in (helpers/banger-ssh/ssh_check.c). The verdict comes back
 * to the loop through m->hooks.ssh_verified (the lifecycle's). */
#ifndef BANGER_SSH_VERIFY_H
#define BANGER_SSH_VERIFY_H

#include "vm.h"

#define HELLO_KEYS_MAX 8

/* The hostkey= values of a hello ("TYPE:BASE64", syntax-checked only: the
 * helper imports them). Returns how many; *bad counts malformed ones. */
int hello_host_keys(const char *hello, char keys[HELLO_KEYS_MAX][BANGER_AGENT_LINE_MAX / 2], int *bad);

/* Queues the check for vm's current boot. */
void vm_ssh_verify(struct vmm *m, struct vm *vm);

#endif
