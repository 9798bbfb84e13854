/* The agent's transports: virtio-serial port discovery and the vsock
 * listener. See transport.h. */
#define _GNU_SOURCE
#include "transport.h"
#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#define SYSFS_PORTS "/sys/class/virtio-ports"

/* True when /sys/class/virtio-ports/<dev>/name holds name. */
static int port_has_name(const char *dev, const char *name)
{
	char path[512], buf[128];
	long n;

	snprintf(path, sizeof(path), SYSFS_PORTS "/%s/name", dev);
	n = read_small_file(path, (uint8_t *)buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return strcmp(buf, name) == 0;
}

int serial_find_port(const char *name, char *out, size_t size)
{
	struct dirent *de;
	struct stat st;
	DIR *d;

	snprintf(out, size, "/dev/virtio-ports/%s", name);
	if (stat(out, &st) == 0)
		return 0;
	d = opendir(SYSFS_PORTS);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] != '.' && port_has_name(de->d_name, name)) {
			snprintf(out, size, "/dev/%s", de->d_name);
			closedir(d);
			return 0;
		}
	}
	closedir(d);
	return -1;
}

int vsock_listen(unsigned int port)
{
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
		.svm_port = port,
	};
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int saved;

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 && listen(fd, 4) == 0)
		return fd;
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int vsock_accept(int lfd, int timeout_ms)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int r = poll(&p, 1, timeout_ms), fd;

	if (r < 0 && errno == EINTR)
		r = 0;
	if (r < 0)
		return -1;
	if (r == 0) {
		errno = EAGAIN;
		return -1;
	}
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC); /* a blocking fd: lfd is not */
	if (fd < 0 && (errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED || errno == EPROTO))
		errno = EAGAIN;
	return fd;
}
