#include "store.h"
#include "util.h"

#include <errno.h>
#include <sqlite3.h>
#include <string.h>

struct store {
	sqlite3 *db;
	int in_txn;
};

static void stmt_finalizep(sqlite3_stmt **st)
{
	sqlite3_finalize(*st);
}
#define _cleanup_stmt_ __attribute__((cleanup(stmt_finalizep)))

/* Schema migrations: entry i takes user_version i to i + 1. Append only. */
static const char *const migrations[] = {
	"CREATE TABLE vms ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" name TEXT NOT NULL UNIQUE,"
	" state TEXT NOT NULL,"
	" vcpu INTEGER NOT NULL,"
	" memory_mib INTEGER NOT NULL,"
	" disk_size INTEGER NOT NULL,"
	" image TEXT NOT NULL,"
	" kernel TEXT NOT NULL,"
	" user_set INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL,"
	" pid INTEGER NOT NULL DEFAULT 0,"
	" pid_start INTEGER NOT NULL DEFAULT 0,"
	" started_at INTEGER NOT NULL DEFAULT 0,"
	" error TEXT NOT NULL DEFAULT '');",
	"ALTER TABLE vms ADD COLUMN ip TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE vms ADD COLUMN mac TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE vms ADD COLUMN net_mode TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE vms ADD COLUMN ssh_port INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE vms ADD COLUMN pin_mode TEXT NOT NULL DEFAULT '';"
	"CREATE UNIQUE INDEX vms_ip ON vms(ip) WHERE ip != '';",
	/* which control file the error came from; older errors count as state's */
	"ALTER TABLE vms ADD COLUMN error_of TEXT NOT NULL DEFAULT '';"
	"UPDATE vms SET error_of = 'state' WHERE error != '';",
	/* snapshots: the template a clone's root disk is backed by, how far its
	 * restore got ("" once it has its own identity), whether its root disk
	 * was ever booted */
	"ALTER TABLE vms ADD COLUMN template TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE vms ADD COLUMN clone_state TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE vms ADD COLUMN booted INTEGER NOT NULL DEFAULT 1;",
	/* vms/NAME/ports: one row per forwarding rule; a listener is one per
	 * host, so the key is global; a VM's rules go with it */
	"CREATE TABLE ports ("
	" vm_id INTEGER NOT NULL,"
	" proto TEXT NOT NULL,"
	" bind TEXT NOT NULL,"
	" host_port INTEGER NOT NULL,"
	" guest_port INTEGER NOT NULL,"
	" PRIMARY KEY (proto, bind, host_port));"
	"CREATE TRIGGER vms_delete_ports AFTER DELETE ON vms BEGIN DELETE FROM ports WHERE vm_id = OLD.id; END;",
};

static int db_fail(struct store *s, bgr_error *err, const char *what)
{
	int code = sqlite3_errcode(s->db);
	int e = (code & 0xff) == SQLITE_CONSTRAINT ? EEXIST : (code & 0xff) == SQLITE_FULL ? ENOSPC : EIO;
	return bgr_fail(err, e, "store: %s: %s", what, sqlite3_errmsg(s->db));
}

static int exec(struct store *s, const char *sql, bgr_error *err)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(s, err, sql);
	return 0;
}

int store_schema_version(struct store *s)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		return -1;
	return sqlite3_column_int(st, 0);
}

static int migrate(struct store *s, bgr_error *err)
{
	int v = store_schema_version(s), n = (int)ARRAY_SIZE(migrations);

	if (v < 0)
		return db_fail(s, err, "read schema version");
	if (v > n)
		return bgr_fail(err, EPROTO, "store schema version %d is newer than this bangerd (%d)", v, n);
	for (; v < n; v++) {
		_cleanup_free_ char *bump = xasprintf("PRAGMA user_version = %d", v + 1);
		int r = store_begin(s, err);
		if (r < 0)
			return r;
		if ((r = exec(s, migrations[v], err)) < 0 || (r = exec(s, bump, err)) < 0) {
			store_rollback(s);
			return r;
		}
		if ((r = store_commit(s, err)) < 0)
			return r;
	}
	return 0;
}

int store_open(const char *path, struct store **ret, bgr_error *err)
{
	struct store *s = xcalloc(1, sizeof(*s));

	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
	    SQLITE_OK) {
		bgr_fail(err, EIO, "cannot open store %s: %s", path, sqlite3_errmsg(s->db));
		store_close(s);
		return -EIO;
	}
	sqlite3_busy_timeout(s->db, 2000);
	int r = migrate(s, err);
	if (r == 0)
		r = exec(s, "PRAGMA journal_mode=WAL", err);
	if (r == 0)
		r = exec(s, "PRAGMA synchronous=NORMAL", err);
	if (r < 0) {
		store_close(s);
		return r;
	}
	*ret = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	sqlite3_close(s->db);
	free(s);
}

int store_begin(struct store *s, bgr_error *err)
{
	int r = exec(s, "BEGIN IMMEDIATE", err);
	if (r == 0)
		s->in_txn = 1;
	return r;
}

int store_commit(struct store *s, bgr_error *err)
{
	int r = exec(s, "COMMIT", err);
	if (r < 0)
		store_rollback(s);
	s->in_txn = 0;
	return r;
}

void store_rollback(struct store *s)
{
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->in_txn = 0;
}

static void bind_record(sqlite3_stmt *st, const struct vm_record *r)
{
	sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, vm_state_name(r->state), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, (int)r->vcpu);
	sqlite3_bind_int(st, 4, (int)r->memory_mib);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)r->disk_size);
	sqlite3_bind_text(st, 6, r->image, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, r->kernel, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 8, (int)r->user_set);
	sqlite3_bind_int64(st, 9, r->created);
	sqlite3_bind_int(st, 10, r->pid);
	sqlite3_bind_int64(st, 11, (sqlite3_int64)r->pid_start);
	sqlite3_bind_int64(st, 12, r->started_at);
	sqlite3_bind_text(st, 13, r->error, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 14, r->ip, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 15, r->mac, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 16, r->net_mode, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 17, r->ssh_port);
	sqlite3_bind_text(st, 18, r->pin_mode, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 19, r->error[0] ? vm_error_of_name(r->error_of) : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 20, r->template_key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 21, r->clone_state, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 22, r->booted);
}

int store_vm_insert(struct store *s, struct vm_record *rec, bgr_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	static const char sql[] =
		"INSERT INTO vms (name, state, vcpu, memory_mib, disk_size, image, kernel, user_set,"
		" created, pid, pid_start, started_at, error, ip, mac, net_mode, ssh_port, pin_mode, error_of,"
		" template, clone_state, booted) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, err, "prepare insert");
	bind_record(st, rec);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if ((sqlite3_errcode(s->db) & 0xff) == SQLITE_CONSTRAINT && strstr(sqlite3_errmsg(s->db), "vms.ip"))
			return bgr_fail(err, EEXIST, "address %s is already taken", rec->ip);
		if ((sqlite3_errcode(s->db) & 0xff) == SQLITE_CONSTRAINT)
			return bgr_fail(err, EEXIST, "a VM named '%s' already exists", rec->name);
		return db_fail(s, err, "insert vm");
	}
	rec->id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int store_vm_update(struct store *s, const struct vm_record *rec, bgr_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	static const char sql[] =
		"UPDATE vms SET name=?, state=?, vcpu=?, memory_mib=?, disk_size=?, image=?, kernel=?,"
		" user_set=?, created=?, pid=?, pid_start=?, started_at=?, error=?, ip=?, mac=?, net_mode=?,"
		" ssh_port=?, pin_mode=?, error_of=?, template=?, clone_state=?, booted=? WHERE id=?";

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, err, "prepare update");
	bind_record(st, rec);
	sqlite3_bind_int64(st, 23, rec->id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return db_fail(s, err, "update vm");
	if (sqlite3_changes(s->db) != 1)
		return bgr_fail(err, ENOENT, "store: no VM with id %lld", (long long)rec->id);
	return 0;
}

int store_vm_delete(struct store *s, int64_t id, bgr_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, "DELETE FROM vms WHERE id=?", -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, err, "prepare delete");
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return db_fail(s, err, "delete vm");
	return 0;
}

static void copy_text(char *dst, size_t size, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static void read_record(sqlite3_stmt *st, struct vm_record *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	copy_text(r->name, sizeof(r->name), st, 1);
	if (vm_state_parse((const char *)sqlite3_column_text(st, 2), &r->state) < 0)
		r->state = VM_STOPPED;
	r->vcpu = (unsigned)sqlite3_column_int(st, 3);
	r->memory_mib = (unsigned)sqlite3_column_int(st, 4);
	r->disk_size = (uint64_t)sqlite3_column_int64(st, 5);
	copy_text(r->image, sizeof(r->image), st, 6);
	copy_text(r->kernel, sizeof(r->kernel), st, 7);
	r->user_set = (unsigned)sqlite3_column_int(st, 8);
	r->created = sqlite3_column_int64(st, 9);
	r->pid = sqlite3_column_int(st, 10);
	r->pid_start = (uint64_t)sqlite3_column_int64(st, 11);
	r->started_at = sqlite3_column_int64(st, 12);
	copy_text(r->error, sizeof(r->error), st, 13);
	copy_text(r->ip, sizeof(r->ip), st, 14);
	copy_text(r->mac, sizeof(r->mac), st, 15);
	copy_text(r->net_mode, sizeof(r->net_mode), st, 16);
	r->ssh_port = sqlite3_column_int(st, 17);
	copy_text(r->pin_mode, sizeof(r->pin_mode), st, 18);
	r->error_of = r->error[0] ? vm_error_of_parse((const char *)sqlite3_column_text(st, 19)) : VM_ERR_NONE;
	if (r->error[0] && r->error_of == VM_ERR_NONE)
		r->error_of = VM_ERR_STATE;
	copy_text(r->template_key, sizeof(r->template_key), st, 20);
	copy_text(r->clone_state, sizeof(r->clone_state), st, 21);
	r->booted = sqlite3_column_int(st, 22);
}

int store_vm_each(struct store *s, store_vm_fn fn, void *ctx, bgr_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	struct vm_record rec;
	int rc;

	if (sqlite3_prepare_v2(s->db,
			       "SELECT id, name, state, vcpu, memory_mib, disk_size, image, kernel, user_set,"
			       " created, pid, pid_start, started_at, error, ip, mac, net_mode, ssh_port, pin_mode,"
			       " error_of, template, clone_state, booted FROM vms ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, err, "prepare select");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_record(st, &rec);
		int r = fn(ctx, &rec);
		if (r < 0)
			return bgr_fail(err, -r, "store: loading VM '%s' failed", rec.name);
	}
	if (rc != SQLITE_DONE)
		return db_fail(s, err, "select vms");
	return 0;
}

int store_port_insert(struct store *s, const struct store_port *p, bgr_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO ports (vm_id, proto, bind, host_port, guest_port) VALUES (?,?,?,?,?)", -1,
			       &st, NULL) != SQLITE_OK)
		return db_fail(s, err, "prepare port insert");
	sqlite3_bind_int64(st, 1, p->vm_id);
	sqlite3_bind_text(st, 2, p->proto, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, p->bind, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, p->host_port);
	sqlite3_bind_int(st, 5, p->guest_port);
	if (sqlite3_step(st) != SQLITE_DONE)
		return db_fail(s, err, "insert port");
	return 0;
}

int store_port_delete(struct store *s, const struct store_port *p, bgr_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, "DELETE FROM ports WHERE vm_id=? AND proto=? AND bind=? AND host_port=?", -1, &st,
			       NULL) != SQLITE_OK)
		return db_fail(s, err, "prepare port delete");
	sqlite3_bind_int64(st, 1, p->vm_id);
	sqlite3_bind_text(st, 2, p->proto, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, p->bind, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, p->host_port);
	if (sqlite3_step(st) != SQLITE_DONE)
		return db_fail(s, err, "delete port");
	return 0;
}

int store_ports_each(struct store *s, store_port_fn fn, void *ctx, bgr_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	struct store_port p;
	int rc;

	if (sqlite3_prepare_v2(s->db,
			       "SELECT vm_id, proto, bind, host_port, guest_port FROM ports ORDER BY vm_id, rowid", -1,
			       &st, NULL) != SQLITE_OK)
		return db_fail(s, err, "prepare port select");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&p, 0, sizeof(p));
		p.vm_id = sqlite3_column_int64(st, 0);
		copy_text(p.proto, sizeof(p.proto), st, 1);
		copy_text(p.bind, sizeof(p.bind), st, 2);
		p.host_port = sqlite3_column_int(st, 3);
		p.guest_port = sqlite3_column_int(st, 4);
		fn(ctx, &p);
	}
	if (rc != SQLITE_DONE)
		return db_fail(s, err, "select ports");
	return 0;
}
