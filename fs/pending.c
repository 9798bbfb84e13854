/* Requests parked until the vmm finishes: a `start` write waits for the
 * guest, an rmdir for the hypervisor to exit, a write of disk_size for its
 * resize, a mkdir of a VM for its disks, an mkdir of an image for the
 * catalog's first copy. They hold no thread; Ctrl-C (FUSE_INTERRUPT)
 * answers them with EINTR and leaves the VM as it is, except a VM's mkdir:
 * that one is undone first, and answered once nothing of it is left. */
#include "fs.h"
#include "log.h"
#include "util.h"

#include <errno.h>

struct pending {
	struct fs *fs;
	fuse_req_t req;
	struct vmm_create *create; /* a mkdir of a VM */
	bool cancel_sent;          /* ... interrupted: its undoing was asked for */
	fuse_ino_t art_parent;     /* a mkdir of an image or kernel, asked again once the catalog is there */
	char name[256];
	size_t write_size;     /* 0: answer with an errno (rmdir) */
	struct node read_node; /* a parked read of images/NAME/wait (art_id != 0) */
	size_t read_size;
	struct vmm_waiter *waiter;
	bool parked;    /* in fs->pendings, interrupt handler registered */
	bool completed; /* completed before it could be parked */
	int result;
	bool interrupted;
	struct pending *next;
};

struct pending *pending_new(struct fs *fs, fuse_req_t req, size_t write_size)
{
	struct pending *p = xcalloc(1, sizeof(*p));

	p->fs = fs;
	p->req = req;
	p->write_size = write_size;
	return p;
}

struct pending *pending_new_read(struct fs *fs, fuse_req_t req, const struct node *n, size_t size)
{
	struct pending *p = pending_new(fs, req, 0);

	p->read_node = *n;
	p->read_size = size;
	return p;
}

/* A wait read ends with the status, whether the pull worked or not. */
static void answer_read(struct pending *p)
{
	struct vm *none = NULL;
	size_t len = 0;
	_cleanup_free_ char *text = render_node(&p->fs->render, &p->read_node, none, &len);

	if (!vmm_art_by_id(p->fs->vmm, p->read_node.art_id))
		fuse_reply_err(p->req, ENOENT);
	else
		fuse_reply_buf(p->req, text, len < p->read_size ? len : p->read_size);
	free(p);
}

/* Answers through the notifier so the reply follows the invalidations the
 * change caused: a read right after it sees the new value. */
static void answer(struct pending *p, int result)
{
	if (p->read_node.art_id)
		return answer_read(p);
	if (p->art_parent) {
		fs_mkdir_artifact(p->fs, p->req, p->art_parent, p->name, true);
		free(p);
		return;
	}
	if (result == 0 && p->write_size)
		notify_reply_write(p->fs->notifier, p->req, p->write_size);
	else
		notify_reply_err(p->fs->notifier, p->req, -result);
	free(p);
}

static void unlink_pending(struct fs *fs, struct pending *p)
{
	for (struct pending **pp = &fs->pendings; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			return;
		}
	}
}

struct pending *pending_new_mkdir(struct fs *fs, fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pending *p = pending_new(fs, req, 0);

	snprintf(p->name, sizeof(p->name), "%s", name);
	if (parent != INO_VMS)
		p->art_parent = parent;
	return p;
}

void pending_created(void *ctx, struct vm *vm, const bgr_error *err)
{
	struct pending *p = ctx;

	unlink_pending(p->fs, p);
	fuse_req_interrupt_func(p->req, NULL, NULL);
	if (vm) {
		fs_reply_entry(p->req, p->fs, vm_ino(vm_record(vm)->id, VMF_DIR), vm);
	} else {
		if (!p->cancel_sent)
			fs_log_failure("mkdir", "vms", p->name, err);
		fuse_reply_err(p->req, p->cancel_sent ? EINTR : err->code);
	}
	free(p);
}

static void pending_interrupted(fuse_req_t req, void *data);

void pending_park_create(struct fs *fs, struct pending *p, struct vmm_create *c)
{
	p->create = c;
	p->parked = true;
	p->next = fs->pendings;
	fs->pendings = p;
	fuse_req_interrupt_func(p->req, pending_interrupted, p);
}

void pending_done(void *ctx, int result)
{
	struct pending *p = ctx;

	if (!p->parked) {
		p->completed = true;
		p->result = result;
		return;
	}
	unlink_pending(p->fs, p);
	fuse_req_interrupt_func(p->req, NULL, NULL);
	answer(p, result);
}

static void pending_interrupted(fuse_req_t req, void *data)
{
	struct pending *p = data;

	(void)req;
	/* Called inside libfuse, possibly from within our own handler: only
	 * mark it here; the loop answers after the current request. */
	p->interrupted = true;
	p->fs->interrupts = true;
}

static void settle(struct fs *fs, struct pending *p, int r, struct vmm_waiter *w, bool interruptible)
{
	if (r < 0) {
		answer(p, r);
		return;
	}
	if (r == 0 || p->completed) {
		answer(p, r == 0 ? 0 : p->result);
		return;
	}
	p->waiter = w;
	p->parked = true;
	p->next = fs->pendings;
	fs->pendings = p;
	if (interruptible)
		fuse_req_interrupt_func(p->req, pending_interrupted, p);
}

void pending_settle(struct fs *fs, struct pending *p, int r, struct vmm_waiter *w)
{
	settle(fs, p, r, w, true);
}

void pending_settle_uninterruptible(struct fs *fs, struct pending *p, int r, struct vmm_waiter *w)
{
	settle(fs, p, r, w, false);
}

void fs_answer_interrupts(struct fs *fs)
{
	if (!fs->interrupts)
		return;
	fs->interrupts = false;
	for (struct pending **pp = &fs->pendings; *pp;) {
		struct pending *p = *pp;
		if (!p->interrupted) {
			pp = &p->next;
			continue;
		}
		if (p->create) {
			/* answered by pending_created once the create is undone,
			 * maybe right here: start over after it */
			p->interrupted = false;
			if (!p->cancel_sent) {
				p->cancel_sent = true;
				vmm_vm_create_cancel(p->create);
			}
			pp = &fs->pendings;
			continue;
		}
		*pp = p->next;
		vmm_waiter_cancel(p->waiter);
		fuse_req_interrupt_func(p->req, NULL, NULL);
		fuse_reply_err(p->req, EINTR);
		free(p);
	}
	streams_answer_interrupts(fs);
	fs_sessions_answer_interrupts(fs);
}
