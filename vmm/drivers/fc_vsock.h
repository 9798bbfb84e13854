/* Firecracker's hybrid vsock, host side: connect to the uds, write
 * "CONNECT <port>\n", read exactly one line "OK <hostport>\n", then the
 * stream is the guest's port. */
#ifndef BANGER_FC_VSOCK_H
#define BANGER_FC_VSOCK_H

#include <stddef.h>

/* Parses the reply line (without or with its '\n'): 0 and *host_port on
 * "OK <n>", -1 on anything else. */
int fc_vsock_parse_reply(const char *line, size_t len, unsigned *host_port);

/* Sends "CONNECT <port>\n" on a freshly connected socket without waiting:
 * 0, or -errno (-ECONNRESET when the other end closed, -EAGAIN when the
 * request did not fit at once: try a new connection later). The reply line
 * comes later; the caller reads it when the socket is readable, one byte
 * at a time so nothing after it is consumed. */
int fc_vsock_send_connect(int fd, unsigned port);

#endif
