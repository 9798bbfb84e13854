#include "nodes.h"

#include <sys/stat.h>

#define RO (S_IFREG | 0444)
#define RW (S_IFREG | 0644)
#define DIR (S_IFDIR | 0755)

const struct node_def top_nodes[INO_TOP_END] = {
	[INO_ROOT] = { "", DIR, NODE_DIR },
	[INO_README] = { "README", RO, 0 },
	[INO_CONFIG] = { "config", RO, 0 },
	[INO_KNOWN_HOSTS] = { "known_hosts", RO, NODE_VOLATILE }, /* any VM's pin may change it */
	[INO_EVENTS] = { "events", RO, NODE_STREAM },
	[INO_VMS] = { "vms", DIR, NODE_DIR },
	[INO_IMAGES] = { "images", DIR, NODE_DIR },
	[INO_KERNELS] = { "kernels", DIR, NODE_DIR },
	[INO_TEMPLATES] = { "templates", DIR, NODE_DIR },
	[INO_IMPORT] = { "import", RW, NODE_WRITABLE | NODE_VOLATILE },
	[INO_NOTRASH] = { ".Trash-UID", RO, 0 },
};

/* Volatile: a pull changes them often, and nobody reads them in a loop. */
const struct node_def art_nodes[AF_END] = {
	[AF_DIR] = { "", DIR, NODE_DIR },
	[AF_STATUS] = { "status", RO, NODE_VOLATILE },
	[AF_SIZE] = { "size", RO, NODE_VOLATILE },
	[AF_SOURCE] = { "source", RO, NODE_VOLATILE },
	[AF_SHA256] = { "sha256", RO, NODE_VOLATILE },
	[AF_CREATED] = { "created", RO, NODE_VOLATILE },
	[AF_KERNEL] = { "kernel", RO, NODE_VOLATILE },
	[AF_WAIT] = { "wait", RO, NODE_VOLATILE | NODE_WAIT },
};

/* Volatile: a save, a clone or a removal changes them. */
const struct node_def tpl_nodes[TF_END] = {
	[TF_DIR] = { "", S_IFDIR | 0555, NODE_DIR },     [TF_STATUS] = { "status", RO, NODE_VOLATILE },
	[TF_SIZE] = { "size", RO, NODE_VOLATILE },       [TF_CREATED] = { "created", RO, NODE_VOLATILE },
	[TF_USED_BY] = { "used_by", RO, NODE_VOLATILE }, [TF_SOURCE] = { "source", RO, NODE_VOLATILE },
};

const struct node_def vm_nodes[VMF_END] = {
	[VMF_DIR] = { "", DIR, NODE_DIR },
	[VMF_STATE] = { "state", RW, NODE_WRITABLE },
	[VMF_IP] = { "ip", RO, 0 },
	[VMF_CONSOLE] = { "console", S_IFREG | 0600, NODE_STREAM | NODE_WRITABLE },
	[VMF_LOGS] = { "logs", RO, NODE_GROWING },
	[VMF_KNOWN_HOSTS] = { "known_hosts", RO, 0 },
	[VMF_ERROR] = { "error", RO, 0 },
	[VMF_VCPU] = { "vcpu", RW, NODE_WRITABLE },
	[VMF_MEMORY] = { "memory_mib", RW, NODE_WRITABLE },
	[VMF_DISK] = { "disk_size", RW, NODE_WRITABLE },
	[VMF_IMAGE] = { "image", RW, NODE_WRITABLE },
	[VMF_KERNEL] = { "kernel", RW, NODE_WRITABLE },
	[VMF_SPEC] = { "spec", RO, 0 },
	[VMF_SSH_CONFIG] = { "ssh_config", RO, 0 },
	[VMF_PID] = { "pid", RO, 0 },
	[VMF_UPTIME] = { "uptime", RO, NODE_VOLATILE },
	[VMF_MAC] = { "mac", RO, 0 },
	[VMF_CREATED] = { "created", RO, 0 },
	/* volatile: a rule's state follows the VM's without an event */
	[VMF_PORTS] = { "ports", RW, NODE_WRITABLE | NODE_VOLATILE },
	[VMF_SESSIONS] = { "sessions", DIR, NODE_DIR },
};

bool art_has_file(enum art_kind kind, enum art_file f)
{
	return f != AF_KERNEL || kind == ART_IMAGE;
}

bool node_resolve(uint64_t ino, struct node *ret)
{
	uint64_t kind = ino & ((1u << VM_INO_SHIFT) - 1);

	if (ino & TPL_INO_BIT) {
		uint64_t id = (ino & ~TPL_INO_BIT) >> VM_INO_SHIFT;
		if (id == 0 || kind >= TF_END || (ino & ART_INO_BIT))
			return false;
		*ret = (struct node){ .ino = ino,
				      .def = &tpl_nodes[kind],
				      .tpl_id = (int64_t)id,
				      .tkind = (enum tpl_file)kind };
		return true;
	}
	if (ino & ART_INO_BIT) {
		uint64_t id = (ino & ~ART_INO_BIT) >> VM_INO_SHIFT;
		if (id == 0 || kind >= AF_END)
			return false;
		*ret = (struct node){ .ino = ino,
				      .def = &art_nodes[kind],
				      .art_id = (int64_t)id,
				      .akind = (enum art_file)kind };
		return true;
	}
	if (ino < INO_TOP_END) {
		if (ino == 0)
			return false;
		*ret = (struct node){ .ino = ino, .def = &top_nodes[ino], .vm_id = 0 };
		return true;
	}
	if (ino >> VM_INO_SHIFT == 0 || kind >= VMF_END)
		return false;
	*ret = (struct node){ .ino = ino,
			      .def = &vm_nodes[kind],
			      .vm_id = (int64_t)(ino >> VM_INO_SHIFT),
			      .kind = (enum vm_file)kind };
	return true;
}

int node_vm_field(enum vm_file kind)
{
	switch (kind) {
	case VMF_VCPU:
		return VM_FIELD_VCPU;
	case VMF_MEMORY:
		return VM_FIELD_MEMORY;
	case VMF_DISK:
		return VM_FIELD_DISK;
	case VMF_IMAGE:
		return VM_FIELD_IMAGE;
	case VMF_KERNEL:
		return VM_FIELD_KERNEL;
	default:
		return -1;
	}
}

enum vm_error_of node_error_of(enum vm_file kind)
{
	switch (kind) {
	case VMF_STATE:
		return VM_ERR_STATE;
	case VMF_CONSOLE:
		return VM_ERR_CONSOLE;
	case VMF_PORTS:
		return VM_ERR_PORTS;
	case VMF_VCPU:
		return VM_ERR_VCPU;
	case VMF_MEMORY:
		return VM_ERR_MEMORY;
	case VMF_DISK:
		return VM_ERR_DISK;
	case VMF_IMAGE:
		return VM_ERR_IMAGE;
	case VMF_KERNEL:
		return VM_ERR_KERNEL;
	default:
		return VM_ERR_NONE;
	}
}
