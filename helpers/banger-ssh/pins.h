/* Host-key pins: banger's own known_hosts file (OpenSSH format, 0600 in a
 * 0700 directory). Lines are parsed with libssh's known_hosts parser and
 * every change rewrites the file atomically under one lock (flock on
 * known_hosts.lock next to it). The user's ~/.ssh/known_hosts is never
 * touched. */
#ifndef BANGER_PINS_H
#define BANGER_PINS_H

#include <stddef.h>

#include "error.h"
#include "sshkey.h"

#define PINS_MAX 16 /* = HELLO_KEYS_MAX (ssh_verify.h): a hello's keys all fit */

struct pinset {
	int n;
	struct pubkey key[PINS_MAX];
};

/* The known_hosts name of addr:port ("[addr]:port" unless port is 22). */
void pins_host(const char *addr, int port, char *out, size_t size);

/* The keys pinned for host (empty set when none, or no file). */
int pins_lookup(const char *file, const char *host, struct pinset *ret, bgr_error *err);

/* Removes every line for any of drop[], then adds one line per key for
 * each of add[] (when keys is not NULL). */
int pins_update(const char *file, const char *const *drop, size_t n_drop, const char *const *add, size_t n_add,
		const struct pinset *keys, bgr_error *err);

/* The file's lines for any of hosts[], joined (caller frees); "" if none. */
char *pins_lines(const char *file, const char *const *hosts, size_t n);
/* pins_lines for many groups in one pass: each group is a comma-separated
 * host list; every line of the file that belongs to group G comes out as
 * "G LINE" (caller frees), in the file's order. */
char *pins_groups(const char *file, const char *const *groups, size_t n_groups);

#endif
