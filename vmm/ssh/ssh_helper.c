#include "ssh_helper.h"
#include "proc.h"
#include "paths.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
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

int ssh_helper_host_key(struct pubkey *pub, char **priv_hex, bgr_error *err)
{
	char *argv[] = { NULL, "hostkey", NULL };
	char *out = NULL;
	int status, hex_start = 0, hex_end = 0;
	int r = 0;

	*priv_hex = NULL;
	out = ssh_helper_run(argv, &status, NULL, NULL);
	/* "TYPE BASE64 HEX": the output holds the private key, so it never
	 * goes into a message */
	if (status != 0)
		r = helper_failed(out, status, "a clone's host key", err);
	else if (sscanf(out, "%*63s %*2047s %n%*[0-9a-f]%n", &hex_start, &hex_end) != 0 || hex_end <= hex_start ||
		 hex_end - hex_start > 4096 || (hex_end - hex_start) % 2)
		r = bgr_fail(err, EIO, "a clone's host key: banger-ssh printed something unexpected");
	else if (sscanf(out, "%63s %2047s", pub->type, pub->b64) != 2)
		r = bgr_fail(err, EIO, "a clone's host key: banger-ssh printed no public key");
	else
		*priv_hex = xasprintf("%.*s", hex_end - hex_start, out + hex_start);
	explicit_bzero(out, strlen(out));
	free(out);
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
