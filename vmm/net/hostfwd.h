/* User mode's QEMU side of vms/NAME/ports: hostfwd_add and hostfwd_remove
 * sent through QMP one at a time, in order (QEMU's monitor serves one
 * client at a time: calls made at once would wait in its backlog, or be
 * refused when it is full). */
#ifndef BANGER_HOSTFWD_H
#define BANGER_HOSTFWD_H

#include "vm.h"

/* fn(ctx, 0, output) once QEMU answered, or (-errno, why); fn may be NULL.
 * A job still queued when the manager goes is dropped and ctx freed with
 * free(). */
typedef void (*hostfwd_fn)(void *ctx, int result, const char *text);
void hostfwd_send(struct vmm *m, const char *qmp_sock, const char *command_line, hostfwd_fn fn, void *ctx);
void hostfwd_free(struct vmm *m);

#endif
