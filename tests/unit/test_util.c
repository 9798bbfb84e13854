/* Unit tests of common/util.c (mkdir_p, rm_rf, proc) and
 * common/proc.c (start times, proc_run, proc_spawn). */
#include "log.h"
#include "proc.h"
#include "util.h"

#include "tap.h"

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char base[] = "/tmp/banger-test-util.XXXXXX";

static const char *at(const char *rel)
{
	static char paths[8][PATH_MAX];
	static int next;
	char *p = paths[next++ % 8];

	snprintf(p, PATH_MAX, "%s/%s", base, rel);
	return p;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The permission bits of a directory, or -1 when path is no directory. */
static int dir_mode(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode) ? (int)(st.st_mode & 07777) : -1;
}

/* The permission bits of a regular file, or -1. */

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static void touch(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(content, f);
		fclose(f);
	}
}

/* Reads up to size-1 bytes of path; returns the count or -1. */
static ssize_t slurp(const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);

	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* ---- mkdir_p ---------------------------------------------------------- */

static void test_mkdir_p(void)
{
	is_int(mkdir_p(at("m/a/b/c"), 0700), 0, "mkdir_p of three new levels");
	is_int(dir_mode(at("m/a")), 0700, "m/a created 0700");
	is_int(dir_mode(at("m/a/b")), 0700, "m/a/b created 0700");
	is_int(dir_mode(at("m/a/b/c")), 0700, "m/a/b/c created 0700");
	is_int(mkdir_p(at("m/a/b/c"), 0700), 0, "again: an existing path is fine");
	is_int(mkdir_p(at("m/a/b/d"), 0755), 0, "a sibling with another mode");
	is_int(dir_mode(at("m/a/b/d")), 0755, "created 0755");
	is_int(dir_mode(at("m/a")), 0700, "existing parents keep their mode");

	is_int(mkdir_p(at("m/t/u/"), 0700), 0, "a trailing slash");
	tap_ok(is_dir(at("m/t/u")), "m/t/u exists");
	is_int(mkdir_p(at("m//x//y"), 0700), 0, "doubled slashes");
	tap_ok(is_dir(at("m/x/y")), "m/x/y exists");

	tap_ok(chdir(base) == 0, "chdir to the scratch dir");
	is_int(mkdir_p("m/rel/ative", 0700), 0, "a relative path");
	tap_ok(is_dir(at("m/rel/ative")), "m/rel/ative exists");
	tap_ok(chdir("/") == 0, "chdir back to /");

	touch(at("m/file"), "x");
	is_int(mkdir_p(at("m/file/sub"), 0700), -ENOTDIR, "below a regular file: -ENOTDIR");
	is_int(mkdir_p("", 0700), -ENOENT, "an empty path: -ENOENT");
}

/* ---- rm_rf ------------------------------------------------------------ */

static void test_rm_rf(void)
{
	char deep[PATH_MAX];

	/* outside the tree: must survive */
	mkdir_p(at("outside/inner"), 0700);
	touch(at("outside/keep.txt"), "keep");
	touch(at("outside/inner/keep2.txt"), "keep");

	mkdir_p(at("t/d1/d2/d3"), 0700);
	mkdir_p(at("t/empty"), 0700);
	touch(at("t/file"), "1");
	touch(at("t/d1/d2/d3/file"), "2");
	tap_ok(symlink(at("outside"), at("t/link_dir")) == 0, "symlink to the outside dir");
	tap_ok(symlink(at("outside/keep.txt"), at("t/d1/link_file")) == 0, "symlink to an outside file");
	tap_ok(symlink("/nonexistent/banger", at("t/dangling")) == 0, "dangling symlink");
	tap_ok(mkfifo(at("t/fifo"), 0600) == 0, "a fifo");
	tap_ok(chmod(at("t/file"), 0) == 0, "a mode-0 file");
	/* deeper than nftw's 16 open fds */
	snprintf(deep, sizeof(deep), "%s", at("t/deep"));
	for (int i = 0; i < 40; i++)
		strcat(deep, "/d");
	is_int(mkdir_p(deep, 0700), 0, "a 40-level chain");

	is_int(rm_rf(at("t")), 0, "rm_rf of the tree");
	tap_ok(!exists(at("t")), "the tree is gone");
	tap_ok(is_dir(at("outside")), "the symlinked outside dir survives");
	tap_ok(exists(at("outside/keep.txt")) && exists(at("outside/inner/keep2.txt")), "with its contents");

	is_int(rm_rf(at("never-was")), 0, "rm_rf of a missing path is 0");

	touch(at("lone"), "x");
	is_int(rm_rf(at("lone")), 0, "rm_rf of a plain file");
	tap_ok(!exists(at("lone")), "the file is gone");

	tap_ok(symlink(at("outside"), at("toplink")) == 0, "a symlink to the outside dir, as the argument");
	is_int(rm_rf(at("toplink")), 0, "rm_rf of the symlink");
	tap_ok(!exists(at("toplink")), "the symlink is gone");
	tap_ok(exists(at("outside/keep.txt")), "its target is untouched");

	touch(at("afile"), "x");
	is_int(rm_rf(at("afile/sub")), -ENOTDIR, "a path through a file: -ENOTDIR");
}

/* ---- proc_start_time / proc_is ---------------------------------------- */

static void test_start_time(void)
{
	uint64_t self = proc_start_time(getpid());
	uint64_t parent = proc_start_time(getppid());
	char old_name[16] = "";

	tap_ok(self > 0, "our own start time is known (%llu)", (unsigned long long)self);
	is_int(proc_start_time(getpid()), self, "and stable");
	tap_ok(parent > 0 && parent <= self, "our parent started no later than we did");
	tap_ok(proc_is(getpid(), self), "proc_is(self, our start time)");
	tap_ok(!proc_is(getpid(), self + 1), "not with a wrong start time");
	tap_ok(!proc_is(getpid(), 0), "not with start time 0");
	tap_ok(!proc_is(0, self), "not for pid 0");
	tap_ok(!proc_is(-1, self), "not for pid -1");
	is_int(proc_start_time(INT_MAX), 0, "a pid that cannot exist has no start time");

	/* comm may hold ") " and words: the fields after the last ')' still count */
	prctl(PR_GET_NAME, old_name);
	prctl(PR_SET_NAME, "x) Z 1 2 (y");
	is_int(proc_start_time(getpid()), self, "a comm with ') Z 1 2 (' does not confuse the parser");
	prctl(PR_SET_NAME, old_name);

	/* a child: alive, then a zombie, then reaped */
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		tap_ok(false, "pipe2: %m");
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(pipefd[1]);
		(void)!read(pipefd[0], &c, 1);
		_exit(0);
	}
	close(pipefd[0]);
	uint64_t child = proc_start_time(pid);
	tap_ok(child >= self, "a child started no earlier than us (%llu)", (unsigned long long)child);
	tap_ok(proc_is(pid, child), "proc_is(child, its start time)");
	tap_ok(!proc_is(pid, self), "not with our start time");

	close(pipefd[1]); /* the child reads EOF and exits */
	siginfo_t info;
	waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT);
	is_int(proc_start_time(pid), 0, "a zombie child has no start time");
	tap_ok(!proc_is(pid, child), "and proc_is is false for it");
	waitpid(pid, NULL, 0);
	is_int(proc_start_time(pid), 0, "a reaped child has none either");
	tap_ok(!proc_is(pid, child), "and proc_is stays false");
	tap_ok(!proc_is(pid, 0), "also when asked with start time 0 (which a gone pid \"has\")");
}

/* ---- proc_run / proc_spawn -------------------------------------------- */

static int run(const char *a0, const char *a1, const char *a2, int out_fd)
{
	char *argv[] = { (char *)a0, (char *)a1, (char *)a2, NULL };
	return proc_run(argv, out_fd);
}

static void test_proc_run(void)
{
	char got[256], cmd[64];
	int out;

	is_int(run("true", NULL, NULL, -1), 0, "true exits 0");
	is_int(run("false", NULL, NULL, -1), 1, "false exits 1");
	is_int(run("sh", "-c", "exit 42", -1), 42, "exit 42 is 42");
	is_int(run("/nonexistent/banger-no-such-binary", NULL, NULL, -1), 127, "a missing binary is 127");
	is_int(run("banger-no-such-binary-in-path", NULL, NULL, -1), 127, "one missing from PATH too");
	is_int(run("sh", "-c", "kill -TERM $$", -1), 128 + SIGTERM, "killed by SIGTERM is 143");

	out = open(at("run.out"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	is_int(run("sh", "-c", "echo out; echo err >&2", out), 0, "a command writing to both streams");
	is_int(run("/nonexistent/banger-no-such-binary", NULL, NULL, out), 127, "a missing binary, with out_fd");
	close(out);
	slurp(at("run.out"), got, sizeof(got));
	tap_ok(strncmp(got, "out\nerr\n", 8) == 0, "stdout and stderr both go to out_fd");
	tap_ok(strstr(got, "cannot run /nonexistent/banger-no-such-binary") != NULL,
	       "the exec failure is reported on out_fd");

	/* stdin is /dev/null even when ours is something else (here a pipe) */
	int saved = dup(0), pipefd[2];
	if (saved >= 0 && pipe(pipefd) == 0) {
		dup2(pipefd[0], 0);
		is_int(run("sh", "-c", "[ \"$(readlink /proc/self/fd/0)\" = /dev/null ]", -1), 0,
		       "stdin is /dev/null, not ours");
		dup2(saved, 0);
		close(pipefd[0]);
		close(pipefd[1]);
		close(saved);
	}
	int leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
	snprintf(cmd, sizeof(cmd), "test -e /proc/self/fd/%d", leak);
	is_int(run("sh", "-c", cmd, -1), 1, "an fd above 2 is not inherited");
	is_int(run("sh", "-c", "test -e /proc/self/fd/2", -1), 0, "(fd 2 is there)");
	close(leak);
}

static void test_proc_spawn(void)
{
	char *argv[] = { "sleep", "30", NULL };
	pid_t pid = proc_spawn(argv, -1);
	int status = 0, pidfd;

	tap_ok(pid > 0, "proc_spawn sleep 30 (%d)", (int)pid);
	if (pid <= 0)
		return;
	for (int i = 0; i < 3000 && getsid(pid) != pid; i++)
		usleep(10000);
	is_int(getsid(pid), pid, "it leads its own session");
	pidfd = proc_pidfd_open(pid);
	tap_ok(pidfd >= 0, "proc_pidfd_open");
	is_int(proc_pidfd_kill(pidfd, SIGKILL), 0, "proc_pidfd_kill SIGKILL");
	is_int(waitpid(pid, &status, 0), pid, "reaped");
	tap_ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "it died of SIGKILL");
	is_int(proc_pidfd_kill(pidfd, SIGKILL), -ESRCH, "signalling it again is -ESRCH");
	close(pidfd);
}

/* A gated spawn runs its program only once the gate opens: closed, or its
 * parent killed before opening it, the child exits without running it. */
static void test_proc_spawn_gated(void)
{
	char marker[PATH_MAX], pidbuf[32] = "";
	struct proc_stdio io = { -1, -1, -1, NULL };
	int gate = -1, status = 0, p[2];
	pid_t pid, middle;

	snprintf(marker, sizeof(marker), "%s/gated-ran", base);
	char *argv[] = { "touch", marker, NULL };

	pid = proc_spawn_gated(argv, &io, -1, &gate);
	tap_ok(pid > 0 && gate >= 0, "proc_spawn_gated touch: pid %d", (int)pid);
	tap_ok(proc_start_time(pid) != 0, "  its start time is readable before the gate opens");
	tap_ok(access(marker, F_OK) < 0, "  nothing ran yet");
	is_int(proc_gate_open(gate), 0, "  proc_gate_open");
	waitpid(pid, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "  then it ran and exited 0");
	tap_ok(access(marker, F_OK) == 0, "  the program ran");
	unlink(marker);

	pid = proc_spawn_gated(argv, &io, -1, &gate);
	close(gate);
	waitpid(pid, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 127, "a closed gate: exit 127");
	tap_ok(access(marker, F_OK) < 0, "  and the program never ran");

	/* the parent SIGKILLed between the spawn and the gate */
	if (pipe(p) < 0)
		return;
	middle = fork();
	if (middle == 0) {
		char line[32];
		pid_t child = proc_spawn_gated(argv, &io, -1, &gate);
		int n = snprintf(line, sizeof(line), "%d", (int)child);
		if (write(p[1], line, n) != n)
			_exit(1);
		kill(getpid(), SIGKILL);
	}
	close(p[1]);
	if (read(p[0], pidbuf, sizeof(pidbuf) - 1) <= 0)
		pidbuf[0] = '\0';
	close(p[0]);
	pid = atoi(pidbuf);
	int pidfd = pid > 0 ? proc_pidfd_open(pid) : -1;
	waitpid(middle, &status, 0);
	tap_ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "a parent killed before the gate opens");
	if (pidfd >= 0) {
		struct pollfd pf = { .fd = pidfd, .events = POLLIN };
		poll(&pf, 1, -1); /* the orphan ends: nobody can open its gate */
		close(pidfd);
		waitpid(pid, NULL, WNOHANG); /* ours to reap if we are a subreaper */
	}
	tap_ok(pidfd >= 0, "  its child (pid %d) ended", (int)pid);
	tap_ok(access(marker, F_OK) < 0, "  without running the program");
}

/* Guest text in a log line: no newline to forge another line, no escape to
 * drive a terminal; and the log files get it that way. */
static void test_one_line(void)
{
	char text[] = "hello\n2026 banger: forged\033[2J\r\x7f ok\tx";
	char path[PATH_MAX], buf[512] = "";
	int fd;
	ssize_t n;

	text_one_line(text);
	is_str(text, "hello?2026 banger: forged?[2J?? ok?x", "control characters become ?");
	snprintf(path, sizeof(path), "%s/vm.log", base);
	log_to_file(path, "", "agent: hello\033]0;pwned\007\nfake line");
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	tap_ok(strstr(buf, "agent: hello?]0;pwned??fake line\n") != NULL,
	       "a log line keeps guest text on one line, without escapes");
	tap_ok(!strchr(buf, '\033'), "no escape reaches the log file");
}

int main(void)
{
	umask(022);
	if (!mkdtemp(base)) {
		tap_ok(false, "mkdtemp: %m");
		return tap_done();
	}
	test_mkdir_p();
	test_rm_rf();
	test_start_time();
	test_proc_run();
	test_proc_spawn();
	test_proc_spawn_gated();
	test_one_line();
	is_int(rm_rf(base), 0, "remove the scratch dir");
	return tap_done();
}
