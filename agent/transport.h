/* The agent's two transports: the virtio-serial port (QEMU) and a vsock
 * listener (Firecracker's hybrid vsock, or any vsock device). */
#ifndef BANGER_AGENT_TRANSPORT_H
#define BANGER_AGENT_TRANSPORT_H

#include <stddef.h>

/* Finds the virtio-serial port named name: /dev/virtio-ports/<name>, else
 * the /dev/vportNpM whose /sys/class/virtio-ports/<dev>/name is name.
 * Returns 0 and fills out with the device path, or -1. */
int serial_find_port(const char *name, char *out, size_t size);

/* A listening (non-blocking) vsock stream socket on port, any local CID.
 * Returns the fd, or -1 with errno set (EAFNOSUPPORT when the kernel has no
 * vsock). */
int vsock_listen(unsigned int port);

/* Waits up to timeout_ms for a connection on the listening socket lfd.
 * Returns the connected fd, or -1 with errno set: EAGAIN when nothing came
 * in time or a connection went away before it was accepted (try again),
 * anything else for a broken listener. */
int vsock_accept(int lfd, int timeout_ms);

#endif
