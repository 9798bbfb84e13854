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

/* One request object: {"method","path","body"} (body may be NULL). */
cJSON *fc_request(const char *method, const char *path, cJSON *body);

#endif
