#include "ssh_verify.h"
#include "network.h"
#include "ssh_helper.h"
#include "log.h"
#include "util.h"
#include "workers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct verify_job {
	struct vmm *m;
	int64_t vm_id;
	int64_t boot; /* started_at of the boot this check belongs to */
	char **argv;  /* banger-ssh check ... */
	char *known_hosts, *drop_hosts[3];
	int n_drop;
	/* results */
	int result; /* 0 or -errno */
	char msg[BGR_ERROR_MAX];
	bool tofu_pinned;
	long long took_ms;
};

int hello_host_key_count(const char *hello)
{
	const char *v = hello;
	size_t len;
	int n = 0;

	while ((v = banger_agent_find_value(v, "hostkey", &len))) {
		n++;
		v += len;
	}
	return n;
}

int hello_host_keys_check(const char *hello, char *msg, size_t size)
{
	int n = hello_host_key_count(hello);

	if (n <= HELLO_KEYS_MAX)
		return 0;
	snprintf(msg, size,
		 "the guest agent reported %d ssh host keys, more than %d: refusing them (a broken or hostile "
		 "guest; nothing was pinned)",
		 n, HELLO_KEYS_MAX);
	return -EINVAL;
}

int hello_host_keys(const char *hello, char *keys[HELLO_KEYS_MAX], int *bad)
{
	const char *v = hello;
	size_t len;
	int n = 0;

	*bad = 0;
	while ((v = banger_agent_find_value(v, "hostkey", &len))) {
		_cleanup_free_ char *value = xasprintf("%.*s", (int)len, v);

		v += len;
		if (n == HELLO_KEYS_MAX || !banger_agent_key_valid(value)) {
			(*bad)++;
			continue;
		}
		keys[n++] = steal_ptr(&value);
	}
	return n;
}

static bool quitting(void *ctx)
{
	struct vmm *m = ctx;
	return atomic_load(&m->quitting);
}

/* Parses "ok agent|tofu MS" or "fail ERRNO REASON". */
static void read_verdict(struct verify_job *j, const char *out, int status)
{
	char mode[8];
	long long ms;
	int code, used = 0;

	if (sscanf(out, "ok %7s %lld", mode, &ms) == 2) {
		j->tofu_pinned = strcmp(mode, "tofu") == 0;
		j->took_ms = ms;
		return;
	}
	if (sscanf(out, "fail %d %n", &code, &used) == 1 && used > 0 && code > 0) {
		j->result = -code;
		snprintf(j->msg, sizeof(j->msg), "%.*s", (int)strcspn(out + used, "\n"), out + used);
		return;
	}
	j->result = -EIO;
	snprintf(j->msg, sizeof(j->msg), "ssh check: banger-ssh (%s) failed (status %d): %.*s", ssh_helper_path(),
		 status, (int)strcspn(out, "\n"), out);
}

static void verify_work(void *data)
{
	struct verify_job *j = data;
	int status;
	_cleanup_free_ char *out = ssh_helper_run(j->argv, &status, quitting, j->m);

	read_verdict(j, out, status);
}

static void free_job(struct verify_job *j)
{
	for (char **a = j->argv + 1; *a; a++)
		free(*a);
	free(j->argv);
	free(j->known_hosts);
	for (int i = 0; i < j->n_drop; i++)
		free(j->drop_hosts[i]);
	free(j);
}

/* On a worker: the pins of a VM that went away during its check. */
static void drop_work(void *data)
{
	struct verify_job *j = data;
	bgr_error err;

	if (ssh_helper_drop(j->known_hosts, (const char *const *)j->drop_hosts, (size_t)j->n_drop, &err) < 0)
		log_msg("cannot drop the pins of a VM deleted during its ssh check: %s", err.msg);
}

static void drop_done(void *data)
{
	struct verify_job *j = data;

	vmm_pins_refresh(j->m, NULL, NULL, NULL);
	free_job(j);
}

static void verify_done(void *data)
{
	struct verify_job *j = data;
	struct vm *vm = vmm_vm_by_id(j->m, j->vm_id);

	/* the check pinned (or dropped) keys: known_hosts in memory follows */
	vmm_pins_refresh(j->m, NULL, NULL, NULL);

	if (atomic_load(&j->m->quitting)) {
		/* bangerd is going away mid-check: leave the VM as it is; the next
		 * bangerd re-adopts it and checks again */
	} else if (vm && vm->verifying && vm->rec.started_at == j->boot) {
		vm->verifying = false;
		j->m->hooks.ssh_verified(j->m, vm, j->result, j->msg, j->tofu_pinned, j->took_ms);
	} else if (!vm && j->result == 0) {
		/* the VM went away while we pinned: take its pins back out */
		workers_submit(j->m->workers, drop_work, drop_done, j);
		return;
	}
	free_job(j);
}

/* argv has room for cap entries, the NULL that ends it included */
static void push(char **argv, int cap, int *n, char *arg)
{
	if (*n >= cap - 1)
		abort(); /* the count below is wrong: never write past argv */
	argv[(*n)++] = arg;
}

void vm_ssh_verify(struct vmm *m, struct vm *vm)
{
	struct verify_job *j;
	char *keys[HELLO_KEYS_MAX], hosts[2][96], host[16] = "", msg[BGR_ERROR_MAX];
	int port = 0, bad, n_keys, n = 1, n_hosts, cap;
	bool drop;
	/* the check runs once the agent acked banger's key: offering it again
	 * would only make OpenSSH start PAM in the guest (seconds of the one
	 * vCPU of a TCG guest still booting), so the handshake stops once the
	 * server's key is verified */
	const char *mode = "hostkey";
	long long left = vm->rec.started_at + m->settings.boot_timeout_s * 1000LL - now_real_ms();

	if (!vm->hello || network_ssh_endpoint(vm, host, &port) < 0) {
		/* no hello, or no network (network = none ends a boot at the
		 * hello): nothing to check against, nowhere to connect */
		m->hooks.ssh_verified(m, vm, -EIO,
				      "no ssh check is possible for this boot (no agent hello or no network)", false,
				      0);
		return;
	}
	if (hello_host_keys_check(vm->hello, msg, sizeof(msg)) < 0) {
		m->hooks.ssh_verified(m, vm, -EIO, msg, false, 0);
		return;
	}
	n_keys = hello_host_keys(vm->hello, keys, &bad);
	n_hosts = network_pin_hosts(vm, hosts);
	drop = vm->prev_ssh_port && vm->prev_ssh_port != vm->rec.ssh_port;
	if (bad)
		vmm_vm_log(m, vm, "warning: %d host key(s) in the agent's hello could not be read", bad);
	if (n_keys == 0 && !bad)
		vmm_vm_log(m, vm,
			   "the agent reported no ssh host keys: trusting the first key sshd shows (TOFU) unless "
			   "%s.vm is pinned, whose pin it must match",
			   vm->rec.name);
	/* A clone that serves the key banger made: a handshake would prove
	 * nothing more, and costs a restored TCG guest 0.2 s (dropbear) to 1 s
	 * (OpenSSH re-executes itself for every connection, before its
	 * banner). Its agent saw the server listen on that key: the key is
	 * pinned, and only a refused connect to the guest's port 1 shows it
	 * is reachable. Else sshd's banner says it answers. */
	if (vm->host_key_served && n_keys == 1 && !bad) {
		mode = vm->sshd_listening ? "pin" : "banner";
		vmm_vm_log(m, vm, "%s",
			   vm->sshd_listening
				   ? "the host key is the one banger made and the clone's agent saw sshd "
				     "listen on it: pinned without an ssh connection"
				   : "the ssh check reads sshd's banner: the host key is the one banger made");
	}
	j = xcalloc(1, sizeof(*j));
	j->m = m;
	j->vm_id = vm->rec.id;
	j->boot = vm->rec.started_at;
	j->known_hosts = xstrdup(m->paths->known_hosts);
	/* argv[0] (the helper), "check", 4 options with values, the pins, the
	 * drop, the keys, the timeout, the mode and the NULL: sized from the
	 * counts */
	cap = 1 + 1 + 8 + 2 * n_hosts + (drop ? 2 : 0) + 2 * n_keys + 2 + 2 + 1;
	j->argv = xcalloc((size_t)cap, sizeof(char *));
	push(j->argv, cap, &n, xstrdup("check"));
	push(j->argv, cap, &n, xstrdup("--known-hosts"));
	push(j->argv, cap, &n, xstrdup(m->paths->known_hosts));
	push(j->argv, cap, &n, xstrdup("--key"));
	push(j->argv, cap, &n, xstrdup(m->paths->ssh_key));
	push(j->argv, cap, &n, xstrdup("--host"));
	push(j->argv, cap, &n, xstrdup(host));
	push(j->argv, cap, &n, xstrdup("--port"));
	push(j->argv, cap, &n, xasprintf("%d", port));
	for (int i = 0; i < n_hosts; i++) {
		push(j->argv, cap, &n, xstrdup("--pin"));
		push(j->argv, cap, &n, xstrdup(hosts[i]));
		j->drop_hosts[j->n_drop++] = xstrdup(hosts[i]);
	}
	if (drop) {
		push(j->argv, cap, &n, xstrdup("--drop"));
		push(j->argv, cap, &n, xasprintf("[127.0.0.1]:%d", vm->prev_ssh_port));
		j->drop_hosts[j->n_drop++] = xasprintf("[127.0.0.1]:%d", vm->prev_ssh_port);
	}
	for (int i = 0; i < n_keys; i++) {
		push(j->argv, cap, &n, xstrdup("--agent-key"));
		push(j->argv, cap, &n, keys[i]);
	}
	push(j->argv, cap, &n, xstrdup("--timeout-ms"));
	push(j->argv, cap, &n, xasprintf("%lld", left > 1000 ? left : 1000));
	push(j->argv, cap, &n, xstrdup("--mode"));
	push(j->argv, cap, &n, xstrdup(mode));
	vm->verifying = true;
	workers_submit(m->workers, verify_work, verify_done, j);
}
