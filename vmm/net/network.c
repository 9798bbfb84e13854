#include "network.h"
#include "bridge_lock.h"
#include "dns_server.h"
#include "log.h"
#include "nat.h"
#include "netdev.h"
#include "proc.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* QEMU's slirp network: the guest is always 10.0.2.15 behind 10.0.2.2. */
#define USER_GUEST_CMDLINE "10.0.2.15::10.0.2.2:255.255.255.0"
#define USER_DNS "10.0.2.3"

static int dns_lookup(void *ctx, const char *name, uint32_t *addr)
{
	struct vmm *m = ctx;
	struct vm *vm = vmm_vm_by_name(m, name);
	uint32_t a;

	if (!vm)
		return -1;
	if (!vm->rec.ip[0] || ip_parse(vm->rec.ip, &a) < 0)
		return 1;
	*addr = htonl(a);
	return 0;
}

/* On hosts where systemd-resolved runs, route *.vm to our DNS. */
static void wire_resolved(struct vmm *m)
{
	const struct vmm_net_settings *s = &m->settings.net;
	char gw[16];
	struct stat st;

	if (stat("/run/systemd/resolve/io.systemd.Resolve", &st) < 0 || s->dns_port != 53)
		return;
	ip_format(ippool_gateway(&s->pool), gw);
	char *dns[] = { "resolvectl", "dns", (char *)s->bridge, gw, NULL };
	char *domain[] = { "resolvectl", "domain", (char *)s->bridge, "~vm", NULL };
	if (proc_run(dns, -1) != 0 || proc_run(domain, -1) != 0)
		log_msg("warning: could not route .vm to %s with resolvectl (see docs/dns-routing.md)", gw);
	else
		log_msg("systemd-resolved: .vm is routed to %s on %s", gw, s->bridge);
}

int network_up(struct vmm *m, bgr_error *err)
{
	const struct vmm_net_settings *s = &m->settings.net;
	uint32_t gw = ippool_gateway(&s->pool);
	char gws[16];
	int r;

	if (s->mode != NET_BRIDGE)
		return 0;
	ip_format(gw, gws);
	/* before anything is touched: a daemon that stops here must not take
	 * down what another one runs */
	r = bridge_lock(s->bridge, err);
	if (r < 0)
		return r;
	m->bridge_lock_fd = r;
	r = netdev_bridge_up(s->bridge, htonl(gw), s->pool.prefix, err);
	if (r < 0)
		return r;
	m->bridge_up = true;
	r = dns_server_open(m->loop, htonl(gw), (uint16_t)s->dns_port, dns_lookup, m, &m->dns, err);
	if (r < 0)
		return r;
	if (s->nat) {
		r = nat_enable(s->bridge, htonl(s->pool.net), s->pool.prefix, err);
		if (r < 0)
			return r;
		m->nat_on = true;
	}
	wire_resolved(m);
	log_msg("network: bridge %s at %s/%d, DNS for .vm on %s:%d, NAT %s", s->bridge, gws, s->pool.prefix, gws,
		s->dns_port, s->nat ? "on" : "off");
	return 0;
}

void network_down(struct vmm *m)
{
	bgr_error err;

	dns_server_close(m->dns);
	m->dns = NULL;
	if (m->nat_on && nat_disable(m->settings.net.bridge, &err) < 0)
		log_msg("warning: %s", err.msg);
	m->nat_on = false;
	if (m->bridge_up && netdev_bridge_delete(m->settings.net.bridge, &err) < 0)
		log_msg("warning: %s", err.msg);
	m->bridge_up = false;
	if (m->bridge_lock_fd >= 0)
		close(m->bridge_lock_fd);
	m->bridge_lock_fd = -1;
}

/* Which pool addresses VMs hold: one bit per address of the subnet, built
 * per pick (O(VMs), not O(VMs x addresses)). */
struct used_map {
	const struct ippool *pool;
	uint8_t *bits;
};

static bool address_used(void *ctx, uint32_t addr)
{
	const struct used_map *u = ctx;
	uint32_t i = addr - u->pool->net;

	return u->bits[i / 8] & (1u << (i % 8));
}

static void mark_used(void *ctx, const char *ip)
{
	const struct used_map *u = ctx;
	uint32_t addr;

	if (ip_parse(ip, &addr) == 0 && ippool_contains(u->pool, addr)) {
		uint32_t bit = addr - u->pool->net;
		u->bits[bit / 8] |= (uint8_t)(1u << (bit % 8));
	}
}

int network_assign(struct vmm *m, struct vm_record *rec, bgr_error *err)
{
	const struct ippool *pool = &m->settings.net.pool;
	uint32_t size = ~ippool_netmask(pool) + 1, addr;
	struct used_map u = { pool, xcalloc(size / 8 + 1, 1) };
	int r;

	for (size_t i = 0; i < m->n_vms; i++)
		mark_used(&u, m->vms[i]->rec.ip);
	m->hooks.creates_each_ip(m, mark_used, &u); /* creates in progress hold theirs */
	r = ippool_pick(pool, address_used, &u, &addr, err);
	free(u.bits);
	if (r < 0)
		return r;
	ip_format(addr, rec->ip);
	mac_for_ip(addr, rec->mac);
	return 0;
}

/* A TCP port on 127.0.0.1 that nothing listens on right now. */
static int free_local_port(bgr_error *err)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	_cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return bgr_fail(err, errno, "cannot find a free port on 127.0.0.1: %s", strerror(errno));
	return ntohs(a.sin_port);
}

static void tap_name(const struct vm *vm, char out[IFNAMSIZ])
{
	snprintf(out, IFNAMSIZ, "bgr%lld", (long long)vm->rec.id);
}

int network_prepare_boot(struct vmm *m, struct vm *vm, struct vm_launch *l, char **cmdline, int *tap_fd, bgr_error *err)
{
	const struct vmm_net_settings *s = &m->settings.net;
	char gw[16], mask[16];
	uint32_t addr;

	*cmdline = NULL;
	*tap_fd = -1;
	l->net_mode = s->mode;
	l->mac = vm->rec.mac;
	vm->prev_ssh_port = vm->rec.ssh_port;
	vm->rec.ssh_port = 0;
	snprintf(vm->rec.net_mode, sizeof(vm->rec.net_mode), "%s",
		 s->mode == NET_BRIDGE ? "bridge"
		 : s->mode == NET_USER ? "user"
				       : "none");
	if (s->mode == NET_NONE)
		return 0;
	if (s->mode == NET_USER) {
		int port = free_local_port(err);
		if (port < 0)
			return port;
		l->ssh_port = vm->rec.ssh_port = port;
		l->outbound = s->nat;
		*cmdline = xasprintf("ip=" USER_GUEST_CMDLINE ":%s:eth0:off:" USER_DNS, vm->rec.name);
		return 0;
	}
	if (!vm->rec.ip[0] || ip_parse(vm->rec.ip, &addr) < 0 || !ippool_contains(&s->pool, addr)) {
		/* no address yet, or the subnet changed since it was given */
		vm->rec.ip[0] = '\0';
		int r = network_assign(m, &vm->rec, err);
		if (r < 0)
			return r;
	}
	tap_name(vm, vm->tap);
	l->tap_name = vm->tap;
	if (m->driver->tap_by_name) { /* the hypervisor opens it by name */
		bgr_error ignore;
		netdev_tap_delete(vm->tap, &ignore); /* a leftover of a crash */
		/* a clone is the template's twin (its MAC, its address) until its
		 * identity is set: its tap joins the bridge only then
		 * (network_clone_online), as QEMU keeps a clone's link down */
		int r = netdev_tap_create_persistent(vm->tap, l->incoming ? NULL : s->bridge, err);
		if (r < 0)
			return r;
	} else {
		*tap_fd = netdev_tap_open(vm->tap, s->bridge, err);
		if (*tap_fd < 0)
			return *tap_fd;
		l->tap_fd = *tap_fd;
	}
	ip_format(ippool_gateway(&s->pool), gw);
	ip_format(ippool_netmask(&s->pool), mask);
	*cmdline = xasprintf("ip=%s::%s:%s:%s:eth0:off:%s", vm->rec.ip, gw, mask, vm->rec.name, gw);
	return 0;
}

int network_clone_online(struct vmm *m, struct vm *vm, bgr_error *err)
{
	if (!m->driver->tap_by_name || strcmp(vm->rec.net_mode, "bridge") != 0)
		return 0; /* QEMU: the tap is on the bridge, the clone's link was down */
	tap_name(vm, vm->tap);
	return netdev_attach(vm->tap, m->settings.net.bridge, err);
}

void network_readopt(struct vmm *m, struct vm *vm)
{
	char tap[IFNAMSIZ];
	bgr_error err;

	if (strcmp(vm->rec.net_mode, "bridge") != 0 || !m->bridge_up)
		return;
	tap_name(vm, tap);
	if (netdev_attach(tap, m->settings.net.bridge, &err) < 0)
		vmm_vm_log(m, vm, "re-adopt: %s", err.msg);
}

int network_ssh_endpoint(const struct vm *vm, char host[16], int *port)
{
	if (strcmp(vm->rec.net_mode, "user") == 0 && vm->rec.ssh_port) {
		snprintf(host, 16, "127.0.0.1");
		*port = vm->rec.ssh_port;
		return 0;
	}
	if (strcmp(vm->rec.net_mode, "bridge") == 0 && vm->rec.ip[0]) {
		snprintf(host, 16, "%s", vm->rec.ip);
		*port = 22;
		return 0;
	}
	return -1;
}

int network_pin_hosts(const struct vm *vm, char hosts[2][96])
{
	char addr[16];
	int port, n = 0;

	snprintf(hosts[n++], 96, "%s.vm", vm->rec.name);
	if (network_ssh_endpoint(vm, addr, &port) == 0) {
		if (port == 22)
			snprintf(hosts[n++], 96, "%s", addr);
		else
			snprintf(hosts[n++], 96, "[%s]:%d", addr, port);
	}
	return n;
}

int network_all_pin_hosts(const struct vm_record *rec, char hosts[3][96])
{
	int n = 0;

	snprintf(hosts[n++], 96, "%s.vm", rec->name);
	if (rec->ip[0])
		snprintf(hosts[n++], 96, "%s", rec->ip);
	if (rec->ssh_port)
		snprintf(hosts[n++], 96, "[127.0.0.1]:%d", rec->ssh_port);
	return n;
}

void network_boot_ended(struct vmm *m, struct vm *vm)
{
	bgr_error err;

	if (!m->driver->tap_by_name || strcmp(vm->rec.net_mode, "bridge") != 0)
		return;
	tap_name(vm, vm->tap);
	if (netdev_tap_delete(vm->tap, &err) < 0)
		vmm_vm_log(m, vm, "warning: %s", err.msg);
}
