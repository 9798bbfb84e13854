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

#endif
