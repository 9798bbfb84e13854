/* The VM manager: the API every front (fs/ today) calls. All functions run
 * on the loop thread. Long operations complete through a vmm_done_fn. */
#ifndef BANGER_VMM_H
#define BANGER_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "artifacts.h"
#include "error.h"
#include "host.h"
#include "ippool.h"
#include "paths.h"
#include "vm_record.h"

struct loop;
struct vmm;
struct vm;
struct vmm_waiter;

enum vmm_output { VMM_OUT_CONSOLE, VMM_OUT_LOGS };

/* What a front hears about. Calls come on the loop thread, in order: a
 * vm_changed always comes before the completion of the request that caused
 * it, so a front can make caches fresh before it answers. */
struct vmm_observer {
	void *ctx;
	void (*vm_changed)(void *ctx, struct vm *vm);
	void (*vm_output)(void *ctx, struct vm *vm, enum vmm_output which);
	void (*vm_removed)(void *ctx, struct vm *vm); /* just before it is freed */
	void (*event)(void *ctx);
	void (*art_listing_changed)(void *ctx, enum art_kind kind); /* images/ or kernels/ gained or lost an entry */
	void (*templates_changed)(void *ctx); /* templates/ gained or lost an entry (may be NULL) */
	/* a session (sessions.h) changed: what is VMM_SESS_* bits (may be NULL) */
	void (*session_changed)(void *ctx, struct vm *vm, int64_t session_id, unsigned what);
};

enum { VMM_SESS_OUTPUT = 1, VMM_SESS_STATE = 2, VMM_SESS_LISTING = 4, VMM_SESS_INPUT = 8 };

enum vm_field { VM_FIELD_VCPU, VM_FIELD_MEMORY, VM_FIELD_DISK, VM_FIELD_IMAGE, VM_FIELD_KERNEL };

enum net_mode { NET_NONE, NET_USER, NET_BRIDGE };

/* Where a setting came from: "built-in default", "host heuristic (...)",
 * "config.toml:12", "BANGER_NAT". */
#define SETTING_SRC_MAX 96
typedef char setting_src[SETTING_SRC_MAX];

struct vmm_net_settings {
	char setting[8]; /* as asked: auto, bridge, user or none */
	enum net_mode mode;
	char why[160]; /* why this mode */
	char bridge[16];
	char subnet[24];
	struct ippool pool;
	bool nat;
	int dns_port;
	setting_src src_network, src_bridge, src_subnet, src_nat;
};

/* One [[file_sync]] entry: host path copied onto the VM's work disk at
 * creation. Paths as written (~ expanded at mkdir). */
struct file_sync {
	char *host, *guest;
	int mode; /* -1: files 0600 */
	setting_src src;
};

/* Effective settings, each with where it came from (the config file).
 * Order: built-in defaults and host heuristics, then config.toml, then the
 * environment. */
struct vmm_settings {
	char config_path[512];
	bool config_found;
	char vmm_setting[16]; /* as asked: auto, qemu or firecracker */
	char vmm[16];         /* the driver used: qemu or firecracker */
	char vmm_why[160];
	char firecracker_bin[256];
	char accel_setting[8];
	struct accel_choice accel;
	unsigned vcpu;
	unsigned memory_mib;
	uint64_t disk_size;
	char image[VM_NAME_MAX + 1];
	char kernel[VM_NAME_MAX + 1];
	int boot_timeout_s;
	int stop_timeout_s;
	char catalog[1024];    /* path or URL of a catalog consulted first, "" for none */
	int catalog_timeout_s; /* a fetch of an http(s) catalog gives up after this */
	setting_src src_vmm, src_firecracker, src_accel, src_vcpu, src_memory, src_disk, src_image, src_ssh_key;
	setting_src src_boot_timeout, src_catalog, src_snapshots;
	bool snapshots; /* restore starts from templates (docs/snapshots.md) */
	struct vmm_net_settings net;
	struct file_sync *sync;
	size_t n_sync;
};

/* Opens the store, sweeps leftovers of interrupted creates, re-adopts
 * every VM whose hypervisor is still alive and marks the rest stopped. */
int vmm_new(struct loop *loop, struct bgr_paths *paths, const struct vmm_observer *obs, struct vmm **ret,
	    bgr_error *err);
/* Frees the manager; running VMs keep running (they outlive bangerd). */
void vmm_free(struct vmm *m);

const struct vmm_settings *vmm_settings(struct vmm *m);
const struct bgr_paths *vmm_paths(struct vmm *m);

size_t vmm_vm_count(struct vmm *m);
struct vm *vmm_vm_at(struct vmm *m, size_t i);
struct vm *vmm_vm_by_name(struct vmm *m, const char *name);
struct vm *vmm_vm_by_id(struct vmm *m, int64_t id);

const struct vm_record *vm_record(const struct vm *vm);
const char *vm_console_log(const struct vm *vm);
const char *vm_log_path(const struct vm *vm);
/* No hypervisor of vm runs: it is stopped (or a boot failed) and the last
 * process is gone. */
bool vmm_vm_is_down(const struct vm *vm);
/* Kernel/agent details from the agent's hello, "" before the first one. */
const char *vm_agent_hello(const struct vm *vm);

/* The VM's ssh_config Host block (caller frees). */
char *vmm_vm_ssh_config(struct vmm *m, const struct vm *vm);
/* banger's known_hosts, from memory (pins_cache.c): all of it, and the
 * VM's lines (caller frees; "" when none). Fresh when vmm_pins_fresh says
 * so; otherwise a front waits for vmm_pins_refresh first. */
const char *vmm_known_hosts(struct vmm *m);
char *vmm_vm_known_hosts(struct vmm *m, const struct vm *vm);
/* Whether the copy in memory is the file as it is now (one stat). */
bool vmm_pins_fresh(struct vmm *m);
/* Reads the file again, off the loop; fn(ctx, 0) once the copy is at
 * least as new as the file was at this call (fn may be NULL). */
void vmm_pins_refresh(struct vmm *m, vmm_done_fn fn, void *ctx, struct vmm_waiter **ret_waiter);

/* mkdir vms/NAME: creates a stopped VM (record + directory + root disk +
 * file_sync work disk) or nothing. The name is reserved at once (EEXIST
 * for another create of it); the slow parts run off the loop, and the VM
 * appears (in vmm_vm_by_name and the store, with its directory) only when
 * all is done. Returns 1, and fn is called once, later: with the new VM,
 * or with NULL and why. Or -errno at once (a bad or taken name). */
struct vmm_create;
typedef void (*vmm_create_fn)(void *ctx, struct vm *vm, const bgr_error *err);
int vmm_vm_create(struct vmm *m, const char *name, vmm_create_fn fn, void *ctx, struct vmm_create **ret,
		  bgr_error *err);
/* The caller gave up (Ctrl-C): the create is undone; fn is still called,
 * with ECANCELED, once nothing of it is left (maybe before this returns). */
void vmm_vm_create_cancel(struct vmm_create *c);

/* mv vms/NAME vms/NEW: a stopped VM (no hypervisor) takes the name NEW; its
 * files, disks and address stay, the DNS name and ssh_config follow, the
 * pins of both names (NAME.vm, NEW.vm) are dropped first, on a worker. 1
 * (fn later: 0, or -errno with the reason in bangerd.log), 0 for its own
 * name, or -errno at once: EINVAL a bad name, EEXIST taken, EBUSY not
 * stopped or being changed. */
int vmm_vm_rename(struct vmm *m, struct vm *vm, const char *name, vmm_done_fn fn, void *ctx,
		  struct vmm_waiter **ret_waiter, bgr_error *err);

/* Each returns 0 when done at once, 1 when done_fn will be called later
 * (*ret_waiter lets the caller stop listening), or -errno. */
int vmm_vm_delete(struct vmm *m, struct vm *vm, vmm_done_fn fn, void *ctx, struct vmm_waiter **ret_waiter,
		  bgr_error *err);
int vmm_vm_action(struct vmm *m, struct vm *vm, const char *word, vmm_done_fn fn, void *ctx,
		  struct vmm_waiter **ret_waiter, bgr_error *err);
/* The caller no longer wants the completion (e.g. the request was
 * interrupted); the operation itself goes on. */
void vmm_waiter_cancel(struct vmm_waiter *w);

/* Sets a sizing value, image or kernel; EBUSY unless the VM is stopped
 * (or while another change of it is being applied). 0 when done at once;
 * 1 when fn is called later: a grown disk_size (qemu-img resize) or a new
 * image's root disk is made on a worker, and an image or kernel only the
 * http(s) catalog may list waits for that catalog's first copy; a failure
 * then is recorded in the VM's error and logs. -errno. */
int vmm_vm_set(struct vmm *m, struct vm *vm, enum vm_field field, const char *value, vmm_done_fn fn, void *ctx,
	       struct vmm_waiter **ret_waiter, bgr_error *err);
/* Records a failed request of the control file `of` on vm: its error file
 * and its log. vmm_vm_set, vmm_vm_action and vmm_console_write record
 * their own failures and clear the error of their file when they succeed;
 * a front calls this for what it refuses before asking them (a value too
 * long). Nothing else goes into error: see docs/filesystem.md. */
void vmm_vm_fail(struct vmm *m, struct vm *vm, enum vm_error_of of, const bgr_error *err);
/* Appends a line to vm's log. */
void vmm_vm_log(struct vmm *m, struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* vms/NAME/ports (docs/filesystem.md): the VM's forwarding rules, one a
 * line with its state (caller frees); a write adds and (-RULE) removes
 * rules, every line checked and bound before anything changes: EINVAL a
 * malformed rule, EADDRINUSE a taken port, EEXIST another guest port on
 * that listener, ENOENT no such rule to remove. Records its own failure
 * in the VM's error (and clears it on success). */
char *vmm_vm_ports_text(struct vmm *m, struct vm *vm);
int vmm_vm_ports_write(struct vmm *m, struct vm *vm, const char *buf, size_t size, bgr_error *err);

/* Sends bytes to the serial console input. */
ssize_t vmm_console_write(struct vmm *m, struct vm *vm, const char *buf, size_t len, bgr_error *err);

/* Appends "TIME SUBJECT WHAT" to the events stream. */
void vmm_event_line(struct vmm *m, const char *subject, const char *what);

/* The events stream: positions are byte offsets since the daemon started. */
uint64_t vmm_events_oldest(struct vmm *m);
uint64_t vmm_events_end(struct vmm *m);
size_t vmm_events_read(struct vmm *m, uint64_t *pos, char *buf, size_t size);

/* Snapshots' templates (templates/ in the tree; vmm/snapshots/). */
struct template_info {
	int64_t id;
	char key[24];
	char status[200];   /* "ready", "saving", "broken: REASON" */
	uint64_t size;      /* bytes on disk */
	long long created;  /* unix seconds, 0 while saving */
	char used_by[1024]; /* VM names, comma separated */
	const char *source; /* the inputs (valid until the loop runs on) */
	char made_from[64];
};
size_t vmm_template_count(struct vmm *m);
int64_t vmm_template_id_at(struct vmm *m, size_t i);
int64_t vmm_template_by_key(struct vmm *m, const char *key); /* 0: none */
bool vmm_template_info(struct vmm *m, int64_t id, struct template_info *ret);
/* rmdir templates/KEY: EBUSY while a VM's disk is backed by it. */
int vmm_template_remove(struct vmm *m, int64_t id, bgr_error *err);

#endif
