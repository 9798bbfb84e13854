#include "ssh_helper.h"
#include "proc.h"
#include "paths.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *ssh_helper_path(void)
{
	static char path[PATH_MAX + 64];

	return path[0] ? path : helper_path("banger-ssh", "BANGER_SSH_HELPER", path);
}

char *ssh_helper_run(char **argv, int *status, bool (*cancel)(void *), void *ctx)
{
	char *out = NULL;

	argv[0] = (char *)ssh_helper_path();
	*status = proc_capture(argv, &out, cancel, ctx);
	return out ? out : xstrdup("");
}

/* The reason in the helper's "error: ..." output, or a generic one. */
static int helper_failed(const char *out, int status, const char *what, bgr_error *err)
{
	size_t n = strcspn(out, "\n");

	if (strncmp(out, "error: ", 7) == 0)
		return bgr_fail(err, EIO, "%.*s", (int)(n - 7), out + 7);
	if (status == 127 || status == -ENOENT)
		return bgr_fail(err, ENOENT, "%s: cannot run %s (is it installed next to bangerd?)", what,
				ssh_helper_path());
	return bgr_fail(err, EIO, "%s: banger-ssh failed (status %d): %.*s", what, status, (int)n, out);
}

int ssh_helper_key(const char *key_path, struct pubkey *pub, bgr_error *err)
{
	char *argv[] = { NULL, "key", (char *)key_path, NULL };
	int status;
	_cleanup_free_ char *out = ssh_helper_run(argv, &status, NULL, NULL);

	if (status != 0 || sscanf(out, "%63s %2047s", pub->type, pub->b64) != 2)
		return helper_failed(out, status, "ssh key", err);
	return 0;
}

/* "TYPE BASE64 HEX" from banger-ssh hostkey; the output holds the private
 * key, so it never goes into a message. */
static int host_key_parse(const char *out, int status, struct pubkey *pub, char **priv_hex, bgr_error *err)
{
	int hex_start = 0, hex_end = 0;

	if (status != 0)
		return helper_failed(strncmp(out, "error: ", 7) == 0 ? out : "", status, "a clone's host key", err);
	if (sscanf(out, "%*63s %*2047s %n%*[0-9a-f]%n", &hex_start, &hex_end) != 0 || hex_end <= hex_start ||
	    hex_end - hex_start > 4096 || (hex_end - hex_start) % 2)
		return bgr_fail(err, EIO, "a clone's host key: banger-ssh printed something unexpected");
	if (sscanf(out, "%63s %2047s", pub->type, pub->b64) != 2)
		return bgr_fail(err, EIO, "a clone's host key: banger-ssh printed no public key");
	*priv_hex = xasprintf("%.*s", hex_end - hex_start, out + hex_start);
	return 0;
}

int ssh_helper_host_key_begin(struct host_key_gen *g, bgr_error *err)
{
	char *argv[] = { (char *)ssh_helper_path(), "hostkey", NULL };
	int fds[2];

	g->pid = -1;
	g->fd = -1;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return bgr_fail(err, errno, "a clone's host key: pipe: %s", strerror(errno));
	g->pid = proc_spawn_stdio(argv, -1, fds[1], STDERR_FILENO);
	close(fds[1]);
	if (g->pid < 0) {
		close(fds[0]);
		return bgr_fail(err, -g->pid, "a clone's host key: cannot run %s: %s", argv[0], strerror(-g->pid));
	}
	g->fd = fds[0];
	return 0;
}

int ssh_helper_host_key_end(struct host_key_gen *g, struct pubkey *pub, char **priv_hex, bgr_error *err)
{
	char out[8192];
	size_t len = 0;
	int status = 0, r;

	*priv_hex = NULL;
	if (g->pid < 0)
		return bgr_fail(err, EIO, "a clone's host key: banger-ssh did not run");
	for (;;) {
		ssize_t n = read(g->fd, out + len, sizeof(out) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (len += (size_t)n) == sizeof(out) - 1)
			break;
	}
	out[len] = '\0';
	close(g->fd);
	while (waitpid(g->pid, &status, 0) < 0 && errno == EINTR)
		;
	r = host_key_parse(out, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), pub, priv_hex, err);
	explicit_bzero(out, sizeof(out));
	g->pid = g->fd = -1;
	return r;
}

static char **host_argv(const char *verb, const char *file, const char *const *hosts, size_t n)
{
	char **argv = xcalloc(n + 4, sizeof(*argv));

	argv[1] = (char *)verb;
	argv[2] = (char *)file;
	for (size_t i = 0; i < n; i++)
		argv[3 + i] = (char *)hosts[i];
	return argv;
}

int ssh_helper_drop(const char *file, const char *const *hosts, size_t n, bgr_error *err)
{
	_cleanup_free_ char **argv = host_argv("drop", file, hosts, n);
	int status;
	_cleanup_free_ char *out = ssh_helper_run(argv, &status, NULL, NULL);

	return status == 0 ? 0 : helper_failed(out, status, "pins", err);
}

bool pins_may_hold(const char *file, const char *const *hosts, size_t n)
{
	_cleanup_free_ char *text = read_text_file(file);

	if (!text)
		return errno != ENOENT; /* unreadable: let the helper decide */
	for (size_t i = 0; i < n; i++)
		if (strstr(text, hosts[i]))
			return true;
	return false;
}
