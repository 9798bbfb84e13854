/* See oci_rootfs.h. */
#include "oci_rootfs.h"
#include "proc.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define MIB (1ULL << 20)
#define SLACK_BYTES (64 * MIB)
#define BYTES_PER_INODE 16384 /* mke2fs -T default */
#define BLOCK 4096

/* nftw has no context pointer. */
static uint64_t used_bytes, used_inodes;

static int measure_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path, (void)type, (void)ftw;
	/* file data in whole blocks, plus an inode's worth of metadata */
	used_bytes += ((uint64_t)st->st_size + BLOCK - 1) / BLOCK * BLOCK + 256;
	used_inodes++;
	return 0;
}

static int measure(const char *root, bgr_error *err)
{
	used_bytes = used_inodes = 0;
	if (nftw(root, measure_one, 16, FTW_PHYS) != 0)
		return bgr_fail(err, errno, "measuring %s: %s", root, strerror(errno));
	return 0;
}

/* The last line mke2fs printed, for the error. */
static void last_line(const char *log, char *out, size_t size)
{
	_cleanup_free_ char *text = read_text_file(log);
	char *end, *start;

	out[0] = '\0';
	if (!text)
		return;
	end = text + strlen(text);
	while (end > text && (end[-1] == '\n' || end[-1] == ' '))
		*--end = '\0';
	start = strrchr(text, '\n');
	snprintf(out, size, "%s", start ? start + 1 : text);
}

int oci_rootfs_make(const char *root, const char *out, uint64_t min_size, const char *log, uint64_t *ret_size,
		    bgr_error *err)
{
	_cleanup_close_ int fd = -1, log_fd = -1;
	_cleanup_free_ char *inodes = NULL;
	uint64_t size, n_inodes;
	char why[200];
	int r;

	if (measure(root, err) < 0)
		return -1;
	size = used_bytes + used_bytes * 3 / 10 + SLACK_BYTES;
	if (size < min_size)
		size = min_size;
	size = (size + MIB - 1) / MIB * MIB;
	n_inodes = used_inodes + used_inodes * 3 / 10 + 4096;
	if (n_inodes < size / BYTES_PER_INODE)
		n_inodes = size / BYTES_PER_INODE;
	inodes = xasprintf("%" PRIu64, n_inodes);
	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		return bgr_fail(err, errno, "%s: %s", out, strerror(errno));
	log_fd = open(log, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (log_fd < 0)
		return bgr_fail(err, errno, "%s: %s", log, strerror(errno));
	char *argv[] = { "mke2fs", "-q", "-F", "-t",   "ext4", "-T",         "default",   "-L", OCI_ROOTFS_LABEL,
			 "-m",     "0",  "-N", inodes, "-d",   (char *)root, (char *)out, NULL };
	r = proc_run(argv, log_fd);
	if (r < 0)
		return bgr_fail(err, -r, "cannot run mke2fs: %s", strerror(-r));
	if (r != 0) {
		last_line(log, why, sizeof(why));
		return bgr_fail(err, EIO, "mke2fs failed (status %d): %s", r, why);
	}
	if (fsync(fd) < 0)
		return bgr_fail(err, errno, "%s: %s", out, strerror(errno));
	*ret_size = size;
	return 0;
}
