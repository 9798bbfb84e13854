/* banger-ssh: everything bangerd does with libssh, in a short-lived child
 * process, so that the daemon itself never loads libssh and OpenSSL (they
 * would more than double its idle memory) and guest-supplied key material
 * is parsed outside it. bangerd runs it and reads one answer from stdout.
 *
 *   banger-ssh key PATH                  ensure the key pair; prints "TYPE BASE64"
 *   banger-ssh hostkey                   a new ed25519 host key for a guest: prints
 *                                        "TYPE BASE64 HEX", HEX the OpenSSH private
 *                                        key file's bytes (never written to disk)
 *   banger-ssh lines FILE HOST...        prints FILE's pins for any HOST
 *   banger-ssh groups FILE H1,H2 ...     the same for many groups of hosts at
 *                                        once: "INDEX LINE" per pin of group INDEX
 *   banger-ssh drop FILE HOST...         removes FILE's pins for every HOST
 *   banger-ssh check OPTIONS             the ssh check of a boot (ssh_check.h);
 *       --known-hosts F --key K --host H --port P --pin HOST (1-2x)
 *       [--drop HOST] [--agent-key TYPE:BASE64 ...] --timeout-ms N
 *       [--mode hostkey|banner|pin]  (hostkey: no key offered after the
 *                            server's key is verified; with agent keys:
 *                            the pins, then sshd's banner only, or a
 *                            refused connect to port 1)
 *     prints "ok agent|tofu MS" or "fail ERRNO REASON"
 *
 * Errors: "error: REASON" on stdout and exit status 1; bad usage 2. */
#include "pins.h"
#include "ssh_check.h"
#include "sshkey.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
	fputs("usage: banger-ssh key PATH | hostkey | lines FILE HOST... | groups FILE HOSTS... | drop FILE HOST... | "
	      "check "
	      "OPTIONS\n",
	      stdout);
	return 2;
}

static int fail_with(const bgr_error *err)
{
	printf("error: %s\n", err->msg);
	return 1;
}

static int cmd_key(int argc, char **argv)
{
	struct pubkey pub;
	bgr_error err;

	if (argc != 1)
		return usage();
	if (sshkey_ensure(argv[0], &pub, &err) < 0)
		return fail_with(&err);
	printf("%s %s\n", pub.type, pub.b64);
	return 0;
}

static int cmd_hostkey(int argc, char **argv)
{
	struct pubkey pub;
	bgr_error err;
	char *priv;

	(void)argv;
	if (argc != 0)
		return usage();
	if (sshkey_host_key(&pub, &priv, &err) < 0)
		return fail_with(&err);
	printf("%s %s ", pub.type, pub.b64);
	for (const unsigned char *p = (const unsigned char *)priv; *p; p++)
		printf("%02x", *p);
	printf("\n");
	explicit_bzero(priv, strlen(priv));
	free(priv);
	return 0;
}

static int cmd_lines(int argc, char **argv)
{
	char *text;

	if (argc < 2)
		return usage();
	text = pins_lines(argv[0], (const char *const *)argv + 1, (size_t)argc - 1);
	fputs(text, stdout);
	free(text);
	return 0;
}

static int cmd_groups(int argc, char **argv)
{
	char *text;

	if (argc < 2)
		return usage();
	text = pins_groups(argv[0], (const char *const *)argv + 1, (size_t)argc - 1);
	fputs(text, stdout);
	free(text);
	return 0;
}

static int cmd_drop(int argc, char **argv)
{
	bgr_error err;

	if (argc < 2)
		return usage();
	if (pins_update(argv[0], (const char *const *)argv + 1, (size_t)argc - 1, NULL, 0, NULL, &err) < 0)
		return fail_with(&err);
	return 0;
}

static int add_agent_key(struct ssh_check *c, const char *arg)
{
	_cleanup_free_ char *copy = xstrdup(arg);
	char *colon = strchr(copy, ':');
	bgr_error err;

	if (!colon || c->agent_keys.n == PINS_MAX)
		return -1;
	*colon = '\0';
	if (pubkey_from_text(copy, colon + 1, &c->agent_keys.key[c->agent_keys.n], &err) < 0)
		return -1;
	for (int i = 0; i < c->agent_keys.n; i++)
		if (pubkey_equal(&c->agent_keys.key[i], &c->agent_keys.key[c->agent_keys.n]))
			return 0; /* a key repeated: pinned once */
	c->agent_keys.n++;
	return 0;
}

static int cmd_check(int argc, char **argv)
{
	struct ssh_check c = { .port = 22 };
	long long timeout_ms = 0;
	int bad_keys = 0;

	for (int i = 0; i + 1 < argc; i += 2) {
		const char *opt = argv[i], *val = argv[i + 1];
		if (!strcmp(opt, "--known-hosts"))
			c.known_hosts = val;
		else if (!strcmp(opt, "--key"))
			c.key_path = val;
		else if (!strcmp(opt, "--host"))
			c.host = val;
		else if (!strcmp(opt, "--port"))
			c.port = atoi(val);
		else if (!strcmp(opt, "--pin") && c.n_hosts < 2)
			c.pin_hosts[c.n_hosts++] = val;
		else if (!strcmp(opt, "--drop"))
			c.pin_hosts[2] = val;
		else if (!strcmp(opt, "--agent-key"))
			bad_keys += add_agent_key(&c, val) < 0;
		else if (!strcmp(opt, "--timeout-ms"))
			timeout_ms = atoll(val);
		else if (!strcmp(opt, "--mode") && !strcmp(val, "hostkey"))
			c.mode = SSH_CHECK_HOSTKEY;
		else if (!strcmp(opt, "--mode") && !strcmp(val, "banner"))
			c.mode = SSH_CHECK_BANNER;
		else if (!strcmp(opt, "--mode") && !strcmp(val, "pin"))
			c.mode = SSH_CHECK_PIN;
		else
			return usage();
	}
	if (argc % 2 || !c.known_hosts || !c.key_path || !c.host || c.n_hosts == 0 || timeout_ms <= 0)
		return usage();
	if ((c.mode == SSH_CHECK_BANNER || c.mode == SSH_CHECK_PIN) && (bad_keys || c.agent_keys.n == 0)) {
		/* only keys known beforehand make the handshake unnecessary */
		printf("fail %d a check without a handshake needs the guest's host keys, and the agent reported none "
		       "readable\n",
		       EINVAL);
		return 0;
	}
	c.n_drop = c.n_hosts;
	if (c.pin_hosts[2]) {
		c.pin_hosts[c.n_hosts] = c.pin_hosts[2];
		c.n_drop = c.n_hosts + 1;
	}
	if (bad_keys && c.agent_keys.n == 0) {
		/* never fall back to trust-on-first-use because keys were garbled */
		printf("fail %d the guest agent reported host keys, none of which could be read\n", EIO);
		return 0;
	}
	c.deadline_ms = now_mono_ms() + timeout_ms;
	ssh_check_run(&c);
	if (c.result < 0)
		printf("fail %d %s\n", -c.result, c.msg);
	else
		printf("ok %s %lld\n", c.tofu_pinned ? "tofu" : "agent", c.took_ms);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "key"))
		return cmd_key(argc - 2, argv + 2);
	if (!strcmp(argv[1], "hostkey"))
		return cmd_hostkey(argc - 2, argv + 2);
	if (!strcmp(argv[1], "lines"))
		return cmd_lines(argc - 2, argv + 2);
	if (!strcmp(argv[1], "groups"))
		return cmd_groups(argc - 2, argv + 2);
	if (!strcmp(argv[1], "drop"))
		return cmd_drop(argc - 2, argv + 2);
	if (!strcmp(argv[1], "check"))
		return cmd_check(argc - 2, argv + 2);
	return usage();
}
