/* The `.vm` DNS zone: answers to one query packet, no I/O (see dns.c for
 * what is answered and dns_server.h for the socket). */
#ifndef BANGER_DNS_H
#define BANGER_DNS_H

#include <stddef.h>
#include <stdint.h>

/* Seconds a resolver may cache an A record. Short, so a VM deleted and made
 * again under the same name is seen with its new address within seconds. */
#define DNS_TTL 5
/* The largest response dns_answer builds (a 255-byte name, one A record and
 * an OPT record), far below the 512 bytes plain UDP allows. */
#define DNS_RESPONSE_MAX 512

/* Looks up a VM name (one DNS label, already lower-cased, without ".vm").
 * Returns 0 and sets *addr (network byte order IPv4) when the VM exists and
 * has an address; 1 when the VM exists but has no IPv4 address (answer
 * NODATA); -1 when unknown (NXDOMAIN). */
typedef int (*dns_lookup_fn)(void *ctx, const char *name, uint32_t *addr);

/* Builds the response to the query packet query[0..len) into out. Returns
 * the response length, or 0 when the packet must be dropped: malformed,
 * truncated, a response, not a standard QUERY, not exactly one question, a
 * compression pointer in the question, a response not fitting out_size... */
size_t dns_answer(const uint8_t *query, size_t len, dns_lookup_fn lookup, void *ctx, uint8_t *out, size_t out_size);

#endif
