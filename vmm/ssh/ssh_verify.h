/* The ssh step of a boot, after the agent's hello: on a worker, banger-ssh
 * pins the host keys the agent reported (or checks them against the pins),
 * then checks with libssh that sshd answers with a pinned key and lets
 * banger's key in (helpers/banger-ssh/ssh_check.c). The verdict comes back
 * to the loop through m->hooks.ssh_verified (the lifecycle's). */
#ifndef BANGER_SSH_VERIFY_H
#define BANGER_SSH_VERIFY_H

#include "vm.h"

/* The most host keys a hello may carry (a real guest has three or four
 * types); one with more is refused, not cut. banger-ssh takes as many
 * (PINS_MAX). */
#define HELLO_KEYS_MAX 16

/* How many hostkey= values a hello has, well-formed or not. */
int hello_host_key_count(const char *hello);

/* 0, or -EINVAL with the reason in msg when the hello carries more than
 * HELLO_KEYS_MAX host keys. */
int hello_host_keys_check(const char *hello, char *msg, size_t size);

/* The hostkey= values of a hello ("TYPE:BASE64", syntax-checked only: the
 * helper imports them), at most HELLO_KEYS_MAX, each a heap string. Returns
 * how many; *bad counts malformed ones and those past the limit. */
int hello_host_keys(const char *hello, char *keys[HELLO_KEYS_MAX], int *bad);

/* Queues the check for vm's current boot. */
void vm_ssh_verify(struct vmm *m, struct vm *vm);

#endif
