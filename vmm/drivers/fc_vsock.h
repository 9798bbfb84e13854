/* Firecracker's hybrid vsock, host side: connect to the uds, write
 * "CONNECT <port>\n", read exactly one line "OK <hostport>\n", then the
 * stream is the guest's port. */
#ifndef BANGER_FC_VSOCK_H
#define BANGER_FC_VSOCK_H

#include <stddef.h>

/* Parses the reply line (without or with its '\n'): 0 and *host_port on
 * "OK <n>", -1 on anything else. */
int fc_vsock_parse_reply(const char *line, size_t len, unsigned *host_port);

/* Does the handshake on a connected socket (blocking up to timeout_ms; it
 * reads one byte at a time so nothing after the reply line is consumed).
 * 0 or -errno (-ECONNRESET when nothing listens on the port). */
int fc_vsock_connect(int fd, unsigned port, int timeout_ms);

#endif
