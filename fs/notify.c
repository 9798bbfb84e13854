#include "notify.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

enum item_kind { ITEM_INVAL, ITEM_ERR, ITEM_WRITE };

struct item {
	enum item_kind kind;
	fuse_ino_t ino;
	fuse_req_t req;
	size_t size;
	int err;
	uint64_t seq;
	struct item *next;
};

struct notifier {
	struct fuse_session *se;
	pthread_t thread;
	pthread_mutex_t lock; /* guards head, tail, stopping */
	pthread_cond_t cond;
	struct item *head, *tail;
	bool stopping;
	uint64_t queued_seq;       /* loop thread only */
	_Atomic uint64_t done_seq; /* written by the notifier thread */
};

static void run_item(struct notifier *n, struct item *it)
{
	switch (it->kind) {
	case ITEM_INVAL:
		/* ENOENT: the kernel never looked this inode up; nothing cached. */
		fuse_lowlevel_notify_inval_inode(n->se, it->ino, 0, 0);
		break;
	case ITEM_ERR:
		fuse_reply_err(it->req, it->err);
		break;
	case ITEM_WRITE:
		fuse_reply_write(it->req, it->size);
		break;
	}
}

static void *notifier_main(void *data)
{
	struct notifier *n = data;

	pthread_mutex_lock(&n->lock);
	for (;;) {
		while (!n->head && !n->stopping)
			pthread_cond_wait(&n->cond, &n->lock);
		if (!n->head)
			break;
		struct item *it = n->head;
		n->head = it->next;
		if (!n->head)
			n->tail = NULL;
		pthread_mutex_unlock(&n->lock);
		run_item(n, it);
		atomic_store(&n->done_seq, it->seq);
		free(it);
		pthread_mutex_lock(&n->lock);
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

int notifier_start(struct fuse_session *se, struct notifier **ret)
{
	struct notifier *n = xcalloc(1, sizeof(*n));
	int r;

	n->se = se;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	r = pthread_create(&n->thread, NULL, notifier_main, n);
	if (r) {
		free(n);
		return -r;
	}
	*ret = n;
	return 0;
}

void notifier_stop(struct notifier *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	n->stopping = true;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
	pthread_join(n->thread, NULL);
	pthread_mutex_destroy(&n->lock);
	pthread_cond_destroy(&n->cond);
	free(n);
}

static uint64_t push(struct notifier *n, struct item it)
{
	struct item *p = xcalloc(1, sizeof(*p));

	uint64_t seq = ++n->queued_seq;

	*p = it;
	p->seq = seq;
	pthread_mutex_lock(&n->lock);
	if (n->tail)
		n->tail->next = p;
	else
		n->head = p;
	n->tail = p;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
	return seq; /* p may be sent and freed already */
}

uint64_t notify_done_seq(struct notifier *n)
{
	return n ? atomic_load(&n->done_seq) : UINT64_MAX;
}

uint64_t notify_inval_inode(struct notifier *n, fuse_ino_t ino)
{
	if (!n)
		return 0; /* not mounted yet: the kernel has nothing cached */
	return push(n, (struct item){ .kind = ITEM_INVAL, .ino = ino });
}

void notify_reply_err(struct notifier *n, fuse_req_t req, int err)
{
	push(n, (struct item){ .kind = ITEM_ERR, .req = req, .err = err });
}

void notify_reply_write(struct notifier *n, fuse_req_t req, size_t size)
{
	push(n, (struct item){ .kind = ITEM_WRITE, .req = req, .size = size });
}
