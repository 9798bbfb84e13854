/* Bundles (docs/image-catalog.md): manifest.json and the files it lists. */
#ifndef BANGER_BUNDLE_H
#define BANGER_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "sha256.h"
#include "validate.h"

#define MANIFEST_MAX_BYTES (1 << 20)
#define BUNDLE_FORMAT 1

enum bundle_kind { KIND_IMAGE = 1, KIND_KERNEL = 2, KIND_BOTH = 3 };

/* Every name a bundle may hold, and which part of the store it goes to. */
struct allowed_file {
	const char *path;
	enum bundle_kind part;
};
#define BUNDLE_FILES 5
extern const struct allowed_file allowed_files[BUNDLE_FILES];
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
	struct bundle_file files[BUNDLE_FILES];
	char *text; /* as read, copied to images/NAME/bundle.json */
	size_t text_len;
};

/* The index of path in allowed_files, or -1. */
int allowed_index(const char *path);
bool manifest_lists(const struct manifest *m, const char *path);
/* Parses m->text (the manifest as read) into m. */
int parse_manifest(struct manifest *m, bgr_error *err);

struct install_opts {
	uint64_t max_bytes;
	enum bundle_kind only;       /* 0: every part the bundle has */
	const char *name;            /* the name asked for, checked against the bundle's */
	const char *source, *sha256; /* where it came from, for image.json / kernel.json */
};

/* Unpacks and checks bundle, then installs its parts into state_dir
 * (printing "ok kernel NAME" / "ok image NAME"), or changes nothing. */
int bundle_install(const char *bundle, const char *state_dir, const struct install_opts *o, bgr_error *err);

#endif
