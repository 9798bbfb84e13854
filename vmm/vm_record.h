/* A VM as stored: everything that survives a daemon restart. */
#ifndef BANGER_VM_RECORD_H
#define BANGER_VM_RECORD_H

#include <stdint.h>

#include "error.h"
#include "validate.h"

enum vm_state { VM_STOPPED, VM_STARTING, VM_RUNNING, VM_STOPPING, VM_ERROR };

/* Which control file's request the VM's error comes from: only the next
 * success of the same one clears it (a state error: the lifecycle's too, a
 * failed boot, a hypervisor that died). */
enum vm_error_of {
	VM_ERR_NONE,
	VM_ERR_STATE,
	VM_ERR_VCPU,
	VM_ERR_MEMORY,
	VM_ERR_DISK,
	VM_ERR_IMAGE,
	VM_ERR_KERNEL,
	VM_ERR_CONSOLE,
	VM_ERR_PORTS,
};

/* Which sizing values the user set on this VM (the rest are defaults). */
enum {
	VM_SET_VCPU = 1 << 0,
	VM_SET_MEMORY = 1 << 1,
	VM_SET_DISK = 1 << 2,
	VM_SET_IMAGE = 1 << 3,
	VM_SET_KERNEL = 1 << 4,
};

struct vm_record {
	int64_t id;
	char name[VM_NAME_MAX + 1];
	enum vm_state state;
	unsigned vcpu;
	unsigned memory_mib;
	uint64_t disk_size;
	char image[VM_NAME_MAX + 1];
	char kernel[VM_NAME_MAX + 1];
	unsigned user_set;
	int64_t created;    /* unix seconds */
	int pid;            /* hypervisor pid, 0 when none */
	uint64_t pid_start; /* its start time (/proc/PID/stat field 22) */
	int64_t started_at; /* unix ms when the current boot began */
	char error[BGR_ERROR_MAX];
	enum vm_error_of error_of; /* VM_ERR_NONE when error is empty */
	char ip[16];               /* dotted quad from the pool, "" when none */
	char mac[18];              /* derived from ip, fixed for the VM's life */
	char net_mode[8];          /* "bridge", "user" or "none" for the current boot */
	int ssh_port;              /* host port forwarded to guest :22 (user mode) */
	char pin_mode[8];          /* how the host key got pinned: "agent" or "tofu" */
	char template_key[24];     /* snapshots: the template its root disk is backed by, "" none */
	char clone_state[16];      /* "restoring", "identifying" until a clone has its own identity */
	int booted;                /* its root disk has been booted (0: fresh, a start may restore a template) */
};

const char *vm_state_name(enum vm_state s);
int vm_state_parse(const char *s, enum vm_state *ret);
/* The control file's name ("state", "vcpu", ...; "" for none), and back. */
const char *vm_error_of_name(enum vm_error_of of);
enum vm_error_of vm_error_of_parse(const char *s);

#endif
