/* vms/NAME/ports: a write holds one rule or several lines of them; the
 * vmm checks them all before it changes anything. */
#include "fs.h"

void fs_write_ports(struct fs *fs, fuse_req_t req, struct vm *vm, const char *buf, size_t size)
{
	bgr_error err;

	/* the vmm recorded the failure (or cleared an old one): answer after
	 * the error file's invalidation */
	if (vmm_vm_ports_write(fs->vmm, vm, buf, size, &err) < 0) {
		notify_reply_err(fs->notifier, req, err.code);
		return;
	}
	notify_reply_write(fs->notifier, req, size);
}
