/* Cache invalidations and the replies that must follow them, sent in order
 * from a thread of their own. The kernel may hold a page lock while it waits
 * for us to answer a read of the same inode; an invalidation sent from the
 * loop thread could then wait for a reply that thread would never read. */
#ifndef BANGER_NOTIFY_H
#define BANGER_NOTIFY_H

#include <fuse_lowlevel.h>
#include <stdint.h>

struct notifier;

int notifier_start(struct fuse_session *se, struct notifier **ret);
/* Sends everything queued, then stops the thread. */
void notifier_stop(struct notifier *n);

/* Queues an invalidation; returns its sequence number (0 if not mounted). */
uint64_t notify_inval_inode(struct notifier *n, fuse_ino_t ino);
/* The sequence number of the last queued item the kernel has been sent. */
uint64_t notify_done_seq(struct notifier *n);
/* Replies queued behind the invalidations before them. */
void notify_reply_err(struct notifier *n, fuse_req_t req, int err);
void notify_reply_write(struct notifier *n, fuse_req_t req, size_t size);

#endif
