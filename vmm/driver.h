/* A hypervisor driver: a small table of functions (DESIGN.md "Hypervisors").
 * Drivers are stateless about the VM beyond what they are given; the manager
 * owns the VM and calls them on the loop thread. */
#ifndef BANGER_DRIVER_H
#define BANGER_DRIVER_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

struct loop;

/* Everything needed to launch one VM. Paths are absolute. */
struct vm_launch {
	const char *name;
	const char *accel;       /* "kvm" or "tcg" */
	unsigned vcpu;
	unsigned memory_mib;
	const char *kernel;      /* bzImage */
	const char *initrd;
	const char *cmdline;     /* extra kernel arguments */
	const char *root_disk;   /* qcow2 overlay */
	const char *work_disk;   /* raw ext4 for /root (file_sync), or NULL */
	const char *qmp_sock;
	const char *console_sock;
	const char *console_log;
	const char *agent_sock;
	int log_fd;              /* hypervisor stdout/stderr go here */
	/* network: NET_NONE/NET_USER/NET_BRIDGE (vmm.h enum net_mode) */
	int net_mode;
	const char *mac;
	int tap_fd;              /* bridge: the tap, passed as fd 3 */
	int ssh_port;            /* user: host 127.0.0.1 port forwarded to :22 */
	bool outbound;           /* user: may the guest reach out (nat = true)? */
};

struct vm_driver {
	const char *name;
	/* Checks that the hypervisor can be run at all (binary present). */
	int (*prepare)(bgr_error *err);
	/* Spawns the hypervisor; returns its pid. */
	pid_t (*start)(const struct vm_launch *l, bgr_error *err);
	/* Asks the guest to power off (ACPI); returns at once. */
	int (*stop)(struct loop *loop, const char *control_sock, bgr_error *err);
	/* Asks the hypervisor itself to exit; returns at once. */
	int (*quit)(struct loop *loop, const char *control_sock, bgr_error *err);
	/* Checks, after a daemon restart, that the control socket still answers. */
	int (*adopt)(struct loop *loop, const char *control_sock, bgr_error *err);
};

extern const struct vm_driver qemu_driver;

#endif
