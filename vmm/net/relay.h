/* bangerd's own port forwarding: a listening socket on the host (TCP or
 * UDP) whose clients are relayed to an address the owner names per
 * connection, all on the loop: non-blocking sockets, no thread, no wait.
 * TCP: one outgoing connection per accepted one, a buffer each way, half
 * closes passed on. UDP: one connected socket per client address (a flow),
 * dropped after a minute without traffic. */
#ifndef BANGER_RELAY_H
#define BANGER_RELAY_H

#include "error.h"
#include "port_rule.h"

#include <netinet/in.h>

struct loop;
struct relay;

/* Where a new connection or flow goes: 0 and *to, or -errno when there is
 * nowhere to go now (the VM is down): the client is closed, the datagram
 * dropped. */
typedef int (*relay_target_fn)(void *ctx, struct sockaddr_in *to);

/* Binds bind:port (EADDRINUSE, EACCES, EADDRNOTAVAIL... with a reason) and
 * starts accepting on the loop. */
int relay_open(struct loop *loop, enum port_proto proto, const char *bind, uint16_t port, relay_target_fn target,
	       void *ctx, struct relay **ret, bgr_error *err);
/* Closes the listener and every connection and flow of it. NULL: no-op. */
void relay_close(struct relay *r);
/* Closes the connections and flows, keeps listening (the target went away). */
void relay_drop_clients(struct relay *r);

#endif
