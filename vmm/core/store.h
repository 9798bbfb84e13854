/* The SQLite store (WAL). Each change of a VM is one transaction. */
#ifndef BANGER_STORE_H
#define BANGER_STORE_H

#include "error.h"
#include "vm_record.h"

struct store;

int store_open(const char *path, struct store **ret, bgr_error *err);
void store_close(struct store *s);
int store_schema_version(struct store *s);

int store_begin(struct store *s, bgr_error *err);
int store_commit(struct store *s, bgr_error *err);
void store_rollback(struct store *s);

/* Inserts rec (id ignored) and sets rec->id. EEXIST when the name is taken. */
int store_vm_insert(struct store *s, struct vm_record *rec, bgr_error *err);
/* Writes every column of rec (matched by id) in its own transaction unless
 * one is open. */
int store_vm_update(struct store *s, const struct vm_record *rec, bgr_error *err);
int store_vm_delete(struct store *s, int64_t id, bgr_error *err);

typedef int (*store_vm_fn)(void *ctx, const struct vm_record *rec);
/* Calls fn for every VM in id order; stops at the first negative return. */
int store_vm_each(struct store *s, store_vm_fn fn, void *ctx, bgr_error *err);

/* vms/NAME/ports rules (vmm/net/ports.c); a VM's go with its row. */
struct store_port {
	int64_t vm_id;
	char proto[4]; /* tcp | udp */
	char bind[16];
	int host_port, guest_port;
};
/* EEXIST when another rule holds proto, bind and host_port. */
int store_port_insert(struct store *s, const struct store_port *p, bgr_error *err);
/* Matches vm_id, proto, bind and host_port. */
int store_port_delete(struct store *s, const struct store_port *p, bgr_error *err);
typedef void (*store_port_fn)(void *ctx, const struct store_port *p);
int store_ports_each(struct store *s, store_port_fn fn, void *ctx, bgr_error *err);

#endif
