/* Host network devices for guests in bridge mode: one bridge with the
 * gateway address, one tap per guest NIC attached to it. Plain ioctls and
 * rtnetlink; everything acts in the caller's network namespace. */
#ifndef BANGER_NETDEV_H
#define BANGER_NETDEV_H

#include "error.h"

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

/* The interface group of every banger bridge ("bgnr"): NAT's forward guard
 * lets through what enters or leaves one, and nothing else it enabled. */
#define NETDEV_BANGER_GROUP 0x62676e72u

/* Creates bridge `name` if absent, adds gw/prefix (IPv4, gw in network byte
 * order) unless that address is already there, and sets it up. Idempotent.
 * Fails with EEXIST when `name` exists but is not a bridge. */
int netdev_bridge_up(const char *name, uint32_t gw, int prefix, bgr_error *err);
/* Sets the bridge down and deletes it; its ports are detached by the kernel.
 * A missing bridge is not an error; a non-bridge `name` is (EINVAL). */
int netdev_bridge_delete(const char *name, bgr_error *err);
/* Creates tap `ifname` (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, not persistent),
 * attaches it to `bridge`, sets it up and returns its fd with FD_CLOEXEC set;
 * clear that only in the child the fd is meant for. The tap disappears when
 * the last fd to it is closed. Fails with EBUSY when `ifname` already exists. */
int netdev_tap_open(const char *ifname, const char *bridge, bgr_error *err);
/* Attaches the existing interface `ifname` (say, a running guest's tap after
 * the bridge was re-created) to `bridge` and sets it up. Already attached to
 * it: fine; attached to another master: EBUSY. */
int netdev_attach(const char *ifname, const char *bridge, bgr_error *err);
/* A persistent tap on bridge, for hypervisors that open taps by name
 * (Firecracker); netdev_tap_delete drops it once the hypervisor is gone.
 * bridge NULL: on no bridge and down, until netdev_attach. */
int netdev_tap_create_persistent(const char *ifname, const char *bridge, bgr_error *err);
int netdev_tap_delete(const char *ifname, bgr_error *err);
/* True when this process has CAP_NET_ADMIN in its user namespace. */
bool netdev_have_net_admin(void);
/* 1..IFNAMSIZ-1 chars, not "." or "..", none of '/', ':', '%' or whitespace
 * (the kernel's rules, plus '%', which it would expand as a name template). */
bool netdev_ifname_valid(const char *name);

#endif
