/* Stream files: `console` (a VM's serial output) and `events`. A read
 * returns what is there; when nothing is, it is parked (no thread held) until
 * more arrives, and for the console answered with EOF once the VM stops.
 *
 * The console is also a file with a size, so that tools that seek (GNU
 * `tail -f`, `less +F`) work: an open handle's offset 0 is the first byte
 * it replays (up to CONSOLE_REPLAY before the end at open), a read at an
 * offset returns the log's bytes there, and the handle's size (what
 * lseek(SEEK_END) sees) runs to the log's end. `cat` reads from 0 and
 * follows, as before. */
#include "fs.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>

/* A new console reader first gets up to this much of the current boot. */
#define CONSOLE_REPLAY (256 * 1024)

struct stream {
	struct fs *fs;
	int64_t vm_id; /* 0: the events stream */
	uint64_t pos;  /* the next byte to read: the events' position, or the console log's offset */
	int64_t base;  /* console: the log offset of this handle's offset 0 */
	fuse_req_t parked;
	size_t want;
	bool interrupted;
	struct fuse_pollhandle *ph;
	struct stream *next, **pprev;
};

static int64_t max_i64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static off_t console_size(struct vm *vm)
{
	struct stat st;
	return stat(vm_console_log(vm), &st) == 0 ? st.st_size : 0;
}

struct stream *stream_open(struct fs *fs, const struct node *n, struct vm *vm)
{
	struct stream *st = xcalloc(1, sizeof(*st));

	st->fs = fs;
	st->vm_id = n->vm_id;
	if (vm) {
		off_t size = console_size(vm);
		st->pos = size > CONSOLE_REPLAY ? (uint64_t)(size - CONSOLE_REPLAY) : 0;
		st->base = (int64_t)st->pos;
	} else {
		st->pos = vmm_events_oldest(fs->vmm);
	}
	st->next = fs->streams;
	if (st->next)
		st->next->pprev = &st->next;
	st->pprev = &fs->streams;
	fs->streams = st;
	return st;
}

/* Fills buf from the stream (the console at st->pos). Returns bytes (> 0),
 * 0 for EOF, or -EAGAIN when the stream is live and has nothing new. */
static ssize_t fill(struct fs *fs, struct stream *st, char *buf, size_t size)
{
	struct vm *vm;
	_cleanup_close_ int fd = -1;
	ssize_t n;

	if (!st->vm_id) {
		n = (ssize_t)vmm_events_read(fs->vmm, &st->pos, buf, size);
		return n > 0 ? n : -EAGAIN;
	}
	vm = vmm_vm_by_id(fs->vmm, st->vm_id);
	if (!vm)
		return 0;
	fd = open(vm_console_log(vm), O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		struct stat sb;
		/* a new boot starts a new log: this handle's offset goes on from its start */
		if (fstat(fd, &sb) == 0 && (uint64_t)sb.st_size < st->pos) {
			st->base -= (int64_t)st->pos;
			st->pos = 0;
		}
		n = pread(fd, buf, size, (off_t)st->pos);
		if (n > 0) {
			st->pos += (uint64_t)n;
			return n;
		}
	}
	return vm_record(vm)->pid > 0 ? -EAGAIN : 0;
}

static void stream_interrupted(fuse_req_t req, void *data)
{
	struct stream *st = data;
	(void)req;
	/* only mark: the loop answers after the current request */
	st->interrupted = true;
	st->fs->interrupts = true;
}

/* Answers req if the stream has data or ended; a parked req loses its
 * interrupt handler first (the reply frees it). */
static bool try_answer(struct fs *fs, struct stream *st, fuse_req_t req, size_t size, bool parked)
{
	_cleanup_free_ char *buf = xcalloc(1, size ? size : 1);
	ssize_t n = fill(fs, st, buf, size);

	if (n == -EAGAIN)
		return false;
	if (parked)
		fuse_req_interrupt_func(req, NULL, NULL);
	fuse_reply_buf(req, buf, (size_t)n);
	return true;
}

void stream_read(struct fs *fs, struct stream *st, fuse_req_t req, size_t size, off_t off, bool nonblock)
{
	if (st->parked) {
		fuse_reply_err(req, EBUSY);
		return;
	}              /* one reader per open file */
	if (st->vm_id) /* the console reads where the handle's offset says */
		st->pos = (uint64_t)max_i64(0, st->base + off);
	if (try_answer(fs, st, req, size, false))
		return;
	if (nonblock) {
		fuse_reply_err(req, EAGAIN);
		return;
	}
	st->parked = req;
	st->want = size;
	fuse_req_interrupt_func(req, stream_interrupted, st);
}

static bool has_data(struct fs *fs, struct stream *st)
{
	struct vm *vm;

	if (!st->vm_id)
		return st->pos < vmm_events_end(fs->vmm);
	vm = vmm_vm_by_id(fs->vmm, st->vm_id);
	return !vm || vm_record(vm)->pid <= 0 || (uint64_t)console_size(vm) != st->pos;
}

void stream_poll(struct fs *fs, struct stream *st, fuse_req_t req, struct fuse_pollhandle *ph)
{
	if (ph) {
		if (st->ph)
			fuse_pollhandle_destroy(st->ph);
		st->ph = ph;
	}
	fuse_reply_poll(req, has_data(fs, st) ? POLLIN | POLLRDNORM | POLLOUT : POLLOUT);
}

off_t stream_size(struct fs *fs, struct stream *st)
{
	struct vm *vm = st->vm_id ? vmm_vm_by_id(fs->vmm, st->vm_id) : NULL;

	return vm ? (off_t)max_i64(0, (int64_t)console_size(vm) - st->base) : 0;
}

void stream_release(struct fs *fs, struct stream *st)
{
	(void)fs;
	if (st->parked) {
		fuse_req_interrupt_func(st->parked, NULL, NULL);
		fuse_reply_err(st->parked, EINTR);
	}
	if (st->ph)
		fuse_pollhandle_destroy(st->ph);
	*st->pprev = st->next;
	if (st->next)
		st->next->pprev = st->pprev;
	free(st);
}

void streams_wake(struct fs *fs, int64_t vm_id)
{
	for (struct stream *st = fs->streams; st; st = st->next) {
		if (st->vm_id != vm_id)
			continue;
		if (st->parked && try_answer(fs, st, st->parked, st->want, true))
			st->parked = NULL;
		if (st->ph && has_data(fs, st)) {
			fuse_lowlevel_notify_poll(st->ph);
			fuse_pollhandle_destroy(st->ph);
			st->ph = NULL;
		}
	}
}

void streams_answer_interrupts(struct fs *fs)
{
	for (struct stream *st = fs->streams; st; st = st->next) {
		if (st->interrupted && st->parked) {
			fuse_req_interrupt_func(st->parked, NULL, NULL);
			fuse_reply_err(st->parked, EINTR);
			st->parked = NULL;
		}
		st->interrupted = false;
	}
}
