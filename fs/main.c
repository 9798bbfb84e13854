/* bangerd: mounts ~/banger and serves it from one event loop. */
#include "fs.h"
#include "log.h"
#include "loop.h"
#include "proc.h"
#include "util.h"

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/epoll.h>
#include <time.h>

#define FUSE_SUPER_MAGIC 0x65735546

struct options {
	bool foreground;
	char *mount;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bangerd [-f] [--mount DIR]\n"
		"  -f, --foreground  stay in the foreground and log to stderr too\n"
		"  --mount DIR       mount point (default: $BANGER_MOUNT, else ~/banger)\n"
		"State lives under $BANGER_HOME, else the XDG directories (see docs/).\n");
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longs[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "mount", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env = getenv("BANGER_MOUNT"), *home = getenv("HOME");
	int c;

	while ((c = getopt_long(argc, argv, "fh", longs, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->foreground = true;
			break;
		case 'm':
			free(o->mount);
			o->mount = xstrdup(optarg);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("bangerd %s\n", BANGER_VERSION);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return -1;
	}
	if (!o->mount)
		o->mount = env && *env ? xstrdup(env) : xasprintf("%s/banger", home ? home : "");
	return 0;
}

/* One daemon per state directory: a lock held for the daemon's life. */
static int take_lock(const char *path, bgr_error *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	char pid[32] = "";

	if (fd < 0)
		return bgr_fail(err, errno, "cannot open %s: %s", path, open_strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		(void)!read(fd, pid, sizeof(pid) - 1);
		pid[strcspn(pid, "\n")] = '\0';
		close(fd);
		return bgr_fail(err, EBUSY, "another bangerd (pid %s) is running on this state directory", pid);
	}
	if (ftruncate(fd, 0) == 0)
		dprintf(fd, "%d\n", getpid());
	return fd;
}

/* A daemon killed with SIGKILL leaves a dead mount ("Transport endpoint is
 * not connected"): detach it before mounting again. statfs always reaches
 * the daemon (stat may be answered from the kernel's attribute cache). */
static int prepare_mountpoint(const char *mnt, bgr_error *err)
{
	struct statfs sf;
	int r;

	while (statfs(mnt, &sf) < 0 && errno == ENOTCONN) {
		if (umount2(mnt, MNT_DETACH) < 0) {
			char *argv[] = { "fusermount3", "-u", "-z", (char *)mnt, NULL };
			if (proc_run(argv, -1) != 0)
				return bgr_fail(err, EBUSY, "stale mount at %s could not be removed", mnt);
		}
		log_msg("removed a stale mount at %s", mnt);
	}
	if (statfs(mnt, &sf) == 0 && sf.f_type == FUSE_SUPER_MAGIC)
		return bgr_fail(err, EBUSY, "%s is already a FUSE mount (another bangerd?)", mnt);
	r = mkdir_p(mnt, 0700);
	if (r < 0)
		return bgr_fail(err, -r, "cannot create mount point %s: %s", mnt, strerror(-r));
	return 0;
}

static void fuse_readable(void *data, int fd, uint32_t events)
{
	struct fs *fs = data;
	int r;

	(void)fd;
	(void)events;
	r = fuse_session_receive_buf(fs->se, &fs->buf);
	if (r > 0)
		fuse_session_process_buf(fs->se, &fs->buf);
	fs_answer_interrupts(fs);
	if (fuse_session_exited(fs->se) || (r < 0 && r != -EAGAIN && r != -EINTR && r != -ENOENT)) {
		log_msg("the mount went away; exiting");
		loop_quit(fs->loop);
	}
}

static void signal_readable(void *data, int fd, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)events;
	if (read(fd, &si, sizeof(si)) == sizeof(si)) {
		log_msg("signal %u: unmounting", si.ssi_signo);
		loop_quit(data);
	}
}

static int setup_signals(struct loop *loop)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* blocked here, so in every thread created later */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0 || loop_add_fd(loop, fd, EPOLLIN, signal_readable, loop) < 0)
		return -1;
	return fd;
}

static int mount_fs(struct fs *fs, const char *mnt, bgr_error *err)
{
	char *argv[] = { "bangerd", "-o", "default_permissions,fsname=banger,subtype=banger", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	int fd;

	fs->se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), fs);
	fuse_opt_free_args(&args);
	if (!fs->se)
		return bgr_fail(err, EIO, "cannot create the FUSE session");
	if (fuse_session_mount(fs->se, mnt) != 0)
		return bgr_fail(err, EIO, "cannot mount %s (is /dev/fuse usable?)", mnt);
	fd = fuse_session_fd(fs->se);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (notifier_start(fs->se, &fs->notifier) < 0)
		return bgr_fail(err, EIO, "cannot start the notifier thread");
	if (loop_add_fd(fs->loop, fd, EPOLLIN, fuse_readable, fs) < 0)
		return bgr_fail(err, EIO, "cannot watch the FUSE device");
	return 0;
}

/* Without -f: fork, and let the parent exit once the mount is ready (or
 * print why it failed), so `bangerd && ls ~/banger` works. */
static int daemonize(int *ret_ready_fd)
{
	int p[2];
	char msg[BGR_ERROR_MAX + 16];
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(p[0]);
		setsid();
		*ret_ready_fd = p[1];
		return 0;
	}
	close(p[1]);
	n = read(p[0], msg, sizeof(msg) - 1);
	if (n > 0 && msg[0] == '+')
		exit(0);
	msg[n > 0 ? n : 0] = '\0';
	fprintf(stderr, "bangerd: %s\n", n > 1 ? msg + 1 : "failed to start (see bangerd.log)");
	exit(1);
}

static void report_ready(int *ready_fd, const char *error)
{
	int null;

	if (*ready_fd < 0)
		return;
	dprintf(*ready_fd, "%c%s", error ? '-' : '+', error ? error : "");
	close(*ready_fd);
	*ready_fd = -1;
	null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	close(null);
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct bgr_paths paths = { 0 };
	struct fs fs = { .uid = getuid(), .gid = getgid(), .started = time(NULL) };
	struct vmm_observer obs = fs_observer_template;
	int lock_fd = -1, sig_fd = -1, ready_fd = -1, rc = 1;
	bgr_error err = { 0 };

	if (parse_args(argc, argv, &o) < 0) {
		free(o.mount);
		return 2;
	}
	if (!o.foreground && daemonize(&ready_fd) < 0) {
		perror("bangerd: fork");
		return 1;
	}
	if (paths_init(&paths, &err) < 0)
		goto out;
	lock_fd = take_lock(paths.lock, &err);
	if (lock_fd < 0)
		goto out;
	if (log_open(paths.log, o.foreground) < 0) {
		bgr_fail(&err, errno, "cannot open %s: %s", paths.log, open_strerror(errno));
		goto out;
	}
	log_msg("bangerd %s starting (state %s, mount %s)", BANGER_VERSION, paths.state_dir, o.mount);
	if (loop_new(&fs.loop) < 0 || (sig_fd = setup_signals(fs.loop)) < 0) {
		bgr_fail(&err, EIO, "cannot set up the event loop");
		goto out;
	}
	fs.render.mountpoint = o.mount;
	snprintf(fs.notrash_name, sizeof(fs.notrash_name), ".Trash-%u", (unsigned)fs.uid);
	obs.ctx = &fs;
	if (prepare_mountpoint(o.mount, &err) < 0 || vmm_new(fs.loop, &paths, &obs, &fs.vmm, &err) < 0)
		goto out;
	fs.render.vmm = fs.vmm;
	if (mount_fs(&fs, o.mount, &err) < 0)
		goto out;
	log_msg("mounted %s", o.mount);
	report_ready(&ready_fd, NULL);
	malloc_trim(0); /* start-up (config, store, key) leaves freed heap behind */
	rc = loop_run(fs.loop) < 0;
out:
	if (err.code) {
		log_msg("fatal: %s", err.msg);
		if (o.foreground || ready_fd < 0)
			fprintf(stderr, "bangerd: %s\n", err.msg);
		report_ready(&ready_fd, err.msg);
	}
	vmm_free(fs.vmm); /* running VMs stay up; parked requests are answered */
	notifier_stop(fs.notifier);
	snapshots_free(&fs);
	free(fs.buf.mem);
	if (fs.se) {
		fuse_session_unmount(fs.se);
		fuse_session_destroy(fs.se);
	}
	if (sig_fd >= 0)
		close(sig_fd);
	loop_free(fs.loop);
	if (lock_fd >= 0)
		close(lock_fd);
	log_msg("bangerd stopped");
	log_close();
	paths_free(&paths);
	free(o.mount);
	return rc;
}
