/* The QEMU driver: qemu-system-x86_64 with direct kernel boot, controlled
 * through QMP on a unix socket. Flags follow shared/reference/guest-notes.md:
 * q35 works under TCG on these machines, microvm hangs. */
#include "driver.h"
#include "proc.h"
#include "qmp.h"
#include "util.h"
#include "vmm.h"

#include <errno.h>
#include <string.h>

#define QEMU_BIN "qemu-system-x86_64"

static int qemu_prepare(bgr_error *err)
{
	char *argv[] = { QEMU_BIN, "--version", NULL };

	if (proc_run(argv, -1) != 0)
		return bgr_fail(err, ENOENT, "%s not found or not runnable (install qemu-system-x86)", QEMU_BIN);
	return 0;
}

struct argv_builder {
	char *args[64];
	int n;
};

static void add(struct argv_builder *b, char *arg)
{
	if (b->n >= (int)ARRAY_SIZE(b->args) - 1)
		abort(); /* fixed, known set of flags */
	b->args[b->n++] = arg;
}

static void free_args(struct argv_builder *b)
{
	for (int i = 0; i < b->n; i++)
		free(b->args[i]);
}

static void add_network(struct argv_builder *b, const struct vm_launch *l)
{
	if (l->net_mode == NET_NONE) {
		add(b, xstrdup("-nic"));
		add(b, xstrdup("none"));
		return;
	}
	add(b, xstrdup("-netdev"));
	if (l->net_mode == NET_BRIDGE)
		add(b, xstrdup("tap,id=net0,fd=3,vhost=off"));
	else /* slirp: outbound like behind a NAT (restrict=on cuts it); only :22 comes in */
		add(b, xasprintf("user,id=net0,restrict=%s,hostfwd=tcp:127.0.0.1:%d-:22", l->outbound ? "off" : "on",
				 l->ssh_port));
	add(b, xstrdup("-device"));
	add(b, xasprintf("virtio-net-pci,netdev=net0,mac=%s", l->mac));
}

static void build_argv(struct argv_builder *b, const struct vm_launch *l)
{
	bool kvm = strcmp(l->accel, "kvm") == 0;

	add(b, xstrdup(QEMU_BIN));
	add(b, xstrdup("-name"));
	add(b, xasprintf("banger-%s", l->name));
	add(b, xstrdup("-M"));
	add(b, xstrdup(l->snapshot_shape ? "q35,memory-backend=ram0" : "q35"));
	if (l->snapshot_shape) {
		add(b, xstrdup("-object"));
		add(b, xasprintf("memory-backend-file,id=ram0,size=%uM,mem-path=%s,share=%s", l->memory_mib,
				 l->mem_path, l->mem_share ? "on" : "off"));
	}
	add(b, xstrdup("-accel"));
	add(b, xstrdup(kvm ? "kvm" : l->vcpu > 1 ? "tcg,thread=multi" : "tcg"));
	add(b, xstrdup("-cpu"));
	add(b, xstrdup(kvm ? "host" : "max"));
	add(b, xstrdup("-smp"));
	add(b, xasprintf("%u", l->vcpu));
	add(b, xstrdup("-m"));
	add(b, xasprintf("%u", l->memory_mib));
	add(b, xstrdup("-nodefaults"));
	add(b, xstrdup("-no-user-config"));
	add(b, xstrdup("-nographic"));
	add(b, xstrdup("-no-reboot"));
	add(b, xstrdup("-sandbox"));
	add(b, xstrdup("on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"));
	add(b, xstrdup("-kernel"));
	add(b, xstrdup(l->kernel));
	add(b, xstrdup("-initrd"));
	add(b, xstrdup(l->initrd));
	add(b, xstrdup("-append"));
	add(b, xasprintf("console=ttyS0 root=/dev/vda rw panic=-1 banger.name=%s %s", l->name, l->cmdline));
	add(b, xstrdup("-drive"));
	add(b, xasprintf("file=%s,if=none,id=root,format=qcow2,discard=unmap", l->root_disk));
	add(b, xstrdup("-device"));
	add(b, xstrdup("virtio-blk-pci,drive=root"));
	if (l->work_disk && !l->snapshot_shape) { /* the second disk: /dev/vdb, mounted on /root */
		add(b, xstrdup("-drive"));
		add(b, xasprintf("file=%s,if=none,id=work,format=raw,discard=unmap", l->work_disk));
		add(b, xstrdup("-device"));
		add(b, xstrdup("virtio-blk-pci,drive=work"));
	}
	add_network(b, l);
	add(b, xstrdup("-device"));
	add(b, xstrdup("virtio-serial-pci"));
	add(b, xstrdup("-chardev"));
	add(b, xasprintf("socket,id=agent,path=%s,server=on,wait=off", l->agent_sock));
	add(b, xstrdup("-device"));
	add(b, xstrdup("virtserialport,chardev=agent,name=org.banger.agent"));
	add(b, xstrdup("-chardev"));
	add(b, xasprintf("socket,id=con0,path=%s,server=on,wait=off,logfile=%s", l->console_sock, l->console_log));
	add(b, xstrdup("-serial"));
	add(b, xstrdup("chardev:con0"));
	add(b, xstrdup("-qmp"));
	add(b, xasprintf("unix:%s,server=on,wait=off", l->qmp_sock));
	add(b, xstrdup("-device"));
	add(b, xstrdup("virtio-rng-pci"));
	if (l->snapshot_shape) {
		add(b, xstrdup("-device"));
		add(b, xstrdup("vmgenid,guid=auto"));
		add(b, xstrdup("-device"));
		add(b, xstrdup("pcie-root-port,id=" QEMU_HOTPLUG_PORT ",chassis=1"));
	}
	if (l->incoming) {
		add(b, xstrdup("-S")); /* paused after the load: its link goes down before it runs */
		add(b, xstrdup("-incoming"));
		add(b, xstrdup("defer"));
	}
	b->args[b->n] = NULL;
}

static char *qemu_version(void)
{
	char *argv[] = { QEMU_BIN, "--version", NULL };

	return proc_first_line(argv, "unknown");
}

static pid_t qemu_start(const struct vm_launch *l, int *gate, bgr_error *err)
{
	struct argv_builder b = { .n = 0 };
	struct proc_stdio io = { .in_fd = -1, .out_fd = l->log_fd, .err_fd = -1 };
	pid_t pid;

	build_argv(&b, l);
	pid = proc_spawn_gated(b.args, &io, l->net_mode == NET_BRIDGE ? l->tap_fd : -1, gate);
	free_args(&b);
	if (pid < 0)
		return bgr_fail(err, -pid, "cannot start %s: %s", QEMU_BIN, strerror(-pid));
	return pid;
}

static int qemu_stop(struct loop *loop, const char *sock, bgr_error *err)
{
	return qmp_call(loop, sock, "system_powerdown", err);
}

static int qemu_quit(struct loop *loop, const char *sock, bgr_error *err)
{
	return qmp_call(loop, sock, "quit", err);
}

/* "cont": it answers like query-status, and resumes a guest that a daemon
 * stopped for a template's snapshot and then died (docs/snapshots.md); a
 * running guest is unaffected. */
static int qemu_adopt(struct loop *loop, const char *sock, bgr_error *err)
{
	return qmp_call(loop, sock, "cont", err);
}

const struct vm_driver qemu_driver = {
	.name = "qemu",
	.control_sock_name = "qmp.sock",
	.root_disk_name = "root.qcow2",
	.console_name = "console.sock",
	.prepare = qemu_prepare,
	.version = qemu_version,
	.start = qemu_start,
	.stop = qemu_stop,
	.quit = qemu_quit,
	.adopt = qemu_adopt,
};
