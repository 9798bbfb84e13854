/* Whole-file reads of small files (/proc, /sys, key files). */
#include "readfile.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

long read_small_file(const char *path, uint8_t *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t r;

	if (fd < 0)
		return -1;
	while (len < size && (r = read(fd, buf + len, size - len)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		len += (size_t)r;
	}
	close(fd);
	return (long)len;
}
