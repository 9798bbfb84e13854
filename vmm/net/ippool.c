#include "ippool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ip_parse(const char *text, uint32_t *ret)
{
	struct in_addr a;

	if (inet_pton(AF_INET, text, &a) != 1)
		return -EINVAL;
	*ret = ntohl(a.s_addr);
	return 0;
}

void ip_format(uint32_t addr, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff, addr & 0xff);
}

void mac_for_ip(uint32_t addr, char out[18])
{
	snprintf(out, 18, "52:54:00:%02x:%02x:%02x", (addr >> 16) & 0xff, (addr >> 8) & 0xff, addr & 0xff);
}

uint32_t ippool_netmask(const struct ippool *p)
{
	return p->prefix ? ~0u << (32 - p->prefix) : 0;
}
uint32_t ippool_gateway(const struct ippool *p)
{
	return p->net + 1;
}

bool ippool_contains(const struct ippool *p, uint32_t addr)
{
	return (addr & ippool_netmask(p)) == p->net;
}

int ippool_parse(const char *text, struct ippool *ret, bgr_error *err)
{
	char addr[32];
	const char *slash = strchr(text, '/');
	char *end;
	long prefix;
	uint32_t net;

	if (!slash || (size_t)(slash - text) >= sizeof(addr))
		return bgr_fail(err, EINVAL, "subnet '%.40s': want a.b.c.d/prefix, e.g. 172.16.0.0/24", text);
	memcpy(addr, text, (size_t)(slash - text));
	addr[slash - text] = '\0';
	errno = 0;
	prefix = strtol(slash + 1, &end, 10);
	if (ip_parse(addr, &net) < 0 || end == slash + 1 || *end || errno)
		return bgr_fail(err, EINVAL, "subnet '%.40s': want a.b.c.d/prefix, e.g. 172.16.0.0/24", text);
	if (prefix < 16 || prefix > 29)
		return bgr_fail(err, EINVAL, "subnet '%.40s': prefix must be 16 to 29", text);
	ret->net = net;
	ret->prefix = (int)prefix;
	if (net & ~ippool_netmask(ret))
		return bgr_fail(err, EINVAL, "subnet '%.40s': host bits are set (did you mean %s/%ld?)", text,
				(ip_format(net & ippool_netmask(ret), addr), addr), prefix);
	return 0;
}

int ippool_pick(const struct ippool *p, ippool_used_fn used, void *ctx, uint32_t *ret, bgr_error *err)
{
	uint32_t broadcast = p->net | ~ippool_netmask(p);

	for (uint32_t a = ippool_gateway(p) + 1; a < broadcast; a++) {
		if (!used(ctx, a)) {
			*ret = a;
			return 0;
		}
	}
	return bgr_fail(err, ENOSPC, "no free address left in %u.%u.%u.%u/%d (every one is held by a VM)", p->net >> 24,
			(p->net >> 16) & 0xff, (p->net >> 8) & 0xff, p->net & 0xff, p->prefix);
}
