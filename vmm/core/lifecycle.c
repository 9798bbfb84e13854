/* The state machine: start, stop, restart, kill, and what happens when the
 * hypervisor process ends. */
#include "image_meta.h"
#include "vm.h"
#include "disk.h"
#include "hv_requests.h"
#include "file_sync.h"
#include "log.h"
#include "network.h"
#include "ports.h"
#include "ssh_verify.h"
#include "proc.h"
#include "snapshots.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>

enum vm_action { ACT_START, ACT_STOP, ACT_RESTART, ACT_KILL };

static int parse_action(const char *word, enum vm_action *ret)
{
	static const char *const words[] = { "start", "stop", "restart", "kill" };

	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		if (strcmp(word, words[i]) == 0) {
			*ret = (enum vm_action)i;
			return 0;
		}
	}
	return -EINVAL;
}

static void cancel_timer(struct vmm *m, struct loop_timer **t)
{
	loop_timer_cancel(m->loop, *t);
	*t = NULL;
}

static void process_gone(struct vmm *m, struct vm *vm, const char *how);

static void pidfd_ready(void *data, int fd, uint32_t events)
{
	struct vm *vm = data;
	int status = 0;
	char how[128] = "exited";

	(void)fd;
	(void)events;
	if (vm->is_child && waitpid(vm->rec.pid, &status, WNOHANG) == vm->rec.pid) {
		if (WIFEXITED(status))
			snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));
		else if (WIFSIGNALED(status))
			snprintf(how, sizeof(how), "was killed by signal %d", WTERMSIG(status));
	}
	process_gone(vm->m, vm, how);
}

static int watch_process(struct vmm *m, struct vm *vm, bgr_error *err)
{
	int fd = proc_pidfd_open(vm->rec.pid);

	if (fd < 0)
		return bgr_fail(err, -fd, "cannot watch pid %d: %s", vm->rec.pid, strerror(-fd));
	if (loop_add_fd(m->loop, fd, EPOLLIN, pidfd_ready, vm) < 0) {
		close(fd);
		return bgr_fail(err, EIO, "cannot watch pid %d", vm->rec.pid);
	}
	vm->pidfd = fd;
	return 0;
}

/* Undoes a spawn whose boot cannot go on: the hypervisor is killed and
 * reaped at once, before anyone could rely on it. */
static void spawn_undo(struct vmm *m, struct vm *vm)
{
	if (vm->pidfd >= 0) {
		loop_del_fd(m->loop, vm->pidfd);
		close(vm->pidfd);
		vm->pidfd = -1;
	}
	kill(vm->rec.pid, SIGKILL);
	waitpid(vm->rec.pid, NULL, 0);
	vm->rec.pid = 0;
	vm->rec.pid_start = 0;
	vm->rec.started_at = 0;
	network_boot_ended(m, vm);
}

/* Saves vm's record in a step that goes on whatever the store says: every
 * such step leaves in the store a record that re-adoption still handles
 * right (the pid of a live hypervisor, or of one that is gone). A failure is
 * never silent: it is logged and becomes the VM's error, unless this step
 * has just put a reason there (which stays; the log has both). */
static void save_or_note(struct vmm *m, struct vm *vm, bool keep_error)
{
	bgr_error err;

	if (vm_save(m, vm, &err) == 0)
		return;
	if (keep_error) {
		vmm_vm_log(m, vm, "cannot save the VM's record: %s", err.msg);
		return;
	}
	vm_set_error(m, vm, VM_ERR_STATE, "cannot save the VM's record: %s", err.msg);
	vm_changed(m, vm);
}

static void boot_timed_out(void *data)
{
	struct vm *vm = data;
	struct vmm *m = vm->m;

	cancel_timer(m, &vm->boot_timer);
	if (vm->hello)
		vm_set_error(m, vm, VM_ERR_STATE,
			     "boot timed out after %d s: the agent said hello but ssh never answered with "
			     "the pinned key and banger's login (see logs)",
			     m->settings.boot_timeout_s);
	else
		vm_set_error(m, vm, VM_ERR_STATE,
			     "boot timed out after %d s: no hello from the guest agent (see console)",
			     m->settings.boot_timeout_s);
	vm->rec.state = VM_ERROR;
	vm_kill(m, vm);
}

static void remove_sockets(struct vm *vm)
{
	unlink(vm->qmp_sock);
	unlink(vm->console_sock);
	unlink(vm->agent_sock);
}

static int open_log(struct vm *vm, bgr_error *err)
{
	int fd = open(vm->log_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return bgr_fail(err, errno, "cannot open %s: %s", vm->log_path, open_strerror(errno));
	return fd;
}

/* The kernel command line's variable part: the network's ip= and the
 * image's own additions (image.json "cmdline", e.g. init= of imported
 * images). NULL when both are empty. */
static char *boot_cmdline(struct vmm *m, struct vm *vm, const char *net_args, bgr_error *err)
{
	struct image_meta meta;
	int r = image_meta_read(m->paths->images_dir, vm->rec.image, &meta, err);

	if (r == -ENOENT || (r == 0 && !meta.cmdline[0]))
		return net_args ? xstrdup(net_args) : NULL;
	if (r < 0) {
		bgr_wrap(err, "image %s", vm->rec.image);
		return NULL;
	}
	return xasprintf("%s%s%s", net_args ? net_args : "", net_args ? " " : "", meta.cmdline);
}

static void boot_failed(struct vmm *m, struct vm *vm, const char *msg);

int vm_boot(struct vmm *m, struct vm *vm, bgr_error *err)
{
	_cleanup_free_ char *vmlinuz = NULL, *initrd = NULL, *net_args = NULL, *cmdline = NULL;
	_cleanup_free_ char *work = xasprintf("%s/" WORK_DISK_NAME, vm->dir);
	_cleanup_free_ char *tpl_memory = NULL, *tpl_state = NULL, *tpl_kernel = NULL;
	_cleanup_close_ int log_fd = -1, tap_fd = -1;
	struct vm_launch l = {
		.name = vm->rec.name,
		.accel = m->settings.accel.accel,
		.vcpu = vm->rec.vcpu,
		.memory_mib = vm->rec.memory_mib,
		.cmdline = "",
		.root_disk = vm->root_disk,
		.qmp_sock = vm->qmp_sock,
		.console_sock = vm->console_sock,
		.console_log = vm->console_log,
		.agent_sock = vm->agent_sock,
	};
	pid_t pid;
	int r, gate = -1;

	r = disk_kernel_paths(m->paths->kernels_dir, vm->rec.kernel, &vmlinuz, &initrd, err);
	if (r < 0)
		return r;
	if (strlen(vm->console_sock) >= 100)
		return bgr_fail(err, ENAMETOOLONG, "state directory path too long for unix sockets: %s", vm->dir);
	log_fd = open_log(vm, err);
	if (log_fd < 0)
		return log_fd;
	l.kernel = vmlinuz;
	l.initrd = initrd;
	l.work_disk = access(work, F_OK) == 0 ? work : NULL;
	if (vm->snap == SNAP_CLONE) {
		struct template *t = template_find(m, vm->snap_key);
		if (!t || t->status != TPL_READY)
			return bgr_fail(err, EIO, "template %s is gone; delete and re-create the VM", vm->snap_key);
		tpl_memory = xasprintf("%s/" TPL_MEMORY, t->dir);
		l.snapshot_shape = true;
		l.mem_path = tpl_memory;
		l.mem_share = false; /* a private copy-on-write mapping of the template's RAM */
		l.incoming = true;
		tpl_state = xasprintf("%s/" TPL_STATE, t->dir); /* Firecracker loads it at its start */
		l.state_path = tpl_state;
		tpl_kernel = xasprintf("%s/" TPL_KERNEL_STUB, t->dir);
		if (access(tpl_kernel, R_OK) == 0) /* an older template has none */
			l.kernel = tpl_kernel;
	} else if (vm->snap == SNAP_MAKE && m->driver->snap_create) {
		/* Firecracker's snapshot API writes the memory itself */
	} else if (vm->snap == SNAP_MAKE && m->runtime_dir) {
		free(vm->mem_path);
		vm->mem_path = xasprintf("%s/vm-%" PRId64 ".ram", m->runtime_dir, vm->rec.id);
		unlink(vm->mem_path);
		l.snapshot_shape = true;
		l.mem_path = vm->mem_path;
		l.mem_share = true; /* the RAM is the file: the save copies it */
	} else {
		vm->snap = SNAP_NONE;
	}
	l.log_fd = log_fd;
	r = network_prepare_boot(m, vm, &l, &net_args, &tap_fd, err);
	if (r < 0)
		return r;
	bgr_error_clear(err);
	cmdline = boot_cmdline(m, vm, net_args, err);
	if (!cmdline && err && err->code)
		return -err->code;
	if (cmdline)
		l.cmdline = cmdline;
	remove_sockets(vm);
	free(vm->net_args);
	vm->net_args = net_args ? xstrdup(net_args) : NULL;
	vm->boot_gen++;
	vm->saving = vm->restore_fallback = vm->identify_sent = vm->identify_acked = vm->identified = false;
	vm->hello_after_ack = vm->identify_authorized = vm->host_key_served = vm->sshd_listening = false;
	identify_key_forget(vm);
	vm_forget_error(vm, VM_ERR_STATE); /* a new boot: the last one's verdict goes (saved below) */
	free(vm->hello);
	vm->hello = NULL;
	vm->verifying = vm->authorized = vm->authorize_sent = false;
	vm->agent_log_ms = 0; /* each boot's first agent lines are logged */
	vm->agent_log_dropped = 0;
	vm->agent_log_muted = false;
	vmm_vm_log(m, vm, "starting (%s, %s, vcpu %u, memory %u MiB, network %s%s%s)", m->driver->name, l.accel, l.vcpu,
		   l.memory_mib, vm->rec.net_mode, vm->rec.ip[0] && l.net_mode == NET_BRIDGE ? " " : "",
		   l.net_mode == NET_BRIDGE ? vm->rec.ip : "");
	pid = m->driver->start(&l, &gate, err);
	if (pid < 0)
		return pid;
	vm->rec.pid = pid;
	vm->rec.pid_start = proc_start_time(pid);
	vm->rec.started_at = now_real_ms();
	vm->rec.state = VM_STARTING;
	vm->rec.booted = 1;
	snprintf(vm->rec.clone_state, sizeof(vm->rec.clone_state), "%s", vm->snap == SNAP_CLONE ? "restoring" : "");
	vm->is_child = true;
	vm->stop_phase = STOP_NONE;
	vm->stop_is_kill = false;
	r = watch_process(m, vm, err);
	if (r < 0) {
		close(gate);
		spawn_undo(m, vm);
		vm->rec.state = VM_STOPPED;
		return r;
	}
	if (vm_save(m, vm, err) < 0) {
		/* a hypervisor the store does not know of could not be re-adopted
		 * after a crash of bangerd: it must not run (and has not: it
		 * waits at the gate, which closing ends) */
		close(gate);
		spawn_undo(m, vm);
		vm->rec.state = VM_ERROR;
		vm_changed(m, vm);
		bgr_wrap(err, "the new hypervisor (pid %d) could not be recorded, so it was killed", pid);
		err->code = EIO; /* the boot failed, whatever the store's errno */
		return -EIO;
	}
	if (proc_gate_open(gate) < 0) /* the child is gone already: its pidfd says so next */
		vmm_vm_log(m, vm, "the hypervisor's process (pid %d) ended before it could run", pid);
	if (vm->snap == SNAP_CLONE) {
		/* the channels open once the state is loaded (vm_restore_done);
		 * the restore does what configure does for a boot */
		vm->restore_ms = now_mono_ms();
		vmm_vm_log(m, vm, "snapshots: restoring template %s", vm->snap_key);
		snap_restore_start(m, vm, l.work_disk);
	} else {
		if (vm->snap == SNAP_MAKE)
			vmm_vm_log(m, vm,
				   "snapshots: no template for this shape yet (key %s): a cold boot that saves one",
				   vm->snap_key);
		vm_channels_open(m, vm);
		hv_configure(m, vm, boot_failed);
	}
	cancel_timer(m, &vm->boot_timer);
	vm->boot_timer = loop_timer_add(m->loop, m->settings.boot_timeout_s * 1000LL, boot_timed_out, vm);
	vm_event(m, vm, "starting");
	return 0;
}

static void boot_completed(struct vmm *m, struct vm *vm)
{
	cancel_timer(m, &vm->boot_timer);
	vm->rec.state = VM_RUNNING;
	save_or_note(m, vm, false); /* the store keeps "starting" and the pid: still adoptable */
	vmm_vm_log(m, vm, "running (boot took %lld ms)", now_real_ms() - vm->rec.started_at);
	vm_event(m, vm, "running");
	ssh_config_refresh(m);
	ports_vm_running(m, vm);
	waiters_complete(&vm->start_waiters, 0);
}

/* Ends a boot that cannot become ready: error, hypervisor killed. */
static void boot_failed(struct vmm *m, struct vm *vm, const char *msg)
{
	cancel_timer(m, &vm->boot_timer);
	vm_set_error(m, vm, VM_ERR_STATE, "%s", msg);
	if (vm->prev_ssh_port) {
		/* user mode: this boot's port was never pinned (only a passed
		 * check pins it, and drops the port before); the record keeps
		 * the port whose pin is still there, so rmdir drops that one */
		vm->rec.ssh_port = vm->prev_ssh_port;
		vm->prev_ssh_port = 0;
	}
	vm->rec.state = VM_ERROR;
	vm_kill(m, vm);
}

static void hello_go_on(struct vmm *m, struct vm *vm);

static void send_identify(struct vmm *m, struct vm *vm)
{
	_cleanup_free_ char *work = xasprintf("%s/" WORK_DISK_NAME, vm->dir);
	_cleanup_free_ char *line = identify_line(m, vm, access(work, F_OK) == 0);

	if (!line || vm_agent_send(vm, line) < 0) {
		boot_failed(m, vm, "cannot send the clone's identity to the guest agent");
		return;
	}
	vm->identify_sent = true;
	vmm_vm_log(m, vm, "snapshots: sent the clone its identity (name, network, host keys, machine-id, RNG, clock)");
}

void vm_agent_connected(struct vmm *m, struct vm *vm)
{
	vm->identify_sent = false; /* a new connection: it goes again */
	if (vm->rec.state == VM_STARTING && vm->snap == SNAP_CLONE && !vm->identify_acked)
		send_identify(m, vm);
}

void vm_identify_result(struct vmm *m, struct vm *vm, bool ok, const char *line)
{
	bgr_error err;
	char flag[16];

	if (vm->rec.state != VM_STARTING || vm->snap != SNAP_CLONE || vm->identify_acked || !vm->identify_sent) {
		vm_agent_log(m, vm, "agent: ignored '%.80s': no identify was sent in this boot", line);
		return;
	}
	if (!ok) {
		_cleanup_free_ char *msg = xasprintf("the clone's agent could not take its identity: %.200s", line);
		boot_failed(m, vm, msg);
		return;
	}
	vm->identify_acked = true;
	vm->identify_authorized =
		banger_agent_field(line, "authorized", flag, sizeof(flag)) >= 0 && strcmp(flag, "1") == 0;
	vm->sshd_listening =
		banger_agent_field(line, "sshd", flag, sizeof(flag)) >= 0 && strcmp(flag, "listening") == 0;
	identify_key_sent(vm);
	vmm_vm_log(m, vm, "snapshots: the agent acked its identity (%lld ms after the restore began)",
		   now_mono_ms() - vm->restore_ms);
	vm->rec.clone_state[0] = '\0';
	if (vm_save(m, vm, &err) < 0)
		vmm_vm_log(m, vm, "cannot save the VM's record: %s", err.msg);
	if (strcmp(vm->rec.net_mode, "bridge") != 0) { /* its link stayed up (snap_restore.c) */
		vm_clone_online(m, vm, 0, "");
		return;
	}
	snap_link_up_start(m, vm);
}

void vm_clone_online(struct vmm *m, struct vm *vm, int result, const char *msg)
{
	if (vm->rec.state != VM_STARTING || vm->snap != SNAP_CLONE || vm->identified || !vm->identify_acked)
		return;
	if (result < 0) {
		_cleanup_free_ char *why = xasprintf("cannot bring the clone's network link up: %.200s", msg);
		boot_failed(m, vm, why);
		return;
	}
	bgr_error err;
	if (network_clone_online(m, vm, &err) < 0) {
		_cleanup_free_ char *why = xasprintf("cannot put the clone on the bridge: %.200s", err.msg);
		boot_failed(m, vm, why);
		return;
	}
	vm->identified = true;
	vmm_vm_log(m, vm, "snapshots: the clone has its identity and its link is up; its new host keys get pinned");
	/* the hello with the new keys came already, or comes */
	if (vm->hello && vm->agent_fd >= 0 && vm->hello_after_ack)
		hello_go_on(m, vm);
}

void vm_template_saved(struct vmm *m, struct vm *vm, int result, const char *msg)
{
	(void)result;
	vm->saving = false;
	vmm_vm_log(m, vm, "snapshots: %s", msg);
	if (vm->rec.state != VM_STARTING || vm->authorize_sent || vm->verifying || vm->authorized || !vm->hello ||
	    vm->agent_fd < 0)
		return; /* gone, or a new hello comes on the next connection */
	hello_go_on(m, vm);
}

void vm_restore_done(struct vmm *m, struct vm *vm, int result, const char *msg)
{
	struct template *t;

	if (vm->rec.state != VM_STARTING || vm->pidfd < 0 || vm->snap != SNAP_CLONE)
		return;
	if (result < 0) {
		vmm_vm_log(m, vm, "snapshots: restoring template %s failed: %s; falling back to a cold boot",
			   vm->snap_key, msg);
		vm->rec.template_key[0] = '\0'; /* its overlay goes with the clone's QEMU */
		if ((t = template_find(m, vm->snap_key)))
			template_failed(m, t, msg);
		vm->restore_fallback = true;
		proc_pidfd_kill(vm->pidfd, SIGKILL);
		return;
	}
	vmm_vm_log(m, vm, "snapshots: restored from template %s in %lld ms", vm->snap_key,
		   now_mono_ms() - vm->restore_ms);
	snprintf(vm->rec.clone_state, sizeof(vm->rec.clone_state), "identifying");
	save_or_note(m, vm, false);
	vm_channels_open(m, vm);
}

void vm_hello_received(struct vmm *m, struct vm *vm, const char *line)
{
	char proto[16];

	if (!vm->hello)
		vm->hello = xcalloc(1, BANGER_AGENT_LINE_MAX);
	snprintf(vm->hello, BANGER_AGENT_LINE_MAX, "%s", line); /* the reader's lines fit */
	vm_agent_log(m, vm, "agent: %s", line);
	if (vm->rec.state != VM_STARTING || vm->verifying || vm->authorized || vm->authorize_sent)
		return; /* a repeated hello: the authorize already went out on this connection */
	if (vm->saving)
		return; /* the template's save goes on; its end sends the authorize */
	if (vm->snap == SNAP_CLONE && !vm->identified) {
		/* the template's agent, with the template's host keys: never
		 * pinned; the clone's own identity comes first. The hello after
		 * the ack (new keys) waits for the link to come up. */
		if (vm->identify_acked)
			vm->hello_after_ack = true;
		else if (!vm->identify_sent)
			send_identify(m, vm);
		return;
	}
	if (vm->snap == SNAP_MAKE) {
		if (banger_agent_field(line, "proto", proto, sizeof(proto)) < 0 || atoi(proto) < 3) {
			vmm_vm_log(m, vm,
				   "snapshots: the guest agent has no identify verb (protocol < 3): no template");
			vm->snap = SNAP_NONE;
		} else {
			/* the save waits until the guest's SSH server is up (its boot
			 * done), for at most half the boot time left */
			char host[16] = "";
			int port = 0;
			long long left = vm->rec.started_at + m->settings.boot_timeout_s * 1000LL - now_real_ms();
			bool net = strcmp(vm->rec.net_mode, "none") != 0 && network_ssh_endpoint(vm, host, &port) == 0;
			if (snap_save_start(m, vm, net ? host : NULL, port, left > 240000 ? 120000 : left / 2) == 1)
				return;
		}
	}
	hello_go_on(m, vm);
}

/* The rest of a hello: banger's key goes to the guest, or a guest without
 * network is ready. */
static void hello_go_on(struct vmm *m, struct vm *vm)
{
	const char *line = vm->hello;
	char proto[16], reason[BGR_ERROR_MAX], *msg;

	if (strcmp(vm->rec.net_mode, "none") == 0) {
		boot_completed(m, vm); /* no network, so no ssh to wait for */
		return;
	}
	if (banger_agent_field(line, "proto", proto, sizeof(proto)) < 0 || atoi(proto) < 2) {
		boot_failed(m, vm,
			    "the guest agent is too old (protocol < 2, no ssh key support): rebuild the "
			    "image (tools/mkimage)");
		return;
	}
	if (hello_host_keys_check(line, reason, sizeof(reason)) < 0) {
		boot_failed(m, vm, reason); /* before our key goes to such a guest */
		return;
	}
	if (vm->snap == SNAP_CLONE) {
		reason[0] = '\0';
		int r = identify_hello_check(vm, line, reason, sizeof(reason));
		if (r < 0) {
			boot_failed(m, vm, reason);
			return;
		}
		if (reason[0])
			vmm_vm_log(m, vm, "snapshots: %s", reason);
		vm->host_key_served = r == 1;
		if (r == 1)
			vmm_vm_log(m, vm, "snapshots: the clone serves the SSH host key banger made for it");
		if (vm->identify_authorized) { /* agent protocol 6 */
			vm->authorize_sent = vm->authorized = true;
			vmm_vm_log(m, vm, "the agent installed banger's key with the identity: the ssh check begins");
			vm_ssh_verify(m, vm);
			return;
		}
	}
	msg = xasprintf("authorize key=%s:%s\n", m->ssh_pub.type, m->ssh_pub.b64);
	if (vm_agent_send(vm, msg) < 0)
		boot_failed(m, vm, "cannot send banger's ssh key to the guest agent");
	else
		vm->authorize_sent = true;
	free(msg);
}

/* The agent's answer to our authorize. It counts only after a hello and
 * an authorize sent on this connection in this boot: anything else comes
 * from a confused or hostile guest (and the ssh check needs the hello's
 * keys), so it is logged and ignored. */
void vm_agent_authorize_result(struct vmm *m, struct vm *vm, bool ok, const char *line)
{
	if (vm->rec.state != VM_STARTING || vm->verifying || vm->authorized)
		return;
	if (!vm->hello || !vm->authorize_sent) {
		vm_agent_log(m, vm, "agent: ignored '%.80s': no authorize was sent in this boot", line);
		return;
	}
	if (!ok) {
		_cleanup_free_ char *msg =
			xasprintf("the guest agent could not install banger's ssh key: %.200s", line);
		boot_failed(m, vm, msg);
		return;
	}
	vm->authorized = true;
	vmm_vm_log(m, vm, "the agent installed banger's key: the ssh check begins");
	vm_ssh_verify(m, vm);
}

void vm_ssh_verified(struct vmm *m, struct vm *vm, int result, const char *msg, bool tofu, long long took_ms)
{
	if (vm->rec.state != VM_STARTING)
		return;
	if (result < 0) {
		boot_failed(m, vm, msg);
		return;
	}
	snprintf(vm->rec.pin_mode, sizeof(vm->rec.pin_mode), "%s", tofu ? "tofu" : "agent");
	vmm_vm_log(m, vm, "ssh ready with the pinned host key (%s pin, check took %lld ms)", vm->rec.pin_mode, took_ms);
	boot_completed(m, vm);
}

static void stop_escalate(void *data)
{
	struct vm *vm = data;
	struct vmm *m = vm->m;

	cancel_timer(m, &vm->stop_timer);
	if (vm->stop_phase == STOP_POWERDOWN) {
		vmm_vm_log(m, vm, "guest did not power off within %d s; asking the hypervisor to quit",
			   m->settings.stop_timeout_s);
		vm->stop_phase = STOP_QUIT;
		hv_request(m, vm, HV_QUIT);
		vm->stop_timer = loop_timer_add(m->loop, 3000, stop_escalate, vm);
		return;
	}
	vmm_vm_log(m, vm, "hypervisor still running; killing it");
	vm_kill(m, vm);
}

void vm_shutdown(struct vmm *m, struct vm *vm)
{
	vm->rec.state = VM_STOPPING;
	vm->stop_phase = STOP_POWERDOWN;
	save_or_note(m, vm, false);
	vm_event(m, vm, "stopping");
	/* the agent's power-off, or the hypervisor's, whichever the driver
	 * trusts first; the other if that fails (hv_request) */
	if (m->driver->stop_by_hypervisor_first || vm_agent_send(vm, "shutdown\n") < 0)
		hv_request(m, vm, HV_STOP);
	vm->stop_timer = loop_timer_add(m->loop, m->settings.stop_timeout_s * 1000LL, stop_escalate, vm);
}

void vm_kill(struct vmm *m, struct vm *vm)
{
	vm->stop_is_kill = true;
	vm->stop_phase = STOP_KILL;
	cancel_timer(m, &vm->stop_timer);
	if (vm->rec.state != VM_ERROR)
		vm->rec.state = VM_STOPPING;
	save_or_note(m, vm, false); /* a failed boot reads error at once, even while the process exits */
	if (vm->pidfd >= 0)
		proc_pidfd_kill(vm->pidfd, SIGKILL);
	else
		process_gone(m, vm, "was not running");
}

static void retry_start(struct vmm *m, struct vm *vm);

/* What a boot leaves behind for snapshots: the RAM file of a template boot,
 * the plan of this start. */
static void snap_boot_ended(struct vm *vm)
{
	if (vm->mem_path) {
		unlink(vm->mem_path);
		free(vm->mem_path);
		vm->mem_path = NULL;
	}
	vm->snap = SNAP_NONE;
	vm->snap_planned = false;
	vm->saving = vm->identify_sent = vm->identify_acked = vm->identified = vm->hello_after_ack = false;
	vm->identify_authorized = vm->host_key_served = vm->sshd_listening = false;
	vm->rec.clone_state[0] = '\0';
	identify_key_forget(vm);
}

/* A clone whose restore failed is gone (vm_restore_done killed it): its
 * overlay goes, and the start goes on as a cold boot of a fresh disk. */
static void restore_fell_back(struct vmm *m, struct vm *vm, const char *how)
{
	cancel_timer(m, &vm->boot_timer);
	vm_channels_close(m, vm);
	remove_sockets(vm);
	network_boot_ended(m, vm);
	vmm_vm_log(m, vm, "hypervisor (pid %d) of the failed restore %s", vm->rec.pid, how);
	vm->restore_fallback = false;
	if (vm->snap == SNAP_CLONE && !vm->identify_acked) {
		/* its disk may still hold the template's host keys: it must never
		 * boot again; the next start makes a fresh one */
		unlink(vm->root_disk);
		vm->rec.template_key[0] = '\0';
		vm->rec.booted = 0;
		vmm_vm_log(m, vm, "snapshots: the clone ended before it had its own identity: its disk is removed");
	}
	snap_boot_ended(vm);   /* the next plan finds the failed template gone or broken */
	unlink(vm->root_disk); /* the overlay on the template: a fresh disk of the image comes */
	vm->rec.template_key[0] = '\0';
	vm->rec.booted = 0;
	vm->rec.pid = 0;
	vm->rec.pid_start = 0;
	vm->rec.started_at = 0;
	vm->rec.state = VM_STOPPED;
	save_or_note(m, vm, false);
	vm->awaiting_pull = true; /* the start's waiters wait for the disk like for a pull */
	retry_start(m, vm);
}

static void process_gone(struct vmm *m, struct vm *vm, const char *how)
{
	enum vm_state was = vm->rec.state;
	bool failed_boot = was == VM_STARTING || was == VM_ERROR;
	bgr_error err;

	if (vm->pidfd >= 0) {
		loop_del_fd(m->loop, vm->pidfd);
		close(vm->pidfd);
		vm->pidfd = -1;
	}
	if (vm->restore_fallback && was == VM_STARTING && vm->after_stop == AFTER_NOTHING) {
		restore_fell_back(m, vm, how);
		return;
	}
	vm->restore_fallback = false;
	snap_boot_ended(vm);
	cancel_timer(m, &vm->boot_timer);
	cancel_timer(m, &vm->stop_timer);
	vm->verifying = vm->authorized = vm->authorize_sent = false;
	vm_channels_close(m, vm);
	remove_sockets(vm);
	network_boot_ended(m, vm);
	ports_vm_down(m, vm);
	vmm_vm_log(m, vm, "hypervisor (pid %d) %s", vm->rec.pid, how);
	bool reason_set = was == VM_ERROR; /* the failed boot's reason is there */
	if (was == VM_STARTING && !vm->stop_is_kill) {
		vm_set_error(m, vm, VM_ERR_STATE, "hypervisor %s during boot (see logs and console)", how);
		reason_set = true;
	} else if (was == VM_RUNNING && strcmp(how, "exited with status 0") != 0 && strcmp(how, "exited") != 0) {
		vm_set_error(m, vm, VM_ERR_STATE, "hypervisor %s unexpectedly", how);
		reason_set = true;
	}
	vm->rec.pid = 0;
	vm->rec.pid_start = 0;
	vm->rec.started_at = 0;
	vm->rec.state = failed_boot && vm->after_stop != AFTER_DELETE && !vm->stop_is_kill ? VM_ERROR : VM_STOPPED;
	if (was == VM_ERROR)
		vm->rec.state = VM_ERROR;
	save_or_note(m, vm, reason_set); /* a stale pid in the store: adoption finds it gone */
	if (strcmp(vm->rec.net_mode, "user") == 0)
		ssh_config_refresh(m); /* its forwarded port ended with the boot */
	vm_event(m, vm, vm->rec.state == VM_ERROR ? "failed" : "stopped");
	waiters_complete(&vm->start_waiters, -EIO);

	enum vm_after_stop next = vm->after_stop;
	vm->after_stop = AFTER_NOTHING;
	if (next == AFTER_DELETE) {
		m->hooks.stopped_for_delete(m, vm);
		return;
	}
	if (next == AFTER_START) {
		struct vmm_waiter *stop_waiters = vm->stop_waiters;
		vm->stop_waiters = NULL;
		/* a restart's waiter waits for the new boot */
		vm->start_waiters = stop_waiters;
		if (vm_boot(m, vm, &err) < 0) {
			vmm_vm_fail(m, vm, VM_ERR_STATE, &err);
			waiters_complete(&vm->start_waiters, -err.code);
		}
		return;
	}
	waiters_complete(&vm->stop_waiters, 0);
}

/* A clone killed on re-adoption: a tap Firecracker opened by name can go
 * only once its process let go of it. Watched on the loop, never waited. */
struct killed_clone {
	struct vmm *m;
	int64_t vm_id;
};

static void killed_clone_gone(void *data, int fd, uint32_t events)
{
	struct killed_clone *k = data;
	struct vm *vm = vmm_vm_by_id(k->m, k->vm_id);

	(void)events;
	loop_del_fd(k->m->loop, fd);
	close(fd);
	if (vm && !vm->rec.pid) /* not booted again meanwhile */
		network_boot_ended(k->m, vm);
	free(k);
}

static void kill_unfinished_clone(struct vmm *m, struct vm *vm)
{
	int fd = proc_pidfd_open(vm->rec.pid);
	struct killed_clone *k;

	if (fd < 0 || proc_pidfd_kill(fd, SIGKILL) < 0) {
		kill(vm->rec.pid, SIGKILL);
		if (fd >= 0)
			close(fd);
		network_boot_ended(m, vm); /* a tap still held stays until the VM's next boot */
		return;
	}
	k = xcalloc(1, sizeof(*k));
	k->m = m;
	k->vm_id = vm->rec.id;
	if (loop_add_fd(m->loop, fd, EPOLLIN, killed_clone_gone, k) < 0) {
		close(fd);
		free(k);
		network_boot_ended(m, vm);
	}
}

void vm_adopt(struct vmm *m, struct vm *vm)
{
	enum vm_state was = vm->rec.state;
	bgr_error err;

	if (vm->rec.pid && vm->rec.clone_state[0] && proc_is(vm->rec.pid, vm->rec.pid_start)) {
		/* it may still have the template's identity (host keys): it
		 * must not run, nor its disk boot again */
		kill_unfinished_clone(m, vm);
		vm_set_error(m, vm, VM_ERR_STATE,
			     "a clone whose restore was unfinished (%s) when bangerd stopped: killed",
			     vm->rec.clone_state);
		unlink(vm->root_disk);
		vm->rec.template_key[0] = '\0';
		vm->rec.clone_state[0] = '\0';
		vm->rec.booted = 0;
		vm->rec.pid = 0;
		vm->rec.pid_start = 0;
		vm->rec.started_at = 0;
		vm->rec.state = VM_STOPPED;
		remove_sockets(vm);
		save_or_note(m, vm, true);
		return;
	}
	if (vm->rec.pid && proc_is(vm->rec.pid, vm->rec.pid_start) && watch_process(m, vm, &err) == 0) {
		vm->is_child = false;
		hv_request(m, vm, HV_ADOPT);
		if (was == VM_STOPPING) {
			/* a stop was under way: ask again (the request may never
			 * have reached the guest) and escalate as a stop does */
			vm->stop_phase = STOP_POWERDOWN;
			hv_request(m, vm, HV_STOP);
			vm->stop_timer =
				loop_timer_add(m->loop, m->settings.stop_timeout_s * 1000LL, stop_escalate, vm);
		} else if (was != VM_RUNNING) {
			/* the agent says hello again on reconnect: that makes it running */
			vm->rec.state = VM_STARTING;
			vm->boot_timer =
				loop_timer_add(m->loop, m->settings.boot_timeout_s * 1000LL, boot_timed_out, vm);
		}
		vm_channels_open(m, vm);
		network_readopt(m, vm);
		vmm_vm_log(m, vm, "re-adopted running hypervisor (pid %d)", vm->rec.pid);
		save_or_note(m, vm, false);
		return;
	}
	if (vm->rec.pid || (was != VM_STOPPED && was != VM_ERROR)) {
		vm_set_error(m, vm, VM_ERR_STATE, "hypervisor (pid %d) exited while bangerd was not running",
			     vm->rec.pid);
		network_boot_ended(m, vm); /* a tap it opened by name (Firecracker) */
		vm->rec.pid = 0;
		vm->rec.pid_start = 0;
		vm->rec.started_at = 0;
		vm->rec.state = VM_STOPPED;
		remove_sockets(vm);
		save_or_note(m, vm, true); /* the next bangerd finds it gone again */
	}
}

/* While a restart stops the VM, its writers are the only stop waiters: a
 * restart is taken only from running, where no stop is pending, and every
 * stop, kill or rmdir that comes after it cancels it here first. */
void vm_cancel_restart(struct vmm *m, struct vm *vm, const char *by)
{
	if (vm->after_stop != AFTER_START)
		return;
	vm->after_stop = AFTER_NOTHING;
	vmm_vm_log(m, vm, "restart cancelled by %s: the VM stays down", by);
	waiters_complete(&vm->stop_waiters, -ECANCELED);
}

static int action(struct vmm *m, struct vm *vm, const char *word, vmm_done_fn fn, void *ctx,
		  struct vmm_waiter **ret_waiter, bgr_error *err)
{
	enum vm_state s = vm->rec.state;
	bool down = s == VM_STOPPED || s == VM_ERROR;
	enum vm_action act;
	int r;

	if (parse_action(word, &act) < 0)
		return bgr_fail(err, EINVAL, "unknown state request '%.40s': write start, stop, restart or kill", word);
	if (vm->renaming_to && (act == ACT_START || act == ACT_RESTART))
		return bgr_fail(err, EBUSY, "the VM is being renamed to %s; start it once that returned",
				vm->renaming_to);
	if (vm->applying && (act == ACT_START || act == ACT_RESTART))
		return bgr_fail(err, EBUSY,
				"a change of its disk, image or kernel is being applied; start once it returned");
	switch (act) {
	case ACT_START:
		if (s == VM_RUNNING)
			return 0;
		if (s == VM_STOPPING)
			return bgr_fail(err, EBUSY, "the VM is stopping; start it once it has stopped");
		if (down && vm->pidfd >= 0) /* a failed boot's hypervisor, killed, not gone yet */
			return bgr_fail(err, EBUSY,
					"the hypervisor of the last boot (pid %d) is still exiting; start the VM once "
					"it is gone",
					vm->rec.pid);
		if (down) {
			if (!vm->awaiting_pull && !vm->making_disk)
				vm->snap_planned = false; /* a new start decides again */
			r = vm_prepare_artifacts(m, vm, err);
			if (r == 1 && !vm->awaiting_pull) {
				vm->awaiting_pull = true;
				vm->pull_logged_ms = 0;
			}
			if (r == 0)
				r = vm_boot(m, vm, err);
			if (r < 0)
				return r;
		}
		*ret_waiter = waiter_add(&vm->start_waiters, fn, ctx);
		return 1;
	case ACT_STOP:
	case ACT_KILL:
		if (down && vm->pidfd < 0) {
			vm_cancel_pull_wait(m, vm);
			return 0;
		}
		vm_cancel_restart(m, vm, word);
		*ret_waiter = waiter_add(&vm->stop_waiters, fn, ctx);
		if (act == ACT_KILL || s == VM_STARTING)
			vm_kill(m, vm);
		else if (s == VM_RUNNING)
			vm_shutdown(m, vm);
		return 1;
	case ACT_RESTART:
		if (down)
			return action(m, vm, "start", fn, ctx, ret_waiter, err);
		if (s != VM_RUNNING)
			return bgr_fail(err, EBUSY, "the VM is %s; restart it once that is done", vm_state_name(s));
		vm->after_stop = AFTER_START;
		*ret_waiter = waiter_add(&vm->stop_waiters, fn, ctx);
		vm_shutdown(m, vm);
		return 1;
	}
	return bgr_fail(err, EINVAL, "unknown state request");
}

/* A write to state: a refusal is the VM's error; an accepted request
 * clears the error of state that was there before it (not one it caused
 * itself, a failed save), except a failed boot's while the VM is still in
 * `error`: only the next boot clears that, as it begins. */
int vmm_vm_action(struct vmm *m, struct vm *vm, const char *word, vmm_done_fn fn, void *ctx,
		  struct vmm_waiter **ret_waiter, bgr_error *err)
{
	unsigned seq = vm->error_seq;
	int r = action(m, vm, word, fn, ctx, ret_waiter, err);

	if (r < 0)
		vmm_vm_fail(m, vm, VM_ERR_STATE, err);
	else if (vm->error_seq == seq && vm->rec.state != VM_ERROR)
		vm_clear_error(m, vm, VM_ERR_STATE);
	return r;
}

/* A VM whose start waited for a pull. */
static void start_failed(struct vmm *m, struct vm *vm, int result, const char *reason)
{
	vm->awaiting_pull = false;
	vm_set_error(m, vm, VM_ERR_STATE, "start failed: %s", reason);
	waiters_complete(&vm->start_waiters, result);
}

/* A start that waited goes on: it boots, waits for the next pull or disk, or
 * fails. */
static void retry_start(struct vmm *m, struct vm *vm)
{
	bgr_error err = { 0 };
	int r = vm_prepare_artifacts(m, vm, &err);

	if (r == 1)
		return;
	if (r == 0)
		r = vm_boot(m, vm, &err);
	if (r < 0)
		start_failed(m, vm, r, err.msg);
	else
		vm->awaiting_pull = false;
}

void vm_artifact_ready(struct vmm *m, enum art_kind kind, const char *name, int result, const char *reason)
{
	for (size_t i = 0; i < m->n_vms; i++) {
		struct vm *vm = m->vms[i];
		bgr_error err = { 0 };

		if (!vm_waits_for_artifact(vm, kind, name))
			continue;
		if (result < 0) {
			snprintf(err.msg, sizeof(err.msg), "pulling %s %s failed: %s", art_kind_word(kind), name,
				 reason);
			start_failed(m, vm, result, err.msg);
			continue;
		}
		vmm_vm_log(m, vm, "%s %s: ready", art_kind_word(kind), name);
		retry_start(m, vm);
	}
}

void vm_start_waited(struct vmm *m, struct vm *vm, int result, const char *reason)
{
	if (result < 0)
		start_failed(m, vm, result, reason);
	else
		retry_start(m, vm);
}
