/* banger-oci: imports an OCI / Docker image from a registry as a banger
 * image (docs/oci-import.md), in a short-lived child process of bangerd,
 * like banger-pull: libcurl, libarchive and libcrypto stay out of the daemon.
 *
 *   banger-oci import REF STATE_DIR NAME --cache DIR --kit DIR --kernel KNAME
 *              [--max-bytes N] [--disk-size BYTES]
 *
 * Resolves REF (an index picks linux/amd64), downloads the config and layer
 * blobs into DIR/oci/blobs/sha256/ (content-addressed, verified, reused),
 * applies the layers with whiteouts into STATE_DIR/.pull-XXXXXX/root, adds
 * the guest kit under /.banger, makes rootfs.ext4 with mke2fs -d, writes
 * image.json and renames the result to STATE_DIR/images/NAME.
 *
 * stdout: "progress DONE TOTAL BYTES_PER_S", "step TEXT", and last
 * "ok image NAME" or "error: REASON"; exit 0 / 1 (2: usage). */
#include "error.h"
#include "oci_cancel.h"
#include "oci_kit.h"
#include "oci_layers.h"
#include "oci_manifest.h"
#include "oci_ref.h"
#include "oci_registry.h"
#include "oci_rootfs.h"
#include "put_in_place.h"
#include "util.h"
#include "validate.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define DEFAULT_MAX_BYTES (64ULL << 30)
#define PLATFORM_OS "linux"
#define PLATFORM_ARCH "amd64"

struct options {
	const char *ref, *state_dir, *name, *cache, *kit, *kernel;
	uint64_t max_bytes, disk_size;
};

struct import {
	const struct options *o;
	struct oci_ref ref;
	struct oci_client client;
	struct oci_progress progress;
	struct oci_image_manifest manifest;
	char digest[OCI_DIGEST_SIZE]; /* of the image manifest */
	char *blobs;                  /* CACHE/oci/blobs/sha256 */
	char *tmp;                    /* STATE_DIR/.pull-XXXXXX */
};

static void step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void step(const char *fmt, ...)
{
	va_list ap;

	printf("step ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* ---- resolving --------------------------------------------------------- */

static int resolve(struct import *im, bgr_error *err)
{
	struct oci_manifest_body b = { 0 }, picked = { 0 };
	char want[OCI_DIGEST_SIZE];
	int is_index, r;

	step("resolving %s/%s:%s", im->ref.registry, im->ref.repo, im->ref.reference);
	r = oci_get_manifest(&im->client, im->ref.reference, &b, err);
	if (r < 0)
		return r;
	is_index = oci_manifest_is_index(b.data, b.len, b.media_type, err);
	if (is_index == 1) {
		r = oci_index_pick(b.data, b.len, PLATFORM_OS, PLATFORM_ARCH, want, err);
		if (r == 0)
			r = oci_get_manifest(&im->client, want, &picked, err);
		if (r == 0 && oci_manifest_is_index(picked.data, picked.len, picked.media_type, err) != 0)
			r = err->code ? -err->code : bgr_fail(err, EINVAL, "the index points at another index");
		oci_manifest_body_free(&b);
		b = picked;
	} else if (is_index < 0)
		r = is_index;
	if (r == 0)
		r = oci_manifest_parse(b.data, b.len, &im->manifest, err);
	if (r == 0)
		memcpy(im->digest, b.digest, sizeof(im->digest));
	oci_manifest_body_free(&b);
	return r;
}

/* ---- blobs ------------------------------------------------------------- */

static char *blob_path(const struct import *im, const char *digest)
{
	return xasprintf("%s/%s", im->blobs, digest + strlen("sha256:"));
}

/* A cached blob is reused when its size and sha256 are right; else it goes. */
static bool cached(const char *path, const struct oci_descriptor *d)
{
	char hex[SHA256_HEX_LEN + 1];
	struct stat st;

	if (stat(path, &st) < 0)
		return false;
	if ((uint64_t)st.st_size == d->size && sha256_file(path, hex, NULL) == 0 && !strcmp(hex, d->digest + 7))
		return true;
	unlink(path);
	return false;
}

static int fetch_blob(struct import *im, const struct oci_descriptor *d, bgr_error *err)
{
	_cleanup_free_ char *path = blob_path(im, d->digest);
	int r = 0;

	if (!cached(path, d))
		r = oci_get_blob(&im->client, d->digest, d->size, path, err);
	im->progress.current = 0;
	if (r == 0)
		im->progress.done += d->size;
	oci_progress_print(&im->progress, 0);
	return r;
}

static int fetch_blobs(struct import *im, bgr_error *err)
{
	struct oci_image_manifest *m = &im->manifest;
	int r;

	im->progress.total = m->config.size;
	for (size_t i = 0; i < m->n_layers; i++)
		im->progress.total += m->layers[i].size;
	step("downloading %zu layers", m->n_layers);
	r = fetch_blob(im, &m->config, err);
	for (size_t i = 0; r == 0 && i < m->n_layers; i++)
		r = fetch_blob(im, &m->layers[i], err);
	if (r == 0)
		oci_progress_print(&im->progress, 1);
	return r;
}

/* ---- the image --------------------------------------------------------- */

static int apply_layers(struct import *im, const char *root, bgr_error *err)
{
	uint64_t total = 0;
	int r = 0;

	if (mkdir(root, 0755) < 0 || chdir(root) < 0)
		return bgr_fail(err, errno, "%s: %s", root, strerror(errno));
	for (size_t i = 0; r == 0 && i < im->manifest.n_layers; i++) {
		_cleanup_free_ char *blob = blob_path(im, im->manifest.layers[i].digest);
		step("layer %zu/%zu", i + 1, im->manifest.n_layers);
		r = oci_layer_apply(blob, &total, im->o->max_bytes, err);
		if (r < 0)
			bgr_wrap(err, "layer %zu (%.19s)", i + 1, im->manifest.layers[i].digest);
	}
	if (chdir("/") < 0 && r == 0)
		r = bgr_fail(err, errno, "chdir /: %s", strerror(errno));
	return r;
}

static int write_image_json(const struct import *im, const char *path, bgr_error *err)
{
	cJSON *j = cJSON_CreateObject();
	_cleanup_free_ char *source = xasprintf("oci:%s", im->o->ref);
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -1;
	size_t len;

	cJSON_AddStringToObject(j, "source", source);
	cJSON_AddStringToObject(j, "sha256", im->digest + strlen("sha256:"));
	cJSON_AddStringToObject(j, "kernel", im->o->kernel);
	cJSON_AddNumberToObject(j, "created", (double)time(NULL));
	cJSON_AddStringToObject(j, "cmdline", OCI_KIT_CMDLINE);
	text = cJSON_Print(j);
	cJSON_Delete(j);
	if (!text)
		abort();
	len = strlen(text);
	text[len] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	errno = EIO;
	if (fd < 0 || write(fd, text, len + 1) != (ssize_t)len + 1 || fsync(fd) < 0)
		return bgr_fail(err, errno, "%s: %s", path, strerror(errno));
	return 0;
}

static int build_image(struct import *im, bgr_error *err)
{
	_cleanup_free_ char *root = xasprintf("%s/root", im->tmp);
	_cleanup_free_ char *image = xasprintf("%s/image", im->tmp);
	_cleanup_free_ char *ext4 = xasprintf("%s/image/rootfs.ext4", im->tmp);
	_cleanup_free_ char *json = xasprintf("%s/image/image.json", im->tmp);
	_cleanup_free_ char *log = xasprintf("%s/mke2fs.log", im->tmp);
	_cleanup_free_ char *dest = NULL;
	_cleanup_free_ char *state = realpath(im->o->state_dir, NULL);
	uint64_t size = 0;

	if (apply_layers(im, root, err) < 0)
		return -1;
	if (oci_cancelled)
		return bgr_fail(err, EINTR, "interrupted");
	step("guest kit");
	if (oci_kit_install(im->o->kit, root, err) < 0)
		return -1;
	step("mke2fs");
	if (mkdir(image, 0755) < 0)
		return bgr_fail(err, errno, "mkdir %s: %s", image, strerror(errno));
	if (oci_rootfs_make(root, ext4, im->o->disk_size, log, &size, err) < 0 || write_image_json(im, json, err) < 0)
		return -1;
	if (oci_cancelled)
		return bgr_fail(err, EINTR, "interrupted");
	dest = xasprintf("%s/images/%s", state, im->o->name);
	return put_in_place(image, dest, err);
}

/* ---- main -------------------------------------------------------------- */

static int prepare(struct import *im, bgr_error *err)
{
	_cleanup_free_ char *state = realpath(im->o->state_dir, NULL);
	int r;

	if (artifact_name_check("image", im->o->name, err) < 0 || artifact_name_check("kernel", im->o->kernel, err) < 0)
		return -EINVAL;
	if (oci_ref_parse(im->o->ref, getenv("BANGER_OCI_INSECURE"), &im->ref, err) < 0)
		return -EINVAL;
	if (oci_kit_check(im->o->kit, err) < 0)
		return -ENOENT;
	if (!state)
		return bgr_fail(err, errno, "%s: %s", im->o->state_dir, strerror(errno));
	im->blobs = xasprintf("%s/oci/blobs/sha256", im->o->cache);
	r = mkdir_p(im->blobs, 0755);
	if (r < 0)
		return bgr_fail(err, -r, "mkdir %s: %s", im->blobs, strerror(-r));
	im->tmp = xasprintf("%s/.pull-XXXXXX", state);
	if (!mkdtemp(im->tmp)) {
		free(im->tmp);
		im->tmp = NULL;
		return bgr_fail(err, errno, "mkdtemp in %s: %s", state, strerror(errno));
	}
	return 0;
}

static int import(const struct options *o, bgr_error *err)
{
	struct import im = { .o = o };
	int r;

	im.progress.start_ms = now_mono_ms();
	r = prepare(&im, err);
	if (r == 0) {
		oci_client_init(&im.client, &im.ref, &im.progress);
		r = resolve(&im, err);
		if (r == 0)
			r = fetch_blobs(&im, err);
		if (r == 0)
			r = build_image(&im, err);
		oci_client_free(&im.client);
	}
	if (im.tmp && (chdir("/") < 0 || rm_rf(im.tmp) < 0))
		fprintf(stderr, "banger-oci: could not remove %s\n", im.tmp);
	free(im.tmp);
	free(im.blobs);
	return r < 0 ? -1 : 0;
}

static int usage(void)
{
	printf("usage: banger-oci import REF STATE_DIR NAME --cache DIR --kit DIR --kernel KNAME\n"
	       "                  [--max-bytes N] [--disk-size BYTES]\n");
	return 2;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	*o = (struct options){ .max_bytes = DEFAULT_MAX_BYTES };
	if (argc < 5 || strcmp(argv[1], "import"))
		return -1;
	o->ref = argv[2], o->state_dir = argv[3], o->name = argv[4];
	for (int i = 5; i < argc; i += 2) {
		const char *flag = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return -1;
		if (!strcmp(flag, "--cache"))
			o->cache = v;
		else if (!strcmp(flag, "--kit"))
			o->kit = v;
		else if (!strcmp(flag, "--kernel"))
			o->kernel = v;
		else if (!strcmp(flag, "--max-bytes")) {
			if (parse_u64(v, &o->max_bytes) < 0)
				return -1;
		} else if (!strcmp(flag, "--disk-size")) {
			if (parse_u64(v, &o->disk_size) < 0)
				return -1;
		} else
			return -1;
	}
	return o->cache && o->kit && o->kernel ? 0 : -1;
}

static void on_signal(int sig)
{
	(void)sig;
	oci_cancelled = 1;
}

/* SIGINT/SIGTERM end the import at the next check, cleanly. */
static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int main(int argc, char **argv)
{
	bgr_error err = { 0 };
	struct options o;
	int r;

	if (parse_options(argc, argv, &o) < 0)
		return usage();
	catch_signals();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = import(&o, &err);
	curl_global_cleanup();
	if (r < 0)
		printf("error: %s\n", err.msg[0] ? err.msg : "failed");
	else
		printf("ok image %s\n", o.name);
	return r < 0 ? 1 : 0;
}
