/* The guest's SSH host keys: as full public keys for the hello line, and
 * installing a key the host made for a restored clone (identify). */
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

/* What hostkeys_install wrote for. */
#define HOSTKEYS_DROPBEAR 1
#define HOSTKEYS_OPENSSH 2

/* Installs the host-made ed25519 key (hex of an unencrypted OpenSSH
 * private key file, identify's hostkey_ed25519=) for each SSH server the
 * image has host keys for: OpenSSH's /etc/ssh/ssh_host_ed25519_key (the
 * file as it is) and dropbear's /etc/dropbear/dropbear_ed25519_host_key
 * (converted to dropbear's format), each 0600 with its .pub (comment
 * root@name); their other host keys go. The caller restarts the servers.
 * Returns the HOSTKEYS_* mask (0: the image has no SSH server's keys), or
 * -1 with reason (no spaces) set. root prefixes the paths ("" in the
 * guest; a scratch directory in the tests). */
int hostkeys_install(const char *root, const char *hex, const char *name, char *reason, size_t size);

/* Kills the listening dropbear (dropbear -F ...): the image's init starts
 * it again at once with the new key (/run/banger-sshd-restart); waits, at
 * most wait_ms, until the old one no longer listens on port 22 and the new
 * one does. */
void hostkeys_restart_dropbear(int wait_ms);

/* True when every running dropbear server loads its host key for each
 * connection (the tiny init runs it with -R and an -r file that does not
 * exist): a new key file counts without a restart. */
int hostkeys_dropbear_rereads(void);

/* Has the listening OpenSSH sshd read its host keys again (SIGHUP: it
 * closes its listening sockets and re-executes itself) and waits, at most
 * wait_ms, until its old sockets are closed and new ones listen. 0, or -1
 * when no sshd listens on port 22 or it did not react in time (the caller
 * restarts it another way). */
int hostkeys_restart_openssh(int wait_ms);

/* True when the listening OpenSSH sshd loads its host keys from disk for
 * each connection, so new key files count without a restart: before 9.8
 * every connection re-executes sshd, which reads them (unless sshd runs
 * with -r); from 9.8 on, sshd-session gets the keys the listener loaded. */
int hostkeys_openssh_rereads(void);

/* True when something listens on TCP port 22 (IPv4 or IPv6). */
int hostkeys_ssh_listening(void);

#endif
