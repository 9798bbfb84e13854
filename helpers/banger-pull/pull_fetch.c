#include "pull_fetch.h"
#include "curl_setup.h"
#include "sha256.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#define PROGRESS_INTERVAL_MS 500
/* get serves bangerd's catalog look-ups, which a mkdir waits for */
#define GET_TIMEOUT_S 10L

struct download {
	CURL *curl;
	int fd;
	uint64_t resume_from;   /* bytes of the .part kept from an earlier try */
	uint64_t written;       /* bytes written by this try */
	uint64_t expected_size; /* 0: unknown */
	long timeout_s;         /* 0: none but the low-speed limit */
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
	if (d->timeout_s) {
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, d->timeout_s);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, d->timeout_s);
	}
}

/* Downloads url into the open .part (fd, already holding resume_from bytes);
 * timeout_s bounds the whole transfer (0: only the low-speed limit). */
static int download_once(const char *url, int fd, uint64_t resume_from, uint64_t expected_size, long timeout_s,
			 bgr_error *err)
{
	struct download d = { .fd = fd,
			      .resume_from = resume_from,
			      .expected_size = expected_size,
			      .timeout_s = timeout_s };
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
		return bgr_fail(err, EFBIG, "the download is larger than the expected %" PRIu64 " bytes",
				expected_size);
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
	int r = download_once(url, fd, resume_from, expected_size, 0, err);

	if (r != -ERANGE || resume_from == 0)
		return r;
	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return bgr_fail(err, errno, "truncate: %s", strerror(errno));
	bgr_error_clear(err);
	return download_once(url, fd, 0, expected_size, 0, err);
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
static int lock_dest(const char *lock_path, bgr_error *err)
{
	for (;;) {
		_cleanup_close_ int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		struct stat held, now;

		if (fd < 0 || flock(fd, LOCK_EX) < 0)
			return bgr_fail(err, errno, "%s: %s", lock_path, strerror(errno));
		/* the holder before us unlinked the file as it finished: a lock on
		 * a file no longer at lock_path keeps out no one who comes now */
		if (fstat(fd, &held) == 0 && stat(lock_path, &now) == 0 && held.st_ino == now.st_ino &&
		    held.st_dev == now.st_dev)
			return steal_fd(&fd);
	}
}

int pull_fetch(const char *url, const char *sha256, const char *dest, uint64_t expected_size, bgr_error *err)
{
	_cleanup_free_ char *lock_path = xasprintf("%s.lock", dest);
	_cleanup_close_ int lock = lock_dest(lock_path, err);
	int r;

	if (lock < 0)
		return lock;
	r = fetch_locked(url, sha256, dest, expected_size, err);
	unlink(lock_path);
	return r;
}

/* A whole small file, no resume: max_bytes bounds it. */
int pull_get(const char *url, const char *dest, uint64_t max_bytes, long timeout_s, bgr_error *err)
{
	_cleanup_free_ char *part = xasprintf("%s.part.%d", dest, (int)getpid());
	_cleanup_close_ int fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int r;

	if (fd < 0)
		return bgr_fail(err, errno, "%s: %s", part, strerror(errno));
	r = download_once(url, fd, 0, max_bytes, timeout_s > 0 ? timeout_s : GET_TIMEOUT_S, err);
	if (r == 0 && (fsync(fd) < 0 || rename(part, dest) < 0))
		r = bgr_fail(err, errno, "%s: %s", dest, strerror(errno));
	if (r < 0)
		unlink(part);
	return r;
}
