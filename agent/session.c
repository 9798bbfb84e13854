/* The agent's session table: spawning commands on pipes or a pty, their
 * stdin and output, reaping them. See session.h. */
#define _GNU_SOURCE
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* How long output is still read after the process was reaped, for bytes a
 * pty has not passed on yet; a background child holding the pipes open
 * does not keep the session running longer than this. */
#define DRAIN_MS 2000

static struct session *table[BANGER_AGENT_SESS_MAX];
static int chld_pipe[2] = { -1, -1 };

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_sigchld(int sig)
{
	int saved = errno;
	char c = 0;

	(void)sig;
	if (write(chld_pipe[1], &c, 1) < 0) {
		/* full: a wake-up is pending anyway */
	}
	errno = saved;
}

int sessions_init(void)
{
	struct sigaction sa = { .sa_handler = on_sigchld, .sa_flags = SA_RESTART | SA_NOCLDSTOP };
	int fd;

	/* fds 0-2 stay taken, so a session's pipes never land on them */
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd < 3)
		;
	if (fd > 2)
		close(fd);
	if (pipe2(chld_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGCHLD, &sa, NULL);
}

struct session *session_find(const char *id)
{
	for (int i = 0; i < BANGER_AGENT_SESS_MAX; i++)
		if (table[i] && strcmp(table[i]->id, id) == 0)
			return table[i];
	return NULL;
}

struct session *session_at(int i)
{
	return i >= 0 && i < BANGER_AGENT_SESS_MAX ? table[i] : NULL;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static const char *errno_name(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "EUNKNOWN";
}

/* NAME of a NAME=VALUE string: its length up to '='. */
static size_t env_name_len(const char *kv)
{
	return strcspn(kv, "=");
}

/* The command's environment: a clean base, then spec->env replacing or
 * adding. Pointers into static strings and spec->env; free only the array. */
static char **build_env(const struct session_spec *spec)
{
	static const char *base[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
				      "USER=root", "LOGNAME=root", "SHELL=/bin/sh" };
	size_t nbase = sizeof(base) / sizeof(base[0]), nextra = 0, n = 0;
	char **envp;

	while (spec->env && spec->env[nextra])
		nextra++;
	envp = calloc(nbase + 1 + nextra + 1, sizeof(*envp));
	if (!envp)
		return NULL;
	for (size_t i = 0; i < nbase; i++)
		envp[n++] = (char *)base[i];
	if (spec->tty)
		envp[n++] = (char *)"TERM=xterm-256color";
	for (size_t i = 0; i < nextra; i++) {
		size_t len = env_name_len(spec->env[i]), j;

		for (j = 0; j < n; j++)
			if (env_name_len(envp[j]) == len && strncmp(envp[j], spec->env[i], len) == 0)
				break;
		envp[j] = spec->env[i];
		if (j == n)
			n++;
	}
	return envp;
}

/* What the child reports on its CLOEXEC pipe when it cannot exec. */
struct child_failure {
	char step; /* 'c': chdir, 's': anything else */
	int err;
};

/* Where a session without a cwd runs: the workspace `banger run` copied in
 * (it leaves the guest path in WORKSPACE_NOTE), else root's home. */
#define WORKSPACE_NOTE "/root/.cache/banger/workspace"

static int chdir_default(void)
{
	char path[4096];
	ssize_t n = -1;
	int fd = open(WORKSPACE_NOTE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0) {
		n = read(fd, path, sizeof(path) - 1);
		close(fd);
	}
	if (n > 1 && path[0] == '/') {
		path[n] = '\0';
		path[strcspn(path, "\n")] = '\0';
		if (chdir(path) == 0)
			return 0;
	}
	return chdir("/root");
}

static _Noreturn void child(const struct session_spec *spec, char **envp, const int fds[3], int report)
{
	struct child_failure f = { 's', 0 };
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	if (setsid() < 0 || (spec->tty && ioctl(fds[0], TIOCSCTTY, 0) < 0))
		goto fail;
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			goto fail;
	if ((spec->cwd ? chdir(spec->cwd) : chdir_default()) < 0) {
		f.step = 'c';
		goto fail;
	}
	execve("/bin/sh", (char *[]){ (char *)"sh", (char *)"-c", (char *)spec->cmd, NULL }, envp);
fail:
	f.err = errno;
	if (write(report, &f, sizeof(f)) < 0) {
		/* nobody to tell */
	}
	_exit(127);
}

/* Opens a pty pair of the given size: *master (non-blocking) and *slave. */
static int open_pty(unsigned short rows, unsigned short cols, int *master, int *slave)
{
	struct winsize ws = { .ws_row = rows, .ws_col = cols };
	char name[128];
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), s = -1;

	if (m < 0)
		return -1;
	if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof(name)) != 0 ||
	    ioctl(m, TIOCSWINSZ, &ws) < 0 || fcntl(m, F_SETFL, O_NONBLOCK) < 0 ||
	    (s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		int saved = errno;
		close(m);
		errno = saved;
		return -1;
	}
	*master = m;
	*slave = s;
	return 0;
}

/* Makes the three pipes: ours[] are the agent's (non-blocking) ends,
 * theirs[] the command's stdin, stdout, stderr. */
static int open_pipes(int ours[3], int theirs[3])
{
	int p[2];

	for (int i = 0; i < 3; i++) {
		if (pipe2(p, O_CLOEXEC) < 0)
			return -1;
		ours[i] = i == 0 ? p[1] : p[0];
		theirs[i] = i == 0 ? p[0] : p[1];
		if (fcntl(ours[i], F_SETFL, O_NONBLOCK) < 0)
			return -1;
	}
	return 0;
}

/* Forks and execs the command. Returns its pid, or -1 with reason set. */
static pid_t spawn(const struct session_spec *spec, const int theirs[3], char *reason, size_t size)
{
	struct child_failure f;
	int report[2];
	char **envp = build_env(spec);
	pid_t pid;
	ssize_t r;

	if (!envp || pipe2(report, O_CLOEXEC) < 0) {
		snprintf(reason, size, "spawn:%s", errno_name(errno));
		free(envp);
		return -1;
	}
	pid = fork();
	if (pid == 0)
		child(spec, envp, theirs, report[1]);
	free(envp);
	close(report[1]);
	if (pid < 0) {
		snprintf(reason, size, "spawn:%s", errno_name(errno));
		close(report[0]);
		return -1;
	}
	/* returns at the child's exec (EOF) or failure: no longer than a fork */
	while ((r = read(report[0], &f, sizeof(f))) < 0 && errno == EINTR)
		;
	close(report[0]);
	if (r == (ssize_t)sizeof(f)) {
		snprintf(reason, size, "%s:%s", f.step == 'c' ? "chdir" : "spawn", errno_name(f.err));
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return -1;
	}
	return pid;
}

struct session *session_start(const struct session_spec *spec, char *reason, size_t size)
{
	int ours[3] = { -1, -1, -1 }, theirs[3] = { -1, -1, -1 }, slot = -1;
	struct session *s = NULL;
	int ok;

	for (int i = 0; i < BANGER_AGENT_SESS_MAX && slot < 0; i++)
		if (!table[i])
			slot = i;
	if (slot < 0) {
		snprintf(reason, size, "too_many");
		return NULL;
	}
	if (spec->tty) {
		ok = open_pty(spec->rows, spec->cols, &ours[1], &theirs[0]) == 0 &&
		     (ours[0] = fcntl(ours[1], F_DUPFD_CLOEXEC, 0)) >= 0;
		theirs[1] = theirs[2] = theirs[0];
	} else {
		ok = open_pipes(ours, theirs) == 0;
	}
	if (!ok || !(s = calloc(1, sizeof(*s)))) {
		snprintf(reason, size, "spawn:%s", errno_name(errno));
		goto fail;
	}
	snprintf(s->id, sizeof(s->id), "%s", spec->id);
	s->tty = spec->tty;
	s->pid = spawn(spec, theirs, reason, size);
	if (s->pid < 0)
		goto fail;
	close_fd(&theirs[0]);
	if (!spec->tty) {
		close_fd(&theirs[1]);
		close_fd(&theirs[2]);
	}
	s->in_fd = ours[0];
	s->out_fd = ours[1];
	s->err_fd = ours[2];
	s->started_ms = unix_ms();
	s->synced = 1; /* a new session is in sync at 0/0 */
	table[slot] = s;
	return s;
fail:
	for (int i = 0; i < 3; i++) {
		close_fd(&ours[i]);
		if (!spec->tty || i == 0)
			close_fd(&theirs[i]);
	}
	free(s);
	return NULL;
}

/* Writes queued stdin; closes stdin when asked to or when the command
 * stopped reading it. */
static void write_input(struct session *s)
{
	ssize_t r;

	while (s->in_fd >= 0 && s->in_len > 0) {
		r = write(s->in_fd, s->in_buf, s->in_len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) { /* EPIPE: nobody reads stdin any more */
			close_fd(&s->in_fd);
			break;
		}
		memmove(s->in_buf, s->in_buf + r, s->in_len - (size_t)r);
		s->in_len -= (size_t)r;
		s->in_written += (uint64_t)r;
	}
	if (s->in_fd < 0 || (s->in_eof && !s->tty)) {
		close_fd(&s->in_fd);
		free(s->in_buf);
		s->in_buf = NULL;
		s->in_len = 0;
	}
}

static int append_input(struct session *s, const void *data, size_t n, const char **reason)
{
	uint8_t *b;

	if (s->reaped) {
		*reason = "finished";
		return -1;
	}
	if (s->in_fd < 0 || s->in_eof) {
		*reason = "stdin_closed";
		return -1;
	}
	if (s->in_len + n > BANGER_AGENT_SESS_IN_QUEUE) {
		*reason = "full";
		return -1;
	}
	b = realloc(s->in_buf, s->in_len + n ? s->in_len + n : 1);
	if (!b) {
		*reason = "ENOMEM";
		return -1;
	}
	s->in_buf = b;
	memcpy(s->in_buf + s->in_len, data, n);
	s->in_len += n;
	write_input(s);
	return 0;
}

int session_input(struct session *s, const void *data, size_t n, const char **reason)
{
	return append_input(s, data, n, reason);
}

int session_input_eof(struct session *s, const char **reason)
{
	struct termios t;
	uint8_t veof = 4; /* ^D */

	if (s->tty) {
		if (s->in_fd >= 0 && tcgetattr(s->in_fd, &t) == 0 && t.c_cc[VEOF] != _POSIX_VDISABLE)
			veof = t.c_cc[VEOF];
		return append_input(s, &veof, 1, reason);
	}
	if (append_input(s, "", 0, reason) < 0)
		return -1;
	s->in_eof = 1;
	write_input(s);
	return 0;
}

int session_kill(struct session *s, int sig)
{
	if (s->reaped) {
		errno = ESRCH;
		return -1;
	}
	return kill(-s->pid, sig);
}

int session_winsize(struct session *s, unsigned short rows, unsigned short cols)
{
	struct winsize ws = { .ws_row = rows, .ws_col = cols };
	int fd = s->out_fd >= 0 ? s->out_fd : s->in_fd;

	if (!s->tty) {
		errno = ENOTTY;
		return -1;
	}
	if (s->reaped || fd < 0) {
		errno = ESRCH;
		return -1;
	}
	return ioctl(fd, TIOCSWINSZ, &ws);
}

void session_forget(struct session *s)
{
	for (int i = 0; i < BANGER_AGENT_SESS_MAX; i++)
		if (table[i] == s)
			table[i] = NULL;
	close_fd(&s->in_fd);
	close_fd(&s->out_fd);
	close_fd(&s->err_fd);
	free(s->in_buf);
	stream_free(&s->out);
	stream_free(&s->err);
	free(s);
}

void sessions_unsync_all(void)
{
	for (int i = 0; i < BANGER_AGENT_SESS_MAX; i++)
		if (table[i])
			table[i]->synced = 0;
}

/* Reads what the command wrote to *fd into st; closes *fd at EOF. */
static void read_output(int *fd, struct stream *st)
{
	static uint8_t buf[65536];
	ssize_t r;

	for (int rounds = 0; *fd >= 0 && rounds < 4; rounds++) {
		r = read(*fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) { /* EOF; EIO: a pty whose other side is closed */
			close_fd(fd);
			return;
		}
		stream_append(st, buf, (size_t)r);
	}
}

static void reap(void)
{
	char drain[64];
	int status;

	while (read(chld_pipe[0], drain, sizeof(drain)) > 0)
		;
	for (int i = 0; i < BANGER_AGENT_SESS_MAX; i++) {
		struct session *s = table[i];

		if (!s || s->reaped || waitpid(s->pid, &status, WNOHANG) != s->pid)
			continue;
		s->reaped = 1;
		s->wait_status = status;
		s->ended_ms = unix_ms();
		s->drain_deadline = mono_ms() + DRAIN_MS;
	}
}

/* A reaped session ends once its output is read (or the drain time is up). */
static void settle(struct session *s, long long now)
{
	if (!s->reaped || s->ended)
		return;
	if (now >= s->drain_deadline) {
		close_fd(&s->out_fd);
		close_fd(&s->err_fd);
	}
	if (s->out_fd >= 0 || s->err_fd >= 0)
		return;
	close_fd(&s->in_fd);
	free(s->in_buf);
	s->in_buf = NULL;
	s->in_len = 0;
	s->ended = 1;
}

int sessions_wait(int fd, short events, int timeout_ms)
{
	struct pollfd p[2 + 3 * BANGER_AGENT_SESS_MAX];
	struct session *owner[2 + 3 * BANGER_AGENT_SESS_MAX];
	long long now = mono_ms();
	int n = 2, r;

	p[0] = (struct pollfd){ .fd = fd, .events = events };
	p[1] = (struct pollfd){ .fd = chld_pipe[0], .events = POLLIN };
	for (int i = 0; i < BANGER_AGENT_SESS_MAX; i++) {
		struct session *s = table[i];

		if (!s)
			continue;
		if (s->reaped && !s->ended) {
			long long left = s->drain_deadline > now ? s->drain_deadline - now : 0;
			if (timeout_ms < 0 || left < timeout_ms)
				timeout_ms = (int)left;
		}
		if (s->out_fd >= 0) {
			owner[n] = s;
			p[n++] = (struct pollfd){ .fd = s->out_fd, .events = POLLIN };
		}
		if (s->err_fd >= 0) {
			owner[n] = s;
			p[n++] = (struct pollfd){ .fd = s->err_fd, .events = POLLIN };
		}
		if (s->in_fd >= 0 && s->in_len > 0) {
			owner[n] = s;
			p[n++] = (struct pollfd){ .fd = s->in_fd, .events = POLLOUT };
		}
	}
	r = poll(p, (nfds_t)n, timeout_ms);
	if (r < 0 && errno != EINTR)
		return -1;
	if (r < 0)
		memset(p, 0, sizeof(p[0]) * (size_t)n);
	reap(); /* also after EINTR: SIGCHLD may be why */
	for (int i = 2; i < n; i++) {
		struct session *s = owner[i];

		if (!p[i].revents)
			continue;
		if (p[i].fd == s->out_fd)
			read_output(&s->out_fd, &s->out);
		else if (p[i].fd == s->err_fd)
			read_output(&s->err_fd, &s->err);
		else if (p[i].fd == s->in_fd)
			write_input(s);
	}
	now = mono_ms();
	for (int i = 0; i < BANGER_AGENT_SESS_MAX; i++)
		if (table[i])
			settle(table[i], now);
	return p[0].revents;
}

void sessions_idle(long ms)
{
	long long deadline = mono_ms() + ms, now;

	while ((now = mono_ms()) < deadline)
		if (sessions_wait(-1, 0, (int)(deadline - now)) < 0)
			return;
}
