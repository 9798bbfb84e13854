/* The guest's SSH host keys, as full public keys for the hello line. */
#ifndef BANGER_AGENT_HOSTKEYS_H
#define BANGER_AGENT_HOSTKEYS_H

#include <stddef.h>

#define HOSTKEYS_MAX 8
#define HOSTKEYS_KEY_MAX 2048 /* an 8192-bit RSA key is ~1.5 KB of base64 */

struct keyset {
	int n;
	char key[HOSTKEYS_MAX][HOSTKEYS_KEY_MAX]; /* "<type>:<base64>" */
};

/* Reads the public host keys: OpenSSH's /etc/ssh/ssh_host_*_key.pub and
 * dropbear's /etc/dropbear/<type>_host_key.pub (which the image's init
 * writes with dropbearkey -y). Unreadable or malformed files are left out. */
void hostkeys_collect(struct keyset *ks);

/* Writes " hostkey=<key>" for each key into out, leaving off the keys that
 * do not fit. */
void hostkeys_format(const struct keyset *ks, char *out, size_t size);

#endif
