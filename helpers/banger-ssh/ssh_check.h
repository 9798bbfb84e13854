/* The ssh check of one boot, in the banger-ssh helper process (libssh
 * stays out of bangerd, whose idle footprint it would triple): pin the
 * host keys the agent reported (or check them against the pins), then
 * connect, verify sshd's key against the pins and (SSH_CHECK_FULL) offer
 * banger's key (sshd answers PK_OK; no login).
 * A guest whose agent reported no keys is pinned on first contact (TOFU).
 * SSH_CHECK_HOSTKEY stops after the server's key is verified: the guest's
 * agent acked that it installed banger's key, and offering it would make
 * OpenSSH start PAM in the guest (its modules loaded under TCG, on the one
 * vCPU of a guest still booting).
 * Modes without a handshake, for a restored clone whose key banger made
 * itself and whose agent restarted the server on it (no handshake can tell
 * more): after the pins, SSH_CHECK_BANNER reads sshd's banner only, and
 * SSH_CHECK_PIN (its agent saw the server listen) only waits for the
 * guest's kernel to refuse a connect to port 1: it is reachable. */
#ifndef BANGER_SSH_CHECK_H
#define BANGER_SSH_CHECK_H

#include <stdbool.h>

#include "error.h"
#include "pins.h"

enum ssh_check_mode { SSH_CHECK_FULL, SSH_CHECK_HOSTKEY, SSH_CHECK_BANNER, SSH_CHECK_PIN };

struct ssh_check {
	const char *known_hosts, *key_path;
	const char *host; /* where sshd answers */
	int port;
	const char *pin_hosts[3]; /* NAME.vm, the address, a stale address */
	int n_hosts;              /* hosts to pin under (1 or 2) */
	int n_drop;               /* hosts whose old lines go (n_hosts, + a stale one) */
	struct pinset agent_keys; /* empty: trust on first use */
	long long deadline_ms;    /* monotonic */
	enum ssh_check_mode mode;
	/* results */
	int result; /* 0 or -errno */
	char msg[BGR_ERROR_MAX];
	bool tofu_pinned;
	long long took_ms;
};

void ssh_check_run(struct ssh_check *c);

#endif
