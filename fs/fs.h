/* The FUSE front's shared state. Everything here is touched only on the loop
 * thread, except what notify.c sends from its own thread. */
#ifndef BANGER_FS_H
#define BANGER_FS_H

#include <fuse_lowlevel.h>
#include <stdbool.h>

#include "nodes.h"
#include "notify.h"
#include "render.h"
#include "snapshots.h"
#include "sessions.h"

#define CACHE_TIMEOUT 86400.0 /* the daemon invalidates at every change */

struct stream;
struct pending;

struct fs {
	struct fuse_session *se;
	struct vmm *vmm;
	struct loop *loop;
	struct notifier *notifier;
	struct render_ctx render;
	uid_t uid;
	gid_t gid;
	char notrash_name[32]; /* ".Trash-UID": not a directory, so no trash here (see ops.c) */
	time_t started;
	struct stream *streams;      /* open console/events handles */
	struct pending *pendings;    /* parked state writes and rmdirs */
	bool interrupts;             /* some parked request was interrupted */
	bool no_opendir;             /* the kernel caches directories without opendir */
	bool pins_again;             /* running a request that waited for known_hosts: it waits no more */
	struct snapshot **snapshots; /* published contents, see snapshots.h */
	struct fuse_buf buf;         /* the request being processed */
};

extern const struct fuse_lowlevel_ops fs_ops;

/* ops.c */
bool fs_fill_attr(struct fs *fs, const struct node *n, struct vm *vm, struct stat *st);
struct vm *fs_node_vm(struct fs *fs, const struct node *n);
struct artifact *fs_node_art(struct fs *fs, const struct node *n);
/* Reasons are one line: user input quoted in one may hold control bytes,
 * shown as '?'.
 * fs_refuse: a refusal of anything but a control file's request (create,
 * unlink, rename, mknod, symlink, link, chmod, chown, mkdir or rmdir inside
 * a VM, a write to a read-only file): one line in bangerd.log, never the
 * VM's error or logs. Name the path (fs_path). */
void fs_refuse(struct fs *fs, fuse_req_t req, int err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A write to control file n of vm refused before the vmm saw it (a value too
 * long, a NUL): the VM's error and logs, as the vmm records the refusals it
 * makes itself. */
void fs_refuse_control(struct fs *fs, fuse_req_t req, struct vm *vm, const struct node *n, int err, const char *fmt,
		       ...) __attribute__((format(printf, 6, 7)));
/* The mount-relative path of ino ("vms/a/vcpu", "images", "" for the root),
 * plus "/name" when name is given; for messages. */
const char *fs_path(struct fs *fs, fuse_ino_t ino, const char *name, char *buf, size_t size);
void fs_reply_entry(fuse_req_t req, struct fs *fs, uint64_t ino, struct vm *vm);
/* "OP DIR/NAME: reason" in bangerd.log, on one line. */
void fs_log_failure(const char *op, const char *dir, const char *name, const bgr_error *err);
/* mkdir images/NAME or kernels/NAME; again: after waiting for the catalog
 * (never waits twice). */
void fs_mkdir_artifact(struct fs *fs, fuse_req_t req, fuse_ino_t parent, const char *name, bool again);
/* pins_wait.c: a lookup, getattr or read of a known_hosts file while the
 * copy in memory is older than the file: the request waits for a refresh
 * (off the loop) and is run again then. True when it was taken. */
bool fs_pins_wait_lookup(struct fs *fs, fuse_req_t req, fuse_ino_t parent, const char *name);
bool fs_pins_wait_getattr(struct fs *fs, fuse_req_t req, fuse_ino_t ino);
bool fs_pins_wait_read(struct fs *fs, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       const struct fuse_file_info *fi);

/* io.c */
void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi);
void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
/* ports.c: a write of vms/NAME/ports (several lines at once) */
void fs_write_ports(struct fs *fs, fuse_req_t req, struct vm *vm, const char *buf, size_t size);
void fs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph);
/* A request parked until the vmm completes an operation:
 *   p = pending_new(fs, req, size);
 *   r = vmm_vm_action(..., pending_done, p, &w, &err);
 *   pending_settle(fs, p, r, w);
 * settle answers at once when r <= 0 and parks otherwise. A refusal is the
 * vmm's to record (vmm_vm_action and vmm_vm_set put it in the VM's error). */
struct pending *pending_new(struct fs *fs, fuse_req_t req, size_t write_size);
/* A read of n (images/NAME/wait) answered with its content once done. */
struct pending *pending_new_read(struct fs *fs, fuse_req_t req, const struct node *n, size_t size);
void pending_done(void *ctx, int result);
/* A mkdir: of a VM (vms/), parked with pending_park_create and answered by
 * pending_created; of an image or kernel, parked like the others while it
 * waits for the catalog, then asked again (fs_mkdir_artifact). */
struct pending *pending_new_mkdir(struct fs *fs, fuse_req_t req, fuse_ino_t parent, const char *name);
void pending_park_create(struct fs *fs, struct pending *p, struct vmm_create *c);
void pending_created(void *ctx, struct vm *vm, const bgr_error *err);
void pending_settle(struct fs *fs, struct pending *p, int r, struct vmm_waiter *w);
/* The same, but Ctrl-C does not end the wait (a rename: the kernel must
 * learn whether the name moved). */
void pending_settle_uninterruptible(struct fs *fs, struct pending *p, int r, struct vmm_waiter *w);
void fs_answer_interrupts(struct fs *fs);

/* streams.c */
struct stream *stream_open(struct fs *fs, const struct node *n, struct vm *vm);
void stream_read(struct fs *fs, struct stream *st, fuse_req_t req, size_t size, off_t off, bool nonblock);
/* A console handle's size: the log's end, in the handle's offsets. */
off_t stream_size(struct fs *fs, struct stream *st);
void stream_poll(struct fs *fs, struct stream *st, fuse_req_t req, struct fuse_pollhandle *ph);
void stream_release(struct fs *fs, struct stream *st);
void streams_wake(struct fs *fs, int64_t vm_id); /* vm_id 0: events */
void streams_answer_interrupts(struct fs *fs);

/* sessions.c: vms/NAME/sessions/ (each returns false for other inodes) */
bool fs_sessions_owns(fuse_ino_t ino); /* a session's directory or file */
bool fs_sessions_lookup(struct fs *fs, fuse_req_t req, fuse_ino_t parent, const char *name);
bool fs_sessions_getattr(struct fs *fs, fuse_req_t req, fuse_ino_t ino);
bool fs_sessions_setattr(struct fs *fs, fuse_req_t req, fuse_ino_t ino, int to_set);
bool fs_sessions_readdir(struct fs *fs, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 bool (*add)(fuse_req_t req, void *b, const char *name, uint64_t ino, mode_t mode), void *b);
uint64_t fs_sessions_parent(struct fs *fs, fuse_ino_t ino);
bool fs_sessions_is_dir(struct fs *fs, fuse_ino_t ino, bool *exists);
const char *fs_sessions_path(struct fs *fs, fuse_ino_t ino, char *buf, size_t size);
bool fs_sessions_mkdir(struct fs *fs, fuse_req_t req, fuse_ino_t parent, const char *name);
/* rm -r: a session's files go with it (accepted, nothing changes) once its
 * command ended; EBUSY while it runs */
bool fs_sessions_unlink(struct fs *fs, fuse_req_t req, fuse_ino_t parent, const char *name);
bool fs_sessions_rmdir(struct fs *fs, fuse_req_t req, fuse_ino_t parent, const char *name);
bool fs_sessions_open(struct fs *fs, fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
bool fs_sessions_read(struct fs *fs, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off);
bool fs_sessions_write(struct fs *fs, fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		       struct fuse_file_info *fi);
bool fs_sessions_release(struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_sessions_changed(struct fs *fs, struct vm *vm, int64_t id, unsigned what);
void fs_sessions_answer_interrupts(struct fs *fs);

/* observer.c: what the vmm tells the front */
extern const struct vmm_observer fs_observer_template;

#endif
