/* banger-agent: the guest side of the banger agent channel.
 *
 * Runs inside the guest (started by the rootfs init, not PID 1). Says hello
 * every time the host side connects (with the SSH host keys), answers pings,
 * adds the host's public key to root's authorized_keys and powers the guest
 * off on request. The wire protocol is described in protocol.h.
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
#include "protocol.h"
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

static int send_line(int fd, const char *fmt, ...)
{
	char line[BANGER_AGENT_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 1)
		return -1;
	line[n++] = '\n';
	return write_all(fd, line, (size_t)n);
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

static int send_hello(int fd)
{
	static struct keyset ks;
	char keys[BANGER_AGENT_LINE_MAX - 256];
	struct utsname u;

	if (uname(&u) < 0)
		strcpy(u.release, "unknown");
	hostkeys_collect(&ks);
	hostkeys_format(&ks, keys, sizeof(keys));
	return send_line(fd, "hello proto=%d agent=%s kernel=%s uptime_ms=%" PRIu64 "%s", BANGER_AGENT_PROTO_VERSION,
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

static int handle_authorize(int fd, const char *line)
{
	char key[BANGER_AGENT_LINE_MAX], reason[256];

	if (banger_agent_field(line, "key", key, sizeof(key)) < 0)
		return send_line(fd, "fail verb=authorize reason=missing_key");
	if (authorize_key(ssh_home, key, reason, sizeof(reason)) < 0) {
		logmsg("authorize failed: %s", reason);
		return send_line(fd, "fail verb=authorize reason=%s", reason);
	}
	return send_line(fd, "ack verb=authorize");
}

/* Handles one line from the host. Returns -1 when the link is broken. */
static int handle_line(int fd, char *line)
{
	char id[64];

	if (banger_agent_is_verb(line, "ping")) {
		if (banger_agent_field(line, "id", id, sizeof(id)) < 0)
			return send_line(fd, "pong");
		return send_line(fd, "pong id=%s", id);
	}
	if (banger_agent_is_verb(line, "shutdown")) {
		if (send_line(fd, "ack verb=shutdown") < 0)
			return -1;
		power_off();
		return 0;
	}
	if (banger_agent_is_verb(line, "authorize"))
		return handle_authorize(fd, line);
	return 0; /* unknown verbs are ignored */
}

/* Waits until the host side is connected (POLLOUT). Returns -1 on error. */
static int wait_host(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int r;

	for (;;) {
		r = poll(&p, 1, 200);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r > 0 && (p.revents & POLLOUT))
			return 0;
		if (r > 0 && (p.revents & (POLLERR | POLLNVAL)))
			return -1;
		if (r > 0)
			sleep_ms(100); /* POLLHUP: no host yet, poll() won't block */
	}
}

/* One connection: hello, then serve lines until EOF or an error. */
static void session(int fd)
{
	char buf[BANGER_AGENT_LINE_MAX];
	size_t len = 0;
	int skipping = 0;
	ssize_t r;
	char *nl;

	if (wait_host(fd) < 0 || send_hello(fd) < 0)
		return;
	for (;;) {
		r = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return; /* 0: the host disconnected */
		len += (size_t)r;
		buf[len] = '\0';
		while ((nl = memchr(buf, '\n', len))) {
			*nl = '\0';
			if (nl > buf && nl[-1] == '\r')
				nl[-1] = '\0';
			if (!skipping && handle_line(fd, buf) < 0)
				return;
			skipping = 0;
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
		}
		if (len == sizeof(buf) - 1) { /* over-long line: drop it */
			skipping = 1;
			len = 0;
		}
	}
}

/* Serves the virtio-serial port at path once. */
static void serve_serial(const char *path, int *warned)
{
	int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0) {
		if (!(*warned)++)
			logmsg("cannot open %s: %s", path, strerror(errno));
		sleep_ms(1000);
		return;
	}
	*warned = 0;
	session(fd);
	close(fd);
	sleep_ms(200);
}

/* Serves the connections to lfd one at a time until the listener breaks or,
 * with watch_serial, the virtio-serial port shows up. */
static void serve_vsock(int lfd, int watch_serial)
{
	char port[512];
	int fd;

	for (;;) {
		fd = vsock_accept(lfd, 1000);
		if (fd >= 0) {
			session(fd);
			close(fd);
			continue;
		}
		if (errno != EAGAIN) {
			logmsg("vsock accept failed: %s", strerror(errno));
			sleep_ms(1000);
			return;
		}
		if (watch_serial && serial_find_port(BANGER_AGENT_PORT_NAME, port, sizeof(port)) == 0) {
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
			sleep_ms(1000);
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
	run(fixed, vsock_only);
	return 1;
}
