/* Small whole-file reads and complete writes. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

long read_fd(int fd, uint8_t *buf, size_t size)
{
	size_t len = 0;
	ssize_t r;

	while (len < size && (r = read(fd, buf + len, size - len)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		len += (size_t)r;
	}
	return (long)len;
}

long read_small_file(const char *path, uint8_t *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	long n;

	if (fd < 0)
		return -1;
	n = read_fd(fd, buf, size);
	close(fd);
	return n;
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t r;

	while (len) {
		r = write(fd, p, len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}
