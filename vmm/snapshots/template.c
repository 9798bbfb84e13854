/* The template store: state/templates/KEY/{memory,state,disk.qcow2,meta.json}.
 * A template is built in state/templates/.aside-KEY-N and renamed into
 * place (snap_save.c), so a crash leaves a leftover aside directory (removed
 * here at start-up), never half a template. Removal renames it to
 * .trash-KEY-N first and deletes the files on a worker. */
#include "snapshots.h"
#include "file_sync.h"
#include "image_meta.h"
#include "log.h"
#include "util.h"
#include "vm.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* "label=path dev:ino size mtime" of a file (stat follows links: a
 * replaced image is a new identity). */
static int stat_line(FILE *f, const char *label, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	fprintf(f, "%s=%s id=%llu:%llu size=%lld mtime=%lld.%09ld\n", label, path, (unsigned long long)st.st_dev,
		(unsigned long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	return 0;
}

int template_key(struct vmm *m, const struct tpl_inputs *in, char key[24], char **source)
{
	_cleanup_free_ char *rootfs = xasprintf("%s/%s/rootfs.ext4", m->paths->images_dir, in->image);
	_cleanup_free_ char *vmlinuz = xasprintf("%s/%s/vmlinuz", m->paths->kernels_dir, in->kernel);
	_cleanup_free_ char *initrd = xasprintf("%s/%s/initrd.img", m->paths->kernels_dir, in->kernel);
	struct image_meta meta = { 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int r;

	if (!f)
		return -ENOMEM;
	image_meta_read(m->paths->images_dir, in->image, &meta, NULL);
	fprintf(f, "image=%s kernel=%s\n", in->image, in->kernel);
	r = stat_line(f, "rootfs", rootfs);
	if (r == 0)
		r = stat_line(f, "vmlinuz", vmlinuz);
	if (r == 0)
		r = stat_line(f, "initrd", initrd);
	fprintf(f, "image_cmdline=%s\n", meta.cmdline);
	fprintf(f, "vcpu=%u memory_mib=%u disk_size=%" PRIu64 " network=%s accel=%s\n", in->vcpu, in->memory_mib,
		in->disk_size, in->net_mode, m->settings.accel.accel);
	fprintf(f, "hypervisor=%s\n", m->qemu_version ? m->qemu_version : "unknown");
	fprintf(f, "agent=%s proto=%d\n", BANGER_AGENT_VERSION, BANGER_AGENT_PROTO_VERSION);
	fclose(f);
	if (r < 0) {
		free(text);
		return r;
	}
	snprintf(key, 24, "%016" PRIx64, fnv1a(text));
	*source = text;
	return 0;
}

struct template *template_find(struct vmm *m, const char *key)
{
	for (size_t i = 0; i < m->n_tpls; i++)
		if (strcmp(m->tpls[i]->key, key) == 0)
			return m->tpls[i];
	return NULL;
}

struct template *template_by_id(struct vmm *m, int64_t id)
{
	for (size_t i = 0; i < m->n_tpls; i++)
		if (m->tpls[i]->id == id)
			return m->tpls[i];
	return NULL;
}

struct template *template_add(struct vmm *m, const char *key, const char *source, const struct tpl_inputs *in)
{
	struct template *t = xcalloc(1, sizeof(*t));

	t->id = ++m->last_tpl_id;
	snprintf(t->key, sizeof(t->key), "%s", key);
	t->dir = xasprintf("%s/%s", m->templates_dir, key);
	t->source = xstrdup(source);
	t->in = *in;
	t->status = TPL_SAVING;
	if (m->n_tpls == m->cap_tpls) {
		m->cap_tpls = m->cap_tpls ? m->cap_tpls * 2 : 8;
		m->tpls = realloc(m->tpls, m->cap_tpls * sizeof(*m->tpls));
		if (!m->tpls)
			abort();
	}
	m->tpls[m->n_tpls++] = t;
	return t;
}

void template_forget(struct vmm *m, struct template *t)
{
	for (size_t i = 0; i < m->n_tpls; i++) {
		if (m->tpls[i] != t)
			continue;
		memmove(&m->tpls[i], &m->tpls[i + 1], (m->n_tpls - i - 1) * sizeof(*m->tpls));
		m->n_tpls--;
		break;
	}
	free(t->dir);
	free(t->source);
	free(t);
}

void templates_free(struct vmm *m)
{
	while (m->n_tpls)
		template_forget(m, m->tpls[m->n_tpls - 1]);
	free(m->tpls);
	m->tpls = NULL;
	m->cap_tpls = 0;
}

void template_inputs_of(struct vmm *m, const struct vm *vm, struct tpl_inputs *in)
{
	memset(in, 0, sizeof(*in));
	snprintf(in->image, sizeof(in->image), "%s", vm->rec.image);
	snprintf(in->kernel, sizeof(in->kernel), "%s", vm->rec.kernel);
	in->vcpu = vm->rec.vcpu;
	in->memory_mib = vm->rec.memory_mib;
	in->disk_size = vm->rec.disk_size;
	snprintf(in->net_mode, sizeof(in->net_mode), "%s",
		 m->settings.net.mode == NET_BRIDGE ? "bridge"
		 : m->settings.net.mode == NET_USER ? "user"
						    : "none");
}

void template_used_by(struct vmm *m, const struct template *t, char *buf, size_t size, bool *running)
{
	size_t used = 0;

	buf[0] = '\0';
	if (running)
		*running = false;
	for (size_t i = 0; i < m->n_vms; i++) {
		const struct vm *vm = m->vms[i];
		if (strcmp(vm->rec.template_key, t->key) != 0)
			continue;
		if (running && vm->rec.pid)
			*running = true;
		int n = snprintf(buf + used, size - used, "%s%s", used ? "," : "", vm->rec.name);
		if (n < 0 || (size_t)n >= size - used)
			break;
		used += (size_t)n;
	}
}

static void rm_work(void *data)
{
	rm_rf(data);
}

/* Renames dir aside (a crash leaves .trash-*, removed at the next start)
 * and deletes it on a worker. */
static void remove_dir_later(struct vmm *m, const char *dir, const char *key)
{
	char *trash = xasprintf("%s/.trash-%s-%" PRId64 "-%d", m->templates_dir, key, ++m->last_tpl_id, getpid());

	if (rename(dir, trash) < 0) {
		if (errno != ENOENT)
			log_msg("templates: cannot move %s aside: %s", dir, strerror(errno));
		free(trash);
		return;
	}
	workers_submit(m->workers, rm_work, free, trash);
}

int template_drop(struct vmm *m, struct template *t, bgr_error *err)
{
	char users[512];
	bool running;

	if (t->status == TPL_SAVING)
		return bgr_fail(err, EBUSY, "template %s is being saved; remove it once it is ready", t->key);
	template_used_by(m, t, users, sizeof(users), &running);
	if (users[0])
		return bgr_fail(err, EBUSY, "template %s is used by %s (%s); delete %s first", t->key, users,
				running ? "a running clone maps its memory" : "their disks are backed by its disk",
				strchr(users, ',') ? "those VMs" : "that VM");
	log_msg("templates: removing %s (made from %s)", t->key, t->made_from);
	remove_dir_later(m, t->dir, t->key);
	template_forget(m, t);
	if (m->obs.templates_changed)
		m->obs.templates_changed(m->obs.ctx);
	return 0;
}

void template_failed(struct vmm *m, struct template *t, const char *why)
{
	bgr_error err;

	snprintf(t->why_broken, sizeof(t->why_broken), "%s", why);
	t->status = TPL_BROKEN;
	if (template_drop(m, t, &err) < 0)
		log_msg("templates: %s is broken (%s) but kept: %s", t->key, why, err.msg);
}

/* Whether t's inputs still give its key. */
static bool template_current(struct vmm *m, const struct template *t)
{
	_cleanup_free_ char *source = NULL;
	char key[24];

	return template_key(m, &t->in, key, &source) == 0 && strcmp(key, t->key) == 0;
}

void templates_gc(struct vmm *m)
{
	for (size_t i = 0; i < m->n_tpls;) {
		struct template *t = m->tpls[i];
		char users[64];
		bgr_error err;

		template_used_by(m, t, users, sizeof(users), NULL);
		if (t->status != TPL_SAVING && !users[0] && (t->status == TPL_BROKEN || !template_current(m, t))) {
			log_msg("templates: %s is stale (its inputs changed) and unused", t->key);
			if (template_drop(m, t, &err) == 0)
				continue;
		}
		i++;
	}
}

enum vm_snap templates_plan(struct vmm *m, struct vm *vm, struct template **ret, char *why, size_t why_size)
{
	_cleanup_free_ char *source = NULL;
	_cleanup_free_ char *work = xasprintf("%s/" WORK_DISK_NAME, vm->dir);
	struct tpl_inputs in;
	struct template *t;
	char key[24];

	int r;

	*ret = NULL;
	why[0] = '\0';
	if (!m->settings.snapshots || (m->driver != &qemu_driver && !m->driver->snap_load) || !m->templates_dir)
		return SNAP_NONE;
	/* Firecracker cannot hot-plug the work disk into a clone: a cold boot */
	if (m->driver->snap_load && access(work, F_OK) == 0) {
		snprintf(why, why_size,
			 "no template: Firecracker cannot add the work disk (file_sync, workspace) to a clone");
		return SNAP_NONE;
	}
	template_inputs_of(m, vm, &in);
	if ((r = template_key(m, &in, key, &source)) < 0) {
		snprintf(why, why_size, "no template: cannot read the image or kernel (%s)", strerror(-r));
		return SNAP_NONE;
	}
	t = template_find(m, key);
	snprintf(vm->snap_key, sizeof(vm->snap_key), "%s", key);
	if (t && t->status == TPL_READY && strcmp(t->source, source) == 0) {
		*ret = t;
		return SNAP_CLONE;
	}
	if (t) {
		snprintf(why, why_size, "template %s is %s: a plain cold boot", key,
			 t->status == TPL_SAVING ? "being saved by another boot" : "broken");
		return SNAP_NONE;
	}
	/* a template is made from a boot without a work disk: the guest mounts
	 * /dev/vdb at boot, and a clone's own disk under the template's page
	 * cache would be corrupt */
	if (access(work, F_OK) == 0) {
		snprintf(why, why_size, "no template for this shape yet, and none is made from a VM with a work disk");
		return SNAP_NONE;
	}
	if (!m->runtime_dir && !m->driver->snap_create) { /* QEMU's RAM file; Firecracker saves its own */
		snprintf(why, why_size, "no runtime directory for the RAM file: no template is made");
		return SNAP_NONE;
	}
	return SNAP_MAKE;
}

static char *json_str(cJSON *o, const char *k)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double json_num(cJSON *o, const char *k)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static int load_one(struct vmm *m, const char *key)
{
	_cleanup_free_ char *dir = xasprintf("%s/%s", m->templates_dir, key);
	_cleanup_free_ char *meta_path = xasprintf("%s/" TPL_META, dir);
	_cleanup_free_ char *text = NULL;
	struct tpl_inputs in = { 0 };
	struct template *t;
	size_t len = 0;
	cJSON *j;
	FILE *f = fopen(meta_path, "re");

	if (!f)
		return -errno;
	text = xcalloc(1, 65536);
	len = fread(text, 1, 65535, f);
	fclose(f);
	text[len] = '\0';
	j = cJSON_Parse(text);
	if (!j)
		return -EINVAL;
	const char *source = json_str(j, "source"), *image = json_str(j, "image"), *kernel = json_str(j, "kernel"),
		   *net = json_str(j, "net_mode"), *from = json_str(j, "made_from");
	if (!source || !image || !kernel || !net || json_num(j, "vcpu") < 1) {
		cJSON_Delete(j);
		return -EINVAL;
	}
	snprintf(in.image, sizeof(in.image), "%s", image);
	snprintf(in.kernel, sizeof(in.kernel), "%s", kernel);
	snprintf(in.net_mode, sizeof(in.net_mode), "%s", net);
	in.vcpu = (unsigned)json_num(j, "vcpu");
	in.memory_mib = (unsigned)json_num(j, "memory_mib");
	in.disk_size = (uint64_t)json_num(j, "disk_size");
	t = template_add(m, key, source, &in);
	t->status = TPL_READY;
	t->created = (long long)json_num(j, "created");
	t->size = (uint64_t)json_num(j, "size");
	snprintf(t->made_from, sizeof(t->made_from), "%s", from ? from : "");
	cJSON_Delete(j);
	return 0;
}

int templates_load(struct vmm *m, bgr_error *err)
{
	struct dirent *de;
	DIR *d;
	int r;

	m->templates_dir = xasprintf("%s/templates", m->paths->state_dir);
	r = mkdir_p(m->templates_dir, 0700);
	if (r < 0)
		return bgr_fail(err, -r, "cannot create %s: %s", m->templates_dir, strerror(-r));
	d = opendir(m->templates_dir);
	if (!d)
		return bgr_fail(err, errno, "cannot read %s: %s", m->templates_dir, strerror(errno));
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_name[0] == '.') { /* an interrupted save or removal */
			char *p = xasprintf("%s/%s", m->templates_dir, de->d_name);
			log_msg("templates: removing the leftover %s", p);
			workers_submit(m->workers, rm_work, free, p);
			continue;
		}
		if (load_one(m, de->d_name) < 0) {
			_cleanup_free_ char *p = xasprintf("%s/%s", m->templates_dir, de->d_name);
			log_msg("templates: %s has no valid " TPL_META ": removed", p);
			remove_dir_later(m, p, de->d_name);
		}
	}
	closedir(d);
	templates_gc(m);
	return 0;
}

size_t vmm_template_count(struct vmm *m)
{
	return m->n_tpls;
}

int64_t vmm_template_id_at(struct vmm *m, size_t i)
{
	return i < m->n_tpls ? m->tpls[i]->id : 0;
}

int64_t vmm_template_by_key(struct vmm *m, const char *key)
{
	struct template *t = template_find(m, key);
	return t ? t->id : 0;
}

bool vmm_template_info(struct vmm *m, int64_t id, struct template_info *ret)
{
	struct template *t = template_by_id(m, id);

	if (!t)
		return false;
	memset(ret, 0, sizeof(*ret));
	ret->id = t->id;
	snprintf(ret->key, sizeof(ret->key), "%s", t->key);
	if (t->status == TPL_READY)
		snprintf(ret->status, sizeof(ret->status), "ready");
	else if (t->status == TPL_SAVING)
		snprintf(ret->status, sizeof(ret->status), "saving");
	else
		snprintf(ret->status, sizeof(ret->status), "broken: %.180s", t->why_broken);
	ret->size = t->size;
	ret->created = t->status == TPL_SAVING ? 0 : t->created;
	template_used_by(m, t, ret->used_by, sizeof(ret->used_by), NULL);
	ret->source = t->source;
	snprintf(ret->made_from, sizeof(ret->made_from), "%s", t->made_from);
	return true;
}

int vmm_template_remove(struct vmm *m, int64_t id, bgr_error *err)
{
	struct template *t = template_by_id(m, id);

	if (!t)
		return bgr_fail(err, ENOENT, "no such template");
	if (template_drop(m, t, err) < 0)
		return -err->code;
	return 0;
}
