/* Installing a bundle: unpacked with libarchive's secure extraction into
 * $state/.pull-XXXXXX, every entry checked against the manifest, then each
 * part swapped into the store in one rename. */
#include "bundle.h"
#include "put_in_place.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct unpack {
	struct archive *in;
	struct archive *out;
	struct manifest *m;
	uint64_t max_bytes;
	uint64_t total_bytes;
};

/* "./x" and "x" name the same entry. */
static const char *entry_path(struct archive_entry *e)
{
	const char *p = archive_entry_pathname(e);
	if (!p)
		return "";
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	return p;
}

static int count_bytes(struct unpack *u, uint64_t n, bgr_error *err)
{
	u->total_bytes += n;
	if (u->total_bytes > u->max_bytes)
		return bgr_fail(err, EFBIG, "bundle expands past %" PRIu64 " bytes: decompression bomb?", u->max_bytes);
	return 0;
}

static int read_manifest(struct unpack *u, struct archive_entry *e, bgr_error *err)
{
	la_int64_t size = archive_entry_size(e);
	struct manifest *m = u->m;

	if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) || strcmp(entry_path(e), MANIFEST_NAME))
		return bgr_fail(err, EINVAL, "the first entry of a bundle must be the file manifest.json");
	if (size <= 0 || size > MANIFEST_MAX_BYTES)
		return bgr_fail(err, EINVAL, "manifest.json: bad size %lld", (long long)size);
	if (count_bytes(u, size, err) < 0)
		return -EFBIG;
	m->text = xcalloc(1, size + 1);
	for (la_int64_t got = 0; got < size;) {
		la_ssize_t n = archive_read_data(u->in, m->text + got, size - got);
		if (n <= 0)
			return bgr_fail(err, EIO, "manifest.json: %s",
					n < 0 ? archive_error_string(u->in) : "truncated");
		got += n;
	}
	m->text_len = size;
	return parse_manifest(m, err);
}

/* Why this entry may not be unpacked, or NULL; *index is its allowed_files slot. */
static const char *refusal(struct unpack *u, struct archive_entry *e, int *index)
{
	const char *path = entry_path(e);

	if (path[0] == '/')
		return "an absolute path";
	if (!strcmp(path, "..") || !strncmp(path, "../", 3) || strstr(path, "/../") ||
	    (strlen(path) >= 3 && !strcmp(path + strlen(path) - 3, "/..")))
		return "a path outside the bundle";
	if (archive_entry_hardlink(e))
		return "a hard link";
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
		break;
	case AE_IFDIR:
		return !strcmp(path, "") || !strcmp(path, ".") ? NULL : "a directory";
	case AE_IFLNK:
		return "a symbolic link";
	case AE_IFCHR:
	case AE_IFBLK:
		return "a device node";
	default:
		return "not a regular file";
	}
	*index = allowed_index(path);
	if (*index < 0 || !u->m->files[*index].listed)
		return "not listed in the manifest";
	if (u->m->files[*index].seen)
		return "a second copy";
	if (!archive_entry_size_is_set(e) || (uint64_t)archive_entry_size(e) != u->m->files[*index].size)
		return "its size differs from the manifest's";
	return NULL;
}

/* Copies the entry's data to disk, hashing it; holes of sparse entries
 * hash as the zeros they read back as. */
static int copy_entry(struct unpack *u, const char *path, uint64_t size, char sha[SHA256_HEX_LEN + 1], bgr_error *err)
{
	_cleanup_md_ EVP_MD_CTX *c = sha256_new();
	uint64_t pos = 0;
	const void *buf;
	size_t len;
	la_int64_t offset;
	int r;

	while ((r = archive_read_data_block(u->in, &buf, &len, &offset)) == ARCHIVE_OK) {
		if (offset < 0 || (uint64_t)offset < pos || (uint64_t)offset + len > size)
			return bgr_fail(err, EINVAL, "%s: data out of place", path);
		if (count_bytes(u, (uint64_t)offset + len - pos, err) < 0)
			return -EFBIG;
		sha256_zeros(c, (uint64_t)offset - pos);
		EVP_DigestUpdate(c, buf, len);
		if (archive_write_data_block(u->out, buf, len, offset) < ARCHIVE_OK)
			return bgr_fail(err, EIO, "%s: %s", path, archive_error_string(u->out));
		pos = (uint64_t)offset + len;
	}
	if (r != ARCHIVE_EOF)
		return bgr_fail(err, EIO, "%s: %s", path, archive_error_string(u->in));
	if (count_bytes(u, size - pos, err) < 0)
		return -EFBIG;
	sha256_zeros(c, size - pos);
	sha256_hex(c, sha);
	return 0;
}

static int unpack_entry(struct unpack *u, struct archive_entry *e, bgr_error *err)
{
	char shown[128], sha[SHA256_HEX_LEN + 1];
	const char *why;
	int i = -1, r;

	printable_copy(archive_entry_pathname(e) ? archive_entry_pathname(e) : "", shown, sizeof(shown));
	why = refusal(u, e, &i);
	if (why)
		return bgr_fail(err, EINVAL, "refusing %s: %s", shown, why);
	if (i < 0)
		return 0; /* the top directory */
	if (u->total_bytes + u->m->files[i].size > u->max_bytes)
		return bgr_fail(err, EFBIG, "bundle expands past %" PRIu64 " bytes: decompression bomb?", u->max_bytes);
	archive_entry_set_pathname(e, allowed_files[i].path);
	archive_entry_set_perm(e, 0644);
	if (archive_write_header(u->out, e) < ARCHIVE_OK)
		return bgr_fail(err, EIO, "%s: %s", shown, archive_error_string(u->out));
	r = copy_entry(u, shown, u->m->files[i].size, sha, err);
	if (r < 0)
		return r;
	if (archive_write_finish_entry(u->out) < ARCHIVE_OK)
		return bgr_fail(err, EIO, "%s: %s", shown, archive_error_string(u->out));
	if (strcmp(sha, u->m->files[i].sha256))
		return bgr_fail(err, EBADMSG, "%s: sha256 mismatch: want %s, got %s", shown, u->m->files[i].sha256,
				sha);
	u->m->files[i].seen = true;
	return 0;
}

static int check_all_seen(const struct manifest *m, bgr_error *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(allowed_files); i++)
		if (m->files[i].listed && !m->files[i].seen)
			return bgr_fail(err, EINVAL, "%s is in the manifest but not in the bundle",
					allowed_files[i].path);
	return 0;
}

static int open_archives(struct unpack *u, const char *bundle, bgr_error *err)
{
	u->in = archive_read_new();
	u->out = archive_write_disk_new();
	if (!u->in || !u->out)
		abort();
	archive_read_support_format_tar(u->in);
	archive_read_support_filter_zstd(u->in);
	archive_read_support_filter_gzip(u->in);
	archive_write_disk_set_options(u->out, ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
						       ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_PERM);
	if (archive_read_open_filename(u->in, bundle, 1 << 16) != ARCHIVE_OK)
		return bgr_fail(err, EINVAL, "%s: %s", bundle, archive_error_string(u->in));
	return 0;
}

/* Unpacks bundle into the current directory (a fresh temp dir). */
static int unpack_bundle(const char *bundle, struct manifest *m, uint64_t max_bytes, bgr_error *err)
{
	struct unpack u = { .m = m, .max_bytes = max_bytes };
	struct archive_entry *e;
	bool first = true;
	int r, rc;

	r = open_archives(&u, bundle, err);
	while (r == 0 && (rc = archive_read_next_header(u.in, &e)) != ARCHIVE_EOF) {
		if (rc < ARCHIVE_WARN)
			r = bgr_fail(err, EINVAL, "%s: %s", bundle, archive_error_string(u.in));
		else if (first)
			r = read_manifest(&u, e, err);
		else
			r = unpack_entry(&u, e, err);
		first = false;
	}
	if (r == 0 && first)
		r = bgr_fail(err, EINVAL, "%s: empty archive", bundle);
	if (r == 0)
		r = check_all_seen(m, err);
	archive_read_free(u.in);
	archive_write_free(u.out);
	return r;
}

static int write_file(const char *path, const char *data, size_t len, bgr_error *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	errno = EIO; /* what a short write leaves */
	if (fd < 0 || write(fd, data, len) != (ssize_t)len || fsync(fd) < 0)
		return bgr_fail(err, errno, "%s: %s", path, strerror(errno));
	return 0;
}

/* image.json / kernel.json: what the tree shows as source, sha256, created
 * and (images) kernel. */
static int write_meta(const struct manifest *m, enum bundle_kind part, const struct install_opts *o, const char *path,
		      bgr_error *err)
{
	cJSON *j = cJSON_CreateObject();
	char *text;
	int r;

	cJSON_AddStringToObject(j, "source", o->source ? o->source : "");
	cJSON_AddStringToObject(j, "sha256", o->sha256 ? o->sha256 : "");
	if (part == KIND_IMAGE)
		cJSON_AddStringToObject(j, "kernel", m->kernel);
	cJSON_AddNumberToObject(j, "created", (double)time(NULL));
	text = cJSON_Print(j);
	cJSON_Delete(j);
	if (!text)
		abort();
	r = write_file(path, text, strlen(text), err);
	free(text);
	return r;
}

/* Moves this part's files from the temp dir into temp/DIR, fsynced. */
static int stage_part(const struct manifest *m, enum bundle_kind part, const char *dir, const struct install_opts *o,
		      bgr_error *err)
{
	if (mkdir(dir, 0755) < 0)
		return bgr_fail(err, errno, "mkdir %s: %s", dir, strerror(errno));
	for (size_t i = 0; i < ARRAY_SIZE(allowed_files); i++) {
		_cleanup_free_ char *to = NULL;
		_cleanup_close_ int fd = -1;
		if (!m->files[i].listed || allowed_files[i].part != part)
			continue;
		to = xasprintf("%s/%s", dir, allowed_files[i].path);
		fd = open(allowed_files[i].path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) < 0 || rename(allowed_files[i].path, to) < 0)
			return bgr_fail(err, errno, "%s: %s", to, strerror(errno));
	}
	if (part == KIND_IMAGE && write_file("image/bundle.json", m->text, m->text_len, err) < 0)
		return -1;
	return write_meta(m, part, o, part == KIND_IMAGE ? "image/image.json" : "kernel/kernel.json", err);
}

/* --only and --name against what the bundle holds: the parts to install. */
static int parts_wanted(const struct manifest *m, const struct install_opts *o, enum bundle_kind *ret, bgr_error *err)
{
	enum bundle_kind parts = o->only ? o->only : m->kind;

	if (!(m->kind & parts))
		return bgr_fail(err, EINVAL, "the bundle holds no %s", o->only == KIND_IMAGE ? "image" : "kernel");
	if (o->name && (parts & KIND_IMAGE) && strcmp(o->name, m->name))
		return bgr_fail(err, EINVAL, "the bundle holds image '%s', not '%.64s'", m->name, o->name);
	if (o->name && parts == KIND_KERNEL && strcmp(o->name, m->kernel))
		return bgr_fail(err, EINVAL, "the bundle holds kernel '%s', not '%.64s'", m->kernel, o->name);
	*ret = parts;
	return 0;
}

static int install_parts(const struct manifest *m, const char *state_abs, const char *tmp, const struct install_opts *o,
			 bgr_error *err)
{
	_cleanup_free_ char *kernel_dest = xasprintf("%s/kernels/%s", state_abs, m->kernel);
	_cleanup_free_ char *image_dest = xasprintf("%s/images/%s", state_abs, m->name);
	_cleanup_free_ char *kernel_staged = xasprintf("%s/kernel", tmp);
	_cleanup_free_ char *image_staged = xasprintf("%s/image", tmp);
	enum bundle_kind parts = 0;

	if (parts_wanted(m, o, &parts, err) < 0)
		return -1;
	if ((parts & KIND_KERNEL) && stage_part(m, KIND_KERNEL, "kernel", o, err) < 0)
		return -1;
	if ((parts & KIND_IMAGE) && stage_part(m, KIND_IMAGE, "image", o, err) < 0)
		return -1;
	/* the kernel first: an image in place may already name it */
	if (parts & KIND_KERNEL) {
		if (put_in_place(kernel_staged, kernel_dest, err) < 0)
			return -1;
		printf("ok kernel %s\n", m->kernel);
	}
	if (parts & KIND_IMAGE) {
		if (put_in_place(image_staged, image_dest, err) < 0)
			return -1;
		printf("ok image %s\n", m->name);
	}
	return 0;
}

int bundle_install(const char *bundle, const char *state_dir, const struct install_opts *o, bgr_error *err)
{
	_cleanup_free_ char *bundle_abs = realpath(bundle, NULL);
	_cleanup_free_ char *state_abs = realpath(state_dir, NULL);
	_cleanup_free_ char *tmp = NULL;
	struct manifest m = { 0 };
	int r = -1;

	if (!bundle_abs)
		return bgr_fail(err, errno, "%s: %s", bundle, strerror(errno));
	if (!state_abs)
		return bgr_fail(err, errno, "%s: %s", state_dir, strerror(errno));
	tmp = xasprintf("%s/.pull-XXXXXX", state_abs);
	if (!mkdtemp(tmp))
		return bgr_fail(err, errno, "mkdtemp in %s: %s", state_abs, strerror(errno));
	/* archive_write_disk extracts relative to the cwd, and relative
	 * paths are all the secure options let through */
	if (chdir(tmp) < 0) {
		bgr_fail(err, errno, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	r = unpack_bundle(bundle_abs, &m, o->max_bytes, err);
	if (r == 0)
		r = install_parts(&m, state_abs, tmp, o, err);
out:
	if (chdir("/") < 0 || rm_rf(tmp) < 0)
		fprintf(stderr, "banger-pull: could not remove %s\n", tmp);
	free(m.text);
	return r;
}
