/* banger's known_hosts, in memory: the whole file and each VM's lines, as
 * banger-ssh (libssh) matched them, read again on a worker whenever the
 * file changed. vmm.h has the calls fronts use (vmm_known_hosts,
 * vmm_vm_known_hosts, vmm_pins_fresh, vmm_pins_refresh). */
#ifndef BANGER_PINS_CACHE_H
#define BANGER_PINS_CACHE_H

struct vmm;

/* Waiters get -ESHUTDOWN; the memory goes. */
void pins_cache_free(struct vmm *m);

#endif
