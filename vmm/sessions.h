/* Sessions: commands run in a running guest by its agent (vms/NAME/sessions/S
 * in the tree, docs/filesystem.md). The public side, for fronts; the rooms'
 * side is vmm/sessions/session.h. All on the loop thread. */
#ifndef BANGER_SESSIONS_H
#define BANGER_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct vmm;
struct vm;
struct session;

#define SESSION_NAME_MAX 64
#define SESSION_CMD_MAX 1536 /* bytes: its hex must fit in one agent line */
#define SESSION_CWD_MAX 256

enum session_stream { SESS_STDOUT = 1, SESS_STDERR = 2 };

struct session_info {
	int64_t id; /* unique in this daemon's run (inode numbers) */
	const char *name, *cmd, *cwd, *error;
	bool tty;
	unsigned rows, cols;
	bool started; /* cmd was written */
	bool ended;   /* exited, killed, failed or lost: the exit file answers */
	char status[160];
	long long pid, started_ms, ended_ms; /* 0: not (yet) */
};

size_t vmm_session_count(struct vm *vm);
struct session *vmm_session_at(struct vm *vm, size_t i);
struct session *vmm_session_by_name(struct vm *vm, const char *name);
/* Any VM's session by id; *vm set to its VM. */
struct session *vmm_session_by_id(struct vmm *m, int64_t id, struct vm **vm);
void vmm_session_info(const struct session *s, struct session_info *ret);

/* mkdir: a new session, nothing run yet. EINVAL a bad name, EEXIST, EMFILE. */
int vmm_session_create(struct vmm *m, struct vm *vm, const char *name, struct session **ret, bgr_error *err);
/* rmdir: EBUSY while its command runs (or starts). */
int vmm_session_remove(struct vmm *m, struct vm *vm, struct session *s, bgr_error *err);
/* Before cmd: mode ("pipe" or "tty"), winsize ("ROWS COLS", also later for
 * a running tty session), cwd (an absolute guest path). */
int vmm_session_set_mode(struct vmm *m, struct vm *vm, struct session *s, const char *value, bgr_error *err);
int vmm_session_set_winsize(struct vmm *m, struct vm *vm, struct session *s, const char *value, bgr_error *err);
int vmm_session_set_cwd(struct vmm *m, struct vm *vm, struct session *s, const char *value, bgr_error *err);
/* Writing cmd: starts it in the guest (the answer comes later; status says). */
int vmm_session_start(struct vmm *m, struct vm *vm, struct session *s, const char *cmd, size_t len, bgr_error *err);
/* stdin bytes; eof closes it. Returns how many it took (a short write), or
 * -errno: -EAGAIN when the agent's channel is full (try again soon),
 * -EINPROGRESS when the guest has not taken what was sent (the stdin
 * window, SESSION_STDIN_WINDOW bytes, is full: wait for VMM_SESS_INPUT). */
ssize_t vmm_session_input(struct vmm *m, struct vm *vm, struct session *s, const char *buf, size_t len, bgr_error *err);
/* A write to stdin that waited for room and will not get it (the command
 * ended, the VM stopped): -EPIPE, the reason in the session's error. */
int vmm_session_input_abandoned(struct vmm *m, struct vm *vm, struct session *s, bgr_error *err);
int vmm_session_eof(struct vmm *m, struct vm *vm, struct session *s, bgr_error *err);
int vmm_session_signal(struct vmm *m, struct vm *vm, struct session *s, const char *name, bgr_error *err);
/* A refused write, recorded in the session's error file and the VM's log. */
void vmm_session_fail(struct vmm *m, struct vm *vm, struct session *s, const bgr_error *err);

/* stdout/stderr as the tree shows them: size, mtime and bytes at an offset. */
off_t vmm_session_stream_size(const struct session *s, enum session_stream which, struct timespec *mtime);
ssize_t vmm_session_stream_read(const struct session *s, enum session_stream which, char *buf, size_t size, off_t off);

#endif
