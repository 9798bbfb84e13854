/* The UDP socket of the `.vm` DNS responder, served from the event loop.
 * Queries are answered by dns_answer (dns.h); malformed ones are dropped
 * silently and counted. */
#ifndef BANGER_DNS_SERVER_H
#define BANGER_DNS_SERVER_H

#include <stdint.h>

#include "dns.h"
#include "error.h"
#include "loop.h"

struct dns_server;

/* Binds a nonblocking UDP socket to addr:port (addr in network byte order;
 * port in host order, 0 for any) and serves it from loop. lookup is called
 * on the loop thread. The address must already exist on an interface. */
int dns_server_open(struct loop *loop, uint32_t addr, uint16_t port, dns_lookup_fn lookup, void *ctx,
		    struct dns_server **ret, bgr_error *err);
/* The bound port (useful when port 0 was asked). */
uint16_t dns_server_port(const struct dns_server *s);
/* Datagrams dropped so far: malformed, truncated, or not a query. */
uint64_t dns_server_dropped(const struct dns_server *s);
/* Stops serving and closes the socket; NULL is a no-op. */
void dns_server_close(struct dns_server *s);

#endif
