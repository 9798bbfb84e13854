/* banger-agent: the guest side of the banger agent channel.
 *
 * Runs inside the guest (started by the rootfs init, not PID 1). Says hello
 * every time the host side connects (with the SSH host keys), answers pings,
 * adds the host's public key to root's authorized_keys and powers the guest
 * off on request; a guest restored from a template takes its own identity
 * on request (identify.c), and runs the host's sessions: long-lived commands
 * whose output it keeps and pushes (session.c, sess_verbs.c). The wire
 * protocol is described in protocol.h.
 *
 * One thread, one poll() (sessions_wait): the channel, the sessions' pipes
 * and a SIGCHLD self-pipe. Lines for the host go through a queue written
 * without blocking (outq.c); sessions keep running, and their output is
 * kept, while no host is connected.
 *
 * Transport, chosen at start and re-checked every second until one works:
 * the virtio-serial port named org.banger.agent (QEMU) when it exists, else
 * a vsock listener on port BANGER_AGENT_VSOCK_PORT, any CID (Firecracker's
 * hybrid vsock: the host writes "CONNECT 1024\n" to its unix socket). vsock
 * connections are served one at a time, each as its own session; while
 * listening, the agent switches to the serial port if one shows up.
 *
 * Port semantics (virtio_console): read() returns 0 while no host client is
 * connected, write() blocks until one is, and poll() always reports POLLHUP
 * while disconnected. So the agent polls for POLLOUT at a short interval
 * before it composes the hello, which keeps uptime_ms fresh.
 */
#define _GNU_SOURCE
#include "authorize.h"
#include "fileio.h"
#include "hostkeys.h"
#include "identify.h"
#include "outq.h"
#include "protocol.h"
#include "sess_verbs.h"
#include "session.h"
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/reboot.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static int dry_run;
static const char *ssh_home = "/root";
static struct outq outq; /* lines for the connected host */

static void logmsg(const char *fmt, ...)
{
	va_list ap;

	fputs("banger-agent: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static uint64_t uptime_ms(void)
{
	char buf[64];
	long n = read_small_file("/proc/uptime", (uint8_t *)buf, sizeof(buf) - 1);
	uint64_t sec = 0, frac = 0, scale = 1000;
	struct timespec ts;
	char *p;

	if (n > 0) {
		buf[n] = '\0';
		sec = strtoull(buf, &p, 10);
		if (*p == '.')
			for (p++; *p >= '0' && *p <= '9' && scale > 1; p++) {
				scale /= 10;
				frac += (uint64_t)(*p - '0') * scale;
			}
		return sec * 1000 + frac;
	}
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int send_hello(void)
{
	static struct keyset ks;
	char keys[BANGER_AGENT_LINE_MAX - 256];
	struct utsname u;

	if (uname(&u) < 0)
		strcpy(u.release, "unknown");
	hostkeys_collect(&ks);
	hostkeys_format(&ks, keys, sizeof(keys));
	sessions_unsync_all(); /* nothing of theirs goes out before the host's sess_sync */
	return outq_line(&outq, "hello proto=%d agent=%s kernel=%s uptime_ms=%" PRIu64 "%s", BANGER_AGENT_PROTO_VERSION,
			 BANGER_AGENT_VERSION, u.release, uptime_ms(), keys);
}

/* True when the kernel command line has banger.vmm=firecracker. There a
 * power-off halts the guest but leaves the VMM running; a reboot (with
 * reboot=k) ends it. */
static int vmm_is_firecracker(void)
{
	char buf[4096], *tok, *save;
	long n = read_small_file("/proc/cmdline", (uint8_t *)buf, sizeof(buf) - 1);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (tok = strtok_r(buf, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save))
		if (strcmp(tok, "banger.vmm=firecracker") == 0)
			return 1;
	return 0;
}

static void power_off(void)
{
	char comm[32] = "";
	long n = read_small_file("/proc/1/comm", (uint8_t *)comm, sizeof(comm) - 1);
	int fc = vmm_is_firecracker();
	/* busybox init and banger's init: USR2 = poweroff (banger's init
	 * reboots instead under Firecracker) */
	int sig = SIGUSR2;

	if (n > 0 && strncmp(comm, "systemd", 7) == 0) /* reboot.target : poweroff.target */
		sig = fc ? SIGRTMIN + 5 : SIGRTMIN + 4;
	sync();
	if (dry_run) {
		logmsg("shutdown requested (dry run, not powering off)");
		return;
	}
	logmsg("shutdown requested, powering off");
	if (kill(1, sig) == 0)
		sleep_ms(10000); /* init kills us while shutting down */
	logmsg("init did not power off, forcing it");
	sync();
	reboot(fc ? RB_AUTOBOOT : RB_POWER_OFF);
}

static int handle_authorize(const char *line)
{
	char key[BANGER_AGENT_LINE_MAX], reason[256];

	if (banger_agent_field(line, "key", key, sizeof(key)) < 0)
		return outq_line(&outq, "fail verb=authorize reason=missing_key");
	if (authorize_key(ssh_home, key, true, reason, sizeof(reason)) < 0) {
		logmsg("authorize failed: %s", reason);
		return outq_line(&outq, "fail verb=authorize reason=%s", reason);
	}
	return outq_line(&outq, "ack verb=authorize");
}

/* Handles one line from the host. Returns -1 when the link is broken. */
static int handle_line(int fd, char *line)
{
	char id[64];

	if (banger_agent_is_verb(line, "ping")) {
		if (banger_agent_field(line, "id", id, sizeof(id)) < 0)
			return outq_line(&outq, "pong");
		return outq_line(&outq, "pong id=%s", id);
	}
	if (banger_agent_is_verb(line, "shutdown")) {
		if (outq_line(&outq, "ack verb=shutdown") < 0 || outq_drain(&outq, fd, 2000) < 0)
			return -1;
		power_off();
		return 0;
	}
	if (banger_agent_is_verb(line, "authorize"))
		return handle_authorize(line);
	if (banger_agent_is_verb(line, "identify")) {
		char reason[256];
		struct identify_result res;
		if (identify_apply(line, ssh_home, &res, reason, sizeof(reason)) < 0) {
			logmsg("identify failed: %s", reason);
			return outq_line(&outq, "fail verb=identify reason=%s", reason);
		}
		logmsg("identify: this guest has its own identity now");
		if (outq_line(&outq, "ack verb=identify%s%s", res.authorized ? " authorized=1" : "",
			      res.listening ? " sshd=listening" : "") < 0)
			return -1;
		return send_hello(); /* with the new host keys */
	}
	sess_handle_line(line, &outq); /* any other verb is ignored */
	return 0;
}

/* Waits until the host side is connected (POLLOUT). Returns -1 on error. */
static int wait_host(int fd)
{
	int r;

	for (;;) {
		r = sessions_wait(fd, POLLOUT, 200);
		if (r < 0)
			return -1;
		if (r & POLLOUT)
			return 0;
		if (r & (POLLERR | POLLNVAL))
			return -1;
		/* POLLHUP: no host yet, and poll() won't block; a restored
		 * clone's host connects within milliseconds */
		if (r)
			sessions_idle(10);
	}
}

/* Reads what the host sent into buf (len bytes held) and handles the
 * complete lines. Returns -1 when the host went away. */
static int read_lines(int fd, char *buf, size_t *len, int *skipping)
{
	ssize_t r = read(fd, buf + *len, BANGER_AGENT_LINE_MAX - 1 - *len);
	char *nl;

	if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (r <= 0)
		return -1; /* 0: the host disconnected */
	*len += (size_t)r;
	buf[*len] = '\0';
	while ((nl = memchr(buf, '\n', *len))) {
		*nl = '\0';
		if (nl > buf && nl[-1] == '\r')
			nl[-1] = '\0';
		if (!*skipping && handle_line(fd, buf) < 0)
			return -1;
		*skipping = 0;
		*len -= (size_t)(nl + 1 - buf);
		memmove(buf, nl + 1, *len);
	}
	if (*len == BANGER_AGENT_LINE_MAX - 1) { /* over-long line: drop it */
		if (!*skipping)
			sess_line_too_long(buf, &outq);
		*skipping = 1;
		*len = 0;
	}
	return 0;
}

/* One connection: hello, then serve lines and push session output until
 * the host goes away. */
static void session(int fd)
{
	char buf[BANGER_AGENT_LINE_MAX];
	size_t len = 0;
	int skipping = 0, rev;
	short events;

	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 || wait_host(fd) < 0)
		return;
	outq_reset(&outq);
	if (send_hello() < 0)
		return;
	for (;;) {
		sess_pump(&outq);
		if (outq_flush(&outq, fd) < 0)
			return;
		/* all of it went: the pump stopped at OUTQ_HIGH and may have
		 * more (a sess_sync's resend); nothing would wake us for it */
		if (!outq_pending(&outq)) {
			sess_pump(&outq);
			if (outq_pending(&outq))
				continue;
		}
		/* a host that does not read gets no more answers queued */
		events = outq_pending(&outq) < OUTQ_HIGH ? POLLIN : 0;
		if (outq_pending(&outq))
			events |= POLLOUT;
		rev = sessions_wait(fd, events, -1);
		if (rev < 0 || (rev & (POLLERR | POLLNVAL)))
			return;
		if ((rev & (POLLIN | POLLHUP)) && read_lines(fd, buf, &len, &skipping) < 0)
			return;
	}
}

/* Serves the virtio-serial port at path once. */
static void serve_serial(const char *path, int *warned)
{
	int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0) {
		if (!(*warned)++)
			logmsg("cannot open %s: %s", path, strerror(errno));
		sessions_idle(1000);
		return;
	}
	*warned = 0;
	session(fd);
	close(fd);
	sessions_idle(200);
}

/* Serves the connections to lfd one at a time until the listener breaks or,
 * with watch_serial, the virtio-serial port shows up. */
static void serve_vsock(int lfd, int watch_serial)
{
	char port[512];
	time_t checked = time(NULL);
	int fd;

	for (;;) {
		if (sessions_wait(lfd, POLLIN, 1000) < 0)
			sessions_idle(100);
		fd = vsock_accept(lfd, 0); /* EAGAIN when sessions woke us */
		if (fd >= 0) {
			session(fd);
			close(fd);
			continue;
		}
		if (errno != EAGAIN) {
			logmsg("vsock accept failed: %s", strerror(errno));
			sessions_idle(1000);
			return;
		}
		if (!watch_serial || time(NULL) == checked)
			continue;
		checked = time(NULL);
		if (serial_find_port(BANGER_AGENT_PORT_NAME, port, sizeof(port)) == 0) {
			logmsg("virtio-serial port %s appeared, leaving vsock", BANGER_AGENT_PORT_NAME);
			return;
		}
	}
}

/* Listens on vsock port and serves it. Returns -1 (errno set) when vsock
 * cannot be used, else 0 once serve_vsock gives up. */
static int run_vsock(unsigned int port, int watch_serial)
{
	int lfd = vsock_listen(port);

	if (lfd < 0)
		return -1;
	logmsg("listening on vsock port %u", port);
	serve_vsock(lfd, watch_serial);
	close(lfd);
	return 0;
}

/* fixed: a device path (-p), or NULL; vsock_only: a vsock port (-v), or 0. */
static void run(const char *fixed, unsigned int vsock_only)
{
	char port[512];
	int warned = 0, waiting = 0;

	for (;;) {
		if (fixed) {
			serve_serial(fixed, &warned);
		} else if (!vsock_only && serial_find_port(BANGER_AGENT_PORT_NAME, port, sizeof(port)) == 0) {
			serve_serial(port, &warned);
		} else if (run_vsock(vsock_only ? vsock_only : BANGER_AGENT_VSOCK_PORT, !vsock_only) == 0) {
			waiting = 0;
		} else {
			if (!waiting++)
				logmsg("waiting for virtio-serial port %s or vsock (vsock: %s)", BANGER_AGENT_PORT_NAME,
				       strerror(errno));
			sessions_idle(1000);
		}
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: banger-agent [-n] [-p PORT | -v VSOCKPORT] [-a HOME]\n"
		"  -p PORT       use this device instead of the virtio-serial port '%s'\n"
		"  -v VSOCKPORT  only listen on this vsock port (default: the serial port if\n"
		"                present, else vsock port %d)\n"
		"  -n            dry run: acknowledge shutdown but do not power off\n"
		"  -a HOME       authorize keys in HOME/.ssh/authorized_keys (default /root)\n",
		BANGER_AGENT_PORT_NAME, BANGER_AGENT_VSOCK_PORT);
}

/* A vsock port number, 1..UINT32_MAX-1 (-1U is VMADDR_PORT_ANY); 0 if bad. */
static unsigned int parse_vsock_port(const char *s)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v >= 0xffffffffULL)
		return 0;
	return (unsigned int)v;
}

int main(int argc, char **argv)
{
	const char *fixed = NULL;
	unsigned int vsock_only = 0;
	int opt;

	while ((opt = getopt(argc, argv, "a:hnp:v:")) != -1) {
		switch (opt) {
		case 'a':
			ssh_home = optarg;
			break;
		case 'p':
			fixed = optarg;
			break;
		case 'v':
			vsock_only = parse_vsock_port(optarg);
			if (!vsock_only) {
				fprintf(stderr, "banger-agent: bad vsock port '%s'\n", optarg);
				return 2;
			}
			break;
		case 'n':
			dry_run = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (fixed && vsock_only) {
		fprintf(stderr, "banger-agent: -p and -v exclude each other\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (sessions_init() < 0) {
		fprintf(stderr, "banger-agent: cannot set up sessions: %s\n", strerror(errno));
		return 1;
	}
	run(fixed, vsock_only);
	return 1;
}
