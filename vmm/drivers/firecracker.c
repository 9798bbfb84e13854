/* The Firecracker driver: the firecracker binary started with --api-sock
 * (a stale socket unlinked first) and configured through its REST API by
 * the banger-fc helper (libcurl over the unix socket). Serial console on
 * the process's stdout (appended to console.log) and stdin (a FIFO); the
 * agent over hybrid vsock on the same agent.sock path QEMU uses. Raw root
 * disks (Firecracker takes no qcow2) and an uncompressed vmlinux.
 * Not yet run against a live Firecracker on these machines (no KVM that
 * runs stock kernels, no Debian package): docs/hypervisors.md. */
#include "driver.h"
#include "fc_plan.h"
#include "fc_vsock.h"
#include "proc.h"
#include "ssh_helper.h"
#include "paths.h"
#include "util.h"
#include "vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define AGENT_VSOCK_PORT 1024
#define GUEST_CID 3
/* a bound for a hung process; the wait runs on a worker, and the boot
 * timeout bounds the whole start anyway */
#define API_WAIT_MS 60000

static char fc_binary[256] = "firecracker";

void firecracker_set_binary(const char *path)
{
	if (path && *path)
		snprintf(fc_binary, sizeof(fc_binary), "%s", path);
}

static const char *fc_helper(void)
{
	static char path[PATH_MAX + 64];
	return path[0] ? path : helper_path("banger-fc", "BANGER_FC_HELPER", path);
}

static char *fc_version(void)
{
	char *argv[] = { fc_binary, "--version", NULL };

	return proc_first_line(argv, "firecracker unknown");
}

static int fc_prepare(bgr_error *err)
{
	char *argv[] = { fc_binary, "--version", NULL };

	if (proc_run(argv, -1) != 0)
		return bgr_fail(err, ENOENT, "%s not found or not runnable (set firecracker_bin in config.toml)",
				fc_binary);
	return 0;
}

/* Runs banger-fc; 0 (1 when its answer is "ok resumed"), or the failure
 * line (fault_message) in err. */
static int fc_call(char **argv, const char *what, bgr_error *err)
{
	char *out = NULL;
	int status;

	argv[0] = (char *)fc_helper();
	status = proc_capture(argv, &out, NULL, NULL);
	if (!out) /* the helper could not even be started */
		out = xasprintf("cannot run %s: %s", argv[0], strerror(status < 0 ? -status : EIO));
	if (status == 0 && strncmp(out, "ok", 2) == 0) {
		int resumed = strncmp(out, "ok resumed", 10) == 0;
		free(out);
		return resumed;
	}
	out[strcspn(out, "\n")] = '\0';
	bgr_fail(err, EIO, "firecracker %s: %s", what,
		 strncmp(out, "fail ", 5) == 0 ? out + 5 + strspn(out + 5, "0123456789 ") : out);
	free(out);
	return -EIO;
}

/* On a worker: waits until the API socket takes a connection. The process
 * is the loop's to reap, so it is watched here by its start time only. */
static int wait_for_socket(const char *path, pid_t pid, bgr_error *err)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timespec pause = { 0, 20 * 1000000L };
	uint64_t started = proc_start_time(pid);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	for (int waited = 0; waited < API_WAIT_MS; waited += 20) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return 0;
		if (!proc_is(pid, started))
			return bgr_fail(err, EIO, "firecracker exited at start (see logs)");
		nanosleep(&pause, NULL);
	}
	return bgr_fail(err, ETIMEDOUT, "firecracker did not open its API socket %s within %d s", path,
			API_WAIT_MS / 1000);
}

static char *dir_of(const char *path)
{
	char *d = xstrdup(path);
	*strrchr(d, '/') = '\0';
	return d;
}

/* A file of the VM's directory by its name alone: Firecracker runs there
 * (its cwd), and a snapshot keeps the paths it was booted with, so a clone
 * in another directory finds its own disk and vsock socket by them. */
static const char *in_dir(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (path && strncmp(path, dir, n) == 0 && path[n] == '/' && !strchr(path + n + 1, '/'))
		return path + n + 1;
	return path;
}

static int write_json(const char *path, cJSON *plan, bgr_error *err)
{
	char *text = cJSON_Print(plan);
	int fd, r = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		r = bgr_fail(err, EIO, "cannot write %s", path);
	if (fd >= 0)
		close(fd);
	free(text);
	return r;
}

static int write_plan(const struct vm_launch *l, const char *dir, const char *vmlinux, char **ret, bgr_error *err)
{
	_cleanup_free_ char *log = xasprintf("%s/firecracker.log", dir);
	_cleanup_free_ char *args =
		xasprintf("console=ttyS0 reboot=k panic=1 pci=off banger.name=%s banger.vmm=firecracker %s", l->name,
			  l->cmdline);
	_cleanup_free_ char *path = xasprintf("%s/firecracker-plan.json", dir);
	struct fc_boot b = {
		.log_path = log,
		.vcpu = l->vcpu,
		.mem_mib = l->memory_mib,
		.kernel = vmlinux,
		.initrd = l->initrd,
		.boot_args = args,
		.root_disk = in_dir(l->root_disk, dir),
		.work_disk = in_dir(l->work_disk, dir),
		.tap = l->net_mode == NET_BRIDGE ? l->tap_name : NULL,
		.mac = l->mac,
		.vsock_uds = in_dir(l->agent_sock, dir),
		.guest_cid = GUEST_CID,
	};
	struct fc_load load = {
		.log_path = log,
		.state_path = l->state_path,
		.mem_path = l->mem_path,
		.tap = b.tap,
	};
	/* a clone loads the template's snapshot instead of booting */
	cJSON *plan = l->incoming ? fc_snapshot_load_plan(&load) : fc_boot_plan(&b);
	int fd, r;

	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600); /* /logger wants it to exist */
	if (fd >= 0)
		close(fd);
	r = write_json(path, plan, err);
	cJSON_Delete(plan);
	*ret = steal_ptr(&path);
	return r;
}

static pid_t fc_start(const struct vm_launch *l, int *gate, bgr_error *err)
{
	_cleanup_free_ char *kdir = dir_of(l->kernel), *dir = dir_of(l->console_log), *plan = NULL;
	_cleanup_free_ char *vmlinux = xasprintf("%s/vmlinux", kdir), *id = xasprintf("banger-%s", l->name);
	_cleanup_close_ int in = -1, out = -1;
	struct stat st;
	pid_t pid;

	if (l->incoming && (!l->state_path || !l->mem_path))
		return bgr_fail(err, EINVAL, "a Firecracker clone needs the template's state and memory files");
	if (stat(vmlinux, &st) < 0)
		return bgr_fail(err, ENOENT,
				"kernel has no uncompressed vmlinux for Firecracker: %s (rebuild it with "
				"tools/mkimage)",
				vmlinux);
	if (write_plan(l, dir, vmlinux, &plan, err) < 0) /* configure sends it */
		return -err->code;
	unlink(l->qmp_sock);   /* Firecracker refuses a stale API socket */
	unlink(l->agent_sock); /* and binds the vsock uds itself */
	if (mkfifo(l->console_sock, 0600) < 0 && errno != EEXIST)
		return bgr_fail(err, errno, "cannot make the console FIFO %s: %s", l->console_sock, strerror(errno));
	in = open(l->console_sock, O_RDWR | O_CLOEXEC);
	out = open(l->console_log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (in < 0 || out < 0)
		return bgr_fail(err, errno, "cannot open the console files in %s: %s", dir, open_strerror(errno));
	char *argv[] = { fc_binary, "--api-sock", (char *)l->qmp_sock, "--id", id, NULL };
	struct proc_stdio io = { .in_fd = in, .out_fd = out, .err_fd = l->log_fd, .cwd = dir };
	pid = proc_spawn_gated(argv, &io, -1, gate);
	if (pid < 0)
		return bgr_fail(err, -pid, "cannot start %s: %s", fc_binary, strerror(-pid));
	return pid;
}

/* On a worker, once the process runs: the API socket, then the plan
 * fc_start wrote (machine, boot source, drives, vsock, InstanceStart). */
static int fc_configure(const char *vm_dir, const char *control_sock, pid_t pid, bgr_error *err)
{
	_cleanup_free_ char *plan = xasprintf("%s/firecracker-plan.json", vm_dir);
	char *call[] = { NULL, "configure", (char *)control_sock, plan, NULL };

	if (wait_for_socket(control_sock, pid, err) < 0)
		return -err->code;
	return fc_call(call, "boot", err);
}

/* On a worker: a clone's process loads the template (the plan fc_start
 * wrote: /logger, /snapshot/load with resume_vm) and must then run. */
static int fc_snap_load(const char *vm_dir, const char *control_sock, pid_t pid, bgr_error *err)
{
	_cleanup_free_ char *plan = xasprintf("%s/firecracker-plan.json", vm_dir);
	char *call[] = { NULL, "snapshot-load", (char *)control_sock, plan, NULL };

	if (wait_for_socket(control_sock, pid, err) < 0)
		return -err->code;
	return fc_call(call, "snapshot load", err);
}

/* On a worker: PATCH /vm Paused, PUT /snapshot/create (Full). */
static int fc_snap_create(const char *vm_dir, const char *control_sock, const char *state_path, const char *mem_path,
			  bgr_error *err)
{
	_cleanup_free_ char *path = xasprintf("%s/firecracker-snapshot.json", vm_dir);
	cJSON *plan = fc_snapshot_create_plan(state_path, mem_path);
	char *call[] = { NULL, "snapshot-create", (char *)control_sock, path, NULL };
	int r = write_json(path, plan, err);

	cJSON_Delete(plan);
	return r < 0 ? r : fc_call(call, "snapshot create", err);
}

static int fc_snap_resume(const char *control_sock, bgr_error *err)
{
	char *argv[] = { NULL, "request", (char *)control_sock, "PATCH", "/vm", "{\"state\":\"Resumed\"}", NULL };

	return fc_call(argv, "resume", err);
}

static int fc_action(const char *sock, const char *action, bgr_error *err)
{
	_cleanup_free_ char *body = xasprintf("{\"action_type\":\"%s\"}", action);
	char *argv[] = { NULL, "request", (char *)sock, "PUT", "/actions", body, NULL };

	return fc_call(argv, action, err);
}

static int fc_stop(struct loop *loop, const char *sock, bgr_error *err)
{
	(void)loop;
	return fc_action(sock, "SendCtrlAltDel", err);
}

static int fc_quit(struct loop *loop, const char *sock, bgr_error *err)
{
	(void)loop;
	(void)sock;
	return bgr_fail(err, ENOTSUP, "Firecracker has no quit request; the process is killed next");
}

/* GET / must answer; a guest left paused by a template's save that
 * bangerd did not live to end is resumed (banger-fc adopt): 1. */
static int fc_adopt(struct loop *loop, const char *sock, bgr_error *err)
{
	char *argv[] = { NULL, "adopt", (char *)sock, NULL };

	(void)loop;
	return fc_call(argv, "re-adopt", err);
}

static int fc_agent_handshake_send(int fd)
{
	return fc_vsock_send_connect(fd, AGENT_VSOCK_PORT);
}

static int fc_agent_handshake_reply(const char *line, size_t len)
{
	unsigned host_port;

	return fc_vsock_parse_reply(line, len, &host_port);
}

const struct vm_driver firecracker_driver = {
	.name = "firecracker",
	.control_sock_name = "firecracker.sock",
	.root_disk_name = "root.img",
	.console_name = "console.in",
	.raw_disks = true,
	.tap_by_name = true,
	.console_on_stdout = true,
	.stop_by_hypervisor_first = true,
	.agent_handshake_send = fc_agent_handshake_send,
	.agent_handshake_reply = fc_agent_handshake_reply,
	.prepare = fc_prepare,
	.version = fc_version,
	.start = fc_start,
	.configure = fc_configure,
	.requests_block = true,
	.stop = fc_stop,
	.quit = fc_quit,
	.adopt = fc_adopt,
	.snap_create = fc_snap_create,
	.snap_resume = fc_snap_resume,
	.snap_load = fc_snap_load,
	.tpl_disk_name = "disk.raw",
};
