/* The one node table: every file and directory of the mount, its inode
 * number, mode and behaviour. lookup, getattr, readdir, open, read and write
 * all read this table. */
#ifndef BANGER_NODES_H
#define BANGER_NODES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmm.h"

/* Inode numbers: small fixed ones for the top level; a VM's directory is
 * id << VM_INO_SHIFT and its files add their kind (ids are never reused).
 * Images and kernels likewise, with ART_INO_BIT set. */
#define VM_INO_SHIFT 6
#define ART_INO_BIT (1ULL << 62)
#define TPL_INO_BIT (1ULL << 61) /* templates/KEY and its files */
enum top_ino {
	INO_ROOT = 1,
	INO_README,
	INO_CONFIG,
	INO_KNOWN_HOSTS,
	INO_EVENTS,
	INO_VMS,
	INO_IMAGES,
	INO_KERNELS,
	INO_TEMPLATES,
	INO_ROOT_END,              /* the root directory lists the ones before */
	INO_IMPORT = INO_ROOT_END, /* images/import */
	INO_NOTRASH,               /* .Trash-UID at the root: file managers delete instead (fs->notrash_name) */
	INO_TOP_END,
};

enum node_flags {
	NODE_DIR = 1 << 0,
	NODE_STREAM = 1 << 1,   /* console, events: parked reads, no EOF while live */
	NODE_GROWING = 1 << 2,  /* logs: a growing regular file */
	NODE_VOLATILE = 1 << 3, /* uptime: changes without an event, never cached */
	NODE_WRITABLE = 1 << 4,
	NODE_WAIT = 1 << 5, /* images/NAME/wait: a read blocks while pulling */
};

enum vm_file {
	VMF_DIR, /* the VM's directory itself */
	VMF_STATE,
	VMF_IP,
	VMF_CONSOLE,
	VMF_LOGS,
	VMF_KNOWN_HOSTS,
	VMF_ERROR,
	VMF_VCPU,
	VMF_MEMORY,
	VMF_DISK,
	VMF_IMAGE,
	VMF_KERNEL,
	VMF_SPEC,
	VMF_SSH_CONFIG,
	VMF_PID,
	VMF_UPTIME,
	VMF_MAC,
	VMF_CREATED,
	VMF_PORTS,
	VMF_SESSIONS, /* sessions/: fs/sessions.c */
	VMF_END,
};

enum art_file {
	AF_DIR,
	AF_STATUS,
	AF_SIZE,
	AF_SOURCE,
	AF_SHA256,
	AF_CREATED,
	AF_KERNEL,
	AF_WAIT,
	AF_END,
};

enum tpl_file {
	TF_DIR,
	TF_STATUS,
	TF_SIZE,
	TF_CREATED,
	TF_USED_BY,
	TF_SOURCE,
	TF_END,
};

struct node_def {
	const char *name;
	mode_t mode;
	unsigned flags;
};

extern const struct node_def top_nodes[INO_TOP_END];
extern const struct node_def vm_nodes[VMF_END];
extern const struct node_def art_nodes[AF_END];
extern const struct node_def tpl_nodes[TF_END];

/* A resolved inode: a top-level node, a VM (by id) plus one of its files,
 * or an image or kernel (by id) plus one of its files. */
struct node {
	uint64_t ino;
	const struct node_def *def;
	int64_t vm_id;     /* 0 for top-level and artifact nodes */
	enum vm_file kind; /* for VM nodes */
	int64_t art_id;    /* 0 unless an image's or kernel's */
	enum art_file akind;
	int64_t tpl_id; /* 0 unless a template's */
	enum tpl_file tkind;
};

bool node_resolve(uint64_t ino, struct node *ret);
static inline bool node_is_console(const struct node *n)
{
	return n->vm_id && n->kind == VMF_CONSOLE;
}

static inline uint64_t vm_ino(int64_t id, enum vm_file kind)
{
	return ((uint64_t)id << VM_INO_SHIFT) | (uint64_t)kind;
}
static inline uint64_t art_ino(int64_t id, enum art_file kind)
{
	return ART_INO_BIT | ((uint64_t)id << VM_INO_SHIFT) | (uint64_t)kind;
}
static inline uint64_t tpl_ino(int64_t id, enum tpl_file kind)
{
	return TPL_INO_BIT | ((uint64_t)id << VM_INO_SHIFT) | (uint64_t)kind;
}
/* Whether an artifact of this kind has this file (kernels have no kernel). */
bool art_has_file(enum art_kind kind, enum art_file f);
/* The sizing field behind a writable VM file, or -1. */
int node_vm_field(enum vm_file kind);
/* The control file a VM file is (VM_ERR_NONE for the others): only its
 * requests set and clear the VM's error. */
enum vm_error_of node_error_of(enum vm_file kind);

#endif
