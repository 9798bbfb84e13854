/* See oci_layers.h. The tree is the current directory (archive_write_disk
 * extracts relative to it); every path is checked before it is touched. */
#include "oci_layers.h"
#include "oci_cancel.h"
#include "util.h"
#include "validate.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#define WHITEOUT ".wh."
#define OPAQUE ".wh..wh..opq"

/* The paths this layer wrote (a lower layer's entries are the others). */
struct path_set {
	char **v;
	size_t n, cap;
	bool sorted;
};

struct layer {
	struct archive *in, *out;
	struct path_set written;
	uint64_t *total, max;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void set_add(struct path_set *s, const char *p)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			abort();
	}
	s->v[s->n++] = xstrdup(p);
	s->sorted = false;
}

static bool set_has(struct path_set *s, const char *p)
{
	if (!s->sorted) {
		qsort(s->v, s->n, sizeof(*s->v), cmp_str);
		s->sorted = true;
	}
	return s->n && bsearch(&p, s->v, s->n, sizeof(*s->v), cmp_str);
}

static void set_free(struct path_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

/* "./a//b/" -> "a/b" in place; NULL for ".." components or absolute paths. */
static char *normalize(char *p)
{
	char *out = p, *w = p;

	if (p[0] == '/')
		return NULL;
	while (*p) {
		size_t len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return NULL;
		if (len > 0 && !(len == 1 && p[0] == '.')) {
			if (w != out)
				*w++ = '/';
			memmove(w, p, len);
			w += len;
		}
		p += len;
		while (*p == '/')
			p++;
	}
	*w = '\0';
	return out;
}

/* No directory on the way to path (inside the tree) is a symlink: a
 * whiteout or a replacement must never reach outside through one. */
static bool parents_safe(const char *path)
{
	_cleanup_free_ char *p = xstrdup(path);
	struct stat st;

	for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (lstat(p, &st) < 0)
			return errno == ENOENT;
		if (!S_ISDIR(st.st_mode))
			return false;
		*s = '/';
	}
	return true;
}

static int remove_path(const char *path, bgr_error *err)
{
	int r = rm_rf(path);
	if (r < 0)
		return bgr_fail(err, -r, "cannot remove %s: %s", path, strerror(-r));
	return 0;
}

/* Empties dir of everything this layer did not write (recursively into
 * directories it did write). */
static int prune(struct layer *l, const char *dir, bgr_error *err)
{
	_cleanup_closedir_ DIR *d = opendir(dir[0] ? dir : ".");
	struct dirent *de;
	struct stat st;

	if (!d)
		return errno == ENOENT ? 0 : bgr_fail(err, errno, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		_cleanup_free_ char *child = NULL;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		child = dir[0] ? xasprintf("%s/%s", dir, de->d_name) : xstrdup(de->d_name);
		if (!set_has(&l->written, child)) {
			if (remove_path(child, err) < 0)
				return -1;
		} else if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode) && prune(l, child, err) < 0)
			return -1;
	}
	return 0;
}

/* A ".wh." entry at path (dir/base): applies it. */
static int whiteout(struct layer *l, const char *path, const char *dir, const char *base, bgr_error *err)
{
	_cleanup_free_ char *target = NULL;
	struct stat st;

	if (!parents_safe(path))
		return bgr_fail(err, EINVAL, "refusing whiteout %s: a path through a symlink", path);
	if (!strcmp(base, OPAQUE)) {
		if (dir[0] && (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)))
			return 0;
		return prune(l, dir, err);
	}
	base += strlen(WHITEOUT);
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return bgr_fail(err, EINVAL, "refusing whiteout %s: no name", path);
	target = dir[0] ? xasprintf("%s/%s", dir, base) : xstrdup(base);
	if (lstat(target, &st) < 0)
		return 0;
	return remove_path(target, err);
}

/* What is there and of another kind goes: a file replaces a directory,
 * a directory replaces a file (overlayfs semantics). */
static int make_room(const char *path, mode_t type, bgr_error *err)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return 0;
	if (S_ISDIR(st.st_mode) && type != AE_IFDIR)
		return remove_path(path, err);
	if (!S_ISDIR(st.st_mode) && type == AE_IFDIR && unlink(path) < 0)
		return bgr_fail(err, errno, "cannot remove %s: %s", path, strerror(errno));
	return 0;
}

static int count_bytes(struct layer *l, uint64_t n, bgr_error *err)
{
	if (n > l->max || *l->total > l->max - n)
		return bgr_fail(err, EFBIG, "the image expands past %" PRIu64 " bytes: decompression bomb?", l->max);
	*l->total += n;
	return 0;
}

static int copy_data(struct layer *l, const char *path, bgr_error *err)
{
	const void *buf;
	size_t len;
	la_int64_t offset;
	int r;

	while ((r = archive_read_data_block(l->in, &buf, &len, &offset)) == ARCHIVE_OK)
		if (archive_write_data_block(l->out, buf, len, offset) < ARCHIVE_OK)
			return bgr_fail(err, EIO, "%s: %s", path, archive_error_string(l->out));
	if (r != ARCHIVE_EOF)
		return bgr_fail(err, EIO, "%s: %s", path, archive_error_string(l->in));
	return 0;
}

/* A hard link's target, normalized; NULL when it is not one. */
static int check_hardlink(struct archive_entry *e, const char *shown, bgr_error *err)
{
	_cleanup_free_ char *target = NULL;
	char *n;

	if (!archive_entry_hardlink(e))
		return 0;
	target = xstrdup(archive_entry_hardlink(e));
	n = normalize(target);
	if (!n || !*n || !parents_safe(n))
		return bgr_fail(err, EINVAL, "refusing %s: a hard link outside the image", shown);
	archive_entry_copy_hardlink(e, n);
	return 1;
}

static int extract(struct layer *l, struct archive_entry *e, const char *path, const char *shown, bgr_error *err)
{
	int link = check_hardlink(e, shown, err);
	mode_t type = archive_entry_filetype(e);

	if (link < 0)
		return -1;
	if (!parents_safe(path))
		return bgr_fail(err, EINVAL, "refusing %s: a path through a symlink", shown);
	if (!link && type == AE_IFREG && count_bytes(l, archive_entry_size(e), err) < 0)
		return -EFBIG;
	if (make_room(path, link ? AE_IFREG : type, err) < 0)
		return -1;
	archive_entry_set_pathname(e, path);
	if (archive_write_header(l->out, e) < ARCHIVE_WARN)
		return bgr_fail(err, EINVAL, "refusing %s: %s", shown, archive_error_string(l->out));
	if (!link && type == AE_IFREG && archive_entry_size(e) > 0 && copy_data(l, shown, err) < 0)
		return -1;
	if (archive_write_finish_entry(l->out) < ARCHIVE_WARN)
		return bgr_fail(err, EIO, "%s: %s", shown, archive_error_string(l->out));
	set_add(&l->written, path);
	return 0;
}

static int apply_entry(struct layer *l, struct archive_entry *e, bgr_error *err)
{
	_cleanup_free_ char *raw = xstrdup(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
	char shown[160], *path, *slash;
	const char *base;
	_cleanup_free_ char *dir = NULL;

	printable_copy(raw, shown, sizeof(shown));
	path = normalize(raw);
	if (!path)
		return bgr_fail(err, EINVAL, "refusing %s: a path outside the image", shown);
	if (!*path)
		return 0; /* the root directory itself */
	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	dir = slash ? xasprintf("%.*s", (int)(slash - path), path) : xstrdup("");
	if (!strncmp(base, WHITEOUT, strlen(WHITEOUT)))
		return whiteout(l, path, dir, base, err);
	return extract(l, e, path, shown, err);
}

static void open_archives(struct layer *l)
{
	l->in = archive_read_new();
	l->out = archive_write_disk_new();
	if (!l->in || !l->out)
		abort();
	archive_read_support_format_tar(l->in);
	archive_read_support_filter_gzip(l->in);
	archive_read_support_filter_zstd(l->in);
	/* numeric owners (no name lookups on the host); no file flags: an
	 * immutable file could not be cleaned up */
	archive_write_disk_set_options(l->out, ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
						       ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_PERM |
						       ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_TIME |
						       ARCHIVE_EXTRACT_XATTR);
}

int oci_layer_apply(const char *blob, uint64_t *total_bytes, uint64_t max_bytes, bgr_error *err)
{
	struct layer l = { .total = total_bytes, .max = max_bytes };
	struct archive_entry *e;
	int r = 0, rc;

	open_archives(&l);
	if (archive_read_open_filename(l.in, blob, 1 << 16) != ARCHIVE_OK)
		r = bgr_fail(err, EINVAL, "%s", archive_error_string(l.in));
	while (r == 0 && (rc = archive_read_next_header(l.in, &e)) != ARCHIVE_EOF) {
		if (oci_cancelled)
			r = bgr_fail(err, EINTR, "interrupted");
		else if (rc < ARCHIVE_WARN)
			r = bgr_fail(err, EINVAL, "%s", archive_error_string(l.in));
		else
			r = apply_entry(&l, e, err);
	}
	if (archive_write_close(l.out) < ARCHIVE_WARN && r == 0)
		r = bgr_fail(err, EIO, "%s", archive_error_string(l.out));
	archive_read_free(l.in);
	archive_write_free(l.out);
	set_free(&l.written);
	return r < 0 ? -1 : 0;
}
