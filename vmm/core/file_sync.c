#include "file_sync.h"
#include "proc.h"
#include "util.h"
#include "validate.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "~/x" or "~" with $HOME; anything else as written. */
static char *host_path(const char *p)
{
	const char *home = getenv("HOME");

	if (p[0] == '~' && (p[1] == '/' || !p[1]) && home)
		return xasprintf("%s%s", home, p + 1);
	return xstrdup(p);
}

/* The guest path relative to /root ("x/y"), or NULL when it is not
 * strictly under ~/ or /root/ or has an empty, "." or ".." component. */
static char *guest_relative(const char *g)
{
	const char *rel = !strncmp(g, "~/", 2) ? g + 2 : !strncmp(g, "/root/", 6) ? g + 6 : NULL;
	char *out;
	size_t len;

	if (!rel)
		return NULL;
	out = xstrdup(rel);
	len = strlen(out);
	while (len > 0 && out[len - 1] == '/')
		out[--len] = '\0';
	if (!len || strstr(out, "//"))
		goto bad;
	for (const char *p = out; *p;) {
		size_t n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			goto bad;
		p += n;
		if (*p)
			p++;
	}
	return out;
bad:
	free(out);
	return NULL;
}

/* debugfs (make_root_owned) reads one command a line, with names in '"':
 * a control character (a newline ends the command), a '"' or a '\\' in a
 * name could end it and run a command of the guest-side tree's choosing.
 * Such names are refused, for every daemon (root's does not use debugfs,
 * but the same config must behave the same). */
static bool debugfs_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' || *s == '\\')
			return false;
	return true;
}

/* nftw callbacks take no context: per thread, as builds run on workers */
static _Thread_local const char *tree_root; /* the synced directory, resolved */
static _Thread_local const char *tree_src;  /* the entry's config line */
static _Thread_local bgr_error *tree_err;

/* A symlink under a synced directory must resolve inside it: cp copies
 * links as links (never what they point at), and a link that leaves the
 * tree (or leads nowhere) is a name the user did not mean to sync, e.g. a
 * link someone planted to ~/.ssh/id_ed25519. */
static int check_link(const char *path)
{
	_cleanup_free_ char *real = realpath(path, NULL);
	size_t n = strlen(tree_root);
	char target[256] = "", shown_path[256], shown_target[256];
	ssize_t len = readlink(path, target, sizeof(target) - 1);

	if (real && !strncmp(real, tree_root, n) && (real[n] == '/' || !real[n] || n == 1))
		return 0;
	target[len > 0 ? len : 0] = '\0';
	printable_copy(path, shown_path, sizeof(shown_path));
	printable_copy(target, shown_target, sizeof(shown_target));
	if (real)
		bgr_fail(tree_err, EINVAL,
			 "file_sync (%s): '%.200s' is a symbolic link to '%.100s', outside %.100s: refused, "
			 "nothing copied",
			 tree_src, shown_path, shown_target, tree_root);
	else
		bgr_fail(tree_err, EINVAL,
			 "file_sync (%s): '%.200s' is a symbolic link to '%.100s', which leads nowhere: refused, "
			 "nothing copied",
			 tree_src, shown_path, shown_target);
	return 1;
}

/* The first name under a synced directory that is not debugfs_safe, or a
 * symlink that leaves it, fails the entry (tree_err). */
static int check_tree_name(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	char shown[256];

	(void)st;
	if (ftw->level > 0 && !debugfs_safe(path + ftw->base)) {
		printable_copy(path, shown, sizeof(shown));
		bgr_fail(tree_err, EINVAL,
			 "file_sync (%s): '%.200s' has a name with a control character (a newline), '\"' or '\\': "
			 "refused, nothing copied",
			 tree_src, shown);
		return 1;
	}
	return type == FTW_SL || type == FTW_SLN ? check_link(path) : 0;
}

/* Everything that can be refused about an entry, before anything is copied. */
static int check_entry(const struct file_sync *e, bgr_error *err)
{
	_cleanup_free_ char *host = host_path(e->host), *rel = guest_relative(e->guest);
	char shown[256];
	struct stat st;

	if (!rel)
		return bgr_fail(err, EINVAL,
				"file_sync (%s): guest path '%.100s' must be under ~/ or /root/, without '..'", e->src,
				e->guest);
	if (!debugfs_safe(rel)) {
		printable_copy(e->guest, shown, sizeof(shown));
		return bgr_fail(err, EINVAL,
				"file_sync (%s): guest path '%.100s' holds a control character, '\"' or '\\': refused",
				e->src, shown);
	}
	/* the path named in config.toml is followed when it is a link (a
	 * dotfile kept by stow): the user named it; links under it are not */
	if (stat(host, &st) < 0)
		return bgr_fail(err, EINVAL, "file_sync (%s): host path '%.100s': %s", e->src, host, strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return bgr_fail(err, EINVAL, "file_sync (%s): host path '%.100s' is neither a file nor a directory",
				e->src, host);
	if (S_ISDIR(st.st_mode)) {
		_cleanup_free_ char *root = realpath(host, NULL);
		int r;

		if (!root)
			return bgr_fail(err, EINVAL, "file_sync (%s): host path '%.100s': %s", e->src, host,
					strerror(errno));
		tree_root = root;
		tree_src = e->src;
		tree_err = err;
		r = nftw(root, check_tree_name, 16, FTW_PHYS);
		tree_root = NULL;
		if (r == 1)
			return -err->code;
		if (r < 0)
			return bgr_fail(err, EINVAL, "file_sync (%s): cannot read all of '%.100s': %s", e->src, host,
					strerror(errno));
	}
	return 0;
}

static _Thread_local int file_mode = 0600;

static int set_modes(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_D || type == FTW_DP)
		chmod(path, 0700);
	else if (type == FTW_F && S_ISREG(st->st_mode))
		chmod(path, (mode_t)file_mode);
	return 0;
}

struct cancel {
	bool (*fn)(void *);
	void *ctx;
};

static bool cancelled(const struct cancel *c)
{
	return c->fn && c->fn(c->ctx);
}

static int run(char **argv, const struct cancel *c)
{
	return proc_run_cancel(argv, c->fn, c->ctx);
}

/* The stage holds what earlier entries copied, links included: a guest
 * path that runs through one (or ends on one) would have mkdir and cp
 * write where the link points, e.g. back into a synced directory on the
 * host. */
static bool through_link(const char *stage, const char *rel)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", stage, rel);
	struct stat st;

	for (char *s = p + strlen(stage) + 1;; s++) {
		char ch = *s;
		bool link;

		if (ch != '/' && ch != '\0')
			continue;
		*s = '\0';
		link = lstat(p, &st) == 0 && S_ISLNK(st.st_mode);
		*s = ch;
		if (link)
			return true;
		if (!ch)
			return false;
	}
}

static int stage_entry(const struct file_sync *e, const char *stage, const struct cancel *c, bgr_error *err)
{
	_cleanup_free_ char *host = host_path(e->host), *rel = guest_relative(e->guest), *dest = NULL, *parent = NULL;
	struct stat st;
	int r;

	if (!rel)
		return bgr_fail(err, EINVAL,
				"file_sync (%s): guest path '%.100s' must be under ~/ or /root/, without '..'", e->src,
				e->guest);
	if (stat(host, &st) < 0)
		return bgr_fail(err, EINVAL, "file_sync (%s): host path '%.100s': %s", e->src, host, strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return bgr_fail(err, EINVAL, "file_sync (%s): host path '%.100s' is neither a file nor a directory",
				e->src, host);
	if (through_link(stage, rel))
		return bgr_fail(err, EINVAL,
				"file_sync (%s): guest path '%.100s' runs into a symbolic link that an earlier "
				"entry copied: refused",
				e->src, e->guest);
	dest = xasprintf("%s/%s", stage, rel);
	parent = xstrdup(dest);
	*strrchr(parent, '/') = '\0';
	r = mkdir_p(parent, 0700);
	if (r < 0)
		return bgr_fail(err, -r, "file_sync: cannot create %s: %s", parent, strerror(-r));
	/* -H: the path named in config.toml is followed; links under it are
	 * copied as links, never followed (check_entry allowed only links that
	 * stay inside the tree; one swapped in since is still only a link in
	 * the guest) */
	char *argv[] = { "cp", "-R", "-H", "--no-preserve=mode,ownership", "--", host, dest, NULL };
	if (run(argv, c) != 0)
		return cancelled(c) ? bgr_fail(err, ECANCELED, "file_sync: cancelled")
				    : bgr_fail(err, EIO, "file_sync (%s): copying %.100s failed", e->src, host);
	file_mode = e->mode >= 0 ? e->mode : 0600;
	nftw(dest, set_modes, 16, FTW_PHYS);
	return 0;
}

static _Thread_local uint64_t tree_bytes;

static int add_size(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	(void)type;
	(void)ftw;
	tree_bytes += (uint64_t)st->st_blocks * 512 + 4096;
	return 0;
}

/* Non-root daemons stage files they own: make them root's inside the image
 * (sshd and friends insist on it). */
static _Thread_local int debugfs_lines_fd = -1;
static _Thread_local size_t stage_len;

static int owner_line(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	const char *inside = path[stage_len] ? path + stage_len : "/";
	dprintf(debugfs_lines_fd, "sif \"%s\" uid 0\nsif \"%s\" gid 0\n", inside, inside);
	return 0;
}

static int make_root_owned(const char *stage, const char *image, const char *vm_dir, const struct cancel *c,
			   bgr_error *err)
{
	_cleanup_free_ char *cmds = xasprintf("%s/work.debugfs", vm_dir);
	int fd, r;

	unlink(cmds);
	fd = open(cmds, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return bgr_fail(err, errno, "file_sync: cannot write %s: %s", cmds, open_strerror(errno));
	debugfs_lines_fd = fd;
	stage_len = strlen(stage);
	nftw(stage, owner_line, 16, FTW_PHYS);
	close(fd);
	char *argv[] = { "debugfs", "-w", "-f", cmds, (char *)image, NULL };
	r = run(argv, c);
	unlink(cmds);
	if (r != 0 && cancelled(c))
		return bgr_fail(err, ECANCELED, "file_sync: cancelled");
	return r == 0 ? 0 : bgr_fail(err, EIO, "file_sync: debugfs could not set owners in %s", image);
}

int file_sync_build(const struct vmm_settings *s, const char *vm_dir, bool (*cancel)(void *), void *ctx, bgr_error *err)
{
	const struct cancel c = { cancel, ctx };
	_cleanup_free_ char *stage = NULL, *image = NULL, *size_arg = NULL;
	uint64_t size;
	int r = 0;

	if (s->n_sync == 0)
		return 0;
	stage = xasprintf("%s/work-stage", vm_dir);
	image = xasprintf("%s/" WORK_DISK_NAME, vm_dir);
	rm_rf(stage);
	if (mkdir(stage, 0700) < 0)
		return bgr_fail(err, errno, "file_sync: cannot create %s: %s", stage, strerror(errno));
	for (size_t i = 0; i < s->n_sync && r == 0; i++)
		r = check_entry(&s->sync[i], err);
	for (size_t i = 0; i < s->n_sync && r == 0; i++)
		r = stage_entry(&s->sync[i], stage, &c, err);
	if (r < 0)
		goto out;
	chmod(stage, 0700);
	tree_bytes = 0;
	nftw(stage, add_size, 16, FTW_PHYS);
	size = tree_bytes * 2 + (64ULL << 20);
	size = size < (1ULL << 30) ? (1ULL << 30) : (size + (1 << 20) - 1) & ~((uint64_t)(1 << 20) - 1);
	size_arg = xasprintf("%lluk", (unsigned long long)(size >> 10));
	char *argv[] = { "mke2fs", "-q",          "-F", "-t",  "ext4", "-m",     "0",
			 "-L",     "banger-work", "-d", stage, image,  size_arg, NULL };
	if (run(argv, &c) != 0) {
		r = cancelled(&c) ? bgr_fail(err, ECANCELED, "file_sync: cancelled")
				  : bgr_fail(err, EIO, "file_sync: mke2fs could not build the work disk %s", image);
		goto out;
	}
	if (geteuid() != 0)
		r = make_root_owned(stage, image, vm_dir, &c, err);
out:
	rm_rf(stage);
	if (r < 0)
		unlink(image);
	return r;
}
