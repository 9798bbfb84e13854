/* Where banger keeps its files on the host (DESIGN.md "Paths on the host"). */
#ifndef BANGER_PATHS_H
#define BANGER_PATHS_H

#include "error.h"

#include <limits.h>

struct bgr_paths {
	char *config_dir;    /* ~/.config/banger */
	char *state_dir;     /* ~/.local/state/banger */
	char *cache_dir;     /* ~/.cache/banger */
	char *db;            /* state/banger.db */
	char *log;           /* state/bangerd.log */
	char *lock;          /* state/bangerd.lock */
	char *vms_dir;       /* state/vms */
	char *images_dir;    /* state/images */
	char *kernels_dir;   /* state/kernels */
	char *ssh_state_dir; /* state/ssh (0700) */
	char *known_hosts;   /* state/ssh/known_hosts: the pins (0600) */
	char *ssh_config;    /* state/ssh/config: Host blocks for every VM */
	char *ssh_key;       /* config/ssh/id_ed25519, or $BANGER_SSH_KEY */
};

/* Resolves from $BANGER_HOME, else the XDG variables, else $HOME, and creates
 * the state directories (0700). The state, state/ssh and cache directories
 * must be this user's (else EPERM) and are made 0700 when they are more
 * open. */
int paths_init(struct bgr_paths *p, bgr_error *err);
void paths_free(struct bgr_paths *p);

/* The one place bangerd looks for its helper programs (banger-ssh,
 * banger-pull, banger-oci, banger-fc): $env_var, else next to this
 * executable, else ../lib/banger/ next to it (the installed layout), else
 * ../helpers/NAME/ next to it (the build tree: build/fs/bangerd finds
 * build/helpers/banger-ssh/banger-ssh), else name (PATH). */
const char *helper_path(const char *name, const char *env_var, char buf[PATH_MAX + 64]);

#endif
