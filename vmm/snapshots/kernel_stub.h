/* A clone's kernel: its QEMU must be given a -kernel, for the template's
 * RAM layout (the linuxboot option ROM that -kernel adds), but never boots
 * it: the guest it restores runs already. Reading the real one costs a
 * clone's start about 45 ms under TCG here (14 MB copied into fresh memory
 * before QEMU's main loop). The stub is the bzImage's boot sector and
 * setup, all QEMU reads of a kernel, and one page of the payload. A
 * rebooting clone would boot nothing, but QEMU runs with -no-reboot. */
#ifndef BANGER_KERNEL_STUB_H
#define BANGER_KERNEL_STUB_H

#include "error.h"

/* Writes the stub of the bzImage at kernel to out (new, 0644, synced). */
int kernel_stub_write(const char *kernel, const char *out, bgr_error *err);

#endif
