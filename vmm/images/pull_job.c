/* A pull runs as helper processes, one after the other, whose stdout lines
 * ("progress DONE TOTAL BPS", "step TEXT", "error: REASON") the loop reads:
 * banger-pull fetch + install for a catalog bundle, banger-oci import for
 * an OCI image. Nothing runs on the loop thread but line parsing. */
#include "art.h"
#include "log.h"
#include "loop.h"
#include "proc.h"
#include "ssh_helper.h"
#include "paths.h"
#include "util.h"
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>

#define MAX_STEPS 2
#define MAX_ARGS 16

struct pull_job {
	struct artifact *a;
	const struct pull_job_events *ev;
	char *argv[MAX_STEPS][MAX_ARGS];
	const char *step_names[MAX_STEPS];
	int n_steps, cur;
	pid_t pid;
	int fd;
	char line[4096];
	size_t len;
	char error[BGR_ERROR_MAX];
	char *remove_after; /* the downloaded bundle, deleted once installed */
};

static void add_step(struct pull_job *j, const char *name, const char *const args[])
{
	int n = 0;

	j->step_names[j->n_steps] = name;
	for (; args[n] && n < MAX_ARGS - 1; n++)
		j->argv[j->n_steps][n] = xstrdup(args[n]);
	j->argv[j->n_steps][n] = NULL;
	j->n_steps++;
}

static void parse_line(struct pull_job *j, char *line)
{
	struct artifact *a = j->a;
	uint64_t done, total, bps;

	if (sscanf(line, "progress %" SCNu64 " %" SCNu64 " %" SCNu64, &done, &total, &bps) == 3) {
		a->done = done;
		if (total)
			a->total = total;
		a->bps = bps;
		a->step[0] = '\0';
	} else if (!strncmp(line, "step ", 5)) {
		snprintf(a->step, sizeof(a->step), "%s", line + 5);
	} else if (!strncmp(line, "error: ", 7)) {
		snprintf(j->error, sizeof(j->error), "%s", line + 7);
	}
	j->ev->progress(a);
}

static void stop_reading(struct pull_job *j)
{
	if (j->fd < 0)
		return;
	loop_del_fd(j->a->m->loop, j->fd);
	close(j->fd);
	j->fd = -1;
}

static void job_free(struct pull_job *j)
{
	stop_reading(j);
	for (int s = 0; s < j->n_steps; s++)
		for (int i = 0; j->argv[s][i]; i++)
			free(j->argv[s][i]);
	free(j->remove_after);
	free(j);
}

static int run_step(struct pull_job *j, bgr_error *err);

static void finish(struct pull_job *j, int result)
{
	struct artifact *a = j->a;

	if (result < 0 && !a->error[0])
		snprintf(a->error, sizeof(a->error), "%s", j->error[0] ? j->error : "the pull helper failed");
	/* a bundle that installed, or never will (it is checked), goes; a
	 * partial download stays to be resumed */
	if (j->remove_after && (result == 0 || !strcmp(j->step_names[j->cur], "install")))
		unlink(j->remove_after);
	const struct pull_job_events *ev = j->ev;
	job_free(j);
	ev->finished(a, result);
}

/* The helper closed its stdout: it has exited or is about to. */
static void step_ended(struct pull_job *j)
{
	int status = 0;
	bgr_error err;

	stop_reading(j);
	while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
		;
	j->pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (!j->error[0])
			snprintf(j->error, sizeof(j->error), "%s %s", j->step_names[j->cur],
				 WIFEXITED(status) ? "failed" : "was killed");
		finish(j, -EIO);
		return;
	}
	if (++j->cur == j->n_steps) {
		finish(j, 0);
		return;
	}
	if (run_step(j, &err) < 0) {
		snprintf(j->error, sizeof(j->error), "%s", err.msg);
		finish(j, err.code ? -err.code : -EIO);
	}
}

static void on_output(void *data, int fd, uint32_t events)
{
	struct pull_job *j = data;
	ssize_t n = read(fd, j->line + j->len, sizeof(j->line) - 1 - j->len);
	char *nl;

	(void)events;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		step_ended(j);
		return;
	}
	j->len += (size_t)n;
	j->line[j->len] = '\0';
	while ((nl = strchr(j->line, '\n'))) {
		*nl = '\0';
		parse_line(j, j->line);
		j->len -= (size_t)(nl + 1 - j->line);
		memmove(j->line, nl + 1, j->len + 1);
	}
	if (j->len == sizeof(j->line) - 1) /* a line too long to be ours: drop it */
		j->len = 0;
}

static int run_step(struct pull_job *j, bgr_error *err)
{
	struct vmm *m = j->a->m;
	int p[2];
	_cleanup_close_ int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	pid_t pid;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return bgr_fail(err, errno, "pipe: %s", strerror(errno));
	/* stderr joins bangerd's: a helper's complaints land in its log */
	pid = proc_spawn_stdio(j->argv[j->cur], devnull, p[1], STDERR_FILENO);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return bgr_fail(err, -pid, "cannot run %s: %s", j->argv[j->cur][0], strerror(-pid));
	}
	j->pid = pid;
	j->fd = p[0];
	j->len = 0;
	if (loop_add_fd(m->loop, j->fd, EPOLLIN, on_output, j) < 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		j->pid = 0;
		stop_reading(j);
		return bgr_fail(err, EIO, "cannot watch the pull helper");
	}
	if (j->cur > 0 && !strcmp(j->step_names[j->cur], "install"))
		snprintf(j->a->step, sizeof(j->a->step), "installing");
	return 0;
}

static int start(struct pull_job *j, bgr_error *err)
{
	int r = run_step(j, err);

	if (r < 0) {
		job_free(j);
		return r;
	}
	j->a->job = j;
	return 0;
}

static struct pull_job *job_new(struct artifact *a, const struct pull_job_events *ev)
{
	struct pull_job *j = xcalloc(1, sizeof(*j));

	j->a = a;
	j->ev = ev;
	j->fd = -1;
	return j;
}

int pull_job_start_catalog(struct artifact *a, const struct catalog_entry *e, const struct pull_job_events *ev,
			   bgr_error *err)
{
	struct vmm *m = a->m;
	char helper[PATH_MAX + 64], size[24];
	const char *pull = helper_path("banger-pull", "BANGER_PULL", helper);
	_cleanup_free_ char *dir = xasprintf("%s/bundles", m->paths->cache_dir);
	_cleanup_free_ char *bundle = xasprintf("%s/%s.bundle", dir, e->sha256);
	struct pull_job *j;

	if (mkdir_p(dir, 0700) < 0)
		return bgr_fail(err, errno, "cannot create %s: %s", dir, strerror(errno));
	snprintf(size, sizeof(size), "%" PRIu64, e->size);
	j = job_new(a, ev);
	add_step(j, "download",
		 (const char *const[]){ pull, "fetch", e->url, e->sha256, bundle, "--size", size, NULL });
	/* an image's bundle may bring its kernel; a kernel pull leaves images alone */
	if (a->kind == ART_IMAGE && !a->keep_kernel)
		add_step(j, "install",
			 (const char *const[]){ pull, "install", bundle, m->paths->state_dir, "--name", a->name,
						"--source", e->url, "--sha256", e->sha256, NULL });
	else if (a->kind == ART_IMAGE)
		add_step(j, "install",
			 (const char *const[]){ pull, "install", bundle, m->paths->state_dir, "--name", a->name,
						"--source", e->url, "--sha256", e->sha256, "--only", "image", NULL });
	else
		add_step(j, "install",
			 (const char *const[]){ pull, "install", bundle, m->paths->state_dir, "--name", a->name,
						"--source", e->url, "--sha256", e->sha256, "--only", "kernel", NULL });
	j->remove_after = steal_ptr(&bundle);
	return start(j, err);
}

int pull_job_start_oci(struct artifact *a, const char *ref, const char *kernel, const struct pull_job_events *ev,
		       bgr_error *err)
{
	struct vmm *m = a->m;
	char helper[PATH_MAX + 64];
	const char *oci = helper_path("banger-oci", "BANGER_OCI", helper);
	_cleanup_free_ char *kit = xasprintf("%s/kit", m->paths->state_dir);
	struct pull_job *j = job_new(a, ev);

	add_step(j, "import",
		 (const char *const[]){ oci, "import", ref, m->paths->state_dir, a->name, "--cache",
					m->paths->cache_dir, "--kit", kit, "--kernel", kernel, NULL });
	return start(j, err);
}

void pull_job_free(struct pull_job *j)
{
	if (j->pid > 0) {
		kill(j->pid, SIGTERM);
		waitpid(j->pid, NULL, 0);
	}
	job_free(j);
}
