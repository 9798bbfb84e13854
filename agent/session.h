/* The agent's sessions: commands it runs for the host, their output kept in
 * bounded streams across host reconnections, their ends reaped here.
 * Everything runs on the agent's single thread; sessions_wait() is the one
 * place that waits, so sessions are served whatever else the agent waits for. */
#ifndef BANGER_AGENT_SESSION_H
#define BANGER_AGENT_SESSION_H

#include "protocol.h"
#include "stream.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct session {
	char id[BANGER_AGENT_SESS_ID_MAX + 1];
	pid_t pid;
	int tty;
	int in_fd;          /* stdin pipe or a dup of the pty master; -1 once closed */
	int out_fd, err_fd; /* -1 at EOF (a tty session has no err_fd) */
	uint8_t *in_buf;    /* stdin bytes the command has not taken yet */
	size_t in_len;
	int in_eof;          /* close stdin once in_buf is written */
	uint64_t in_written; /* stdin bytes written to the command since the start */
	uint64_t in_acked;   /* in_written as last told the host (sess_in_ack) */
	int in_ack_due;      /* tell the host even when nothing changed (after sess_sync) */
	int in_closed_acked; /* the host was told that stdin is closed */
	int reaped;          /* the process was waited for; wait_status holds how it ended */
	int wait_status;
	long long drain_deadline; /* monotonic ms: stop reading output after the reap */
	int ended;                /* reaped and output read: sess_exit can go */
	uint64_t started_ms, ended_ms;
	struct stream out, err;
	int synced; /* the host is in sync on this connection: push output */
	int exit_sent;
};

struct session_spec {
	const char *id;
	const char *cmd;
	const char *cwd;
	char **env; /* NAME=VALUE strings, NULL-terminated */
	int tty;
	unsigned short rows, cols;
};

/* Installs the SIGCHLD handler. Returns 0, or -1 (errno). */
int sessions_init(void);

/* The session named id, or NULL. */
struct session *session_find(const char *id);

/* The session in slot i (0 <= i < BANGER_AGENT_SESS_MAX), or NULL. */
struct session *session_at(int i);

/* Starts a session. Returns it, or NULL with a protocol reason in reason
 * (too_many, spawn:<errno>, chdir:<errno>). */
struct session *session_start(const struct session_spec *spec, char *reason, size_t size);

/* Queues n bytes for the command's stdin. Returns 0, or -1 with a reason
 * (finished, stdin_closed, full). */
int session_input(struct session *s, const void *data, size_t n, const char **reason);

/* Closes stdin once queued input is written (tty: queues VEOF). */
int session_input_eof(struct session *s, const char **reason);

/* Sends sig to the session's process group. Returns 0, or -1 with errno. */
int session_kill(struct session *s, int sig);

/* Sets a tty session's window size. Returns 0, or -1 with errno. */
int session_winsize(struct session *s, unsigned short rows, unsigned short cols);

/* Drops an ended session and frees it. */
void session_forget(struct session *s);

/* A new hello: no session is in sync until the host's sess_sync. */
void sessions_unsync_all(void);

/* Waits up to timeout_ms (-1: no bound) for events on fd (fd < 0: none)
 * while serving the sessions (output, stdin, reaping). Returns fd's
 * revents, 0 when nothing happened on fd, or -1 when poll() fails. */
int sessions_wait(int fd, short events, int timeout_ms);

/* Serves the sessions for ms milliseconds. */
void sessions_idle(long ms);

#endif
