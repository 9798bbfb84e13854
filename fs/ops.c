/* The namespace: lookup, getattr, readdir, mkdir, rmdir, and refusals of
 * everything that would change the tree's shape. */
#include "fs.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

static struct fs *req_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

struct vm *fs_node_vm(struct fs *fs, const struct node *n)
{
	return n->vm_id ? vmm_vm_by_id(fs->vmm, n->vm_id) : NULL;
}

struct artifact *fs_node_art(struct fs *fs, const struct node *n)
{
	return n->art_id ? vmm_art_by_id(fs->vmm, n->art_id) : NULL;
}

static enum art_kind dir_kind(uint64_t ino)
{
	return ino == INO_IMAGES ? ART_IMAGE : ART_KERNEL;
}

static void refuse_v(struct fs *fs, fuse_req_t req, struct vm *vm, enum vm_error_of of, int err, const char *fmt,
		     va_list ap)
{
	bgr_error e = { .code = err };

	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	text_one_line(e.msg);
	if (vm)
		vmm_vm_fail(fs->vmm, vm, of, &e);
	else
		log_msg("refused: %s", e.msg);
	/* after the error file's invalidation, like every answer to a change */
	notify_reply_err(fs->notifier, req, err);
}

void fs_refuse(struct fs *fs, fuse_req_t req, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	refuse_v(fs, req, NULL, VM_ERR_NONE, err, fmt, ap);
	va_end(ap);
}

void fs_refuse_control(struct fs *fs, fuse_req_t req, struct vm *vm, const struct node *n, int err, const char *fmt,
		       ...)
{
	va_list ap;

	va_start(ap, fmt);
	refuse_v(fs, req, vm, node_error_of(n->kind), err, fmt, ap);
	va_end(ap);
}

const char *fs_path(struct fs *fs, fuse_ino_t ino, const char *name, char *buf, size_t size)
{
	struct node n;
	struct vm *vm;
	struct artifact *a;
	struct art_info ai;
	int len = 0;

	buf[0] = '\0';
	if (fs_sessions_path(fs, ino, buf, size)) {
		len = (int)strlen(buf);
	} else if (!node_resolve(ino, &n)) {
		len = snprintf(buf, size, "(inode %llu)", (unsigned long long)ino);
	} else if (n.vm_id) {
		vm = fs_node_vm(fs, &n);
		len = snprintf(buf, size, "vms/%s%s%s", vm ? vm_record(vm)->name : "(deleted)",
			       n.kind == VMF_DIR ? "" : "/", n.def->name);
	} else if (n.art_id) {
		a = fs_node_art(fs, &n);
		if (a) {
			vmm_art_info(a, &ai);
			len = snprintf(buf, size, "%s/%s%s%s", ai.kind == ART_IMAGE ? "images" : "kernels", ai.name,
				       n.akind == AF_DIR ? "" : "/", n.def->name);
		} else {
			len = snprintf(buf, size, "(a removed image or kernel)");
		}
	} else if (n.tpl_id) {
		struct template_info ti;
		if (vmm_template_info(fs->vmm, n.tpl_id, &ti))
			len = snprintf(buf, size, "templates/%s%s%s", ti.key, n.tkind == TF_DIR ? "" : "/",
				       n.def->name);
		else
			len = snprintf(buf, size, "(a removed template)");
	} else if (ino == INO_IMPORT) {
		len = snprintf(buf, size, "images/import");
	} else if (ino == INO_NOTRASH) {
		len = snprintf(buf, size, "%s", fs->notrash_name);
	} else {
		len = snprintf(buf, size, "%s", n.def->name);
	}
	if (name && len >= 0 && (size_t)len < size)
		snprintf(buf + len, size - (size_t)len, "%s%.80s", len ? "/" : "", name);
	return buf;
}

static off_t file_size(const struct node *n, struct vm *vm, struct fs *fs)
{
	size_t len = 0;

	if (n->def->flags & NODE_STREAM)
		return 0;
	if (n->def->flags & NODE_VOLATILE) {
		free(render_node(&fs->render, n, vm, &len));
		return (off_t)len;
	}
	snapshot_get(fs, n, vm, &len);
	return (off_t)len;
}

/* logs and console are growing files: size and times are those of the log
 * on disk, so `tail -f` and `ls -l` see them move. The console's is never
 * less than what any handle sees (a handle sees it from its own start, see
 * streams.c), so `tail -f` never takes it for a truncation. */
static void fill_attr_from_log(const char *path, struct stat *st)
{
	struct stat log;

	if (stat(path, &log) < 0)
		return;
	st->st_size = log.st_size;
	st->st_mtim = st->st_ctim = log.st_mtim;
}

bool fs_fill_attr(struct fs *fs, const struct node *n, struct vm *vm, struct stat *st)
{
	time_t t = fs->started;

	struct artifact *art = fs_node_art(fs, n);
	struct art_info ai;

	struct template_info ti;

	if ((n->vm_id && !vm) || (n->art_id && !art) || (n->tpl_id && !vmm_template_info(fs->vmm, n->tpl_id, &ti)))
		return false;
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_mode = n->def->mode;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_blksize = 4096;
	if (vm) {
		const struct vm_record *r = vm_record(vm);
		t = r->created;
		if (r->started_at / 1000 > t)
			t = r->started_at / 1000;
	}
	if (art) {
		vmm_art_info(art, &ai);
		if (ai.meta->created)
			t = (time_t)ai.meta->created;
	}
	if (n->tpl_id && ti.created)
		t = (time_t)ti.created;
	st->st_atime = st->st_mtime = st->st_ctime = t;
	if (n->def->flags & NODE_DIR) {
		st->st_nlink = 2;
		if (n->ino == INO_ROOT)
			st->st_nlink = 6;
		else if (n->ino == INO_TEMPLATES)
			st->st_nlink = 2 + vmm_template_count(fs->vmm);
		else if (n->ino == INO_VMS)
			st->st_nlink = 2 + vmm_vm_count(fs->vmm);
		else if (n->ino == INO_IMAGES || n->ino == INO_KERNELS)
			st->st_nlink = 2 + vmm_art_count(fs->vmm, dir_kind(n->ino));
		return true;
	}
	st->st_nlink = 1;
	if (n->def->flags & NODE_GROWING)
		fill_attr_from_log(vm_log_path(vm), st);
	else if (node_is_console(n))
		fill_attr_from_log(vm_console_log(vm), st);
	else
		st->st_size = file_size(n, vm, fs);
	st->st_blocks = (st->st_size + 511) / 512;
	return true;
}

static double attr_timeout(const struct node *n)
{
	return (n->def->flags & NODE_VOLATILE) || node_is_console(n) ? 0.0 : CACHE_TIMEOUT;
}

void fs_reply_entry(fuse_req_t req, struct fs *fs, uint64_t ino, struct vm *vm)
{
	struct fuse_entry_param e = { .ino = ino, .entry_timeout = CACHE_TIMEOUT };
	struct node n;

	if (!node_resolve(ino, &n) || !fs_fill_attr(fs, &n, vm, &e.attr)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	e.attr_timeout = attr_timeout(&n);
	fuse_reply_entry(req, &e);
}

static void reply_art_entry(fuse_req_t req, struct fs *fs, struct artifact *a, enum art_file f)
{
	struct art_info ai;

	vmm_art_info(a, &ai);
	fs_reply_entry(req, fs, art_ino(ai.id, f), NULL);
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = req_fs(req);
	struct node p;
	struct vm *vm;
	struct artifact *art;

	if (fs_pins_wait_lookup(fs, req, parent, name) || fs_sessions_lookup(fs, req, parent, name))
		return;
	if (!node_resolve(parent, &p))
		goto noent;
	if (parent == INO_ROOT) {
		for (uint64_t i = INO_README; i < INO_ROOT_END; i++)
			if (strcmp(name, top_nodes[i].name) == 0) {
				fs_reply_entry(req, fs, i, NULL);
				return;
			}
		if (strcmp(name, fs->notrash_name) == 0) {
			fs_reply_entry(req, fs, INO_NOTRASH, NULL);
			return;
		}
	} else if (parent == INO_IMAGES && strcmp(name, top_nodes[INO_IMPORT].name) == 0) {
		fs_reply_entry(req, fs, INO_IMPORT, NULL);
		return;
	} else if (parent == INO_IMAGES || parent == INO_KERNELS) {
		struct artifact *a = vmm_art_by_name(fs->vmm, dir_kind(parent), name);
		if (!a) { /* installed behind our back (tools/mkimage)? */
			vmm_art_rescan(fs->vmm, dir_kind(parent));
			a = vmm_art_by_name(fs->vmm, dir_kind(parent), name);
		}
		if (a) {
			reply_art_entry(req, fs, a, AF_DIR);
			return;
		}
	} else if (p.art_id && p.akind == AF_DIR && (art = fs_node_art(fs, &p))) {
		struct art_info ai;
		vmm_art_info(art, &ai);
		for (int k = AF_DIR + 1; k < AF_END; k++)
			if (strcmp(name, art_nodes[k].name) == 0 && art_has_file(ai.kind, (enum art_file)k)) {
				reply_art_entry(req, fs, art, (enum art_file)k);
				return;
			}
	} else if (parent == INO_TEMPLATES) {
		int64_t id = vmm_template_by_key(fs->vmm, name);
		if (id) {
			fs_reply_entry(req, fs, tpl_ino(id, TF_DIR), NULL);
			return;
		}
	} else if (p.tpl_id && p.tkind == TF_DIR) {
		for (int k = TF_DIR + 1; k < TF_END; k++)
			if (strcmp(name, tpl_nodes[k].name) == 0) {
				fs_reply_entry(req, fs, tpl_ino(p.tpl_id, (enum tpl_file)k), NULL);
				return;
			}
	} else if (parent == INO_VMS) {
		vm = vmm_vm_by_name(fs->vmm, name);
		if (vm) {
			fs_reply_entry(req, fs, vm_ino(vm_record(vm)->id, VMF_DIR), vm);
			return;
		}
	} else if (p.vm_id && p.kind == VMF_DIR && (vm = fs_node_vm(fs, &p))) {
		for (int k = VMF_DIR + 1; k < VMF_END; k++)
			if (strcmp(name, vm_nodes[k].name) == 0) {
				fs_reply_entry(req, fs, vm_ino(p.vm_id, (enum vm_file)k), vm);
				return;
			}
	}
noent:
	fuse_reply_err(req, ENOENT);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct node n;
	struct stat st;

	if (fs_pins_wait_getattr(fs, req, ino) || fs_sessions_getattr(fs, req, ino))
		return;
	if (!node_resolve(ino, &n) || !fs_fill_attr(fs, &n, fs_node_vm(fs, &n), &st)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (fi && node_is_console(&n)) /* lseek(SEEK_END) asks with the handle */
		st.st_size = stream_size(fs, (struct stream *)(uintptr_t)fi->fh);
	fuse_reply_attr(req, &st, attr_timeout(&n));
}

/* Only the truncation that `echo x > file` asks for, on writable files. */
static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct node n;
	struct stat st;
	char path[512];

	(void)attr;
	(void)fi;
	if (fs_sessions_setattr(fs, req, ino, to_set))
		return;
	if (!node_resolve(ino, &n) || !fs_fill_attr(fs, &n, fs_node_vm(fs, &n), &st)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (to_set & ~(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
		       FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME)) {
		fs_refuse(fs, req, EPERM, "chmod/chown %s: owner, group and mode are fixed",
			  fs_path(fs, ino, NULL, path, sizeof(path)));
		return;
	}
	if ((to_set & FUSE_SET_ATTR_SIZE) && !(n.def->flags & NODE_WRITABLE)) {
		fs_refuse(fs, req, EACCES, "truncate %s: it is read-only", fs_path(fs, ino, NULL, path, sizeof(path)));
		return;
	}
	fuse_reply_attr(req, &st, attr_timeout(&n));
}

struct dir_buf {
	char *data;
	size_t len, cap;
	off_t next;  /* offset of the entry being added */
	off_t start; /* entries before this offset are skipped */
};

/* Adds an entry if it is at or past start; false once the buffer is full. */
static bool dir_add(fuse_req_t req, struct dir_buf *b, const char *name, uint64_t ino, mode_t mode)
{
	struct stat st = { .st_ino = ino, .st_mode = mode };
	off_t off = ++b->next;
	size_t need;

	if (off <= b->start)
		return true;
	need = fuse_add_direntry(req, NULL, 0, name, NULL, 0);
	if (b->len + need > b->cap)
		return false;
	fuse_add_direntry(req, b->data + b->len, b->cap - b->len, name, &st, off);
	b->len += need;
	return true;
}

static bool dir_add_any(fuse_req_t req, void *b, const char *name, uint64_t ino, mode_t mode)
{
	return dir_add(req, b, name, ino, mode);
}

/* vms/NAME/sessions and a session's directory (fs/sessions.c). */
static bool readdir_sessions(struct fs *fs, fuse_req_t req, fuse_ino_t ino, struct dir_buf *b)
{
	bool exists = true;
	struct node n;

	if (!fs_sessions_is_dir(fs, ino, &exists) &&
	    !(node_resolve(ino, &n) && n.vm_id && n.kind == VMF_SESSIONS && fs_node_vm(fs, &n)))
		return false;
	if (!exists) {
		fuse_reply_err(req, ENOENT);
		return true;
	}
	if (dir_add(req, b, ".", ino, S_IFDIR) &&
	    dir_add(req, b, "..",
		    fs_sessions_is_dir(fs, ino, &exists) ? fs_sessions_parent(fs, ino) : vm_ino(n.vm_id, VMF_DIR),
		    S_IFDIR))
		fs_sessions_readdir(fs, req, ino, b->cap, b->start, dir_add_any, b);
	fuse_reply_buf(req, b->data, b->len);
	return true;
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	_cleanup_free_ char *data = xcalloc(1, size);
	struct dir_buf b = { .data = data, .cap = size, .start = off };
	struct node n;
	uint64_t parent;
	struct artifact *art = NULL;
	struct art_info ai;
	struct template_info ti;

	(void)fi;
	if (readdir_sessions(fs, req, ino, &b))
		return;
	if (!node_resolve(ino, &n) || (n.vm_id && !fs_node_vm(fs, &n)) || (n.art_id && !(art = fs_node_art(fs, &n))) ||
	    (n.tpl_id && !vmm_template_info(fs->vmm, n.tpl_id, &ti))) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (!(n.def->flags & NODE_DIR)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	parent = n.vm_id ? INO_VMS : n.tpl_id ? INO_TEMPLATES : INO_ROOT;
	if (art) {
		vmm_art_info(art, &ai);
		parent = ai.kind == ART_IMAGE ? INO_IMAGES : INO_KERNELS;
	}
	if (!dir_add(req, &b, ".", ino, S_IFDIR) || !dir_add(req, &b, "..", parent, S_IFDIR))
		goto out;
	if (ino == INO_ROOT) {
		for (uint64_t i = INO_README; i < INO_ROOT_END; i++)
			if (!dir_add(req, &b, top_nodes[i].name, i, top_nodes[i].mode))
				goto out;
		if (!dir_add(req, &b, fs->notrash_name, INO_NOTRASH, top_nodes[INO_NOTRASH].mode))
			goto out;
	} else if (ino == INO_IMAGES || ino == INO_KERNELS) {
		if (off == 0) /* a fresh listing sees what tools/mkimage installed meanwhile */
			vmm_art_rescan(fs->vmm, dir_kind(ino));
		if (ino == INO_IMAGES &&
		    !dir_add(req, &b, top_nodes[INO_IMPORT].name, INO_IMPORT, top_nodes[INO_IMPORT].mode))
			goto out;
		for (size_t i = 0; i < vmm_art_count(fs->vmm, dir_kind(ino)); i++) {
			vmm_art_info(vmm_art_at(fs->vmm, dir_kind(ino), i), &ai);
			if (!dir_add(req, &b, ai.name, art_ino(ai.id, AF_DIR), S_IFDIR))
				goto out;
		}
	} else if (art) {
		for (int k = AF_DIR + 1; k < AF_END; k++)
			if (art_has_file(ai.kind, (enum art_file)k) &&
			    !dir_add(req, &b, art_nodes[k].name, art_ino(ai.id, (enum art_file)k), art_nodes[k].mode))
				goto out;
	} else if (ino == INO_TEMPLATES) {
		for (size_t i = 0; i < vmm_template_count(fs->vmm); i++) {
			int64_t id = vmm_template_id_at(fs->vmm, i);
			if (vmm_template_info(fs->vmm, id, &ti) &&
			    !dir_add(req, &b, ti.key, tpl_ino(id, TF_DIR), S_IFDIR))
				goto out;
		}
	} else if (n.tpl_id) {
		for (int k = TF_DIR + 1; k < TF_END; k++)
			if (!dir_add(req, &b, tpl_nodes[k].name, tpl_ino(n.tpl_id, (enum tpl_file)k),
				     tpl_nodes[k].mode))
				goto out;
	} else if (ino == INO_VMS) {
		for (size_t i = 0; i < vmm_vm_count(fs->vmm); i++) {
			const struct vm_record *r = vm_record(vmm_vm_at(fs->vmm, i));
			if (!dir_add(req, &b, r->name, vm_ino(r->id, VMF_DIR), S_IFDIR))
				goto out;
		}
	} else {
		for (int k = VMF_DIR + 1; k < VMF_END; k++)
			if (!dir_add(req, &b, vm_nodes[k].name, vm_ino(n.vm_id, (enum vm_file)k), vm_nodes[k].mode))
				goto out;
	}
out:
	fuse_reply_buf(req, b.data, b.len);
}

/* With FUSE_CAP_NO_OPENDIR_SUPPORT the kernel stops sending opendir and
 * keeps directory listings cached (keep_cache + cache_readdir); it drops
 * that cache itself after our mkdir/rmdir. Without the capability we ask
 * for the same per open. */
static void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct node n;

	if (fs->no_opendir) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	struct template_info ti;
	bool exists;

	if (fs_sessions_is_dir(fs, ino, &exists)) {
		if (!exists) {
			fuse_reply_err(req, ENOENT);
			return;
		}
	} else if (!node_resolve(ino, &n) || (n.vm_id && !fs_node_vm(fs, &n)) || (n.art_id && !fs_node_art(fs, &n)) ||
		   (n.tpl_id && !vmm_template_info(fs->vmm, n.tpl_id, &ti))) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

/* No VM to hold the reason: it goes to bangerd.log, on one line. */
void fs_log_failure(const char *op, const char *dir, const char *name, const bgr_error *err)
{
	char line[BGR_ERROR_MAX + 96];

	snprintf(line, sizeof(line), "%s %s/%.80s: %s", op, dir, name, err->msg);
	text_one_line(line);
	log_msg("%s", line);
}

/* Parked while an http(s) catalog is fetched for the first time. */
void fs_mkdir_artifact(struct fs *fs, fuse_req_t req, fuse_ino_t parent, const char *name, bool again)
{
	struct pending *p = NULL;
	struct vmm_waiter *w = NULL;
	struct artifact *a;
	bgr_error err;
	int r;

	if (parent == INO_IMAGES && strcmp(name, top_nodes[INO_IMPORT].name) == 0) {
		fs_refuse(fs, req, EEXIST, "mkdir images/import: that is the OCI import file, not an image name");
		return;
	}
	if (!again)
		p = pending_new_mkdir(fs, req, parent, name);
	r = vmm_art_pull(fs->vmm, dir_kind(parent), name, p ? pending_done : NULL, p, &w, &a, &err);
	if (r == 1 && p) {
		pending_settle(fs, p, 1, w);
		return;
	}
	free(p);
	if (r == 1) {
		fs_refuse(fs, req, EAGAIN, "mkdir %s/%.80s: the catalog is still being fetched", top_nodes[parent].name,
			  name);
		return;
	}
	if (r < 0) {
		fs_log_failure("mkdir", top_nodes[parent].name, name, &err);
		fuse_reply_err(req, err.code);
		return;
	}
	reply_art_entry(req, fs, a, AF_DIR);
}

static void rmdir_artifact(fuse_req_t req, struct fs *fs, fuse_ino_t parent, const char *name)
{
	struct artifact *a;
	bgr_error err;

	if (parent == INO_IMAGES && strcmp(name, top_nodes[INO_IMPORT].name) == 0) {
		fs_refuse(fs, req, ENOTDIR, "rmdir images/import: it is a file of the tree");
		return;
	}
	vmm_art_rescan(fs->vmm, dir_kind(parent));
	a = vmm_art_by_name(fs->vmm, dir_kind(parent), name);
	if (!a) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (vmm_art_remove(fs->vmm, a, &err) < 0) {
		fs_log_failure("rmdir", top_nodes[parent].name, name, &err);
		fuse_reply_err(req, err.code);
		return;
	}
	fuse_reply_err(req, 0);
}

static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fs *fs = req_fs(req);
	struct node p;
	struct pending *pend;
	struct vmm_create *c;
	bgr_error err;

	(void)mode;
	if (!node_resolve(parent, &p)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (parent == INO_IMAGES || parent == INO_KERNELS) {
		fs_mkdir_artifact(fs, req, parent, name, false);
		return;
	}
	if (fs_sessions_mkdir(fs, req, parent, name))
		return;
	if (parent == INO_TEMPLATES) {
		fs_refuse(fs, req, EPERM,
			  "mkdir templates/%.80s: a template is made by the first start of a VM of its shape", name);
		return;
	}
	if (parent != INO_VMS) {
		char path[512];
		fs_refuse(fs, req, EPERM, "mkdir %s: only vms/, images/ and kernels/ take new directories",
			  fs_path(fs, parent, name, path, sizeof(path)));
		return;
	}
	/* parked until the VM's disks are made, off the loop (pending_created) */
	pend = pending_new_mkdir(fs, req, INO_VMS, name);
	if (vmm_vm_create(fs->vmm, name, pending_created, pend, &c, &err) < 0) {
		free(pend);
		fs_log_failure("mkdir", "vms", name, &err);
		fuse_reply_err(req, err.code);
		return;
	}
	pending_park_create(fs, pend, c);
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);

static void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = req_fs(req);
	struct node p;
	struct vm *vm;
	struct vmm_waiter *w = NULL;
	struct pending *pend;
	bgr_error err;
	int r;

	if (!node_resolve(parent, &p)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (parent == INO_IMAGES || parent == INO_KERNELS) {
		rmdir_artifact(req, fs, parent, name);
		return;
	}
	if (fs_sessions_rmdir(fs, req, parent, name))
		return;
	if (parent == INO_TEMPLATES) {
		int64_t id = vmm_template_by_key(fs->vmm, name);
		if (!id) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		if (vmm_template_remove(fs->vmm, id, &err) < 0) {
			fs_log_failure("rmdir", "templates", name, &err);
			fuse_reply_err(req, err.code);
			return;
		}
		fuse_reply_err(req, 0);
		return;
	}
	if (p.vm_id && p.kind == VMF_DIR && strcmp(name, vm_nodes[VMF_SESSIONS].name) == 0) {
		fs_unlink(req, parent, name); /* rm -r: like the VM's files */
		return;
	}
	if (parent != INO_VMS) {
		char path[512];
		fs_refuse(fs, req, EPERM, "rmdir %s: the tree is fixed", fs_path(fs, parent, name, path, sizeof(path)));
		return;
	}
	vm = vmm_vm_by_name(fs->vmm, name);
	if (!vm) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	pend = pending_new(fs, req, 0);
	r = vmm_vm_delete(fs->vmm, vm, pending_done, pend, &w, &err);
	pending_settle(fs, pend, r, w);
}

/* rm -r vms/NAME: rm unlinks every file first and asks for the rmdir only
 * if all of them went. The files of a stopped VM are part of it and go with
 * it: unlinking one succeeds and changes nothing (the file is still there,
 * the VM untouched), so the rmdir that deletes the VM follows. While the VM
 * runs (or has a hypervisor) its files are EBUSY: a recursive rm must not
 * take a running VM down; `rmdir` does, on purpose. */
static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = req_fs(req);
	struct node p;
	struct vm *vm;
	char path[512];

	if (fs_sessions_unlink(fs, req, parent, name))
		return;
	fs_path(fs, parent, name, path, sizeof(path));
	if (node_resolve(parent, &p) && p.vm_id && p.kind == VMF_DIR && (vm = fs_node_vm(fs, &p))) {
		const struct vm_record *r = vm_record(vm);
		if (vmm_vm_is_down(vm)) {
			fuse_reply_err(req, 0);
			return;
		}
		fs_refuse(fs, req, EBUSY, "unlink %s: vms/%s is %s; stop it first (rmdir vms/%s deletes it as it is)",
			  path, r->name, vm_state_name(r->state), r->name);
		return;
	}
	fs_refuse(fs, req, EPERM, "unlink %s: the files of the tree are fixed", path);
}

static void refuse_new_name(fuse_req_t req, fuse_ino_t parent, const char *name, const char *op)
{
	struct fs *fs = req_fs(req);
	char path[512];

	fs_refuse(fs, req, EPERM, "%s %s: the files of the tree are fixed", op,
		  fs_path(fs, parent, name, path, sizeof(path)));
}

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi)
{
	(void)mode;
	(void)fi;
	refuse_new_name(req, parent, name, "create");
}

static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)mode;
	(void)rdev;
	refuse_new_name(req, parent, name, "mknod");
}

static void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link;
	refuse_new_name(req, parent, name, "symlink");
}

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char *name)
{
	(void)ino;
	refuse_new_name(req, parent, name, "link");
}

/* mv vms/OLD vms/NEW renames a stopped VM (vmm_vm_rename); every other
 * rename is refused. Parked while the pins of the names are dropped, and
 * not interruptible: the kernel must learn whether the name moved. */
static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct fs *fs = req_fs(req);
	char from[512], to[512];
	struct vm *vm;
	struct vmm_waiter *w = NULL;
	struct pending *pend;
	bgr_error err;
	int r;

	fs_path(fs, parent, name, from, sizeof(from));
	fs_path(fs, newparent, newname, to, sizeof(to));
	if (parent != INO_VMS || newparent != INO_VMS) {
		fs_refuse(fs, req, EPERM, "rename %s to %s: names are fixed (only a VM takes a new name in vms/)", from,
			  to);
		return;
	}
	if (flags & ~(unsigned)RENAME_NOREPLACE) /* exchange, whiteout */
	{
		fs_refuse(fs, req, EINVAL, "rename %s to %s: only a plain rename of a VM is possible", from, to);
		return;
	}
	vm = vmm_vm_by_name(fs->vmm, name);
	if (!vm) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	pend = pending_new(fs, req, 0);
	r = vmm_vm_rename(fs->vmm, vm, newname, pending_done, pend, &w, &err);
	if (r < 0)
		log_msg("refused: rename %s to %s: %s", from, to, err.msg);
	pending_settle_uninterruptible(fs, pend, r, w);
}

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *fs = userdata;

	if (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) {
		conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
		fs->no_opendir = true;
	}
	/* No atomic O_TRUNC: with it the kernel sets a file's cached size to 0
	 * at open, and a concurrent reader sees it empty. Without it, O_TRUNC
	 * is a setattr we answer with the published size. */
	conn->want &= ~(unsigned)FUSE_CAP_ATOMIC_O_TRUNC;
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS;
	conn->want &= ~(unsigned)FUSE_CAP_AUTO_INVAL_DATA;
	if (conn->capable & FUSE_CAP_EXPLICIT_INVAL_DATA)
		conn->want |= FUSE_CAP_EXPLICIT_INVAL_DATA;
}

const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.lookup = fs_lookup,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.mkdir = fs_mkdir,
	.rmdir = fs_rmdir,
	.unlink = fs_unlink,
	.create = fs_create,
	.mknod = fs_mknod,
	.symlink = fs_symlink,
	.link = fs_link,
	.rename = fs_rename,
	.open = fs_open,
	.read = fs_read,
	.write = fs_write,
	.release = fs_release,
	.poll = fs_poll,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
};
