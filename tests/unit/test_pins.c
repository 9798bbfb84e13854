/* Unit tests of the address pool (vmm/net/ippool.c), the managed key pair
 * (helpers/banger-ssh/sshkey.c) and the pins file (helpers/banger-ssh/pins.c), on real files with
 * libssh. */
#include "ippool.h"
#include "pins.h"
#include "sshkey.h"
#include "util.h"

#include "tap.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static char base[] = "/tmp/banger-test-pins.XXXXXX";

static char *path_in_base(const char *rel)
{
	return xasprintf("%s/%s", base, rel);
}

static char *slurp(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "r");
	static char buf[16384];
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	return buf;
}

static void spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

/* ---- the pool ---- */

struct taken {
	uint32_t addr[8];
	int n;
};

static bool is_taken(void *ctx, uint32_t a)
{
	struct taken *t = ctx;
	for (int i = 0; i < t->n; i++)
		if (t->addr[i] == a)
			return true;
	return false;
}

static void test_pool(void)
{
	struct ippool p;
	struct taken t = { .n = 0 };
	bgr_error err;
	uint32_t a;
	char text[16], mac[18];

	is_int(ippool_parse("172.16.0.0/24", &p, &err), 0, "parse the default subnet");
	ip_format(ippool_gateway(&p), text);
	is_str(text, "172.16.0.1", "gateway is .1");
	ip_format(ippool_netmask(&p), text);
	is_str(text, "255.255.255.0", "netmask of a /24");
	is_int(ippool_parse("172.16.0.5/24", &p, &err), -EINVAL, "host bits set: EINVAL");
	tap_ok(strstr(err.msg, "did you mean 172.16.0.0/24") != NULL, "and it suggests the network: %s", err.msg);
	is_int(ippool_parse("172.16.0.0", &p, &err), -EINVAL, "no prefix: EINVAL");
	is_int(ippool_parse("172.16.0.0/8", &p, &err), -EINVAL, "prefix 8: too big a pool");
	is_int(ippool_parse("172.16.0.0/30", &p, &err), -EINVAL, "prefix 30: too small a pool");
	is_int(ippool_parse("172.16.0.0/24x", &p, &err), -EINVAL, "junk after the prefix");
	is_int(ippool_parse("300.1.1.0/24", &p, &err), -EINVAL, "bad octet");
	is_int(ippool_parse("/24", &p, &err), -EINVAL, "no address");

	is_int(ippool_parse("10.0.0.0/29", &p, &err), 0, "parse a /29 (guests .2 to .6)");
	for (int i = 0; i < 5; i++) {
		is_int(ippool_pick(&p, is_taken, &t, &a, &err), 0, "pick");
		t.addr[t.n++] = a;
	}
	ip_format(t.addr[0], text);
	is_str(text, "10.0.0.2", "the first pick is .2");
	ip_format(t.addr[4], text);
	is_str(text, "10.0.0.6", "the fifth is .6 (never the broadcast .7)");
	is_int(ippool_pick(&p, is_taken, &t, &a, &err), -ENOSPC, "a sixth: ENOSPC");
	tap_ok(strstr(err.msg, "no free address left in 10.0.0.0/29") != NULL, "with a reason: %s", err.msg);
	t.addr[1] = 0; /* .3 freed */
	is_int(ippool_pick(&p, is_taken, &t, &a, &err), 0, "after a free, a pick works");
	ip_format(a, text);
	is_str(text, "10.0.0.3", "and reuses the freed address");
	tap_ok(ippool_contains(&p, a) && !ippool_contains(&p, 0x0a000108), "contains");
	mac_for_ip(0xac100002, mac);
	is_str(mac, "52:54:00:10:00:02", "MAC from 172.16.0.2");
}

/* ---- the key pair ---- */

static void test_sshkey(struct pubkey *pub)
{
	_cleanup_free_ char *key = path_in_base("config/ssh/id_ed25519");
	_cleanup_free_ char *pubfile = path_in_base("config/ssh/id_ed25519.pub");
	_cleanup_free_ char *dir = path_in_base("config/ssh");
	struct pubkey again, parsed;
	struct stat st;
	bgr_error err;
	char fp[128];

	is_int(sshkey_ensure(key, pub, &err), 0, "a missing key pair is created");
	is_str(pub->type, "ssh-ed25519", "it is ed25519");
	tap_ok(stat(key, &st) == 0 && (st.st_mode & 0777) == 0600, "private key is 0600");
	tap_ok(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700, "its directory is 0700");
	tap_ok(strstr(slurp(pubfile), pub->b64) != NULL, ".pub holds the same public key");
	is_int(sshkey_ensure(key, &again, &err), 0, "an existing key is used");
	tap_ok(pubkey_equal(pub, &again), "the same key, not a new one");
	is_int(pubkey_from_text(pub->type, pub->b64, &parsed, &err), 0, "public key text parses");
	tap_ok(pubkey_equal(pub, &parsed), "and round-trips");
	is_int(pubkey_from_text("ssh-bogus", pub->b64, &parsed, &err), -EINVAL, "unknown type: EINVAL");
	is_int(pubkey_from_text("ssh-ed25519", "AAAA", &parsed, &err), -EINVAL, "malformed key: EINVAL");
	pubkey_fingerprint(pub, fp, sizeof(fp));
	tap_ok(strncmp(fp, "SHA256:", 7) == 0 && strlen(fp) == 50, "fingerprint: %s", fp);
	spit(key, "not a key\n");
	is_int(sshkey_ensure(key, &again, &err), -EINVAL, "an unreadable key file is an error, not replaced");
	tap_ok(strstr(slurp(key), "not a key") != NULL, "and it was left alone");
}

/* ---- the pins file ---- */

static void test_pins(const struct pubkey *pub)
{
	_cleanup_free_ char *kh = path_in_base("known_hosts");
	struct pinset keys = { .n = 1 }, got;
	const char *both[] = { "box.vm", "172.16.0.2" };
	const char *user[] = { "[127.0.0.1]:2222" };
	bgr_error err;
	char host[64];
	struct stat st;
	char *lines;

	keys.key[0] = *pub;
	pins_host("127.0.0.1", 2222, host, sizeof(host));
	is_str(host, "[127.0.0.1]:2222", "host with a port");
	pins_host("172.16.0.2", 22, host, sizeof(host));
	is_str(host, "172.16.0.2", "host on port 22");

	is_int(pins_lookup(kh, "box.vm", &got, &err), 0, "lookup with no file: fine");
	is_int(got.n, 0, "and nothing pinned");
	is_int(pins_update(kh, both, 2, both, 2, &keys, &err), 0, "pin for NAME.vm and the address");
	tap_ok(stat(kh, &st) == 0 && (st.st_mode & 0777) == 0600, "known_hosts is 0600");
	is_int(pins_lookup(kh, "box.vm", &got, &err), 0, "lookup box.vm");
	tap_ok(got.n == 1 && pubkey_equal(&got.key[0], pub), "finds the key");
	is_int(pins_lookup(kh, "other.vm", &got, &err), 0, "lookup another name");
	is_int(got.n, 0, "nothing for it");
	is_int(pins_update(kh, user, 1, user, 1, &keys, &err), 0, "pin [127.0.0.1]:2222");
	is_int(pins_lookup(kh, "127.0.0.1", &got, &err), 0, "lookup 127.0.0.1 (port 22)");
	is_int(got.n, 0, "a pin with a port is not one for port 22");

	/* foreign lines (a comment, a hashed host, another host) survive */
	FILE *f = fopen(kh, "a");
	fprintf(f,
		"# a comment\n|1|F1E1KeoE/eEWhi10WpGv4OdiO6Y=|3988QV0VE8wmZL7suNrYQLITLCg= %s %s\n"
		"other.example %s %s\n",
		pub->type, pub->b64, pub->type, pub->b64);
	fclose(f);
	is_int(pins_update(kh, both, 2, NULL, 0, NULL, &err), 0, "unpin box.vm and its address");
	lines = pins_lines(kh, both, 2);
	is_str(lines, "", "no line for them is left");
	free(lines);
	tap_ok(strstr(slurp(kh), "# a comment\n") && strstr(slurp(kh), "other.example ") &&
		       strstr(slurp(kh), "|1|F1E1"),
	       "the comment, the hashed line and the other host were kept");
	lines = pins_lines(kh, user, 1);
	tap_ok(strncmp(lines, "[127.0.0.1]:2222 ssh-ed25519 ", 29) == 0, "the port line is still there");
	free(lines);
	/* groups: every VM's lines in one pass, in the file's order */
	is_int(pins_update(kh, both, 2, both, 2, &keys, &err), 0, "pin box.vm and its address again");
	const char *groups[] = { "nobody.vm,172.16.0.9", "box.vm,172.16.0.2", "[127.0.0.1]:2222" };
	_cleanup_free_ char *want = xasprintf("2 [127.0.0.1]:2222 %s %s\n1 box.vm %s %s\n1 172.16.0.2 %s %s\n",
					      pub->type, pub->b64, pub->type, pub->b64, pub->type, pub->b64);
	lines = pins_groups(kh, groups, 3);
	is_str(lines, want, "groups: INDEX LINE for each group's pins, none for a group without");
	free(lines);
	lines = pins_groups(base, groups, 1);
	is_str(lines, "", "groups of a file that cannot be read: nothing");
	free(lines);
	_cleanup_free_ char *lock = xasprintf("%s.lock", kh), *tmp = xasprintf("%s.tmp", kh);
	tap_ok(access(lock, F_OK) == 0 && access(tmp, F_OK) != 0, "a lock file, no temp file left");

	_cleanup_free_ char *nodir = path_in_base("missing/known_hosts");
	is_int(pins_update(nodir, both, 2, both, 2, &keys, &err) < 0, 1, "a pins file in a missing dir: error");
	tap_ok(strstr(err.msg, "missing") != NULL, "naming the path: %s", err.msg);
}

int main(void)
{
	struct pubkey pub;

	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	test_pool();
	test_sshkey(&pub);
	test_pins(&pub);
	rm_rf(base);
	return tap_done();
}
