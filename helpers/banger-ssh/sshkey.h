/* The managed key pair banger logs into guests with, and the public-key
 * helpers the pins share (all through libssh). */
#ifndef BANGER_SSHKEY_H
#define BANGER_SSHKEY_H

#include <stddef.h>

#include "error.h"
#include "pubkey.h"

/* Creates an ed25519 pair at path (+ path.pub) if path does not exist (its
 * directory 0700, the private key 0600), then returns its public key.
 * An existing key is used as it is, whatever its type. */
int sshkey_ensure(const char *path, struct pubkey *pub, bgr_error *err);

/* A new ed25519 key for a guest's SSH server (a restored clone's, sent to
 * its agent by identify): its public key, and the OpenSSH private key file
 * (unencrypted) in *priv (caller frees, after explicit_bzero). */
int sshkey_host_key(struct pubkey *pub, char **priv, bgr_error *err);

/* Checks type/b64 by importing them with libssh; fills pub. */
int pubkey_from_text(const char *type, const char *b64, struct pubkey *pub, bgr_error *err);
/* "SHA256:..." of a public key, into out; "?" when it cannot be computed. */
void pubkey_fingerprint(const struct pubkey *pub, char *out, size_t size);
int pubkey_equal(const struct pubkey *a, const struct pubkey *b);

#endif
