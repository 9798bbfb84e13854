#include "disk.h"
#include "proc.h"
#include "util.h"
#include "validate.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

int disk_image_path(const char *images_dir, const char *image, char **ret, bgr_error *err)
{
	char *p = xasprintf("%s/%s/rootfs.ext4", images_dir, image);

	if (access(p, R_OK) < 0) {
		free(p);
		return bgr_fail(err, ENOENT, "image '%s' is not installed (run: tools/mkimage %s)", image, image);
	}
	*ret = p;
	return 0;
}

int disk_kernel_paths(const char *kernels_dir, const char *kernel, char **ret_vmlinuz, char **ret_initrd,
		      bgr_error *err)
{
	_cleanup_free_ char *k = xasprintf("%s/%s/vmlinuz", kernels_dir, kernel);
	_cleanup_free_ char *i = xasprintf("%s/%s/initrd.img", kernels_dir, kernel);

	if (access(k, R_OK) < 0 || access(i, R_OK) < 0)
		return bgr_fail(err, ENOENT, "kernel '%s' is not installed (no %s)", kernel, k);
	*ret_vmlinuz = steal_ptr(&k);
	*ret_initrd = steal_ptr(&i);
	return 0;
}

static int copy_file(const char *src, const char *dest)
{
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out = -1;
	struct stat st;

	if (in < 0 || fstat(in, &st) < 0)
		return -errno;
	out = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	if (ioctl(out, FICLONE, in) == 0)
		return 0;
	for (off_t left = st.st_size; left > 0;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
		if (n <= 0) {
			int r = n < 0 ? -errno : -EIO;
			unlink(dest);
			return r;
		}
		left -= n;
	}
	return 0;
}

static int make_template(const char *base, const char *base_format, uint64_t size, const char *tmpl, bgr_error *err)
{
	/* unique per thread: a worker may warm the same template */
	_cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", tmpl, gettid());
	_cleanup_free_ char *size_arg = xasprintf("%" PRIu64, size);
	char *argv[] = { "qemu-img",          "create", "-q",         "-f", "qcow2",  "-F",
			 (char *)base_format, "-b",     (char *)base, tmp,  size_arg, NULL };
	int r = proc_run(argv, -1);

	if (r != 0) {
		unlink(tmp);
		return bgr_fail(err, EIO, "qemu-img create failed (%d) for an overlay of %s", r, base);
	}
	if (rename(tmp, tmpl) < 0) {
		unlink(tmp);
		return bgr_fail(err, errno, "cannot install overlay template %s: %s", tmpl, strerror(errno));
	}
	return 0;
}

int disk_template(const char *images_dir, const char *image, uint64_t size, char **ret, bgr_error *err)
{
	_cleanup_free_ char *base = NULL, *dir = NULL, *tmpl = NULL;
	struct stat st;
	char size_text[32];
	int r;

	r = disk_image_path(images_dir, image, &base, err);
	if (r < 0)
		return r;
	if (stat(base, &st) < 0)
		return bgr_fail(err, errno, "cannot stat %s: %s", base, strerror(errno));
	if ((uint64_t)st.st_size > size) {
		size_format((uint64_t)st.st_size, size_text, sizeof(size_text));
		return bgr_fail(err, EINVAL, "disk_size is smaller than image '%s' (%s)", image, size_text);
	}
	/* The template's name carries the base's identity: a rebuilt image gets
	 * new templates (an overlay of a changed base would be corrupt). */
	dir = xasprintf("%s/%s/.overlays", images_dir, image);
	tmpl = xasprintf("%s/%" PRIu64 "-%llu-%lld.qcow2", dir, size, (unsigned long long)st.st_ino,
			 (long long)st.st_mtime);
	if (access(tmpl, R_OK) < 0) {
		r = mkdir_p(dir, 0700);
		if (r < 0)
			return bgr_fail(err, -r, "cannot create %s: %s", dir, strerror(-r));
		r = make_template(base, "raw", size, tmpl, err);
		if (r < 0)
			return r;
	}
	*ret = steal_ptr(&tmpl);
	return 0;
}

int disk_create_root(const char *images_dir, const char *image, uint64_t size, const char *dest, bgr_error *err)
{
	_cleanup_free_ char *tmpl = NULL;
	int r = disk_template(images_dir, image, size, &tmpl, err);

	if (r < 0)
		return r;
	r = copy_file(tmpl, dest);
	if (r < 0)
		return bgr_fail(err, -r, "cannot create root disk %s: %s", dest, strerror(-r));
	return 0;
}

int disk_create_overlay(const char *backing, uint64_t size, const char *dest, bgr_error *err)
{
	/* a seed per backing file and size, made once by qemu-img next to the
	 * backing file (in the snapshot template's directory, which it goes
	 * with); each overlay after it is a copy, with no qemu-img to run */
	_cleanup_free_ char *seed = xasprintf("%s.overlay-%" PRIu64 ".qcow2", backing, size);
	int r;

	if (access(seed, R_OK) < 0 && make_template(backing, "qcow2", size, seed, err) < 0)
		return -err->code;
	r = copy_file(seed, dest);
	if (r < 0)
		return bgr_fail(err, -r, "cannot create %s from %s: %s", dest, seed, strerror(-r));
	return 0;
}
