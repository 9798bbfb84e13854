/* Unit tests of the agent's install of a host-made SSH host key
 * (agent/hostkeys.c, identify's hostkey_ed25519=) into a scratch root: the
 * key comes from banger-ssh's generator (libssh), and the files written are
 * read back by OpenSSH's ssh-keygen and dropbear's dropbearkey when the
 * host has them. */
#include "hostkeys.h"
#include "sshkey.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"

static char root[] = "/tmp/banger-hostkeys-test.XXXXXX";

static void put(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static bool exists(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s%s", root, rel);
	return access(path, F_OK) == 0;
}

static int mode_of(const char *rel)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

/* The first two words of the output of cmd, or of a file. */
static void first_words(const char *cmd, bool is_cmd, char *out, size_t size)
{
	char line[1024] = "", a[256] = "", b[768] = "";
	FILE *f = is_cmd ? popen(cmd, "r") : fopen(cmd, "r");

	out[0] = '\0';
	if (!f)
		return;
	if (fgets(line, sizeof(line), f) && sscanf(line, "%255s %767s", a, b) == 2)
		snprintf(out, size, "%s %s", a, b);
	if (is_cmd)
		pclose(f);
	else
		fclose(f);
}

static char *hex_of(const char *text)
{
	size_t n = strlen(text);
	char *hex = xcalloc(1, 2 * n + 1);

	for (size_t i = 0; i < n; i++)
		sprintf(hex + 2 * i, "%02x", (unsigned char)text[i]);
	return hex;
}

static bool have(const char *prog)
{
	_cleanup_free_ char *cmd = xasprintf("command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

int main(void)
{
	struct pubkey pub;
	bgr_error err;
	char *priv = NULL, reason[256], got[1024], want[2200], path[256], cmd[512];
	_cleanup_free_ char *hex = NULL;
	int r;

	tap_ok(mkdtemp(root) != NULL, "scratch root");
	snprintf(path, sizeof(path), "%s/etc/dropbear", root);
	mkdir_p(path, 0755);
	snprintf(path, sizeof(path), "%s/etc/ssh", root);
	mkdir_p(path, 0755);
	put("/etc/dropbear/dropbear_ed25519_host_key", "old");
	put("/etc/dropbear/dropbear_rsa_host_key", "old");
	put("/etc/dropbear/dropbear_rsa_host_key.pub", "ssh-rsa AAAAold");
	put("/etc/ssh/ssh_host_rsa_key", "old");
	put("/etc/ssh/ssh_host_rsa_key.pub", "ssh-rsa AAAAold");
	put("/etc/ssh/ssh_host_ecdsa_key", "old");
	put("/etc/ssh/sshd_config", "# not a key\n");

	tap_ok(sshkey_host_key(&pub, &priv, &err) == 0, "banger-ssh's generator makes a key");
	hex = hex_of(priv);
	snprintf(want, sizeof(want), "%s %s", pub.type, pub.b64);

	/* bad input first: nothing changes */
	is_int(hostkeys_install(root, "abc", "box", reason, sizeof(reason)), -1, "odd hex: refused");
	is_int(hostkeys_install(root, "zz", "box", reason, sizeof(reason)), -1, "not hex: refused");
	is_int(hostkeys_install(root, "68656c6c6f", "box", reason, sizeof(reason)), -1, "not a key file: refused");
	tap_ok(strchr(reason, ' ') == NULL, "the reason has no spaces: %s", reason);
	{
		_cleanup_free_ char *cut = xstrdup(hex);
		cut[strlen(cut) / 2 & ~1UL] = '\0';
		is_int(hostkeys_install(root, cut, "box", reason, sizeof(reason)), -1, "half a key file: refused");
	}
	tap_ok(exists("/etc/ssh/ssh_host_rsa_key") && !exists("/etc/ssh/ssh_host_ed25519_key"),
	       "after refusals the old keys are untouched");

	r = hostkeys_install(root, hex, "box", reason, sizeof(reason));
	is_int(r, HOSTKEYS_DROPBEAR | HOSTKEYS_OPENSSH, "installed for both servers the image has keys for");
	is_int(mode_of("/etc/ssh/ssh_host_ed25519_key"), 0600, "OpenSSH's private key is 0600");
	is_int(mode_of("/etc/dropbear/dropbear_ed25519_host_key"), 0600, "dropbear's too");
	is_int(mode_of("/etc/ssh/ssh_host_ed25519_key.pub"), 0644, "the .pub is 0644");
	tap_ok(!exists("/etc/ssh/ssh_host_rsa_key") && !exists("/etc/ssh/ssh_host_rsa_key.pub") &&
		       !exists("/etc/ssh/ssh_host_ecdsa_key") && !exists("/etc/dropbear/dropbear_rsa_host_key") &&
		       !exists("/etc/dropbear/dropbear_rsa_host_key.pub"),
	       "the other host keys are gone");
	tap_ok(exists("/etc/ssh/sshd_config"), "other files stay");
	snprintf(path, sizeof(path), "%s/etc/ssh/ssh_host_ed25519_key.pub", root);
	first_words(path, false, got, sizeof(got));
	is_str(got, want, "OpenSSH's .pub is the host's public key");
	snprintf(path, sizeof(path), "%s/etc/dropbear/dropbear_ed25519_host_key.pub", root);
	first_words(path, false, got, sizeof(got));
	is_str(got, want, "dropbear's .pub too (the hello reports it)");
	if (have("ssh-keygen")) {
		snprintf(cmd, sizeof(cmd), "ssh-keygen -y -f %s/etc/ssh/ssh_host_ed25519_key 2>&1", root);
		first_words(cmd, true, got, sizeof(got));
		is_str(got, want, "ssh-keygen reads the private key and derives the same public key");
	} else {
		tap_ok(true, "# SKIP no ssh-keygen on this host");
	}
	if (have("dropbearkey")) {
		snprintf(cmd, sizeof(cmd),
			 "dropbearkey -y -f %s/etc/dropbear/dropbear_ed25519_host_key 2>&1 | grep '^ssh-'", root);
		first_words(cmd, true, got, sizeof(got));
		is_str(got, want, "dropbearkey reads dropbear's file and derives the same public key");
	} else {
		tap_ok(true, "# SKIP no dropbearkey on this host");
	}

	/* an image with no SSH server's keys: nothing written */
	snprintf(cmd, sizeof(cmd), "rm -rf %s/etc", root);
	tap_ok(system(cmd) == 0, "a root without /etc");
	is_int(hostkeys_install(root, hex, "box", reason, sizeof(reason)), 0, "no server: nothing installed");

	explicit_bzero(priv, strlen(priv));
	free(priv);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	tap_ok(system(cmd) == 0, "scratch root removed");
	return tap_done();
}
