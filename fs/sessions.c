/* vms/NAME/sessions/: commands run by the guest agent (vmm/sessions.h).
 * Inode numbers: SESS_INO_BIT | session id << 5 | file. Every file is read
 * with direct I/O and never cached (attr timeout 0), so no invalidation is
 * needed when output grows; stdout and stderr are growing regular files
 * like logs. A read of exit is parked until the command ends (Ctrl-C
 * answers EINTR); so is a write to stdin while the stdin window is full
 * (until the agent's sess_in_ack, or EPIPE when the command ends), and
 * while the agent's channel is full (retried on a timer). */
#include "fs.h"
#include "loop.h"
#include "log.h"
#include "util.h"
#include "validate.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define SESS_INO_BIT (1ULL << 60)
#define SESS_SHIFT 5
#define STDIN_RETRY_MS 20

enum sess_file {
	SF_DIR,
	SF_CMD,
	SF_MODE,
	SF_CWD,
	SF_WINSIZE,
	SF_STDIN,
	SF_STDOUT,
	SF_STDERR,
	SF_STATUS,
	SF_EXIT,
	SF_SIGNAL,
	SF_PID,
	SF_STARTED,
	SF_ENDED,
	SF_ERROR,
	SF_END,
};

#define RO (S_IFREG | 0444)
#define RW (S_IFREG | 0644)
#define WO (S_IFREG | 0200)

static const struct {
	const char *name;
	mode_t mode;
} files[SF_END] = {
	[SF_DIR] = { "", S_IFDIR | 0755 }, [SF_CMD] = { "cmd", RW },         [SF_MODE] = { "mode", RW },
	[SF_CWD] = { "cwd", RW },          [SF_WINSIZE] = { "winsize", RW }, [SF_STDIN] = { "stdin", WO },
	[SF_STDOUT] = { "stdout", RO },    [SF_STDERR] = { "stderr", RO },   [SF_STATUS] = { "status", RO },
	[SF_EXIT] = { "exit", RO },        [SF_SIGNAL] = { "signal", WO },   [SF_PID] = { "pid", RO },
	[SF_STARTED] = { "started", RO },  [SF_ENDED] = { "ended", RO },     [SF_ERROR] = { "error", RO },
};

/* A parked request: a read of exit, or a write to stdin waiting for room. */
struct sess_wait {
	struct fs *fs;
	fuse_req_t req;
	int64_t id;
	size_t size;
	char *data; /* a stdin write's bytes */
	bool interrupted;
	bool trying; /* in stdin_try: a change it causes must not retry it */
	struct loop_timer *timer;
	struct sess_wait *next;
};

static struct sess_wait *waits;

static uint64_t sess_ino(int64_t id, enum sess_file f)
{
	return SESS_INO_BIT | ((uint64_t)id << SESS_SHIFT) | (uint64_t)f;
}

struct sess_node {
	int64_t id;
	enum sess_file kind;
	struct vm *vm;
	struct session *s;
};

static bool is_sess_ino(uint64_t ino)
{
	return (ino & SESS_INO_BIT) && !(ino & (ART_INO_BIT | TPL_INO_BIT));
}

bool fs_sessions_owns(fuse_ino_t ino)
{
	return is_sess_ino(ino);
}

/* false: not a session's inode. Otherwise n->s is NULL when it is gone. */
static bool resolve(struct fs *fs, uint64_t ino, struct sess_node *n)
{
	if (!is_sess_ino(ino))
		return false;
	n->id = (int64_t)((ino & ~SESS_INO_BIT) >> SESS_SHIFT);
	n->kind = (enum sess_file)(ino & ((1u << SESS_SHIFT) - 1));
	n->vm = NULL;
	n->s = n->kind < SF_END ? vmm_session_by_id(fs->vmm, n->id, &n->vm) : NULL;
	return true;
}

/* vms/NAME/sessions itself: its VM, or NULL. */
static struct vm *sessions_dir_vm(struct fs *fs, uint64_t ino)
{
	struct node n;

	if (is_sess_ino(ino) || !node_resolve(ino, &n) || !n.vm_id || n.kind != VMF_SESSIONS)
		return NULL;
	return fs_node_vm(fs, &n);
}

static void put_time(char *buf, size_t size, long long ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	buf[0] = '\0';
	if (ms <= 0)
		return;
	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + strlen(buf), size - strlen(buf), ".%03lldZ\n", ms % 1000);
}

/* The content of a small file (not stdout/stderr). */
static char *text_of(const struct session *s, enum sess_file f)
{
	struct session_info i;
	char t[64];

	vmm_session_info(s, &i);
	switch (f) {
	case SF_CMD:
		return i.started ? xasprintf("%s\n", i.cmd) : xstrdup("");
	case SF_MODE:
		return xstrdup(i.tty ? "tty\n" : "pipe\n");
	case SF_CWD:
		return i.cwd[0] ? xasprintf("%s\n", i.cwd) : xstrdup(""); /* the guest's default */
	case SF_WINSIZE:
		return xasprintf("%u %u\n", i.rows, i.cols);
	case SF_STATUS:
		return xasprintf("%s\n", i.status);
	case SF_EXIT:
		return i.ended ? xasprintf("%s\n", i.status) : xstrdup("");
	case SF_PID:
		return i.pid ? xasprintf("%lld\n", i.pid) : xstrdup("");
	case SF_STARTED:
		put_time(t, sizeof(t), i.started_ms);
		return xstrdup(t);
	case SF_ENDED:
		put_time(t, sizeof(t), i.ended ? i.ended_ms : 0);
		return xstrdup(t);
	case SF_ERROR:
		return i.error[0] ? xasprintf("%s\n", i.error) : xstrdup("");
	default:
		return xstrdup("");
	}
}

static void fill_attr(struct fs *fs, const struct sess_node *n, uint64_t ino, struct stat *st)
{
	struct session_info i;
	struct timespec mt = { 0 };

	vmm_session_info(n->s, &i);
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = files[n->kind].mode;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_blksize = 4096;
	st->st_nlink = n->kind == SF_DIR ? 2 : 1;
	mt.tv_sec = (i.ended ? i.ended_ms : i.started_ms ? i.started_ms : vm_record(n->vm)->created * 1000) / 1000;
	if (n->kind == SF_STDOUT || n->kind == SF_STDERR) {
		st->st_size = vmm_session_stream_size(n->s, n->kind == SF_STDOUT ? SESS_STDOUT : SESS_STDERR, &mt);
	} else if (n->kind != SF_DIR) {
		_cleanup_free_ char *t = text_of(n->s, n->kind);
		st->st_size = (off_t)strlen(t);
	}
	st->st_mtim = st->st_ctim = st->st_atim = mt;
	st->st_blocks = (st->st_size + 511) / 512;
}

static void reply_entry(fuse_req_t req, struct fs *fs, int64_t id, enum sess_file f)
{
	struct fuse_entry_param e = { .ino = sess_ino(id, f) };
	struct sess_node n;

	if (!resolve(fs, e.ino, &n) || !n.s) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_attr(fs, &n, e.ino, &e.attr);
	fuse_reply_entry(req, &e);
}

bool fs_sessions_lookup(struct fs *fs, fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct sess_node n;
	struct vm *vm = sessions_dir_vm(fs, parent);
	struct session *s;

	if (vm) {
		s = vmm_session_by_name(vm, name);
		if (!s) {
			fuse_reply_err(req, ENOENT);
			return true;
		}
		struct session_info i;
		vmm_session_info(s, &i);
		reply_entry(req, fs, i.id, SF_DIR);
		return true;
	}
	if (!resolve(fs, parent, &n))
		return false;
	if (n.s && n.kind == SF_DIR)
		for (int k = SF_DIR + 1; k < SF_END; k++)
			if (strcmp(name, files[k].name) == 0) {
				reply_entry(req, fs, n.id, (enum sess_file)k);
				return true;
			}
	fuse_reply_err(req, ENOENT);
	return true;
}

bool fs_sessions_getattr(struct fs *fs, fuse_req_t req, fuse_ino_t ino)
{
	struct sess_node n;
	struct stat st;

	if (!resolve(fs, ino, &n))
		return false;
	if (!n.s) {
		fuse_reply_err(req, ENOENT);
		return true;
	}
	fill_attr(fs, &n, ino, &st);
	fuse_reply_attr(req, &st, 0.0);
	return true;
}

bool fs_sessions_setattr(struct fs *fs, fuse_req_t req, fuse_ino_t ino, int to_set)
{
	struct sess_node n;
	struct stat st;

	if (!resolve(fs, ino, &n))
		return false;
	if (!n.s) {
		fuse_reply_err(req, ENOENT);
		return true;
	}
	if ((to_set & ~(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
			FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME)) ||
	    ((to_set & FUSE_SET_ATTR_SIZE) && !(files[n.kind].mode & 0200))) {
		char path[512];
		fs_refuse(fs, req, EPERM, "setattr %s: only a writable file takes a truncation; modes are fixed",
			  fs_sessions_path(fs, ino, path, sizeof(path)));
		return true;
	}
	fill_attr(fs, &n, ino, &st);
	fuse_reply_attr(req, &st, 0.0);
	return true;
}

/* A listing: the sessions of a VM, or a session's files. */
bool fs_sessions_readdir(struct fs *fs, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 bool (*add)(fuse_req_t req, void *b, const char *name, uint64_t ino, mode_t mode), void *b)
{
	struct vm *vm = sessions_dir_vm(fs, ino);
	struct sess_node n;
	struct session_info i;

	(void)size;
	(void)off;
	if (vm) {
		for (size_t k = 0; k < vmm_session_count(vm); k++) {
			vmm_session_info(vmm_session_at(vm, k), &i);
			if (!add(req, b, i.name, sess_ino(i.id, SF_DIR), S_IFDIR))
				break;
		}
		return true;
	}
	if (!resolve(fs, ino, &n))
		return false;
	for (int k = SF_DIR + 1; n.s && k < SF_END; k++)
		if (!add(req, b, files[k].name, sess_ino(n.id, (enum sess_file)k), files[k].mode))
			break;
	return true;
}

/* The parent of a session's directory, for "..". */
uint64_t fs_sessions_parent(struct fs *fs, fuse_ino_t ino)
{
	struct sess_node n;

	if (!resolve(fs, ino, &n) || !n.s)
		return INO_VMS;
	return n.kind == SF_DIR ? vm_ino(vm_record(n.vm)->id, VMF_SESSIONS) : sess_ino(n.id, SF_DIR);
}

bool fs_sessions_is_dir(struct fs *fs, fuse_ino_t ino, bool *exists)
{
	struct sess_node n;

	if (!resolve(fs, ino, &n))
		return false;
	*exists = n.s != NULL;
	return true;
}

const char *fs_sessions_path(struct fs *fs, fuse_ino_t ino, char *buf, size_t size)
{
	struct sess_node n;
	struct session_info i;

	if (!resolve(fs, ino, &n))
		return NULL;
	if (!n.s) {
		snprintf(buf, size, "(a removed session)");
		return buf;
	}
	vmm_session_info(n.s, &i);
	snprintf(buf, size, "vms/%s/sessions/%s%s%s", vm_record(n.vm)->name, i.name, n.kind == SF_DIR ? "" : "/",
		 files[n.kind].name);
	return buf;
}

bool fs_sessions_mkdir(struct fs *fs, fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct vm *vm = sessions_dir_vm(fs, parent);
	struct session *s;
	struct session_info i;
	bgr_error err;

	if (!vm)
		return false;
	if (vmm_session_create(fs->vmm, vm, name, &s, &err) < 0) {
		char dir[160];
		snprintf(dir, sizeof(dir), "vms/%s", vm_record(vm)->name);
		fs_log_failure("mkdir", dir, name, &err);
		fuse_reply_err(req, err.code);
		return true;
	}
	vmm_session_info(s, &i);
	reply_entry(req, fs, i.id, SF_DIR);
	return true;
}

bool fs_sessions_rmdir(struct fs *fs, fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct vm *vm = sessions_dir_vm(fs, parent);
	struct session *s;
	bgr_error err;

	if (!vm)
		return false;
	if (!(s = vmm_session_by_name(vm, name))) {
		fuse_reply_err(req, ENOENT);
		return true;
	}
	if (vmm_session_remove(fs->vmm, vm, s, &err) < 0) {
		vmm_session_fail(fs->vmm, vm, s, &err);
		fuse_reply_err(req, err.code);
		return true;
	}
	fuse_reply_err(req, 0);
	return true;
}

bool fs_sessions_unlink(struct fs *fs, fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct sess_node n;
	struct session_info i;
	char path[512];

	if (!resolve(fs, parent, &n))
		return false;
	if (!n.s) {
		fuse_reply_err(req, ENOENT);
		return true;
	}
	vmm_session_info(n.s, &i);
	if (n.kind == SF_DIR && (i.ended || !i.started)) {
		fuse_reply_err(req, 0);
		return true;
	}
	fs_refuse(fs, req, n.kind == SF_DIR ? EBUSY : ENOTDIR, "unlink %s/%.80s: %s",
		  fs_sessions_path(fs, parent, path, sizeof(path)), name,
		  n.kind == SF_DIR ? "its command is running; write KILL to its signal first" : "not a directory");
	return true;
}

bool fs_sessions_open(struct fs *fs, fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sess_node n;
	bool writing = (fi->flags & O_ACCMODE) != O_RDONLY;
	bool reading = (fi->flags & O_ACCMODE) != O_WRONLY;
	char path[512];

	if (!resolve(fs, ino, &n))
		return false;
	if (!n.s) {
		fuse_reply_err(req, ENOENT);
		return true;
	}
	if (n.kind == SF_DIR) {
		fuse_reply_err(req, EISDIR);
		return true;
	}
	if ((writing && !(files[n.kind].mode & 0200)) || (reading && !(files[n.kind].mode & 0400))) {
		fs_refuse(fs, req, EACCES, "open %s: it is %s", fs_sessions_path(fs, ino, path, sizeof(path)),
			  writing ? "read-only" : "write-only");
		return true;
	}
	fi->direct_io = 1;
	fi->noflush = 1;
	fi->fh = n.kind == SF_STDIN ? 1 : 0; /* its release sends EOF */
	fuse_reply_open(req, fi);
	return true;
}

static void wait_interrupted(fuse_req_t req, void *data)
{
	struct sess_wait *w = data;

	(void)req;
	w->interrupted = true;
	w->fs->interrupts = true;
}

static void wait_free(struct sess_wait *w)
{
	for (struct sess_wait **pp = &waits; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	if (w->timer)
		loop_timer_cancel(w->fs->loop, w->timer);
	free(w->data);
	free(w);
}

static struct sess_wait *wait_park(struct fs *fs, fuse_req_t req, int64_t id, size_t size)
{
	struct sess_wait *w = xcalloc(1, sizeof(*w));

	w->fs = fs;
	w->req = req;
	w->id = id;
	w->size = size;
	w->next = waits;
	waits = w;
	fuse_req_interrupt_func(req, wait_interrupted, w);
	return w;
}

bool fs_sessions_read(struct fs *fs, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off)
{
	struct sess_node n;
	_cleanup_free_ char *buf = NULL;
	struct session_info i;
	size_t len;

	if (!resolve(fs, ino, &n))
		return false;
	if (!n.s) {
		fuse_reply_err(req, ENOENT);
		return true;
	}
	if (n.kind == SF_STDOUT || n.kind == SF_STDERR) {
		buf = xcalloc(1, size ? size : 1);
		ssize_t r =
			vmm_session_stream_read(n.s, n.kind == SF_STDOUT ? SESS_STDOUT : SESS_STDERR, buf, size, off);
		fuse_reply_buf(req, buf, r > 0 ? (size_t)r : 0);
		return true;
	}
	vmm_session_info(n.s, &i);
	if (n.kind == SF_EXIT && !i.ended && off == 0) {
		wait_park(fs, req, n.id, size);
		return true;
	}
	buf = text_of(n.s, n.kind);
	len = strlen(buf);
	if ((size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, buf + off, len - (size_t)off < size ? len - (size_t)off : size);
	return true;
}

static void stdin_retry(void *data);

/* Sends what fits. When nothing does, parks the write: on a timer while the
 * agent's channel is full, until the next sess_in_ack while the stdin
 * window is. Returns true while w stays parked. */
static bool stdin_try(struct fs *fs, fuse_req_t req, struct sess_wait *w, const char *buf, size_t size, bool nonblock)
{
	struct vm *vm = NULL;
	struct session *s = vmm_session_by_id(fs->vmm, w ? w->id : 0, &vm);
	struct session_info i;
	bgr_error err;
	ssize_t r;

	if (!s) {
		if (w->req)
			fuse_req_interrupt_func(req, NULL, NULL);
		fuse_reply_err(req, w->req ? EPIPE : ENOENT);
		goto done;
	}
	vmm_session_info(s, &i);
	w->trying = true;
	if (w->req && i.ended)
		r = vmm_session_input_abandoned(fs->vmm, vm, s, &err);
	else
		r = vmm_session_input(fs->vmm, vm, s, buf, size, &err);
	w->trying = false;
	if ((r == -EAGAIN || r == -EINPROGRESS) && !nonblock) {
		if (!w->req) {
			w = wait_park(fs, req, w->id, size);
			w->data = xcalloc(1, size);
			memcpy(w->data, buf, size);
		}
		if (r == -EAGAIN)
			w->timer = loop_timer_add(fs->loop, STDIN_RETRY_MS, stdin_retry, w);
		return true;
	}
	if (w->req)
		fuse_req_interrupt_func(req, NULL, NULL);
	if (r < 0)
		fuse_reply_err(req, r == -EINPROGRESS ? EAGAIN : (int)-r);
	else
		fuse_reply_write(req, (size_t)r);
done:
	if (w && w->req)
		wait_free(w);
	return false;
}

static void stdin_retry(void *data)
{
	struct sess_wait *w = data;

	w->timer = NULL;
	stdin_try(w->fs, w->req, w, w->data, w->size, false);
}

/* Writes: cmd takes the command line as written (at most one trailing
 * newline dropped); the others a trimmed value. */
bool fs_sessions_write(struct fs *fs, fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		       struct fuse_file_info *fi)
{
	struct sess_node n;
	char value[256];
	bgr_error err;
	int r;

	if (!resolve(fs, ino, &n))
		return false;
	if (!n.s) {
		fuse_reply_err(req, ENOENT);
		return true;
	}
	if (n.kind == SF_STDIN) {
		struct sess_wait probe = { .id = n.id };
		stdin_try(fs, req, &probe, buf, size, fi->flags & O_NONBLOCK);
		return true;
	}
	if (n.kind == SF_CMD) {
		r = vmm_session_start(fs->vmm, n.vm, n.s, buf, size, &err);
	} else if (value_trim(buf, size, value, sizeof(value), &err) < 0) {
		vmm_session_fail(fs->vmm, n.vm, n.s, &err);
		r = -err.code;
	} else if (n.kind == SF_MODE) {
		r = vmm_session_set_mode(fs->vmm, n.vm, n.s, value, &err);
	} else if (n.kind == SF_CWD) {
		r = vmm_session_set_cwd(fs->vmm, n.vm, n.s, value, &err);
	} else if (n.kind == SF_WINSIZE) {
		r = vmm_session_set_winsize(fs->vmm, n.vm, n.s, value, &err);
	} else if (n.kind == SF_SIGNAL) {
		r = vmm_session_signal(fs->vmm, n.vm, n.s, value, &err);
	} else {
		char path[512];
		fs_refuse(fs, req, EACCES, "write %s: it is read-only", fs_sessions_path(fs, ino, path, sizeof(path)));
		return true;
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_write(req, size);
	return true;
}

bool fs_sessions_release(struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sess_node n;
	bgr_error err;

	if (!resolve(fs, ino, &n))
		return false;
	if (n.s && n.kind == SF_STDIN && fi->fh == 1 && (fi->flags & O_ACCMODE) != O_RDONLY)
		vmm_session_eof(fs->vmm, n.vm, n.s, &err);
	return true;
}

/* A session changed: parked exit reads of ended (or removed) sessions are
 * answered, parked stdin writes retried; a listing's cache goes. */
static void answer_waits(struct fs *fs, int64_t id)
{
	struct session_info i;

	for (struct sess_wait **pp = &waits; *pp;) {
		struct sess_wait *w = *pp;
		struct session *s = vmm_session_by_id(fs->vmm, w->id, NULL);
		if (w->trying) {
			pp = &w->next;
			continue;
		}
		if (w->data && !w->timer && (!id || w->id == id || !s)) {
			/* a write waiting for the stdin window: an ack, or the end */
			if (stdin_try(fs, w->req, w, w->data, w->size, false))
				pp = &w->next;
			continue;
		}
		if (w->data || (id && w->id != id && s)) {
			pp = &w->next;
			continue;
		}
		if (s) {
			vmm_session_info(s, &i);
			if (!i.ended) {
				pp = &w->next;
				continue;
			}
		}
		fuse_req_interrupt_func(w->req, NULL, NULL);
		if (s) {
			_cleanup_free_ char *t = text_of(s, SF_EXIT);
			fuse_reply_buf(w->req, t, strlen(t) < w->size ? strlen(t) : w->size);
		} else {
			fuse_reply_err(w->req, ENOENT);
		}
		wait_free(w);
	}
}

/* Answering a wait can change the session again (a refusal writes its
 * error): such nested changes only ask for another pass. */
void fs_sessions_changed(struct fs *fs, struct vm *vm, int64_t id, unsigned what)
{
	static bool answering, again;

	if (what & VMM_SESS_LISTING)
		notify_inval_inode(fs->notifier, vm_ino(vm_record(vm)->id, VMF_SESSIONS));
	if (answering) {
		again = true;
		return;
	}
	answering = true;
	answer_waits(fs, id);
	while (again) {
		again = false;
		answer_waits(fs, 0);
	}
	answering = false;
}

void fs_sessions_answer_interrupts(struct fs *fs)
{
	(void)fs;
	for (struct sess_wait **pp = &waits; *pp;) {
		struct sess_wait *w = *pp;
		if (!w->interrupted) {
			pp = &w->next;
			continue;
		}
		fuse_req_interrupt_func(w->req, NULL, NULL);
		fuse_reply_err(w->req, EINTR);
		wait_free(w);
	}
}
