/* banger-agent: the guest side of the banger agent channel.
 *
 * Runs inside the guest (started by the rootfs init, not PID 1). Finds the
 * virtio-serial port named org.banger.agent, says hello every time the host
 * side connects, answers pings and powers the guest off on request. The wire
 * protocol is described in protocol.h.
 *
 * Port semantics (virtio_console): read() returns 0 while no host client is
 * connected, write() blocks until one is, and poll() always reports POLLHUP
 * while disconnected. So the agent polls for POLLOUT at a short interval
 * before it composes the hello, which keeps uptime_ms fresh.
 */
#define _GNU_SOURCE
#include "protocol.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define SYSFS_PORTS "/sys/class/virtio-ports"
#define MAX_KEYS 8
#define FP_MAX 128

static int dry_run;

static void logmsg(const char *fmt, ...)
{
	va_list ap;

	fputs("banger-agent: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- SHA-256 (FIPS 180-4), just enough for key fingerprints ---- */

struct sha256 {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
	size_t n;
};

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(struct sha256 *s, const uint8_t *p)
{
	uint32_t w[64], v[8], t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (; i < 64; i++)
		w[i] = w[i - 16] + (ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3)) +
		       w[i - 7] + (ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10));
	memcpy(v, s->h, sizeof(v));
	for (i = 0; i < 64; i++) {
		t1 = v[7] + (ROR(v[4], 6) ^ ROR(v[4], 11) ^ ROR(v[4], 25)) +
		     ((v[4] & v[5]) ^ (~v[4] & v[6])) + sha256_k[i] + w[i];
		t2 = (ROR(v[0], 2) ^ ROR(v[0], 13) ^ ROR(v[0], 22)) +
		     ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
		memmove(v + 1, v, 7 * sizeof(v[0]));
		v[4] += t1;
		v[0] = t1 + t2;
	}
	for (i = 0; i < 8; i++)
		s->h[i] += v[i];
}

static void sha256_init(struct sha256 *s)
{
	static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };

	memcpy(s->h, iv, sizeof(iv));
	s->len = 0;
	s->n = 0;
}

static void sha256_update(struct sha256 *s, const uint8_t *p, size_t len)
{
	s->len += len;
	while (len--) {
		s->buf[s->n++] = *p++;
		if (s->n == 64) {
			sha256_block(s, s->buf);
			s->n = 0;
		}
	}
}

static void sha256_final(struct sha256 *s, uint8_t out[32])
{
	uint64_t bits = s->len * 8;
	uint8_t pad = 0x80, len[8];
	int i;

	sha256_update(s, &pad, 1);
	pad = 0;
	while (s->n != 56)
		sha256_update(s, &pad, 1);
	for (i = 0; i < 8; i++)
		len[i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_update(s, len, 8);
	for (i = 0; i < 32; i++)
		out[i] = (uint8_t)(s->h[i / 4] >> (24 - 8 * (i % 4)));
}

/* ---- base64 ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Unpadded, as OpenSSH prints SHA256 fingerprints. */
static void b64_encode(const uint8_t *in, size_t n, char *out)
{
	uint32_t v;
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*out++ = b64[v >> 18];
		*out++ = b64[(v >> 12) & 63];
		*out++ = b64[(v >> 6) & 63];
		*out++ = b64[v & 63];
	}
	if (n - i == 1) {
		*out++ = b64[in[i] >> 2];
		*out++ = b64[(in[i] & 3) << 4];
	} else if (n - i == 2) {
		v = (uint32_t)in[i] << 8 | in[i + 1];
		*out++ = b64[v >> 10];
		*out++ = b64[(v >> 4) & 63];
		*out++ = b64[(v << 2) & 63];
	}
	*out = '\0';
}

/* Returns the decoded length, or -1 on a bad character or overflow. */
static long b64_decode(const char *in, size_t n, uint8_t *out, size_t out_size)
{
	uint32_t acc = 0;
	size_t len = 0;
	int bits = 0;
	const char *c;

	for (size_t i = 0; i < n && in[i] != '='; i++) {
		c = strchr(b64, in[i]);
		if (!c || !in[i])
			return -1;
		acc = acc << 6 | (uint32_t)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (len == out_size)
				return -1;
			out[len++] = (uint8_t)(acc >> bits);
		}
	}
	return (long)len;
}

/* ---- SSH host keys ---- */

struct keyset {
	int n;
	char fp[MAX_KEYS][FP_MAX]; /* "<type>:SHA256:<b64>" */
};

static void keyset_add(struct keyset *ks, const char *type, const uint8_t *blob, size_t len)
{
	struct sha256 s;
	uint8_t d[32];
	char enc[48], fp[FP_MAX];

	if (ks->n == MAX_KEYS || strlen(type) > 40 || strpbrk(type, " \n="))
		return;
	sha256_init(&s);
	sha256_update(&s, blob, len);
	sha256_final(&s, d);
	b64_encode(d, sizeof(d), enc);
	snprintf(fp, sizeof(fp), "%s:SHA256:%s", type, enc);
	for (int i = 0; i < ks->n; i++)
		if (strcmp(ks->fp[i], fp) == 0)
			return;
	memcpy(ks->fp[ks->n++], fp, sizeof(fp));
}

static long read_small_file(const char *path, uint8_t *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t r;

	if (fd < 0)
		return -1;
	while (len < size && (r = read(fd, buf + len, size - len)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		len += (size_t)r;
	}
	close(fd);
	return (long)len;
}

/* An OpenSSH public key file: "<type> <base64 blob> [comment]". */
static void add_openssh_pub(struct keyset *ks, const char *path)
{
	static uint8_t text[8192], blob[4096];
	char type[64];
	long n = read_small_file(path, text, sizeof(text) - 1);
	char *sp, *b, *e;
	long len;

	if (n <= 0)
		return;
	text[n] = '\0';
	sp = strchr((char *)text, ' ');
	if (!sp || sp - (char *)text >= (long)sizeof(type))
		return;
	memcpy(type, text, (size_t)(sp - (char *)text));
	type[sp - (char *)text] = '\0';
	b = sp + strspn(sp, " ");
	e = b + strcspn(b, " \t\r\n");
	len = b64_decode(b, (size_t)(e - b), blob, sizeof(blob));
	if (len > 0)
		keyset_add(ks, type, blob, (size_t)len);
}

/* Length of the SSH "string"/"mpint" field at p (4-byte length + data), or 0. */
static size_t ssh_field(const uint8_t *p, size_t avail)
{
	uint32_t n;

	if (avail < 4)
		return 0;
	n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return n > avail - 4 ? 0 : 4 + (size_t)n;
}

/* A dropbear private host key. Its public blob is a prefix of the file
 * (rsa: type e n; ecdsa: type curve Q), except ed25519 which stores
 * string(priv[32] || pub[32]). */
static void add_dropbear_key(struct keyset *ks, const char *path)
{
	static uint8_t k[8192];
	uint8_t blob[4 + 11 + 4 + 32];
	char type[64];
	long n = read_small_file(path, k, sizeof(k));
	size_t off, f, tlen;
	int fields, i;

	if (n <= 0 || (f = ssh_field(k, (size_t)n)) == 0 || f - 4 >= sizeof(type))
		return;
	tlen = f - 4;
	memcpy(type, k + 4, tlen);
	type[tlen] = '\0';
	if (strcmp(type, "ssh-ed25519") == 0) {
		if (ssh_field(k + f, (size_t)n - f) != 4 + 64)
			return;
		memcpy(blob, k, f);
		blob[f] = 0, blob[f + 1] = 0, blob[f + 2] = 0, blob[f + 3] = 32;
		memcpy(blob + f + 4, k + f + 4 + 32, 32);
		keyset_add(ks, type, blob, f + 4 + 32);
		return;
	}
	if (strcmp(type, "ssh-rsa") == 0 || strncmp(type, "ecdsa-sha2-", 11) == 0)
		fields = 3;
	else
		return;
	for (off = 0, i = 0; i < fields; i++) {
		f = ssh_field(k + off, (size_t)n - off);
		if (!f)
			return;
		off += f;
	}
	keyset_add(ks, type, k, off);
}

static int has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

static void collect_hostkeys(struct keyset *ks)
{
	static const char *dirs[] = { "/etc/ssh", "/etc/dropbear" };
	char path[512];
	struct dirent *de;
	DIR *d;

	ks->n = 0;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		d = opendir(dirs[i]);
		if (!d)
			continue;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dirs[i], de->d_name);
			if (has_suffix(de->d_name, ".pub") && strncmp(de->d_name, "ssh_host_", 9) == 0)
				add_openssh_pub(ks, path);
			else if (strncmp(de->d_name, "dropbear_", 9) == 0 &&
				 has_suffix(de->d_name, "_host_key"))
				add_dropbear_key(ks, path);
		}
		closedir(d);
	}
}

/* ---- the port ---- */

/* Finds the agent port; returns 0 and fills out, or -1. */
static int find_port(char *out, size_t size)
{
	char path[512], name[128];
	struct dirent *de;
	struct stat st;
	long n;
	DIR *d;

	snprintf(out, size, "/dev/virtio-ports/%s", BANGER_AGENT_PORT_NAME);
	if (stat(out, &st) == 0)
		return 0;
	d = opendir(SYSFS_PORTS);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), SYSFS_PORTS "/%s/name", de->d_name);
		n = read_small_file(path, (uint8_t *)name, sizeof(name) - 1);
		if (n <= 0)
			continue;
		name[n] = '\0';
		name[strcspn(name, "\n")] = '\0';
		if (strcmp(name, BANGER_AGENT_PORT_NAME) == 0) {
			snprintf(out, size, "/dev/%s", de->d_name);
			closedir(d);
			return 0;
		}
	}
	closedir(d);
	return -1;
}

static int write_all(int fd, const char *buf, size_t len)
{
	ssize_t r;

	while (len) {
		r = write(fd, buf, len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += r;
		len -= (size_t)r;
	}
	return 0;
}

static int send_line(int fd, const char *fmt, ...)
{
	char line[BANGER_AGENT_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 1)
		return -1;
	line[n++] = '\n';
	return write_all(fd, line, (size_t)n);
}

static uint64_t uptime_ms(void)
{
	char buf[64];
	long n = read_small_file("/proc/uptime", (uint8_t *)buf, sizeof(buf) - 1);
	uint64_t sec = 0, frac = 0, scale = 1000;
	struct timespec ts;
	char *p;

	if (n > 0) {
		buf[n] = '\0';
		sec = strtoull(buf, &p, 10);
		if (*p == '.')
			for (p++; *p >= '0' && *p <= '9' && scale > 1; p++) {
				scale /= 10;
				frac += (uint64_t)(*p - '0') * scale;
			}
		return sec * 1000 + frac;
	}
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int send_hello(int fd)
{
	char keys[BANGER_AGENT_LINE_MAX / 2] = "";
	struct keyset ks;
	struct utsname u;
	size_t used = 0;

	if (uname(&u) < 0)
		strcpy(u.release, "unknown");
	collect_hostkeys(&ks);
	for (int i = 0; i < ks.n; i++) {
		int n = snprintf(keys + used, sizeof(keys) - used, " hostkey=%s", ks.fp[i]);
		if (n < 0 || (size_t)n >= sizeof(keys) - used) {
			keys[used] = '\0';
			break;
		}
		used += (size_t)n;
	}
	return send_line(fd, "hello proto=%d agent=%s kernel=%s uptime_ms=%" PRIu64 "%s",
			 BANGER_AGENT_PROTO_VERSION, BANGER_AGENT_VERSION, u.release, uptime_ms(), keys);
}

static void power_off(void)
{
	char comm[32] = "";
	long n = read_small_file("/proc/1/comm", (uint8_t *)comm, sizeof(comm) - 1);
	int sig = SIGUSR2; /* busybox init and banger's init: USR2 = poweroff */

	if (n > 0 && strncmp(comm, "systemd", 7) == 0)
		sig = SIGRTMIN + 4; /* systemd: SIGRTMIN+4 = poweroff.target */
	sync();
	if (dry_run) {
		logmsg("shutdown requested (dry run, not powering off)");
		return;
	}
	logmsg("shutdown requested, powering off");
	if (kill(1, sig) == 0)
		sleep_ms(10000); /* init kills us while shutting down */
	logmsg("init did not power off, forcing it");
	sync();
	reboot(RB_POWER_OFF);
}

/* Handles one line from the host. Returns -1 when the link is broken. */
static int handle_line(int fd, char *line)
{
	char id[64];

	if (banger_agent_is_verb(line, "ping")) {
		if (banger_agent_field(line, "id", id, sizeof(id)) < 0)
			return send_line(fd, "pong");
		return send_line(fd, "pong id=%s", id);
	}
	if (banger_agent_is_verb(line, "shutdown")) {
		if (send_line(fd, "ack verb=shutdown") < 0)
			return -1;
		power_off();
		return 0;
	}
	return 0; /* unknown verbs are ignored */
}

/* Waits until the host side is connected (POLLOUT). Returns -1 on error. */
static int wait_host(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int r;

	for (;;) {
		r = poll(&p, 1, 200);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r > 0 && (p.revents & POLLOUT))
			return 0;
		if (r > 0 && (p.revents & (POLLERR | POLLNVAL)))
			return -1;
		if (r > 0)
			sleep_ms(100); /* POLLHUP: no host yet, poll() won't block */
	}
}

/* One connection: hello, then serve lines until EOF or an error. */
static void session(int fd)
{
	char buf[BANGER_AGENT_LINE_MAX];
	size_t len = 0;
	int skipping = 0;
	ssize_t r;
	char *nl;

	if (wait_host(fd) < 0 || send_hello(fd) < 0)
		return;
	for (;;) {
		r = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return; /* 0: the host disconnected */
		len += (size_t)r;
		buf[len] = '\0';
		while ((nl = memchr(buf, '\n', len))) {
			*nl = '\0';
			if (nl > buf && nl[-1] == '\r')
				nl[-1] = '\0';
			if (!skipping && handle_line(fd, buf) < 0)
				return;
			skipping = 0;
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
		}
		if (len == sizeof(buf) - 1) { /* over-long line: drop it */
			skipping = 1;
			len = 0;
		}
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: banger-agent [-n] [-p PORT]\n"
		   "  -p PORT  use this device instead of the virtio-serial port '%s'\n"
		   "  -n       dry run: acknowledge shutdown but do not power off\n",
		BANGER_AGENT_PORT_NAME);
}

int main(int argc, char **argv)
{
	const char *fixed = NULL;
	char port[512];
	int opt, fd, warned = 0;

	while ((opt = getopt(argc, argv, "hnp:")) != -1) {
		switch (opt) {
		case 'p':
			fixed = optarg;
			break;
		case 'n':
			dry_run = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		if (fixed)
			snprintf(port, sizeof(port), "%s", fixed);
		else if (find_port(port, sizeof(port)) < 0) {
			if (!warned++)
				logmsg("waiting for virtio-serial port %s", BANGER_AGENT_PORT_NAME);
			sleep_ms(1000);
			continue;
		}
		fd = open(port, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd < 0) {
			if (!warned++)
				logmsg("cannot open %s: %s", port, strerror(errno));
			sleep_ms(1000);
			continue;
		}
		warned = 0;
		session(fd);
		close(fd);
		sleep_ms(200);
	}
}
