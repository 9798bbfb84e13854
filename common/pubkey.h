/* A public SSH key as text, the type bangerd and the banger-ssh helper
 * pass between them (only the helper parses keys, with libssh). */
#ifndef BANGER_PUBKEY_H
#define BANGER_PUBKEY_H

#define SSHKEY_TYPE_MAX 64
#define SSHKEY_B64_MAX 2048

/* A public key as OpenSSH writes it: "<type> <base64>". */
struct pubkey {
	char type[SSHKEY_TYPE_MAX];
	char b64[SSHKEY_B64_MAX];
};

#endif
