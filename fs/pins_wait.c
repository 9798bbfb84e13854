/* known_hosts and vms/NAME/known_hosts are read from the vmm's copy in
 * memory. When the file changed since that copy was made (someone pinned
 * or edited it), a request that would show it waits, parked, for the copy
 * to be read again off the loop, and then runs as it would have. */
#include "fs.h"
#include "util.h"

#include <string.h>

enum wait_op { W_LOOKUP, W_GETATTR, W_READ };

struct pins_wait {
	struct fs *fs;
	enum wait_op op;
	fuse_req_t req;
	fuse_ino_t ino;
	char name[256];
	size_t size;
	off_t off;
	struct fuse_file_info fi;
};

static void again(void *ctx, int result)
{
	struct pins_wait *w = ctx;
	struct fs *fs = w->fs;

	(void)result; /* even at shutdown: what is in memory answers */
	fs->pins_again = true;
	switch (w->op) {
	case W_LOOKUP:
		fs_ops.lookup(w->req, w->ino, w->name);
		break;
	case W_GETATTR:
		fs_ops.getattr(w->req, w->ino, NULL);
		break;
	case W_READ:
		fs_ops.read(w->req, w->ino, w->size, w->off, &w->fi);
		break;
	}
	fs->pins_again = false;
	free(w);
}

static bool shows_pins(uint64_t ino)
{
	struct node n;

	return ino == INO_KNOWN_HOSTS || (node_resolve(ino, &n) && n.vm_id && n.kind == VMF_KNOWN_HOSTS);
}

static bool must_wait(struct fs *fs)
{
	return !fs->pins_again && !vmm_pins_fresh(fs->vmm);
}

static bool park(struct fs *fs, struct pins_wait w)
{
	struct pins_wait *p = xcalloc(1, sizeof(*p));
	struct vmm_waiter *ignore;

	*p = w;
	p->fs = fs;
	vmm_pins_refresh(fs->vmm, again, p, &ignore);
	return true;
}

bool fs_pins_wait_lookup(struct fs *fs, fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node p;
	struct pins_wait w = { .op = W_LOOKUP, .req = req, .ino = parent };

	if (strcmp(name, "known_hosts") != 0 || strlen(name) >= sizeof(w.name))
		return false;
	if (parent != INO_ROOT && !(node_resolve(parent, &p) && p.vm_id && p.kind == VMF_DIR))
		return false;
	if (!must_wait(fs))
		return false;
	snprintf(w.name, sizeof(w.name), "%s", name);
	return park(fs, w);
}

bool fs_pins_wait_getattr(struct fs *fs, fuse_req_t req, fuse_ino_t ino)
{
	if (!shows_pins(ino) || !must_wait(fs))
		return false;
	return park(fs, (struct pins_wait){ .op = W_GETATTR, .req = req, .ino = ino });
}

bool fs_pins_wait_read(struct fs *fs, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       const struct fuse_file_info *fi)
{
	if (!shows_pins(ino) || !must_wait(fs))
		return false;
	return park(fs,
		    (struct pins_wait){ .op = W_READ, .req = req, .ino = ino, .size = size, .off = off, .fi = *fi });
}
