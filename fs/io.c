/* open, read, write, release, poll: file contents. */
#include "fs.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>

#define VALUE_MAX 256

static struct fs *req_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	bool writing = (fi->flags & O_ACCMODE) != O_RDONLY;
	struct node n;
	struct vm *vm = NULL;

	struct template_info ti;

	if (fs_sessions_open(fs, req, ino, fi))
		return;
	if (!node_resolve(ino, &n) || (n.vm_id && !(vm = fs_node_vm(fs, &n))) || (n.art_id && !fs_node_art(fs, &n)) ||
	    (n.tpl_id && !vmm_template_info(fs->vmm, n.tpl_id, &ti))) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (!n.vm_id)
		vm = NULL;
	if (n.def->flags & NODE_DIR) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (writing && !(n.def->flags & NODE_WRITABLE)) {
		char path[512];
		fs_refuse(fs, req, EACCES, "open %s for writing: it is read-only",
			  fs_path(fs, ino, NULL, path, sizeof(path)));
		return;
	}
	fi->noflush = 1;
	if (n.def->flags & NODE_STREAM) {
		fi->fh = (uint64_t)(uintptr_t)stream_open(fs, &n, vm);
		fi->direct_io = 1;
		fi->nonseekable = !node_is_console(&n); /* the console seeks (streams.c) */
	} else if (writing || (n.def->flags & (NODE_GROWING | NODE_VOLATILE))) {
		fi->direct_io = 1;
	} else {
		/* served from the page cache until we invalidate it */
		fi->keep_cache = 1;
	}
	fuse_reply_open(req, fi);
}

static void read_log(fuse_req_t req, struct vm *vm, size_t size, off_t off)
{
	_cleanup_free_ char *buf = xcalloc(1, size ? size : 1);
	_cleanup_close_ int fd = open(vm_log_path(vm), O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? 0 : pread(fd, buf, size, off);

	fuse_reply_buf(req, buf, n > 0 ? (size_t)n : 0);
}

/* Parks the read while the image is being pulled (Ctrl-C ends the wait). */
static void read_wait(struct fs *fs, fuse_req_t req, const struct node *n, size_t size)
{
	struct artifact *a = fs_node_art(fs, n);
	struct pending *p = pending_new_read(fs, req, n, size);
	struct vmm_waiter *w = NULL;
	int r = a ? vmm_art_wait(fs->vmm, a, pending_done, p, &w) : -ENOENT;

	pending_settle(fs, p, r, w);
}

void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	_cleanup_free_ char *text = NULL;
	const char *content;
	struct node n;
	struct vm *vm = NULL;
	size_t len;

	if (fs_pins_wait_read(fs, req, ino, size, off, fi) || fs_sessions_read(fs, req, ino, size, off))
		return;
	if (!node_resolve(ino, &n) || (n.vm_id && !(vm = fs_node_vm(fs, &n)))) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (n.def->flags & NODE_STREAM) {
		stream_read(fs, (struct stream *)(uintptr_t)fi->fh, req, size, off, fi->flags & O_NONBLOCK);
		return;
	}
	if (n.def->flags & NODE_GROWING) {
		read_log(req, vm, size, off);
		return;
	}
	if ((n.def->flags & NODE_WAIT) && off == 0) {
		read_wait(fs, req, &n, size);
		return;
	}
	if (n.def->flags & NODE_VOLATILE)
		content = text = render_node(&fs->render, &n, vm, &len);
	else
		content = snapshot_get(fs, &n, vm, &len);
	if ((size_t)off >= len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	fuse_reply_buf(req, content + off, len - (size_t)off < size ? len - (size_t)off : size);
}

/* images/import: "NAME REF" starts importing the OCI image REF as NAME. */
static void write_import(struct fs *fs, fuse_req_t req, char *value, size_t size)
{
	char *save = NULL, *name = strtok_r(value, " \t", &save), *ref = strtok_r(NULL, " \t", &save);
	struct artifact *a;
	bgr_error err;

	if (!name || !ref || strtok_r(NULL, " \t", &save)) {
		fs_refuse(fs, req, EINVAL,
			  "images/import: write \"NAME REF\", "
			  "e.g. \"deb docker.io/library/debian:bookworm\"");
		return;
	}
	if (vmm_art_import(fs->vmm, name, ref, &a, &err) < 0) {
		fs_refuse(fs, req, err.code, "images/import %.64s: %s", name, err.msg);
		return;
	}
	fuse_reply_write(req, size);
}

static void write_state(struct fs *fs, fuse_req_t req, struct vm *vm, const char *word, size_t size)
{
	struct pending *p = pending_new(fs, req, size);
	struct vmm_waiter *w = NULL;
	bgr_error err;
	int r = vmm_vm_action(fs->vmm, vm, word, pending_done, p, &w, &err);

	pending_settle(fs, p, r, w);
}

static void write_console(struct fs *fs, fuse_req_t req, struct vm *vm, const char *buf, size_t size)
{
	bgr_error err;
	ssize_t n = vmm_console_write(fs->vmm, vm, buf, size, &err);

	/* the vmm recorded a failure (and cleared an old one on success):
	 * answer after the error file's invalidation */
	if (n < 0) {
		notify_reply_err(fs->notifier, req, err.code);
		return;
	}
	notify_reply_write(fs->notifier, req, (size_t)n);
}

/* Every write is a whole value ("echo 2 > vcpu"); the offset is ignored so
 * that `>>` works too. */
void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	char value[VALUE_MAX];
	struct node n;
	struct vm *vm = NULL;
	bgr_error err;
	int field;

	(void)off;
	if (fs_sessions_write(fs, req, ino, buf, size, fi))
		return;
	if (!node_resolve(ino, &n) || (n.vm_id && !(vm = fs_node_vm(fs, &n)))) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (n.ino == INO_IMPORT) {
		if (value_trim(buf, size, value, sizeof(value), &err) < 0) {
			fs_refuse(fs, req, err.code, "images/import: %s", err.msg);
			return;
		}
		write_import(fs, req, value, size);
		return;
	}
	if (!vm || !(n.def->flags & NODE_WRITABLE)) {
		char path[512];
		fs_refuse(fs, req, EACCES, "write %s: it is read-only", fs_path(fs, ino, NULL, path, sizeof(path)));
		return;
	}
	if (node_is_console(&n)) {
		write_console(fs, req, vm, buf, size);
		return;
	}
	if (n.kind == VMF_PORTS) {
		fs_write_ports(fs, req, vm, buf, size);
		return;
	}
	if (value_trim(buf, size, value, sizeof(value), &err) < 0) {
		fs_refuse_control(fs, req, vm, &n, err.code, "%s: %s", n.def->name, err.msg);
		return;
	}
	if (n.kind == VMF_STATE) {
		write_state(fs, req, vm, value, size);
		return;
	}
	field = node_vm_field(n.kind);
	/* parked while a disk changes or the catalog is fetched */
	struct pending *p = pending_new(fs, req, size);
	struct vmm_waiter *w = NULL;
	int r = vmm_vm_set(fs->vmm, vm, (enum vm_field)field, value, pending_done, p, &w, &err);
	pending_settle(fs, p, r, w);
}

void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct node n;

	if (fs_sessions_release(fs, ino, fi))
		;
	else if (node_resolve(ino, &n) && (n.def->flags & NODE_STREAM) && fi->fh)
		stream_release(fs, (struct stream *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

void fs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	struct fs *fs = req_fs(req);
	struct node n;

	if (fs_sessions_owns(ino) || !node_resolve(ino, &n) || !(n.def->flags & NODE_STREAM) || !fi->fh) {
		/* regular files are always ready, like on any disk file system */
		if (ph)
			fuse_pollhandle_destroy(ph);
		{
			fuse_reply_poll(req, POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM);
			return;
		}
	}
	stream_poll(fs, (struct stream *)(uintptr_t)fi->fh, req, ph);
}
