/* vmm/sessions: the records of sessions, their files under the VM's
 * directory (session_files.c) and the agent's session messages
 * (sessions.c). Reached from below only through struct vm_hooks. */
#ifndef BANGER_SESSION_H
#define BANGER_SESSION_H

#include "sessions.h"
#include "vm.h"

#define SESSIONS_PER_VM 64 /* the agent keeps as many */

enum sess_state { SESS_NEW, SESS_STARTING, SESS_RUNNING, SESS_EXITED, SESS_KILLED, SESS_FAILED, SESS_LOST };

/* One output stream on the host: the file holds the guest's bytes in order,
 * with a note line where the agent had dropped some (gap_bytes counts those
 * notes); once it grows past STREAM_MAX its oldest part is punched out
 * (dropped bytes of the file) and the tree shows a note line instead. */
struct sess_stream {
	uint64_t held;      /* the guest's offset: bytes received */
	uint64_t gap_bytes; /* bytes of gap notes in the file */
	uint64_t lost;      /* bytes the agent dropped before we got them (in held, not in the file) */
	uint64_t dropped;   /* bytes at the file's start no longer kept */
};

struct session {
	struct session *next;
	int64_t id;
	char name[SESSION_NAME_MAX + 1];
	char *dir; /* state/vms/ID/sessions/NAME */
	char *cmd; /* NULL before cmd */
	char cwd[SESSION_CWD_MAX + 1];
	char error[BGR_ERROR_MAX];
	char why[96]; /* failed or lost: the reason */
	char sig[16]; /* killed: the signal's name */
	int code;     /* exited: the status */
	enum sess_state state;
	bool tty, stdin_closed;
	/* stdin flow control (agent protocol 5): bytes sent in sess_in lines and
	 * written to the command as its last sess_in_ack said; in_known is false
	 * from a hello until the ack that follows the sess_sync. */
	uint64_t in_sent, in_acked;
	bool in_known;
	unsigned rows, cols;
	long long pid, started_ms, ended_ms;
	struct sess_stream out[2]; /* stdout, stderr */
};

/* session_files.c */
/* Writes the session's meta file (atomically); logs a failure. */
void sess_save(struct vmm *m, struct vm *vm, struct session *s);
/* Loads the sessions in vm's directory. */
void sess_load_vm(struct vmm *m, struct vm *vm);
/* Appends guest bytes (or a note) to a stream's file, bounding it. */
int sess_append(struct vmm *m, struct vm *vm, struct session *s, int fd, const char *data, size_t len);
/* The stream file of fd (1 or 2). */
char *sess_stream_path(const struct session *s, int fd);
int sess_remove_files(struct session *s);
bool sess_name_valid(const char *name);
bool sess_hex_decode(const char *hex, size_t hexlen, char *out);
void sess_hex_encode(const char *data, size_t len, char *out);

/* sessions.c: the hooks' targets (manager.c wires them) */
void sessions_agent_line(struct vmm *m, struct vm *vm, const char *line);
void sessions_channels_closed(struct vmm *m, struct vm *vm);
void sessions_load_all(struct vmm *m);
void sessions_free(struct vm *vm);
void sess_changed(struct vmm *m, struct vm *vm, struct session *s, unsigned what);

#endif
