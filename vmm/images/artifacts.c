/* The image and kernel store as the tree lists it: installed entries read
 * from $state/images and $state/kernels, plus pulls in progress or failed
 * (kept in memory until rmdir). */
#include "art.h"
#include "log.h"
#include "ssh_helper.h"
#include "paths.h"
#include "util.h"
#include "validate.h"
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

const char *art_kind_dir(struct vmm *m, enum art_kind kind)
{
	return kind == ART_IMAGE ? m->paths->images_dir : m->paths->kernels_dir;
}

bool art_installed(struct vmm *m, enum art_kind kind, const char *name)
{
	const char *dir = art_kind_dir(m, kind);
	_cleanup_free_ char *rootfs = xasprintf("%s/%s/rootfs.ext4", dir, name);
	_cleanup_free_ char *bz = xasprintf("%s/%s/vmlinuz", dir, name);
	_cleanup_free_ char *elf = xasprintf("%s/%s/vmlinux", dir, name);
	_cleanup_free_ char *initrd = xasprintf("%s/%s/initrd.img", dir, name);

	if (kind == ART_IMAGE)
		return access(rootfs, F_OK) == 0;
	return (access(bz, F_OK) == 0 || access(elf, F_OK) == 0) && access(initrd, F_OK) == 0;
}

static uint64_t dir_bytes(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t sum = 0;
	struct stat st;

	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.' && fstatat(dirfd(d), de->d_name, &st, 0) == 0 && S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_size;
	return sum;
}

/* Size and metadata of an installed entry; images without a metadata file
 * (tools/mkimage) show their own name as the kernel. */
static void read_installed(struct artifact *a)
{
	_cleanup_free_ char *dir = xasprintf("%s/%s", art_kind_dir(a->m, a->kind), a->name);
	bgr_error ignore;
	struct stat st;

	if (a->kind == ART_IMAGE)
		image_meta_read(art_kind_dir(a->m, a->kind), a->name, &a->meta, &ignore);
	else
		kernel_meta_read(art_kind_dir(a->m, a->kind), a->name, &a->meta, &ignore);
	if (!a->meta.source[0])
		snprintf(a->meta.source, sizeof(a->meta.source), "local");
	if (!a->meta.created && stat(dir, &st) == 0)
		a->meta.created = st.st_mtime;
	if (a->kind == ART_IMAGE && !a->meta.kernel[0])
		snprintf(a->meta.kernel, sizeof(a->meta.kernel), "%s", a->name);
	a->size = dir_bytes(dir);
}

static struct artifact *art_add(struct vmm *m, enum art_kind kind, const char *name, enum art_state state)
{
	struct artifact *a = xcalloc(1, sizeof(*a));

	a->m = m;
	a->id = ++m->last_art_id;
	a->kind = kind;
	a->state = state;
	snprintf(a->name, sizeof(a->name), "%s", name);
	if (m->n_arts == m->cap_arts) {
		m->cap_arts = m->cap_arts ? m->cap_arts * 2 : 8;
		m->arts = realloc(m->arts, m->cap_arts * sizeof(*m->arts));
		if (!m->arts)
			abort();
	}
	m->arts[m->n_arts++] = a;
	return a;
}

static void art_drop(struct vmm *m, struct artifact *a)
{
	for (size_t i = 0; i < m->n_arts; i++) {
		if (m->arts[i] == a) {
			memmove(&m->arts[i], &m->arts[i + 1], (m->n_arts - i - 1) * sizeof(*m->arts));
			m->n_arts--;
			break;
		}
	}
	waiters_complete(&a->waiters, -ENOENT);
	free(a);
}

static void listing_changed(struct vmm *m, enum art_kind kind)
{
	if (m->obs.art_listing_changed)
		m->obs.art_listing_changed(m->obs.ctx, kind);
}

void vmm_art_rescan(struct vmm *m, enum art_kind kind)
{
	_cleanup_closedir_ DIR *d = opendir(art_kind_dir(m, kind));
	struct dirent *de;
	bool changed = false;

	for (size_t i = m->n_arts; i-- > 0;) {
		struct artifact *a = m->arts[i];
		if (a->kind == kind && a->state == ART_READY && !art_installed(m, kind, a->name)) {
			art_drop(m, a);
			changed = true;
		}
	}
	while (d && (de = readdir(d))) {
		if (!vm_name_valid(de->d_name) || vmm_art_by_name(m, kind, de->d_name) ||
		    !art_installed(m, kind, de->d_name))
			continue;
		read_installed(art_add(m, kind, de->d_name, ART_READY));
		changed = true;
	}
	if (changed)
		listing_changed(m, kind);
}

size_t vmm_art_count(struct vmm *m, enum art_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n_arts; i++)
		n += m->arts[i]->kind == kind;
	return n;
}

struct artifact *vmm_art_at(struct vmm *m, enum art_kind kind, size_t i)
{
	for (size_t j = 0; j < m->n_arts; j++)
		if (m->arts[j]->kind == kind && i-- == 0)
			return m->arts[j];
	return NULL;
}

struct artifact *vmm_art_by_name(struct vmm *m, enum art_kind kind, const char *name)
{
	for (size_t i = 0; i < m->n_arts; i++)
		if (m->arts[i]->kind == kind && !strcmp(m->arts[i]->name, name))
			return m->arts[i];
	return NULL;
}

struct artifact *vmm_art_by_id(struct vmm *m, int64_t id)
{
	for (size_t i = 0; i < m->n_arts; i++)
		if (m->arts[i]->id == id)
			return m->arts[i];
	return NULL;
}

void vmm_art_info(const struct artifact *a, struct art_info *ret)
{
	*ret = (struct art_info){
		.id = a->id,
		.kind = a->kind,
		.name = a->name,
		.state = a->state,
		.error = a->error,
		.done = a->done,
		.total = a->total,
		.bps = a->bps,
		.step = a->step,
		.size = a->size,
		.meta = &a->meta,
	};
}

/* "120M" with one decimal below 10: progress, not exact sizes. */
static void human(uint64_t n, char *out, size_t size)
{
	static const char units[] = "BKMGT";
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, size, "%" PRIu64 "B", n);
	else
		snprintf(out, size, v < 10 ? "%.1f%c" : "%.0f%c", v, units[u]);
}

void vmm_art_status(const struct artifact *a, char *out, size_t size)
{
	char done[16], total[16], bps[16];

	if (a->state == ART_READY) {
		snprintf(out, size, "ready");
		return;
	}
	if (a->state == ART_FAILED) {
		snprintf(out, size, "error: %s", a->error);
		return;
	}
	human(a->done, done, sizeof(done));
	human(a->total, total, sizeof(total));
	human(a->bps, bps, sizeof(bps));
	if (a->step[0])
		snprintf(out, size, "pulling %s", a->step);
	else if (a->total)
		snprintf(out, size, "pulling %d%% %s/%s %s/s", (int)(a->done * 100 / a->total), done, total, bps);
	else
		snprintf(out, size, "pulling %s %s/s", done, bps);
}

int art_catalog_find(struct vmm *m, enum art_kind kind, const char *name, struct catalog_entry *ret, bgr_error *err)
{
	struct catalog_sources src;

	art_catalog_sources(m, &src);
	return catalog_find(&src, kind == ART_IMAGE ? CATALOG_IMAGE : CATALOG_KERNEL, name, ret, err);
}

static void art_event(struct vmm *m, struct artifact *a, const char *what)
{
	char subject[96];

	snprintf(subject, sizeof(subject), "%ss/%s", art_kind_word(a->kind), a->name);
	vmm_event_line(m, subject, what);
}

/* Whether name may be pulled: EEXIST while it is installed or pulling; a
 * failed entry it would replace is returned in *ret_failed. Changes nothing
 * (a refused pull leaves a failed entry in place). */
static int claim_name(struct vmm *m, enum art_kind kind, const char *name, struct artifact **ret_failed, bgr_error *err)
{
	struct artifact *a;
	int r = artifact_name_check(art_kind_word(kind), name, err);

	*ret_failed = NULL;
	if (r < 0)
		return r;
	vmm_art_rescan(m, kind);
	a = vmm_art_by_name(m, kind, name);
	if (a && a->state != ART_FAILED)
		return bgr_fail(err, EEXIST, "%s '%s' is %s", art_kind_word(kind), name,
				a->state == ART_READY ? "already installed" : "already being pulled");
	*ret_failed = a;
	return 0;
}

/* The pulling entry that replaces failed (or is new). */
static struct artifact *begin_pull(struct vmm *m, enum art_kind kind, const char *name, struct artifact *failed)
{
	if (failed)
		art_drop(m, failed);
	return art_add(m, kind, name, ART_PULLING);
}

static void pull_started(struct vmm *m, struct artifact *a, const char *from)
{
	log_msg("%ss/%s: pulling from %s", art_kind_word(a->kind), a->name, from);
	art_event(m, a, "pulling");
	listing_changed(m, a->kind);
}

static void art_pull_finished(struct artifact *a, int result)
{
	struct vmm *m = a->m;

	a->job = NULL;
	if (result == 0) {
		a->state = ART_READY;
		read_installed(a);
		log_msg("%ss/%s: ready (%" PRIu64 " bytes)", art_kind_word(a->kind), a->name, a->size);
		art_event(m, a, "ready");
		/* a bundle of kind "both" brings its kernel along */
		if (a->kind == ART_IMAGE)
			vmm_art_rescan(m, ART_KERNEL);
	} else {
		a->state = ART_FAILED;
		log_msg("%ss/%s: pull failed: %s", art_kind_word(a->kind), a->name, a->error);
		art_event(m, a, "error");
	}
	waiters_complete(&a->waiters, result);
	m->hooks.artifact_ready(m, a->kind, a->name, result, a->error);
}

static void art_pull_progress(struct artifact *a)
{
	a->m->hooks.artifact_progress(a->m, a->kind, a->name);
}

static const struct pull_job_events pull_events = { .progress = art_pull_progress, .finished = art_pull_finished };

static int users(struct vmm *m, enum art_kind kind, const char *name, char *names, size_t size)
{
	int n = 0;

	names[0] = '\0';
	for (size_t i = 0; i < m->n_vms; i++) {
		const struct vm_record *r = &m->vms[i]->rec;
		if (strcmp(kind == ART_IMAGE ? r->image : r->kernel, name))
			continue;
		if (n++ < 4)
			snprintf(names + strlen(names), size - strlen(names), "%s%s", n > 1 ? ", " : "", r->name);
	}
	return n;
}

int vmm_art_pull(struct vmm *m, enum art_kind kind, const char *name, vmm_done_fn fn, void *ctx,
		 struct vmm_waiter **ret_waiter, struct artifact **ret, bgr_error *err)
{
	struct catalog_entry e;
	struct artifact *a, *failed;
	int r = claim_name(m, kind, name, &failed, err);

	if (r < 0)
		return r;
	if (art_catalog_ready(m, fn, ctx, ret_waiter) == 1)
		return 1;
	r = art_catalog_find(m, kind, name, &e, err);
	if (r < 0)
		return r;
	a = begin_pull(m, kind, name, failed);
	a->total = e.size;
	snprintf(a->meta.source, sizeof(a->meta.source), "%s", e.url);
	snprintf(a->meta.sha256, sizeof(a->meta.sha256), "%s", e.sha256);
	snprintf(a->meta.kernel, sizeof(a->meta.kernel), "%s", e.kernel);
	if (kind == ART_IMAGE && e.kernel[0] && art_installed(m, ART_KERNEL, e.kernel)) {
		char names[256];
		int n = users(m, ART_KERNEL, e.kernel, names, sizeof(names));
		/* like rmdir kernels/NAME: a kernel VMs use is not replaced under them */
		a->keep_kernel = n > 0;
		if (n)
			log_msg("images/%s: keeping the installed kernel %s (used by %d VM%s: %s); the bundle's is not "
				"installed",
				name, e.kernel, n, n == 1 ? "" : "s", names);
	}
	r = pull_job_start_catalog(a, &e, &pull_events, err);
	if (r < 0) {
		art_drop(m, a);
		return r;
	}
	pull_started(m, a, e.url);
	*ret = a;
	return 0;
}

int vmm_art_import(struct vmm *m, const char *name, const char *ref, struct artifact **ret, bgr_error *err)
{
	struct artifact *a, *failed;
	int r = claim_name(m, ART_IMAGE, name, &failed, err);

	if (r < 0)
		return r;
	if (!*ref || strlen(ref) > 255 || strpbrk(ref, " \t\"'\\"))
		return bgr_fail(err, EINVAL,
				"'%.100s' is not an OCI image reference (like docker.io/library/debian:bookworm)", ref);
	a = begin_pull(m, ART_IMAGE, name, failed);
	snprintf(a->meta.source, sizeof(a->meta.source), "oci:%s", ref);
	snprintf(a->meta.kernel, sizeof(a->meta.kernel), "%s", m->settings.kernel);
	r = pull_job_start_oci(a, ref, m->settings.kernel, &pull_events, err);
	if (r < 0) {
		art_drop(m, a);
		return r;
	}
	pull_started(m, a, ref);
	*ret = a;
	return 0;
}

static void rm_trash(void *path)
{
	rm_rf(path);
}

int vmm_art_remove(struct vmm *m, struct artifact *a, bgr_error *err)
{
	_cleanup_free_ char *dir = NULL, *trash = NULL;
	char names[256];
	int n;

	if (a->state == ART_PULLING)
		return bgr_fail(err, EBUSY, "%s '%s' is being pulled; remove it once its status is ready or error",
				art_kind_word(a->kind), a->name);
	n = users(m, a->kind, a->name, names, sizeof(names));
	if (n)
		return bgr_fail(err, EBUSY, "%s '%s' is used by %d VM%s (%s%s)", art_kind_word(a->kind), a->name, n,
				n > 1 ? "s" : "", names, n > 4 ? ", …" : "");
	if (a->state == ART_READY) {
		dir = xasprintf("%s/%s", art_kind_dir(m, a->kind), a->name);
		trash = xasprintf("%s/.rm-%s-%lld", art_kind_dir(m, a->kind), a->name, (long long)now_real_ms());
		/* one rename, so the store never holds half an image */
		if (rename(dir, trash) < 0 && errno != ENOENT)
			return bgr_fail(err, errno, "cannot remove %s: %s", dir, strerror(errno));
		/* a rootfs is gigabytes: its deletion is no work for the loop (a
		 * crash meanwhile leaves .rm-*, which start-up sweeps) */
		workers_submit(m->workers, rm_trash, free, steal_ptr(&trash));
		log_msg("%ss/%s: removed", art_kind_word(a->kind), a->name);
	}
	art_event(m, a, "removed");
	art_drop(m, a);
	return 0;
}

int vmm_art_wait(struct vmm *m, struct artifact *a, vmm_done_fn fn, void *ctx, struct vmm_waiter **ret_waiter)
{
	(void)m;
	if (a->state != ART_PULLING)
		return 0;
	*ret_waiter = waiter_add(&a->waiters, fn, ctx);
	return 1;
}

void art_free_all(struct vmm *m)
{
	/* waiters first: a parked wait read renders its artifact's status */
	for (size_t i = 0; i < m->n_arts; i++) {
		if (m->arts[i]->job)
			pull_job_free(m->arts[i]->job);
		m->arts[i]->job = NULL;
		waiters_complete(&m->arts[i]->waiters, -ECANCELED);
	}
	for (size_t i = 0; i < m->n_arts; i++)
		free(m->arts[i]);
	free(m->arts);
	m->arts = NULL;
	m->n_arts = m->cap_arts = 0;
	art_catalog_free(m);
}

static void sweep_dir(const char *dir, const char *prefix)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, de->d_name);
		log_msg("removing %s, left by an interrupted pull or removal", p);
		rm_rf(p);
	}
}

void art_sweep(struct vmm *m)
{
	sweep_dir(m->paths->state_dir, ".pull-");
	sweep_dir(m->paths->images_dir, ".rm-");
	sweep_dir(m->paths->kernels_dir, ".rm-");
}
