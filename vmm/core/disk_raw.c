#include "disk_raw.h"
#include "disk.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (64 << 20) /* a cancel is noticed between chunks */

struct cancel {
	bool (*fn)(void *);
	void *ctx;
};

/* Copies [off, off + len) of in to the same place in out. */
static int copy_range(int in, int out, off_t off, off_t len, const struct cancel *c)
{
	while (len > 0) {
		loff_t a = off, b = off;
		if (c->fn && c->fn(c->ctx))
			return -ECANCELED;
		ssize_t n = copy_file_range(in, &a, out, &b, (size_t)(len < CHUNK ? len : CHUNK), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += n;
		len -= n;
	}
	return 0;
}

static int copy_extents(int in, int out, off_t size, const struct cancel *c)
{
	off_t data = 0, hole;
	int r;

	for (;;) {
		data = lseek(in, data, SEEK_DATA);
		if (data < 0)
			return errno == ENXIO ? 0 : -errno; /* ENXIO: no data past here */
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			hole = size;
		r = copy_range(in, out, data, hole - data, c);
		if (r < 0)
			return r;
		data = hole;
	}
}

static int copy_sparse(const char *src, const char *dest, bool *reflinked, const struct cancel *c)
{
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out = -1;
	struct stat st;
	int r;

	*reflinked = false;
	if (in < 0 || fstat(in, &st) < 0)
		return -errno;
	out = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	if (ioctl(out, FICLONE, in) == 0) {
		*reflinked = true;
		return 0;
	}
	r = ftruncate(out, st.st_size) < 0 ? -errno : copy_extents(in, out, st.st_size, c);
	if (r < 0)
		unlink(dest);
	return r;
}

int disk_copy_sparse(const char *src, const char *dest, bool *reflinked)
{
	return copy_sparse(src, dest, reflinked, &(struct cancel){ NULL, NULL });
}

int disk_create_raw_root(const char *images_dir, const char *image, uint64_t size, const char *dest,
			 bool (*cancel)(void *), void *ctx, bgr_error *err)
{
	_cleanup_free_ char *base = NULL;
	bool reflinked;
	struct stat st;
	int r = disk_image_path(images_dir, image, &base, err);

	if (r < 0)
		return r;
	r = copy_sparse(base, dest, &reflinked, &(struct cancel){ cancel, ctx });
	if (r < 0)
		return bgr_fail(err, -r, "cannot create root disk %s: %s", dest, strerror(-r));
	if (stat(dest, &st) == 0 && (uint64_t)st.st_size < size && truncate(dest, (off_t)size) < 0) {
		r = errno;
		unlink(dest);
		return bgr_fail(err, r, "cannot grow root disk %s: %s", dest, strerror(r));
	}
	return 0;
}
