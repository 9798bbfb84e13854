#include "validate.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

bool vm_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > VM_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && !(c == '-' && i > 0 && i < n - 1))
			return false;
	}
	return true;
}

void printable_copy(const char *in, char *out, size_t size)
{
	size_t n = 0;

	for (; *in && n + 1 < size; in++)
		out[n++] = isprint((unsigned char)*in) ? *in : '?';
	out[n] = '\0';
}

int vm_name_check(const char *name, bgr_error *err)
{
	char shown[81];

	if (vm_name_valid(name))
		return 0;
	printable_copy(name, shown, sizeof(shown));
	return bgr_fail(err, EINVAL, "invalid name '%s': use 1-63 of a-z, 0-9 and '-', not starting or ending with '-'",
			shown);
}

int artifact_name_check(const char *what, const char *name, bgr_error *err)
{
	char shown[81];

	if (vm_name_valid(name))
		return 0;
	printable_copy(name, shown, sizeof(shown));
	return bgr_fail(err, EINVAL, "invalid %s name '%s'", what, shown);
}

int value_trim(const char *buf, size_t len, char *out, size_t out_size, bgr_error *err)
{
	size_t start = 0, end = len;

	if (memchr(buf, '\0', len))
		return bgr_fail(err, EINVAL, "value contains a NUL byte");
	while (start < end && isspace((unsigned char)buf[start]))
		start++;
	while (end > start && isspace((unsigned char)buf[end - 1]))
		end--;
	if (end - start + 1 > out_size)
		return bgr_fail(err, EINVAL, "value too long (%zu bytes, at most %zu)", end - start, out_size - 1);
	memcpy(out, buf + start, end - start);
	out[end - start] = '\0';
	return 0;
}

/* Strict decimal: digits only, no sign, no overflow past max. */
static int parse_decimal(const char *s, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ret = v;
	return 0;
}

int parse_vcpu(const char *s, unsigned host_cpus, unsigned *ret, bgr_error *err)
{
	unsigned max = host_cpus < VCPU_MAX ? VCPU_MAX : host_cpus;
	uint64_t v;
	int r = parse_decimal(s, UINT32_MAX, &v);

	if (r == -EINVAL)
		return bgr_fail(err, EINVAL, "vcpu must be a whole number, got '%.40s'", s);
	if (r < 0 || v < 1 || v > max)
		return bgr_fail(err, EINVAL, "vcpu must be between 1 and %u, got '%.40s'", max, s);
	*ret = (unsigned)v;
	return 0;
}

int parse_memory_mib(const char *s, uint64_t host_mib, unsigned *ret, bgr_error *err)
{
	uint64_t v;
	int r = parse_decimal(s, UINT32_MAX, &v);

	if (r == -EINVAL)
		return bgr_fail(err, EINVAL, "memory_mib must be a whole number of MiB, got '%.40s'", s);
	if (r < 0 || v < MEMORY_MIB_MIN || v > host_mib)
		return bgr_fail(err, EINVAL, "memory_mib must be between %d and %" PRIu64 " (host RAM), got '%.40s'",
				MEMORY_MIB_MIN, host_mib, s);
	*ret = (unsigned)v;
	return 0;
}

static int unit_shift(const char *u, unsigned *shift)
{
	static const struct {
		const char *s;
		unsigned shift;
	} units[] = {
		{ "", 0 },    { "B", 0 },    { "K", 10 },  { "KB", 10 },  { "KiB", 10 },
		{ "k", 10 },  { "M", 20 },   { "MB", 20 }, { "MiB", 20 }, { "G", 30 },
		{ "GB", 30 }, { "GiB", 30 }, { "T", 40 },  { "TB", 40 },  { "TiB", 40 },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(u, units[i].s) == 0) {
			*shift = units[i].shift;
			return 0;
		}
	}
	return -EINVAL;
}

int parse_size(const char *s, uint64_t *ret, bgr_error *err)
{
	char digits[32];
	size_t n = strspn(s, "0123456789");
	unsigned shift;
	uint64_t v;

	if (n == 0 || n >= sizeof(digits) || unit_shift(s + n, &shift) < 0)
		return bgr_fail(err, EINVAL, "bad size '%.40s': use a number with an optional K, M, G or T suffix", s);
	memcpy(digits, s, n);
	digits[n] = '\0';
	if (parse_decimal(digits, UINT64_MAX >> shift, &v) < 0)
		return bgr_fail(err, EINVAL, "size '%.40s' is too large", s);
	*ret = v << shift;
	return 0;
}

int parse_disk_size(const char *s, uint64_t *ret, bgr_error *err)
{
	uint64_t v;
	int r = parse_size(s, &v, err);

	if (r < 0)
		return err ? bgr_wrap(err, "disk_size") : r;
	if (v < DISK_SIZE_MIN || v > DISK_SIZE_MAX)
		return bgr_fail(err, EINVAL, "disk_size must be between 64M and 16T, got '%.40s'", s);
	if (v % 512)
		return bgr_fail(err, EINVAL, "disk_size must be a multiple of 512 bytes, got '%.40s'", s);
	*ret = v;
	return 0;
}

void size_format(uint64_t bytes, char *out, size_t size)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (u < 3 && bytes && bytes % 1024 == 0) {
		bytes /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(out, size, "%" PRIu64, bytes);
	else
		snprintf(out, size, "%" PRIu64 "%c", bytes, units[u]);
}

bool sha256_valid(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == 64;
}
