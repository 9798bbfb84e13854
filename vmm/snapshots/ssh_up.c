/* Whether a guest's SSH server is up: its banner read from host:port. A
 * template's save waits for it (snap_save.c), so a clone resumes a guest
 * whose boot is done, not one at the agent's first hello. */
#include "snapshots.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROBE_MS 2000 /* a probe waits this long for the banner */
#define RETRY_MS 100

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One connection: 1 when it shows an SSH banner, 0 when not (yet). With
 * user-mode networking the connect succeeds before the guest listens (it is
 * slirp's), and the probe sees an EOF or nothing. */
static int probe(const struct sockaddr_in *sa, long long deadline)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct pollfd p = { .events = POLLOUT };
	char buf[8] = "";
	size_t got = 0;
	int err = 0;
	socklen_t len = sizeof(err);

	if (fd < 0)
		return 0;
	p.fd = fd;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 && errno != EINPROGRESS)
		return 0;
	while (got < 4) {
		long long left = deadline - mono_ms();
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return 0;
		if (p.events == POLLOUT) {
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
				return 0;
			p.events = POLLIN;
			continue;
		}
		ssize_t n = read(fd, buf + got, 4 - got);
		if (n <= 0)
			return 0;
		got += (size_t)n;
	}
	return memcmp(buf, "SSH-", 4) == 0;
}

/* pid runs (a zombie does not: our child stays one until the loop reaps it). */
static bool running(pid_t pid)
{
	char path[64], text[512];
	FILE *f;
	size_t n;
	const char *st;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	st = strrchr(text, ')');
	return st && st[1] == ' ' && st[2] != 'Z' && st[2] != 'X';
}

int ssh_up_wait(const char *host, int port, pid_t pid, long long max_ms, bool (*cancel)(void *), void *ctx)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	long long end = mono_ms() + max_ms;

	if (port <= 0 || port > 65535 || inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -EINVAL;
	while (mono_ms() < end) {
		long long t = mono_ms();
		if (probe(&sa, t + PROBE_MS < end ? t + PROBE_MS : end))
			return 0;
		if ((cancel && cancel(ctx)) || !running(pid))
			return -ECANCELED;
		long long spent = mono_ms() - t;
		if (spent < RETRY_MS)
			usleep((useconds_t)(RETRY_MS - spent) * 1000);
	}
	return -ETIMEDOUT;
}
