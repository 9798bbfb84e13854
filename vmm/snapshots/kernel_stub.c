/* kernel_stub.h: the part of a bzImage QEMU parses. */
#include "kernel_stub.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* the Linux x86 boot protocol (Documentation/arch/x86/boot.rst) */
#define SETUP_SECTS_AT 0x1f1
#define HEADER_MAGIC_AT 0x202
#define HEADER_MAGIC "HdrS"
#define PAYLOAD_KEPT 4096

int kernel_stub_write(const char *kernel, const char *out, bgr_error *err)
{
	_cleanup_close_ int in = open(kernel, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int fd = -1;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t setup, len;

	if (in < 0)
		return bgr_fail(err, errno, "cannot open %s: %s", kernel, strerror(errno));
	buf = xcalloc(1, 256 * 512 + PAYLOAD_KEPT);
	if (pread(in, buf, HEADER_MAGIC_AT + 4, 0) != HEADER_MAGIC_AT + 4 ||
	    memcmp(buf + HEADER_MAGIC_AT, HEADER_MAGIC, 4) != 0)
		return bgr_fail(err, EINVAL, "%s is no bzImage", kernel);
	/* 0 means 4; the boot sector comes before them */
	setup = ((size_t)(buf[SETUP_SECTS_AT] ? buf[SETUP_SECTS_AT] : 4) + 1) * 512;
	len = setup + PAYLOAD_KEPT;
	if (pread(in, buf, len, 0) != (ssize_t)len)
		return bgr_fail(err, EINVAL, "%s: a setup of %zu bytes, or a kernel shorter than it", kernel, setup);
	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return bgr_fail(err, errno, "cannot create %s: %s", out, strerror(errno));
	errno = 0; /* a short write sets none */
	if (write(fd, buf, len) != (ssize_t)len || fsync(fd) < 0)
		return bgr_fail(err, errno ? errno : EIO, "cannot write %s: %s", out, strerror(errno ? errno : EIO));
	return 0;
}
