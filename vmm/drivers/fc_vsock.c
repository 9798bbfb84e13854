#include "fc_vsock.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REPLY_MAX 64

int fc_vsock_parse_reply(const char *line, size_t len, unsigned *host_port)
{
	char buf[REPLY_MAX];
	char *end;
	unsigned long v;

	if (len && line[len - 1] == '\n')
		len--;
	if (len < 4 || len >= sizeof(buf) || strncmp(line, "OK ", 3) != 0)
		return -1;
	memcpy(buf, line, len);
	buf[len] = '\0';
	if (buf[3] < '0' || buf[3] > '9')
		return -1;
	errno = 0;
	v = strtoul(buf + 3, &end, 10);
	if (*end || errno || v > 0xffffffffUL)
		return -1;
	*host_port = (unsigned)v;
	return 0;
}

static int write_all(int fd, const char *s, size_t len, int timeout_ms)
{
	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			if (poll(&p, 1, timeout_ms) <= 0)
				return -ETIMEDOUT;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) /* the other end closed: nothing listens there */
			return errno == EPIPE ? -ECONNRESET : -errno;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

int fc_vsock_connect(int fd, unsigned port, int timeout_ms)
{
	char req[32], line[REPLY_MAX];
	size_t len = 0;
	unsigned host_port;
	int r;

	snprintf(req, sizeof(req), "CONNECT %u\n", port);
	r = write_all(fd, req, strlen(req), timeout_ms);
	if (r < 0)
		return r;
	while (len < sizeof(line) - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		n = read(fd, line + len, 1);
		if (n == 0)
			return -ECONNRESET; /* nothing listens on that port in the guest (yet) */
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		if (line[len++] == '\n')
			return fc_vsock_parse_reply(line, len, &host_port) == 0 ? 0 : -EPROTO;
	}
	return -EPROTO;
}
