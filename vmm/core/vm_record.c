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
