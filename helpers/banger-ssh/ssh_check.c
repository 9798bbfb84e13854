#include "ssh_check.h"
#include "sshd_probe.h"
#include "util.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <libssh/libssh.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void fingerprints(const struct pinset *keys, char *out, size_t size)
{
	size_t len = 0;
	char fp[128];

	out[0] = '\0';
	for (int i = 0; i < keys->n && len < size; i++) {
		pubkey_fingerprint(&keys->key[i], fp, sizeof(fp));
		len += (size_t)snprintf(out + len, size - len, "%s%s %s", i ? ", " : "", keys->key[i].type, fp);
	}
}

static bool set_has(const struct pinset *set, const struct pubkey *k)
{
	for (int i = 0; i < set->n; i++)
		if (pubkey_equal(&set->key[i], k))
			return true;
	return false;
}

static int fail(struct ssh_check *j, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct ssh_check *j, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(j->msg, sizeof(j->msg), fmt, ap);
	va_end(ap);
	j->result = -code;
	return -code;
}

/* Agent mode: pins the agent's keys on first contact, else requires every
 * pinned key to be among them. Keeps the address line(s) in step. */
static int pin_agent_keys(struct ssh_check *j)
{
	struct pinset pinned, at_addr;
	const char *const *hosts = j->pin_hosts;
	char want[512], got[512];
	bgr_error err;

	if (pins_lookup(j->known_hosts, hosts[0], &pinned, &err) < 0)
		return fail(j, err.code, "%s", err.msg);
	if (pinned.n == 0) {
		if (pins_update(j->known_hosts, hosts, (size_t)j->n_drop, hosts, (size_t)j->n_hosts, &j->agent_keys,
				&err) < 0)
			return fail(j, err.code, "cannot pin the host key: %s", err.msg);
		return 0;
	}
	for (int i = 0; i < pinned.n; i++) {
		if (!set_has(&j->agent_keys, &pinned.key[i])) {
			fingerprints(&pinned, want, sizeof(want));
			fingerprints(&j->agent_keys, got, sizeof(got));
			return fail(j, EIO,
				    "host key mismatch for %s: pinned %s, the guest now has %s (possible MITM; if the "
				    "key was changed on purpose, delete its lines from %s)",
				    hosts[0], want, got[0] ? got : "none", j->known_hosts);
		}
	}
	if (j->n_hosts < 2)
		return 0;
	if (pins_lookup(j->known_hosts, hosts[1], &at_addr, &err) < 0)
		return fail(j, err.code, "%s", err.msg);
	bool same = at_addr.n == pinned.n;
	for (int i = 0; same && i < pinned.n; i++)
		same = set_has(&at_addr, &pinned.key[i]);
	if ((!same || j->n_drop > j->n_hosts) &&
	    pins_update(j->known_hosts, &hosts[1], (size_t)(j->n_drop - 1), &hosts[1], 1, &pinned, &err) < 0)
		return fail(j, err.code, "cannot pin the host key: %s", err.msg);
	return 0;
}

static void ssh_free_session(ssh_session *s)
{
	if (*s) {
		ssh_disconnect(*s);
		ssh_free(*s);
	}
}
#define _cleanup_session_ __attribute__((cleanup(ssh_free_session)))
static void ssh_key_freep(ssh_key *k)
{
	ssh_key_free(*k);
}
#define _cleanup_key_ __attribute__((cleanup(ssh_key_freep)))

/* How long one attempt (connect, banner, key exchange, auth) may take.
 * Under TCG a guest's sshd re-executes itself, loads libcrypto and signs
 * for each connection while the rest of its boot still runs: the key
 * exchange alone has taken more than 3 s there, and a 3 s limit then
 * dropped every attempt half-way (sshd logs "Received disconnect ... Bye
 * Bye [preauth]") and started over, adding 10-20 s to a boot. A port that
 * nothing listens on fails at once (RST), so the limit only matters for an
 * sshd that answers slowly: let it finish, up to the check's deadline. */
#define ATTEMPT_TIMEOUT_S 30L
/* between attempts: sshd refused the key (the authorize may still be on
 * its way) */
#define RETRY_MS 100
/* sshd is not listening yet (a refused connect, or slirp closing one it
 * could not pass on), or sent no banner: that costs the guest next to
 * nothing, and a boot's sshd comes up any moment after the agent's hello */
#define CONNECT_RETRY_MS 25

static ssh_session new_session(struct ssh_check *j, long timeout)
{
	ssh_session s = ssh_new();
	int no = 0, verbosity = SSH_LOG_NOLOG;
	unsigned port = (unsigned)j->port;

	if (!s)
		return NULL;
	/* nothing of the user's ssh setup is read: no config, no known_hosts */
	if (ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_HOST, j->host) < 0 || ssh_options_set(s, SSH_OPTIONS_PORT, &port) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_USER, "root") < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, j->known_hosts) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, j->known_hosts) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout) < 0) {
		ssh_free(s);
		return NULL;
	}
	return s;
}

static void server_key(ssh_session s, struct pinset *out)
{
	_cleanup_key_ ssh_key key = NULL;
	char *b64 = NULL;
	const char *type;

	out->n = 0;
	if (ssh_get_server_publickey(s, &key) != SSH_OK)
		return;
	type = ssh_key_type_to_char(ssh_key_type(key));
	if (type && ssh_pki_export_pubkey_base64(key, &b64) == SSH_OK && strlen(b64) < SSHKEY_B64_MAX) {
		snprintf(out->key[0].type, sizeof(out->key[0].type), "%s", type);
		snprintf(out->key[0].b64, sizeof(out->key[0].b64), "%s", b64);
		out->n = 1;
	}
	ssh_string_free_char(b64);
}

/* What libssh says of the server's key against the pins; 0 when pinned. */
static int check_host_key(struct ssh_check *j, ssh_session s)
{
	enum ssh_known_hosts_e known = ssh_session_is_known_server(s);
	struct pinset offered, pinned;
	const char *const *hosts = j->pin_hosts;
	char want[512], got[512];
	bgr_error err;

	if (known == SSH_KNOWN_HOSTS_OK)
		return 0;
	server_key(s, &offered);
	fingerprints(&offered, got, sizeof(got));
	if ((known == SSH_KNOWN_HOSTS_NOT_FOUND || known == SSH_KNOWN_HOSTS_UNKNOWN) && j->agent_keys.n == 0 &&
	    offered.n) {
		/* trust on first use: only for guests whose agent reports no keys,
		 * and only once per VM: the address may be new (user mode gets a
		 * new port each boot), NAME.vm's pins are not */
		if (pins_lookup(j->known_hosts, hosts[0], &pinned, &err) < 0)
			return fail(j, err.code, "%s", err.msg);
		if (pinned.n) {
			if (!set_has(&pinned, &offered.key[0])) {
				fingerprints(&pinned, want, sizeof(want));
				return fail(j, EIO,
					    "host key mismatch for %s (%s:%d): pinned %s, sshd offered %s (possible "
					    "MITM)",
					    hosts[0], j->host, j->port, want, got);
			}
			if (j->n_hosts > 1 && pins_update(j->known_hosts, &hosts[1], (size_t)(j->n_drop - 1), &hosts[1],
							  1, &pinned, &err) < 0)
				return fail(j, err.code, "cannot pin the host key: %s", err.msg);
			j->tofu_pinned = true; /* still the key first trusted on use */
			return ssh_session_is_known_server(s) == SSH_KNOWN_HOSTS_OK
				       ? 0
				       : fail(j, EIO, "ssh: the key pinned for %s does not verify at %s:%d", hosts[0],
					      j->host, j->port);
		}
		if (pins_update(j->known_hosts, hosts, (size_t)j->n_drop, hosts, (size_t)j->n_hosts, &offered, &err) <
		    0)
			return fail(j, err.code, "cannot pin the host key: %s", err.msg);
		j->tofu_pinned = true;
		return ssh_session_is_known_server(s) == SSH_KNOWN_HOSTS_OK
			       ? 0
			       : fail(j, EIO, "ssh: the key just pinned for %s does not verify", hosts[1]);
	}
	if (known == SSH_KNOWN_HOSTS_ERROR)
		return fail(j, EIO, "ssh: cannot check the host key of %s:%d: %s", j->host, j->port, ssh_get_error(s));
	pins_lookup(j->known_hosts, hosts[0], &pinned, &err);
	fingerprints(&pinned, want, sizeof(want));
	return fail(j, EIO, "host key mismatch for %s (%s:%d): pinned %s, sshd offered %s (possible MITM)", hosts[0],
		    j->host, j->port, want[0] ? want : "none", got[0] ? got : "none");
}

static long long now_ms(void)
{
	return now_mono_ms();
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* seconds for the next attempt: ATTEMPT_TIMEOUT_S, or what is left of the
 * deadline when that is less (at least 1) */
static long attempt_timeout(const struct ssh_check *j)
{
	long left = (long)((j->deadline_ms - now_ms() + 999) / 1000);

	if (left > ATTEMPT_TIMEOUT_S)
		return ATTEMPT_TIMEOUT_S;
	return left < 1 ? 1 : left;
}

/* A TCP connection to the guest's port: the socket, or -1 with errno set
 * and what went wrong in last. A connect (SYN) nobody answers ends within a
 * second. */
static int dial(const struct ssh_check *j, int port, char *last, size_t size)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
	struct timeval tv = { 1, 0 };
	char service[16];
	int fd, err;

	snprintf(service, sizeof(service), "%d", port);
	if (getaddrinfo(j->host, service, &hints, &ai) != 0 || !ai) {
		snprintf(last, size, "cannot resolve %s", j->host);
		errno = EINVAL;
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
			connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)) {
		err = errno;
		close(fd);
		fd = -1;
		errno = err;
	}
	if (fd < 0)
		snprintf(last, size, "connect: %s", strerror(errno));
	freeaddrinfo(ai);
	return fd;
}

/* One try at sshd's identification line ("SSH-2.0-..."): 0, or -1 with
 * what went wrong in last. */
static int read_banner(const struct ssh_check *j, char *last, size_t size)
{
	char line[256];
	size_t len = 0;
	int fd = dial(j, j->port, last, size), r = -1;

	if (fd < 0)
		return -1;
	while (len < sizeof(line) - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = j->deadline_ms - now_mono_ms();
		if ((left > 0 ? poll(&p, 1, (int)(left > 1000 ? 1000 : left)) : 0) <= 0) {
			/* an attempt the deadline cut short: the one before says more */
			if (now_mono_ms() < j->deadline_ms || strcmp(last, "no answer") == 0)
				snprintf(last, size, "no banner");
			goto out;
		}
		ssize_t n = read(fd, line + len, sizeof(line) - 1 - len);
		if (n <= 0) {
			snprintf(last, size, "the connection closed before a banner");
			goto out;
		}
		len += (size_t)n;
		line[len] = '\0';
		if (strchr(line, '\n'))
			break;
	}
	/* sshd may send other lines first (RFC 4253 4.2); the banner is ours */
	if (strncmp(line, "SSH-2.0-", 8) == 0 || strstr(line, "\nSSH-2.0-"))
		r = 0;
	else
		snprintf(last, size, "no SSH-2.0 banner");
out:
	close(fd);
	return r;
}

/* Pin mode: the pins went in, and the guest's agent saw its SSH server
 * listen; what is left to see is that the guest is reachable (a bridged
 * clone's link just came up, and the host's neighbour entry for its
 * address may be a deleted VM's). Port 1, where nothing listens: the
 * guest's kernel answers with a reset, which costs it nothing, where a
 * connection to sshd would cost a restored TCG guest up to a second. */
static void reach_check(struct ssh_check *j, long long t0)
{
	char last[256] = "no answer";

	while (now_mono_ms() < j->deadline_ms) {
		int fd = dial(j, 1, last, sizeof(last));
		if (fd >= 0 || errno == ECONNREFUSED) {
			if (fd >= 0)
				close(fd);
			j->took_ms = now_mono_ms() - t0;
			return;
		}
		sleep_ms(CONNECT_RETRY_MS);
	}
	fail(j, ETIMEDOUT, "the guest at %s did not become reachable: %s", j->host, last);
}

/* Banner mode: the pins went in; sshd answers. */
static void banner_check(struct ssh_check *j, long long t0)
{
	char last[256] = "no answer";

	while (now_mono_ms() < j->deadline_ms) {
		if (read_banner(j, last, sizeof(last)) == 0) {
			j->took_ms = now_mono_ms() - t0;
			return;
		}
		sleep_ms(CONNECT_RETRY_MS);
	}
	fail(j, ETIMEDOUT, "ssh on %s:%d did not become ready: %s", j->host, j->port, last);
}

void ssh_check_run(struct ssh_check *j)
{
	_cleanup_key_ ssh_key key = NULL, pub = NULL;
	long long t0 = now_ms();
	char last[256] = "no answer";

	if (j->agent_keys.n && pin_agent_keys(j) < 0)
		return;
	if (j->mode == SSH_CHECK_PIN) {
		reach_check(j, t0);
		return;
	}
	if (j->mode == SSH_CHECK_BANNER) {
		banner_check(j, t0);
		return;
	}
	if (ssh_pki_import_privkey_file(j->key_path, NULL, NULL, NULL, &key) != SSH_OK) {
		fail(j, EIO, "cannot read the ssh key %s", j->key_path);
		return;
	}
	if (ssh_pki_export_privkey_to_pubkey(key, &pub) != SSH_OK) {
		fail(j, EIO, "cannot derive the public key of %s", j->key_path);
		return;
	}
	bool net_up = false;
	while (now_ms() < j->deadline_ms) {
		int fd = sshd_probe_wait(j->host, j->port, j->deadline_ms, &net_up, last, sizeof(last));
		if (fd < 0)
			break;
		_cleanup_session_ ssh_session s = new_session(j, attempt_timeout(j));
		/* libssh takes a copy: whether it closes the one it has is its
		 * business */
		int own = dup(fd);
		close(fd);
		if (!s || own < 0 || ssh_options_set(s, SSH_OPTIONS_FD, &own) < 0) {
			if (own >= 0)
				close(own);
			fail(j, ENOMEM, "ssh: cannot set up a libssh session");
			return;
		}
		if (ssh_connect(s) != SSH_OK) {
			snprintf(last, sizeof(last), "%s", ssh_get_error(s));
			sleep_ms(CONNECT_RETRY_MS);
			continue;
		}
		if (check_host_key(j, s) < 0)
			return;
		if (j->mode == SSH_CHECK_HOSTKEY) {
			j->took_ms = now_ms() - t0;
			return;
		}
		/* The key is offered, not signed with: sshd answers PK_OK when
		 * root's authorized_keys holds it (the agent's authorize worked),
		 * and the server's key was verified above. A full login would
		 * also open a PAM session in the guest (seconds of its one vCPU
		 * under TCG, right when the user's first ssh connects) and prove
		 * only that we hold our own private key. */
		int rc = ssh_userauth_try_publickey(s, "root", pub);
		if (rc == SSH_AUTH_SUCCESS) {
			j->took_ms = now_ms() - t0;
			return;
		}
		snprintf(last, sizeof(last), "sshd refused banger's key (%s)", ssh_get_error(s));
		sleep_ms(RETRY_MS);
	}
	fail(j, ETIMEDOUT, "ssh on %s:%d did not become ready: %s", j->host, j->port, last);
}
