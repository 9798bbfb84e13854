#include "paths.h"
#include "util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <pwd.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *home_dir(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h && *h)
		return h;
	pw = getpwuid(getuid());
	return pw ? pw->pw_dir : NULL;
}

static char *xdg_dir(const char *var, const char *home, const char *fallback)
{
	const char *v = getenv(var);

	if (v && v[0] == '/')
		return xasprintf("%s/banger", v);
	return xasprintf("%s/%s/banger", home, fallback);
}

/* A directory no one but its owner may enter or plant a file in: made 0700
 * when absent, tightened to 0700 when it is more open, refused when it is
 * not a directory of this user's (root included: root following another
 * user's symlinks is the classic way to be fooled). */
static int private_dir(const char *path, bgr_error *err)
{
	struct stat st;
	int r = mkdir_p(path, 0700);

	if (r < 0)
		return bgr_fail(err, -r, "cannot create %s: %s", path, strerror(-r));
	if (stat(path, &st) < 0)
		return bgr_fail(err, errno, "%s: %s", path, strerror(errno));
	if (st.st_uid != geteuid())
		return bgr_fail(err, EPERM,
				"%s belongs to uid %u, not to this user (uid %u): banger keeps no files there", path,
				(unsigned)st.st_uid, (unsigned)geteuid());
	if ((st.st_mode & 077) && chmod(path, 0700) < 0)
		return bgr_fail(err, errno, "cannot make %s private (0700): %s", path, strerror(errno));
	return 0;
}

int paths_init(struct bgr_paths *p, bgr_error *err)
{
	const char *bh = getenv("BANGER_HOME");
	const char *home = home_dir();
	int r;

	memset(p, 0, sizeof(*p));
	if (bh && *bh) {
		if (bh[0] != '/')
			return bgr_fail(err, EINVAL, "BANGER_HOME must be an absolute path: %s", bh);
		p->config_dir = xasprintf("%s/config", bh);
		p->state_dir = xasprintf("%s/state", bh);
		p->cache_dir = xasprintf("%s/cache", bh);
	} else {
		if (!home)
			return bgr_fail(err, ENOENT, "cannot find the home directory (set HOME or BANGER_HOME)");
		p->config_dir = xdg_dir("XDG_CONFIG_HOME", home, ".config");
		p->state_dir = xdg_dir("XDG_STATE_HOME", home, ".local/state");
		p->cache_dir = xdg_dir("XDG_CACHE_HOME", home, ".cache");
	}
	p->db = xasprintf("%s/banger.db", p->state_dir);
	p->log = xasprintf("%s/bangerd.log", p->state_dir);
	p->lock = xasprintf("%s/bangerd.lock", p->state_dir);
	p->vms_dir = xasprintf("%s/vms", p->state_dir);
	p->images_dir = xasprintf("%s/images", p->state_dir);
	p->kernels_dir = xasprintf("%s/kernels", p->state_dir);
	p->ssh_state_dir = xasprintf("%s/ssh", p->state_dir);
	p->known_hosts = xasprintf("%s/known_hosts", p->ssh_state_dir);
	p->ssh_config = xasprintf("%s/config", p->ssh_state_dir);
	const char *key = getenv("BANGER_SSH_KEY");
	if (key && *key && key[0] != '/')
		return bgr_fail(err, EINVAL, "BANGER_SSH_KEY must be an absolute path: %s", key);
	p->ssh_key = key && *key ? xstrdup(key) : xasprintf("%s/ssh/id_ed25519", p->config_dir);

	/* the state (and the cache) directory is the only door: what is inside
	 * may be more open (images/), no other user can reach it */
	const char *private[] = { p->state_dir, p->ssh_state_dir, p->cache_dir };
	for (size_t i = 0; i < ARRAY_SIZE(private); i++) {
		r = private_dir(private[i], err);
		if (r < 0)
			return r;
	}
	const char *dirs[] = { p->vms_dir, p->images_dir, p->kernels_dir };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		r = mkdir_p(dirs[i], 0700);
		if (r < 0)
			return bgr_fail(err, -r, "cannot create %s: %s", dirs[i], strerror(-r));
	}
	return 0;
}

void paths_free(struct bgr_paths *p)
{
	char **all[] = { &p->config_dir,  &p->state_dir,  &p->cache_dir,  &p->db,          &p->log,
			 &p->lock,        &p->vms_dir,    &p->images_dir, &p->kernels_dir, &p->ssh_state_dir,
			 &p->known_hosts, &p->ssh_config, &p->ssh_key };
	for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
		free(*all[i]);
		*all[i] = NULL;
	}
}

/* buf = dir/rel; true when it is an executable. */
static bool try_helper(char buf[PATH_MAX + 64], const char *dir, const char *rel, const char *name)
{
	snprintf(buf, PATH_MAX + 64, "%s/%s%s", dir, rel, name);
	return access(buf, X_OK) == 0;
}

const char *helper_path(const char *name, const char *env_var, char buf[PATH_MAX + 64])
{
	const char *env = getenv(env_var);
	char self[PATH_MAX - 512], in_build[128];
	ssize_t n;

	if (env && *env)
		return env;
	if (!buf) /* never; it keeps -Wformat-truncation quiet in sanitizer builds */
		return name;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		*strrchr(self, '/') = '\0';
		snprintf(in_build, sizeof(in_build), "../helpers/%.64s/", name);
		if (try_helper(buf, self, "", name) || try_helper(buf, self, "../lib/banger/", name) ||
		    try_helper(buf, self, in_build, name))
			return buf;
	}
	snprintf(buf, PATH_MAX + 64, "%s", name);
	return buf;
}
