/* The manager's private view of a VM and of itself; not for fronts. */
#ifndef BANGER_VM_H
#define BANGER_VM_H

#include "../../agent/protocol.h"
#include <stdatomic.h>
#include "driver.h"
#include "events.h"
#include "loop.h"
#include "pubkey.h"
#include "store.h"
#include "vmm.h"
#include "workers.h"

struct vmm_waiter {
	vmm_done_fn fn; /* NULL once cancelled */
	void *ctx;
	struct vmm_waiter *next;
};

/* What to do once the hypervisor process is gone. */
enum vm_after_stop { AFTER_NOTHING, AFTER_START, AFTER_DELETE };

enum vm_stop_phase { STOP_NONE, STOP_POWERDOWN, STOP_QUIT, STOP_KILL };

struct vm {
	struct vmm *m;
	struct vm_record rec;
	char *dir, *console_log, *log_path, *root_disk;
	char *qmp_sock, *console_sock, *agent_sock;

	/* the running hypervisor */
	int pidfd;
	bool is_child;
	int agent_fd, console_fd, inotify_wd;
	char *agent_buf; /* BANGER_AGENT_LINE_MAX bytes while the channels are open */
	size_t agent_len;
	char *hello;     /* the last hello line, NULL before the first (heap: most VMs are stopped) */
	struct loop_timer *boot_timer, *stop_timer, *connect_timer;
	enum vm_stop_phase stop_phase;
	bool stop_is_kill;

	struct vmm_waiter *start_waiters, *stop_waiters;
	char tap[16];      /* its tap's name while a bridged boot runs */
	int prev_ssh_port; /* user mode: the port of the boot before, whose pin goes */
	bool verifying; /* the ssh check of this boot is running on a worker */
	bool authorized; /* the agent acked our key in this boot */
	enum vm_after_stop after_stop;
	bool awaiting_pull;   /* a start waits for its image or kernel to be pulled */
	bool applying;        /* a change of its disk, image or kernel is in progress (vm_set.c) */
	bool making_disk;     /* a start's root disk is being made on a worker (vm_artifacts.c) */
	long long pull_logged_ms;
};

struct vmm {
	struct loop *loop;
	const struct bgr_paths *paths;
	struct vmm_observer obs;
	struct store *store;
	const struct vm_driver *driver;
	struct vmm_settings settings;
	struct vm **vms;
	size_t n_vms, cap_vms;
	int inotify_fd;
	struct events events;
	struct workers *workers;
	struct dns_server *dns;
	bool bridge_up, nat_on;
	struct pubkey ssh_pub; /* the managed key's public half */
	atomic_bool quitting;  /* set by vmm_free: long worker jobs give up */
	struct artifact **arts; /* images and kernels, artifacts.c */
	size_t n_arts, cap_arts;
	int64_t last_art_id;
	struct catalog_remote *catalog; /* an http(s) catalog's copy, catalog_remote.c */
	struct vmm_create *creates;     /* creates in progress, create.c */
	struct pins_cache *pins;        /* known_hosts in memory, pins_cache.c */
};

/* manager.c */
struct vm *vm_alloc(struct vmm *m, const struct vm_record *rec);
void vms_append(struct vmm *m, struct vm *vm);
/* A new VM's record with the default settings. */
void init_record(struct vmm *m, const char *name, struct vm_record *rec);
int vm_save(struct vmm *m, struct vm *vm, bgr_error *err);
void vm_changed(struct vmm *m, struct vm *vm);
void vm_set_error(struct vmm *m, struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void vm_event(struct vmm *m, struct vm *vm, const char *what);
void vm_remove(struct vmm *m, struct vm *vm);

/* waiter lists (manager.c) */
struct vmm_waiter *waiter_add(struct vmm_waiter **list, vmm_done_fn fn, void *ctx);
void waiters_complete(struct vmm_waiter **list, int result);

/* create.c: calls fn with the address of every create in progress */
void vm_creates_each_ip(struct vmm *m, void (*fn)(void *ctx, const char *ip), void *ctx);

/* lifecycle.c */
int vm_boot(struct vmm *m, struct vm *vm, bgr_error *err);
void vm_shutdown(struct vmm *m, struct vm *vm);
void vm_kill(struct vmm *m, struct vm *vm);
void vm_adopt(struct vmm *m, struct vm *vm);
/* A pull ended (result 0 or -errno): VMs waiting for it to start go on. */
void vm_artifact_ready(struct vmm *m, enum art_kind kind, const char *name, int result, const char *reason);
/* vm_artifacts.c: 0 when the image, kernel and root disk are there, 1 when
 * a pull, the catalog's first fetch or the root disk (on a worker) comes
 * first (and the start goes on by itself afterwards), -errno. */
int vm_prepare_artifacts(struct vmm *m, struct vm *vm, bgr_error *err);
uint64_t vm_image_min_disk(struct vmm *m, const char *image);
void vm_cancel_pull_wait(struct vmm *m, struct vm *vm);
/* 0 when image is installed, being pulled or in a catalog (kernel: the one
 * it boots by default, "" when unknown); ENOENT with a reason otherwise. */
int vm_image_available(struct vmm *m, const char *image, char kernel[64], bgr_error *err);
/* A pull made progress: VMs waiting for it log it now and then. */
void vm_artifact_progress(struct vmm *m, enum art_kind kind, const char *name);

/* channels.c: the agent and console sockets */
void vm_channels_open(struct vmm *m, struct vm *vm);
void vm_channels_close(struct vmm *m, struct vm *vm);
int vm_agent_send(struct vm *vm, const char *line);
void vm_hello_received(struct vmm *m, struct vm *vm, const char *line); /* lifecycle.c */
void vm_agent_authorize_result(struct vmm *m, struct vm *vm, bool ok, const char *line); /* lifecycle.c */
/* The verdict of the ssh check (ssh_verify.c) of the current boot. */
void vm_ssh_verified(struct vmm *m, struct vm *vm, int result, const char *msg, bool tofu, long long took_ms);
/* Rewrites state/ssh/config, the Host blocks of every VM (ssh_config.c). */
void ssh_config_refresh(struct vmm *m);
void vmm_inotify_event(void *data, int fd, uint32_t events);

#endif
