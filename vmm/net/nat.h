/* Outbound NAT for guests behind a bridge, with nftables (the `nft` command,
 * Debian package nftables), in the caller's network namespace. */
#ifndef BANGER_NAT_H
#define BANGER_NAT_H

#include "error.h"

#include <stdint.h>

/* (Re)creates table `ip banger_<bridge>`: masquerade for saddr subnet/prefix
 * (network byte order) leaving through any interface but the bridge, and a
 * forward chain accepting bridge<->outside traffic. Sets
 * net.ipv4.ip_forward=1 and records the value it had before in the table's
 * comment, so a restarted daemon can still restore it. Idempotent. The bridge
 * name may hold only letters, digits, '_', '-' and '.'. */
int nat_enable(const char *bridge, uint32_t subnet, int prefix, bgr_error *err);
/* Deletes that table; once no banger_* table is left, restores ip_forward to
 * the value recorded before the first nat_enable. Missing table: no error. */
int nat_disable(const char *bridge, bgr_error *err);

#endif
