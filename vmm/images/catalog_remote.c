/* The `catalog` setting when it is an http(s) URL: a copy kept in memory
 * (and in $cache/catalogs/), refreshed by `banger-pull get` run as a child
 * process whose output the loop reads, like a pull (pull_job.c). Lookups
 * answer from the copy in memory, however old, while a refresh runs; only
 * the very first lookup, with no copy anywhere, waits for the fetch, and
 * then through a waiter, never on the loop. */
#include "art.h"
#include "log.h"
#include "paths.h"
#include "proc.h"
#include "util.h"
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#define CATALOG_MAX_BYTES (4u << 20)
#define REFETCH_AFTER_S 300       /* a copy older than this is refreshed */
#define RETRY_AFTER_FAIL_MS 30000 /* a failed fetch is not tried again sooner */

struct catalog_remote {
	char *url, *path;          /* the setting and its copy in $cache/catalogs/ */
	char *text;                /* the copy in memory; NULL before the first */
	time_t fetched;            /* when that copy was fetched (its file's mtime) */
	bool file_read;            /* the copy on disk was looked for */
	char error[BGR_ERROR_MAX]; /* why the last fetch failed; "" after a success */
	long long failed_ms;       /* CLOCK_MONOTONIC of that failure, 0 for none */
	pid_t pid;                 /* the fetch running, 0 for none */
	int fd;                    /* its stdout */
	char out[1024];
	size_t out_len;
	struct vmm_waiter *waiters; /* lookups waiting for a first copy */
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* The remote catalog's state, NULL when the setting is not an http(s) URL. */
static struct catalog_remote *remote(struct vmm *m)
{
	struct catalog_remote *c = m->catalog;

	if (c || !catalog_is_remote(m->settings.catalog))
		return c;
	c = xcalloc(1, sizeof(*c));
	c->url = xstrdup(m->settings.catalog);
	c->path = xasprintf("%s/catalogs/%016llx.json", m->paths->cache_dir, (unsigned long long)fnv1a(c->url));
	c->fd = -1;
	m->catalog = c;
	return c;
}

/* The copy a daemon before this one fetched. */
static void read_file_copy(struct catalog_remote *c)
{
	struct stat st;

	c->file_read = true;
	if (stat(c->path, &st) < 0)
		return;
	c->text = read_text_file(c->path);
	c->fetched = st.st_mtime;
}

static void stop_reading(struct vmm *m, struct catalog_remote *c)
{
	if (c->fd < 0)
		return;
	loop_del_fd(m->loop, c->fd);
	close(c->fd);
	c->fd = -1;
}

static void fetch_ended(struct vmm *m, struct catalog_remote *c)
{
	int status = 0, result = 0;
	char *text = NULL;

	stop_reading(m, c);
	while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
		;
	c->pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		text = read_text_file(c->path);
	if (text) {
		free(c->text);
		c->text = text;
		c->fetched = time(NULL);
		c->error[0] = '\0';
		c->failed_ms = 0;
		log_msg("catalog %s: fetched", c->url);
	} else {
		if (!c->error[0])
			snprintf(c->error, sizeof(c->error), "banger-pull %s",
				 WIFEXITED(status) ? "failed" : "was killed");
		c->failed_ms = now_mono_ms();
		log_msg("catalog %s: fetch failed: %s%s", c->url, c->error,
			c->text ? " (the copy from before serves)" : "");
		result = -EIO;
	}
	waiters_complete(&c->waiters, result);
}

static void on_output(void *data, int fd, uint32_t events)
{
	struct vmm *m = data;
	struct catalog_remote *c = m->catalog;
	ssize_t n = read(fd, c->out + c->out_len, sizeof(c->out) - 1 - c->out_len);
	char *nl;

	(void)events;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		fetch_ended(m, c);
		return;
	}
	c->out_len += (size_t)n;
	c->out[c->out_len] = '\0';
	while ((nl = strchr(c->out, '\n'))) {
		*nl = '\0';
		if (!strncmp(c->out, "error: ", 7))
			snprintf(c->error, sizeof(c->error), "%s", c->out + 7);
		c->out_len -= (size_t)(nl + 1 - c->out);
		memmove(c->out, nl + 1, c->out_len + 1);
	}
	if (c->out_len == sizeof(c->out) - 1)
		c->out_len = 0;
}

static void fetch_failed_now(struct catalog_remote *c, const char *why)
{
	snprintf(c->error, sizeof(c->error), "%s", why);
	c->failed_ms = now_mono_ms();
}

/* Starts banger-pull get; a failure to start is recorded like a failed fetch. */
static void fetch_start(struct vmm *m, struct catalog_remote *c)
{
	char helper[PATH_MAX + 64], max[24], timeout[24];
	const char *pull = helper_path("banger-pull", "BANGER_PULL", helper);
	_cleanup_free_ char *dir = xasprintf("%s/catalogs", m->paths->cache_dir);
	_cleanup_close_ int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	int p[2];
	pid_t pid;

	snprintf(max, sizeof(max), "%u", CATALOG_MAX_BYTES);
	snprintf(timeout, sizeof(timeout), "%d", m->settings.catalog_timeout_s);
	char *argv[] = { (char *)pull, "get", c->url, c->path, "--max-bytes", max, "--timeout", timeout, NULL };
	mkdir_p(dir, 0700);
	c->error[0] = '\0';
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		fetch_failed_now(c, strerror(errno));
		return;
	}
	/* stderr joins bangerd's, like a pull's */
	pid = proc_spawn_stdio(argv, devnull, p[1], STDERR_FILENO);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		fetch_failed_now(c, "cannot run banger-pull");
		return;
	}
	c->pid = pid;
	c->fd = p[0];
	c->out_len = 0;
	if (loop_add_fd(m->loop, c->fd, EPOLLIN, on_output, m) < 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		c->pid = 0;
		stop_reading(m, c);
		fetch_failed_now(c, "cannot watch banger-pull");
		return;
	}
	log_msg("catalog %s: fetching%s", c->url, c->text ? " a fresh copy (the one in memory serves meanwhile)" : "");
}

static bool failed_lately(const struct catalog_remote *c)
{
	return c->failed_ms && now_mono_ms() - c->failed_ms < RETRY_AFTER_FAIL_MS;
}

int art_catalog_ready(struct vmm *m, vmm_done_fn fn, void *ctx, struct vmm_waiter **ret_waiter)
{
	struct catalog_remote *c = remote(m);

	if (!c || atomic_load(&m->quitting))
		return 0;
	if (!c->text && !c->file_read)
		read_file_copy(c);
	if (c->text) {
		if (!c->pid && time(NULL) - c->fetched >= REFETCH_AFTER_S && !failed_lately(c))
			fetch_start(m, c);
		return 0;
	}
	if (!c->pid) {
		if (failed_lately(c))
			return 0; /* the lookup reports why */
		fetch_start(m, c);
		if (!c->pid)
			return 0;
	}
	if (fn)
		*ret_waiter = waiter_add(&c->waiters, fn, ctx);
	return 1;
}

void art_catalog_sources(struct vmm *m, struct catalog_sources *src)
{
	struct catalog_remote *c = remote(m);

	src->setting = m->settings.catalog;
	src->cache_dir = m->paths->cache_dir;
	src->remote_text = c ? c->text : NULL;
	src->remote_error = c ? (c->error[0] ? c->error : c->pid ? "still being fetched" : "") : NULL;
}

void art_catalog_free(struct vmm *m)
{
	struct catalog_remote *c = m->catalog;

	if (!c)
		return;
	if (c->pid > 0) {
		_cleanup_free_ char *part = xasprintf("%s.part.%d", c->path, (int)c->pid);
		kill(c->pid, SIGTERM);
		waitpid(c->pid, NULL, 0);
		unlink(part);
	}
	stop_reading(m, c);
	waiters_complete(&c->waiters, -ECANCELED);
	free(c->url);
	free(c->path);
	free(c->text);
	free(c);
	m->catalog = NULL;
}
