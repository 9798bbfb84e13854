/* vmm/drivers: the hypervisor drivers. QEMU (qemu.c, with one-shot QMP calls
 * in qmp.c) and Firecracker (firecracker.c, which runs the banger-fc helper
 * with the plan fc_plan.c builds, and fc_vsock.c's agent handshake).
 *
 * A hypervisor driver: a small table of functions (DESIGN.md "Hypervisors").
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
	const char *accel; /* "kvm" or "tcg" */
	unsigned vcpu;
	unsigned memory_mib;
	const char *kernel; /* bzImage */
	const char *initrd;
	const char *cmdline;   /* extra kernel arguments */
	const char *root_disk; /* qcow2 overlay */
	const char *work_disk; /* raw ext4 for /root (file_sync), or NULL */
	const char *qmp_sock;
	const char *console_sock;
	const char *console_log;
	const char *agent_sock;
	int log_fd; /* hypervisor stdout/stderr go here */
	/* network: NET_NONE/NET_USER/NET_BRIDGE (vmm.h enum net_mode) */
	int net_mode;
	const char *mac;
	int tap_fd;           /* bridge: the tap, passed as fd 3 (QEMU) */
	const char *tap_name; /* bridge: its name (Firecracker opens it itself) */
	int ssh_port;         /* user: host 127.0.0.1 port forwarded to :22 */
	bool outbound;        /* user: may the guest reach out (nat = true)? */
	/* snapshots (QEMU, docs/snapshots.md): the shape templates and clones
	 * share. RAM in the file mem_path (a template's boot: share=on; a clone:
	 * share=off, a private copy-on-write mapping of the template's memory),
	 * a vmgenid device, a PCIe root port for the hot-plugged work disk (never
	 * on the command line then), and for a clone -incoming defer. */
	bool snapshot_shape;
	const char *mem_path;
	bool mem_share;
	bool incoming;
	/* Firecracker: a clone (incoming) is a fresh process that loads this
	 * device state and mem_path (the template's) instead of booting */
	const char *state_path;
};

struct vm_driver {
	const char *name;
	/* file names in the VM's directory */
	const char *control_sock_name; /* QMP, or Firecracker's API socket */
	const char *root_disk_name;
	const char *console_name; /* QEMU: console socket; Firecracker: stdin FIFO */
	bool raw_disks;           /* raw root disk (sparse/reflink copy), not a qcow2 overlay */
	bool tap_by_name;         /* the hypervisor opens a persistent tap by name */
	bool console_on_stdout;   /* the serial console is the process's stdout/stdin */
	/* stop asks the hypervisor first (Firecracker: SendCtrlAltDel, which
	 * reboots the guest and so ends the process; an agent power-off could
	 * leave a halted guest in a live process), the agent only if that fails */
	bool stop_by_hypervisor_first;
	/* A handshake on a new agent connection before the agent's stream
	 * (Firecracker's hybrid vsock CONNECT); NULL when the socket is the
	 * channel itself. The loop never waits for it: _send writes the request
	 * without blocking (0 or -errno), and the reply line, when it comes, goes
	 * to _reply (0: the stream is the agent's now, -1: give up, retry). */
	int (*agent_handshake_send)(int fd);
	int (*agent_handshake_reply)(const char *line, size_t len);
	/* Checks that the hypervisor can be run at all (binary present). */
	int (*prepare)(bgr_error *err);
	/* Optional: the hypervisor's version line (a template's key names it);
	 * runs it, so not on the loop. Caller frees. */
	char *(*version)(void);
	/* Spawns the hypervisor without waiting on it; returns its pid. The
	 * process is held before its exec (proc_spawn_gated, *gate the write
	 * end) until the caller has recorded the pid and opens the gate, so a
	 * crash of bangerd in between leaves no hypervisor it does not know of. */
	pid_t (*start)(const struct vm_launch *l, int *gate, bgr_error *err);
	/* Optional: what a start still needs once the process runs (Firecracker:
	 * its API socket, then the machine's configuration and InstanceStart).
	 * It may block, so it runs on a worker; vm_dir is the VM's directory. */
	int (*configure)(const char *vm_dir, const char *control_sock, pid_t pid, bgr_error *err);
	/* stop, quit and adopt block (Firecracker: a banger-fc process each),
	 * so the lifecycle runs them on a worker; otherwise they return at once
	 * (QEMU: one-shot QMP calls on the loop). */
	bool requests_block;
	/* Asks the guest to power off (ACPI); returns at once. */
	int (*stop)(struct loop *loop, const char *control_sock, bgr_error *err);
	/* Asks the hypervisor itself to exit; returns at once. */
	int (*quit)(struct loop *loop, const char *control_sock, bgr_error *err);
	/* Checks, after a daemon restart, that the control socket still answers;
	 * 1: it did, and the guest had to be resumed (Firecracker). */
	int (*adopt)(struct loop *loop, const char *control_sock, bgr_error *err);

	/* Snapshots through the hypervisor's own API (Firecracker,
	 * docs/snapshots.md "Firecracker"); NULL for QEMU, whose QMP steps are
	 * snap_save.c's and snap_restore.c's own. They block (banger-fc), so
	 * they run on the snapshot workers, never on the loop. */
	/* Pauses the guest and writes a full snapshot: its device state to
	 * state_path, its memory to mem_path. The guest may stay paused
	 * whatever the result: snap_resume always follows (after the root
	 * disk's copy). */
	int (*snap_create)(const char *vm_dir, const char *control_sock, const char *state_path, const char *mem_path,
			   bgr_error *err);
	int (*snap_resume)(const char *control_sock, bgr_error *err);
	/* A clone's start, its process spawned with l->incoming: waits for the
	 * control socket, then loads the template's snapshot and resumes. */
	int (*snap_load)(const char *vm_dir, const char *control_sock, pid_t pid, bgr_error *err);
	/* The template's copy of the root disk, in its directory (NULL: the
	 * qcow2 TPL_DISK); a clone's root disk is a copy of it (raw_disks). */
	const char *tpl_disk_name;
};

extern const struct vm_driver qemu_driver;
/* The PCIe root port a clone's work disk is hot-plugged into. */
#define QEMU_HOTPLUG_PORT "hp0"
extern const struct vm_driver firecracker_driver;
/* The Firecracker binary the driver runs (config firecracker_bin). */
void firecracker_set_binary(const char *path);

#endif
