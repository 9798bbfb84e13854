/* vmm/ssh: bangerd's side of SSH, which never links libssh: running the
 * banger-ssh helper (here, ssh_helper.c: the managed key, pin groups and
 * drops), known_hosts kept in memory (pins_cache.c), a boot's ssh check on
 * a worker (ssh_verify.c) and the Host blocks of state/ssh/config
 * (ssh_config.c). Key material from guests is parsed only in the helper
 * (helpers/banger-ssh/).
 *
 * Each call here waits for the helper: call them from workers (or at
 * start-up), never from a loop callback; vm_remove's pin removal and
 * ssh_verify's clean-up of a vanished VM are the exceptions left. */
#ifndef BANGER_SSH_HELPER_H
#define BANGER_SSH_HELPER_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "pubkey.h"

#include <limits.h>
#include <sys/types.h>

/* banger-ssh's ($BANGER_SSH_HELPER overrides). */
const char *ssh_helper_path(void);

/* Makes sure the key pair exists; fills pub. */
int ssh_helper_key(const char *key_path, struct pubkey *pub, bgr_error *err);
/* A new ed25519 SSH host key for a restored clone, made by the helper
 * (never written to disk) while the caller does other work: _begin starts
 * it, _end waits for it and gives its public key and the OpenSSH private
 * key file as hex in *priv_hex (caller frees, after explicit_bzero). Call
 * _end once after every _begin (it reaps the helper). */
struct host_key_gen {
	pid_t pid;
	int fd;
};
int ssh_helper_host_key_begin(struct host_key_gen *g, bgr_error *err);
int ssh_helper_host_key_end(struct host_key_gen *g, struct pubkey *pub, char **priv_hex, bgr_error *err);
/* Removes the lines of file for every one of hosts. */
int ssh_helper_drop(const char *file, const char *const *hosts, size_t n, bgr_error *err);
/* A cheap pre-check before running the helper: false when none of hosts
 * occurs anywhere in file (so it holds no pin for them); true otherwise.
 * The helper's libssh parser decides what really matches. */
bool pins_may_hold(const char *file, const char *const *hosts, size_t n);
/* Runs argv (argv[0] is replaced by the helper's path) and returns its
 * output (caller frees) and exit status through *status. */
char *ssh_helper_run(char **argv, int *status, bool (*cancel)(void *), void *ctx);

#endif
