/* Images and kernels as the tree shows them (images/, kernels/): what is
 * installed in the store, plus pulls and imports in progress or failed.
 * All functions run on the loop thread. */
#ifndef BANGER_ARTIFACTS_H
#define BANGER_ARTIFACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "image_meta.h"

struct vmm;
struct vmm_waiter;
struct artifact;
typedef void (*vmm_done_fn)(void *ctx, int result); /* 0 or -errno */

enum art_kind { ART_IMAGE, ART_KERNEL };

static inline const char *art_kind_word(enum art_kind kind)
{
	return kind == ART_IMAGE ? "image" : "kernel";
}
enum art_state { ART_READY, ART_PULLING, ART_FAILED };

struct art_info {
	int64_t id; /* stable while the daemon runs; never reused */
	enum art_kind kind;
	const char *name;
	enum art_state state;
	const char *error;         /* ART_FAILED: the reason */
	uint64_t done, total, bps; /* ART_PULLING: bytes so far, expected (0: unknown), rate */
	const char *step;          /* ART_PULLING: what the helper is doing, "" while downloading */
	uint64_t size;             /* bytes of its files in the store */
	const struct image_meta *meta;
};

/* Re-reads the store directories (images may be installed by tools/mkimage
 * while the daemon runs). Cheap; called on readdir and failed lookups. */
void vmm_art_rescan(struct vmm *m, enum art_kind kind);
size_t vmm_art_count(struct vmm *m, enum art_kind kind);
struct artifact *vmm_art_at(struct vmm *m, enum art_kind kind, size_t i);
struct artifact *vmm_art_by_name(struct vmm *m, enum art_kind kind, const char *name);
struct artifact *vmm_art_by_id(struct vmm *m, int64_t id);
void vmm_art_info(const struct artifact *a, struct art_info *ret);
/* The status line: "ready", "pulling 41% 120M/290M 12M/s", "error: …". */
void vmm_art_status(const struct artifact *a, char *out, size_t size);

/* mkdir images/NAME: starts pulling NAME from the catalog and returns 0
 * at once. EEXIST when present, ENOENT when no catalog lists it. 1 when
 * the http(s) catalog has no copy yet and is being fetched: fn(ctx, ...)
 * is called once it is (fn may be NULL), and the caller asks again. */
int vmm_art_pull(struct vmm *m, enum art_kind kind, const char *name, vmm_done_fn fn, void *ctx,
		 struct vmm_waiter **ret_waiter, struct artifact **ret, bgr_error *err);
/* images/import "NAME REF": imports the OCI image REF as NAME. */
int vmm_art_import(struct vmm *m, const char *name, const char *ref, struct artifact **ret, bgr_error *err);
/* rmdir: EBUSY while pulling or while a VM uses it. */
int vmm_art_remove(struct vmm *m, struct artifact *a, bgr_error *err);
/* 0 when a is not pulling; 1 when fn will be called once it is done. */
int vmm_art_wait(struct vmm *m, struct artifact *a, vmm_done_fn fn, void *ctx, struct vmm_waiter **ret_waiter);

#endif
