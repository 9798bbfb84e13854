/* vmm/snapshots: templates, booted snapshots that starts restore from
 * instead of booting (docs/snapshots.md, QEMU only). This room owns the
 * template store under state/templates/ (template.c: keys, the list,
 * crash leftovers, removal), the save of a template during a cold boot at
 * the agent's first hello (snap_save.c, on a worker), the restore of a
 * clone (snap_restore.c: QMP incoming migration and the work disk's
 * hot-plug, on a worker) and the identify line that gives a clone its own
 * identity (identify.c). It reports upward only through struct vm_hooks
 * (template_saved, restore_done); nothing here runs a child process or
 * waits on the loop thread. */
#ifndef BANGER_SNAPSHOTS_H
#define BANGER_SNAPSHOTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "validate.h"

struct vmm;
struct vm;

enum tpl_status { TPL_SAVING, TPL_READY, TPL_BROKEN };

/* What a template's key is made of besides the files' identities and the
 * versions: the VM's shape. */
struct tpl_inputs {
	char image[VM_NAME_MAX + 1];
	char kernel[VM_NAME_MAX + 1];
	unsigned vcpu, memory_mib;
	uint64_t disk_size;
	char net_mode[8];
};

struct template
{
	int64_t id; /* for the tree's inodes; never reused in a process */
	char key[24];
	enum tpl_status status;
	char *dir;    /* state/templates/KEY */
	char *source; /* the inputs, as text (the tree's source file) */
	struct tpl_inputs in;
	long long created; /* unix seconds */
	uint64_t size;     /* bytes on disk */
	char made_from[VM_NAME_MAX + 1];
	char why_broken[160];
};

#define TPL_MEMORY "memory"
#define TPL_STATE "state"
#define TPL_DISK "disk.qcow2"
#define TPL_DISK_RAW "disk.raw" /* Firecracker's (driver.h tpl_disk_name) */
#define TPL_META "meta.json"
#define TPL_KERNEL_STUB "kernel.stub" /* a clone's -kernel (kernel_stub.h) */

/* How a start goes (lifecycle.c, vm_artifacts.c). */
enum vm_snap {
	SNAP_NONE,  /* a plain cold boot */
	SNAP_MAKE,  /* a cold boot that saves a template at the first hello */
	SNAP_CLONE, /* a restore of a template */
};

/* template.c */
/* Reads state/templates at start-up: leftovers of interrupted saves and
 * removals go, so do templates whose inputs changed and nothing uses. */
int templates_load(struct vmm *m, bgr_error *err);
void templates_free(struct vmm *m);
/* The key and source text of a shape; -errno when an input file is gone. */
int template_key(struct vmm *m, const struct tpl_inputs *in, char key[24], char **source);
struct template *template_find(struct vmm *m, const char *key);
struct template *template_by_id(struct vmm *m, int64_t id);
/* The inputs of a start of vm. */
void template_inputs_of(struct vmm *m, const struct vm *vm, struct tpl_inputs *in);
/* How vm's next start goes (its root disk is not made yet): a clone of
 * *ret, a cold boot that makes a template, or a plain one. */
enum vm_snap templates_plan(struct vmm *m, struct vm *vm, struct template **ret, char *why, size_t why_size);
/* The VMs that use t (their root disk is backed by its disk), comma
 * separated; *running: one of them runs (maps its memory). */
void template_used_by(struct vmm *m, const struct template *t, char *buf, size_t size, bool *running);
/* Drops t: EBUSY while a VM uses it. Gone from the list at once; its files
 * go on a worker. */
int template_drop(struct vmm *m, struct template *t, bgr_error *err);
/* A restore from t failed: it is dropped when unused, else never used
 * again (broken). */
void template_failed(struct vmm *m, struct template *t, const char *why);
/* Drops the templates whose inputs changed and that nothing uses. */
void templates_gc(struct vmm *m);
struct template *template_add(struct vmm *m, const char *key, const char *source, const struct tpl_inputs *in);
void template_forget(struct vmm *m, struct template *t);

/* snap_save.c: 1 when a save of vm's template started (its boot goes on
 * through hooks.template_saved), 0 when there is nothing to save. With
 * ssh_port > 0 the save waits (on its worker) until the guest's SSH server
 * shows its banner at ssh_host:ssh_port, for at most wait_ms: the guest
 * has then finished booting, and a clone need not boot the rest. */
int snap_save_start(struct vmm *m, struct vm *vm, const char *ssh_host, int ssh_port, long long wait_ms);

/* ssh_up.c: waits until host:port shows an SSH banner (0), for at most
 * max_ms (-ETIMEDOUT), or until cancel says so or pid is gone
 * (-ECANCELED). Blocks: for workers. */
int ssh_up_wait(const char *host, int port, pid_t pid, long long max_ms, bool (*cancel)(void *), void *ctx);

/* snap_restore.c: the restore of a spawned clone (-incoming defer) on a
 * worker; its end comes through hooks.restore_done. */
void snap_restore_start(struct vmm *m, struct vm *vm, const char *work_disk);
/* Brings a clone's link up once it has its identity; the end comes
 * through hooks.clone_online. */
void snap_link_up_start(struct vmm *m, struct vm *vm);

/* identify.c: the identify line for a restored clone (caller frees; it
 * holds vm's host-made private key when there is one: never log it). */
char *identify_line(struct vmm *m, const struct vm *vm, bool work_disk);
/* Drops vm's host-made host key, private and public; the private one only
 * (once the agent acked it: the public one is still to be pinned). */
void identify_key_forget(struct vm *vm);
void identify_key_sent(struct vm *vm);
/* The clone's hello after its identify, against the host-made key: 1 when
 * it reports that key and no other (it is pinned), 0 when there is no
 * host-made key or the agent did not take it (msg says so; the hello's keys
 * are pinned as without one), -1 when it reports other keys besides it. */
int identify_hello_check(const struct vm *vm, const char *hello, char *msg, size_t size);
/* The sparse copy both the save and the tests use; 0 or -errno. */
int sparse_copy(const char *src, const char *dest);
int sparse_copy_fd(int in, const char *dest);

#endif
