/* The guest's SSH host keys, as fingerprints for the hello line. */
#ifndef BANGER_AGENT_HOSTKEYS_H
#define BANGER_AGENT_HOSTKEYS_H

#include <stddef.h>

#define HOSTKEYS_MAX 8
#define HOSTKEYS_FP_MAX 128

struct keyset {
	int n;
	char fp[HOSTKEYS_MAX][HOSTKEYS_FP_MAX]; /* "<type>:SHA256:<b64>" */
};

/* Reads the OpenSSH (/etc/ssh) and dropbear (/etc/dropbear) host keys. */
void hostkeys_collect(struct keyset *ks);

/* Writes " hostkey=<fp>" for each key into out, leaving off the keys that
 * do not fit. */
void hostkeys_format(const struct keyset *ks, char *out, size_t size);

#endif
