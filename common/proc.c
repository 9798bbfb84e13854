#include "proc.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <poll.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static pid_t spawn_io(char *const argv[], int in_fd, int out_fd, int err_fd, bool new_session, int pass_fd,
		      const char *cwd, int gate_fd);

static pid_t spawn(char *const argv[], int out_fd, int err_fd, bool new_session, int pass_fd)
{
	return spawn_io(argv, -1, out_fd, err_fd, new_session, pass_fd, NULL, -1);
}

uint64_t proc_start_time(pid_t pid)
{
	char path[64], buf[1024];
	_cleanup_close_ int fd = -1;
	ssize_t n;
	char *p;
	unsigned long long start = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields restart after the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* after ") " come fields 3.. ; start time is field 22 */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &start) !=
	    1)
		return 0;
	if (p[2] == 'Z')
		return 0; /* a zombie is gone for our purposes */
	return start;
}

bool proc_is(pid_t pid, uint64_t start_time)
{
	return pid > 0 && start_time && proc_start_time(pid) == start_time;
}

int proc_pidfd_open(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	return fd < 0 ? -errno : fd;
}

int proc_pidfd_kill(int pidfd, int sig)
{
	return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

/* In the child, before the exec: waits for the byte proc_gate_open writes.
 * The gate is the only fd above the passed ones by then, so no other child
 * holds the pipe's write end: EOF means the parent died (or gave up) before
 * it recorded this process, and the program must not run. */
static void wait_at_gate(int gate_fd)
{
	char c = 0;
	ssize_t n;

	while ((n = read(gate_fd, &c, 1)) < 0 && errno == EINTR)
		;
	if (n != 1 || c != PROC_GATE_GO)
		_exit(127);
	close(gate_fd);
}

/* err_fd: where stderr goes; -1 for out_fd, -2 to keep ours. */
/* cwd: the child's working directory, NULL for ours. */
static pid_t spawn_io(char *const argv[], int in_fd, int out_fd, int err_fd, bool new_session, int pass_fd,
		      const char *cwd, int gate_fd)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		sigset_t all;

		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		if (gate_fd >= 0) /* out of the way of the dup2s below */
			gate_fd = fcntl(gate_fd, F_DUPFD, 10);
		if (new_session)
			setsid();
		if (out_fd < 0)
			out_fd = null;
		dup2(in_fd >= 0 ? in_fd : null, 0);
		dup2(out_fd, 1);
		if (err_fd != -2)
			dup2(err_fd >= 0 ? err_fd : out_fd, 2);
		if (pass_fd >= 0) {
			if (pass_fd == 3)
				fcntl(3, F_SETFD, 0);
			else
				dup2(pass_fd, 3); /* dup2 clears FD_CLOEXEC on the copy */
		}
		if (gate_fd >= 0) {
			int first_free = pass_fd >= 0 ? 4 : 3;
			gate_fd = dup2(gate_fd, first_free);
			syscall(SYS_close_range, first_free + 1, ~0U, 0);
			wait_at_gate(gate_fd);
		}
		if (cwd && chdir(cwd) < 0) {
			dprintf(2, "cannot enter %s: %s\n", cwd, strerror(errno));
			_exit(127);
		}
		syscall(SYS_close_range, pass_fd >= 0 ? 4 : 3, ~0U, 0);
		execvp(argv[0], argv);
		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

pid_t proc_spawn(char *const argv[], int out_fd)
{
	return spawn(argv, out_fd, -1, true, -1);
}

/* Waits for pid; its exit status, 128 + the signal that ended it, or -errno. */
static int reap(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int proc_run(char *const argv[], int out_fd)
{
	pid_t pid = spawn(argv, out_fd, -1, false, -1);

	return pid < 0 ? pid : reap(pid);
}

int proc_run_cancel(char *const argv[], bool (*cancel)(void *), void *ctx)
{
	/* a session of its own: a cancel kills whatever it started too */
	pid_t pid = spawn(argv, -1, -1, cancel != NULL, -1);
	int pidfd;

	if (pid < 0)
		return pid;
	pidfd = cancel ? proc_pidfd_open(pid) : -1;
	while (pidfd >= 0) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		int r = poll(&p, 1, 100);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0)
			break; /* it exited */
		if (cancel(ctx)) {
			kill(-pid, SIGKILL); /* its process group; not reaped yet, so not reused */
			break;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	return reap(pid);
}

int proc_capture(char *const argv[], char **out, bool (*cancel)(void *), void *ctx)
{
	int fds[2];
	pid_t pid;
	FILE *mem;
	size_t len = 0;
	char buf[4096];
	int status = 0;

	*out = NULL;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = spawn(argv, fds[1], -2, false, -1);
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return pid;
	}
	mem = open_memstream(out, &len);
	for (;;) {
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		int r = poll(&p, 1, 100);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0) {
			ssize_t n = read(fds[0], buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			if (mem)
				fwrite(buf, 1, (size_t)n, mem);
		}
		if (cancel && cancel(ctx))
			kill(pid, SIGKILL);
	}
	close(fds[0]);
	if (mem)
		fclose(mem);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (!*out)
		*out = xstrdup("");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

pid_t proc_spawn_stdio(char *const argv[], int in_fd, int out_fd, int err_fd)
{
	return spawn_io(argv, in_fd, out_fd, err_fd, true, -1, NULL, -1);
}

pid_t proc_spawn_gated(char *const argv[], const struct proc_stdio *io, int pass_fd, int *gate)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = spawn_io(argv, io->in_fd, io->out_fd, io->err_fd, true, pass_fd, io->cwd, p[0]);
	close(p[0]);
	if (pid < 0) {
		close(p[1]);
		return pid;
	}
	*gate = p[1];
	return pid;
}

int proc_gate_open(int gate)
{
	char go = PROC_GATE_GO;
	ssize_t n;

	while ((n = write(gate, &go, 1)) < 0 && errno == EINTR)
		;
	close(gate);
	return n == 1 ? 0 : -EPIPE;
}

char *proc_first_line(char *const argv[], const char *fallback)
{
	char *out = NULL;

	proc_capture(argv, &out, NULL, NULL);
	if (!out || !out[0]) {
		free(out);
		return xstrdup(fallback);
	}
	out[strcspn(out, "\n")] = '\0';
	return out;
}
