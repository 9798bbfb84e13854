/* Facts about the host that decide defaults and limits. */
#ifndef BANGER_HOST_H
#define BANGER_HOST_H

#include <stdint.h>

struct accel_choice {
	char accel[8]; /* "kvm" or "tcg" */
	char why[256]; /* one line: why this one */
};

/* setting: "auto", "kvm" or "tcg". auto picks KVM only when /dev/kvm is
 * usable and is not kvm_pvm (nested PVM, which hangs stock kernels). */
int accel_choose(const char *setting, struct accel_choice *ret);

unsigned host_cpus(void);
uint64_t host_ram_mib(void);

#endif
