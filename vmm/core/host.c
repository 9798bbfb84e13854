#include "host.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>

int accel_choose(const char *setting, struct accel_choice *ret)
{
	struct stat st;
	int fd;

	if (strcmp(setting, "tcg") == 0 || strcmp(setting, "kvm") == 0) {
		snprintf(ret->accel, sizeof(ret->accel), "%s", setting);
		snprintf(ret->why, sizeof(ret->why), "set to %s", setting);
		return 0;
	}
	if (strcmp(setting, "auto") != 0)
		return -EINVAL;
	snprintf(ret->accel, sizeof(ret->accel), "tcg");
	if (stat("/sys/module/kvm_pvm", &st) == 0) {
		snprintf(ret->why, sizeof(ret->why),
			 "auto: /dev/kvm is kvm_pvm (nested PVM), which cannot run stock guest kernels");
		return 0;
	}
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(ret->why, sizeof(ret->why), "auto: /dev/kvm is not usable (%s)", strerror(errno));
		return 0;
	}
	close(fd);
	snprintf(ret->accel, sizeof(ret->accel), "kvm");
	snprintf(ret->why, sizeof(ret->why), "auto: /dev/kvm is usable");
	return 0;
}

unsigned host_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

uint64_t host_ram_mib(void)
{
	struct sysinfo si;

	if (sysinfo(&si) < 0)
		return 1024;
	return (uint64_t)si.totalram * si.mem_unit >> 20;
}
