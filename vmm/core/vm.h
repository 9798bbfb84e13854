/* vmm/core: the VM manager's heart, and its private view of a VM and of
 * itself (not for fronts). The core owns the VM records and their set
 * (manager.c: load, delete; create.c: mkdir; vm_set.c: sizing), the state machine
 * (lifecycle.c), the low-level services every part calls (vm_services.c:
 * lookups, save, log, error, events, waiters), the agent and console
 * channels, the SQLite store, the epoll loop and the worker pool, settings
 * and config.toml, root and work disks, and file_sync. The rooms below it
 * (drivers, net, images, ssh) report upward only through struct vm_hooks. */
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
	bool console_unbounded; /* console.log could not be bounded (said once) */
	bool agent_handshaking; /* agent_fd waits for the driver's handshake reply (channels.c) */
	bool agent_discard;     /* inside a line longer than the protocol allows: skip to its '\n' */
	/* the agent's lines in logs: a burst, then one a second (vm_agent_log) */
	long long agent_log_ms;
	int agent_log_tokens;
	unsigned agent_log_dropped;
	bool agent_log_muted;
	char *hello; /* the last hello line, NULL before the first (heap: most VMs are stopped);
			BANGER_AGENT_LINE_MAX bytes, reused by each hello */
	struct loop_timer *boot_timer, *stop_timer, *connect_timer;
	enum vm_stop_phase stop_phase;
	bool stop_is_kill;

	struct vmm_waiter *start_waiters, *stop_waiters;
	char tap[16];        /* its tap's name while a bridged boot runs */
	int prev_ssh_port;   /* user mode: the port of the boot before, whose pin goes */
	bool verifying;      /* the ssh check of this boot is running on a worker */
	bool authorized;     /* the agent acked our key in this boot */
	bool authorize_sent; /* our key went to the agent on this connection of this boot */
	enum vm_after_stop after_stop;
	bool awaiting_pull; /* a start waits for its image or kernel to be pulled */
	bool applying;      /* a change of its disk, image or kernel is in progress (vm_set.c) */
	bool making_disk;   /* a start's root disk is being made on a worker (vm_artifacts.c) */
	unsigned error_seq; /* counts vm_set_error calls: what a request itself caused stays */
	char *renaming_to;  /* the name a rename in progress takes (rename.c), else NULL */
	long long pull_logged_ms;

	/* snapshots (vmm/snapshots/, docs/snapshots.md) */
	int snap;                 /* enum vm_snap: how the current start goes */
	bool snap_planned;        /* snap is decided for this start (vm_artifacts.c) */
	char snap_key[24];        /* its template's key (SNAP_MAKE, SNAP_CLONE) */
	unsigned boot_gen;        /* a job started by one boot is ignored by the next */
	bool saving;              /* the template's save runs: the hello waits for it */
	bool restore_fallback;    /* the restore failed: once the clone's QEMU is gone, boot cold */
	bool identify_sent;       /* the clone's identify went out on this connection */
	bool identify_acked;      /* the clone's agent acked its identify; its link comes up */
	bool identified;          /* ... and the link is up: its next hello is pinned */
	bool hello_after_ack;     /* the hello with the new keys came before the link was up */
	bool identify_authorized; /* the ack said authorized=1: banger's key came with it */
	bool host_key_served;     /* its hello after the ack reports just the key banger made */
	bool sshd_listening;      /* the ack said sshd=listening: its server runs on that key */
	char *mem_path;           /* a template boot's RAM file (runtime dir), NULL when none */
	char *net_args;           /* the kernel's ip= of this boot (identify sends it again) */
	long long restore_ms;     /* when the restore began (monotonic), for the log */
	/* a clone's SSH host key, made on the host by its restore job: the
	 * private key (hex of the OpenSSH file) goes to the agent in identify
	 * and is dropped at the ack; never logged. The public key
	 * ("ssh-ed25519:B64") is what gets pinned. NULL: the guest makes its own */
	char *host_key_priv;
	char *host_key;

	struct session *sessions; /* vmm/sessions/: its sessions, in the order made */
};

/* What the parts below the lifecycle report upward. They call nothing above
 * them: the manager wires these to the lifecycle (and to vm_remove) in
 * vmm_new, and a test can wire its own. */
struct vm_hooks {
	void (*hello_received)(struct vmm *m, struct vm *vm, const char *line);            /* channels.c */
	void (*authorize_result)(struct vmm *m, struct vm *vm, bool ok, const char *line); /* channels.c */
	/* the verdict of the ssh check of the current boot (ssh_verify.c) */
	void (*ssh_verified)(struct vmm *m, struct vm *vm, int result, const char *msg, bool tofu, long long took_ms);
	/* a pull ended (result 0 or -errno) or made progress (artifacts.c) */
	void (*artifact_ready)(struct vmm *m, enum art_kind kind, const char *name, int result, const char *reason);
	void (*artifact_progress)(struct vmm *m, enum art_kind kind, const char *name);
	/* what a waiting start needed (a root disk made on a worker, the
	 * catalog's first copy) is there (0), or failed (-errno, the reason;
	 * vm_artifacts.c): it goes on, or fails */
	void (*start_waited)(struct vmm *m, struct vm *vm, int result, const char *reason);
	/* the addresses creates in progress hold (create.c), for network.c's pick */
	void (*creates_each_ip)(struct vmm *m, void (*fn)(void *ctx, const char *ip), void *ctx);
	/* a stop whose VM was being deleted has ended (lifecycle.c) */
	void (*stopped_for_delete)(struct vmm *m, struct vm *vm);
	/* snapshots: a template's save ended (0 or -errno; the boot goes on
	 * either way), a clone's restore ended (0: running; -errno: the reason,
	 * and the boot falls back to a cold one) (vmm/snapshots/) */
	void (*template_saved)(struct vmm *m, struct vm *vm, int result, const char *msg);
	void (*restore_done)(struct vmm *m, struct vm *vm, int result, const char *msg);
	/* a clone's network link is up, after its identity (vmm/snapshots/) */
	void (*clone_online)(struct vmm *m, struct vm *vm, int result, const char *msg);
	/* the agent's socket is connected (channels.c), and an identify's
	 * answer came (channels.c) */
	void (*agent_connected)(struct vmm *m, struct vm *vm);
	void (*identify_result)(struct vmm *m, struct vm *vm, bool ok, const char *line);
	/* sessions (vmm/sessions/): the agent's session lines and every hello
	 * (channels.c); the channels closed (channels.c) */
	void (*session_line)(struct vmm *m, struct vm *vm, const char *line);
	void (*channels_closed)(struct vmm *m, struct vm *vm);
};

struct vmm {
	struct vm_hooks hooks;
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
	int bridge_lock_fd;     /* one bangerd per bridge (bridge_lock.h); -1 when not held */
	struct pubkey ssh_pub;  /* the managed key's public half */
	atomic_bool quitting;   /* set by vmm_free: long worker jobs give up */
	struct artifact **arts; /* images and kernels, artifacts.c */
	size_t n_arts, cap_arts;
	int64_t last_art_id;
	struct catalog_remote *catalog; /* an http(s) catalog's copy, catalog_remote.c */
	struct vmm_create *creates;     /* creates in progress, create.c */
	struct pins_cache *pins;        /* known_hosts in memory, pins_cache.c */
	struct template **tpls;         /* snapshots: the templates, template.c */
	size_t n_tpls, cap_tpls;
	int64_t last_tpl_id;
	char *templates_dir; /* state/templates */
	char *runtime_dir;   /* a tmpfs for template boots' RAM files */
	char *qemu_version;  /* `qemu-system-x86_64 --version`, read once at start-up */

	/* vms/NAME/ports: every VM's rules (vmm/net/ports.c) and, in user
	 * mode, their QMP requests, one at a time (hostfwd.c) */
	struct port_fwd *ports;
	struct hostfwd_queue *hostfwds;
	int64_t last_session_id; /* sessions' ids (inode numbers), this run's */
};

/* vm_services.c: the low-level services (and vmm.h's lookups, log, events) */
/* create.c */
struct vm *vm_alloc(struct vmm *m, const struct vm_record *rec);
void vms_append(struct vmm *m, struct vm *vm);
/* A new VM's record with the default settings. */
void init_record(struct vmm *m, const char *name, struct vm_record *rec);
/* The default disk_size for image: the setting, or the whole image when larger. */
uint64_t default_disk_size(struct vmm *m, const char *image);
int vm_save(struct vmm *m, struct vm *vm, bgr_error *err);
void vm_changed(struct vmm *m, struct vm *vm);
/* Records a failed request of control file `of` (or of the lifecycle: VM_ERR_STATE)
 * as the VM's error, and logs it; the caller saves the record. */
void vm_set_error(struct vmm *m, struct vm *vm, enum vm_error_of of, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A request of `of` succeeded: an error of `of` is gone (vm_clear_error
 * saves the record; vm_forget_error leaves that to the caller). */
void vm_clear_error(struct vmm *m, struct vm *vm, enum vm_error_of of);
void vm_forget_error(struct vm *vm, enum vm_error_of of);
void vm_event(struct vmm *m, struct vm *vm, const char *what);
struct vmm_waiter *waiter_add(struct vmm_waiter **list, vmm_done_fn fn, void *ctx);
void waiters_complete(struct vmm_waiter **list, int result);

/* manager.c: drops vm from the store, the disk and memory */
void vm_remove(struct vmm *m, struct vm *vm);
/* Tests: the driver every later vmm_new uses instead of the configured one
 * (NULL: the configured one again). */
void vmm_set_driver_for_test(const struct vm_driver *driver);
/* create.c: calls fn with the address of every create in progress */
void vm_creates_each_ip(struct vmm *m, void (*fn)(void *ctx, const char *ip), void *ctx);
/* create.c: a create in progress holds the name */
bool vm_create_reserved(struct vmm *m, const char *name);
/* vm_services.c: a rename in progress (rename.c) takes the name */
bool vm_renaming_to(struct vmm *m, const char *name);

/* lifecycle.c */
int vm_boot(struct vmm *m, struct vm *vm, bgr_error *err);
void vm_shutdown(struct vmm *m, struct vm *vm);
void vm_kill(struct vmm *m, struct vm *vm);
void vm_adopt(struct vmm *m, struct vm *vm);
/* A stop, kill or rmdir (by) during a restart's stopping phase: no boot
 * follows, and the restart's writers hear ECANCELED. */
void vm_cancel_restart(struct vmm *m, struct vm *vm, const char *by);
/* The lifecycle's side of the hooks (struct vm_hooks). */
void vm_hello_received(struct vmm *m, struct vm *vm, const char *line);
void vm_agent_authorize_result(struct vmm *m, struct vm *vm, bool ok, const char *line);
void vm_ssh_verified(struct vmm *m, struct vm *vm, int result, const char *msg, bool tofu, long long took_ms);
void vm_template_saved(struct vmm *m, struct vm *vm, int result, const char *msg);
void vm_restore_done(struct vmm *m, struct vm *vm, int result, const char *msg);
void vm_clone_online(struct vmm *m, struct vm *vm, int result, const char *msg);
void vm_agent_connected(struct vmm *m, struct vm *vm);
void vm_identify_result(struct vmm *m, struct vm *vm, bool ok, const char *line);
/* A pull ended (result 0 or -errno): VMs waiting for it to start go on. */
void vm_artifact_ready(struct vmm *m, enum art_kind kind, const char *name, int result, const char *reason);
void vm_start_waited(struct vmm *m, struct vm *vm, int result, const char *reason);

/* vm_artifacts.c: 0 when the image, kernel and root disk are there, 1 when
 * a pull, the catalog's first fetch or the root disk (on a worker) comes
 * first (and the start goes on by itself afterwards), -errno. */
int vm_prepare_artifacts(struct vmm *m, struct vm *vm, bgr_error *err);
uint64_t vm_image_min_disk(struct vmm *m, const char *image);
/* Grows a default disk_size to hold IMAGE; EINVAL when it was set on the VM. */
int vm_disk_fit_image(struct vmm *m, struct vm *vm, const char *image, bgr_error *err);
void vm_cancel_pull_wait(struct vmm *m, struct vm *vm);
/* 0 when image is installed, being pulled or in a catalog (kernel: the one
 * it boots by default, "" when unknown); ENOENT with a reason otherwise. */
int vm_image_available(struct vmm *m, const char *image, char kernel[64], bgr_error *err);
/* A pull made progress: VMs waiting for it log it now and then. */
void vm_artifact_progress(struct vmm *m, enum art_kind kind, const char *name);
/* Whether vm's start waits for that pull. */
bool vm_waits_for_artifact(const struct vm *vm, enum art_kind kind, const char *name);

/* channels.c: the agent and console sockets */
void vm_channels_open(struct vmm *m, struct vm *vm);
void vm_channels_close(struct vmm *m, struct vm *vm);
int vm_agent_send(struct vm *vm, const char *line);
/* Whether the agent's socket takes len more bytes now without blocking. */
bool vm_agent_room(struct vm *vm, size_t len);
/* Logs a line about what the agent sent, rate-limited: a guest cannot fill
 * the disk through logs by talking. */
void vm_agent_log(struct vmm *m, struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Rewrites state/ssh/config, the Host blocks of every VM (ssh_config.c). */
void ssh_config_refresh(struct vmm *m);
void vmm_inotify_event(void *data, int fd, uint32_t events);

#endif
