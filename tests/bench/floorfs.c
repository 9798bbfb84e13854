/* floorfs: the FUSE floor for tools/bench.
 *
 *   floorfs MOUNTPOINT N
 *
 * A minimal in-memory libfuse3 low-level file system serving the same shape
 * as bangerd's tree: /vms/b0 .. /vms/b{N-1}, each holding one read-only file
 * `state` that reads "stopped\n". It is written the plain way a minimal
 * low-level file system is written (the shape of libfuse's example/hello_ll.c):
 * 1.0 s entry and attribute timeouts, a plain open (no keep_cache, no
 * direct_io), replies built per request, and fuse_session_loop() on one
 * thread. It stands for "what any FUSE file system costs here"; bangerd should
 * never be slower than this. Stays in the foreground until unmounted or sent
 * SIGTERM/SIGINT.
 */
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Inodes: 1 root, 2 vms, then for VM i: 3 + 2i its directory, 4 + 2i its state. */
#define INO_VMS 2
#define INO_FIRST 3

static const char state_text[] = "stopped\n";
static unsigned long n_vms;

static int vm_of(fuse_ino_t ino, unsigned long *i, int *is_file)
{
	if (ino < INO_FIRST || ino >= INO_FIRST + 2 * n_vms)
		return -1;
	*i = (ino - INO_FIRST) / 2;
	*is_file = (int)((ino - INO_FIRST) % 2);
	return 0;
}

static int fill_stat(fuse_ino_t ino, struct stat *st)
{
	unsigned long i;
	int is_file;

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 3;
	} else if (ino == INO_VMS) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2 + n_vms;
	} else if (vm_of(ino, &i, &is_file) == 0) {
		if (is_file) {
			st->st_mode = S_IFREG | 0444;
			st->st_nlink = 1;
			st->st_size = sizeof(state_text) - 1;
		} else {
			st->st_mode = S_IFDIR | 0755;
			st->st_nlink = 2;
		}
	} else {
		return -1;
	}
	return 0;
}

static void ff_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (fill_stat(ino, &st) < 0)
		fuse_reply_err(req, ENOENT);
	else
		fuse_reply_attr(req, &st, 1.0);
}

static void ff_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	unsigned long i;
	int is_file;
	char *end;

	memset(&e, 0, sizeof(e));
	if (parent == FUSE_ROOT_ID && strcmp(name, "vms") == 0) {
		e.ino = INO_VMS;
	} else if (parent == INO_VMS && name[0] == 'b' && name[1] >= '0' && name[1] <= '9') {
		i = strtoul(name + 1, &end, 10);
		if (*end || i >= n_vms || (name[1] == '0' && name[2]))
			goto noent;
		e.ino = INO_FIRST + 2 * i;
	} else if (vm_of(parent, &i, &is_file) == 0 && !is_file && strcmp(name, "state") == 0) {
		e.ino = parent + 1;
	} else {
		goto noent;
	}
	e.attr_timeout = 1.0;
	e.entry_timeout = 1.0;
	fill_stat(e.ino, &e.attr);
	fuse_reply_entry(req, &e);
	return;
noent:
	fuse_reply_err(req, ENOENT);
}

struct dirbuf {
	char *p;
	size_t size;
};

static void dirbuf_add(fuse_req_t req, struct dirbuf *b, const char *name, fuse_ino_t ino, mode_t mode)
{
	struct stat st = { .st_ino = ino, .st_mode = mode };
	size_t old = b->size;

	b->size += fuse_add_direntry(req, NULL, 0, name, NULL, 0);
	b->p = realloc(b->p, b->size);
	if (!b->p)
		abort();
	fuse_add_direntry(req, b->p + old, b->size - old, name, &st, (off_t)b->size);
}

static void reply_buf_limited(fuse_req_t req, const char *buf, size_t bufsize, off_t off, size_t maxsize)
{
	if ((size_t)off < bufsize)
		fuse_reply_buf(req, buf + off, bufsize - (size_t)off < maxsize ? bufsize - (size_t)off : maxsize);
	else
		fuse_reply_buf(req, NULL, 0);
}

static void ff_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct dirbuf b = { 0 };
	unsigned long i;
	int is_file;
	char name[32];

	(void)fi;
	if (ino == FUSE_ROOT_ID) {
		dirbuf_add(req, &b, ".", FUSE_ROOT_ID, S_IFDIR);
		dirbuf_add(req, &b, "..", FUSE_ROOT_ID, S_IFDIR);
		dirbuf_add(req, &b, "vms", INO_VMS, S_IFDIR);
	} else if (ino == INO_VMS) {
		dirbuf_add(req, &b, ".", INO_VMS, S_IFDIR);
		dirbuf_add(req, &b, "..", FUSE_ROOT_ID, S_IFDIR);
		for (i = 0; i < n_vms; i++) {
			snprintf(name, sizeof(name), "b%lu", i);
			dirbuf_add(req, &b, name, INO_FIRST + 2 * i, S_IFDIR);
		}
	} else if (vm_of(ino, &i, &is_file) == 0 && !is_file) {
		dirbuf_add(req, &b, ".", ino, S_IFDIR);
		dirbuf_add(req, &b, "..", INO_VMS, S_IFDIR);
		dirbuf_add(req, &b, "state", ino + 1, S_IFREG);
	} else {
		fuse_reply_err(req, vm_of(ino, &i, &is_file) == 0 ? ENOTDIR : ENOENT);
		return;
	}
	reply_buf_limited(req, b.p, b.size, off, size);
	free(b.p);
}

static void ff_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	unsigned long i;
	int is_file;

	if (vm_of(ino, &i, &is_file) < 0 || !is_file)
		fuse_reply_err(req, EISDIR);
	else if ((fi->flags & O_ACCMODE) != O_RDONLY)
		fuse_reply_err(req, EACCES);
	else
		fuse_reply_open(req, fi);
}

static void ff_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	reply_buf_limited(req, state_text, sizeof(state_text) - 1, off, size);
}

static const struct fuse_lowlevel_ops ff_ops = {
	.lookup = ff_lookup,
	.getattr = ff_getattr,
	.readdir = ff_readdir,
	.open = ff_open,
	.read = ff_read,
};

int main(int argc, char **argv)
{
	char *fargv[] = { argv[0], "-o", "fsname=floorfs,subtype=floorfs", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse_session *se;
	char *end;
	int ret = 1;

	if (argc != 3) {
		fprintf(stderr, "usage: floorfs MOUNTPOINT N\n");
		return 2;
	}
	n_vms = strtoul(argv[2], &end, 10);
	if (*end || !argv[2][0]) {
		fprintf(stderr, "floorfs: bad count '%s'\n", argv[2]);
		return 2;
	}
	se = fuse_session_new(&args, &ff_ops, sizeof(ff_ops), NULL);
	if (!se)
		return 1;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_destroy;
	if (fuse_session_mount(se, argv[1]) != 0)
		goto out_signals;
	fuse_session_loop(se); /* ends at unmount or on SIGTERM/SIGINT */
	ret = 0;
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se);
	return ret;
}
