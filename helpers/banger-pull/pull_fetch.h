/* banger-pull's downloads (docs/image-catalog.md): libcurl, progress lines
 * on stdout, resume, the sha256 check. */
#ifndef BANGER_PULL_FETCH_H
#define BANGER_PULL_FETCH_H

#include <stdint.h>

#include "error.h"

/* Downloads url into dest.part (resuming one left by an earlier try,
 * printing "progress DONE TOTAL BPS"), checks its sha256, renames it to
 * dest. expected_size 0: unknown. */
int pull_fetch(const char *url, const char *sha256, const char *dest, uint64_t expected_size, bgr_error *err);
/* A small file whole (a catalog), at most max_bytes, no checksum, within
 * timeout_s seconds (0: the default, 10). */
int pull_get(const char *url, const char *dest, uint64_t max_bytes, long timeout_s, bgr_error *err);

#endif
