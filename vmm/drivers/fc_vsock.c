#include "fc_vsock.h"

#include <errno.h>
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

int fc_vsock_send_connect(int fd, unsigned port)
{
	char req[32];
	int len = snprintf(req, sizeof(req), "CONNECT %u\n", port);
	ssize_t n = send(fd, req, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n == len)
		return 0;
	if (n >= 0) /* a few bytes into a fresh socket always fit; a part is a dead end */
		return -EAGAIN;
	return errno == EPIPE ? -ECONNRESET : -errno;
}
