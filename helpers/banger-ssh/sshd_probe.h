/* Waiting for a booting guest's sshd without tripping over its network
 * coming up: with QEMU's user-mode networking a connect succeeds at once
 * and slirp passes the SYN on to the guest; a SYN sent before the guest's
 * network is up is lost, and slirp sends it again only seconds later. One
 * connection kept open through that waits out the back-off (3 to 6 s of a
 * golden image's boot), and a connection per try makes OpenSSH start a
 * child for each. So: a new probe every 250 ms until the guest first
 * refuses one (its network is up; every probe still open is stale and
 * dropped), then one probe at a time, the next 25 ms after a refusal, or
 * beside one silent for 2 s (a SYN lost while the guest re-configures its
 * network). The probe that sshd answers is the check's connection: its
 * banner is left unread for libssh. */
#ifndef BANGER_SSHD_PROBE_H
#define BANGER_SSHD_PROBE_H

#include <stdbool.h>
#include <stddef.h>

/* A socket connected to sshd on host:port, its first bytes waiting unread;
 * or -1 at deadline_ms (monotonic) with what went wrong last in last.
 * *net_up: the guest answered before (a refusal, or sshd itself): set by
 * the call, and kept by the caller for the next one, so a retry after a
 * failed handshake probes one connection at a time from the start. */
int sshd_probe_wait(const char *host, int port, long long deadline_ms, bool *net_up, char *last, size_t size);

#endif
