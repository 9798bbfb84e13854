/* banger-pull: downloads and installs image/kernel bundles
 * (docs/image-catalog.md), in a short-lived child process of bangerd, like
 * banger-fc: libcurl, libarchive and libcrypto stay out of the daemon.
 *
 *   banger-pull fetch URL SHA256 DEST [--size N]
 *       downloads into DEST.part (resuming one left by an earlier try),
 *       printing "progress DONE TOTAL BYTES_PER_S" lines, checks the sha256
 *       and renames DEST.part to DEST.
 *   banger-pull get URL DEST [--max-bytes N]
 *       downloads a small file (a catalog) whole, without a checksum.
 *   banger-pull install BUNDLE STATE_DIR [--max-bytes N] [--only image|kernel]
 *                       [--name NAME] [--source TEXT] [--sha256 HEX]
 *       unpacks and checks BUNDLE, then installs STATE_DIR/images/NAME and/or
 *       STATE_DIR/kernels/NAME; prints "ok image NAME" / "ok kernel NAME".
 *
 * The last line is "ok" (fetch) or "error: REASON"; exit 0 / 1 (2: usage). */
#include "curl_setup.h"
#include "error.h"
#include "put_in_place.h"
#include "sha256.h"
#include "util.h"
#include "validate.h"

#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#define PROGRESS_INTERVAL_MS 500
#define MANIFEST_MAX_BYTES (1 << 20)
#define DEFAULT_MAX_BYTES (64ULL << 30)
#define BUNDLE_FORMAT 1

/* ---- fetch ----------------------------------------------------------- */

struct download {
	CURL *curl;
	int fd;
	uint64_t resume_from; /* bytes of the .part kept from an earlier try */
	uint64_t written;     /* bytes written by this try */
	uint64_t expected_size; /* 0: unknown */
	bool too_big;
	long long last_progress_ms;
};

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct download *d = ctx;
	size_t len = size * n;

	if (d->expected_size && d->resume_from + d->written + len > d->expected_size) {
		d->too_big = true;
		return 0;
	}
	for (size_t off = 0; off < len;) {
		ssize_t w = write(d->fd, data + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		off += w;
	}
	d->written += len;
	return len;
}

/* False once nobody reads our output (bangerd is gone): the download
 * stops there, keeping the .part for the next try. */
static bool print_progress(struct download *d, uint64_t total)
{
	curl_off_t speed = 0;

	curl_easy_getinfo(d->curl, CURLINFO_SPEED_DOWNLOAD_T, &speed);
	printf("progress %" PRIu64 " %" PRIu64 " %" PRId64 "\n", d->resume_from + d->written, total, (int64_t)speed);
	return fflush(stdout) == 0;
}

static uint64_t total_size(struct download *d, curl_off_t dltotal)
{
	if (d->expected_size)
		return d->expected_size;
	return dltotal > 0 ? d->resume_from + (uint64_t)dltotal : 0;
}

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct download *d = ctx;
	long long now = now_mono_ms();

	(void)dlnow, (void)ultotal, (void)ulnow;
	if (now - d->last_progress_ms >= PROGRESS_INTERVAL_MS) {
		d->last_progress_ms = now;
		if (!print_progress(d, total_size(d, dltotal)))
			return 1;
	}
	return 0;
}

static void setup_curl(CURL *c, const char *url, struct download *d, char *errbuf)
{
	curl_setup_download(c, url, "http,https,file", "banger-pull/" BANGER_VERSION, on_body, on_progress, d, errbuf);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	if (d->resume_from)
		curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)d->resume_from);
}

/* Downloads url into the open .part (fd, already holding resume_from bytes). */
static int download_once(const char *url, int fd, uint64_t resume_from, uint64_t expected_size, bgr_error *err)
{
	struct download d = { .fd = fd, .resume_from = resume_from, .expected_size = expected_size };
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;

	d.curl = curl_easy_init();
	if (!d.curl)
		abort();
	setup_curl(d.curl, url, &d, errbuf);
	rc = curl_easy_perform(d.curl);
	if (rc == CURLE_OK)
		print_progress(&d, total_size(&d, 0) ? total_size(&d, 0) : d.resume_from + d.written);
	curl_easy_cleanup(d.curl);
	if (rc == CURLE_RANGE_ERROR)
		return bgr_fail(err, ERANGE, "the server cannot resume: %s", errbuf);
	if (d.too_big)
		return bgr_fail(err, EFBIG, "the download is larger than the expected %" PRIu64 " bytes", expected_size);
	if (rc != CURLE_OK)
		return bgr_fail(err, EIO, "download failed after %" PRIu64 " bytes (run again to resume): %s",
				d.resume_from + d.written, errbuf[0] ? errbuf : curl_easy_strerror(rc));
	return 0;
}

/* A server that ignores the Range header answers 200 with the whole file
 * (libcurl then fails with CURLE_RANGE_ERROR before writing anything):
 * start the .part over. */
static int download(const char *url, int fd, uint64_t resume_from, uint64_t expected_size, bgr_error *err)
{
	int r = download_once(url, fd, resume_from, expected_size, err);

	if (r != -ERANGE || resume_from == 0)
		return r;
	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return bgr_fail(err, errno, "truncate: %s", strerror(errno));
	bgr_error_clear(err);
	return download_once(url, fd, 0, expected_size, err);
}

static int check_sha256(const char *path, const char *want, bgr_error *err)
{
	char got[SHA256_HEX_LEN + 1];
	int r = sha256_file(path, got, err);

	if (r < 0)
		return r;
	if (strcmp(got, want))
		return bgr_fail(err, EBADMSG, "sha256 mismatch: want %s, got %s", want, got);
	return 0;
}

static int fetch_locked(const char *url, const char *sha256, const char *dest, uint64_t expected_size, bgr_error *err)
{
	_cleanup_free_ char *part = xasprintf("%s.part", dest);
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	if (!sha256_valid(sha256))
		return bgr_fail(err, EINVAL, "not a sha256 (64 lowercase hex digits): %.80s", sha256);
	if (access(dest, F_OK) == 0 && check_sha256(dest, sha256, err) == 0)
		return 0;
	bgr_error_clear(err);
	fd = open(part, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || fstat(fd, &st) < 0)
		return bgr_fail(err, errno, "%s: %s", part, strerror(errno));
	/* a .part longer than the whole file cannot be a prefix of it */
	if (expected_size && (uint64_t)st.st_size > expected_size) {
		if (ftruncate(fd, 0) < 0)
			return bgr_fail(err, errno, "%s: %s", part, strerror(errno));
		st.st_size = 0;
	}
	if (lseek(fd, 0, SEEK_END) < 0)
		return bgr_fail(err, errno, "%s: %s", part, strerror(errno));
	if (!expected_size || (uint64_t)st.st_size < expected_size) {
		r = download(url, fd, st.st_size, expected_size, err);
		if (r < 0) {
			/* keep a partial download to resume, not an empty file */
			if (fstat(fd, &st) == 0 && st.st_size == 0)
				unlink(part);
			return r;
		}
	}
	if (fsync(fd) < 0)
		return bgr_fail(err, errno, "%s: %s", part, strerror(errno));
	r = check_sha256(part, sha256, err);
	if (r < 0) {
		unlink(part);
		return r;
	}
	if (rename(part, dest) < 0)
		return bgr_fail(err, errno, "rename to %s: %s", dest, strerror(errno));
	return 0;
}

/* Two pulls of one bundle (an image and its kernel) share DEST: the
 * second waits for the first and finds the file done. */
static int fetch(const char *url, const char *sha256, const char *dest, uint64_t expected_size, bgr_error *err)
{
	_cleanup_free_ char *lock_path = xasprintf("%s.lock", dest);
	_cleanup_close_ int lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	int r;

	if (lock < 0 || flock(lock, LOCK_EX) < 0)
		return bgr_fail(err, errno, "%s: %s", lock_path, strerror(errno));
	r = fetch_locked(url, sha256, dest, expected_size, err);
	unlink(lock_path);
	return r;
}

/* A whole small file, no resume: max_bytes bounds it. */
static int get(const char *url, const char *dest, uint64_t max_bytes, bgr_error *err)
{
	_cleanup_free_ char *part = xasprintf("%s.part.%d", dest, (int)getpid());
	_cleanup_close_ int fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int r;

	if (fd < 0)
		return bgr_fail(err, errno, "%s: %s", part, strerror(errno));
	r = download_once(url, fd, 0, max_bytes, err);
	if (r == 0 && (fsync(fd) < 0 || rename(part, dest) < 0))
		r = bgr_fail(err, errno, "%s: %s", dest, strerror(errno));
	if (r < 0)
		unlink(part);
	return r;
}

/* ---- the manifest ---------------------------------------------------- */

enum bundle_kind { KIND_IMAGE = 1, KIND_KERNEL = 2, KIND_BOTH = 3 };

/* Every name a bundle may hold, and which part of the store it goes to. */
static const struct {
	const char *path;
	enum bundle_kind part;
} allowed_files[] = {
	{ "rootfs.ext4", KIND_IMAGE }, { "vmlinuz", KIND_KERNEL },    { "vmlinux", KIND_KERNEL },
	{ "initrd.img", KIND_KERNEL }, { "version", KIND_KERNEL },
};
#define MANIFEST_NAME "manifest.json"

struct bundle_file {
	char sha256[SHA256_HEX_LEN + 1];
	uint64_t size;
	bool listed;
	bool seen;
};

struct manifest {
	char name[VM_NAME_MAX + 1];
	char kernel[VM_NAME_MAX + 1]; /* images: the default kernel; "both": the bundled kernel's name */
	enum bundle_kind kind;
	struct bundle_file files[ARRAY_SIZE(allowed_files)];
	char *text; /* as read, copied to images/NAME/bundle.json */
	size_t text_len;
};

static int allowed_index(const char *path)
{
	for (size_t i = 0; i < ARRAY_SIZE(allowed_files); i++)
		if (!strcmp(path, allowed_files[i].path))
			return (int)i;
	return -1;
}

static int parse_kind(const cJSON *j, enum bundle_kind *ret, bgr_error *err)
{
	static const char *const names[] = { [KIND_IMAGE] = "image", [KIND_KERNEL] = "kernel", [KIND_BOTH] = "both" };

	for (int k = KIND_IMAGE; k <= KIND_BOTH; k++)
		if (cJSON_IsString(j) && !strcmp(j->valuestring, names[k])) {
			*ret = k;
			return 0;
		}
	return bgr_fail(err, EINVAL, "manifest: kind must be \"image\", \"kernel\" or \"both\"");
}

static int parse_name(const cJSON *j, const char *what, char *out, bgr_error *err)
{
	if (!cJSON_IsString(j))
		return bgr_fail(err, EINVAL, "manifest: %s missing", what);
	if (artifact_name_check(strcmp(what, "name") ? what : "bundle", j->valuestring, err) < 0)
		return bgr_wrap(err, "manifest");
	snprintf(out, VM_NAME_MAX + 1, "%s", j->valuestring);
	return 0;
}

static int parse_file(const cJSON *f, struct manifest *m, bgr_error *err)
{
	const cJSON *path = cJSON_GetObjectItemCaseSensitive(f, "path");
	const cJSON *sha = cJSON_GetObjectItemCaseSensitive(f, "sha256");
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(f, "size");
	int i = cJSON_IsString(path) ? allowed_index(path->valuestring) : -1;
	char shown[64];

	if (!cJSON_IsString(path))
		return bgr_fail(err, EINVAL, "manifest: a file without a path");
	printable_copy(path->valuestring, shown, sizeof(shown));
	if (i < 0)
		return bgr_fail(err, EINVAL, "manifest: file not allowed in a bundle: %s", shown);
	if (!(allowed_files[i].part & m->kind))
		return bgr_fail(err, EINVAL, "manifest: %s does not belong in a bundle of this kind", shown);
	if (m->files[i].listed)
		return bgr_fail(err, EINVAL, "manifest: %s listed twice", shown);
	if (!cJSON_IsString(sha) || !sha256_valid(sha->valuestring))
		return bgr_fail(err, EINVAL, "manifest: %s: bad sha256", shown);
	if (!cJSON_IsNumber(size) || size->valuedouble < 0 || size->valuedouble > 9.0e15 ||
	    size->valuedouble != (double)(uint64_t)size->valuedouble)
		return bgr_fail(err, EINVAL, "manifest: %s: bad size", shown);
	m->files[i].listed = true;
	m->files[i].size = (uint64_t)size->valuedouble;
	memcpy(m->files[i].sha256, sha->valuestring, SHA256_HEX_LEN + 1);
	return 0;
}

static bool listed(const struct manifest *m, const char *path) { return m->files[allowed_index(path)].listed; }

static int check_completeness(const struct manifest *m, bgr_error *err)
{
	if ((m->kind & KIND_IMAGE) && !listed(m, "rootfs.ext4"))
		return bgr_fail(err, EINVAL, "manifest: an image bundle needs rootfs.ext4");
	if ((m->kind & KIND_KERNEL) && !listed(m, "vmlinuz") && !listed(m, "vmlinux"))
		return bgr_fail(err, EINVAL, "manifest: a kernel bundle needs vmlinuz or vmlinux");
	return 0;
}

static int parse_manifest(struct manifest *m, bgr_error *err)
{
	cJSON *j = cJSON_ParseWithLength(m->text, m->text_len);
	const cJSON *kernel, *f;
	int r = -1;

	if (!cJSON_IsObject(j)) {
		bgr_fail(err, EINVAL, "manifest.json is not a JSON object");
		goto out;
	}
	if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "format")) ||
	    cJSON_GetObjectItemCaseSensitive(j, "format")->valuedouble != BUNDLE_FORMAT) {
		bgr_fail(err, EINVAL, "manifest: unknown format (this banger reads format %d)", BUNDLE_FORMAT);
		goto out;
	}
	if (parse_name(cJSON_GetObjectItemCaseSensitive(j, "name"), "name", m->name, err) < 0 ||
	    parse_kind(cJSON_GetObjectItemCaseSensitive(j, "kind"), &m->kind, err) < 0)
		goto out;
	kernel = cJSON_GetObjectItemCaseSensitive(j, "kernel");
	if (m->kind != KIND_KERNEL && kernel) {
		if (parse_name(kernel, "kernel", m->kernel, err) < 0)
			goto out;
	} else
		memcpy(m->kernel, m->name, sizeof(m->kernel));
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "files"))) {
		bgr_fail(err, EINVAL, "manifest: files missing");
		goto out;
	}
	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(j, "files"))
	{
		if (parse_file(f, m, err) < 0)
			goto out;
	}
	r = check_completeness(m, err);
out:
	cJSON_Delete(j);
	return r;
}

/* ---- unpacking ------------------------------------------------------- */

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
			return bgr_fail(err, EIO, "manifest.json: %s", n < 0 ? archive_error_string(u->in) : "truncated");
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
		return bgr_fail(err, EBADMSG, "%s: sha256 mismatch: want %s, got %s", shown, u->m->files[i].sha256, sha);
	u->m->files[i].seen = true;
	return 0;
}

static int check_all_seen(const struct manifest *m, bgr_error *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(allowed_files); i++)
		if (m->files[i].listed && !m->files[i].seen)
			return bgr_fail(err, EINVAL, "%s is in the manifest but not in the bundle", allowed_files[i].path);
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

/* ---- installing ------------------------------------------------------ */

static int write_file(const char *path, const char *data, size_t len, bgr_error *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	errno = EIO; /* what a short write leaves */
	if (fd < 0 || write(fd, data, len) != (ssize_t)len || fsync(fd) < 0)
		return bgr_fail(err, errno, "%s: %s", path, strerror(errno));
	return 0;
}

struct install_opts {
	uint64_t max_bytes;
	enum bundle_kind only; /* 0: every part the bundle has */
	const char *name;      /* the name asked for, checked against the bundle's */
	const char *source, *sha256; /* where it came from, for image.json / kernel.json */
};

/* image.json / kernel.json: what the tree shows as source, sha256, created
 * and (images) kernel. */
static int write_meta(const struct manifest *m, enum bundle_kind part, const struct install_opts *o,
		      const char *path, bgr_error *err)
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
static int stage_part(const struct manifest *m, enum bundle_kind part, const char *dir,
		      const struct install_opts *o, bgr_error *err)
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
static int parts_wanted(const struct manifest *m, const struct install_opts *o, enum bundle_kind *ret,
			bgr_error *err)
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

static int install_parts(const struct manifest *m, const char *state_abs, const char *tmp,
			 const struct install_opts *o, bgr_error *err)
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

static int install(const char *bundle, const char *state_dir, const struct install_opts *o, bgr_error *err)
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

/* ---- main ------------------------------------------------------------ */

static int usage(void)
{
	printf("usage: banger-pull fetch URL SHA256 DEST [--size N]\n"
	       "       banger-pull get URL DEST [--max-bytes N]\n"
	       "       banger-pull install BUNDLE STATE_DIR [--max-bytes N] [--only image|kernel] [--name NAME]\n"
	       "                           [--source TEXT] [--sha256 HEX]\n");
	return 2;
}

/* Parses an optional trailing "FLAG N"; 1 when argv holds something else. */
static int optional_number(int argc, char **argv, int at, const char *flag, uint64_t *ret)
{
	if (argc == at)
		return 0;
	if (argc != at + 2 || strcmp(argv[at], flag) || parse_u64(argv[at + 1], ret) < 0)
		return 1;
	return 0;
}

/* install's "--flag value" pairs; 1 on anything unknown. */
static int install_options(int argc, char **argv, int at, struct install_opts *o)
{
	o->max_bytes = DEFAULT_MAX_BYTES;
	for (int i = at; i < argc; i += 2) {
		const char *flag = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return 1;
		if (!strcmp(flag, "--max-bytes") && parse_u64(v, &o->max_bytes) == 0)
			continue;
		if (!strcmp(flag, "--only") && (!strcmp(v, "image") || !strcmp(v, "kernel")))
			o->only = !strcmp(v, "image") ? KIND_IMAGE : KIND_KERNEL;
		else if (!strcmp(flag, "--name") && vm_name_valid(v))
			o->name = v;
		else if (!strcmp(flag, "--source") && strlen(v) < 1024)
			o->source = v;
		else if (!strcmp(flag, "--sha256") && sha256_valid(v))
			o->sha256 = v;
		else
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	bgr_error err = { 0 };
	struct install_opts opts = { 0 };
	uint64_t number = 0;
	int r;

	if (argc >= 5 && !strcmp(argv[1], "fetch")) {
		if (optional_number(argc, argv, 5, "--size", &number))
			return usage();
		curl_global_init(CURL_GLOBAL_DEFAULT);
		r = fetch(argv[2], argv[3], argv[4], number, &err);
		curl_global_cleanup();
		if (r == 0)
			printf("ok\n");
	} else if (argc >= 4 && !strcmp(argv[1], "get")) {
		number = MANIFEST_MAX_BYTES * 4ULL;
		if (optional_number(argc, argv, 4, "--max-bytes", &number))
			return usage();
		curl_global_init(CURL_GLOBAL_DEFAULT);
		r = get(argv[2], argv[3], number, &err);
		curl_global_cleanup();
		if (r == 0)
			printf("ok\n");
	} else if (argc >= 4 && !strcmp(argv[1], "install")) {
		if (install_options(argc, argv, 4, &opts))
			return usage();
		r = install(argv[2], argv[3], &opts, &err);
	} else
		return usage();
	if (r < 0)
		printf("error: %s\n", err.msg[0] ? err.msg : "failed");
	return r < 0 ? 1 : 0;
}
