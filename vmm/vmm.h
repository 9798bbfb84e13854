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
};

enum vm_field { VM_FIELD_VCPU, VM_FIELD_MEMORY, VM_FIELD_DISK, VM_FIELD_IMAGE, VM_FIELD_KERNEL };

enum net_mode { NET_NONE, NET_USER, NET_BRIDGE };

/* Where a setting came from: "built-in default", "host heuristic (...)",
 * "config.toml:12", "BANGER_NAT". */
#define SETTING_SRC_MAX 96
typedef char setting_src[SETTING_SRC_MAX];

struct vmm_net_settings {
	char setting[8];  /* as asked: auto, bridge, user or none */
	enum net_mode mode;
	char why[160];    /* why this mode */
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
	char catalog[1024]; /* path or URL of a catalog consulted first, "" for none */
	setting_src src_vmm, src_firecracker, src_accel, src_vcpu, src_memory, src_disk, src_image, src_ssh_key;
	setting_src src_boot_timeout, src_catalog;
	struct vmm_net_settings net;
	struct file_sync *sync;
	size_t n_sync;
};

/* Opens the store, sweeps leftovers of interrupted creates, re-adopts
 * every VM whose hypervisor is still alive and marks the rest stopped. */
int vmm_new(struct loop *loop, struct bgr_paths *paths, const struct vmm_observer *obs,
	    struct vmm **ret, bgr_error *err);
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
/* Kernel/agent details from the agent's hello, "" before the first one. */
const char *vm_agent_hello(const struct vm *vm);

/* The VM's ssh_config Host block (caller frees). */
char *vmm_vm_ssh_config(struct vmm *m, const struct vm *vm);
/* The VM's lines of banger's known_hosts (caller frees); "" when none. */
char *vmm_vm_known_hosts(struct vmm *m, const struct vm *vm);

/* Creates a stopped VM (record + directory + root disk) or nothing. */
int vmm_vm_create(struct vmm *m, const char *name, struct vm **ret, bgr_error *err);


/* Each returns 0 when done at once, 1 when done_fn will be called later
 * (*ret_waiter lets the caller stop listening), or -errno. */
int vmm_vm_delete(struct vmm *m, struct vm *vm, vmm_done_fn fn, void *ctx, struct vmm_waiter **ret_waiter,
		  bgr_error *err);
int vmm_vm_action(struct vmm *m, struct vm *vm, const char *word, vmm_done_fn fn, void *ctx,
		  struct vmm_waiter **ret_waiter, bgr_error *err);
/* The caller no longer wants the completion (e.g. the request was
 * interrupted); the operation itself goes on. */
void vmm_waiter_cancel(struct vmm_waiter *w);

/* Sets a sizing value; EBUSY unless the VM is stopped. */
int vmm_vm_set(struct vmm *m, struct vm *vm, enum vm_field field, const char *value, bgr_error *err);
/* Records a failed operation on vm: its error file and its log. */
void vmm_vm_fail(struct vmm *m, struct vm *vm, const bgr_error *err);
/* Appends a line to vm's log. */
void vmm_vm_log(struct vmm *m, struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Sends bytes to the serial console input. */
ssize_t vmm_console_write(struct vmm *m, struct vm *vm, const char *buf, size_t len, bgr_error *err);

/* Appends "TIME SUBJECT WHAT" to the events stream. */
void vmm_event_line(struct vmm *m, const char *subject, const char *what);

/* The events stream: positions are byte offsets since the daemon started. */
uint64_t vmm_events_oldest(struct vmm *m);
uint64_t vmm_events_end(struct vmm *m);
size_t vmm_events_read(struct vmm *m, uint64_t *pos, char *buf, size_t size);

#endif
