#include "snapshots.h"
#include "fs.h"
#include "util.h"

#include <string.h>

#define SNAP_BUCKETS 4096

struct snapshot {
	uint64_t ino;
	char *data;
	size_t len;
	bool published;
	uint64_t inval_seq; /* the last invalidation queued for ino */
	uint64_t first_seq; /* the first one queued since it was published, 0: none */
	struct snapshot *next;
};

static struct snapshot **bucket(struct fs *fs, uint64_t ino)
{
	if (!fs->snapshots)
		fs->snapshots = xcalloc(SNAP_BUCKETS, sizeof(*fs->snapshots));
	return &fs->snapshots[(ino * 0x9e3779b97f4a7c15ULL) >> 52 & (SNAP_BUCKETS - 1)];
}

static struct snapshot *find(struct fs *fs, uint64_t ino, bool create)
{
	struct snapshot **b = bucket(fs, ino), *s;

	for (s = *b; s; s = s->next)
		if (s->ino == ino)
			return s;
	if (!create)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->ino = ino;
	s->next = *b;
	*b = s;
	return s;
}

const char *snapshot_get(struct fs *fs, const struct node *n, struct vm *vm, size_t *ret_len)
{
	struct snapshot *s = find(fs, n->ino, true);

	/* Once an invalidation queued after the publication has reached the
	 * kernel, nothing it caches comes from that publication: a newer
	 * value may go out even while later invalidations are on their way
	 * (otherwise a second change right after a first would keep the
	 * value from before both until the second is sent). */
	uint64_t done = notify_done_seq(fs->notifier);
	if (!s->published || done >= s->inval_seq || (s->first_seq && done >= s->first_seq)) {
		free(s->data);
		s->data = render_node(&fs->render, n, vm, &s->len);
		s->published = true;
		s->first_seq = 0;
	}
	*ret_len = s->len;
	return s->data;
}

void snapshot_invalidating(struct fs *fs, uint64_t ino, uint64_t seq)
{
	struct snapshot *s = find(fs, ino, false);

	/* no snapshot: the kernel never saw this file, nothing to protect */
	if (s) {
		s->inval_seq = seq;
		if (!s->first_seq)
			s->first_seq = seq;
	}
}

static void free_chain_if(struct snapshot **b, int64_t vm_id, bool all)
{
	while (*b) {
		struct snapshot *s = *b;
		if (all || (int64_t)(s->ino >> VM_INO_SHIFT) == vm_id) {
			*b = s->next;
			free(s->data);
			free(s);
		} else {
			b = &s->next;
		}
	}
}

void snapshots_drop_vm(struct fs *fs, int64_t vm_id)
{
	if (!fs->snapshots)
		return;
	for (int k = VMF_DIR + 1; k < VMF_END; k++)
		free_chain_if(bucket(fs, vm_ino(vm_id, (enum vm_file)k)), vm_id, false);
}

void snapshots_free(struct fs *fs)
{
	if (!fs->snapshots)
		return;
	for (size_t i = 0; i < SNAP_BUCKETS; i++)
		free_chain_if(&fs->snapshots[i], 0, true);
	free(fs->snapshots);
	fs->snapshots = NULL;
}
