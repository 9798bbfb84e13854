/* ssh_config Host blocks: one per VM in vms/NAME/ssh_config, all of them in
 * state/ssh/config (for an Include in ~/.ssh/config). Every block checks
 * host keys strictly against banger's pins and nothing else. */
#include "network.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

/* A user-mode VM's forwarded port is its boot's only: once the boot ends,
 * another VM (or any local process) may get that port, so its block goes. */
static bool stale_user_port(const struct vm *vm)
{
	return strcmp(vm->rec.net_mode, "user") == 0 && vm->rec.pid == 0;
}

static void block(FILE *f, struct vmm *m, const struct vm *vm, bool all)
{
	char host[16];
	int port;

	if (stale_user_port(vm) && network_ssh_endpoint(vm, host, &port) == 0) {
		if (!all)
			fprintf(f,
				"# %s.vm is not running: in user mode its ssh port is given at each start (this block "
				"comes back then)\n",
				vm->rec.name);
		return;
	}
	if (network_ssh_endpoint(vm, host, &port) < 0) {
		if (!all)
			fprintf(f, "# %s.vm has no ssh endpoint yet: it gets one when it starts with a network\n",
				vm->rec.name);
		return;
	}
	if (all)
		fputc('\n', f);
	fprintf(f,
		"Host %s.vm\n"
		"    HostName %s\n"
		"    Port %d\n"
		"    User root\n"
		"    IdentityFile \"%s\"\n"
		"    IdentitiesOnly yes\n"
		"    UserKnownHostsFile \"%s\"\n"
		"    GlobalKnownHostsFile \"%s\"\n"
		"    StrictHostKeyChecking yes\n"
		"    UpdateHostKeys no\n"
		"    CheckHostIP no\n",
		vm->rec.name, host, port, m->paths->ssh_key, m->paths->known_hosts, m->paths->known_hosts);
}

char *vmm_vm_ssh_config(struct vmm *m, const struct vm *vm)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return xstrdup("");
	block(f, m, vm, false);
	fclose(f);
	return out;
}

void ssh_config_refresh(struct vmm *m)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp", m->paths->ssh_config);
	int fd;
	FILE *f;

	/* a stale temp file, or a symlink planted in its place, is removed
	 * (unlink takes the link, never what it points at); then only a file
	 * of ours is written */
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		log_msg("warning: cannot write %s: %s", tmp, open_strerror(errno));
		return;
	}
	fprintf(f, "# Written by bangerd; do not edit. Use it from ~/.ssh/config with:\n#   Include %s\n",
		m->paths->ssh_config);
	for (size_t i = 0; i < m->n_vms; i++) {
		block(f, m, m->vms[i], true);
	}
	if (fclose(f) != 0 || rename(tmp, m->paths->ssh_config) < 0) {
		log_msg("warning: cannot write %s: %s", m->paths->ssh_config, strerror(errno));
		unlink(tmp);
	}
}
