#include "vm_record.h"

#include <errno.h>
#include <string.h>

static const char *const state_names[] = {
	[VM_STOPPED] = "stopped",   [VM_STARTING] = "starting", [VM_RUNNING] = "running",
	[VM_STOPPING] = "stopping", [VM_ERROR] = "error",
};

const char *vm_state_name(enum vm_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "error";
}

int vm_state_parse(const char *s, enum vm_state *ret)
{
	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++) {
		if (strcmp(s, state_names[i]) == 0) {
			*ret = (enum vm_state)i;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *const error_of_names[] = {
	[VM_ERR_NONE] = "",          [VM_ERR_STATE] = "state",
	[VM_ERR_VCPU] = "vcpu",      [VM_ERR_MEMORY] = "memory_mib",
	[VM_ERR_DISK] = "disk_size", [VM_ERR_IMAGE] = "image",
	[VM_ERR_KERNEL] = "kernel",  [VM_ERR_CONSOLE] = "console",
	[VM_ERR_PORTS] = "ports",
};

const char *vm_error_of_name(enum vm_error_of of)
{
	return (unsigned)of < sizeof(error_of_names) / sizeof(error_of_names[0]) ? error_of_names[of] : "";
}

enum vm_error_of vm_error_of_parse(const char *s)
{
	for (size_t i = 1; s && i < sizeof(error_of_names) / sizeof(error_of_names[0]); i++)
		if (strcmp(s, error_of_names[i]) == 0)
			return (enum vm_error_of)i;
	return VM_ERR_NONE;
}
