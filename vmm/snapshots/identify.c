/* The identify line a restored clone's agent gets before anyone can reach
 * the guest (agent/protocol.h): its own name, MAC and address (bridge
 * mode), a machine-id, entropy for the kernel's RNG, the host's clock and
 * the SSH host key the host made for it; and the check of the hello that
 * follows against that key. */
#include "snapshots.h"
#include "util.h"
#include "vm.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static void hex(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static int prefix_of(const char *mask)
{
	struct in_addr a;
	int n = 0;

	if (inet_pton(AF_INET, mask, &a) != 1)
		return -1;
	for (uint32_t v = ntohl(a.s_addr); v & 0x80000000u; v <<= 1)
		n++;
	return n;
}

/* " mac=… ip=ADDR/PREFIX gw=… dns=…" from the kernel's
 * ip=ADDR::GW:MASK:NAME:DEV:off:DNS of this boot (bridge mode), else "". */
static void net_fields(const struct vm *vm, char *out, size_t size)
{
	char f[9][64] = { { 0 } };
	const char *p;
	int i = 0, prefix;

	out[0] = '\0';
	if (strcmp(vm->rec.net_mode, "bridge") != 0 || !vm->net_args || strncmp(vm->net_args, "ip=", 3) != 0)
		return;
	p = vm->net_args + 3;
	while (i < 9) {
		size_t n = strcspn(p, ": ");
		snprintf(f[i], sizeof(f[i]), "%.*s", (int)(n < 63 ? n : 63), p);
		i++;
		if (p[n] != ':')
			break;
		p += n + 1;
	}
	prefix = prefix_of(f[3]);
	if (!f[0][0] || prefix < 0)
		return;
	snprintf(out, size, " mac=%s ip=%s/%d%s%s%s%s", vm->rec.mac, f[0], prefix, f[2][0] ? " gw=" : "", f[2],
		 f[7][0] ? " dns=" : "", f[7]);
}

char *identify_line(struct vmm *m, const struct vm *vm, bool work_disk)
{
	unsigned char id[16], entropy[64];
	char id_hex[33], entropy_hex[129], net[256];
	struct timespec now;
	char *line;

	if (getrandom(id, sizeof(id), 0) != sizeof(id) || getrandom(entropy, sizeof(entropy), 0) != sizeof(entropy))
		return NULL;
	id[6] = (id[6] & 0x0f) | 0x40; /* a v4 UUID, as systemd makes them */
	id[8] = (id[8] & 0x3f) | 0x80;
	hex(id, sizeof(id), id_hex);
	hex(entropy, sizeof(entropy), entropy_hex);
	net_fields(vm, net, sizeof(net));
	clock_gettime(CLOCK_REALTIME, &now);
	/* banger's key too (authorize=, agent protocol 6): no authorize round
	 * trip after the ack */
	line = xasprintf("identify name=%s%s machine_id=%s entropy=%s time_ns=%lld%s authorize=%s:%s%s%s\n",
			 vm->rec.name, net, id_hex, entropy_hex, (long long)now.tv_sec * 1000000000LL + now.tv_nsec,
			 work_disk ? " work=1" : "", m->ssh_pub.type, m->ssh_pub.b64,
			 vm->host_key_priv ? " hostkey_ed25519=" : "", vm->host_key_priv ? vm->host_key_priv : "");
	explicit_bzero(entropy_hex, sizeof(entropy_hex));
	return line;
}

void identify_key_forget(struct vm *vm)
{
	if (vm->host_key_priv)
		explicit_bzero(vm->host_key_priv, strlen(vm->host_key_priv));
	free(vm->host_key_priv);
	free(vm->host_key);
	vm->host_key_priv = vm->host_key = NULL;
}

void identify_key_sent(struct vm *vm)
{
	if (vm->host_key_priv)
		explicit_bzero(vm->host_key_priv, strlen(vm->host_key_priv));
	free(vm->host_key_priv);
	vm->host_key_priv = NULL;
}

int identify_hello_check(const struct vm *vm, const char *hello, char *msg, size_t size)
{
	const char *v = hello;
	size_t len, want;
	int n = 0, ours = 0;

	if (!vm->host_key)
		return 0;
	want = strlen(vm->host_key);
	while ((v = banger_agent_find_value(v, "hostkey", &len))) {
		n++;
		ours += len == want && memcmp(v, vm->host_key, len) == 0;
		v += len;
	}
	if (ours == 0) {
		snprintf(msg, size,
			 "the guest agent did not take the host-made SSH host key (an older agent): "
			 "pinning the keys it made");
		return 0;
	}
	if (n != ours) {
		snprintf(msg, size,
			 "the clone's agent reported %d SSH host key(s) besides the one banger made for it: "
			 "refusing them (nothing was pinned)",
			 n - ours);
		return -1;
	}
	return 1;
}
