/* known_hosts reads from memory. The copy is tied to the file's identity
 * (device, inode, size, times): banger rewrites the file atomically, so
 * every change moves it. A refresh runs on a worker (a read of the file
 * and one `banger-ssh groups` for every VM it may mention), one at a time;
 * another asked for meanwhile runs right after it. Whoever changes pins
 * asks for a refresh; a front that finds the copy stale (vmm_pins_fresh:
 * one stat) waits for one before it reads, so a read never shows pins
 * older than the file and never runs the helper on the loop. */
#include "pins_cache.h"
#include "network.h"
#include "ssh_helper.h"
#include "util.h"
#include "vm.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

struct file_id {
	bool exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

struct vm_pins {
	int64_t id;
	char *text;
};

struct pins_cache {
	struct file_id id; /* of the file the copy was read from */
	char *all;
	struct vm_pins *vms;
	size_t n_vms;
	bool running, again;
	struct vmm_waiter *waiters, *next_waiters; /* of the refresh running, of the one after it */
};

/* A refresh: the VMs' host names taken on the loop, the rest on a worker. */
struct refresh {
	struct vmm *m;
	char *file;
	size_t n;
	int64_t *ids;
	char **groups; /* "NAME.vm,ADDR,[127.0.0.1]:PORT" per VM */
	/* results */
	struct file_id id;
	char *all;
	char **texts;
};

static void file_id_of(const char *file, struct file_id *id)
{
	struct stat st;

	memset(id, 0, sizeof(*id));
	if (stat(file, &st) < 0)
		return;
	*id = (struct file_id){ .exists = true,
				.dev = st.st_dev,
				.ino = st.st_ino,
				.size = st.st_size,
				.mtime = st.st_mtim,
				.ctime = st.st_ctim };
}

static bool same_file(const struct file_id *a, const struct file_id *b)
{
	if (!a->exists || !b->exists)
		return a->exists == b->exists;
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec && a->ctime.tv_sec == b->ctime.tv_sec &&
	       a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* Before the first refresh: the file as absent, no pins. */
static struct pins_cache *cache(struct vmm *m)
{
	if (!m->pins) {
		m->pins = xcalloc(1, sizeof(*m->pins));
		m->pins->all = xstrdup("");
	}
	return m->pins;
}

/* A VM may have pins only when one of its names occurs in the text. */
static bool mentioned(const char *text, const char *group)
{
	_cleanup_free_ char *copy = xstrdup(group);
	char *save = NULL;

	for (char *h = strtok_r(copy, ",", &save); h; h = strtok_r(NULL, ",", &save))
		if (strstr(text, h))
			return true;
	return false;
}

/* On a worker. The file may change while it is read: then once more. */
static void refresh_work(void *data)
{
	struct refresh *r = data;

	for (int attempt = 0; attempt < 3; attempt++) {
		struct file_id after;
		const char **argv = xcalloc(r->n + 4, sizeof(*argv));
		size_t *index = xcalloc(r->n + 1, sizeof(*index)), n = 0;

		free(r->all);
		for (size_t i = 0; i < r->n; i++) {
			free(r->texts[i]);
			r->texts[i] = NULL;
		}
		file_id_of(r->file, &r->id);
		r->all = r->id.exists ? read_text_file(r->file) : NULL;
		if (!r->all)
			r->all = xstrdup("");
		argv[1] = "groups";
		argv[2] = r->file;
		for (size_t i = 0; i < r->n; i++)
			if (mentioned(r->all, r->groups[i])) {
				index[n] = i;
				argv[3 + n++] = r->groups[i];
			}
		if (n) {
			int status;
			_cleanup_free_ char *out = ssh_helper_run((char **)argv, &status, NULL, NULL);
			char *save = NULL;
			for (char *line = strtok_r(out, "\n", &save); status == 0 && line;
			     line = strtok_r(NULL, "\n", &save)) {
				char *rest;
				unsigned long g = strtoul(line, &rest, 10);
				if (rest == line || *rest != ' ' || g >= n)
					continue;
				char **t = &r->texts[index[g]];
				char *joined = xasprintf("%s%s\n", *t ? *t : "", rest + 1);
				free(*t);
				*t = joined;
			}
		}
		free(argv);
		free(index);
		file_id_of(r->file, &after);
		if (same_file(&after, &r->id))
			break;
	}
}

static void refresh_free(struct refresh *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->groups[i]);
		free(r->texts[i]);
	}
	free(r->groups);
	free(r->texts);
	free(r->ids);
	free(r->file);
	free(r->all);
	free(r);
}

static void refresh_start(struct vmm *m);

static const char *vm_text(const struct pins_cache *c, int64_t id)
{
	for (size_t i = 0; i < c->n_vms; i++)
		if (c->vms[i].id == id)
			return c->vms[i].text;
	return "";
}

static void drop_vms(struct pins_cache *c)
{
	for (size_t i = 0; i < c->n_vms; i++)
		free(c->vms[i].text);
	free(c->vms);
	c->vms = NULL;
	c->n_vms = 0;
}

/* On the loop: the new copy replaces the old; VMs whose lines changed
 * have their files' caches dropped. */
static void refresh_done(void *data)
{
	struct refresh *r = data;
	struct vmm *m = r->m;
	struct pins_cache *c = cache(m);
	struct vm_pins *vms = xcalloc(r->n + 1, sizeof(*vms));
	struct vmm_waiter *waiters = c->waiters;
	bool quitting = atomic_load(&m->quitting);
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++) {
		const char *now = r->texts[i] ? r->texts[i] : "";
		struct vm *vm = vmm_vm_by_id(m, r->ids[i]);
		if (!quitting && vm && strcmp(now, vm_text(c, r->ids[i])) != 0)
			vm_changed(m, vm);
		if (r->texts[i])
			vms[n++] = (struct vm_pins){ .id = r->ids[i], .text = steal_ptr(&r->texts[i]) };
	}
	drop_vms(c);
	c->vms = vms;
	c->n_vms = n;
	free(c->all);
	c->all = steal_ptr(&r->all);
	c->id = r->id;
	c->running = false;
	c->waiters = NULL;
	refresh_free(r);
	if (c->again && !quitting) {
		c->again = false;
		c->waiters = c->next_waiters;
		c->next_waiters = NULL;
		refresh_start(m);
	}
	waiters_complete(&waiters, quitting ? -ESHUTDOWN : 0);
}

static void refresh_start(struct vmm *m)
{
	struct refresh *r = xcalloc(1, sizeof(*r));

	r->m = m;
	r->file = xstrdup(m->paths->known_hosts);
	r->n = m->n_vms;
	r->ids = xcalloc(r->n + 1, sizeof(*r->ids));
	r->groups = xcalloc(r->n + 1, sizeof(*r->groups));
	r->texts = xcalloc(r->n + 1, sizeof(*r->texts));
	for (size_t i = 0; i < r->n; i++) {
		char hosts[3][96];
		int k = network_all_pin_hosts(&m->vms[i]->rec, hosts);
		r->ids[i] = m->vms[i]->rec.id;
		r->groups[i] = xasprintf("%s%s%s%s%s", hosts[0], k > 1 ? "," : "", k > 1 ? hosts[1] : "",
					 k > 2 ? "," : "", k > 2 ? hosts[2] : "");
	}
	cache(m)->running = true;
	workers_submit(m->workers, refresh_work, refresh_done, r);
}

void vmm_pins_refresh(struct vmm *m, vmm_done_fn fn, void *ctx, struct vmm_waiter **ret_waiter)
{
	struct pins_cache *c = cache(m);

	if (atomic_load(&m->quitting)) {
		if (fn)
			fn(ctx, -ESHUTDOWN);
		return;
	}
	if (c->running) {
		/* it may have read the file before the change: one more */
		c->again = true;
		if (fn)
			*ret_waiter = waiter_add(&c->next_waiters, fn, ctx);
		return;
	}
	if (fn)
		*ret_waiter = waiter_add(&c->waiters, fn, ctx);
	refresh_start(m);
}

bool vmm_pins_fresh(struct vmm *m)
{
	struct file_id now;

	file_id_of(m->paths->known_hosts, &now);
	return same_file(&now, &cache(m)->id);
}

const char *vmm_known_hosts(struct vmm *m)
{
	return cache(m)->all;
}

char *vmm_vm_known_hosts(struct vmm *m, const struct vm *vm)
{
	return xstrdup(vm_text(cache(m), vm->rec.id));
}

void pins_cache_free(struct vmm *m)
{
	struct pins_cache *c = m->pins;

	if (!c)
		return;
	waiters_complete(&c->waiters, -ESHUTDOWN);
	waiters_complete(&c->next_waiters, -ESHUTDOWN);
	drop_vms(c);
	free(c->all);
	free(c);
	m->pins = NULL;
}
