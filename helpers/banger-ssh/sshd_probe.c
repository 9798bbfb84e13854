/* sshd_probe.h: probes of a guest's SSH port until sshd talks. */
#include "sshd_probe.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROBES_MAX 16
#define PROBE_EVERY_MS 250  /* until the guest's network is up */
#define AFTER_REFUSAL_MS 25 /* sshd does not listen yet */
#define SILENT_SIBLING_MS 2000

struct probes {
	struct pollfd p[PROBES_MAX];
	int n;
};

static void drop(struct probes *ps, int i)
{
	close(ps->p[i].fd);
	ps->p[i] = ps->p[--ps->n];
}

static void drop_all(struct probes *ps)
{
	while (ps->n)
		drop(ps, 0);
}

/* A non-blocking connect to ai: the socket (connected, or still
 * connecting), or -1 when it failed at once (errno set). */
static int open_probe(const struct addrinfo *ai)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* What a probe that poll() woke says: 1 sshd wrote (its bytes are left
 * unread), 0 the guest refused it (a reset, or slirp closing what the
 * guest refused), -1 another failure (errno). */
static int probe_answer(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n > 0)
		return 1;
	if (n == 0 || errno == ECONNREFUSED || errno == ECONNRESET)
		return 0;
	return errno == EAGAIN ? -2 : -1;
}

int sshd_probe_wait(const char *host, int port, long long deadline_ms, bool *net_up, char *last, size_t size)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
	struct probes ps = { .n = 0 };
	long long opened = 0;
	char service[16];
	int found = -1;

	snprintf(service, sizeof(service), "%d", port);
	if (getaddrinfo(host, service, &hints, &ai) != 0 || !ai) {
		snprintf(last, size, "cannot resolve %s", host);
		return -1;
	}
	while (found < 0 && now_mono_ms() < deadline_ms) {
		long long now = now_mono_ms();
		if ((!*net_up && now - opened >= PROBE_EVERY_MS) ||
		    (*net_up && !ps.n && now - opened >= AFTER_REFUSAL_MS) ||
		    (*net_up && ps.n && now - opened >= SILENT_SIBLING_MS)) {
			opened = now;
			if (ps.n == PROBES_MAX)
				drop(&ps, 0);
			int fd = open_probe(ai);
			if (fd >= 0)
				ps.p[ps.n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
			else if (errno == ECONNREFUSED)
				*net_up = true;
			if (fd < 0)
				snprintf(last, size, "connect: %s", strerror(errno));
		}
		long long left = deadline_ms - now_mono_ms();
		if (poll(ps.p, (nfds_t)ps.n,
			 (int)(left < AFTER_REFUSAL_MS ? (left > 0 ? left : 0) : AFTER_REFUSAL_MS)) <= 0)
			continue;
		for (int i = 0; i < ps.n; i++) {
			if (!ps.p[i].revents)
				continue;
			int r = probe_answer(ps.p[i].fd);
			if (r == 1) {
				found = ps.p[i].fd;
				ps.p[i] = ps.p[--ps.n];
				*net_up = true;
				break;
			}
			if (r == -2)
				continue;
			if (r == 0) {
				/* the guest answers: every probe still open may be
				 * a SYN lost before its network was up */
				snprintf(last, size, "nothing listens on port %d yet", port);
				*net_up = true;
				drop_all(&ps);
				break;
			}
			snprintf(last, size, "connect: %s", strerror(errno));
			drop(&ps, i--);
		}
	}
	drop_all(&ps);
	freeaddrinfo(ai);
	if (found >= 0)
		fcntl(found, F_SETFL, fcntl(found, F_GETFL) & ~O_NONBLOCK);
	return found;
}
