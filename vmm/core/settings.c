#include "settings.h"
#include "netdev.h"
#include "proc.h"
#include "util.h"
#include "validate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEURISTIC "host heuristic"
#define BUILTIN "built-in default"

/* Sizing from the host: cpus/4 (1 to 4), RAM/8 (256 MiB to 8 GiB), 8 GiB
 * of disk. */
static void defaults(struct vmm_settings *s)
{
	unsigned cpus = host_cpus() / 4;
	uint64_t ram = host_ram_mib() / 8;

	memset(s, 0, sizeof(*s));
	snprintf(s->vmm_setting, sizeof(s->vmm_setting), "auto");
	setting_src_set(s->src_vmm, BUILTIN);
	snprintf(s->firecracker_bin, sizeof(s->firecracker_bin), "firecracker");
	setting_src_set(s->src_firecracker, BUILTIN);
	snprintf(s->accel_setting, sizeof(s->accel_setting), "auto");
	setting_src_set(s->src_accel, BUILTIN);
	s->vcpu = cpus < 1 ? 1 : cpus > 4 ? 4 : cpus;
	setting_src_set(s->src_vcpu, HEURISTIC " (cpus/4, 1 to 4)");
	s->memory_mib = (unsigned)(ram < 256 ? 256 : ram > 8192 ? 8192 : ram);
	setting_src_set(s->src_memory, HEURISTIC " (RAM/8, 256 MiB to 8 GiB)");
	s->disk_size = 8ULL << 30;
	setting_src_set(s->src_disk, HEURISTIC " (8 GiB)");
	snprintf(s->image, sizeof(s->image), "debian-bookworm");
	snprintf(s->kernel, sizeof(s->kernel), "debian-bookworm");
	setting_src_set(s->src_image, BUILTIN);
	setting_src_set(s->src_ssh_key, BUILTIN);
	s->boot_timeout_s = 90;
	s->catalog_timeout_s = 10;
	setting_src_set(s->src_boot_timeout, BUILTIN);
	setting_src_set(s->src_catalog, BUILTIN);
	s->stop_timeout_s = 15;
	snprintf(s->net.setting, sizeof(s->net.setting), "auto");
	setting_src_set(s->net.src_network, BUILTIN);
	snprintf(s->net.bridge, sizeof(s->net.bridge), "banger0");
	setting_src_set(s->net.src_bridge, BUILTIN);
	snprintf(s->net.subnet, sizeof(s->net.subnet), "172.16.0.0/24");
	setting_src_set(s->net.src_subnet, BUILTIN);
	s->net.nat = true;
	setting_src_set(s->net.src_nat, BUILTIN);
	s->net.dns_port = 53;
}

static int parse_bool(const char *v, bool *ret)
{
	if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes"))
		*ret = true;
	else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no"))
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

/* Environment variables win over the config file (handy for one run). */
static int apply_env(struct vmm_settings *s, struct bgr_paths *paths, bgr_error *err)
{
	const char *v;
	int r = 0;

	if ((v = getenv("BANGER_ACCEL")) && *v && (r = setting_accel(s, v, "BANGER_ACCEL", err)) < 0)
		return bgr_wrap(err, "BANGER_ACCEL");
	if ((v = getenv("BANGER_VMM")) && *v && (r = setting_vmm(s, v, "BANGER_VMM", err)) < 0)
		return bgr_wrap(err, "BANGER_VMM");
	if ((v = getenv("BANGER_FIRECRACKER_BIN")) && *v) {
		snprintf(s->firecracker_bin, sizeof(s->firecracker_bin), "%s", v);
		setting_src_set(s->src_firecracker, "BANGER_FIRECRACKER_BIN");
	}
	if ((v = getenv("BANGER_NETWORK")) && *v && (r = setting_network(s, v, "BANGER_NETWORK", err)) < 0)
		return bgr_wrap(err, "BANGER_NETWORK");
	if ((v = getenv("BANGER_BRIDGE")) && *v && (r = setting_bridge(s, v, "BANGER_BRIDGE", err)) < 0)
		return bgr_wrap(err, "BANGER_BRIDGE");
	if ((v = getenv("BANGER_SUBNET")) && *v && (r = setting_subnet(s, v, "BANGER_SUBNET", err)) < 0)
		return bgr_wrap(err, "BANGER_SUBNET");
	if ((v = getenv("BANGER_NAT")) && *v) {
		if (parse_bool(v, &s->net.nat) < 0)
			return bgr_fail(err, EINVAL, "BANGER_NAT: nat '%.20s': want true or false", v);
		setting_src_set(s->net.src_nat, "BANGER_NAT");
	}
	if ((v = getenv("BANGER_SSH_KEY")) && *v) {
		if (v[0] != '/')
			return bgr_fail(err, EINVAL, "BANGER_SSH_KEY must be an absolute path: %.200s", v);
		free(paths->ssh_key);
		paths->ssh_key = xstrdup(v);
		setting_src_set(s->src_ssh_key, "BANGER_SSH_KEY");
	}
	if ((v = getenv("BANGER_BOOT_TIMEOUT")) && *v) {
		char *end;
		long t = strtol(v, &end, 10);
		if (*end || t < 1 || t > 3600)
			return bgr_fail(err, EINVAL, "BANGER_BOOT_TIMEOUT '%.20s': want 1 to 3600 seconds", v);
		s->boot_timeout_s = (int)t;
		setting_src_set(s->src_boot_timeout, "BANGER_BOOT_TIMEOUT");
	}
	if ((v = getenv("BANGER_CATALOG")) && *v && (r = setting_catalog(s, v, "BANGER_CATALOG", err)) < 0)
		return bgr_wrap(err, "BANGER_CATALOG");
	if ((v = getenv("BANGER_CATALOG_TIMEOUT")) && *v) {
		char *end;
		long t = strtol(v, &end, 10);
		if (*end || t < 1 || t > 3600)
			return bgr_fail(err, EINVAL, "BANGER_CATALOG_TIMEOUT '%.20s': want 1 to 3600 seconds", v);
		s->catalog_timeout_s = (int)t;
	}
	if ((v = getenv("BANGER_DNS_PORT")) && *v) {
		char *end;
		long p = strtol(v, &end, 10);
		if (*end || p < 1 || p > 65535)
			return bgr_fail(err, EINVAL, "BANGER_DNS_PORT '%.20s': want 1 to 65535", v);
		s->net.dns_port = (int)p;
	}
	return r;
}

/* auto prefers Firecracker when its binary runs and KVM can run the guest
 * kernel (Firecracker has no emulation fallback); else QEMU. */
static void choose_vmm(struct vmm_settings *s)
{
	char *argv[] = { s->firecracker_bin, "--version", NULL };
	bool have_fc;

	if (strcmp(s->vmm_setting, "auto") != 0) {
		snprintf(s->vmm, sizeof(s->vmm), "%s", s->vmm_setting);
		snprintf(s->vmm_why, sizeof(s->vmm_why), "as configured");
		return;
	}
	if (s->net.mode == NET_USER) {
		snprintf(s->vmm, sizeof(s->vmm), "qemu");
		snprintf(s->vmm_why, sizeof(s->vmm_why), "auto: user networking, which only QEMU has");
		return;
	}
	have_fc = proc_run(argv, -1) == 0;
	if (have_fc && !strcmp(s->accel.accel, "kvm")) {
		snprintf(s->vmm, sizeof(s->vmm), "firecracker");
		snprintf(s->vmm_why, sizeof(s->vmm_why), "auto: %.100s runs and KVM is usable", s->firecracker_bin);
	} else {
		snprintf(s->vmm, sizeof(s->vmm), "qemu");
		snprintf(s->vmm_why, sizeof(s->vmm_why), "auto: %s",
			 have_fc ? "Firecracker needs KVM, which cannot run "
				   "the guest kernel here"
				 : "no runnable Firecracker binary");
	}
}

static void choose_network(struct vmm_net_settings *n, bgr_error *err, int *r)
{
	bool admin = netdev_have_net_admin();

	ippool_parse(n->subnet, &n->pool, err);
	if (!strcmp(n->setting, "none")) {
		n->mode = NET_NONE;
		snprintf(n->why, sizeof(n->why), "guests get no network device");
	} else if (!strcmp(n->setting, "user")) {
		n->mode = NET_USER;
		snprintf(n->why, sizeof(n->why), "QEMU user networking, ssh forwarded from 127.0.0.1");
	} else if (!strcmp(n->setting, "bridge")) {
		if (!admin)
			*r = bgr_fail(err, EPERM,
				      "network = bridge needs CAP_NET_ADMIN (run bangerd as root, or use network = "
				      "user)");
		n->mode = NET_BRIDGE;
		snprintf(n->why, sizeof(n->why), "as configured");
	} else {
		n->mode = admin ? NET_BRIDGE : NET_USER;
		snprintf(n->why, sizeof(n->why), "auto: %s",
			 admin ? "bangerd has CAP_NET_ADMIN, so a bridge"
			       : "no CAP_NET_ADMIN, so QEMU user networking");
	}
}

int settings_load(struct vmm_settings *s, struct bgr_paths *paths, bgr_error *err)
{
	int r;

	defaults(s);
	snprintf(s->config_path, sizeof(s->config_path), "%s/config.toml", paths->config_dir);
	r = config_file_apply(s->config_path, s, paths, err);
	if (r < 0)
		return r;
	r = apply_env(s, paths, err);
	if (r < 0)
		return r;
	if (accel_choose(s->accel_setting, &s->accel) < 0)
		return bgr_fail(err, EINVAL, "accel '%s' cannot be used here: %s", s->accel_setting, s->accel.why);
	/* the Debian image's systemd boot takes 35-60 s under emulation */
	if (!strcmp(s->src_boot_timeout, BUILTIN) && !strcmp(s->accel.accel, "tcg")) {
		s->boot_timeout_s = 240;
		setting_src_set(s->src_boot_timeout, HEURISTIC " (TCG emulation: 240 s)");
	}
	r = 0;
	choose_network(&s->net, err, &r);
	if (r < 0)
		return r;
	choose_vmm(s);
	if (!strcmp(s->vmm, "firecracker") && s->net.mode == NET_USER)
		return bgr_fail(err, EINVAL,
				"vmm = firecracker has no user networking (network is user %s): give bangerd "
				"CAP_NET_ADMIN for bridge mode, or set network = none",
				!strcmp(s->net.setting, "user") ? "as configured"
								: "because bangerd lacks CAP_NET_ADMIN");
	return 0;
}

void settings_free(struct vmm_settings *s)
{
	for (size_t i = 0; i < s->n_sync; i++) {
		free(s->sync[i].host);
		free(s->sync[i].guest);
	}
	free(s->sync);
	s->sync = NULL;
	s->n_sync = 0;
}
