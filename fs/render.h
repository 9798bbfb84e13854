/* The text of every regular (non-stream) file of the mount. */
#ifndef BANGER_RENDER_H
#define BANGER_RENDER_H

#include <stddef.h>

#include "nodes.h"

struct render_ctx {
	struct vmm *vmm;
	const char *mountpoint;
};

/* Returns a malloc'd buffer with the file's content and its length. vm is
 * the VM for VM nodes (NULL for top-level ones). */
char *render_node(const struct render_ctx *ctx, const struct node *n, struct vm *vm, size_t *ret_len);

#endif
