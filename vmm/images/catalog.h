/* The image and kernel catalogs (docs/image-catalog.md): JSON lists of
 * bundles, looked up by name. Consulted in order: the `catalog` setting (a
 * path or URL), the local catalog tools/mkgolden publishes into
 * ($cache/catalog/catalog.json), then the one built into bangerd. */
#ifndef BANGER_CATALOG_H
#define BANGER_CATALOG_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

enum catalog_kind { CATALOG_IMAGE, CATALOG_KERNEL };

struct catalog_entry {
	char name[64];
	char description[256];
	char url[1024]; /* absolute: relative URLs are resolved against the catalog's */
	char sha256[65];
	uint64_t size;
	char kernel[64]; /* images: the kernel it boots ("" for kernels) */
	char from[1024]; /* which catalog listed it */
};

/* The catalog compiled into bangerd (catalog_builtin.c, generated). */
extern const char catalog_builtin_json[];

/* Finds name in the JSON text of one catalog, whose own location is base
 * (for relative URLs). 1 found, 0 not listed, -errno for a bad catalog. */
int catalog_parse_find(const char *json, const char *base, enum catalog_kind kind, const char *name,
		       struct catalog_entry *ret, bgr_error *err);

/* Whether loc is an http(s) URL, fetched apart (catalog_remote.c). */
bool catalog_is_remote(const char *loc);

struct catalog_sources {
	const char *setting;   /* path or URL, "" for none */
	const char *cache_dir; /* $cache: the local catalog */
	/* an http(s) setting: the copy in memory (NULL: none) and, without
	 * one, why the last fetch failed */
	const char *remote_text, *remote_error;
};

/* Looks name up in every catalog in order; reads local files only. ENOENT with a reason naming the
 * catalogs searched when none lists it; other errors for unreadable or bad
 * catalogs (a catalog that cannot be read is skipped when a later one has
 * the name). */
int catalog_find(const struct catalog_sources *src, enum catalog_kind kind, const char *name, struct catalog_entry *ret,
		 bgr_error *err);

#endif
