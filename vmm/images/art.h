/* vmm/images: images and kernels. The store as the tree shows it
 * (artifacts.c), the catalogs (catalog.c), pulls run as helper processes
 * (pull_job.c), image.json/kernel.json (image_meta.c), and a VM's side: the
 * image, kernel and root disk a start needs (vm_artifacts.c).
 *
 * The manager's private view of images and kernels (artifacts.h is the
 * public one). */
#ifndef BANGER_ART_H
#define BANGER_ART_H

#include <sys/types.h>

#include "artifacts.h"
#include "catalog.h"
#include "error.h"

struct pull_job;

struct artifact {
	struct vmm *m;
	int64_t id;
	enum art_kind kind;
	char name[64];
	enum art_state state;
	char error[BGR_ERROR_MAX];
	uint64_t done, total, bps;
	char step[64];
	struct image_meta meta;
	uint64_t size;
	struct pull_job *job;
	/* an image pull installs the image only: the kernel its bundle brings
	 * is installed already and in use by VMs (artifacts.c) */
	bool keep_kernel;
	struct vmm_waiter *waiters;
};

/* artifacts.c */
const char *art_kind_dir(struct vmm *m, enum art_kind kind);
/* An installed image has rootfs.ext4, a kernel vmlinuz or vmlinux and initrd.img. */
bool art_installed(struct vmm *m, enum art_kind kind, const char *name);
void art_free_all(struct vmm *m);
/* Removes leftovers of pulls interrupted by a crash ($state/.pull-*). */
void art_sweep(struct vmm *m);
/* The catalog entry for name, from the catalogs the settings name (the
 * http(s) one from its copy in memory). */
int art_catalog_find(struct vmm *m, enum art_kind kind, const char *name, struct catalog_entry *ret, bgr_error *err);

/* catalog_remote.c: 0 when art_catalog_find may run now; 1 when the
 * http(s) catalog has no copy yet and its fetch runs: fn(ctx, 0 or -EIO)
 * is called once it ends (*ret_waiter lets the caller stop listening; fn
 * may be NULL), and the caller looks up then. A stale copy is refreshed in
 * the background and serves meanwhile; a failed fetch is not retried for
 * 30 s, so a lookup after one answers at once (with its reason). */
int art_catalog_ready(struct vmm *m, vmm_done_fn fn, void *ctx, struct vmm_waiter **ret_waiter);
void art_catalog_sources(struct vmm *m, struct catalog_sources *src);
/* Stops a fetch; waiters get -ECANCELED. */
void art_catalog_free(struct vmm *m);

/* pull_job.c: runs banger-pull (fetch, then install) or banger-oci, and
 * reports through these (artifacts.c's). */
struct pull_job_events {
	void (*progress)(struct artifact *a);
	/* ended: result 0 or -errno, the reason in a->error */
	void (*finished)(struct artifact *a, int result);
};
int pull_job_start_catalog(struct artifact *a, const struct catalog_entry *e, const struct pull_job_events *ev,
			   bgr_error *err);
int pull_job_start_oci(struct artifact *a, const char *ref, const char *kernel, const struct pull_job_events *ev,
		       bgr_error *err);
/* Stops the helper (daemon exit). */
void pull_job_free(struct pull_job *j);

#endif
