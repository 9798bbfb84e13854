/* Unit tests of vmm/core/store.c: the SQLite store of VM records, in a temp dir. */
#include "store.h"
#include "util.h"

#include "tap.h"

#include <errno.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>

static char dir[] = "/tmp/banger-test-store.XXXXXX";
static char db_path[128];

/* ---- helpers ---------------------------------------------------------- */

#define MAX_SEEN 16

struct seen {
	int n;
	struct vm_record recs[MAX_SEEN];
};

static int collect(void *ctx, const struct vm_record *rec)
{
	struct seen *s = ctx;

	if (s->n < MAX_SEEN)
		s->recs[s->n] = *rec;
	s->n++;
	return 0;
}

/* Loads every record; returns how many (or -1 when store_vm_each failed). */
static int load(struct store *st, struct seen *out)
{
	bgr_error err = { 0 };

	memset(out, 0, sizeof(*out));
	return store_vm_each(st, collect, out, &err) < 0 ? -1 : out->n;
}

static struct vm_record record(const char *name)
{
	struct vm_record r = { .state = VM_STOPPED, .vcpu = 1, .memory_mib = 256, .disk_size = 8ULL << 30 };

	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.image, sizeof(r.image), "tiny");
	snprintf(r.kernel, sizeof(r.kernel), "default");
	r.created = 1700000000;
	return r;
}

static bool records_equal(const struct vm_record *a, const struct vm_record *b)
{
	return a->id == b->id && strcmp(a->name, b->name) == 0 && a->state == b->state && a->vcpu == b->vcpu &&
	       a->memory_mib == b->memory_mib && a->disk_size == b->disk_size && strcmp(a->image, b->image) == 0 &&
	       strcmp(a->kernel, b->kernel) == 0 && a->user_set == b->user_set && a->created == b->created &&
	       a->pid == b->pid && a->pid_start == b->pid_start && a->started_at == b->started_at &&
	       strcmp(a->error, b->error) == 0 && a->error_of == b->error_of &&
	       strcmp(a->template_key, b->template_key) == 0 && strcmp(a->clone_state, b->clone_state) == 0 &&
	       a->booted == b->booted;
}

static struct store *open_store(const char *what)
{
	struct store *st = NULL;
	bgr_error err = { 0 };
	int r = store_open(db_path, &st, &err);

	tap_ok(r == 0 && st, "%s: store_open (%d %s)", what, r, err.msg);
	return st;
}

/* Runs one SQL statement on a second, plain sqlite3 connection. */
static bool raw_exec(const char *sql)
{
	sqlite3 *db = NULL;
	bool ok = sqlite3_open(db_path, &db) == SQLITE_OK && sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;

	sqlite3_close(db);
	return ok;
}

static void raw_text(const char *sql, char *out, size_t size)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;

	out[0] = '\0';
	if (sqlite3_open(db_path, &db) == SQLITE_OK && sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK &&
	    sqlite3_step(stmt) == SQLITE_ROW)
		snprintf(out, size, "%s", (const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	sqlite3_close(db);
}

/* ---- tests ------------------------------------------------------------ */

static void test_open_and_schema(void)
{
	struct store *st = open_store("fresh db");
	char mode[32], path[160];
	struct vm_record a = record("a");
	bgr_error err = { 0 };
	struct stat sb;

	if (!st)
		return;
	is_int(store_schema_version(st), 5, "schema version of a new store");
	is_int(store_vm_insert(st, &a, &err), 0, "insert while the store is open");
	snprintf(path, sizeof(path), "%s-wal", db_path);
	tap_ok(stat(path, &sb) == 0, "the -wal file exists after a write");
	raw_text("PRAGMA journal_mode", mode, sizeof(mode));
	is_str(mode, "wal", "a second connection sees journal_mode wal");
	is_int(store_vm_delete(st, a.id, &err), 0, "clean up");
	store_close(st);
}

static void test_insert(struct store *st)
{
	struct vm_record a = record("alpha"), b = record("beta"), dup = record("alpha");
	bgr_error err = { 0 };
	struct seen seen;

	a.id = b.id = 12345;
	/* snapshots' columns (schema 4) */
	snprintf(b.template_key, sizeof(b.template_key), "0123456789abcdef");
	snprintf(b.clone_state, sizeof(b.clone_state), "identifying");
	b.booted = 1;
	is_int(store_vm_insert(st, &a, &err), 0, "insert alpha");
	tap_ok(a.id > 0 && a.id != 12345, "alpha got an id (%lld)", (long long)a.id);
	is_int(store_vm_insert(st, &b, &err), 0, "insert beta");
	tap_ok(b.id > a.id, "beta's id (%lld) follows alpha's", (long long)b.id);

	dup.vcpu = 9;
	is_int(store_vm_insert(st, &dup, &err), -EEXIST, "a second 'alpha' is -EEXIST");
	is_int(err.code, EEXIST, "err.code is EEXIST");
	tap_ok(strstr(err.msg, "'alpha'") && !strchr(err.msg, '\n'), "one-line reason names it: %s", err.msg);

	is_int(load(st, &seen), 2, "two VMs stored");
	tap_ok(records_equal(&seen.recs[0], &a), "alpha reads back equal, first (id order)");
	tap_ok(records_equal(&seen.recs[1], &b), "beta reads back equal, second");
	is_int(seen.recs[0].vcpu, 1, "the failed duplicate changed nothing");

	is_int(store_vm_delete(st, a.id, &err), 0, "delete alpha");
	is_int(store_vm_delete(st, b.id, &err), 0, "delete beta");
	is_int(load(st, &seen), 0, "nothing left");
}

static void test_update_round_trip(struct store *st)
{
	struct vm_record r = record("orig"), other = record("other");
	bgr_error err = { 0 };
	struct seen seen;

	is_int(store_vm_insert(st, &r, &err), 0, "insert orig");
	is_int(store_vm_insert(st, &other, &err), 0, "insert other");

	/* every column gets a value different from the default, some at their limits */
	memset(r.name, 'n', VM_NAME_MAX);
	r.name[VM_NAME_MAX] = '\0';
	r.state = VM_ERROR;
	r.vcpu = 64;
	r.memory_mib = UINT32_MAX;
	r.disk_size = DISK_SIZE_MAX;
	snprintf(r.image, sizeof(r.image), "debian-12");
	snprintf(r.kernel, sizeof(r.kernel), "linux-6-1");
	r.user_set = VM_SET_VCPU | VM_SET_MEMORY | VM_SET_DISK | VM_SET_IMAGE | VM_SET_KERNEL;
	r.created = -5;
	r.pid = 2147483647;
	r.pid_start = UINT64_MAX;
	r.started_at = 1700000000123LL;
	memset(r.error, 'e', sizeof(r.error) - 1);
	r.error[sizeof(r.error) - 1] = '\0';
	static const char head[] = "it's \"quoted\"; DROP TABLE vms; -- caf\xc3\xa9 ";
	memcpy(r.error, head, sizeof(head) - 1);
	r.error_of = VM_ERR_MEMORY;

	is_int(store_vm_update(st, &r, &err), 0, "update every field");
	is_int(load(st, &seen), 2, "still two VMs");
	tap_ok(records_equal(&seen.recs[0], &r), "every field reads back equal");
	is_int(seen.recs[0].pid_start == UINT64_MAX, 1, "pid_start UINT64_MAX survives");
	is_int(strlen(seen.recs[0].error), sizeof(r.error) - 1, "a 511-byte error survives");
	tap_ok(records_equal(&seen.recs[1], &other), "the other VM is untouched");

	for (enum vm_state s = VM_STOPPED; s <= VM_ERROR; s++) {
		r.state = s;
		store_vm_update(st, &r, &err);
		load(st, &seen);
		is_str(vm_state_name(seen.recs[0].state), vm_state_name(s), "state round trip");
	}

	/* renaming onto a taken name is EEXIST and changes nothing */
	struct vm_record clash = r;
	snprintf(clash.name, sizeof(clash.name), "other");
	is_int(store_vm_update(st, &clash, &err), -EEXIST, "rename onto 'other' is -EEXIST");
	load(st, &seen);
	is_str(seen.recs[0].name, r.name, "the name is unchanged");

	struct vm_record ghost = r;
	ghost.id = 999999;
	is_int(store_vm_update(st, &ghost, &err), -ENOENT, "update of an unknown id is -ENOENT");
	is_int(err.code, ENOENT, "err.code is ENOENT");

	is_int(store_vm_delete(st, r.id, &err), 0, "delete orig");
	is_int(load(st, &seen), 1, "one VM left");
	is_str(seen.recs[0].name, "other", "the one left is 'other'");
	is_int(store_vm_delete(st, other.id, &err), 0, "delete other");
}

static void test_ids_not_reused(struct store *st, int64_t *last_id)
{
	struct vm_record a = record("x1"), b = record("x2"), c = record("x3");
	bgr_error err = { 0 };

	store_vm_insert(st, &a, &err);
	store_vm_insert(st, &b, &err);
	/* deleting the highest id is the case plain rowids would reuse */
	is_int(store_vm_delete(st, b.id, &err), 0, "delete the newest VM");
	is_int(store_vm_insert(st, &c, &err), 0, "insert another");
	tap_ok(c.id > b.id, "its id %lld is above the deleted %lld", (long long)c.id, (long long)b.id);

	/* the name of a deleted VM is free again, with a fresh id */
	struct vm_record b2 = record("x2");
	is_int(store_vm_insert(st, &b2, &err), 0, "the deleted name can be used again");
	tap_ok(b2.id > c.id, "with a fresh id %lld", (long long)b2.id);
	*last_id = b2.id;
}

static int stop_at_first(void *ctx, const struct vm_record *rec)
{
	(void)rec;
	++*(int *)ctx;
	return -ENOMEM;
}

static void test_each_stops(struct store *st)
{
	bgr_error err = { 0 };
	int calls = 0;

	is_int(store_vm_each(st, stop_at_first, &calls, &err), -ENOMEM, "a negative return stops store_vm_each");
	is_int(calls, 1, "after the first VM");
	is_int(err.code, ENOMEM, "err.code carries the callback's errno");
	tap_ok(strstr(err.msg, "'x1'") != NULL, "the reason names the VM: %s", err.msg);
}

static void test_transactions(struct store *st)
{
	struct vm_record t = record("txn"), u = record("txn2");
	bgr_error err = { 0 };
	struct seen before, after;

	load(st, &before);
	is_int(store_begin(st, &err), 0, "store_begin");
	is_int(store_vm_insert(st, &t, &err), 0, "insert inside the transaction");
	t.vcpu = 3;
	is_int(store_vm_update(st, &t, &err), 0, "update inside the transaction");
	is_int(store_vm_delete(st, before.recs[0].id, &err), 0, "delete inside the transaction");
	store_rollback(st);
	is_int(load(st, &after), before.n, "after rollback the count is unchanged");
	bool same = after.n == before.n;
	for (int i = 0; same && i < after.n; i++)
		same = records_equal(&after.recs[i], &before.recs[i]);
	tap_ok(same, "after rollback every record is as before");

	is_int(store_begin(st, &err), 0, "store_begin again");
	is_int(store_vm_insert(st, &u, &err), 0, "insert");
	is_int(store_commit(st, &err), 0, "store_commit");
	is_int(load(st, &after), before.n + 1, "the committed VM is there");
	is_int(store_vm_delete(st, u.id, &err), 0, "delete it");
}

static void test_reopen(int64_t last_id)
{
	struct store *st = open_store("reopen");
	struct vm_record n = record("after-reopen");
	bgr_error err = { 0 };
	struct seen seen;

	if (!st)
		return;
	is_int(store_schema_version(st), 5, "schema version still 5");
	is_int(load(st, &seen), 3, "the three VMs survived close + open");
	is_str(seen.recs[0].name, "x1", "x1 first");
	is_str(seen.recs[2].name, "x2", "x2 last");
	is_int(store_vm_insert(st, &n, &err), 0, "insert after reopen");
	tap_ok(n.id > last_id, "ids keep growing across a reopen (%lld > %lld)", (long long)n.id, (long long)last_id);
	store_close(st);
}

static void test_newer_schema(void)
{
	static char dummy;
	struct store *sentinel = (struct store *)&dummy, *st = sentinel;
	bgr_error err = { 0 };

	tap_ok(raw_exec("PRAGMA user_version = 99"), "set user_version 99 with plain sqlite3");
	is_int(store_open(db_path, &st, &err), -EPROTO, "store_open of a newer schema is -EPROTO");
	is_int(err.code, EPROTO, "err.code is EPROTO");
	tap_ok(strstr(err.msg, "99") && !strchr(err.msg, '\n'), "one-line reason gives the version: %s", err.msg);
	tap_ok(st == sentinel, "*ret untouched");

	char v[16];
	raw_text("PRAGMA user_version", v, sizeof(v));
	is_str(v, "99", "the newer store is left alone");
}

/* A store of schema 2 (before error_of): its errors count as state's. */
static void test_migrate_error_of(void)
{
	char saved[sizeof(db_path)];
	struct store *st;
	struct seen seen;

	memcpy(saved, db_path, sizeof(saved));
	snprintf(db_path, sizeof(db_path), "%s/v2.db", dir);
	tap_ok(raw_exec(
		       "CREATE TABLE vms (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,"
		       " state TEXT NOT NULL, vcpu INTEGER NOT NULL, memory_mib INTEGER NOT NULL,"
		       " disk_size INTEGER NOT NULL, image TEXT NOT NULL, kernel TEXT NOT NULL,"
		       " user_set INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL, pid INTEGER NOT NULL DEFAULT 0,"
		       " pid_start INTEGER NOT NULL DEFAULT 0, started_at INTEGER NOT NULL DEFAULT 0,"
		       " error TEXT NOT NULL DEFAULT '', ip TEXT NOT NULL DEFAULT '', mac TEXT NOT NULL DEFAULT '',"
		       " net_mode TEXT NOT NULL DEFAULT '', ssh_port INTEGER NOT NULL DEFAULT 0,"
		       " pin_mode TEXT NOT NULL DEFAULT '');"
		       "INSERT INTO vms (name, state, vcpu, memory_mib, disk_size, image, kernel, created, error)"
		       " VALUES ('old', 'stopped', 1, 256, 1073741824, 'tiny', 'tiny', 1, 'boot timed out'),"
		       " ('fine', 'stopped', 1, 256, 1073741824, 'tiny', 'tiny', 1, '');"
		       "PRAGMA user_version = 2"),
	       "a schema-2 store with an error");
	st = open_store("schema 2");
	if (st) {
		is_int(store_schema_version(st), 5, "migrated to 5");
		is_int(load(st, &seen), 2, "both VMs load");
		is_str(seen.recs[0].error, "boot timed out", "the error is kept");
		is_int(seen.recs[0].error_of, VM_ERR_STATE, "and counts as state's");
		is_int(seen.recs[1].error_of, VM_ERR_NONE, "no error: of nothing");
		is_int(seen.recs[0].booted, 1, "an older VM's disk counts as booted (it restores no template)");
		is_str(seen.recs[0].template_key, "", "and uses none");
		store_close(st);
	}
	memcpy(db_path, saved, sizeof(saved));
}

/* vms/NAME/ports rules (schema 5): one listener per host, gone with their VM. */
static void count_port(void *ctx, const struct store_port *p)
{
	int *n = ctx;

	(void)p;
	(*n)++;
}

static void test_ports(struct store *st)
{
	struct vm_record a = record("ports-a"), b = record("ports-b");
	struct store_port p = { .proto = "tcp", .bind = "127.0.0.1", .host_port = 8080, .guest_port = 80 };
	bgr_error err = { 0 };
	int n = 0;

	is_int(store_vm_insert(st, &a, &err), 0, "insert ports-a");
	is_int(store_vm_insert(st, &b, &err), 0, "insert ports-b");
	p.vm_id = a.id;
	is_int(store_port_insert(st, &p, &err), 0, "a rule of ports-a");
	p.vm_id = b.id;
	is_int(store_port_insert(st, &p, &err), -EEXIST, "the same listener for ports-b: EEXIST");
	p.proto[0] = 'u'; /* udp */
	is_int(store_port_insert(st, &p, &err), 0, "udp on that port is another listener");
	is_int(store_ports_each(st, count_port, &n, &err), 0, "read the rules");
	is_int(n, 2, "two rules");
	is_int(store_port_delete(st, &p, &err), 0, "remove ports-b's");
	is_int(store_vm_delete(st, a.id, &err), 0, "delete ports-a");
	n = 0;
	store_ports_each(st, count_port, &n, &err);
	is_int(n, 0, "its rule went with it");
	store_vm_delete(st, b.id, &err);
}

static void test_unopenable(void)
{
	struct store *st = NULL;
	bgr_error err = { 0 };
	char path[200];

	snprintf(path, sizeof(path), "%s/no/such/dir/banger.db", dir);
	is_int(store_open(path, &st, &err), -EIO, "a path in a missing dir is -EIO");
	tap_ok(strstr(err.msg, path) != NULL, "the reason names the path: %s", err.msg);
	tap_ok(st == NULL, "no store returned");
}

int main(void)
{
	int64_t last_id = 0;
	struct store *st;

	if (!mkdtemp(dir)) {
		tap_ok(false, "mkdtemp: %m");
		return tap_done();
	}
	snprintf(db_path, sizeof(db_path), "%s/banger.db", dir);

	test_open_and_schema();
	st = open_store("second open");
	if (st) {
		test_insert(st);
		test_update_round_trip(st);
		test_ids_not_reused(st, &last_id);
		test_each_stops(st);
		test_transactions(st);
		test_ports(st);
		store_close(st);
	}
	test_reopen(last_id);
	test_migrate_error_of();
	test_newer_schema();
	test_unopenable();

	rm_rf(dir);
	return tap_done();
}
