/* banger-pull: downloads and installs image/kernel bundles
 * (docs/image-catalog.md), in a short-lived child process of bangerd, like
 * banger-fc: libcurl, libarchive and libcrypto stay out of the daemon.
 *
 *   banger-pull fetch URL SHA256 DEST [--size N]
 *       downloads into DEST.part (resuming one left by an earlier try),
 *       printing "progress DONE TOTAL BYTES_PER_S" lines, checks the sha256
 *       and renames DEST.part to DEST.
 *   banger-pull get URL DEST [--max-bytes N] [--timeout S]
 *       downloads a small file (a catalog) whole, without a checksum, in at
 *       most S seconds (default 10).
 *   banger-pull install BUNDLE STATE_DIR [--max-bytes N] [--only image|kernel]
 *                       [--name NAME] [--source TEXT] [--sha256 HEX]
 *       unpacks and checks BUNDLE, then installs STATE_DIR/images/NAME and/or
 *       STATE_DIR/kernels/NAME; prints "ok image NAME" / "ok kernel NAME".
 *
 * The last line is "ok" (fetch) or "error: REASON"; exit 0 / 1 (2: usage). */
#include "bundle.h"
#include "pull_fetch.h"
#include "util.h"
#include "validate.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_MAX_BYTES (64ULL << 30)

static int usage(void)
{
	printf("usage: banger-pull fetch URL SHA256 DEST [--size N]\n"
	       "       banger-pull get URL DEST [--max-bytes N] [--timeout S]\n"
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
		r = pull_fetch(argv[2], argv[3], argv[4], number, &err);
		curl_global_cleanup();
		if (r == 0)
			printf("ok\n");
	} else if (argc >= 4 && !strcmp(argv[1], "get")) {
		uint64_t timeout = 0;
		number = MANIFEST_MAX_BYTES * 4ULL;
		for (int i = 4; i < argc; i += 2) {
			const char *v = i + 1 < argc ? argv[i + 1] : NULL;
			if (v && !strcmp(argv[i], "--max-bytes") && parse_u64(v, &number) == 0)
				continue;
			if (v && !strcmp(argv[i], "--timeout") && parse_u64(v, &timeout) == 0 && timeout <= 3600)
				continue;
			return usage();
		}
		curl_global_init(CURL_GLOBAL_DEFAULT);
		r = pull_get(argv[2], argv[3], number, (long)timeout, &err);
		curl_global_cleanup();
		if (r == 0)
			printf("ok\n");
	} else if (argc >= 4 && !strcmp(argv[1], "install")) {
		if (install_options(argc, argv, 4, &opts))
			return usage();
		r = bundle_install(argv[2], argv[3], &opts, &err);
	} else
		return usage();
	if (r < 0)
		printf("error: %s\n", err.msg[0] ? err.msg : "failed");
	return r < 0 ? 1 : 0;
}
