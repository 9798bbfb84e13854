/* The guest's SSH host keys: as full public keys for the hello line, and
 * a host-made key installed for identify. */
#include "hostkeys.h"

#include "protocol.h"
#include "fileio.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void keyset_add(struct keyset *ks, const char *key)
{
	if (ks->n == HOSTKEYS_MAX || strlen(key) >= HOSTKEYS_KEY_MAX || !banger_agent_key_valid(key))
		return;
	for (int i = 0; i < ks->n; i++)
		if (strcmp(ks->key[i], key) == 0)
			return;
	strcpy(ks->key[ks->n++], key);
}

/* An OpenSSH public key file: "<type> <base64> [comment]". */
static void add_public_key_file(struct keyset *ks, const char *path)
{
	static char text[8192];
	char key[HOSTKEYS_KEY_MAX];
	long n = read_small_file(path, (uint8_t *)text, sizeof(text) - 1);
	size_t type_len, blob_len;
	const char *blob;

	if (n <= 0)
		return;
	text[n] = '\0';
	type_len = strcspn(text, " \t\r\n");
	blob = text + type_len + strspn(text + type_len, " \t");
	blob_len = strcspn(blob, " \t\r\n");
	if (type_len + 1 + blob_len + 1 > sizeof(key))
		return;
	snprintf(key, sizeof(key), "%.*s:%.*s", (int)type_len, text, (int)blob_len, blob);
	keyset_add(ks, key);
}

static int has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Adds the keys of dir whose file names start with prefix and end with
 * suffix. */
static void add_key_dir(struct keyset *ks, const char *dir, const char *prefix, const char *suffix)
{
	char path[512];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !has_prefix(de->d_name, prefix) || !has_suffix(de->d_name, suffix))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		add_public_key_file(ks, path);
	}
	closedir(d);
}

void hostkeys_collect(struct keyset *ks)
{
	ks->n = 0;
	add_key_dir(ks, "/etc/ssh", "ssh_host_", "_key.pub");
	add_key_dir(ks, "/etc/dropbear", "", "_host_key.pub");
}

void hostkeys_format(const struct keyset *ks, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (int i = 0; i < ks->n; i++) {
		int n = snprintf(out + used, size - used, " hostkey=%s", ks->key[i]);
		if (n < 0 || (size_t)n >= size - used) {
			out[used] = '\0';
			break;
		}
		used += (size_t)n;
	}
}

/* --- a host-made key (identify) --- */

#define KEYFILE_MAX 4096

struct span {
	const uint8_t *p;
	size_t n;
};

struct reader {
	const uint8_t *p;
	size_t left;
	int bad;
};

static uint32_t get_u32(struct reader *r)
{
	uint32_t v;

	if (r->bad || r->left < 4) {
		r->bad = 1;
		return 0;
	}
	v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->left -= 4;
	return v;
}

static struct span get_string(struct reader *r)
{
	struct span s = { NULL, 0 };
	uint32_t n = get_u32(r);

	if (r->bad || n > r->left) {
		r->bad = 1;
		return s;
	}
	s.p = r->p;
	s.n = n;
	r->p += n;
	r->left -= n;
	return s;
}

static int span_is(struct span s, const char *text)
{
	return s.p && s.n == strlen(text) && memcmp(s.p, text, s.n) == 0;
}

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static long b64_decode(const char *in, size_t len, uint8_t *out, size_t size)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		const char *c = in[i] ? strchr(b64_chars, in[i]) : NULL;
		if (in[i] == '=' || in[i] == '\n' || in[i] == '\r')
			continue;
		if (!c)
			return -1;
		acc = acc << 6 | (uint32_t)(c - b64_chars);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == size)
				return -1;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	return (long)n;
}

static void b64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t i;

	for (i = 0; i + 2 < len; i += 3, out += 4) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[0] = b64_chars[v >> 18];
		out[1] = b64_chars[v >> 12 & 63];
		out[2] = b64_chars[v >> 6 & 63];
		out[3] = b64_chars[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
		out[0] = b64_chars[v >> 18];
		out[1] = b64_chars[v >> 12 & 63];
		out[2] = i + 1 < len ? b64_chars[v >> 6 & 63] : '=';
		out[3] = '=';
		out += 4;
	}
	*out = '\0';
}

static int unhex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A key's parts: the OpenSSH file, its public blob, dropbear's file. */
struct hostkey {
	char file[KEYFILE_MAX];
	size_t file_len;
	uint8_t der[KEYFILE_MAX]; /* the decoded body */
	struct span pub_blob;
	uint8_t dropbear[4 + 11 + 4 + 64];
	char pub_line[256];
};

/* Parses an unencrypted OpenSSH ed25519 private key file (PROTOCOL.key). */
static const char *parse_key(struct hostkey *k, const char *hex, const char *name)
{
	static const char begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----", end[] = "-----END OPENSSH PRIVATE KEY-----";
	size_t hex_len = strlen(hex);
	const char *body, *stop;
	struct span pk, sk, cipher, kdf, priv;
	struct reader r, pr;
	char b64[128];
	long n;

	if (hex_len % 2 || hex_len / 2 >= sizeof(k->file))
		return "bad_hostkey_ed25519";
	for (size_t i = 0; i < hex_len; i += 2) {
		int hi = unhex(hex[i]), lo = unhex(hex[i + 1]);
		if (hi < 0 || lo < 0)
			return "bad_hostkey_ed25519";
		k->file[i / 2] = (char)(hi << 4 | lo);
	}
	k->file_len = hex_len / 2;
	k->file[k->file_len] = '\0';
	body = strstr(k->file, begin);
	stop = body ? strstr(body, end) : NULL;
	if (!body || !stop || strlen(k->file) != k->file_len)
		return "hostkey_ed25519_is_not_an_OpenSSH_private_key";
	body += strlen(begin);
	n = b64_decode(body, (size_t)(stop - body), k->der, sizeof(k->der));
	if (n < 15 || memcmp(k->der, "openssh-key-v1", 15) != 0)
		return "hostkey_ed25519_is_not_an_OpenSSH_private_key";
	r = (struct reader){ k->der + 15, (size_t)n - 15, 0 };
	cipher = get_string(&r);
	kdf = get_string(&r);
	get_string(&r); /* kdf options */
	if (get_u32(&r) != 1 || r.bad)
		return "hostkey_ed25519_is_not_one_key";
	k->pub_blob = get_string(&r);
	priv = get_string(&r);
	if (r.bad || !span_is(cipher, "none") || !span_is(kdf, "none"))
		return "hostkey_ed25519_is_encrypted";
	pr = (struct reader){ priv.p, priv.n, 0 };
	if (get_u32(&pr) != get_u32(&pr) || !span_is(get_string(&pr), "ssh-ed25519"))
		return "hostkey_ed25519_is_not_ed25519";
	pk = get_string(&pr);
	sk = get_string(&pr);
	if (pr.bad || pk.n != 32 || sk.n != 64 || memcmp(sk.p + 32, pk.p, 32) != 0 ||
	    k->pub_blob.n != 4 + 11 + 4 + 32 || memcmp(k->pub_blob.p + k->pub_blob.n - 32, pk.p, 32) != 0)
		return "hostkey_ed25519_is_inconsistent";
	/* dropbear's ed25519 file: string "ssh-ed25519", string seed || public */
	memcpy(k->dropbear, "\0\0\0\x0bssh-ed25519\0\0\0\x40", 4 + 11 + 4);
	memcpy(k->dropbear + 4 + 11 + 4, sk.p, 64);
	b64_encode(k->pub_blob.p, k->pub_blob.n, b64);
	snprintf(k->pub_line, sizeof(k->pub_line), "ssh-ed25519 %s root@%s\n", b64, name);
	return NULL;
}

static int write_key_file(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[600];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.banger-new", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	/* no fsync: identify syncs once, after all of its files */
	if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Whether dir holds a file named prefix*suffix. */
static int has_key(const char *dir, const char *prefix, const char *suffix)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int found = 0;

	if (!d)
		return 0;
	while (!found && (de = readdir(d)))
		found = de->d_name[0] != '.' && has_prefix(de->d_name, prefix) && has_suffix(de->d_name, suffix);
	closedir(d);
	return found;
}

/* Removes dir's prefix*suffix and prefix*suffix.pub files except keep's. */
static void remove_other_keys(const char *dir, const char *prefix, const char *suffix, const char *keep)
{
	char path[512], pub_suffix[64];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	snprintf(pub_suffix, sizeof(pub_suffix), "%s.pub", suffix);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !has_prefix(de->d_name, prefix) ||
		    (!has_suffix(de->d_name, suffix) && !has_suffix(de->d_name, pub_suffix)) ||
		    has_prefix(de->d_name, keep))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
}

static int install_pair(const char *key_path, const void *key, size_t len, const char *pub_line)
{
	char pub_path[512];

	snprintf(pub_path, sizeof(pub_path), "%s.pub", key_path);
	if (write_key_file(key_path, key, len, 0600) < 0 ||
	    write_key_file(pub_path, pub_line, strlen(pub_line), 0644) < 0)
		return -1;
	return 0;
}

static int install_for(const char *root, const char *dir, const char *prefix, const char *key_name, const void *key,
		       size_t len, const char *pub_line)
{
	char d[256], path[320];

	snprintf(d, sizeof(d), "%s%s", root, dir);
	if (!has_key(d, prefix, "_key"))
		return 0;
	snprintf(path, sizeof(path), "%s/%s", d, key_name);
	if (install_pair(path, key, len, pub_line) < 0)
		return -1;
	remove_other_keys(d, prefix, "_key", key_name);
	return 1;
}

int hostkeys_install(const char *root, const char *hex, const char *name, char *reason, size_t size)
{
	static struct hostkey k;
	const char *why = parse_key(&k, hex, name);
	int done = 0, r;

	if (!why) {
		r = install_for(root, "/etc/dropbear", "dropbear_", "dropbear_ed25519_host_key", k.dropbear,
				sizeof(k.dropbear), k.pub_line);
		if (r < 0)
			why = "cannot_write_/etc/dropbear/dropbear_ed25519_host_key";
		else if (r > 0)
			done |= HOSTKEYS_DROPBEAR;
	}
	if (!why) {
		r = install_for(root, "/etc/ssh", "ssh_host_", "ssh_host_ed25519_key", k.file, k.file_len, k.pub_line);
		if (r < 0)
			why = "cannot_write_/etc/ssh/ssh_host_ed25519_key";
		else if (r > 0)
			done |= HOSTKEYS_OPENSSH;
	}
	explicit_bzero(&k, sizeof(k));
	if (why) {
		snprintf(reason, size, "%s", why);
		return -1;
	}
	return done;
}

static int listeners(unsigned long *ino, int max);
static int wait_new_listener(const unsigned long *before, int n_before, int wait_ms);

/* True when a dropbear run with argv (n bytes, NUL-separated) loads its
 * host key for each connection: -R (a key type it has none of is made, or
 * read from its default path, when a client asks for it) and every -r
 * naming a file that does not exist, so it has none from its start (with
 * no -r at all it would load the default paths at its start). */
static bool dropbear_argv_rereads(const char *argv, long n)
{
	bool delay = false, named = false;

	for (const char *a = argv; a < argv + n; a += strlen(a) + 1) {
		if (!strcmp(a, "-R"))
			delay = true;
		else if (!strcmp(a, "-r")) {
			a += strlen(a) + 1;
			if (a >= argv + n || access(a, F_OK) == 0)
				return false;
			named = true;
		}
	}
	return delay && named;
}

/* The running dropbear servers (dropbear -F ..., run directly or through
 * the guest kit's loader): their pids (at most max), and in *reread
 * whether every one of them loads its host key for each connection. */
static int dropbear_servers(pid_t *pids, int max, bool *reread)
{
	char path[300], cmd[512], joined[512];
	struct dirent *de;
	DIR *d = opendir("/proc");
	int n_found = 0;
	long n;

	*reread = true;
	if (!d)
		return 0;
	while ((de = readdir(d)) && n_found < max) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		n = read_small_file(path, (uint8_t *)cmd, sizeof(cmd) - 1);
		if (n <= 0)
			continue;
		cmd[n] = '\0';
		/* argv joined by spaces */
		for (long i = 0; i < n; i++)
			joined[i] = cmd[i] ? cmd[i] : ' ';
		joined[n] = '\0';
		if (!strstr(joined, "dropbear -F"))
			continue;
		pids[n_found++] = atoi(de->d_name);
		*reread = *reread && dropbear_argv_rereads(cmd, n);
	}
	closedir(d);
	return n_found;
}

int hostkeys_dropbear_rereads(void)
{
	pid_t pids[8];
	bool reread;

	return dropbear_servers(pids, 8, &reread) > 0 && reread;
}

void hostkeys_restart_dropbear(int wait_ms)
{
	unsigned long before[16];
	int n_before = listeners(before, 16), killed = 0;
	pid_t pids[8];
	bool reread;
	int n = dropbear_servers(pids, 8, &reread);

	for (int i = 0; i < n; i++)
		killed += kill(pids[i], SIGTERM) == 0;
	/* the old one must not answer with the old key once identify is
	 * acked; the init's loop starts the new one meanwhile, and the ack
	 * waits for it to listen */
	if (killed && n_before > 0)
		wait_new_listener(before, n_before, wait_ms);
}

/* The inodes of the sockets listening on TCP port 22 (IPv4 and IPv6). */
static int listeners(unsigned long *ino, int max)
{
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	char line[512];
	int n = 0;

	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char local[64];
			unsigned st;
			unsigned long inode;
			/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
			if (sscanf(line, " %*s %63s %*s %x %*s %*s %*s %*s %*s %lu", local, &st, &inode) != 3)
				continue;
			const char *port = strrchr(local, ':');
			if (st == 0x0A && port && strcmp(port, ":0016") == 0 && n < max)
				ino[n++] = inode;
		}
		fclose(f);
	}
	return n;
}

/* The pid of OpenSSH's listening sshd: its pid file, else the process
 * whose title says "[listener]"; 0 when none runs. */
static pid_t sshd_pid(void)
{
	char text[32], path[300], cmd[256];
	struct dirent *de;
	pid_t pid = 0;
	long n = read_small_file("/run/sshd.pid", (uint8_t *)text, sizeof(text) - 1);
	DIR *d;

	if (n > 0) {
		text[n] = '\0';
		pid = (pid_t)atoi(text);
		if (pid > 1 && kill(pid, 0) == 0)
			return pid;
	}
	d = opendir("/proc");
	if (!d)
		return 0;
	pid = 0;
	while (!pid && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		n = read_small_file(path, (uint8_t *)cmd, sizeof(cmd) - 1);
		if (n <= 0)
			continue;
		cmd[n] = '\0';
		if (strncmp(cmd, "sshd: ", 6) == 0 && strstr(cmd, "[listener]"))
			pid = (pid_t)atoi(de->d_name);
	}
	closedir(d);
	return pid;
}

int hostkeys_openssh_rereads(void)
{
	static const char *const sessions[] = { "/usr/lib/openssh/sshd-session", "/usr/libexec/sshd-session",
						"/usr/libexec/openssh/sshd-session", "/usr/sbin/sshd-session" };
	char path[64], cmd[512];
	pid_t pid = sshd_pid();
	long n;

	if (pid <= 0)
		return 0;
	for (size_t i = 0; i < sizeof(sessions) / sizeof(sessions[0]); i++)
		if (access(sessions[i], F_OK) == 0)
			return 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	n = read_small_file(path, (uint8_t *)cmd, sizeof(cmd) - 1);
	if (n <= 0)
		return 0;
	/* its argv (NUL-separated), or its title "sshd: ARGV [listener] ..." */
	for (long i = 0; i < n; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	cmd[n] = '\0';
	for (char *p = cmd; (p = strstr(p, "-r"));)
		if ((p == cmd || p[-1] == ' ') && (p[2] == ' ' || p[2] == '\0'))
			return 0; /* -r: no re-exec */
		else
			p += 2;
	return 1;
}

/* Waits until none of the sockets in before listens any more (the new
 * server's are other sockets), then until the new server listens, so the
 * host's first ssh attempt finds it: 0, or -1 after wait_ms. */
static int wait_new_listener(const unsigned long *before, int n_before, int wait_ms)
{
	unsigned long now[16];
	bool gone = false;

	for (int waited = 0; waited < wait_ms; waited += 5) {
		int n_now = listeners(now, 16);
		bool old = false;
		for (int i = 0; i < n_now && !old; i++)
			for (int j = 0; j < n_before; j++)
				old |= now[i] == before[j];
		gone |= !old;
		if (gone && !old && n_now > 0)
			return 0;
		usleep(5000);
	}
	return gone ? 0 : -1;
}

int hostkeys_ssh_listening(void)
{
	unsigned long ino[1];

	return listeners(ino, 1) > 0;
}

int hostkeys_restart_openssh(int wait_ms)
{
	unsigned long before[16];
	int n_before;
	pid_t pid = sshd_pid();

	n_before = listeners(before, 16);
	if (pid <= 0 || n_before == 0 || kill(pid, SIGHUP) < 0)
		return -1;
	/* sshd closes its listening sockets on SIGHUP and re-executes itself,
	 * reading its host keys again before it listens anew */
	return wait_new_listener(before, n_before, wait_ms);
}
