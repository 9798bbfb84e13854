/* See oci_kit.h. */
#include "oci_kit.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Files the kit must hold (layout: docs/oci-import.md). */
static const char *const kit_files[] = {
	"init",
	"rootfs-init",
	"bin/busybox",
	"bin/sh",
	"sbin/banger-agent",
	"sbin/dropbear",
	"sbin/dropbearkey",
	"lib/ld-linux-x86-64.so.2",
};

/* Directories the initramfs and the init expect, with their modes. */
static const struct {
	const char *path;
	mode_t mode;
} boot_dirs[] = {
	{ "dev", 0755 },  { "proc", 0555 }, { "sys", 0555 }, { "run", 0755 },
	{ "tmp", 01777 }, { "root", 0700 }, { "etc", 0755 },
};

int oci_kit_check(const char *kit, bgr_error *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(kit_files); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", kit, kit_files[i]);
		if (access(p, F_OK) < 0)
			return bgr_fail(err, ENOENT, "guest kit missing at %s: run tools/mkimage tiny", kit);
	}
	return 0;
}

/* nftw has no context pointer: one copy at a time. */
static const char *copy_src, *copy_dest;
static bgr_error *copy_err;

static int copy_file(const char *from, const char *to, mode_t mode)
{
	_cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out = -1;
	char buf[1 << 16];
	ssize_t n;

	if (in < 0)
		return -errno;
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode & 07777);
	if (out < 0)
		return -errno;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			return errno ? -errno : -EIO;
	if (n < 0 || fchmod(out, mode & 07777) < 0)
		return -errno;
	return 0;
}

static int copy_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	_cleanup_free_ char *to = xasprintf("%s%s", copy_dest, path + strlen(copy_src));
	char target[PATH_MAX];
	ssize_t n;
	int r = 0;

	(void)ftw;
	if (type == FTW_D)
		r = mkdir(to, st->st_mode & 07777) < 0 && errno != EEXIST ? -errno : 0;
	else if (type == FTW_SL) {
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			r = -errno;
		else {
			target[n] = '\0';
			r = symlink(target, to) < 0 ? -errno : 0;
		}
	} else if (type == FTW_F && S_ISREG(st->st_mode))
		r = copy_file(path, to, st->st_mode);
	else
		r = -EINVAL;
	if (r < 0) {
		bgr_fail(copy_err, -r, "guest kit: copying %s: %s", path, strerror(-r));
		return 1;
	}
	return 0;
}

static int make_boot_dirs(const char *root, bgr_error *err)
{
	struct stat st;

	for (size_t i = 0; i < ARRAY_SIZE(boot_dirs); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", root, boot_dirs[i].path);
		if (lstat(p, &st) == 0)
			continue; /* the image's own (a dir, or a link it wants) */
		if (mkdir(p, boot_dirs[i].mode) < 0 || chmod(p, boot_dirs[i].mode) < 0)
			return bgr_fail(err, errno, "mkdir %s: %s", p, strerror(errno));
	}
	return 0;
}

int oci_kit_install(const char *kit, const char *root, bgr_error *err)
{
	_cleanup_free_ char *dest = xasprintf("%s/" OCI_KIT_PREFIX, root);
	_cleanup_free_ char *src = realpath(kit, NULL);
	int r;

	if (!src)
		return bgr_fail(err, errno, "guest kit %s: %s", kit, strerror(errno));
	r = rm_rf(dest);
	if (r < 0)
		return bgr_fail(err, -r, "cannot remove the image's own %s: %s", dest, strerror(-r));
	copy_src = src;
	copy_dest = dest;
	copy_err = err;
	if (nftw(src, copy_one, 16, FTW_PHYS) != 0)
		return err && err->code ? -err->code : bgr_fail(err, errno, "guest kit %s: %s", kit, strerror(errno));
	if (chmod(dest, 0755) < 0)
		return bgr_fail(err, errno, "%s: %s", dest, strerror(errno));
	return make_boot_dirs(root, err);
}
