/* Validation and parsing of everything a user can write. Parsers take
 * trimmed values (see value_trim), reject anything else with EINVAL and a
 * reason, and never touch *ret on failure. */
#ifndef BANGER_VALIDATE_H
#define BANGER_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define VM_NAME_MAX 63
#define VCPU_MAX 64
#define MEMORY_MIB_MIN 64
#define DISK_SIZE_MIN (64ULL << 20)
#define DISK_SIZE_MAX (16ULL << 40)

/* Copies in with control and non-ASCII bytes shown as '?', so a value can
 * go into a one-line reason without breaking or forging lines. */
void printable_copy(const char *in, char *out, size_t size);

/* A DNS label: [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])? */
bool vm_name_valid(const char *name);
int vm_name_check(const char *name, bgr_error *err);

/* Copies buf[0..len) without surrounding whitespace into out (NUL ended).
 * EINVAL when it holds a NUL byte or does not fit. */
int value_trim(const char *buf, size_t len, char *out, size_t out_size, bgr_error *err);

int parse_vcpu(const char *s, unsigned host_cpus, unsigned *ret, bgr_error *err);
int parse_memory_mib(const char *s, uint64_t host_mib, unsigned *ret, bgr_error *err);
/* "8G", "512M", "2048K", "1T", plain bytes; an optional "iB"/"B" suffix. */
int parse_size(const char *s, uint64_t *ret, bgr_error *err);
int parse_disk_size(const char *s, uint64_t *ret, bgr_error *err);
/* An image or kernel name: same rules as a VM name. */
/* 64 lowercase hex digits (a sha256 as text). */
bool sha256_valid(const char *s);
int artifact_name_check(const char *what, const char *name, bgr_error *err);

/* Renders bytes as "8G" / "512M" / "123K" / "17" (exact, largest unit). */
void size_format(uint64_t bytes, char *out, size_t size);

#endif
