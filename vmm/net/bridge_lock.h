/* One bangerd per bridge: an abstract unix socket named after the bridge,
 * which the kernel scopes to the network namespace and frees when its
 * holder dies, so a second daemon (another BANGER_HOME, the same bridge)
 * stops before it touches the first one's bridge, DNS or NAT. */
#ifndef BANGER_BRIDGE_LOCK_H
#define BANGER_BRIDGE_LOCK_H

#include "error.h"

/* The lock's fd (close it to let go), or -EBUSY naming the holder's pid. */
int bridge_lock(const char *bridge, bgr_error *err);

#endif
