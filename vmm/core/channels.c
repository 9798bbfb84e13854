/* The host ends of a VM's private channels: the agent's virtio-serial port
 * and the serial console, both unix sockets served by the hypervisor. The
 * console's full output goes to console.log (written by the hypervisor);
 * inotify on the VM directory tells readers when it or vm.log grew. */
#include "vm.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#define CONNECT_RETRY_MS 50
#define AGENT_HANDSHAKE_MAX 64
/* agent lines logged: a burst of this many, then one per second */
#define AGENT_LOG_BURST 20
#define AGENT_LOG_EVERY_MS 1000

static int connect_unix(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static void close_fd(struct vmm *m, int *fd)
{
	if (*fd < 0)
		return;
	loop_del_fd(m->loop, *fd);
	close(*fd);
	*fd = -1;
}

static void connect_tick(void *data);

/* A channel closed while the hypervisor lives (a guest reboot of the port,
 * a restarted agent): connect again. When the hypervisor is exiting, its
 * pidfd fires first or soon, and closing the channels cancels this. */
static void reconnect_later(struct vmm *m, struct vm *vm)
{
	if (vm->pidfd >= 0 && !vm->connect_timer)
		vm->connect_timer = loop_timer_add(m->loop, 200, connect_tick, vm);
}

void vm_agent_log(struct vmm *m, struct vm *vm, const char *fmt, ...)
{
	long long now = now_mono_ms(), gained;
	char line[BGR_ERROR_MAX];
	va_list ap;

	if (vm->agent_log_ms == 0) {
		vm->agent_log_ms = now;
		vm->agent_log_tokens = AGENT_LOG_BURST;
	}
	gained = (now - vm->agent_log_ms) / AGENT_LOG_EVERY_MS;
	if (gained > 0) {
		vm->agent_log_ms += gained * AGENT_LOG_EVERY_MS;
		vm->agent_log_tokens = gained >= AGENT_LOG_BURST - vm->agent_log_tokens
					       ? AGENT_LOG_BURST
					       : vm->agent_log_tokens + (int)gained;
	}
	if (vm->agent_log_tokens == 0) {
		if (!vm->agent_log_muted)
			vmm_vm_log(m, vm,
				   "agent: more than %d agent lines in a burst: further agent lines not logged "
				   "(one a second gets through)",
				   AGENT_LOG_BURST);
		vm->agent_log_muted = true;
		vm->agent_log_dropped++;
		return;
	}
	vm->agent_log_tokens--;
	if (vm->agent_log_dropped)
		vmm_vm_log(m, vm, "agent: %u agent lines not logged", vm->agent_log_dropped);
	vm->agent_log_dropped = 0;
	vm->agent_log_muted = false;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	vmm_vm_log(m, vm, "%s", line);
}

static void agent_readable(void *data, int fd, uint32_t events);

static void agent_line(struct vmm *m, struct vm *vm, const char *line)
{
	char verb[32];

	if (banger_agent_is_verb(line, "hello")) {
		m->hooks.hello_received(m, vm, line);
		if (vm->agent_fd >= 0 && m->hooks.session_line)
			m->hooks.session_line(m, vm, line); /* sessions sync after every hello */
	} else if (m->hooks.session_line &&
		   (strncmp(line, "sess_", 5) == 0 ||
		    ((banger_agent_is_verb(line, "ack") || banger_agent_is_verb(line, "fail")) &&
		     banger_agent_field(line, "verb", verb, sizeof(verb)) >= 0 && strncmp(verb, "sess_", 5) == 0)))
		m->hooks.session_line(m, vm, line);
	else if ((banger_agent_is_verb(line, "ack") || banger_agent_is_verb(line, "fail")) &&
		 banger_agent_field(line, "verb", verb, sizeof(verb)) >= 0 && strcmp(verb, "authorize") == 0)
		m->hooks.authorize_result(m, vm, banger_agent_is_verb(line, "ack"), line);
	else if ((banger_agent_is_verb(line, "ack") || banger_agent_is_verb(line, "fail")) &&
		 banger_agent_field(line, "verb", verb, sizeof(verb)) >= 0 && strcmp(verb, "identify") == 0) {
		vm_agent_log(m, vm, "agent: %s", line);
		if (m->hooks.identify_result)
			m->hooks.identify_result(m, vm, banger_agent_is_verb(line, "ack"), line);
	} else if (banger_agent_is_verb(line, "ack") || banger_agent_is_verb(line, "pong"))
		vm_agent_log(m, vm, "agent: %s", line);
	else if (banger_agent_is_verb(line, "fail"))
		vm_agent_log(m, vm, "agent: %s", line);
}

/* The protocol's lines are printable ASCII: anything else (NUL, escape
 * sequences, binary) is not a line of it, and must not reach logs. */
static bool printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

/* Reads what the agent sent; hands each complete line of the protocol to
 * agent_line. Bounded whatever comes: the buffer holds one line of at most
 * BANGER_AGENT_LINE_MAX bytes with its '\n'; a longer one is dropped up to
 * its end (its tail is not taken for a line), and so is a line with bytes
 * other than printable ASCII. */
static void agent_readable(void *data, int fd, uint32_t events)
{
	struct vm *vm = data;
	struct vmm *m = vm->m;
	ssize_t n = read(fd, vm->agent_buf + vm->agent_len, BANGER_AGENT_LINE_MAX - vm->agent_len);
	size_t start = 0;
	char *buf, *nl;

	(void)events;
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		close_fd(m, &vm->agent_fd);
		vm->authorize_sent = false; /* a new connection, a new agent: it says hello again */
		vm->agent_len = 0;
		vm->agent_discard = false;
		reconnect_later(m, vm);
		return;
	}
	vm->agent_len += (size_t)n;
	buf = vm->agent_buf;
	while ((nl = memchr(buf + start, '\n', vm->agent_len - start))) {
		size_t len = (size_t)(nl - (buf + start));

		if (vm->agent_discard) {
			vm->agent_discard = false; /* the end of an oversized line */
		} else if (!printable(buf + start, len)) {
			vm_agent_log(m, vm, "agent: dropped a line that is not printable ASCII (%zu bytes)", len);
		} else {
			*nl = '\0';
			agent_line(m, vm, buf + start);
			if (!vm->agent_buf)
				return; /* handling the line closed the channels */
		}
		start += len + 1;
	}
	vm->agent_len -= start;
	memmove(buf, buf + start, vm->agent_len);
	if (vm->agent_len == BANGER_AGENT_LINE_MAX) {
		if (!vm->agent_discard)
			vm_agent_log(m, vm, "agent: dropped a line longer than %d bytes", BANGER_AGENT_LINE_MAX);
		vm->agent_discard = true;
		vm->agent_len = 0;
	}
}

/* The console's output is logged by the hypervisor; we only drain the socket
 * so the guest never stalls on a full buffer. */
static void console_readable(void *data, int fd, uint32_t events)
{
	struct vm *vm = data;
	char buf[4096];
	ssize_t n;

	(void)events;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n == 0 || (n < 0 && errno != EAGAIN)) {
		close_fd(vm->m, &vm->console_fd);
		reconnect_later(vm->m, vm);
	}
}

/* The reply to the driver's handshake (Firecracker's "OK <port>"), read a
 * byte at a time as it comes, so the agent's first line stays unread. A
 * guest that never answers keeps this connection waiting, not the loop: the
 * boot timeout ends it. */
static void agent_handshake_readable(void *data, int fd, uint32_t events)
{
	struct vm *vm = data;
	struct vmm *m = vm->m;
	ssize_t n;

	(void)events;
	while ((n = read(fd, vm->agent_buf + vm->agent_len, 1)) == 1) {
		if (vm->agent_buf[vm->agent_len++] != '\n') {
			if (vm->agent_len < AGENT_HANDSHAKE_MAX)
				continue;
			break; /* too long for a reply */
		}
		if (m->driver->agent_handshake_reply(vm->agent_buf, vm->agent_len) < 0)
			break;
		vm->agent_len = 0;
		vm->agent_handshaking = false;
		loop_del_fd(m->loop, fd);
		if (loop_add_fd(m->loop, fd, EPOLLIN, agent_readable, vm) < 0) {
			close(fd);
			vm->agent_fd = -1;
			reconnect_later(m, vm);
		}
		return;
	}
	if (n < 0 && errno == EAGAIN)
		return;
	/* closed (nothing listens on the guest's port yet), or a bad reply */
	vm->agent_len = 0;
	vm->agent_handshaking = false;
	close_fd(m, &vm->agent_fd);
	reconnect_later(m, vm);
}

static bool try_connect(struct vmm *m, struct vm *vm, int *fd, const char *path, loop_fd_fn fn)
{
	int c;

	if (*fd >= 0)
		return true;
	c = connect_unix(path);
	if (c < 0)
		return false;
	/* Firecracker's hybrid vsock: CONNECT to the agent's port first; the
	 * reply comes to agent_handshake_readable */
	if (fn == agent_readable && m->driver->agent_handshake_send) {
		if (m->driver->agent_handshake_send(c) < 0) {
			close(c);
			return false;
		}
		fn = agent_handshake_readable;
		vm->agent_len = 0;
		vm->agent_handshaking = true;
	}
	if (loop_add_fd(m->loop, c, EPOLLIN, fn, vm) < 0) {
		vm->agent_handshaking = false;
		close(c);
		return false;
	}
	*fd = c;
	if (fn == agent_readable && m->hooks.agent_connected)
		m->hooks.agent_connected(m, vm);
	return true;
}

/* Firecracker: input goes to the FIFO that is its stdin; output needs no
 * draining (it goes to console.log directly). */
static bool open_console_fifo(struct vm *vm)
{
	if (vm->console_fd < 0)
		vm->console_fd = open(vm->console_sock, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	return vm->console_fd >= 0;
}

static void connect_tick(void *data)
{
	struct vm *vm = data;
	struct vmm *m = vm->m;
	bool agent, console;

	loop_timer_cancel(m->loop, vm->connect_timer);
	vm->connect_timer = NULL;
	if (vm->pidfd < 0)
		return;
	agent = try_connect(m, vm, &vm->agent_fd, vm->agent_sock, agent_readable);
	if (m->driver->console_on_stdout)
		console = open_console_fifo(vm);
	else
		console = try_connect(m, vm, &vm->console_fd, vm->console_sock, console_readable);
	if (!agent || !console)
		vm->connect_timer = loop_timer_add(m->loop, CONNECT_RETRY_MS, connect_tick, vm);
}

void vm_channels_open(struct vmm *m, struct vm *vm)
{
	if (!vm->agent_buf)
		vm->agent_buf = xcalloc(1, BANGER_AGENT_LINE_MAX);
	vm->agent_len = 0;
	vm->agent_discard = false;
	vm->inotify_wd = inotify_add_watch(m->inotify_fd, vm->dir, IN_MODIFY | IN_CLOSE_WRITE);
	connect_tick(vm);
}

void vm_channels_close(struct vmm *m, struct vm *vm)
{
	loop_timer_cancel(m->loop, vm->connect_timer);
	vm->connect_timer = NULL;
	close_fd(m, &vm->agent_fd);
	vm->agent_handshaking = false;
	close_fd(m, &vm->console_fd);
	free(vm->agent_buf);
	vm->agent_buf = NULL;
	vm->agent_len = 0;
	vm->agent_discard = false;
	if (vm->inotify_wd >= 0)
		inotify_rm_watch(m->inotify_fd, vm->inotify_wd);
	vm->inotify_wd = -1;
	if (m->hooks.channels_closed)
		m->hooks.channels_closed(m, vm);
}

int vm_agent_send(struct vm *vm, const char *line)
{
	size_t n = strlen(line);

	if (vm->agent_fd < 0 || vm->agent_handshaking)
		return -ENOTCONN;
	if (write(vm->agent_fd, line, n) != (ssize_t)n)
		return -EIO;
	return 0;
}

bool vm_agent_room(struct vm *vm, size_t len)
{
	int queued = 0, size = 0;
	socklen_t sl = sizeof(size);

	if (vm->agent_fd < 0 || ioctl(vm->agent_fd, SIOCOUTQ, &queued) < 0 ||
	    getsockopt(vm->agent_fd, SOL_SOCKET, SO_SNDBUF, &size, &sl) < 0)
		return true; /* cannot tell: the write says */
	return (size_t)queued + len <= (size_t)size / 2;
}

/* A write to console: a failure is the VM's error (EAGAIN, a full input
 * for a nonblocking writer, is not one), a success clears an error of
 * console. */
ssize_t vmm_console_write(struct vmm *m, struct vm *vm, const char *buf, size_t len, bgr_error *err)
{
	ssize_t n;

	if (vm->console_fd < 0) {
		bgr_fail(err, EIO, "console: the console is not connected (is the VM running?)");
		vmm_vm_fail(m, vm, VM_ERR_CONSOLE, err);
		return -EIO;
	}
	n = write(vm->console_fd, buf, len);
	if (n < 0) {
		if (errno == EAGAIN)
			return bgr_fail(err, EAGAIN, "console: the guest's input is full");
		bgr_fail(err, EIO, "console: write failed: %s", strerror(errno));
		vmm_vm_fail(m, vm, VM_ERR_CONSOLE, err);
		return -EIO;
	}
	vm_clear_error(m, vm, VM_ERR_CONSOLE);
	return n;
}

/* A guest can write to its serial port as fast as it likes, and the
 * hypervisor logs every byte: once console.log holds more than
 * CONSOLE_LOG_MAX on disk, the space of all but its last CONSOLE_LOG_KEEP is
 * given back (a punched hole: offsets and the size stay as they were, so
 * readers and the hypervisor's own file offset are undisturbed). */
#define CONSOLE_LOG_KEEP (8LL << 20)
#define CONSOLE_LOG_MAX (16LL << 20)

static void console_log_bound(struct vmm *m, struct vm *vm)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	off_t end;

	/* every write of the guest's makes an event here: a stat is all it costs */
	if (stat(vm->console_log, &st) < 0 || (long long)st.st_blocks * 512 <= CONSOLE_LOG_MAX)
		return;
	fd = open(vm->console_log, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return;
	end = (st.st_size - CONSOLE_LOG_KEEP) & ~(off_t)4095;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, end) < 0 && !vm->console_unbounded) {
		vm->console_unbounded = true; /* said once per VM */
		vmm_vm_log(m, vm, "warning: cannot bound console.log (%s): its file system cannot punch holes",
			   strerror(errno));
	}
}

void vmm_inotify_event(void *data, int fd, uint32_t events)
{
	struct vmm *m = data;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	(void)events;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			for (size_t i = 0; i < m->n_vms; i++) {
				struct vm *vm = m->vms[i];
				if (vm->inotify_wd != ev->wd || !ev->len || !m->obs.vm_output)
					continue;
				if (strcmp(ev->name, "console.log") == 0) {
					/* not on IN_CLOSE_WRITE: bounding opens it for writing */
					if ((ev->mask & IN_MODIFY) && !vm->console_unbounded)
						console_log_bound(m, vm);
					m->obs.vm_output(m->obs.ctx, vm, VMM_OUT_CONSOLE);
				} else if (strcmp(ev->name, "vm.log") == 0)
					m->obs.vm_output(m->obs.ctx, vm, VMM_OUT_LOGS);
			}
		}
	}
}
