/* The Firecracker configuration of one boot, as the list of API requests
 * the driver sends (firecracker-notes.md "Boot sequence"). Pure data: the
 * helper banger-fc sends it; tests validate every body against the spec. */
#ifndef BANGER_FC_PLAN_H
#define BANGER_FC_PLAN_H

#include <cjson/cJSON.h>

struct fc_boot {
	const char *log_path; /* must exist before /logger */
	unsigned vcpu, mem_mib;
	const char *kernel;    /* uncompressed ELF vmlinux */
	const char *initrd;    /* or NULL */
	const char *boot_args; /* always explicit: the default turns the serial console off */
	const char *root_disk; /* raw */
	const char *work_disk; /* raw, or NULL */
	const char *tap, *mac; /* NULL: no network interface */
	const char *vsock_uds; /* hybrid vsock for the agent */
	unsigned guest_cid;    /* >= 3 */
};

/* [{"method":"PUT","path":"/logger","body":{...}}, ..., InstanceStart last].
 * The caller frees it with cJSON_Delete. */
cJSON *fc_boot_plan(const struct fc_boot *b);

/* Snapshots (docs/snapshots.md "Firecracker"). A template's save: pause,
 * then a full snapshot of the paused VM (device state to state_path, guest
 * memory to mem_path). The resume is a request of its own, sent whatever
 * became of these (the root disk is copied in between). */
cJSON *fc_snapshot_create_plan(const char *state_path, const char *mem_path);
/* The "state" body of PATCH /vm: "Paused" or "Resumed". */
cJSON *fc_vm_state(const char *state);

struct fc_load {
	const char *log_path;   /* /logger first (allowed before a load) */
	const char *state_path; /* the template's device state */
	const char *mem_path;   /* its memory: a File backend, mapped private */
	const char *tap;        /* the clone's tap (network_overrides for eth0), or NULL */
};
/* A clone's start in a fresh process: /logger, then /snapshot/load with the
 * file memory backend and resume_vm. The drives and the vsock uds are the
 * template's relative paths (firecracker.c), so they resolve in the
 * clone's directory (the process's cwd). */
cJSON *fc_snapshot_load_plan(const struct fc_load *l);

/* One request object: {"method","path","body"} (body may be NULL). */
cJSON *fc_request(const char *method, const char *path, cJSON *body);

#endif
