/* The state machine (vmm/core/lifecycle.c), proven against a fake driver:
 * no QEMU, no guest. The fake's "hypervisor" is a forked child that waits
 * on a pipe (a write of status N makes it exit N: a power-off; SIGKILL is a
 * crash); the fake listens on the VM's agent and console sockets, so the
 * lifecycle's channels connect for real and the test speaks as the guest
 * agent on them. The test drives the loop (loop_run_once) until each step is
 * done, with a generous upper bound and no sleeps. A daemon restart is
 * vmm_free + vmm_new on the same state directory; a failed save is a SQLite
 * trigger that aborts the store's UPDATE of a chosen state. Network "none"
 * (a start is done at the hello), except one boot in "user" mode whose
 * authorize step is heard here and whose ssh verdict is delivered through
 * m->hooks.ssh_verified.
 *
 * Expected, state x action (a writer's answer: 0 done at once, "parked"
 * answered later; -errno; error = the VM's error file, "" empty):
 *
 *  state    | start             | stop              | restart           | kill              | rmdir
 *  stopped  | parked: starting; | 0 at once         | = start           | 0 at once         | 0 at once, gone
 *           | 0 once ready      |                   |                   |                   |
 *  starting | parked, joins the | SIGKILL: stopped, | EBUSY "the VM is  | = stop            | SIGKILL, gone:
 *           | boot: 0 at ready  | "", stop 0, the   | starting; restart |                   | start EIO,
 *           |                   | start EIO         | it once ..."      |                   | rmdir 0
 *  running  | 0 at once         | agent "shutdown": | stopping, then a  | SIGKILL: stopped, | SIGKILL, gone, 0
 *           |                   | stopping, then    | new boot: 0 once  | "", 0             |
 *           |                   | stopped, "", 0 *  | running again     |                   |
 *  stopping | EBUSY "the VM is  | parked, joins: 0  | EBUSY             | SIGKILL: stopped, | SIGKILL, gone:
 *           | stopping; ..."    | when gone         |                   | every writer 0    | stop 0, rmdir 0
 *  error    | parked: boots     | 0 at once, stays  | = start           | 0 at once         | 0 at once, gone
 *           | again, error ""   | error             |                   |                   |
 *   * no power-off within stop_timeout_s: the driver's quit; still alive 3 s later: SIGKILL.
 *
 *  state    | daemon restart     | process dies         | agent's hello    | failed save
 *  stopped  | stays stopped      | -                    | -                | at start, after the spawn: the
 *           |                    |                      |                  | hypervisor is killed; state error,
 *           |                    |                      |                  | error "the new hypervisor (pid N)
 *           |                    |                      |                  | could not be recorded, so it was
 *           |                    |                      |                  | killed: store: ...", start EIO;
 *           |                    |                      |                  | the store holds no pid
 *  starting | parked start       | error "hypervisor    | running, start 0 | on ->running: running, start 0,
 *           | ESHUTDOWN; adopted | was killed by signal | (user mode:      | error "cannot save the VM's
 *           | as starting, hello | 9 during boot (see   | authorize sent;  | record: ..."; the store keeps
 *           | makes it running   | logs and console)",  | ssh verdict ok:  | starting + pid: a daemon restart
 *           |                    | start EIO            | running; fail:   | adopts it
 *           |                    |                      | error, EIO)      |
 *  running  | adopted running;   | stopped, error       | logged, stays    | on stop: it goes on, error
 *           | died meanwhile:    | "hypervisor was      | running          | "cannot save the VM's record:
 *           | stopped, error     | killed by signal 9   |                  | ...", stop 0
 *           | "hypervisor (pid   | unexpectedly";       |                  |
 *           | N) exited while    | a power-off (status  |                  |
 *           | bangerd was not    | 0): stopped, "";     |                  |
 *           | running"           | adopted (not our     |                  |
 *           |                    | child: no status):   |                  |
 *           |                    | stopped, ""          |                  |
 *  stopping | adopted stopping:  | stopped, "", stop 0  | logged, stays    | on ->stopped: stopped, error
 *           | power-off asked    |                      | stopping         | "cannot save ...", stop 0; the
 *           | again, escalation  |                      |                  | store keeps the dead pid: the
 *           | re-armed; then     |                      |                  | next daemon says "exited while
 *           | stopped, ""        |                      |                  | bangerd was not running"
 *  error    | stays error, error | -                    | -                | at start: as stopped
 *           | kept               |                      |                  |
 *
 * Races: stop during start, kill during stop, rmdir during start: as the
 * table. An interrupted parked start (its waiter cancelled) leaves the VM
 * starting; the boot goes on and the cancelled writer hears nothing. stop,
 * kill or rmdir during a restart's stopping phase: the restart's writer
 * gets ECANCELED at once, no boot follows, the other writer its normal
 * answer. stop during a restart's boot: the restart EIO (a start cut
 * short), stop 0. No hello within boot_timeout_s: error "boot timed out
 * after N s: no hello from the guest agent (see console)", start EIO.
 * docs/architecture.md "The state machine" has the same table. */
#include "loop.h"
#include "proc.h"
#include "util.h"
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

#define WAIT_MS 15000 /* the upper bound of any one step; steps take milliseconds */

static struct loop *loop;
static struct bgr_paths paths;
static struct vmm *m;
static char home[64] = "/tmp/banger-lifecycle-XXXXXX";

/* ---- the fake hypervisor ------------------------------------------------ */

struct fake {
	char *control; /* the VM's control socket path: how the driver's calls name it */
	pid_t pid;
	int pidfd; /* ours: when the child ends, its sockets close, as a real one's */
	int power; /* write end of the child's pipe */
	int ran;   /* read end: a byte once the child is past its gate */
	int agent_listen, console_listen, agent_conn, console_conn;
	int agent_conns; /* connections the agent socket accepted */
	char in[4096];
	size_t in_len;
	int shutdowns, authorizes; /* lines the agent got */
	bool gone, adopted;
	struct fake *next;
};

static struct fake *fakes;

/* How the fake driver behaves, and what it was asked. */
static struct {
	int starts, stops, quits, adopts;
	bool power_off_on_shutdown; /* the guest obeys the agent's (or ACPI's) power-off */
	bool quit_works;            /* the hypervisor obeys quit */
} drv;

/* The newest live one (the list starts with the newest). */
static struct fake *fake_by_control(const char *control)
{
	for (struct fake *f = fakes; f; f = f->next)
		if (!f->gone && strcmp(f->control, control) == 0)
			return f;
	return NULL;
}

static void fake_close(int *fd)
{
	if (*fd < 0)
		return;
	loop_del_fd(loop, *fd);
	close(*fd);
	*fd = -1;
}

/* The guest powers off: the hypervisor exits with status. */
static void power_off(struct fake *f, int status)
{
	unsigned char c = (unsigned char)status;

	if (f && f->power >= 0 && write(f->power, &c, 1) != 1)
		tap_ok(false, "power off pid %d", f->pid);
}

static void agent_readable(void *data, int fd, uint32_t events)
{
	struct fake *f = data;
	ssize_t n = read(fd, f->in + f->in_len, sizeof(f->in) - 1 - f->in_len);
	char *nl;

	(void)events;
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		if (fd == f->agent_conn)
			fake_close(&f->agent_conn);
		else
			fake_close(&fd);
		return;
	}
	f->in_len += (size_t)n;
	f->in[f->in_len] = '\0';
	while ((nl = strchr(f->in, '\n'))) {
		*nl = '\0';
		if (strcmp(f->in, "shutdown") == 0) {
			f->shutdowns++;
			if (drv.power_off_on_shutdown)
				power_off(f, 0);
		} else if (strncmp(f->in, "authorize ", 10) == 0) {
			f->authorizes++;
		}
		f->in_len -= (size_t)(nl + 1 - f->in);
		memmove(f->in, nl + 1, f->in_len + 1);
	}
}

static void console_readable(void *data, int fd, uint32_t events)
{
	struct fake *f = data;
	char buf[256];

	(void)events;
	if (read(fd, buf, sizeof(buf)) <= 0 && errno != EAGAIN && fd == f->console_conn)
		fake_close(&f->console_conn);
}

static void accept_one(struct fake *f, int lfd, int *conn, loop_fd_fn fn)
{
	int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (c < 0)
		return;
	fake_close(conn); /* a new daemon connects again: the old one is gone */
	*conn = c;
	if (loop_add_fd(loop, c, EPOLLIN, fn, f) < 0)
		tap_ok(false, "fake: watch a connection");
}

static void agent_acceptable(void *data, int fd, uint32_t events)
{
	struct fake *f = data;

	(void)events;
	accept_one(f, fd, &f->agent_conn, agent_readable);
	f->agent_conns++;
}

static void console_acceptable(void *data, int fd, uint32_t events)
{
	struct fake *f = data;

	(void)events;
	accept_one(f, fd, &f->console_conn, console_readable);
}

/* The hypervisor process is gone: its sockets close. It is reaped by the
 * lifecycle when it was its child (and by fake_free when adopted). */
static void fake_ended(void *data, int fd, uint32_t events)
{
	struct fake *f = data;

	(void)fd;
	(void)events;
	f->gone = true;
	fake_close(&f->pidfd);
	fake_close(&f->agent_listen);
	fake_close(&f->console_listen);
	fake_close(&f->agent_conn);
	fake_close(&f->console_conn);
	if (f->power >= 0)
		close(f->power);
	f->power = -1;
}

/* Whether the fake got past its gate (blocks while it waits there). */
static bool fake_ran(struct fake *f)
{
	char c;

	return read(f->ran, &c, 1) == 1;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int fake_prepare(bgr_error *err)
{
	(void)err;
	return 0;
}

static pid_t fake_start(const struct vm_launch *l, int *gate, bgr_error *err)
{
	struct fake *f = xcalloc(1, sizeof(*f));
	int pipefd[2], gatefd[2], ranfd[2];
	pid_t pid;

	drv.starts++;
	if (pipe2(pipefd, O_CLOEXEC) < 0 || pipe2(gatefd, O_CLOEXEC) < 0 || pipe2(ranfd, O_CLOEXEC) < 0) {
		free(f);
		return bgr_fail(err, errno, "fake: pipe: %s", strerror(errno));
	}
	pid = fork();
	if (pid < 0) {
		free(f);
		return bgr_fail(err, errno, "fake: fork: %s", strerror(errno));
	}
	if (pid == 0) {
		/* the "hypervisor": its own session, fds 0-2 only; held at its
		 * gate as proc_spawn_gated holds a real one (exit 127 when the
		 * gate closes), then it says it ran and exits with the status
		 * written to its pipe (0 when the pipe closes) */
		unsigned char c = 0;
		dup2(pipefd[0], 0);
		dup2(gatefd[0], 3);
		dup2(ranfd[1], 4);
		syscall(SYS_close_range, 5, ~0U, 0);
		setsid();
		if (read(3, &c, 1) != 1 || c != PROC_GATE_GO)
			_exit(127);
		close(3);
		if (write(4, "r", 1) != 1)
			_exit(126);
		close(4);
		c = 0;
		_exit(read(0, &c, 1) == 1 ? c : 0);
	}
	close(gatefd[0]);
	close(ranfd[1]);
	*gate = gatefd[1];
	f->ran = ranfd[0];
	close(pipefd[0]);
	f->control = xstrdup(l->qmp_sock);
	f->pid = pid;
	f->power = pipefd[1];
	f->agent_conn = f->console_conn = -1;
	f->pidfd = proc_pidfd_open(pid);
	f->agent_listen = listen_unix(l->agent_sock);
	f->console_listen = listen_unix(l->console_sock);
	if (f->pidfd < 0 || f->agent_listen < 0 || f->console_listen < 0 ||
	    loop_add_fd(loop, f->pidfd, EPOLLIN, fake_ended, f) < 0 ||
	    loop_add_fd(loop, f->agent_listen, EPOLLIN, agent_acceptable, f) < 0 ||
	    loop_add_fd(loop, f->console_listen, EPOLLIN, console_acceptable, f) < 0)
		tap_ok(false, "fake: set up pid %d's sockets", pid);
	f->next = fakes;
	fakes = f;
	return pid;
}

static int fake_stop(struct loop *l, const char *control, bgr_error *err)
{
	(void)l;
	(void)err;
	drv.stops++;
	if (drv.power_off_on_shutdown)
		power_off(fake_by_control(control), 0);
	return 0;
}

static int fake_quit(struct loop *l, const char *control, bgr_error *err)
{
	(void)l;
	(void)err;
	drv.quits++;
	if (drv.quit_works)
		power_off(fake_by_control(control), 0);
	return 0;
}

static int fake_adopt(struct loop *l, const char *control, bgr_error *err)
{
	(void)l;
	drv.adopts++;
	if (!fake_by_control(control))
		return bgr_fail(err, ECONNREFUSED, "fake: nothing answers on %s", control);
	return 0;
}

static const struct vm_driver fake_driver = {
	.name = "fake",
	.control_sock_name = "control.sock",
	.root_disk_name = "root.img",
	.console_name = "console.sock",
	.raw_disks = true,
	.prepare = fake_prepare,
	.start = fake_start,
	.stop = fake_stop,
	.quit = fake_quit,
	.adopt = fake_adopt,
};

static void fakes_free(void)
{
	while (fakes) {
		struct fake *f = fakes;
		fakes = f->next;
		if (!f->gone) {
			kill(f->pid, SIGKILL);
			fake_ended(f, -1, 0);
			waitpid(f->pid, NULL, 0);
		} else {
			waitpid(f->pid, NULL, WNOHANG); /* an adopted one nobody reaped */
		}
		close(f->ran);
		free(f->control);
		free(f);
	}
}

/* ---- the daemon, and a front's view of it ------------------------------ */

#define WAIT(cond)                                                                           \
	do {                                                                                 \
		long long end_ = now_mono_ms() + WAIT_MS;                                    \
		while (!(cond) && now_mono_ms() < end_)                                      \
			loop_run_once(loop, 100);                                            \
		if (!(cond))                                                                 \
			tap_ok(false, "line %d: timed out waiting for %s", __LINE__, #cond); \
	} while (0)

static void daemon_start(void)
{
	bgr_error err = { 0 };
	struct vmm_observer obs = { 0 };
	int r = vmm_new(loop, &paths, &obs, &m, &err);

	if (r < 0) {
		tap_ok(false, "vmm_new: %s", err.msg);
		exit(tap_done());
	}
}

/* vmm_free + vmm_new on the same state: every VM is re-adopted. */
static void daemon_restart(void)
{
	vmm_free(m);
	for (struct fake *f = fakes; f; f = f->next)
		f->adopted = true;
	daemon_start();
}

struct reply {
	bool done;
	int result;
};

static void on_done(void *ctx, int result)
{
	struct reply *r = ctx;

	r->done = true;
	r->result = result;
}

/* Writes word to the VM's state as fs/ does: a refusal is recorded on the
 * VM by vmm_vm_action itself, a parked request is answered through on_done.
 * Returns what vmm_vm_action returned. */
static int act(const char *name, const char *word, struct reply *rep, struct vmm_waiter **ret_w)
{
	struct vm *vm = vmm_vm_by_name(m, name);
	struct vmm_waiter *w = NULL;
	bgr_error err = { 0 };
	int r;

	*rep = (struct reply){ 0 };
	r = vmm_vm_action(m, vm, word, on_done, rep, &w, &err);
	if (r < 0) {
		*rep = (struct reply){ true, r };
	} else if (r == 0) {
		*rep = (struct reply){ true, 0 };
	}
	if (ret_w)
		*ret_w = w;
	return r;
}

static int rmdir_vm(const char *name, struct reply *rep)
{
	struct vmm_waiter *w = NULL;
	bgr_error err = { 0 };
	int r;

	*rep = (struct reply){ 0 };
	r = vmm_vm_delete(m, vmm_vm_by_name(m, name), on_done, rep, &w, &err);
	if (r <= 0)
		*rep = (struct reply){ true, r };
	return r;
}

static struct vm *vm_of(const char *name)
{
	return vmm_vm_by_name(m, name);
}
static enum vm_state state_of(const char *name)
{
	return vm_of(name)->rec.state;
}
static const char *error_of(const char *name)
{
	return vm_of(name)->rec.error;
}
static struct fake *fake_of(const char *name)
{
	return fake_by_control(vm_of(name)->qmp_sock);
}

static void is_state(const char *name, enum vm_state want, const char *what)
{
	struct vm *vm = vm_of(name);

	is_str(vm ? vm_state_name(vm->rec.state) : "(gone)", vm_state_name(want), what);
}

static void error_has(const char *name, const char *want, const char *what)
{
	const char *e = error_of(name);

	tap_ok(strstr(e, want) != NULL, "%s (error: '%s')", what, e);
}

struct created {
	bool done;
	bool ok;
	char why[BGR_ERROR_MAX];
};

static void on_created(void *ctx, struct vm *vm, const bgr_error *err)
{
	struct created *c = ctx;

	c->done = true;
	c->ok = vm != NULL;
	if (!vm)
		snprintf(c->why, sizeof(c->why), "%s", err ? err->msg : "?");
}

/* mkdir vms/NAME: the create finishes on workers; the loop runs until then. */
static void create(const char *name)
{
	struct created c = { 0 };
	struct vmm_create *handle = NULL;
	bgr_error err = { 0 };

	if (vmm_vm_create(m, name, on_created, &c, &handle, &err) < 0) {
		tap_ok(false, "create %s: %s", name, err.msg);
		return;
	}
	WAIT(c.done);
	if (!c.ok)
		tap_ok(false, "create %s: %s", name, c.why);
}

/* The guest agent says hello on its current connection. */
static void hello(const char *name)
{
	static const char line[] = "hello proto=2 agent=test kernel=fake uptime_ms=1\n";
	struct fake *f = fake_of(name);

	WAIT(f->agent_conn >= 0);
	if (write(f->agent_conn, line, sizeof(line) - 1) != (ssize_t)sizeof(line) - 1)
		tap_ok(false, "hello to %s", name);
}

/* So that the next hello shows. */
static void forget_hello(const char *name)
{
	free(vm_of(name)->hello);
	vm_of(name)->hello = NULL;
}

/* The row the store holds. */
static void stored(const char *name, char state[16], int *pid)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	state[0] = '\0';
	*pid = -1;
	if (sqlite3_open(paths.db, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT state, pid FROM vms WHERE name = ?", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			snprintf(state, 16, "%s", (const char *)sqlite3_column_text(st, 0));
			*pid = sqlite3_column_int(st, 1);
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static bool sql(const char *q)
{
	sqlite3 *db = NULL;
	bool ok = sqlite3_open(paths.db, &db) == SQLITE_OK && sqlite3_exec(db, q, NULL, NULL, NULL) == SQLITE_OK;

	sqlite3_close(db);
	return ok;
}

/* From now on the store refuses to save a record in that state. */
static void fail_saves_of(const char *state)
{
	_cleanup_free_ char *q = xasprintf(
		"DROP TRIGGER IF EXISTS fail_save;"
		"CREATE TRIGGER fail_save BEFORE UPDATE ON vms WHEN NEW.state = '%s'"
		" BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
		state);
	tap_ok(sql(q), "the store now fails to save '%s'", state);
}

static void saves_work(void)
{
	tap_ok(sql("DROP TRIGGER IF EXISTS fail_save"), "the store saves again");
}

static bool pid_alive(pid_t pid)
{
	return pid > 0 && kill(pid, 0) == 0;
}

/* ---- getting a VM into each state --------------------------------------- */

static void to_starting(const char *name, struct reply *start)
{
	is_int(act(name, "start", start, NULL), 1, "start is parked");
	is_state(name, VM_STARTING, "  state: starting");
	WAIT(fake_of(name) && fake_of(name)->agent_conn >= 0);
}

static void to_running(const char *name)
{
	struct reply start;

	to_starting(name, &start);
	hello(name);
	WAIT(start.done);
	is_int(start.result, 0, "  the hello makes it ready: start answered 0");
	is_state(name, VM_RUNNING, "  state: running");
}

/* A stop the guest does not obey (yet). */
static void to_stopping(const char *name, struct reply *stop)
{
	to_running(name);
	drv.power_off_on_shutdown = false;
	is_int(act(name, "stop", stop, NULL), 1, "stop is parked");
	is_state(name, VM_STOPPING, "  state: stopping");
	WAIT(fake_of(name)->shutdowns == 1);
}

/* A boot whose hypervisor dies. */
static void to_error(const char *name)
{
	struct reply start;

	to_starting(name, &start);
	kill(fake_of(name)->pid, SIGKILL);
	WAIT(start.done);
	is_int(start.result, -EIO, "  the hypervisor died during boot: start EIO");
	is_state(name, VM_ERROR, "  state: error");
}

static void finish(const char *name)
{
	struct reply r;

	if (!vm_of(name))
		return;
	if (rmdir_vm(name, &r) == 1)
		WAIT(r.done);
	tap_ok(r.done && r.result == 0 && !vm_of(name), "(%s removed)", name);
}

/* ---- stopped ------------------------------------------------------------- */

static void test_stopped(void)
{
	struct reply r, r2;
	char st[16];
	int pid;

	printf("# stopped\n");
	create("s1");
	is_state("s1", VM_STOPPED, "a new VM is stopped");
	is_int(act("s1", "stop", &r, NULL), 0, "stopped x stop: 0 at once");
	is_int(act("s1", "kill", &r, NULL), 0, "stopped x kill: 0 at once");
	is_state("s1", VM_STOPPED, "  state: stopped");
	is_str(error_of("s1"), "", "  error: empty");

	daemon_restart();
	is_state("s1", VM_STOPPED, "stopped x daemon restart: stays stopped");
	is_int(drv.adopts, 0, "  nothing to adopt");

	int starts = drv.starts;
	to_starting("s1", &r);
	is_int(drv.starts, starts + 1, "stopped x start: the hypervisor is spawned");
	tap_ok(vm_of("s1")->rec.pid == fake_of("s1")->pid, "  pid is the hypervisor's");
	stored("s1", st, &pid);
	tap_ok(strcmp(st, "starting") == 0 && pid == fake_of("s1")->pid, "  the store holds starting + pid (%s %d)", st,
	       pid);
	tap_ok(!r.done, "  the start waits for the guest");
	hello("s1");
	WAIT(r.done);
	is_int(r.result, 0, "  the hello answers it: 0");
	is_state("s1", VM_RUNNING, "  state: running");
	is_str(error_of("s1"), "", "  error: empty");
	stored("s1", st, &pid);
	is_str(st, "running", "  the store holds running");
	is_int(act("s1", "kill", &r, NULL), 1, "(kill it)");
	WAIT(r.done);

	is_int(act("s1", "restart", &r, NULL), 1, "stopped x restart: a start, parked");
	is_state("s1", VM_STARTING, "  state: starting");
	hello("s1");
	WAIT(r.done);
	is_int(r.result, 0, "  answered 0 once running");
	is_int(act("s1", "kill", &r, NULL), 1, "(kill it)");
	WAIT(r.done);
	is_state("s1", VM_STOPPED, "  state: stopped");

	/* the save right after the spawn fails */
	fail_saves_of("starting");
	starts = drv.starts;
	is_int(act("s1", "start", &r, NULL), -EIO, "stopped x failed save (at start): start EIO");
	is_int(drv.starts, starts + 1, "  the hypervisor had been spawned");
	struct fake *f = fakes;
	tap_ok(!pid_alive(f->pid), "  and it was killed and reaped (pid %d)", f->pid);
	tap_ok(!fake_ran(f), "  and it never ran: it was held at its gate, which closed");
	is_state("s1", VM_ERROR, "  state: error");
	error_has("s1", "could not be recorded, so it was killed: store: update vm: injected failure",
		  "  error says why");
	is_int(vm_of("s1")->rec.pid, 0, "  no pid");
	tap_ok(vm_of("s1")->pidfd < 0, "  nothing watched");
	stored("s1", st, &pid);
	tap_ok(strcmp(st, "error") == 0 && pid == 0, "  the store holds error and no pid (%s %d)", st, pid);
	WAIT(f->gone);
	saves_work();
	to_running("s1");
	is_str(error_of("s1"), "", "  a later start works, error cleared");
	tap_ok(fake_ran(fakes), "  its hypervisor ran: the gate opened once the pid was recorded");
	is_int(act("s1", "kill", &r, NULL), 1, "(kill it)");
	WAIT(r.done);

	is_int(rmdir_vm("s1", &r2), 0, "stopped x rmdir: 0 at once");
	tap_ok(!vm_of("s1"), "  the VM is gone");
	stored("s1", st, &pid);
	is_str(st, "", "  and its record");
}

/* ---- starting ------------------------------------------------------------ */

static void test_starting(void)
{
	struct reply start, again, stop, r;
	struct vmm_waiter *w;
	char st[16];
	int pid;

	printf("# starting\n");
	create("b1");
	to_starting("b1", &start);
	is_int(act("b1", "start", &again, NULL), 1, "starting x start: parked, joins the boot");
	is_int(act("b1", "restart", &r, NULL), -EBUSY, "starting x restart: EBUSY");
	error_has("b1", "the VM is starting; restart it once that is done", "  error says why");
	is_state("b1", VM_STARTING, "  state: still starting");
	hello("b1");
	WAIT(start.done && again.done);
	tap_ok(start.result == 0 && again.result == 0, "starting x hello: running; both starts answered 0");
	is_state("b1", VM_RUNNING, "  state: running");
	error_has("b1", "the VM is starting", "  error: the refused restart's reason stays (the last error)");
	forget_hello("b1");
	hello("b1");
	WAIT(vm_of("b1")->hello);
	is_state("b1", VM_RUNNING, "running x hello: stays running");
	is_int(act("b1", "kill", &r, NULL), 1, "(kill it)");
	is_str(error_of("b1"), "", "  the accepted kill clears the refused restart's error (both of state)");
	is_int(vm_of("b1")->rec.error_of, VM_ERR_NONE, "  and its kind");
	WAIT(r.done);

	/* stop (or kill) during start */
	const char *stops[] = { "stop", "kill" };
	for (int i = 0; i < 2; i++) {
		to_starting("b1", &start);
		pid_t hv = fake_of("b1")->pid;
		is_int(act("b1", stops[i], &stop, NULL), 1, "starting x stop/kill: parked");
		printf("#   (%s)\n", stops[i]);
		WAIT(stop.done && start.done);
		is_int(stop.result, 0, "  the stop writer: 0 once gone");
		is_int(start.result, -EIO, "  the start writer: EIO");
		is_state("b1", VM_STOPPED, "  state: stopped");
		is_str(error_of("b1"), "", "  error: empty");
		tap_ok(!pid_alive(hv), "  the hypervisor is gone");
	}

	/* the process dies during boot */
	to_error("b1");
	is_str(error_of("b1"), "hypervisor was killed by signal 9 during boot (see logs and console)",
	       "starting x process dies: error says so");
	stored("b1", st, &pid);
	tap_ok(strcmp(st, "error") == 0 && pid == 0, "  stored: error, no pid (%s %d)", st, pid);

	/* interrupt: the writer goes away, the boot goes on */
	to_starting("b1", &start);
	is_int(act("b1", "start", &again, &w), 1, "a second start, parked");
	vmm_waiter_cancel(w);
	hello("b1");
	WAIT(start.done);
	is_state("b1", VM_RUNNING, "starting x interrupt (waiter cancelled): the boot goes on to running");
	tap_ok(!again.done, "  the cancelled writer hears nothing");
	is_int(act("b1", "kill", &r, NULL), 1, "(kill it)");
	WAIT(r.done);

	/* no hello in time */
	m->settings.boot_timeout_s = 1;
	to_starting("b1", &start);
	WAIT(start.done);
	m->settings.boot_timeout_s = 60;
	is_int(start.result, -EIO, "starting x boot timeout: EIO");
	is_state("b1", VM_ERROR, "  state: error");
	is_str(error_of("b1"), "boot timed out after 1 s: no hello from the guest agent (see console)",
	       "  error says so");

	/* a daemon restart while starting */
	to_starting("b1", &start);
	pid_t hv = fake_of("b1")->pid;
	int adopts = drv.adopts, conns = fake_of("b1")->agent_conns;
	daemon_restart();
	tap_ok(start.done && start.result == -ESHUTDOWN, "starting x daemon restart: the parked start ESHUTDOWN (%d)",
	       start.result);
	is_int(drv.adopts, adopts + 1, "  the driver re-adopts it");
	is_state("b1", VM_STARTING, "  state: starting (the hello decides)");
	is_int(vm_of("b1")->rec.pid, hv, "  same pid");
	WAIT(fake_of("b1")->agent_conns > conns && fake_of("b1")->agent_conn >= 0);
	is_int(act("b1", "start", &start, NULL), 1, "  a new start is parked");
	hello("b1");
	WAIT(start.done);
	is_int(start.result, 0, "  the hello makes it running: 0");
	is_state("b1", VM_RUNNING, "  state: running");

	/* rmdir while it boots: it is killed, then deleted */
	is_int(act("b1", "kill", &r, NULL), 1, "(kill it)");
	WAIT(r.done);
	waitpid(hv, NULL, 0); /* adopted: not the lifecycle's child any more */
	to_starting("b1", &start);
	hv = fake_of("b1")->pid;
	is_int(rmdir_vm("b1", &r), 1, "starting x rmdir: parked");
	WAIT(r.done && start.done);
	is_int(r.result, 0, "  rmdir: 0");
	is_int(start.result, -EIO, "  the start: EIO");
	tap_ok(!vm_of("b1"), "  the VM is gone");
	tap_ok(!pid_alive(hv), "  and its hypervisor");
}

/* The save of "running" fails: the VM runs, the store keeps "starting" and
 * the pid, so a daemon restart adopts it and the hello makes it running. */
static void test_starting_save_fails(void)
{
	struct reply start;
	char st[16];
	int pid;

	printf("# starting x failed save\n");
	create("b2");
	to_starting("b2", &start);
	fail_saves_of("running");
	hello("b2");
	WAIT(start.done);
	is_int(start.result, 0, "starting x failed save (to running): the start still answers 0");
	is_state("b2", VM_RUNNING, "  state: running");
	is_str(error_of("b2"), "cannot save the VM's record: store: update vm: injected failure", "  error says so");
	stored("b2", st, &pid);
	tap_ok(strcmp(st, "starting") == 0 && pid == vm_of("b2")->rec.pid,
	       "  the store keeps starting and the pid (%s %d)", st, pid);
	saves_work();
	int conns = fake_of("b2")->agent_conns;
	daemon_restart();
	is_state("b2", VM_STARTING, "  a daemon restart adopts it as starting");
	WAIT(fake_of("b2")->agent_conns > conns);
	hello("b2");
	WAIT(state_of("b2") == VM_RUNNING);
	is_state("b2", VM_RUNNING, "  and the hello makes it running");
	stored("b2", st, &pid);
	is_str(st, "running", "  stored: running");
	pid_t hv = fake_of("b2")->pid;
	finish("b2");
	waitpid(hv, NULL, 0);
}

/* user mode: the hello makes bangerd send the key; the ssh verdict decides. */
static bool authorized_seen;
static void heard_authorize(struct vmm *mm, struct vm *vm, bool ok, const char *line)
{
	(void)mm;
	(void)vm;
	(void)ok;
	(void)line;
	authorized_seen = true; /* the ssh check is not run: the test gives the verdict */
}

static void test_ssh_verdict(void)
{
	struct reply start;

	printf("# starting x ssh verdict (network user)\n");
	m->settings.net.mode = NET_USER;
	create("u1");
	for (int ok = 1; ok >= 0; ok--) {
		to_starting("u1", &start);
		m->hooks.authorize_result = heard_authorize;
		hello("u1");
		WAIT(fake_of("u1")->authorizes == 1);
		is_int(fake_of("u1")->authorizes, 1, "starting x hello (user mode): banger's key is sent to the agent");
		tap_ok(!start.done && state_of("u1") == VM_STARTING, "  still starting: the ssh check decides");
		const char *line = "ack verb=authorize\n";
		if (write(fake_of("u1")->agent_conn, line, strlen(line)) < 0)
			tap_ok(false, "ack");
		WAIT(authorized_seen);
		m->hooks.ssh_verified(m, vm_of("u1"), ok ? 0 : -EIO,
				      ok ? "" : "ssh: the host key does not match the pin", false, 7);
		WAIT(start.done);
		authorized_seen = false;
		m->hooks.authorize_result = vm_agent_authorize_result;
		if (ok) {
			is_int(start.result, 0, "  verdict ok: start 0");
			is_state("u1", VM_RUNNING, "  state: running");
			is_str(vm_of("u1")->rec.pin_mode, "agent", "  pinned through the agent");
			m->hooks.ssh_verified(m, vm_of("u1"), -EIO, "late", false, 1);
			is_state("u1", VM_RUNNING, "  a verdict outside a boot is ignored");
			struct reply r;
			is_int(act("u1", "kill", &r, NULL), 1, "(kill it)");
			WAIT(r.done);
		} else {
			is_int(start.result, -EIO, "  verdict fail: start EIO");
			WAIT(vm_of("u1")->pidfd < 0);
			is_state("u1", VM_ERROR, "  state: error");
			is_str(error_of("u1"), "ssh: the host key does not match the pin", "  error is the verdict");
		}
	}
	finish("u1");
	m->settings.net.mode = NET_NONE;
}

/* ---- running ------------------------------------------------------------- */

static void test_running(void)
{
	struct reply r, stop;
	char st[16];
	int pid;

	printf("# running\n");
	create("r1");
	to_running("r1");
	is_int(act("r1", "start", &r, NULL), 0, "running x start: 0 at once");

	drv.power_off_on_shutdown = true;
	struct fake *f = fake_of("r1");
	is_int(act("r1", "stop", &stop, NULL), 1, "running x stop: parked");
	is_state("r1", VM_STOPPING, "  state: stopping");
	WAIT(stop.done);
	is_int(f->shutdowns, 1, "  the agent was told to shut down; the guest powered off");
	is_int(stop.result, 0, "  stop: 0");
	is_state("r1", VM_STOPPED, "  state: stopped");
	is_str(error_of("r1"), "", "  error: empty");
	stored("r1", st, &pid);
	tap_ok(strcmp(st, "stopped") == 0 && pid == 0, "  stored: stopped, no pid");

	to_running("r1");
	int starts = drv.starts;
	is_int(act("r1", "restart", &r, NULL), 1, "running x restart: parked");
	is_state("r1", VM_STOPPING, "  state: stopping");
	WAIT(drv.starts == starts + 1);
	is_state("r1", VM_STARTING, "  after the power-off, a new boot: starting");
	tap_ok(!r.done, "  the restart waits for it");
	hello("r1");
	WAIT(r.done);
	is_int(r.result, 0, "  answered 0 once running");
	is_state("r1", VM_RUNNING, "  state: running");

	is_int(act("r1", "kill", &r, NULL), 1, "running x kill: parked");
	WAIT(r.done);
	is_int(r.result, 0, "  kill: 0");
	is_state("r1", VM_STOPPED, "  state: stopped");
	is_str(error_of("r1"), "", "  error: empty");

	to_running("r1");
	kill(fake_of("r1")->pid, SIGKILL);
	WAIT(state_of("r1") != VM_RUNNING);
	is_state("r1", VM_STOPPED, "running x process dies (crash): stopped");
	is_str(error_of("r1"), "hypervisor was killed by signal 9 unexpectedly", "  error says so");

	to_running("r1");
	power_off(fake_of("r1"), 0);
	WAIT(state_of("r1") != VM_RUNNING);
	is_state("r1", VM_STOPPED, "running x process dies (guest power-off, status 0): stopped");
	is_str(error_of("r1"), "", "  error: empty");

	/* no power-off: quit after stop_timeout_s; no quit either: SIGKILL 3 s later */
	to_running("r1");
	drv.power_off_on_shutdown = false;
	drv.quit_works = false;
	m->settings.stop_timeout_s = 1;
	int quits = drv.quits;
	is_int(act("r1", "stop", &stop, NULL), 1, "running x stop, the guest ignores it");
	WAIT(stop.done);
	m->settings.stop_timeout_s = 15;
	is_int(drv.quits, quits + 1, "  the hypervisor was asked to quit");
	is_int(stop.result, 0, "  then killed: stop 0");
	is_state("r1", VM_STOPPED, "  state: stopped");
	is_str(error_of("r1"), "", "  error: empty");

	/* a failed save on the way down */
	to_running("r1");
	drv.power_off_on_shutdown = true;
	fail_saves_of("stopping");
	is_int(act("r1", "stop", &stop, NULL), 1, "running x failed save (on stop): the stop goes on");
	is_str(error_of("r1"), "cannot save the VM's record: store: update vm: injected failure", "  error says so");
	WAIT(stop.done);
	saves_work();
	is_int(stop.result, 0, "  stop: 0");
	is_state("r1", VM_STOPPED, "  state: stopped");
	stored("r1", st, &pid);
	tap_ok(strcmp(st, "stopped") == 0 && pid == 0, "  stored: stopped, no pid");

	/* daemon restarts */
	to_running("r1");
	pid_t hv = fake_of("r1")->pid;
	int adopts = drv.adopts;
	daemon_restart();
	is_state("r1", VM_RUNNING, "running x daemon restart: adopted, running");
	is_int(drv.adopts, adopts + 1, "  through the driver's adopt");
	is_int(vm_of("r1")->rec.pid, hv, "  same pid");
	kill(hv, SIGKILL);
	WAIT(state_of("r1") != VM_RUNNING);
	is_state("r1", VM_STOPPED, "  an adopted VM's end is seen too: stopped");
	is_str(error_of("r1"), "", "  error: empty (not bangerd's child: no exit status to judge)");
	waitpid(hv, NULL, 0);

	to_running("r1");
	hv = fake_of("r1")->pid;
	vmm_free(m);
	kill(hv, SIGKILL);
	waitpid(hv, NULL, 0);
	for (struct fake *f = fakes; f; f = f->next)
		f->adopted = true;
	daemon_start();
	is_state("r1", VM_STOPPED, "running x daemon restart, the hypervisor died meanwhile: stopped");
	char want[128];
	snprintf(want, sizeof(want), "hypervisor (pid %d) exited while bangerd was not running", hv);
	is_str(error_of("r1"), want, "  error says so");
	stored("r1", st, &pid);
	tap_ok(strcmp(st, "stopped") == 0 && pid == 0, "  stored: stopped, no pid");

	to_running("r1");
	is_int(rmdir_vm("r1", &r), 1, "running x rmdir: parked");
	WAIT(r.done);
	is_int(r.result, 0, "  rmdir: 0");
	tap_ok(!vm_of("r1"), "  the VM is gone");
	WAIT(fakes->gone);
}

/* ---- stopping ------------------------------------------------------------ */

static void test_stopping(void)
{
	struct reply stop, r, r2;
	char st[16];
	int pid;

	printf("# stopping\n");
	create("p1");
	to_stopping("p1", &stop);
	is_int(act("p1", "start", &r, NULL), -EBUSY, "stopping x start: EBUSY");
	error_has("p1", "the VM is stopping; start it once it has stopped", "  error says why");
	is_int(act("p1", "restart", &r, NULL), -EBUSY, "stopping x restart: EBUSY");
	error_has("p1", "the VM is stopping; restart it once that is done", "  error says why");
	is_state("p1", VM_STOPPING, "  state: still stopping");
	forget_hello("p1");
	hello("p1");
	WAIT(vm_of("p1")->hello);
	is_state("p1", VM_STOPPING, "stopping x hello: stays stopping");
	is_int(act("p1", "stop", &r, NULL), 1, "stopping x stop: parked, joins");
	power_off(fake_of("p1"), 0);
	WAIT(stop.done && r.done);
	tap_ok(stop.result == 0 && r.result == 0, "  both stops answered 0 once it is gone");
	is_state("p1", VM_STOPPED, "  state: stopped");

	to_stopping("p1", &stop);
	is_int(act("p1", "kill", &r, NULL), 1, "stopping x kill (kill during stop): parked");
	WAIT(stop.done && r.done);
	tap_ok(stop.result == 0 && r.result == 0, "  stop and kill: 0");
	is_state("p1", VM_STOPPED, "  state: stopped");
	is_str(error_of("p1"), "", "  error: empty");

	to_stopping("p1", &stop);
	kill(fake_of("p1")->pid, SIGKILL);
	WAIT(stop.done);
	is_int(stop.result, 0, "stopping x process dies: stop 0");
	is_state("p1", VM_STOPPED, "  state: stopped");
	is_str(error_of("p1"), "", "  error: empty");

	/* the save of "stopped" fails: the store keeps a dead pid, which the
	 * next daemon finds gone */
	to_stopping("p1", &stop);
	pid_t hv = fake_of("p1")->pid;
	fail_saves_of("stopped");
	power_off(fake_of("p1"), 0);
	WAIT(stop.done);
	is_int(stop.result, 0, "stopping x failed save (to stopped): stop 0");
	is_state("p1", VM_STOPPED, "  state: stopped");
	is_str(error_of("p1"), "cannot save the VM's record: store: update vm: injected failure", "  error says so");
	stored("p1", st, &pid);
	tap_ok(strcmp(st, "stopping") == 0 && pid == hv, "  the store keeps stopping and the dead pid");
	saves_work();
	daemon_restart();
	is_state("p1", VM_STOPPED, "  the next daemon: stopped");
	char want[128];
	snprintf(want, sizeof(want), "hypervisor (pid %d) exited while bangerd was not running", hv);
	is_str(error_of("p1"), want, "  error says so");

	/* a daemon restart while stopping: the stop goes on */
	to_stopping("p1", &stop);
	hv = fake_of("p1")->pid;
	int stops = drv.stops;
	daemon_restart();
	tap_ok(stop.done && stop.result == -ESHUTDOWN, "stopping x daemon restart: the parked stop ESHUTDOWN");
	is_state("p1", VM_STOPPING, "  adopted: still stopping");
	is_int(drv.stops, stops + 1, "  the power-off is asked again");
	power_off(fake_of("p1"), 0);
	WAIT(state_of("p1") != VM_STOPPING);
	is_state("p1", VM_STOPPED, "  once it is gone: stopped");
	is_str(error_of("p1"), "", "  error: empty");
	waitpid(hv, NULL, 0);

	to_stopping("p1", &stop);
	is_int(rmdir_vm("p1", &r2), 1, "stopping x rmdir: parked");
	WAIT(stop.done && r2.done);
	tap_ok(stop.result == 0 && r2.result == 0, "  stop and rmdir: 0");
	tap_ok(!vm_of("p1"), "  the VM is gone");
}

/* ---- error --------------------------------------------------------------- */

static void test_error(void)
{
	struct reply r;

	printf("# error\n");
	create("e1");
	to_error("e1");
	is_int(act("e1", "stop", &r, NULL), 0, "error x stop: 0 at once");
	is_int(act("e1", "kill", &r, NULL), 0, "error x kill: 0 at once");
	is_state("e1", VM_ERROR, "  state: still error");
	daemon_restart();
	is_state("e1", VM_ERROR, "error x daemon restart: stays error");
	error_has("e1", "during boot", "  error kept");

	is_int(act("e1", "start", &r, NULL), 1, "error x start: parked");
	is_state("e1", VM_STARTING, "  state: starting");
	is_str(error_of("e1"), "", "  error cleared");
	hello("e1");
	WAIT(r.done);
	is_int(r.result, 0, "  answered 0 once running");
	is_int(act("e1", "kill", &r, NULL), 1, "(kill it)");
	WAIT(r.done);

	to_error("e1");
	is_int(act("e1", "restart", &r, NULL), 1, "error x restart: a start, parked");
	hello("e1");
	WAIT(r.done);
	is_int(r.result, 0, "  answered 0 once running");
	is_int(act("e1", "kill", &r, NULL), 1, "(kill it)");
	WAIT(r.done);

	to_error("e1");
	fail_saves_of("starting");
	is_int(act("e1", "start", &r, NULL), -EIO, "error x failed save (at start): EIO");
	is_state("e1", VM_ERROR, "  state: error");
	error_has("e1", "could not be recorded, so it was killed", "  error says why");
	saves_work();
	WAIT(fakes->gone);

	is_int(rmdir_vm("e1", &r), 0, "error x rmdir: 0 at once");
	tap_ok(!vm_of("e1"), "  the VM is gone");
}

/* ---- a restart cut short ------------------------------------------------- */

static void test_restart_races(void)
{
	struct reply restart, r;
	const char *words[] = { "stop", "kill", "rmdir" };

	printf("# stop, kill or rmdir during a restart\n");
	create("x1");
	for (int i = 0; i < 3; i++) {
		to_running("x1");
		drv.power_off_on_shutdown = false;
		int starts = drv.starts;
		is_int(act("x1", "restart", &restart, NULL), 1, "restart: parked");
		is_state("x1", VM_STOPPING, "  stopping");
		printf("#   then %s\n", words[i]);
		int q = i == 2 ? rmdir_vm("x1", &r) : act("x1", words[i], &r, NULL);
		is_int(q, 1, "  stop/kill/rmdir during the restart's stopping: parked");
		tap_ok(restart.done && restart.result == -ECANCELED, "  the restart: ECANCELED at once (%d)",
		       restart.result);
		if (i == 0)
			power_off(fake_of("x1"), 0);
		WAIT(r.done);
		is_int(r.result, 0, "  the other writer: 0 once gone");
		is_int(drv.starts, starts, "  no new boot");
		if (i < 2) {
			is_state("x1", VM_STOPPED, "  state: stopped");
			is_str(error_of("x1"), "", "  error: empty");
		} else {
			tap_ok(!vm_of("x1"), "  the VM is gone");
		}
	}

	create("x2");
	to_running("x2");
	drv.power_off_on_shutdown = true;
	is_int(act("x2", "restart", &restart, NULL), 1, "restart: parked");
	WAIT(state_of("x2") == VM_STARTING);
	is_int(act("x2", "stop", &r, NULL), 1, "stop during the restart's boot: parked");
	WAIT(r.done && restart.done);
	is_int(restart.result, -EIO, "  the restart: EIO (a start cut short)");
	is_int(r.result, 0, "  stop: 0");
	is_state("x2", VM_STOPPED, "  state: stopped");
	finish("x2");
}

static void touch(const char *path, off_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || ftruncate(fd, size) < 0)
		tap_ok(false, "create %s", path);
	if (fd >= 0)
		close(fd);
}

int main(void)
{
	bgr_error err = { 0 };
	long long t0 = now_mono_ms();

	signal(SIGPIPE, SIG_IGN); /* as bangerd */
	if (!mkdtemp(home)) {
		tap_ok(false, "mkdtemp");
		return tap_done();
	}
	setenv("BANGER_HOME", home, 1);
	setenv("BANGER_NETWORK", "none", 1);
	setenv("BANGER_BOOT_TIMEOUT", "60", 1);
	unsetenv("BANGER_SSH_KEY");
	unsetenv("BANGER_CATALOG");
	tap_ok(paths_init(&paths, &err) == 0, "paths under %s %s", home, err.msg);
	/* an installed image and kernel (contents never read: nothing boots) */
	_cleanup_free_ char *img = xasprintf("%s/debian-bookworm", paths.images_dir);
	_cleanup_free_ char *kern = xasprintf("%s/debian-bookworm", paths.kernels_dir);
	mkdir(img, 0700);
	mkdir(kern, 0700);
	_cleanup_free_ char *rootfs = xasprintf("%s/rootfs.ext4", img);
	_cleanup_free_ char *vmlinuz = xasprintf("%s/vmlinuz", kern);
	_cleanup_free_ char *initrd = xasprintf("%s/initrd.img", kern);
	touch(rootfs, 1 << 20);
	touch(vmlinuz, 0);
	touch(initrd, 0);

	tap_ok(loop_new(&loop) == 0, "a loop");
	vmm_set_driver_for_test(&fake_driver);
	daemon_start();
	tap_ok(m->driver == &fake_driver, "the fake driver is used");

	test_stopped();
	test_starting();
	test_starting_save_fails();
	test_ssh_verdict();
	test_running();
	test_stopping();
	test_error();
	test_restart_races();

	vmm_free(m);
	fakes_free();
	vmm_set_driver_for_test(NULL);
	loop_free(loop);
	paths_free(&paths);
	rm_rf(home);
	printf("# took %lld ms\n", now_mono_ms() - t0);
	return tap_done();
}
