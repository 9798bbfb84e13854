/* The guest address pool: one IPv4 subnet, gateway at .1, guests from .2
 * to the last host address. Which addresses are taken is the store's
 * business (a unique column); this only does the arithmetic. */
#ifndef BANGER_IPPOOL_H
#define BANGER_IPPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct ippool {
	uint32_t net; /* host byte order, host bits zero */
	int prefix;   /* 16..29 */
};

/* Parses "a.b.c.d/p" (host bits must be zero). */
int ippool_parse(const char *text, struct ippool *ret, bgr_error *err);
uint32_t ippool_gateway(const struct ippool *p);
uint32_t ippool_netmask(const struct ippool *p);
bool ippool_contains(const struct ippool *p, uint32_t addr);

typedef bool (*ippool_used_fn)(void *ctx, uint32_t addr);
/* The lowest free guest address; ENOSPC when every one is used. */
int ippool_pick(const struct ippool *p, ippool_used_fn used, void *ctx, uint32_t *ret, bgr_error *err);

/* Dotted quad of a host-order address into out (16 bytes). */
void ip_format(uint32_t addr, char out[16]);
/* Parses a dotted quad into host order. */
int ip_parse(const char *text, uint32_t *ret);
/* A locally administered unicast MAC derived from the address (52:54:00 is
 * QEMU's prefix; the low three bytes are the address's), so unique addresses
 * give unique MACs. out: 18 bytes. */
void mac_for_ip(uint32_t addr, char out[18]);

#endif
