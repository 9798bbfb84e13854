/* vmm/net: guest networking. The bridge and taps (netdev.c, ioctls and
 * rtnetlink), NAT (nat.c, one nftables table per bridge), the address pool
 * (ippool.c), the `.vm` DNS responder (dns.c packets, dns_server.c socket)
 * and, here, the manager's side of all of it (network.c).
 *
 * Guest networking for the manager: the bridge, its DNS and NAT while
 * bangerd runs, an address per VM, and the hypervisor's side of each boot. */
#ifndef BANGER_NETWORK_H
#define BANGER_NETWORK_H

#include "driver.h"
#include "vm.h"

/* Brings up the bridge (address, DNS for .vm, NAT, systemd-resolved
 * routing) in bridge mode; nothing in the other modes. */
int network_up(struct vmm *m, bgr_error *err);
/* Undoes network_up: NAT rules and the bridge are gone afterwards. */
void network_down(struct vmm *m);

/* Gives a new record an address from the pool and its MAC (ENOSPC when
 * the pool is empty). */
int network_assign(struct vmm *m, struct vm_record *rec, bgr_error *err);

/* Fills the launch's network part for one boot: a tap on the bridge, or a
 * free 127.0.0.1 port forwarded to the guest's :22. *cmdline gets the
 * guest's ip= argument (caller frees); *tap_fd the tap (caller closes once
 * the hypervisor has it). */
int network_prepare_boot(struct vmm *m, struct vm *vm, struct vm_launch *l, char **cmdline, int *tap_fd,
			 bgr_error *err);

/* The hypervisor is gone: drops a tap it opened by name (Firecracker). */
void network_boot_ended(struct vmm *m, struct vm *vm);

/* A bridged clone has its own identity now: a tap the hypervisor opened
 * by name (Firecracker), kept off the bridge since the restore, joins it. */
int network_clone_online(struct vmm *m, struct vm *vm, bgr_error *err);
/* After a daemon restart: puts a running VM's tap back on the bridge. */
void network_readopt(struct vmm *m, struct vm *vm);

/* Where the VM's sshd answers from the host; -1 when it has no network. */
int network_ssh_endpoint(const struct vm *vm, char host[16], int *port);

/* The known_hosts names of the VM: NAME.vm and its address (with the port
 * in user mode). Returns how many were written (0..2). */
int network_pin_hosts(const struct vm *vm, char hosts[2][96]);

/* Every known_hosts name the VM may have been pinned under, for removal:
 * NAME.vm, its pool address and its last forwarded port. Returns the count. */
int network_all_pin_hosts(const struct vm_record *rec, char hosts[3][96]);

#endif
