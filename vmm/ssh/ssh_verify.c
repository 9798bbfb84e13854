#include "ssh_verify.h"
#include "network.h"
#include "ssh_helper.h"
#include "util.h"

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

int hello_host_keys(const char *hello, char keys[HELLO_KEYS_MAX][BANGER_AGENT_LINE_MAX / 2], int *bad)
{
	const char *pos = NULL;
	char value[BANGER_AGENT_LINE_MAX / 2];
	int n = 0;

	*bad = 0;
	while ((pos = banger_agent_field_next(hello, "hostkey", pos, value, sizeof(value)))) {
		if (n == HELLO_KEYS_MAX || !banger_agent_key_valid(value)) {
			(*bad)++;
			continue;
		}
		snprintf(keys[n++], sizeof(keys[0]), "%s", value);
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
		vm_ssh_verified(j->m, vm, j->result, j->msg, j->tofu_pinned, j->took_ms);
	} else if (!vm && j->result == 0) {
		/* the VM went away while we pinned: take its pins back out */
		bgr_error err;
		ssh_helper_drop(j->known_hosts, (const char *const *)j->drop_hosts, (size_t)j->n_drop, &err);
	}
	free_job(j);
}

static void push(char **argv, int *n, char *arg)
{
	argv[(*n)++] = arg;
}

void vm_ssh_verify(struct vmm *m, struct vm *vm)
{
	struct verify_job *j = xcalloc(1, sizeof(*j));
	char keys[HELLO_KEYS_MAX][BANGER_AGENT_LINE_MAX / 2], hosts[2][96], host[16];
	int port, bad, n_keys = hello_host_keys(vm->hello, keys, &bad), n = 1;
	int n_hosts = network_pin_hosts(vm, hosts);
	long long left = vm->rec.started_at + m->settings.boot_timeout_s * 1000LL - now_real_ms();

	if (bad)
		vmm_vm_log(m, vm, "warning: %d host key(s) in the agent's hello could not be read", bad);
	if (n_keys == 0 && !bad)
		vmm_vm_log(m, vm, "the agent reported no ssh host keys: trusting the first key sshd shows (TOFU)");
	network_ssh_endpoint(vm, host, &port);
	j->m = m;
	j->vm_id = vm->rec.id;
	j->boot = vm->rec.started_at;
	j->known_hosts = xstrdup(m->paths->known_hosts);
	j->argv = xcalloc(32, sizeof(char *));
	push(j->argv, &n, xstrdup("check"));
	push(j->argv, &n, xstrdup("--known-hosts"));
	push(j->argv, &n, xstrdup(m->paths->known_hosts));
	push(j->argv, &n, xstrdup("--key"));
	push(j->argv, &n, xstrdup(m->paths->ssh_key));
	push(j->argv, &n, xstrdup("--host"));
	push(j->argv, &n, xstrdup(host));
	push(j->argv, &n, xstrdup("--port"));
	push(j->argv, &n, xasprintf("%d", port));
	for (int i = 0; i < n_hosts; i++) {
		push(j->argv, &n, xstrdup("--pin"));
		push(j->argv, &n, xstrdup(hosts[i]));
		j->drop_hosts[j->n_drop++] = xstrdup(hosts[i]);
	}
	if (vm->prev_ssh_port && vm->prev_ssh_port != vm->rec.ssh_port) {
		push(j->argv, &n, xstrdup("--drop"));
		push(j->argv, &n, xasprintf("[127.0.0.1]:%d", vm->prev_ssh_port));
		j->drop_hosts[j->n_drop++] = xasprintf("[127.0.0.1]:%d", vm->prev_ssh_port);
	}
	for (int i = 0; i < n_keys; i++) {
		push(j->argv, &n, xstrdup("--agent-key"));
		push(j->argv, &n, xstrdup(keys[i]));
	}
	push(j->argv, &n, xstrdup("--timeout-ms"));
	push(j->argv, &n, xasprintf("%lld", left > 1000 ? left : 1000));
	vm->verifying = true;
	workers_submit(m->workers, verify_work, verify_done, j);
}
