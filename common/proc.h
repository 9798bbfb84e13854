/* Processes: spawning detached hypervisors and recognising them later. */
#ifndef BANGER_PROC_H
#define BANGER_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The start time of pid (clock ticks since boot), or 0 when it is gone. */
uint64_t proc_start_time(pid_t pid);
/* True when pid runs and started at start_time (so it is not a reused pid). */
bool proc_is(pid_t pid, uint64_t start_time);
int proc_pidfd_open(pid_t pid);
int proc_pidfd_kill(int pidfd, int sig);
/* Spawns argv in a new session with stdin on /dev/null and stdout/stderr
 * appended to out_fd; only fds 0-2 are inherited. Returns the pid or -errno. */
pid_t proc_spawn(char *const argv[], int out_fd);
/* Like proc_spawn with each of stdin, stdout and stderr given. */
pid_t proc_spawn_stdio(char *const argv[], int in_fd, int out_fd, int err_fd);
/* The child's standard streams: an fd each, -1 for /dev/null (err_fd -1:
 * the same as out_fd); cwd: its working directory (NULL: ours). */
struct proc_stdio {
	int in_fd, out_fd, err_fd;
	const char *cwd;
};
/* Spawns a process that stays before its exec until the caller has recorded
 * it: the child waits at a gate (a pipe; *gate is its write end, close on
 * exec) and execs argv only once proc_gate_open(*gate) is called. When the
 * caller closes the gate instead, or dies first (SIGKILL between the spawn
 * and the record), the child exits with 127 and argv never runs, so no
 * process exists that the caller's record does not know of. The pid is
 * known, and its start time readable, at once. It runs in a session of its
 * own, with only fds 0-2 and pass_fd (as fd 3, when >= 0). Returns the pid
 * or -errno. */
pid_t proc_spawn_gated(char *const argv[], const struct proc_stdio *io, int pass_fd, int *gate);
#define PROC_GATE_GO 'x'
/* Lets a gated child exec; closes the gate. 0, or -EPIPE when the child is
 * already gone. */
int proc_gate_open(int gate);
/* Runs argv to completion (stdout/stderr to out_fd, or /dev/null when -1).
 * Returns its exit status, or -errno when it could not run. */
int proc_run(char *const argv[], int out_fd);
/* proc_run with stdout and stderr on /dev/null, for workers: cancel, when
 * given, is polled every 100 ms and kills the child and its process group
 * (SIGKILL; it runs in a session of its own) when it returns true.
 * Returns the exit status (128 + signal), or -errno. */
int proc_run_cancel(char *const argv[], bool (*cancel)(void *), void *ctx);
/* Runs argv to completion with its stdout collected into *out (stderr is
 * ours: a helper's complaints land in bangerd's log)
 * (caller frees). cancel, when given, is polled every 100 ms and kills the
 * child when it returns true. Returns the exit status or -errno. */
int proc_capture(char *const argv[], char **out, bool (*cancel)(void *), void *ctx);

/* The first line argv prints on stdout (a --version), or a copy of
 * fallback when it prints nothing or cannot run. Caller frees. */
char *proc_first_line(char *const argv[], const char *fallback);

#endif
