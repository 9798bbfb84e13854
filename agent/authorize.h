/* The authorize verb: put a public key into root's authorized_keys. */
#ifndef BANGER_AGENT_AUTHORIZE_H
#define BANGER_AGENT_AUTHORIZE_H

#include <stdbool.h>
#include <stddef.h>

/* Makes <home>/.ssh/authorized_keys hold the line "<type> <base64> banger"
 * for key ("<type>:<base64>", see protocol.h), keeping the other lines and
 * adding none twice. The directory ends up 0700, the file 0600, both owned
 * by root (sshd's StrictModes); the file is replaced atomically, and with durable synced (file and directory)
 * before this returns; identify syncs once for all of its files. Returns 0,
 * or -1 with a reason without spaces (e.g. "bad_key_type") in reason. */
int authorize_key(const char *home, const char *key, bool durable, char *reason, size_t reason_size);

#endif
