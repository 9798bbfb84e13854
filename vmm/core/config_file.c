/* config.toml: every key optional, every unknown key or bad value an error
 * naming the file and line (docs/config.md). */
#include "settings.h"
#include "toml.h"
#include "util.h"
#include "validate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct ctx {
	const char *path;
	struct vmm_settings *s;
	struct bgr_paths *paths;
	bgr_error *err;
};

static int at(struct ctx *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int at(struct ctx *c, int line, const char *fmt, ...)
{
	char reason[BGR_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return bgr_fail(c->err, EINVAL, "%s:%d: %s", c->path, line, reason);
}

/* The reason a setting_* check left in err, placed at the key's line. */
static int wrap_at(struct ctx *c, int line)
{
	char reason[BGR_ERROR_MAX];

	snprintf(reason, sizeof(reason), "%s", c->err->msg);
	return at(c, line, "%s", reason);
}

static const char *type_name(enum toml_type t)
{
	return t == TOML_STRING ? "a string" : t == TOML_INT ? "an integer" : "true or false";
}

static int want(struct ctx *c, const struct toml_kv *kv, enum toml_type t)
{
	if (kv->v.type != t)
		return at(c, kv->line, "%s: want %s", kv->key, type_name(t));
	return 0;
}

static void where(struct ctx *c, const struct toml_kv *kv, setting_src out)
{
	const char *base = strrchr(c->path, '/');
	snprintf(out, SETTING_SRC_MAX, "%s:%d", base ? base + 1 : c->path, kv->line);
}

/* "~/x" -> "$HOME/x"; anything else as it is. */
static char *expand_home(const char *p)
{
	const char *home = getenv("HOME");

	if (p[0] == '~' && (p[1] == '/' || !p[1]) && home)
		return xasprintf("%s%s", home, p + 1);
	return xstrdup(p);
}

static bool is_root_key(const char *key)
{
	static const char *const known[] = { "default_image_name",
					     "ssh_key_path",
					     "firecracker_bin",
					     "vmm",
					     "accel",
					     "network",
					     "bridge_name",
					     "subnet",
					     "nat",
					     "catalog" };

	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (!strcmp(key, known[i]))
			return true;
	return false;
}

static int apply_root_key(struct ctx *c, const struct toml_kv *kv)
{
	struct vmm_settings *s = c->s;
	setting_src src;
	int r = 0;

	where(c, kv, src);
	if (!is_root_key(kv->key))
		return at(c, kv->line,
			  "unknown key '%.40s' (known: default_image_name, ssh_key_path, firecracker_bin, vmm, accel, "
			  "network, bridge_name, subnet, nat, catalog, [vm_defaults], [[file_sync]])",
			  kv->key);
	if (!strcmp(kv->key, "nat")) {
		if (want(c, kv, TOML_BOOL) < 0)
			return -EINVAL;
		s->net.nat = kv->v.b;
		snprintf(s->net.src_nat, SETTING_SRC_MAX, "%s", src);
		return 0;
	}
	if (want(c, kv, TOML_STRING) < 0)
		return -EINVAL;
	const char *v = kv->v.str;
	if (!strcmp(kv->key, "default_image_name"))
		r = setting_image(s, v, src, c->err);
	else if (!strcmp(kv->key, "vmm"))
		r = setting_vmm(s, v, src, c->err);
	else if (!strcmp(kv->key, "accel"))
		r = setting_accel(s, v, src, c->err);
	else if (!strcmp(kv->key, "network"))
		r = setting_network(s, v, src, c->err);
	else if (!strcmp(kv->key, "bridge_name"))
		r = setting_bridge(s, v, src, c->err);
	else if (!strcmp(kv->key, "subnet"))
		r = setting_subnet(s, v, src, c->err);
	else if (!strcmp(kv->key, "firecracker_bin")) {
		if (!*v || strlen(v) >= sizeof(s->firecracker_bin))
			return at(c, kv->line, "firecracker_bin: want a path");
		snprintf(s->firecracker_bin, sizeof(s->firecracker_bin), "%s", v);
		snprintf(s->src_firecracker, SETTING_SRC_MAX, "%s", src);
	} else if (!strcmp(kv->key, "catalog")) {
		r = setting_catalog(s, v, src, c->err);
	} else if (!strcmp(kv->key, "ssh_key_path")) {
		char *p = expand_home(v);
		if (p[0] != '/') {
			free(p);
			return at(c, kv->line, "ssh_key_path '%.100s': want an absolute path or ~/...", v);
		}
		free(c->paths->ssh_key);
		c->paths->ssh_key = p;
		snprintf(s->src_ssh_key, SETTING_SRC_MAX, "%s", src);
	}
	return r < 0 ? wrap_at(c, kv->line) : 0;
}

static int apply_vm_defaults(struct ctx *c, const struct toml_table *t)
{
	struct vmm_settings *s = c->s;
	char text[32];

	for (size_t i = 0; i < t->n_kvs; i++) {
		const struct toml_kv *kv = &t->kvs[i];
		int r;

		if (!strcmp(kv->key, "vcpu") || !strcmp(kv->key, "memory_mib")) {
			if (want(c, kv, TOML_INT) < 0)
				return -EINVAL;
			snprintf(text, sizeof(text), "%lld", kv->v.i);
			r = !strcmp(kv->key, "vcpu") ? parse_vcpu(text, host_cpus(), &s->vcpu, c->err)
						     : parse_memory_mib(text, host_ram_mib(), &s->memory_mib, c->err);
			if (r < 0)
				return wrap_at(c, kv->line);
			where(c, kv, !strcmp(kv->key, "vcpu") ? s->src_vcpu : s->src_memory);
		} else if (!strcmp(kv->key, "disk_size")) {
			if (kv->v.type == TOML_INT)
				snprintf(text, sizeof(text), "%lld", kv->v.i);
			else if (kv->v.type == TOML_STRING && strlen(kv->v.str) < sizeof(text))
				snprintf(text, sizeof(text), "%s", kv->v.str);
			else
				return at(c, kv->line, "disk_size: want a size like \"8G\"");
			if (parse_disk_size(text, &s->disk_size, c->err) < 0)
				return wrap_at(c, kv->line);
			where(c, kv, s->src_disk);
		} else {
			return at(c, kv->line,
				  "unknown key '%.40s' in [vm_defaults] (known: vcpu, memory_mib, disk_size)", kv->key);
		}
	}
	return 0;
}

static int parse_mode(const char *v, int *ret)
{
	char *end;
	long m;

	if (!*v || strlen(v) > 4)
		return -EINVAL;
	m = strtol(v, &end, 8);
	if (*end || m < 0 || m > 07777)
		return -EINVAL;
	*ret = (int)m;
	return 0;
}

static int apply_file_sync(struct ctx *c, const struct toml_table *t)
{
	struct file_sync e = { .mode = -1 };
	const struct toml_kv *host = toml_get(t, "host"), *guest = toml_get(t, "guest"), *mode = toml_get(t, "mode");

	for (size_t i = 0; i < t->n_kvs; i++)
		if (strcmp(t->kvs[i].key, "host") && strcmp(t->kvs[i].key, "guest") && strcmp(t->kvs[i].key, "mode"))
			return at(c, t->kvs[i].line, "unknown key '%.40s' in [[file_sync]] (known: host, guest, mode)",
				  t->kvs[i].key);
	if (!host || !guest)
		return at(c, t->line, "[[file_sync]] needs both host and guest");
	if (want(c, host, TOML_STRING) < 0 || want(c, guest, TOML_STRING) < 0)
		return -EINVAL;
	if (!*host->v.str || !*guest->v.str)
		return at(c, !*host->v.str ? host->line : guest->line, "file_sync: empty path");
	if (mode && (want(c, mode, TOML_STRING) < 0 || parse_mode(mode->v.str, &e.mode) < 0))
		return at(c, mode->line, "mode: want an octal mode as a string, like \"0644\"");
	e.host = xstrdup(host->v.str);
	e.guest = xstrdup(guest->v.str);
	snprintf(e.src, SETTING_SRC_MAX, "%s:%d", strrchr(c->path, '/') ? strrchr(c->path, '/') + 1 : c->path, t->line);
	c->s->sync = realloc(c->s->sync, (c->s->n_sync + 1) * sizeof(*c->s->sync));
	if (!c->s->sync)
		abort();
	c->s->sync[c->s->n_sync++] = e;
	return 0;
}

static int apply(struct ctx *c, const struct toml_doc *doc)
{
	int r;

	for (size_t i = 0; i < doc->tables[0].n_kvs; i++)
		if ((r = apply_root_key(c, &doc->tables[0].kvs[i])) < 0)
			return r;
	for (size_t i = 1; i < doc->n_tables; i++) {
		const struct toml_table *t = &doc->tables[i];
		if (!strcmp(t->name, "vm_defaults") && !t->array_elem)
			r = apply_vm_defaults(c, t);
		else if (!strcmp(t->name, "file_sync") && t->array_elem)
			r = apply_file_sync(c, t);
		else if (!strcmp(t->name, "file_sync") || !strcmp(t->name, "vm_defaults"))
			r = at(c, t->line, "%s must be written %s", t->name,
			       !strcmp(t->name, "file_sync") ? "[[file_sync]]" : "[vm_defaults]");
		else
			r = at(c, t->line, "unknown table '%.40s' (known: [vm_defaults], [[file_sync]])", t->name);
		if (r < 0)
			return r;
	}
	return 0;
}

int config_file_apply(const char *path, struct vmm_settings *s, struct bgr_paths *paths, bgr_error *err)
{
	struct ctx c = { path, s, paths, err };
	struct toml_doc doc = { 0 };
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *text = NULL;
	struct stat st;
	ssize_t got = 0, n;
	int r;

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return bgr_fail(err, errno, "%s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > TOML_SIZE_MAX)
		return bgr_fail(err, EINVAL, "%s: not a regular file of at most 1 MiB", path);
	text = xcalloc(1, (size_t)st.st_size + 1);
	while (got < st.st_size && (n = read(fd, text + got, (size_t)(st.st_size - got))) > 0)
		got += n;
	r = toml_parse(text, (size_t)got, path, &doc, err);
	if (r < 0)
		return r;
	s->config_found = true;
	r = apply(&c, &doc);
	toml_free(&doc);
	return r;
}
